"""Checkpoints that interoperate: Google's TF1 ALBERT/BERT checkpoints and Hugging Face
safetensors, in and out, strictly.

This project's variable paths are Google's TF1 names (see `albert.modeling`), so the TF1 mapping
is the identity except for the classifier head, which Google keeps at the top level
(`output_weights`, `output_bias`). Hugging Face names follow REFERENCE.md §2.4; PyTorch stores
dense kernels transposed.

Imports are strict: every model variable must be filled, every checkpoint variable (optimizer
slots and `global_step` aside) must be used, and shapes must agree; otherwise a one-line
`CheckpointError` lists the names.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable

import keras
import numpy as np
import tensorflow as tf

from albert.configs import AlbertConfig, BertConfig, load_config

# Google's pretraining heads, unused when a pretraining checkpoint starts a fine-tuning model;
# Hugging Face's names for them (BERT, ALBERT).
PRETRAINING_HEADS = (r"^cls/predictions/", r"^cls/seq_relationship/")
HF_PRETRAINING_HEADS = (r"^cls\.", r"^predictions\.", r"^sop_classifier\.")

# Checkpoint entries that are not weights: Adam/LAMB slots and the step.
_SKIPPED = re.compile(r"(/adam_[mv]$|/Adam(_1)?$|^global_step$)")


class CheckpointError(ValueError):
    """A checkpoint that does not fit the model; the message is one line."""


def _names(names: Iterable[str], limit: int = 8) -> str:
    names = sorted(names)
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _model_variables(model: keras.Model) -> list:
    return [v for v in model.weights if "seed_generator" not in v.path]


# ----------------------------------------------------------------------------------------------
# Google TF1
# ----------------------------------------------------------------------------------------------


def google_name(path: str) -> str:
    """Google's TF1 name of the variable at `path` in this project's models."""
    if path.startswith("classifier/"):
        return path[len("classifier/") :]  # run_classifier.py's head lives at the top level
    return path


def _strip_hub_prefix(name: str) -> str:
    return name[len("module/") :] if name.startswith("module/") else name  # TF-Hub exports


def load_google_checkpoint(
    model: keras.Model, prefix: str, *, allow_missing: Iterable[str] = (), allow_unused: Iterable[str] = ()
) -> None:
    """Fills `model` from a Google TF1 checkpoint (`.../model.ckpt-best`, no `.index`).

    `allow_missing`: regular expressions of model paths that may be absent from the checkpoint
    (a fine-tuning head that starts from scratch), left as initialised. `allow_unused`: of
    checkpoint names that may go unused (the pretraining heads, when fine-tuning).
    """
    prefix = checkpoint_prefix(prefix)
    reader = tf.train.load_checkpoint(prefix)
    shapes = reader.get_variable_to_shape_map()
    available = {_strip_hub_prefix(name): name for name in shapes if not _SKIPPED.search(name)}
    allowed = [re.compile(p) for p in allow_missing]
    missing, mismatched, assignments = [], [], []
    for variable in _model_variables(model):
        name = google_name(variable.path)
        if name not in available:
            if not any(p.search(variable.path) for p in allowed):
                missing.append(name)
            continue
        stored = shapes[available[name]]
        if tuple(stored) != tuple(variable.shape):
            mismatched.append(f"{name} {tuple(stored)} vs model {tuple(variable.shape)}")
            continue
        assignments.append((variable, available.pop(name)))
    if mismatched:
        raise CheckpointError(f"{prefix}: shapes differ from the model: {_names(mismatched)}; check the model config")
    if missing:
        raise CheckpointError(
            f"{prefix}: the checkpoint lacks {_names(missing)}; is it the model the config describes?"
        )
    ignorable = [re.compile(p) for p in allow_unused]
    unused = [n for n in available if not any(p.search(n) for p in ignorable)]
    if unused:
        raise CheckpointError(f"{prefix}: the model has no place for {_names(unused)}; check the model config")
    for variable, name in assignments:
        variable.assign(reader.get_tensor(name))


def save_google_checkpoint(model: keras.Model, prefix: str, global_step: int = 0) -> str:
    """Writes `model` as a TF1 checkpoint with Google's variable names (readable by Google's
    scripts and by `load_google_checkpoint`); returns the prefix."""
    os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
    names, tensors = ["global_step"], [tf.constant(global_step, tf.int64)]
    for variable in _model_variables(model):
        names.append(google_name(variable.path))
        tensors.append(tf.convert_to_tensor(variable.value))
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names), tensors=tensors)
    return prefix


def checkpoint_prefix(path: str) -> str:
    """Accepts a prefix, a prefix with `.index` (a common mistake, Google's issue #135), or a
    directory with a `checkpoint` file."""
    path = os.fspath(path)
    if path.endswith(".index"):
        path = path[: -len(".index")]
    if os.path.isdir(path):
        latest = tf.train.latest_checkpoint(path)
        candidates = sorted(f[: -len(".index")] for f in os.listdir(path) if f.endswith(".index"))
        if latest is None and len(candidates) == 1:
            latest = os.path.join(path, candidates[0])  # Google's tarballs have no `checkpoint` file
        if latest is None:
            raise CheckpointError(
                f"{path}: no checkpoint in this directory; pass the prefix, e.g. {path}/model.ckpt-best"
            )
        path = latest
    if not tf.io.gfile.exists(path + ".index"):
        raise CheckpointError(f"{path}: checkpoint not found (expected {path}.index)")
    return path


# ----------------------------------------------------------------------------------------------
# Hugging Face
# ----------------------------------------------------------------------------------------------

_ALBERT_BLOCK = {
    "attention_1/self/query": "attention.query",
    "attention_1/self/key": "attention.key",
    "attention_1/self/value": "attention.value",
    "attention_1/output/dense": "attention.dense",
    "LayerNorm": "attention.LayerNorm",
    "ffn_1/intermediate/dense": "ffn",
    "ffn_1/intermediate/output/dense": "ffn_output",
    "LayerNorm_1": "full_layer_layer_norm",
}


def hf_name(path: str, model_type: str) -> tuple[str, bool]:
    """(Hugging Face name, whether the tensor is transposed) of the variable at `path`."""
    *scope, leaf = path.split("/")
    scope = "/".join(scope)
    suffix = {
        "kernel": "weight",
        "gamma": "weight",
        "beta": "bias",
        "bias": "bias",
        "output_weights": "weight",
        "output_bias": "bias",
    }.get(leaf)
    transpose = leaf == "kernel"
    if leaf.endswith("_embeddings"):
        scope, suffix = f"{scope}/{leaf}", "weight"
    root = "albert" if model_type == "albert" else "bert"
    if model_type == "albert":
        match = re.match(r"bert/encoder/transformer/group_(\d+)/inner_group_(\d+)/(.*)", scope)
        if match:
            g, i, rest = match.groups()
            return f"albert.encoder.albert_layer_groups.{g}.albert_layers.{i}.{_ALBERT_BLOCK[rest]}.{suffix}", transpose
        if scope == "cls/predictions" and leaf == "output_bias":
            return "predictions.bias", False
        if scope.startswith("cls/predictions/transform/"):
            return f"predictions.{scope.rsplit('/', 1)[1]}.{suffix}", transpose
        if scope == "cls/seq_relationship":
            return f"sop_classifier.classifier.{suffix}", False
        if scope == "bert/pooler/dense":
            return f"albert.pooler.{suffix}", transpose
    else:
        if scope == "cls/predictions" and leaf == "output_bias":
            return "cls.predictions.bias", False
    if scope == "classifier":
        return f"classifier.{suffix}", False
    if scope == "cls/squad":
        return f"qa_outputs.{suffix}", False
    name = scope.replace("/", ".")
    if name.startswith("bert."):
        name = f"{root}.{name[len('bert.') :]}"
    name = re.sub(r"\.layer_(\d+)\.", r".layer.\1.", name)
    return f"{name}.{suffix}", transpose


def config_from_hf(path: str) -> BertConfig:
    """A config from a Hugging Face `config.json` (BERT or ALBERT). Hugging Face's "gelu" is the
    exact erf form, this project's "gelu_erf"; its "gelu_new" is Google's tanh "gelu"."""
    with open(path, encoding="utf-8") as f:
        values = json.load(f)
    act = {"gelu": "gelu_erf", "gelu_new": "gelu", "gelu_pytorch_tanh": "gelu"}.get(
        values.get("hidden_act"), values.get("hidden_act")
    )
    keys = [
        "vocab_size",
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "intermediate_size",
        "hidden_dropout_prob",
        "attention_probs_dropout_prob",
        "max_position_embeddings",
        "type_vocab_size",
        "initializer_range",
    ]
    common = {k: values[k] for k in keys if k in values}
    if values.get("model_type") == "albert":
        extra = {k: values[k] for k in ("embedding_size", "num_hidden_groups", "inner_group_num") if k in values}
        return AlbertConfig.from_dict({**common, **extra, "hidden_act": act}, source=path)
    return BertConfig.from_dict({**common, "hidden_act": act}, source=path)


def load_model_config(path: str, model_type: str | None = None) -> BertConfig:
    """A config from Google's albert_config.json / bert_config.json (`model_type`, or guessed from
    the keys) or from a Hugging Face config.json (it names its `model_type`)."""
    try:
        with open(path, encoding="utf-8") as f:
            is_hf = "model_type" in json.load(f)
    except (OSError, ValueError):
        is_hf = False  # load_config gives the one-line error
    return config_from_hf(path) if is_hf else load_config(path, model_type)


def load_hf_checkpoint(
    model: keras.Model,
    path: str,
    model_type: str,
    *,
    allow_missing: Iterable[str] = (),
    allow_unused: Iterable[str] = (),
) -> None:
    """Fills `model` from a Hugging Face `model.safetensors` (or the directory holding it),
    strictly. Names may carry the `bert.`/`albert.` prefix of the task models or not (bare
    `BertModel` exports); tied decoder weights and position ids are not weights of their own.
    `allow_missing` (model paths) and `allow_unused` (Hugging Face names) are regular
    expressions, as for `load_google_checkpoint`."""
    from safetensors.numpy import load_file

    if os.path.isdir(path):
        path = os.path.join(path, "model.safetensors")
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: not found; give a model.safetensors file or its directory")
    tensors = load_file(path)
    root = "albert." if model_type == "albert" else "bert."
    bare = not any(k.startswith(root) for k in tensors)
    ignorable = [re.compile(p) for p in allow_unused]
    not_weights = ("position_ids", "decoder.weight", "decoder.bias")
    unused = {k for k in tensors if not k.endswith(not_weights) and not any(p.search(k) for p in ignorable)}
    optional = [re.compile(p) for p in allow_missing]
    missing, mismatched = [], []
    for variable in _model_variables(model):
        name, transpose = hf_name(variable.path, model_type)
        if bare and name.startswith(root):
            name = name[len(root) :]
        if name not in tensors:
            if not any(p.search(variable.path) for p in optional):
                missing.append(name)
            continue
        value = tensors[name].T if transpose else tensors[name]
        if tuple(value.shape) != tuple(variable.shape):
            mismatched.append(f"{name} {tuple(value.shape)} vs model {tuple(variable.shape)}")
            continue
        variable.assign(value.astype(np.float32))
        unused.discard(name)
    if mismatched or missing or unused:
        parts = [
            f"shapes differ: {_names(mismatched)}" if mismatched else "",
            f"missing: {_names(missing)}" if missing else "",
            f"unused: {_names(unused)}" if unused else "",
        ]
        raise CheckpointError(f"{path}: " + "; ".join(p for p in parts if p) + "; check the config and model type")


def save_hf_checkpoint(model: keras.Model, path: str, model_type: str) -> str:
    """Writes `model` as Hugging Face safetensors (task-model names with the `bert.`/`albert.`
    prefix); returns the file path."""
    from safetensors.numpy import save_file

    if os.path.isdir(path) or not path.endswith(".safetensors"):
        os.makedirs(path, exist_ok=True)
        path = os.path.join(path, "model.safetensors")
    tensors = {}
    for variable in _model_variables(model):
        name, transpose = hf_name(variable.path, model_type)
        value = np.asarray(variable.numpy())
        tensors[name] = np.ascontiguousarray(value.T if transpose else value)
    save_file(tensors, path)
    return path
