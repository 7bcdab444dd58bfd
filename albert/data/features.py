"""Fine-tuning inputs from token ids: `[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]`, truncated the
way Google's `run_classifier.py` does (`_truncate_seq_pair`: drop the last token of the longer
text until the pair fits; on a tie, of the second). One home for the rule, used by the
fine-tuning data and by the raw-text serving signature (`albert.serving`). Also the reader of
the fine-tuning feature records both tasks write (unpadded `input_ids` and `segment_ids`), and
the rounding of their batch lengths."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import tensorflow as tf


def truncated_lengths(length_a: int, length_b: int, budget: int) -> tuple[int, int]:
    """Lengths `_truncate_seq_pair` keeps of texts of `length_a` and `length_b` tokens when at most
    `budget` tokens fit. Popping the longer text one token at a time ends with the shorter one kept
    whole when it fits in half the budget, and otherwise both at half (the first gets the odd one);
    the closed form below is that end state (and `albert.serving` computes it in-graph)."""
    kept_a = min(length_a, budget - min(length_b, budget // 2))
    return kept_a, min(length_b, budget - kept_a)


def pack_inputs(
    ids_a: Sequence[int], ids_b: Sequence[int] | None, max_seq_length: int, cls_id: int, sep_id: int
) -> tuple[list[int], list[int]]:
    """(`input_ids`, `segment_ids`), unpadded: `[CLS] a [SEP]` (segment 0) and `b [SEP]` (segment 1)
    when there is a second text, truncated to `max_seq_length` tokens in all."""
    if ids_b is None:
        ids_a = list(ids_a[: max_seq_length - 2])
        return [cls_id, *ids_a, sep_id], [0] * (len(ids_a) + 2)
    kept_a, kept_b = truncated_lengths(len(ids_a), len(ids_b), max_seq_length - 3)
    first = [cls_id, *ids_a[:kept_a], sep_id]
    second = [*ids_b[:kept_b], sep_id]
    return first + second, [0] * len(first) + [1] * len(second)


# Training examples shuffled at once, at most: the buffer is part of a checkpoint's input position.
SHUFFLE_BUFFER = 20000


def cache_key(source: str, *settings) -> str:
    """A key of a feature cache: the source file's bytes and everything else that decides the
    features (JSON-serialisable settings, e.g. the tokenizer's fingerprint)."""
    digest = hashlib.sha256(json.dumps(settings).encode())
    with open(source, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def read_feature_records(path: str, targets: dict[str, tf.io.FixedLenFeature]) -> tf.data.Dataset:
    """Examples of `input_ids`, `input_mask` and `segment_ids` (int32, unpadded) and the scalar
    `targets` (int64 read as int32, floats as they are) from a feature TFRecord file."""
    spec = {"input_ids": tf.io.VarLenFeature(tf.int64), "segment_ids": tf.io.VarLenFeature(tf.int64), **targets}

    def parse(record):
        parsed = tf.io.parse_single_example(record, spec)
        ids = tf.cast(tf.sparse.to_dense(parsed.pop("input_ids")), tf.int32)
        out = {"input_ids": ids, "input_mask": tf.ones_like(ids)}
        out["segment_ids"] = tf.cast(tf.sparse.to_dense(parsed.pop("segment_ids")), tf.int32)
        out.update({k: tf.cast(v, tf.int32) if v.dtype == tf.int64 else v for k, v in parsed.items()})
        return out

    return tf.data.TFRecordDataset(path).map(parse, num_parallel_calls=tf.data.AUTOTUNE)


# Batches are padded to their longest sequence rounded up to this: shapes recur, and each new
# shape costs compiling the fused kernels and new oneDNN primitives.
LENGTH_MULTIPLE = 8


def round_length(batch: dict) -> dict:
    """Pads a batch's [B, S] features (the token features; labels and positions are [B]) with
    zeros to a multiple of `LENGTH_MULTIPLE`."""
    extra = -tf.shape(batch["input_ids"])[1] % LENGTH_MULTIPLE
    return {k: tf.pad(v, [[0, 0], [0, extra]]) if v.shape.rank == 2 else v for k, v in batch.items()}


def batch_training(dataset: tf.data.Dataset, batch_size: int, fixed_length: int | None = None) -> tf.data.Dataset:
    """Full batches of training examples, each token feature padded to the batch's longest
    sequence, or with `fixed_length` to that many tokens (one shape for XLA to compile)."""
    shapes = {
        k: [fixed_length] if fixed_length and v.shape.rank == 1 else v.shape for k, v in dataset.element_spec.items()
    }
    return dataset.padded_batch(batch_size, padded_shapes=shapes, drop_remainder=True)
