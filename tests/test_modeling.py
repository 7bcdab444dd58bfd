import numpy as np
import pytest
import tensorflow as tf

from albert import modeling
from albert.configs import AlbertConfig, BertConfig, get_config

import numpy_reference as ref
from helpers import pretraining_batch, randomize_weights

# Exact encoder sizes (embeddings + projection + transformer + pooler) of the configs in Google's
# release tarballs, equal to keras-hub's presets (`albert_presets.py`) and Hugging Face's models.
PUBLISHED_PARAMETER_COUNTS = {
    "albert_base_v2": 11_683_584,
    "albert_large_v2": 17_683_968,
    "albert_xlarge_v2": 58_724_864,
    "albert_xxlarge_v2": 222_595_584,
    "bert_base": 109_482_240,
    "bert_large": 335_141_888,
}


@pytest.mark.parametrize("name", PUBLISHED_PARAMETER_COUNTS)
def test_encoder_parameter_count_equals_published(name):
    encoder = modeling.create_encoder(get_config(name))
    assert encoder.count_params() == PUBLISHED_PARAMETER_COUNTS[name]
    # v1 and v2 differ only in dropout
    if name.endswith("_v2"):
        v1 = modeling.create_encoder(get_config(name.replace("_v2", "_v1")))
        assert v1.count_params() == PUBLISHED_PARAMETER_COUNTS[name]


def test_pretraining_heads_add_the_published_head_sizes():
    # Google's ALBERT `modeling.py`: the MLM head adds H·E + 3E + V (transform kernel and bias, LayerNorm,
    # output bias; the output matrix is the tied word embedding table), the SOP head 2H + 2.
    config = get_config("albert_base_v2")
    model = modeling.create_pretraining_model(config, max_predictions_per_seq=20)
    h, e, v = config.hidden_size, config.embedding_size, config.vocab_size
    heads = model.count_params() - PUBLISHED_PARAMETER_COUNTS["albert_base_v2"]
    assert heads == (h * e + 3 * e + v) + (2 * h + 2)


SMALL = dict(vocab_size=97, hidden_size=16, intermediate_size=24, max_position_embeddings=32)
# Two groups of two inner blocks over four layers, factorised embeddings, dropout configured.
TINY_ALBERT = AlbertConfig(
    **SMALL,
    embedding_size=12,
    num_hidden_layers=4,
    num_hidden_groups=2,
    inner_group_num=2,
    num_attention_heads=4,
    hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.1,
)
TINY_BERT = BertConfig(**SMALL, num_hidden_layers=3, num_attention_heads=2)


def google_albert_names(config: AlbertConfig) -> dict[str, tuple[int, ...]]:
    """Google's TF1 variable names and shapes for an ALBERT pretraining model (Google's ALBERT
    `modeling.py` and `run_pretraining.py`)."""
    v, e, h, i = config.vocab_size, config.embedding_size, config.hidden_size, config.intermediate_size
    names = {
        "bert/embeddings/word_embeddings": (v, e),
        "bert/embeddings/token_type_embeddings": (2, e),
        "bert/embeddings/position_embeddings": (config.max_position_embeddings, e),
        "bert/embeddings/LayerNorm/beta": (e,),
        "bert/embeddings/LayerNorm/gamma": (e,),
        "bert/encoder/embedding_hidden_mapping_in/kernel": (e, h),
        "bert/encoder/embedding_hidden_mapping_in/bias": (h,),
        "bert/pooler/dense/kernel": (h, h),
        "bert/pooler/dense/bias": (h,),
        "cls/predictions/transform/dense/kernel": (h, e),
        "cls/predictions/transform/dense/bias": (e,),
        "cls/predictions/transform/LayerNorm/beta": (e,),
        "cls/predictions/transform/LayerNorm/gamma": (e,),
        "cls/predictions/output_bias": (v,),
        "cls/seq_relationship/output_weights": (2, h),
        "cls/seq_relationship/output_bias": (2,),
    }
    for g in range(config.num_hidden_groups):
        for k in range(config.inner_group_num):
            p = f"bert/encoder/transformer/group_{g}/inner_group_{k}"
            for qkv in ("query", "key", "value"):
                names[f"{p}/attention_1/self/{qkv}/kernel"] = (h, h)
                names[f"{p}/attention_1/self/{qkv}/bias"] = (h,)
            names[f"{p}/attention_1/output/dense/kernel"] = (h, h)
            names[f"{p}/attention_1/output/dense/bias"] = (h,)
            names[f"{p}/ffn_1/intermediate/dense/kernel"] = (h, i)
            names[f"{p}/ffn_1/intermediate/dense/bias"] = (i,)
            names[f"{p}/ffn_1/intermediate/output/dense/kernel"] = (i, h)
            names[f"{p}/ffn_1/intermediate/output/dense/bias"] = (h,)
            for ln in ("LayerNorm", "LayerNorm_1"):
                names[f"{p}/{ln}/beta"] = (h,)
                names[f"{p}/{ln}/gamma"] = (h,)
    return names


