#!/usr/bin/env python3
"""The PyTorch peer of benchmarks/throughput.py: Hugging Face transformers'
`AlbertForPreTraining` (masked LM over every position, as the model computes it, and sentence
order), trained with PyTorch's AdamW and clipping to norm 1.0, fp32 or under
`torch.autocast(bfloat16)`, with transformers' faster CPU attention kernel for the precision
(benchmarks/torch_peer.py) or `--attention`'s. It imports neither TensorFlow nor this project,
and runs under any interpreter that has torch and transformers; throughput.py starts it in a
process of its own (PyTorch and TensorFlow in one process fight over threads) and drives it
over stdin:

    python benchmarks/throughput_peer.py --config albert_config.json --batch batch.npz --precision bf16

Each line read, a number N, runs N training steps on the batch of `batch.npz` (the arrays of
throughput.random_batch) and answers one line: the seconds per step.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from torch_peer import adamw, add_attention_flag, attention, train_step
from transformers import AlbertConfig, AlbertForPreTraining


def inputs_of(path: str) -> dict[str, torch.Tensor]:
    """The model's inputs from the batch's arrays; masked-LM labels are -100 off the masked positions."""
    data = np.load(path)
    ids = torch.from_numpy(data["input_ids"]).long()
    labels = torch.full_like(ids, -100)
    positions = torch.from_numpy(data["masked_lm_positions"]).long()
    labels.scatter_(1, positions, torch.from_numpy(data["masked_lm_ids"]).long())
    return {
        "input_ids": ids,
        "attention_mask": torch.from_numpy(data["input_mask"]).long(),
        "token_type_ids": torch.from_numpy(data["segment_ids"]).long(),
        "labels": labels,
        "sentence_order_label": torch.from_numpy(data["next_sentence_labels"]).long().reshape(-1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="an albert_config.json")
    parser.add_argument("--batch", required=True, help="an .npz of throughput.random_batch's arrays")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    add_attention_flag(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    bf16 = args.precision == "bf16"
    with open(args.config, encoding="utf-8") as f:
        config = AlbertConfig(**json.load(f), attn_implementation=attention(args, bf16))
    model = AlbertForPreTraining(config)
    optimizer = adamw(model, 1e-4)
    inputs = inputs_of(args.batch)
    model.train()
    version = f"transformers {__import__('transformers').__version__} / torch {torch.__version__}"
    print(json.dumps({"peer": version, "attention": model.config._attn_implementation}))
    sys.stdout.flush()
    for line in sys.stdin:
        start = time.perf_counter()
        for _ in range(int(line)):
            loss, _ = train_step(model, optimizer, inputs, bf16)
        loss.item()
        print((time.perf_counter() - start) / int(line), flush=True)


if __name__ == "__main__":
    main()
