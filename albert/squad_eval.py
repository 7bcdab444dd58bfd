"""SQuAD evaluation with the official definitions (v1.1 and v2.0).

An answer is normalised by lower-casing, removing punctuation, the articles a/an/the and extra
whitespace. Exact match is 1 when the normalised prediction equals a normalised gold answer;
F1 is the harmonic mean of token precision and recall against a gold answer (token counts as
a multiset). Each question scores its best over the gold answers; totals are percentages.

SQuAD 2.0 adds unanswerable questions (no gold answer: only the empty prediction is right),
HasAns / NoAns breakdowns, and, given each question's no-answer probability, the threshold on
it that maximises EM and F1.

    python -m albert.squad_eval dev-v1.1.json predictions.json [--na_prob_file null_odds.json]

A bad input (a file that is not JSON, a dataset without a "data" list, predictions that are not
{question id: answer text}, the two files swapped) is a `SquadEvalError`, one line naming the
file, what is wrong and the fix; the command prints it and exits with status 1.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import string
import sys

from albert.data.documents import InputError

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = frozenset(string.punctuation)
PREDICTIONS_SHAPE = '{"<question id>": "<answer text>", ...}'
ORDER = "the order is DATASET PREDICTIONS"
MAX_UNANSWERED_WARNINGS = 10
_JSON_KINDS = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number",
               float: "a number", type(None): "null"}  # fmt: skip


class SquadEvalError(InputError):
    """A bad evaluator input, in one line: `<file>: <what is wrong>; <the fix>`."""


def _kind(value: object) -> str:
    return _JSON_KINDS.get(type(value), type(value).__name__)


def check_predictions(predictions: object, source: str = "predictions") -> dict[str, str]:
    """`predictions` if it is {question id: answer text}; else a `SquadEvalError` naming `source`
    and the first offending question id."""
    fix = f"give a JSON object {PREDICTIONS_SHAPE}"
    if not isinstance(predictions, dict):
        raise SquadEvalError(f"{source}: is {_kind(predictions)}, not an object of question id -> answer; {fix}")
    if isinstance(predictions.get("data"), list):
        raise SquadEvalError(f'{source}: has a "data" list, so it is a SQuAD dataset, not predictions; {ORDER}')
    for qid, answer in predictions.items():
        if not isinstance(answer, str):
            raise SquadEvalError(
                f"{source}: question {json.dumps(qid)}: the answer is {_kind(answer)}, not text; {fix}"
            )
    return predictions


def normalize_answer(text: str) -> str:
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1(prediction: str, gold: str) -> float:
    predicted, expected = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not predicted or not expected:  # SQuAD 2.0: empty only matches empty
        return float(predicted == expected)
    common = sum((collections.Counter(predicted) & collections.Counter(expected)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def _gold_answers(dataset: list, drop_empty: bool) -> dict[str, list[str]]:
    """{question id: gold answer texts}. v2.0 drops answers that normalise to nothing and gives
    an unanswerable question the one answer ""; v1.1 keeps the answers as they are."""
    if not isinstance(dataset, list):
        raise SquadEvalError(f'dataset: is {_kind(dataset)}, not the "data" list of SQuAD; pass load_dataset(path)')
    gold = {}
    for article in dataset:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                answers = [a["text"] for a in qa.get("answers", [])]
                if drop_empty:
                    answers = [a for a in answers if normalize_answer(a)] or [""]
                gold[qa["id"]] = answers
    return gold


def _scores(gold: dict[str, list[str]], predictions: dict[str, str]) -> tuple[dict, dict]:
    """Raw EM and F1 of the questions that have a prediction."""
    em, f = {}, {}
    for qid, answers in gold.items():
        if qid in predictions:
            em[qid] = max(exact_match(predictions[qid], a) for a in answers)
            f[qid] = max(f1(predictions[qid], a) for a in answers)
    return em, f


def evaluate_v1(dataset: list, predictions: dict[str, str]) -> dict[str, float]:
    """The official v1.1 result: {"exact_match": %, "f1": %} over every question of the dataset
    (a question without a prediction scores 0)."""
    gold = _gold_answers(dataset, drop_empty=False)
    check_predictions(predictions)
    em, f = _scores(gold, predictions)
    return {"exact_match": 100.0 * sum(em.values()) / len(gold), "f1": 100.0 * sum(f.values()) / len(gold)}


def _best_threshold(raw: dict, na_probs: dict, has_answer: dict, predictions: dict) -> tuple[float, float]:
    """The official v2.0 search: questions in order of no-answer probability; answering "no
    answer" above a threshold gains on unanswerable questions and loses on answerable ones."""
    current = best = float(sum(not h for h in has_answer.values()))
    threshold = 0.0
    for qid in sorted(na_probs, key=lambda q: na_probs[q]):
        if qid not in raw:
            continue
        if has_answer[qid]:
            current += raw[qid]
        elif predictions[qid]:
            current -= 1
        if current > best:
            best, threshold = current, na_probs[qid]
    return 100.0 * best / len(raw), threshold


