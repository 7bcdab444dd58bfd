"""The device a process trains on: CPU, GPU or Intel Gaudi (HPU), set up before TensorFlow
starts its runtime.

    devices.setup("gpu", local_rank=distribute.local_rank_from_env())

- `cpu`: GPUs are hidden; `intra_op_threads` / `inter_op_threads` size TensorFlow's thread
  pools (the launcher shares a box's cores out among its workers).
- `gpu`: memory grows as needed instead of being taken whole; when several workers share the
  box, worker `local_rank` sees only GPU `local_rank` (one GPU per worker). One process with
  several GPUs keeps them all (tf.distribute's MirroredStrategy uses them).
- `hpu`: loads Intel Gaudi's TensorFlow bridge (`habana_frameworks.tensorflow`) before any
  TensorFlow op runs. Intel's last TensorFlow release for Gaudi was Intel Gaudi software 1.14.0:
  habana-tensorflow 1.14.0 and habana-horovod 1.14.0, for TensorFlow 2.15.0 on Python 3.10;
  elsewhere this is a one-line error naming them.

TF_ENABLE_SCOPED_ALLOCATOR=true (demo_albert.py's --enable_scoped_allocator) turns on TensorFlow's
scoped allocator, which packs the tensors of a collective into one buffer.
"""

from __future__ import annotations

import os

import tensorflow as tf

DEVICES = ("cpu", "gpu", "hpu")
# Intel Gaudi software 1.14.0, the last with TensorFlow: the one TensorFlow its bridge loads into.
HABANA_TENSORFLOW = "2.15.0"
HABANA_PACKAGES = (
    f"on Python 3.10: pip install tensorflow-cpu=={HABANA_TENSORFLOW} habana-tensorflow==1.14.0 "
    "(and habana-horovod==1.14.0 for several workers)"
)


class DeviceError(RuntimeError):
    """The device cannot be used; the message is one line and says what to do."""


def default_device() -> str:
    return "gpu" if tf.config.list_physical_devices("GPU") else "cpu"


def setup(
    device: str | None = None,
    local_rank: int = 0,
    workers_per_box: int = 1,
    intra_op_threads: int = 0,
    inter_op_threads: int = 0,
) -> str:
    """Sets up `device` (None: a GPU when there is one, else the CPU) for this process;
    returns the device used. Thread counts of 0 leave TensorFlow's defaults (all cores)."""
    device = device or default_device()
    if device not in DEVICES:
        raise DeviceError(f"unknown device {device!r}; use one of {', '.join(DEVICES)}")
    if intra_op_threads:
        tf.config.threading.set_intra_op_parallelism_threads(intra_op_threads)
    if inter_op_threads:
        tf.config.threading.set_inter_op_parallelism_threads(inter_op_threads)
    if os.environ.get("TF_ENABLE_SCOPED_ALLOCATOR", "").lower() in ("1", "true"):
        tf.config.optimizer.set_experimental_options({"scoped_allocator_optimization": True})
    if device == "hpu":
        _load_habana()
        return device
    gpus = tf.config.list_physical_devices("GPU")
    if device == "cpu":
        if gpus:
            tf.config.set_visible_devices([], "GPU")
        return device
    if not gpus:
        raise DeviceError(
            "--device gpu: TensorFlow sees no GPU (a CUDA build of TensorFlow and a driver are needed: "
            "pip install 'tensorflow[and-cuda]'); use --device cpu"
        )
    if workers_per_box > 1:
        if local_rank >= len(gpus):
            raise DeviceError(
                f"worker {local_rank} of this box has no GPU of its own ({len(gpus)} GPUs); "
                f"start at most {len(gpus)} workers per box"
            )
        gpus = [gpus[local_rank]]
        tf.config.set_visible_devices(gpus, "GPU")
    for gpu in gpus:
        tf.config.experimental.set_memory_growth(gpu, True)
    return device


def _load_habana() -> None:
    """Loads Intel Gaudi's bridge (it refuses any TensorFlow but its own, 2.15.0)."""
    try:
        from habana_frameworks.tensorflow import load_habana_module
    except ImportError as err:
        if tf.__version__ != HABANA_TENSORFLOW:
            raise DeviceError(
                f"--device hpu: Intel Gaudi's TensorFlow bridge (Intel Gaudi software 1.14.0) runs on TensorFlow "
                f"{HABANA_TENSORFLOW} only, this is TensorFlow {tf.__version__}: {HABANA_PACKAGES}; "
                "or use --device cpu or gpu"
            ) from None
        raise DeviceError(
            f"--device hpu: habana_frameworks.tensorflow is not importable ({err}); Intel Gaudi software 1.14.0, "
            f"{HABANA_PACKAGES}; or use --device cpu or gpu"
        ) from None
    load_habana_module()
    if not tf.config.list_physical_devices("HPU"):
        raise DeviceError(
            "--device hpu: Intel Gaudi's bridge loaded but TensorFlow sees no HPU; check the card "
            "with hl-smi, or use --device cpu"
        )
