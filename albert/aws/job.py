"""The SageMaker training job of `python -m albert.launch_sagemaker`: AWS's launcher flags and
environment variables, the entry point's own settings passed as hyperparameters, and the job
built and submitted with the `sagemaker` Python SDK (`pip install 'albert-toolkit[aws]'`).

With --dry_run the SDK builds the CreateTrainingJob request as for a real job, and botocore checks
it against SageMaker's service model, but every AWS call is answered here: nothing is uploaded or
submitted, and no credentials are needed. The request is printed as JSON.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence

from albert import settings
from albert.aws import flags
from albert.settings import Setting, Values, group

# Processes (GPUs) per host and the job name's abbreviation, by instance type.
INSTANCES = {
    "ml.p3dn.24xlarge": (8, "p3dn"),
    "ml.p3.16xlarge": (8, "p316"),
    "ml.p4d.24xlarge": (8, "p4d"),
    "ml.p5.48xlarge": (8, "p5"),
    "ml.g4dn.12xlarge": (4, "g4dn"),
    "ml.g5.12xlarge": (4, "g5"),
}
# The entry points users name, by file name, and the task each runs.
ENTRY_POINTS = {
    "run_pretraining.py": "pretraining",
    "run_squad.py": "squad",
    "run_squad_v1.py": "squad",
    "run_classifier.py": "classifier",
}
# The TensorFlow of the Dockerfile's image (the SDK checks what tf.distribute needs against it).
IMAGE_TENSORFLOW = "2.18"
# Where SageMaker mounts the training channel (the FSx file system) in the container.
CHANNEL = "/opt/ml/input/data/training"
CHECKPOINTS = "/opt/ml/checkpoints"
# AWS's MPI options: NCCL's log, and no CMA (not allowed in SageMaker's containers).
MPI_OPTIONS = "-verbose -x NCCL_DEBUG=INFO -x OMPI_MCA_btl_vader_single_copy_mechanism=none"
# The project's files that a job needs (not the virtual environments beside them).
CODE = ("albert", "data_preprocessing", "demo_albert.py", "run_pretraining.py", "run_classifier.py", "run_squad_v1.py")

LAUNCHER = group(
    "SageMaker job",
    Setting("source_dir", str, ".", "The project's folder; its albert package and scripts are uploaded."),
    Setting(
        "entry_point",
        str,
        None,
        "The script to run, under --source_dir: albert/run_pretraining.py, "
        "albert/run_squad.py, run_pretraining.py, run_squad_v1.py or run_classifier.py.",
        required=True,
    ),
    Setting("sm_job_name", str, "albert", "The job's name: <sm_job_name>-<instance_count>x<instance>-<time>."),
    Setting(
        "instance_type",
        str,
        "ml.p3dn.24xlarge",
        f"Instance type ({', '.join(INSTANCES)}, or any with --processes_per_host).",
    ),
    Setting("instance_count", int, 1, "Hosts."),
    Setting("processes_per_host", int, None, "Workers per host (default: the instance type's GPUs)."),
    Setting("role", str, None, "The job's IAM role ARN (default $SAGEMAKER_ROLE)."),
    Setting("image_name", str, None, "The training image in ECR (default $SAGEMAKER_IMAGE_NAME; see Dockerfile)."),
    Setting("fsx_id", str, None, "The FSx for Lustre file system (default $SAGEMAKER_FSX_ID)."),
    Setting("fsx_mount_name", str, None, "The file system's mount name (default $SAGEMAKER_FSX_MOUNT_NAME, else fsx)."),
    Setting("subnet_ids", str, None, "Comma-separated subnets (default $SAGEMAKER_SUBNET_IDS)."),
    Setting(
        "security_group_ids", str, None, "Comma-separated security groups (default $SAGEMAKER_SECURITY_GROUP_IDS)."
    ),
    Setting("max_run", int, 28 * 24 * 3600, "Seconds the job may run (SageMaker's longest: 28 days)."),
    Setting(
        "checkpoint_s3_uri",
        str,
        None,
        "Upload /opt/ml/checkpoints here while the job runs; the run's "
        "checkpoints go there, and a replaced spot instance resumes from them.",
    ),
    Setting("use_spot_instances", bool, False, "Managed spot training."),
    Setting(
        "max_wait",
        int,
        None,
        "With spot instances: seconds to wait for them and run, at least --max_run (default --max_run).",
    ),
    Setting("volume_size", int, 30, "GB of disk per host."),
    Setting("output_path", str, None, "S3 folder of the job's model and output (default the SDK's bucket)."),
    Setting("region", str, None, "AWS region (default $AWS_DEFAULT_REGION, else us-east-1)."),
    Setting("dry_run", bool, False, "Print the CreateTrainingJob request as JSON; contact nothing."),
)
# A launcher setting that the environment gives when the flag does not: (flag, variable).
ENVIRONMENT = (
    ("role", "SAGEMAKER_ROLE"),
    ("image_name", "SAGEMAKER_IMAGE_NAME"),
    ("fsx_id", "SAGEMAKER_FSX_ID"),
    ("fsx_mount_name", "SAGEMAKER_FSX_MOUNT_NAME"),
    ("subnet_ids", "SAGEMAKER_SUBNET_IDS"),
    ("security_group_ids", "SAGEMAKER_SECURITY_GROUP_IDS"),
)
# What a job cannot be without: flag, what it is.
REQUIRED = {
    "role": "the job's IAM role",
    "image_name": "the training image",
    "fsx_id": "the FSx file system",
    "subnet_ids": "the subnets",
    "security_group_ids": "the security groups",
}


class LaunchError(ValueError):
    """The job cannot be built or submitted; the message is one line and says what to do."""


@dataclasses.dataclass
class Job:
    """What the launcher submits."""

    launcher: Values
    task: str
    entry_point: str
    hyperparameters: dict
    processes_per_host: int
    base_job_name: str
    metric_definitions: list[dict]

    @property
    def uses_mpi(self) -> bool:
        return self.hyperparameters.get("distribution") == "horovod"


def split_arguments(argv: Sequence[str]) -> tuple[Values, list[str]]:
    """The launcher's settings and the rest (the entry point's), with the environment's defaults."""
    launcher, rest = settings.parse_known(LAUNCHER, argv)
    for name, variable in ENVIRONMENT:
        if not getattr(launcher, name) and os.environ.get(variable):
            setattr(launcher, name, os.environ[variable])
    launcher.fsx_mount_name = (launcher.fsx_mount_name or "fsx").strip("/")
    launcher.region = launcher.region or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return launcher, rest


