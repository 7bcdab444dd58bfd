"""What every checkpoint format shares: the error, the model's variables, and error listings."""

from __future__ import annotations

from collections.abc import Iterable

import keras


class CheckpointError(ValueError):
    """A checkpoint that does not fit the model; the message is one line."""


def listing(names: Iterable[str], limit: int = 8) -> str:
    """The first `limit` of `names`, sorted, and how many more, for a one-line error."""
    names = sorted(names)
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def model_variables(model: keras.Model) -> list:
    """The model's weights without its dropout seed states (they are not weights)."""
    return [v for v in model.weights if "seed_generator" not in v.path]
