"""Launches a training job on Amazon SageMaker: this project's scripts in the Dockerfile's image,
Horovod over MPI across the hosts' GPUs, the FSx for Lustre file system as the training channel.

    export SAGEMAKER_ROLE=arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole
    export SAGEMAKER_IMAGE_NAME=123456789012.dkr.ecr.us-east-1.amazonaws.com/albert:latest
    export SAGEMAKER_FSX_ID=fs-0123456789abcdef0 SAGEMAKER_SUBNET_IDS=subnet-123 SAGEMAKER_SECURITY_GROUP_IDS=sg-123
    python -m albert.launch_sagemaker --source_dir=. --entry_point=albert/run_pretraining.py \\
        --sm_job_name=albert-pretrain --instance_type=ml.p3dn.24xlarge --instance_count=1 \\
        --model_type=albert --model_size=base --per_gpu_batch_size=32 --total_steps=125000 --dry_run

The launcher's own settings are below; every other one is the entry point's (`--entry_point=...
--help` lists them), checked here and passed to it as a hyperparameter. --dry_run prints the
CreateTrainingJob request and contacts nothing. Needs the sagemaker SDK:
pip install 'albert-toolkit[aws]'.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from albert import settings
from albert.aws import job


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    prog = "python -m albert.launch_sagemaker"
    launcher, rest = job.split_arguments(argv)
    try:
        task = job.task_of(launcher.entry_point) if launcher.entry_point or not _asks_help(rest) else None
        table = _task_table(task)
        if _asks_help(rest):
            settings.build_parser((*job.LAUNCHER, *table), prog, __doc__).print_help()
            return 0
        values = settings.parse(table, rest, f"{prog} (--entry_point={launcher.entry_point})")
        request = job.submit(job.build(launcher, values, task))
    except ValueError as err:  # the launcher's, the settings', AWS's settings that contradict each other
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # botocore's and the SDK's errors: no credentials, access denied, ...
        if type(err).__module__.split(".")[0] not in ("botocore", "boto3", "sagemaker"):
            raise
        hint = " (--fsx_id / $SAGEMAKER_FSX_ID)" if "FileSystemId" in str(err) else ""
        print(f"{prog}: error: {type(err).__name__}: {' '.join(str(err).split())}{hint}", file=sys.stderr)
        return 1
    if launcher.dry_run:
        print(job.to_json(request))
    else:
        name = request["TrainingJobName"]
        print(
            f"submitted {name}: {launcher.instance_count} x {launcher.instance_type}; "
            f"https://{launcher.region}.console.aws.amazon.com/sagemaker/home?region={launcher.region}"
            f"#/jobs/{name}"
        )
    return 0


def _asks_help(argv: Sequence[str]) -> bool:
    return any(arg in ("-h", "--help") for arg in argv)


def _task_table(task: str | None):
    if task is None:
        return ()
    from albert.tasks import TASKS

    return TASKS[task].settings


if __name__ == "__main__":
    sys.exit(main())
