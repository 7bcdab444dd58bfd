"""The fused kernels against their definitions, computed in float64 numpy: values, and gradients
against central differences of the same definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from albert import kernels

erf = np.vectorize(math.erf)


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def gelu_erf(x):
    return x * 0.5 * (1 + erf(x / math.sqrt(2)))


def layer_norm(x, gamma, beta, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def softmax(scores, mask, scale):
    z = scores * scale + mask
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def numeric_gradient(fn, args, index, weights, h=1e-5):
    """d sum(fn(*args) * weights) / d args[index], by central differences in float64."""
    x = args[index]
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        plus = [a.copy() for a in args]
        minus = [a.copy() for a in args]
        plus[index][i] += h
        minus[index][i] -= h
        grad[i] = ((fn(*plus) * weights).sum() - (fn(*minus) * weights).sum()) / (2 * h)
    return grad


def tf_value_and_gradients(fn, args):
    tensors = [tf.constant(a, tf.float32) for a in args]
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        y = fn(*tensors)
        weights = tf.constant(np.random.default_rng(1).normal(size=y.shape), tf.float32)
        loss = tf.reduce_sum(y * weights)
    return y.numpy(), [g.numpy() for g in tape.gradient(loss, tensors)], weights.numpy()


rng = np.random.default_rng(0)


@pytest.mark.parametrize("dtype", [tf.float32, tf.bfloat16, tf.float16])
def test_bias_add_gradient_is_the_column_sum_in_float32(dtype):
    # 4096 rows of weights near 1: summed in bfloat16, as TensorFlow's BiasAddGrad does on a CPU,
    # the sums stall at 512.
    weights = tf.constant(1 + 0.1 * rng.normal(size=(16, 256, 8)), dtype)
    x, bias = tf.constant(rng.normal(size=(16, 256, 8)), dtype), tf.constant(rng.normal(size=(8,)), dtype)
    with tf.GradientTape() as tape:
        tape.watch(bias)
        y = kernels.bias_add(x, bias)
        loss = tf.reduce_sum(tf.cast(y * weights, tf.float32))
    grad = tape.gradient(loss, bias)
    assert y.dtype == grad.dtype == dtype
    exact = tf.cast(x, tf.float64).numpy() + tf.cast(bias, tf.float64).numpy()
    np.testing.assert_allclose(tf.cast(y, tf.float64).numpy(), exact, rtol=2**-8)
    # The exact sum of the weights as given, rounded once to `dtype`.
    column_sums = tf.cast(weights, tf.float64).numpy().sum(axis=(0, 1))
    np.testing.assert_allclose(tf.cast(grad, tf.float64).numpy(), column_sums, rtol=2**-8)


@pytest.mark.parametrize(("form", "reference"), [("tanh", gelu_tanh), ("erf", gelu_erf)])
def test_bias_gelu_equals_the_definition(form, reference):
    x, b = rng.normal(size=(2, 3, 5)) * 2, rng.normal(size=(5,))
    y, (dx, db), w = tf_value_and_gradients(lambda x, b: kernels.bias_gelu(x, b, form), [x, b])
    np.testing.assert_allclose(y, reference(x + b), atol=1e-6)
    np.testing.assert_allclose(dx, numeric_gradient(lambda x, b: reference(x + b), [x, b], 0, w), atol=1e-5)
    np.testing.assert_allclose(db, numeric_gradient(lambda x, b: reference(x + b), [x, b], 1, w), atol=1e-4)
    plain = kernels.gelu_tanh if form == "tanh" else kernels.gelu_erf
    y, (dx,), w = tf_value_and_gradients(plain, [x])
    np.testing.assert_allclose(y, reference(x), atol=1e-6)
    np.testing.assert_allclose(dx, numeric_gradient(reference, [x], 0, w), atol=1e-5)


def test_layer_norm_equals_the_definition():
    x = rng.normal(size=(2, 3, 8)) * 3 + 1
    gamma, beta = rng.normal(size=(8,)), rng.normal(size=(8,))
    normalise = lambda x, g, b: kernels.layer_norm(x, g, b, 1e-12, tf.float32)  # noqa: E731
    y, grads, w = tf_value_and_gradients(normalise, [x, gamma, beta])
    np.testing.assert_allclose(y, layer_norm(x, gamma, beta), atol=2e-6)
    for index, grad in enumerate(grads):
        expected = numeric_gradient(layer_norm, [x, gamma, beta], index, w)
        np.testing.assert_allclose(grad, expected, atol=1e-4)


def test_attention_probs_equal_the_definition_and_mask_gets_no_gradient():
    scores = rng.normal(size=(2, 2, 3, 4)) * 4
    mask = np.zeros((2, 1, 1, 4))
    mask[1, ..., 3] = -10000.0  # a padded key
    mask_tensor = tf.constant(mask, tf.float32)
    y, (d_scores,), w = tf_value_and_gradients(
        lambda s: kernels.attention_probs(s, mask_tensor, 0.5, tf.float32), [scores]
    )
    np.testing.assert_allclose(y, softmax(scores, mask, 0.5), atol=1e-6)
    assert np.all(y[1, ..., 3] == 0.0)
    expected = numeric_gradient(lambda s: softmax(s, mask, 0.5), [scores], 0, w)
    np.testing.assert_allclose(d_scores, expected, atol=1e-5)


def test_sixteen_bit_inputs_are_computed_in_float32_and_returned_in_their_type():
    x = rng.normal(size=(4, 16)).astype(np.float32) * 3
    x16 = tf.cast(tf.constant(x), tf.bfloat16)
    exact = gelu_tanh(tf.cast(x16, tf.float32).numpy().astype(np.float64))
    y = kernels.gelu_tanh(x16)
    assert y.dtype == tf.bfloat16
    # One bf16 rounding of the float32 result: relative error below 2^-8.
    np.testing.assert_allclose(tf.cast(y, tf.float32).numpy(), exact, rtol=2**-8, atol=1e-6)
    normed = kernels.layer_norm(x16, tf.ones([16]), tf.zeros([16]), 1e-12, tf.bfloat16)
    assert normed.dtype == tf.bfloat16
    reference = layer_norm(tf.cast(x16, tf.float32).numpy().astype(np.float64), 1.0, 0.0)
    np.testing.assert_allclose(tf.cast(normed, tf.float32).numpy(), reference, rtol=2**-8, atol=1e-2)
