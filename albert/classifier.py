"""Fine-tuning on GLUE tasks, from values (the flags of run_classifier.py, or a launcher's).

Training evaluates the dev set at every checkpoint when asked and keeps the best weights by the
task's main metric in `<output_dir>/best/` (Google's `model.ckpt-best`), with their results.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from albert import checkpoints, distribute, fine_tuning, losses, modeling, precision, training
from albert.configs import BertConfig
from albert.data import glue
from albert.fine_tuning import FineTuningSettings


@dataclasses.dataclass
class ClassifierSettings(FineTuningSettings):
    """Google's run_classifier.py settings (defaults are its flags' defaults).

    `num_train_epochs` / `warmup_proportion`, when given, replace `train_step` / `warmup_step`
    (steps = examples × epochs / batch, as Google's BERT computes them)."""

    task_name: str = "MRPC"
    eval_batch_size: int = 8
    train_step: int = 1000
    warmup_step: int = 0
    num_train_epochs: float | None = None
    warmup_proportion: float | None = None
    bucket_width: int = 0

    def schedule(self, num_examples: int) -> tuple[int, int]:
        """(training steps, warmup steps)."""
        steps = self.train_step
        if self.num_train_epochs is not None:
            steps = int(num_examples * self.num_train_epochs / self.train_batch_size)
        warmup = self.warmup_step if self.warmup_proportion is None else int(steps * self.warmup_proportion)
        if steps < 1:
            raise ValueError(f"{num_examples} examples make no training step of {self.train_batch_size}; train longer")
        return steps, warmup


def create_model(config: BertConfig, task: glue.Task, settings: ClassifierSettings) -> keras.Model:
    # Training batches are padded to their longest pair: the encoder skips the padding, except
    # under XLA, which needs shapes that do not depend on the data.
    return modeling.create_classifier_model(
        config, task.num_labels, dtype=precision.dtype_policy(settings.data_type), unpad=not settings.xla
    )


def _loss_fn(task: glue.Task):
    def loss_fn(outputs: dict, batch: dict):
        if task.is_regression:
            return losses.regression_loss(outputs["logits"], batch["label"]), {}
        loss = losses.classification_loss(outputs["logits"], batch["label"])
        correct = tf.equal(tf.argmax(outputs["logits"], -1, output_type=tf.int32), batch["label"])
        return loss, {"accuracy": tf.reduce_mean(tf.cast(correct, tf.float32))}

    return loss_fn


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


def evaluate(
    model: keras.Model, task: glue.Task, features: glue.FeatureFile, settings: ClassifierSettings
) -> dict[str, float]:
    """The task's metrics and loss on labelled features."""
    dataset = glue.make_dataset(features, task, settings.eval_batch_size, is_training=False)
    return glue.task_metrics(task, predict_logits(model, dataset), features.labels)


def finetune(
    model: keras.Model,
    task: glue.Task,
    train_features: glue.FeatureFile,
    output_dir: str,
    settings: ClassifierSettings,
    *,
    eval_features: glue.FeatureFile | None = None,
    init_checkpoint: str | None = None,
    log: Callable[[str], None] = training.print_line,
    workers: distribute.Workers | None = None,
) -> dict[str, float]:
    """Trains `model` on the features, resuming in `output_dir`. With `eval_features`, every
    checkpoint is evaluated (by the chief) and the best by the task's main metric is kept in
    `<output_dir>/best/`. Returns the last logged training metrics."""
    workers = workers or distribute.Workers()
    s = settings
    steps, warmup = s.schedule(len(train_features))

    def on_save(step: int) -> None:
        results = {**evaluate(model, task, eval_features, s), "global_step": step}
        shown = "  ".join(f"{k} {v:.4f}" for k, v in sorted(results.items()) if k != "global_step")
        log(f"eval at step {step}: {shown}")
        best = checkpoints.best_results(output_dir)
        if best is None or results[task.main_metric] > best[task.main_metric]:
            checkpoints.save_best(model, output_dir, results)

    dataset = glue.make_dataset(
        train_features,
        task,
        fine_tuning.worker_batch(s, workers),
        is_training=True,
        seed=s.random_seed,
        max_seq_length=s.max_seq_length,
        fixed_shapes=s.xla,
        bucket_width=s.bucket_width,
        num_workers=workers.size,
        worker_index=workers.rank,
    )
    return fine_tuning.train(
        model,
        _loss_fn(task),
        dataset,
        output_dir,
        s,
        steps,
        warmup,
        init_checkpoint=init_checkpoint,
        log=log,
        on_save=on_save if eval_features is not None else None,
        workers=workers,
    )
