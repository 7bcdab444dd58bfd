#!/usr/bin/env python3
"""Pretrains ALBERT (or BERT) with masked LM + sentence order on TFRecords from
data_preprocessing/create_training_data.py (or Google's create_pretraining_data.py).

    python run_pretraining.py --input_file='data/train.tfrecord-*' --output_dir=out/pretrain \\
        --albert_config_file=albert_config.json --train_batch_size=512 --max_seq_length=128 \\
        --max_predictions_per_seq=20 --num_train_steps=125000 --num_warmup_steps=3125 \\
        --learning_rate=0.00176 --data_type=bf16 --do_eval

Running the same command again in the same --output_dir resumes from the newest checkpoint.
Across workers (e.g. `mpirun -np 8 python run_pretraining.py --use_horovod ...`, or
--distribution=tf with TF_CONFIG), --train_batch_size stays the global batch: each worker reads
its share of it from its shard of the files, and only worker 0 writes and evaluates.
Phase 2 (sequence 512) starts a new --output_dir with --init_checkpoint=<phase 1 output_dir>:
the weights carry over, the optimizer and its schedule start afresh. --train_batch_size is the
batch of one optimizer step; with --gradient_accumulation_steps=N it is split into N micro-batches.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags, logging  # noqa: E402

import common_flags  # noqa: E402
from albert import checkpoints, pretraining, training  # noqa: E402
from albert.data.documents import InputError, expand_input_patterns  # noqa: E402
from albert.data.pretraining import check_pretraining_records  # noqa: E402

FLAGS = flags.FLAGS
common_flags.define_common_flags(optimizer="lamb", learning_rate=0.00176, save_checkpoints_steps=5000)
flags.DEFINE_string("input_file", None, "Training TFRecords: comma-separated glob patterns.")
flags.DEFINE_string("eval_file", None, "Evaluation TFRecords (default: --input_file, as Google's script).")
flags.DEFINE_integer("max_seq_length", 512, "Sequence length of the records.")
flags.DEFINE_integer("max_predictions_per_seq", 20, "Masked positions per sequence in the records.")
flags.DEFINE_integer("train_batch_size", 4096, "Sequences per optimizer step (all micro-batches).")
flags.DEFINE_integer("eval_batch_size", 64, "Sequences per evaluation batch.")
flags.DEFINE_integer("num_train_steps", 125000, "Optimizer steps.")
flags.DEFINE_integer("num_warmup_steps", 3125, "Linear warmup steps.")
flags.DEFINE_integer("max_eval_steps", 100, "Evaluation batches.")


def main(argv: list[str]) -> int:
    del argv
    logging.set_verbosity(logging.WARNING)  # TensorFlow's checkpoint INFO lines drown the log
    workers = common_flags.workers_from_flags()
    seq, predictions = FLAGS.max_seq_length, FLAGS.max_predictions_per_seq
    config = common_flags.model_config(seq)
    workers.worker_batch(FLAGS.train_batch_size, FLAGS.gradient_accumulation_steps)
    if (FLAGS.do_train or not FLAGS.eval_file) and not FLAGS.input_file:
        raise InputError("--input_file is required (training records, or the evaluation records without --eval_file)")
    train_files = expand_input_patterns(FLAGS.input_file) if FLAGS.do_train else []
    eval_files = expand_input_patterns(FLAGS.eval_file or FLAGS.input_file) if FLAGS.do_eval else []
    check_pretraining_records(sorted(set(train_files + eval_files)), seq, predictions)
    if FLAGS.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(FLAGS.random_seed)
    os.makedirs(FLAGS.output_dir, exist_ok=True)

    settings = common_flags.settings_from_flags(pretraining.PretrainingSettings, workers)
    with workers.scope():
        model = pretraining.create_model(config, settings)
    if FLAGS.do_train:
        pretraining.pretrain(
            model, train_files, FLAGS.output_dir, settings, init_checkpoint=FLAGS.init_checkpoint, workers=workers
        )
    if FLAGS.do_eval and workers.is_chief:
        step = checkpoints.restore_for_evaluation(model, FLAGS.output_dir, FLAGS.init_checkpoint)
        results = {**pretraining.evaluate(model, eval_files, settings), "global_step": step}
        training.write_results(os.path.join(FLAGS.output_dir, "eval_results.txt"), results)
        print("eval: " + "  ".join(f"{k} {v}" for k, v in sorted(results.items())))
    return 0


if __name__ == "__main__":
    flags.mark_flags_as_required(["output_dir", "albert_config_file"])
    app.run(common_flags.report_errors("run_pretraining.py", main))
