import random
from collections import Counter

import pytest

from albert.data.instances import (
    MaskingConfig,
    Vocabulary,
    create_instances_from_document,
    create_masked_lm_predictions,
    truncate_seq_pair,
)

# A synthetic vocabulary: 0 pad, 2 [CLS], 3 [SEP], 4 [MASK]; ids 10..99 start words, 100..199
# continue them (like "##" pieces).
CLS, SEP, MASK = 2, 3, 4
VOCAB = Vocabulary(size=200, cls_id=CLS, sep_id=SEP, mask_id=MASK, word_start=[i < 100 for i in range(200)])


def sentence(rng, words=6):
    tokens = []
    for _ in range(words):
        tokens.append(rng.randrange(10, 100))
        tokens.extend(rng.randrange(100, 200) for _ in range(rng.randrange(0, 2)))
    return tokens


def corpus(seed=0, documents=20, sentences=8):
    rng = random.Random(seed)
    return [[sentence(rng) for _ in range(sentences)] for _ in range(documents)]


def test_truncation_drops_from_the_longer_segment_b_on_ties():
    a, b = list(range(10)), list(range(100, 104))
    truncate_seq_pair(a, b, 10, random.Random(0))
    assert len(a) == 6 and b == list(range(100, 104))  # only A was longer
    a, b = [1, 2, 3], [4, 5, 6]
    truncate_seq_pair(a, b, 5, random.Random(0))
    assert a == [1, 2, 3] and len(b) == 2  # tie: B loses a token


def test_masking_budget_specials_and_order():
    config = MaskingConfig(max_seq_length=64, max_predictions_per_seq=20)
    rng = random.Random(1)
    for _ in range(200):
        body = sentence(rng, words=rng.randrange(3, 20))
        cut = len(body) // 2
        tokens = [CLS, *body[:cut], SEP, *body[cut:], SEP]
        original = list(tokens)
        boundary, positions, labels, _ = create_masked_lm_predictions(tokens, config, VOCAB, rng)
        budget = min(20, max(1, int(round(len(tokens) * 0.15))))
        assert len(positions) <= budget
        assert positions == sorted(positions) and len(set(positions)) == len(positions)
        assert all(original[p] not in (CLS, SEP) for p in positions)
        assert labels == [original[p] for p in positions]
        unmasked = set(range(len(tokens))) - set(positions)
        assert all(tokens[i] == original[i] for i in unmasked)
        # token_boundary: specials and word starts
        assert boundary == [1 if t in (CLS, SEP) or t < 100 else 0 for t in original]
        # whole words: a masked continuation piece implies its word start is masked, and back
        masked = set(positions)
        for i, t in enumerate(original):
            if t >= 100 and original[i - 1] not in (CLS, SEP):
                assert (i in masked) == (i - 1 in masked)


def test_replacement_is_80_10_10():
    config = MaskingConfig(max_seq_length=512, max_predictions_per_seq=76)
    rng = random.Random(2)
    outcome = Counter()
    for _ in range(300):
        tokens = [CLS] + [rng.randrange(10, 100) for _ in range(500)] + [SEP]
        original = list(tokens)
        _, positions, _, _ = create_masked_lm_predictions(tokens, config, VOCAB, rng)
        for p in positions:
            outcome["mask" if tokens[p] == MASK else "same" if tokens[p] == original[p] else "random"] += 1
    total = sum(outcome.values())
    assert outcome["mask"] / total == pytest.approx(0.8, abs=0.01)
    # a random id equals the original 1 time in 200: "same" is 10 % + 0.05 %
    assert outcome["same"] / total == pytest.approx(0.1, abs=0.01)
    assert outcome["random"] / total == pytest.approx(0.1, abs=0.01)


