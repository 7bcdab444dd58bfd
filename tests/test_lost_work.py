"""Nothing is lost when a run is stopped or its folder is damaged: SIGTERM and SIGINT save and
resume exactly; checkpoints are found without the `checkpoint` state file; a damaged newest
checkpoint is set aside for the intact one before it; no start from step 0 over existing
checkpoints; an interrupted save's `*_temp` folder is removed."""

from __future__ import annotations

import glob
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import ROOT, SCRIPT_ENV
from conftest import SAMPLE_PREDICTIONS as P
from conftest import SAMPLE_SEQ_LENGTH as S

from albert import checkpoints, losses, modeling, optimization, training
from albert.configs import get_config
from albert.data.pretraining import make_pretraining_dataset

CONFIG = get_config("tiny").replace(vocab_size=300, max_position_embeddings=S, hidden_dropout_prob=0.1)


def train(records, output_dir, steps: int, lines: list | None = None, settings: dict | None = None):
    """A tiny pretraining that saves every 2 steps; returns its weights."""
    keras.utils.set_random_seed(1)
    model = modeling.create_pretraining_model(CONFIG, P)
    optimizer = optimization.create_optimizer("adamw", optimization.WarmupPolynomialDecay(1e-3, 8, 1))
    training.train(
        model,
        losses.pretraining_loss,
        optimizer,
        make_pretraining_dataset(records, 8, S, P, seed=1),
        training.LoopConfig(
            str(output_dir), steps, 8, save_checkpoints_steps=2, log_steps=100, resume_settings=settings or {}
        ),
        denominators_fn=losses.pretraining_denominators,
        log=(lines if lines is not None else []).append,
    )
    return [w.numpy() for w in model.weights]


@pytest.fixture(scope="module")
def straight(sample_records, tmp_path_factory):
    return train(sample_records, tmp_path_factory.mktemp("straight"), 8)


def damage_then_resume(records, folder, damage) -> tuple[list, list[str]]:
    train(records, folder, 6)  # ckpt-2, 4 and 6
    damage(folder)
    lines: list[str] = []
    return train(records, folder, 8, lines), lines


def same(a, b) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("state", ["missing", "garbled"])
def test_checkpoints_are_found_without_the_state_file(state, sample_records, tmp_path, straight):
    def damage(folder):
        if state == "missing":
            os.remove(folder / "checkpoint")
        else:
            (folder / "checkpoint").write_text("model_checkpoint_path: {{{")

    weights, lines = damage_then_resume(sample_records, tmp_path, damage)
    assert any("no readable 'checkpoint' file" in line for line in lines)
    assert any(line.startswith(f"resuming from {tmp_path}/ckpt-6 at step 6") for line in lines), lines
    assert same(weights, straight)  # resumed exactly, not from step 0


@pytest.mark.parametrize("damage", ["truncated data", "deleted index"])
def test_a_damaged_newest_checkpoint_falls_back_to_the_one_before(damage, sample_records, tmp_path, straight):
    def hurt(folder):
        if damage == "truncated data":
            [data] = folder.glob("ckpt-6.data-*")
            data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
        else:
            os.remove(folder / "ckpt-6.index")

    weights, lines = damage_then_resume(sample_records, tmp_path, hurt)
    assert any(line.startswith(f"resuming from {tmp_path}/ckpt-4 at step 4") for line in lines), lines
    if damage == "truncated data":
        assert any("ckpt-6 is damaged (unreadable: Read less bytes than requested" in line for line in lines)
        assert (tmp_path / "damaged/ckpt-6.index").exists()  # set aside, not deleted
    assert same(weights, straight)  # steps 5-8 again, exactly


def test_no_start_from_step_0_over_damaged_checkpoints(sample_records, tmp_path):
    train(sample_records, tmp_path, 4)
    for data in tmp_path.glob("ckpt-*.data-*"):
        data.write_bytes(b"")
    with pytest.raises(checkpoints.CheckpointError, match="its checkpoints are all damaged .* pass a new --output_dir"):
        train(sample_records, tmp_path, 8)
    assert not list(tmp_path.glob("ckpt-*.index"))  # nothing overwritten: both moved to damaged/
    assert len(list((tmp_path / "damaged").glob("ckpt-*.index"))) == 2


def test_an_interrupted_saves_temp_folder_is_removed(sample_records, tmp_path, straight):
    def leave_temp(folder):
        (folder / "ckpt-8_temp").mkdir()
        (folder / "ckpt-8_temp" / "part-00000").write_bytes(b"\0" * 4096)

    weights, lines = damage_then_resume(sample_records, tmp_path, leave_temp)
    assert not (tmp_path / "ckpt-8_temp").exists()
    assert any("left by an interrupted save" in line for line in lines)
    assert same(weights, straight)


