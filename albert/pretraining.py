"""The pretraining task: masked LM + sentence order on pretraining records, from values (the
flags of run_pretraining.py, or the demo's choices)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import keras

from albert import distribute, losses, modeling, precision, training
from albert.configs import BertConfig
from albert.data.pretraining import make_pretraining_dataset


@dataclasses.dataclass
class PretrainingSettings:
    """Google's run_pretraining.py settings (defaults are its flags' defaults)."""

    max_seq_length: int = 512
    max_predictions_per_seq: int = 20
    train_batch_size: int = 4096
    eval_batch_size: int = 64
    num_train_steps: int = 125000
    num_warmup_steps: int = 3125
    learning_rate: float = 0.00176
    poly_power: float = 1.0
    optimizer: str = "lamb"
    adam_bias_correction: bool = False
    adam_epsilon: float = 1e-6
    decay_after_warmup: bool = False
    data_type: str = "fp32"
    gradient_accumulation_steps: int = 1
    xla: bool = False
    save_checkpoints_steps: int = 5000
    keep_checkpoint_max: int = 5
    log_steps: int = 100
    max_eval_steps: int | None = 100
    random_seed: int = 12345


def create_model(config: BertConfig, settings: PretrainingSettings) -> keras.Model:
    return modeling.create_pretraining_model(
        config, settings.max_predictions_per_seq, dtype=precision.dtype_policy(settings.data_type)
    )


def pretrain(
    model: keras.Model,
    train_files: Sequence[str],
    output_dir: str,
    settings: PretrainingSettings,
    *,
    init_checkpoint: str | None = None,
    log: Callable[[str], None] = training.print_line,
    workers: distribute.Workers | None = None,
) -> dict[str, float]:
    """Trains `model` (from `create_model`, in `workers.scope()`) on the records, resuming in
    `output_dir`. Each worker reads its shard of the files (of the records when there are fewer
    files than workers)."""
    s = settings
    workers = workers or distribute.Workers()
    optimizer, loss_scale = training.create_optimization(s, s.num_train_steps, s.num_warmup_steps, workers)
    return training.train(
        model,
        losses.pretraining_loss,
        optimizer,
        make_pretraining_dataset(
            list(train_files),
            workers.worker_batch(s.train_batch_size, s.gradient_accumulation_steps),
            s.max_seq_length,
            s.max_predictions_per_seq,
            seed=s.random_seed,
            num_workers=workers.size,
            worker_index=workers.rank,
        ),
        training.LoopConfig(
            output_dir=output_dir,
            num_train_steps=s.num_train_steps,
            batch_size=s.train_batch_size,
            save_checkpoints_steps=s.save_checkpoints_steps,
            keep_checkpoint_max=s.keep_checkpoint_max,
            log_steps=s.log_steps,
        ),
        loss_scale=loss_scale,
        accumulation_steps=s.gradient_accumulation_steps,
        jit_compile=s.xla,
        init_checkpoint=init_checkpoint,
        denominators_fn=losses.pretraining_denominators,
        log=log,
        workers=workers,
    )


def evaluate(model: keras.Model, eval_files: Sequence[str], settings: PretrainingSettings) -> dict[str, float]:
    """Google's pretraining eval metrics over `max_eval_steps` batches of the records."""
    dataset = make_pretraining_dataset(
        list(eval_files),
        settings.eval_batch_size,
        settings.max_seq_length,
        settings.max_predictions_per_seq,
        is_training=False,
    )
    sums = training.evaluate(model, losses.pretraining_metric_sums, dataset, settings.max_eval_steps)
    return losses.pretraining_metrics_from_sums(sums)
