import json

import pytest

from albert.configs import VARIANTS, AlbertConfig, BertConfig, ConfigError, get_config, load_config

# The albert_config.json of Google's albert_base_v2 tarball (every key and value).
GOOGLE_ALBERT_BASE_V2 = {
    "attention_probs_dropout_prob": 0,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0,
    "embedding_size": 128,
    "hidden_size": 768,
    "initializer_range": 0.02,
    "intermediate_size": 3072,
    "max_position_embeddings": 512,
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "num_hidden_groups": 1,
    "net_structure_type": 0,
    "gap_size": 0,
    "num_memory_blocks": 0,
    "inner_group_num": 1,
    "down_scale_factor": 1,
    "type_vocab_size": 2,
    "vocab_size": 30000,
}
# bert_config.json of Google's uncased_L-12_H-768_A-12.
GOOGLE_BERT_BASE = {
    "attention_probs_dropout_prob": 0.1,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 768,
    "initializer_range": 0.02,
    "intermediate_size": 3072,
    "max_position_embeddings": 512,
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "type_vocab_size": 2,
    "vocab_size": 30522,
}


def write_json(path, values):
    path.write_text(json.dumps(values, indent=2))
    return path


def test_google_albert_config_round_trips_every_key(tmp_path):
    source = write_json(tmp_path / "albert_config.json", GOOGLE_ALBERT_BASE_V2)
    config = AlbertConfig.from_json_file(source)
    assert config == get_config("albert_base_v2")
    out = tmp_path / "out.json"
    config.to_json_file(out)
    assert json.loads(out.read_text()) == GOOGLE_ALBERT_BASE_V2
    assert AlbertConfig.from_json_file(out) == config


def test_unknown_keys_are_kept_for_the_round_trip(tmp_path):
    values = dict(GOOGLE_ALBERT_BASE_V2, layers_to_keep=[], some_future_key="x")
    config = AlbertConfig.from_json_file(write_json(tmp_path / "c.json", values))
    assert config.to_dict() == values


def test_google_bert_config_round_trips(tmp_path):
    config = load_config(write_json(tmp_path / "bert_config.json", GOOGLE_BERT_BASE))
    assert isinstance(config, BertConfig) and not isinstance(config, AlbertConfig)
    assert config == get_config("bert_base")
    assert config.to_dict() == GOOGLE_BERT_BASE


def test_load_config_tells_albert_from_bert(tmp_path):
    assert isinstance(load_config(write_json(tmp_path / "a.json", GOOGLE_ALBERT_BASE_V2)), AlbertConfig)
    assert load_config(write_json(tmp_path / "a.json", GOOGLE_ALBERT_BASE_V2)).model_type == "albert"


# The albert_config.json files of Google's release tarballs: H, E, layers, heads, FFN, dropout v1 / v2.
ALBERT_TABLE = {
    "base": (768, 128, 12, 12, 3072, 0.1),
    "large": (1024, 128, 24, 16, 4096, 0.1),
    "xlarge": (2048, 128, 24, 16, 8192, 0.1),
    "xxlarge": (4096, 128, 12, 64, 16384, 0.0),
}


@pytest.mark.parametrize("size", ALBERT_TABLE)
@pytest.mark.parametrize("version", [1, 2])
def test_albert_variants_match_the_release(size, version):
    h, e, layers, heads, ffn, v1_dropout = ALBERT_TABLE[size]
    c = get_config(f"albert_{size}_v{version}")
    assert (c.hidden_size, c.embedding_size, c.num_hidden_layers, c.num_attention_heads, c.intermediate_size) == (
        h,
        e,
        layers,
        heads,
        ffn,
    )
    dropout = v1_dropout if version == 1 else 0.0
    assert c.hidden_dropout_prob == dropout and c.attention_probs_dropout_prob == dropout
    assert (c.vocab_size, c.max_position_embeddings, c.type_vocab_size, c.hidden_act) == (30000, 512, 2, "gelu")
    assert (c.num_hidden_groups, c.inner_group_num, c.initializer_range) == (1, 1, 0.02)


