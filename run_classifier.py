#!/usr/bin/env python3
"""Fine-tunes ALBERT (or BERT) on a GLUE task: MRPC, CoLA, SST-2, STS-B, QQP, MNLI, MNLI-MM,
QNLI, RTE or WNLI, from GLUE's TSV files.

    python run_classifier.py --task_name=MRPC --data_dir=glue/MRPC --output_dir=out/mrpc \\
        --albert_config_file=albert_base_v2 --init_checkpoint=albert_base_v2 \\
        --spm_model_file=30k-clean.model --max_seq_length=128 --train_batch_size=32 \\
        --learning_rate=2e-5 --num_train_epochs=3 --warmup_proportion=0.1 \\
        --do_train --do_eval --do_predict --data_type=bf16

With --do_eval every checkpoint is evaluated on the dev set and the best kept in
<output_dir>/best/; eval_results.txt holds its results and --do_predict uses it. Predictions go
to <output_dir>/<task>.tsv in GLUE's submission format. Running the same command again resumes.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags, logging  # noqa: E402

import common_flags  # noqa: E402
from albert import checkpoints, classifier, serving, training  # noqa: E402
from albert.configs import ConfigError  # noqa: E402
from albert.data import glue  # noqa: E402

FLAGS = flags.FLAGS
common_flags.define_common_flags(optimizer="adamw", learning_rate=5e-5, save_checkpoints_steps=1000)
common_flags.define_fine_tuning_flags(max_seq_length=512)
flags.DEFINE_string("task_name", None, "GLUE task: " + ", ".join(t.name for t in glue.TASKS.values()) + ".")
flags.DEFINE_string("data_dir", None, "Folder of the task's train.tsv, dev.tsv and test.tsv.")
flags.DEFINE_integer("eval_batch_size", 8, "Sequences per evaluation batch.")
flags.DEFINE_integer("train_step", 1000, "Optimizer steps (unless --num_train_epochs).")
flags.DEFINE_integer("warmup_step", 0, "Linear warmup steps (unless --warmup_proportion).")
flags.DEFINE_integer(
    "bucket_width",
    0,
    "0: random training batches (as Google's and Hugging Face's scripts); N: each batch from one "
    "length bucket N tokens wide (less padding, but batches that are not random).",
)


def main(argv: list[str]) -> int:
    del argv
    logging.set_verbosity(logging.WARNING)
    workers = common_flags.workers_from_flags()
    common_flags.check_exclusive("train_step", "num_train_epochs")
    common_flags.check_exclusive("warmup_step", "warmup_proportion")
    if not (FLAGS.do_train or FLAGS.do_eval or FLAGS.do_predict):
        raise ValueError("nothing to do: pass --do_train, --do_eval or --do_predict")
    task = glue.get_task(FLAGS.task_name)
    settings = common_flags.settings_from_flags(classifier.ClassifierSettings, workers)
    settings.task_name = task.name
    config = common_flags.model_config(settings.max_seq_length)
    workers.worker_batch(settings.train_batch_size, FLAGS.gradient_accumulation_steps)
    tokenizer = common_flags.tokenizer_from_flags()
    if tokenizer.vocab_size > config.vocab_size:
        raise ConfigError(
            FLAGS.albert_config_file,
            f"vocab_size {config.vocab_size} is below the tokenizer's {tokenizer.vocab_size}; "
            "pass the vocabulary the model was trained with",
        )
    output_dir = FLAGS.output_dir
    cache_dir = FLAGS.cache_dir or os.path.join(output_dir, "features")

    def features(split: str) -> glue.FeatureFile:
        return glue.cached_features(
            task, FLAGS.data_dir, split, tokenizer, settings.max_seq_length, cache_dir, training.print_line
        )

    # Read every input first, so that a bad file stops the run before any training.
    train_features = features("train") if FLAGS.do_train else None
    eval_features = features("dev") if FLAGS.do_eval else None
    test_features = features("test") if FLAGS.do_predict else None
    if FLAGS.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(settings.random_seed)
    os.makedirs(output_dir, exist_ok=True)
    with workers.scope():
        model = classifier.create_model(config, task, settings)

    if FLAGS.do_train:
        classifier.finetune(
            model,
            task,
            train_features,
            output_dir,
            settings,
            eval_features=eval_features,
            init_checkpoint=FLAGS.init_checkpoint,
            workers=workers,
        )
    if not workers.is_chief:  # the chief evaluates, predicts and exports
        return 0
    if FLAGS.do_eval or FLAGS.do_predict or FLAGS.export_dir:
        path = checkpoints.best_checkpoint(output_dir) or FLAGS.init_checkpoint
        if not path:
            raise training.TrainingError(f"{output_dir}: no checkpoint; train first or pass --init_checkpoint")
        checkpoints.load_weights(model, path)
    if FLAGS.do_eval:
        best = checkpoints.best_results(output_dir)
        results = best if FLAGS.do_train and best else classifier.evaluate(model, task, eval_features, settings)
        results = {f"eval_{k}" if k not in ("global_step", "checkpoint") else k: v for k, v in results.items()}
        training.write_results(os.path.join(output_dir, "eval_results.txt"), results)
        print("eval: " + "  ".join(f"{k} {v}" for k, v in sorted(results.items())), flush=True)
    if FLAGS.do_predict:
        dataset = glue.make_dataset(test_features, task, settings.predict_batch_size, is_training=False)
        path = os.path.join(output_dir, glue.submission_name(task))
        glue.write_submission(path, task, test_features, classifier.predict_logits(model, dataset))
        print(f"predictions: {path}", flush=True)
    if FLAGS.export_dir:
        try:
            serving.export_saved_model(model, FLAGS.export_dir, tokenizer, settings.max_seq_length)
        except serving.ServingError as err:  # no TensorFlow Text: token ids only
            print(f"run_classifier.py: {err}; exporting the token-id signature only", flush=True)
            serving.export_saved_model(model, FLAGS.export_dir)
        print(f"SavedModel: {FLAGS.export_dir}", flush=True)
    return 0


if __name__ == "__main__":
    flags.mark_flags_as_required(["task_name", "data_dir", "output_dir", "albert_config_file"])
    app.run(common_flags.report_errors("run_classifier.py", main))
