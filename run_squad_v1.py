#!/usr/bin/env python3
"""Fine-tunes ALBERT (or BERT) on SQuAD v1.1 (or v2.0 with --version_2_with_negative), predicts
answers and scores them with the official definitions.

    python run_squad_v1.py --train_file=train-v1.1.json --predict_file=dev-v1.1.json \\
        --output_dir=out/squad --albert_config_file=albert_base_v2 --init_checkpoint=albert_base_v2 \\
        --spm_model_file=30k-clean.model --max_seq_length=384 --doc_stride=128 \\
        --train_batch_size=32 --learning_rate=5e-5 --num_train_epochs=2 --do_train --do_predict

Predictions go to <output_dir>/predictions.json and nbest_predictions.json (v2.0 also
null_odds.json); when --predict_file has answers, eval_results.txt holds exact_match and f1
(v2.0: the official breakdown). Tokenized features are cached (--train_feature_file,
--predict_feature_file, --predict_feature_left_file, default under <output_dir>/features/).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags, logging  # noqa: E402

import common_flags  # noqa: E402
from albert import checkpoints, question_answering, squad_eval, training  # noqa: E402
from albert.data import squad  # noqa: E402
from albert.data.documents import InputError  # noqa: E402

FLAGS = flags.FLAGS
common_flags.define_common_flags(optimizer="adamw", learning_rate=5e-5, save_checkpoints_steps=1000)
common_flags.define_fine_tuning_flags(max_seq_length=384, num_train_epochs=3.0, warmup_proportion=0.1)
flags.DEFINE_string("train_file", None, "SQuAD JSON to train on (e.g. train-v1.1.json).")
flags.DEFINE_string("predict_file", None, "SQuAD JSON to predict (e.g. dev-v1.1.json); scored when it has answers.")
flags.DEFINE_string("train_feature_file", None, "Cache of the training features (TFRecord).")
flags.DEFINE_string("predict_feature_file", None, "Cache of the prediction features (TFRecord).")
flags.DEFINE_string("predict_feature_left_file", None, "Cache of what prediction needs besides the features.")
flags.DEFINE_integer("doc_stride", 128, "Tokens between the starts of a context's windows.")
flags.DEFINE_integer("max_query_length", 64, "Question tokens kept.")
flags.DEFINE_integer("train_steps", -1, "Optimizer steps (-1: from --num_train_epochs).")
flags.DEFINE_integer("n_best_size", 20, "Candidate starts and ends per window, and n-best answers kept.")
flags.DEFINE_integer("max_answer_length", 30, "Longest answer, in tokens.")
flags.DEFINE_bool("version_2_with_negative", False, "SQuAD 2.0: questions may have no answer.")
flags.DEFINE_float("null_score_diff_threshold", 0.0, "SQuAD 2.0: answer nothing when null - best exceeds this.")
flags.DEFINE_bool("skip_bad_examples", False, "Leave out (and count) questions with broken answers or contexts.")


def main(argv: list[str]) -> int:
    del argv
    logging.set_verbosity(logging.WARNING)
    workers = common_flags.workers_from_flags()
    if not (FLAGS.do_train or FLAGS.do_predict):
        raise ValueError("nothing to do: pass --do_train or --do_predict")
    for needed, name in ((FLAGS.do_train, "train_file"), (FLAGS.do_predict, "predict_file")):
        if needed and not FLAGS[name].value:
            raise InputError(f"--{name} is required with --do_{'train' if name == 'train_file' else 'predict'}")
    settings = common_flags.settings_from_flags(question_answering.SquadSettings, workers)
    windows = settings.windows()
    config = common_flags.model_config(settings.max_seq_length)
    workers.worker_batch(settings.train_batch_size, FLAGS.gradient_accumulation_steps)
    tokenizer = common_flags.tokenizer_from_flags()
    output_dir = FLAGS.output_dir
    cache_dir = FLAGS.cache_dir or os.path.join(output_dir, "features")
    version_2 = settings.version_2_with_negative

    def load(path: str, is_training: bool, record_path: str | None, index_path: str | None = None):
        examples, skipped = squad.read_squad(path, is_training, version_2, skip_bad=FLAGS.skip_bad_examples)
        if skipped:
            print(f"skipped {skipped} bad questions of {path}", flush=True)
        name = "train" if is_training else "predict"
        record_path = record_path or os.path.join(cache_dir, f"{name}-{os.path.basename(path)}.tfrecord")
        features = squad.cached_features(
            path, examples, tokenizer, windows, is_training, record_path, training.print_line, index_path
        )
        return examples, features

    # Read every input first, so that a bad file stops the run before any training.
    train = load(FLAGS.train_file, True, FLAGS.train_feature_file) if FLAGS.do_train else None
    predict = (
        load(FLAGS.predict_file, False, FLAGS.predict_feature_file, FLAGS.predict_feature_left_file)
        if FLAGS.do_predict
        else None
    )
    if FLAGS.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(settings.random_seed)
    os.makedirs(output_dir, exist_ok=True)
    with workers.scope():
        model = question_answering.create_model(config, settings)
    if FLAGS.do_train:
        question_answering.finetune(
            model, train[1], output_dir, settings, init_checkpoint=FLAGS.init_checkpoint, workers=workers
        )
    if FLAGS.do_predict and workers.is_chief:
        path = tf.train.latest_checkpoint(output_dir) or FLAGS.init_checkpoint
        if not path:
            raise training.TrainingError(f"{output_dir}: no checkpoint; train first or pass --init_checkpoint")
        checkpoints.load_weights(model, path)
        examples, features = predict
        starts, ends = question_answering.predict_logits(model, features, settings.predict_batch_size)
        predictions = squad.write_predictions(
            examples,
            features,
            starts,
            ends,
            output_dir,
            n_best_size=settings.n_best_size,
            max_answer_length=settings.max_answer_length,
            version_2=version_2,
            null_score_diff_threshold=settings.null_score_diff_threshold,
        )
        print(f"predictions: {os.path.join(output_dir, 'predictions.json')}", flush=True)
        if any(e.answers for e in examples):
            dataset = squad_eval.load_dataset(FLAGS.predict_file)
            results = (
                squad_eval.evaluate_v2(dataset, predictions)
                if version_2
                else squad_eval.evaluate_v1(dataset, predictions)
            )
            training.write_results(os.path.join(output_dir, "eval_results.txt"), results)
            print("eval: " + "  ".join(f"{k} {v}" for k, v in sorted(results.items())), flush=True)
    return 0


if __name__ == "__main__":
    flags.mark_flags_as_required(["output_dir", "albert_config_file"])
    app.run(common_flags.report_errors("run_squad_v1.py", main))
