"""SQuAD v1.1 / v2.0: reading the JSON, aligning tokens with characters, sliding windows, cached
features, and turning span logits back into answer text.

Alignment: the context is split on whitespace into words and each word is tokenized alone (the
same pieces as tokenizing the whole text: neither SentencePiece nor WordPiece pieces cross
whitespace). Each piece is then matched, character by character, against the word as the
tokenizer normalised it (lower case, accents stripped), which gives every piece its exact
character span in the original context. A piece that cannot be matched (an unknown token, a
SentencePiece normalisation such as "…" → "...") spans the rest of its word. Answers map to
the pieces that overlap their characters, and predicted pieces map back to the characters they
span.

Windows follow Google's scripts: `[CLS] question [SEP] context window [SEP]`, the question cut
to `max_query_length` pieces, windows `doc_stride` pieces apart, and each piece scored in the
window where it has the most context on both sides. A training answer outside the window (or an
unanswerable question) points at [CLS].
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import unicodedata
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from albert import files
from albert.data.documents import InputError
from albert.data.features import SHUFFLE_BUFFER, batch_training, cache_key, read_feature_records, round_length
from albert.data.tfrecord import ShardedWriter, encode_example, frame_record, int64_feature

FEATURES_VERSION = 1


@dataclasses.dataclass
class SquadExample:
    """One question. `answer_start`/`answer_end` are character offsets in `context` of the first
    gold answer (training); `answers` are all gold texts (evaluation)."""

    qas_id: str
    question: str
    context: str
    answers: list[str]
    answer_start: int = -1
    answer_end: int = -1
    is_impossible: bool = False


def read_squad(
    path: str, is_training: bool, version_2: bool = False, skip_bad: bool = False
) -> tuple[list[SquadExample], int]:
    """The questions of a SQuAD JSON file and how many were skipped. For training, each
    answerable question needs an answer whose `answer_start` points at its text; a bad question
    (or an empty context) is an `InputError` naming its id or, with `skip_bad`, left out."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)["data"]
    except FileNotFoundError:
        raise InputError(f"{path}: not found; pass a SQuAD JSON file (e.g. train-v1.1.json)") from None
    except (ValueError, KeyError, TypeError) as err:
        raise InputError(f"{path}: not SQuAD JSON ({str(err).splitlines()[0]}); expected {{'data': [...]}}") from None
    examples: list[SquadExample] = []
    skipped = 0
    for article in data:
        for paragraph in article.get("paragraphs", []):
            context = paragraph.get("context", "")
            for qa in paragraph.get("qas", []):
                try:
                    examples.append(_example(qa, context, is_training, version_2))
                except InputError as err:
                    if not skip_bad:
                        raise InputError(f"{path}: {err}") from None
                    skipped += 1
    return examples, skipped


def _example(qa: dict, context: str, is_training: bool, version_2: bool) -> SquadExample:
    qid = qa.get("id", "?")
    if not context.strip():
        raise InputError(f"question {qid}: the context is empty; fix it or pass --skip_bad_examples")
    answers = qa.get("answers", [])
    impossible = bool(qa.get("is_impossible", False)) if version_2 else False
    example = SquadExample(qid, qa.get("question", ""), context, [a.get("text", "") for a in answers])
    if not is_training or impossible:
        example.is_impossible = impossible
        return example
    if not answers:
        raise InputError(f"question {qid}: no answer to train on; fix it or pass --skip_bad_examples")
    text, start = answers[0]["text"], int(answers[0]["answer_start"])
    if context[start : start + len(text)] != text:
        raise InputError(
            f"question {qid}: answer_start {start} does not point at {text!r} "
            f"(the context there reads {context[start : start + len(text)]!r}); fix it or pass --skip_bad_examples"
        )
    example.answer_start, example.answer_end = start, start + len(text)
    return example


# ----------------------------------------------------------------------------------------------
# Alignment
# ----------------------------------------------------------------------------------------------


def _normalized_chars(word: str, lower: bool) -> list[tuple[str, int]]:
    """(normalised character, index in `word`) pairs: NFKD without combining marks, lower-cased,
    as both tokenizers normalise."""
    out = []
    for i, char in enumerate(word):
        for c in unicodedata.normalize("NFKD", char):
            if not unicodedata.combining(c) and not _DROPPED(c):
                for d in c.lower() if lower else c:
                    out.append((d, i))
    return out


def _DROPPED(char: str) -> bool:  # noqa: N802 - characters both tokenizers remove
    return char == "\ufffd" or unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn")


def _piece_text(token: str) -> str:
    if token.startswith("##"):
        return token[2:]
    return token.lstrip("\u2581")


@dataclasses.dataclass
class TokenizedContext:
    """The context's tokens, their character spans in the context, and word boundaries."""

    ids: list[int]
    spans: list[tuple[int, int]]


