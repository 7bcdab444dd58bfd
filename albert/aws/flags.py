"""AWS's settings, with AWS's meanings, turned into this project's.

AWS's ALBERT/BERT scripts describe a run by a model size, a per-GPU batch, where to load from and
paths under a shared file system (FSx for Lustre at /fsx):

    --model_type=bert --model_size=base --per_gpu_batch_size=32 --gradient_accumulation_steps=4
    --load_from=checkpoint --checkpoint_path=/fsx/checkpoints/bert/phase1-step14076
    --filesystem_prefix=/fsx --train_dir=data/train --val_dir=data/val --run_name=phase2

`resolve` turns them into --albert_config_file, --train_batch_size, --init_checkpoint,
--input_file, --eval_file and --output_dir, refusing an AWS setting given together with the one
it replaces.
"""

from __future__ import annotations

import glob
import os
import re

from albert import configs
from albert.settings import Setting, Values, group

# --model_size with --model_type: the variant. ALBERT's and BERT's released sizes; "small" has
# the shape of Google's BERT-Small (4 layers, hidden 512, 8 heads) and "tiny" is the project's
# CPU model.
MODEL_SIZES = {
    "albert": {
        "tiny": "tiny",
        "small": "albert_small",
        **{name: f"albert_{name}_v2" for name, size in configs.SIZES.items() if size.released},
    },
    "bert": {name: f"bert_{name}" for name in ("tiny", "small", "base", "large")},
}
LOAD_FROM = ("scratch", "checkpoint", "huggingface")

AWS = group(
    "AWS's settings (SageMaker)",
    Setting(
        "model_size",
        str,
        None,
        "With --model_type, the model's size (instead of --albert_config_file): albert_<size>_v2 or "
        "bert_<size>; small is 4 layers of hidden size 512, tiny the CPU test model.",
        choices=tuple(MODEL_SIZES["albert"]),
    ),
    Setting(
        "load_from",
        str,
        None,
        "Start from scratch, from --checkpoint_path (a checkpoint of this project, AWS's "
        "<checkpoint_dir>/<run_name>-step<N> naming one) or from a Hugging Face folder in --checkpoint_path.",
        choices=LOAD_FROM,
    ),
    Setting("checkpoint_path", str, None, "What --load_from=checkpoint|huggingface loads (under --filesystem_prefix)."),
    Setting(
        "load_optimizer_state",
        bool,
        True,
        "With --load_from=checkpoint, also take the optimizer's moments (its schedule starts afresh; "
        "pretraining only by default).",
    ),
    Setting(
        "per_gpu_batch_size",
        int,
        None,
        "Sequences per replica and micro-batch, instead of --train_batch_size: "
        "the batch is this x replicas x --gradient_accumulation_steps.",
    ),  # fmt: skip
    Setting("skip_xla", bool, False, "Do not compile with XLA (the same as --noxla)."),
    Setting("eager", bool, False, "Run the training step eagerly, not as a graph (for debugging; slow)."),
    Setting(
        "filesystem_prefix",
        str,
        None,
        "Folder that --train_dir, --val_dir, --checkpoint_dir, --log_dir and --checkpoint_path are under "
        "(AWS's /fsx; inside SageMaker, the training channel).",
    ),
    Setting("train_dir", str, None, "Folder of the training *.tfrecord files (instead of --input_file)."),
    Setting("val_dir", str, None, "Folder of the evaluation *.tfrecord files (instead of --eval_file)."),
    Setting(
        "checkpoint_dir",
        str,
        None,
        "Runs' folder: the run's output is <checkpoint_dir>/<run_name> "
        "(default checkpoints/<model_type>; inside SageMaker, /opt/ml/checkpoints).",
    ),  # fmt: skip
    Setting("log_dir", str, None, "TensorBoard's folder: the run's summaries go to <log_dir>/<run_name>."),
    Setting(
        "run_name",
        str,
        None,
        "The run's name: its folder under --checkpoint_dir and --log_dir "
        "(default --name; inside SageMaker, the job's name).",
    ),  # fmt: skip
    Setting("name", str, None, "A label of the run: its name when --run_name is not given."),
    Setting("model_dir", str, None, "Passed by SageMaker's TensorFlow estimator; not used."),
)

_AWS_CHECKPOINT = re.compile(r"^(?P<dir>.*?)/?(?P<run>[^/]*)-step(?P<step>\d+)(\.ckpt)?$")
# What AWS's folders replace: --train_dir and --val_dir hold pretraining records.
_FOLDERS = (("train_dir", "input_file"), ("val_dir", "eval_file"))


def resolve(v: Values, job=None, look: bool = True) -> None:
    """Replaces AWS's settings in `v` by this project's (in place), except the batch (see
    `resolve_batch`). `job` is the SageMaker job this process runs in, if any
    (`albert.aws.container.SageMaker`): its training channel is the default --filesystem_prefix,
    its checkpoint folder (if it has one) the runs' folder, its name the default --run_name.
    Without `look`, AWS's checkpoint names are not looked for (the launcher's check)."""
    _refuse_both(v, "model_size", "albert_config_file")
    if v.model_size:
        sizes = MODEL_SIZES[v.model_type]
        if v.model_size not in sizes:
            raise ValueError(f"--model_size {v.model_size} is not a {v.model_type} size; use one of {', '.join(sizes)}")
        v.albert_config_file = sizes[v.model_size]
    if not v.albert_config_file:
        raise ValueError("--albert_config_file (or --model_size with --model_type) is required")
    if v.skip_xla:
        _refuse_both(v, "skip_xla", "xla")
        v.xla = False
    if loads_optimizer(v) and v.adam_bias_correction:
        raise ValueError("--load_optimizer_state restarts the step count, which --adam_bias_correction counts on; "
                         "pass --load_optimizer_state=false")  # fmt: skip
    v.filesystem_prefix = v.filesystem_prefix or (job.channel if job else None)
    v.run_name = v.run_name or v.name or (job.job_name if job else None)
    prefix = v.filesystem_prefix or "/fsx"
    _resolve_folders(v, prefix)
    _resolve_output(v, prefix, job.checkpoints if job else None)
    _resolve_load_from(v, prefix, look)


