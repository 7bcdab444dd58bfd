"""python -m albert.launch_sagemaker: the README's AWS commands as typed, their CreateTrainingJob
requests checked against botocore's own SageMaker service model, and one submitted through the
SDK to a local moto server and read back. No AWS account or network is used."""

from __future__ import annotations

import json
import re
import shlex

import pytest
from conftest import ROOT

pytest.importorskip("sagemaker")
from albert import launch_sagemaker  # noqa: E402

# The environment of the AWS section's step 4, with ids of real lengths (SageMaker's model
# wants FileSystemId of at least 11 characters; the README's fs-123 is a placeholder).
ENVIRONMENT = {
    "ACCOUNT_ID": "123456789012",
    "SAGEMAKER_ROLE": "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-20200101T123",
    "SAGEMAKER_IMAGE_NAME": "123456789012.dkr.ecr.us-east-1.amazonaws.com/albert:latest",
    "SAGEMAKER_FSX_ID": "fs-0123456789abcdef0",
    "SAGEMAKER_SUBNET_IDS": "subnet-0123456789abcdef0",
    "SAGEMAKER_SECURITY_GROUP_IDS": "sg-0123456789abcdef0,sg-0fedcba987654321",
    "PHASE1_RUN_NAME": "myberttrainingphase1",
    "PHASE2_RUN_NAME": "myberttrainingphase2",
    "PHASE1_STEPS": "14076",
}

# AWS's README's commands, as typed (phase 2 with its missing first line and backslash).
COMMANDS = {
    "albert-pretrain": """python -m albert.launch_sagemaker --source_dir=. --entry_point=albert/run_pretraining.py
        --sm_job_name=albert-pretrain --instance_type=ml.p3dn.24xlarge --instance_count=1 --load_from=scratch
        --model_type=albert --model_size=base --per_gpu_batch_size=32 --gradient_accumulation_steps=2
        --warmup_steps=3125 --total_steps=125000 --learning_rate=0.00176 --optimizer=lamb --log_frequency=10
        --name=myfirstjob""",
    "albert-squad": """python -m albert.launch_sagemaker --source_dir=. --entry_point=albert/run_squad.py
        --sm_job_name=albert-squad --instance_type=ml.p3dn.24xlarge --instance_count=1 --load_from=scratch
        --model_type=albert --model_size=base --per_gpu_batch_size=6 --total_steps=8144 --warmup_steps=814
        --learning_rate=3e-5 --task_name=squadv2""",
    "bert-phase1": """python -m albert.launch_sagemaker --source_dir=. --entry_point=albert/run_pretraining.py
        --sm_job_name=bert-pretrain-phase1 --instance_type=ml.p3dn.24xlarge --instance_count=8 --load_from=scratch
        --model_type=bert --model_size=base --per_gpu_batch_size=128 --max_seq_length=128
        --max_predictions_per_seq=20 --optimizer=lamb --gradient_accumulation_steps=4 --run_name=${PHASE1_RUN_NAME}
        --warmup_steps=1400 --total_steps=${PHASE1_STEPS} --learning_rate=0.00176 --squad_freq=0
        --log_frequency=10 --name=mybertphase1""",
    "bert-phase2": """python -m albert.launch_sagemaker --source_dir=. --entry_point=albert/run_pretraining.py
        --sm_job_name=bert-pretrain-phase1 --instance_type=ml.p3dn.24xlarge --instance_count=8
        --load_from=checkpoint --model_type=bert --model_size=base --per_gpu_batch_size=32 --max_seq_length=512
        --max_predictions_per_seq=80 --optimizer=lamb --gradient_accumulation_steps=8 --run_name=${PHASE2_RUN_NAME}
        --warmup_steps=312 --total_steps=3124 --learning_rate=0.00176 --log_frequency=10
        --checkpoint_path=/fsx/checkpoints/bert/${RUN_NAME_PHASE1}-step${PHASE1_STEPS} --name=mybertphase2""",
    "bert-squad-v2": """python -m albert.launch_sagemaker --source_dir=. --entry_point=albert/run_squad.py
        --sm_job_name=bert-squad --instance_type=ml.p3dn.24xlarge --instance_count=1 --load_from=scratch
        --model_type=bert --model_size=base --per_gpu_batch_size=6 --total_steps=8144 --warmup_steps=814
        --learning_rate=3e-5 --task_name=squadv2""",
    "bert-squad-v1": """python -m albert.launch_sagemaker --source_dir=. --entry_point=albert/run_squad.py
        --sm_job_name=bert-squad --instance_type=ml.p3dn.24xlarge --instance_count=1 --load_from=scratch
        --model_type=bert --model_size=base --per_gpu_batch_size=6 --total_steps=3649 --warmup_steps=365
        --learning_rate=5e-5 --task_name=squadv1""",
}


