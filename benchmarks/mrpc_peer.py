#!/usr/bin/env python3
"""The peer of benchmarks/mrpc.py: Hugging Face transformers' `BertForSequenceClassification`
fine-tuned on MRPC with the same recipe, as a plain PyTorch training loop. It imports neither
TensorFlow nor this project, and runs under any interpreter that has torch and transformers
(neither is a dependency of this project):

    /path/to/torch/bin/python benchmarks/mrpc_peer.py --model DIR --data_dir ../shared/data/mrpc --seed 42

The recipe: max_seq_length 128, batch 32, learning rate 5e-5, 3 epochs with a fresh shuffle each
(the last batch of an epoch is partial), 10 % warmup (rounded up) then linear decay, PyTorch's
AdamW (ε 1e-8, weight decay 0.01 except biases and LayerNorm weights), clipping 1.0, each
batch padded to its longest pair; fp32, or with `--bf16` the forward passes under
`torch.autocast(bfloat16)` (what a user of a CPU with AVX512-BF16 runs), with transformers'
faster CPU attention kernel for the precision (benchmarks/torch_peer.py) or `--attention`'s.
Prints one JSON line: dev accuracy and F1, steps, and the seconds of the whole process.

With `--parity DIR` it instead trains from `DIR/init` (a model.safetensors with its config.json)
on the fixed batches of `DIR/batches.npz` with every dropout off, and writes each step's loss,
gradient norm and learning rate to `DIR/peer_log.json` and the final weights to
`DIR/peer_final.npz` (see benchmarks/mrpc_parity.py).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import time

START = time.perf_counter()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch_peer  # noqa: E402
from torch_peer import adamw, add_attention_flag, attention, precision  # noqa: E402
from transformers import (  # noqa: E402
    AutoTokenizer,
    BertConfig,
    BertForSequenceClassification,
    get_linear_schedule_with_warmup,
    set_seed,
)

BATCH, EPOCHS, LEARNING_RATE, WARMUP = 32, 3, 5e-5, 0.1


def read_mrpc(path: str) -> list[tuple[str, str, int]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    return [(r[3], r[4], int(r[0])) for r in rows]


def encode(tokenizer, rows: list[tuple[str, str, int]]) -> list:
    return [tokenizer(a, b, truncation=True, max_length=128) for a, b, _ in rows]


def batches(tokenizer, rows: list[tuple[str, str, int]], encoded: list, order: list[int], size: int):
    """(inputs, labels) of the pairs in `order`, `size` at a time, each batch padded to its longest."""
    for start in range(0, len(order), size):
        part = order[start : start + size]
        inputs = tokenizer.pad([encoded[i] for i in part], return_tensors="pt")
        yield dict(inputs), torch.tensor([rows[i][2] for i in part])


def train_step(
    model, optimizer, schedule, inputs: dict, labels: torch.Tensor, bf16: bool = False
) -> tuple[float, float, float]:
    """One update; returns the loss, the gradient norm before clipping and the learning rate used."""
    rate = schedule.get_last_lr()[0]
    loss, norm = torch_peer.train_step(model, optimizer, {**inputs, "labels": labels}, bf16, schedule)
    return loss.item(), norm.item(), rate


def finetune(args: argparse.Namespace) -> dict:
    set_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = BertForSequenceClassification.from_pretrained(
        args.model, num_labels=2, attn_implementation=attention(args, args.bf16)
    )
    train = read_mrpc(os.path.join(args.data_dir, "train.tsv"))
    dev = read_mrpc(os.path.join(args.data_dir, "dev.tsv"))
    train_encoded, dev_encoded = encode(tokenizer, train), encode(tokenizer, dev)

    steps = math.ceil(len(train) / BATCH) * EPOCHS
    optimizer = adamw(model, LEARNING_RATE)
    schedule = get_linear_schedule_with_warmup(optimizer, math.ceil(WARMUP * steps), steps)
    generator = torch.Generator().manual_seed(args.seed)
    model.train()
    for _ in range(EPOCHS):
        order = torch.randperm(len(train), generator=generator).tolist()
        for inputs, labels in batches(tokenizer, train, train_encoded, order, BATCH):
            train_step(model, optimizer, schedule, inputs, labels, args.bf16)
    model.eval()
    predictions = []
    with torch.no_grad():
        for inputs, _ in batches(tokenizer, dev, dev_encoded, list(range(len(dev))), 64):
            with precision(args.bf16):
                predictions += model(**inputs).logits.argmax(-1).tolist()
    gold = np.array([row[2] for row in dev])
    predictions = np.array(predictions)
    tp = int(np.sum((predictions == 1) & (gold == 1)))
    seconds = time.perf_counter() - START
    return {
        "benchmark": "mrpc_finetune_peer",
        "peer": f"transformers {__import__('transformers').__version__} / torch {torch.__version__}",
        "data_type": "bf16" if args.bf16 else "fp32",
        "attention": model.config._attn_implementation,
        "seed": args.seed,
        "accuracy": round(float(np.mean(predictions == gold)), 4),
        "f1": round(2 * tp / (2 * tp + int(np.sum(predictions != gold))), 4),
        "steps": steps,
        "seconds": round(seconds, 1),
        "sequences_per_second": round(EPOCHS * len(train) / seconds, 1),
    }


def parity(args: argparse.Namespace) -> None:
    folder = os.path.join(args.parity, "init")
    config = BertConfig.from_pretrained(
        folder, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, classifier_dropout=0.0, num_labels=2
    )
    model = BertForSequenceClassification.from_pretrained(folder, config=config).float()
    data = np.load(os.path.join(args.parity, "batches.npz"))
    steps = len([k for k in data.files if k.startswith("label")])
    optimizer = adamw(model, args.learning_rate)
    schedule = get_linear_schedule_with_warmup(optimizer, args.warmup, steps)
    model.train()
    log = []
    for s in range(steps):
        inputs = {
            "input_ids": torch.from_numpy(data[f"input_ids{s}"]).long(),
            "token_type_ids": torch.from_numpy(data[f"segment_ids{s}"]).long(),
            "attention_mask": torch.from_numpy(data[f"input_mask{s}"]).long(),
        }
        log.append(train_step(model, optimizer, schedule, inputs, torch.from_numpy(data[f"label{s}"]).long()))
    with open(os.path.join(args.parity, "peer_log.json"), "w", encoding="utf-8") as f:
        json.dump(log, f)
    np.savez(os.path.join(args.parity, "peer_final.npz"), **{k: v.numpy() for k, v in model.state_dict().items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="folder of the BERT checkpoint (model.safetensors, config.json, vocab)")
    parser.add_argument("--data_dir", help="MRPC's folder (train.tsv, dev.tsv)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--bf16", action="store_true", help="forward passes under torch.autocast(bfloat16)")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    add_attention_flag(parser)
    parser.add_argument("--parity", help="work folder of benchmarks/mrpc_parity.py")
    parser.add_argument("--warmup", type=int, default=0, help="--parity: warmup steps")
    parser.add_argument("--learning_rate", type=float, default=LEARNING_RATE, help="--parity: peak learning rate")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.parity:
        parity(args)
    else:
        print(json.dumps(finetune(args)), flush=True)


if __name__ == "__main__":
    main()
