"""The training loop shared by every task.

`make_train_step` compiles one step — forward, backward, gradient accumulation, loss scaling,
global-norm clipping and the optimizer update — as one `tf.function`; `train` runs it with
logging, TensorBoard summaries, checkpoints and exact resume; `evaluate` sums metrics over a
dataset.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence

import keras
import tensorflow as tf
from tensorflow.core.framework import summary_pb2

from albert import checkpoints, distribute, optimization, precision
from albert.modeling import dropout_states, select_inputs
from albert.optimization import accumulate_gradients, all_finite, clip_by_global_norm
from albert.progress import ProgressBar, format_duration

LossFn = Callable[[dict, dict], tuple[tf.Tensor, dict[str, tf.Tensor]]]


def make_train_step(
    model: keras.Model,
    loss_fn: LossFn,
    optimizer: keras.optimizers.Optimizer,
    *,
    loss_scale: precision.LossScale | None = None,
    accumulation_steps: int = 1,
    clip_norm: float | None = 1.0,
    jit_compile: bool = False,
    step_counter: tf.Variable | None = None,
    denominators_fn: Callable[[dict], dict] | None = None,
    workers: distribute.Workers | None = None,
) -> Callable[[dict], dict[str, tf.Tensor]]:
    """A compiled step `step(batch) -> metrics` that applies one optimizer update.

    `batch` holds `accumulation_steps` micro-batches stacked along the batch axis; their
    gradients are averaged before one update. With fp16 the loss is scaled before the backward
    pass and the gradients unscaled before clipping (so clipping sees the true norm). A step
    whose loss or gradients are not finite leaves the weights untouched; with fp16 it lowers the
    loss scale. `loss_fn(outputs, batch)` returns the loss and a dict of metrics. The returned
    metrics add `loss`, `grad_norm` (before clipping), `learning_rate`, `grads_finite` and
    `loss_finite`. `step_counter`, if given, is incremented by every call, applied or not.

    With `denominators_fn` (e.g. `losses.pretraining_denominators`), `loss_fn` is called as
    `loss_fn(outputs, micro_batch, denominators_fn(batch))` and the micro-batches' results are
    summed: accumulation then gives exactly the gradient of the whole batch, also for the masked-LM
    loss whose normaliser (masked positions) differs between micro-batches. Without it, their
    results are averaged.

    With several `workers`, `batch` is this worker's part of the global batch. Replicas combine
    like micro-batches: the denominators are summed over all of them first, and the losses,
    metrics and gradients are summed (with denominators) or averaged (without) before clipping,
    so every replica applies the same update, that of the global batch.
    """
    if accumulation_steps < 1:
        raise ValueError(f"accumulation_steps must be at least 1, got {accumulation_steps}")
    loss_scale = loss_scale or precision.LossScale()
    workers = workers or distribute.Workers()
    variables = model.trainable_variables
    with workers.scope():
        optimizer.build(variables)

    # Variables that get no gradient (e.g. a pooler under a span head) are left out of the update:
    # Google's optimizers skip them, while a zero gradient would still decay them. Known at trace time.
    no_gradient: set[int] = set()
    additive = denominators_fn is not None

    def gradients(micro_batch: dict, denominators: dict | None):
        with tf.GradientTape() as tape:
            outputs = model(select_inputs(model, micro_batch), training=True)
            if denominators is None:
                loss, metrics = loss_fn(outputs, micro_batch)
            else:
                loss, metrics = loss_fn(outputs, micro_batch, denominators)
            scaled_loss = loss_scale.scale(loss)
        grads = tape.gradient(scaled_loss, variables)
        no_gradient.update(i for i, g in enumerate(grads) if g is None)
        # Embedding gradients arrive as IndexedSlices; LAMB's norms and accumulation need them dense.
        grads = [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g) for g, v in zip(grads, variables)]
        return loss, metrics, grads

    if jit_compile and workers.num_replicas > 1:
        # The collectives stay outside XLA; the forward and backward pass is compiled.
        gradients = tf.function(gradients, jit_compile=True, reduce_retracing=True)
        jit_compile = False

    def replica_gradients(batch: dict):
        """Reduced, unscaled and clipped gradients and the step's metrics, on each replica."""
        batch = workers.replica_slice(batch)
        denominators = workers.all_reduce(denominators_fn(batch), mean=False) if additive else None
        loss, metrics, grads = accumulate_gradients(
            lambda micro: gradients(micro, denominators), batch, accumulation_steps, average=not additive
        )
        loss, metrics, grads = workers.all_reduce((loss, metrics, grads), mean=not additive)
        grads = loss_scale.unscale(grads)
        loss_finite = tf.reduce_all(tf.math.is_finite(loss))
        finite = tf.logical_and(all_finite(grads), loss_finite)
        grads, grad_norm = clip_by_global_norm(grads, clip_norm)
        metrics = {**metrics, "loss": loss, "grad_norm": grad_norm, "grads_finite": finite, "loss_finite": loss_finite}
        return grads, metrics

    def apply(grads: list[tf.Tensor]) -> None:
        used = [i for i in range(len(variables)) if i not in no_gradient]
        optimizer.apply([grads[i] for i in used], [variables[i] for i in used])

    def step(batch: dict) -> dict[str, tf.Tensor]:
        learning_rate = optimizer.learning_rate
        grads, metrics = workers.run(replica_gradients, batch)
        metrics = workers.local(metrics)  # equal on every replica: reduced before they were computed
        finite = metrics["grads_finite"]

        # The condition is taken outside the replicas (a strategy cannot synchronise inside one).
        def update() -> tf.Tensor:
            workers.run(apply, grads)
            return tf.constant(True)

        tf.cond(finite, update, lambda: tf.constant(False))
        loss_scale.update(finite)
        if step_counter is not None:
            step_counter.assign_add(1)
        return {**metrics, "learning_rate": tf.cast(learning_rate, tf.float32)}

    return tf.function(step, jit_compile=jit_compile, reduce_retracing=True)


