"""GLUE tasks: reading GLUE's TSV files, turning examples into features, caching the features
as TFRecords, and batching them.

Files are read as GLUE's download script writes them and as Google's ALBERT reads them
(`classifier_utils._read_tsv`): UTF-8 with or without a byte-order mark, tab-separated with no
quoting (MRPC's sentences hold `"`), a header row except in CoLA's train/dev files. Every row
must have the header's number of columns and a label of the task; anything else is an
`InputError` naming the file and line.

Features are cached next to the output, in a file named after a key of everything that decides
them (the task, the source file's bytes, the tokenizer's vocabulary and settings, the sequence
length), so a second run reads the cache and a changed input gets new features.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Iterator

import numpy as np
import tensorflow as tf

from albert import files, metrics
from albert.data.documents import InputError
from albert.data.features import (
    SHUFFLE_BUFFER,
    batch_training,
    cache_key,
    pack_inputs,
    read_feature_records,
    round_length,
)
from albert.data.tfrecord import ShardedWriter, encode_example, float_feature, frame_record, int64_feature

FEATURES_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Columns:
    """Where a split's fields are: column indices (negative from the end); `columns` is the
    required number when the file has no header."""

    text_a: int
    text_b: int | None = None
    label: int | None = None
    index: int | None = None
    header: bool = True
    columns: int | None = None


@dataclasses.dataclass(frozen=True)
class Task:
    """A GLUE task: its files, columns, labels (None: regression) and main metric."""

    name: str
    labels: tuple[str, ...] | None
    labelled: Columns
    test: Columns
    dev_file: str = "dev.tsv"
    test_file: str = "test.tsv"
    submission: str = ""
    main_metric: str = "accuracy"

    @property
    def is_regression(self) -> bool:
        return self.labels is None

    @property
    def num_labels(self) -> int:
        return 1 if self.labels is None else len(self.labels)

    def file(self, split: str) -> str:
        return {"train": "train.tsv", "dev": self.dev_file, "test": self.test_file}[split]


_BINARY = ("0", "1")
_ENTAILMENT = ("entailment", "not_entailment")
_PAIR = Columns(text_a=1, text_b=2, label=3)
_PAIR_TEST = Columns(text_a=1, text_b=2, index=0)
_MNLI_MATCHED = Task(
    "MNLI",
    ("contradiction", "entailment", "neutral"),
    Columns(text_a=8, text_b=9, label=-1),
    Columns(text_a=8, text_b=9, index=0),
    dev_file="dev_matched.tsv",
    test_file="test_matched.tsv",
    submission="MNLI-m.tsv",
)

TASKS = {
    task.name.lower(): task
    for task in (
        Task(
            "CoLA",
            _BINARY,
            Columns(text_a=3, label=1, header=False, columns=4),
            Columns(text_a=1, index=0),
            main_metric="matthews_corrcoef",
        ),
        Task("SST-2", _BINARY, Columns(text_a=0, label=1), Columns(text_a=1, index=0)),
        Task("MRPC", _BINARY, Columns(text_a=3, text_b=4, label=0), Columns(text_a=3, text_b=4, index=0)),
        Task(
            "STS-B",
            None,
            Columns(text_a=7, text_b=8, label=-1),
            Columns(text_a=7, text_b=8, index=0),
            main_metric="pearson",
        ),
        Task("QQP", _BINARY, Columns(text_a=3, text_b=4, label=5), _PAIR_TEST),
        _MNLI_MATCHED,
        dataclasses.replace(
            _MNLI_MATCHED,
            name="MNLI-MM",
            dev_file="dev_mismatched.tsv",
            test_file="test_mismatched.tsv",
            submission="MNLI-mm.tsv",
        ),
        Task("QNLI", _ENTAILMENT, _PAIR, _PAIR_TEST),
        Task("RTE", _ENTAILMENT, _PAIR, _PAIR_TEST),
        Task("WNLI", _BINARY, _PAIR, _PAIR_TEST),
    )
}
# Other spellings users type (Google's run_classifier: sst-2, sts-b, mismnli).
ALIASES = {"sst2": "sst-2", "stsb": "sts-b", "mnli-m": "mnli", "mismnli": "mnli-mm", "mnli_mismatched": "mnli-mm"}


def get_task(name: str) -> Task:
    key = ALIASES.get(name.lower(), name.lower())
    if key not in TASKS:
        raise InputError(f"--task_name {name!r}: unknown task; use one of {', '.join(t.name for t in TASKS.values())}")
    return TASKS[key]


@dataclasses.dataclass
class Example:
    """One row: its texts, its label (a label string, a float for regression, None in test files)
    and its GLUE index (test files) or `file:line`."""

    guid: str
    text_a: str
    text_b: str | None
    label: str | float | None


def read_examples(task: Task, data_dir: str, split: str) -> list[Example]:
    """The examples of `split` ("train", "dev" or "test") from `data_dir`."""
    path = os.path.join(data_dir, task.file(split))
    if not os.path.isfile(path):
        raise InputError(
            f"{path}: not found; --data_dir must hold GLUE's {task.name} files "
            f"({', '.join(task.file(s) for s in ('train', 'dev', 'test'))})"
        )
    columns = task.test if split == "test" else task.labelled
    examples = []
    with open(path, encoding="utf-8-sig", newline="") as f:
        expected = columns.columns
        for number, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if number == 1 and columns.header:
                expected = len(line.split("\t"))
                continue
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != expected:
                raise InputError(
                    f"{path}:{number}: {len(fields)} tab-separated columns, expected {expected} "
                    f"({'as in the header' if columns.header else task.name}); fix or remove the line"
                )
            examples.append(_example(task, columns, fields, path, number))
    return examples


def _example(task: Task, columns: Columns, fields: list[str], path: str, number: int) -> Example:
    label: str | float | None = None
    if columns.label is not None:
        label = fields[columns.label].strip()
        if task.is_regression:
            try:
                label = float(label)
            except ValueError:
                raise InputError(f"{path}:{number}: score {label!r} is not a number") from None
        elif label not in task.labels:
            raise InputError(
                f"{path}:{number}: unknown label {label!r} for {task.name}; expected one of {', '.join(task.labels)}"
            )
    guid = fields[columns.index] if columns.index is not None else f"{os.path.basename(path)}:{number}"
    text_b = fields[columns.text_b] if columns.text_b is not None else None
    return Example(guid, fields[columns.text_a], text_b, label)


# ----------------------------------------------------------------------------------------------
# Features and their cache
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass
class FeatureFile:
    """Cached features of one split: the TFRecord file, the examples' guids in order, and the
    true label of each (None for test files)."""

    path: str
    guids: list[str]
    labels: list | None

    def __len__(self) -> int:
        return len(self.guids)


def _label_value(task: Task, label) -> int | float:
    return label if task.is_regression else task.labels.index(label)


def _encode(task: Task, examples: list[Example], tokenizer, max_seq_length: int) -> Iterator[bytes]:
    chunk = 1024
    for start in range(0, len(examples), chunk):
        part = examples[start : start + chunk]
        ids_a = tokenizer.encode_batch([e.text_a for e in part])
        ids_b = tokenizer.encode_batch([e.text_b for e in part]) if task.labelled.text_b is not None else None
        for i, example in enumerate(part):
            ids, segments = pack_inputs(
                ids_a[i], ids_b[i] if ids_b else None, max_seq_length, tokenizer.cls_id, tokenizer.sep_id
            )
            features = {"input_ids": int64_feature(ids), "segment_ids": int64_feature(segments)}
            if example.label is not None:
                value = _label_value(task, example.label)
                features["label"] = float_feature([value]) if task.is_regression else int64_feature([value])
            yield frame_record(encode_example(features))


def cached_features(
    task: Task,
    data_dir: str,
    split: str,
    tokenizer,
    max_seq_length: int,
    cache_dir: str,
    log: Callable[[str], None] = print,
    limit: int = 0,
) -> FeatureFile:
    """The features of `split` (its first `limit` examples when > 0), from the cache in
    `cache_dir` when its key matches, else tokenized and written there (atomically: the
    records, then the index that validates them)."""
    source = os.path.join(data_dir, task.file(split))
    if not os.path.isfile(source):
        read_examples(task, data_dir, split)  # the one-line error
    key = cache_key(source, FEATURES_VERSION, task.name, split, tokenizer.fingerprint(), max_seq_length, limit)
    stem = os.path.join(cache_dir, f"{task.name}-{split}-{max_seq_length}-{key}")
    index_path = f"{stem}.json"
    if os.path.exists(index_path) and os.path.exists(f"{stem}.tfrecord"):
        with open(index_path, encoding="utf-8") as f:
            index = json.load(f)
        return FeatureFile(f"{stem}.tfrecord", index["guids"], index["labels"])
    examples = read_examples(task, data_dir, split)[: limit if limit > 0 else None]
    if not examples:
        raise InputError(f"{source}: no examples")
    log(f"tokenizing {len(examples)} {task.name} {split} examples from {source}")
    with ShardedWriter([f"{stem}.tfrecord"]) as writer:
        for record in _encode(task, examples, tokenizer, max_seq_length):
            writer.write(record)
    labels = None if examples[0].label is None else [e.label for e in examples]
    tmp = files.temporary_path(index_path)
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"source": source, "guids": [e.guid for e in examples], "labels": labels}, f)
    os.replace(tmp, index_path)
    return FeatureFile(f"{stem}.tfrecord", [e.guid for e in examples], labels)


def make_dataset(
    features: FeatureFile,
    task: Task,
    batch_size: int,
    *,
    is_training: bool,
    seed: int = 12345,
    bucket_width: int = 0,
    max_seq_length: int = 512,
    fixed_shapes: bool = False,
    num_workers: int = 1,
    worker_index: int = 0,
) -> tf.data.Dataset:
    """Batches of `input_ids`, `input_mask`, `segment_ids` (int32, padded to the longest in the
    batch, rounded up to a multiple of `features.LENGTH_MULTIPLE`) and `label` (when the file has labels).

    Training data is shuffled (all of it, up to `SHUFFLE_BUFFER` examples), repeated, and batched
    as it comes (every batch is full). The classifier's encoder skips the padding
    (`modeling.Packing`), so random batches cost little more than sorted ones. With
    `bucket_width` each batch instead comes from one length bucket that many tokens wide: less
    padding, but batches that are not random. Evaluation and prediction data is read once, in
    file order. `fixed_shapes` pads training batches to their bucket's width, or to
    `max_seq_length` without buckets (a few shapes for XLA to compile), instead of to their
    longest sequence. With several workers, each trains on its shard
    (every `num_workers`-th example, from `worker_index`)."""
    targets = {}
    if features.labels is not None:
        targets["label"] = tf.io.FixedLenFeature([], tf.float32 if task.is_regression else tf.int64)
    dataset = read_feature_records(features.path, targets)
    if not is_training:
        dataset = dataset.padded_batch(batch_size)
    else:
        dataset = dataset.shard(num_workers, worker_index)
        dataset = dataset.shuffle(min(len(features), SHUFFLE_BUFFER), seed=seed, reshuffle_each_iteration=True)
        dataset = dataset.repeat()
        if not bucket_width:
            dataset = batch_training(dataset, batch_size, max_seq_length if fixed_shapes else None)
        else:
            # Bucket i holds lengths [boundary i-1, boundary i): widths 1..w, w+1..2w, ...
            boundaries = list(range(bucket_width + 1, max_seq_length + bucket_width, bucket_width))
            dataset = dataset.bucket_by_sequence_length(
                lambda x: tf.shape(x["input_ids"])[0],
                bucket_boundaries=boundaries,
                bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
                pad_to_bucket_boundary=fixed_shapes,
                drop_remainder=True,
            )
    return dataset.map(round_length).prefetch(tf.data.AUTOTUNE)


# ----------------------------------------------------------------------------------------------
# Metrics and submissions
# ----------------------------------------------------------------------------------------------


def predictions_from_logits(task: Task, logits: np.ndarray) -> np.ndarray:
    return logits[:, 0] if task.is_regression else np.argmax(logits, axis=-1)


def task_metrics(task: Task, logits: np.ndarray, labels: list) -> dict[str, float]:
    """The task's metrics and loss from the model's logits on the labelled examples."""
    predictions = predictions_from_logits(task, logits)
    if task.is_regression:
        return {
            "pearson": metrics.pearson(predictions, labels),
            "spearman": metrics.spearman(predictions, labels),
            "loss": metrics.mean_squared_error(predictions, labels),
        }
    ids = np.array([_label_value(task, label) for label in labels])
    results = {"accuracy": metrics.accuracy(predictions, ids), "loss": metrics.softmax_cross_entropy(logits, ids)}
    if task.name in ("MRPC", "QQP"):
        results["f1"] = metrics.f1(predictions, ids)
    if task.name == "CoLA":
        results["matthews_corrcoef"] = metrics.matthews_corrcoef(predictions, ids)
    return results


def submission_name(task: Task) -> str:
    """GLUE's file name for the task's test predictions (e.g. MRPC.tsv, MNLI-m.tsv)."""
    return task.submission or f"{task.name}.tsv"


def write_submission(path: str, task: Task, features: FeatureFile, logits: np.ndarray) -> None:
    """GLUE's submission format: a header `index<TAB>prediction`, then one row per test example
    with its index and the predicted label (a score for STS-B). Atomic."""
    predictions = predictions_from_logits(task, logits)
    tmp = files.temporary_path(path)
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("index\tprediction\n")
        for guid, prediction in zip(features.guids, predictions):
            value = f"{float(prediction):.3f}" if task.is_regression else task.labels[int(prediction)]
            f.write(f"{guid}\t{value}\n")
    os.replace(tmp, path)
