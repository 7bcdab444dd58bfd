"""Files written whole or not at all: each output is written under a temporary name and renamed
over its real one when complete. The temporary name is hidden (`.<name>.tmp-<pid>` beside it),
so that no glob of the outputs (`train.tfrecord-*`, `*.tfrecord`) matches a partial file; one
that a killed run left behind is removed by the next writer of that output.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil

_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<pid>\d+)$")


def temporary_path(path: str) -> str:
    """Where `path` is written before it is complete."""
    folder, name = os.path.split(os.path.normpath(path))
    return os.path.join(folder, f".{name}.tmp-{os.getpid()}")


def remove_stale_temporaries(path: str) -> list[str]:
    """Removes the temporary files of `path` that processes no longer running left; returns them."""
    folder, name = os.path.split(os.path.normpath(path))
    removed = []
    for candidate in glob.glob(os.path.join(glob.escape(folder or "."), f".{glob.escape(name)}.tmp-*")):
        match = _TEMPORARY.match(os.path.basename(candidate))
        if match and not running(int(match["pid"])):
            with contextlib.suppress(FileNotFoundError):
                if os.path.isdir(candidate):
                    shutil.rmtree(candidate, ignore_errors=True)
                else:
                    os.remove(candidate)
                removed.append(candidate)
    return removed


def running(pid: int) -> bool:
    """Whether process `pid` runs on this machine (this process included)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
