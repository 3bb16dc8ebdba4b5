"""The one source of wall-clock time: a protocol passed to whatever needs time, so tests can fake it.

Consensus and contracts never read a clock: they use block time. The node (block time of its proposals,
proposer-based timestamp checks) and the network (scores, bans, connection times) take a `Clock`.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int: ...


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000
