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
import tempfile

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


class OutputError(ValueError):
    """An output that cannot be written where it was asked for; the message is one line."""


def make_folder(path: str, flag: str) -> None:
    """Creates the output folder `path` (given as `flag`), checked first (`check_writable`)."""
    check_writable(path, path, flag)
    os.makedirs(path, exist_ok=True)


def check_writable(folder: str, given: str, flag: str) -> None:
    """Before any work: files can be written in `folder` (where `flag` `given` writes). Makes
    what is missing of it, creates and removes a hidden file there, and removes the folders it
    made; an OutputError naming the flag when that fails."""
    missing, existing = [], folder
    while not os.path.exists(existing) and existing != os.path.dirname(existing):
        missing.append(existing)
        existing = os.path.dirname(existing)
    if existing and not os.path.isdir(existing):
        raise OutputError(f"{flag} {given}: {existing} is a file, not a folder; remove it or pass another {flag}")
    try:
        os.makedirs(folder, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".write-test.", dir=folder)  # a name no other worker takes
        os.close(handle)
        os.remove(probe)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise OutputError(f"{flag} {given}: cannot write in {folder} ({reason}); pass a folder you can write") from None
    finally:
        for made in missing:  # innermost first
            with contextlib.suppress(OSError):
                os.rmdir(made)


def check_outputs(paths: list[str]) -> None:
    """The files a run will write must not be folders (found before any work)."""
    for path in paths:
        if os.path.isdir(path):
            raise OutputError(f"{path}: is a folder, but the run writes a file there; move the folder away")


def check_replaceable_folder(path: str, flag: str, kept: list[str]) -> None:
    """A folder that an output (a SavedModel) replaces as a whole: new, empty or an earlier
    output of its kind (`saved_model.pb`), and neither one of the `kept` paths (the run's
    output folder, its inputs) nor a folder around one."""
    real = os.path.realpath(path)
    for other in kept:
        other_real = os.path.realpath(other)
        if real == other_real or other_real.startswith(real + os.sep):
            raise OutputError(f"{flag} {path} would replace {other}, which the run keeps; export elsewhere")
    if os.path.exists(path) and not os.path.isdir(path):
        raise OutputError(f"{flag} {path} is a file; pass a folder")
    if os.path.isdir(path) and os.listdir(path) and not os.path.exists(os.path.join(path, "saved_model.pb")):
        raise OutputError(
            f"{flag} {path} holds files that are not a SavedModel; pass a new or empty folder (or remove them)"
        )


def replace_folder(new: str, path: str) -> None:
    """Puts the complete folder `new` at `path`; an earlier `path` is removed only once `new`
    is in its place."""
    old = None
    if os.path.exists(path):
        old = temporary_path(path) + ".old"
        os.replace(path, old)
    os.replace(new, path)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def copy_file(source: str, path: str) -> None:
    """Copies `source` to `path` whole or not at all; nothing when they are the same file."""
    if os.path.exists(path) and os.path.samefile(source, path):
        return
    tmp = temporary_path(path)
    shutil.copyfile(source, tmp)
    os.replace(tmp, path)
