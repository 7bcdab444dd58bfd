"""Raw text → pretraining TFRecords, streaming and in parallel, reproducibly.

The corpus is read as a stream of documents and cut, at document boundaries, into chunks of
about `chunk_bytes` of text. Each chunk is turned into serialized records on its own — tokenize,
shuffle its documents, `dupe_factor` passes of `create_instances_from_document`, shuffle its
instances — with a random generator seeded by (seed, chunk number) alone. Worker processes take
chunks in turn and the results are consumed in chunk order, through a seeded shuffle buffer, and
dealt round-robin to the output files. So the output depends on the seed and the flags, never
on the number of workers, and memory is bounded by the chunks in flight and the buffer, not by
the corpus.

Compared with Google's script, which holds every instance of every pass in memory, documents
and instances are shuffled within a chunk plus the buffer rather than globally, and a one-sentence
chunk takes its random second segment from the documents of its own chunk.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import itertools
import json
import multiprocessing
import os
import random
import signal
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import accumulate

import numpy as np

from albert import files
from albert.data import tfrecord
from albert.data.documents import DocumentReader
from albert.data.instances import Instance, MaskingConfig, Vocabulary, create_instances_from_document
from albert.data.schema import pretraining_features
from albert.tokenization import create_tokenizer

DEFAULT_CHUNK_BYTES = 256 * 1024
DEFAULT_SHUFFLE_BUFFER = 10_000


@dataclasses.dataclass(frozen=True)
class TokenizerSpec:
    """How to build the tokenizer in each worker process (tokenizers do not pickle)."""

    spm_model_file: str | None = None
    vocab_file: str | None = None
    do_lower_case: bool = True
    normalize_quotes: bool = False

    def create(self):
        return create_tokenizer(self.spm_model_file, self.vocab_file, self.do_lower_case, self.normalize_quotes)


@dataclasses.dataclass
class Statistics:
    """What the records hold; summed over chunks."""

    documents: int = 0
    instances: int = 0
    real_tokens: int = 0  # input_mask ones, [CLS] and [SEP] included
    masked_tokens: int = 0
    sentence_order_positive: int = 0  # label 1: swapped or random second segment
    ngram_words: list[int] = dataclasses.field(default_factory=list)  # masked n-grams by word count
    # Runs of consecutive masked words in the output, by length (the last bucket: that length or
    # more); what the records themselves show of the n-gram masking.
    masked_word_runs: list[int] = dataclasses.field(default_factory=list)

    def add(self, other: Statistics) -> None:
        self.documents += other.documents
        self.instances += other.instances
        self.real_tokens += other.real_tokens
        self.masked_tokens += other.masked_tokens
        self.sentence_order_positive += other.sentence_order_positive
        self.ngram_words = _add_counts(self.ngram_words, other.ngram_words)
        self.masked_word_runs = _add_counts(self.masked_word_runs, other.masked_word_runs)

    def summary(self) -> dict:
        ngrams = sum(self.ngram_words)
        runs = sum(self.masked_word_runs)
        return {
            "documents": self.documents,
            "instances": self.instances,
            "real_tokens": self.real_tokens,
            "masked_tokens": self.masked_tokens,
            "masked_fraction": self.masked_tokens / max(self.real_tokens, 1),
            "sentence_order_label_1_fraction": self.sentence_order_positive / max(self.instances, 1),
            "masked_ngram_word_fractions": [c / max(ngrams, 1) for c in self.ngram_words],
            "masked_word_run_fractions": [c / max(runs, 1) for c in self.masked_word_runs],
        }


def _add_counts(a: list[int], b: list[int]) -> list[int]:
    width = max(len(a), len(b))
    return [(a[i] if i < len(a) else 0) + (b[i] if i < len(b) else 0) for i in range(width)]


def masked_word_runs(instance: Instance, longest: int) -> list[int]:
    """Counts of runs of consecutive masked words (words as `token_boundary` marks them), by
    length 1 .. `longest` (the last bucket takes longer runs too)."""
    counts = [0] * longest
    word_of = list(accumulate(instance.token_boundary))
    words = sorted({word_of[p] for p in instance.masked_lm_positions})
    run = 0
    for k, word in enumerate(words):
        run = run + 1 if k and word == words[k - 1] + 1 else 1
        if k + 1 == len(words) or words[k + 1] != word + 1:
            counts[min(run, longest) - 1] += 1
    return counts


_FEATURE_NAMES = tuple(pretraining_features(1, 1))  # the names do not depend on the lengths
_FLOAT_ONE = np.float32(1.0).tobytes()
_FLOAT_ZERO = np.float32(0.0).tobytes()


def serialize_instance(instance: Instance, max_seq_length: int, max_predictions_per_seq: int) -> bytes:
    """A framed TFRecord holding `instance` with Google's feature names and zero padding."""
    n = len(instance.tokens)
    p = len(instance.masked_lm_positions)
    pad, pad_p = b"\x00" * (max_seq_length - n), b"\x00" * (max_predictions_per_seq - p)
    varints = tfrecord.encode_varints
    (input_ids, input_mask, segment_ids, token_boundary, positions, masked_ids, weights, labels) = _FEATURE_NAMES
    example = tfrecord.encode_example(
        {
            input_ids: tfrecord.packed_int64_feature(varints(instance.tokens) + pad),
            input_mask: tfrecord.packed_int64_feature(b"\x01" * n + pad),
            segment_ids: tfrecord.packed_int64_feature(bytes(instance.segment_ids) + pad),
            token_boundary: tfrecord.packed_int64_feature(bytes(instance.token_boundary) + pad),
            positions: tfrecord.packed_int64_feature(varints(instance.masked_lm_positions) + pad_p),
            masked_ids: tfrecord.packed_int64_feature(varints(instance.masked_lm_ids) + pad_p),
            weights: tfrecord.float_feature_bytes(_FLOAT_ONE * p + _FLOAT_ZERO * (max_predictions_per_seq - p)),
            labels: tfrecord.packed_int64_feature(b"\x01" if instance.is_random_next else b"\x00"),
        }
    )
    return tfrecord.frame_record(example)