def tokenize_context(context: str, tokenizer) -> TokenizedContext:
    """Token ids of `context` with each token's [start, end) character span (see module doc)."""
    words, starts = [], []
    position = 0
    for word in context.split():
        position = context.index(word, position)
        words.append(word)
        starts.append(position)
        position += len(word)
    ids_per_word = tokenizer.encode_batch(words)
    lower = getattr(tokenizer, "do_lower_case", True)
    ids: list[int] = []
    spans: list[tuple[int, int]] = []
    for word, start, word_ids in zip(words, starts, ids_per_word):
        chars = _normalized_chars(word, lower)
        cursor, aligned = 0, True
        for token_id, token in zip(word_ids, tokenizer.convert_ids_to_tokens(word_ids)):
            text = _piece_text(token)
            here = chars[cursor][1] if cursor < len(chars) else len(word)
            if aligned and "".join(c for c, _ in chars[cursor : cursor + len(text)]) == text:
                end = chars[cursor + len(text) - 1][1] + 1 if text else here
                spans.append((start + here, start + end))
                cursor += len(text)
            else:
                aligned = False  # the rest of the word goes to this and later pieces
                spans.append((start + here, start + len(word)))
            ids.append(token_id)
    return TokenizedContext(ids, spans)


def answer_token_span(context: TokenizedContext, start_char: int, end_char: int) -> tuple[int, int] | None:
    """The first and last tokens overlapping the characters [start_char, end_char)."""
    covering = [i for i, (s, e) in enumerate(context.spans) if s < end_char and e > start_char]
    return (covering[0], covering[-1]) if covering else None


def span_text(context: str, tokens: TokenizedContext, start: int, end: int) -> str:
    """The original text of tokens start..end (inclusive)."""
    return context[tokens.spans[start][0] : tokens.spans[end][1]].strip()


# ----------------------------------------------------------------------------------------------
# Windows and features
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Settings:
    max_seq_length: int = 384
    doc_stride: int = 128
    max_query_length: int = 64

    def check(self) -> None:
        if self.max_seq_length <= self.max_query_length + 3:
            raise ValueError(
                f"--max_seq_length {self.max_seq_length} must exceed --max_query_length {self.max_query_length} + 3"
            )


def _windows(length: int, room: int, stride: int) -> list[tuple[int, int]]:
    """(start, length) of Google's document spans."""
    windows, start = [], 0
    while True:
        size = min(length - start, room)
        windows.append((start, size))
        if start + size >= length:
            return windows
        start += min(size, stride)


def _max_context(windows: list[tuple[int, int]], index: int, position: int) -> bool:
    """Google's `_check_is_max_context`: is window `index` the one where `position` has the most
    context (min of left and right, plus a small bonus for longer windows)?"""
    best, best_index = None, None
    for i, (start, size) in enumerate(windows):
        end = start + size - 1
        if position < start or position > end:
            continue
        score = min(position - start, end - position) + 0.01 * size
        if best is None or score > best:
            best, best_index = score, i
    return best_index == index


@dataclasses.dataclass
class Feature:
    """One window: inputs, training targets, and what prediction needs to map logits back: input
    positions `offset .. offset + length - 1` hold context tokens `start ..`, and `max_context`
    lists the runs [a, b) of input positions where this window has the token's most context."""

    example_index: int
    input_ids: list[int]
    segment_ids: list[int]
    start_position: int
    end_position: int
    window: tuple[int, int, int]  # (offset, start, length)
    max_context: list[tuple[int, int]]


def _runs(flags: list[bool], base: int) -> list[tuple[int, int]]:
    runs, begin = [], None
    for i, flag in enumerate([*flags, False]):
        if flag and begin is None:
            begin = i
        elif not flag and begin is not None:
            runs.append((base + begin, base + i))
            begin = None
    return runs


def example_features(
    index: int, example: SquadExample, tokenizer, settings: Settings, is_training: bool
) -> tuple[TokenizedContext, list[Feature]]:
    """The example's context tokens and its windows' features."""
    query = tokenizer.encode(example.question)[: settings.max_query_length]
    tokens = tokenize_context(example.context, tokenizer)
    answer = None
    if is_training and not example.is_impossible:
        answer = answer_token_span(tokens, example.answer_start, example.answer_end)
    room = settings.max_seq_length - len(query) - 3
    windows = _windows(len(tokens.ids), room, settings.doc_stride)
    offset = len(query) + 2
    features = []
    for w, (start, size) in enumerate(windows):
        ids = [tokenizer.cls_id, *query, tokenizer.sep_id, *tokens.ids[start : start + size], tokenizer.sep_id]
        segments = [0] * offset + [1] * (size + 1)
        start_position = end_position = 0
        if answer is not None and start <= answer[0] and answer[1] < start + size:
            start_position, end_position = answer[0] - start + offset, answer[1] - start + offset
        features.append(
            Feature(
                index,
                ids,
                segments,
                start_position,
                end_position,
                (offset, start, size),
                _runs([_max_context(windows, w, start + i) for i in range(size)], offset),
            )
        )
    return tokens, features


