"""Progress of a long operator job (a store check, later a backup or a catch-up): done of total, the
percentage, the time spent and an estimate of the time left.

On a terminal it is one line rewritten in place a few times a second; anywhere else (a pipe, a log file,
journald) it is a plain line every few seconds and one at the end, so the record stays readable. The
clock is passed in, so the rendering is tested without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final, TextIO

LIVE_INTERVAL_S: Final = 0.2
PLAIN_INTERVAL_S: Final = 10.0


def compute_eta(done: int, total: int, elapsed_s: float) -> float | None:
    """Seconds left at the average pace so far, or None before there is a pace to go by."""
    if done <= 0 or total <= 0 or elapsed_s <= 0:
        return None
    return max(0.0, elapsed_s / done * (total - done))


def format_duration(seconds: float) -> str:
    """`0:07`, `12:30`, `1:02:03`."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_progress(what: str, done: int, total: int, elapsed_s: float) -> str:
    """`checking blocks: 1,200 of 5,000 (24%), 0:12 spent, about 0:38 left`."""
    percent = 100 if total <= 0 else min(100, done * 100 // total)
    text = f"{what}: {done:,} of {total:,} ({percent}%), {format_duration(elapsed_s)} spent"
    if done >= total:
        return text
    eta = compute_eta(done, total, elapsed_s)
    return text + (", estimating the time left" if eta is None else f", about {format_duration(eta)} left")


class ProgressLine:
    """Renders `update` calls to `stream`: in place when `live`, else as plain lines every `PLAIN_INTERVAL_S`.

    `note` prints a one-off line (a phase starting or ending) without breaking an updating line.
    """

    def __init__(self, stream: TextIO, *, live: bool, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._live = live
        self._clock = clock
        self._interval = LIVE_INTERVAL_S if live else PLAIN_INTERVAL_S
        self._what: str | None = None
        self._started = 0.0
        self._last_shown: float | None = None
        self._open_width = 0
        """Characters on the live line now; 0 when no live line is open."""

    @classmethod
    def for_stream(cls, stream: TextIO) -> ProgressLine:
        return cls(stream, live=stream.isatty())

    def update(self, what: str, done: int, total: int) -> None:
        now = self._clock()
        if what != self._what:
            self._what, self._started, self._last_shown = what, now, None
        finished = done >= total
        if not finished and self._last_shown is not None and now - self._last_shown < self._interval:
            return
        self._last_shown = now
        text = format_progress(what, done, total, now - self._started)
        if self._live:
            self._stream.write("\r" + text.ljust(self._open_width))
            self._open_width = 0 if finished else len(text)
            if finished:
                self._stream.write("\n")
        else:
            self._stream.write(text + "\n")
        self._stream.flush()

    def note(self, text: str) -> None:
        self.close()
        self._stream.write(text + "\n")
        self._stream.flush()

    def close(self) -> None:
        """Ends a live line left open (a job that stopped before its total)."""
        if self._open_width:
            self._stream.write("\n")
            self._stream.flush()
            self._open_width = 0