# ----------------------------------------------------------------------------------------------
# One chunk (runs in a worker process)
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ChunkJob:
    tokenizer: TokenizerSpec
    masking: MaskingConfig
    seed: int
    dupe_factor: int


_worker: dict = {}


def _worker_setup(job: ChunkJob) -> None:
    """Loads the tokenizer once per process."""
    if _worker.get("job") == job:
        return
    tokenizer = job.tokenizer.create()
    _worker["job"] = job
    _worker["tokenizer"] = tokenizer
    _worker["vocab"] = Vocabulary(
        size=tokenizer.vocab_size,
        cls_id=tokenizer.cls_id,
        sep_id=tokenizer.sep_id,
        mask_id=tokenizer.mask_id,
        word_start=tokenizer.word_start_mask().tolist(),
    )


def process_chunk(job: ChunkJob, index: int, documents: Sequence[Sequence[str]]) -> tuple[list[bytes], Statistics]:
    """Serialized records and statistics of one chunk; a pure function of its arguments."""
    _worker_setup(job)
    tokenizer, vocab = _worker["tokenizer"], _worker["vocab"]
    lines = [line for document in documents for line in document]
    ids = tokenizer.encode_batch(lines)
    tokenized, start = [], 0
    for document in documents:
        sentences = [s for s in ids[start : start + len(document)] if s]
        start += len(document)
        if sentences:
            tokenized.append(sentences)
    rng = random.Random(f"{job.seed}:{index}")
    rng.shuffle(tokenized)
    instances: list[Instance] = []
    for _ in range(job.dupe_factor):
        for document_index in range(len(tokenized)):
            instances.extend(create_instances_from_document(tokenized, document_index, job.masking, vocab, rng))
    rng.shuffle(instances)

    ngram = job.masking.ngram
    stats = Statistics(documents=len(tokenized), instances=len(instances), ngram_words=[0] * ngram)
    records = []
    for instance in instances:
        records.append(serialize_instance(instance, job.masking.max_seq_length, job.masking.max_predictions_per_seq))
        stats.real_tokens += len(instance.tokens)
        stats.masked_tokens += len(instance.masked_lm_positions)
        stats.sentence_order_positive += instance.is_random_next
        for words in instance.masked_ngram_lengths:
            stats.ngram_words[words - 1] += 1
        stats.masked_word_runs = _add_counts(stats.masked_word_runs, masked_word_runs(instance, ngram))
    return records, stats


def _process_chunk_args(args):
    return process_chunk(*args)


# ----------------------------------------------------------------------------------------------
# The stream
# ----------------------------------------------------------------------------------------------


