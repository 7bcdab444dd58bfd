"""The training step shared by every task: forward, backward, gradient accumulation, loss
scaling, global-norm clipping and the optimizer update, compiled as one `tf.function`.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import tensorflow as tf

from albert.modeling import select_inputs
from albert.optimization import accumulate_gradients, all_finite, clip_by_global_norm
from albert.precision import LossScale

LossFn = Callable[[dict, dict], tuple[tf.Tensor, dict[str, tf.Tensor]]]


def make_train_step(
    model: keras.Model,
    loss_fn: LossFn,
    optimizer: keras.optimizers.Optimizer,
    *,
    loss_scale: LossScale | None = None,
    accumulation_steps: int = 1,
    clip_norm: float | None = 1.0,
    jit_compile: bool = False,
) -> Callable[[dict], dict[str, tf.Tensor]]:
    """A compiled step `step(batch) -> metrics` that applies one optimizer update.

    `batch` holds `accumulation_steps` micro-batches stacked along the batch axis; their
    gradients are averaged before one update. With fp16 the loss is scaled before the backward
    pass and the gradients unscaled before clipping (so clipping sees the true norm); a step
    whose gradients are not finite is skipped and lowers the loss scale. `loss_fn(outputs, batch)`
    returns the loss and a dict of metrics. The returned metrics add `loss`, `grad_norm` (before
    clipping), `learning_rate` and `grads_finite`.
    """
    if accumulation_steps < 1:
        raise ValueError(f"accumulation_steps must be at least 1, got {accumulation_steps}")
    loss_scale = loss_scale or LossScale()
    variables = model.trainable_variables
    optimizer.build(variables)

    def gradients(micro_batch: dict):
        with tf.GradientTape() as tape:
            outputs = model(select_inputs(model, micro_batch), training=True)
            loss, metrics = loss_fn(outputs, micro_batch)
            scaled_loss = loss_scale.scale(loss)
        grads = tape.gradient(scaled_loss, variables)
        # Embedding gradients arrive as IndexedSlices; LAMB's norms and accumulation need them dense.
        grads = [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g) for g, v in zip(grads, variables)]
        return loss, metrics, grads

    def step(batch: dict) -> dict[str, tf.Tensor]:
        learning_rate = optimizer.learning_rate
        loss, metrics, grads = accumulate_gradients(gradients, batch, accumulation_steps)
        grads = loss_scale.unscale(grads)
        finite = all_finite(grads)
        grads, grad_norm = clip_by_global_norm(grads, clip_norm)

        def apply() -> tf.Tensor:
            optimizer.apply(grads, variables)
            return tf.constant(True)

        tf.cond(finite, apply, lambda: tf.constant(False))
        loss_scale.update(finite)
        return {
            **metrics,
            "loss": loss,
            "grad_norm": grad_norm,
            "learning_rate": tf.cast(learning_rate, tf.float32),
            "grads_finite": finite,
        }

    return tf.function(step, jit_compile=jit_compile, reduce_retracing=True)
