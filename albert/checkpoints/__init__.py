"""Checkpoints: this project's own, Google's TF1 ALBERT/BERT checkpoints and Hugging Face
safetensors, and the best checkpoint of a run.

    >>> checkpoints.load_weights(model, "albert_base_v2", new_heads=True)  # any format, or a name
    >>> checkpoints.save_weights(model, "out/albert_hf", format="hf")

`load_weights` finds the format itself; `save_weights` writes the one asked for. The modules hold
the details: `native` (this project's format), `google`, `hugging_face` and `best`.
"""

from __future__ import annotations

import keras

from albert.checkpoints import native
from albert.checkpoints._common import CheckpointError
from albert.checkpoints.best import BEST, best_checkpoint, best_results, restore_for_evaluation, save_best
from albert.checkpoints.google import (
    PRETRAINING_HEADS,
    checkpoint_prefix,
    google_name,
    load_google_checkpoint,
    save_google_checkpoint,
)
from albert.checkpoints.hugging_face import HF_PRETRAINING_HEADS, hf_name, load_hf_checkpoint, save_hf_checkpoint
from albert.checkpoints.native import global_step, stored_layers, weight_layers
from albert.checkpoints.recovery import prepare as prepare_run_folder

FORMATS = ("project", "google", "hf")

__all__ = [
    "BEST",
    "FORMATS",
    "HF_PRETRAINING_HEADS",
    "PRETRAINING_HEADS",
    "CheckpointError",
    "best_checkpoint",
    "best_results",
    "checkpoint_prefix",
    "global_step",
    "prepare_run_folder",
    "google_name",
    "hf_name",
    "load_google_checkpoint",
    "load_hf_checkpoint",
    "load_weights",
    "restore_for_evaluation",
    "save_best",
    "save_google_checkpoint",
    "save_hf_checkpoint",
    "save_weights",
    "stored_layers",
    "weight_layers",
]


def load_weights(model: keras.Model, path: str, new_heads: bool = False) -> str:
    """Loads into `model` the weights at `path`: a checkpoint of this project, a Google TF1
    checkpoint, a Hugging Face `model.safetensors` or its folder, a directory (its newest
    checkpoint) or a released model's name (`albert_base_v2`, downloaded once). With `new_heads`,
    task heads the checkpoint lacks start as initialised and its other heads are ignored.
    Returns the path read (see `native.restore_model_weights`)."""
    return native.restore_model_weights(model, path, new_heads=new_heads)


def save_weights(model: keras.Model, path: str, format: str = "project", *, global_step: int = 0) -> str:
    """Writes the model's weights at `path` as a checkpoint of this project ("project", a
    prefix), of Google's TF1 scripts ("google", a prefix) or of Hugging Face ("hf", a folder or a
    `.safetensors` file); returns the path written. `global_step` is stored with the weights
    (safetensors have no place for it)."""
    if format == "project":
        return native.save_model_weights(model, path, global_step=global_step)
    if format == "google":
        return save_google_checkpoint(model, path, global_step=global_step)
    if format == "hf":
        return save_hf_checkpoint(model, path, native.model_type(model))
    raise ValueError(f"unknown checkpoint format {format!r}; use one of {', '.join(FORMATS)}")