def arguments(command: str) -> list[str]:
    """The command's arguments after the shell's expansion (an unset variable is empty)."""
    expanded = re.sub(r"\$\{(\w+)\}", lambda m: ENVIRONMENT.get(m[1], ""), command)
    return shlex.split(expanded)[3:]  # after python -m albert.launch_sagemaker


@pytest.fixture
def aws_environment(monkeypatch):
    monkeypatch.chdir(ROOT)
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)


def dry_run(capsys, argv: list[str]) -> dict:
    status = launch_sagemaker.main([*argv, "--dry_run"])
    out, err = capsys.readouterr()
    assert status == 0, err
    return json.loads(out)


def check_against_service_model(request: dict) -> None:
    """botocore's own validation of a CreateTrainingJob request (shapes, types, lengths)."""
    import botocore.session
    from botocore.validate import ParamValidator

    model = botocore.session.get_session().get_service_model("sagemaker")
    report = ParamValidator().validate(request, model.operation_model("CreateTrainingJob").input_shape)
    assert not report.has_errors(), report.generate_report()


def decoded(request: dict) -> dict:
    """The hyperparameters as the container's toolkit reads them (each value JSON-encoded)."""
    return {key: json.loads(value) for key, value in request["HyperParameters"].items()}


@pytest.mark.parametrize("name", COMMANDS)
def test_the_readme_commands_build_valid_requests(name, aws_environment, capsys):
    argv = arguments(COMMANDS[name])
    request = dry_run(capsys, argv)
    check_against_service_model(request)
    typed = dict(arg[2:].split("=", 1) for arg in argv)
    count, job = int(typed["instance_count"]), typed["sm_job_name"]
    assert request["ResourceConfig"]["InstanceType"] == "ml.p3dn.24xlarge"
    assert request["ResourceConfig"]["InstanceCount"] == count
    assert re.fullmatch(rf"{job}-{count}xp3dn-[-0-9]+", request["TrainingJobName"])
    assert request["AlgorithmSpecification"]["TrainingImage"] == ENVIRONMENT["SAGEMAKER_IMAGE_NAME"]
    assert request["RoleArn"] == ENVIRONMENT["SAGEMAKER_ROLE"]
    assert request["VpcConfig"] == {
        "Subnets": ["subnet-0123456789abcdef0"],
        "SecurityGroupIds": ["sg-0123456789abcdef0", "sg-0fedcba987654321"],
    }
    [channel] = request["InputDataConfig"]
    assert channel["ChannelName"] == "training"
    assert channel["DataSource"]["FileSystemDataSource"] == {
        "FileSystemId": "fs-0123456789abcdef0",
        "FileSystemType": "FSxLustre",
        "DirectoryPath": "/fsx",
        "FileSystemAccessMode": "rw",
    }
    assert request["StoppingCondition"]["MaxRuntimeInSeconds"] == 28 * 24 * 3600

    hyperparameters = decoded(request)
    assert hyperparameters["sagemaker_program"] == typed["entry_point"]
    assert hyperparameters["sagemaker_mpi_enabled"] is True
    assert hyperparameters["sagemaker_mpi_num_of_processes_per_host"] == 8
    assert hyperparameters["distribution"] == "horovod"
    assert hyperparameters["filesystem_prefix"] == "/opt/ml/input/data/training"
    launcher_only = {"source_dir", "entry_point", "sm_job_name", "instance_type", "instance_count"}
    for key, value in typed.items():
        if key not in launcher_only and key != "checkpoint_path":
            assert hyperparameters[key] == type(hyperparameters[key])(value), key
    if name == "bert-phase2":  # the FSx path as the container sees it
        assert hyperparameters["checkpoint_path"] == "/opt/ml/input/data/training/checkpoints/bert/-step14076"
    # AWS's defaults where they differ from Google's
    assert hyperparameters["hidden_dropout_prob"] == hyperparameters["attention_probs_dropout_prob"] == 0.0
    assert ("end_learning_rate" in hyperparameters) == ("run_pretraining" in typed["entry_point"])
    assert_the_container_takes(request)