def test_bert_variants_match_the_release():
    base, large = get_config("bert_base"), get_config("bert_large")

    def shape(c):
        return c.hidden_size, c.num_hidden_layers, c.num_attention_heads, c.intermediate_size

    assert shape(base) == (768, 12, 12, 3072)
    assert shape(large) == (1024, 24, 16, 4096)
    assert base.hidden_dropout_prob == 0.1 and base.vocab_size == 30522


def test_every_variant_is_valid_and_tiny_is_small():
    for name in VARIANTS:
        get_config(name)
    tiny = get_config("tiny")
    assert tiny.model_type == "albert" and tiny.hidden_size <= 128 and tiny.num_hidden_layers <= 4


def assert_one_line(err, *fragments):
    message = str(err.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_unknown_variant_is_a_one_line_error_listing_the_choices():
    with pytest.raises(ConfigError) as err:
        get_config("albert_huge_v3")
    assert_one_line(err, "albert_huge_v3", "albert_base_v2", "tiny")


@pytest.mark.parametrize("key", ["hidden_size", "vocab_size", "embedding_size", "num_attention_heads"])
def test_missing_key_names_the_key_and_the_file(tmp_path, key):
    values = dict(GOOGLE_ALBERT_BASE_V2)
    del values[key]
    path = write_json(tmp_path / "albert_config.json", values)
    with pytest.raises(ConfigError) as err:
        AlbertConfig.from_json_file(path)
    assert_one_line(err, str(path), repr(key))


@pytest.mark.parametrize(
    "changes,fragments",
    [
        ({"hidden_size": 100}, ["hidden_size 100", "num_attention_heads 12"]),
        ({"num_hidden_groups": 5}, ["num_hidden_groups 5", "num_hidden_layers 12"]),
        ({"num_hidden_layers": 0}, ["num_hidden_layers"]),
        ({"vocab_size": "30000"}, ["vocab_size"]),
        ({"hidden_dropout_prob": 1.5}, ["hidden_dropout_prob"]),
        ({"hidden_act": "gelu_fancy"}, ["gelu_fancy"]),
        ({"inner_group_num": 0}, ["inner_group_num"]),
    ],
)
def test_impossible_values_are_one_line_errors(tmp_path, changes, fragments):
    path = write_json(tmp_path / "albert_config.json", dict(GOOGLE_ALBERT_BASE_V2, **changes))
    with pytest.raises(ConfigError) as err:
        AlbertConfig.from_json_file(path)
    assert_one_line(err, str(path), *fragments)


def test_impossible_value_in_code_names_the_class():
    with pytest.raises(ConfigError) as err:
        get_config("tiny").replace(num_attention_heads=7)
    assert_one_line(err, "AlbertConfig", "num_attention_heads 7")


def test_broken_json_names_the_file_and_line(tmp_path):
    path = tmp_path / "albert_config.json"
    path.write_text('{\n  "vocab_size": 30000,\n  "hidden_size": 768\n  "embedding_size": 128\n}')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert_one_line(err, f"{path}:4")


def test_missing_file_is_a_one_line_error(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "nope.json")
    assert_one_line(err, "nope.json", "not found")


def test_the_size_table_gives_the_variants_and_the_released_names():
    from albert import configs, pretrained

    assert tuple(configs.SIZES) == ("tiny", "base", "large", "xlarge", "xxlarge")
    assert pretrained.SIZES == ("base", "large", "xlarge", "xxlarge") and not configs.SIZES["tiny"].released
    for name, size in configs.SIZES.items():
        variants = ["tiny"] if name == "tiny" else [f"albert_{name}_v1", f"albert_{name}_v2"]
        for variant in variants:
            c = get_config(variant)
            assert (c.hidden_size, c.num_hidden_layers, c.num_attention_heads, c.intermediate_size) == (
                size.hidden_size,
                size.num_hidden_layers,
                size.num_attention_heads,
                size.intermediate_size,
            )
            assert c.embedding_size == size.embedding_size
            assert c.hidden_dropout_prob == (size.dropout_v1 if variant.endswith("_v1") else 0.0)
        assert set(size.demo_batch) == {"overfit", "bookswiki", "mrpc", "squad"}
        assert all(isinstance(b, str) and b.count(",") == 1 for b in size.demo_batch["bookswiki"])
    assert VARIANTS["albert_xxlarge_v1"]["layers_to_keep"] == []
