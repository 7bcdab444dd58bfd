"""The tiny model's files that the launcher makes when no checkpoint brings its own: a
SentencePiece vocabulary and a config of that vocabulary's size.

The vocabulary is trained on the text the model will read: the package's sample text for
pretraining and the package's fine-tuning samples, the fine-tuning data itself for a real
--dataset_path (the sample's 300 pieces would cut real sentences into characters). A tiny run
started from an earlier run's folder uses the config and vocabulary found there instead.
"""

from __future__ import annotations

import json
import os
import re

from albert import configs, samples

SAMPLE_VOCAB_SIZE = 300  # what the 33 lines of the sample text support
DATA_VOCAB_SIZE = 2000  # a fine-tuning set's own vocabulary (fewer pieces if the data has fewer)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def config_text(vocab_size: int) -> str:
    """The tiny ALBERT's albert_config.json for a vocabulary of `vocab_size` pieces."""
    return json.dumps(configs.get_config("tiny").replace(vocab_size=vocab_size).to_dict(), indent=2) + "\n"


def mrpc_text(data_dir: str) -> str:
    """The sentences of MRPC's train.tsv (its #1 String and #2 String columns), one per line."""
    path = os.path.join(data_dir, "train.tsv")
    with open(path, encoding="utf-8-sig") as f:
        header = f.readline().rstrip("\n").split("\t")
        columns = [header.index(name) for name in ("#1 String", "#2 String") if name in header] or [3, 4]
        rows = [line.rstrip("\n").split("\t") for line in f]
    return "".join(row[c] + "\n" for row in rows for c in columns if c < len(row))


def squad_text(train_file: str) -> str:
    """The questions and the context sentences of a SQuAD training file, one per line."""
    with open(train_file, encoding="utf-8") as f:
        articles = json.load(f)["data"]
    lines = []
    for article in articles:
        for paragraph in article["paragraphs"]:
            lines += _SENTENCE_END.split(paragraph["context"].strip())
            lines += [qa["question"].strip() for qa in paragraph["qas"]]
    return "".join(line + "\n" for line in lines if line)


def vocabulary_command(python: str, text_file: str, prefix: str, vocab_size: int, *options: str) -> list[str]:
    """The command that trains the vocabulary `<prefix>.model` on `text_file`."""
    return [python, "-m", "albert.data.train_sentencepiece", f"--input_file={text_file}",
            f"--model_prefix={prefix}", f"--vocab_size={vocab_size}", *options]  # fmt: skip


def is_sample(data_dir: str | None) -> bool:
    samples_dirs = {os.path.realpath(samples.MRPC), os.path.realpath(samples.SQUAD)}
    return data_dir is None or os.path.realpath(data_dir) in samples_dirs
