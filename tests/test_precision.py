import keras
import numpy as np
import pytest
import tensorflow as tf

from albert import losses, modeling, optimization, precision, training
from albert.configs import get_config

from helpers import pretraining_batch

CONFIG = get_config("tiny").replace(vocab_size=300)


def _setup(data_type, seed=7):
    keras.utils.set_random_seed(seed)
    model = modeling.create_pretraining_model(CONFIG, 4, dtype=precision.dtype_policy(data_type))
    optimizer = optimization.create_optimizer("lamb", 1e-3)
    loss_scale = precision.create_loss_scale(data_type)
    step = training.make_train_step(model, losses.pretraining_loss, optimizer, loss_scale=loss_scale)
    return model, optimizer, loss_scale, step


@pytest.mark.parametrize("data_type,compute", [("bf16", "bfloat16"), ("fp16", "float16")])
def test_mixed_precision_step_is_finite_with_float32_variables(data_type, compute):
    model, optimizer, loss_scale, step = _setup(data_type)
    batch = pretraining_batch(4, 16, 4, CONFIG.vocab_size, seed=1)
    before = {v.path: v.numpy().copy() for v in model.trainable_variables}
    metrics = [step(batch) for _ in range(3)]
    assert all(np.isfinite(float(m["loss"])) for m in metrics)
    assert all(bool(m["grads_finite"]) for m in metrics)
    assert {v.dtype for v in model.weights if "seed_generator" not in v.path} == {"float32"}
    slots = [v for v in optimizer.variables if "adam_" in v.path]
    assert len(slots) == 2 * len(model.trainable_variables)
    assert {v.dtype for v in slots} == {"float32"}
    encoder = model.get_layer("bert")
    assert encoder.compute_dtype == compute and encoder.variable_dtype == "float32"
    outputs = model(modeling.select_inputs(model, batch))
    assert outputs["masked_lm_logits"].dtype == tf.float32  # logits and losses in float32
    assert outputs["sentence_order_logits"].dtype == tf.float32
    hidden = encoder({k: batch[k] for k in modeling.INPUT_NAMES})["sequence_output"]
    assert hidden.dtype == compute
    assert any(np.abs(v.numpy() - before[v.path]).max() > 0 for v in model.trainable_variables)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
@pytest.mark.parametrize("activation", [None, "tanh", "gelu"])
def test_dense_bias_gradients_are_accurate_in_sixteen_bits(policy, activation):
    # d/db Σ w·f(xW + b) over 4096 rows. Keras' own Dense gets it from TensorFlow's BiasAddGrad,
    # which on a CPU sums bfloat16 gradients in bfloat16: 512 here instead of about 4090.
    keras.utils.set_random_seed(3)
    layer = modeling._dense(8, CONFIG, "dense", policy, activation)
    layer.build((None, None, 4))
    x = tf.constant(np.random.default_rng(0).normal(size=(16, 256, 4)), tf.float32)
    weights = tf.constant(1 + 0.1 * np.random.default_rng(1).normal(size=(16, 256, 8)), tf.float32)
    with tf.GradientTape() as tape:
        y = layer(x)
        loss = tf.reduce_sum(tf.cast(y, tf.float32) * weights)
    grad = tape.gradient(loss, layer.bias).numpy()
    kernel, bias = layer.kernel.numpy().astype(np.float64), layer.bias.numpy().astype(np.float64)
    pre = x.numpy().astype(np.float64) @ kernel + bias
    slope = {
        None: np.ones_like(pre),
        "tanh": 1 - np.tanh(pre) ** 2,
        "gelu": (lambda t: 0.5 * (1 + t) + 0.5 * pre * (1 - t**2) * np.sqrt(2 / np.pi) * (1 + 3 * 0.044715 * pre**2))(
            np.tanh(np.sqrt(2 / np.pi) * (pre + 0.044715 * pre**3))
        ),
    }[activation]
    expected = (weights.numpy() * slope).sum(axis=(0, 1))
    # 16-bit inputs, activations and gradients: a few roundings of 2^-8 (bf16) each.
    np.testing.assert_allclose(grad, expected, rtol=0.03)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16", "float32"])
def test_dropout_drops_its_rate_and_keeps_the_mean(policy):
    # Dropout's definition: each value is zeroed with probability p, the rest scaled by
    # 1/(1 - p), so the mean is kept. Over 10^6 values in [1, 2) the dropped fraction has a
    # standard error of 3e-4 and the ratio of sums one of 3.4e-4. Keras' own layer in bfloat16
    # draws its uniform numbers in bfloat16: it drops 13/128 = 10.2 % and the ratio is 0.997.
    keras.utils.set_random_seed(3)
    layer = modeling.Dropout(0.1, dtype=policy)
    x = tf.cast(tf.random.uniform([1000, 1000], 1.0, 2.0), layer.compute_dtype)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
    grad = tape.gradient(y, x).numpy().astype(np.float64)
    assert y.dtype == x.dtype and layer(x, training=False) is x
    x, y = x.numpy().astype(np.float64), y.numpy().astype(np.float64)
    assert np.mean(y == 0) == pytest.approx(0.1, abs=0.0012)
    assert y.sum() / x.sum() == pytest.approx(1.0, abs=0.0014)
    # The gradient is the same mask and scale: 0 where dropped, 1/(1 - p) (in the compute dtype) elsewhere.
    np.testing.assert_array_equal(grad == 0, y == 0)
    np.testing.assert_allclose(grad[y != 0], 1 / 0.9, rtol=2**-7)