def assert_the_container_takes(request: dict) -> None:
    """The hyperparameters, as SageMaker's toolkit turns them into `--key value` arguments, are
    settings the entry point accepts."""
    from albert import settings
    from albert.aws.job import ENTRY_POINTS
    from albert.tasks import TASKS

    hyperparameters = decoded(request)
    task = TASKS[ENTRY_POINTS[hyperparameters["sagemaker_program"].split("/")[-1]]]
    argv = [part for key, value in hyperparameters.items() if not key.startswith("sagemaker_")
            for part in (f"--{key}", str(value))]  # fmt: skip
    values = settings.parse(task.settings, argv)
    assert values.filesystem_prefix == "/opt/ml/input/data/training"


def test_what_the_launcher_passes_reaches_the_script_as_given(aws_environment, capsys):
    argv = [*arguments(COMMANDS["albert-pretrain"]), "--noxla", "--nodo_eval", "--filesystem_prefix=/fsx",
            "--input_file=/fsx/a/*.tfrecord,/fsx/b/*.tfrecord", "--end_learning_rate=0"]  # fmt: skip
    request = dry_run(capsys, argv)
    hyperparameters = decoded(request)
    assert (hyperparameters["xla"], hyperparameters["do_eval"]) == (False, False)  # booleans by their names
    assert hyperparameters["filesystem_prefix"] == "/opt/ml/input/data/training"
    assert (
        hyperparameters["input_file"]
        == "/opt/ml/input/data/training/a/*.tfrecord,/opt/ml/input/data/training/b/*.tfrecord"
    )
    assert hyperparameters["end_learning_rate"] == 0.0 and "train_dir" not in hyperparameters
    assert_the_container_takes(request)


def test_instance_types_set_processes_per_host(aws_environment, capsys):
    base = arguments(COMMANDS["albert-squad"])
    for instance, processes in (("ml.g4dn.12xlarge", 4), ("ml.p4d.24xlarge", 8), ("ml.g5.12xlarge", 4)):
        request = dry_run(capsys, [*base, f"--instance_type={instance}"])
        assert decoded(request)["sagemaker_mpi_num_of_processes_per_host"] == processes
        assert request["TrainingJobName"].startswith(f"albert-squad-1x{instance.split('.')[1]}-")
    request = dry_run(capsys, [*base, "--instance_type=ml.c5.18xlarge", "--processes_per_host=2"])
    assert decoded(request)["sagemaker_mpi_num_of_processes_per_host"] == 2
    assert request["TrainingJobName"].startswith("albert-squad-1xc518-")


def test_spot_checkpoints_and_tf_distribute(aws_environment, capsys):
    argv = [*arguments(COMMANDS["albert-pretrain"]), "--use_spot_instances", "--max_run=86400",
            "--max_wait=172800", "--checkpoint_s3_uri=s3://my-bucket/checkpoints", "--distribution=tf"]  # fmt: skip
    request = dry_run(capsys, argv)
    check_against_service_model(request)
    assert request["EnableManagedSpotTraining"] is True
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400, "MaxWaitTimeInSeconds": 172800}
    assert request["CheckpointConfig"] == {"S3Uri": "s3://my-bucket/checkpoints", "LocalPath": "/opt/ml/checkpoints"}
    hyperparameters = decoded(request)
    assert hyperparameters["sagemaker_multi_worker_mirrored_strategy_enabled"] is True
    assert hyperparameters["distribution"] == "tf" and "sagemaker_mpi_enabled" not in hyperparameters
    metrics = {m["Name"]: re.compile(m["Regex"]) for m in request["AlgorithmSpecification"]["MetricDefinitions"]}
    line = "step 10/125000  loss 7.25  masked_lm_loss 6.5  learning_rate 0.0001  grad_norm 1.5  321.4 seq/s  ETA 3h"
    assert metrics["train:loss"].search(line)[1] == "7.25"
    assert metrics["train:grad_norm"].search(line)[1] == "1.5"
    assert metrics["train:sequences_per_second"].search(line)[1] == "321.4"


