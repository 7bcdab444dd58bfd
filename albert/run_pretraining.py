#!/usr/bin/env python3
"""Pretraining (masked LM + sentence order) under the entry point's name AWS's scripts use
(`--entry_point=albert/run_pretraining.py`): the same settings as `python -m albert.tasks pretraining --help`."""

import os
import sys

if not __package__:  # run as a file, albert/ is first on the path, where its modules would shadow others
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from albert.tasks.pretraining import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
