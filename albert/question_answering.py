"""Fine-tuning on SQuAD and predicting answers, from values (the flags of run_squad_v1.py, or a
launcher's)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from albert import distribute, fine_tuning, losses, modeling, precision, training
from albert.configs import BertConfig
from albert.data import squad
from albert.fine_tuning import FineTuningSettings


@dataclasses.dataclass
class SquadSettings(FineTuningSettings):
    """Google's run_squad_v1.py settings (defaults are its flags' defaults)."""

    max_seq_length: int = 384
    doc_stride: int = 128
    max_query_length: int = 64
    num_train_epochs: float = 3.0
    warmup_proportion: float = 0.1
    train_steps: int = -1
    n_best_size: int = 20
    max_answer_length: int = 30
    version_2_with_negative: bool = False
    null_score_diff_threshold: float = 0.0

    def windows(self) -> squad.Settings:
        settings = squad.Settings(self.max_seq_length, self.doc_stride, self.max_query_length)
        settings.check()
        return settings

    def schedule(self, num_features: int) -> tuple[int, int]:
        """(training steps, warmup steps): `train_steps` when positive (Habana's flag), else
        features × epochs / batch."""
        steps = (
            self.train_steps
            if self.train_steps > 0
            else int(num_features * self.num_train_epochs / self.train_batch_size)
        )
        if steps < 1:
            raise ValueError(f"{num_features} features make no training step of {self.train_batch_size}; train longer")
        return steps, int(steps * self.warmup_proportion)


def create_model(config: BertConfig, settings: SquadSettings) -> keras.Model:
    # Windows are padded to the longest in the batch: the encoder skips the padding, except under
    # XLA, which needs shapes that do not depend on the data.
    return modeling.create_span_model(config, dtype=precision.dtype_policy(settings.data_type), unpad=not settings.xla)


def _loss(outputs: dict, batch: dict):
    loss = losses.span_loss(
        outputs["start_logits"], outputs["end_logits"], batch["start_positions"], batch["end_positions"]
    )
    return loss, {}


def finetune(
    model: keras.Model,
    features: squad.FeatureFile,
    output_dir: str,
    settings: SquadSettings,
    *,
    init_checkpoint: str | None = None,
    log: Callable[[str], None] = training.print_line,
    workers: distribute.Workers | None = None,
) -> dict[str, float]:
    """Trains the span model on the features, resuming in `output_dir`."""
    workers = workers or distribute.Workers()
    steps, warmup = settings.schedule(len(features))
    dataset = squad.make_dataset(
        features,
        fine_tuning.worker_batch(settings, workers),
        is_training=True,
        seed=settings.random_seed,
        max_seq_length=settings.max_seq_length,
        fixed_shapes=settings.xla,
        num_workers=workers.size,
        worker_index=workers.rank,
    )
    return fine_tuning.train(
        model,
        _loss,
        dataset,
        output_dir,
        settings,
        steps,
        warmup,
        init_checkpoint=init_checkpoint,
        log=log,
        workers=workers,
    )


def predict_logits(
    model: keras.Model, features: squad.FeatureFile, batch_size: int
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Start and end logits of every feature, unpadded, in order."""
    step = tf.function(lambda batch: model(modeling.select_inputs(model, batch), training=False), reduce_retracing=True)
    starts, ends = [], []
    for batch in squad.make_dataset(features, batch_size, is_training=False):
        outputs = step(batch)
        start_logits, end_logits = outputs["start_logits"].numpy(), outputs["end_logits"].numpy()
        for row, length in enumerate(batch["input_mask"].numpy().sum(axis=1)):
            starts.append(start_logits[row, :length])
            ends.append(end_logits[row, :length])
    return starts, ends
