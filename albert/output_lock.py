"""An output folder belongs to one run at a time.

The chief holds `<output_dir>/.run.lock` (its pid, host, boot and start time) while it trains,
evaluates and writes; a second run in the same folder stops with one line naming the first,
instead of both "succeeding" while overwriting each other's checkpoints. A lock whose run is
gone (its pid dead on this host, or left by an earlier boot or instance, as after a spot
interruption) is taken over, with a line that says so.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Callable, Iterator

from albert import files

NAME = ".run.lock"


class FolderInUse(ValueError):
    """Another run holds the output folder; the message is one line and says what to do."""


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return ""


def _owner(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None  # gone, or half written by a run that died at once


def _stale(owner: dict | None) -> bool:
    if owner is None or owner.get("host") != socket.gethostname():
        return owner is None
    same_boot = owner.get("boot") == _boot_id()
    return not same_boot or owner.get("pid") == os.getpid() or not files.running(int(owner.get("pid", 0)))


@contextlib.contextmanager
def held(output_dir: str, log: Callable[[str], None]) -> Iterator[None]:
    """Holds the folder's lock within the block."""
    path = os.path.join(output_dir, NAME)
    me = {"pid": os.getpid(), "host": socket.gethostname(), "boot": _boot_id(), "started": time.strftime("%c")}
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            owner = _owner(path)
            if not _stale(owner):
                raise FolderInUse(
                    f"{output_dir} is in use by pid {owner['pid']} on {owner['host']} since {owner['started']}; "
                    f"wait for it or pass another --output_dir (remove {path} if that run is gone)"
                ) from None
            if owner is not None:
                log(f"{output_dir}: taking over the lock of pid {owner['pid']} on {owner['host']}, which is gone")
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(me, f)
    try:
        yield
    finally:
        if (_owner(path) or {}).get("pid") == me["pid"]:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
