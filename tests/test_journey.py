"""The first hour on real data (../shared/data): pretraining, fine-tuning, export and raw-text
prediction, each step starting from the previous step's output folder alone
(`--init_checkpoint=<folder>`), the later ones typed as the previous run's summary prints them."""

import json
import os
import re
import shlex
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, SCRIPT_ENV, shared_file

from albert import squad_eval

pytestmark = pytest.mark.data


def run(argv, timeout=600):
    """A command as a user types it (`python` is this interpreter), from the project's folder."""
    argv = [sys.executable if argv[0] == "python" else argv[0], *argv[1:]]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=SCRIPT_ENV, cwd=ROOT)
    assert result.returncode == 0, f"{shlex.join(argv)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def next_commands(stdout):
    """The commands the run's summary says to run next."""
    return [shlex.split(line.split("next", 1)[1]) for line in stdout.splitlines() if line.startswith("  next ")]


def results(folder):
    lines = open(os.path.join(folder, "eval_results.txt"), encoding="utf-8").read().splitlines()
    return dict(line.split(" = ") for line in lines)


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """A tiny ALBERT pretrained for a few steps on the first documents of the Wikipedia corpus,
    with ALBERT's 30k vocabulary, evaluated on held-out documents."""
    corpus = shared_file("corpus", "wiki_sentences.txt")
    spm = shared_file("albert_spm", "30k-clean.reconstructed.model")
    tmp = tmp_path_factory.mktemp("journey")
    documents = open(corpus, encoding="utf-8").read().split("\n\n")[:12]
    text = tmp / "wiki_head.txt"
    text.write_text("\n\n".join(documents) + "\n", encoding="utf-8")
    run(["python", "data_preprocessing/create_training_data.py", f"--input_file={text}",
         f"--output_file={tmp}/records/train.tfrecord", f"--spm_model_file={spm}", "--max_seq_length=64",
         "--max_predictions_per_seq=10", "--dupe_factor=1", "--holdout_documents=2"])  # fmt: skip
    out = tmp / "pretraining"
    stdout = run(["python", "run_pretraining.py", f"--input_file={tmp}/records/train.tfrecord",
                  f"--eval_file={tmp}/records/heldout/train.tfrecord", f"--output_dir={out}",
                  "--albert_config_file=tiny", f"--spm_model_file={spm}", "--max_seq_length=64",
                  "--max_predictions_per_seq=10", "--train_batch_size=16", "--num_train_steps=20",
                  "--num_warmup_steps=2", "--optimizer=adamw", "--learning_rate=1e-3", "--do_eval",
                  "--max_eval_steps=5", "--eval_batch_size=8"])  # fmt: skip
    return tmp, str(out), stdout


def test_pretraining_leaves_a_folder_that_is_enough_to_start_from(pretrained):
    _, out, stdout = pretrained
    assert {"30k-clean.model", "albert_config.json", "eval", "eval_results.txt", "train"} <= set(os.listdir(out))
    assert json.load(open(os.path.join(out, "albert_config.json")))["vocab_size"] == 30000
    assert 0 < float(results(out)["masked_lm_accuracy"]) < 1
    summary = stdout[stdout.index("done: ") :]
    assert f"tensorboard --logdir {out}" in summary and f"results      {out}/eval_results.txt" in summary
    (fine_tune,) = next_commands(stdout)
    assert fine_tune[:2] == ["python", "run_classifier.py"] and f"--init_checkpoint={out}" in fine_tune


