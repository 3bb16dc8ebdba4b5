"""The source of wall-clock time for networking (scores, bans, connection times), passed in so tests
can use a fake one. Deadlines on the event loop (timeouts, pings) use the loop's monotonic clock."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int: ...


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000