def resolve_batch(v: Values, num_replicas: int) -> None:
    """--train_batch_size from AWS's --per_gpu_batch_size, once the replicas are known."""
    if v.per_gpu_batch_size is None:
        return
    _refuse_both(v, "per_gpu_batch_size", "train_batch_size")
    if v.per_gpu_batch_size < 1:
        raise ValueError(f"--per_gpu_batch_size must be at least 1, got {v.per_gpu_batch_size}")
    v.train_batch_size = v.per_gpu_batch_size * num_replicas * v.gradient_accumulation_steps


def _refuse_both(v: Values, aws: str, own: str) -> None:
    if v.given(aws) and v.given(own):
        raise ValueError(f"{v.flag(aws)} and {v.flag(own)} both set {own}; give one")


def under(prefix: str, path: str) -> str:
    """`path` under the file system's folder (an absolute path stays as it is)."""
    return os.path.join(prefix, path)


def _run_name(v: Values) -> str:
    if not v.run_name:
        raise ValueError("AWS's folders need the run's name: pass --run_name (or --name), or --output_dir")
    return v.run_name


def _resolve_folders(v: Values, prefix: str) -> None:
    for aws, own in _FOLDERS:
        if not getattr(v, aws):
            continue
        if not hasattr(v, own):
            raise ValueError(f"--{aws} holds pretraining records; this script reads no records")
        _refuse_both(v, aws, own)
        setattr(v, own, os.path.join(under(prefix, getattr(v, aws)), "*.tfrecord*"))
    if v.log_dir:
        _refuse_both(v, "log_dir", "summary_dir")
        v.summary_dir = os.path.join(under(prefix, v.log_dir), _run_name(v))


def _resolve_output(v: Values, prefix: str, checkpoints: str | None) -> None:
    """The run's folder: --output_dir, else <checkpoint_dir>/<run_name> under the prefix, else
    SageMaker's checkpoint folder (uploaded to S3 and restored after a spot interruption)."""
    if v.output_dir:
        _refuse_both(v, "checkpoint_dir", "output_dir")
    elif v.given("checkpoint_dir") or (checkpoints is None and (v.run_name or v.filesystem_prefix)):
        v.output_dir = os.path.join(under(prefix, v.checkpoint_dir or f"checkpoints/{v.model_type}"), _run_name(v))
    elif checkpoints is not None:
        v.output_dir = os.path.join(checkpoints, _run_name(v))
    else:
        raise ValueError("--output_dir is required (or AWS's --run_name, with --checkpoint_dir or --filesystem_prefix)")


def _resolve_load_from(v: Values, prefix: str, look: bool = True) -> None:
    load_from = v.load_from or "scratch"
    if load_from == "scratch":
        if v.checkpoint_path:
            raise ValueError("--checkpoint_path needs --load_from=checkpoint or --load_from=huggingface")
        return
    _refuse_both(v, "load_from", "init_checkpoint")
    if not v.checkpoint_path:
        raise ValueError(f"--load_from={load_from} needs --checkpoint_path")
    path = under(prefix, v.checkpoint_path)
    v.init_checkpoint = aws_checkpoint(path) if load_from == "checkpoint" and look else path


def squad_files(v: Values) -> tuple[str, str] | None:
    """AWS's SQuAD files for --squad_version under the file system's folder (<prefix>/squad_data/),
    when there is one."""
    if not v.filesystem_prefix:
        return None
    version = "2.0" if v.squad_version == "squadv2" else "1.1"
    folder = os.path.join(v.filesystem_prefix, "squad_data")
    return os.path.join(folder, f"train-v{version}.json"), os.path.join(folder, f"dev-v{version}.json")


def loads_optimizer(v: Values) -> bool:
    """Whether the run starts from the optimizer moments of --checkpoint_path (AWS's phase 2 of
    pretraining; off by default for fine-tuning, whose model is another)."""
    return v.load_from == "checkpoint" and v.load_optimizer_state


def aws_checkpoint(path: str) -> str:
    """This project's checkpoint for AWS's `<dir>/<run_name>-step<N>` (the run's folder
    <dir>/<run_name>, its ckpt-N); any other path is taken as it is. An empty run name (an unset
    shell variable) is the one run in <dir> with step N."""
    match = _AWS_CHECKPOINT.match(path)
    if os.path.exists(path) or os.path.exists(path + ".index") or not match:
        return path
    folder, run, step = match["dir"] or ".", match["run"], match["step"]
    if run:
        return os.path.join(folder, run, f"ckpt-{step}")
    found = sorted(glob.glob(os.path.join(glob.escape(folder), "*", f"ckpt-{step}.index")))
    if len(found) != 1:
        runs = ", ".join(os.path.basename(os.path.dirname(p)) for p in found) or "none"
        raise ValueError(
            f"--checkpoint_path {path} names no run (is its run-name variable set?); runs in {folder} "
            f"with step {step}: {runs}"
        )
    return found[0][: -len(".index")]
