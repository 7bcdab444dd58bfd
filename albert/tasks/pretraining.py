"""Pretraining: masked LM + sentence order on TFRecords from data_preprocessing/create_training_data.py
(or Google's create_pretraining_data.py).

    python run_pretraining.py --input_file='data/train.tfrecord-*' --output_dir=out/pretrain \\
        --albert_config_file=albert_config.json --train_batch_size=512 --max_seq_length=128 \\
        --max_predictions_per_seq=20 --num_train_steps=125000 --num_warmup_steps=3125 \\
        --learning_rate=0.00176 --data_type=bf16 --do_eval

Running the same command again in the same --output_dir resumes from the newest checkpoint.
Across workers (e.g. `mpirun -np 8 python run_pretraining.py --use_horovod ...`, or
--distribution=tf with TF_CONFIG), --train_batch_size stays the global batch: each worker reads
its share of it from its shard of the files, and only worker 0 writes and evaluates.
Phase 2 (sequence 512) starts a new --output_dir with --init_checkpoint=<phase 1 output_dir>:
the weights carry over, the optimizer and its schedule start afresh. With
--gradient_accumulation_steps=N the batch is split into N micro-batches.
"""

from __future__ import annotations

import math
import os

import keras
import tensorflow as tf

from albert import losses, model_folder, modeling, precision, samples, training
from albert.data.documents import InputError, expand_input_patterns
from albert.data.pretraining import check_pretraining_records, check_token_ids, make_pretraining_dataset
from albert.run import run_task
from albert.run_summary import task_command
from albert.settings import Setting, group, with_defaults
from albert.tasks import fast_squad
from albert.tasks.base import SHARED, Task

USAGE = __doc__  # the module's: the class body's __doc__ is the class's own


def demo_learning_rate(global_batch: int) -> float:
    """Google's LAMB rate for batch 4096 (0.00176, ALBERT's paper and run_pretraining.py),
    scaled by sqrt(batch / 4096) for other batches (the square-root rule of the LAMB paper)."""
    return 0.00176 * math.sqrt(global_batch / 4096)


