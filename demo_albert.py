#!/usr/bin/env python3
"""Demo: pretrain the tiny ALBERT (masked LM + sentence order) on the project's own sample text
and watch the loss fall. Runs in a couple of minutes on 2 CPU cores.

    python demo_albert.py                      # fp32, 600 steps of AdamW
    python demo_albert.py -d bf16 --optimizer lamb --learning_rate 2e-2

The sample text is read as Google's pretraining data is: one sentence per line, a blank line
between documents. This demo tokenizes words against a vocabulary of the sample itself and
masks single tokens; `data_preprocessing/create_training_data.py` is the real data pipeline.

The default optimizer is AdamW: on a freshly initialised tiny model LAMB's trust ratio
‖w‖/‖u‖ is about 0.02 for the kernels, so LAMB needs a far larger learning rate and more steps
to show the same progress here.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from albert import losses, modeling, optimization, precision, training  # noqa: E402
from albert.configs import get_config  # noqa: E402

SAMPLE_TEXT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "sample_text.txt")
SPECIAL_TOKENS = ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]  # ALBERT's ids 0-4


def read_documents(path: str) -> list[list[str]]:
    """Documents as lists of sentences (one per line, blank lines between documents)."""
    documents, current = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                current.append(line)
            elif current:
                documents.append(current)
                current = []
    if current:
        documents.append(current)
    if not documents:
        raise SystemExit(f"{path}: no text found; give one sentence per line, blank lines between documents")
    return documents


def words(sentence: str) -> list[str]:
    return re.findall(r"\w+|[^\w\s]", sentence.lower())


def make_instances(documents, seq_length: int, max_predictions: int, copies: int, seed: int):
    """Sentence pairs [CLS] A [SEP] B [SEP] from consecutive sentences, swapped with probability
    0.5 (sentence-order label 1), with 15% of the tokens masked 80/10/10."""
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    for doc in documents:
        for sentence in doc:
            for word in words(sentence):
                vocab.setdefault(word, len(vocab))
    rng = np.random.default_rng(seed)
    features = {
        name: []
        for name in (
            "input_ids",
            "input_mask",
            "segment_ids",
            "masked_lm_positions",
            "masked_lm_ids",
            "masked_lm_weights",
            "next_sentence_labels",
        )
    }
    for _ in range(copies):
        for doc in documents:
            for first, second in zip(doc, doc[1:]):
                a, b = [vocab[w] for w in words(first)], [vocab[w] for w in words(second)]
                swapped = rng.random() < 0.5
                if swapped:
                    a, b = b, a
                budget = seq_length - 3
                a, b = a[: budget // 2], b[: budget - min(len(a), budget // 2)]
                ids = [2] + a + [3] + b + [3]
                segments = [0] * (len(a) + 2) + [1] * (len(b) + 1)
                candidates = [i for i, t in enumerate(ids) if t > 4]
                count = min(max_predictions, max(1, round(len(ids) * 0.15)))
                positions = np.sort(rng.choice(candidates, count, replace=False))
                labels = [ids[p] for p in positions]
                for p in positions:
                    roll = rng.random()
                    ids[p] = 4 if roll < 0.8 else (ids[p] if roll < 0.9 else int(rng.integers(5, len(vocab))))
                pad, pad_p = seq_length - len(ids), max_predictions - count
                features["input_ids"].append(ids + [0] * pad)
                features["input_mask"].append([1] * len(ids) + [0] * pad)
                features["segment_ids"].append(segments + [0] * pad)
                features["masked_lm_positions"].append(list(positions) + [0] * pad_p)
                features["masked_lm_ids"].append(labels + [0] * pad_p)
                features["masked_lm_weights"].append([1.0] * count + [0.0] * pad_p)
                features["next_sentence_labels"].append([int(swapped)])
    arrays = {k: np.asarray(v, np.float32 if k == "masked_lm_weights" else np.int32) for k, v in features.items()}
    return arrays, len(vocab)


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
    parser.add_argument("--seed", type=int, default=12345)
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(args.seed)
    seq_length, max_predictions = 64, 10
    data, vocab_size = make_instances(
        read_documents(args.input_file), seq_length, max_predictions, copies=10, seed=args.seed
    )
    num_instances = len(data["input_ids"])
    config = get_config("tiny").replace(vocab_size=vocab_size)
    model = modeling.create_pretraining_model(config, max_predictions, dtype=precision.dtype_policy(args.data_type))
    print(
        f"tiny ALBERT: {model.count_params():,} parameters, vocabulary {vocab_size}, "
        f"{num_instances} training instances from {args.input_file}, {args.data_type}"
    )

    schedule = optimization.WarmupPolynomialDecay(args.learning_rate, args.train_steps, args.train_steps // 10)
    optimizer = optimization.create_optimizer(args.optimizer, schedule)
    step = training.make_train_step(
        model, losses.pretraining_loss, optimizer, loss_scale=precision.create_loss_scale(args.data_type)
    )
    dataset = (
        tf.data.Dataset.from_tensor_slices(data)
        .shuffle(num_instances, seed=args.seed)
        .repeat()
        .batch(args.batch_size, drop_remainder=True)
        .prefetch(2)
    )
    _, initial = losses.pretraining_loss(
        model.predict(modeling.select_inputs(model, data), batch_size=128, verbose=0), data
    )
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

    outputs = model.predict(modeling.select_inputs(model, data), batch_size=128, verbose=0)
    _, final = losses.pretraining_loss(outputs, data)
    print("final on the training sample: " + "  ".join(f"{k} {float(v):.3f}" for k, v in final.items()))
    return {"initial_masked_lm_loss": float(initial["masked_lm_loss"]), **{k: float(v) for k, v in final.items()}}


def main(argv: list[str] | None = None) -> int:
    run(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
