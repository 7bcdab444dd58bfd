"""Activation functions by the names that model configs use: the one table of activation names.

Google's BERT and ALBERT call the tanh approximation of GELU "gelu" (their `modeling.gelu`);
Hugging Face calls the same function "gelu_new" (or "gelu_pytorch_tanh") and uses "gelu" for the
exact erf form (its `activations.py`). A config read from Google's files therefore means the tanh
form, and a Hugging Face config's "gelu" is this project's "gelu_erf". `HF_NAMES` and `FROM_HF`
translate names both ways; `gelu_form` tells the fused GELU kernels which form a name means.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import tensorflow as tf

from albert import kernels

# GELU, tanh approximation 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), and the exact form x·Φ(x):
# fused kernels (albert/kernels.py).
gelu_tanh = kernels.gelu_tanh
gelu_erf = kernels.gelu_erf


@dataclasses.dataclass(frozen=True)
class Activation:
    """An activation of the table: its function, Hugging Face's names for it (the first is the one
    written, the others are also read) and, for a GELU, the form of the fused kernel."""

    function: Callable[[tf.Tensor], tf.Tensor]
    hugging_face: tuple[str, ...]
    gelu_form: str | None = None


# This project's name (as in Google's configs) → the activation. Where two names are the same
# function, the first one is the name a Hugging Face config's activation reads as.
TABLE: dict[str, Activation] = {
    "gelu": Activation(gelu_tanh, ("gelu_new", "gelu_pytorch_tanh"), gelu_form="tanh"),
    "gelu_new": Activation(gelu_tanh, ("gelu_new",), gelu_form="tanh"),
    "gelu_erf": Activation(gelu_erf, ("gelu",), gelu_form="erf"),
    "relu": Activation(tf.nn.relu, ("relu",)),
    "tanh": Activation(tf.tanh, ("tanh",)),
    "swish": Activation(tf.nn.silu, ("swish",)),
    "silu": Activation(tf.nn.silu, ("silu",)),
    "linear": Activation(tf.identity, ("linear",)),
}

ACTIVATIONS: dict[str, Callable[[tf.Tensor], tf.Tensor]] = {name: a.function for name, a in TABLE.items()}
# This project's name → Hugging Face's, and Hugging Face's → this project's.
HF_NAMES: dict[str, str] = {name: a.hugging_face[0] for name, a in TABLE.items()}
# (Reversed, so that the first of two names for one Hugging Face name is the one kept.)
FROM_HF: dict[str, str] = {hf: name for name, a in reversed(TABLE.items()) for hf in a.hugging_face}


def get_activation(name: str) -> Callable[[tf.Tensor], tf.Tensor]:
    """The activation called `name` in a model config (see TABLE)."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; use one of {', '.join(sorted(ACTIVATIONS))}") from None


def gelu_form(name: str | None) -> str | None:
    """The form of the fused GELU kernel ("tanh" or "erf", see `kernels.bias_gelu`) that the
    activation `name` means, or None when it is not a GELU."""
    activation = TABLE.get(name) if name else None
    return activation.gelu_form if activation else None
