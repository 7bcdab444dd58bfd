"""Multi-worker training: Horovod (2 processes over Gloo; runs where Horovod is installed, the
CI's Horovod lane) and tf.distribute (2 local workers from TF_CONFIG, and 2 replicas in one
process) give every worker the weights one process reaches on the same global batch."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from tensorflow.python.eager import context

from albert import distribute, launch

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "distributed_worker.py")
STEPS, BATCH = 20, 8


def run_workers(commands: list[list[str]], envs: list[dict] | None = None, timeout: int = 300) -> None:
    envs = envs or [{}] * len(commands)
    processes = [
        subprocess.Popen(
            command, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for command, env in zip(commands, envs)
    ]
    outputs = [p.communicate(timeout=timeout)[0] for p in processes]
    for p, output in zip(processes, outputs):
        assert p.returncode == 0, output[-3000:]


def worker_command(records: str, out: str, *extra: str) -> list[str]:
    sizes = ["--steps", str(STEPS), "--batch", str(BATCH)]
    return [sys.executable, WORKER, "--records", records, "--out", out, *sizes, *extra]


def load(path: str) -> dict[str, np.ndarray]:
    with np.load(path) as f:
        return dict(f)


def assert_same_weights(reference: tuple, directory, ranks: int = 1) -> None:
    """Every rank's weights equal each other exactly, and the reference's: within 1e-5 in fp32.
    In bf16 a layer's rounding depends on how the batch is split (in one process, two
    accumulated half batches already move the weights by 4e-3 from one whole batch after 20
    steps), so there the updates must agree to 5 %."""
    data_type, initial, expected = reference
    weights = [load(os.path.join(directory, f"weights-{rank}.npz")) for rank in range(ranks)]
    for other in weights[1:]:
        assert all(np.array_equal(weights[0][k], other[k]) for k in expected), "the workers' weights differ"
    actual = weights[0]
    assert expected.keys() == actual.keys()
    if data_type == "fp32":
        worst = max(float(np.max(np.abs(expected[k] - actual[k]))) for k in expected)
        assert worst <= 1e-5, f"largest difference {worst}"
    else:
        update = np.concatenate([(expected[k] - initial[k]).ravel() for k in expected])
        difference = np.concatenate([(actual[k] - expected[k]).ravel() for k in expected])
        assert np.linalg.norm(difference) <= 0.05 * np.linalg.norm(update)


@pytest.fixture(scope="module", params=["fp32", "bf16"])
def reference(request, tmp_path_factory, sample_records):
    """One process trained on the global batch: its data type, initial and final weights."""
    data_type = request.param
    out = str(tmp_path_factory.mktemp(f"single-{data_type}"))
    run_workers([worker_command(sample_records, out, "--data_type", data_type)])
    return data_type, load(os.path.join(out, "initial-0.npz")), load(os.path.join(out, "weights-0.npz"))


def two_tf_workers(command: list[str]) -> None:
    """Runs `command` as two local tf.distribute workers, as the launcher starts them."""
    placement = launch.Placement(workers_per_box=2, distribution="tf")
    commands = launch.tf_worker_commands(command, placement)
    run_workers([argv for _, argv in commands], [env for env, _ in commands])


def test_tf_distribute_two_workers_match_one_process(reference, sample_records, tmp_path):
    data_type = reference[0]
    two_tf_workers(worker_command(sample_records, str(tmp_path), "--engine", "tf", "--data_type", data_type))
    assert_same_weights(reference, tmp_path, ranks=2)
    # Only the chief wrote checkpoints.
    assert sorted(os.listdir(tmp_path / "run"))[:2] == ["checkpoint", "ckpt-10.data-00000-of-00001"]


def test_workers_with_dropout_stay_equal_and_draw_their_own_masks(sample_records, tmp_path):
    two_tf_workers(worker_command(sample_records, str(tmp_path), "--engine", "tf", "--dropout", "0.1", "--same_seed"))
    weights = [load(tmp_path / f"weights-{rank}.npz") for rank in range(2)]
    assert all(np.array_equal(weights[0][k], weights[1][k]) for k in weights[0])
    seeds = [load(tmp_path / f"dropout-{rank}.npz") for rank in range(2)]
    assert seeds[0] and seeds[0].keys() == seeds[1].keys()
    assert all(not np.array_equal(seeds[0][k], seeds[1][k]) for k in seeds[0])


def test_mirrored_strategy_two_replicas_match_one_process(reference, sample_records, tmp_path):
    command = worker_command(
        sample_records, str(tmp_path), "--engine", "tf", "--local_devices", "2", "--data_type", reference[0]
    )
    run_workers([command])
    assert_same_weights(reference, tmp_path)


# Two replicas of one process apply modeling.Dropout to the same ones for two steps and print,
# per step, each replica's dropped fraction and the fraction of positions where they differ.
REPLICA_DROPOUT = """
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from albert import modeling
keras.utils.set_random_seed(1)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    dropout = modeling.Dropout(0.25, dtype=sys.argv[1])
ones = tf.ones([200, 500])
step = tf.function(lambda: strategy.run(lambda: dropout(ones, training=True)))
for _ in range(2):
    a, b = (t.numpy() == 0 for t in strategy.experimental_local_results(step()))
    print(a.mean(), b.mean(), (a != b).mean())