def test_a_resume_with_another_input_or_batch_is_refused(sample_records, tmp_path):
    saved = {"input_file": ["sample.tfrecord"], "train_batch_size": 8, "workers": 1}
    train(sample_records, tmp_path, 2, settings=saved)
    for changed in ({"input_file": ["other.tfrecord"]}, {"train_batch_size": 16}, {"workers": 2}):
        name, value = next(iter(changed.items()))
        with pytest.raises(checkpoints.CheckpointError) as err:
            train(sample_records, tmp_path, 4, settings={**saved, **changed})
        shown = ",".join(value) if isinstance(value, list) else value
        assert f"ckpt-2: saved by a run with {name} {saved[name][0] if name == 'input_file' else saved[name]} " \
            f"(now {shown}); rerun with those settings to resume" in str(err.value)  # fmt: skip
    train(sample_records, tmp_path, 4, settings=saved)  # the same settings resume
    assert (tmp_path / "ckpt-4.index").exists()


def test_a_checkpoint_without_settings_still_resumes(sample_records, tmp_path, straight, monkeypatch):
    """Checkpoints of earlier versions hold no run settings."""
    from albert import resume

    made = resume.chief_manager

    def without_settings(state, iterator, output_dir, keep, settings):
        checkpoint = made(state, iterator, output_dir, keep, settings).without_settings
        return tf.train.CheckpointManager(checkpoint, output_dir, keep, step_counter=state["global_step"],
                                          checkpoint_name="ckpt")  # fmt: skip

    monkeypatch.setattr(resume, "chief_manager", without_settings)
    train(sample_records, tmp_path, 6, settings={"train_batch_size": 8})
    assert (
        "run_settings/.ATTRIBUTES/VARIABLE_VALUE"
        not in tf.train.load_checkpoint(str(tmp_path / "ckpt-6")).get_variable_to_dtype_map()
    )
    monkeypatch.undo()
    lines: list[str] = []
    assert same(train(sample_records, tmp_path, 8, lines, settings={"train_batch_size": 8}), straight)
    assert any(line.startswith(f"resuming from {tmp_path}/ckpt-6 at step 6") for line in lines)


def pretraining_command(records, output_dir, *extra):
    return [sys.executable, os.path.join(ROOT, "run_pretraining.py"), f"--input_file={records}", "--model_size=tiny",
            f"--output_dir={output_dir}", f"--max_seq_length={S}", f"--max_predictions_per_seq={P}",
            "--train_batch_size=8", "--num_train_steps=24", "--num_warmup_steps=2", "--learning_rate=1e-3",
            "--optimizer=adamw", "--save_checkpoints_steps=8", "--log_steps=1", "--hidden_dropout_prob=0.1",
            *extra]  # fmt: skip


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_saves_where_it_stopped_and_the_run_resumes_there(signum, sample_records, tmp_path):
    straight = tmp_path / "straight"
    subprocess.run(pretraining_command(sample_records, straight), check=True, capture_output=True, env=SCRIPT_ENV)
    stopped = tmp_path / "stopped"
    at = random.randint(3, 20)
    log = open(tmp_path / "stopped.log", "w+")
    process = subprocess.Popen(pretraining_command(sample_records, stopped), stdout=log, stderr=subprocess.STDOUT,
                               env=SCRIPT_ENV)  # fmt: skip
    deadline = time.time() + 240
    while time.time() < deadline and f"step {at}/" not in open(log.name).read():
        time.sleep(0.01)
    process.send_signal(signum)
    assert process.wait(timeout=120) == 128 + signum
    line = next(line for line in open(log.name).read().splitlines() if " at step " in line and "saved" in line)
    step = int(re.search(r"at step (\d+): saved (\S+);", line)[1])
    assert line.startswith(f"{signal.Signals(signum).name} at step {step}: saved {stopped}/ckpt-{step};"), line
    assert at <= step < 24 and (stopped / f"ckpt-{step}.index").exists()
    resumed = subprocess.run(pretraining_command(sample_records, stopped), capture_output=True, text=True,
                             env=SCRIPT_ENV)  # fmt: skip
    assert resumed.returncode == 0 and f"resuming from {stopped}/ckpt-{step} at step {step}" in resumed.stdout
    a, b = (tf.train.load_checkpoint(str(folder / "ckpt-24")) for folder in (straight, stopped))
    # every variable but the count of saves (the stop made one more)
    names = [n for n in a.get_variable_to_shape_map() if n.endswith("VARIABLE_VALUE") and "save_counter" not in n]
    assert len(names) > 20
    assert all(np.array_equal(a.get_tensor(n), b.get_tensor(n)) for n in names), f"differs after a stop at {step}"


def write_lock(folder, pid: int, host: str | None = None, boot: str | None = None) -> None:
    from albert import output_lock

    owner = {
        "pid": pid,
        "host": host or socket.gethostname(),
        "boot": boot or output_lock._boot_id(),
        "started": "then",
    }
    (folder / output_lock.NAME).write_text(json.dumps(owner))


