"""Settings: each declared once, every spelling reaching the same setting, the scripts' --help
made from the tables, and the launcher's commands made from them too."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import ROOT

from albert import settings
from albert.settings import Setting, SettingError, group, parse, to_argv
from albert.tasks import TASKS
from albert.tasks.base import SHARED

TABLE = group(
    "Test",
    Setting("num_train_steps", int, 1000, "Steps.", aliases=("train_steps", "total_steps")),
    Setting("do_train", bool, True, "Train."),
    Setting("optimizer", str, "lamb", "Optimizer.", choices=("lamb", "adamw")),
    Setting("output_dir", str, None, "Output.", required=True),
)


def values(*argv: str) -> dict:
    return parse(TABLE, [*argv, "--output_dir=o"]).as_dict()


def test_every_spelling_of_every_setting_reaches_it():
    for task in TASKS.values():
        for setting in task.settings:
            if setting.type is bool:
                continue
            text = setting.choices[-1] if setting.choices else {int: "7", float: "0.25", str: "x"}[setting.type]
            required = [f"--{s.name}=x" for s in task.settings if s.required and s.name != setting.name]
            for spelling in setting.spellings:
                parsed = parse(task.settings, [*required, f"--{spelling}={text}"])
                assert getattr(parsed, setting.name) == setting.type(text), (task.name, spelling)
                assert parsed.given(setting.name)


def test_the_seeds_spellings_are_aliases():
    # Google's (ALBERT run_classifier.py, BERT), Habana's and AWS's spellings of shared settings.
    expected = {
        "num_train_steps": {"train_steps", "train_step", "total_steps"},
        "num_warmup_steps": {"warmup_steps", "warmup_step"},
        "log_steps": {"log_frequency", "save_summary_steps"},
        "save_checkpoints_steps": {"checkpoint_frequency"},
        "albert_config_file": {"bert_config_file"},
        "random_seed": {"seed"},
    }
    shared = {s.name: set(s.aliases) for s in SHARED}
    for name, aliases in expected.items():
        assert aliases <= shared[name], name


def test_booleans_take_absl_spellings():
    assert values()["do_train"] is True
    assert values("--nodo_train")["do_train"] is False
    assert values("--do_train=false")["do_train"] is False
    assert values("--do_train=True")["do_train"] is True
    assert values("--do_train", "--total_steps", "5") == {
        "num_train_steps": 5, "do_train": True, "optimizer": "lamb", "output_dir": "o"
    }  # fmt: skip


def test_two_spellings_of_one_setting_are_refused(capsys):
    with pytest.raises(SystemExit):
        values("--total_steps=20", "--train_steps=3")
    assert "--total_steps and --train_steps both set --num_train_steps; give one" in capsys.readouterr().err
    assert values("--train_steps=3", "--train_steps=4")["num_train_steps"] == 4  # the same spelling: the last


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--output_dir=o", "--optimizer=sgd"], "invalid choice: 'sgd'"),
        (["--output_dir=o", "--num_train_steps=ten"], "invalid int value: 'ten'"),
        (["--output_dir=o", "--num_train"], "unrecognized arguments: --num_train"),  # no abbreviations
        ([], "--output_dir required"),
    ],
)
def test_bad_command_lines_are_one_line_errors(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        parse(TABLE, argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err.splitlines()[-1]


def test_to_argv_refuses_what_the_table_lacks():
    assert to_argv(TABLE, {"num_train_steps": 3, "do_train": False, "optimizer": None}) == [
        "--num_train_steps=3",
        "--nodo_train",
    ]
    with pytest.raises(SettingError, match="run_x.py has no setting --warmup_step"):
        to_argv(TABLE, {"warmup_step": 3}, "run_x.py")
    round_trip = parse(TABLE, to_argv(TABLE, {"num_train_steps": 3, "output_dir": "o", "do_train": False}))
    assert round_trip.as_dict() == {"num_train_steps": 3, "do_train": False, "optimizer": "lamb", "output_dir": "o"}


def test_defaults_and_overrides_for_library_use():
    v = settings.defaults(TABLE, num_train_steps=5)
    assert (v.num_train_steps, v.optimizer, v.given("num_train_steps"), v.given("optimizer")) == (
        5,
        "lamb",
        True,
        False,
    )
    with pytest.raises(SettingError, match="no setting warmup"):
        settings.defaults(TABLE, warmup=1)
    assert settings.with_defaults(TABLE, optimizer="adamw")[2].default == "adamw"


def test_each_setting_is_declared_once_per_table():
    for task in TASKS.values():
        spellings = [spelling for s in task.settings for spelling in s.spellings]
        assert len(spellings) == len(set(spellings)), task.name


@pytest.mark.parametrize("script", ["run_pretraining.py", "run_classifier.py", "run_squad_v1.py"])
def test_help_lists_the_shared_settings_grouped_with_defaults_and_nothing_of_absl(script):
    result = subprocess.run([sys.executable, script, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    task = next(t for t in TASKS.values() if t.script == script)
    for setting in task.settings:
        assert f"--{setting.name}" in text, setting.name
    for title in ("Model and checkpoints:", "Schedule and optimizer:", "Checkpoints, logs and reruns:"):
        assert title in text
    assert "Default: 12345." in text  # --random_seed's
    assert f"python {script} --" in text  # the module's usage example, not only the class's line
    assert "{lamb,adamw}" in text  # choices are shown
    for absl_flag in ("--helpfull", "--logtostderr", "--verbosity", "--flagfile", "--tpu"):
        assert absl_flag not in text


def schedule_of(task_name: str, *argv: str):
    task_class = TASKS[task_name]
    required = [f"--{s.name}=x" for s in task_class.settings if s.required and s.name != "task_name"]
    if task_name == "classifier":
        required.append("--task_name=MRPC")
    task = task_class(parse(task_class.settings, [*required, *argv]))
    task.num_train_examples = lambda: 1000
    task.check_schedule()
    return task.schedule()


def test_schedules_from_steps_epochs_and_warmup():
    assert schedule_of("pretraining") == (125000, 3125)
    assert schedule_of("classifier") == (1000, 0)  # Google's run_classifier.py: train_step, warmup_step
    assert schedule_of("classifier", "--num_train_epochs=3", "--warmup_proportion=0.1") == (93, 9)  # 1000 x 3 / 32
    assert schedule_of("squad") == (93, 9)  # 3 epochs, 0.1 warmup
    assert schedule_of("squad", "--train_steps=-1") == (93, 9)  # Habana's: -1 is from the epochs
    assert schedule_of("squad", "--train_steps=100", "--num_train_epochs=2") == (100, 10)  # Habana's: steps win
    assert schedule_of("squad", "--warmup_steps=7") == (93, 7)
    with pytest.raises(ValueError, match="--train_step and --num_train_epochs both set the training length"):
        schedule_of("classifier", "--train_step=4", "--num_train_epochs=1")
    with pytest.raises(ValueError, match="--warmup_steps and --warmup_proportion both set the warmup"):
        schedule_of("pretraining", "--warmup_steps=4", "--warmup_proportion=0.1")


# -- AWS's settings ------------------------------------------------------------------------------


def aws(*argv: str, replicas: int = 1, job=None) -> settings.Values:
    from albert.aws import flags

    v = parse(TASKS["pretraining"].settings, list(argv))
    flags.resolve(v, job)
    flags.resolve_batch(v, replicas)
    return v


def test_aws_settings_become_the_projects(tmp_path):
    v = aws("--model_type=bert", "--model_size=base", "--per_gpu_batch_size=32", "--gradient_accumulation_steps=4",
            "--filesystem_prefix=/fsx", "--train_dir=data/train", "--val_dir=data/val", "--run_name=p1",
            "--log_dir=logs", "--skip_xla", replicas=8)  # fmt: skip
    assert (v.albert_config_file, v.train_batch_size, v.xla) == ("bert_base", 32 * 8 * 4, False)
    assert (v.input_file, v.eval_file) == ("/fsx/data/train/*.tfrecord*", "/fsx/data/val/*.tfrecord*")
    assert (v.output_dir, v.summary_dir) == ("/fsx/checkpoints/bert/p1", "/fsx/logs/p1")
    # inside SageMaker: the channel is the file system, runs go to its checkpoint folder by the job's name
    from albert.aws.container import current

    (tmp_path / "ml/model").mkdir(parents=True)
    job = current({"SM_MODEL_DIR": str(tmp_path / "ml/model"), "SM_CHANNEL_TRAINING": "/channel",
                   "TRAINING_JOB_NAME": "albert-1xp3dn-2026"})  # fmt: skip
    v = aws("--model_size=tiny", "--train_dir=records", job=job)
    assert (v.input_file, v.output_dir) == (
        "/channel/records/*.tfrecord*",
        "/channel/checkpoints/albert/albert-1xp3dn-2026",
    )
    (tmp_path / "ml/checkpoints").mkdir()  # a job with checkpoints (--checkpoint_s3_uri)
    v = aws("--model_size=tiny", "--train_dir=records", job=job)
    assert v.output_dir == str(tmp_path / "ml/checkpoints/albert-1xp3dn-2026")


def test_aws_checkpoint_paths_name_a_runs_checkpoint(tmp_path):
    run = tmp_path / "checkpoints/bert/phase1"
    run.mkdir(parents=True)
    (run / "ckpt-14076.index").write_text("")
    common = ("--model_size=tiny", "--output_dir=o", "--load_from=checkpoint", f"--filesystem_prefix={tmp_path}")
    for path in ("checkpoints/bert/phase1-step14076", "checkpoints/bert/-step14076"):  # a run name, an unset one
        v = aws(*common, f"--checkpoint_path={path}")
        assert v.init_checkpoint == str(run / "ckpt-14076")
    assert aws(*common, "--checkpoint_path=/elsewhere/ckpt-3").init_checkpoint == "/elsewhere/ckpt-3"
    with pytest.raises(ValueError, match="names no run .* with step 7: none"):
        aws(*common, "--checkpoint_path=checkpoints/bert/-step7")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--model_size=tiny", "--output_dir=o", "--per_gpu_batch_size=4", "--train_batch_size=8"],
         "--per_gpu_batch_size and --train_batch_size both set train_batch_size; give one"),
        (["--model_size=tiny", "--albert_config_file=tiny", "--output_dir=o"], "both set albert_config_file"),
        (["--model_size=xxlarge", "--model_type=bert", "--output_dir=o"], "is not a bert size; use one of tiny"),
        (["--output_dir=o"], "--albert_config_file (or --model_size with --model_type) is required"),
        (["--model_size=tiny"], "--output_dir is required (or AWS's --run_name"),
        (["--model_size=tiny", "--filesystem_prefix=/fsx"], "AWS's folders need the run's name: pass --run_name"),
        (["--model_size=tiny", "--output_dir=o", "--load_from=checkpoint", "--checkpoint_path=c",
          "--adam_bias_correction"], "--load_optimizer_state restarts the step count"),
        (["--model_size=tiny", "--output_dir=o", "--skip_xla", "--xla"], "--skip_xla and --xla both set xla"),
        (["--model_size=tiny", "--output_dir=o", "--load_from=checkpoint"], "--load_from=checkpoint needs"),
        (["--model_size=tiny", "--output_dir=o", "--checkpoint_path=x"], "--checkpoint_path needs --load_from"),
    ],
)  # fmt: skip
def test_aws_settings_that_contradict_are_refused(argv, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        aws(*argv)
