"""One entry for every task: settings from the command line, workers, inputs read first, the
model, training, then (on the chief) evaluation, predictions and export.

Each task module's `main` is `run_task(ItsTask, argv)`; `python -m albert.tasks <task>` runs a
task by its name.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Sequence

import keras
import tensorflow as tf
from absl import logging as absl_logging

from albert import (
    checkpoints,
    configs,
    devices,
    distribute,
    files,
    model_folder,
    output_lock,
    preemption,
    run_summary,
    serving,
    settings,
    training,
)
from albert.aws import container
from albert.aws import flags as aws_flags
from albert.data.documents import refuse_overwriting
from albert.pretrained import DownloadError
from albert.tokenization import create_tokenizer

# The project's errors with a one-line message: bad settings, configs, inputs, tokenizers and
# checkpoints are ValueErrors; a training run that cannot go on, a failed download, workers or a
# device that cannot start.
ERRORS = (ValueError, training.TrainingError, DownloadError, distribute.WorkerError, devices.DeviceError)


def run_task(task_class, argv: Sequence[str] | None = None) -> int:
    """Runs `task_class` with the settings of the command line `argv` (default: sys.argv's);
    returns the exit status, printing an error of the project as one line."""
    argv = sys.argv[1:] if argv is None else argv
    values = settings.parse(task_class.settings, argv, task_class.script, task_class.description)
    try:
        run(task_class(values))
    except ERRORS as err:
        print(f"{task_class.script}: error: {err}", file=sys.stderr)
        return 1
    except preemption.Preempted as stopped:  # saved; the chief said where
        return stopped.exit_status
    return 0


def run(task, log: Callable[[str], None] = training.print_line) -> None:
    """Starts this process's workers (inside SageMaker, from its job), then `execute`s the task."""
    v = task.values
    absl_logging.set_verbosity(absl_logging.WARNING)  # TensorFlow's checkpoint INFO lines drown the log
    job = container.current()  # inside SageMaker, or None
    model_folder.fill_in(v, log)
    aws_flags.resolve(v, job)
    workers = start_workers(v, job)
    aws_flags.resolve_batch(v, workers.num_replicas)
    tf.config.run_functions_eagerly(v.eager)
    if v.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(v.random_seed)
    model, _ = execute(task, workers, log)
    if job and workers.is_chief:
        container.save_model(model, job, log)
        container.save_outputs(v.output_dir, job, log)


def execute(task, workers: distribute.Workers, log: Callable[[str], None]) -> tuple[keras.Model, dict | None]:
    """The steps of a task's run once its workers are started, in order: checks, every input,
    the model, training, then on the chief evaluation, predictions and export. Returns the
    model and its results (evaluation, else the predictions' scores; None on other workers)."""
    v = task.values
    task.check()
    task.check_schedule()
    config = model_config(v)
    workers.worker_batch(v.train_batch_size, v.gradient_accumulation_steps)  # refuses a batch that does not split
    tokenizer = fine_tuning_tokenizer(v, config) if task.reads_text else None
    task.read_inputs(tokenizer)  # every input first, so that a bad file stops the run before any training
    task.check_model(config)
    check_outputs(task)
    with output_lock.held(v.output_dir, log) if workers.is_chief else contextlib.nullcontext():
        if workers.is_chief:
            model_folder.save(v, config, log)
        with workers.scope():
            model = task.create_model(config)
        if v.do_train:
            training.fit(task, model, workers, log)
        results = finish(task, model, tokenizer, log) if workers.is_chief else None
    if workers.is_chief:
        for line in run_summary.summary(task, results):
            log(line)
    return model, results


def check_outputs(task) -> None:
    """The output folder is writable, no output file is a folder or an input, and the
    SavedModel's folder replaces nothing the run keeps: found before any work."""
    v = task.values
    files.make_folder(v.output_dir, v.flag("output_dir"))
    outputs, inputs = task.output_files(), task.input_files()
    files.check_outputs(outputs)
    refuse_overwriting(inputs, outputs, "the run")
    if getattr(v, "export_dir", None):
        kept = [path for path in (v.output_dir, v.init_checkpoint, *inputs) if path and os.path.exists(path)]
        files.check_replaceable_folder(v.export_dir, "--export_dir", kept)


def start_workers(v: settings.Values, job: container.SageMaker | None = None) -> distribute.Workers:
    """Sets up the device and starts this process's workers; call it before any other
    TensorFlow work. `v.learning_rate` becomes the rate for the workers, scaled as
    --learning_rate_scaling says. In a SageMaker `job` of several hosts, tf.distribute's
    workers are its hosts."""
    engine = v.distribution or ("horovod" if v.use_horovod else "single")
    if v.use_horovod and engine != "horovod":
        raise ValueError(f"--use_horovod and --distribution {engine} disagree; give one")
    cluster = container.tf_config(job) if job and engine == "tf" else None
    if cluster and "TF_CONFIG" not in os.environ:
        os.environ["TF_CONFIG"] = json.dumps(cluster)
    local_rank, local_size = distribute.local_placement()
    device = devices.setup(v.device, local_rank, local_size, v.intra_op_threads, v.inter_op_threads)
    workers = distribute.create_workers(engine, device=device)
    v.learning_rate = distribute.scaled_learning_rate(v.learning_rate, workers.num_replicas, v.learning_rate_scaling)
    return workers


def model_config(v: settings.Values) -> configs.BertConfig:
    """The model config named by --albert_config_file / --model_type, with the dropouts given,
    checked against --max_seq_length."""
    source = v.albert_config_file
    config = configs.named_or_file(source, v.model_type)
    dropouts = ("hidden_dropout_prob", "attention_probs_dropout_prob")
    config = config.replace(**{name: getattr(v, name) for name in dropouts if getattr(v, name) is not None})
    if config.max_position_embeddings < v.max_seq_length:
        raise configs.ConfigError(
            source,
            f"max_position_embeddings {config.max_position_embeddings} is below --max_seq_length "
            f"{v.max_seq_length}; lower --max_seq_length",
        )
    return config


def fine_tuning_tokenizer(v: settings.Values, config: configs.BertConfig):
    """The tokenizer of a task that reads text, checked against the model's vocabulary."""
    tokenizer = create_tokenizer(v.spm_model_file, v.vocab_file, v.do_lower_case)
    if tokenizer.vocab_size > config.vocab_size:
        raise configs.ConfigError(
            v.albert_config_file,
            f"vocab_size {config.vocab_size} is below the tokenizer's {tokenizer.vocab_size}; "
            "pass the vocabulary the model was trained with",
        )
    return tokenizer


def finish(task, model: keras.Model, tokenizer, log: Callable[[str], None]) -> dict | None:
    """Evaluation results, predictions and the SavedModel of the trained model: the best
    checkpoint kept, unless this run trained without evaluating (then its newest). Returns the
    results (evaluation, else the predictions' scores) if any."""
    v = task.values
    do_predict, export_dir = getattr(v, "do_predict", False), getattr(v, "export_dir", None)
    if not (v.do_eval or do_predict or export_dir):
        return None
    results = None
    use_best = task.evaluates_during_training() or not v.do_train
    step = checkpoints.restore_for_evaluation(model, v.output_dir, v.init_checkpoint, use_best=use_best)
    if v.do_eval:
        results = task.evaluation_results(model, v.output_dir, v.do_train, step)
        report_results(results, v, log)
    if do_predict:
        paths, scores = task.predict(model)
        for path in paths:
            log(f"predictions: {path}")
        if scores and not v.do_eval:
            results = {**scores, "global_step": step}
            report_results(results, v, log)
    if export_dir:
        export(model, export_dir, tokenizer, v.max_seq_length, task.script, log)
    return results


def report_results(results: dict, v: settings.Values, log: Callable[[str], None]) -> None:
    """eval_results.txt, its `eval:` line, and its scalars in TensorBoard (under eval/)."""
    training.write_results(os.path.join(v.output_dir, "eval_results.txt"), results)
    log("eval: " + "  ".join(f"{k} {value}" for k, value in sorted(results.items())))
    writer = tf.summary.create_file_writer(training.summaries_folder(v.output_dir, v.summary_dir, "eval"))
    training.write_results_summary(writer, results)
    writer.close()


def export(model: keras.Model, export_dir: str, tokenizer, max_seq_length: int, script: str, log) -> None:
    try:
        serving.export_saved_model(model, export_dir, tokenizer, max_seq_length)
    except serving.ServingError as err:  # no TensorFlow Text: token ids only
        log(f"{script}: {err}; exporting the token-id signature only")
        serving.export_saved_model(model, export_dir)
    log(f"SavedModel: {export_dir}")
