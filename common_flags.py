"""Flags shared by run_pretraining.py, run_classifier.py and run_squad_v1.py (one home for each),
and their translation into library values. Each script passes its own defaults (Google's for
that script)."""

from __future__ import annotations

import dataclasses
import os
import sys

from absl import flags

from albert import devices, distribute, precision
from albert.configs import VARIANTS, BertConfig, ConfigError, get_config, load_model_config
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
    flags.DEFINE_bool("use_horovod", False, "Train across Horovod workers (the same as --distribution horovod).")
    flags.DEFINE_enum(
        "distribution",
        None,
        list(distribute.ENGINES),
        "How workers train together: single, horovod (under mpirun/horovodrun) or tf (tf.distribute: "
        "TF_CONFIG's workers, else the local GPUs). --train_batch_size stays the global batch.",
    )
    flags.DEFINE_enum(
        "learning_rate_scaling",
        "none",
        list(distribute.LEARNING_RATE_SCALING),
        "Multiply --learning_rate by the number of replicas (linear) or its square root (sqrt).",
    )
    flags.DEFINE_enum("device", None, list(devices.DEVICES), "Device to train on (default: a GPU if there is one).")
    flags.DEFINE_integer("intra_op_threads", 0, "TensorFlow's threads per operation (0: all cores).")
    flags.DEFINE_integer("inter_op_threads", 0, "TensorFlow's operations run at once (0: as many as cores).")
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
        config = load_model_config(source, FLAGS.model_type)
    if config.max_position_embeddings < max_seq_length:
        raise ConfigError(
            source,
            f"max_position_embeddings {config.max_position_embeddings} is below --max_seq_length "
            f"{max_seq_length}; lower --max_seq_length",
        )
    return config


def workers_from_flags() -> distribute.Workers:
    """Sets up the device (--device) and starts this process's workers (--distribution or
    --use_horovod); call it before any other TensorFlow work."""
    engine = FLAGS.distribution or ("horovod" if FLAGS.use_horovod else "single")
    if FLAGS.use_horovod and engine != "horovod":
        raise ValueError(f"--use_horovod and --distribution {engine} disagree; give one")
    local_rank, local_size = distribute.local_placement()
    devices.setup(FLAGS.device, local_rank, local_size, FLAGS.intra_op_threads, FLAGS.inter_op_threads)
    return distribute.create_workers(engine)


def settings_from_flags(settings_class, workers: distribute.Workers | None = None):
    """A settings dataclass filled from the flags of the same names; the learning rate scaled
    for the workers as --learning_rate_scaling says."""
    settings = settings_class(**{field.name: FLAGS[field.name].value for field in dataclasses.fields(settings_class)})
    if workers is not None:
        settings.learning_rate = distribute.scaled_learning_rate(
            settings.learning_rate, workers.num_replicas, FLAGS.learning_rate_scaling
        )
    return settings


# The project's errors with a one-line message: bad configs, inputs, tokenizers and checkpoints
# are ValueErrors; a training run that cannot go on, a failed download, workers or a device that
# cannot start.
ERRORS = (ValueError, TrainingError, DownloadError, distribute.WorkerError, devices.DeviceError)


def report_errors(script: str, main, errors: tuple[type[BaseException], ...] = ERRORS):
    """`main` with the given errors printed as one line on stderr (exit status 1)."""

    def wrapped(argv):
        try:
            return main(argv)
        except errors as err:
            print(f"{script}: error: {err}", file=sys.stderr)
            return 1

    return wrapped