class PretrainingTask(Task):
    """Masked LM + sentence-order prediction (Google's run_pretraining.py)."""

    name = "pretraining"
    script = "run_pretraining.py"
    description = USAGE
    settings = (
        *with_defaults(
            SHARED,
            optimizer="lamb",
            learning_rate=0.00176,
            num_train_steps=125000,
            num_warmup_steps=3125,
            train_batch_size=4096,
            save_checkpoints_steps=5000,
        ),
        *group(
            "Pretraining",
            Setting("input_file", str, None, "Training TFRecords: comma-separated glob patterns."),
            Setting("eval_file", str, None, "Evaluation TFRecords (default: --input_file, as Google's script)."),
            Setting("max_seq_length", int, 512, "Sequence length of the records.", positive=True),
            Setting("max_predictions_per_seq", int, 20, "Masked positions per sequence in the records."),
            Setting("eval_batch_size", int, 64, "Sequences per evaluation batch.", positive=True),
            Setting("max_eval_steps", int, 100, "Evaluation batches."),
            Setting("skip_mlm", bool, False, "Leave the masked-LM loss out of the loss (it is still reported)."),
            Setting("skip_sop", bool, False, "Leave the sentence-order loss out of the loss (it is still reported)."),
        ),
        *fast_squad.SETTINGS,
    )
    reads_text = False  # records; the vocabulary settings are for SQuAD during pretraining
    logged = ("masked_lm_loss", "masked_lm_accuracy", "sentence_order_loss", "sentence_order_accuracy")
    denominators = staticmethod(losses.pretraining_denominators)
    # The demo's test sets: the sample text learnt by heart, and Habana's two BooksWiki phases.
    demo = {
        "overfit": {"max_seq_length": "128", "num_train_steps": "200", "num_warmup_steps": "10"},
        "bookswiki": {"max_seq_length": "128,512", "num_train_steps": "7038,782", "num_warmup_steps": "2000,200"},
    }
    # The tiny model learns the sample by heart with AdamW at 2e-3 (LAMB's trust ratio is tiny
    # on a fresh small model).
    demo_tiny = {
        "overfit": {
            "max_seq_length": "64",
            "num_train_steps": "500",
            "num_warmup_steps": "50",
            "learning_rate": 2e-3,
            "optimizer": "adamw",
        }
    }

    def check(self) -> None:
        v = self.values
        if (v.do_train or not v.eval_file) and not v.input_file:
            raise InputError(
                "--input_file (or --train_dir) is required: training records, or the evaluation records "
                "without --eval_file"
            )
        if v.skip_mlm and v.skip_sop:
            raise ValueError("--skip_mlm and --skip_sop leave no loss to train; give at most one")
        for name in ("spm_model_file", "vocab_file"):  # copied into the folder for what starts from it
            path = getattr(v, name)
            if path and not os.path.isfile(path):
                raise InputError(f"--{name}={path}: no such file; give the vocabulary the records were made with")
        fast_squad.check(v)

    def evaluates_during_training(self) -> bool:
        return self.values.validation_frequency > 0

    def training_hooks(self, model, log):
        return [fast_squad.hook(self.values, model, log)] if self.values.squad_frequency > 0 else []

    def read_inputs(self, tokenizer=None) -> None:
        v = self.values
        self.train_files = expand_input_patterns(v.input_file) if v.do_train else []
        evaluates = v.do_eval or v.validation_frequency > 0
        self.eval_files = expand_input_patterns(v.eval_file or v.input_file) if evaluates else []
        if v.squad_frequency > 0:
            fast_squad.read_inputs(v)
        check_pretraining_records(self.training_files(), v.max_seq_length, v.max_predictions_per_seq)

    input_settings = ("max_predictions_per_seq",)

    def resume_settings(self) -> dict:
        return {**super().resume_settings(), "input_file": [os.path.basename(path) for path in self.train_files]}

    def training_files(self) -> list[str]:
        return sorted(set(self.train_files + self.eval_files))

    def check_model(self, config) -> None:
        check_token_ids(self.training_files(), config.vocab_size)

    def create_model(self, config) -> keras.Model:
        v = self.values
        return modeling.create_pretraining_model(
            config, v.max_predictions_per_seq, dtype=precision.dtype_policy(v.data_type)
        )

    def train_dataset(self, workers, worker_batch: int) -> tf.data.Dataset:
        """Each worker reads its shard of the files (of the records when there are fewer files
        than workers)."""
        v = self.values
        return make_pretraining_dataset(
            list(self.train_files),
            worker_batch,
            v.max_seq_length,
            v.max_predictions_per_seq,
            seed=v.random_seed,
            num_workers=workers.size,
            worker_index=workers.rank,
        )

    def loss(self, outputs, batch, denominators):
        v = self.values
        return losses.pretraining_loss(outputs, batch, denominators, mlm=not v.skip_mlm, sop=not v.skip_sop)

    def evaluate(self, model: keras.Model) -> dict[str, float]:
        """Google's pretraining eval metrics over `max_eval_steps` batches of the records."""
        v = self.values
        dataset = make_pretraining_dataset(
            list(self.eval_files), v.eval_batch_size, v.max_seq_length, v.max_predictions_per_seq, is_training=False
        )
        sums = training.evaluate(model, losses.pretraining_metric_sums, dataset, v.max_eval_steps)
        return losses.pretraining_metrics_from_sums(sums)

    def next_commands(self) -> list[str]:
        """Fine-tuning from this folder alone (its config and vocabulary are in it): on the
        package's MRPC sample here; --data_dir=<GLUE's MRPC folder> for real results."""
        v = self.values
        output_dir = f"{v.output_dir.rstrip(os.sep)}_mrpc"
        values = {"task_name": "MRPC", "data_dir": samples.MRPC, "init_checkpoint": v.output_dir,
                  "output_dir": output_dir, "max_seq_length": 128, "do_eval": True}  # fmt: skip
        if not model_folder.vocabulary(v.output_dir):  # none was given: the fine-tuning needs one
            values["spm_model_file"] = "<the vocabulary the records were made with>"
        return [task_command("run_classifier.py", "classifier", values)]


def main(argv: list[str] | None = None) -> int:
    return run_task(PretrainingTask, argv)


if __name__ == "__main__":
    raise SystemExit(main())
