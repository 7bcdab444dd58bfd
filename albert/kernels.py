"""Fused elementwise kernels for the transformer: GELU, LayerNorm and the attention softmax, and
a bias add whose gradient is summed in float32.

Written as TensorFlow ops, each of these would make several passes over its [batch, sequence,
width] tensor (tanh-GELU alone is eight elementwise ops forward and more backward), which on a
CPU costs more than a tenth of a training step. Here each one is a forward and a backward
function compiled by XLA into one loop, with `tf.custom_gradient` so that the backward pass
recomputes what it needs from the inputs instead of keeping intermediates. The arithmetic is
done in float32 whatever the input type (bf16 / fp16 activations are read and written in their
own type), so the results equal the float32 definitions:

    gelu_tanh(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))     Google's "gelu"
    gelu_erf(x)  = x·Φ(x)                                          the exact form
    bias_gelu(x, b) = gelu(x + b)                                   a dense layer's bias and GELU
    layer_norm(x) = (x − mean) / √(var + ε) · γ + β                 over the last axis
    attention_probs(s, m) = softmax(s·scale + m)                    over the last axis

XLA compiles each kernel once per input shape (a few milliseconds for these small loops).

`bias_add` is not compiled: its gradient, the column sum of the output's gradient, is a
product with a row of ones, accumulated in float32. TensorFlow's own `BiasAddGrad` sums bfloat16
gradients in bfloat16 on the CPU, so that the sum of 4096 ones is 256; it is also slower.
"""

from __future__ import annotations

import math

import tensorflow as tf

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715
_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _compiled(fn):
    """`fn` compiled by XLA; Python arguments (epsilon, scale, dtypes) are fixed per trace."""
    return tf.function(fn, jit_compile=True)


def rows(x):
    """`x` as a matrix of its last axis, [..., C] → [N, C] (C known when traced). The backward
    kernels sum over the rows; on a CPU, XLA sums over one leading axis 2 to 3 times faster than
    over two ([B, S])."""
    return tf.reshape(x, [-1, x.shape[-1]])


# ----------------------------------------------------------------------------------------------
# Bias add
# ----------------------------------------------------------------------------------------------


def _column_sum(dy: tf.Tensor) -> tf.Tensor:
    """The sum of `dy` over every axis but the last, accumulated in float32, in `dy`'s type."""
    matrix = rows(dy)
    return tf.matmul(tf.ones([1, tf.shape(matrix)[0]], dy.dtype), matrix)[0]


@tf.custom_gradient
def bias_add(x: tf.Tensor, bias: tf.Tensor) -> tf.Tensor:
    """x + bias, `bias` over the last axis and of `x`'s type; its gradient is summed in float32."""
    return tf.nn.bias_add(x, bias), lambda dy: (dy, tf.cast(_column_sum(dy), bias.dtype))


# ----------------------------------------------------------------------------------------------
# GELU (with the bias add of the dense layer before it)
# ----------------------------------------------------------------------------------------------


def _gelu_and_slope(xf, form: str):
    if form == "tanh":
        t = tf.tanh(_SQRT_2_OVER_PI * (xf + _GELU_CUBIC * xf * xf * xf))
        slope = 0.5 * (1.0 + t) + 0.5 * xf * (1.0 - t * t) * _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_CUBIC * xf * xf)
        return 0.5 * xf * (1.0 + t), slope
    cdf = 0.5 * (1.0 + tf.math.erf(xf * _SQRT_HALF))
    return xf * cdf, cdf + xf * _INV_SQRT_2PI * tf.exp(-0.5 * xf * xf)


def _biased(x, bias):
    xf = tf.cast(x, tf.float32)
    return xf if bias is None else xf + tf.cast(bias, tf.float32)


@_compiled
def _gelu_forward(x, bias, form):
    return tf.cast(_gelu_and_slope(_biased(x, bias), form)[0], x.dtype)


@_compiled
def _gelu_backward(x, bias, dy, form):
    dx = tf.cast(rows(dy), tf.float32) * _gelu_and_slope(_biased(rows(x), bias), form)[1]
    dx_out = tf.reshape(tf.cast(dx, x.dtype), tf.shape(x))
    if bias is None:
        return dx_out
    return dx_out, tf.cast(tf.reduce_sum(dx, axis=0), bias.dtype)


def _gelu(form: str):
    @tf.custom_gradient
    def gelu(x):
        return _gelu_forward(x, None, form), lambda dy: _gelu_backward(x, None, dy, form)

    return gelu


