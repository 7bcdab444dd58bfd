"""The training loop shared by every task.

`make_train_step` compiles one step — forward, backward, gradient accumulation, loss scaling,
global-norm clipping and the optimizer update — as one `tf.function`; `train` runs it with
logging, TensorBoard summaries, checkpoints and exact resume; `evaluate` sums metrics over a
dataset.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
import re
import shutil
import signal
import time
from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import summary_pb2

from albert import checkpoints, distribute, files, optimization, precision, preemption, resume
from albert.aws import flags as aws_flags
from albert.data.pretraining import damage, find_damaged_record
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
    workers = workers or distribute.Workers()
    with workers.scope():
        optimizer.build(model.trainable_variables)
    step = _TrainStep(
        model,
        loss_fn,
        optimizer,
        loss_scale or precision.LossScale(),
        workers,
        accumulation_steps,
        clip_norm,
        denominators_fn,
        step_counter,
    )
    if jit_compile and workers.num_replicas > 1:
        # The collectives stay outside XLA; the forward and backward pass is compiled.
        step.gradients = tf.function(step.gradients, jit_compile=True, reduce_retracing=True)
        jit_compile = False
    return tf.function(step.__call__, jit_compile=jit_compile, reduce_retracing=True)


@dataclasses.dataclass(eq=False)
class _TrainStep:
    """The parts of `make_train_step`'s step: gradients of a micro-batch, their reduction on each
    replica, and the update."""

    model: keras.Model
    loss_fn: LossFn
    optimizer: keras.optimizers.Optimizer
    loss_scale: precision.LossScale
    workers: distribute.Workers
    accumulation_steps: int
    clip_norm: float | None
    denominators_fn: Callable[[dict], dict] | None
    step_counter: tf.Variable | None

    def __post_init__(self) -> None:
        self.variables = self.model.trainable_variables
        # Variables that get no gradient (e.g. a pooler under a span head) are left out of the
        # update: Google's optimizers skip them, while a zero gradient would still decay them.
        # Known at trace time.
        self.no_gradient: set[int] = set()

    def gradients(self, micro_batch: dict, denominators: dict | None):
        with tf.GradientTape() as tape:
            outputs = self.model(select_inputs(self.model, micro_batch), training=True)
            if denominators is None:
                loss, metrics = self.loss_fn(outputs, micro_batch)
            else:
                loss, metrics = self.loss_fn(outputs, micro_batch, denominators)
            scaled_loss = self.loss_scale.scale(loss)
        grads = tape.gradient(scaled_loss, self.variables)
        self.no_gradient.update(i for i, g in enumerate(grads) if g is None)
        # Embedding gradients arrive as IndexedSlices; LAMB's norms and accumulation need them dense.
        return (
            loss,
            metrics,
            [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g) for g, v in zip(grads, self.variables)],
        )

    def replica_gradients(self, batch: dict):
        """Reduced, unscaled and clipped gradients and the step's metrics, on each replica."""
        workers, additive = self.workers, self.denominators_fn is not None
        batch = workers.replica_slice(batch)
        denominators = workers.all_reduce(self.denominators_fn(batch), mean=False) if additive else None
        loss, metrics, grads = accumulate_gradients(
            lambda micro: self.gradients(micro, denominators), batch, self.accumulation_steps, average=not additive
        )
        loss, metrics, grads = workers.all_reduce((loss, metrics, grads), mean=not additive)
        grads = self.loss_scale.unscale(grads)
        loss_finite = tf.reduce_all(tf.math.is_finite(loss))
        finite = tf.logical_and(all_finite(grads), loss_finite)
        grads, grad_norm = clip_by_global_norm(grads, self.clip_norm)
        return grads, {
            **metrics,
            "loss": loss,
            "grad_norm": grad_norm,
            "grads_finite": finite,
            "loss_finite": loss_finite,
        }

    def apply(self, grads: list[tf.Tensor]) -> None:
        used = [i for i in range(len(self.variables)) if i not in self.no_gradient]
        self.optimizer.apply([grads[i] for i in used], [self.variables[i] for i in used])

    def __call__(self, batch: dict) -> dict[str, tf.Tensor]:
        learning_rate = self.optimizer.learning_rate
        grads, metrics = self.workers.run(self.replica_gradients, batch)
        metrics = self.workers.local(metrics)  # equal on every replica: reduced before they were computed
        finite = metrics["grads_finite"]

        # The condition is taken outside the replicas (a strategy cannot synchronise inside one).
        def update() -> tf.Tensor:
            self.workers.run(self.apply, grads)
            return tf.constant(True)

        tf.cond(finite, update, lambda: tf.constant(False))
        self.loss_scale.update(finite)
        if self.step_counter is not None:
            self.step_counter.assign_add(1)
        return {**metrics, "learning_rate": tf.cast(learning_rate, tf.float32)}


