"""Workers: the one interface the training loop uses to run in one process, across Horovod
processes, or under a tf.distribute strategy.

    workers = distribute.create_workers("horovod")    # "single", "horovod" or "tf"
    with workers.scope():                              # variables are created here
        model = modeling.create_pretraining_model(...)
    dataset = make_dataset(..., batch_size=workers.worker_batch(global_batch),
                           num_workers=workers.size, worker_index=workers.rank)
    training.train(model, ..., workers=workers)

The batch of one optimizer step (`--train_batch_size`) is always the global batch: each worker
reads `global / size` sequences of its own data shard per step, each local replica takes its
slice of that, and gradients are reduced across all of them before one update. The number of
steps, the learning-rate schedule and the result do not depend on the number of workers (up to
float rounding and dropout masks); scaling the learning rate with the workers is the explicit
`scaled_learning_rate`.

Engines:
  - `single`: one process, one device.
  - `horovod`: one process per device, started by mpirun or horovodrun. Only Horovod's
    low-level calls are used (`hvd.init`, `grouped_allreduce` of tensors, `broadcast_variables`
    of the tf.Variables under Keras variables): its Keras integrations do not work with Keras 3.
  - `tf`: `MultiWorkerMirroredStrategy` when `TF_CONFIG` names several workers (one process
    per host or device), else `MirroredStrategy` over the local GPUs (or the given devices).

On Intel Gaudi (`device="hpu"`), `scope()` places the model on the worker's HPU, several
workers need habana-horovod (Horovod with HCCL) and tf.distribute is refused.

Inside the training step, `run(fn, ...)` calls `fn` once per local replica, `replica_slice`
gives the replica its part of the worker's batch and `all_reduce` sums or averages tensors over
every replica of every worker. Only the chief (rank 0) writes checkpoints, summaries and outputs.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import math
import os
from collections.abc import Callable, Sequence

import tensorflow as tf

ENGINES = ("single", "horovod", "tf")
HPU = "/device:HPU:0"  # a Gaudi worker's card (each worker sees its own card as HPU:0)
HABANA_HOROVOD = "habana-horovod"
LEARNING_RATE_SCALING = ("none", "linear", "sqrt")


class WorkerError(RuntimeError):
    """The workers cannot start; the message is one line and says what to do."""


class Workers:
    """One process on one device (the default engine)."""

    engine = "single"

    def __init__(self, device: str | None = None) -> None:
        self.rank = 0
        self.size = 1
        self.local_rank = 0
        self.replicas_per_worker = 1
        # An Intel Gaudi worker keeps its model on its HPU (its bridge must be loaded first).
        self.device = HPU if device == "hpu" else None

    @property
    def is_chief(self) -> bool:
        return self.rank == 0

    @property
    def num_replicas(self) -> int:
        """Replicas over all workers (what the global batch is split into)."""
        return self.size * self.replicas_per_worker

    def worker_batch(self, global_batch: int, accumulation_steps: int = 1) -> int:
        """Sequences each worker reads per step: the global batch split evenly over the replicas
        and their micro-batches."""
        parts = self.num_replicas * accumulation_steps
        if global_batch % parts:
            raise ValueError(
                f"--train_batch_size {global_batch} does not split evenly into {self.num_replicas} replicas × "
                f"{accumulation_steps} micro-batches; use a multiple of {parts}"
            )
        return global_batch // self.size

    def scope(self) -> contextlib.AbstractContextManager:
        """Where models and optimizers are created."""
        return tf.device(self.device) if self.device else contextlib.nullcontext()

    def run(self, fn: Callable, *args):
        """Calls `fn(*args)` once per local replica (in the training step)."""
        return fn(*args)

    def local(self, values):
        """The first local replica's values of what `run` returned."""
        return values

    def replica_slice(self, batch):
        """This replica's part of the worker's batch (inside `run`)."""
        return batch

    def all_reduce(self, values, mean: bool):
        """The sum (or mean) of `values` (a nest of float tensors) over all replicas (inside `run`)."""
        return values

    def broadcast_variables(self, variables: Sequence) -> None:
        """Gives every worker the chief's values of `variables`."""

    def agree(self, *flags: bool) -> tuple[bool, ...]:
        """Each of `flags`, true when it is true on any worker (every worker calls this at the
        same step; one collective for all of them)."""
        return flags

    def prefix(self) -> str:
        return f"[worker {self.rank}/{self.size}] " if self.size > 1 else ""

    def log(self, line: str) -> None:
        """A log line of this worker, tagged with its rank when there are several."""
        print(self.prefix() + line, flush=True)

    def describe(self) -> str:
        where = f" on {self.device}" if self.device else ""
        if self.num_replicas == 1:
            return "1 worker" + where
        workers = f"{self.size} workers × {self.replicas_per_worker} replicas{where}"
        return f"{self.engine}: {workers}, this is rank {self.rank}"


