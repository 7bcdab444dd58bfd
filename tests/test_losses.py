import numpy as np
import pytest
import tensorflow as tf

from albert import losses


def log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def batch(seed=0, b=4, p=5, v=11):
    rng = np.random.default_rng(seed)
    weights = np.zeros((b, p), np.float32)
    for i in range(b):
        weights[i, : rng.integers(1, p + 1)] = 1.0  # a different number of masked positions per row
    outputs = {
        "masked_lm_logits": rng.standard_normal((b, p, v)).astype(np.float32),
        "sentence_order_logits": rng.standard_normal((b, 2)).astype(np.float32),
    }
    features = {
        "masked_lm_ids": rng.integers(0, v, (b, p)).astype(np.int32),
        "masked_lm_weights": weights,
        "next_sentence_labels": rng.integers(0, 2, (b, 1)).astype(np.int32),
    }
    return outputs, features


def test_pretraining_loss_is_googles_formula():
    outputs, features = batch()
    w = features["masked_lm_weights"]
    mlm_ce = -np.take_along_axis(log_softmax(outputs["masked_lm_logits"]), features["masked_lm_ids"][..., None], -1)[
        ..., 0
    ]
    mlm = (w * mlm_ce).sum() / (w.sum() + 1e-5)  # Google's run_pretraining.py
    labels = features["next_sentence_labels"][:, 0]
    sop = -log_softmax(outputs["sentence_order_logits"])[np.arange(4), labels].mean()
    mlm_correct = (outputs["masked_lm_logits"].argmax(-1) == features["masked_lm_ids"]) * w
    total, parts = losses.pretraining_loss(outputs, features)
    assert float(total) == pytest.approx(mlm + sop, rel=1e-5)
    assert float(parts["masked_lm_loss"]) == pytest.approx(mlm, rel=1e-5)
    assert float(parts["sentence_order_loss"]) == pytest.approx(sop, rel=1e-5)
    assert float(parts["masked_lm_accuracy"]) == pytest.approx(mlm_correct.sum() / w.sum(), rel=1e-6)
    sop_accuracy = (outputs["sentence_order_logits"].argmax(-1) == labels).mean()
    assert float(parts["sentence_order_accuracy"]) == pytest.approx(sop_accuracy)


def test_micro_batches_with_whole_batch_denominators_add_up_to_the_batch():
    outputs, features = batch(seed=1, b=6)
    whole_loss, whole = losses.pretraining_loss(outputs, features)
    denominators = losses.pretraining_denominators(features)
    summed = None
    for part in (slice(0, 2), slice(2, 4), slice(4, 6)):
        loss, metrics = losses.pretraining_loss(
            {k: v[part] for k, v in outputs.items()}, {k: v[part] for k, v in features.items()}, denominators
        )
        summed = (
            {**metrics, "loss": loss}
            if summed is None
            else {k: summed[k] + v for k, v in {**metrics, "loss": loss}.items()}
        )
    assert float(summed["loss"]) == pytest.approx(float(whole_loss), rel=1e-6)
    for name in whole:
        assert float(summed[name]) == pytest.approx(float(whole[name]), rel=1e-6), name


def test_eval_sums_give_the_same_metrics():
    outputs, features = batch(seed=2)
    _, parts = losses.pretraining_loss(outputs, features)
    from_sums = losses.pretraining_metrics_from_sums(losses.pretraining_metric_sums(outputs, features))
    for name, value in from_sums.items():
        assert value == pytest.approx(float(parts[name]), rel=1e-4), name


def test_fine_tuning_losses():
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((5, 3)).astype(np.float32)
    labels = np.array([0, 2, 1, 1, 0])
    expected = -log_softmax(logits)[np.arange(5), labels].mean()
    assert float(losses.classification_loss(logits, labels)) == pytest.approx(expected, rel=1e-6)
    predictions, targets = rng.standard_normal((5, 1)), rng.standard_normal(5)
    assert float(losses.regression_loss(predictions, targets)) == pytest.approx(
        ((predictions[:, 0] - targets) ** 2).mean()
    )
    start, end = rng.standard_normal((2, 7)).astype(np.float32), rng.standard_normal((2, 7)).astype(np.float32)
    s, e = np.array([1, 3]), np.array([2, 6])
    span = 0.5 * (-log_softmax(start)[np.arange(2), s].mean() - log_softmax(end)[np.arange(2), e].mean())
    assert float(losses.span_loss(tf.constant(start), tf.constant(end), s, e)) == pytest.approx(span, rel=1e-6)
