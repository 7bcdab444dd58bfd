#!/usr/bin/env python3
"""Throughput and peak memory of data_preprocessing/create_training_data.py.

Runs the wiki corpus of ../shared/data (dupe_factor 1, max_seq_length 128, ALBERT's vocabulary)
with 1 and 2 workers, and the same corpus repeated 10 times, each in a fresh process; prints one
JSON line per run: tokens/s (wall clock, process start-up included) and the peak resident memory
of the main process and of the largest worker.

    python benchmarks/create_training_data.py [--repeat 10]

The peer, Google's create_pretraining_data.py (TF 2.21 through tf.compat.v1), measured on this
machine type on the same corpus and flags: 8613 instances, 1,015,902 tokens, about 64,000
tokens/s, peak RSS 694 MB, growing with corpus × dupe_factor. Its code is not part of this
project, so its figures are quoted, not re-run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "data")
CORPUS = os.path.join(SHARED, "corpus", "wiki_sentences.txt")
SPM = os.path.join(SHARED, "albert_spm", "30k-clean.reconstructed.model")
PEER = {"peer": "google create_pretraining_data.py (quoted)", "tokens_per_second": 64000, "peak_rss_mb": 694}


def child(args: argparse.Namespace) -> None:
    sys.path.insert(0, ROOT)
    from albert.data.instances import MaskingConfig
    from albert.data.pretraining_records import TokenizerSpec, create_pretraining_records

    start = time.perf_counter()
    stats = create_pretraining_records(
        [args.input],
        [args.output],
        TokenizerSpec(SPM),
        MaskingConfig(max_seq_length=128, max_predictions_per_seq=20),
        dupe_factor=1,
        num_workers=args.workers,
    )
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "instances": stats.instances,
                "tokens": stats.real_tokens,
                "seconds": round(seconds, 3),
                "main_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "worker_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
            }
        )
    )


def measure(corpus: str, workers: int, label: str, out_dir: str) -> dict:
    start = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            "--input",
            corpus,
            "--output",
            os.path.join(out_dir, "out.tfrecord"),
            "--workers",
            str(workers),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - start
    record = json.loads(result.stdout.strip().splitlines()[-1])
    record.update(
        benchmark="create_training_data",
        corpus=label,
        workers=workers,
        wall_seconds=round(wall, 3),
        tokens_per_second=round(record["tokens"] / wall),
        speedup_vs_peer=round(record["tokens"] / wall / PEER["tokens_per_second"], 1),
    )
    return record


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return 0
    for path in (CORPUS, SPM):
        if not os.path.exists(path):
            print(f"skipped: {path} is absent", file=sys.stderr)
            return 0
    print(json.dumps(PEER))
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            print(json.dumps(measure(CORPUS, workers, "wiki", tmp)), flush=True)
        repeated = os.path.join(tmp, "wiki_x.txt")
        with open(CORPUS, "rb") as src:
            text = src.read()
        with open(repeated, "wb") as dst:
            for _ in range(args.repeat):
                dst.write(text + b"\n\n")
        print(json.dumps(measure(repeated, 2, f"wiki x{args.repeat}", tmp)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
