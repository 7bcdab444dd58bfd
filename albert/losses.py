"""Task losses, in float32, with the definitions of Google's scripts.

masked LM        Σ w·CE / (Σ w + 1e-5) over the masked positions  (run_pretraining.py)
sentence order   mean CE over the batch                             (run_pretraining.py)
classification   mean CE; regression (STS-B) mean squared error     (classifier_utils.py)
SQuAD spans      (mean CE of start + mean CE of end) / 2            (squad_utils.py)
"""

from __future__ import annotations

import tensorflow as tf


def _cross_entropy(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    return tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(labels, tf.int32), logits=tf.cast(logits, tf.float32)
    )


def classification_loss(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """Mean cross-entropy; used for sentence order / next sentence and for classifiers."""
    return tf.reduce_mean(_cross_entropy(logits, tf.reshape(labels, [-1])))


def regression_loss(predictions: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
    """Mean squared error of a single-output regression head (STS-B)."""
    predictions = tf.reshape(tf.cast(predictions, tf.float32), [-1])
    return tf.reduce_mean(tf.square(predictions - tf.reshape(tf.cast(targets, tf.float32), [-1])))


def span_loss(start_logits, end_logits, start_positions, end_positions) -> tf.Tensor:
    return 0.5 * (classification_loss(start_logits, start_positions) + classification_loss(end_logits, end_positions))


def pretraining_denominators(batch: dict) -> dict[str, tf.Tensor]:
    """The normalisers of the pretraining loss over a whole batch: the number of real masked
    positions and of examples."""
    return {
        "masked_lm_weight": tf.reduce_sum(tf.cast(batch["masked_lm_weights"], tf.float32)),
        "examples": tf.cast(tf.shape(batch["next_sentence_labels"])[0], tf.float32),
    }


def pretraining_loss(
    outputs: dict, batch: dict, denominators: dict | None = None, mlm: bool = True, sop: bool = True
) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """Masked-LM + sentence-order loss of a pretraining model's outputs on a batch with Google's
    feature names; returns the total and its parts with the accuracies. Without `mlm` or `sop`
    that part is left out of the total (it is still reported).

    `denominators` (from `pretraining_denominators` of a whole batch) normalise a micro-batch's
    sums by the whole batch's counts, so that the micro-batches' losses, metrics and gradients
    add up exactly to those of the whole batch.
    """
    d = denominators or pretraining_denominators(batch)
    sums = pretraining_metric_sums(outputs, batch)
    mlm_loss = sums["masked_lm_loss_sum"] / (d["masked_lm_weight"] + 1e-5)
    sop_loss = sums["sentence_order_loss_sum"] / d["examples"]
    total = (mlm_loss if mlm else 0.0) + (sop_loss if sop else 0.0)
    return total, {
        "masked_lm_loss": mlm_loss,
        "masked_lm_accuracy": sums["masked_lm_correct"] / tf.maximum(d["masked_lm_weight"], 1.0),
        "sentence_order_loss": sop_loss,
        "sentence_order_accuracy": sums["sentence_order_correct"] / d["examples"],
    }


def pretraining_metric_sums(outputs: dict, batch: dict) -> dict[str, tf.Tensor]:
    """Sums from which evaluation metrics over many batches are exact: masked-LM metrics
    weighted by `masked_lm_weights`, sentence-order metrics per example (Google's
    `metric_fn` in run_pretraining.py)."""
    weights = tf.reshape(tf.cast(batch["masked_lm_weights"], tf.float32), [-1])
    mlm_logits = tf.reshape(outputs["masked_lm_logits"], [tf.size(weights), -1])
    mlm_ids = tf.reshape(batch["masked_lm_ids"], [-1])
    mlm_ce = _cross_entropy(mlm_logits, mlm_ids)
    mlm_correct = tf.cast(
        tf.equal(tf.argmax(mlm_logits, -1, output_type=tf.int32), tf.cast(mlm_ids, tf.int32)), tf.float32
    )
    sop_logits = outputs["sentence_order_logits"]
    sop_labels = tf.reshape(batch["next_sentence_labels"], [-1])
    sop_ce = _cross_entropy(sop_logits, sop_labels)
    sop_correct = tf.cast(
        tf.equal(tf.argmax(sop_logits, -1, output_type=tf.int32), tf.cast(sop_labels, tf.int32)), tf.float32
    )
    return {
        "masked_lm_loss_sum": tf.reduce_sum(weights * mlm_ce),
        "masked_lm_correct": tf.reduce_sum(weights * mlm_correct),
        "masked_lm_weight": tf.reduce_sum(weights),
        "sentence_order_loss_sum": tf.reduce_sum(sop_ce),
        "sentence_order_correct": tf.reduce_sum(sop_correct),
        "examples": tf.cast(tf.size(sop_labels), tf.float32),
    }


def pretraining_metrics_from_sums(sums: dict) -> dict[str, float]:
    weight = max(float(sums["masked_lm_weight"]), 1e-12)
    examples = max(float(sums["examples"]), 1e-12)
    return {
        "masked_lm_loss": float(sums["masked_lm_loss_sum"]) / weight,
        "masked_lm_accuracy": float(sums["masked_lm_correct"]) / weight,
        "sentence_order_loss": float(sums["sentence_order_loss_sum"]) / examples,
        "sentence_order_accuracy": float(sums["sentence_order_correct"]) / examples,
    }
