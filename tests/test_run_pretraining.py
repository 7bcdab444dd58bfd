import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from conftest import ROOT
from conftest import SAMPLE_PREDICTIONS as P
from conftest import SAMPLE_SEQ_LENGTH as S

SCRIPT = os.path.join(ROOT, "run_pretraining.py")


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory):
    """A tiny ALBERT with dropout, so that resuming must also restore the dropout state."""
    path = tmp_path_factory.mktemp("config") / "albert_config.json"
    path.write_text(
        json.dumps(
            {
                "vocab_size": 300,
                "embedding_size": 32,
                "hidden_size": 64,
                "num_hidden_layers": 2,
                "num_hidden_groups": 1,
                "inner_group_num": 1,
                "num_attention_heads": 4,
                "intermediate_size": 128,
                "hidden_dropout_prob": 0.1,
                "attention_probs_dropout_prob": 0.1,
                "max_position_embeddings": S,
            }
        )
    )
    return str(path)


def command(records, config, output_dir, *extra):
    return [
        sys.executable,
        SCRIPT,
        f"--input_file={records}",
        f"--albert_config_file={config}",
        f"--output_dir={output_dir}",
        f"--max_seq_length={S}",
        f"--max_predictions_per_seq={P}",
        "--train_batch_size=16",
        "--num_train_steps=24",
        "--num_warmup_steps=3",
        "--learning_rate=1e-3",
        "--save_checkpoints_steps=4",
        "--log_steps=1",
        *extra,
    ]


def checkpoint_values(directory, step):
    reader = tf.train.load_checkpoint(os.path.join(directory, f"ckpt-{step}"))
    # every variable: model, optimizer slots and step, loss scale, dropout state (the input
    # position is an opaque iterator state)
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map() if k.endswith("VARIABLE_VALUE")}


def test_killed_run_resumes_to_identical_weights(tmp_path, sample_records, tiny_config):
    straight = tmp_path / "straight"
    subprocess.run(command(sample_records, tiny_config, straight), check=True, capture_output=True, timeout=300)

    interrupted = tmp_path / "interrupted"
    kill_at = random.randint(5, 21)
    log = open(tmp_path / "interrupted.log", "w+")
    process = subprocess.Popen(command(sample_records, tiny_config, interrupted), stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 240
    while time.time() < deadline and f"step {kill_at}/" not in open(log.name).read():
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not os.path.exists(interrupted / "ckpt-24"), f"killed at step {kill_at} too late"
    resumed = subprocess.run(
        command(sample_records, tiny_config, interrupted), check=True, capture_output=True, text=True, timeout=300
    )
    assert "resuming from" in resumed.stdout

    a, b = checkpoint_values(straight, 24), checkpoint_values(interrupted, 24)
    assert a.keys() == b.keys() and len(a) > 20
    for key in a:
        assert np.array_equal(a[key], b[key]), f"{key} differs after a kill at step {kill_at}"


def test_train_and_eval_write_results_summaries_and_keep_checkpoints(tmp_path, sample_records, tiny_config):
    out = tmp_path / "run"
    result = subprocess.run(
        command(
            sample_records,
            tiny_config,
            out,
            "--do_eval",
            "--keep_checkpoint_max=2",
            "--data_type=bf16",
            "--gradient_accumulation_steps=2",
        ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "step 24/24" in result.stdout and "seq/s" in result.stdout and "ETA" in result.stdout
    results = dict(line.split(" = ") for line in (out / "eval_results.txt").read_text().splitlines())
    assert set(results) == {
        "masked_lm_loss",
        "masked_lm_accuracy",
        "sentence_order_loss",
        "sentence_order_accuracy",
        "global_step",
    }
    assert results["global_step"] == "24" and 0 <= float(results["masked_lm_accuracy"]) <= 1
    assert sorted(p.name for p in out.glob("ckpt-*.index")) == ["ckpt-20.index", "ckpt-24.index"]
    assert list((out / "train").glob("events.out.tfevents.*"))
    # no vocabulary was given, so the folder has none: the summary says so, and its next command asks for one
    assert "config beside; no vocabulary" in result.stdout
    (following,) = [line for line in result.stdout.splitlines() if line.lstrip().startswith("next ")]
    assert f"--init_checkpoint={out}" in following and "'--spm_model_file=<the vocabulary" in following


def run_error(*args):
    result = subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    # TensorFlow's own start-up lines may precede it; the script's error is one line
    lines = [line for line in result.stderr.splitlines() if line.startswith("run_pretraining.py")]
    assert len(lines) == 1, result.stderr[-2000:]
    return lines[0]


def test_bad_input_is_a_one_line_error_before_training(tmp_path, sample_records, tiny_config):
    base = [f"--output_dir={tmp_path}/out", f"--albert_config_file={tiny_config}"]
    message = run_error(*base, f"--input_file={tmp_path}/missing-*.tfrecord", f"--max_seq_length={S}")
    assert "missing-*.tfrecord: no input file matches" in message
    message = run_error(
        *base, f"--input_file={sample_records}", "--max_seq_length=32", f"--max_predictions_per_seq={P}"
    )
    assert "has 64 values of input_ids, expected 32; set --max_seq_length" in message
    message = run_error(*base, f"--input_file={sample_records}", "--max_seq_length=128")
    assert "max_position_embeddings 64 is below --max_seq_length 128" in message
    message = run_error(
        *base,
        f"--input_file={sample_records}",
        f"--max_seq_length={S}",
        f"--max_predictions_per_seq={P}",
        "--train_batch_size=10",
        "--gradient_accumulation_steps=4",
    )
    assert "--train_batch_size 10 does not split evenly into 1 replicas × 4 micro-batches" in message
    message = run_error(*base, f"--input_file={sample_records}", f"--spm_model_file={tmp_path}/30k-clean.modle")
    assert f"--spm_model_file={tmp_path}/30k-clean.modle: no such file" in message
    assert not os.path.exists(tmp_path / "out")
