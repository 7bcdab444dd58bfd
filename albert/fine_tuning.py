"""What fine-tuning tasks share: their common settings and the training run built from them."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import keras
import tensorflow as tf

from albert import distribute, training


@dataclasses.dataclass
class FineTuningSettings:
    """Settings every fine-tuning task has (Google's defaults; tasks override a few)."""

    max_seq_length: int = 512
    train_batch_size: int = 32
    predict_batch_size: int = 8
    learning_rate: float = 5e-5
    optimizer: str = "adamw"
    weight_decay_rate: float = 0.01
    adam_bias_correction: bool = False
    adam_epsilon: float = 1e-6
    decay_after_warmup: bool = False
    poly_power: float = 1.0
    data_type: str = "fp32"
    gradient_accumulation_steps: int = 1
    xla: bool = False
    save_checkpoints_steps: int = 1000
    keep_checkpoint_max: int = 5
    log_steps: int = 100
    random_seed: int = 12345


def worker_batch(settings: FineTuningSettings, workers: distribute.Workers | None) -> int:
    """Training sequences each worker reads per step."""
    workers = workers or distribute.Workers()
    return workers.worker_batch(settings.train_batch_size, settings.gradient_accumulation_steps)


def train(
    model: keras.Model,
    loss_fn: training.LossFn,
    dataset: tf.data.Dataset,
    output_dir: str,
    settings: FineTuningSettings,
    steps: int,
    warmup: int,
    *,
    init_checkpoint: str | None = None,
    log: Callable[[str], None] = training.print_line,
    on_save: Callable[[int], None] | None = None,
    workers: distribute.Workers | None = None,
) -> dict[str, float]:
    """`training.train` for `steps` optimizer steps (`warmup` of them warming up) with the
    optimizer, schedule, precision and checkpointing the settings describe. With several
    `workers`, `dataset` is this worker's shard (see `worker_batch`)."""
    s = settings
    workers = workers or distribute.Workers()
    optimizer, loss_scale = training.create_optimization(s, steps, warmup, workers, s.weight_decay_rate)
    return training.train(
        model,
        loss_fn,
        optimizer,
        dataset,
        training.LoopConfig(
            output_dir=output_dir,
            num_train_steps=steps,
            batch_size=s.train_batch_size,
            save_checkpoints_steps=min(s.save_checkpoints_steps, steps),
            keep_checkpoint_max=s.keep_checkpoint_max,
            log_steps=min(s.log_steps, steps),
        ),
        loss_scale=loss_scale,
        accumulation_steps=s.gradient_accumulation_steps,
        jit_compile=s.xla,
        init_checkpoint=init_checkpoint,
        log=log,
        on_save=on_save,
        workers=workers,
    )
