"""The node's log lines: plain text (the default) or one JSON object per line, each carrying the consensus
height when one is known.

A JSON line has `time` (ISO-8601 UTC, milliseconds), `level`, `logger`, `message`, `height` (the height
being decided: the head plus one) when the line comes from a node's own tasks, and `exception` when one
was logged. A call may name the height itself: `log.info(..., extra={"height": h})`.

The height comes from `HEIGHT_SOURCE`, a context variable that `chainnode.service.serve` sets before it
starts the node's tasks: every task and worker thread (`asyncio.to_thread`) started from there inherits
it, so several nodes in one process each log their own height, and lines from elsewhere carry none.
Only what a call passes as its message and arguments is written: no call in this package logs a key,
seed, passphrase or request body, and the formatter adds no attributes of its own beyond those above.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Final

FORMATS: Final = ("text", "json")
HEIGHT_SOURCE: Final[ContextVar[Callable[[], int] | None]] = ContextVar("chainnode_height_source", default=None)
"""Returns the height being decided; set by the code that runs a node (see the module docstring)."""
TEXT_FORMAT: Final = "%(asctime)s.%(msecs)03dZ %(levelname)-5s %(name)s: %(message)s"
DATE_FORMAT: Final = "%Y-%m-%dT%H:%M:%S"


def get_record_height(record: logging.LogRecord) -> int | None:
    """The height a record names (`extra={"height": h}`), else the one its context is deciding, else None."""
    height = getattr(record, "height", None)
    if type(height) is int:
        return height
    source = HEIGHT_SOURCE.get()
    if source is None:
        return None
    try:
        return source()
    except Exception:  # a log line must never fail because the node is half closed
        return None


class LogFormatter(logging.Formatter):
    """Log lines with ISO-8601 UTC timestamps; with `as_json`, one JSON object per line."""

    def __init__(self, *, as_json: bool) -> None:
        super().__init__(TEXT_FORMAT, DATE_FORMAT)
        self.as_json = as_json

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return time.strftime(datefmt or DATE_FORMAT, time.gmtime(record.created))

    def format(self, record: logging.LogRecord) -> str:
        if not self.as_json:
            return super().format(record)
        document: dict[str, object] = {
            "time": f"{self.formatTime(record, self.datefmt)}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage(),
        }
        height = get_record_height(record)
        if height is not None:
            document["height"] = height
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False)


def configure_logging(*, level: str, log_format: str) -> None:
    """Send the process's log lines to stderr at `level` ("info", ...), as "text" or "json"."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogFormatter(as_json=log_format == "json"))
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), handlers=[handler])
