"""Flags shared by run_pretraining.py, run_classifier.py and run_squad_v1.py (one home for each),
and their translation into library values. Each script passes its own defaults (Google's for
that script)."""

from __future__ import annotations

import dataclasses
import os
import sys

from absl import flags

from albert import precision
from albert.configs import VARIANTS, BertConfig, ConfigError, get_config, load_config
from albert.optimization import OPTIMIZERS

FLAGS = flags.FLAGS


def define_common_flags(*, optimizer: str, learning_rate: float, save_checkpoints_steps: int) -> None:
    flags.DEFINE_string("output_dir", None, "Checkpoints, summaries and results are written here.")
    flags.DEFINE_string(
        "albert_config_file",
        None,
        "Google's albert_config.json / bert_config.json, or a variant name such as albert_base_v2 or tiny.",
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
    flags.DEFINE_integer("save_checkpoints_steps", save_checkpoints_steps, "Steps between checkpoints.")
    flags.DEFINE_integer("keep_checkpoint_max", 5, "Checkpoints to keep.")
    flags.DEFINE_integer("random_seed", 12345, "Seed of weights initialisation, data order and dropout.")
    flags.DEFINE_enum("data_type", "fp32", list(precision.PRECISIONS), "Numeric precision.")
    flags.DEFINE_integer("gradient_accumulation_steps", 1, "Micro-batches per optimizer step.")
    flags.DEFINE_bool("xla", False, "Compile the training step with XLA.")
    flags.DEFINE_integer("log_steps", 100, "Steps between log lines and summaries.")
    flags.DEFINE_bool("use_horovod", False, "Train across Horovod workers.")
    flags.DEFINE_bool("deterministic", False, "Deterministic TensorFlow ops (bit-identical reruns; slower).")


def model_config(max_seq_length: int) -> BertConfig:
    """The model config named by --albert_config_file / --model_type, checked against
    --max_seq_length."""
    source = FLAGS.albert_config_file
    if not source:
        raise ConfigError("--albert_config_file", "not given; pass a config json or a variant name")
    if not os.path.exists(source) and source in VARIANTS:
        config = get_config(source)
    else:
        config = load_config(source, FLAGS.model_type)
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


def report_errors(script: str, main, errors: tuple[type[BaseException], ...]):
    """`main` with the given errors printed as one line on stderr (exit status 1)."""

    def wrapped(argv):
        try:
            return main(argv)
        except errors as err:
            print(f"{script}: error: {err}", file=sys.stderr)
            return 1

    return wrapped