def test_albert_variable_paths_are_googles_tf1_names():
    model = modeling.create_pretraining_model(TINY_ALBERT, max_predictions_per_seq=3)
    ours = {v.path: tuple(v.shape) for v in model.weights if "seed_generator" not in v.path}
    assert ours == google_albert_names(TINY_ALBERT)


def test_bert_variable_paths_are_googles_tf1_names():
    model = modeling.create_pretraining_model(TINY_BERT, max_predictions_per_seq=3)
    paths = {v.path for v in model.weights if "seed_generator" not in v.path}
    h = TINY_BERT.hidden_size
    expected_layer = {
        "attention/self/query/kernel",
        "attention/self/query/bias",
        "attention/self/key/kernel",
        "attention/self/key/bias",
        "attention/self/value/kernel",
        "attention/self/value/bias",
        "attention/output/dense/kernel",
        "attention/output/dense/bias",
        "attention/output/LayerNorm/gamma",
        "attention/output/LayerNorm/beta",
        "intermediate/dense/kernel",
        "intermediate/dense/bias",
        "output/dense/kernel",
        "output/dense/bias",
        "output/LayerNorm/gamma",
        "output/LayerNorm/beta",
    }
    expected = {f"bert/encoder/layer_{l}/{n}" for l in range(3) for n in expected_layer}
    expected |= {
        "bert/embeddings/word_embeddings",
        "bert/embeddings/token_type_embeddings",
        "bert/embeddings/position_embeddings",
        "bert/embeddings/LayerNorm/gamma",
        "bert/embeddings/LayerNorm/beta",
        "bert/pooler/dense/kernel",
        "bert/pooler/dense/bias",
        "cls/predictions/transform/dense/kernel",
        "cls/predictions/transform/dense/bias",
        "cls/predictions/transform/LayerNorm/gamma",
        "cls/predictions/transform/LayerNorm/beta",
        "cls/predictions/output_bias",
        "cls/seq_relationship/output_weights",
        "cls/seq_relationship/output_bias",
    }
    assert paths == expected
    word = next(v for v in model.weights if v.path == "bert/embeddings/word_embeddings")
    assert tuple(word.shape) == (TINY_BERT.vocab_size, h)  # BERT: no factorisation


@pytest.mark.parametrize("layers,groups", [(12, 1), (12, 2), (12, 3), (12, 4), (12, 12), (24, 6), (6, 2)])
def test_group_assignment_is_googles_formula(layers, groups):
    # Google's modeling.py: group_idx = int(layer_idx / num_hidden_layers * num_hidden_groups)
    for layer in range(layers):
        assert modeling.albert_group_of_layer(layer, layers, groups) == int(layer / layers * groups)


@pytest.mark.parametrize("config", [TINY_ALBERT, TINY_BERT], ids=["albert", "bert"])
def test_forward_pass_equals_numpy_reference(config):
    model = modeling.create_pretraining_model(config, max_predictions_per_seq=5)
    weights = randomize_weights(model, seed=1)
    batch = pretraining_batch(4, 16, 5, config.vocab_size, seed=2, pad=True)
    assert batch["input_mask"].sum(1).tolist() == [16, 15, 14, 13]  # padding in the batch
    outputs = model(modeling.select_inputs(model, batch), training=False)
    encoder = model.get_layer("bert")
    encoded = encoder({k: batch[k] for k in modeling.INPUT_NAMES}, training=False)

    cfg = config.to_dict()
    seq, pooled = ref.encoder(weights, cfg, batch["input_ids"], batch["input_mask"], batch["segment_ids"])
    mlm = ref.masked_lm_logits(weights, seq, batch["masked_lm_positions"])
    sop = ref.sentence_order_logits(weights, pooled)

    np.testing.assert_allclose(encoded["sequence_output"].numpy(), seq, atol=1e-5, rtol=0)
    np.testing.assert_allclose(encoded["pooled_output"].numpy(), pooled, atol=1e-5, rtol=0)
    np.testing.assert_allclose(outputs["masked_lm_logits"].numpy(), mlm, atol=1e-5, rtol=0)
    np.testing.assert_allclose(outputs["sentence_order_logits"].numpy(), sop, atol=1e-5, rtol=0)
    assert outputs["masked_lm_logits"].shape == (4, 5, config.vocab_size)


