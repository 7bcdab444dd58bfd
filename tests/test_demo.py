"""demo_albert.py: the commands it builds (--dry_run) for one worker, Horovod on one box and on
two, and tf.distribute; its refusals; and its demos run end to end on the CPU."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

import pytest
from conftest import ROOT

from albert import configs, launch, pretrained, samples, settings
from albert import demo as demo_albert
from albert.tasks import TASKS

PY = sys.executable


def dry_run(capsys, *argv: str) -> list[str]:
    assert demo_albert.main([*argv, "--dry_run"]) == 0
    return capsys.readouterr().out.splitlines()


def module(name: str) -> list[str]:
    return [PY, "-m", name]


def task(name: str) -> list[str]:
    return [PY, "-m", "albert.tasks", name]


def test_variants_and_batches_come_from_the_sizes_table():
    # "tiny" and the released sizes, each with configs in the library and a batch for every test set.
    assert launch.VARIANTS == tuple(configs.SIZES) == ("tiny", *pretrained.SIZES)
    for size in pretrained.SIZES:
        assert {f"albert_{size}_v1", f"albert_{size}_v2"} <= configs.VARIANTS.keys()
    for size in configs.SIZES.values():
        assert set(size.demo_batch) == set(launch.TEST_SETS)
    assert list(launch.TEST_SETS) == ["overfit", "bookswiki", "mrpc", "squad"]


def commands_of(argv: list[str]) -> list[list[str]]:
    """The task commands of a dry-run plan (python -m albert.tasks <task> ...)."""
    args = demo_albert.parse_args([*argv, "--dry_run"])
    plan = launch.build_plan(args, dry_run=True)
    return [step.argv for step in plan if step.argv[1:3] == ["-m", "albert.tasks"]]


EXTRA = ([], ["-v", "2"], ["-v", "2", "--distribution", "tf"], ["--train_steps", "20"],
         ["--train_steps", "20", "--warmup_steps", "2", "--save_ckpt_steps", "5", "--learning_rate", "1e-4"],
         ["--device", "cpu", "--init_checkpoint_path", "/ckpt"])  # fmt: skip


@pytest.mark.parametrize("test_set", list(launch.TEST_SETS))
def test_every_command_the_launcher_builds_is_accepted_by_its_script(test_set, tmp_path):
    command = next(c for c, sets in launch.COMMANDS.items() if test_set in sets)
    built = 0
    for variant in launch.VARIANTS:
        for data_type in ("fp32", "bf16"):
            for extra in (*EXTRA, ["-e", "1"]) if command == "finetuning" else EXTRA:
                demo = ["-c", command, "-t", test_set, "-m", variant, "-d", data_type, "--dataset_path", "/d",
                        "-o", str(tmp_path), *extra]  # fmt: skip
                for argv in commands_of(demo):
                    task_class = TASKS[argv[3]]
                    settings.parse(task_class.settings, argv[4:], task_class.script)  # exits 2 on a refusal
                    built += 1
    assert built >= len(launch.VARIANTS) * 2 * len(EXTRA)


def test_squad_demo_with_train_steps_passes_only_squad_settings():
    # --train_steps once became a --warmup_step= that run_squad_v1.py did not have.
    (argv,) = commands_of(["-c", "finetuning", "-t", "squad", "--train_steps", "20"])
    assert "--num_train_steps=20" in argv and not any(a.startswith("--num_warmup_steps") for a in argv)
    values = settings.parse(TASKS["squad"].settings, argv[4:])
    assert TASKS["squad"](values).schedule() == (20, 2)  # warmup: 0.1 of the steps, SQuAD's default


def test_epochs_are_refused_for_pretraining(capsys):
    assert demo_albert.main(["-t", "overfit", "-e", "2", "--dry_run"]) == 1
    assert "-e/--epochs: -t overfit trains for a number of steps; pass --train_steps" in capsys.readouterr().err


def test_one_worker_overfit_commands(capsys, tmp_path):
    out = str(tmp_path / "o")
    data = os.path.join(out, "data")
    sample = samples.SAMPLE_TEXT
    assert dry_run(capsys, "-o", out) == [
        "# a SentencePiece vocabulary of the sample text",
        shlex.join([*module("albert.data.train_sentencepiece"), f"--input_file={sample}",
                    f"--model_prefix={data}/sample_spm", "--vocab_size=300"]),
        f"# the tiny ALBERT's config: write {data}/albert_config.json",
        "# pretraining records of the sample text",
        shlex.join([*module("albert.data.create_training_data"), f"--input_file={sample}",
                    f"--output_file={data}/sample-64.tfrecord", f"--spm_model_file={data}/sample_spm.model",
                    "--max_seq_length=64", "--max_predictions_per_seq=10", "--dupe_factor=5"]),
        "# pretraining",
        shlex.join([*task("pretraining"), f"--albert_config_file={data}/albert_config.json",
                    "--data_type=fp32", f"--input_file={data}/sample-64.tfrecord", f"--output_dir={out}/pretraining",
                    "--max_seq_length=64", "--train_batch_size=32", "--num_train_steps=500", "--num_warmup_steps=50",
                    "--optimizer=adamw", "--learning_rate=0.002", "--max_predictions_per_seq=10",
                    "--save_checkpoints_steps=500", "--do_train", "--do_eval", f"--eval_file={data}/sample-64.tfrecord",
                    "--eval_batch_size=8", "--log_steps=100", f"--spm_model_file={data}/sample_spm.model"]),
    ]  # fmt: skip


def bookswiki(capsys, out: str, *extra: str) -> list[str]:
    """The plan's steps (without its notes that /data/bw has no held-out records)."""
    lines = dry_run(
        capsys, "-c", "pretraining", "-t", "bookswiki", "-m", "base", "-d", "bf16", "--dataset_path", "/data/bw",
        "--albert-config-dir", "/models/base", "-o", out, "--cores_per_box", "96", *extra,
    )  # fmt: skip
    return [line for line in lines if not line.startswith("# no held-out records in /data/bw/")]


