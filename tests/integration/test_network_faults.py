"""Links under faults: a peer that stops and starts again, a partition and its healing through a TCP
proxy, a black hole that only the ping timeout can see, added latency, and an address that comes back
with another key."""

from __future__ import annotations

import logging

import pytest

from network.errors import CLOSE_PING_TIMEOUT
from tests.integration.test_network_support import KEYS, Cluster, free_port, logged, wait_linked, wait_until
from tests.tcp_proxy import TcpProxy

A, B, C = KEYS[0], KEYS[1], KEYS[2]


async def test_reconnects_after_the_peer_stops_and_starts_again() -> None:
    port = free_port()
    async with Cluster() as cluster:
        a = await cluster.add(A, listen=f"127.0.0.1:{port}")
        b = await cluster.add(B, peers=[a.address])
        await wait_linked(a, b)
        await a.network.stop()
        await wait_until(lambda: b.network.peers() == [], "b to notice a is gone")
        assert b.handler.disconnected == [A.public_key]

        again = await cluster.add(A, listen=f"127.0.0.1:{port}")
        await wait_linked(again, b)
        assert b.handler.connected == [A.public_key, A.public_key]
        assert await b.network.request(A.public_key, "block", b"back", timeout=2) == b"kcab"


async def test_address_that_answers_with_another_key_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="network")
    port = free_port()
    async with Cluster() as cluster:
        a = await cluster.add(A, listen=f"127.0.0.1:{port}")
        b = await cluster.add(B, peers=[a.address])
        await wait_linked(a, b)
        await a.network.stop()
        c = await cluster.add(C, listen=f"127.0.0.1:{port}")
        await wait_linked(b, c)
        assert logged(caplog, f"127.0.0.1:{port} answered with key {C.public_key.hex()[:16]}",
                      f"before with key {A.public_key.hex()[:16]}") == 1


async def test_partition_through_a_proxy_then_heal() -> None:
    async with Cluster() as cluster:
        a = await cluster.add(A)
        proxy = TcpProxy(0, "127.0.0.1", int(a.address.rsplit(":", 1)[1]))
        await proxy.start()
        try:
            b = await cluster.add(B, peers=[proxy.address])
            await wait_linked(a, b)

            proxy.cut()
            await wait_until(lambda: a.network.peers() == [] and b.network.peers() == [], "both sides to see the cut")
            await wait_until(lambda: proxy.refused >= 2, "redials to hit the partition")
            assert a.network.peers() == [] and b.network.peers() == []

            proxy.heal()
            await wait_linked(a, b)
            assert await b.network.request(A.public_key, "block", b"healed", timeout=2) == b"delaeh"
        finally:
            await proxy.stop()


async def test_black_hole_is_found_by_the_ping_timeout(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="network")
    async with Cluster() as cluster:
        a = await cluster.add(A, ping_interval_ms=100, ping_timeout_ms=400, handshake_timeout_ms=400)
        proxy = TcpProxy(0, "127.0.0.1", int(a.address.rsplit(":", 1)[1]))
        await proxy.start()
        try:
            b = await cluster.add(B, peers=[proxy.address], ping_interval_ms=100, ping_timeout_ms=400,
                                  handshake_timeout_ms=400)
            await wait_linked(a, b)

            proxy.stall()  # the TCP connections stay up; nothing gets through
            await wait_until(lambda: a.network.peers() == [] and b.network.peers() == [], "ping timeouts")
            assert logged(caplog, "closed: no pong within 400 ms") >= 1

            proxy.heal()
            await wait_linked(a, b)
        finally:
            await proxy.stop()
    assert CLOSE_PING_TIMEOUT == 4002


async def test_latency_shows_in_the_round_trip_time() -> None:
    async with Cluster() as cluster:
        a = await cluster.add(A)
        proxy = TcpProxy(0, "127.0.0.1", int(a.address.rsplit(":", 1)[1]), latency_ms=40)
        await proxy.start()
        try:
            b = await cluster.add(B, peers=[proxy.address])
            await wait_linked(a, b)
            assert await b.network.request(A.public_key, "block", b"slowly", timeout=2) == b"ylwols"
            await wait_until(lambda: all(p.rtt_ms is not None for p in b.network.peers()), "a ping round trip")
            assert b.network.peers()[0].rtt_ms >= 80  # type: ignore[operator]
        finally:
            await proxy.stop()