def test_albert_without_factorisation_has_no_projection_and_matches_reference():
    config = TINY_ALBERT.replace(embedding_size=16, num_hidden_groups=1, inner_group_num=1)
    model = modeling.create_encoder(config)
    assert not any("embedding_hidden_mapping_in" in v.path for v in model.weights)
    weights = randomize_weights(model, seed=3)
    batch = pretraining_batch(3, 10, 2, config.vocab_size, seed=4)
    out = model(modeling.select_inputs(model, batch))
    seq, pooled = ref.encoder(weights, config.to_dict(), batch["input_ids"], batch["input_mask"], batch["segment_ids"])
    np.testing.assert_allclose(out["sequence_output"].numpy(), seq, atol=1e-5, rtol=0)
    np.testing.assert_allclose(out["pooled_output"].numpy(), pooled, atol=1e-5, rtol=0)


def test_padding_tokens_do_not_change_real_positions():
    model = modeling.create_encoder(TINY_ALBERT)
    randomize_weights(model, seed=5)
    batch = pretraining_batch(1, 12, 2, TINY_ALBERT.vocab_size, seed=6, pad=False)
    inputs = {k: batch[k] for k in modeling.INPUT_NAMES}
    padded = {k: np.pad(v, ((0, 0), (0, 6))) for k, v in inputs.items()}
    padded["input_ids"][0, 12:] = 7  # arbitrary ids under a zero mask
    a = model(inputs)["sequence_output"].numpy()
    b = model(padded)["sequence_output"].numpy()[:, :12]
    np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)


def test_classifier_and_span_heads_equal_numpy_reference():
    classifier = modeling.create_classifier_model(TINY_ALBERT, num_labels=3)
    weights = randomize_weights(classifier, seed=7)
    batch = pretraining_batch(2, 9, 2, TINY_ALBERT.vocab_size, seed=8)
    inputs = {k: batch[k] for k in modeling.INPUT_NAMES}
    cfg = TINY_ALBERT.to_dict()
    seq, pooled = ref.encoder(weights, cfg, batch["input_ids"], batch["input_mask"], batch["segment_ids"])
    logits = pooled @ weights["classifier/output_weights"].T + weights["classifier/output_bias"]
    np.testing.assert_allclose(classifier(inputs)["logits"].numpy(), logits, atol=1e-5, rtol=0)
    assert tuple(classifier.get_layer("classifier").output_weights.shape) == (3, TINY_ALBERT.hidden_size)

    span = modeling.create_span_model(TINY_ALBERT)
    weights = randomize_weights(span, seed=9)
    assert {"cls/squad/output_weights", "cls/squad/output_bias"} <= set(weights)
    seq, _ = ref.encoder(weights, cfg, batch["input_ids"], batch["input_mask"], batch["segment_ids"])
    span_logits = seq @ weights["cls/squad/output_weights"].T + weights["cls/squad/output_bias"]
    span_logits = np.where(batch["input_mask"][..., None] > 0, span_logits, -10000.0)  # padding: never an answer
    out = span(inputs)
    np.testing.assert_allclose(out["start_logits"].numpy(), span_logits[..., 0], atol=1e-5, rtol=0)
    np.testing.assert_allclose(out["end_logits"].numpy(), span_logits[..., 1], atol=1e-5, rtol=0)


def test_dropout_is_active_only_in_training_and_absent_from_v2():
    batch = pretraining_batch(2, 8, 2, TINY_ALBERT.vocab_size, seed=10)
    inputs = {k: batch[k] for k in modeling.INPUT_NAMES}
    with_dropout = modeling.create_encoder(TINY_ALBERT)
    eval_a = with_dropout(inputs, training=False)["sequence_output"].numpy()
    eval_b = with_dropout(inputs, training=False)["sequence_output"].numpy()
    train = with_dropout(inputs, training=True)["sequence_output"].numpy()
    np.testing.assert_array_equal(eval_a, eval_b)
    assert np.abs(train - eval_a).max() > 1e-3

    v2 = get_config("albert_base_v2")
    assert v2.hidden_dropout_prob == 0 and v2.attention_probs_dropout_prob == 0
    no_dropout = modeling.create_encoder(TINY_ALBERT.replace(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0))
    np.testing.assert_array_equal(
        no_dropout(inputs, training=True)["sequence_output"].numpy(),
        no_dropout(inputs, training=False)["sequence_output"].numpy(),
    )