def phase_args(out: str, phase: int, horovod: bool = True) -> list[str]:
    """The pretraining command's settings for 8 workers × 64 (phase 1) or × 8 (phase 2) sequences."""
    seq, batch, steps, warmup = ((128, 512, 7038, 2000), (512, 64, 782, 200))[phase - 1]
    # LAMB's 0.00176 at batch 4096, scaled by sqrt(batch / 4096): 0.00176 / sqrt(8) and / 8.
    rate = {512: "0.000622254", 64: "0.00022"}[batch]
    args = [*task("pretraining"), "--albert_config_file=/models/base/albert_config.json",
            "--data_type=bf16", "--use_horovod" if horovod else "--distribution=tf",
            "--intra_op_threads=12"]  # fmt: skip
    args += [f"--input_file=/data/bw/seq_len_{seq}/training/*", f"--output_dir={out}/phase_{phase}",
             f"--max_seq_length={seq}", f"--train_batch_size={batch}", f"--num_train_steps={steps}",
             f"--num_warmup_steps={warmup}", "--optimizer=lamb", f"--learning_rate={rate}",
             "--max_predictions_per_seq=20", f"--save_checkpoints_steps={steps}",
             "--do_train", "--do_eval"]  # fmt: skip
    if phase == 2:
        args.append(f"--init_checkpoint={out}/phase_1")
    return [*args, "--spm_model_file=/models/base/30k-clean.model"]


def test_eight_horovod_workers_on_one_box(capsys, monkeypatch):
    monkeypatch.delenv("MULTI_HLS_IPS", raising=False)
    monkeypatch.delenv("MPI_MAP_BY", raising=False)
    lines = bookswiki(capsys, "/runs/bw", "-v", "8")
    mpirun = ["mpirun", "--allow-run-as-root", "--tag-output", "--merge-stderr-to-stdout", "--bind-to", "core",
              "--map-by", "socket:PE=6", "-np", "8"]  # fmt: skip
    assert lines == [
        "# pretraining phase 1 (sequence 128)",
        shlex.join(mpirun + phase_args("/runs/bw", 1)),
        "# pretraining phase 2 (sequence 512)",
        shlex.join(mpirun + phase_args("/runs/bw", 2)),
    ]


