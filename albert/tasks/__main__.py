"""Runs a task by its name, with its settings:

python -m albert.tasks pretraining --help      # the same as run_pretraining.py / albert-pretrain
python -m albert.tasks classifier --task_name=MRPC --data_dir=glue/MRPC ...
python -m albert.tasks squad --train_file=train-v1.1.json ...
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from albert.run import run_task
from albert.tasks import TASKS


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in TASKS:
        usage = f"usage: python -m albert.tasks {{{','.join(TASKS)}}} [settings]; --help after a task lists them"
        asked = argv[:1] in (["-h"], ["--help"])
        print(usage, file=sys.stdout if asked else sys.stderr)
        return 0 if asked else 2
    return run_task(TASKS[argv[0]], argv[1:])


if __name__ == "__main__":
    sys.exit(main())