def test_masked_lm_head_sees_only_the_gathered_positions():
    model = modeling.create_pretraining_model(TINY_ALBERT, max_predictions_per_seq=2)
    randomize_weights(model, seed=11)
    batch = pretraining_batch(1, 8, 2, TINY_ALBERT.vocab_size, seed=12, pad=False)
    batch["masked_lm_positions"][:] = [[2, 5]]
    logits = model(modeling.select_inputs(model, batch))["masked_lm_logits"].numpy()
    swapped = dict(batch, masked_lm_positions=np.array([[5, 2]], np.int32))
    logits_swapped = model(modeling.select_inputs(model, swapped))["masked_lm_logits"].numpy()
    np.testing.assert_allclose(logits[0, 0], logits_swapped[0, 1], atol=1e-6)
    np.testing.assert_allclose(logits[0, 1], logits_swapped[0, 0], atol=1e-6)


def test_sequence_longer_than_the_position_table_is_a_clear_error():
    model = modeling.create_encoder(TINY_BERT)
    batch = pretraining_batch(1, TINY_BERT.max_position_embeddings + 1, 2, TINY_BERT.vocab_size, pad=False)
    with pytest.raises(Exception, match="longer than max_position_embeddings"):
        model({k: batch[k] for k in modeling.INPUT_NAMES})


@pytest.mark.parametrize("config", [TINY_ALBERT, TINY_BERT], ids=["albert", "bert"])
def test_checkpoint_round_trip_restores_every_variable(tmp_path, config):
    import tensorflow as tf

    saved = modeling.create_pretraining_model(config, max_predictions_per_seq=3)
    values = randomize_weights(saved, seed=13)
    path = tf.train.Checkpoint(model=saved).save(str(tmp_path / "ckpt"))
    restored = modeling.create_pretraining_model(config, max_predictions_per_seq=3)
    tf.train.Checkpoint(model=restored).read(path).assert_existing_objects_matched()
    for v in restored.weights:
        np.testing.assert_array_equal(v.numpy(), values[v.path].astype(np.float32), err_msg=v.path)


