"""Inside SageMaker's container, on CPU: the entry points AWS's README names, run with the
hyperparameters as SageMaker passes them (`--key value` strings) and its SM_* variables, under an
/opt/ml laid out in a temporary folder; AWS's flags with AWS's meanings; SQuAD during pretraining."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from conftest import ROOT, SAMPLE_PREDICTIONS, SAMPLE_SEQ_LENGTH, SCRIPT_ENV

from albert import launch, samples
from albert.aws import job

PRETRAIN = os.path.join(ROOT, "albert", "run_pretraining.py")
SQUAD = os.path.join(ROOT, "albert", "run_squad.py")
RECORDS = [f"--max_seq_length={SAMPLE_SEQ_LENGTH}", f"--max_predictions_per_seq={SAMPLE_PREDICTIONS}"]


def opt_ml(root, records: str) -> dict[str, str]:
    """/opt/ml under `root` with the FSx volume's records in data/train; SageMaker's variables."""
    ml = root / "opt" / "ml"
    for folder in ("model", "checkpoints", "output/data", "input/data/training/data/train"):
        (ml / folder).mkdir(parents=True)
    shutil.copy(records, ml / "input/data/training/data/train/sample.tfrecord")
    return {
        "SM_MODEL_DIR": str(ml / "model"),
        "SM_CHANNEL_TRAINING": str(ml / "input/data/training"),
        "SM_OUTPUT_DATA_DIR": str(ml / "output/data"),
        "SM_HOSTS": '["algo-1"]',
        "SM_CURRENT_HOST": "algo-1",
    }


def hyperparameters(channel: str) -> list[str]:
    """What the toolkit passes: each hyperparameter as `--key value`, booleans as True/False."""
    values = {
        "filesystem_prefix": channel, "train_dir": "data/train", "model_type": "albert", "model_size": "tiny",
        "load_from": "scratch", "per_gpu_batch_size": 8, "gradient_accumulation_steps": 2, "total_steps": 24,
        "warmup_steps": 3, "learning_rate": 1e-3, "optimizer": "adamw", "log_frequency": 1,
        "checkpoint_frequency": 4, "name": "spot", "skip_xla": True, "model_dir": "/opt/ml/model",
        "max_seq_length": SAMPLE_SEQ_LENGTH, "max_predictions_per_seq": SAMPLE_PREDICTIONS,
        "val_dir": "data/train", "do_eval": True, "validation_frequency": 12, "max_eval_steps": 4,
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,  # the dropout state resumes too
    }  # fmt: skip
    return [part for key, value in values.items() for part in (f"--{key}", str(value))]


def weights(prefix: str) -> dict[str, np.ndarray]:
    """The checkpoint's numeric variables (not the run's settings, a string)."""
    reader = tf.train.load_checkpoint(prefix)
    types = reader.get_variable_to_dtype_map()
    return {k: reader.get_tensor(k) for k in types if k.endswith("VARIABLE_VALUE") and types[k] != tf.string}


def test_the_container_contract_and_a_spot_interruption(tmp_path, sample_records):
    straight = opt_ml(tmp_path / "straight", sample_records)
    argv = [sys.executable, PRETRAIN, *hyperparameters(straight["SM_CHANNEL_TRAINING"])]
    done = subprocess.run(argv, env={**SCRIPT_ENV, **straight}, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    checkpoints = os.path.join(os.path.dirname(straight["SM_MODEL_DIR"]), "checkpoints", "spot")
    assert os.path.exists(os.path.join(checkpoints, "ckpt-24.index"))  # SageMaker's checkpoint folder
    model = os.path.join(straight["SM_MODEL_DIR"], "model.ckpt")
    assert json.load(open(os.path.join(straight["SM_MODEL_DIR"], "config.json")))["hidden_size"] == 64
    # The log lines give SageMaker's metrics: 16 sequences a step (8 per GPU x 2 micro-batches).
    metrics = {m["Name"]: re.compile(m["Regex"]) for m in job.metric_definitions("pretraining")}
    lines = done.stdout.splitlines()
    losses = [float(m[1]) for m in map(metrics["train:loss"].search, lines) if m]
    assert len(losses) == 24 and all(np.isfinite(losses))
    assert [m for m in map(metrics["train:sequences_per_second"].search, lines) if m]
    assert any(m and float(m[1]) > 0 for m in map(metrics["train:masked_lm_accuracy"].search, lines))
    # evaluated every 12 steps (--validation_frequency) and at the end; the results are the job's output
    evaluated = [m[1] for m in map(metrics["eval:masked_lm_accuracy"].search, lines) if m]
    assert len(evaluated) == 3 and [line[:16] for line in lines if line.startswith("eval")][:2] == [
        "eval at step 12:", "eval at step 24:"
    ]  # fmt: skip
    assert os.path.exists(os.path.join(straight["SM_OUTPUT_DATA_DIR"], "eval_results.txt"))

    # Stopped by SIGTERM at a random step (a spot interruption: SageMaker sends it before the
    # instance goes), started again: it saved where it stopped, resumes there from the checkpoint
    # folder and ends with the same model, bit for bit.
    interrupted = opt_ml(tmp_path / "interrupted", sample_records)
    argv = [sys.executable, PRETRAIN, *hyperparameters(interrupted["SM_CHANNEL_TRAINING"])]
    kill_at = random.randint(5, 20)
    log = open(tmp_path / "interrupted.log", "w+")
    process = subprocess.Popen(argv, env={**SCRIPT_ENV, **interrupted}, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    while time.time() < deadline and f"step {kill_at}/" not in open(log.name).read():
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=120) == 128 + signal.SIGTERM
    assert not os.listdir(interrupted["SM_MODEL_DIR"]), f"stopped at step {kill_at} too late"
    saved = re.search(r"SIGTERM at step (\d+): saved (\S+/checkpoints/spot/ckpt-\1);", open(log.name).read())
    assert saved and int(saved[1]) >= kill_at
    resumed = subprocess.run(argv, env={**SCRIPT_ENV, **interrupted}, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming from {saved[2]} at step {saved[1]}" in resumed.stdout
    a, b = weights(model), weights(os.path.join(interrupted["SM_MODEL_DIR"], "model.ckpt"))
    assert a.keys() == b.keys() and len(a) > 10
    assert all(np.array_equal(a[k], b[k]) for k in a), f"the model differs after a stop at step {saved[1]}"


def run(script: str, *argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, script, *argv], env={**SCRIPT_ENV, **(env or {})}, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_the_readme_pretraining_commands(tmp_path, sample_records):
    """AWS's ALBERT pretraining and BERT phase 1 and phase 2 commands, flags as typed (a tiny model,
    a few steps): phase 2 starts from phase 1's checkpoint, named as AWS's README names it, with
    its unset variable (and runs eagerly, --eager)."""
    fsx = tmp_path / "fsx"
    (fsx / "data/train").mkdir(parents=True)
    shutil.copy(sample_records, fsx / "data/train/sample.tfrecord")
    common = [f"--filesystem_prefix={fsx}", "--train_dir=data/train", "--skip_xla"]
    # ALBERT's pretraining command first
    run(PRETRAIN, *common, "--load_from=scratch", "--model_type=albert", "--model_size=tiny", "--per_gpu_batch_size=4",
        "--gradient_accumulation_steps=2", "--warmup_steps=2", "--total_steps=4", "--learning_rate=0.00176",
        "--optimizer=lamb", "--log_frequency=10", "--name=myfirstjob", *RECORDS)  # fmt: skip
    assert (fsx / "checkpoints/albert/myfirstjob/ckpt-4.index").exists()
    run(PRETRAIN, *common, "--load_from=scratch", "--model_type=bert", "--model_size=tiny", "--per_gpu_batch_size=4",
        *RECORDS, "--optimizer=lamb", "--gradient_accumulation_steps=4", "--run_name=myberttrainingphase1",
        "--warmup_steps=2", "--total_steps=6", "--learning_rate=0.00176", "--squad_freq=0", "--log_frequency=10",
        "--name=mybertphase1")  # fmt: skip
    phase1 = fsx / "checkpoints/bert/myberttrainingphase1"
    assert (phase1 / "ckpt-6.index").exists()
    done = run(PRETRAIN, *common, "--load_from=checkpoint", "--model_type=bert", "--model_size=tiny",
               "--per_gpu_batch_size=2", *RECORDS, "--optimizer=lamb", "--gradient_accumulation_steps=8",
               "--run_name=myberttrainingphase2", "--warmup_steps=1", "--total_steps=3", "--learning_rate=0.00176",
               "--log_frequency=10", f"--checkpoint_path={fsx}/checkpoints/bert/-step6",
               "--name=mybertphase2", "--eager")  # fmt: skip
    assert f"initialised the model and optimizer from {phase1}/ckpt-6" in done.stdout
    phase2 = tf.train.load_checkpoint(str(fsx / "checkpoints/bert/myberttrainingphase2/ckpt-3"))
    first = tf.train.load_checkpoint(str(phase1 / "ckpt-6"))
    # The optimizer's step count started again (phase 2's own schedule) and its moments went on.
    assert phase2.get_tensor("optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE") == 3
    assert first.get_tensor("optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE") == 6


def squad_v2_sample(path) -> None:
    """The project's SQuAD sample as v2.0: one question per context made unanswerable."""
    data = json.load(open(os.path.join(samples.SQUAD, "dev.json")))
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            paragraph["qas"][0].update(answers=[], is_impossible=True)
    data["version"] = "v2.0"
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("version", ["squadv1", "squadv2"])
def test_the_readme_squad_commands(version, tmp_path, sample_spm_model):
    fsx = tmp_path / "fsx"
    (fsx / "squad_data").mkdir(parents=True)
    if version == "squadv1":
        for name in ("train", "dev"):
            shutil.copy(os.path.join(samples.SQUAD, f"{name}.json"), fsx / f"squad_data/{name}-v1.1.json")
    else:
        for name in ("train", "dev"):
            squad_v2_sample(fsx / f"squad_data/{name}-v2.0.json")
    run(SQUAD, f"--filesystem_prefix={fsx}", "--load_from=scratch", "--model_type=albert", "--model_size=tiny",
        "--per_gpu_batch_size=6", "--total_steps=4", "--warmup_steps=1", "--learning_rate=3e-5",
        f"--task_name={version}", f"--spm_model_file={sample_spm_model}", "--max_seq_length=128",
        f"--run_name={version}")  # fmt: skip
    lines = open(fsx / f"checkpoints/squad/{version}/eval_results.txt").read().splitlines()
    results = dict(line.split(" = ") for line in lines)
    assert 0 <= float(results["f1"]) <= 100
    assert ("HasAns_f1" in results) == (version == "squadv2")


