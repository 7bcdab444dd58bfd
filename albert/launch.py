"""What demo_albert.py runs: the task scripts' command lines with each test set's defaults, and
the commands that start them on several workers (mpirun / horovodrun for Horovod, local
processes with TF_CONFIG for tf.distribute).

A plan is a list of `Step`s: files the launcher writes itself (a config) and commands. The
launcher prints every command before running it, and `--dry_run` only prints them. Commands are
`python -m <module>` of the package (a task's: `python -m albert.tasks <task>`), their arguments
made from the task's settings table, so a command cannot pass a setting the task lacks.
"""

from __future__ import annotations

import dataclasses
import functools
import glob
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
from collections.abc import Callable

from albert import configs, model_folder, samples, settings, tiny_model
from albert.tasks import TASKS
from albert.tasks.pretraining import PretrainingTask, demo_learning_rate

PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the folder holding albert/
# The demo's test sets, by the task that runs them (Habana's names).
TEST_SETS = {test_set: task for task in TASKS.values() for test_set in task.demo}
COMMANDS = {
    "pretraining": tuple(t for t, task in TEST_SETS.items() if task is PretrainingTask),
    "finetuning": tuple(t for t, task in TEST_SETS.items() if task is not PretrainingTask),
}
VARIANTS = tuple(configs.SIZES)

# Environment variables forwarded to the workers of other boxes (names containing one of these).
FORWARDED_ENV = ("PATH", "LD_", "TF_", "PYTHON", "HABANA", "HBN", "TPC_", "GC_", "SYN", "HCL", "HCCL", "NCCL",
                 "HOROVOD", "CUDA", "LOG_LEVEL", "OMP_", "KMP_")  # fmt: skip


class LaunchError(RuntimeError):
    """The launch cannot go ahead; the message is one line and says what to do."""


@dataclasses.dataclass
class Step:
    """A command (argv, run by the workers when `distributed`), a file the launcher writes, or
    (neither) a note of the plan."""

    what: str
    argv: list[str] = dataclasses.field(default_factory=list)
    distributed: bool = False
    write: tuple[str, Callable[[], str]] | None = None  # (path, its text)


@dataclasses.dataclass
class Placement:
    """Where the workers run."""

    workers_per_box: int = 1
    hosts: list[str] = dataclasses.field(default_factory=list)
    distribution: str = "horovod"
    launcher: str = "mpirun"
    device: str | None = None
    cores_per_box: int = os.cpu_count() or 1
    kubernetes: bool = False
    env: dict[str, str] = dataclasses.field(default_factory=dict)  # given to every worker

    @property
    def total(self) -> int:
        return self.workers_per_box * max(1, len(self.hosts))


def task_command(python: str, task, values: dict) -> list[str]:
    """`python -m albert.tasks <task>` with `values` as arguments (settings of the task's table)."""
    return [python, "-m", "albert.tasks", task.name, *settings.to_argv(task.settings, values, task.script)]


def python_path() -> str:
    """PYTHONPATH for the commands: this package first, so that they run from any folder."""
    return os.pathsep.join(p for p in (PACKAGE_PARENT, os.environ.get("PYTHONPATH")) if p)


# ----------------------------------------------------------------------------------------------
# Plans
# ----------------------------------------------------------------------------------------------


def demo_defaults(test_set: str, variant: str, bf16: bool) -> dict:
    """The test set's settings for the variant: its task's demo defaults (the tiny model's
    where it has its own) and the batch per worker of the model sizes' table."""
    task = TEST_SETS[test_set]
    values = dict(task.demo[test_set])
    if variant == "tiny":
        values.update(task.demo_tiny.get(test_set, {}))
    values["train_batch_size"] = configs.SIZES[variant].demo_batch[test_set][0 if bf16 else 1]
    return values


def _split(value, phases: int, name: str) -> list[str]:
    if value is None:
        return [None] * phases
    parts = str(value).split(",")
    if len(parts) == 1:
        parts *= phases
    if len(parts) != phases:
        raise LaunchError(f"--{name} {value}: give one value or one per phase ({phases})")
    return [p.strip() for p in parts]