def create_optimization(
    settings, steps: int, warmup: int, workers: distribute.Workers, weight_decay_rate: float = 0.01
) -> tuple[optimization.AdamWeightDecay, precision.LossScale]:
    """The optimizer, with its warmup + decay schedule, and the loss scale that a task's settings
    describe (`learning_rate`, `poly_power`, `decay_after_warmup`, `optimizer`, `adam_epsilon`,
    `adam_bias_correction`, `data_type`), made in the workers' scope."""
    schedule = optimization.WarmupPolynomialDecay(
        settings.learning_rate, steps, warmup, power=settings.poly_power, decay_after_warmup=settings.decay_after_warmup
    )
    with workers.scope():
        optimizer = optimization.create_optimizer(
            settings.optimizer,
            schedule,
            weight_decay_rate=weight_decay_rate,
            epsilon=settings.adam_epsilon,
            bias_correction=settings.adam_bias_correction,
        )
        return optimizer, precision.create_loss_scale(settings.data_type)


# ----------------------------------------------------------------------------------------------
# The loop
# ----------------------------------------------------------------------------------------------


def print_line(line: str) -> None:
    """Log lines reach a file or pipe at once (a long run's log is watched with tail -f)."""
    print(line, flush=True)


class TrainingError(RuntimeError):
    """Training cannot go on; the message is one line and says what to do."""


@dataclasses.dataclass
class LoopConfig:
    """How long to train and what to write.

    Args:
        output_dir: checkpoints (`ckpt-<step>`), TensorBoard summaries (`train/`) and results.
        num_train_steps: optimizer steps to reach; a restarted run continues to this number.
        batch_size: sequences per step (all micro-batches), for the sequences/s figure.
        save_checkpoints_steps, keep_checkpoint_max: how often to save and how many to keep.
        log_steps: how often to log (and write summaries).
    """

    output_dir: str
    num_train_steps: int
    batch_size: int
    save_checkpoints_steps: int = 1000
    keep_checkpoint_max: int = 5
    log_steps: int = 100

    def __post_init__(self) -> None:
        for name in ("num_train_steps", "batch_size", "save_checkpoints_steps", "keep_checkpoint_max", "log_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be at least 1, got {getattr(self, name)}")


