#!/usr/bin/env python3
"""Training throughput of this toolkit's ALBERT against keras-hub's and (with `--torch_python`)
Hugging Face transformers', side by side, and against this machine's matrix-multiply ceiling.

    python benchmarks/throughput.py                                   # ALBERT-base, batch 8 and 32, fp32 and bf16
    python benchmarks/throughput.py --task classifier --precision bf16 --batch 32 --xla

For each configuration (task, batch, precision, XLA) the models are built with the same
config and trained on the same random batch with the same thread settings:
  - ours: `modeling.create_pretraining_model` (MLM + SOP) or `create_classifier_model`, the
    training step of `training.make_train_step` (LAMB, global-norm clipping), as the scripts run it;
  - the peer: `keras_hub.models.AlbertBackbone` with keras-hub's `MaskedLMHead` (tied to its
    token embedding) and a Dense SOP head, or a Dense classifier on the pooled output, trained by
    a `tf.function` step with Keras' `Lamb`;
  - with `--torch_python PY`, for pretraining: transformers' `AlbertForPreTraining` (its masked-LM
    head over every position, as the model computes it) with PyTorch's AdamW and clipping, fp32
    or under `torch.autocast(bfloat16)`, in a process of its own (benchmarks/throughput_peer.py:
    PyTorch and TensorFlow in one process fight over threads), idle while the others run.
After warm-up they alternate for `--pairs` timed rounds of `--steps` steps each (the ceiling
is measured again before each round); `ratio_median` is the median of ours/keras-hub over the
rounds, `torch_ratio_median` that of ours/transformers.

The ceiling is measured on the model's own GEMMs (every forward matmul of one training step and
the two backward matmuls of each, at their shapes and counts), in the same precision:
ceiling = their FLOPs / their time. The model's FLOPs per sequence are counted from the config:
6 × the FLOPs-per-token of every matmul (encoder, embedding projection, masked-LM head on the
masked positions only, pooler) + 3 × the forward attention FLOPs (QKᵀ and AV). Utilisation =
FLOPs per sequence × sequences/s ÷ ceiling, the median over the pairs. Ours skips the last
block's work at positions no head reads (`modeling.Encoder`); `ours_executed_utilisation`
counts only the FLOPs it executes. One JSON line per configuration.

keras-hub is a benchmark-only dependency: `pip install -r requirements-bench.txt`, then
`pip install --no-deps keras-hub==0.32.0` (its other requirements are not needed to build the
backbone).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from albert import losses, modeling, optimization, precision, training  # noqa: E402
from albert.configs import BertConfig, get_config  # noqa: E402

# ----------------------------------------------------------------------------------------------
# FLOPs and the ceiling
# ----------------------------------------------------------------------------------------------


def forward_gemms(
    config: BertConfig, batch: int, seq: int, predictions: int, task: str
) -> list[tuple[int, int, int, int]]:
    """(count, M, K, N) of every forward matmul of one step, M×K times K×N."""
    h, i, tokens = config.hidden_size, config.intermediate_size, batch * seq
    layers = config.num_hidden_layers
    gemms = [(4 * layers, tokens, h, h), (layers, tokens, h, i), (layers, tokens, i, h), (1, batch, h, h)]
    if config.embedding_size != h:
        gemms.append((1, tokens, config.embedding_size, h))
    if task == "pretraining":
        e = config.embedding_size
        gemms += [(1, batch * predictions, h, e), (1, batch * predictions, e, config.vocab_size)]
    return gemms


def attention_flops(config: BertConfig, seq: int) -> float:
    """Forward FLOPs of QKᵀ and AV per sequence."""
    return config.num_hidden_layers * 2 * (2 * seq * seq * config.hidden_size)


def flops_per_sequence(config: BertConfig, seq: int, predictions: int, task: str) -> float:
    matmuls = sum(count * 2 * m * k * n for count, m, k, n in forward_gemms(config, 1, seq, predictions, task))
    return 3 * matmuls + 3 * attention_flops(config, seq)


def skipped_flops_per_sequence(config: BertConfig, seq: int, predictions: int, task: str) -> float:
    """Model FLOPs per sequence that ours does not execute: its last block runs only where the
    heads read ([CLS] and the masked positions, or [CLS] alone), so the other positions skip its
    query and output projections, its feed-forward and their attention rows, forward and backward."""
    rows = 1 + predictions if task == "pretraining" else 1
    h, i = config.hidden_size, config.intermediate_size
    per_row = 2 * (2 * h * h) + 2 * (2 * h * i) + 2 * (2 * seq * h)
    return 3 * (seq - rows) * per_row


def gemm_ceiling(config: BertConfig, batch: int, seq: int, predictions: int, task: str, dtype: str):
    """A function that measures the GFLOP/s of the step's GEMMs (forward, input gradient, weight
    gradient, each at its shape and count) in `dtype`: their FLOPs / the sum of their best times."""
    runs = []
    for count, m, k, n in forward_gemms(config, batch, seq, predictions, task):
        for a_shape, b_shape, transpose_a, transpose_b in (
            ((m, k), (k, n), False, False),  # forward
            ((m, n), (k, n), False, True),  # input gradient: dY·Wᵀ
            ((m, k), (m, n), True, False),  # weight gradient: Xᵀ·dY
        ):
            a = tf.cast(tf.random.normal(a_shape), dtype)
            b = tf.cast(tf.random.normal(b_shape), dtype)
            repeats = max(1, int(1e9 // (2 * m * k * n)))

            @tf.function
            def run(a, b, repeats=repeats, ta=transpose_a, tb=transpose_b):
                out = tf.zeros((), tf.float32)
                for _ in tf.range(repeats):
                    out += tf.cast(tf.matmul(a, b, transpose_a=ta, transpose_b=tb)[0, 0], tf.float32)
                return out

            run(a, b).numpy()
            runs.append((count, 2 * m * k * n, repeats, run, a, b))

    def measure() -> float:
        total_flops, total_time = 0.0, 0.0
        for count, flops, repeats, run, a, b in runs:
            times = []
            for _ in range(2):
                start = time.perf_counter()
                run(a, b).numpy()
                times.append((time.perf_counter() - start) / repeats)
            total_time += count * min(times)
            total_flops += count * flops
        return total_flops / total_time / 1e9

    return measure


# ----------------------------------------------------------------------------------------------
# The two models
# ----------------------------------------------------------------------------------------------


def random_batch(config: BertConfig, batch: int, seq: int, predictions: int, seed: int = 0) -> dict[str, tf.Tensor]:
    rng = np.random.default_rng(seed)
    return {
        "input_ids": tf.constant(rng.integers(5, config.vocab_size, (batch, seq)), tf.int32),
        "input_mask": tf.ones((batch, seq), tf.int32),
        "segment_ids": tf.constant(np.repeat([[0] * (seq // 2) + [1] * (seq - seq // 2)], batch, 0), tf.int32),
        "masked_lm_positions": tf.constant(
            np.sort(rng.choice(np.arange(1, seq), (batch, predictions)), axis=1), tf.int32
        ),
        "masked_lm_ids": tf.constant(rng.integers(5, config.vocab_size, (batch, predictions)), tf.int32),
        "masked_lm_weights": tf.ones((batch, predictions), tf.float32),
        "next_sentence_labels": tf.constant(rng.integers(0, 2, (batch, 1)), tf.int32),
        "label": tf.constant(rng.integers(0, 2, (batch,)), tf.int32),
    }


def our_step(config: BertConfig, task: str, predictions: int, dtype: str, xla: bool):
    policy = precision.dtype_policy(dtype)
    optimizer = optimization.create_optimizer("lamb", 1e-4)
    if task == "pretraining":
        model = modeling.create_pretraining_model(config, predictions, dtype=policy)
        return training.make_train_step(
            model,
            losses.pretraining_loss,
            optimizer,
            loss_scale=precision.create_loss_scale(dtype),
            jit_compile=xla,
            denominators_fn=losses.pretraining_denominators,
        )
    model = modeling.create_classifier_model(config, 2, dtype=policy)

    def loss_fn(outputs, batch):
        return losses.classification_loss(outputs["logits"], batch["label"]), {}

    return training.make_train_step(model, loss_fn, optimizer, jit_compile=xla)


def peer_step(config: BertConfig, task: str, predictions: int, dtype: str, xla: bool):
    import keras_hub

    policy = precision.dtype_policy(dtype)
    backbone = keras_hub.models.AlbertBackbone(
        vocabulary_size=config.vocab_size,
        num_layers=config.num_hidden_layers,
        num_heads=config.num_attention_heads,
        embedding_dim=config.embedding_size,
        hidden_dim=config.hidden_size,
        intermediate_dim=config.intermediate_size,
        num_groups=config.num_hidden_groups,
        dropout=config.hidden_dropout_prob,
        max_sequence_length=config.max_position_embeddings,
        dtype=policy,
    )
    inputs = dict(backbone.input)
    pooled = backbone.output["pooled_output"]
    if task == "pretraining":
        positions = keras.Input((predictions,), dtype="int32", name="mask_positions")
        inputs["mask_positions"] = positions
        head = keras_hub.layers.MaskedLMHead(
            token_embedding=backbone.token_embedding, intermediate_activation="gelu", dtype=policy
        )
        outputs = {
            "mlm": head(backbone.output["sequence_output"], mask_positions=positions),
            "sop": keras.layers.Dense(2, dtype=policy)(pooled),
        }
    else:
        outputs = {"logits": keras.layers.Dense(2, dtype=policy)(pooled)}
    model = keras.Model(inputs, outputs)
    optimizer = keras.optimizers.Lamb(learning_rate=1e-4)
    variables = model.trainable_variables
    optimizer.build(variables)
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def step(batch):
        features = {
            "token_ids": batch["input_ids"],
            "segment_ids": batch["segment_ids"],
            "padding_mask": tf.cast(batch["input_mask"], tf.bool),
        }
        if task == "pretraining":
            features["mask_positions"] = batch["masked_lm_positions"]
        with tf.GradientTape() as tape:
            out = model(features, training=True)
            if task == "pretraining":
                loss = ce(batch["masked_lm_ids"], tf.cast(out["mlm"], tf.float32), batch["masked_lm_weights"])
                loss += ce(batch["next_sentence_labels"], tf.cast(out["sop"], tf.float32))
            else:
                loss = ce(batch["label"], tf.cast(out["logits"], tf.float32))
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    return tf.function(step, jit_compile=xla)


class TorchPeer:
    """benchmarks/throughput_peer.py (transformers' AlbertForPreTraining) in a process of its own,
    built from the same config and trained on the same batch; idle while the others are timed."""

    def __init__(self, python: str, config: BertConfig, batch: dict, dtype: str, work: str):
        config.to_json_file(os.path.join(work, "albert_config.json"))
        np.savez(os.path.join(work, "batch.npz"), **{k: v.numpy() for k, v in batch.items()})
        command = [python, os.path.join(ROOT, "benchmarks", "throughput_peer.py"), f"--precision={dtype}"]
        command += [f"--config={work}/albert_config.json", f"--batch={work}/batch.npz"]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        started = json.loads(self.process.stdout.readline())
        self.name = f"{started['peer']}, attention {started['attention']}"

    def seconds_per_step(self, steps: int) -> float:
        time.sleep(0.2)  # the other process's threads stop spinning
        self.process.stdin.write(f"{steps}\n")
        self.process.stdin.flush()
        return float(self.process.stdout.readline())

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


def seconds_per_step(step, batch, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        result = step(batch)
    tf.nest.map_structure(lambda t: t.numpy(), result)
    return (time.perf_counter() - start) / steps


def measure(args, config: BertConfig, task: str, dtype: str, batch_size: int, threads: dict) -> dict:
    """One configuration: the ceiling, ours and the peers, alternated over `args.pairs` pairs."""
    ceiling_of = gemm_ceiling(
        config, batch_size, args.seq, args.predictions, task, "float32" if dtype == "fp32" else "bfloat16"
    )
    flops = flops_per_sequence(config, args.seq, args.predictions, task)
    skipped = skipped_flops_per_sequence(config, args.seq, args.predictions, task)
    batch = random_batch(config, batch_size, args.seq, args.predictions)
    steps = {"ours": our_step(config, task, args.predictions, dtype, args.xla)}
    if not args.no_peer:
        steps["peer"] = peer_step(config, task, args.predictions, dtype, args.xla)
    timers = {name: lambda n, step=step: seconds_per_step(step, batch, n) for name, step in steps.items()}
    with tempfile.TemporaryDirectory() as work:
        torch_peer = None
        if args.torch_python and task == "pretraining":
            torch_peer = TorchPeer(args.torch_python, config, batch, dtype, work)
            timers["torch_peer"] = torch_peer.seconds_per_step
        for _ in range(args.warmup):
            for timer in timers.values():
                timer(1)
        # Each pair also measures the ceiling, so that drifts of the machine's speed
        # (seen here: ±5 % over minutes) affect both sides of every ratio alike.
        ceilings, rates = [], {name: [] for name in timers}
        for _ in range(args.pairs):
            ceilings.append(ceiling_of())
            for name, timer in timers.items():
                rates[name].append(batch_size / timer(args.steps))
        if torch_peer:
            torch_peer.close()

    def utilisation(side: list[float], flops: float = flops) -> float:
        return statistics.median(r * flops / 1e9 / c for r, c in zip(side, ceilings))

    result = {
        "task": task,
        "variant": args.variant,
        "batch": batch_size,
        "seq": args.seq,
        "precision": dtype,
        "xla": args.xla,
        "threads": threads,
        "gflop_per_sequence": round(flops / 1e9, 2),
        "ceiling_gflops": round(statistics.median(ceilings), 1),
        "ours_sequences_per_second": round(statistics.median(rates["ours"]), 3),
        "ours_utilisation": round(utilisation(rates["ours"]), 3),
        "ours_executed_utilisation": round(utilisation(rates["ours"], flops - skipped), 3),
    }
    peers = {"peer": ("keras-hub AlbertBackbone", "ratio")}
    if torch_peer:
        peers["torch_peer"] = (torch_peer.name, "torch_ratio")
    for name, (label, ratio) in peers.items():
        if name in rates:
            ratios = [o / p for o, p in zip(rates["ours"], rates[name])]
            result[name] = label
            result[f"{name}_sequences_per_second"] = round(statistics.median(rates[name]), 3)
            result[f"{name}_utilisation"] = round(utilisation(rates[name]), 3)
            result[f"{ratio}_median"] = round(statistics.median(ratios), 3)
            result[f"{ratio}s"] = [round(r, 3) for r in ratios]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default="albert_base_v2")
    parser.add_argument("--task", nargs="+", default=["pretraining"], choices=("pretraining", "classifier"))
    parser.add_argument("--batch", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--predictions", type=int, default=20)
    parser.add_argument("--precision", nargs="+", default=["fp32", "bf16"], choices=("fp32", "bf16"))
    parser.add_argument("--xla", action="store_true", help="compile both training steps with XLA")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3, help="steps per timed run")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--no_peer", action="store_true", help="time ours only")
    parser.add_argument(
        "--torch_python",
        help="a Python with torch and transformers: pretraining is also timed against transformers' "
        "AlbertForPreTraining (benchmarks/throughput_peer.py), alternated with the others",
    )
    parser.add_argument("--intra_op_threads", type=int, default=0, help="for both models (0: TensorFlow's default)")
    parser.add_argument("--inter_op_threads", type=int, default=0, help="for both models (0: TensorFlow's default)")
    args = parser.parse_args()
    if args.intra_op_threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.intra_op_threads)
    if args.inter_op_threads:
        tf.config.threading.set_inter_op_parallelism_threads(args.inter_op_threads)

    config = get_config(args.variant)
    threads = {
        "intra_op": tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count(),
        "inter_op": tf.config.threading.get_inter_op_parallelism_threads() or os.cpu_count(),
    }
    for task in args.task:
        for dtype in args.precision:
            for batch_size in args.batch:
                print(json.dumps(measure(args, config, task, dtype, batch_size, threads)), flush=True)
                keras.backend.clear_session()


if __name__ == "__main__":
    main()
