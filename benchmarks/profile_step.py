#!/usr/bin/env python3
"""Where a training step's time goes: runs the step of benchmarks/throughput.py (ours, or the
keras-hub peer) under TensorFlow's profiler and sums the recorded op time by op type and by
op name, from the profile's XPlane (what TensorBoard's trace viewer shows).

    python benchmarks/profile_step.py --precision bf16 --batch 32 [--peer] [--top 25]

Prints JSON lines: the total op time and the top op types and op names with their share.
The profile itself stays in --logdir for TensorBoard.
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
from tensorflow.tsl.profiler.protobuf import xplane_pb2  # noqa: E402

from albert.configs import get_config  # noqa: E402
from benchmarks import throughput  # noqa: E402


def op_times(logdir: str) -> tuple[collections.Counter, collections.Counter]:
    """Summed durations (ms) of the host's TensorFlow op events, by type and by name."""
    by_type: collections.Counter = collections.Counter()
    by_name: collections.Counter = collections.Counter()
    for path in glob.glob(os.path.join(logdir, "plugins", "profile", "*", "*.xplane.pb")):
        space = xplane_pb2.XSpace()
        with open(path, "rb") as f:
            space.ParseFromString(f.read())
        for plane in space.planes:
            if not plane.name.startswith("/host:CPU"):
                continue
            for line in plane.lines:
                for event in line.events:
                    name = plane.event_metadata[event.metadata_id].name
                    if ":" not in name or name.startswith(("tf_", "Iterator", "$")):
                        continue  # executor and function wrappers, not ops
                    op_name, _, op_type = name.rpartition(":")
                    duration = event.duration_ps / 1e9
                    by_type[op_type] += duration
                    by_name[op_name] += duration
    return by_type, by_name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default="albert_base_v2")
    parser.add_argument("--task", default="pretraining", choices=("pretraining", "classifier"))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--predictions", type=int, default=20)
    parser.add_argument("--precision", default="bf16", choices=("fp32", "bf16"))
    parser.add_argument("--xla", action="store_true")
    parser.add_argument("--peer", action="store_true", help="profile keras-hub's step")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--logdir", default=None)
    args = parser.parse_args()

    config = get_config(args.variant)
    make = throughput.peer_step if args.peer else throughput.our_step
    step = make(config, args.task, args.predictions, args.precision, args.xla)
    batch = throughput.random_batch(config, args.batch, args.seq, args.predictions)
    throughput.seconds_per_step(step, batch, 2)  # trace and warm up
    logdir = args.logdir or tempfile.mkdtemp(prefix="profile-")
    tf.profiler.experimental.start(logdir)
    seconds = throughput.seconds_per_step(step, batch, args.steps)
    tf.profiler.experimental.stop()
    by_type, by_name = op_times(logdir)
    total = sum(by_type.values())
    print(json.dumps({"model": "keras-hub" if args.peer else "ours", "seconds_per_step": round(seconds, 3),
                      "op_ms_per_step": round(total / args.steps, 1), "logdir": logdir}))  # fmt: skip
    for kind, counter in (("type", by_type), ("name", by_name)):
        for name, ms in counter.most_common(args.top):
            print(json.dumps({kind: name, "ms_per_step": round(ms / args.steps, 1), "share": round(ms / total, 4)}))


if __name__ == "__main__":
    main()