gelu_tanh = _gelu("tanh")
gelu_tanh.__doc__ = "GELU, tanh approximation (Google's `gelu`, Hugging Face's `gelu_new`)."
gelu_erf = _gelu("erf")
gelu_erf.__doc__ = "GELU, exact form x·Φ(x)."
GELU_FORMS = ("tanh", "erf")


def bias_gelu(x: tf.Tensor, bias: tf.Tensor, form: str) -> tf.Tensor:
    """gelu(x + bias), bias over the last axis, as one kernel forward and one backward; `form` is
    "tanh" or "erf" (which activation names mean which: `activations.gelu_form`)."""
    if form not in GELU_FORMS:
        raise ValueError(f"unknown GELU form {form!r}; use one of {', '.join(GELU_FORMS)}")

    @tf.custom_gradient
    def gelu(x, bias):
        return _gelu_forward(x, bias, form), lambda dy: _gelu_backward(x, bias, dy, form)

    return gelu(x, bias)


# ----------------------------------------------------------------------------------------------
# LayerNorm
# ----------------------------------------------------------------------------------------------


def _normalise(x, epsilon):
    xf = tf.cast(x, tf.float32)
    mean = tf.reduce_mean(xf, axis=-1, keepdims=True)
    centred = xf - mean
    inverse = tf.math.rsqrt(tf.reduce_mean(tf.square(centred), axis=-1, keepdims=True) + epsilon)
    return centred * inverse, inverse


@_compiled
def _layer_norm_forward(x, gamma, beta, epsilon, out_dtype):
    normalised, _ = _normalise(x, epsilon)
    return tf.cast(normalised * gamma + beta, out_dtype)


@_compiled
def _layer_norm_backward(x, gamma, dy, epsilon):
    normalised, inverse = _normalise(rows(x), epsilon)
    dy = tf.cast(rows(dy), tf.float32)
    d_gamma = tf.reduce_sum(dy * normalised, axis=0)
    d_beta = tf.reduce_sum(dy, axis=0)
    d_normalised = dy * gamma
    dx = inverse * (
        d_normalised
        - tf.reduce_mean(d_normalised, axis=-1, keepdims=True)
        - normalised * tf.reduce_mean(d_normalised * normalised, axis=-1, keepdims=True)
    )
    return tf.reshape(tf.cast(dx, x.dtype), tf.shape(x)), d_gamma, d_beta


def layer_norm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: float, out_dtype) -> tf.Tensor:
    """LayerNorm over the last axis with float32 `gamma`/`beta`, computed in float32, returned
    in `out_dtype`; the gradients of `gamma` and `beta` are float32."""
    out_dtype = tf.as_dtype(out_dtype)

    @tf.custom_gradient
    def normalise(x, gamma, beta):
        return _layer_norm_forward(x, gamma, beta, epsilon, out_dtype), lambda dy: _layer_norm_backward(
            x, gamma, dy, epsilon
        )

    return normalise(x, gamma, beta)


# ----------------------------------------------------------------------------------------------
# Attention probabilities
# ----------------------------------------------------------------------------------------------


@_compiled
def _softmax_forward(scores, mask_adder, scale, out_dtype):
    logits = tf.cast(scores, tf.float32) * scale + mask_adder
    return tf.cast(tf.nn.softmax(logits, axis=-1), out_dtype)


@_compiled
def _softmax_backward(scores, mask_adder, dprobs, scale):
    p = tf.nn.softmax(tf.cast(scores, tf.float32) * scale + mask_adder, axis=-1)
    dp = tf.cast(dprobs, tf.float32)
    d_logits = p * (dp - tf.reduce_sum(dp * p, axis=-1, keepdims=True))
    return tf.cast(d_logits * scale, scores.dtype)


def attention_probs(scores: tf.Tensor, mask_adder: tf.Tensor, scale: float, out_dtype) -> tf.Tensor:
    """softmax(scores·scale + mask_adder) over the last axis, in float32, returned in
    `out_dtype`. `mask_adder` (float32, broadcast to the scores) gets no gradient; the backward
    pass recomputes the probabilities in float32."""
    out_dtype = tf.as_dtype(out_dtype)

    @tf.custom_gradient
    def softmax(scores):
        return _softmax_forward(scores, mask_adder, scale, out_dtype), lambda dprobs: _softmax_backward(
            scores, mask_adder, dprobs, scale
        )

    return softmax(scores)
