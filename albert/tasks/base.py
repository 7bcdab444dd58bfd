"""What every task is: the settings all scripts share, and the `Task` interface that the
training loop and `albert.run.run_task` call.

A task is one kind of job (pretraining, GLUE classification, SQuAD). It owns its settings
table, its model, its data, its loss, its evaluation and its predictions; the loop
(`albert.training`) calls it and it never reaches into the loop.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, ClassVar

import keras
import tensorflow as tf

from albert import devices, distribute, precision
from albert.aws.flags import AWS
from albert.checkpoints.recovery import latest
from albert.optimization import OPTIMIZERS
from albert.run_summary import command, task_command
from albert.settings import Setting, Values, defaults, group

# ----------------------------------------------------------------------------------------------
# Settings every script has. Other spellings: Google's BERT (bert_config_file), Google's ALBERT
# run_classifier.py (train_step, warmup_step), Habana's demo and run_squad_v1.py (train_steps,
# warmup_steps, save_summary_steps), AWS's scripts (total_steps, warmup_steps, weight_decay,
# epsilon, learning_rate_decay_power, log_frequency, checkpoint_frequency, evaluate_frequency,
# seed). AWS's settings that mean something else than a spelling are in `albert.aws.flags`.
# ----------------------------------------------------------------------------------------------

MODEL = group(
    "Model and checkpoints",
    Setting(
        "output_dir",
        str,
        None,
        "Checkpoints, summaries and results are written here. Required (or AWS's --run_name).",
    ),
    Setting(
        "albert_config_file",
        str,
        None,
        "Google's albert_config.json / bert_config.json, Hugging Face's config.json, or a variant "
        "name such as albert_base_v2 or tiny. Required (or --model_size).",
        aliases=("bert_config_file",),
    ),
    Setting("model_type", str, "albert", "Architecture of --albert_config_file.", choices=("albert", "bert")),
    Setting(
        "init_checkpoint",
        str,
        None,
        "Start from this checkpoint: a prefix, a directory (its newest), a "
        "Hugging Face folder or a released model's name (albert_base_v2, ...; downloaded once).",
    ),
    Setting("hidden_dropout_prob", float, None, "Dropout of the hidden states (default: the config's)."),
    Setting("attention_probs_dropout_prob", float, None, "Dropout of the attention weights (default: the config's)."),
    Setting("do_train", bool, True, "Train."),
    Setting("do_eval", bool, False, "Evaluate."),
)

SCHEDULE = group(
    "Schedule and optimizer",
    Setting(
        "num_train_steps", int, None, "Optimizer steps to train.", aliases=("train_steps", "train_step", "total_steps")
    ),
    Setting("num_warmup_steps", int, None, "Linear warmup steps.", aliases=("warmup_steps", "warmup_step")),
    Setting(
        "warmup_proportion",
        float,
        None,
        "Warmup steps as a fraction of the training steps (instead of --num_warmup_steps).",
    ),
    Setting(
        "train_batch_size", int, 32, "Sequences per optimizer step, over all workers and micro-batches.", positive=True
    ),
    Setting("optimizer", str, "adamw", "Optimizer.", choices=tuple(OPTIMIZERS)),
    Setting("learning_rate", float, 5e-5, "Peak learning rate.", positive=True),
    Setting("end_learning_rate", float, 0.0, "Learning rate at the last step."),
    Setting(
        "poly_power", float, 1.0, "Power of the polynomial learning-rate decay.", aliases=("learning_rate_decay_power",)
    ),
    Setting(
        "decay_after_warmup",
        bool,
        False,
        "Decay the learning rate from the end of warmup (NVIDIA's schedule), not from step 0 (Google's).",
    ),
    Setting("weight_decay_rate", float, 0.01, "Decoupled weight decay of AdamW / LAMB.", aliases=("weight_decay",)),
    Setting(
        "adam_epsilon", float, 1e-6, "Adam's epsilon (Google's 1e-6; PyTorch's AdamW uses 1e-8).", aliases=("epsilon",)
    ),
    Setting("beta_1", float, 0.9, "Adam's decay of the first moment."),
    Setting("beta_2", float, 0.999, "Adam's decay of the second moment."),
    Setting("max_grad_norm", float, 1.0, "Clip the gradients to this global norm (0: no clipping)."),
    Setting(
        "adam_bias_correction",
        bool,
        False,
        "Adam's bias correction of m and v (as PyTorch's AdamW and NVIDIA's LAMB); Google's optimizers have none.",
    ),
    Setting("gradient_accumulation_steps", int, 1, "Micro-batches per optimizer step (the batch is split)."),
    Setting(
        "learning_rate_scaling",
        str,
        "none",
        "Multiply --learning_rate by the number of replicas (linear) or its square root (sqrt).",
        choices=distribute.LEARNING_RATE_SCALING,
    ),
)

LOOP = group(
    "Checkpoints, logs and reruns",
    Setting("save_checkpoints_steps", int, 1000, "Steps between checkpoints.", aliases=("checkpoint_frequency",)),
    Setting("save_checkpoints_secs", int, 0, "Also save when this many seconds passed since the last save."),
    Setting("keep_checkpoint_max", int, 5, "Checkpoints to keep."),
    Setting(
        "log_steps",
        int,
        100,
        "Steps between log lines and TensorBoard summaries.",
        aliases=("log_frequency", "save_summary_steps"),
    ),
    Setting(
        "validation_frequency",
        int,
        0,
        "Steps between evaluations during training: pretraining on --eval_file / --val_dir, fine-tuning "
        "with --do_eval (0: fine-tuning at each checkpoint, pretraining not).",
        aliases=("evaluate_frequency",),
    ),
    Setting("summary_dir", str, None, "TensorBoard summaries' folder (default <output_dir>/train)."),
    Setting("random_seed", int, 12345, "Seed of weights initialisation, data order and dropout.", aliases=("seed",)),
    Setting("deterministic", bool, False, "Deterministic TensorFlow ops (bit-identical reruns; slower)."),
    Setting("verbose", bool, False, "Show TensorFlow's start-up lines (also ALBERT_VERBOSE=1)."),
)

DEVICES = group(
    "Precision, devices and workers",
    Setting("data_type", str, "fp32", "Numeric precision.", choices=tuple(precision.PRECISIONS)),
    Setting("xla", bool, False, "Compile the training step with XLA."),
    Setting("use_horovod", bool, False, "Train across Horovod workers (the same as --distribution horovod)."),
    Setting(
        "distribution",
        str,
        None,
        "How workers train together: single, horovod (under mpirun / "
        "horovodrun) or tf (tf.distribute: TF_CONFIG's workers, else the local GPUs).",
        choices=distribute.ENGINES,
    ),
    Setting("device", str, None, "Device to train on (default: a GPU if there is one).", choices=devices.DEVICES),
    Setting("intra_op_threads", int, 0, "TensorFlow's threads per operation (0: all cores)."),
    Setting("inter_op_threads", int, 0, "TensorFlow's operations run at once (0: as many as cores)."),
)

SHARED = (*MODEL, *SCHEDULE, *LOOP, *DEVICES, *AWS)

# What the fine-tuning scripts share besides (Google's run_classifier.py / run_squad_v1.py names).
FINE_TUNING = group(
    "Fine-tuning",
    Setting("spm_model_file", str, None, "ALBERT's SentencePiece model (e.g. 30k-clean.model)."),
    Setting("vocab_file", str, None, "BERT's vocab.txt (when there is no --spm_model_file)."),
    Setting("do_lower_case", bool, True, "Lower-case the text (True for every released ALBERT and uncased BERT)."),
    Setting("max_seq_length", int, 512, "Tokens per sequence after packing, at most.", positive=True),
    Setting(
        "num_train_epochs",
        float,
        None,
        "Epochs to train (steps = examples x epochs / batch), instead of --num_train_steps.",
    ),
    Setting("predict_batch_size", int, 8, "Sequences per prediction batch.", positive=True),
    Setting("do_predict", bool, False, "Predict the test set."),
    Setting("cache_dir", str, None, "Where tokenized features are cached (default <output_dir>/features)."),
    Setting("export_dir", str, None, "Also export the final (best) model here as a SavedModel."),
    Setting(
        "max_train_examples",
        int,
        0,
        "Train on the first N examples (SQuAD: questions) only, for a quick run (0: all).",
        aliases=("max_train_samples",),
    ),
    Setting(
        "max_eval_examples",
        int,
        0,
        "Evaluate and predict the first N examples only, scored on those alone (0: all).",
        aliases=("max_eval_samples",),
    ),
)


class Task:
    """One kind of job. Subclasses set the class attributes and implement the methods.

    `settings` is the task's whole table (shared settings with the task's defaults, then its
    own); `logged` the training metrics its loss reports, logged and summarised besides the
    loop's own (loss, learning rate, gradient norm); `main_metric` the evaluation result by
    which the best checkpoint is kept (higher is better; None: no best checkpoint).
    """

    name: ClassVar[str]
    script: ClassVar[str]  # the entry point users type, e.g. run_pretraining.py
    description: ClassVar[str]
    settings: ClassVar[tuple[Setting, ...]]
    logged: ClassVar[tuple[str, ...]] = ()
    main_metric: ClassVar[str | None] = None
    # The launcher's settings for each of the demo's test sets this task runs (a value with
    # commas gives one per phase), and those the tiny model replaces.
    demo: ClassVar[dict[str, dict[str, Any]]] = {}
    demo_tiny: ClassVar[dict[str, dict[str, Any]]] = {}
    # Whether the task reads text (needs a tokenizer) rather than records.
    reads_text: ClassVar[bool] = True
    # Whether --num_train_steps given with --num_train_epochs wins (else both are refused).
    steps_over_epochs: ClassVar[bool] = False

    def __init__(self, values: Values):
        self.values = values

    @classmethod
    def from_settings(cls, **overrides: Any) -> Task:
        """The task with its defaults and `overrides` (for library use and tests)."""
        return cls(defaults(cls.settings, **overrides))

    # -- before anything is built -----------------------------------------------------------------
    def check(self) -> None:
        """Raises for settings that contradict each other."""

    def read_inputs(self, tokenizer) -> None:
        """Reads every input the run needs, so that a bad file stops it before any training."""

    def check_model(self, config) -> None:
        """Raises when the inputs read do not fit the model `config` describes."""

    def check_schedule(self) -> None:
        """Refuses two settings of the training length, or of the warmup, on one command line."""
        v = self.values
        steps_given = v.given("num_train_steps") and (v.num_train_steps or 0) > 0
        if steps_given and v.given("num_train_epochs") and not self.steps_over_epochs:
            raise ValueError(
                f"{v.flag('num_train_steps')} and --num_train_epochs both set the training length; give one"
            )
        if v.given("num_warmup_steps") and v.given("warmup_proportion"):
            raise ValueError(f"{v.flag('num_warmup_steps')} and --warmup_proportion both set the warmup; give one")
        if v.validation_frequency > 0 and not self.evaluates_during_training():
            raise ValueError(f"{v.flag('validation_frequency')} needs --do_eval (and the file it scores)")

    def schedule(self) -> tuple[int, int]:
        """(training steps, warmup steps). Steps are --num_train_steps when given (a value <= 0:
        not given, as Habana's --train_steps=-1), else examples x --num_train_epochs / batch (as
        Google's BERT computes them) when the task has epochs, else the default steps. Warmup is
        --num_warmup_steps when given, else --warmup_proportion of the steps when set."""
        v = self.values
        steps = v.num_train_steps
        epochs = getattr(v, "num_train_epochs", None)
        if epochs is not None and not (v.given("num_train_steps") and (steps or 0) > 0):
            examples = self.num_train_examples()
            steps = int(examples * epochs / v.train_batch_size)
            if steps < 1:
                raise ValueError(f"{examples} examples make no training step of {v.train_batch_size}; train longer")
        if steps is None or steps < 1:
            raise ValueError(f"--num_train_steps must be at least 1, got {steps}")
        if v.warmup_proportion is not None and not v.given("num_warmup_steps"):
            return steps, int(steps * v.warmup_proportion)
        return steps, v.num_warmup_steps or 0

    # -- training -------------------------------------------------------------------------------
    def create_model(self, config) -> keras.Model:
        raise NotImplementedError

    def training_files(self) -> list[str]:
        """The record files the run reads as it trains (searched when one is damaged)."""
        return []

    def num_train_examples(self) -> int | None:
        """Examples (or features) per epoch, for --num_train_epochs; None where unknown."""
        return None

    def train_dataset(self, workers: distribute.Workers, worker_batch: int) -> tf.data.Dataset:
        raise NotImplementedError

    # The settings naming the training input, for `resume_settings`.
    input_settings: ClassVar[tuple[str, ...]] = ()

    def resume_settings(self) -> dict[str, Any]:
        """What a resumed run must share with the run it continues so that its input position
        means the same batches: the input (files by name, wherever they are now), the batch,
        the sequence length and the seed."""
        v = self.values
        names = ("train_batch_size", "max_seq_length", "random_seed", *self.input_settings)
        return {name: _file_names(getattr(v, name)) for name in names}

    def shard(self, workers: distribute.Workers) -> dict[str, Any]:
        """What the fine-tuning readers (`glue.make_dataset`, `squad.make_dataset`) take to make
        this worker's training batches: shuffled by the seed, padded to their longest (to the
        sequence length under XLA), one shard per worker."""
        v = self.values
        return dict(is_training=True, seed=v.random_seed, max_seq_length=v.max_seq_length, fixed_shapes=v.xla,
                    num_workers=workers.size, worker_index=workers.rank)  # fmt: skip

    def loss(self, outputs: dict, batch: dict, *denominators) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        raise NotImplementedError

    # With `denominators`, micro-batches' losses are summed against denominators of the whole
    # batch (see `training.make_train_step`); without, they are averaged.
    denominators: ClassVar[Callable[[dict], dict] | None] = None

    # -- evaluation and predictions -------------------------------------------------------------
    def training_hooks(self, model: keras.Model, log: Callable[[str], None]) -> list[tuple[int, Callable]]:
        """The task's own callbacks of the chief during training, as (every how many steps,
        fn(step)) (see `training.train`)."""
        return []

    def evaluates_during_training(self) -> bool:
        """Whether the model is evaluated during training (every --validation_frequency steps,
        else at every checkpoint), keeping the best by `main_metric`."""
        return False

    def evaluate(self, model: keras.Model) -> dict[str, float]:
        """Evaluation results of the model as it is."""
        raise NotImplementedError

    def evaluation_results(self, model: keras.Model, output_dir: str, trained: bool, step: int) -> dict:
        """What eval_results.txt holds after the run: by default `evaluate` of the model as
        restored (from checkpoint step `step`)."""
        return {**self.evaluate(model), "global_step": step}

    def input_files(self) -> list[str]:
        """The files this run reads: every setting naming an existing file, and the training files."""
        v = self.values
        named = [getattr(v, s.name) for s in self.settings if s.type is str]
        return [*(path for path in named if path and os.path.isfile(path)), *self.training_files()]

    def output_files(self) -> list[str]:
        """The files this run writes in its output folder besides checkpoints."""
        v = self.values
        return [os.path.join(v.output_dir, "eval_results.txt")] if v.do_eval else []

    def predict(self, model: keras.Model) -> tuple[list[str], dict | None]:
        """Writes the task's prediction files; returns their paths and, when the inputs have
        answers, the scores the predictions earn."""
        return [], None

    # -- after the run --------------------------------------------------------------------------
    def next_commands(self) -> list[str]:
        """The commands that naturally follow this run (its summary shows them)."""
        return []

    def export_commands(self, data: dict, example: dict) -> list[str]:
        """A fine-tuning's next commands: its export as a SavedModel (from its folder alone), or,
        once exported, a prediction on raw text (`example`: the predictor's text flags)."""
        v = self.values
        if v.export_dir:
            return [command("-m albert.predict", {"saved_model": v.export_dir, **example})]
        export = os.path.join(v.output_dir, "saved_model")
        values = {**data, "output_dir": v.output_dir, "max_seq_length": v.max_seq_length}
        if v.init_checkpoint and not latest(v.output_dir):  # evaluated only: the weights are elsewhere
            values["init_checkpoint"] = v.init_checkpoint
        if not v.do_lower_case:
            values["do_lower_case"] = "false"
        return [task_command(self.script, self.name, {**values, "do_train": "false", "export_dir": export})]


def _file_names(value):
    """A path's file name (a list's, each); other values as they are."""
    if isinstance(value, (list, tuple)):
        return [_file_names(item) for item in value]
    return os.path.basename(os.path.abspath(value)) if isinstance(value, str) and os.path.exists(value) else value
