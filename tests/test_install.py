"""The package as a user gets it: `pip install .` of this tree into a fresh virtual environment,
then, from another directory, every command of pyproject's [project.scripts] answers --help with
its own flags, and the data commands run on the samples the package ships. Last,
`pip install -e .` in the same environment, after which the scripts of data_preprocessing/ run
from the clone without any PYTHONPATH.

The first run downloads TensorFlow's dependencies into pip's cache; later runs take 2-3 minutes
on 2 cores (most of it the TensorFlow wheel being unpacked and each command importing it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest
from conftest import ROOT

tomllib = pytest.importorskip("tomllib")

pytestmark = pytest.mark.slow

with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
    SCRIPTS: dict[str, str] = tomllib.load(f)["project"]["scripts"]

# Flags that each command's --help must name; a command not listed here must name at least one flag.
MAIN_FLAGS = {
    "albert-pretrain": ["--input_file", "--num_train_steps", "--output_dir"],
    "albert-classify": ["--task_name", "--data_dir", "--output_dir"],
    "albert-squad": ["--train_file", "--predict_file", "--output_dir"],
    "albert-demo": ["--command", "--test_set", "--model_variant"],
    "albert-create-data": ["--input_file", "--output_file", "--spm_model_file", "--dupe_factor"],
    "albert-train-spm": ["--input_file", "--model_prefix", "--vocab_size"],
    "albert-convert": ["--from", "--to", "--input", "--output"],
}
# What a copy of the tree leaves out: version control, environments, caches, build output.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv*", "__pycache__", "build", "*.egg-info", ".pytest_cache", ".ruff_cache", "output", "tmp"
)
INSTALL_TIMEOUT = 900  # a cold pip cache downloads TensorFlow


def run(argv: list[str], cwd: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


class Installed:
    def __init__(self, root: str):
        self.source = os.path.join(root, "albert-toolkit")  # a copy: pip writes nothing into this tree
        self.venv = os.path.join(root, "venv")
        self.work = os.path.join(root, "work")  # the user's directory, neither the source nor the venv
        self.bin = os.path.join(self.venv, "bin")
        self.python = os.path.join(self.bin, "python")

    def run(self, *argv: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return run(list(argv), self.work, timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    env = Installed(str(tmp_path_factory.mktemp("install")))
    shutil.copytree(ROOT, env.source, ignore=NOT_SOURCE)
    os.makedirs(env.work)
    start = time.perf_counter()
    created = env.run(sys.executable, "-m", "venv", env.venv, timeout=120)
    assert created.returncode == 0, created.stderr
    result = env.run(env.python, "-m", "pip", "install", "--quiet", env.source, timeout=INSTALL_TIMEOUT)
    assert result.returncode == 0, result.stdout + result.stderr
    print(f"venv + pip install .: {time.perf_counter() - start:.0f} s")
    return env


def test_the_package_is_installed_with_its_samples(installed):
    probe = (
        "import albert, albert.samples as s, os;"
        "print(albert.__file__);"
        "print(all(os.path.isfile(p) for p in (s.SAMPLE_TEXT, os.path.join(s.MRPC, 'train.tsv'),"
        " os.path.join(s.SQUAD, 'dev.json'))))"
    )
    result = installed.run(installed.python, "-c", probe)
    assert result.returncode == 0, result.stderr
    location, samples = result.stdout.split()
    assert location.startswith(installed.venv) and "site-packages" in location
    assert samples == "True"
    listed = installed.run(installed.python, "-m", "pip", "list", "--format=freeze")
    assert "albert-toolkit==" in listed.stdout and "tensorflow-text" not in listed.stdout  # an extra, not a dependency


@pytest.mark.parametrize("command", sorted(SCRIPTS))
def test_command_help(installed, command):
    result = installed.run(os.path.join(installed.bin, command), "--help")
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{command} ({SCRIPTS[command]}) --help exited {result.returncode}:\n{output}"
    for flag in MAIN_FLAGS.get(command, ["--"]):
        assert flag in output, f"{command} --help does not name {flag}:\n{output}"


def test_data_commands_run_on_the_shipped_sample(installed):
    sample = installed.run(installed.python, "-c", "import albert.samples; print(albert.samples.SAMPLE_TEXT)")
    text = sample.stdout.strip()
    spm = installed.run(
        os.path.join(installed.bin, "albert-train-spm"),
        f"--input_file={text}",
        "--model_prefix=vocab/sample",
        "--vocab_size=300",
    )
    assert spm.returncode == 0, spm.stderr
    assert os.path.isfile(os.path.join(installed.work, "vocab", "sample.model"))
    records = installed.run(
        os.path.join(installed.bin, "albert-create-data"),
        f"--input_file={text}",
        "--output_file=records/sample.tfrecord",
        "--spm_model_file=vocab/sample.model",
        "--max_seq_length=64",
        "--max_predictions_per_seq=10",
        "--dupe_factor=1",
    )
    assert records.returncode == 0, records.stderr
    assert "instances" in records.stdout
    assert os.path.getsize(os.path.join(installed.work, "records", "sample.tfrecord")) > 0
    failed = installed.run(os.path.join(installed.bin, "albert-create-data"), "--input_file=nothing*.txt")
    assert failed.returncode != 0  # a missing required flag or input is an exit status, not a traceback
    assert "Traceback" not in failed.stderr


def test_editable_install_serves_the_clone(installed):
    """`pip install -e .`, as the Makefile does: albert resolves to the clone, and its
    data_preprocessing/ scripts run from any directory without PYTHONPATH."""
    result = installed.run(installed.python, "-m", "pip", "install", "--quiet", "--no-deps", "-e", installed.source)
    assert result.returncode == 0, result.stdout + result.stderr
    where = installed.run(installed.python, "-c", "import albert, albert.samples as s; print(albert.__file__, s.MRPC)")
    assert where.returncode == 0, where.stderr
    module, mrpc = where.stdout.split()
    assert module == os.path.join(installed.source, "albert", "__init__.py")
    assert mrpc == os.path.join(installed.source, "albert", "samples", "mrpc_sample")
    for script, flag in [("create_training_data.py", "--output_file"), ("train_sentencepiece.py", "--model_prefix")]:
        result = installed.run(installed.python, os.path.join(installed.source, "data_preprocessing", script), "--help")
        assert result.returncode == 0, result.stderr
        assert flag in result.stdout
    help_ = installed.run(os.path.join(installed.bin, "albert-create-data"), "--help")
    assert help_.returncode == 0 and "--input_file" in help_.stdout
