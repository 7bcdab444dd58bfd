"""What a training run's checkpoints hold, and how a run starts from them.

The chief's `ckpt-<step>` in the output folder holds everything an exact resume needs: the
model, the optimizer, the loss scale, the step, the dropout state, the chief's input position
and the settings that decide what the input position means (the input, the batch, the workers).
Every other worker keeps its own input position beside it, saved at the same steps:

    <output_dir>/ckpt-<step>.*                              the chief's
    <output_dir>/inputs/worker-<rank>-of-<size>/ckpt-<step>.*   worker <rank>'s input position

so a resumed run with the same workers reads exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import tensorflow as tf

from albert import checkpoints, distribute
from albert.modeling import dropout_states

_SETTINGS = "run_settings/.ATTRIBUTES/VARIABLE_VALUE"


def chief_manager(state: dict, iterator, output_dir: str, keep: int, settings: dict) -> tf.train.CheckpointManager:
    """The chief's checkpoints of the training `state` (model, optimizer, loss_scale,
    global_step), the weights by layer (for other tasks to start from), the dropout state, its
    input position and the run's `settings` (see `check_settings`)."""
    parts = dict(
        **state,
        layers=checkpoints.weight_layers(state["model"]),
        dropout_state=dropout_states(state["model"]),
        data=iterator,
    )
    settings_variable = tf.Variable(_encode(settings), dtype=tf.string, trainable=False)
    checkpoint = tf.train.Checkpoint(**parts, run_settings=settings_variable)
    manager = tf.train.CheckpointManager(
        checkpoint, output_dir, max_to_keep=keep, checkpoint_name="ckpt", step_counter=state["global_step"]
    )
    manager.without_settings = tf.train.Checkpoint(**parts)  # what an earlier version's checkpoints hold
    return manager


def input_folder(output_dir: str, rank: int, size: int) -> str:
    return os.path.join(output_dir, "inputs", f"worker-{rank}-of-{size}")


def worker_manager(iterator, output_dir: str, keep: int, workers: distribute.Workers) -> tf.train.CheckpointManager:
    """A worker's (not the chief's) own checkpoints: its input position only."""
    folder = input_folder(output_dir, workers.rank, workers.size)
    checkpoint = tf.train.Checkpoint(data=iterator)
    return tf.train.CheckpointManager(checkpoint, folder, max_to_keep=keep, checkpoint_name="ckpt")


def _encode(settings: dict) -> str:
    return json.dumps(settings, sort_keys=True, default=str)


def check_settings(path: str, settings: dict) -> None:
    """Refuses to resume from the checkpoint at `path` when it was saved by a run whose
    `settings` differ (its input position would mean other batches)."""
    reader = tf.train.load_checkpoint(path)
    saved = json.loads(reader.get_tensor(_SETTINGS).decode())
    ours = json.loads(_encode(settings))
    differ = [name for name in sorted(saved.keys() & ours.keys()) if saved[name] != ours[name]]
    if differ:
        shown = "; ".join(f"{name} {_short(saved[name])} (now {_short(ours[name])})" for name in differ)
        raise checkpoints.CheckpointError(
            f"{path}: saved by a run with {shown}; rerun with those settings to resume, or pass a new "
            f"--output_dir (with --init_checkpoint={path} to start from its weights)"
        )


def _short(value) -> str:
    text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def restore_or_initialise(
    manager, config, init_checkpoint: str | None, init_optimizer: bool, log: Callable[[str], None]
) -> None:
    """Resumes from the newest checkpoint of the run, else starts from `init_checkpoint`. A
    run's `config` (`training.LoopConfig`) gives its `resume_settings`, checked unless the
    checkpoint is already at `num_train_steps` (nothing is read then)."""
    state = manager.checkpoint
    if manager.latest_checkpoint:
        path = manager.latest_checkpoint
        finished = checkpoints.global_step(path) >= config.num_train_steps
        # A checkpoint of an earlier version, without settings, restores all but them.
        has_settings = _SETTINGS in tf.train.load_checkpoint(path).get_variable_to_dtype_map()
        if has_settings and not finished:
            check_settings(path, config.resume_settings)
        saved = state if has_settings else manager.without_settings
        try:
            saved.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as err:
            raise checkpoints.CheckpointError(
                f"{manager.latest_checkpoint}: cannot resume, it was written with other settings "
                f"({str(err).splitlines()[0][:120]}); "
                "rerun with the same flags (e.g. --data_type) or a new --output_dir"
            ) from None
        log(f"resuming from {manager.latest_checkpoint} at step {int(state.global_step.numpy())}")
    elif init_checkpoint:
        path = checkpoints.load_weights(state.model, init_checkpoint, new_heads=True)
        if init_optimizer:
            _load_optimizer_moments(state.optimizer, path)
        log(f"initialised the model{' and optimizer' if init_optimizer else ''} from {init_checkpoint}")


def _load_optimizer_moments(optimizer, path: str) -> None:
    """The optimizer's moments from a training checkpoint of this project at `path`; its step
    count starts again at 0, so the schedule is the new run's."""
    try:
        tf.train.Checkpoint(optimizer=optimizer).read(path).assert_existing_objects_matched().expect_partial()
    except (AssertionError, ValueError, tf.errors.OpError) as err:
        raise checkpoints.CheckpointError(
            f"{path}: holds no optimizer state of this model ({str(err).splitlines()[0][:120]}); "
            "pass --load_optimizer_state=false to take the weights only"
        ) from None
    optimizer.iterations.assign(0)


def restore_input(manager: tf.train.CheckpointManager, step: int, workers: distribute.Workers) -> None:
    """A worker's input position at `step`, the chief's resumed step (0: a new run)."""
    if step == 0:
        return
    path = os.path.join(manager.directory, f"ckpt-{step}")
    try:
        manager.checkpoint.read(path).assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError):
        workers.log(
            f"no readable input position of step {step} in {manager.directory}: this worker's shard starts "
            "afresh, so the resumed run is not exactly the uninterrupted one"
        )
        return
    workers.log(f"resuming its input position from {path}")
