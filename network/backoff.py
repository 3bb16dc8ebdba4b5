"""Reconnection delays: exponential backoff with jitter, from an injected randomness source."""

from __future__ import annotations

from typing import Protocol


class RandomSource(Protocol):
    """What backoff needs of randomness; `random.Random(seed)` fits, so tests are deterministic."""

    def random(self) -> float: ...


def compute_backoff_ms(attempt: int, *, base_ms: int, max_ms: int, rng: RandomSource) -> int:
    """Return how long to wait before dial number `attempt + 1` after `attempt` failures in a row.

    The ceiling doubles per failure, `min(max_ms, base_ms * 2**attempt)`, and the delay is drawn
    uniformly from [ceiling / 2, ceiling) ("equal jitter"): never a tight loop, and peers that lost a
    link at the same instant do not all redial at the same instant.
    """
    ceiling = min(max_ms, base_ms << min(max(attempt, 0), 32))
    floor = ceiling // 2
    return floor + int(rng.random() * (ceiling - floor))
