#!/usr/bin/env python3
"""Fine-tunes ALBERT (or BERT) on a GLUE task: `python run_classifier.py --help` lists the
settings (the same as the `albert-classify` command)."""

import sys

from albert.tasks.classifier import main

if __name__ == "__main__":
    sys.exit(main())
