"""What demo_albert.py runs: per-task defaults, the task scripts' command lines, and the
commands that start them on several workers (mpirun / horovodrun for Horovod, local processes
with TF_CONFIG for tf.distribute).

A plan is a list of `Step`s: files the launcher writes itself (a config) and commands. The
launcher prints every command before running it, and `--dry_run` only prints them.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shlex
import socket
import subprocess
from collections.abc import Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE_TEXT = os.path.join(ROOT, "data", "sample_text.txt")
SAMPLES = {"mrpc": os.path.join(ROOT, "data", "mrpc_sample"), "squad": os.path.join(ROOT, "data", "squad_sample")}
TEST_SETS = ("overfit", "bookswiki", "mrpc", "squad")
VARIANTS = ("tiny", "base", "large", "xlarge", "xxlarge")
SAMPLE_VOCAB_SIZE = 300

# Environment variables forwarded to the workers of other boxes (names containing one of these).
FORWARDED_ENV = ("PATH", "LD_", "TF_", "PYTHON", "HABANA", "HBN", "TPC_", "GC_", "SYN", "HCL", "HCCL", "NCCL",
                 "HOROVOD", "CUDA", "LOG_LEVEL", "OMP_", "KMP_")  # fmt: skip


class LaunchError(RuntimeError):
    """The launch cannot go ahead; the message is one line and says what to do."""


# ----------------------------------------------------------------------------------------------
# Defaults (REFERENCE.md §9.1: Habana's demo, Google's fine-tuning recipes)
# ----------------------------------------------------------------------------------------------

# Sequences per worker per step, by test set, variant and data type (bf16 / fp32); bookswiki
# gives phase 1 (128) and phase 2 (512).
_BATCH = {
    "overfit": {"tiny": (32, 32), "base": (32, 32), "large": (32, 32), "xlarge": (16, 16), "xxlarge": (8, 8)},
    "bookswiki": {
        "tiny": ("64,8", "32,8"),
        "base": ("64,8", "32,8"),
        "large": ("32,8", "16,8"),
        "xlarge": ("16,4", "8,4"),
        "xxlarge": ("8,2", "4,2"),
    },
    "mrpc": {"tiny": (32, 32), "base": (64, 32), "large": (32, 16), "xlarge": (16, 8), "xxlarge": (8, 4)},
    "squad": {"tiny": (16, 16), "base": (24, 10), "large": (12, 5), "xlarge": (6, 3), "xxlarge": (3, 2)},
}


@dataclasses.dataclass
class TaskDefaults:
    max_seq_length: str
    train_steps: str | None
    warmup_steps: str | None
    epochs: float | None = None
    learning_rate: float | None = None  # None: LAMB's 0.00176 scaled by sqrt(global batch / 4096)
    optimizer: str = "lamb"


def task_defaults(test_set: str, variant: str) -> TaskDefaults:
    tiny = variant == "tiny"
    if test_set == "overfit":
        # The tiny model learns the sample by heart with AdamW at 2e-3 (LAMB's trust ratio is
        # tiny on a fresh small model); the released sizes use LAMB.
        if tiny:
            return TaskDefaults("64", "500", "50", learning_rate=2e-3, optimizer="adamw")
        return TaskDefaults("128", "200", "10")
    if test_set == "bookswiki":
        return TaskDefaults("128,512", "7038,782", "2000,200")
    if test_set == "mrpc":
        if tiny:
            return TaskDefaults("128", "100", "10", learning_rate=1e-3, optimizer="adamw")
        return TaskDefaults("128", "800", "200", learning_rate=2e-5, optimizer="adamw")
    if test_set == "squad":
        return TaskDefaults(
            "128" if tiny else "384", None, None, epochs=2.0, learning_rate=1e-3 if tiny else 5e-5, optimizer="adamw"
        )
    raise LaunchError(f"unknown test set {test_set!r}; use one of {', '.join(TEST_SETS)}")


def pretraining_learning_rate(global_batch: int) -> float:
    """Google's LAMB rate for batch 4096 (0.00176), scaled by sqrt(batch / 4096) (REFERENCE.md §5.2)."""
    return 0.00176 * math.sqrt(global_batch / 4096)


