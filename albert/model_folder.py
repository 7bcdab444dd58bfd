"""Self-contained run folders: every run's --output_dir carries its model's config and
vocabulary beside the checkpoints, so that `--init_checkpoint=<folder>` alone starts a
fine-tuning from it, and the converter and the SavedModel export find what they need there.

The chief writes `albert_config.json` (or `bert_config.json`) and copies the vocabulary
(`30k-clean.model`, or BERT's `vocab.txt`) into the folder before it trains. A run whose
--init_checkpoint is a local folder, or a checkpoint in one (else the run's own --output_dir),
takes --albert_config_file and its vocabulary from there when they are not given (and says so).
"""

from __future__ import annotations

import filecmp
import os
from collections.abc import Callable

from albert import files
from albert.checkpoints.recovery import latest

# The names looked for, in order: Google's, then Hugging Face's.
CONFIG_FILES = ("albert_config.json", "bert_config.json", "config.json")
VOCABULARY_FILES = {"spm_model_file": ("30k-clean.model", "spiece.model"), "vocab_file": ("vocab.txt",)}


def folder_of(checkpoint: str | None) -> str | None:
    """The local folder of `checkpoint`: itself if it is a folder, else the folder of a
    checkpoint prefix (with or without `.index`) or file; None for a released model's name."""
    if not checkpoint:
        return None
    if os.path.isdir(checkpoint):
        return checkpoint
    prefix = checkpoint[: -len(".index")] if checkpoint.endswith(".index") else checkpoint
    if os.path.exists(prefix + ".index") or os.path.isfile(prefix):
        return os.path.dirname(prefix) or "."
    return None


def find(folder: str | None, names: tuple[str, ...]) -> str | None:
    """The first of `names` that is a file in `folder`."""
    for name in names if folder else ():
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    return None


def vocabulary(folder: str | None) -> tuple[str, str] | None:
    """(setting, path) of the vocabulary in `folder`: a SentencePiece model, else a vocab.txt."""
    for setting, names in VOCABULARY_FILES.items():
        path = find(folder, names)
        if path:
            return setting, path
    return None


def fill_in(v, log: Callable[[str], None]) -> None:
    """--albert_config_file and the vocabulary (where the task has one) from --init_checkpoint's
    folder, else from --output_dir (a run continued or exported there), when they are not given."""
    folder = folder_of(v.init_checkpoint)
    if folder is None and find(v.output_dir, CONFIG_FILES):
        folder = v.output_dir
    taken = {}
    config = find(folder, CONFIG_FILES)
    if config and not v.albert_config_file and not getattr(v, "model_size", None):
        taken["albert_config_file"] = config
        if os.path.basename(config) == "bert_config.json" and not v.given("model_type"):
            v.model_type = "bert"
    found = vocabulary(folder)
    if found and hasattr(v, "spm_model_file") and not (v.spm_model_file or v.vocab_file):
        taken[found[0]] = found[1]
    for name, path in taken.items():
        setattr(v, name, path)
    if taken:
        log(f"from {folder}: " + " ".join(f"--{name}={path}" for name, path in taken.items()))


def save(v, config, log: Callable[[str], None]) -> None:
    """Writes the run's config and copies its vocabulary (if it has one) into --output_dir. Where
    the folder already holds checkpoints, its files describe them and are kept (said if they
    differ from this run's)."""
    name = "albert_config.json" if config.model_type == "albert" else "bert_config.json"
    path, given = os.path.join(v.output_dir, name), v.albert_config_file
    if not (os.path.isfile(given) and os.path.exists(path) and os.path.samefile(given, path)):
        staged = files.temporary_path(path)
        config.to_json_file(staged)
        _replace(staged, path, v.output_dir, log)
    for setting, names in VOCABULARY_FILES.items():
        source = getattr(v, setting, None)
        if source and os.path.isfile(source):
            target = os.path.join(v.output_dir, names[0])
            if not (os.path.exists(target) and os.path.samefile(source, target)):
                staged = files.temporary_path(target)
                files.copy_file(source, staged)
                _replace(staged, target, v.output_dir, log)
            return


def _replace(staged: str, path: str, folder: str, log: Callable[[str], None]) -> None:
    """`staged` becomes `path`, unless `path` differs and describes checkpoints already in `folder`."""
    if os.path.exists(path) and latest(folder) and not filecmp.cmp(staged, path, shallow=False):
        os.remove(staged)
        log(f"kept {path}: it describes the checkpoints already in {folder} (this run's differs)")
        return
    os.replace(staged, path)
