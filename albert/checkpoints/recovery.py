"""A run's checkpoints found and checked before it resumes, whatever happened to its folder.

TensorFlow finds a run's newest checkpoint through the `checkpoint` state file alone: without it
(only the `ckpt-*` files copied to a new machine) a run starts again at step 0 and overwrites
them, and a damaged newest checkpoint stops the resume. `prepare` scans the folder for
`ckpt-<step>` instead, checks that each is complete (every data shard there, every tensor of
its index readable), moves a damaged one aside into `damaged/` (saying so) and
writes the state file anew for the intact ones, newest last. It also removes the `*_temp`
folder of a save that was interrupted (e.g. by a full disk).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
from collections.abc import Callable

import tensorflow as tf

from albert.checkpoints._common import CheckpointError

_NAME = re.compile(r"^ckpt-(\d+)\.index$")
DAMAGED = "damaged"


def run_checkpoints(output_dir: str) -> list[tuple[int, str]]:
    """(step, prefix) of every `ckpt-<step>` in the folder, oldest first, from its files."""
    found = []
    for name in os.listdir(output_dir) if os.path.isdir(output_dir) else ():
        match = _NAME.match(name)
        if match:
            found.append((int(match[1]), os.path.join(output_dir, name[: -len(".index")])))
    return sorted(found)


def problem(prefix: str) -> str | None:
    """What is wrong with the checkpoint at `prefix`, or None when it is complete: its data
    shards are all there and every tensor its index names reads back (what a resume reads)."""
    shards = glob.glob(glob.escape(prefix) + ".data-*-of-*")
    counts = {int(path.rsplit("-of-", 1)[1]) for path in shards}
    if not shards or len(counts) != 1 or len(shards) != counts.pop():
        return "data files missing"
    try:
        reader = tf.train.load_checkpoint(prefix)
        for name, dtype in reader.get_variable_to_dtype_map().items():
            if dtype != tf.variant:  # the input position: no numpy value (the tensors after it read)
                reader.get_tensor(name)
    except (tf.errors.OpError, ValueError, IndexError) as err:  # IndexError: "Read less bytes than requested"
        return f"unreadable: {str(err).splitlines()[0][:80]}"
    return None


def prepare(output_dir: str, log: Callable[[str], None]) -> str | None:
    """Makes the run's folder ready to resume; returns its newest intact checkpoint (None in a
    fresh folder). Raises `CheckpointError` when there are checkpoints and none is intact, rather
    than start again at step 0 over them."""
    for temp in glob.glob(os.path.join(glob.escape(output_dir), "ckpt-*_temp")):
        shutil.rmtree(temp, ignore_errors=True)
        log(f"removed {temp}, left by an interrupted save")
    found = run_checkpoints(output_dir)
    intact = []
    for _, prefix in reversed(found):
        wrong = problem(prefix)
        if wrong is None:
            intact.append(prefix)
        elif not intact:  # damaged and newer than every intact one: it would be resumed
            log(f"{prefix} is damaged ({wrong}); moved to {_set_aside(prefix)}")
    if found and not intact:
        raise CheckpointError(
            f"{output_dir}: its checkpoints are all damaged (moved to {DAMAGED}/); "
            "remove the folder or pass a new --output_dir to start again"
        )
    if intact:
        intact.reverse()
        state = _state(output_dir)
        if state is None or state.model_checkpoint_path != intact[-1]:
            tf.compat.v1.train.update_checkpoint_state(output_dir, intact[-1], all_model_checkpoint_paths=intact)
            if state is None:
                log(
                    f"{output_dir}: no readable 'checkpoint' file; found {len(intact)} checkpoints, newest {intact[-1]}"
                )
    return intact[-1] if intact else None


def latest(output_dir: str) -> str | None:
    """The run's newest checkpoint: the state file's, else the newest `ckpt-<step>` file."""
    state = _state(output_dir)
    if state is not None and os.path.exists(state.model_checkpoint_path + ".index"):
        return state.model_checkpoint_path
    found = run_checkpoints(output_dir)
    return found[-1][1] if found else None


def _state(output_dir: str):
    """The folder's `checkpoint` state, or None when it is missing or garbled."""
    try:
        return tf.train.get_checkpoint_state(output_dir)
    except Exception:  # a garbled text proto: TensorFlow raises its parser's own errors
        return None


def _set_aside(prefix: str) -> str:
    folder = os.path.join(os.path.dirname(prefix), DAMAGED)
    os.makedirs(folder, exist_ok=True)
    for path in glob.glob(glob.escape(prefix) + ".*"):
        os.replace(path, os.path.join(folder, os.path.basename(path)))
    return folder
