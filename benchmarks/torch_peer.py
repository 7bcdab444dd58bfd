"""What the PyTorch peers share (benchmarks/mrpc_peer.py, squad_peer.py, throughput_peer.py,
peer_attention.py): Hugging Face's AdamW, bf16 autocast, the training step and the attention
kernel. Imports torch only, never
TensorFlow or this project."""

from __future__ import annotations

import argparse
import contextlib

import torch

# transformers' attention kernel each peer trains with unless --attention says otherwise: the
# faster of its two CPU kernels in each precision, as benchmarks/peer_attention.py measures them
# on the peers' own batches (2 cores with AVX512-BF16, PyTorch 2.13, transformers 5.25). Under
# bf16 autocast, "eager" (its own matmul, softmax, matmul) takes 13-14 % less time per step than
# "sdpa" (PyTorch's fused kernel, transformers' default) for MRPC and ALBERT pretraining, and is
# within noise of it for SQuAD; in fp32 the two are within a few percent, "sdpa" mostly ahead.
FASTEST_ATTENTION = {"bf16": "eager", "fp32": "sdpa"}


def add_attention_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--attention",
        choices=("sdpa", "eager"),
        help="transformers' attn_implementation (default: the faster for the precision, "
        + ", ".join(f"{k} {v}" for k, v in FASTEST_ATTENTION.items())
        + ")",
    )


def attention(args: argparse.Namespace, bf16: bool) -> str:
    """The attention kernel of the run: --attention, or the faster one for its precision."""
    return args.attention or FASTEST_ATTENTION["bf16" if bf16 else "fp32"]


def adamw(model: torch.nn.Module, learning_rate: float) -> torch.optim.AdamW:
    """PyTorch's AdamW with Hugging Face's weight-decay exclusions (biases, LayerNorm weights)."""
    decayed, plain = [], []
    for name, parameter in model.named_parameters():
        (plain if "bias" in name or "LayerNorm.weight" in name else decayed).append(parameter)
    groups = [{"params": decayed, "weight_decay": 0.01}, {"params": plain, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=learning_rate, eps=1e-8)


def precision(bf16: bool):
    """The forward pass's context: bf16 autocast on the CPU, or nothing (fp32)."""
    return torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def train_step(model: torch.nn.Module, optimizer, inputs: dict, bf16: bool, schedule=None):
    """One update on `inputs` (labels included): the forward pass in `precision(bf16)`, the
    backward pass, clipping to global norm 1.0, the optimizer's step (and the schedule's).
    Returns the loss and the gradient norm before clipping, as tensors."""
    with precision(bf16):
        loss = model(**inputs).loss
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    if schedule is not None:
        schedule.step()
    optimizer.zero_grad()
    return loss, norm
