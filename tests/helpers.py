"""Small builders shared by the tests."""

from __future__ import annotations

import numpy as np


def randomize_weights(model, seed: int = 0, scale: float = 0.2) -> dict[str, np.ndarray]:
    """Gives every variable random values (LayerNorm gammas near 1, everything else around 0, so
    that no bias or normalisation parameter hides behind its initial value) and returns them by
    path, in float64."""
    rng = np.random.default_rng(seed)
    values = {}
    for v in model.weights:
        if "seed_generator" in v.path:  # dropout RNG state, not a weight
            continue
        if v.path.endswith("/gamma"):
            value = 1.0 + scale * rng.standard_normal(v.shape)
        else:
            value = scale * rng.standard_normal(v.shape)
        v.assign(value.astype(v.dtype))
        values[v.path] = np.asarray(v.numpy(), dtype=np.float64)
    return values


def pretraining_batch(
    batch_size: int, seq_length: int, predictions: int, vocab_size: int, seed: int = 0, pad: bool = True
) -> dict[str, np.ndarray]:
    """A random batch with Google's pretraining feature names; with `pad`, example i has
    `seq_length - i` real tokens, so the batch mixes padded and full rows."""
    rng = np.random.default_rng(seed)
    lengths = [max(seq_length - i, 4) if pad else seq_length for i in range(batch_size)]
    input_ids = np.zeros((batch_size, seq_length), np.int32)
    input_mask = np.zeros_like(input_ids)
    segment_ids = np.zeros_like(input_ids)
    positions = np.zeros((batch_size, predictions), np.int32)
    for i, n in enumerate(lengths):
        input_ids[i, :n] = rng.integers(5, vocab_size, n)
        input_mask[i, :n] = 1
        segment_ids[i, n // 2 : n] = 1
        positions[i] = np.sort(rng.choice(np.arange(1, n), predictions, replace=False))
    return {
        "input_ids": input_ids,
        "input_mask": input_mask,
        "segment_ids": segment_ids,
        "masked_lm_positions": positions,
        "masked_lm_ids": rng.integers(5, vocab_size, (batch_size, predictions)).astype(np.int32),
        "masked_lm_weights": np.ones((batch_size, predictions), np.float32),
        "next_sentence_labels": rng.integers(0, 2, (batch_size, 1)).astype(np.int32),
    }
