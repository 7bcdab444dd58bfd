"""SQuAD during pretraining (AWS's --squad_frequency): every N steps the chief fine-tunes a copy
of the encoder on SQuAD for a few steps and logs exact match and F1, a quick signal of what the
pretraining is worth downstream.

The copy is the model's weights written to <output_dir>/squad/step-<N>/ and read by a SQuAD task
of its own: the pretraining model, its optimizer, its input position and its dropout state are
not touched, so a run with it ends with the weights of a run without it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import keras

from albert import checkpoints, distribute
from albert.aws import flags as aws_flags
from albert.data.documents import InputError
from albert.samples import SQUAD
from albert.settings import Setting, Values, group

SETTINGS = group(
    "SQuAD during pretraining",
    Setting(
        "squad_frequency",
        int,
        0,
        "Every N steps, fine-tune a copy of the model on SQuAD for --squad_steps and log EM and F1 (0: never).",
        aliases=("squad_freq",),
    ),
    Setting(
        "squad_train_file",
        str,
        None,
        "SQuAD JSON to fine-tune on (default: <filesystem_prefix>/squad_data/"
        "train-v*.json with a file system, else the project's sample).",
    ),  # fmt: skip
    Setting(
        "squad_predict_file",
        str,
        None,
        "SQuAD JSON (with answers) to score (default: dev-v*.json beside it, or the sample's).",
    ),  # fmt: skip
    Setting(
        "squad_version",
        str,
        "squadv1",
        "The files' version: squadv1 (v1.1) or squadv2 (2.0).",
        choices=("squadv1", "squadv2"),
    ),  # fmt: skip
    Setting("squad_steps", int, 200, "Fine-tuning steps."),
    Setting("squad_batch_size", int, 16, "Fine-tuning batch."),
    Setting("squad_learning_rate", float, 5e-5, "Fine-tuning learning rate."),
    Setting("squad_max_seq_length", int, 384, "Fine-tuning sequence length."),
    Setting(
        "spm_model_file",
        str,
        None,
        "The SentencePiece model of the records' vocabulary: copied into --output_dir (fine-tuning "
        "needs it) and used for SQuAD.",
    ),
    Setting("vocab_file", str, None, "The vocab.txt of the records' vocabulary (BERT), as --spm_model_file."),
    Setting("do_lower_case", bool, True, "Lower-case SQuAD's text."),
)


def check(v: Values) -> None:
    """Settles the files (AWS's on the file system, else the project's sample) and refuses a
    run without the vocabulary."""
    if v.squad_frequency <= 0:
        return
    if not (v.spm_model_file or v.vocab_file):
        raise ValueError(f"{v.flag('squad_frequency')} needs the vocabulary: --spm_model_file or --vocab_file")
    train, dev = aws_flags.squad_files(v) or (os.path.join(SQUAD, "train.json"), os.path.join(SQUAD, "dev.json"))
    v.squad_train_file, v.squad_predict_file = v.squad_train_file or train, v.squad_predict_file or dev


def read_inputs(v: Values) -> None:
    """Checks the SQuAD settings and reads the files before any training, so that a bad one
    stops the run at once."""
    from albert.data import squad

    squad_task(v, os.path.join(v.output_dir, "squad"), None).check()
    version_2 = v.squad_version == "squadv2"
    squad.read_squad(v.squad_train_file, True, version_2)
    if not any(e.answers for e in squad.read_squad(v.squad_predict_file, False, version_2)[0]):
        raise InputError(f"{v.squad_predict_file}: no answers to score; --squad_predict_file needs answers")


def squad_task(v: Values, folder: str, weights: str | None):
    """The SQuAD task of a copy of the pretraining model whose weights are at `weights`."""
    from albert.tasks.squad import SquadTask

    length = min(v.squad_max_seq_length, v.max_seq_length)
    return SquadTask.from_settings(
        **{name: getattr(v, name) for name in _SHARED},
        output_dir=folder,
        init_checkpoint=weights,
        train_file=v.squad_train_file,
        predict_file=v.squad_predict_file,
        version_2_with_negative=v.squad_version == "squadv2",
        num_train_steps=v.squad_steps,
        train_batch_size=v.squad_batch_size,
        learning_rate=v.squad_learning_rate,
        max_seq_length=length,
        max_query_length=min(64, length // 2),
        doc_stride=min(128, length // 4),
        optimizer="adamw",
        save_checkpoints_steps=v.squad_steps,
        keep_checkpoint_max=1,
        log_steps=v.squad_steps,
        cache_dir=os.path.join(v.output_dir, "squad", "features"),  # tokenized once for every copy
        do_train=True,
        do_predict=True,  # scored once, at the end
    )


def hook(v: Values, model: keras.Model, log: Callable[[str], None]) -> tuple[int, Callable[[int], None]]:
    """The training hook (see `training.train`) that fine-tunes and scores a copy of `model`."""
    from albert.run import execute

    def fine_tune(step: int) -> None:
        started = time.perf_counter()
        folder = os.path.join(v.output_dir, "squad", f"step-{step}")
        weights = checkpoints.save_weights(model, os.path.join(folder, "pretrained"))
        _, results = execute(squad_task(v, folder, weights), distribute.Workers(), lambda line: None)
        exact = results.get("exact_match", results.get("exact"))  # v1.1's name, v2.0's
        log(
            f"squad at step {step}: exact_match {exact:.2f}  f1 {results['f1']:.2f}  "
            f"({v.squad_steps} steps, {time.perf_counter() - started:.0f} s, {folder})"
        )

    return v.squad_frequency, fine_tune


# What the SQuAD copy takes from the pretraining run as it is.
_SHARED = (
    "albert_config_file", "model_type", "hidden_dropout_prob", "attention_probs_dropout_prob", "spm_model_file",
    "vocab_file", "do_lower_case", "data_type", "random_seed",
)  # fmt: skip