def format_metrics(metrics: dict[str, float], names: Sequence[str]) -> str:
    return "  ".join(f"{name} {metrics[name]:.4g}" for name in names if name in metrics)


LOGGED = (
    "loss",
    "masked_lm_loss",
    "masked_lm_accuracy",
    "sentence_order_loss",
    "sentence_order_accuracy",
    "accuracy",
    "learning_rate",
    "grad_norm",
)


def train(
    model: keras.Model,
    loss_fn: LossFn,
    optimizer: keras.optimizers.Optimizer,
    dataset: tf.data.Dataset,
    config: LoopConfig,
    *,
    loss_scale: precision.LossScale | None = None,
    accumulation_steps: int = 1,
    clip_norm: float | None = 1.0,
    jit_compile: bool = False,
    init_checkpoint: str | None = None,
    denominators_fn: Callable[[dict], dict] | None = None,
    log: Callable[[str], None] = print_line,
    on_log: Callable[[int, dict[str, float]], None] | None = None,
    on_save: Callable[[int], None] | None = None,
    workers: distribute.Workers | None = None,
) -> dict[str, float]:
    """Trains until `config.num_train_steps`, resuming from the newest checkpoint in
    `config.output_dir` if there is one (model, optimizer, loss scale, step, input position and
    dropout state, so a resumed run ends with the same weights as an uninterrupted one).
    Otherwise starts from `init_checkpoint` (any checkpoint `checkpoints.load_weights` reads: the
    weights it shares with the model, with a fresh optimizer and schedule) or from scratch.
    `on_save(step)` runs after each checkpoint is written (e.g. to evaluate it). Returns the mean
    metrics of the last logging interval.

    A non-finite loss stops the run with `TrainingError`; the update of that step is not
    applied and no checkpoint is written after it.

    With several `workers` (the model and optimizer created in `workers.scope()`), `dataset`
    is this worker's shard with its part of each global batch. All workers start from the
    chief's weights; only the chief writes checkpoints, summaries and step logs and calls
    `on_save`. A resumed worker other than the chief starts its shard afresh (the checkpoint
    holds the chief's input position).
    """
    loss_scale = loss_scale or precision.LossScale()
    workers = workers or distribute.Workers()
    is_chief = workers.is_chief
    with workers.scope():
        global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
    step_fn = make_train_step(
        model,
        loss_fn,
        optimizer,
        loss_scale=loss_scale,
        accumulation_steps=accumulation_steps,
        clip_norm=clip_norm,
        jit_compile=jit_compile,
        step_counter=global_step,
        denominators_fn=denominators_fn,
        workers=workers,
    )
    iterator = iter(dataset)
    dropout_state = dropout_states(model)
    checkpoint = tf.train.Checkpoint(
        model=model,
        optimizer=optimizer,
        loss_scale=loss_scale,
        layers=checkpoints.weight_layers(model),
        global_step=global_step,
        dropout_state=dropout_state,
        **({"data": iterator} if workers.is_chief else {}),
    )
    manager = tf.train.CheckpointManager(
        checkpoint,
        config.output_dir,
        max_to_keep=config.keep_checkpoint_max,
        checkpoint_name="ckpt",
        step_counter=global_step,
    )
    if manager.latest_checkpoint:
        try:
            checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as err:
            raise TrainingError(
                f"{manager.latest_checkpoint}: cannot resume, it was written with other settings "
                f"({str(err).splitlines()[0][:120]}); "
                "rerun with the same flags (e.g. --data_type) or a new --output_dir"
            ) from None
        if is_chief:
            log(f"resuming from {manager.latest_checkpoint} at step {int(global_step.numpy())}")
    elif init_checkpoint:
        checkpoints.load_weights(model, init_checkpoint, new_heads=True)
        if is_chief:
            log(f"initialised the model from {init_checkpoint}")
    if workers.size > 1:
        workers.broadcast_variables([*model.weights, *optimizer.variables, global_step, *loss_scale.variables])
        # Each worker draws its own dropout masks.
        for state in dropout_state:
            state.assign(state + tf.constant([7919 * workers.rank, 0], state.dtype))
        workers.log(
            f"{workers.describe()}; steps {int(global_step.numpy())} to {config.num_train_steps} "
            f"of {config.batch_size} sequences, this worker reads its shard"
        )

    # The metrics leave the step as one float32 vector, so that the loop adds one tensor per step
    # and reads values back only when it logs or saves.
    names: list[str] = []

    # Traced once, for the dataset's shapes (batches padded to their longest share one graph).
    @tf.function(input_signature=[dataset.element_spec])
    def packed_step(batch):
        metrics = step_fn(batch)
        names[:] = sorted(metrics)  # at trace time
        return tf.stack([tf.cast(metrics[name], tf.float32) for name in names])

    writer = tf.summary.create_file_writer(os.path.join(config.output_dir, "train")) if is_chief else None
    progress = ProgressBar(config.num_train_steps, "steps") if is_chief else None
    sums = None
    interval_start, interval_steps = time.perf_counter(), 0
    last: dict[str, float] = {}
    step = int(global_step.numpy())
    while step < config.num_train_steps:
        values = packed_step(next(iterator))
        sums = values if sums is None else sums + values
        step += 1
        interval_steps += 1
        if progress:
            progress.update(step, step)
        if step % config.log_steps and step % config.save_checkpoints_steps and step != config.num_train_steps:
            continue
        means = dict(zip(names, (sums / interval_steps).numpy().tolist()))
        if means["loss_finite"] < 1.0:
            bad = int(round((1.0 - means["loss_finite"]) * interval_steps))
            raise TrainingError(
                f"step {step}: the loss was not finite in {bad} of the last {interval_steps} steps; training stopped, "
                f"the last good checkpoint is {manager.latest_checkpoint or 'none'}; "
                "lower --learning_rate or check the data"
            )
        if step % config.log_steps == 0 or step == config.num_train_steps:
            elapsed = time.perf_counter() - interval_start
            seconds_per_step = elapsed / interval_steps
            means["sequences_per_second"] = config.batch_size / seconds_per_step
            eta = format_duration(seconds_per_step * (config.num_train_steps - step))
            if is_chief:
                if progress:
                    progress.clear()
                log(
                    f"step {step}/{config.num_train_steps}  {format_metrics(means, LOGGED)}  "
                    f"{means['sequences_per_second']:.1f} seq/s  ETA {eta}"
                )
                with writer.as_default(step=step):
                    for name in (*LOGGED, "sequences_per_second"):
                        if name in means:
                            write_scalar(name, means[name])
            if on_log:
                on_log(step, means)
            last = means
            sums, interval_start, interval_steps = None, time.perf_counter(), 0
        if is_chief and (step % config.save_checkpoints_steps == 0 or step == config.num_train_steps):
            manager.save(checkpoint_number=step)
            if on_save:
                on_save(step)
    if progress:
        progress.close()
    if writer:
        writer.flush()
    return last