def evaluate_v2(dataset: list, predictions: dict[str, str], na_probs: dict[str, float] | None = None) -> dict:
    """The official v2.0 result over the questions that have a prediction: exact / f1 / total,
    HasAns_* and NoAns_*, and with `na_probs` the best thresholds (best_exact,
    best_exact_thresh, best_f1, best_f1_thresh)."""
    gold = _gold_answers(dataset, drop_empty=True)
    check_predictions(predictions)
    if not gold.keys() & predictions.keys():  # the official script divides by zero
        raise SquadEvalError("predictions: none is for a question of the dataset; give the predictions made for it")
    has_answer = {qid: answers != [""] for qid, answers in gold.items()}
    raw_em, raw_f1 = _scores(gold, predictions)
    probs = na_probs if na_probs is not None else {qid: 0.0 for qid in predictions}
    # A no-answer probability above 1.0 means "no answer" (never, with probabilities).

    def thresholded(raw: dict) -> dict:
        return {q: float(not has_answer[q]) if probs.get(q, 0.0) > 1.0 else v for q, v in raw.items()}

    em, f = thresholded(raw_em), thresholded(raw_f1)

    def part(ids: list[str]) -> dict:
        return {
            "exact": 100.0 * sum(em[q] for q in ids) / len(ids),
            "f1": 100.0 * sum(f[q] for q in ids) / len(ids),
            "total": len(ids),
        }

    result = part(list(em))
    for prefix, answerable in (("HasAns", True), ("NoAns", False)):
        ids = [q for q in em if has_answer[q] == answerable]
        if ids:
            result.update({f"{prefix}_{k}": v for k, v in part(ids).items()})
    if na_probs is not None:
        best_exact, exact_threshold = _best_threshold(raw_em, na_probs, has_answer, predictions)
        best_f1, f1_threshold = _best_threshold(raw_f1, na_probs, has_answer, predictions)
        result.update(
            best_exact=best_exact, best_exact_thresh=exact_threshold, best_f1=best_f1, best_f1_thresh=f1_threshold
        )
    return result


def _read_json(path: str, fix: str) -> object:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as err:
        raise SquadEvalError(f"{path}: cannot be read ({err.strerror or err}); check the path") from None
    except ValueError as err:  # a JSONDecodeError or a UnicodeDecodeError
        raise SquadEvalError(f"{path}: not JSON ({str(err).splitlines()[0]}); {fix}") from None


def _read_dataset(path: str) -> dict:
    """A SQuAD JSON file: an object with a "data" list."""
    fix = f"give a SQuAD dataset (e.g. dev-v1.1.json) first: {ORDER}"
    squad = _read_json(path, fix)
    if not isinstance(squad, dict) or not isinstance(squad.get("data"), list):
        raise SquadEvalError(f'{path}: no "data" list, so not a SQuAD dataset; {fix}')
    return squad


def load_dataset(path: str) -> list:
    """The `data` list of a SQuAD JSON file (a `SquadEvalError` if the file has none)."""
    return _read_dataset(path)["data"]


def only_questions(data: list, ids: set[str]) -> list:
    """`data` with only the questions of `ids` (a run on part of a file is scored on that part)."""
    kept = []
    for article in data:
        paragraphs = [{**p, "qas": [qa for qa in p["qas"] if qa["id"] in ids]} for p in article["paragraphs"]]
        paragraphs = [p for p in paragraphs if p["qas"]]
        if paragraphs:
            kept.append({**article, "paragraphs": paragraphs})
    return kept