class HorovodWorkers(Workers):
    engine = "horovod"

    def __init__(self, device: str | None = None) -> None:
        super().__init__(device)
        if device == "hpu":
            require_habana_horovod()
        try:
            import horovod.tensorflow as hvd
        except ImportError as err:
            raise WorkerError(
                f"--use_horovod: Horovod is not importable ({err}); build it against this TensorFlow "
                "(<= 2.18): HOROVOD_WITH_TENSORFLOW=1 HOROVOD_WITH_GLOO=1 pip install --no-build-isolation "
                "horovod==0.28.1, or use --distribution tf"
            ) from None
        hvd.init()
        self._hvd = hvd
        self.rank, self.size, self.local_rank = hvd.rank(), hvd.size(), hvd.local_rank()

    def all_reduce(self, values, mean: bool):
        if self.size == 1:
            return values
        flat = tf.nest.flatten(values)
        reduced = self._hvd.grouped_allreduce(flat, op=self._hvd.Average if mean else self._hvd.Sum)
        return tf.nest.pack_sequence_as(values, reduced)

    def agree(self, *flags: bool) -> tuple[bool, ...]:
        if self.size == 1:
            return flags
        summed = self._hvd.allreduce(tf.constant(flags, tf.float32), op=self._hvd.Sum)
        return tuple(bool(x > 0) for x in summed.numpy())

    def broadcast_variables(self, variables: Sequence) -> None:
        if self.size > 1:
            # Keras variables hold a tf.Variable in `.value`; Horovod can only assign to those.
            self._hvd.broadcast_variables([_tf_variable(v) for v in variables], root_rank=0)


class StrategyWorkers(Workers):
    engine = "tf"

    def __init__(self, devices: Sequence[str] | None = None, device: str | None = None) -> None:
        super().__init__()
        if device == "hpu":
            raise WorkerError(
                "--device hpu runs several workers with Horovod (habana-horovod), not tf.distribute: "
                "pass -v N (--use_horovod) instead of --distribution tf"
            )
        cluster = cluster_spec()
        if cluster and len(cluster.get("worker", [])) > 1:
            options = tf.distribute.experimental.CommunicationOptions(
                implementation=tf.distribute.experimental.CommunicationImplementation.AUTO
            )
            self.strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
            task = json.loads(os.environ["TF_CONFIG"]).get("task", {})
            self.rank, self.size = int(task.get("index", 0)), len(cluster["worker"])
            self.local_rank = local_placement()[0]
        else:
            self.strategy = tf.distribute.MirroredStrategy(devices)
        self.replicas_per_worker = self.strategy.num_replicas_in_sync // self.size

    def scope(self):
        return self.strategy.scope()

    def run(self, fn: Callable, *args):
        return self.strategy.run(fn, args=args)

    def local(self, values):
        return tf.nest.map_structure(lambda v: self.strategy.experimental_local_results(v)[0], values)

    def replica_slice(self, batch):
        n = self.replicas_per_worker
        if n == 1:
            return batch
        index = tf.distribute.get_replica_context().replica_id_in_sync_group % n

        def part(t: tf.Tensor) -> tf.Tensor:
            size = tf.shape(t)[0] // n
            return t[index * size : (index + 1) * size]

        return tf.nest.map_structure(part, batch)

    def all_reduce(self, values, mean: bool):
        op = tf.distribute.ReduceOp.MEAN if mean else tf.distribute.ReduceOp.SUM
        return tf.distribute.get_replica_context().all_reduce(op, values)

    def broadcast_variables(self, variables: Sequence) -> None:
        """Every worker's variables become the chief's (e.g. restored from a checkpoint): an
        all-reduce of the first replica's values with zeros from the others, exact."""
        if self.size == 1:
            return
        targets = [_tf_variable(v) for v in variables]

        def chief_values():
            context = tf.distribute.get_replica_context()
            first = tf.equal(context.replica_id_in_sync_group, 0)
            values = [tf.where(first, t, tf.zeros_like(t)) for t in map(tf.convert_to_tensor, targets)]
            reduced = list(values)
            for dtype in {v.dtype for v in values}:  # one all-reduce per type: it packs its tensors
                at = [i for i, v in enumerate(values) if v.dtype == dtype]
                for i, value in zip(at, context.all_reduce(tf.distribute.ReduceOp.SUM, [values[i] for i in at])):
                    reduced[i] = value
            return reduced

        @tf.function
        def broadcast():
            values = self.local(self.strategy.run(chief_values))
            for target, value in zip(targets, values):
                target.assign(value)

        broadcast()

    def agree(self, *flags: bool) -> tuple[bool, ...]:
        if self.size == 1:
            return flags
        if not hasattr(self, "_sum"):
            self._sum = tf.function(
                lambda x: self.strategy.reduce(tf.distribute.ReduceOp.SUM, self.strategy.run(tf.identity, (x,)), None)
            )
        return tuple(bool(x > 0) for x in self._sum(tf.constant(flags, tf.float32)).numpy())


