"""Pretraining instances from tokenized documents: Google's ALBERT algorithm
(its `create_pretraining_data.py`), as plain Python on token ids.

Per document: a target length (`max_seq_length − 3`, or with probability `short_seq_prob` a
random shorter one, drawn once per document as Google does); sentences accumulate into a chunk
until the target or the document's end; A is the first `a_end` sentences (random), B the rest.

Sentence order (SOP, the default): a chunk of one sentence takes B from a random other document
and is labelled 1 (Google's behaviour, kept: it makes label 1 slightly more frequent than 0);
otherwise A and B are swapped with probability 0.5 (label 1) or kept (label 0). With
`random_next_sentence`, BERT's next-sentence prediction: B is a random document's text with
probability 0.5 (label 1) and the unused sentences are put back.

Masking: whole words (a piece that does not start a word joins the previous one), n-grams of
n ≤ `ngram` words with p(n) ∝ 1/n (or ∝ n without `favor_shorter_ngram`), falling back to shorter
n-grams when over budget, skipped when overlapping; budget
`min(max_predictions_per_seq, max(1, round(len(tokens) · masked_lm_prob)))`; each masked token
becomes [MASK] (80 %), stays (10 %) or becomes a uniformly random vocabulary id (10 %).

Differences from Google's script, all deliberate: every draw (the n-gram length included, which
Google takes from NumPy's unseeded global generator) comes from the seeded `rng`, so output is
reproducible; a word never continues across [SEP] (Google's groups can straddle it after
truncation); `do_permutation` is not offered.
"""

from __future__ import annotations

import dataclasses
import random
from bisect import bisect
from collections.abc import Sequence
from itertools import accumulate


@dataclasses.dataclass(frozen=True)
class MaskingConfig:
    """What Google's flags say about instances and masking; defaults are Google's ALBERT ones."""

    max_seq_length: int = 512
    max_predictions_per_seq: int = 20
    masked_lm_prob: float = 0.15
    short_seq_prob: float = 0.1
    ngram: int = 3
    favor_shorter_ngram: bool = True
    do_whole_word_mask: bool = True
    random_next_sentence: bool = False

    def __post_init__(self) -> None:
        if self.max_seq_length < 5:
            raise ValueError(f"max_seq_length must be at least 5, got {self.max_seq_length}")
        if self.max_predictions_per_seq < 1:
            raise ValueError(f"max_predictions_per_seq must be at least 1, got {self.max_predictions_per_seq}")
        if not 0 <= self.masked_lm_prob <= 1:
            raise ValueError(f"masked_lm_prob must be in [0, 1], got {self.masked_lm_prob}")
        if self.ngram < 1:
            raise ValueError(f"ngram must be at least 1, got {self.ngram}")

    def ngram_cumulative_weights(self) -> list[float]:
        weights = [1.0 / n for n in range(1, self.ngram + 1)]
        if not self.favor_shorter_ngram:
            weights.reverse()
        return list(accumulate(weights))


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """What masking needs to know about the vocabulary."""

    size: int
    cls_id: int
    sep_id: int
    mask_id: int
    word_start: Sequence[bool]  # indexed by id


@dataclasses.dataclass
class Instance:
    tokens: list[int]  # [CLS] A [SEP] B [SEP], masked
    segment_ids: list[int]
    token_boundary: list[int]
    is_random_next: bool  # the sentence-order (or next-sentence) label
    masked_lm_positions: list[int]
    masked_lm_ids: list[int]  # the original ids at those positions
    masked_ngram_lengths: list[int]  # words per masked n-gram, for statistics


def _shuffled(items, rng: random.Random):
    """The items in random order, drawn lazily (a Fisher-Yates shuffle that stops when the
    caller does: masking usually needs only the first few of a hundred words)."""
    pool = list(items)
    for k in range(len(pool)):
        j = k + int(rng.random() * (len(pool) - k))
        pool[k], pool[j] = pool[j], pool[k]
        yield pool[k]


def truncate_seq_pair(tokens_a: list[int], tokens_b: list[int], max_num_tokens: int, rng: random.Random) -> None:
    """Drops one token at a time from the longer segment (B on ties), from the front or the back
    with equal probability, until the pair fits."""
    while len(tokens_a) + len(tokens_b) > max_num_tokens:
        trunc = tokens_a if len(tokens_a) > len(tokens_b) else tokens_b
        if rng.random() < 0.5:
            del trunc[0]
        else:
            trunc.pop()


