"""Fine-tuning on SQuAD v1.1 (or v2.0 with --version_2_with_negative), predicting answers and
scoring them with the official definitions.

    python run_squad_v1.py --train_file=train-v1.1.json --predict_file=dev-v1.1.json \\
        --output_dir=out/squad --albert_config_file=albert_base_v2 --init_checkpoint=albert_base_v2 \\
        --spm_model_file=30k-clean.model --max_seq_length=384 --doc_stride=128 \\
        --train_batch_size=32 --learning_rate=5e-5 --num_train_epochs=2 --do_train --do_predict

Predictions go to <output_dir>/predictions.json and nbest_predictions.json (v2.0 also
null_odds.json); when --predict_file has answers, eval_results.txt holds exact_match and f1
(v2.0: the official breakdown). With --do_eval every checkpoint is scored on --predict_file and
the best (by f1) kept in <output_dir>/best/, which --do_predict then uses. Tokenized features are
cached (--train_feature_file, --predict_feature_file, --predict_feature_left_file, default under
<output_dir>/features/).
"""

from __future__ import annotations

import os

import keras
import numpy as np
import tensorflow as tf

from albert import losses, modeling, precision, squad_eval, training
from albert.aws import flags as aws_flags
from albert.data import squad
from albert.data.documents import InputError
from albert.run import run_task
from albert.settings import Setting, group, with_defaults
from albert.tasks.base import FINE_TUNING, SHARED, Task

USAGE = __doc__  # the module's: the class body's __doc__ is the class's own


