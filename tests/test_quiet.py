"""A quiet start: TensorFlow's C++ start-up lines are kept from the terminal unless asked for,
and shown when start-up fails."""

import os
import subprocess
import sys

import pytest
from conftest import SCRIPT_ENV

from albert import quiet

# What TensorFlow 2.16+ prints on a CPU-only machine while it loads and looks for GPUs.
NOISE = ("absl::InitializeLog", "oneDNN custom operations", "cuda drivers", "cuInit")


def test_what_the_block_writes_to_descriptor_2_is_kept_back(capfd, monkeypatch):
    monkeypatch.delenv("ALBERT_VERBOSE", raising=False)
    with quiet.captured():
        os.write(2, b"native start-up line\n")
    assert "native start-up line" not in capfd.readouterr().err
    os.write(2, b"after the block\n")
    assert "after the block" in capfd.readouterr().err


def test_what_the_block_wrote_is_shown_when_it_fails(capfd, monkeypatch):
    monkeypatch.delenv("ALBERT_VERBOSE", raising=False)
    with pytest.raises(RuntimeError), quiet.captured():
        os.write(2, b"why loading failed\n")
        raise RuntimeError("load failed")
    assert "why loading failed" in capfd.readouterr().err


def test_verbose_shows_everything(capfd, monkeypatch):
    monkeypatch.setenv("ALBERT_VERBOSE", "1")
    with quiet.captured():
        os.write(2, b"native start-up line\n")
    assert "native start-up line" in capfd.readouterr().err


def run(code, **env):
    environment = {k: v for k, v in SCRIPT_ENV.items() if k not in ("ALBERT_VERBOSE", "TF_CPP_MIN_LOG_LEVEL")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**environment, **env})  # fmt: skip


def test_importing_tensorflow_through_the_package_prints_nothing():
    code = "import albert, tensorflow as tf; print(tf.reduce_sum(tf.ones([2, 3])).numpy())"
    result = run(code)
    assert result.returncode == 0 and result.stdout.strip() == "6.0", result.stderr
    assert not [line for line in result.stderr.splitlines() if any(n in line for n in NOISE)], result.stderr
    # the same without the package (with the log level the package sets), for comparison
    plain = run(code.replace("import albert, ", "import "), TF_CPP_MIN_LOG_LEVEL="2")
    loud = run(code, ALBERT_VERBOSE="1")
    assert plain.returncode == 0 and loud.returncode == 0
    # what TensorFlow prints by itself (if anything, on this TensorFlow) is shown when asked for
    assert [n for n in NOISE if n in loud.stderr] == [n for n in NOISE if n in plain.stderr]
