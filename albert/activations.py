"""Activation functions by the names that model configs use.

Google's BERT and ALBERT call the tanh approximation of GELU "gelu" (their `modeling.gelu`);
Hugging Face calls the same function "gelu_new" and uses "gelu" for the exact erf form. A config
read from Google's files therefore means the tanh form, and the Hugging Face importer maps HF's
"gelu" to "gelu_erf".
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from albert import kernels

# GELU, tanh approximation 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), and the exact form x·Φ(x):
# fused kernels (albert/kernels.py).
gelu_tanh = kernels.gelu_tanh
gelu_erf = kernels.gelu_erf


ACTIVATIONS: dict[str, Callable[[tf.Tensor], tf.Tensor]] = {
    "gelu": gelu_tanh,
    "gelu_new": gelu_tanh,
    "gelu_erf": gelu_erf,
    "relu": tf.nn.relu,
    "tanh": tf.tanh,
    "swish": tf.nn.silu,
    "silu": tf.nn.silu,
    "linear": tf.identity,
}


def get_activation(name: str) -> Callable[[tf.Tensor], tf.Tensor]:
    """The activation called `name` in a model config (see ACTIVATIONS)."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; use one of {', '.join(sorted(ACTIVATIONS))}") from None
