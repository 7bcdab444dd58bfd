"""Hugging Face safetensors checkpoints (BERT and ALBERT), in and out, strictly.

Names follow Hugging Face's `modeling_albert.py` and `modeling_bert.py`; PyTorch stores dense
kernels transposed. Imports are strict as for Google's checkpoints (`albert.checkpoints.google`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

import keras
import numpy as np

from albert.checkpoints._common import CheckpointError, listing, model_variables

# Hugging Face's names of Google's pretraining heads (BERT, ALBERT).
HF_PRETRAINING_HEADS = (r"^cls\.", r"^predictions\.", r"^sop_classifier\.")

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
    for variable in model_variables(model):
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
            f"shapes differ: {listing(mismatched)}" if mismatched else "",
            f"missing: {listing(missing)}" if missing else "",
            f"unused: {listing(unused)}" if unused else "",
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
    for variable in model_variables(model):
        name, transpose = hf_name(variable.path, model_type)
        value = np.asarray(variable.numpy())
        tensors[name] = np.ascontiguousarray(value.T if transpose else value)
    save_file(tensors, path)
    return path
