"""The best checkpoint of a run, kept beside its regular ones, as Google's `run_classifier.py`
keeps `model.ckpt-best`.

`<output_dir>/best/` holds the weights (`ckpt-<global_step>`) and `results.json`: the results
that made them the best, with their `global_step` and the name of the checkpoint. The caller
decides what is better (e.g. a higher dev accuracy) and calls `save_best`.
"""

from __future__ import annotations

import json
import os

import keras

from albert import files
from albert.checkpoints._common import CheckpointError
from albert.checkpoints.native import global_step, restore_model_weights, save_model_weights
from albert.checkpoints.recovery import latest

BEST = "best"


def best_results(output_dir: str) -> dict | None:
    """The results of the best checkpoint kept so far, or None."""
    path = os.path.join(output_dir, BEST, "results.json")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def save_best(model: keras.Model, output_dir: str, results: dict) -> None:
    """Keeps the model's weights as the best checkpoint (`best/ckpt-<step>`, the step being
    `results["global_step"]`). The results file, replaced last, names the checkpoint, so an
    interrupted save leaves the previous best intact."""
    directory = os.path.join(output_dir, BEST)
    os.makedirs(directory, exist_ok=True)
    name = f"ckpt-{results['global_step']}"
    save_model_weights(model, os.path.join(directory, name), global_step=results["global_step"])
    previous = best_results(output_dir)
    tmp = files.temporary_path(os.path.join(directory, "results.json"))
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({**results, "checkpoint": name}, f)
    os.replace(tmp, os.path.join(directory, "results.json"))
    if previous and previous["checkpoint"] != name:
        for file in os.listdir(directory):
            if file.startswith(previous["checkpoint"] + "."):
                os.remove(os.path.join(directory, file))


def best_checkpoint(output_dir: str) -> str | None:
    """The best checkpoint kept in `output_dir`, else its newest, else None."""
    best = best_results(output_dir)
    if best is not None:
        return os.path.join(output_dir, BEST, best["checkpoint"])
    return latest(output_dir)


def restore_for_evaluation(
    model: keras.Model, output_dir: str, init_checkpoint: str | None = None, *, use_best: bool = True
) -> int:
    """Loads into `model` what a run's evaluation and predictions use: the best checkpoint kept
    in `output_dir` (with `use_best`), else its newest, else `init_checkpoint`; returns its
    global step (0 when it has none)."""
    path = (best_checkpoint(output_dir) if use_best else latest(output_dir)) or init_checkpoint
    if not path:
        raise CheckpointError(f"{output_dir}: no checkpoint to evaluate; train first or pass --init_checkpoint")
    return global_step(restore_model_weights(model, path))