class SquadTask(Task):
    """Extractive question answering: answer spans in a context (Google's run_squad_v1.py)."""

    name = "squad"
    script = "run_squad_v1.py"
    description = USAGE
    settings = (
        *with_defaults(SHARED, warmup_proportion=0.1, checkpoint_dir="checkpoints/squad", load_optimizer_state=False),
        *with_defaults(FINE_TUNING, max_seq_length=384, num_train_epochs=3.0),
        *group(
            "SQuAD",
            Setting("train_file", str, None, "SQuAD JSON to train on (e.g. train-v1.1.json)."),
            Setting(
                "predict_file", str, None, "SQuAD JSON to predict (e.g. dev-v1.1.json); scored when it has answers."
            ),
            Setting("train_feature_file", str, None, "Cache of the training features (TFRecord)."),
            Setting("predict_feature_file", str, None, "Cache of the prediction features (TFRecord)."),
            Setting("predict_feature_left_file", str, None, "Cache of what prediction needs besides the features."),
            Setting("doc_stride", int, 128, "Tokens between the starts of a context's windows."),
            Setting("max_query_length", int, 64, "Question tokens kept."),
            Setting("n_best_size", int, 20, "Candidate starts and ends per window, and n-best answers kept."),
            Setting("max_answer_length", int, 30, "Longest answer, in tokens."),
            Setting("version_2_with_negative", bool, False, "SQuAD 2.0: questions may have no answer."),
            Setting(
                "squad_version",
                str,
                None,
                "AWS's: squadv1 (SQuAD v1.1) or squadv2 (2.0, as --version_2_with_negative); trains and scores "
                "<filesystem_prefix>/squad_data/{train,dev}-v*.json unless --train_file / --predict_file say.",
                aliases=("task_name",),
                choices=("squadv1", "squadv2"),
            ),
            Setting(
                "null_score_diff_threshold", float, 0.0, "SQuAD 2.0: answer nothing when null - best exceeds this."
            ),
            Setting(
                "skip_bad_examples", bool, False, "Leave out (and count) questions with broken answers or contexts."
            ),
        ),
    )
    main_metric = "f1"
    steps_over_epochs = True  # Habana's run_squad_v1.py: --train_steps > 0 wins over the epochs
    demo = {"squad": {"max_seq_length": "384", "num_train_epochs": 2.0, "learning_rate": 5e-5, "optimizer": "adamw"}}
    demo_tiny = {
        "squad": {"max_seq_length": "128", "num_train_epochs": 2.0, "learning_rate": 1e-3, "optimizer": "adamw"}
    }

    def check(self) -> None:
        v = self.values
        if v.squad_version:
            self._aws_version()
        if not (v.do_train or v.do_predict or v.do_eval or v.export_dir):
            raise ValueError("nothing to do: pass --do_train, --do_eval, --do_predict or --export_dir")
        if v.do_train and not v.train_file:
            raise InputError("--train_file is required with --do_train")
        if (v.do_predict or v.do_eval) and not v.predict_file:
            raise InputError(f"--predict_file is required with {'--do_predict' if v.do_predict else '--do_eval'}")
        self.windows = squad.Settings(v.max_seq_length, v.doc_stride, v.max_query_length)
        self.windows.check()

    def _aws_version(self) -> None:
        """AWS's run_squad.py: --squad_version picks the version and the files, and dev is scored."""
        v = self.values
        version_2 = v.squad_version == "squadv2"
        if v.given("version_2_with_negative") and v.version_2_with_negative != version_2:
            raise ValueError(f"{v.flag('squad_version')}={v.squad_version} and --version_2_with_negative disagree")
        v.version_2_with_negative = version_2
        files = aws_flags.squad_files(v)
        if files:
            v.train_file, v.predict_file = v.train_file or files[0], v.predict_file or files[1]
        if not v.given("do_eval"):
            v.do_eval = bool(v.predict_file)

    def _load(self, path: str, is_training: bool, record_path: str | None, tokenizer, index_path=None):
        v = self.values
        examples, skipped = squad.read_squad(path, is_training, v.version_2_with_negative, skip_bad=v.skip_bad_examples)
        if skipped:
            training.print_line(f"skipped {skipped} bad questions of {path}")
        limit = v.max_train_examples if is_training else v.max_eval_examples
        if limit > 0:
            examples = examples[:limit]
        name = "train" if is_training else "predict"
        cache_dir = v.cache_dir or os.path.join(v.output_dir, "features")
        record_path = record_path or os.path.join(cache_dir, f"{name}-{os.path.basename(path)}.tfrecord")
        features = squad.cached_features(
            path, examples, tokenizer, self.windows, is_training, record_path, training.print_line, index_path
        )
        return examples, features

    def read_inputs(self, tokenizer) -> None:
        v = self.values
        self.train = self._load(v.train_file, True, v.train_feature_file, tokenizer) if v.do_train else None
        self.predict_inputs = None
        if v.do_predict or v.do_eval:
            self.predict_inputs = self._load(
                v.predict_file, False, v.predict_feature_file, tokenizer, v.predict_feature_left_file
            )
            if v.do_eval and not any(e.answers for e in self.predict_inputs[0]):
                raise InputError(f"{v.predict_file}: no answers to score; --do_eval needs a file with answers")
        self._final = None  # the final model's prediction files, made once for eval and predictions

    input_settings = ("train_file", "max_train_examples")

    def create_model(self, config) -> keras.Model:
        # Windows are padded to the longest in the batch: the encoder skips the padding, except under
        # XLA, which needs shapes that do not depend on the data.
        v = self.values
        return modeling.create_span_model(config, dtype=precision.dtype_policy(v.data_type), unpad=not v.xla)

    def num_train_examples(self) -> int:
        return len(self.train[1])

    def train_dataset(self, workers, worker_batch: int) -> tf.data.Dataset:
        return squad.make_dataset(self.train[1], worker_batch, **self.shard(workers))

    def loss(self, outputs: dict, batch: dict):
        loss = losses.span_loss(
            outputs["start_logits"], outputs["end_logits"], batch["start_positions"], batch["end_positions"]
        )
        return loss, {}

    def evaluates_during_training(self) -> bool:
        return self.values.do_eval

    def _predictions(self, model: keras.Model) -> dict[str, dict]:
        """The prediction files' contents (see `squad.prediction_files`)."""
        v = self.values
        examples, features = self.predict_inputs
        starts, ends = predict_logits(model, features, v.predict_batch_size)
        return squad.prediction_files(
            examples,
            features,
            starts,
            ends,
            n_best_size=v.n_best_size,
            max_answer_length=v.max_answer_length,
            version_2=v.version_2_with_negative,
            null_score_diff_threshold=v.null_score_diff_threshold,
        )

    def _score(self, predictions: dict[str, str]) -> dict[str, float] | None:
        """The official scores, when --predict_file has answers."""
        if not any(e.answers for e in self.predict_inputs[0]):
            return None
        dataset = squad_eval.load_dataset(self.values.predict_file)
        if self.values.max_eval_examples > 0:  # scored on the questions predicted
            dataset = squad_eval.only_questions(dataset, {e.qas_id for e in self.predict_inputs[0]})
        if self.values.version_2_with_negative:
            return squad_eval.evaluate_v2(dataset, predictions)
        return squad_eval.evaluate_v1(dataset, predictions)

    def evaluate(self, model: keras.Model) -> dict[str, float]:
        return self._score(self._predictions(model)["predictions.json"])

    def evaluation_results(self, model: keras.Model, output_dir: str, trained: bool, step: int) -> dict:
        self._final = self._predictions(model)
        return {**self._score(self._final["predictions.json"]), "global_step": step}

    def output_files(self) -> list[str]:
        v = self.values
        names = ["predictions.json", "nbest_predictions.json", *(["null_odds.json"] * v.version_2_with_negative)]
        predicted = [os.path.join(v.output_dir, name) for name in names] if v.do_predict else []
        return [*super().output_files(), *predicted]

    def predict(self, model: keras.Model) -> tuple[list[str], dict | None]:
        """predictions.json and nbest_predictions.json (v2.0: null_odds.json), and their scores
        when --predict_file has answers."""
        files = self._final or self._predictions(model)
        squad.write_json_files(self.values.output_dir, files)
        return [os.path.join(self.values.output_dir, "predictions.json")], self._score(files["predictions.json"])

    def next_commands(self) -> list[str]:
        example = {"text_a": "Who wrote it?", "text_b": "It was written by Ada."}
        return self.export_commands({}, example)


def predict_logits(
    model: keras.Model, features: squad.FeatureFile, batch_size: int
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Start and end logits of every feature, unpadded, in order."""
    step = tf.function(lambda batch: model(modeling.select_inputs(model, batch), training=False), reduce_retracing=True)
    starts, ends = [], []
    for batch in squad.make_dataset(features, batch_size, is_training=False):
        outputs = step(batch)
        start_logits, end_logits = outputs["start_logits"].numpy(), outputs["end_logits"].numpy()
        for row, length in enumerate(batch["input_mask"].numpy().sum(axis=1)):
            starts.append(start_logits[row, :length])
            ends.append(end_logits[row, :length])
    return starts, ends


def main(argv: list[str] | None = None) -> int:
    return run_task(SquadTask, argv)


if __name__ == "__main__":
    raise SystemExit(main())
