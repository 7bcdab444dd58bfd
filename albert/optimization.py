"""LAMB and AdamW with the exact semantics of Google's ALBERT, the learning-rate schedule,
gradient clipping and gradient accumulation.

Google's ALBERT `lamb_optimizer.py` and `optimization.py`, per variable `w` with
gradient `g`:

    m ← β1·m + (1 − β1)·g
    v ← β2·v + (1 − β2)·g²
    u ← m / (√v + ε)                       no bias correction
    u ← u + λ·w                            unless the name matches an exclusion ("LayerNorm",
                                           "layer_norm", "bias")
    r ← ‖w‖ / ‖u‖ if both norms > 0 else 1 LAMB only, and 1 for excluded names
    w ← w − r·lr·u

AdamW (Google's `AdamWeightDecayOptimizer`, the fine-tuning optimizer) is the same update with
r = 1. Exclusions are regular expressions searched in the full variable path (e.g.
`bert/encoder/transformer/group_0/inner_group_0/LayerNorm/gamma`), which are Google's variable
names. Keras' own `Lamb` differs: Adam bias correction, decoupled decay outside the trust ratio,
a trust ratio on every variable, ε 1e-7 (Keras' `keras/src/optimizers/lamb.py`).

    >>> schedule = WarmupPolynomialDecay(1e-3, num_train_steps=1000, num_warmup_steps=100)
    >>> optimizer = create_optimizer("lamb", schedule)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import keras
import tensorflow as tf

EXCLUDE_FROM_WEIGHT_DECAY = ("LayerNorm", "layer_norm", "bias")
OPTIMIZERS = ("lamb", "adamw")


class WarmupPolynomialDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Google's BERT/ALBERT schedule: polynomial decay from `learning_rate` at step 0 to
    `end_learning_rate` at `num_train_steps`, replaced during the first `num_warmup_steps` steps
    by the linear warmup `learning_rate · step / num_warmup_steps`.

    As in Google's code the decay is counted from step 0, not from the end of warmup, and the
    first step (step 0) has learning rate 0 when there is a warmup. With `decay_after_warmup`
    the decay runs from the end of warmup instead (NVIDIA's and Hugging Face's schedules: the
    peak is reached, then decays to `end_learning_rate` at `num_train_steps`). `step` is the
    number of optimizer updates already applied.
    """

    def __init__(
        self,
        learning_rate: float,
        num_train_steps: int,
        num_warmup_steps: int = 0,
        end_learning_rate: float = 0.0,
        power: float = 1.0,
        decay_after_warmup: bool = False,
    ):
        if num_train_steps < 1:
            raise ValueError(f"num_train_steps must be at least 1, got {num_train_steps}")
        if num_warmup_steps < 0:
            raise ValueError(f"num_warmup_steps must be >= 0, got {num_warmup_steps}")
        self.learning_rate = float(learning_rate)
        self.num_train_steps = int(num_train_steps)
        self.num_warmup_steps = int(num_warmup_steps)
        self.end_learning_rate = float(end_learning_rate)
        self.power = float(power)
        self.decay_after_warmup = bool(decay_after_warmup) and 0 < num_warmup_steps < num_train_steps

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        if self.decay_after_warmup:
            decay_steps = self.num_train_steps - self.num_warmup_steps
            progress = tf.clip_by_value((step - self.num_warmup_steps) / decay_steps, 0.0, 1.0)
        else:
            progress = tf.minimum(step, self.num_train_steps) / self.num_train_steps
        decayed = (self.learning_rate - self.end_learning_rate) * tf.pow(
            1.0 - progress, self.power
        ) + self.end_learning_rate
        if not self.num_warmup_steps:
            return decayed
        warmup = self.learning_rate * step / self.num_warmup_steps
        return tf.where(step < self.num_warmup_steps, warmup, decayed)

    def get_config(self) -> dict:
        return {
            "learning_rate": self.learning_rate,
            "num_train_steps": self.num_train_steps,
            "num_warmup_steps": self.num_warmup_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "decay_after_warmup": self.decay_after_warmup,
        }


def _matches(path: str, patterns: Sequence[str]) -> bool:
    return any(re.search(p, path) for p in patterns)