def task_of(entry_point: str | None) -> str:
    """The task the entry point runs."""
    scripts = "albert/run_pretraining.py, albert/run_squad.py, run_pretraining.py, run_squad_v1.py, run_classifier.py"
    if not entry_point:
        raise LaunchError(f"--entry_point is required: one of {scripts}")
    if os.path.basename(entry_point) not in ENTRY_POINTS:
        raise LaunchError(f"--entry_point {entry_point}: not a script of this project; use one of {scripts}")
    return ENTRY_POINTS[os.path.basename(entry_point)]


def build(launcher: Values, task_values: Values, task: str) -> Job:
    """The job: placement from the instance type, hyperparameters from the entry point's
    settings as given (their spellings kept) and what the container needs."""
    for name, what in REQUIRED.items():
        if not getattr(launcher, name):
            raise LaunchError(f"--{name} (or ${dict(ENVIRONMENT)[name]}) is required: {what}")
    if not os.path.isfile(os.path.join(launcher.source_dir, launcher.entry_point)):
        raise LaunchError(f"--entry_point {launcher.entry_point} is not under --source_dir {launcher.source_dir}")
    processes, abbreviation = placement(launcher.instance_type, launcher.processes_per_host)
    checked(task_values, launcher.instance_count * processes)
    hyperparameters = hyperparameters_of(task_values, task, launcher.fsx_mount_name)
    return Job(
        launcher,
        task,
        launcher.entry_point,
        hyperparameters,
        processes,
        f"{launcher.sm_job_name}-{launcher.instance_count}x{abbreviation}",
        metric_definitions(task),
    )


def placement(instance_type: str, processes_per_host: int | None) -> tuple[int, str]:
    """Workers per host and the job name's abbreviation of the instance type."""
    known = INSTANCES.get(instance_type)
    if known is None and processes_per_host is None:
        raise LaunchError(
            f"--instance_type {instance_type}: workers per host unknown; pass --processes_per_host "
            f"or use one of {', '.join(INSTANCES)}"
        )
    abbreviation = known[1] if known else re.sub(r"\W|xlarge", "", instance_type.removeprefix("ml."))
    return processes_per_host or known[0], abbreviation


# AWS's defaults where they differ from this project's (Google's), for the jobs AWS's users launch.
AWS_DEFAULTS = {
    "all": {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0},
    "pretraining": {"end_learning_rate": 3e-5, "train_dir": "data/train"},
}


