"""Pretraining and fine-tuning ALBERT and BERT with TensorFlow 2 and Keras 3."""

import os

# TensorFlow's C++ start-up lines drown a command's own output; set before TensorFlow is imported
# (a value the user set is kept).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from albert import quiet  # noqa: E402

quiet.install()