def create_optimization(
    settings, steps: int, warmup: int, workers: distribute.Workers
) -> tuple[optimization.AdamWeightDecay, precision.LossScale]:
    """The optimizer, with its warmup + decay schedule, and the loss scale that a task's settings
    describe (`learning_rate`, `end_learning_rate`, `poly_power`, `decay_after_warmup`,
    `optimizer`, `weight_decay_rate`, `beta_1`, `beta_2`, `adam_epsilon`, `adam_bias_correction`,
    `data_type`), made in the workers' scope."""
    schedule = optimization.WarmupPolynomialDecay(
        settings.learning_rate,
        steps,
        warmup,
        end_learning_rate=settings.end_learning_rate,
        power=settings.poly_power,
        decay_after_warmup=settings.decay_after_warmup,
    )
    with workers.scope():
        optimizer = optimization.create_optimizer(
            settings.optimizer,
            schedule,
            weight_decay_rate=settings.weight_decay_rate,
            beta_1=settings.beta_1,
            beta_2=settings.beta_2,
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
        summary_dir: TensorBoard's folder, with `train/` and `eval/` (default output_dir).
        save_checkpoints_secs: also save when this many seconds passed since the last save (0: never).
        resume_settings: what a resume must share with the run it continues for its input
            positions to mean the same batches (see `resume.check_settings`).
    """

    output_dir: str
    num_train_steps: int
    batch_size: int
    save_checkpoints_steps: int = 1000
    keep_checkpoint_max: int = 5
    log_steps: int = 100
    summary_dir: str | None = None
    save_checkpoints_secs: float = 0.0
    resume_settings: dict = dataclasses.field(default_factory=dict)

    def summaries(self, kind: str) -> str:
        return summaries_folder(self.output_dir, self.summary_dir, kind)

    def __post_init__(self) -> None:
        for name in ("num_train_steps", "batch_size", "save_checkpoints_steps", "keep_checkpoint_max", "log_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be at least 1, got {getattr(self, name)}")

    def due(self, step: int) -> tuple[bool, bool]:
        """Whether to log, and whether to save, after `step` (both after the last)."""
        last = step == self.num_train_steps
        return step % self.log_steps == 0 or last, step % self.save_checkpoints_steps == 0 or last


def format_metrics(metrics: dict[str, float], names: Sequence[str]) -> str:
    return "  ".join(f"{name} {metrics[name]:.4g}" for name in names if name in metrics)


# Metrics every training step reports; a task's own (`Task.logged`) go between the loss and these.
LOGGED = ("loss", "learning_rate", "grad_norm")


# A callback of the chief during training: (every how many steps, fn(step)); also after the last.
Hook = tuple[int, Callable[[int], None]]


def fit(task, model: keras.Model, workers: distribute.Workers, log: Callable[[str], None] = print_line) -> dict:
    """Trains `model` (from `task.create_model`, in `workers.scope()`) as the task's settings
    say, resuming in its output_dir. When `task.evaluates_during_training()` the model is
    evaluated every --validation_frequency steps, else at every checkpoint; a task with a
    `main_metric` keeps the best. Returns the last logged training metrics."""
    v = task.values
    steps, warmup = task.schedule()
    optimizer, loss_scale = create_optimization(v, steps, warmup, workers)
    dataset = task.train_dataset(workers, workers.worker_batch(v.train_batch_size, v.gradient_accumulation_steps))
    loop = LoopConfig(
        v.output_dir,
        steps,
        v.train_batch_size,
        save_checkpoints_steps=min(v.save_checkpoints_steps, steps),
        keep_checkpoint_max=v.keep_checkpoint_max,
        log_steps=min(v.log_steps, steps),
        summary_dir=v.summary_dir,
        save_checkpoints_secs=v.save_checkpoints_secs,
        resume_settings={**task.resume_settings(), "workers": workers.size},
    )
    every = v.validation_frequency or loop.save_checkpoints_steps
    hooks = [(every, evaluation_hook(task, model, loop, log))] if task.evaluates_during_training() else []
    with _damaged_records_named(task):
        return train(
            model,
            task.loss,
            optimizer,
            dataset,
            loop,
            loss_scale=loss_scale,
            accumulation_steps=v.gradient_accumulation_steps,
            clip_norm=v.max_grad_norm,
            jit_compile=v.xla,
            init_checkpoint=v.init_checkpoint,
            init_optimizer=aws_flags.loads_optimizer(v),
            denominators_fn=task.denominators,
            logged=(LOGGED[0], *task.logged, *LOGGED[1:]),
            log=log,
            hooks=(*hooks, *task.training_hooks(model, log)),
            workers=workers,
        )


@contextlib.contextmanager
def _told_to_all(workers: distribute.Workers, what: str):
    """Runs the block on every worker (each its own part, at the same point); when it fails on
    one, every worker stops: that one with its error, the others with a line pointing at it."""
    failed = None
    try:
        yield
    except Exception as err:
        failed = err
    (any_failed,) = workers.agree(failed is not None)
    if failed is not None:
        raise failed
    if any_failed:
        raise TrainingError(f"{what} failed on another worker (its log says why); this worker stopped too")


def _os_reason(err: Exception) -> str:
    """The operating system's reason in an error of a write (e.g. "No space left on device")."""
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    text = re.sub(r"\{\{.*?\}\}|\[Op:\w+\]", "", getattr(err, "message", str(err))).strip().splitlines()[0]
    return text.rsplit("; ", 1)[-1][:100]


@contextlib.contextmanager
def _damaged_records_named(task):
    """A damaged training record stops the run with one line naming its file and byte offset."""
    try:
        yield
    except tf.errors.DataLossError as err:
        damaged = find_damaged_record(task.training_files()) or f"a record file: {damage(err)}"
        raise TrainingError(
            f"{damaged}; training stopped, the checkpoints saved are intact; make the file again or leave it out"
        ) from None


def evaluation_hook(task, model: keras.Model, loop: LoopConfig, log: Callable[[str], None]) -> Callable[[int], None]:
    """Evaluates the model as it is, logs and summarises the results (under eval/), and keeps
    the best by the task's `main_metric`."""
    output_dir, writers = task.values.output_dir, []

    def evaluate(step: int) -> None:
        results = {**task.evaluate(model), "global_step": step}
        shown = "  ".join(f"{k} {value:.4f}" for k, value in sorted(results.items()) if k != "global_step")
        log(f"eval at step {step}: {shown}")
        writers[:] = writers or [tf.summary.create_file_writer(loop.summaries("eval"))]  # the chief's only
        write_results_summary(writers[0], results)
        if task.main_metric:
            best = checkpoints.best_results(output_dir)
            if best is None or results[task.main_metric] > best[task.main_metric]:
                checkpoints.save_best(model, output_dir, results)

    return evaluate


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
    logged: Sequence[str] = LOGGED,
    log: Callable[[str], None] = print_line,
    init_optimizer: bool = False,
    on_log: Callable[[int, dict[str, float]], None] | None = None,
    hooks: Sequence[Hook] = (),
    workers: distribute.Workers | None = None,
) -> dict[str, float]:
    """Trains until `config.num_train_steps`, resuming from the newest checkpoint in
    `config.output_dir` (model, optimizer, loss scale, step, input position and dropout state:
    a resumed run ends with the weights of an uninterrupted one), else starting from
    `init_checkpoint` (the weights it shares with the model, see `checkpoints.load_weights`, and
    with `init_optimizer` the optimizer's moments of a checkpoint of this project) or from
    scratch. `logged` names the metrics of log lines and summaries; each hook `(every, fn)` runs
    `fn(step)` every `every` steps and after the last (e.g. to evaluate). Returns the mean metrics of the last logging
    interval. A non-finite loss stops the run with `TrainingError` before its update is applied.

    With several `workers` (model and optimizer made in `workers.scope()`), `dataset` is this
    worker's shard; all start from the chief's weights, and only the chief logs, saves the
    training state and runs the hooks; every other worker saves its input position at the same
    steps (see `resume`).
    """
    loss_scale = loss_scale or precision.LossScale()
    workers = workers or distribute.Workers()
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
    state = dict(model=model, optimizer=optimizer, loss_scale=loss_scale, global_step=global_step)
    keep = config.keep_checkpoint_max
    with _told_to_all(workers, "the start"):
        if workers.is_chief:  # the others take its weights, optimizer and step in _synchronise
            checkpoints.prepare_run_folder(config.output_dir, log)  # before the manager reads the folder
            manager = resume.chief_manager(state, iterator, config.output_dir, keep, config.resume_settings)
            resume.restore_or_initialise(manager, config, init_checkpoint, init_optimizer, log)
        else:
            manager = resume.worker_manager(iterator, config.output_dir, keep, workers)
    if workers.size > 1:
        _synchronise(model, optimizer, loss_scale, global_step, workers, config)
        if not workers.is_chief:
            resume.restore_input(manager, int(global_step.numpy()), workers)
    elif workers.device:
        log(workers.describe())
    packed_step, names = _packed_step(step_fn, dataset.element_spec)
    loop = _Loop(config, _Reporter(config, logged, log, workers.is_chief), manager, workers, hooks, on_log, log)
    with preemption.Signals() as signals:
        loop.run(lambda: packed_step(next(iterator)), names, int(global_step.numpy()), signals)
    loop.reporter.close()
    return loop.reporter.last