def test_two_boxes_of_eight_horovod_workers(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("MULTI_HLS_IPS", "10.1.2.3,10.1.2.4")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    monkeypatch.setenv("HOROVOD_CYCLE_TIME", "5")
    monkeypatch.setenv("UNRELATED_SETTING", "1")
    monkeypatch.delenv("MPI_ROOT", raising=False)
    monkeypatch.delenv("MPI_TCP_INCLUDE", raising=False)
    monkeypatch.delenv("DOCKER_SSHD_PORT", raising=False)
    out = str(tmp_path)
    lines = bookswiki(capsys, out, "-v", "8")
    argv = shlex.split(lines[1])
    prefix = argv[: argv.index(PY)]
    assert prefix[:10] == ["mpirun", "--allow-run-as-root", "--tag-output", "--merge-stderr-to-stdout",
                           "--bind-to", "core", "--map-by", "socket:PE=6", "-np", "16"]  # fmt: skip
    assert prefix[10:18] == ["--mca", "plm_rsh_args", "-p3022", "--mca", "btl_tcp_if_include", "10.1.2.0/24",
                             "-hostfile", f"{out}/hostfile"]  # fmt: skip
    forwarded = {prefix[i + 1] for i, a in enumerate(prefix) if a == "-x"}
    assert {"PATH", "TF_CPP_MIN_LOG_LEVEL", "HOROVOD_CYCLE_TIME"} <= forwarded
    assert "UNRELATED_SETTING" not in forwarded
    # No --intra_op_threads across boxes; the global batch is 16 × 64, LAMB's rate 0.00176 / 2.
    expected = [a for a in phase_args(out, 1) if not a.startswith("--intra_op_threads")]
    expected[expected.index("--train_batch_size=512")] = "--train_batch_size=1024"
    expected[expected.index("--learning_rate=0.000622254")] = "--learning_rate=0.00088"
    assert argv[argv.index(PY) :] == expected
    assert launch.hostfile_text(launch.Placement(8, ["10.1.2.3", "10.1.2.4"])) == (
        "10.1.2.3 slots=8\n10.1.2.4 slots=8\n"
    )


def test_tf_distribute_two_local_workers(capsys, monkeypatch):
    monkeypatch.delenv("MULTI_HLS_IPS", raising=False)
    lines = bookswiki(capsys, "/runs/bw", "-v", "2", "--distribution", "tf")
    assert lines[0] == "# pretraining phase 1 (sequence 128)"
    workers = [shlex.split(line) for line in lines[1:3]]
    configs = [json.loads(w[0].split("=", 1)[1]) for w in workers]
    hosts = configs[0]["cluster"]["worker"]
    assert len(hosts) == 2 and len(set(hosts)) == 2 and all(h.startswith("localhost:") for h in hosts)
    for index, (argv, config) in enumerate(zip(workers, configs)):
        assert config == {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}}
        assert argv[1:3] == [f"LOCAL_RANK={index}", "LOCAL_WORLD_SIZE=2"]
        expected = phase_args("/runs/bw", 1, horovod=False)
        expected[expected.index("--intra_op_threads=12")] = "--intra_op_threads=48"
        expected[expected.index("--train_batch_size=512")] = "--train_batch_size=128"
        expected[expected.index("--learning_rate=0.000622254")] = "--learning_rate=0.000311127"
        assert argv[3:] == expected


def test_tf_distribute_on_two_boxes_prints_each_hosts_command(capsys, monkeypatch):
    monkeypatch.setenv("MULTI_HLS_IPS", "10.1.2.3,10.1.2.4")
    lines = bookswiki(capsys, "/runs/bw", "-v", "1", "--distribution", "tf")
    assert lines[0] == "# pretraining phase 1 (sequence 128): run on each host (its workers are those of its address)"
    configs = [json.loads(shlex.split(line)[0].split("=", 1)[1]) for line in lines[1:3]]
    assert [c["cluster"]["worker"] for c in configs] == [["10.1.2.3:12345", "10.1.2.4:12345"]] * 2
    assert [c["task"]["index"] for c in configs] == [0, 1]


def test_finetuning_uses_the_released_model_and_global_batch(capsys, tmp_path):
    models = tmp_path / "albert_large"
    lines = dry_run(
        capsys, "-c", "finetuning", "-t", "mrpc", "-m", "large", "-d", "fp32", "--dataset_path", "/glue/MRPC",
        "--albert-config-dir", str(models), "-o", "/runs/mrpc", "-v", "4", "--launcher", "horovodrun",
        "--cores_per_box", "8",
    )  # fmt: skip
    argv = shlex.split(lines[1])
    assert os.path.basename(argv[0]) == "horovodrun"
    assert argv[1:7] == ["-np", "4", "-H", "localhost:4", "--gloo", PY]
    assert argv[6:10] == task("classifier")
    flags = argv[10:]
    for flag in ("--task_name=MRPC", "--data_dir=/glue/MRPC", f"--spm_model_file={models}/30k-clean.model",
                 f"--init_checkpoint={models}/model.ckpt-best", "--max_seq_length=128", "--train_batch_size=64",
                 "--learning_rate=2e-05", "--num_train_steps=800", "--num_warmup_steps=200", "--use_horovod",
                 "--intra_op_threads=2", "--do_train", "--do_eval"):  # fmt: skip
        assert flag in flags, flag