def test_per_gpu_batch_trains_the_batch_it_makes(tmp_path, sample_records):
    """--per_gpu_batch_size 4 --gradient_accumulation_steps 2 on 2 workers is --train_batch_size 16."""
    common = [f"--input_file={sample_records}", "--model_size=tiny", *RECORDS, "--num_train_steps=6",
              "--learning_rate=1e-3", "--optimizer=adamw", "--distribution=tf", "--hidden_dropout_prob=0",
              "--attention_probs_dropout_prob=0", "--save_checkpoints_steps=6"]  # fmt: skip
    placement = launch.Placement(workers_per_box=2, distribution="tf")
    for name, batch in (("global", ["--train_batch_size=16"]),
                        ("per_gpu", ["--per_gpu_batch_size=4", "--gradient_accumulation_steps=2"])):  # fmt: skip
        command = [sys.executable, PRETRAIN, *common, *batch, f"--output_dir={tmp_path / name}"]
        workers = launch.tf_worker_commands(command, placement)
        processes = [subprocess.Popen(argv, env={**SCRIPT_ENV, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True) for env, argv in workers]  # fmt: skip
        outputs = [p.communicate(timeout=600)[0] for p in processes]
        assert all(p.returncode == 0 for p in processes), outputs[0][-3000:]
        assert "of 16 sequences" in outputs[0]
    a, b = weights(str(tmp_path / "global/ckpt-6")), weights(str(tmp_path / "per_gpu/ckpt-6"))
    floats = [k for k in a if a[k].dtype.kind == "f"]  # weights, optimizer moments
    assert a.keys() == b.keys() and len(floats) > 20
    assert max(float(np.max(np.abs(a[k] - b[k]))) for k in floats) <= 1e-5


def test_squad_during_pretraining_leaves_the_pretraining_as_it_was(tmp_path, sample_records, sample_spm_model):
    """AWS's default SQuAD 2.0, from the file system's squad_data/, with dropout in the pretraining."""
    common = [f"--input_file={sample_records}", "--model_size=tiny", *RECORDS, "--train_batch_size=8",
              "--num_train_steps=6", "--learning_rate=1e-3", "--optimizer=adamw", "--save_checkpoints_steps=6",
              "--hidden_dropout_prob=0.1", "--attention_probs_dropout_prob=0.1"]  # fmt: skip
    run(PRETRAIN, *common, f"--output_dir={tmp_path / 'plain'}")
    (tmp_path / "fsx/squad_data").mkdir(parents=True)
    for name in ("train", "dev"):
        squad_v2_sample(tmp_path / f"fsx/squad_data/{name}-v2.0.json")
    done = run(PRETRAIN, *common, f"--output_dir={tmp_path / 'squad'}", "--squad_frequency=3", "--squad_steps=4",
               f"--spm_model_file={sample_spm_model}", "--squad_max_seq_length=64", "--squad_batch_size=4",
               "--squad_version=squadv2", f"--filesystem_prefix={tmp_path / 'fsx'}")  # fmt: skip
    scores = re.findall(r"squad at step (\d+): exact_match ([0-9.]+)  f1 ([0-9.]+)", done.stdout)
    assert [int(s[0]) for s in scores] == [3, 6] and all(0 <= float(s[2]) <= 100 for s in scores)
    assert "HasAns_f1" in open(tmp_path / "squad/squad/step-6/eval_results.txt").read()  # scored as v2.0
    a, b = weights(str(tmp_path / "plain/ckpt-6")), weights(str(tmp_path / "squad/ckpt-6"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
