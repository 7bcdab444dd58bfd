"""A one-line progress bar on a terminal (nothing when the stream is not a terminal)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def format_duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


class ProgressBar:
    """`update(done, count)` redraws `[####......]  42%  1,234 documents  310 documents/s  ETA 0:00:12`.

    Args:
        total: the amount that `done` counts towards (e.g. input bytes).
        unit: what `count` counts (e.g. "documents").
        stream: where to draw; only a terminal gets the bar.
    """

    def __init__(self, total: float, unit: str, stream: TextIO | None = None, width: int = 30):
        self.total = max(total, 1)
        self.unit = unit
        self.stream = stream or sys.stderr
        self.width = width
        self.enabled = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()

    def update(self, done: float, count: int) -> None:
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.start
        fraction = min(done / self.total, 1.0)
        filled = int(fraction * self.width)
        rate = count / elapsed if elapsed > 0 else 0.0
        eta = elapsed * (1 - fraction) / fraction if fraction > 0 else 0.0
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (self.width - filled)}] {fraction:4.0%}  {count:,} {self.unit}  "
            f"{rate:,.0f} {self.unit}/s  ETA {format_duration(eta)} "
        )
        self.stream.flush()

    def clear(self) -> None:
        """Erases the bar so that a log line can take its place (it is redrawn on update)."""
        if self.enabled:
            self.stream.write("\r\033[K")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
