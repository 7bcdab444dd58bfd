"""The pretraining TFRecord schema of Google's `create_pretraining_data.py` and
`run_pretraining.py`: one home for the names, dtypes and lengths."""

from __future__ import annotations

PRETRAINING_SEQUENCE_FEATURES = ("input_ids", "input_mask", "segment_ids", "token_boundary")
PRETRAINING_PREDICTION_FEATURES = ("masked_lm_positions", "masked_lm_ids", "masked_lm_weights")


def pretraining_features(max_seq_length: int, max_predictions_per_seq: int) -> dict[str, tuple[int, str]]:
    """{feature name: (length, dtype)} in Google's order. All int64 but `masked_lm_weights`
    (float32). `next_sentence_labels` holds the sentence-order label (1 = swapped or random)."""
    features = {name: (max_seq_length, "int64") for name in PRETRAINING_SEQUENCE_FEATURES}
    for name in PRETRAINING_PREDICTION_FEATURES:
        features[name] = (max_predictions_per_seq, "float32" if name == "masked_lm_weights" else "int64")
    features["next_sentence_labels"] = (1, "int64")
    return features
