"""The read pool: reads beyond its threads and queue are refused with `busy` at once, and the pool
admits again once its reads finish, even those whose callers stopped waiting."""

from __future__ import annotations

import asyncio
import threading

import pytest

from chainnode.errors import Busy
from chainnode.read_pool import ReadPool


async def test_a_full_pool_refuses_with_busy_then_recovers() -> None:
    pool = ReadPool(threads=1, queue=1)
    release = threading.Event()
    try:
        running = asyncio.ensure_future(pool.run(release.wait, 30))
        waiting = asyncio.ensure_future(pool.run(lambda: "queued"))
        await asyncio.sleep(0)
        with pytest.raises(Busy) as refused:
            await pool.run(lambda: "refused")
        assert refused.value.code == "busy" and refused.value.http_status == 503
        release.set()
        assert await running is True and await waiting == "queued"
        assert pool.admitted == 0 and await pool.run(lambda: 7) == 7
    finally:
        release.set()
        pool.shutdown()


async def test_a_caller_that_stops_waiting_keeps_its_slot_until_the_read_ends() -> None:
    pool = ReadPool(threads=1, queue=0)
    release = threading.Event()
    try:
        task = asyncio.ensure_future(pool.run(release.wait, 30))
        while pool.admitted == 0:  # the read has its thread
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        with pytest.raises(Busy):  # the thread is still busy with the abandoned read
            await pool.run(lambda: None)
        release.set()
        for _ in range(200):
            if pool.admitted == 0:
                break
            await asyncio.sleep(0.01)
        assert await pool.run(lambda: "free") == "free"
    finally:
        release.set()
        pool.shutdown()
