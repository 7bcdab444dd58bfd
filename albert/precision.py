"""Numeric precision of training: fp32, bf16 (Keras `mixed_bfloat16`) and fp16 (`mixed_float16`
with dynamic loss scaling).

Under a mixed policy variables stay float32 and layers compute in 16 bits; the model keeps
LayerNorm, the attention softmax, logits and losses in float32 (see `albert.modeling`). bf16 has
float32's exponent range and needs no loss scaling; fp16 does.
"""

from __future__ import annotations

import tensorflow as tf

PRECISIONS = {"fp32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}


def dtype_policy(precision: str) -> str:
    """The Keras dtype policy name for `fp32`, `bf16` or `fp16`."""
    try:
        return PRECISIONS[precision]
    except KeyError:
        raise ValueError(f"unknown data type {precision!r}; use one of {', '.join(PRECISIONS)}") from None


class LossScale(tf.Module):
    """No loss scaling (fp32, bf16): every method is the identity."""

    def scale(self, loss: tf.Tensor) -> tf.Tensor:
        return loss

    def unscale(self, grads: list[tf.Tensor]) -> list[tf.Tensor]:
        return grads

    def update(self, grads_finite: tf.Tensor) -> None:
        pass

    @property
    def current(self) -> tf.Tensor:
        return tf.constant(1.0)


class DynamicLossScale(LossScale):
    """Dynamic loss scaling for fp16: the loss is multiplied by `scale` before the backward pass
    and the gradients divided by it after. A step with non-finite gradients is skipped and halves
    the scale; `growth_interval` finite steps in a row double it.

    Defaults are those of Keras' `LossScaleOptimizer` (initial 2**15, growth every 2000 steps).
    The state is two variables, so checkpoints carry it.
    """

    def __init__(self, initial_scale: float = 2.0**15, growth_interval: int = 2000, name: str = "loss_scale"):
        super().__init__(name=name)
        self.growth_interval = growth_interval
        self.scale_value = tf.Variable(initial_scale, dtype=tf.float32, trainable=False, name="scale")
        self.good_steps = tf.Variable(0, dtype=tf.int64, trainable=False, name="good_steps")

    def scale(self, loss: tf.Tensor) -> tf.Tensor:
        return loss * tf.cast(self.scale_value, loss.dtype)

    def unscale(self, grads: list[tf.Tensor]) -> list[tf.Tensor]:
        inverse = 1.0 / self.scale_value
        return [g * tf.cast(inverse, g.dtype) for g in grads]

    def update(self, grads_finite: tf.Tensor) -> None:
        grow = tf.logical_and(grads_finite, self.good_steps + 1 >= self.growth_interval)
        new_scale = tf.where(
            grads_finite,
            tf.where(grow, self.scale_value * 2.0, self.scale_value),
            tf.maximum(self.scale_value / 2.0, 1.0),
        )
        self.scale_value.assign(new_scale)
        keep_counting = tf.logical_and(grads_finite, tf.logical_not(grow))
        self.good_steps.assign(tf.where(keep_counting, self.good_steps + 1, tf.zeros_like(self.good_steps)))

    @property
    def current(self) -> tf.Tensor:
        return self.scale_value.read_value()


def create_loss_scale(precision: str) -> LossScale:
    """Dynamic loss scaling for fp16, none otherwise."""
    dtype_policy(precision)
    return DynamicLossScale() if precision == "fp16" else LossScale()
