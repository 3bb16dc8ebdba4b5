"""The peer listener's guard against connections that never become links, and a log that cannot be flooded.

Theory of operation. `ConnectionGate` is the protocol factory of the listening socket: it wraps each of
aiohttp's protocol objects in a thin forwarder that counts the connection as *pending* from its TCP
accept until its first request reaches the node (`release`, called by the `/p2p` handler). A pending
connection that sends no complete request within `header_timeout_s` is closed; a connection accepted
while `max_pending` are pending is aborted at once. A released connection is the node's to bound: the
WebSocket handshake has its own timeout and cap (`max_handshakes`), and any other request is answered
with `Connection: close`. So idle or slow TCP connections cost a socket for a few seconds at most, and
never more than `max_pending` sockets at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any


class RateLimitedLog:
    """Logs at most `burst` lines per `window_ms` for one kind of event; says how many it left out.

    For events a stranger can cause at will (refused connections and handshakes): each one is routine,
    a flood of them must not flood the log. `now_ms` is passed in, so tests need no real clock.
    """

    def __init__(self, logger: logging.Logger, *, now_ms: Callable[[], int], burst: int = 10,
                 window_ms: int = 10_000) -> None:
        self._log, self._now_ms, self._burst, self._window_ms = logger, now_ms, burst, window_ms
        self._window_start = -window_ms
        self._count = 0
        self._suppressed = 0

    def warning(self, message: str, *args: Any) -> None:
        now = self._now_ms()
        if now - self._window_start >= self._window_ms:
            if self._suppressed:
                self._log.warning("%d more like this were not logged in the last %d ms: " + message,
                                  self._suppressed, self._window_ms, *args)
            self._window_start, self._count, self._suppressed = now, 0, 0
        if self._count < self._burst:
            self._count += 1
            self._log.warning(message, *args)
        else:
            self._suppressed += 1


class ConnectionGate:
    """Protocol factory for the listener: caps and times out connections that have not sent a request."""

    def __init__(
        self, factory: Callable[[], asyncio.Protocol], *, max_pending: int, header_timeout_s: float,
        log: RateLimitedLog,
    ) -> None:
        self._factory, self._max_pending, self._timeout_s, self._log = factory, max_pending, header_timeout_s, log
        self._pending: dict[asyncio.BaseTransport, asyncio.TimerHandle] = {}
        self.refused = 0
        """Connections aborted because `max_pending` were pending."""
        self.timed_out = 0
        """Connections closed because no request came within the header timeout."""

    @property
    def pending(self) -> int:
        return len(self._pending)

    def __call__(self) -> asyncio.Protocol:
        return _GatedProtocol(self._factory(), self)

    def admit(self, transport: asyncio.BaseTransport) -> bool:
        """Count a new connection as pending and start its timer; False (abort it) if too many are."""
        if len(self._pending) >= self._max_pending:
            self.refused += 1
            self._log.warning("refused a connection from %s: %d connections have sent no request yet",
                              _peer(transport), len(self._pending))
            return False
        loop = asyncio.get_running_loop()
        self._pending[transport] = loop.call_later(self._timeout_s, self._on_timeout, transport)
        return True

    def release(self, transport: asyncio.BaseTransport | None) -> None:
        """The connection's first request reached the node: it is no longer pending."""
        if transport is not None and (timer := self._pending.pop(transport, None)) is not None:
            timer.cancel()

    def close(self) -> None:
        """Stop every timer (the listener is stopping; its connections are closed by the server)."""
        for timer in self._pending.values():
            timer.cancel()
        self._pending.clear()

    def _on_timeout(self, transport: asyncio.BaseTransport) -> None:
        if self._pending.pop(transport, None) is not None:
            self.timed_out += 1
            self._log.warning("closed a connection from %s: no request within %.1f s", _peer(transport),
                              self._timeout_s)
            transport.close()


def _peer(transport: asyncio.BaseTransport) -> str:
    peername = transport.get_extra_info("peername")
    return f"{peername[0]}:{peername[1]}" if peername else "?"


class _GatedProtocol(asyncio.Protocol):
    """Forwards every call to aiohttp's protocol, unless the gate refused the connection."""

    def __init__(self, inner: asyncio.Protocol, gate: ConnectionGate) -> None:
        self._inner: asyncio.Protocol | None = inner
        self._gate = gate
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        if not self._gate.admit(transport):
            self._inner = None
            transport.abort()  # type: ignore[attr-defined]
            return
        assert self._inner is not None
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        self._gate.release(self._transport)
        if self._inner is not None:
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()
