#!/usr/bin/env python3
"""Scaling from 1 to 2 workers on this machine, for both engines: run_pretraining.py on one
worker, then on two (Horovod over Gloo, and tf.distribute with TF_CONFIG), each worker with
one thread and the same per-worker batch (weak scaling: the global batch doubles).

    python benchmarks/scaling.py [--steps 40] [--batch 16] [--hidden 256] [--layers 4]
    python benchmarks/scaling.py --horovod_python .venv-horovod/bin/python

A small ALBERT (sequence 128, 20 predictions) trains on records of the project's sample text.
Throughput is the chief's logged sequences/s after the first logging interval (which holds the
tracing). Efficiency = sequences/s of 2 workers ÷ (2 × that of 1 worker under the same Python).
Each configuration prints one JSON line; the Horovod rows need a Python with Horovod (the
Makefile's .venv-horovod) and are skipped without one.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from albert import launch, samples, tiny_model  # noqa: E402
from albert.data.instances import MaskingConfig  # noqa: E402
from albert.data.pretraining_records import TokenizerSpec, create_pretraining_records  # noqa: E402
from albert.tokenization import train_sentencepiece  # noqa: E402

SEQ, PREDICTIONS = 128, 20
STEP_LINE = re.compile(r"step (\d+)/\d+ .* ([\d.]+) seq/s")


def prepare(tmp: str, hidden: int, layers: int) -> tuple[str, str]:
    spm = train_sentencepiece([samples.SAMPLE_TEXT], os.path.join(tmp, "spm"), tiny_model.SAMPLE_VOCAB_SIZE)
    records = os.path.join(tmp, "sample.tfrecord")
    create_pretraining_records(
        [samples.SAMPLE_TEXT], [records], TokenizerSpec(spm), MaskingConfig(SEQ, PREDICTIONS), dupe_factor=10
    )
    config = {
        "vocab_size": tiny_model.SAMPLE_VOCAB_SIZE,
        "embedding_size": 128,
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": hidden // 64,
        "intermediate_size": 4 * hidden,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "max_position_embeddings": 512,
        "type_vocab_size": 2,
        "initializer_range": 0.02,
    }
    path = os.path.join(tmp, "albert_config.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(config, f)
    return path, records


def seqs_per_second(output: str) -> float:
    """Mean of the chief's logged sequences/s, leaving out the first interval."""
    rates = [float(m.group(2)) for m in STEP_LINE.finditer(output)]
    if len(rates) < 2:
        raise RuntimeError(f"no throughput in the output:\n{output[-2000:]}")
    return statistics.mean(rates[1:])


def run(commands: list[tuple[dict, list[str]]]) -> str:
    processes = [
        subprocess.Popen(argv, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for env, argv in commands
    ]
    outputs = [p.communicate()[0] for p in processes]
    if any(p.returncode for p in processes):
        raise RuntimeError(f"a worker failed:\n{outputs[0][-3000:]}")
    return "\n".join(outputs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--log_steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=16, help="sequences per worker per step")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--data_type", default="fp32")
    parser.add_argument("--horovod_python", default=os.path.join(ROOT, ".venv-horovod", "bin", "python"))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        config, records = prepare(tmp, args.hidden, args.layers)

        def argv(python: str, workers: int, out: str, *extra: str) -> list[str]:
            return [
                python, os.path.join(ROOT, "run_pretraining.py"), f"--albert_config_file={config}",
                f"--input_file={records}", f"--output_dir={os.path.join(tmp, out)}", f"--max_seq_length={SEQ}",
                f"--max_predictions_per_seq={PREDICTIONS}", f"--train_batch_size={args.batch * workers}",
                f"--num_train_steps={args.steps}", "--num_warmup_steps=0", f"--log_steps={args.log_steps}",
                f"--save_checkpoints_steps={args.steps}", f"--data_type={args.data_type}", "--optimizer=lamb",
                "--intra_op_threads=1", "--inter_op_threads=1", "--device=cpu", *extra,
            ]  # fmt: skip

        engines = [("tf", sys.executable)]
        if os.path.isfile(args.horovod_python):
            engines.insert(0, ("horovod", args.horovod_python))
        else:
            print(json.dumps({"engine": "horovod", "skipped": f"no Python with Horovod at {args.horovod_python}"}))
        for engine, python in engines:
            one = seqs_per_second(run([({}, argv(python, 1, f"{engine}-1"))]))
            two_argv = argv(python, 2, f"{engine}-2", "--use_horovod" if engine == "horovod" else "--distribution=tf")
            placement = launch.Placement(workers_per_box=2, distribution=engine, launcher="horovodrun")
            two = seqs_per_second(run(launch.worker_commands(launch.Step("", two_argv, True), placement, "")))
            common = {"engine": engine, "model": f"H{args.hidden} L{args.layers} seq {SEQ}", "threads_per_worker": 1}
            print(json.dumps({**common, "workers": 1, "batch": args.batch, "sequences_per_second": round(one, 2)}))
            print(
                json.dumps(
                    {
                        **common,
                        "workers": 2,
                        "batch": 2 * args.batch,
                        "sequences_per_second": round(two, 2),
                        "scaling_efficiency": round(two / (2 * one), 3),
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