def chunk_documents(documents: Iterable[list[str]], chunk_bytes: int) -> Iterator[list[list[str]]]:
    """Consecutive documents grouped into chunks of at least `chunk_bytes` characters (the last
    may be smaller); a document is never split."""
    chunk: list[list[str]] = []
    size = 0
    for document in documents:
        chunk.append(document)
        size += sum(len(line) for line in document)
        if size >= chunk_bytes:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _ordered_map(function, jobs: Iterable, num_workers: int) -> Iterator:
    """`map(function, jobs)` in order, over `num_workers` processes with at most two jobs per
    worker in flight (so a fast reader never queues the whole corpus)."""
    if num_workers <= 1:
        yield from map(function, jobs)
        return
    context = multiprocessing.get_context("spawn")  # safe even if the caller imported TensorFlow
    pool = concurrent.futures.ProcessPoolExecutor(
        num_workers, mp_context=context, initializer=die_with_parent, initargs=(os.getpid(),)
    )
    with pool:
        pending: collections.deque = collections.deque()
        for job in jobs:
            pending.append(pool.submit(function, job))
            if len(pending) >= 2 * num_workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def die_with_parent(parent: int) -> None:
    """A worker process ends when the process that started it does (Linux), even killed with
    SIGKILL, instead of waiting for work forever; also when that happened while it started."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)


def output_paths(output_file: str, num_output_shards: int = 1) -> list[str]:
    """Comma-separated output files (Google's round-robin), or one name split into
    `name-00000-of-00004` style shards."""
    paths = [p.strip() for p in output_file.split(",") if p.strip()]
    if not paths:
        raise ValueError("no output file given; pass --output_file")
    if num_output_shards < 1:
        raise ValueError(f"--num_output_shards must be at least 1, got {num_output_shards}")
    if num_output_shards > 1:
        if len(paths) > 1:
            raise ValueError("give either several --output_file names or --num_output_shards, not both")
        return [f"{paths[0]}-{i:05d}-of-{num_output_shards:05d}" for i in range(num_output_shards)]
    return paths


def summary_path(output_file: str) -> str:
    return f"{output_file.split(',')[0].strip()}.summary.json"


def create_pretraining_records(
    input_files: Sequence[str],
    output_files: Sequence[str],
    tokenizer: TokenizerSpec,
    masking: MaskingConfig,
    *,
    seed: int = 12345,
    dupe_factor: int = 40,
    num_workers: int = 1,
    errors: str = "strict",
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    shuffle_buffer: int = DEFAULT_SHUFFLE_BUFFER,
    on_progress: Callable[[int, int, int], None] | None = None,
    documents: slice = slice(None),
) -> Statistics:
    """Writes the records of `input_files` to `output_files`; returns their statistics.

    `documents` selects the documents used, by their place in the input (a held-out set:
    `slice(0, n)`, the training set without it: `slice(n, None)`).
    `on_progress(documents, input_bytes_done, input_bytes_total)` is called after each chunk.
    Every output file is complete or absent: a failure removes what was being written.
    """
    if dupe_factor < 1:
        raise ValueError(f"--dupe_factor must be at least 1, got {dupe_factor}")
    tokenizer.create()  # fail early, in this process, on a bad vocabulary
    job = ChunkJob(tokenizer, masking, seed, dupe_factor)
    reader = DocumentReader(input_files, errors=errors)
    selected = itertools.islice(reader, documents.start, documents.stop)
    chunks = ((job, index, chunk) for index, chunk in enumerate(chunk_documents(selected, chunk_bytes)))
    stats = Statistics(ngram_words=[0] * masking.ngram)
    rng = random.Random(f"{seed}:output")
    buffer: list[bytes] = []
    with tfrecord.ShardedWriter(output_files) as writer:
        for records, chunk_stats in _ordered_map(_process_chunk_args, chunks, num_workers):
            stats.add(chunk_stats)
            for record in records:
                if len(buffer) < shuffle_buffer:
                    buffer.append(record)
                else:
                    slot = rng.randrange(shuffle_buffer)
                    writer.write(buffer[slot])
                    buffer[slot] = record
            if on_progress:
                on_progress(stats.documents, reader.position, reader.total)
        rng.shuffle(buffer)
        for record in buffer:
            writer.write(record)
        if stats.instances == 0:
            raise ValueError(
                f"{', '.join(input_files)}: no training instances (no text, or every document empty); "
                "check the input format: one sentence per line, blank lines between documents"
            )
    return stats


def write_summary(path: str, stats: Statistics, seconds: float, settings: dict) -> dict:
    summary = stats.summary()
    summary["seconds"] = round(seconds, 3)
    summary["tokens_per_second"] = round(stats.real_tokens / max(seconds, 1e-9))
    summary["settings"] = settings
    tmp = files.temporary_path(path)
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)
    return summary
