"""A stand-in for Intel Gaudi's TensorFlow bridge, for tests on machines without a Gaudi card.

`load_habana_module()` appends one JSON line to $HABANA_STANDIN_LOG: whether TensorFlow's
runtime had already started (a real bridge must be loaded before the first op) and the
TensorFlow version. It then lists one HPU, as the real bridge does on a Gaudi box; the ops
themselves still run on the CPU.
"""

import json
import os

import tensorflow as tf
from tensorflow.python.eager import context


def load_habana_module() -> None:
    with open(os.environ["HABANA_STANDIN_LOG"], "a", encoding="utf-8") as log:
        record = {"runtime_started": context.context()._initialized, "tensorflow": tf.__version__}
        log.write(json.dumps(record) + "\n")
    listed = tf.config.list_physical_devices
    card = tf.config.PhysicalDevice("/physical_device:HPU:0", "HPU")
    tf.config.list_physical_devices = lambda kind=None: [card] if kind == "HPU" else listed(kind)
