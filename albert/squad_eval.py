"""SQuAD evaluation with the official definitions (v1.1 and v2.0).

An answer is normalised by lower-casing, removing punctuation, the articles a/an/the and extra
whitespace. Exact match is 1 when the normalised prediction equals a normalised gold answer;
F1 is the harmonic mean of token precision and recall against a gold answer (token counts as
a multiset). Each question scores its best over the gold answers; totals are percentages.

SQuAD 2.0 adds unanswerable questions (no gold answer: only the empty prediction is right),
HasAns / NoAns breakdowns, and, given each question's no-answer probability, the threshold on
it that maximises EM and F1.

    python -m albert.squad_eval dev-v1.1.json predictions.json [--na_prob_file null_odds.json]
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import string
import sys

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = frozenset(string.punctuation)


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


def load_dataset(path: str) -> list:
    """The `data` list of a SQuAD JSON file."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)["data"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m albert.squad_eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset_file", help="SQuAD JSON (e.g. dev-v1.1.json, dev-v2.0.json)")
    parser.add_argument("prediction_file", help="JSON {question id: answer text}")
    parser.add_argument("--na_prob_file", help="JSON {question id: no-answer probability} (v2.0)")
    parser.add_argument("--version", choices=["auto", "1.1", "2.0"], default="auto")
    args = parser.parse_args(argv)
    try:
        files = {}
        for name in ("dataset_file", "prediction_file", "na_prob_file"):
            path = getattr(args, name)
            if path:
                with open(path, encoding="utf-8") as f:
                    files[name] = json.load(f)
    except (OSError, ValueError) as err:
        print(f"albert.squad_eval: error: {err}", file=sys.stderr)
        return 1
    dataset = files["dataset_file"]
    version = args.version if args.version != "auto" else dataset.get("version", "1.1")
    if version.startswith("1"):
        result = evaluate_v1(dataset["data"], files["prediction_file"])
    else:
        result = evaluate_v2(dataset["data"], files["prediction_file"], files.get("na_prob_file"))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