def test_refusals_are_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("OMPI_COMM_WORLD_SIZE", raising=False)
    assert demo_albert.main(["-c", "pretraining", "-t", "bookswiki", "-m", "tiny"]) == 1
    assert "pass --dataset_path" in capsys.readouterr().err
    empty = tmp_path / "glue"
    empty.mkdir()
    assert demo_albert.main(["-c", "finetuning", "-t", "mrpc", "--dataset_path", str(empty)]) == 1
    assert f"--dataset_path {empty}: no train.tsv, dev.tsv (MRPC data)" in capsys.readouterr().err
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "8")
    assert demo_albert.main([]) == 1
    assert "pass --kubernetes_run" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        demo_albert.main(["-c", "pretraining", "-t", "mrpc"])
    assert "-t mrpc is a finetuning test set; pass -c finetuning" in capsys.readouterr().err


def run_demo(*argv: str, timeout: int = 400) -> str:
    result = subprocess.run(
        [PY, os.path.join(ROOT, "demo_albert.py"), *argv], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stdout


def read_results(path) -> dict[str, float]:
    with open(path, encoding="utf-8") as f:
        return {k.strip(): float(v) for k, v in (line.split("=") for line in f) if k.strip() != "checkpoint"}


def test_overfit_demo_learns_the_sample_in_bf16(tmp_path):
    run_demo("-c", "pretraining", "-t", "overfit", "-m", "tiny", "-d", "bf16", "-o", str(tmp_path))
    results = read_results(tmp_path / "pretraining" / "eval_results.txt")
    # Near-uniform guessing over 300 pieces would be 1/300; the sample is learnt by heart.
    assert results["masked_lm_accuracy"] > 0.95
    assert results["sentence_order_accuracy"] > 0.95


def test_finetuning_demos_run_on_two_tf_workers(tmp_path):
    run_demo("-c", "finetuning", "-t", "mrpc", "-v", "2", "--distribution", "tf", "-o", str(tmp_path))
    results = read_results(tmp_path / "mrpc" / "eval_results.txt")
    assert results["global_step"] == 100 and 0.0 <= results["eval_accuracy"] <= 1.0
    run_demo("-c", "finetuning", "-t", "squad", "-o", str(tmp_path))
    with open(tmp_path / "squad" / "predictions.json", encoding="utf-8") as f:
        predictions = json.load(f)
    with open(os.path.join(samples.SQUAD, "dev.json"), encoding="utf-8") as f:
        questions = [q["id"] for a in json.load(f)["data"] for p in a["paragraphs"] for q in p["qas"]]
    assert sorted(predictions) == sorted(questions)


def test_overfit_demo_on_two_horovod_workers(tmp_path):
    pytest.importorskip("horovod.tensorflow", reason="Horovod is installed in the CI's Horovod lane")
    run_demo("-t", "overfit", "-d", "bf16", "-v", "2", "--launcher", "horovodrun", "-o", str(tmp_path))
    results = read_results(tmp_path / "pretraining" / "eval_results.txt")
    assert results["masked_lm_accuracy"] > 0.95


def no_launchers(monkeypatch, tmp_path) -> str:
    """PATH without mpirun or horovodrun; returns a --python with no horovodrun beside it."""
    empty = tmp_path / "empty_path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    for name in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "HOROVOD_RANK", "MULTI_HLS_IPS"):
        monkeypatch.delenv(name, raising=False)
    return str(tmp_path / "bin" / "python")


LAUNCHERS = [[], ["--launcher", "mpirun"], ["--launcher", "horovodrun"]]


@pytest.mark.parametrize("launcher", LAUNCHERS, ids=("default", "mpirun", "gloo"))  # kept by -k "not horovod"
def test_workers_without_their_launcher_are_refused_before_any_step(capsys, monkeypatch, tmp_path, launcher):
    python = no_launchers(monkeypatch, tmp_path)
    out = tmp_path / "out"
    argv = ["-c", "pretraining", "-t", "overfit", "-m", "tiny", "-v", "2", "-o", str(out), "--python", python]
    assert demo_albert.main([*argv, *launcher]) == 1
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert line.startswith("demo_albert.py: error: -v 2 needs Horovod's launcher: neither mpirun nor horovodrun")
    assert "install Open MPI" in line and "pip install horovod" in line and "pass --distribution tf" in line
    assert captured.out == "" and not out.exists()  # no step ran (nor was printed)


def test_the_launcher_check(monkeypatch, tmp_path):
    python = no_launchers(monkeypatch, tmp_path)
    launch.check_launcher(launch.Placement(1), python)  # one worker, tf.distribute, a Kubernetes job: none needed
    launch.check_launcher(launch.Placement(2, distribution="tf"), python)
    launch.check_launcher(launch.Placement(2, kubernetes=True), python)
    beside = tmp_path / "bin" / "horovodrun"  # the worker's Python's own horovodrun is used
    beside.parent.mkdir()
    beside.write_text("#!/bin/sh\n")
    beside.chmod(0o755)
    launch.check_launcher(launch.Placement(2, launcher="horovodrun"), python)
    with pytest.raises(launch.LaunchError) as refused:
        launch.check_launcher(launch.Placement(2, ["10.0.0.1", "10.0.0.2"], launcher="mpirun"), python)
    assert str(refused.value) == (
        "-v 2 on 2 boxes needs Horovod's launcher: mpirun is not installed; "
        "install Open MPI (apt-get install openmpi-bin), pass --launcher horovodrun or --distribution tf"
    )


def test_dry_run_prints_mpirun_commands_without_a_launcher(capsys, monkeypatch, tmp_path):
    python = no_launchers(monkeypatch, tmp_path)
    lines = dry_run(capsys, "-t", "overfit", "-v", "2", "-o", str(tmp_path / "out"), "--python", python)
    assert lines[-1].startswith("mpirun ") and not (tmp_path / "out").exists()


def test_a_failed_download_of_the_released_model_is_one_line(capsys, monkeypatch, tmp_path):
    home = tmp_path / "albert_home"
    home.mkdir()
    monkeypatch.setenv("ALBERT_HOME", str(home))
    offline = (tmp_path / "offline").as_uri()  # a site that cannot be reached, without the network
    monkeypatch.setenv("ALBERT_MODELS_URL", offline)
    monkeypatch.delenv("OMPI_COMM_WORLD_SIZE", raising=False)
    out = tmp_path / "out"
    argv = ["-c", "finetuning", "-t", "mrpc", "-m", "base", "--dataset_path", samples.MRPC, "-o", str(out)]
    assert demo_albert.main(argv) == 1
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert line.startswith(f"demo_albert.py: error: cannot download {offline}/albert_base_v2.tar.gz (")
    assert f"extract it into {home}/albert_base_v2" in line
    assert captured.out == "" and not out.exists() and os.listdir(home) == []


def test_habanas_use_horovod_true_is_the_boxs_workers(capsys, monkeypatch):
    monkeypatch.delenv("MULTI_HLS_IPS", raising=False)
    monkeypatch.delenv("MPI_MAP_BY", raising=False)
    eight = bookswiki(capsys, "/runs/bw", "-v", "8")
    assert bookswiki(capsys, "/runs/bw", "--use_horovod", "True") == eight  # 8 per HLS box by default
    assert bookswiki(capsys, "/runs/bw", "--use_horovod", "True", "--num_workers_per_hls", "8") == eight
    four = bookswiki(capsys, "/runs/bw", "--use_horovod", "True", "--num_workers_per_hls", "4")
    assert "-np 4" in four[1] and "socket:PE=12" in four[1]
    single = bookswiki(capsys, "/runs/bw")
    assert bookswiki(capsys, "/runs/bw", "--use_horovod", "False") == single
    assert bookswiki(capsys, "/runs/bw", "--use_horovod", "False", "--num_workers_per_hls", "8") == single
    with pytest.raises(SystemExit):
        demo_albert.parse_args(["--use_horovod", "yes"])
    assert "'yes' is not a number of workers, True or False" in capsys.readouterr().err


def test_habanas_kubernetes_run_takes_a_value(monkeypatch):
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "8")  # one launcher per worker, started by the job's mpirun
    cases = ((["--kubernetes_run"], True), (["--kubernetes_run", "True"], True), (["--kubernetes_run=True"], True),
             (["--kubernetes_run", "False"], False), ([], False))  # fmt: skip
    for flags, expected in cases:
        args = demo_albert.parse_args(["--use_horovod=1", *flags])
        assert args.kubernetes_run is expected and args.placement.kubernetes is expected


