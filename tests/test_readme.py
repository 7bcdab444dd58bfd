"""The README's shell commands, so that it cannot rot: the first hour's run as typed, in order;
the launcher's and the SageMaker launcher's through --dry_run; the task and data scripts' runs
on data that is not here parsed by their own settings tables; the rest named with the reason
they cannot run on this machine. A new command in the README that fits none of these fails, and
so does a command in a block that is not `bash` (output and listings are in plain blocks, and
hold no command). Commands with `...` in them are elided on purpose and left out."""

import os
import re
import shlex
import subprocess
import sys

import pytest
from conftest import ROOT, SCRIPT_ENV

from albert import settings
from albert.data import create_training_data, train_sentencepiece
from albert.tasks import TASKS

FIRST_HOUR = "The first hour"
# Commands that do not run here, by how they start, and why.
NOT_HERE = {
    "make ": "the set-up itself (CI runs make test)",
    "pip install": "installs (tests/test_install.py installs the project and runs its commands)",
    "HOROVOD=0 ": "the TensorFlow 2.15 stack (CI's Horovod lanes are installed by it)",
    "docker ": "needs Docker and a registry",
    "aws ": "needs an AWS account",
    "export ": "AWS's environment (tests/test_launch_sagemaker.py sets it)",
    "tensorboard ": "a server that runs until stopped",
    "source ": "the commands below run with this Python's folder first on PATH, as activation does",
    "TF_CONFIG=": "one worker of several hosts",
}
SCRIPTS = {
    **{task.script: task.settings for task in TASKS.values()},
    "data_preprocessing/create_training_data.py": create_training_data.SETTINGS,
    "data_preprocessing/train_sentencepiece.py": train_sentencepiece.SETTINGS,
}


def readme_commands() -> list[tuple[str, str]]:
    """(section, command) of every line of the README's bash blocks, continuations joined."""
    commands, section, block, pending = [], "", False, ""
    for line in open(os.path.join(ROOT, "README.md"), encoding="utf-8"):
        line = line.rstrip("\n")
        if line.startswith("```"):
            block = line == "```bash"
            continue
        if not block:
            section = line.lstrip("#").strip() if line.startswith("#") else section
            continue
        pending += line[:-1] + " " if line.endswith("\\") else line
        if line.endswith("\\"):
            continue
        command = pending.split(" # ")[0].strip()
        if command and not command.startswith("#"):
            commands.append((section, command))
        pending = ""
    return commands


def test_commands_are_only_in_bash_blocks():
    """A block of another shell's name would be skipped by readme_commands: none may exist, and
    plain blocks (a run's output, the file listing) hold no command."""
    fences, block = [], None
    for number, line in enumerate(open(os.path.join(ROOT, "README.md"), encoding="utf-8"), 1):
        if line.startswith("```"):
            block = None if block is not None else line[3:].strip()
            fences += [(number, block)] if block is not None else []
        elif block == "" and re.match(r"\s*(\$ |python3? |make |pip )", line):
            raise AssertionError(f"README.md:{number}: a command in a plain block; put it in a bash block")
    assert {language for _, language in fences} <= {"bash", "python", ""}, fences


def kind(section: str, command: str) -> str:
    if any(command.startswith(start) for start in NOT_HERE):
        return "not here"
    if "..." in command:
        return "elided"
    if section == FIRST_HOUR:
        return "run"
    words = shlex.split(command)
    words[0] = "python" if words[0] == "python3" else words[0]
    if words[:2] == ["python", "demo_albert.py"] or words[:3] == ["python", "-m", "albert.launch_sagemaker"]:
        return "dry run"
    if words[0] == "python" and words[1] in SCRIPTS:
        return "parse"
    return "unknown"


COMMANDS = readme_commands()


def test_every_command_of_the_readme_is_covered():
    kinds = [(command, kind(section, command)) for section, command in COMMANDS]
    assert [command for command, k in kinds if k == "unknown"] == []
    counts = [k for _, k in kinds]
    assert counts.count("run") >= 6 and counts.count("dry run") >= 8 and counts.count("parse") >= 5


def shell(command: str, cwd, timeout=900) -> subprocess.CompletedProcess:
    """`command` run by bash as typed, with this Python first on PATH (as an activated venv)."""
    env = {**SCRIPT_ENV, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def clone(tmp_path):
    """A folder laid out as the clone (its scripts and package), where the commands write."""
    for name in ("albert", "data_preprocessing", "demo_albert.py", "run_pretraining.py", "run_classifier.py",
                 "run_squad_v1.py"):  # fmt: skip
        os.symlink(os.path.join(ROOT, name), tmp_path / name)
    return tmp_path


def test_the_first_hour_runs_as_typed(clone):
    ran = []
    for section, command in COMMANDS:
        if section == FIRST_HOUR and kind(section, command) == "run":
            result = shell(command, clone)
            assert result.returncode == 0, f"{command}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
            ran.append((command, result.stdout))
    assert len(ran) >= 6
    (predicted,) = [stdout for command, stdout in ran if "albert.predict" in command]
    assert re.fullmatch(r'\{"probabilities": \[[\d.]+, [\d.]+\], "prediction": [01]\}\n', predicted)
    for path in ("output/overfit_tiny_fp32/pretraining/albert_config.json", "output/mrpc_from_demo/saved_model",
                 "output/mrpc_from_demo/eval_results.txt", "output/tiny_hf/model.safetensors"):  # fmt: skip
        assert os.path.exists(clone / path), path


@pytest.mark.parametrize(
    "command", [c for s, c in COMMANDS if kind(s, c) == "dry run" and "demo_albert.py" in c], ids=lambda c: c[:60]
)
def test_the_launchers_commands_plan_as_typed(command, clone):
    result = shell(f"{command} --dry_run", clone, timeout=300)
    assert result.returncode == 0, f"{command}\n{result.stderr[-2000:]}"
    assert "# " in result.stdout and " -m albert.tasks " in result.stdout


def test_the_sagemaker_commands_plan_as_typed(clone, monkeypatch):
    pytest.importorskip("sagemaker")
    from test_launch_sagemaker import ENVIRONMENT

    sagemaker_commands = [c for s, c in COMMANDS if kind(s, c) == "dry run" and "launch_sagemaker" in c]
    assert len(sagemaker_commands) >= 2
    for command in sagemaker_commands:
        typed = command if "--dry_run" in command else f"{command} --dry_run"
        env = " ".join(f"{name}={shlex.quote(value)}" for name, value in ENVIRONMENT.items())
        result = shell(f"cd {shlex.quote(ROOT)} && env {env} {typed}", clone, timeout=300)
        assert result.returncode == 0, f"{command}\n{result.stderr[-2000:]}"


@pytest.mark.parametrize("command", [c for s, c in COMMANDS if kind(s, c) == "parse"], ids=lambda c: c[:60])
def test_the_scripts_commands_are_accepted_by_their_settings(command):
    words = shlex.split(command)
    table = SCRIPTS[words[1]]
    values = settings.parse(table, words[2:], words[1])  # an unknown flag or a bad value exits
    flags = [word for word in words[2:] if word.startswith("--")]
    assert sum(values.given(setting.name) for setting in table) == len(flags)