@tf.function(jit_compile=True)
def _update(gradient, m, v, w, lr, correction_1, correction_2, *, beta_1, beta_2, epsilon, weight_decay_rate, adapt):
    """One AdamW / LAMB step of one variable, compiled as one fused loop (the elementwise
    operations would otherwise each make a pass over the variable). Returns the new m, v, w."""
    m = beta_1 * m + (1.0 - beta_1) * gradient
    v = beta_2 * v + (1.0 - beta_2) * tf.square(gradient)
    update = (m / correction_1) / (tf.sqrt(v / correction_2) + epsilon)
    if weight_decay_rate:
        update += weight_decay_rate * w
    if adapt:
        w_norm, u_norm = tf.norm(w), tf.norm(update)
        update *= tf.where(tf.logical_and(w_norm > 0.0, u_norm > 0.0), w_norm / tf.maximum(u_norm, 1e-30), 1.0)
    return m, v, w - lr * update


class AdamWeightDecay(keras.optimizers.Optimizer):
    """Google's `AdamWeightDecayOptimizer`: Adam without bias correction, with weight decay added
    to the update (not to the loss) except for variables whose path matches
    `exclude_from_weight_decay`.

    Args:
        learning_rate: a float or a schedule (e.g. `WarmupPolynomialDecay`).
        weight_decay_rate: λ (0.01 in Google's scripts).
        beta_1, beta_2, epsilon: Adam's constants (0.9, 0.999, 1e-6).
        exclude_from_weight_decay: regular expressions searched in variable paths.
        bias_correction: divide m and v by 1 − β^t as Adam does (PyTorch's and Hugging Face's
            AdamW, NVIDIA's LAMB); Google's optimizers do not.
    """

    layer_adaptation = False

    def __init__(
        self,
        learning_rate=1e-3,
        weight_decay_rate: float = 0.01,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-6,
        exclude_from_weight_decay: Sequence[str] = EXCLUDE_FROM_WEIGHT_DECAY,
        exclude_from_layer_adaptation: Sequence[str] | None = None,
        bias_correction: bool = False,
        name: str = "adam_weight_decay",
        **kwargs,
    ):
        # Keras' own weight decay (decoupled, before the update) stays off: decay is part of u.
        super().__init__(learning_rate=learning_rate, weight_decay=None, name=name, **kwargs)
        self.weight_decay_rate = weight_decay_rate
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.bias_correction = bias_correction
        self.exclude_from_weight_decay = tuple(exclude_from_weight_decay)
        self.exclude_from_layer_adaptation = tuple(
            self.exclude_from_weight_decay if exclude_from_layer_adaptation is None else exclude_from_layer_adaptation
        )

    def build(self, var_list) -> None:
        if self.built:
            return
        super().build(var_list)
        # Google's slot names, so the slots map to `<var>/adam_m` and `<var>/adam_v` in TF1.
        self._m = [self.add_variable_from_reference(v, "adam_m") for v in var_list]
        self._v = [self.add_variable_from_reference(v, "adam_v") for v in var_list]
        self._decay = [
            self.weight_decay_rate > 0 and not _matches(v.path, self.exclude_from_weight_decay) for v in var_list
        ]
        self._adapt = [
            self.layer_adaptation and not _matches(v.path, self.exclude_from_layer_adaptation) for v in var_list
        ]

    # Keras' private optimizer API, used here alone; tests/test_optimization.py fails if it changes.
    def _all_reduce_sum_gradients(self, grads_and_vars):
        # Keras' TensorFlow optimizer sums gradients over tf.distribute replicas in this hook of
        # `apply`, and no public setting turns that off; the training step has already reduced (and
        # clipped) them (`training.make_train_step`).
        return grads_and_vars

    def _index(self, variable) -> int:
        """The position of `variable` in the list the optimizer was built with. Keras' private
        `_get_variable_index` is the one lookup that also knows a replica's copy of a mirrored
        variable."""
        return self._get_variable_index(variable)

    def update_step(self, gradient, variable, learning_rate) -> None:
        index = self._index(variable)
        m, v = self._m[index], self._v[index]
        dtype = variable.dtype
        if self.bias_correction:
            t = tf.cast(self.iterations + 1, dtype)
            corrections = (1.0 - tf.pow(tf.cast(self.beta_1, dtype), t), 1.0 - tf.pow(tf.cast(self.beta_2, dtype), t))
        else:
            corrections = (tf.ones([], dtype), tf.ones([], dtype))
        new_m, new_v, new_w = _update(
            tf.cast(gradient, dtype),
            tf.convert_to_tensor(m),
            tf.convert_to_tensor(v),
            tf.convert_to_tensor(variable),
            tf.cast(learning_rate, dtype),
            *corrections,
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
            weight_decay_rate=self.weight_decay_rate if self._decay[index] else 0.0,
            adapt=self._adapt[index],
        )
        self.assign(m, new_m)
        self.assign(v, new_v)
        self.assign(variable, new_w)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            weight_decay_rate=self.weight_decay_rate,
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
            bias_correction=self.bias_correction,
            exclude_from_weight_decay=list(self.exclude_from_weight_decay),
            exclude_from_layer_adaptation=list(self.exclude_from_layer_adaptation),
        )
        return config