def test_habanas_environment_reaches_every_worker(capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("MULTI_HLS_IPS", raising=False)
    conversion = tmp_path / "albert.json"
    conversion.write_text("{}")
    habana = ["--enable_scoped_allocator", "--bf16_config_path", str(conversion), "--device", "hpu"]
    env = f"TF_ENABLE_SCOPED_ALLOCATOR=true TF_BF16_CONVERSION={conversion} "
    one = bookswiki(capsys, "/runs/bw", *habana)
    assert one[1].startswith(env + PY) and one[3].startswith(env + PY)
    eight = bookswiki(capsys, "/runs/bw", "-v", "8", *habana)
    assert eight[1].startswith(env + "mpirun ") and "--device=hpu" in eight[1]
    tf_workers = bookswiki(capsys, "/runs/bw", "-v", "2", "--distribution", "tf", *habana)
    assert all(line.startswith(env + "TF_CONFIG=") for line in (tf_workers[1], tf_workers[2]))
    monkeypatch.setenv("MULTI_HLS_IPS", "10.1.2.3,10.1.2.4")  # other boxes get them through mpirun's -x
    boxes = bookswiki(capsys, "/runs/bw", "-v", "8", *habana)
    assert "-x TF_BF16_CONVERSION " in boxes[1] and "-x TF_ENABLE_SCOPED_ALLOCATOR " in boxes[1]


def test_habanas_bf16_conversion_needs_the_file_and_the_hpu(capsys, tmp_path):
    missing = str(tmp_path / "bf16_config" / "albert.json")
    assert demo_albert.main(["--device", "hpu", "--bf16_config_path", missing]) == 1
    assert capsys.readouterr().err == f"demo_albert.py: error: --bf16_config_path {missing}: no such file\n"
    with pytest.raises(SystemExit):
        demo_albert.parse_args(["--bf16_config_path", missing])
    assert "--bf16_config_path is Intel Gaudi's bf16 conversion: pass --device hpu" in capsys.readouterr().err


GAUDI_WORKERS = {"one_card": [], "two_cards": ["-v", "2", "--launcher", "horovodrun"]}


@pytest.mark.slow
@pytest.mark.parametrize("workers", GAUDI_WORKERS.values(), ids=GAUDI_WORKERS)
def test_overfit_demo_on_a_stand_in_gaudi_bridge(tmp_path, workers):
    """--device hpu with a stand-in bridge (and a stand-in record of habana-horovod) on the path:
    each process loads the bridge before its first TensorFlow op and keeps its model on its HPU,
    two cards use habana-horovod, and the bf16 run still learns the sample."""
    if workers:
        pytest.importorskip("horovod.tensorflow", reason="Horovod is installed in the CI's Horovod lane")
    log = tmp_path / "bridge.jsonl"
    standin = os.path.join(ROOT, "tests", "habana_standin")
    env = {**os.environ, "HABANA_STANDIN_LOG": str(log), "PYTHONPATH": standin}
    argv = ["-d", "bf16", "--device", "hpu", "-o", str(tmp_path / "out"), *workers]
    result = subprocess.run([PY, os.path.join(ROOT, "demo_albert.py"), *argv], env=env, capture_output=True,
                            text=True, timeout=400)  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    loads = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(loads) >= (2 if workers else 1), loads  # one load per task process
    assert all(load == {"runtime_started": False, "tensorflow": loads[0]["tensorflow"]} for load in loads)
    placed = "horovod: 2 workers × 1 replicas on /device:HPU:0" if workers else "1 worker on /device:HPU:0"
    assert placed in result.stdout
    assert ("Horovod for Intel Gaudi: habana-horovod 1.14.0" in result.stdout) == bool(workers)
    results = read_results(tmp_path / "out" / "pretraining" / "eval_results.txt")
    assert results["masked_lm_accuracy"] > 0.9, results


# Habana's README's commands as it types them (its data under tensorflow_datasets/albert/ of the
# current folder, its output folder under the test's), with the multi-box switch it names.
HABANAS_COMMANDS = {
    "pretraining_bookswiki": "--command pretraining --model_variant large --data_type bf16 --test_set bookswiki "
    "--dataset_path tensorflow_datasets/albert/bookswiki",
    "finetuning_mrpc": "--command finetuning --model_variant large --data_type bf16 --test_set mrpc "
    "--output_dir root/tmp/albert_large --dataset_path tensorflow_datasets/albert/MRPC",
    "finetuning_squad": "--command finetuning --model_variant large --data_type bf16 --test_set squad "
    "--output_dir root/tmp/albert_large --dataset_path tensorflow_datasets/albert/squad",
    "finetuning_squad_multinode": "--command finetuning --model_variant large --data_type bf16 --test_set squad "
    "--output_dir root/tmp/albert_large --dataset_path tensorflow_datasets/albert/squad "
    "--use_horovod True --num_workers_per_hls 8",
}
# Why each stops here: no bookswiki records can be made of the released corpus on this machine,
# and the released ALBERT-large cannot be downloaded (its site is made unreachable).
HABANAS_STOPS = {
    "pretraining_bookswiki": "tensorflow_datasets/albert/bookswiki/seq_len_128/training/*: no bookswiki records "
    "for sequence 128; make them with data_preprocessing/create_training_data.py",
    "finetuning_mrpc": "cannot download {site}/albert_large_v2.tar.gz (",
    "finetuning_squad": "cannot download {site}/albert_large_v2.tar.gz (",
    "finetuning_squad_multinode": "cannot download {site}/albert_large_v2.tar.gz (",
}


def habanas_folder(monkeypatch, tmp_path) -> str:
    """A working folder with MRPC and SQuAD (the project's samples) where Habana's README puts
    them; returns the unreachable site of the released models."""
    data = tmp_path / "tensorflow_datasets" / "albert"
    data.mkdir(parents=True)
    (data / "MRPC").symlink_to(samples.MRPC)
    (data / "squad").symlink_to(samples.SQUAD)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "albert_home").mkdir()
    monkeypatch.setenv("ALBERT_HOME", str(tmp_path / "albert_home"))
    site = (tmp_path / "offline").as_uri()
    monkeypatch.setenv("ALBERT_MODELS_URL", site)
    for name in ("OMPI_COMM_WORLD_SIZE", "MULTI_HLS_IPS", "MPI_MAP_BY"):
        monkeypatch.delenv(name, raising=False)
    launcher = tmp_path / "bin" / "mpirun"  # a box with Open MPI (never started: the run stops first)
    launcher.parent.mkdir()
    launcher.write_text("#!/bin/sh\nexit 1\n")
    launcher.chmod(0o755)
    monkeypatch.setenv("PATH", f"{launcher.parent}{os.pathsep}{os.environ['PATH']}")
    return site