def phases(args, defaults: dict, count: int) -> list[dict]:
    """Per phase: sequence length, batch per worker, steps and warmup (the user's, else the
    test set's defaults)."""
    given = (
        ("max_seq_length", "max_seq_length", args.max_seq_length),
        ("train_batch_size", "batch_size", args.batch_size),
        ("num_train_steps", "train_steps", args.train_steps),
        ("num_warmup_steps", "warmup_steps", args.warmup_steps),
    )
    columns = {name: _split(defaults.get(name) if value is None else value, count, flag) for name, flag, value in given}
    return [{name: column[i] for name, column in columns.items()} for i in range(count)]


def build_plan(args, dry_run: bool = False) -> list[Step]:
    """The steps of a demo run from demo_albert.py's arguments. Its data is checked before the
    released model is downloaded."""
    if not dry_run:
        _plan(args, dry_run=False, download=False)
    return _plan(args, dry_run, download=not dry_run)


def _plan(args, dry_run: bool, download: bool) -> list[Step]:
    task = TEST_SETS[args.test_set]
    defaults = demo_defaults(args.test_set, args.model_variant, args.data_type in ("bf16", "fp16"))
    plan, config, spm, released = model_steps(args, dry_run=not download)
    common = {"albert_config_file": config, "data_type": args.data_type, **placement_values(args.placement)}
    if task is PretrainingTask:
        return plan + pretraining_steps(args, defaults, common, spm, dry_run)
    init = args.init_checkpoint_path or released
    step = fine_tuning_step(args, task, defaults, {**common, "spm_model_file": spm}, init, dry_run)
    return plan + resume_notes(os.path.join(args.output_dir, args.test_set)) + [step]


def resume_notes(run_dir: str) -> list[Step]:
    """A note when `run_dir` holds an earlier run's checkpoints: the run goes on from them."""
    found = (
        re.search(r"ckpt-(\d+)\.index$", path) for path in glob.glob(os.path.join(glob.escape(run_dir), "ckpt-*.index"))
    )
    steps = [int(match[1]) for match in found if match]
    if not steps:
        return []
    return [Step(f"{run_dir} holds a checkpoint of step {max(steps)}: the run resumes from it (and trains nothing "
                 "if it has its steps); pass -o <new folder> to start afresh")]  # fmt: skip