@dataclasses.dataclass
class _Loop:
    """The steps of `train` after the restore: logs, checkpoints (every N steps or seconds),
    hooks, and a stop on SIGTERM / SIGINT, each taken by every worker at the same step."""

    config: LoopConfig
    reporter: _Reporter
    manager: tf.train.CheckpointManager  # the chief's state, or another worker's input position
    workers: distribute.Workers
    hooks: Sequence[Hook]
    on_log: Callable[[int, dict[str, float]], None] | None
    log: Callable[[str], None]

    def run(self, step_fn: Callable[[], tf.Tensor], names: list[str], step: int, signals) -> None:
        config, chief, secs = self.config, self.workers.is_chief, self.config.save_checkpoints_secs
        saved_at = time.monotonic()
        while step < config.num_train_steps:
            self.reporter.add(step_fn(), step + 1)
            step += 1
            log_now, save = config.due(step)
            timed = bool(secs) and time.monotonic() - saved_at >= secs
            stop, timed = self.workers.agree(signals.received is not None, timed)
            save = save or timed or stop
            if log_now or save:
                means = self.reporter.means(names)
                last = self.manager.latest_checkpoint if chief else "named in the chief's log"
                _stop_unless_finite(means, self.reporter.steps, step, last)
                if log_now:
                    self.reporter.report(step, means)
                    if self.on_log:
                        self.on_log(step, means)
            if save:
                self.save_all(step)
                saved_at = time.monotonic()
            if chief and self.hooks:
                self.run_hooks(step)
            if stop:
                self.stop(step, signals.received or signal.SIGTERM)

    def save_all(self, step: int) -> None:
        """Every worker but the chief saves its input position first, then the chief its
        checkpoint, so that the chief's `ckpt-<step>` means every worker's is there; a failed
        save stops every worker."""
        for chiefs_turn in (False, True):
            with _told_to_all(self.workers, f"step {step}: save"):
                if self.workers.is_chief == chiefs_turn:
                    self.save(step)

    def save(self, step: int) -> None:
        """Saves this worker's checkpoint; a save that fails (a full disk) stops the run in one
        line, its partial files removed, the checkpoints before it intact."""
        newest = self.manager.latest_checkpoint
        try:
            self.manager.save(checkpoint_number=step)
        except (tf.errors.OpError, OSError) as err:
            partial = glob.glob(os.path.join(glob.escape(self.manager.directory), f"ckpt-{step}_temp*"))
            for folder in partial:
                shutil.rmtree(folder, ignore_errors=True)
            raise TrainingError(
                f"step {step}: saving the checkpoint in {self.manager.directory} failed ({_os_reason(err)}); "
                f"the newest checkpoint is {newest or 'none yet'}; free disk space and run the same command to resume"
            ) from None

    def run_hooks(self, step: int) -> None:
        started = time.perf_counter()
        for every, hook in self.hooks:
            if step % every == 0 or step == self.config.num_train_steps:
                hook(step)
        self.reporter.start += time.perf_counter() - started  # the hooks' time is not training's

    def stop(self, step: int, signum: int) -> None:
        """Stops every worker at `step`, saved."""
        if self.workers.is_chief:
            self.reporter.close()
            self.log(
                f"{preemption.name(signum)} at step {step}: saved {self.manager.latest_checkpoint}; "
                "run the same command to resume there"
            )
        raise preemption.Preempted(signum, f"stopped by {preemption.name(signum)} at step {step}")