# ----------------------------------------------------------------------------------------------
# Plans
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Step:
    """A command (argv, run by the workers when `distributed`), or a file the launcher writes."""

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

    @property
    def total(self) -> int:
        return self.workers_per_box * max(1, len(self.hosts))


def _split(value: str | int | float | None, phases: int, name: str) -> list[str]:
    if value is None:
        return [""] * phases
    parts = str(value).split(",")
    if len(parts) == 1:
        parts *= phases
    if len(parts) != phases:
        raise LaunchError(f"--{name} {value}: give one value or one per phase ({phases})")
    return [p.strip() for p in parts]


def model_files(args, dry_run: bool) -> tuple[str, str, str | None]:
    """(config, spm model, released checkpoint) of the variant: from --albert-config-dir, or the
    released model (downloaded once, into the cache)."""
    from albert import pretrained

    directory = args.albert_config_dir
    if directory is None:
        name = f"albert_{args.model_variant}_{args.version}"
        directory = os.path.join(pretrained.cache_dir(), name) if dry_run else pretrained.resolve(name)
    config = os.path.join(directory, "albert_config.json")
    if not dry_run and not os.path.isfile(config):
        raise LaunchError(f"--albert-config-dir {directory}: no albert_config.json there")
    spm = os.path.join(directory, "30k-clean.model")
    checkpoint = os.path.join(directory, "model.ckpt-best")
    has_checkpoint = dry_run or os.path.isfile(checkpoint + ".index")
    return config, spm, checkpoint if has_checkpoint else None


def _tiny_files(out: str, python: str) -> tuple[list[Step], str, str]:
    """Steps that make the sample vocabulary and the tiny config; (steps, config, spm model)."""

    def config_text() -> str:
        from albert.configs import get_config  # TensorFlow is imported only when the file is written

        return json.dumps(get_config("tiny").replace(vocab_size=SAMPLE_VOCAB_SIZE).to_dict(), indent=2) + "\n"

    data = os.path.join(out, "data")
    prefix = os.path.join(data, "sample_spm")
    config_path = os.path.join(data, "albert_config.json")
    steps = [
        Step(
            "a SentencePiece vocabulary of the sample text",
            [
                python,
                os.path.join(ROOT, "data_preprocessing", "train_sentencepiece.py"),
                f"--input_file={SAMPLE_TEXT}",
                f"--model_prefix={prefix}",
                f"--vocab_size={SAMPLE_VOCAB_SIZE}",
            ],
        ),  # fmt: skip
        Step("the tiny ALBERT's config", write=(config_path, config_text)),
    ]
    return steps, config_path, prefix + ".model"