@dataclasses.dataclass
class FeatureFile:
    """Cached features: the TFRecord file and, per feature, what prediction needs (see
    `Feature`); per example, its context tokens' character spans."""

    path: str
    example_index: list[int]
    windows: list[tuple[int, int, int]]
    max_context: list[list[tuple[int, int]]]
    spans: list[list[tuple[int, int]]]

    def context_token(self, feature: int, position: int) -> int | None:
        """The context token at input `position` of a feature, if it is one."""
        offset, start, length = self.windows[feature]
        return start + position - offset if offset <= position < offset + length else None

    def is_max_context(self, feature: int, position: int) -> bool:
        return any(a <= position < b for a, b in self.max_context[feature])

    def __len__(self) -> int:
        return len(self.example_index)


def cached_features(
    source: str,
    examples: list[SquadExample],
    tokenizer,
    settings: Settings,
    is_training: bool,
    record_path: str,
    log: Callable[[str], None] = print,
    index_path: str | None = None,
) -> FeatureFile:
    """The features of `examples` (read from `source`), from `record_path` and its index
    (`index_path`, default `record_path` + ".json"; Google's `*_feature_file` and
    `predict_feature_left_file`) when they were written from the same file, tokenizer and
    settings, else made and written there atomically (the index last)."""
    key = cache_key(
        source, FEATURES_VERSION, tokenizer.fingerprint(), dataclasses.astuple(settings), is_training, len(examples)
    )
    index_path = index_path or f"{record_path}.json"
    if os.path.exists(index_path) and os.path.exists(record_path):
        with open(index_path, encoding="utf-8") as f:
            index = json.load(f)
        if index.get("key") == key:
            return _feature_file(record_path, index)
    log(f"tokenizing {len(examples)} questions from {source}")
    index = {"key": key, "example_index": [], "windows": [], "max_context": [], "spans": []}
    with ShardedWriter([record_path]) as writer:
        for i, example in enumerate(examples):
            tokens, features = example_features(i, example, tokenizer, settings, is_training)
            for feature in features:
                values = {
                    "input_ids": int64_feature(feature.input_ids),
                    "segment_ids": int64_feature(feature.segment_ids),
                }
                if is_training:
                    values["start_positions"] = int64_feature([feature.start_position])
                    values["end_positions"] = int64_feature([feature.end_position])
                writer.write(frame_record(encode_example(values)))
                index["example_index"].append(i)
                index["windows"].append(feature.window)
                index["max_context"].append(feature.max_context)
            index["spans"].append([] if is_training else tokens.spans)
    tmp = files.temporary_path(index_path)
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(index, f)
    os.replace(tmp, index_path)
    return _feature_file(record_path, index)


def _feature_file(path: str, index: dict) -> FeatureFile:
    return FeatureFile(
        path,
        index["example_index"],
        [tuple(w) for w in index["windows"]],
        [[tuple(run) for run in runs] for runs in index["max_context"]],
        [[tuple(span) for span in spans] for spans in index["spans"]],
    )


def make_dataset(
    features: FeatureFile,
    batch_size: int,
    *,
    is_training: bool,
    seed: int = 12345,
    max_seq_length: int = 512,
    fixed_shapes: bool = False,
    num_workers: int = 1,
    worker_index: int = 0,
) -> tf.data.Dataset:
    """Batches of `input_ids`, `input_mask`, `segment_ids` (padded to the longest in the batch,
    rounded up to a multiple of `features.LENGTH_MULTIPLE`), with `start_positions` / `end_positions` for
    training (shuffled and repeated; with several workers, each trains on every
    `num_workers`-th window from `worker_index`). `fixed_shapes` pads training batches to
    `max_seq_length` instead (one shape for XLA to compile), as `glue.make_dataset` does."""
    position = tf.io.FixedLenFeature([], tf.int64)
    targets = {"start_positions": position, "end_positions": position} if is_training else {}
    dataset = read_feature_records(features.path, targets)
    if is_training:
        dataset = dataset.shard(num_workers, worker_index)
        dataset = dataset.shuffle(min(len(features), SHUFFLE_BUFFER), seed=seed, reshuffle_each_iteration=True).repeat()
        dataset = batch_training(dataset, batch_size, max_seq_length if fixed_shapes else None)
    else:
        dataset = dataset.padded_batch(batch_size)
    return dataset.map(round_length).prefetch(tf.data.AUTOTUNE)


# ----------------------------------------------------------------------------------------------
# Predictions
# ----------------------------------------------------------------------------------------------


