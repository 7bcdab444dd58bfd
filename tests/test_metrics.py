"""GLUE's metrics against values worked out by hand from their definitions, a published
worked example, and the MRPC majority baseline that MANIFEST.md states."""

import numpy as np
import pytest
from conftest import shared_file

from albert import metrics


def test_confusion_based_metrics_by_hand():
    # TP 6, TN 3, FP 1, FN 2.
    labels = [1] * 6 + [0] * 3 + [0] + [1] * 2
    predictions = [1] * 6 + [0] * 3 + [1] + [0] * 2
    assert metrics.accuracy(predictions, labels) == pytest.approx(9 / 12)
    assert metrics.f1(predictions, labels) == pytest.approx(2 * 6 / (2 * 6 + 1 + 2))
    assert metrics.matthews_corrcoef(predictions, labels) == pytest.approx(16 / np.sqrt(7 * 8 * 4 * 5))
    # Degenerate cases: no positive prediction, a constant predictor.
    assert metrics.f1([0, 0], [1, 0]) == 0.0
    assert metrics.matthews_corrcoef([1, 1, 1], [1, 0, 1]) == 0.0


def test_correlations_by_hand_and_a_published_example():
    assert metrics.pearson([1, 2, 3, 4, 5], [2, 4, 5, 4, 5]) == pytest.approx(np.sqrt(0.6))
    # Ties take their average rank: ranks (1, 2.5, 2.5, 4) against (1, 2, 3, 4).
    assert metrics.spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(4.5 / np.sqrt(4.5 * 5))
    # Wikipedia's worked example (IQ against hours of television a week): rho = -29/165.
    iq = [106, 100, 86, 101, 99, 103, 97, 113, 112, 110]
    tv = [7, 27, 2, 50, 28, 29, 20, 12, 6, 17]
    assert metrics.spearman(iq, tv) == pytest.approx(-29 / 165)


def test_mrpc_majority_baseline_matches_the_manifest():
    with open(shared_file("mrpc", "dev.tsv"), encoding="utf-8-sig") as f:
        labels = [int(line.split("\t")[0]) for line in list(f)[1:]]
    always_paraphrase = [1] * len(labels)
    assert round(100 * metrics.accuracy(always_paraphrase, labels), 1) == 68.4
    assert round(100 * metrics.f1(always_paraphrase, labels), 1) == 81.2


def test_losses_by_hand():
    logits = np.log([[0.25, 0.75], [0.5, 0.5]])
    assert metrics.softmax_cross_entropy(logits, [1, 0]) == pytest.approx(-(np.log(0.75) + np.log(0.5)) / 2)
    assert metrics.mean_squared_error([1.0, 3.0], [2.0, 1.0]) == pytest.approx(2.5)
