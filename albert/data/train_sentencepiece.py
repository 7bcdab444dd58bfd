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

from albert.data.documents import InputError, expand_input_patterns, refuse_overwriting
from albert.settings import Setting, group, parse
from albert.tokenization import train_sentencepiece

SETTINGS = group(
    "Vocabulary",
    Setting("input_file", str, None, "Training text: comma-separated glob patterns (plain or gzip).", required=True),
    Setting("model_prefix", str, None, "Output prefix: writes <prefix>.model and <prefix>.vocab.", required=True),
    Setting("vocab_size", int, 30000, "Vocabulary size (ALBERT: 30000)."),
    Setting("do_lower_case", bool, True, "Lower-case the text (as the tokenizer will)."),
    Setting("hard_vocab_limit", bool, True, "Fail if the corpus cannot fill --vocab_size (else make it smaller)."),
    Setting("num_threads", int, os.cpu_count() or 1, "Trainer threads."),
)


def main(argv: Sequence[str] | None = None) -> int:
    """The `albert-train-spm` command (argv without the program; sys.argv's when None)."""
    v = parse(SETTINGS, sys.argv[1:] if argv is None else argv, "train_sentencepiece.py", __doc__)
    try:
        inputs = expand_input_patterns(v.input_file)
        refuse_overwriting(inputs, [f"{v.model_prefix}.model", f"{v.model_prefix}.vocab"], "--model_prefix")
        model = train_sentencepiece(
            inputs,
            v.model_prefix,
            v.vocab_size,
            v.do_lower_case,
            v.hard_vocab_limit,
            v.num_threads,
        )
    except (InputError, RuntimeError) as err:
        message = str(err).strip().splitlines()[-1].rpartition("] ")[2]  # drop SentencePiece's source location
        print(f"train_sentencepiece.py: error: {message}", file=sys.stderr)
        return 1
    print(f"wrote {model}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
