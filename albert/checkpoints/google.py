"""Google's TF1 ALBERT/BERT checkpoints, in and out, strictly.

This project's variable paths are Google's TF1 names (see `albert.modeling`), so the mapping is
the identity except for the classifier head, which Google's `run_classifier.py` keeps at the top
level (`output_weights`, `output_bias`).

Imports are strict: every model variable must be filled, every checkpoint variable (optimizer
slots and `global_step` aside) must be used, and shapes must agree; otherwise a one-line
`CheckpointError` lists the names.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

import keras
import tensorflow as tf

from albert.checkpoints._common import CheckpointError, listing, model_variables

# Google's pretraining heads, unused when a pretraining checkpoint starts a fine-tuning model.
PRETRAINING_HEADS = (r"^cls/predictions/", r"^cls/seq_relationship/")

# Checkpoint entries that are not weights: Adam/LAMB slots and the step.
_SKIPPED = re.compile(r"(/adam_[mv]$|/Adam(_1)?$|^global_step$)")


def google_name(path: str) -> str:
    """Google's TF1 name of the variable at `path` in this project's models."""
    if path.startswith("classifier/"):
        return path[len("classifier/") :]  # run_classifier.py's head lives at the top level
    return path


def _strip_hub_prefix(name: str) -> str:
    return name[len("module/") :] if name.startswith("module/") else name  # TF-Hub exports


def load_google_checkpoint(
    model: keras.Model, prefix: str, *, allow_missing: Iterable[str] = (), allow_unused: Iterable[str] = ()
) -> None:
    """Fills `model` from a Google TF1 checkpoint (`.../model.ckpt-best`, no `.index`).

    `allow_missing`: regular expressions of model paths that may be absent from the checkpoint
    (a fine-tuning head that starts from scratch), left as initialised. `allow_unused`: of
    checkpoint names that may go unused (the pretraining heads, when fine-tuning).
    """
    prefix = checkpoint_prefix(prefix)
    reader = tf.train.load_checkpoint(prefix)
    shapes = reader.get_variable_to_shape_map()
    available = {_strip_hub_prefix(name): name for name in shapes if not _SKIPPED.search(name)}
    allowed = [re.compile(p) for p in allow_missing]
    missing, mismatched, assignments = [], [], []
    for variable in model_variables(model):
        name = google_name(variable.path)
        if name not in available:
            if not any(p.search(variable.path) for p in allowed):
                missing.append(name)
            continue
        stored = shapes[available[name]]
        if tuple(stored) != tuple(variable.shape):
            mismatched.append(f"{name} {tuple(stored)} vs model {tuple(variable.shape)}")
            continue
        assignments.append((variable, available.pop(name)))
    if mismatched:
        raise CheckpointError(f"{prefix}: shapes differ from the model: {listing(mismatched)}; check the model config")
    if missing:
        raise CheckpointError(
            f"{prefix}: the checkpoint lacks {listing(missing)}; is it the model the config describes?"
        )
    ignorable = [re.compile(p) for p in allow_unused]
    unused = [n for n in available if not any(p.search(n) for p in ignorable)]
    if unused:
        raise CheckpointError(f"{prefix}: the model has no place for {listing(unused)}; check the model config")
    for variable, name in assignments:
        variable.assign(reader.get_tensor(name))


def save_google_checkpoint(model: keras.Model, prefix: str, global_step: int = 0) -> str:
    """Writes `model` as a TF1 checkpoint with Google's variable names (readable by Google's
    scripts and by `load_google_checkpoint`); returns the prefix."""
    os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
    names, tensors = ["global_step"], [tf.constant(global_step, tf.int64)]
    for variable in model_variables(model):
        names.append(google_name(variable.path))
        tensors.append(tf.convert_to_tensor(variable.value))
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names), tensors=tensors)
    return prefix


def checkpoint_prefix(path: str) -> str:
    """Accepts a prefix, a prefix with `.index` (a common mistake, Google's issue #135), or a
    directory with a `checkpoint` file."""
    path = os.fspath(path)
    if path.endswith(".index"):
        path = path[: -len(".index")]
    if os.path.isdir(path):
        latest = tf.train.latest_checkpoint(path)
        candidates = sorted(f[: -len(".index")] for f in os.listdir(path) if f.endswith(".index"))
        if latest is None and len(candidates) == 1:
            latest = os.path.join(path, candidates[0])  # Google's tarballs have no `checkpoint` file
        if latest is None:
            raise CheckpointError(
                f"{path}: no checkpoint in this directory; pass the prefix, e.g. {path}/model.ckpt-best"
            )
        path = latest
    if not tf.io.gfile.exists(path + ".index"):
        raise CheckpointError(f"{path}: checkpoint not found (expected {path}.index)")
    return path