@pytest.mark.parametrize(
    "unset, extra, message",
    [
        ("SAGEMAKER_ROLE", [], "--role (or $SAGEMAKER_ROLE) is required"),
        ("SAGEMAKER_FSX_ID", [], "--fsx_id (or $SAGEMAKER_FSX_ID) is required"),
        ("SAGEMAKER_SUBNET_IDS", [], "--subnet_ids (or $SAGEMAKER_SUBNET_IDS) is required"),
        (None, ["--instance_type=ml.c5.large"], "workers per host unknown; pass --processes_per_host"),
        (None, ["--entry_point=train.py"], "--entry_point train.py: not a script of this project"),
        (None, ["--total_stepz=3"], "unrecognized arguments: --total_stepz=3"),
        (None, ["--per_gpu_batch_size=many"], "invalid int value: 'many'"),
        (None, ["--model_size=xxlarge", "--model_type=bert"], "--model_size xxlarge is not a bert size"),
        (None, ["--train_batch_size=64"], "--per_gpu_batch_size and --train_batch_size both set"),
        (None, ["--load_from=checkpoint"], "--load_from=checkpoint needs --checkpoint_path"),
    ],
)
def test_bad_launches_are_one_line_errors(unset, extra, message, aws_environment, monkeypatch, capsys):
    if unset:
        monkeypatch.delenv(unset)
    try:
        status = launch_sagemaker.main([*arguments(COMMANDS["albert-squad"]), *extra, "--dry_run"])
    except SystemExit as exit:  # argparse's errors
        status = exit.code
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert status == 2 and message in last and last.count("error:") == 1, last


def test_the_readme_placeholder_fsx_id_is_named(aws_environment, monkeypatch, capsys):
    monkeypatch.setenv("SAGEMAKER_FSX_ID", "fs-123")
    assert launch_sagemaker.main([*arguments(COMMANDS["albert-squad"]), "--dry_run"]) == 1
    err = capsys.readouterr().err
    assert "FileSystemId" in err and "--fsx_id / $SAGEMAKER_FSX_ID" in err and len(err.strip().splitlines()) == 1


@pytest.fixture
def moto_server(monkeypatch):
    server_module = pytest.importorskip("moto.server")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    for name, value in {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    yield
    server.stop()


def test_a_job_submitted_to_moto_is_described_back(aws_environment, moto_server, capsys):
    import boto3

    boto3.client("s3").create_bucket(Bucket="albert-jobs")
    argv = [*arguments(COMMANDS["bert-phase1"]), "--output_path=s3://albert-jobs/output",
            "--use_spot_instances", "--checkpoint_s3_uri=s3://albert-jobs/checkpoints"]  # fmt: skip
    assert launch_sagemaker.main(argv) == 0
    out = capsys.readouterr().out
    name = re.search(r"submitted (\S+):", out)[1]
    described = boto3.client("sagemaker").describe_training_job(TrainingJobName=name)
    assert described["ResourceConfig"]["InstanceCount"] == 8
    assert described["ResourceConfig"]["InstanceType"] == "ml.p3dn.24xlarge"
    assert described["EnableManagedSpotTraining"] is True
    assert described["CheckpointConfig"]["S3Uri"] == "s3://albert-jobs/checkpoints"
    assert described["InputDataConfig"][0]["DataSource"]["FileSystemDataSource"]["FileSystemId"] == (
        "fs-0123456789abcdef0"
    )
    assert described["VpcConfig"]["Subnets"] == ["subnet-0123456789abcdef0"]
    hyperparameters = {k: json.loads(v) for k, v in described["HyperParameters"].items()}
    assert hyperparameters["per_gpu_batch_size"] == 128 and hyperparameters["run_name"] == "myberttrainingphase1"
    assert hyperparameters["sagemaker_mpi_num_of_processes_per_host"] == 8
    # the uploaded code is the package and its scripts, without virtual environments
    import io
    import tarfile

    bucket, key = re.fullmatch(r"s3://([^/]+)/(.+)", hyperparameters["sagemaker_submit_directory"]).groups()
    archive = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    names = tarfile.open(fileobj=io.BytesIO(archive)).getnames()
    assert "albert/run_pretraining.py" in names and "run_pretraining.py" in names
    assert not any(n.startswith((".venv", ".git")) or "__pycache__" in n for n in names)