def build_plan(args, dry_run: bool = False) -> list[Step]:
    """The steps of a demo run from demo_albert.py's arguments."""
    python = args.python
    tiny = args.model_variant == "tiny"
    test_set = args.test_set
    defaults = task_defaults(test_set, args.model_variant)
    out = args.output_dir
    bf16 = args.data_type in ("bf16", "fp16")
    batch_default = _BATCH[test_set][args.model_variant][0 if bf16 else 1]
    workers = args.placement.total
    phases = 2 if test_set == "bookswiki" else 1

    seqs = _split(args.max_seq_length or defaults.max_seq_length, phases, "max_seq_length")
    batches = _split(args.batch_size or batch_default, phases, "batch_size")
    steps = _split(args.train_steps or defaults.train_steps, phases, "train_steps")
    warmup = args.warmup_steps if args.warmup_steps is not None else defaults.warmup_steps
    warmups = _split(warmup, phases, "warmup_steps")

    plan: list[Step] = []
    init = args.init_checkpoint_path or None
    if tiny:
        prepared, config, spm = _tiny_files(out, python)
        plan += prepared
    else:
        config, spm, released = model_files(args, dry_run)
        if test_set in ("mrpc", "squad") and init is None:
            init = released

    common = [f"--albert_config_file={config}", f"--data_type={args.data_type}"]
    if args.placement.device:
        common.append(f"--device={args.placement.device}")
    p = args.placement
    if workers > 1:
        common.append("--use_horovod" if p.distribution == "horovod" else "--distribution=tf")
        if p.device in (None, "cpu") and not p.hosts:  # the box's cores shared out
            common.append(f"--intra_op_threads={max(1, p.cores_per_box // p.workers_per_box)}")

    def learning_rate(global_batch: int) -> str:
        if args.learning_rate is not None:
            return f"--learning_rate={args.learning_rate}"
        rate = defaults.learning_rate or pretraining_learning_rate(global_batch)
        return f"--learning_rate={rate:.6g}"

    if test_set in ("overfit", "bookswiki"):
        if test_set == "overfit":
            records = [os.path.join(out, "data", f"sample-{seqs[0]}.tfrecord")]
            predictions = "10" if tiny else "20"
            plan.append(
                Step(
                    "pretraining records of the sample text",
                    [
                        python,
                        os.path.join(ROOT, "data_preprocessing", "create_training_data.py"),
                        f"--input_file={SAMPLE_TEXT}",
                        f"--output_file={records[0]}",
                        f"--spm_model_file={spm}",
                        f"--max_seq_length={seqs[0]}",
                        f"--max_predictions_per_seq={predictions}",
                        "--dupe_factor=5",
                    ],
                )  # fmt: skip
            )
            evaluation = [f"--eval_file={records[0]}", "--eval_batch_size=8"]
        else:
            root = _dataset(args, "bookswiki")
            records = [os.path.join(root, f"seq_len_{seq}", "training", "*") for seq in seqs]
            evaluation = []
            predictions = "20"
            for seq, pattern in zip(seqs, records):
                _require_glob(pattern, dry_run, f"bookswiki records for sequence {seq}")
        previous = init
        for phase in range(phases):
            global_batch = int(batches[phase]) * workers
            run_dir = os.path.join(out, "pretraining" if phases == 1 else f"phase_{phase + 1}")
            argv = [
                python, os.path.join(ROOT, "run_pretraining.py"), *common,
                f"--input_file={records[phase]}", f"--output_dir={run_dir}", f"--max_seq_length={seqs[phase]}",
                f"--max_predictions_per_seq={predictions}", f"--train_batch_size={global_batch}",
                f"--num_train_steps={steps[phase]}", f"--num_warmup_steps={warmups[phase]}",
                f"--optimizer={defaults.optimizer}", learning_rate(global_batch),
                f"--save_checkpoints_steps={args.save_ckpt_steps or steps[phase]}", "--do_train", "--do_eval",
                *evaluation,
            ]  # fmt: skip
            if test_set == "overfit":
                argv.append(f"--log_steps={max(1, int(steps[phase]) // 5)}")
            if previous:
                argv.append(f"--init_checkpoint={previous}")
            plan.append(Step(f"pretraining phase {phase + 1} (sequence {seqs[phase]})" if phases > 1 else "pretraining",
                             argv, distributed=True))  # fmt: skip
            previous = run_dir
        return plan

    # Fine-tuning
    data_dir = args.dataset_path or (SAMPLES[test_set] if tiny else None)
    if data_dir is None:
        raise LaunchError(f"-t {test_set}: pass --dataset_path (the {test_set.upper()} data folder)")
    global_batch = int(batches[0]) * workers
    schedule = (
        [f"--num_train_epochs={args.epochs or defaults.epochs}", "--warmup_proportion=0.1"]
        if (args.epochs or defaults.epochs) and not args.train_steps
        else []
    )
    run_dir = os.path.join(out, test_set)
    argv = [
        *common, f"--spm_model_file={spm}", f"--output_dir={run_dir}", f"--max_seq_length={seqs[0]}",
        f"--train_batch_size={global_batch}", f"--optimizer={defaults.optimizer}", learning_rate(global_batch),
    ]  # fmt: skip
    if init:
        argv.append(f"--init_checkpoint={init}")
    if test_set == "mrpc":
        _require_files(data_dir, ("train.tsv", "dev.tsv"), dry_run, "MRPC")
        if not schedule:
            schedule = [f"--train_step={steps[0]}", f"--warmup_step={warmups[0]}"]
        save = args.save_ckpt_steps or (int(steps[0]) if steps[0] else 1000)
        argv = [python, os.path.join(ROOT, "run_classifier.py"), "--task_name=MRPC", f"--data_dir={data_dir}", *argv,
                *schedule, f"--save_checkpoints_steps={save}", "--do_train", "--do_eval"]  # fmt: skip
        plan.append(Step("fine-tuning on MRPC", argv, distributed=True))
    else:
        train_file, predict_file = _squad_files(data_dir, dry_run)
        if not schedule:
            schedule = [f"--train_steps={steps[0]}", f"--warmup_step={warmups[0]}"]
        if args.save_ckpt_steps:
            schedule.append(f"--save_checkpoints_steps={args.save_ckpt_steps}")
        argv = [python, os.path.join(ROOT, "run_squad_v1.py"), f"--train_file={train_file}",
                f"--predict_file={predict_file}", "--doc_stride=128", *argv, *schedule,
                "--do_train", "--do_predict"]  # fmt: skip
        plan.append(Step("fine-tuning on SQuAD", argv, distributed=True))
    return plan