def write_scalar(name: str, value: float) -> None:
    """A TensorBoard scalar through TensorFlow's own summary op (the `tensorboard` package, only
    needed to view summaries, need not be installed to write them)."""
    metadata = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
    tf.summary.write(name, tf.constant(value, tf.float32), metadata=metadata.SerializeToString())


def evaluate(
    model: keras.Model,
    metric_sums_fn: Callable[[dict, dict], dict[str, tf.Tensor]],
    dataset: tf.data.Dataset,
    max_steps: int | None = None,
) -> dict[str, tf.Tensor]:
    """Sums of `metric_sums_fn(outputs, batch)` over the dataset (at most `max_steps` batches)."""

    @tf.function(reduce_retracing=True)
    def eval_step(batch):
        return metric_sums_fn(model(select_inputs(model, batch), training=False), batch)

    totals: dict[str, tf.Tensor] = {}
    for i, batch in enumerate(dataset):
        if max_steps is not None and i >= max_steps:
            break
        sums = eval_step(batch)
        totals = sums if not totals else {k: totals[k] + v for k, v in sums.items()}
    return totals


def write_results(path: str, results: dict) -> None:
    """`key = value` lines, sorted, as Google's scripts write eval_results.txt; atomic."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        for key in sorted(results):
            f.write(f"{key} = {results[key]}\n")
    os.replace(tmp, path)
