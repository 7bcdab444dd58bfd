#!/usr/bin/env python3
"""Demo: pretrain the tiny ALBERT (masked LM + sentence order) on the project's own sample text
until it knows it by heart (Habana's "overfit" test set). Runs in about half a minute on 2 CPU
cores.

    python demo_albert.py                      # fp32, 300 steps of AdamW
    python demo_albert.py -d bf16 --optimizer lamb --learning_rate 2e-2

It runs the toolkit's own pipeline end to end: a SentencePiece vocabulary trained on the sample
with ALBERT's settings (data_preprocessing/train_sentencepiece.py), pretraining records with
n-gram masking and sentence order (data_preprocessing/create_training_data.py), then training.
Everything is written under --output_dir (default output/demo).

The default optimizer is AdamW: on a freshly initialised tiny model LAMB's trust ratio
‖w‖/‖u‖ is about 0.02 for the kernels, so LAMB needs a far larger learning rate and more steps
to show the same progress here.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from albert import optimization, precision, pretraining  # noqa: E402
from albert.configs import get_config  # noqa: E402
from albert.data.instances import MaskingConfig  # noqa: E402
from albert.data.pretraining_records import TokenizerSpec, create_pretraining_records  # noqa: E402
from data_preprocessing.train_sentencepiece import train_sentencepiece  # noqa: E402

SAMPLE_TEXT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "sample_text.txt")
SEQ_LENGTH, MAX_PREDICTIONS, VOCAB_SIZE = 64, 10, 300


def prepare_data(input_file: str, output_dir: str, seed: int) -> tuple[str, int]:
    """A vocabulary and pretraining records for `input_file`; returns (records, instances)."""
    os.makedirs(output_dir, exist_ok=True)
    spm_model = train_sentencepiece([input_file], os.path.join(output_dir, "sample_spm"), VOCAB_SIZE)
    records = os.path.join(output_dir, "sample.tfrecord")
    stats = create_pretraining_records(
        [input_file],
        [records],
        TokenizerSpec(spm_model),
        MaskingConfig(max_seq_length=SEQ_LENGTH, max_predictions_per_seq=MAX_PREDICTIONS),
        seed=seed,
        dupe_factor=2,  # few maskings of a small text: the model can learn it by heart
        chunk_bytes=1500,
    )
    return records, stats.instances


def run(argv: list[str] | None = None) -> dict[str, float]:
    """Runs the demo; returns the metrics of the trained model on the whole sample and the
    masked-LM loss of the untrained one (`initial_masked_lm_loss`)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-d", "--data_type", default="fp32", choices=sorted(precision.PRECISIONS))
    parser.add_argument("--train_steps", type=int, default=300)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--optimizer", default="adamw", choices=optimization.OPTIMIZERS)
    parser.add_argument("--learning_rate", type=float, default=2e-3)
    parser.add_argument("--log_steps", type=int, default=50)
    parser.add_argument("--input_file", default=SAMPLE_TEXT)
    parser.add_argument("--output_dir", default=os.path.join("output", "demo"))
    parser.add_argument("--seed", type=int, default=12345)
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(args.seed)
    records, num_instances = prepare_data(args.input_file, args.output_dir, args.seed)
    config = get_config("tiny").replace(vocab_size=VOCAB_SIZE)
    settings = pretraining.PretrainingSettings(
        max_seq_length=SEQ_LENGTH,
        max_predictions_per_seq=MAX_PREDICTIONS,
        train_batch_size=args.batch_size,
        num_train_steps=args.train_steps,
        num_warmup_steps=args.train_steps // 10,
        learning_rate=args.learning_rate,
        optimizer=args.optimizer,
        data_type=args.data_type,
        save_checkpoints_steps=args.train_steps,
        log_steps=args.log_steps,
        max_eval_steps=None,
        random_seed=args.seed,
    )
    model = pretraining.create_model(config, settings)
    print(
        f"tiny ALBERT: {model.count_params():,} parameters, vocabulary {VOCAB_SIZE}, "
        f"{num_instances} training instances from {args.input_file} in {records}, {args.data_type}"
    )
    run_dir = os.path.join(args.output_dir, "pretraining")
    shutil.rmtree(run_dir, ignore_errors=True)  # the demo trains afresh each time
    initial = pretraining.evaluate(model, [records], settings)
    pretraining.pretrain(model, [records], run_dir, settings)
    final = pretraining.evaluate(model, [records], settings)
    print(
        "on the training sample, before -> after: "
        + "  ".join(f"{k} {initial[k]:.3f} -> {final[k]:.3f}" for k in final)
    )
    return {"initial_masked_lm_loss": initial["masked_lm_loss"], **final}


def main(argv: list[str] | None = None) -> int:
    run(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