def placement_values(p: Placement) -> dict:
    """The settings that place a worker: device, engine, and the box's cores shared out."""
    values = {"device": p.device} if p.device else {}
    if p.total > 1:
        values.update({"use_horovod": True} if p.distribution == "horovod" else {"distribution": "tf"})
        if p.device in (None, "cpu") and not p.hosts:
            values["intra_op_threads"] = max(1, p.cores_per_box // p.workers_per_box)
    return values


def schedule_values(args, task, defaults: dict, phase: dict, workers: int) -> dict:
    """Global batch, steps or epochs, warmup, optimizer and learning rate of one phase.
    Without --learning_rate: the test set's rate, else LAMB's scaled to the global batch."""
    global_batch = int(phase["train_batch_size"]) * workers
    values = {"max_seq_length": phase["max_seq_length"], "train_batch_size": global_batch}
    epochs = args.epochs or defaults.get("num_train_epochs")
    if args.epochs and not any(s.name == "num_train_epochs" for s in task.settings):
        raise LaunchError(f"-e/--epochs: -t {args.test_set} trains for a number of steps; pass --train_steps")
    if epochs and not args.train_steps:
        values.update(num_train_epochs=epochs, warmup_proportion=0.1)
    else:
        values.update(num_train_steps=phase["num_train_steps"], num_warmup_steps=phase["num_warmup_steps"])
    rate = args.learning_rate or defaults.get("learning_rate") or demo_learning_rate(global_batch)
    values.update(optimizer=defaults.get("optimizer", "lamb"), learning_rate=f"{rate:.6g}")
    return values


def model_steps(args, dry_run: bool) -> tuple[list[Step], str, str, str | None]:
    """(steps that make the model's files, config, SentencePiece model, released checkpoint):
    the tiny model's (`tiny_steps`), else --albert-config-dir's or the released model's."""
    if args.model_variant == "tiny":
        return tiny_steps(args, dry_run) + (None,)
    directory = args.albert_config_dir
    if directory is None:
        from albert import pretrained

        name = f"albert_{args.model_variant}_{args.version}"
        directory = os.path.join(pretrained.cache_dir(), name) if dry_run else pretrained.resolve(name)
    config = os.path.join(directory, "albert_config.json")
    planned = dry_run and not os.path.isdir(directory)  # a plan for a folder to come: as if it were complete
    if not os.path.isfile(config) and not planned:
        raise LaunchError(f"--albert-config-dir {directory}: no albert_config.json there")
    checkpoint = os.path.join(directory, "model.ckpt-best")
    has_checkpoint = os.path.isfile(checkpoint + ".index") or planned
    fine_tuning = TEST_SETS[args.test_set] is not PretrainingTask
    if fine_tuning and not has_checkpoint and not args.init_checkpoint_path:
        raise LaunchError(
            f"--albert-config-dir {directory}: no model.ckpt-best there, the weights to fine-tune; "
            "put them there, or pass --init_checkpoint_path"
        )
    return [], config, os.path.join(directory, "30k-clean.model"), checkpoint if has_checkpoint else None


def tiny_steps(args, dry_run: bool) -> tuple[list[Step], str, str]:
    """(steps, config, SentencePiece model) of the tiny model: those of --init_checkpoint_path's
    folder if it has them, else a vocabulary of the fine-tuning data (a real --dataset_path) or
    of the sample text, and the tiny config of its size."""
    folder = model_folder.folder_of(args.init_checkpoint_path)
    config, vocabulary = model_folder.find(folder, model_folder.CONFIG_FILES), model_folder.vocabulary(folder)
    if config and vocabulary and vocabulary[0] == "spm_model_file":
        return [Step(f"the config and vocabulary of {folder}")], config, vocabulary[1]
    data = os.path.join(args.output_dir, "data")
    config_path = os.path.join(data, "albert_config.json")
    if TEST_SETS[args.test_set] is PretrainingTask or tiny_model.is_sample(args.dataset_path):
        prefix, size = os.path.join(data, "sample_spm"), tiny_model.SAMPLE_VOCAB_SIZE
        steps = [Step("a SentencePiece vocabulary of the sample text",
                      tiny_model.vocabulary_command(args.python, samples.SAMPLE_TEXT, prefix, size))]  # fmt: skip
    else:
        text, prefix = os.path.join(data, f"{args.test_set}_text.txt"), os.path.join(data, f"{args.test_set}_spm")
        size = tiny_model.DATA_VOCAB_SIZE
        if args.test_set == "mrpc":
            make_text = functools.partial(tiny_model.mrpc_text, args.dataset_path)
        else:
            make_text = functools.partial(tiny_model.squad_text, _squad_files(args.dataset_path, dry_run)[0])
        steps = [
            Step(f"the text of {args.dataset_path}'s training set (the tiny model's vocabulary is made of it)",
                 write=(text, make_text)),
            Step("a SentencePiece vocabulary of it",
                 tiny_model.vocabulary_command(args.python, text, prefix, size, "--hard_vocab_limit=false")),
        ]  # fmt: skip
    steps.append(Step("the tiny ALBERT's config", write=(config_path, lambda: tiny_model.config_text(size))))
    return steps, config_path, prefix + ".model"


def pretraining_steps(args, defaults: dict, common: dict, spm: str, dry_run: bool) -> list[Step]:
    """overfit: records of the sample text, then one pretraining run evaluated on them;
    bookswiki: phase 1 (sequence 128) then phase 2 (512) from phase 1's weights."""
    count = 2 if args.test_set == "bookswiki" else 1
    runs = phases(args, defaults, count)
    steps, previous = [], args.init_checkpoint_path or None
    if args.test_set == "overfit":
        records = os.path.join(args.output_dir, "data", f"sample-{runs[0]['max_seq_length']}.tfrecord")
        predictions = "10" if args.model_variant == "tiny" else "20"
        steps.append(
            Step(
                "pretraining records of the sample text",
                [
                    args.python,
                    "-m",
                    "albert.data.create_training_data",
                    f"--input_file={samples.SAMPLE_TEXT}",
                    f"--output_file={records}",
                    f"--spm_model_file={spm}",
                    f"--max_seq_length={runs[0]['max_seq_length']}",
                    f"--max_predictions_per_seq={predictions}",
                    "--dupe_factor=5",
                ],
            )
        )
        inputs = [{"input_file": records, "eval_file": records, "eval_batch_size": 8}]
    else:
        root = _dataset(args, "bookswiki")
        predictions = "20"
        inputs = [_bookswiki_files(root, run["max_seq_length"]) for run in runs]
        for run, files in zip(runs, inputs):
            _require_glob(files["input_file"], dry_run, f"bookswiki records for sequence {run['max_seq_length']}")
            if not files.get("eval_file"):
                test = os.path.join(root, f"seq_len_{run['max_seq_length']}", "test")
                note = "evaluating on the training records (create_training_data.py --holdout_documents makes some)"
                steps.append(Step(f"no held-out records in {test}: {note}"))
    for phase, (run, files) in enumerate(zip(runs, inputs)):
        run_dir = os.path.join(args.output_dir, "pretraining" if count == 1 else f"phase_{phase + 1}")
        if args.test_set != "overfit":  # overfit trains afresh
            steps += resume_notes(run_dir)
        values = {
            **common,
            "input_file": files["input_file"],
            "output_dir": run_dir,
            **schedule_values(args, PretrainingTask, defaults, run, args.placement.total),
            "max_predictions_per_seq": predictions,
            "save_checkpoints_steps": args.save_ckpt_steps or run["num_train_steps"],
            "do_train": True,
            "do_eval": True,
            "eval_file": files.get("eval_file"),
            "eval_batch_size": files.get("eval_batch_size"),
            "log_steps": max(1, int(run["num_train_steps"]) // 5) if args.test_set == "overfit" else None,
            "init_checkpoint": previous,
            "spm_model_file": spm,
        }
        what = f"pretraining phase {phase + 1} (sequence {run['max_seq_length']})" if count > 1 else "pretraining"
        steps.append(Step(what, task_command(args.python, PretrainingTask, values), distributed=True))
        previous = run_dir
    return steps


def fine_tuning_step(args, task, defaults: dict, common: dict, init: str | None, dry_run: bool) -> Step:
    """MRPC or SQuAD fine-tuning from `init`, trained then evaluated (MRPC) or predicted (SQuAD)."""
    data_dir = args.dataset_path or (samples.MRPC if args.test_set == "mrpc" else samples.SQUAD)
    if args.dataset_path is None and args.model_variant != "tiny":
        raise LaunchError(f"-t {args.test_set}: pass --dataset_path (the {args.test_set.upper()} data folder)")
    run = phases(args, defaults, 1)[0]
    values = {
        **common,
        "output_dir": os.path.join(args.output_dir, args.test_set),
        **schedule_values(args, task, defaults, run, args.placement.total),
        "init_checkpoint": init,
        "save_checkpoints_steps": args.save_ckpt_steps or run["num_train_steps"],
        "do_train": True,
    }
    if args.test_set == "mrpc":
        _require_files(data_dir, ("train.tsv", "dev.tsv"), dry_run, "MRPC")
        values.update(task_name="MRPC", data_dir=data_dir, do_eval=True)
        values["save_checkpoints_steps"] = values["save_checkpoints_steps"] or 1000
    else:
        train_file, predict_file = _squad_files(data_dir, dry_run)
        values.update(train_file=train_file, predict_file=predict_file, doc_stride=128, do_predict=True)
    return Step(
        f"fine-tuning on {args.test_set.upper() if args.test_set == 'mrpc' else 'SQuAD'}",
        task_command(args.python, task, values),
        distributed=True,
    )


def _bookswiki_files(root: str, length: str) -> dict:
    """The training records of a sequence length (<root>/seq_len_<length>/training/*) and, when
    there are some, the held-out ones to evaluate on (test/*, as NVIDIA's and Habana's layouts)."""
    folder = os.path.join(root, f"seq_len_{length}")
    files = {"input_file": os.path.join(folder, "training", "*")}
    if glob.glob(os.path.join(folder, "test", "*")):
        files["eval_file"] = os.path.join(folder, "test", "*")
    return files


def _dataset(args, name: str) -> str:
    if not args.dataset_path:
        raise LaunchError(f"-t {name}: pass --dataset_path (the folder with seq_len_128/ and seq_len_512/ records)")
    return args.dataset_path


def _require_glob(pattern: str, dry_run: bool, what: str) -> None:
    if not dry_run and not glob.glob(pattern):
        raise LaunchError(f"{pattern}: no {what}; make them with data_preprocessing/create_training_data.py")


def _require_files(folder: str, names: tuple[str, ...], dry_run: bool, what: str) -> None:
    missing = [n for n in names if not os.path.isfile(os.path.join(folder, n))]
    if missing and not dry_run:
        raise LaunchError(f"--dataset_path {folder}: no {', '.join(missing)} ({what} data); download it first")


def _squad_files(folder: str, dry_run: bool) -> tuple[str, str]:
    """SQuAD v1.1's file names, or the project sample's."""
    for train, dev in (("train-v1.1.json", "dev-v1.1.json"), ("train.json", "dev.json")):
        if os.path.isfile(os.path.join(folder, train)) and os.path.isfile(os.path.join(folder, dev)):
            return os.path.join(folder, train), os.path.join(folder, dev)
    if dry_run:
        return os.path.join(folder, "train-v1.1.json"), os.path.join(folder, "dev-v1.1.json")
    raise LaunchError(
        f"--dataset_path {folder}: no train-v1.1.json and dev-v1.1.json (SQuAD v1.1); download them first"
    )


# ----------------------------------------------------------------------------------------------
# Worker commands
# ----------------------------------------------------------------------------------------------


def mpirun_command(argv: list[str], p: Placement, hostfile: str | None = None) -> list[str]:
    """Open MPI's command for Horovod, as Habana's launcher builds it: processes bound to cores
    (`--map-by socket:PE=cores/workers/2`, MPI_MAP_BY=slot gives cores/workers); on several boxes a
    hostfile, ssh on port DOCKER_SSHD_PORT (3022) and the environment forwarded."""
    command = ["mpirun", "--allow-run-as-root", "--tag-output", "--merge-stderr-to-stdout"]
    map_by = os.environ.get("MPI_MAP_BY", "socket")
    if map_by != "none":
        pe = p.cores_per_box // p.workers_per_box // (2 if map_by == "socket" else 1)
        command += ["--bind-to", "core", "--map-by", f"{map_by}:PE={pe}" if pe else map_by]
    command += ["-np", str(p.total)]
    if p.hosts:
        network = os.environ.get("MPI_TCP_INCLUDE") or ".".join(p.hosts[0].split(".")[:3]) + ".0/24"
        command += ["--mca", "plm_rsh_args", f"-p{os.environ.get('DOCKER_SSHD_PORT', '3022')}",
                    "--mca", "btl_tcp_if_include", network, "-hostfile", hostfile or "hostfile"]  # fmt: skip
        if os.environ.get("MPI_ROOT"):
            command += ["--prefix", os.environ["MPI_ROOT"]]
        forwarded = {name for name in os.environ if any(part in name for part in FORWARDED_ENV)}
        for name in sorted(forwarded | set(p.env) | {"PYTHONPATH"}):  # run_plan sets PYTHONPATH: this package first
            command += ["-x", name]
    return command + argv


def horovodrun_command(argv: list[str], p: Placement) -> list[str]:
    """horovodrun over Gloo (no MPI needed); the one installed beside the workers' Python."""
    hosts = ",".join(f"{h}:{p.workers_per_box}" for h in (p.hosts or ["localhost"]))
    return [horovodrun_program(argv[0]), "-np", str(p.total), "-H", hosts, "--gloo", *argv]


def horovodrun_program(python: str) -> str:
    """The horovodrun beside `python` (a virtual environment's), else the one on PATH."""
    beside = os.path.join(os.path.dirname(python), "horovodrun")
    return beside if os.path.isfile(beside) else "horovodrun"


# What installs each launcher of Horovod.
LAUNCHER_PACKAGES = {"mpirun": "Open MPI (apt-get install openmpi-bin)", "horovodrun": "Horovod (pip install horovod)"}


def check_launcher(p: Placement, python: str) -> None:
    """Horovod's workers need their launcher (mpirun, or horovodrun beside `python` or on PATH):
    refused before any step runs when it is not installed."""
    if p.total == 1 or p.distribution != "horovod" or p.kubernetes:
        return
    found = {"mpirun": shutil.which("mpirun"), "horovodrun": shutil.which(horovodrun_program(python))}
    if found[p.launcher]:
        return
    workers = f"-v {p.workers_per_box}" + (f" on {len(p.hosts)} boxes" if p.hosts else "")
    other = next(name for name in found if name != p.launcher)
    if found[other]:
        fix = f"install {LAUNCHER_PACKAGES[p.launcher]}, pass --launcher {other} or --distribution tf"
        raise LaunchError(f"{workers} needs Horovod's launcher: {p.launcher} is not installed; {fix}")
    raise LaunchError(
        f"{workers} needs Horovod's launcher: neither mpirun nor horovodrun is installed; install "
        f"{LAUNCHER_PACKAGES['mpirun']} or {LAUNCHER_PACKAGES['horovodrun']}, or pass --distribution tf"
    )


def hostfile_text(p: Placement) -> str:
    return "".join(f"{host} slots={p.workers_per_box}\n" for host in p.hosts)


def tf_config(hosts: list[str], index: int) -> str:
    return json.dumps({"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}})


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("localhost", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tf_worker_commands(argv: list[str], p: Placement, base_port: int = 12345) -> list[tuple[dict[str, str], list[str]]]:
    """(environment, argv) of every tf.distribute worker: local ones on free ports, or on every
    host `workers_per_box` workers on ports from `base_port`."""
    if p.hosts:
        addresses = [f"{h}:{base_port + i}" for h in p.hosts for i in range(p.workers_per_box)]
    else:
        addresses = [f"localhost:{port}" for port in free_ports(p.workers_per_box)]
    commands = []
    for index in range(len(addresses)):
        env = {**p.env, "TF_CONFIG": tf_config(addresses, index), "LOCAL_RANK": str(index % p.workers_per_box),
               "LOCAL_WORLD_SIZE": str(p.workers_per_box)}  # fmt: skip
        if p.hosts:  # printed for each host to run: the package's place goes with it
            env["PYTHONPATH"] = python_path()
        commands.append((env, argv))
    return commands


def show(argv: list[str], env: dict[str, str] | None = None) -> str:
    prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
    return (prefix + " " if prefix else "") + shlex.join(argv)


def worker_commands(step: Step, p: Placement, hostfile: str) -> list[tuple[dict[str, str], list[str]]]:
    """What runs `step` on the placement: [(environment, argv)]."""
    if not step.distributed:
        return [({}, step.argv)]
    if p.distribution == "tf" and p.total > 1 and not p.kubernetes:
        return tf_worker_commands(step.argv, p)
    argv = step.argv
    if p.total > 1 and not p.kubernetes:
        horovodrun = p.launcher == "horovodrun"
        argv = horovodrun_command(argv, p) if horovodrun else mpirun_command(argv, p, hostfile)
    return [(dict(p.env), argv)]


def run_plan(plan: list[Step], p: Placement, out: str, dry_run: bool, echo: Callable[[str], None] = print) -> None:
    """Prints and (unless `dry_run`) runs every step; stops at the first that fails."""
    hostfile = os.path.join(out, "hostfile")
    for step in plan:
        if not (step.argv or step.write):  # a note
            echo(f"# {step.what}")
            continue
        if step.write:
            path, text = step.write
            echo(f"# {step.what}: write {path}")
            if not dry_run:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text())
            continue
        commands = worker_commands(step, p, hostfile)
        tf_hosts = step.distributed and p.distribution == "tf" and p.hosts and p.total > 1
        echo(f"# {step.what}" + (": run on each host (its workers are those of its address)" if tf_hosts else ""))
        for env, argv in commands:
            echo(show(argv, env))
        if dry_run or tf_hosts:
            continue
        if p.hosts and step.distributed and p.distribution == "horovod" and p.launcher == "mpirun":
            os.makedirs(out, exist_ok=True)
            with open(hostfile, "w", encoding="utf-8") as f:
                f.write(hostfile_text(p))
        processes = [
            subprocess.Popen(argv, env={**os.environ, **env, "PYTHONPATH": python_path()}) for env, argv in commands
        ]
        codes = [proc.wait() for proc in processes]
        if any(codes):
            raise LaunchError(f"{step.what} failed (exit status {max(codes)}); its output is above")


def check_not_nested(kubernetes: bool) -> None:
    """Habana's rule: the launcher starts mpirun itself, unless a Kubernetes job's mpirun started it."""
    under_mpi = any(name in os.environ for name in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "HOROVOD_RANK"))
    if under_mpi and not kubernetes:
        raise LaunchError(
            "demo_albert.py is running under mpirun; it starts mpirun itself. Run it directly, "
            "or pass --kubernetes_run when an MPI job already started one launcher per worker"
        )
