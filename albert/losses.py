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


def masked_lm_loss(logits: tf.Tensor, label_ids: tf.Tensor, label_weights: tf.Tensor) -> tf.Tensor:
    """Weighted mean cross-entropy over masked positions; padded positions have weight 0."""
    weights = tf.cast(label_weights, tf.float32)
    per_position = _cross_entropy(logits, label_ids)
    return tf.reduce_sum(weights * per_position) / (tf.reduce_sum(weights) + 1e-5)


def masked_lm_accuracy(logits: tf.Tensor, label_ids: tf.Tensor, label_weights: tf.Tensor) -> tf.Tensor:
    weights = tf.cast(label_weights, tf.float32)
    correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), tf.cast(label_ids, tf.int32)), tf.float32)
    return tf.reduce_sum(weights * correct) / tf.maximum(tf.reduce_sum(weights), 1.0)


def classification_loss(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """Mean cross-entropy; used for sentence order / next sentence and for classifiers."""
    return tf.reduce_mean(_cross_entropy(logits, tf.reshape(labels, [-1])))


def accuracy(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    predictions = tf.argmax(logits, -1, output_type=tf.int32)
    return tf.reduce_mean(tf.cast(tf.equal(predictions, tf.cast(tf.reshape(labels, [-1]), tf.int32)), tf.float32))


def regression_loss(predictions: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
    """Mean squared error of a single-output regression head (STS-B)."""
    predictions = tf.reshape(tf.cast(predictions, tf.float32), [-1])
    return tf.reduce_mean(tf.square(predictions - tf.reshape(tf.cast(targets, tf.float32), [-1])))


def span_loss(start_logits, end_logits, start_positions, end_positions) -> tf.Tensor:
    return 0.5 * (classification_loss(start_logits, start_positions) + classification_loss(end_logits, end_positions))


def pretraining_loss(outputs: dict, batch: dict) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """Masked-LM + sentence-order loss of a pretraining model's outputs on a batch with Google's
    feature names; returns the total and its parts with the accuracies."""
    mlm_logits = outputs["masked_lm_logits"]
    sop_logits = outputs["sentence_order_logits"]
    mlm_loss = masked_lm_loss(mlm_logits, batch["masked_lm_ids"], batch["masked_lm_weights"])
    sop_loss = classification_loss(sop_logits, batch["next_sentence_labels"])
    return mlm_loss + sop_loss, {
        "masked_lm_loss": mlm_loss,
        "masked_lm_accuracy": masked_lm_accuracy(mlm_logits, batch["masked_lm_ids"], batch["masked_lm_weights"]),
        "sentence_order_loss": sop_loss,
        "sentence_order_accuracy": accuracy(sop_logits, batch["next_sentence_labels"]),
    }
