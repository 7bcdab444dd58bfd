"""The next commands a run's summary prints carry what the next run needs from this one."""

import shlex

from conftest import ROOT

from albert.tasks.classifier import ClassifierTask
from albert.tasks.squad import SquadTask


def flags(line):
    return dict(word[2:].split("=", 1) for word in shlex.split(line) if word.startswith("--") and "=" in word)


def test_an_evaluation_only_run_exports_from_the_weights_it_evaluated(tmp_path):
    task = ClassifierTask.from_settings(
        task_name="MRPC", data_dir="glue/MRPC", output_dir=str(tmp_path), init_checkpoint="ft/ckpt-300",
        do_lower_case=False, do_train=False, do_eval=True,
    )  # fmt: skip
    (export,) = task.next_commands()
    assert flags(export) == {
        "task_name": "MRPC", "data_dir": "glue/MRPC", "output_dir": str(tmp_path), "max_seq_length": "512",
        "init_checkpoint": "ft/ckpt-300", "do_lower_case": "false", "do_train": "false",
        "export_dir": f"{tmp_path}/saved_model",
    }  # fmt: skip


def test_the_example_prediction_fits_the_task(tmp_path):
    def prediction(task_class, **values):
        (line,) = task_class.from_settings(
            output_dir=str(tmp_path), export_dir=str(tmp_path / "m"), **values
        ).next_commands()
        return flags(line)

    assert set(prediction(ClassifierTask, task_name="MRPC")) == {"saved_model", "text_a", "text_b"}
    assert set(prediction(ClassifierTask, task_name="SST-2")) == {"saved_model", "text_a"}
    assert set(prediction(SquadTask)) == {"saved_model", "text_a", "text_b"}


def test_outside_a_clone_the_next_command_is_the_installed_module(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no run_squad_v1.py here
    (export,) = SquadTask.from_settings(output_dir=str(tmp_path / "run")).next_commands()
    assert shlex.split(export)[:4] == ["python", "-m", "albert.tasks", "squad"]
    monkeypatch.chdir(ROOT)
    (export,) = SquadTask.from_settings(output_dir=str(tmp_path / "run")).next_commands()
    assert shlex.split(export)[:2] == ["python", "run_squad_v1.py"]
