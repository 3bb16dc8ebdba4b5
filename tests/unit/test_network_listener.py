"""The rate-limited log: a burst of lines per window, then one line saying how many were left out."""

from __future__ import annotations

import logging

import pytest

from network.listener import RateLimitedLog


def test_a_flood_is_logged_as_a_burst_and_a_count(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="test.flood")
    now = [0]
    limited = RateLimitedLog(logging.getLogger("test.flood"), now_ms=lambda: now[0], burst=3, window_ms=1_000)
    for i in range(100):
        limited.warning("refused %d", i)
    assert [r.getMessage() for r in caplog.records] == ["refused 0", "refused 1", "refused 2"]
    now[0] = 1_000
    limited.warning("refused %d", 100)
    assert [r.getMessage() for r in caplog.records[3:]] == [
        "97 more like this were not logged in the last 1000 ms: refused 100", "refused 100"
    ]
