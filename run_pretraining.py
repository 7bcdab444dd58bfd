#!/usr/bin/env python3
"""Pretrains ALBERT (or BERT) with masked LM + sentence order: `python run_pretraining.py --help`
lists the settings (the same as the `albert-pretrain` command)."""

import sys

from albert.tasks.pretraining import main

if __name__ == "__main__":
    sys.exit(main())
