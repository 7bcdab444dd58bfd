#!/usr/bin/env python3
"""SQuAD fine-tuning (--task_name=squadv1|squadv2 picks v1.1 or 2.0) under the entry point's name AWS's scripts use
(`--entry_point=albert/run_squad.py`): the same settings as `python -m albert.tasks squad --help`."""

import os
import sys

if not __package__:  # run as a file, albert/ is first on the path, where its modules would shadow others
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from albert.tasks.squad import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
