"""The project's own small samples, shipped inside the package so that the commands find them
from any directory, installed or not.

`SAMPLE_TEXT`: pretraining text (one sentence per line, a blank line between documents).
`MRPC`: a small paraphrase task in MRPC's file format made from it (train.tsv, dev.tsv, test.tsv;
tests/fixtures/make_mrpc_sample.py). `SQUAD`: a small SQuAD v1.1-format task made from it
(train.json, dev.json; tests/fixtures/make_squad_sample.py).
"""

import os

DIRECTORY = os.path.dirname(os.path.abspath(__file__))
SAMPLE_TEXT = os.path.join(DIRECTORY, "sample_text.txt")
MRPC = os.path.join(DIRECTORY, "mrpc_sample")
SQUAD = os.path.join(DIRECTORY, "squad_sample")
