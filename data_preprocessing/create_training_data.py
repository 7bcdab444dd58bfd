#!/usr/bin/env python3
"""Raw text → ALBERT/BERT pretraining TFRecords: `albert.data.create_training_data` (the
`albert-create-data` command) under its historical path.

    python data_preprocessing/create_training_data.py --input_file='wiki/*.txt' \\
        --output_file=out/train.tfrecord --spm_model_file=30k-clean.model --max_seq_length=128

The albert package must be importable: `pip install -e .` in the repository root (`make demo`
and `make test` do it in .venv).
"""

import sys

from albert.data.create_training_data import main

if __name__ == "__main__":
    sys.exit(main())
