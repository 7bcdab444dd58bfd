"""What the PyTorch peers share (benchmarks/mrpc_peer.py, squad_peer.py, throughput_peer.py):
Hugging Face's AdamW and bf16 autocast. Imports torch only, never TensorFlow or this project."""

from __future__ import annotations

import contextlib

import torch


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
