"""Converts checkpoints between Google's TF1 layout, Hugging Face safetensors and this project.

    python -m albert.convert --from google --to hf \\
        --input albert_base/model.ckpt-best --config albert_base/albert_config.json --output out/albert_base_hf

`--config` is Google's albert_config.json / bert_config.json, Hugging Face's config.json or a
variant name (albert_base_v2, tiny, ...); it defaults to the config beside the weights (any run
folder of this project has one). The output directory gets the weights, the config and the
tokenizer file (30k-clean.model / spiece.model / vocab.txt) in the target's format. Models with
Google's pretraining heads (cls/predictions, cls/seq_relationship) keep them; encoder-only
checkpoints convert as encoders.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from albert import checkpoints, files, model_folder, modeling  # noqa: E402
from albert.configs import AlbertConfig, ConfigError, hf_config, named_or_file  # noqa: E402

FORMATS = ("google", "hf", "project")
# Tokenizer files beside the weights, by format: a SentencePiece model (ALBERT), a vocab.txt (BERT).
TOKENIZER_FILES = {
    "google": ("30k-clean.model", "vocab.txt"),
    "hf": ("spiece.model", "vocab.txt"),
    "project": ("30k-clean.model", "vocab.txt"),
}


def _has_heads(source: str, path: str) -> bool:
    if source == "hf":
        from safetensors import safe_open

        file = os.path.join(path, "model.safetensors") if os.path.isdir(path) else path
        with safe_open(file, "np") as f:
            return any("predictions." in k for k in f.keys())
    prefix = checkpoints.checkpoint_prefix(path)
    if source == "project":
        return "cls" in checkpoints.stored_layers(prefix)
    return any("cls/predictions" in n for n, _ in tf.train.list_variables(prefix))


def convert(source: str, target: str, input_path: str, output_dir: str, config_path: str | None = None) -> str:
    """Converts `input_path` (format `source`) into `output_dir` (format `target`)."""
    if source not in FORMATS or target not in FORMATS:
        raise ValueError(f"formats are {', '.join(FORMATS)}; got --from {source} --to {target}")
    source_folder = input_path if os.path.isdir(input_path) else os.path.dirname(input_path)
    config_path = config_path or model_folder.find(source_folder or ".", model_folder.CONFIG_FILES)
    if not config_path:
        raise ConfigError(
            "--config", f"none beside {input_path}; pass albert_config.json, config.json or a variant name"
        )
    if os.path.realpath(output_dir) == os.path.realpath(source_folder or "."):
        raise ValueError(f"--output {output_dir} is the folder of --input {input_path}; convert into another folder")
    config = named_or_file(config_path)
    with_heads = _has_heads(source, input_path)
    model = modeling.create_pretraining_model(config) if with_heads else modeling.create_encoder(config)

    if source == "google":
        checkpoints.load_google_checkpoint(model, input_path)
    elif source == "hf":
        checkpoints.load_hf_checkpoint(model, input_path, config.model_type)
    else:
        checkpoints.load_weights(model, input_path)

    os.makedirs(output_dir, exist_ok=True)
    _copy_tokenizer_files(source_folder or ".", target, output_dir)
    if target == "google":
        name = "albert_config.json" if isinstance(config, AlbertConfig) else "bert_config.json"
        config.to_json_file(os.path.join(output_dir, name))
        return checkpoints.save_weights(model, os.path.join(output_dir, "model.ckpt-best"), "google")
    if target == "hf":
        with open(os.path.join(output_dir, "config.json"), "w", encoding="utf-8") as f:
            json.dump(hf_config(config), f, indent=2)
        return checkpoints.save_weights(model, output_dir, "hf")
    name = "albert_config.json" if isinstance(config, AlbertConfig) else "bert_config.json"
    config.to_json_file(os.path.join(output_dir, name))
    return checkpoints.save_weights(model, os.path.join(output_dir, "ckpt-0"))


def _copy_tokenizer_files(folder: str, target: str, output_dir: str) -> None:
    """The vocabulary in the weights' folder (any format's name), under the target format's name."""
    found = model_folder.vocabulary(folder)
    if found:
        spm_name, vocab_name = TOKENIZER_FILES[target]
        files.copy_file(found[1], os.path.join(output_dir, spm_name if found[0] == "spm_model_file" else vocab_name))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source", required=True, choices=FORMATS)
    parser.add_argument("--to", dest="target", required=True, choices=FORMATS)
    parser.add_argument("--input", required=True, help="checkpoint prefix, .safetensors file or directory")
    parser.add_argument("--output", required=True, help="output directory")
    parser.add_argument(
        "--config", help="albert_config.json, bert_config.json, config.json or a variant name (default: the one beside)"
    )
    args = parser.parse_args(argv)
    try:
        written = convert(args.source, args.target, args.input, args.output, args.config)
    except (checkpoints.CheckpointError, ConfigError, OSError, ValueError) as err:
        print(f"albert.convert: error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