def hyperparameters_of(values: Values, task: str, mount_name: str = "fsx") -> dict:
    """The entry point's settings as given, and what AWS's scripts do by default in the
    container: the training channel as the file system's folder, Horovod over MPI, XLA unless
    --skip_xla, AWS's defaults (`AWS_DEFAULTS`). Settings keep their spelling (a boolean its
    name); a path on the file system, /<mount_name>[/...], becomes the path in the container."""
    mount = f"/{mount_name}"

    def in_container(value):
        if not isinstance(value, str):
            return value
        parts = [CHANNEL + part[len(mount) :] if part == mount or part.startswith(mount + "/") else part
                 for part in value.split(",")]  # fmt: skip
        return ",".join(parts)

    def key(name: str) -> str:
        return name if isinstance(getattr(values, name), bool) else values.flag(name).lstrip("-")

    given = [name for name in values.as_dict() if values.given(name)]
    hyperparameters = {key(name): in_container(getattr(values, name)) for name in given}
    hyperparameters.setdefault("filesystem_prefix", CHANNEL)
    hyperparameters.setdefault("distribution", "horovod")
    if not any(values.given(name) for name in ("xla", "skip_xla")):
        hyperparameters["xla"] = True
    replaced = {"train_dir": "input_file", "hidden_dropout_prob": "albert_config_file"}
    for name, value in {**AWS_DEFAULTS["all"], **AWS_DEFAULTS.get(task, {})}.items():
        if not values.given(name) and not values.given(replaced.get(name, name)):
            hyperparameters[name] = value
    return hyperparameters


def checked(values: Values, replicas: int) -> None:
    """AWS's settings resolved as the container will (on a copy, without looking at files), so
    that a contradiction is an error here, not after the instances start."""
    from albert.aws.container import SageMaker

    job = SageMaker(model_dir="/opt/ml/model", channel=CHANNEL, output_data_dir=None, hosts=(), current_host=None,
                    job_name="launch")  # fmt: skip
    trial = copy.deepcopy(values)
    flags.resolve(trial, job, look=False)
    flags.resolve_batch(trial, replicas)


def metric_definitions(task: str) -> list[dict]:
    """Regexes of the scripts' log lines, for SageMaker's metrics (CloudWatch charts): the
    training metrics of every log line, sequences per second, and evaluation results."""
    from albert.tasks import TASKS
    from albert.training import LOGGED

    number = r"([-+0-9.eE]+|nan|inf)"
    definitions = [{"Name": "train:loss", "Regex": rf"step \d+/\d+  loss {number}"}]
    for name in (*TASKS[task].logged, *LOGGED[1:]):
        definitions.append({"Name": f"train:{name}", "Regex": rf"step \d+/\d+  .*\b{name} {number}"})
    definitions.append({"Name": "train:sequences_per_second", "Regex": rf"{number} seq/s"})
    for name in EVALUATED[task]:
        definitions.append({"Name": f"eval:{name}", "Regex": rf"eval( at step \d+)?: .*\b{name} {number}"})
    if task == "pretraining":
        for name in ("exact_match", "f1"):
            definitions.append({"Name": f"squad:{name}", "Regex": rf"squad at step \d+: .*\b{name} {number}"})
    return definitions


# The evaluation results each task logs.
EVALUATED = {
    "pretraining": ("masked_lm_accuracy", "masked_lm_loss", "sentence_order_accuracy", "sentence_order_loss"),
    "squad": ("exact_match", "exact", "f1"),
    "classifier": ("eval_accuracy", "eval_loss"),
}


def stage_code(source_dir: str) -> str:
    """A temporary copy of the project's code in `source_dir` (no virtual environments, caches or
    data), which the SDK uploads; the caller removes it."""
    staged = tempfile.mkdtemp(prefix="albert-code-")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in CODE:
        path = os.path.join(source_dir, name)
        if os.path.isdir(path):
            shutil.copytree(path, os.path.join(staged, name), ignore=ignore)
        elif os.path.isfile(path):
            shutil.copy2(path, staged)
    return staged


