"""Reading pretraining text: one sentence per line, a blank line between documents (Google's
format), plain or gzip, UTF-8.

Invalid UTF-8 is an error that names the file, the line and the byte offset, unless
`errors="replace"` substitutes U+FFFD; a truncated or corrupt gzip file is such an error too.
The end of a file also ends a document (Google's script lets the last document of one file run
on into the next file). Windows line endings read as Unix ones, so the same text saved on either
system gives the same documents, character for character.
"""

from __future__ import annotations

import glob
import gzip
import os
import zlib
from collections.abc import Iterator, Sequence
from typing import BinaryIO


class InputError(ValueError):
    """Bad input text; the message is one line naming the file and the place."""


def expand_input_patterns(patterns: str | Sequence[str]) -> list[str]:
    """Files matching comma-separated glob patterns (each pattern's matches sorted); a pattern
    matching nothing is an error."""
    if isinstance(patterns, str):
        patterns = [p for p in patterns.split(",") if p.strip()]
    files: list[str] = []
    for pattern in patterns:
        pattern = pattern.strip()
        # an existing file is itself (its name may hold glob characters such as "[")
        matches = [pattern] if os.path.isfile(pattern) else sorted(glob.glob(pattern))
        if not matches:
            raise InputError(f"{pattern}: no input file matches; check --input_file")
        files.extend(m for m in matches if m not in files)
    if not files:
        raise InputError("no input files given; pass --input_file")
    return files


def refuse_overwriting(inputs: Sequence[str], outputs: Sequence[str], flag: str = "--output_file") -> None:
    """An output that is one of the inputs (after symlinks) is an error, before anything is written."""
    read = {os.path.realpath(path) for path in inputs}
    for path in outputs:
        if os.path.realpath(path) in read:
            raise InputError(f"{path}: {flag} would write over this input; write the output elsewhere")


def _open(path: str) -> tuple[BinaryIO, BinaryIO]:
    """(the stream to read lines from, the raw file whose position measures progress)."""
    raw = open(path, "rb")
    if raw.read(2) == b"\x1f\x8b":
        raw.seek(0)
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw  # type: ignore[return-value]
    raw.seek(0)
    return raw, raw


# What a truncated (EOFError), corrupt (zlib.error) or mismatching (BadGzipFile: CRC, length,
# header) gzip stream raises while it is read.
_GZIP_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)


def _numbered_lines(stream: BinaryIO, path: str) -> Iterator[tuple[int, int, bytes]]:
    """(line number, byte offset in the uncompressed text, line) of each line of `stream`; a
    damaged gzip file is an InputError naming the line reached and its offset."""
    number, offset = 1, 0
    try:
        for line in stream:
            yield number, offset, line
            number, offset = number + 1, offset + len(line)
    except _GZIP_ERRORS as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(
            f"{path}: line {number}, byte offset {offset} of the uncompressed text: the gzip file is "
            f"truncated or corrupt ({reason}); download or compress it again"
        ) from None


class DocumentReader:
    """Iterates over the documents of several files; each document is a list of its non-blank
    lines. `position` is the number of (compressed) input bytes consumed so far and `total` the
    sum of the file sizes, for progress reports."""

    def __init__(self, paths: Sequence[str], errors: str = "strict"):
        if errors not in ("strict", "replace"):
            raise ValueError(f"errors must be 'strict' or 'replace', got {errors!r}")
        self.paths = list(paths)
        self.errors = errors
        self.total = sum(os.path.getsize(p) for p in self.paths)
        self.position = 0

    def _lines(self, path: str) -> Iterator[str]:
        done_before = self.position
        stream, raw = _open(path)
        with raw, stream:
            for number, offset, line in _numbered_lines(stream, path):
                if line.endswith(b"\r\n"):
                    line = line[:-2] + b"\n"
                elif line.endswith(b"\r"):  # a last line without its "\n"
                    line = line[:-1]
                try:
                    yield line.decode("utf-8", errors=self.errors)
                except UnicodeDecodeError as err:
                    raise InputError(
                        f"{path}: line {number}, byte offset {offset + err.start}: invalid UTF-8; "
                        "fix the file or pass --errors=replace"
                    ) from None
                self.position = done_before + raw.tell()
        self.position = done_before + os.path.getsize(path)

    def __iter__(self) -> Iterator[list[str]]:
        for path in self.paths:
            document: list[str] = []
            for line in self._lines(path):
                if line.strip():
                    document.append(line)
                elif document:
                    yield document
                    document = []
            if document:
                yield document
