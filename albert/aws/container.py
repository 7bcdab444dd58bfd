"""Inside SageMaker's training container.

SageMaker starts the entry point with the job's hyperparameters as `--key value` arguments and
describes the job in `SM_*` environment variables (the sagemaker-training toolkit's contract):
`SM_CHANNEL_TRAINING` (the training channel, here the FSx file system), `SM_MODEL_DIR` (uploaded
to S3 as the job's model when it ends), `SM_OUTPUT_DATA_DIR` (uploaded as its output),
`SM_HOSTS` and `SM_CURRENT_HOST`; `TRAINING_JOB_NAME` (and `SM_TRAINING_ENV`'s job_name) is
the job's name, the same after a spot instance is replaced. A job with checkpointing has
/opt/ml/checkpoints beside /opt/ml/model: SageMaker uploads it to S3 while the job runs and puts
it back when a spot instance is replaced, so runs that write there resume where they stopped.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Mapping

import keras

# The port of a worker's tf.distribute server on each host.
TF_PORT = 2222


@dataclasses.dataclass(frozen=True)
class SageMaker:
    """The job this process runs in."""

    model_dir: str
    channel: str | None
    output_data_dir: str | None
    hosts: tuple[str, ...]
    current_host: str | None
    job_name: str | None = None

    @property
    def checkpoints(self) -> str | None:
        """The job's checkpoint folder, when it has one."""
        folder = os.path.join(os.path.dirname(os.path.abspath(self.model_dir)), "checkpoints")
        return folder if os.path.isdir(folder) else None


def current(env: Mapping[str, str] = os.environ) -> SageMaker | None:
    """The SageMaker job this process runs in, or None outside SageMaker."""
    if "SM_MODEL_DIR" not in env:
        return None
    hosts = tuple(json.loads(env.get("SM_HOSTS", "[]")))
    return SageMaker(
        model_dir=env["SM_MODEL_DIR"],
        channel=env.get("SM_CHANNEL_TRAINING"),
        output_data_dir=env.get("SM_OUTPUT_DATA_DIR"),
        hosts=hosts,
        current_host=env.get("SM_CURRENT_HOST"),
        job_name=env.get("TRAINING_JOB_NAME") or json.loads(env.get("SM_TRAINING_ENV", "{}")).get("job_name"),
    )


def tf_config(job: SageMaker) -> dict | None:
    """TF_CONFIG for tf.distribute's MultiWorkerMirroredStrategy across the job's hosts (None on
    one host): one worker per host, SageMaker's host order, this host's index."""
    if len(job.hosts) < 2 or job.current_host not in job.hosts:
        return None
    workers = [f"{host}:{TF_PORT}" for host in job.hosts]
    return {"cluster": {"worker": workers}, "task": {"type": "worker", "index": job.hosts.index(job.current_host)}}


def save_outputs(output_dir: str, job: SageMaker, log) -> None:
    """The run's results (eval_results.txt, predictions, ...: its files other than checkpoints)
    in SM_OUTPUT_DATA_DIR, which SageMaker uploads as the job's output."""
    if not job.output_data_dir:
        return
    os.makedirs(job.output_data_dir, exist_ok=True)
    for name in sorted(os.listdir(output_dir)):
        path = os.path.join(output_dir, name)
        if os.path.isfile(path) and not name.startswith(("ckpt-", "checkpoint", "events.", ".")):
            shutil.copy2(path, os.path.join(job.output_data_dir, name))
            log(f"output: {os.path.join(job.output_data_dir, name)}")


def save_model(model: keras.Model, job: SageMaker, log) -> None:
    """The job's model: the trained weights (a checkpoint of this project, `model.ckpt`) and
    the encoder's config, in SM_MODEL_DIR."""
    from albert import checkpoints
    from albert.modeling import Encoder

    os.makedirs(job.model_dir, exist_ok=True)
    encoder = next(layer for layer in model.layers if isinstance(layer, Encoder))
    path = checkpoints.save_weights(model, os.path.join(job.model_dir, "model.ckpt"))
    encoder.config.to_json_file(os.path.join(job.model_dir, "config.json"))
    log(f"model: {path} (SageMaker uploads {job.model_dir} when the job ends)")