def estimator(job: Job, session, code_dir: str, output_path: str | None = None, code_location: str | None = None):
    """The SDK's TensorFlow estimator of the job (a custom image: the Dockerfile's)."""
    from sagemaker.tensorflow import TensorFlow

    launcher = job.launcher
    if job.uses_mpi:
        distribution = {"mpi": {"enabled": True, "processes_per_host": job.processes_per_host,
                                "custom_mpi_options": MPI_OPTIONS}}  # fmt: skip
    else:  # tf.distribute: one worker per host, its replicas the host's GPUs
        distribution = {"multi_worker_mirrored_strategy": {"enabled": True}}
    spot = launcher.use_spot_instances
    checkpoints = dict(checkpoint_s3_uri=launcher.checkpoint_s3_uri, checkpoint_local_path=CHECKPOINTS)
    return TensorFlow(
        entry_point=job.entry_point,
        source_dir=code_dir,
        image_uri=launcher.image_name,
        framework_version=IMAGE_TENSORFLOW,
        py_version="py310",
        role=launcher.role,
        instance_type=launcher.instance_type,
        instance_count=launcher.instance_count,
        volume_size=launcher.volume_size,
        distribution=distribution,
        hyperparameters=job.hyperparameters,
        subnets=_ids(launcher.subnet_ids),
        security_group_ids=_ids(launcher.security_group_ids),
        max_run=launcher.max_run,
        use_spot_instances=spot,
        max_wait=(launcher.max_wait or launcher.max_run) if spot else None,
        **(checkpoints if launcher.checkpoint_s3_uri else {}),
        metric_definitions=job.metric_definitions,
        enable_sagemaker_metrics=True,
        base_job_name=job.base_job_name,
        output_path=launcher.output_path or output_path,
        code_location=code_location,
        disable_profiler=True,
        debugger_hook_config=False,
        sagemaker_session=session,
    )


def _ids(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def file_system_input(launcher: Values):
    """The FSx for Lustre volume as the training channel, mounted read-write (runs write their
    checkpoints and logs to it)."""
    from sagemaker.inputs import FileSystemInput

    return FileSystemInput(
        file_system_id=launcher.fsx_id,
        file_system_type="FSxLustre",
        directory_path=f"/{launcher.fsx_mount_name}",
        file_system_access_mode="rw",
    )


def submit(job: Job, environment: Mapping[str, str] = os.environ) -> dict:
    """Builds the job with the SDK and submits it (with --dry_run, answers every AWS call here);
    returns the CreateTrainingJob request."""
    launcher = job.launcher
    boto3, sagemaker = _import_sdk(launcher.dry_run)
    credentials = dict(aws_access_key_id="dry-run", aws_secret_access_key="dry-run") if launcher.dry_run else {}
    boto_session = boto3.Session(region_name=launcher.region, **credentials)
    request: dict = {}
    boto_session.events.register(
        "provide-client-params.sagemaker.CreateTrainingJob", lambda params, **_: request.update(params)
    )  # noqa: E501
    if launcher.dry_run:
        boto_session.events.register("before-call", _answer_here)
    config = {"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}
    session = sagemaker.Session(boto_session=boto_session, sagemaker_config=config)
    # With --dry_run, S3 places given: the SDK would look for its bucket in the account.
    places = dict(output_path=f"s3://{DRY_RUN_BUCKET}/", code_location=f"s3://{DRY_RUN_BUCKET}/code")
    code_dir = stage_code(launcher.source_dir)
    try:
        estimator(job, session, code_dir, **(places if launcher.dry_run else {})).fit(
            inputs={"training": file_system_input(launcher)}, wait=False, logs=False
        )
    finally:
        shutil.rmtree(code_dir, ignore_errors=True)
    return request


DRY_RUN_BUCKET = "sagemaker-dry-run"


def _import_sdk(dry_run: bool):
    """boto3 and the SDK, quiet: no deprecation warning, no INFO lines on stdout (where --dry_run
    prints its JSON), Python's own tracebacks (the SDK installs another), and with --dry_run no
    look-up of the instance's credentials."""
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    if dry_run:
        os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    for name in ("sagemaker", "sagemaker.config"):  # the launcher says what happened, in one line
        logging.getLogger(name).setLevel(logging.CRITICAL)
    excepthook = sys.excepthook
    try:
        import boto3
        import sagemaker
    except ImportError:
        raise LaunchError("the sagemaker SDK is not installed; pip install 'albert-toolkit[aws]' "
                          "(or pip install 'sagemaker>=2.200,<3')") from None  # fmt: skip
    finally:
        sys.excepthook = excepthook
    return boto3, sagemaker


def _answer_here(model, params, **_):
    """--dry_run: every AWS call succeeds without leaving this process."""
    from botocore.awsrequest import AWSResponse

    answer = {"TrainingJobArn": "arn:aws:sagemaker:dry-run"} if model.name == "CreateTrainingJob" else {}
    return AWSResponse("https://dry-run", 200, {}, None), answer


def to_json(request: dict) -> str:
    return json.dumps(request, indent=2, sort_keys=True, default=str)
