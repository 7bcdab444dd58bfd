"""GLUE's metrics, from their definitions, in numpy (float64).

accuracy            fraction of predictions equal to the labels
f1                  2·TP / (2·TP + FP + FN) for the positive class 1 (MRPC, QQP)
matthews_corrcoef   (TP·TN − FP·FN) / √((TP+FP)(TP+FN)(TN+FP)(TN+FN)), 0 when a factor is 0 (CoLA)
pearson             covariance / (σx σy) (STS-B)
spearman            Pearson of the ranks, ties given their average rank (STS-B)
"""

from __future__ import annotations

import numpy as np


def accuracy(predictions, labels) -> float:
    return float(np.mean(np.asarray(predictions) == np.asarray(labels)))


def _confusion(predictions, labels) -> tuple[int, int, int, int]:
    p, y = np.asarray(predictions) == 1, np.asarray(labels) == 1
    return int(np.sum(p & y)), int(np.sum(~p & ~y)), int(np.sum(p & ~y)), int(np.sum(~p & y))


def f1(predictions, labels) -> float:
    tp, _, fp, fn = _confusion(predictions, labels)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def matthews_corrcoef(predictions, labels) -> float:
    tp, tn, fp, fn = _confusion(predictions, labels)
    denominator = float(tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
    return (tp * tn - fp * fn) / np.sqrt(denominator) if denominator else 0.0


def pearson(x, y) -> float:
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    x, y = x - x.mean(), y - y.mean()
    denominator = np.sqrt(np.sum(x * x) * np.sum(y * y))
    return float(np.sum(x * y) / denominator) if denominator else 0.0


def _ranks(values) -> np.ndarray:
    values = np.asarray(values, np.float64)
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    unique, inverse = np.unique(values, return_inverse=True)
    sums = np.bincount(inverse, weights=ranks, minlength=len(unique))
    counts = np.bincount(inverse, minlength=len(unique))
    return (sums / counts)[inverse]


def spearman(x, y) -> float:
    return pearson(_ranks(x), _ranks(y))


def softmax_cross_entropy(logits, labels) -> float:
    """Mean cross-entropy of integer labels under softmax(logits)."""
    logits = np.asarray(logits, np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-np.mean(log_probs[np.arange(len(logits)), np.asarray(labels)]))


def mean_squared_error(predictions, targets) -> float:
    return float(np.mean((np.asarray(predictions, np.float64) - np.asarray(targets, np.float64)) ** 2))