def _softmax(scores: list[float]) -> list[float]:
    values = np.exp(np.array(scores) - max(scores))
    return (values / values.sum()).tolist()


def _candidates(
    features: FeatureFile,
    feature_indices: list[int],
    start_logits: list[np.ndarray],
    end_logits: list[np.ndarray],
    n_best_size: int,
    max_answer_length: int,
    version_2: bool,
) -> tuple[list[tuple], float | None]:
    """One example's candidate answers from its features' logits, best first, as (score, first
    context token, last context token, start logit, end logit), and (v2.0) its lowest null score."""
    candidates = []
    null_score = None
    for f in feature_indices:
        starts, ends = start_logits[f], end_logits[f]
        if version_2:
            score = float(starts[0] + ends[0])
            null_score = score if null_score is None else min(null_score, score)
        top_starts = np.argsort(-starts)[:n_best_size]
        top_ends = np.argsort(-ends)[:n_best_size]
        for s in top_starts:
            for e in top_ends:
                s, e = int(s), int(e)
                first, last = features.context_token(f, s), features.context_token(f, e)
                if first is None or last is None or e < s or e - s + 1 > max_answer_length:
                    continue
                if not features.is_max_context(f, s):
                    continue
                candidates.append((float(starts[s] + ends[e]), first, last, float(starts[s]), float(ends[e])))
    candidates.sort(key=lambda c: -c[0])
    return candidates, null_score


def _nbest(
    example: SquadExample,
    spans: list[tuple[int, int]],
    candidates: list[tuple],
    null_score: float | None,
    n_best_size: int,
    version_2: bool,
) -> list[dict]:
    """The n-best answers of one example: distinct texts, best first, with their probabilities."""
    nbest, seen = [], set()
    for score, s, e, start_logit, end_logit in candidates:
        text = example.context[spans[s][0] : spans[e][1]].strip()
        if text in seen:
            continue
        seen.add(text)
        nbest.append({"text": text, "score": score, "start_logit": start_logit, "end_logit": end_logit})
        if len(nbest) >= n_best_size:
            break
    if version_2 and null_score is not None:
        nbest.append({"text": "", "score": null_score, "start_logit": null_score, "end_logit": 0.0})
        nbest.sort(key=lambda n: -n["score"])
    if not nbest:
        nbest = [{"text": "", "score": 0.0, "start_logit": 0.0, "end_logit": 0.0}]
    for entry, probability in zip(nbest, _softmax([n["score"] for n in nbest])):
        entry["probability"] = probability
    return nbest


def write_json_files(output_dir: str, outputs: dict[str, dict]) -> None:
    """Writes each value as `output_dir/<name>`, atomically."""
    os.makedirs(output_dir, exist_ok=True)
    for name, value in outputs.items():
        tmp = files.temporary_path(os.path.join(output_dir, name))
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(value, f, indent=2)
        os.replace(tmp, os.path.join(output_dir, name))


def prediction_files(
    examples: list[SquadExample],
    features: FeatureFile,
    start_logits: list[np.ndarray],
    end_logits: list[np.ndarray],
    *,
    n_best_size: int = 20,
    max_answer_length: int = 30,
    version_2: bool = False,
    null_score_diff_threshold: float = 0.0,
) -> dict[str, dict]:
    """The contents of predictions.json and nbest_predictions.json (and null_odds.json for v2.0),
    by file name, from each feature's logits (unpadded, one array per feature)."""
    by_example = collections.defaultdict(list)
    for f, example_index in enumerate(features.example_index):
        by_example[example_index].append(f)
    predictions, nbest_all, null_odds = {}, {}, {}
    for i, example in enumerate(examples):
        candidates, null_score = _candidates(
            features, by_example[i], start_logits, end_logits, n_best_size, max_answer_length, version_2
        )
        nbest = _nbest(example, features.spans[i], candidates, null_score, n_best_size, version_2)
        best_text = next((n for n in nbest if n["text"]), {"text": "", "score": -np.inf})
        if version_2:
            difference = null_score - best_text["score"] if null_score is not None else np.inf
            null_odds[example.qas_id] = float(difference)
            predictions[example.qas_id] = "" if difference > null_score_diff_threshold else best_text["text"]
        else:
            predictions[example.qas_id] = best_text["text"]
        nbest_all[example.qas_id] = nbest
    outputs = {"predictions.json": predictions, "nbest_predictions.json": nbest_all}
    if version_2:
        outputs["null_odds.json"] = null_odds
    return outputs


def write_predictions(examples, features, start_logits, end_logits, output_dir: str, **options) -> dict[str, str]:
    """Writes `prediction_files` (with its `options`) into `output_dir`; returns the predictions."""
    outputs = prediction_files(examples, features, start_logits, end_logits, **options)
    write_json_files(output_dir, outputs)
    return outputs["predictions.json"]