def _synchronise(model, optimizer, loss_scale, global_step, workers: distribute.Workers, config: LoopConfig) -> None:
    """Every worker takes the chief's weights and step; each draws its own dropout masks."""
    states = dropout_states(model)
    workers.broadcast_variables([*model.weights, *optimizer.variables, global_step, *loss_scale.variables, *states])
    for state in states:
        state.assign(state + tf.constant([7919 * workers.rank, 0], state.dtype))
    workers.log(
        f"{workers.describe()}; steps {int(global_step.numpy())} to {config.num_train_steps} "
        f"of {config.batch_size} sequences, this worker reads its shard"
    )


def _packed_step(step_fn, element_spec) -> tuple[Callable, list[str]]:
    """The step with its metrics as one float32 vector (and their names, known once traced), so
    that the loop adds one tensor per step and reads values back only when it logs or saves.
    Traced once, for the dataset's shapes (batches padded to their longest share one graph)."""
    names: list[str] = []

    @tf.function(input_signature=[element_spec])
    def packed_step(batch):
        metrics = step_fn(batch)
        names[:] = sorted(metrics)  # at trace time
        return tf.stack([tf.cast(metrics[name], tf.float32) for name in names])

    return packed_step, names


def _stop_unless_finite(means: dict[str, float], steps: int, step: int, last: str | None) -> None:
    """Stops the run at a non-finite loss; `last` names the newest checkpoint."""
    if means["loss_finite"] < 1.0:
        bad = int(round((1.0 - means["loss_finite"]) * steps))
        raise TrainingError(
            f"step {step}: the loss was not finite in {bad} of the last {steps} steps; training stopped, "
            f"the last good checkpoint is {last or 'none'}; "
            "lower --learning_rate or check the data"
        )


