#!/usr/bin/env python3
"""Demo: pretrain the tiny ALBERT (masked LM + sentence order) on the project's own sample text
and watch the loss fall. Runs in about a minute on 2 CPU cores.

    python demo_albert.py                      # fp32, 600 steps of AdamW
    python demo_albert.py -d bf16 --optimizer lamb --learning_rate 2e-2

It runs the toolkit's own pipeline end to end: a SentencePiece vocabulary trained on the sample
with ALBERT's settings (data_preprocessing/train_sentencepiece.py), pretraining records with
n-gram masking and sentence order (data_preprocessing/create_training_data.py), then training.
Everything is written under --output_dir.

The default optimizer is AdamW: on a freshly initialised tiny model LAMB's trust ratio
‖w‖/‖u‖ is about 0.02 for the kernels, so LAMB needs a far larger learning rate and more steps
to show the same progress here.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from albert import losses, modeling, optimization, precision, training  # noqa: E402
from albert.configs import get_config  # noqa: E402
from albert.data.instances import MaskingConfig  # noqa: E402
from albert.data.pretraining import make_pretraining_dataset  # noqa: E402
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
        dupe_factor=20,
        chunk_bytes=1500,
    )
    return records, stats.instances


def run(argv: list[str] | None = None) -> dict[str, float]:
    """Runs the demo; returns the metrics of the trained model on the whole sample and the
    masked-LM loss of the untrained one (`initial_masked_lm_loss`)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-d", "--data_type", default="fp32", choices=sorted(precision.PRECISIONS))
    parser.add_argument("--train_steps", type=int, default=600)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--optimizer", default="adamw", choices=optimization.OPTIMIZERS)
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    parser.add_argument("--log_steps", type=int, default=50)
    parser.add_argument("--input_file", default=SAMPLE_TEXT)
    parser.add_argument("--output_dir", default=os.path.join("output", "demo"))
    parser.add_argument("--seed", type=int, default=12345)
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(args.seed)
    records, num_instances = prepare_data(args.input_file, args.output_dir, args.seed)
    config = get_config("tiny").replace(vocab_size=VOCAB_SIZE)
    model = modeling.create_pretraining_model(config, MAX_PREDICTIONS, dtype=precision.dtype_policy(args.data_type))
    print(
        f"tiny ALBERT: {model.count_params():,} parameters, vocabulary {VOCAB_SIZE}, "
        f"{num_instances} training instances from {args.input_file} in {records}, {args.data_type}"
    )

    schedule = optimization.WarmupPolynomialDecay(args.learning_rate, args.train_steps, args.train_steps // 10)
    optimizer = optimization.create_optimizer(args.optimizer, schedule)
    step = training.make_train_step(
        model, losses.pretraining_loss, optimizer, loss_scale=precision.create_loss_scale(args.data_type)
    )
    dataset = make_pretraining_dataset(records, args.batch_size, SEQ_LENGTH, MAX_PREDICTIONS, seed=args.seed)
    everything = next(
        iter(make_pretraining_dataset(records, num_instances, SEQ_LENGTH, MAX_PREDICTIONS, is_training=False))
    )

    def evaluate() -> dict:
        return losses.pretraining_loss(model(modeling.select_inputs(model, everything)), everything)[1]

    initial = evaluate()
    start = time.perf_counter()
    for i, batch in zip(range(1, args.train_steps + 1), dataset):
        metrics = step(batch)
        if i % args.log_steps == 0 or i == 1:
            m = {k: float(v) for k, v in metrics.items()}
            rate = i * args.batch_size / (time.perf_counter() - start)
            print(
                f"step {i:4d}  loss {m['loss']:.3f}  mlm_acc {m['masked_lm_accuracy']:.3f}  "
                f"sop_acc {m['sentence_order_accuracy']:.3f}  lr {m['learning_rate']:.2e}  {rate:.0f} seq/s",
                flush=True,
            )

    final = evaluate()
    print("final on the training sample: " + "  ".join(f"{k} {float(v):.3f}" for k, v in final.items()))
    return {"initial_masked_lm_loss": float(initial["masked_lm_loss"]), **{k: float(v) for k, v in final.items()}}


def main(argv: list[str] | None = None) -> int:
    run(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
