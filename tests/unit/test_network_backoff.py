"""Reconnection delays: doubling, capped, jittered, and deterministic for a seeded source."""

from __future__ import annotations

import random

from network.backoff import compute_backoff_ms


def test_delays_double_up_to_the_cap_with_equal_jitter() -> None:
    rng = random.Random(7)
    for attempt, ceiling in enumerate([100, 200, 400, 800, 1000, 1000]):
        for _ in range(50):
            delay = compute_backoff_ms(attempt, base_ms=100, max_ms=1000, rng=rng)
            assert ceiling // 2 <= delay < ceiling


def test_extremes() -> None:
    class Fixed:
        def __init__(self, value: float) -> None:
            self.value = value

        def random(self) -> float:
            return self.value

    assert compute_backoff_ms(0, base_ms=100, max_ms=1000, rng=Fixed(0.0)) == 50
    assert compute_backoff_ms(0, base_ms=100, max_ms=1000, rng=Fixed(0.999999)) == 99
    assert compute_backoff_ms(10**6, base_ms=100, max_ms=1000, rng=Fixed(0.0)) == 500  # no overflow


def test_same_seed_same_delays() -> None:
    def run(seed: int) -> list[int]:
        rng = random.Random(seed)
        return [compute_backoff_ms(n, base_ms=500, max_ms=30_000, rng=rng) for n in range(10)]

    assert run(1) == run(1) and run(1) != run(2)