def test_an_output_folder_belongs_to_one_run(tmp_path):
    from albert import output_lock

    lines: list[str] = []
    with output_lock.held(str(tmp_path), lines.append):
        assert json.loads((tmp_path / ".run.lock").read_text())["pid"] == os.getpid()
    assert not (tmp_path / ".run.lock").exists() and not lines  # released after the run
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        write_lock(tmp_path, other.pid)  # a live run on this host
        with pytest.raises(
            output_lock.FolderInUse, match=rf"is in use by pid {other.pid} on .* pass another --output_dir"
        ):
            with output_lock.held(str(tmp_path), lines.append):
                pass
        write_lock(tmp_path, other.pid, host="elsewhere")  # on another machine: its run may be alive
        with pytest.raises(output_lock.FolderInUse, match="on elsewhere"):
            with output_lock.held(str(tmp_path), lines.append):
                pass
    finally:
        other.kill()
        other.wait()
    for stale in ({"pid": other.pid}, {"pid": 1, "boot": "an-earlier-boot"}):  # pid 1 is alive, but of another boot
        write_lock(tmp_path, **stale)  # its run is gone: dead, or from before a reboot / a spot replacement
        with output_lock.held(str(tmp_path), lines.append):
            pass
        assert "which is gone" in lines.pop()


def test_a_second_run_in_one_folder_stops_with_one_line(sample_records, tmp_path):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        (tmp_path / "run").mkdir()
        write_lock(tmp_path / "run", other.pid)
        done = subprocess.run(pretraining_command(sample_records, tmp_path / "run"), capture_output=True, text=True,
                              env=SCRIPT_ENV)  # fmt: skip
    finally:
        other.kill()
        other.wait()
    assert done.returncode == 1
    assert f"run_pretraining.py: error: {tmp_path / 'run'} is in use by pid {other.pid}" in done.stderr.splitlines()[-1]
    assert not list((tmp_path / "run").glob("ckpt-*"))


def test_an_output_that_is_an_input_is_refused(tmp_path, sample_spm_model, capsys):
    from albert.data import create_training_data

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("One sentence here.\nAnother one there.\n\nA second document.\nWith two lines.\n")
    before = corpus.read_bytes()
    for output in (corpus, tmp_path / "link.txt"):
        if output.name == "link.txt":
            output.symlink_to(corpus)
        status = create_training_data.main(
            [f"--input_file={tmp_path}/*.txt", f"--output_file={output}", f"--spm_model_file={sample_spm_model}"]
        )
        assert status == 1 and corpus.read_bytes() == before
    assert "--output_file would write over this input; write the output elsewhere" in capsys.readouterr().err


def test_partial_files_match_no_glob_and_a_killed_runs_are_removed(tmp_path):
    from albert.data.tfrecord import ShardedWriter

    left = tmp_path / ".train.tfrecord-00000-of-00002.tmp-999999999"  # a run long gone left it
    left.write_bytes(b"partial")
    writer = ShardedWriter([str(tmp_path / f"train.tfrecord-0000{i}-of-00002") for i in range(2)])
    writer.write(b"record")
    assert not left.exists()
    assert glob.glob(str(tmp_path / "train.tfrecord-*")) == [] and glob.glob(str(tmp_path / "*")) == []  # while writing
    writer.close()
    assert len(glob.glob(str(tmp_path / "train.tfrecord-*"))) == 2 and not glob.glob(str(tmp_path / ".*"))


def children(pid: int) -> list[int]:
    """The pool's worker processes of `pid` (not multiprocessing's resource tracker)."""
    found = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = open(stat).read().rsplit(")", 1)[1].split()
            command = open(stat.replace("stat", "cmdline"), "rb").read()
        except OSError:
            continue
        if int(fields[1]) == pid and b"resource_tracker" not in command:
            found.append(int(stat.split("/")[2]))
    return found


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
def test_data_workers_die_with_a_killed_main_process(tmp_path, sample_spm_model):
    from albert import samples

    corpus = tmp_path / "corpus.txt"
    text = open(samples.SAMPLE_TEXT).read()
    corpus.write_text("\n\n".join([text] * 400))
    command = [sys.executable, os.path.join(ROOT, "data_preprocessing", "create_training_data.py"),
               f"--input_file={corpus}", f"--output_file={tmp_path / 'out.tfrecord'}",
               f"--spm_model_file={sample_spm_model}", "--num_workers=2", "--dupe_factor=5"]  # fmt: skip
    process = subprocess.Popen(command, env=SCRIPT_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and len(children(process.pid)) < 2:
        time.sleep(0.05)
    workers = children(process.pid)
    assert len(workers) >= 2 and process.poll() is None, "the data run ended before its workers started"
    process.send_signal(signal.SIGKILL)
    process.wait()
    deadline = time.time() + 20
    while time.time() < deadline and any(os.path.exists(f"/proc/{w}") and _not_zombie(w) for w in workers):
        time.sleep(0.1)
    assert not any(os.path.exists(f"/proc/{w}") and _not_zombie(w) for w in workers), "orphaned data workers"
    assert not (tmp_path / "out.tfrecord").exists()


def _not_zombie(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