class _Reporter:
    """Sums the metrics of a logging interval; the chief's log lines, progress bar and
    TensorBoard summaries."""

    def __init__(self, config: LoopConfig, logged: Sequence[str], log: Callable[[str], None], is_chief: bool):
        self.config, self.logged, self.log, self.is_chief = config, tuple(logged), log, is_chief
        self.writer = tf.summary.create_file_writer(config.summaries("train")) if is_chief else None
        self.progress = ProgressBar(config.num_train_steps, "steps") if is_chief else None
        self.last: dict[str, float] = {}
        self._restart()

    def _restart(self) -> None:
        self.sums, self.steps, self.start = None, 0, time.perf_counter()

    def add(self, values: tf.Tensor, step: int) -> None:
        self.sums = values if self.sums is None else self.sums + values
        self.steps += 1
        if self.progress:
            self.progress.update(step, step)

    def means(self, names: Sequence[str]) -> dict[str, float]:
        return dict(zip(names, (self.sums / self.steps).numpy().tolist()))

    def report(self, step: int, means: dict[str, float]) -> None:
        """Logs the interval's means (with sequences/s) and starts the next interval."""
        seconds_per_step = (time.perf_counter() - self.start) / self.steps
        means["sequences_per_second"] = self.config.batch_size / seconds_per_step
        if self.is_chief:
            eta = format_duration(seconds_per_step * (self.config.num_train_steps - step))
            if self.progress:
                self.progress.clear()
            self.log(
                f"step {step}/{self.config.num_train_steps}  {format_metrics(means, self.logged)}  "
                f"{means['sequences_per_second']:.1f} seq/s  ETA {eta}"
            )
            with self.writer.as_default(step=step):
                for name in (*self.logged, "sequences_per_second"):
                    if name in means:
                        write_scalar(name, means[name])
        self.last = means
        self._restart()

    def close(self) -> None:
        if self.progress:
            self.progress.close()
        if self.writer:
            self.writer.flush()


def summaries_folder(output_dir: str, summary_dir: str | None, kind: str) -> str:
    """The folder of the `kind` ("train", "eval") of TensorBoard summaries."""
    return os.path.join(summary_dir or output_dir, kind)


def write_results_summary(writer, results: dict) -> None:
    """Numeric evaluation results as TensorBoard scalars at their `global_step`, named as the
    training scalars (eval_accuracy: accuracy)."""
    with writer.as_default(step=int(results.get("global_step", 0))):
        for name, value in sorted(results.items()):
            if name != "global_step" and isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
                write_scalar(name.removeprefix("eval_"), float(value))
    writer.flush()


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
    tmp = files.temporary_path(path)
    with open(tmp, "w", encoding="utf-8") as f:
        for key in sorted(results):
            f.write(f"{key} = {results[key]}\n")
    os.replace(tmp, path)
