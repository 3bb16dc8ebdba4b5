"""A small asyncio TCP proxy for fault tests: partitions (`cut` / `heal`), black holes (`stall`) and
added latency between two endpoints on 127.0.0.1. It never listens or connects anywhere else."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

LOOPBACK: Final = "127.0.0.1"


class TcpProxy:
    """Forward connections from 127.0.0.1:`listen_port` (0 picks a free port) to the target.

    `cut()` closes every connection and refuses new ones (a partition) until `heal()`. `stall()` keeps
    connections open but forwards nothing (a black hole; bytes are held, not lost) until `heal()`.
    `latency_ms` delays every chunk in both directions. With `record`, every byte forwarded (both
    direction, per connection) is kept in `captured`: one `(to_target, from_target)` pair per connection.
    """

    def __init__(
        self, listen_port: int, target_host: str, target_port: int, *, latency_ms: int = 0, record: bool = False
    ) -> None:
        if target_host not in (LOOPBACK, "localhost"):
            raise ValueError("TcpProxy only connects to 127.0.0.1")
        self.port = listen_port
        self.latency_ms = latency_ms
        self._target_port = target_port
        self._server: asyncio.Server | None = None
        self._cut = False
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.accepted = 0
        self.refused = 0
        self.record = record
        self.captured: list[tuple[bytearray, bytearray]] = []
        self.tamper_after: int | None = None
        """Set to N: the first chunk from the target that ends past byte N of a connection has its last byte
        flipped, once (an on-path attacker altering a frame)."""
        self.tampered = 0

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, LOOPBACK, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening, close every connection, and wait for every connection task to end."""
        if self._server is not None:
            self._server.close()
        self._cut = True
        self._flowing.set()  # held bytes move on and meet the closed transports
        self._close_all()
        # Connection tasks belong to asyncio.Server, which does not await them; they end on their own
        # once their transports are closed (cancelling them makes asyncio log an error in 3.11).
        if self._tasks:
            await asyncio.wait(set(self._tasks))
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def cut(self) -> None:
        self._cut = True
        self._close_all()

    def stall(self) -> None:
        self._flowing.clear()

    def heal(self) -> None:
        self._cut = False
        self._flowing.set()

    def _close_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # asyncio.Server does not own connection tasks: stop() awaits them
        self._writers.add(client_writer)
        try:
            if self._cut:
                self.refused += 1
                return
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection(LOOPBACK, self._target_port)
            except OSError:
                return
            self.accepted += 1
            self._writers.add(upstream_writer)
            to_target, from_target = bytearray(), bytearray()
            if self.record:
                self.captured.append((to_target, from_target))
            try:
                pumps = [
                    asyncio.ensure_future(self._pump(client_reader, upstream_writer, to_target)),
                    asyncio.ensure_future(self._pump(upstream_reader, client_writer, from_target, tamper=True)),
                ]
                try:
                    await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for pump in pumps:
                        pump.cancel()
                    await asyncio.wait(pumps)
            finally:
                await self._close(upstream_writer)
        finally:
            await self._close(client_writer)
            self._tasks.discard(task)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, capture: bytearray, *, tamper: bool = False
    ) -> None:
        forwarded = 0
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                forwarded += len(data)
                if tamper and self.tamper_after is not None and forwarded > self.tamper_after:
                    data = data[:-1] + bytes([data[-1] ^ 0x01])
                    self.tamper_after, self.tampered = None, self.tampered + 1
                await self._flowing.wait()
                if self.latency_ms:
                    await asyncio.sleep(self.latency_ms / 1000)
                if self.record:
                    capture += data
                writer.write(data)
                await writer.drain()

    async def _close(self, writer: asyncio.StreamWriter) -> None:
        self._writers.discard(writer)
        writer.transport.abort()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def websocket_payloads(stream: bytes) -> list[bytes]:
    """The payloads, client masks removed, of the WebSocket frames (RFC 6455 section 5.2) in one direction
    of one captured connection, after its HTTP upgrade: what an eavesdropper reads."""
    position, payloads = stream.index(b"\r\n\r\n") + 4, []
    while position + 2 <= len(stream):
        masked, length = stream[position + 1] & 0x80, stream[position + 1] & 0x7F
        position += 2
        if length == 126:
            length, position = int.from_bytes(stream[position:position + 2], "big"), position + 2
        elif length == 127:
            length, position = int.from_bytes(stream[position:position + 8], "big"), position + 8
        mask = stream[position:position + 4] if masked else bytes(4)
        position += 4 if masked else 0
        data = stream[position:position + length]
        payloads.append(bytes(byte ^ mask[i % 4] for i, byte in enumerate(data)))
        position += length
    return payloads
