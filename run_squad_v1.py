#!/usr/bin/env python3
"""Fine-tunes ALBERT (or BERT) on SQuAD v1.1 or v2.0: `python run_squad_v1.py --help` lists the
settings (the same as the `albert-squad` command)."""

import sys

from albert.tasks.squad import main

if __name__ == "__main__":
    sys.exit(main())