"""


@pytest.mark.parametrize("dtype", ["float32", "mixed_bfloat16"])
def test_mirrored_replicas_draw_their_own_dropout_masks(dtype):
    """Keras draws every local replica's mask from one mirrored seed state (identical masks);
    independent masks of rate p differ at 2p(1 - p) of the positions."""
    root = os.path.dirname(HERE)
    result = subprocess.run(
        [sys.executable, "-c", REPLICA_DROPOUT, dtype],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
        env={**os.environ, "PYTHONPATH": root},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    steps = [[float(v) for v in line.split()] for line in result.stdout.strip().splitlines()]
    assert len(steps) == 2
    for dropped_a, dropped_b, differ in steps:
        # 100,000 positions: the standard error of a fraction is below 0.0015.
        assert abs(dropped_a - 0.25) < 0.01 and abs(dropped_b - 0.25) < 0.01
        assert abs(differ - 2 * 0.25 * 0.75) < 0.01


def test_horovod_two_workers_match_one_process(reference, sample_records, tmp_path):
    pytest.importorskip("horovod.tensorflow", reason="Horovod is installed in the CI's Horovod lane")
    horovodrun = os.path.join(os.path.dirname(sys.executable), "horovodrun")
    command = worker_command(sample_records, str(tmp_path), "--engine", "horovod", "--data_type", reference[0])
    run_workers([[horovodrun, "-np", "2", "--gloo", *command]])
    assert_same_weights(reference, tmp_path, ranks=2)


def test_global_batch_must_split_over_replicas_and_micro_batches():
    workers = distribute.Workers()
    assert workers.worker_batch(32, accumulation_steps=4) == 32
    workers.size, workers.rank = 4, 3
    assert workers.worker_batch(32, accumulation_steps=2) == 8
    with pytest.raises(ValueError, match="--train_batch_size 32 does not split evenly into 4 replicas × 3"):
        workers.worker_batch(32, accumulation_steps=3)
    assert not workers.is_chief
    assert workers.prefix() == "[worker 3/4] "


def test_learning_rate_scaling_is_explicit():
    assert distribute.scaled_learning_rate(1e-3, 8, "none") == 1e-3
    assert distribute.scaled_learning_rate(1e-3, 8, "linear") == pytest.approx(8e-3)
    assert distribute.scaled_learning_rate(1e-3, 16, "sqrt") == pytest.approx(4e-3)
    with pytest.raises(ValueError, match="use one of none, linear, sqrt"):
        distribute.scaled_learning_rate(1e-3, 2, "cubic")


def test_bad_tf_config_is_one_line(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(distribute.WorkerError, match="TF_CONFIG is not a TensorFlow cluster spec"):
        distribute.create_workers("tf")
    with pytest.raises(ValueError, match="unknown distribution engine 'mpi'"):
        distribute.create_workers("mpi")


def test_missing_horovod_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "horovod", None)
    monkeypatch.setitem(sys.modules, "horovod.tensorflow", None)
    with pytest.raises(distribute.WorkerError, match="pip install --no-build-isolation horovod==0.28.1"):
        distribute.create_workers("horovod")


STANDIN = os.path.join(HERE, "habana_standin")  # holds a stand-in record of habana-horovod 1.14.0


def test_a_gaudi_worker_keeps_its_model_on_its_hpu():
    workers = distribute.create_workers("single", device="hpu")
    with workers.scope():
        assert context.context().device_name.endswith("/device:HPU:0")
    assert workers.describe() == "1 worker on /device:HPU:0"
    with distribute.create_workers("single", device="cpu").scope():
        assert not context.context().device_name


def test_gaudi_workers_need_habana_horovod(monkeypatch, capsys):
    with pytest.raises(distribute.WorkerError, match=r"needs habana-horovod .* pip install habana-horovod==1\.14\.0"):
        distribute.create_workers("horovod", device="hpu")
    monkeypatch.syspath_prepend(STANDIN)
    distribute.require_habana_horovod()
    assert capsys.readouterr().out == "Horovod for Intel Gaudi: habana-horovod 1.14.0\n"
    with pytest.raises(distribute.WorkerError, match="--device hpu runs several workers with Horovod"):
        distribute.create_workers("tf", device="hpu")
