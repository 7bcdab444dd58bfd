import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT
from test_glue import MRPC_SAMPLE, write

from albert import checkpoints, distribute, modeling, training
from albert.data import glue
from albert.tasks.classifier import ClassifierTask, predict_logits
from albert.tokenization import SentencePieceTokenizer

SCRIPT = os.path.join(ROOT, "run_classifier.py")


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory):
    path = tmp_path_factory.mktemp("config") / "albert_config.json"
    values = {
        "vocab_size": 300,
        "embedding_size": 16,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_hidden_groups": 1,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "max_position_embeddings": 64,
    }
    path.write_text(json.dumps(values))
    return str(path)


def run(args, check=True):
    result = subprocess.run([sys.executable, SCRIPT, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    if check and result.returncode:
        raise AssertionError(result.stderr[-3000:])
    return result


def common(tiny_config, spm, output_dir, data_dir=MRPC_SAMPLE):
    return [
        "--task_name=MRPC",
        f"--data_dir={data_dir}",
        f"--output_dir={output_dir}",
        f"--albert_config_file={tiny_config}",
        f"--spm_model_file={spm}",
        "--max_seq_length=64",
        "--train_batch_size=16",
        "--eval_batch_size=16",
        "--learning_rate=1e-3",
    ]


def test_train_eval_predict_end_to_end(tmp_path, tiny_config, sample_spm_model):
    out = tmp_path / "out"
    args = common(tiny_config, sample_spm_model, out)
    result = run(
        [
            *args,
            "--num_train_epochs=2",
            "--warmup_proportion=0.1",
            "--save_checkpoints_steps=10",
            "--log_steps=10",
            "--do_train",
            "--do_eval",
            "--do_predict",
        ]
    )
    assert result.stdout.count("eval at step") == 2  # steps 10 and 20 = 160 × 2 / 16
    results = dict(line.split(" = ") for line in (out / "eval_results.txt").read_text().splitlines())
    assert set(results) == {"eval_accuracy", "eval_f1", "eval_loss", "global_step", "checkpoint"}
    best = checkpoints.best_results(str(out))
    assert float(results["eval_accuracy"]) == best["accuracy"] and 0.0 <= best["accuracy"] <= 1.0
    assert best["accuracy"] == max(
        float(line.split("accuracy ")[1].split()[0])
        for line in result.stdout.splitlines()
        if line.startswith("eval at step")
    )
    assert sorted(os.listdir(out / "best")) == sorted(
        ["results.json", f"{best['checkpoint']}.index", f"{best['checkpoint']}.data-00000-of-00001"]
    )
    rows = (out / "MRPC.tsv").read_text().splitlines()
    assert rows[0] == "index\tprediction" and len(rows) == 41
    assert [r.split("\t")[0] for r in rows[1:]] == [str(i) for i in range(40)]
    assert {r.split("\t")[1] for r in rows[1:]} <= {"0", "1"}

    # The predictions are those of the best checkpoint, computed here from the library.
    task = glue.get_task("MRPC")
    tokenizer = SentencePieceTokenizer(sample_spm_model)
    from albert.configs import load_config

    model = modeling.create_classifier_model(load_config(tiny_config), 2)
    checkpoints.load_weights(model, checkpoints.best_checkpoint(str(out)))
    features = glue.cached_features(task, MRPC_SAMPLE, "test", tokenizer, 64, str(tmp_path / "c"), log=print)
    logits = predict_logits(model, glue.make_dataset(features, task, 5, is_training=False))
    assert [r.split("\t")[1] for r in rows[1:]] == [str(i) for i in np.argmax(logits, -1)]

    # A second run reads the cached features and predicts the same.
    os.remove(out / "MRPC.tsv")
    again = run([*args, "--do_train=false", "--do_predict"])
    assert "tokenizing" not in again.stdout
    assert (out / "MRPC.tsv").read_text().splitlines() == rows


def test_regression_task_trains_and_writes_scores(tmp_path, sample_spm_model):
    """STS-B: one output, mean squared error, Pearson and Spearman."""
    header = "\t".join(
        ["index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1", "sentence2", "score"]
    )
    examples = glue.read_examples(glue.get_task("MRPC"), MRPC_SAMPLE, "train")[:40]
    rows = [
        f"{i}\tg\tf\ty\to\ts\ts\t{e.text_a}\t{e.text_b}\t{4.0 * int(e.label) + 0.5}" for i, e in enumerate(examples)
    ]
    write(tmp_path / "data" / "train.tsv", [header, *rows])
    write(tmp_path / "data" / "dev.tsv", [header, *rows[:12]])
    tokenizer = SentencePieceTokenizer(sample_spm_model)
    out = str(tmp_path / "out")
    task = ClassifierTask.from_settings(
        task_name="STS-B", data_dir=str(tmp_path / "data"), output_dir=out, max_seq_length=32, train_batch_size=8,
        num_train_steps=6, save_checkpoints_steps=3, log_steps=3, do_eval=True, cache_dir=str(tmp_path / "c"),
    )  # fmt: skip
    task.read_inputs(tokenizer)
    from test_modeling import TINY_ALBERT

    model = task.create_model(TINY_ALBERT.replace(vocab_size=300))
    training.fit(task, model, distribute.Workers(), log=lambda line: None)
    best = checkpoints.best_results(out)
    assert set(best) == {"pearson", "spearman", "loss", "global_step", "checkpoint"}
    assert -1.0 <= best["pearson"] <= 1.0 and best["loss"] > 0


def test_a_resume_with_another_example_limit_is_refused(tmp_path, sample_spm_model):
    """--max_train_examples picks the examples, so a saved input position means other batches under another."""
    from test_modeling import TINY_ALBERT

    tokenizer = SentencePieceTokenizer(sample_spm_model)
    out = str(tmp_path / "out")

    def fit(limit, steps):
        task = ClassifierTask.from_settings(
            task_name="MRPC", data_dir=MRPC_SAMPLE, output_dir=out, max_seq_length=32, train_batch_size=8,
            num_train_steps=steps, save_checkpoints_steps=2, log_steps=100, cache_dir=str(tmp_path / "c"),
            max_train_examples=limit,
        )  # fmt: skip
        task.read_inputs(tokenizer)
        training.fit(task, task.create_model(TINY_ALBERT.replace(vocab_size=300)), distribute.Workers(), print)

    fit(40, 2)
    with pytest.raises(checkpoints.CheckpointError, match="saved by a run with max_train_examples 40 .now 24."):
        fit(24, 4)
    fit(40, 4)  # the same limit resumes
    assert os.path.exists(os.path.join(out, "ckpt-4.index"))


def test_bad_input_stops_before_training_with_one_line(tmp_path, tiny_config, sample_spm_model):
    data = tmp_path / "data"
    lines = open(os.path.join(MRPC_SAMPLE, "train.tsv"), encoding="utf-8-sig").read().splitlines()
    write(data / "train.tsv", lines[:5] + ["1\t2\t3\tno second sentence"] + lines[5:])
    out = tmp_path / "out"
    result = run([*common(tiny_config, sample_spm_model, out, data), "--do_train", "--train_step=4"], check=False)
    errors = [line for line in result.stderr.splitlines() if line.startswith("run_classifier.py")]
    assert result.returncode == 1 and len(errors) == 1
    assert f"{data / 'train.tsv'}:6: 4 tab-separated columns, expected 5" in errors[0]
    assert not out.exists() or not any(name.startswith("ckpt") for name in os.listdir(out))

    both = run([*common(tiny_config, sample_spm_model, out), "--train_step=4", "--num_train_epochs=1"], check=False)
    assert both.returncode == 1 and "--train_step and --num_train_epochs" in both.stderr
