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


@pytest.fixture(autouse=True)
def not_verbose(monkeypatch):
    """The blocks below read the command line: pytest's own --verbose must not count."""
    monkeypatch.setattr(sys, "argv", ["albert"])


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


@pytest.mark.parametrize("flag", ["--verbose", "--verbose=true", "--verbose=yes", "--verbose=T"])
def test_verbose_on_the_command_line_as_the_settings_spell_it(flag, monkeypatch):
    monkeypatch.delenv("ALBERT_VERBOSE", raising=False)
    monkeypatch.setattr(sys, "argv", ["albert", flag])
    assert quiet.verbose()
    monkeypatch.setattr(sys, "argv", ["albert", "--verbose=false"])
    assert not quiet.verbose()


def run(code, args=(), **env):
    environment = {k: v for k, v in SCRIPT_ENV.items() if k not in ("ALBERT_VERBOSE", "TF_CPP_MIN_LOG_LEVEL")}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300,
                          env={**environment, **env})  # fmt: skip


@pytest.fixture
def loud_tensorflow(tmp_path):
    """A stand-in `tensorflow` that writes to descriptor 2 as it loads and as it looks for GPUs,
    as TensorFlow's C++ start-up does; STANDIN_FAILS=raise or abort makes it fail after that."""
    package = tmp_path / "tensorflow"
    package.mkdir()
    (package / "__init__.py").write_text(
        "import contextlib, os, types\n"
        "def say(line):  # as C code writes: whatever descriptor 2 is, or nothing\n"
        "    with contextlib.suppress(OSError):\n"
        "        os.write(2, line)\n"
        "say(b'native load line\\n')\n"
        "if os.environ.get('STANDIN_FAILS') == 'raise':\n"
        "    raise ImportError('the stand-in failed to load')\n"
        "if os.environ.get('STANDIN_FAILS') == 'abort':\n"
        "    os.abort()\n"
        "def list_physical_devices(kind):\n"
        "    say(b'native device line\\n')\n"
        "    return []\n"
        "config = types.SimpleNamespace(list_physical_devices=list_physical_devices)\n"
    )
    return {"PYTHONPATH": f"{tmp_path}{os.pathsep}{SCRIPT_ENV.get('PYTHONPATH', '')}"}


CODE = "import albert, tensorflow; print('loaded')"


def test_the_first_import_of_tensorflow_is_quiet(loud_tensorflow):
    result = run(CODE, **loud_tensorflow)
    assert result.returncode == 0 and result.stdout == "loaded\n", result.stderr
    assert "native" not in result.stderr, result.stderr
    for asked in ({"ALBERT_VERBOSE": "1"}, {"args": ["--verbose"]}):
        loud = run(CODE, **{**loud_tensorflow, **asked})
        assert "native load line" in loud.stderr and "native device line" in loud.stderr, loud.stderr


def test_a_failed_import_shows_what_tensorflow_wrote(loud_tensorflow):
    result = run(CODE, **loud_tensorflow, STANDIN_FAILS="raise")
    assert result.returncode == 1
    assert "native load line" in result.stderr and "the stand-in failed to load" in result.stderr


def test_an_abort_in_the_import_still_says_where(loud_tensorflow):
    result = run(CODE, **loud_tensorflow, STANDIN_FAILS="abort")
    assert result.returncode != 0
    assert "Fatal Python error: Aborted" in result.stderr and "tensorflow/__init__.py" in result.stderr


def test_no_descriptor_2_or_no_temporary_folder_means_no_capture(loud_tensorflow, tmp_path):
    closed = subprocess.run(
        ["bash", "-c", f"{sys.executable} -c {CODE!r} 2>&-"],
        capture_output=True, text=True, timeout=300, env={**SCRIPT_ENV, **loud_tensorflow},
    )  # fmt: skip
    assert closed.returncode == 0 and closed.stdout == "loaded\n"
    unwritable = run(CODE, **loud_tensorflow, TMPDIR=str(tmp_path / "missing"))
    assert unwritable.returncode == 0 and unwritable.stdout == "loaded\n", unwritable.stderr


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
