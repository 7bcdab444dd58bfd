#!/usr/bin/env python3
"""Which of transformers' two CPU attention kernels trains each PyTorch peer faster: "sdpa"
(PyTorch's fused scaled_dot_product_attention, transformers' default) or "eager" (its own
matmul, softmax, matmul), in fp32 and under bf16 autocast. benchmarks/torch_peer.py's
FASTEST_ATTENTION holds the answer, which the peers use unless told otherwise.

    /path/to/torch/bin/python benchmarks/peer_attention.py --model DIR [--albert_config FILE]

Times the training step (forward, backward, clipping, AdamW, dropout on) of the peers' models on
the peers' own first batches (seed 42's shuffle, each padded to its longest): SQuAD's windows for
`BertForQuestionAnswering` (benchmarks/squad_peer.py, batch 32) and MRPC's pairs for
`BertForSequenceClassification` (mrpc_peer.py, batch 32), both from the BERT checkpoint in DIR;
with `--albert_config` (an albert_config.json) also `AlbertForPreTraining` on throughput.py's
kind of batch (8 × 128 random tokens, 20 masked). One JSON line per model and precision: the
median seconds per step of each kernel after one warm-up step, the two kernels' models taking
turns batch by batch.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from functools import partial

import mrpc_peer
import squad_peer
import torch
from torch_peer import adamw, train_step
from transformers import (
    AlbertConfig,
    AlbertForPreTraining,
    AutoTokenizer,
    BertForQuestionAnswering,
    BertForSequenceClassification,
)

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data")
BATCH = 32


def squad_batches(tokenizer, path: str, count: int) -> list[dict]:
    examples = squad_peer.read_squad(path)
    encoded = squad_peer.windows(tokenizer, examples)
    starts, ends = squad_peer.span_labels(encoded, examples)
    order = torch.randperm(len(encoded["input_ids"]), generator=torch.Generator().manual_seed(42)).tolist()
    found = []
    for part, inputs in squad_peer.batches(tokenizer, encoded, order[: count * BATCH], BATCH):
        labels = {"start_positions": [starts[i] for i in part], "end_positions": [ends[i] for i in part]}
        found.append({**inputs, **{k: torch.tensor(v) for k, v in labels.items()}})
    return found


def mrpc_batches(tokenizer, folder: str, count: int) -> list[dict]:
    rows = mrpc_peer.read_mrpc(os.path.join(folder, "train.tsv"))
    order = torch.randperm(len(rows), generator=torch.Generator().manual_seed(42)).tolist()[: count * BATCH]
    encoded = dict(zip(order, mrpc_peer.encode(tokenizer, [rows[i] for i in order])))
    pairs = mrpc_peer.batches(tokenizer, rows, encoded, order, BATCH)
    return [{**inputs, "labels": labels} for inputs, labels in pairs]


def pretraining_batches(count: int) -> list[dict]:
    generator = torch.Generator().manual_seed(42)
    ids = torch.randint(5, 30000, (8, 128), generator=generator)
    labels = torch.full_like(ids, -100)
    labels[:, :20] = ids[:, :20]
    inputs = {"input_ids": ids, "token_type_ids": torch.zeros_like(ids), "attention_mask": torch.ones_like(ids)}
    order = torch.randint(0, 2, (8,), generator=generator)
    return [{**inputs, "labels": labels, "sentence_order_label": order}] * count


def albert_pretraining(values: dict, attn_implementation: str) -> AlbertForPreTraining:
    return AlbertForPreTraining(AlbertConfig(**values, attn_implementation=attn_implementation))


def cases(args: argparse.Namespace):
    """(name, model builder taking attn_implementation, batches with labels) of each peer."""
    count = args.steps + 1
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    squad = squad_batches(tokenizer, args.squad_file, count)
    yield "squad BertForQuestionAnswering", partial(BertForQuestionAnswering.from_pretrained, args.model), squad
    classifier = partial(BertForSequenceClassification.from_pretrained, args.model, num_labels=2)
    yield "mrpc BertForSequenceClassification", classifier, mrpc_batches(tokenizer, args.mrpc_dir, count)
    if args.albert_config:
        with open(args.albert_config, encoding="utf-8") as f:
            pretraining = partial(albert_pretraining, json.load(f))
        yield "pretraining AlbertForPreTraining", pretraining, pretraining_batches(count)


def seconds_per_step(models: dict[str, torch.nn.Module], inputs: list[dict], bf16: bool) -> dict[str, float]:
    """The median seconds per training step of each model, after one warm-up step; the models
    take turns batch by batch, so that the machine's drift falls on each alike."""
    optimizers = {kernel: adamw(model.train(), 5e-5) for kernel, model in models.items()}
    times = {kernel: [] for kernel in models}
    for batch in inputs:
        for kernel, model in models.items():
            start = time.perf_counter()
            train_step(model, optimizers[kernel], batch, bf16)
            times[kernel].append(time.perf_counter() - start)
    return {kernel: statistics.median(seconds[1:]) for kernel, seconds in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="folder of the BERT checkpoint (weights, config, vocab)")
    parser.add_argument("--squad_file", default=os.path.join(DATA, "squad", "train-v1.1.first11articles.json"))
    parser.add_argument("--mrpc_dir", default=os.path.join(DATA, "mrpc"))
    parser.add_argument("--albert_config", help="an albert_config.json: also times AlbertForPreTraining")
    parser.add_argument("--steps", type=int, default=4, help="timed steps per kernel and precision")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    peer = f"transformers {__import__('transformers').__version__} / torch {torch.__version__}"
    for name, build, inputs in cases(args):
        for data_type in ("bf16", "fp32"):
            torch.manual_seed(0)
            models = {kernel: build(attn_implementation=kernel) for kernel in ("sdpa", "eager")}
            seconds = seconds_per_step(models, inputs, data_type == "bf16")
            result = {"benchmark": "peer_attention", "peer": peer, "model": name, "data_type": data_type}
            result.update({f"{k}_seconds_per_step": round(v, 3) for k, v in seconds.items()})
            result["faster"] = min(seconds, key=seconds.get)
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