def _dataset(args, name: str) -> str:
    if not args.dataset_path:
        raise LaunchError(f"-t {name}: pass --dataset_path (the folder with seq_len_128/ and seq_len_512/ records)")
    return args.dataset_path


def _require_glob(pattern: str, dry_run: bool, what: str) -> None:
    import glob

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
        for name in sorted(os.environ):
            if any(part in name for part in FORWARDED_ENV):
                command += ["-x", name]
    return command + argv


def horovodrun_command(argv: list[str], p: Placement) -> list[str]:
    """horovodrun over Gloo (no MPI needed); the one installed beside the workers' Python."""
    hosts = ",".join(f"{h}:{p.workers_per_box}" for h in (p.hosts or ["localhost"]))
    beside = os.path.join(os.path.dirname(argv[0]), "horovodrun")
    return [beside if os.path.isfile(beside) else "horovodrun", "-np", str(p.total), "-H", hosts, "--gloo", *argv]


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
        env = {"TF_CONFIG": tf_config(addresses, index), "LOCAL_RANK": str(index % p.workers_per_box),
               "LOCAL_WORLD_SIZE": str(p.workers_per_box)}  # fmt: skip
        commands.append((env, argv))
    return commands


def show(argv: list[str], env: dict[str, str] | None = None) -> str:
    prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
    return (prefix + " " if prefix else "") + shlex.join(argv)


def worker_commands(step: Step, p: Placement, hostfile: str) -> list[tuple[dict[str, str], list[str]]]:
    """What runs `step` on the placement: [(environment, argv)]."""
    if not step.distributed or p.total == 1 or p.kubernetes:
        return [({}, step.argv)]
    if p.distribution == "tf":
        return tf_worker_commands(step.argv, p)
    if p.launcher == "horovodrun":
        return [({}, horovodrun_command(step.argv, p))]
    return [({}, mpirun_command(step.argv, p, hostfile))]


def run_plan(plan: list[Step], p: Placement, out: str, dry_run: bool, echo: Callable[[str], None] = print) -> None:
    """Prints and (unless `dry_run`) runs every step; stops at the first that fails."""
    hostfile = os.path.join(out, "hostfile")
    for step in plan:
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
        processes = [subprocess.Popen(argv, env={**os.environ, **env}) for env, argv in commands]
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
