"""The peer listener under sockets that never become links: idle connections, slow headers, plain HTTP
requests and refused upgrades, against a running `Network` on 127.0.0.1 with real TCP sockets."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest
from aiohttp import web

from tests.integration.test_network_support import KEYS, Cluster, RawPeer, logged, wait_linked, wait_until

A, B = KEYS[0], KEYS[1]
LISTENER = {"max_pending_connections": 16, "header_timeout_ms": 300}


async def closed_by_server(reader: asyncio.StreamReader, *, within: float) -> bytes:
    """Read until the server closes the connection; return what it sent. Fails if it stays open."""
    data = b""
    async with asyncio.timeout(within):
        while True:
            try:
                chunk = await reader.read(4096)
            except ConnectionResetError:
                return data
            if not chunk:
                return data
            data += chunk


def host_port(address: str) -> tuple[str, int]:
    host, port = address.rsplit(":", 1)
    return host, int(port)


async def test_idle_connections_are_capped_and_timed_out(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="network")
    async with Cluster() as cluster:
        a = await cluster.add(A, **LISTENER)
        host, port = host_port(a.address)
        sockets = [await asyncio.open_connection(host, port) for _ in range(200)]
        try:
            # every one is closed by the node: the excess at once, the rest after the header timeout
            results = await asyncio.gather(*(closed_by_server(reader, within=5) for reader, _ in sockets))
            assert results == [b""] * 200
        finally:
            for _, writer in sockets:
                writer.close()
        gate = a.network._gate
        assert gate is not None and gate.pending == 0
        assert gate.refused >= 200 - 16 - 16 and gate.timed_out >= 1
        # the flood is not logged line by line
        assert logged(caplog, "connection") <= 30
        # and a real peer still links
        b = await cluster.add(B, peers=[a.address])
        await wait_linked(a, b)


async def test_a_slow_header_is_closed_after_the_timeout() -> None:
    async with Cluster() as cluster:
        a = await cluster.add(A, **LISTENER)
        reader, writer = await asyncio.open_connection(*host_port(a.address))
        writer.write(b"GET /p2p HTTP/1.1\r\nHost: x\r\n")  # and never the end of the headers
        await writer.drain()
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await closed_by_server(reader, within=3) == b""
        assert loop.time() - started < 2
        writer.close()


@pytest.mark.parametrize("request_line, status", [
    (b"GET /p2p HTTP/1.1", b"400"),  # no upgrade headers
    (b"GET /metrics HTTP/1.1", b"404"),
    (b"POST /p2p HTTP/1.1", b"404"),
])
async def test_non_upgrade_requests_get_a_short_answer_and_are_closed(
    request_line: bytes, status: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with Cluster() as cluster:
        a = await cluster.add(A, header_timeout_ms=10_000)
        for _ in range(50):
            reader, writer = await asyncio.open_connection(*host_port(a.address))
            writer.write(request_line + b"\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
            await writer.drain()
            # closed right after the answer, not kept alive until some timeout
            answer = await closed_by_server(reader, within=2)
            writer.close()
            assert answer.split(b" ", 2)[1] == status and b"Connection: close" in answer
        assert len([r for r in caplog.records if r.name.startswith(("network", "aiohttp"))]) <= 11


async def test_a_peer_that_vanishes_during_the_upgrade_is_routine(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with Cluster() as cluster:
        a = await cluster.add(A)

        async def reset(self: web.WebSocketResponse, request: web.BaseRequest) -> None:
            raise ConnectionResetError("Cannot write to closing transport")

        with monkeypatch.context() as patch:
            patch.setattr(web.WebSocketResponse, "prepare", reset)
            async with RawPeer(B) as raw:
                with pytest.raises(aiohttp.ClientError):
                    await raw.connect(a.address)
            await wait_until(lambda: logged(caplog, "lost during the WebSocket upgrade") >= 1, "the upgrade to fail")
        # no traceback, no error line; the handshake slot is given back and a real peer still links
        assert [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []
        assert a.network._handshakes == 0
        b = await cluster.add(B, peers=[a.address])
        await wait_linked(a, b)
