"""Two tf.distribute workers stopped and resumed: both killed at a random step, or only one
sent SIGTERM (both stop at the same step, the chief saves). The resumed run ends with the
checkpoint of an uninterrupted one, and each worker's input position (the chief's in its
checkpoint, the other's under inputs/) is the same: both read the same next batch."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest
import tensorflow as tf
from conftest import SAMPLE_PREDICTIONS as P
from conftest import SAMPLE_SEQ_LENGTH as S
from conftest import SCRIPT_ENV
from test_lost_work import pretraining_command

from albert import launch, resume
from albert.data.pretraining import make_pretraining_dataset

STEPS, SEED = 24, 12345  # run_pretraining.py's --random_seed default


def start(records, folder, *extra) -> list[tuple[subprocess.Popen, str]]:
    """The two workers of a 24-step pretraining in `folder`; (process, log file) of each."""
    command = pretraining_command(records, folder, "--distribution=tf", "--save_checkpoints_steps=4", *extra)
    placement = launch.Placement(workers_per_box=2, distribution="tf")
    started = []
    for rank, (env, argv) in enumerate(launch.tf_worker_commands(command, placement)):
        log = f"{folder}.worker-{rank}.log"
        with open(log, "a") as out:
            process = subprocess.Popen(argv, env={**SCRIPT_ENV, **env}, stdout=out, stderr=subprocess.STDOUT)
        started.append((process, log))
    return started


def finish(workers) -> list[int]:
    return [process.wait(timeout=300) for process, _ in workers]


def wait_for(log: str, text: str, timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while text not in open(log).read():
        assert time.time() < deadline, f"no {text!r} in {log}"
        time.sleep(0.01)


@pytest.fixture(scope="module")
def straight(sample_records, tmp_path_factory):
    folder = tmp_path_factory.mktemp("straight") / "run"
    assert finish(start(sample_records, folder)) == [0, 0]
    return folder


def next_batches(records, folder=None) -> list[dict[str, np.ndarray]]:
    """The batch each worker would read next after the run in `folder`'s last step, from its
    saved position (without a folder: each worker's first batch)."""
    batches = []
    for rank in range(2):
        dataset = make_pretraining_dataset(records, 4, S, P, seed=SEED, num_workers=2, worker_index=rank)
        iterator = iter(dataset)
        if folder is not None:
            where = str(folder) if rank == 0 else resume.input_folder(str(folder), 1, 2)
            tf.train.Checkpoint(data=iterator).read(os.path.join(where, f"ckpt-{STEPS}")).expect_partial()
        batches.append({k: v.numpy() for k, v in next(iterator).items()})
    return batches


def assert_resumed_exactly(records, straight, stopped) -> None:
    a, b = (tf.train.load_checkpoint(str(folder / f"ckpt-{STEPS}")) for folder in (straight, stopped))
    names = [n for n in a.get_variable_to_shape_map() if n.endswith("VARIABLE_VALUE") and "save_counter" not in n]
    values = [n for n in names if a.get_variable_to_dtype_map()[n] not in (tf.string, tf.variant)]
    assert len(values) > 20
    assert all(np.array_equal(a.get_tensor(n), b.get_tensor(n)) for n in values), "the weights differ"
    expected, first = next_batches(records, straight), next_batches(records)
    for x, y, z in zip(expected, next_batches(records, stopped), first):
        assert x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x), "the input positions differ"
        assert not np.array_equal(x["input_ids"], z["input_ids"])  # a position, not the start


def test_two_killed_workers_resume_exactly(sample_records, tmp_path, straight):
    stopped = tmp_path / "run"
    workers = start(sample_records, stopped)
    at = random.randint(5, 21)  # after the first save, before the last
    wait_for(workers[0][1], f"step {at}/")
    for process, _ in workers:
        process.kill()
    finish(workers)
    saved = max(int(p.name[len("ckpt-") : -len(".index")]) for p in stopped.glob("ckpt-*.index"))
    assert finish(start(sample_records, stopped)) == [0, 0]
    assert f"resuming from {stopped}/ckpt-{saved} at step {saved}" in open(workers[0][1]).read()
    assert "resuming its input position from" in open(workers[1][1]).read()
    assert_resumed_exactly(sample_records, straight, stopped)


def test_sigterm_to_one_worker_stops_both_at_one_step_saved(sample_records, tmp_path, straight):
    stopped = tmp_path / "run"
    workers = start(sample_records, stopped)
    at = random.randint(3, 20)
    wait_for(workers[0][1], f"step {at}/")
    workers[1][0].send_signal(signal.SIGTERM)  # the other worker: the chief learns it from the step's agreement
    assert finish(workers) == [128 + signal.SIGTERM] * 2
    line = next(line for line in open(workers[0][1]).read().splitlines() if line.startswith("SIGTERM at step "))
    step = int(line.split()[3].rstrip(":"))
    assert at <= step < STEPS and line.endswith(f"saved {stopped}/ckpt-{step}; run the same command to resume there")
    assert os.path.exists(os.path.join(resume.input_folder(str(stopped), 1, 2), f"ckpt-{step}.index"))
    assert finish(start(sample_records, stopped)) == [0, 0]
    assert f"resuming from {stopped}/ckpt-{step} at step {step}" in open(workers[0][1]).read()
    assert_resumed_exactly(sample_records, straight, stopped)


def test_a_resume_the_chief_refuses_stops_every_worker(sample_records, tmp_path, straight):
    folder = tmp_path / "run"
    shutil.copytree(straight, folder)
    workers = start(sample_records, folder, "--num_train_steps=28", "--train_batch_size=16")
    assert finish(workers) == [1, 1]
    chief, other = (open(log).read().strip().splitlines()[-1] for _, log in workers)
    assert chief.startswith(
        f"run_pretraining.py: error: {folder}/ckpt-24: saved by a run with train_batch_size 8 (now 16)"
    )
    assert (
        other
        == "run_pretraining.py: error: the start failed on another worker (its log says why); this worker stopped too"
    )
