"""Flags shared by run_pretraining.py, run_classifier.py and run_squad_v1.py (one home for each),
and their translation into library values. Each script passes its own defaults (Google's for
that script)."""

from __future__ import annotations

import dataclasses
import os
import sys

from absl import flags

from albert import checkpoints, precision
from albert.configs import VARIANTS, BertConfig, ConfigError, get_config
from albert.optimization import OPTIMIZERS
from albert.pretrained import DownloadError
from albert.tokenization import create_tokenizer
from albert.training import TrainingError

FLAGS = flags.FLAGS


def define_common_flags(*, optimizer: str, learning_rate: float, save_checkpoints_steps: int) -> None:
    flags.DEFINE_string("output_dir", None, "Checkpoints, summaries and results are written here.")
    flags.DEFINE_string(
        "albert_config_file",
        None,
        "Google's albert_config.json / bert_config.json, Hugging Face's config.json, or a variant name "
        "such as albert_base_v2 or tiny.",
    )
    flags.DEFINE_enum("model_type", "albert", ["albert", "bert"], "Architecture of --albert_config_file.")
    flags.DEFINE_string(
        "init_checkpoint",
        None,
        "Start from this checkpoint: a prefix, a directory (its newest), or a released model's name "
        "(albert_base_v2, …; downloaded once).",
    )
    flags.DEFINE_bool("do_train", True, "Train.")
    flags.DEFINE_bool("do_eval", False, "Evaluate.")
    flags.DEFINE_enum("optimizer", optimizer, list(OPTIMIZERS), "Optimizer.")
    flags.DEFINE_float("learning_rate", learning_rate, "Peak learning rate.")
    flags.DEFINE_float("poly_power", 1.0, "Power of the polynomial learning-rate decay.")
    flags.DEFINE_float("adam_epsilon", 1e-6, "Adam's epsilon (Google's 1e-6; PyTorch's AdamW uses 1e-8).")
    flags.DEFINE_bool(
        "decay_after_warmup",
        False,
        "Decay the learning rate from the end of warmup (NVIDIA's schedule), not from step 0 (Google's).",
    )
    flags.DEFINE_bool(
        "adam_bias_correction",
        False,
        "Adam's bias correction of m and v (as PyTorch's AdamW and NVIDIA's LAMB); Google's optimizers have none.",
    )
    flags.DEFINE_integer("save_checkpoints_steps", save_checkpoints_steps, "Steps between checkpoints.")
    flags.DEFINE_integer("keep_checkpoint_max", 5, "Checkpoints to keep.")
    flags.DEFINE_integer("random_seed", 12345, "Seed of weights initialisation, data order and dropout.")
    flags.DEFINE_alias("seed", "random_seed")
    flags.DEFINE_enum("data_type", "fp32", list(precision.PRECISIONS), "Numeric precision.")
    flags.DEFINE_integer("gradient_accumulation_steps", 1, "Micro-batches per optimizer step.")
    flags.DEFINE_bool("xla", False, "Compile the training step with XLA.")
    flags.DEFINE_integer("log_steps", 100, "Steps between log lines and summaries.")
    flags.DEFINE_bool("use_horovod", False, "Train across Horovod workers.")
    flags.DEFINE_bool("deterministic", False, "Deterministic TensorFlow ops (bit-identical reruns; slower).")


def define_tokenizer_flags() -> None:
    flags.DEFINE_string("spm_model_file", None, "ALBERT's SentencePiece model (e.g. 30k-clean.model).")
    flags.DEFINE_string("vocab_file", None, "BERT's vocab.txt (when there is no --spm_model_file).")
    flags.DEFINE_bool("do_lower_case", True, "Lower-case the text (True for every released ALBERT and uncased BERT).")


def tokenizer_from_flags():
    return create_tokenizer(FLAGS.spm_model_file, FLAGS.vocab_file, FLAGS.do_lower_case)


def define_fine_tuning_flags(
    *, max_seq_length: int, num_train_epochs: float | None = None, warmup_proportion: float | None = None
) -> None:
    """The flags run_classifier.py and run_squad_v1.py share (Google's names)."""
    define_tokenizer_flags()
    flags.DEFINE_integer("max_seq_length", max_seq_length, "Tokens per sequence after packing, at most.")
    flags.DEFINE_integer("train_batch_size", 32, "Sequences per optimizer step (all micro-batches).")
    flags.DEFINE_integer("predict_batch_size", 8, "Sequences per prediction batch.")
    flags.DEFINE_bool("do_predict", False, "Predict the test set.")
    flags.DEFINE_float("num_train_epochs", num_train_epochs, "Epochs to train (steps = examples × epochs / batch).")
    flags.DEFINE_float("warmup_proportion", warmup_proportion, "Warmup steps as a fraction of the training steps.")
    flags.DEFINE_float("weight_decay_rate", 0.01, "Decoupled weight decay of AdamW / LAMB.")
    flags.DEFINE_string("cache_dir", None, "Where tokenized features are cached (default <output_dir>/features).")
    flags.DEFINE_string("export_dir", None, "Also export the final (best) model here as a SavedModel.")


def check_exclusive(*names: str) -> None:
    """At most one of the flags may be given on the command line."""
    given = [f"--{name}" for name in names if FLAGS[name].present]
    if len(given) > 1:
        raise ValueError(f"{' and '.join(given)} both set the same thing; give one")


def model_config(max_seq_length: int) -> BertConfig:
    """The model config named by --albert_config_file / --model_type, checked against
    --max_seq_length."""
    source = FLAGS.albert_config_file
    if not source:
        raise ConfigError("--albert_config_file", "not given; pass a config json or a variant name")
    if not os.path.exists(source) and source in VARIANTS:
        config = get_config(source)
    else:
        config = checkpoints.load_model_config(source, FLAGS.model_type)
    if config.max_position_embeddings < max_seq_length:
        raise ConfigError(
            source,
            f"max_position_embeddings {config.max_position_embeddings} is below --max_seq_length "
            f"{max_seq_length}; lower --max_seq_length",
        )
    return config


def settings_from_flags(settings_class):
    """A settings dataclass filled from the flags of the same names."""
    return settings_class(**{field.name: FLAGS[field.name].value for field in dataclasses.fields(settings_class)})


def check_batch(batch_size: int, flag: str) -> None:
    steps = FLAGS.gradient_accumulation_steps
    if steps < 1 or batch_size % steps:
        raise ValueError(
            f"{flag} {batch_size} is not divisible by --gradient_accumulation_steps {steps}; "
            "the batch is split into that many equal micro-batches"
        )


# The project's errors with a one-line message: bad configs, inputs, tokenizers and checkpoints
# are ValueErrors; a training run that cannot go on, a failed download.
ERRORS = (ValueError, TrainingError, DownloadError)


def report_errors(script: str, main, errors: tuple[type[BaseException], ...] = ERRORS):
    """`main` with the given errors printed as one line on stderr (exit status 1)."""

    def wrapped(argv):
        try:
            return main(argv)
        except errors as err:
            print(f"{script}: error: {err}", file=sys.stderr)
            return 1

    return wrapped
