"""A quiet start: TensorFlow's C++ start-up lines (absl's "before InitializeLog" warning,
oneDNN, the CUDA stubs, cuInit) are written to file descriptor 2 while TensorFlow loads and
looks for devices, before any log level applies. `captured()` sends descriptor 2 to a temporary
file meanwhile and shows what it caught only when the block fails, or always when asked for:
ALBERT_VERBOSE=1 or --verbose on the command line.

`install()` (run by `import albert`) makes the first `import tensorflow`, and its first look
for GPUs, such a block.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import importlib.abc
import importlib.util
import os
import sys
import tempfile

from albert.settings import parse_bool


def verbose() -> bool:
    """ALBERT_VERBOSE set (not 0), or --verbose (or --verbose=true, spelt as the scripts' settings
    accept it) on the command line."""

    def asks(word: str) -> bool:
        flag, _, value = word.partition("=")
        try:
            return flag == "--verbose" and (not value or parse_bool(value))
        except argparse.ArgumentTypeError:
            return False

    return os.environ.get("ALBERT_VERBOSE", "") not in ("", "0") or any(asks(w) for w in sys.argv[1:])


@contextlib.contextmanager
def captured():
    """Descriptor 2 goes to a temporary file inside the block; replayed if the block raises.
    Where descriptor 2 cannot be redirected (it is closed, or no temporary file can be made),
    nothing is held back. A fatal signal inside the block (TensorFlow aborting) still shows
    Python's fatal-error traceback on the real descriptor 2."""
    redirect = None if verbose() else _redirect()
    if redirect is None:
        yield
        return
    saved, capture = redirect
    real = os.fdopen(saved, "w")
    ours = not faulthandler.is_enabled()  # one enabled already (pytest's, PYTHONFAULTHANDLER) is left be
    if ours:
        faulthandler.enable(file=real)
    os.dup2(capture.fileno(), 2)
    try:
        yield
    except BaseException:
        _restore(saved)
        capture.seek(0)
        os.write(2, capture.read())
        raise
    else:
        _restore(saved)
    finally:
        if ours:
            faulthandler.disable()
        real.close()
        capture.close()


def _redirect():
    """(a copy of descriptor 2, a temporary file), or None where either cannot be made."""
    try:
        _flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        return None
    try:
        return saved, tempfile.TemporaryFile()
    except OSError:
        os.close(saved)
        return None


def _restore(saved: int) -> None:
    _flush()
    os.dup2(saved, 2)


def _flush() -> None:
    if sys.stderr is not None:  # None when the process started with descriptor 2 closed
        sys.stderr.flush()


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader

    def __getattr__(self, name):  # the rest of the loader's interface (resources, code...)
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        with captured():
            self.loader.exec_module(module)
            module.config.list_physical_devices("GPU")  # CUDA's start-up lines (cuInit...) now


class _QuietTensorFlow(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` as the other finders do, and loads it inside `captured()`; once."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def install() -> None:
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietTensorFlow) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlow())
