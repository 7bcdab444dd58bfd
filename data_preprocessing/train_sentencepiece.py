#!/usr/bin/env python3
"""Trains a SentencePiece vocabulary with ALBERT's settings: `albert.data.train_sentencepiece`
(the `albert-train-spm` command) under its historical path.

    python data_preprocessing/train_sentencepiece.py --input_file='corpus/*.txt' \\
        --model_prefix=out/my-30k --vocab_size=30000

The albert package must be importable: `pip install -e .` in the repository root (`make demo`
and `make test` do it in .venv).
"""

import sys

from albert.data.train_sentencepiece import main

if __name__ == "__main__":
    sys.exit(main())