@pytest.mark.parametrize("name", HABANAS_COMMANDS)
def test_habanas_readme_commands_as_typed_stop_in_one_line(name, capsys, monkeypatch, tmp_path):
    """Each stops before any step, in one line that says why, and leaves nothing behind; with
    --device hpu --dry_run each prints its Gaudi command (and Habana's mpirun line for 8 cards)."""
    site = habanas_folder(monkeypatch, tmp_path)
    before = sorted(os.listdir(tmp_path))
    assert demo_albert.main(shlex.split(HABANAS_COMMANDS[name])) == 1
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert line.startswith("demo_albert.py: error: " + HABANAS_STOPS[name].format(site=site)), line
    assert sorted(os.listdir(tmp_path)) == before and os.listdir("albert_home") == []
    lines = dry_run(capsys, *shlex.split(HABANAS_COMMANDS[name]), "--device", "hpu")
    commands = [shlex.split(line) for line in lines if not line.startswith("#")]
    assert commands and all("--device=hpu" in command and "--data_type=bf16" in command for command in commands)
    if name.endswith("multinode"):
        assert all(command[:2] == ["mpirun", "--allow-run-as-root"] and "-np" in command for command in commands)
        assert all(command[command.index("-np") + 1] == "8" for command in commands)
        assert all(command[command.index("--map-by") + 1].startswith("socket") for command in commands)
    else:
        assert all(command[0] == PY for command in commands)


