"""Fine-tuning on a GLUE task: MRPC, CoLA, SST-2, STS-B, QQP, MNLI, MNLI-MM, QNLI, RTE or WNLI,
from GLUE's TSV files.

    python run_classifier.py --task_name=MRPC --data_dir=glue/MRPC --output_dir=out/mrpc \\
        --albert_config_file=albert_base_v2 --init_checkpoint=albert_base_v2 \\
        --spm_model_file=30k-clean.model --max_seq_length=128 --train_batch_size=32 \\
        --learning_rate=2e-5 --num_train_epochs=3 --warmup_proportion=0.1 \\
        --do_train --do_eval --do_predict --data_type=bf16

With --do_eval every checkpoint is evaluated on the dev set and the best kept in
<output_dir>/best/; eval_results.txt holds its results and --do_predict uses it. Predictions go
to <output_dir>/<task>.tsv in GLUE's submission format. Running the same command again resumes.
"""

from __future__ import annotations

import os
import weakref

import keras
import numpy as np
import tensorflow as tf

from albert import checkpoints, losses, modeling, precision, training
from albert.data import glue
from albert.run import run_task
from albert.settings import Setting, group, with_defaults
from albert.tasks.base import FINE_TUNING, SHARED, Task

USAGE = __doc__  # the module's: the class body's __doc__ is the class's own


class ClassifierTask(Task):
    """Sentence and sentence-pair classification (and STS-B's regression) on GLUE."""

    name = "classifier"
    script = "run_classifier.py"
    description = USAGE
    settings = (
        *with_defaults(SHARED, num_train_steps=1000, num_warmup_steps=0, load_optimizer_state=False),
        *FINE_TUNING,
        *group(
            "GLUE",
            Setting(
                "task_name",
                str,
                None,
                "GLUE task: " + ", ".join(t.name for t in glue.TASKS.values()) + ".",
                required=True,
            ),
            Setting("data_dir", str, None, "Folder of the task's train.tsv, dev.tsv and test.tsv.", required=True),
            Setting("eval_batch_size", int, 8, "Sequences per evaluation batch.", positive=True),
            Setting(
                "bucket_width",
                int,
                0,
                "0: random training batches (as Google's and Hugging Face's scripts); "
                "N: each batch from one length bucket N tokens wide (less padding, but batches that are not "
                "random).",
            ),
        ),
    )
    logged = ("accuracy",)
    demo = {
        "mrpc": {
            "max_seq_length": "128",
            "num_train_steps": "800",
            "num_warmup_steps": "200",
            "learning_rate": 2e-5,
            "optimizer": "adamw",
        }
    }
    demo_tiny = {
        "mrpc": {
            "max_seq_length": "128",
            "num_train_steps": "100",
            "num_warmup_steps": "10",
            "learning_rate": 1e-3,
            "optimizer": "adamw",
        }
    }

    def __init__(self, values):
        super().__init__(values)
        self.glue = glue.get_task(values.task_name)
        self.main_metric = self.glue.main_metric

    def check(self) -> None:
        v = self.values
        if not (v.do_train or v.do_eval or v.do_predict or v.export_dir):
            raise ValueError("nothing to do: pass --do_train, --do_eval, --do_predict or --export_dir")

    def read_inputs(self, tokenizer) -> None:
        v = self.values
        cache_dir = v.cache_dir or os.path.join(v.output_dir, "features")

        def features(split: str) -> glue.FeatureFile:
            limit = v.max_train_examples if split == "train" else v.max_eval_examples
            return glue.cached_features(
                self.glue, v.data_dir, split, tokenizer, v.max_seq_length, cache_dir, training.print_line, limit
            )

        self.train_features = features("train") if v.do_train else None
        self.eval_features = features("dev") if v.do_eval else None
        self.test_features = features("test") if v.do_predict else None

    input_settings = ("data_dir", "max_train_examples")

    def resume_settings(self) -> dict:
        return {**super().resume_settings(), "task_name": self.glue.name}

    def create_model(self, config) -> keras.Model:
        # Training batches are padded to their longest pair: the encoder skips the padding, except
        # under XLA, which needs shapes that do not depend on the data.
        v = self.values
        return modeling.create_classifier_model(
            config, self.glue.num_labels, dtype=precision.dtype_policy(v.data_type), unpad=not v.xla
        )

    def num_train_examples(self) -> int:
        return len(self.train_features)

    def train_dataset(self, workers, worker_batch: int) -> tf.data.Dataset:
        return glue.make_dataset(
            self.train_features, self.glue, worker_batch, bucket_width=self.values.bucket_width, **self.shard(workers)
        )

    def loss(self, outputs: dict, batch: dict):
        logits = outputs["logits"]
        if self.glue.is_regression:
            return losses.regression_loss(logits, batch["label"]), {}
        correct = tf.equal(tf.argmax(logits, -1, output_type=tf.int32), batch["label"])
        return losses.classification_loss(logits, batch["label"]), {
            "accuracy": tf.reduce_mean(tf.cast(correct, tf.float32))
        }

    def evaluates_during_training(self) -> bool:
        return self.values.do_eval

    def evaluate(self, model: keras.Model) -> dict[str, float]:
        """The task's metrics and loss on the dev set."""
        dataset = glue.make_dataset(self.eval_features, self.glue, self.values.eval_batch_size, is_training=False)
        return glue.task_metrics(self.glue, predict_logits(model, dataset), self.eval_features.labels)

    def evaluation_results(self, model: keras.Model, output_dir: str, trained: bool, step: int) -> dict:
        """The best checkpoint's dev results when this run trained, else the model's now;
        Google's `eval_` names."""
        best = checkpoints.best_results(output_dir)
        results = best if trained and best else self.evaluate(model)
        return {k if k in ("global_step", "checkpoint") else f"eval_{k}": value for k, value in results.items()}

    def output_files(self) -> list[str]:
        v = self.values
        submission = [os.path.join(v.output_dir, glue.submission_name(self.glue))] if v.do_predict else []
        return [*super().output_files(), *submission]

    def predict(self, model: keras.Model) -> tuple[list[str], None]:
        """GLUE's submission file of the test set."""
        v = self.values
        dataset = glue.make_dataset(self.test_features, self.glue, v.predict_batch_size, is_training=False)
        path = os.path.join(v.output_dir, glue.submission_name(self.glue))
        glue.write_submission(path, self.glue, self.test_features, predict_logits(model, dataset))
        return [path], None

    def next_commands(self) -> list[str]:
        v = self.values
        example = {"text_a": "The cat sat on the mat.", "text_b": "A cat was sitting on the mat."}
        if glue.get_task(v.task_name).labelled.text_b is None:  # one sentence per example (CoLA, SST-2)
            del example["text_b"]
        return self.export_commands({"task_name": v.task_name, "data_dir": v.data_dir}, example)


_PREDICT_STEPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def predict_logits(model: keras.Model, dataset: tf.data.Dataset) -> np.ndarray:
    """The model's float32 logits for every example of the dataset, in order."""
    if model not in _PREDICT_STEPS:  # one compiled step per model, reused by every evaluation
        _PREDICT_STEPS[model] = tf.function(
            lambda batch: model(modeling.select_inputs(model, batch), training=False)["logits"],
            reduce_retracing=True,
        )
    step = _PREDICT_STEPS[model]
    return np.concatenate([step(batch).numpy() for batch in dataset])


def main(argv: list[str] | None = None) -> int:
    return run_task(ClassifierTask, argv)


if __name__ == "__main__":
    raise SystemExit(main())