@pytest.mark.parametrize("config", [TINY_ALBERT, TINY_BERT], ids=["albert", "bert"])
def test_heads_reading_few_positions_get_the_whole_sequences_gradients(config):
    # The pretraining and classifier models run their last block only where their heads read
    # (masked positions and [CLS]); forward and backward must equal the whole-sequence path.
    config = config.replace(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    batch = pretraining_batch(3, 12, 4, config.vocab_size, seed=13, pad=True)
    batch["masked_lm_positions"][0, -1] = 0  # padding predictions point at position 0
    inputs = {k: tf.constant(batch[k]) for k in modeling.INPUT_NAMES}
    positions = tf.constant(batch["masked_lm_positions"])
    pretraining = modeling.create_pretraining_model(config, max_predictions_per_seq=4)
    classifier = modeling.create_classifier_model(config, num_labels=3, dropout=0.0)
    rng = np.random.default_rng(14)
    for model, name in ((pretraining, "masked_lm_logits"), (classifier, "logits")):
        randomize_weights(model, seed=15)
        encoder = model.get_layer("bert")
        probe = tf.constant(rng.normal(size=model.output[name].shape[1:]), tf.float32)
        with tf.GradientTape(persistent=True) as tape:
            fast = model({**inputs, "masked_lm_positions": positions} if name == "masked_lm_logits" else inputs)
            whole = encoder(inputs)
            if name == "masked_lm_logits":
                heads = model.get_layer("cls")
                slow = heads(whole["sequence_output"], whole["pooled_output"], positions)
            else:
                slow = {"logits": model.get_layer("classifier")(whole["pooled_output"])}
            fast_loss = tf.reduce_sum(fast[name] * probe)
            slow_loss = tf.reduce_sum(slow[name] * probe)
        np.testing.assert_allclose(fast[name].numpy(), slow[name].numpy(), atol=1e-5, rtol=0)
        variables = model.trainable_variables
        for v, a, b in zip(variables, tape.gradient(fast_loss, variables), tape.gradient(slow_loss, variables)):
            assert (a is None) == (b is None), v.path  # the sentence-order head gets none in both
            if a is None:
                continue
            a, b = tf.convert_to_tensor(a).numpy(), tf.convert_to_tensor(b).numpy()
            np.testing.assert_allclose(a, b, atol=1e-5 * max(1.0, np.abs(b).max()), rtol=0, err_msg=v.path)


@pytest.mark.parametrize("config", [TINY_ALBERT, TINY_BERT], ids=["albert", "bert"])
def test_unpadded_encoder_equals_the_padded_one_at_real_tokens(config):
    config = config.replace(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    padded_model = modeling.create_classifier_model(config, num_labels=2, dropout=0.0)
    unpadded_model = modeling.create_classifier_model(config, num_labels=2, dropout=0.0, unpad=True)
    weights = randomize_weights(padded_model, seed=16)
    for v in unpadded_model.weights:
        v.assign(weights[v.path])
    batch = pretraining_batch(4, 16, 2, config.vocab_size, seed=17, pad=True)
    inputs = {k: tf.constant(batch[k]) for k in modeling.INPUT_NAMES}
    cfg = config.to_dict()
    seq, pooled = ref.encoder(weights, cfg, batch["input_ids"], batch["input_mask"], batch["segment_ids"])
    real = batch["input_mask"][..., None] > 0
    encoded = unpadded_model.get_layer("bert")(inputs, unpad=True)
    np.testing.assert_allclose(np.where(real, encoded["sequence_output"].numpy(), 0), np.where(real, seq, 0), atol=1e-5)
    np.testing.assert_array_equal(np.where(real, 0, encoded["sequence_output"].numpy()), 0)  # zeros at the padding
    np.testing.assert_allclose(encoded["pooled_output"].numpy(), pooled, atol=1e-5, rtol=0)

    probe = tf.constant(np.random.default_rng(18).normal(size=(4, 2)), tf.float32)
    grads = []
    for model in (padded_model, unpadded_model):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(inputs, training=True)["logits"] * probe)
        grads.append(
            {
                v.path: tf.convert_to_tensor(g).numpy()
                for v, g in zip(model.trainable_variables, tape.gradient(loss, model.trainable_variables))
            }
        )
    for path, g in grads[0].items():
        np.testing.assert_allclose(grads[1][path], g, atol=1e-5 * max(1.0, np.abs(g).max()), rtol=0, err_msg=path)


def test_span_model_padded_or_unpadded_equals_the_reference_with_padding_masked():
    config = TINY_BERT.replace(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    padded_model = modeling.create_span_model(config)
    unpadded_model = modeling.create_span_model(config, unpad=True)
    weights = randomize_weights(padded_model, seed=19)
    for v in unpadded_model.weights:
        v.assign(weights[v.path])
    batch = pretraining_batch(4, 16, 2, config.vocab_size, seed=20, pad=True)
    inputs = {k: tf.constant(batch[k]) for k in modeling.INPUT_NAMES}
    seq, _ = ref.encoder(weights, config.to_dict(), batch["input_ids"], batch["input_mask"], batch["segment_ids"])
    expected = seq @ weights["cls/squad/output_weights"].T + weights["cls/squad/output_bias"]  # [B, S, 2]
    real = batch["input_mask"] > 0
    expected = np.where(real[..., None], expected, -10000.0)  # padding is never an answer
    probe = tf.constant(np.random.default_rng(21).normal(size=(2, 4, 16)), tf.float32)
    grads = []
    for model in (padded_model, unpadded_model):
        with tf.GradientTape() as tape:
            outputs = model(inputs, training=True)
            loss = tf.reduce_sum(outputs["start_logits"] * probe[0]) + tf.reduce_sum(outputs["end_logits"] * probe[1])
        for i, name in enumerate(("start_logits", "end_logits")):
            np.testing.assert_allclose(outputs[name].numpy(), expected[..., i], atol=1e-5, err_msg=name)
        grads.append(
            [
                None if g is None else tf.convert_to_tensor(g).numpy()
                for g in tape.gradient(loss, model.trainable_variables)
            ]
        )
    for v, a, b in zip(padded_model.trainable_variables, grads[1], grads[0]):
        assert (a is None) == (b is None) == ("pooler" in v.path), v.path  # the pooler is not used
        if b is not None:
            np.testing.assert_allclose(a, b, atol=1e-5 * max(1.0, np.abs(b).max()), rtol=0, err_msg=v.path)


def test_dropout_states_are_every_seed_generator_found_through_the_private_keras_walk():
    # modeling.dropout_states walks the layers with Keras' private `_flatten_layers`: it must still
    # exist, reach nested layers, and find every seed-generator state of the model, each once.
    config = TINY_ALBERT.replace(hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    model = modeling.create_classifier_model(config, 3)
    nested = list(model._flatten_layers(include_self=False))
    assert any(isinstance(layer, modeling.Dropout) for layer in nested)
    assert not any(isinstance(layer, modeling.Dropout) for layer in model.layers)  # they are nested
    states = modeling.dropout_states(model)
    expected = [v.value for v in model.variables if "seed_generator" in v.path]
    assert len(states) == len(expected) > 0
    assert {id(s) for s in states} == {id(v) for v in expected}
