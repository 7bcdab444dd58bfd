"""Reading pretraining TFRecords (this project's and those of Google's own script) into batches.

Each worker reads a disjoint part of the data: with at least as many files as workers, whole
files (file `i` goes to worker `i mod workers`); with fewer files, every worker reads all files
and keeps every `workers`-th record. Training data is shuffled (files, then records), repeated
and prefetched; evaluation data is read once, in order.
"""

from __future__ import annotations

import re
import time

import tensorflow as tf

from albert.data.documents import InputError, expand_input_patterns
from albert.data.schema import pretraining_features

# Features the model and losses read (token_boundary is in the files but not needed).
TRAINING_FEATURES = (
    "input_ids",
    "input_mask",
    "segment_ids",
    "masked_lm_positions",
    "masked_lm_ids",
    "masked_lm_weights",
    "next_sentence_labels",
)


def parsing_spec(max_seq_length: int, max_predictions_per_seq: int) -> dict[str, tf.io.FixedLenFeature]:
    features = pretraining_features(max_seq_length, max_predictions_per_seq)
    return {name: tf.io.FixedLenFeature([features[name][0]], features[name][1]) for name in TRAINING_FEATURES}


def _cast(batch: dict) -> dict:
    return {k: tf.cast(v, tf.int32) if v.dtype == tf.int64 else v for k, v in batch.items()}


def check_pretraining_records(files: list[str], max_seq_length: int, max_predictions_per_seq: int) -> None:
    """Reads the first record of every file and checks Google's features and their lengths, so
    that a mismatch is a one-line error naming the file before training starts."""
    expected = pretraining_features(max_seq_length, max_predictions_per_seq)
    for path in files:
        try:
            first = next(iter(tf.data.TFRecordDataset(path).take(1)), None)
        except tf.errors.OpError as err:
            raise InputError(f"{path}: not a readable TFRecord file ({err.message.splitlines()[0]})") from None
        if first is None:
            raise InputError(f"{path}: no records; regenerate it with data_preprocessing/create_training_data.py")
        example = tf.train.Example.FromString(first.numpy())
        for name in TRAINING_FEATURES:
            length, dtype = expected[name]
            if name not in example.features.feature:
                raise InputError(f"{path}: record 0 has no feature {name!r}; is this pretraining data?")
            feature = example.features.feature[name]
            values = feature.float_list.value if dtype == "float32" else feature.int64_list.value
            if len(values) != length:
                flag = "--max_seq_length" if length == max_seq_length else "--max_predictions_per_seq"
                raise InputError(
                    f"{path}: record 0 has {len(values)} values of {name}, expected {length}; "
                    f"set {flag} to the value the data was made with"
                )


def check_token_ids(files: list[str], vocab_size: int, records: int = 64) -> None:
    """The token ids of the first `records` records of every file must be below the model's
    `vocab_size` (a larger id fails deep in the embedding lookup, mid-training)."""
    for path in files:
        try:
            for index, record in enumerate(tf.data.TFRecordDataset(path).take(records)):
                _check_ids(tf.train.Example.FromString(record.numpy()), vocab_size, f"{path}: record {index}")
        except tf.errors.DataLossError as err:
            raise InputError(f"{path}: {damage(err)}; make the file again") from None


def _check_ids(example: tf.train.Example, vocab_size: int, where: str) -> None:
    features = example.features.feature
    largest = max(max(features[name].int64_list.value, default=0) for name in ("input_ids", "masked_lm_ids"))
    if largest >= vocab_size:
        raise InputError(
            f"{where} has token id {largest}, but the model's vocab_size is {vocab_size}; "
            "pass the config of the vocabulary the records were made with"
        )


def find_damaged_record(files: list[str], seconds: float = 120.0) -> str | None:
    """The first damaged record of `files`, read in full: "<file>: a corrupted record at byte
    <offset>"; None when every file read (or `seconds` passed) finds none."""
    deadline = time.monotonic() + seconds
    for path in files:
        try:
            for _ in tf.data.TFRecordDataset(path, buffer_size=1 << 22):
                if time.monotonic() > deadline:
                    return None
        except tf.errors.DataLossError as err:
            return f"{path}: {damage(err)}"
    return None


def damage(err: tf.errors.DataLossError) -> str:
    """TensorFlow's account of a damaged TFRecord, short: e.g. "a truncated record at byte 4439"."""
    found = re.search(r"(corrupted|truncated) record at (\d+)", err.message)
    return f"a {found[1]} record at byte {found[2]}" if found else f"damaged ({err.message.splitlines()[0][:100]})"


def make_pretraining_dataset(
    input_patterns: str | list[str],
    batch_size: int,
    max_seq_length: int,
    max_predictions_per_seq: int,
    *,
    is_training: bool = True,
    num_workers: int = 1,
    worker_index: int = 0,
    seed: int | None = None,
    shuffle_buffer: int = 10_000,
    cycle_length: int = 4,
) -> tf.data.Dataset:
    """Batches of Google's pretraining features (int32, `masked_lm_weights` float32).

    `input_patterns`: comma-separated globs or a list of them. Training batches drop the
    remainder so that every step has the same shape.
    """
    files = expand_input_patterns(input_patterns)
    if not 0 <= worker_index < num_workers:
        raise ValueError(f"worker_index {worker_index} is outside 0..{num_workers - 1}")
    record_sharding = len(files) < num_workers
    if not record_sharding:
        files = files[worker_index::num_workers]

    dataset = tf.data.Dataset.from_tensor_slices(files)
    if is_training and not record_sharding:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True).repeat()
        dataset = dataset.interleave(
            tf.data.TFRecordDataset,
            cycle_length=min(cycle_length, len(files)),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
    else:
        dataset = dataset.flat_map(tf.data.TFRecordDataset)
        if record_sharding:
            dataset = dataset.shard(num_workers, worker_index)
        if is_training:
            dataset = dataset.repeat()
    if is_training:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed)
    dataset = dataset.batch(batch_size, drop_remainder=is_training)
    spec = parsing_spec(max_seq_length, max_predictions_per_seq)
    dataset = dataset.map(
        lambda records: _cast(tf.io.parse_example(records, spec)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    return dataset.prefetch(tf.data.AUTOTUNE)