def create_instances_from_document(
    documents: Sequence[Sequence[list[int]]],
    document_index: int,
    config: MaskingConfig,
    vocab: Vocabulary,
    rng: random.Random,
) -> list[Instance]:
    """Google's `create_instances_from_document` for `documents[document_index]` (a list of
    tokenized sentences); random second segments come from the other `documents`."""
    document = documents[document_index]
    max_num_tokens = config.max_seq_length - 3
    target_seq_length = max_num_tokens
    if rng.random() < config.short_seq_prob:
        target_seq_length = rng.randint(2, max_num_tokens)

    instances = []
    current_chunk: list[list[int]] = []
    current_length = 0
    i = 0
    while i < len(document):
        segment = document[i]
        current_chunk.append(segment)
        current_length += len(segment)
        if i == len(document) - 1 or current_length >= target_seq_length:
            if current_chunk:
                a_end = rng.randint(1, len(current_chunk) - 1) if len(current_chunk) >= 2 else 1
                tokens_a = [t for s in current_chunk[:a_end] for t in s]
                tokens_b: list[int] = []
                if len(current_chunk) == 1 or (config.random_next_sentence and rng.random() < 0.5):
                    is_random_next = True
                    target_b_length = target_seq_length - len(tokens_a)
                    random_index = document_index
                    for _ in range(10):
                        random_index = rng.randint(0, len(documents) - 1)
                        if random_index != document_index:
                            break
                    random_document = documents[random_index]
                    start = rng.randint(0, len(random_document) - 1)
                    for sentence in random_document[start:]:
                        tokens_b.extend(sentence)
                        if len(tokens_b) >= target_b_length:
                            break
                    i -= len(current_chunk) - a_end  # put the unused sentences back
                elif not config.random_next_sentence and rng.random() < 0.5:
                    is_random_next = True
                    tokens_b = tokens_a
                    tokens_a = [t for s in current_chunk[a_end:] for t in s]
                else:
                    is_random_next = False
                    tokens_b = [t for s in current_chunk[a_end:] for t in s]
                truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng)
                if tokens_a and tokens_b:
                    instances.append(_make_instance(tokens_a, tokens_b, is_random_next, config, vocab, rng))
            current_chunk = []
            current_length = 0
        i += 1
    return instances


def _make_instance(tokens_a, tokens_b, is_random_next, config, vocab, rng) -> Instance:
    tokens = [vocab.cls_id, *tokens_a, vocab.sep_id, *tokens_b, vocab.sep_id]
    segment_ids = [0] * (len(tokens_a) + 2) + [1] * (len(tokens_b) + 1)
    token_boundary, positions, labels, lengths = create_masked_lm_predictions(tokens, config, vocab, rng)
    return Instance(tokens, segment_ids, token_boundary, is_random_next, positions, labels, lengths)


def create_masked_lm_predictions(
    tokens: list[int], config: MaskingConfig, vocab: Vocabulary, rng: random.Random
) -> tuple[list[int], list[int], list[int], list[int]]:
    """Masks `tokens` in place; returns (token_boundary, masked positions in increasing order,
    their original ids, the number of words of each masked n-gram)."""
    word_start = vocab.word_start
    cls_id, sep_id = vocab.cls_id, vocab.sep_id
    token_boundary = [0] * len(tokens)
    words: list[list[int]] = []
    after_special = True
    for i, token in enumerate(tokens):
        if token == cls_id or token == sep_id:
            token_boundary[i] = 1
            after_special = True
            continue
        starts = word_start[token]
        if starts:
            token_boundary[i] = 1
        if config.do_whole_word_mask and not starts and not after_special:
            words[-1].append(i)
        else:
            words.append([i])
        after_special = False

    if config.masked_lm_prob == 0 or not words:
        return token_boundary, [], [], []
    num_to_predict = min(config.max_predictions_per_seq, max(1, int(round(len(tokens) * config.masked_lm_prob))))

    cumulative = config.ngram_cumulative_weights()
    total = cumulative[-1]
    covered: set[int] = set()
    masked: list[tuple[int, int]] = []
    lengths: list[int] = []
    for start in _shuffled(range(len(words)), rng):
        if len(masked) >= num_to_predict:
            break
        n = bisect(cumulative, rng.random() * total) + 1
        n = min(n, len(cumulative))
        while n > 0:
            span = words[start : start + n]
            size = sum(len(w) for w in span)
            if len(masked) + size <= num_to_predict:
                break
            n -= 1
        if n == 0:
            continue
        indexes = [index for word in span for index in word]
        if any(index in covered for index in indexes):
            continue
        lengths.append(len(span))
        for index in indexes:
            covered.add(index)
            original = tokens[index]
            if rng.random() < 0.8:
                tokens[index] = vocab.mask_id
            elif rng.random() >= 0.5:
                tokens[index] = rng.randint(0, vocab.size - 1)
            masked.append((index, original))
    masked.sort()
    return token_boundary, [p for p, _ in masked], [t for _, t in masked], lengths