def test_evaluation_reaches_tensorboard_under_the_training_scalars_names(pretrained):
    import tensorflow as tf

    _, out, _ = pretrained
    scalars = {}
    for path in tf.io.gfile.glob(os.path.join(out, "eval", "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                scalars[(value.tag, event.step)] = float(tf.make_ndarray(value.tensor))
    final = results(out)
    step = int(final["global_step"])
    for name in ("masked_lm_accuracy", "masked_lm_loss", "sentence_order_accuracy", "sentence_order_loss"):
        assert scalars[(name, step)] == pytest.approx(float(final[name]), rel=1e-6), name
    trained = set()
    for path in tf.io.gfile.glob(os.path.join(out, "train", "events.out.tfevents.*")):
        trained |= {value.tag for event in tf.compat.v1.train.summary_iterator(path) for value in event.summary.value}
    assert {"masked_lm_accuracy", "sentence_order_accuracy"} <= trained  # the same names in train/


def test_pretraining_fine_tuning_export_and_prediction_on_real_data(pretrained):
    tmp, out, _ = pretrained
    mrpc = os.path.dirname(shared_file("mrpc", "train.tsv"))
    fine_tuned = str(tmp / "mrpc")
    stdout = run(["python", "run_classifier.py", "--task_name=MRPC", f"--data_dir={mrpc}", f"--init_checkpoint={out}",
                  f"--output_dir={fine_tuned}", "--max_seq_length=128", "--train_batch_size=16",
                  "--num_train_steps=10", "--max_train_examples=320", "--max_eval_examples=64",
                  "--do_eval"])  # fmt: skip
    assert f"from {out}: --albert_config_file={out}/albert_config.json --spm_model_file={out}/30k-clean.model" in stdout
    assert int(results(fine_tuned)["global_step"]) == 10
    index = json.load(open(next(p.path for p in os.scandir(os.path.join(fine_tuned, "features")) if "dev" in p.name
                                and p.name.endswith(".json"))))  # fmt: skip
    assert len(index["guids"]) == 64  # --max_eval_examples

    (export,) = next_commands(stdout)
    assert "--do_train=false" in export and f"--export_dir={fine_tuned}/saved_model" in export
    (predict,) = next_commands(run(export))
    assert predict[:3] == ["python", "-m", "albert.predict"]
    (line,) = run(predict).splitlines()
    prediction = json.loads(line)
    assert prediction["prediction"] in (0, 1) and sum(prediction["probabilities"]) == pytest.approx(1, abs=1e-5)
    # the same as the SavedModel's token-id signature on the ids this project's tokenizer gives
    expected = token_id_probabilities(f"{fine_tuned}/saved_model", f"{out}/30k-clean.model", predict)
    np.testing.assert_allclose(prediction["probabilities"], expected, atol=1e-5)


def token_id_probabilities(saved_model, spm, predict_command):
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (its ops, for loading)

    from albert.data.features import pack_inputs
    from albert.tokenization import create_tokenizer

    texts = dict(re.match(r"--(text_[ab])=(.*)", arg).groups() for arg in predict_command if arg.startswith("--text_"))
    tokenizer = create_tokenizer(spm, None, True)
    ids_a, ids_b = tokenizer.encode(texts["text_a"]), tokenizer.encode(texts["text_b"])
    ids, segments = pack_inputs(ids_a, ids_b, 128, tokenizer.cls_id, tokenizer.sep_id)
    model = tf.saved_model.load(saved_model)
    logits = (
        model.signatures["serving_default"](
            input_ids=tf.constant([ids]),
            input_mask=tf.ones([1, len(ids)], tf.int32),
            segment_ids=tf.constant([segments]),
        )["logits"]
        .numpy()[0]
        .astype(np.float64)
    )
    return np.exp(logits) / np.exp(logits).sum()


def test_squad_from_the_pretraining_folder_is_scored_on_the_questions_it_predicts(pretrained):
    tmp, out, _ = pretrained
    train = shared_file("squad", "train-v1.1.first11articles.json")
    dev = shared_file("squad", "dev-v1.1.json")
    squad_out = str(tmp / "squad")
    stdout = run(["python", "run_squad_v1.py", f"--train_file={train}", f"--predict_file={dev}",
                  f"--init_checkpoint={out}", f"--output_dir={squad_out}", "--max_seq_length=128", "--doc_stride=64",
                  "--train_batch_size=8", "--num_train_steps=4", "--max_train_examples=64", "--max_eval_examples=40",
                  "--do_predict", f"--export_dir={squad_out}/saved_model"])  # fmt: skip
    predictions = json.load(open(os.path.join(squad_out, "predictions.json")))
    assert len(predictions) == 40
    official = squad_eval.evaluate_v1(squad_eval.only_questions(squad_eval.load_dataset(dev), set(predictions)),
                                      predictions)  # fmt: skip
    scored = results(squad_out)
    assert float(scored["f1"]) == pytest.approx(official["f1"])
    assert float(scored["exact_match"]) == pytest.approx(official["exact_match"])
    # exported as a classifier is: the summary's next command predicts a span on raw text
    (predict,) = next_commands(stdout)
    span = json.loads(run(predict))
    ids = span["input_ids"]
    context_start = ids.index(3) + 1  # after the question's [SEP]
    assert context_start <= span["start"] <= span["end"] < len(ids) - 1


def test_the_converter_reads_the_config_and_vocabulary_beside_the_weights(pretrained):
    tmp, out, _ = pretrained
    run(["python", "-m", "albert.convert", "--from", "project", "--to", "google", "--input", out, "--output",
         str(tmp / "google")])  # fmt: skip
    assert sorted(os.listdir(tmp / "google")) == [
        "30k-clean.model", "albert_config.json", "model.ckpt-best.data-00000-of-00001", "model.ckpt-best.index"
    ]  # fmt: skip
    assert (tmp / "google" / "30k-clean.model").read_bytes() == open(os.path.join(out, "30k-clean.model"), "rb").read()
    run(["python", "-m", "albert.convert", "--from", "google", "--to", "hf", "--input", str(tmp / "google"),
         "--output", str(tmp / "hf")])  # fmt: skip
    assert sorted(os.listdir(tmp / "hf")) == ["config.json", "model.safetensors", "spiece.model"]