class Lamb(AdamWeightDecay):
    """LAMB as in Google's `lamb_optimizer.py`: the AdamW update scaled per variable by the trust
    ratio ‖w‖/‖u‖ (1 when either norm is 0, and for paths matching
    `exclude_from_layer_adaptation`, which defaults to `exclude_from_weight_decay`)."""

    layer_adaptation = True

    def __init__(self, learning_rate=1e-3, name: str = "lamb", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)


def create_optimizer(
    name: str,
    learning_rate,
    weight_decay_rate: float = 0.01,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-6,
    bias_correction: bool = False,
) -> AdamWeightDecay:
    """`lamb` (pretraining) or `adamw` (fine-tuning) with Google's exclusions."""
    classes = {"lamb": Lamb, "adamw": AdamWeightDecay}
    if name not in classes:
        raise ValueError(f"unknown optimizer {name!r}; use one of {', '.join(OPTIMIZERS)}")
    return classes[name](
        learning_rate=learning_rate,
        weight_decay_rate=weight_decay_rate,
        beta_1=beta_1,
        beta_2=beta_2,
        epsilon=epsilon,
        bias_correction=bias_correction,
    )


# ----------------------------------------------------------------------------------------------
# Gradients
# ----------------------------------------------------------------------------------------------


def clip_by_global_norm(grads: list[tf.Tensor], clip_norm: float | None) -> tuple[list[tf.Tensor], tf.Tensor]:
    """Scales all gradients by min(1, clip_norm / ‖g‖) where ‖g‖ is the norm of all of them
    together; returns the clipped gradients and ‖g‖ (before clipping). `clip_norm` None or 0:
    no clipping."""
    norm = tf.linalg.global_norm(grads)
    if not clip_norm:
        return grads, norm
    clipped, _ = tf.clip_by_global_norm(grads, clip_norm, use_norm=norm)
    return clipped, norm


def all_finite(grads: list[tf.Tensor]) -> tf.Tensor:
    return tf.reduce_all([tf.reduce_all(tf.math.is_finite(g)) for g in grads])


GradientFn = Callable[[dict], tuple[tf.Tensor, dict, list[tf.Tensor]]]


def accumulate_gradients(gradient_fn: GradientFn, batch: dict, num_micro_batches: int, average: bool = True):
    """Runs `gradient_fn` on `num_micro_batches` equal slices of `batch` in turn and combines its
    results: one micro-batch's activations are in memory at a time.

    `gradient_fn(micro_batch)` returns `(loss, metrics, grads)`. With `average` the result is
    the mean loss, metrics and gradient over the micro-batches (exact for a loss that is a mean
    over examples); without, their sum (exact when each micro-batch's loss is already normalised
    by the whole batch's counts, see `losses.pretraining_loss`).
    """
    if num_micro_batches == 1:
        return gradient_fn(batch)

    def split(t: tf.Tensor) -> tf.Tensor:
        shape = tf.shape(t)
        return tf.reshape(t, tf.concat([[num_micro_batches, shape[0] // num_micro_batches], shape[1:]], 0))

    micro_batches = tf.nest.map_structure(split, batch)

    def micro_batch(i) -> dict:
        return tf.nest.map_structure(lambda t: t[i], micro_batches)

    total_loss, total_metrics, total_grads = gradient_fn(micro_batch(0))
    for i in tf.range(1, num_micro_batches):
        # Left to itself, TensorFlow runs up to 10 iterations of a loop at once (each waits only
        # for its own inputs), with their activations in memory together.
        tf.autograph.experimental.set_loop_options(parallel_iterations=1)
        with tf.control_dependencies(total_grads):  # after the previous micro-batch's backward
            micro = micro_batch(i)
        loss, metrics, grads = gradient_fn(micro)
        total_loss += loss
        total_metrics = tf.nest.map_structure(tf.add, total_metrics, metrics)
        total_grads = [a + g for a, g in zip(total_grads, grads)]
    scale = 1.0 / num_micro_batches if average else 1.0
    return (
        total_loss * scale,
        tf.nest.map_structure(lambda t: t * scale, total_metrics),
        [g * scale for g in total_grads],
    )