@pytest.mark.parametrize(
    "favor_shorter,expected", [(True, [6 / 11, 3 / 11, 2 / 11]), (False, [2 / 11, 3 / 11, 6 / 11])]
)
def test_ngram_lengths_follow_one_over_n(favor_shorter, expected):
    # Single-piece words and a budget far from binding: every drawn n-gram fits, so the lengths
    # of the masked n-grams are the drawn ones, p(n) ∝ 1/n (or ∝ n).
    config = MaskingConfig(
        max_seq_length=4096, max_predictions_per_seq=4000, masked_lm_prob=0.05, favor_shorter_ngram=favor_shorter
    )
    rng = random.Random(3)
    lengths = Counter()
    for _ in range(40):
        tokens = [CLS] + [rng.randrange(10, 100) for _ in range(4000)] + [SEP]
        *_, ngram_lengths = create_masked_lm_predictions(tokens, config, VOCAB, rng)
        lengths.update(ngram_lengths)
    total = sum(lengths.values())
    for n in (1, 2, 3):
        assert lengths[n] / total == pytest.approx(expected[n - 1], abs=0.02)


def test_sentence_order_instances():
    docs = corpus()
    config = MaskingConfig(max_seq_length=48, short_seq_prob=0.0)
    rng = random.Random(4)
    instances = [i for d in range(len(docs)) for i in create_instances_from_document(docs, d, config, VOCAB, rng)]
    labels = Counter(i.is_random_next for i in instances)
    assert 0.4 < labels[True] / len(instances) < 0.65
    for inst in instances:
        assert inst.tokens[0] == CLS and inst.tokens[-1] == SEP and inst.tokens.count(SEP) == 2
        assert len(inst.tokens) <= 48
        first_sep = inst.tokens.index(SEP)
        assert inst.segment_ids == [0] * (first_sep + 1) + [1] * (len(inst.tokens) - first_sep - 1)


def test_one_sentence_chunk_takes_b_from_another_document_with_label_1():
    docs = [[[11, 12, 13]], [[21, 22], [23, 24]], [[31, 32], [33]]]
    config = MaskingConfig(max_seq_length=32, short_seq_prob=0.0, masked_lm_prob=0.0)
    for seed in range(20):
        (inst,) = create_instances_from_document(docs, 0, config, VOCAB, random.Random(seed))
        assert inst.is_random_next
        sep = inst.tokens.index(SEP)
        assert inst.tokens[1:sep] == [11, 12, 13]
        assert set(inst.tokens[sep + 1 : -1]) <= {21, 22, 23, 24, 31, 32, 33}


def test_sop_swaps_but_never_invents_order():
    # A two-sentence document: label 0 keeps [A, B], label 1 swaps them.
    docs = [[[11, 12], [21, 22]], [[31], [41]]]
    config = MaskingConfig(max_seq_length=32, short_seq_prob=0.0, masked_lm_prob=0.0)
    seen = Counter()
    for seed in range(200):
        (inst,) = create_instances_from_document(docs, 0, config, VOCAB, random.Random(seed))
        expected = [CLS, 21, 22, SEP, 11, 12, SEP] if inst.is_random_next else [CLS, 11, 12, SEP, 21, 22, SEP]
        assert inst.tokens == expected
        seen[inst.is_random_next] += 1
    assert 70 < seen[True] < 130


def test_next_sentence_prediction_mode():
    docs = corpus(seed=5)
    config = MaskingConfig(max_seq_length=48, short_seq_prob=0.0, random_next_sentence=True, masked_lm_prob=0.0)
    rng = random.Random(6)
    instances = [i for d in range(len(docs)) for i in create_instances_from_document(docs, d, config, VOCAB, rng)]
    share = sum(i.is_random_next for i in instances) / len(instances)
    assert 0.4 < share < 0.65


def test_same_seed_same_instances():
    docs = corpus(seed=7)
    config = MaskingConfig(max_seq_length=40)

    def run():
        rng = random.Random(8)
        return [vars(i) for d in range(len(docs)) for i in create_instances_from_document(docs, d, config, VOCAB, rng)]

    assert run() == run()