def _tf_variable(variable):
    value = getattr(variable, "value", variable)
    return value if isinstance(value, tf.Variable) else variable


def cluster_spec() -> dict | None:
    """The `cluster` of `TF_CONFIG`, or None when it is unset; a one-line error when it is not JSON."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        return None
    try:
        config = json.loads(text)
        return dict(config["cluster"])
    except (ValueError, KeyError, TypeError) as err:
        raise WorkerError(
            f"TF_CONFIG is not a TensorFlow cluster spec ({err}); expected "
            '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": i}}'
        ) from None


def create_workers(engine: str = "single", devices: Sequence[str] | None = None, device: str | None = None) -> Workers:
    """The workers of this process for `engine` (see the module docstring) on `device` (as
    `devices.setup` returned it). Create them before any other TensorFlow work: the engines set
    up their communication first."""
    if engine == "single":
        return Workers(device)
    if engine == "horovod":
        return HorovodWorkers(device)
    if engine == "tf":
        return StrategyWorkers(devices, device)
    raise ValueError(f"unknown distribution engine {engine!r}; use one of {', '.join(ENGINES)}")


def require_habana_horovod() -> None:
    """Intel Gaudi's workers talk over HCCL, which only Habana's fork of Horovod (the package
    habana-horovod, imported as `horovod`) has: upstream Horovod has no HCCL."""
    try:
        version = importlib.metadata.version(HABANA_HOROVOD)
    except importlib.metadata.PackageNotFoundError:
        raise WorkerError(
            f"--device hpu with several workers needs {HABANA_HOROVOD} (Horovod with HCCL for Gaudi), which is "
            f"not installed: pip uninstall horovod; pip install {HABANA_HOROVOD}==1.14.0"
        ) from None
    print(f"Horovod for Intel Gaudi: {HABANA_HOROVOD} {version}", flush=True)


def scaled_learning_rate(learning_rate: float, num_workers: int, rule: str) -> float:
    """The learning rate for `num_workers` under `rule`: `none` (the default: the global batch
    is fixed, so nothing changes), `linear` (× workers) or `sqrt` (× √workers) for runs whose
    global batch grows with the workers."""
    factors = {"none": 1.0, "linear": float(num_workers), "sqrt": math.sqrt(num_workers)}
    if rule not in factors:
        raise ValueError(f"unknown learning-rate scaling {rule!r}; use one of {', '.join(LEARNING_RATE_SCALING)}")
    return learning_rate * factors[rule]


# Where launchers put a process's place on its box: horovodrun, Open MPI, MPICH, demo_albert.py.
_LOCAL_RANK = ("HOROVOD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "LOCAL_RANK")
_LOCAL_SIZE = ("HOROVOD_LOCAL_SIZE", "OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "LOCAL_WORLD_SIZE")


def local_placement() -> tuple[int, int]:
    """(local rank, workers on this box) from the launcher's environment; (0, 1) without one.
    Known before any engine starts, so that a worker can pick its GPU first."""

    def first(names: Sequence[str], default: int) -> int:
        return next((int(os.environ[name]) for name in names if os.environ.get(name, "").isdigit()), default)

    return first(_LOCAL_RANK, 0), first(_LOCAL_SIZE, 1)
