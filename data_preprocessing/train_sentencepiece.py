#!/usr/bin/env python3
"""Trains a SentencePiece vocabulary on your own corpus with ALBERT's settings.

ALBERT's 30k-clean.model was trained (Google's README) as a unigram model with pad 0, unk 1,
control symbols [CLS] [SEP] [MASK] (ids 2, 3, 4), no BOS/EOS, user-defined symbols
( ) " - . – £ €, character coverage 0.99995 and shuffled input sentences. The text is passed
through the same preprocessing the tokenizer applies (whitespace folding, accent stripping,
lower-casing unless --nodo_lower_case), so the pieces match what the tokenizer will see.

    python data_preprocessing/train_sentencepiece.py --input_file='corpus/*.txt' \\
        --model_prefix=out/my-30k --vocab_size=30000

writes out/my-30k.model and out/my-30k.vocab, usable as --spm_model_file everywhere.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Iterator, Sequence

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from albert.data.documents import DocumentReader, InputError, expand_input_patterns  # noqa: E402
from albert.tokenization import preprocess_text  # noqa: E402

ALBERT_SPM_SETTINGS = {
    "model_type": "unigram",
    "pad_id": 0,
    "unk_id": 1,
    "bos_id": -1,
    "eos_id": -1,
    "control_symbols": ["[CLS]", "[SEP]", "[MASK]"],
    "user_defined_symbols": ["(", ")", '"', "-", ".", "–", "£", "€"],
    "character_coverage": 0.99995,
    "shuffle_input_sentence": True,
    "input_sentence_size": 10_000_000,
}


def train_sentencepiece(
    input_files: Sequence[str],
    model_prefix: str,
    vocab_size: int = 30000,
    do_lower_case: bool = True,
    hard_vocab_limit: bool = True,
    num_threads: int = 1,
) -> str:
    """Trains `<model_prefix>.model` / `.vocab` with ALBERT's settings; returns the model path."""
    import sentencepiece as spm

    def sentences() -> Iterator[str]:
        for document in DocumentReader(input_files):
            for line in document:
                yield preprocess_text(line, lower=do_lower_case)

    stream = sentences()
    first = next((s for s in stream if s), None)
    if first is None:
        raise InputError(f"{', '.join(input_files)}: no text found; give one sentence per line")
    os.makedirs(os.path.dirname(os.path.abspath(model_prefix)), exist_ok=True)
    spm.SentencePieceTrainer.train(
        sentence_iterator=itertools.chain([first], stream),
        model_prefix=model_prefix,
        vocab_size=vocab_size,
        hard_vocab_limit=hard_vocab_limit,
        num_threads=num_threads,
        minloglevel=2,
        **ALBERT_SPM_SETTINGS,
    )
    return f"{model_prefix}.model"


FLAGS = flags.FLAGS
flags.DEFINE_string("input_file", None, "Training text: comma-separated glob patterns (plain or gzip).")
flags.DEFINE_string("model_prefix", None, "Output prefix: writes <prefix>.model and <prefix>.vocab.")
flags.DEFINE_integer("vocab_size", 30000, "Vocabulary size (ALBERT: 30000).")
flags.DEFINE_bool("do_lower_case", True, "Lower-case the text (as the tokenizer will).")
flags.DEFINE_bool("hard_vocab_limit", True, "Fail if the corpus cannot fill --vocab_size (else make it smaller).")
flags.DEFINE_integer("num_threads", os.cpu_count() or 1, "Trainer threads.")


def main(argv: list[str]) -> int:
    del argv
    try:
        model = train_sentencepiece(
            expand_input_patterns(FLAGS.input_file),
            FLAGS.model_prefix,
            FLAGS.vocab_size,
            FLAGS.do_lower_case,
            FLAGS.hard_vocab_limit,
            FLAGS.num_threads,
        )
    except (InputError, RuntimeError) as err:
        message = str(err).strip().splitlines()[-1].rpartition("] ")[2]  # drop SentencePiece's source location
        print(f"train_sentencepiece.py: error: {message}", file=sys.stderr)
        return 1
    print(f"wrote {model}")
    return 0


if __name__ == "__main__":
    flags.mark_flags_as_required(["input_file", "model_prefix"])
    app.run(main)
