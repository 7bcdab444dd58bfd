"""Trains a SentencePiece vocabulary on your own corpus with ALBERT's settings.

ALBERT's 30k-clean.model was trained (Google's README) as a unigram model with pad 0, unk 1,
control symbols [CLS] [SEP] [MASK] (ids 2, 3, 4), no BOS/EOS, user-defined symbols
( ) " - . – £ €, character coverage 0.99995 and shuffled input sentences. The text is passed
through the same preprocessing the tokenizer applies (whitespace folding, accent stripping,
lower-casing unless --nodo_lower_case), so the pieces match what the tokenizer will see.

    albert-train-spm --input_file='corpus/*.txt' --model_prefix=out/my-30k --vocab_size=30000

writes out/my-30k.model and out/my-30k.vocab, usable as --spm_model_file everywhere. The same
command runs as `python data_preprocessing/train_sentencepiece.py` or
`python -m albert.data.train_sentencepiece`; the library function is
`albert.tokenization.train_sentencepiece`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from absl import flags

from albert.cli import run_absl
from albert.data.documents import InputError, expand_input_patterns
from albert.tokenization import train_sentencepiece

FLAGS = flags.FLAGS
flags.DEFINE_string("input_file", None, "Training text: comma-separated glob patterns (plain or gzip).")
flags.DEFINE_string("model_prefix", None, "Output prefix: writes <prefix>.model and <prefix>.vocab.")
flags.DEFINE_integer("vocab_size", 30000, "Vocabulary size (ALBERT: 30000).")
flags.DEFINE_bool("do_lower_case", True, "Lower-case the text (as the tokenizer will).")
flags.DEFINE_bool("hard_vocab_limit", True, "Fail if the corpus cannot fill --vocab_size (else make it smaller).")
flags.DEFINE_integer("num_threads", os.cpu_count() or 1, "Trainer threads.")


def _run(argv: list[str]) -> int:
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


def main(argv: Sequence[str] | None = None) -> int:
    """The `albert-train-spm` command: parses argv (sys.argv when None) and returns the exit status."""
    return run_absl(_run, argv, __name__, __doc__, required=["input_file", "model_prefix"])


if __name__ == "__main__":
    sys.exit(main())