def load_predictions(path: str) -> dict[str, str]:
    """A predictions file, {question id: answer text}."""
    return check_predictions(_read_json(path, f"give a JSON object {PREDICTIONS_SHAPE}"), path)


def _question_ids(path: str, data: list) -> list[str]:
    try:
        ids = [qa["id"] for article in data for paragraph in article["paragraphs"] for qa in paragraph["qas"]]
    except (KeyError, TypeError) as err:
        what = f"lacks the key {err}" if isinstance(err, KeyError) else f"is malformed ({err})"
        where = "an article, paragraph or question"
        raise SquadEvalError(f"{path}: {where} {what}; give data -> paragraphs -> qas -> id") from None
    if not ids:
        raise SquadEvalError(f'{path}: no questions in its "data" list; give a SQuAD dataset with questions')
    return ids


def _warn_coverage(ids: list[str], predictions: dict[str, str], path: str, version_1: bool) -> None:
    """On stderr, the official warning for each of the first `MAX_UNANSWERED_WARNINGS` questions
    without a prediction (v1.1: "Unanswered question <id> will receive score 0."; v2.0, where such
    a question does not count: "Missing prediction for <id>"), then "... and N more unanswered
    questions"; and one line counting the predictions for no question of the dataset (ignored)."""
    missing = [qid for qid in ids if qid not in predictions]
    template = "Unanswered question {} will receive score 0." if version_1 else "Missing prediction for {}"
    for qid in missing[:MAX_UNANSWERED_WARNINGS]:
        print(template.format(qid), file=sys.stderr)
    if len(missing) > MAX_UNANSWERED_WARNINGS:
        print(f"... and {len(missing) - MAX_UNANSWERED_WARNINGS} more unanswered questions", file=sys.stderr)
    unknown = len(predictions.keys() - set(ids))
    if unknown:
        warning = f"{path}: {unknown} prediction(s) for questions not in the dataset, ignored"
        print(f"albert.squad_eval: warning: {warning}", file=sys.stderr)


def _read_na_probs(path: str) -> dict[str, float]:
    """A no-answer probability file (null_odds.json), {question id: number}."""
    fix = "give a JSON object {question id: no-answer probability} (null_odds.json)"
    na_probs = _read_json(path, fix)
    if not isinstance(na_probs, dict):
        raise SquadEvalError(f"{path}: is {_kind(na_probs)}; {fix}")
    for qid, prob in na_probs.items():
        if not isinstance(prob, (int, float)):
            raise SquadEvalError(f"{path}: question {json.dumps(qid)}: the probability is {_kind(prob)}; {fix}")
    return na_probs


def evaluate_files(dataset_file: str, prediction_file: str, na_prob_file: str | None, version: str) -> dict:
    """The command's result; warnings as `_warn_coverage` says, bad inputs a `SquadEvalError`."""
    squad = _read_dataset(dataset_file)
    predictions = load_predictions(prediction_file)
    na_probs = _read_na_probs(na_prob_file) if na_prob_file else None
    version_1 = (version if version != "auto" else str(squad.get("version", "1.1"))).startswith("1")
    ids = _question_ids(dataset_file, squad["data"])
    if not version_1 and not predictions.keys() & set(ids):
        raise SquadEvalError(
            f"{prediction_file}: no prediction is for a question of {dataset_file}; give its predictions"
        )
    _warn_coverage(ids, predictions, prediction_file, version_1)
    if version_1:
        return evaluate_v1(squad["data"], predictions)
    return evaluate_v2(squad["data"], predictions, na_probs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m albert.squad_eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset_file", help="SQuAD JSON (e.g. dev-v1.1.json, dev-v2.0.json)")
    parser.add_argument("prediction_file", help="JSON {question id: answer text}")
    parser.add_argument("--na_prob_file", help="JSON {question id: no-answer probability} (v2.0)")
    parser.add_argument("--version", choices=["auto", "1.1", "2.0"], default="auto")
    args = parser.parse_args(argv)
    try:
        result = evaluate_files(args.dataset_file, args.prediction_file, args.na_prob_file, args.version)
    except SquadEvalError as err:
        print(f"albert.squad_eval: error: {err}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