def test_dropout_masks_do_not_depend_on_the_precision():
    # The same seed drops the same positions in float32, bfloat16 and float16, so that runs of
    # one seed in different precisions differ only in their arithmetic.
    x = tf.random.uniform([300, 300], 1.0, 2.0, seed=1)
    masks = []
    for policy in ("float32", "mixed_bfloat16", "mixed_float16"):
        keras.utils.set_random_seed(7)
        layer = modeling.Dropout(0.1, dtype=policy)
        masks.append(layer(tf.cast(x, layer.compute_dtype), training=True).numpy() == 0)
    assert 0.08 < masks[0].mean() < 0.12
    assert all(np.array_equal(masks[0], other) for other in masks[1:])


def test_fp16_clips_the_unscaled_gradient():
    # The same weights and batch in fp32 and fp16: the reported (pre-clipping) gradient norm must
    # be the true norm, not the norm of the scaled gradients (2**15 times larger).
    batch = pretraining_batch(4, 16, 4, CONFIG.vocab_size, seed=2)
    _, _, _, step32 = _setup("fp32", seed=3)
    _, _, loss_scale, step16 = _setup("fp16", seed=3)
    norm32 = float(step32(batch)["grad_norm"])
    norm16 = float(step16(batch)["grad_norm"])
    assert float(loss_scale.current) == 2.0**15
    assert norm16 == pytest.approx(norm32, rel=0.05)


def test_bf16_and_fp32_losses_agree():
    batch = pretraining_batch(4, 16, 4, CONFIG.vocab_size, seed=4)
    _, _, _, step32 = _setup("fp32", seed=5)
    _, _, _, step16 = _setup("bf16", seed=5)
    assert float(step16(batch)["loss"]) == pytest.approx(float(step32(batch)["loss"]), rel=0.02)


def test_non_finite_gradients_skip_the_step_and_halve_the_scale():
    model, optimizer, loss_scale, step = _setup("fp16")
    batch = pretraining_batch(4, 16, 4, CONFIG.vocab_size, seed=6)
    step(batch)  # builds everything
    before = {v.path: v.numpy().copy() for v in model.trainable_variables}
    iterations = int(optimizer.iterations)
    scale = float(loss_scale.current)
    poisoned = dict(batch, masked_lm_weights=np.full_like(batch["masked_lm_weights"], np.inf))
    metrics = step(poisoned)
    assert not bool(metrics["grads_finite"])
    assert float(loss_scale.current) == scale / 2
    assert int(optimizer.iterations) == iterations
    for v in model.trainable_variables:
        np.testing.assert_array_equal(v.numpy(), before[v.path])


def test_loss_scale_grows_after_the_interval():
    scale = precision.DynamicLossScale(initial_scale=8.0, growth_interval=3)
    for _ in range(2):
        scale.update(tf.constant(True))
    assert float(scale.current) == 8.0
    scale.update(tf.constant(True))
    assert float(scale.current) == 16.0
    scale.update(tf.constant(False))
    assert float(scale.current) == 8.0


def test_unknown_data_type_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown data type 'fp8'.*fp32, bf16, fp16"):
        precision.dtype_policy("fp8")


@pytest.mark.parametrize(
    "make",
    [
        lambda policy: modeling.create_pretraining_model(CONFIG, 4, dtype=policy),
        lambda policy: modeling.create_classifier_model(CONFIG, 3, dtype=policy),
        lambda policy: modeling.create_classifier_model(CONFIG, 3, dtype=policy, unpad=True),
        lambda policy: modeling.create_span_model(CONFIG, dtype=policy),
    ],
    ids=["pretraining", "classifier", "classifier-unpadded", "span"],
)
def test_mixed_models_run_eagerly_as_compiled(make):
    # Float32 variables (biases, LayerNorm, embeddings) stay float32 when a model runs eagerly.
    keras.utils.set_random_seed(11)
    model = make(precision.dtype_policy("bf16"))
    inputs = modeling.select_inputs(model, pretraining_batch(4, 16, 4, CONFIG.vocab_size, seed=6))
    compiled = tf.function(lambda x: model(x, training=False))(inputs)
    eager = model(inputs, training=False)
    assert sorted(eager) == sorted(compiled)
    for name in eager:
        assert eager[name].dtype == tf.float32
        # Equal up to bfloat16 rounding (the compiled graph fuses some ops differently).
        expected = compiled[name].numpy()
        tolerance = 2**-7 * np.abs(expected).max()
        np.testing.assert_allclose(eager[name].numpy(), expected, atol=tolerance, rtol=0, err_msg=name)
