#!/usr/bin/env python3
"""Pretraining on real text: a small ALBERT (H 128, 4 layers, ALBERT's 30k vocabulary) on
../shared/data/corpus/wiki_sentences.txt.

The corpus is split by document into training text and held-out text (the last 20 documents);
both become records with ALBERT's vocabulary (sequence 128, 20 predictions). The model trains
for a fixed budget and is evaluated on the held-out records after every phase: the masked-LM
and sentence-order accuracy should go up. A second part times the training step in fp32 and
bf16 (same model, same batch). Every result is one JSON line.

    python benchmarks/pretraining.py [--steps 2000] [--phases 8] [--data_type bf16]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from albert import losses, modeling, optimization, precision, training  # noqa: E402
from albert.configs import AlbertConfig  # noqa: E402
from albert.data.documents import DocumentReader  # noqa: E402
from albert.data.instances import MaskingConfig  # noqa: E402
from albert.data.pretraining import make_pretraining_dataset  # noqa: E402
from albert.data.pretraining_records import TokenizerSpec, create_pretraining_records  # noqa: E402

SHARED = os.path.join(ROOT, "..", "shared", "data")
CORPUS = os.path.join(SHARED, "corpus", "wiki_sentences.txt")
SPM = os.path.join(SHARED, "albert_spm", "30k-clean.reconstructed.model")
SEQ, PREDICTIONS = 128, 20
SMALL_ALBERT = AlbertConfig(
    vocab_size=30000,
    embedding_size=128,
    hidden_size=128,
    num_hidden_layers=4,
    num_attention_heads=2,
    intermediate_size=512,
)


def make_records(tmp: str) -> tuple[str, str]:
    documents = list(DocumentReader([CORPUS]))
    paths = {}
    for name, part, dupe in (("train", documents[:-20], 3), ("heldout", documents[-20:], 1)):
        text = os.path.join(tmp, f"{name}.txt")
        with open(text, "w", encoding="utf-8") as f:
            f.write("\n\n".join("".join(doc) for doc in part))
        paths[name] = os.path.join(tmp, f"{name}.tfrecord")
        stats = create_pretraining_records(
            [text], [paths[name]], TokenizerSpec(SPM), MaskingConfig(max_seq_length=SEQ), dupe_factor=dupe
        )
        print(json.dumps({"records": name, "documents": stats.documents, "instances": stats.instances}), flush=True)
    return paths["train"], paths["heldout"]


def learning_curve(train_records: str, heldout: str, args, tmp: str) -> None:
    keras.utils.set_random_seed(1)
    model = modeling.create_pretraining_model(SMALL_ALBERT, PREDICTIONS, dtype=precision.dtype_policy(args.data_type))
    schedule = optimization.WarmupPolynomialDecay(args.learning_rate, args.steps, args.steps // 10)
    optimizer = optimization.create_optimizer(args.optimizer, schedule)
    dataset = make_pretraining_dataset(train_records, args.batch_size, SEQ, PREDICTIONS, seed=1)
    output_dir = os.path.join(tmp, "run")
    for phase in range(args.phases + 1):
        steps = args.steps * phase // args.phases
        seconds, rate = 0.0, None
        if steps:
            start = time.perf_counter()
            last = training.train(
                model,
                losses.pretraining_loss,
                optimizer,
                dataset,
                training.LoopConfig(output_dir, steps, args.batch_size, save_checkpoints_steps=steps, log_steps=steps),
                loss_scale=precision.create_loss_scale(args.data_type),
                denominators_fn=losses.pretraining_denominators,
                log=lambda line: None,
            )
            seconds, rate = time.perf_counter() - start, last.get("sequences_per_second")
        sums = training.evaluate(
            model,
            losses.pretraining_metric_sums,
            make_pretraining_dataset(heldout, 64, SEQ, PREDICTIONS, is_training=False),
        )
        result = {
            "benchmark": "pretraining_curve",
            "step": steps,
            "data_type": args.data_type,
            **{k: round(v, 4) for k, v in losses.pretraining_metrics_from_sums(sums).items()},
        }
        if rate:
            result.update(train_seconds=round(seconds, 1), sequences_per_second=round(rate, 1))
        print(json.dumps(result), flush=True)


def step_throughput(train_records: str, args) -> None:
    rates = {}
    for data_type in ("fp32", "bf16"):
        keras.utils.set_random_seed(1)
        model = modeling.create_pretraining_model(SMALL_ALBERT, PREDICTIONS, dtype=precision.dtype_policy(data_type))
        step = training.make_train_step(
            model,
            losses.pretraining_loss,
            optimization.create_optimizer("lamb", 1e-4),
            loss_scale=precision.create_loss_scale(data_type),
        )
        batches = list(make_pretraining_dataset(train_records, args.batch_size, SEQ, PREDICTIONS, seed=1).take(4))
        for batch in batches:  # warm-up and tracing
            step(batch)["loss"].numpy()
        start = time.perf_counter()
        for i in range(args.timed_steps):
            loss = step(batches[i % len(batches)])["loss"]
        loss.numpy()
        rates[data_type] = args.batch_size * args.timed_steps / (time.perf_counter() - start)
        print(
            json.dumps(
                {
                    "benchmark": "pretraining_step",
                    "data_type": data_type,
                    "batch_size": args.batch_size,
                    "seq_length": SEQ,
                    "sequences_per_second": round(rates[data_type], 1),
                }
            ),
            flush=True,
        )
    print(json.dumps({"benchmark": "pretraining_step", "bf16_over_fp32": round(rates["bf16"] / rates["fp32"], 2)}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--phases", type=int, default=8)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--optimizer", default="adamw")
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    parser.add_argument("--data_type", default="bf16")
    parser.add_argument("--timed_steps", type=int, default=20)
    args = parser.parse_args()
    for path in (CORPUS, SPM):
        if not os.path.exists(path):
            print(f"skipped: {path} is absent", file=sys.stderr)
            return 0
    with tempfile.TemporaryDirectory() as tmp:
        train_records, heldout = make_records(tmp)
        step_throughput(train_records, args)
        learning_curve(train_records, heldout, args, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