# ----------------------------------------------------------------------------------------------
# What a new user runs into: folders, vocabularies, weights that are not there, runs resumed
# ----------------------------------------------------------------------------------------------


def test_the_default_output_folder_names_the_precision(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for data_type in ("fp32", "bf16"):
        lines = dry_run(capsys, "-c", "finetuning", "-t", "mrpc", "-d", data_type)
        assert f"--output_dir=output/mrpc_tiny_{data_type}/mrpc" in lines[-1]


def test_a_config_dir_without_weights_is_refused_for_fine_tuning(capsys, tmp_path):
    models = tmp_path / "albert_base"
    models.mkdir()
    configs.get_config("albert_base_v2").to_json_file(models / "albert_config.json")
    argv = ["-c", "finetuning", "-t", "mrpc", "-m", "base", "--dataset_path", str(tmp_path), "--albert-config-dir",
            str(models), "-o", str(tmp_path / "out")]  # fmt: skip
    for extra in ([], ["--dry_run"]):
        assert demo_albert.main(argv + extra) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "no model.ckpt-best there" in err and "--init_checkpoint_path" in err
    lines = dry_run(capsys, *argv, "--init_checkpoint_path", "/weights/model.ckpt-7")
    assert "--init_checkpoint=/weights/model.ckpt-7" in lines[-1]


def test_an_earlier_run_in_the_folder_is_said_to_be_resumed(capsys, tmp_path):
    (tmp_path / "mrpc").mkdir()
    (tmp_path / "mrpc" / "ckpt-100.index").write_bytes(b"")
    lines = dry_run(capsys, "-c", "finetuning", "-t", "mrpc", "-o", str(tmp_path))
    assert f"# {tmp_path}/mrpc holds a checkpoint of step 100: the run resumes from it" in "\n".join(lines)
    assert "pass -o <new folder> to start afresh" in "\n".join(lines)


def test_tiny_on_real_data_makes_its_vocabulary_of_that_data(capsys, tmp_path):
    mrpc = tmp_path / "MRPC"
    mrpc.mkdir()
    for name in ("train.tsv", "dev.tsv"):
        (mrpc / name).write_text(open(os.path.join(samples.MRPC, name), encoding="utf-8").read(), encoding="utf-8")
    lines = dry_run(capsys, "-c", "finetuning", "-t", "mrpc", "--dataset_path", str(mrpc), "-o", str(tmp_path / "o"))
    data = tmp_path / "o" / "data"
    assert lines[0] == f"# the text of {mrpc}'s training set (the tiny model's vocabulary is made of it): write " \
                       f"{data}/mrpc_text.txt"  # fmt: skip
    assert f"--input_file={data}/mrpc_text.txt" in lines[2] and "--vocab_size=2000" in lines[2]
    assert f"--spm_model_file={data}/mrpc_spm.model" in lines[-1]
    first_pair = open(mrpc / "train.tsv", encoding="utf-8").read().splitlines()[1].split("\t")[3:5]
    assert launch.tiny_model.mrpc_text(str(mrpc)).splitlines()[:2] == first_pair  # the sentences, not the ids


def test_tiny_from_an_earlier_run_takes_its_config_and_vocabulary(capsys, tmp_path):
    earlier = tmp_path / "pretraining"
    earlier.mkdir()
    for name in ("albert_config.json", "30k-clean.model", "ckpt-5.index"):
        (earlier / name).write_text("{}")
    lines = dry_run(capsys, "-c", "finetuning", "-t", "mrpc", "--init_checkpoint_path", str(earlier),
                    "-o", str(tmp_path / "o"))  # fmt: skip
    assert lines[0] == f"# the config and vocabulary of {earlier}"
    for flag in (f"--albert_config_file={earlier}/albert_config.json", f"--spm_model_file={earlier}/30k-clean.model",
                 f"--init_checkpoint={earlier}"):  # fmt: skip
        assert flag in lines[-1]


def test_bookswiki_evaluates_on_held_out_records_when_there_are_some(capsys, tmp_path):
    for length in ("128", "512"):
        (tmp_path / f"seq_len_{length}" / "training").mkdir(parents=True)
        (tmp_path / f"seq_len_{length}" / "training" / "part-0").write_bytes(b"")
    (tmp_path / "seq_len_128" / "test").mkdir()
    (tmp_path / "seq_len_128" / "test" / "part-0").write_bytes(b"")
    argv = ["-c", "pretraining", "-t", "bookswiki", "-m", "base", "--dataset_path", str(tmp_path)]
    lines = dry_run(capsys, *argv, "-o", str(tmp_path / "o"))
    phase_1, phase_2 = (line for line in lines if " -m albert.tasks pretraining " in line)
    assert f"--eval_file={tmp_path}/seq_len_128/test/*" in phase_1 and "--eval_file" not in phase_2
    assert f"# no held-out records in {tmp_path}/seq_len_512/test: evaluating on the training records" in lines[0]


@pytest.mark.data
def test_tiny_on_the_real_mrpc_fine_tunes_with_a_vocabulary_of_it(tmp_path):
    import sentencepiece
    from conftest import shared_file

    mrpc = os.path.dirname(shared_file("mrpc", "train.tsv"))
    run_demo("-c", "finetuning", "-t", "mrpc", "--dataset_path", mrpc, "--train_steps", "20", "-o", str(tmp_path))
    pieces = sentencepiece.SentencePieceProcessor(model_file=str(tmp_path / "data" / "mrpc_spm.model")).vocab_size()
    assert pieces == 2000  # MRPC's 7,336 training sentences fill it
    assert json.load(open(tmp_path / "data" / "albert_config.json"))["vocab_size"] == pieces
    assert read_results(tmp_path / "mrpc" / "eval_results.txt")["global_step"] == 20
