"""This project's own checkpoints, and the loader that reads every format.

A checkpoint of this project is a TensorFlow object-based checkpoint holding the model and, under
`layers/<name>`, each of its layers that hold weights (the encoder "bert" and the task heads), so
that a model of another task can start from the parts it shares. `restore_model_weights` also reads
Google's TF1 checkpoints, Hugging Face safetensors and Google's released models by name.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re

import keras
import tensorflow as tf

from albert import pretrained
from albert.checkpoints import google, hugging_face
from albert.checkpoints._common import CheckpointError
from albert.modeling import Encoder


def weight_layers(model: keras.Model) -> dict[str, keras.layers.Layer]:
    """The model's layers that hold weights, by name: the encoder ("bert") and the task heads
    ("cls", "classifier", "squad"). Checkpoints hold them under `layers/<name>`, so that a model
    of another task can start from the parts it shares."""
    return {layer.name: layer for layer in model.layers if layer.weights}


def model_type(model: keras.Model) -> str:
    """The model type ("albert" or "bert") of the model's encoder."""
    return next(layer for layer in weight_layers(model).values() if isinstance(layer, Encoder)).config.model_type


def save_model_weights(model: keras.Model, prefix: str, global_step: int = 0) -> str:
    """Writes the model's weights alone (no optimizer) as a checkpoint of this project that
    `restore_model_weights` reads, with `global_step` when it is not 0; returns the path written."""
    step = {"global_step": tf.Variable(global_step, dtype=tf.int64, trainable=False)} if global_step else {}
    return tf.train.Checkpoint(model=model, layers=weight_layers(model), **step).write(prefix)


def stored_layers(prefix: str) -> set[str]:
    """Names under the `layers` entry of a checkpoint of this project (from its object graph:
    variables are keyed by their first path, `model/...`)."""
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    reader = tf.train.load_checkpoint(prefix)
    if not reader.has_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"):
        return set()
    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
    root = {child.local_name: child.node_id for child in graph.nodes[0].children}
    if "layers" not in root:
        return set()
    return {child.local_name for child in graph.nodes[root["layers"]].children}


def _resolve(path: str) -> str:
    """A checkpoint prefix from a prefix, a prefix + `.index`, a directory (its newest, or the
    single checkpoint of a Google tarball), or a released model's name."""
    return google.checkpoint_prefix(pretrained.resolve_checkpoint(path))


def _is_hugging_face(path: str) -> bool:
    return path.endswith(".safetensors") or os.path.isfile(os.path.join(path, "model.safetensors"))


def restore_model_weights(model: keras.Model, path: str, new_heads: bool = False) -> str:
    """Loads into `model` the weights of a checkpoint of this project, of a Google TF1 checkpoint
    (`bert/...` names, e.g. a released `model.ckpt-best`) or of Hugging Face (a `model.safetensors`
    or its folder). `path` is a prefix, a directory (its newest checkpoint), a released model's
    name (`albert_base_v2`, downloaded once) or a Hugging Face folder.

    Every variable of `model` must be found, except, with `new_heads`, those of task heads the
    checkpoint lacks (a classifier starting from a pretrained encoder); the checkpoint's other
    heads are then ignored. Returns the path read."""
    layers = weight_layers(model)
    heads = {name: layer for name, layer in layers.items() if not isinstance(layer, Encoder)}
    head_paths = [f"^{re.escape(v.path)}$" for layer in heads.values() for v in layer.weights] if new_heads else []
    if _is_hugging_face(path):
        unused = hugging_face.HF_PRETRAINING_HEADS if new_heads else ()
        hugging_face.load_hf_checkpoint(model, path, model_type(model), allow_missing=head_paths, allow_unused=unused)
        return path
    path = _resolve(path)
    names = tf.train.load_checkpoint(path).get_variable_to_shape_map()
    if any(name.endswith("bert/embeddings/word_embeddings") for name in names):
        unused = google.PRETRAINING_HEADS if new_heads else ()
        google.load_google_checkpoint(model, path, allow_missing=head_paths, allow_unused=unused)
        return path
    stored = stored_layers(path)
    absent = [name for name in layers if name not in stored]
    if absent and not (new_heads and set(absent) <= set(heads)):
        raise CheckpointError(
            f"{path}: the checkpoint has no {', '.join(absent)} weights "
            f"(it holds {', '.join(sorted(stored)) or 'none'}); is it a checkpoint of this model?"
        )
    present = {name: layer for name, layer in layers.items() if name in stored}
    with _quiet_tensorflow():  # a failed read warns of each unrestored variable as it is dropped
        problem = _read_layers(present, path)
    if problem:
        raise CheckpointError(
            f"{path}: its weights do not fit this model ({problem}); pass the config the checkpoint was "
            "trained with (--albert_config_file / --model_size) or another --init_checkpoint"
        )
    return path


def _read_layers(layers: dict, path: str) -> str | None:
    """Reads `layers` from the checkpoint; what does not fit, or None."""
    try:
        tf.train.Checkpoint(layers=layers).read(path).assert_existing_objects_matched().expect_partial()
    except (ValueError, AssertionError) as err:
        message = str(err).splitlines()[0]
        found = _SHAPES.search(message)
        if found:
            return f"{found['name']} has shape {found['model']} here, {found['saved']} in the checkpoint"
        return message[:200]
    return None


_SHAPES = re.compile(
    r"tensor with shape (?P<saved>\(.*?\)) when attempting to restore variable with shape "
    r"(?P<model>\(.*?\)) and name (?P<name>\S+?)(:0)?\.?$"
)


@contextlib.contextmanager
def _quiet_tensorflow():
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        yield
        gc.collect()
    finally:
        logger.setLevel(level)


def global_step(path: str) -> int:
    """The global step stored in a checkpoint (0 when it has none)."""
    reader = tf.train.load_checkpoint(path)
    for key in ("global_step/.ATTRIBUTES/VARIABLE_VALUE", "global_step"):  # this project's, Google's
        if reader.has_tensor(key):
            return int(reader.get_tensor(key))
    return 0
