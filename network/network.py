"""The node's side of the peer-to-peer network: a listener, a dialer per configured address, at most
one authenticated and encrypted link per peer key, and scores and bans for peers that misbehave.

Theory of operation. `start` binds the listener (an aiohttp app with one WebSocket route, `/p2p`, behind
a `ConnectionGate` that caps and times out connections that have sent no request) and starts a
supervisor task whose TaskGroup owns every other task: one dialer per configured address, one per node
key of the dial targets (`set_dial_targets`: the on-chain roster) and one task per link, inbound links
included (the aiohttp request handler only waits for its link's task).
`stop` ends the TaskGroup (closing every link), then the listener and the client session. Peer-facing
failures end a link, never the network; an exception from the handler is charged to the peer whose
input raised it (see network/link.py). Only a bug in the network's own tasks stops it, and `stop` /
`wait_closed` raise it.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import random
from collections.abc import Callable, Mapping
from typing import Final

import aiohttp
from aiohttp import web

from chainnode.config import parse_listen
from chainnode.crypto import PrivateKey
from chainnode.errors import ConfigError, InvariantViolation
from network.backoff import RandomSource
from network.clock import Clock, SystemClock
from network.config import NetworkConfig
from network.dialer import Dialer
from network.errors import (
    CLOSE_DUPLICATE,
    CLOSE_GOING_AWAY,
    HandshakeAborted,
    HandshakeRefused,
    HandshakeTimeout,
    InvalidOutgoingMessage,
    ListenError,
    PeerNotConnected,
    SelfConnection,
)
from network.frames import CONTROL_FRAME_LIMIT, FRAME_OVERHEAD, NONCE_SIZE, Hello, Message, encode_frame
from network.handler import MessageHandler
from network.link import (
    P2P_PATH,
    Direction,
    HandshakeExchange,
    Link,
    LinkOutcome,
    LinkResult,
    SealedWebSocket,
    WebSocket,
    close_websocket,
    format_key,
)
from network.listener import ConnectionGate, RateLimitedLog
from network.registry import PeerInfo, PeerRegistry
from network.scoring import Ban, Offence
from network.session import TAG_SIZE, EphemeralKey

__all__ = ["Network", "PeerInfo", "create_p2p_app"]

log = logging.getLogger("network")


class _Phase(enum.Enum):
    NEW = "new"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


class _Stopping(Exception):
    """Raised in the supervisor's TaskGroup to end it on `stop`."""


def validate_outgoing(limits: Mapping[str, int], kind: str, payload: bytes) -> None:
    """Raise InvalidOutgoingMessage for a kind without a limit or a payload over its limit."""
    limit = limits.get(kind)
    if limit is None:
        raise InvalidOutgoingMessage(f"unknown message kind {kind!r}", field="kind")
    if len(payload) > limit:
        raise InvalidOutgoingMessage(f"a {len(payload)}-byte {kind} payload exceeds {limit}", field="payload")


class Network:
    """Authenticated links to the other department nodes.

    `is_allowed(key)` says whether a node key may link to us (a current validator or registered
    observer); it is asked at every handshake and by `disconnect_disallowed`. `clock` and `rng` default
    to the system clock and a fresh `random.Random()`; handshake nonces always come from os.urandom.
    """

    def __init__(
        self, config: NetworkConfig, node_key: PrivateKey, *, is_allowed: Callable[[bytes], bool],
        handler: MessageHandler, clock: Clock | None = None, rng: RandomSource | None = None,
    ) -> None:
        self._config, self._key, self._handler = config, node_key, handler
        self._rng = rng or random.Random()
        self._registry = PeerRegistry(config, is_allowed=is_allowed, handler=handler, clock=clock or SystemClock())
        # every WebSocket message after the hellos is a sealed frame, TAG_SIZE longer than the frame
        self._max_msg_size = max(config.max_limit + FRAME_OVERHEAD, CONTROL_FRAME_LIMIT) + TAG_SIZE
        self._phase = _Phase.NEW
        self._stop_requested = asyncio.Event()
        self._stopped = asyncio.Event()
        self._handshakes = 0
        self._bound: str | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._group: asyncio.TaskGroup | None = None
        self._dialer: Dialer | None = None
        self._listener: asyncio.Server | None = None
        self._gate: ConnectionGate | None = None
        self._refusals = RateLimitedLog(log, now_ms=self._registry.now_ms)
        """Refused connections and failed handshakes: routine one by one, so a flood is not logged in full."""
        self._dial_targets: dict[bytes, str] = {}
        """The roster's node key -> address, as last set; dialed besides the configured peers."""
        self._target_dialers: dict[bytes, tuple[str, asyncio.Task[None]]] = {}

    @property
    def public_key(self) -> bytes:
        return self._key.public_key

    @property
    def address(self) -> str:
        """The HOST:PORT the listener is bound to (the real port when the config said 0)."""
        if self._bound is None:
            raise InvariantViolation("Network.address is known only after start()")
        return self._bound

    # --- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the listener and start dialing. Raises ListenError if the address cannot be bound."""
        if self._phase is not _Phase.NEW:
            raise InvariantViolation("Network.start() may be called only once")
        host, port = parse_listen(self._config.listen, field="listen")
        runner = web.AppRunner(
            create_p2p_app(self), handle_signals=False, access_log=None,
            # links are closed before the runner stops, so its handlers are done well within this
            shutdown_timeout=self._config.close_timeout_ms / 1000 + 2.0,
            keepalive_timeout=self._config.header_timeout_ms / 1000,
        )
        await runner.setup()
        if runner.server is None:
            raise InvariantViolation("the aiohttp runner has no server after setup()")
        self._gate = ConnectionGate(
            runner.server, max_pending=self._config.max_pending_connections,
            header_timeout_s=self._config.header_timeout_ms / 1000, log=self._refusals,
        )
        try:
            self._listener = await asyncio.get_running_loop().create_server(self._gate, host, port, reuse_address=True)
        except OSError as exc:
            await runner.cleanup()
            raise ListenError(f"cannot listen on {self._config.listen}: {exc.strerror or exc}", field="listen") from exc
        self._runner = runner
        bound = self._listener.sockets[0].getsockname()
        self._bound = f"[{bound[0]}]:{bound[1]}" if ":" in bound[0] else f"{bound[0]}:{bound[1]}"
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), trust_env=False,
            timeout=aiohttp.ClientTimeout(total=None, connect=self._config.handshake_timeout_ms / 1000),
        )
        dialer = Dialer(
            self._config, session=self._session, registry=self._registry, serve=self._serve_outbound, rng=self._rng,
            max_msg_size=self._max_msg_size,
        )
        self._dialer = dialer
        ready = asyncio.Event()
        self._supervisor = asyncio.create_task(self._supervise(dialer, ready), name=f"network {self._bound}")
        self._supervisor.add_done_callback(self._on_supervisor_done)
        await ready.wait()
        self._phase = _Phase.RUNNING
        log.info("listening on %s as %s, dialing %d peers", self._bound, format_key(self.public_key),
                 len(self._config.peers))

    async def stop(self) -> None:
        """Close every link, stop every task, the listener and the client session.

        Raises the error that stopped the network earlier, if a bug did.
        """
        if self._phase is _Phase.STOPPING:
            await self._stopped.wait()  # another caller is stopping it
            return
        if self._phase in (_Phase.NEW, _Phase.STOPPED) or self._supervisor is None:
            self._phase = _Phase.STOPPED
            return
        self._phase = _Phase.STOPPING
        self._stop_requested.set()
        error: Exception | None = None
        try:
            await self._supervisor
        except Exception as exc:
            error = exc
        finally:
            if self._listener is not None:
                self._listener.close()  # accept nothing more; the runner closes what is open
            if self._gate is not None:
                self._gate.close()
            if self._runner is not None:
                await self._runner.cleanup()
            if self._session is not None:
                await self._session.close()
            self._phase = _Phase.STOPPED
            self._stopped.set()
            log.info("stopped listening on %s", self._bound)
        if error is not None:
            raise error

    async def wait_closed(self) -> None:
        """Return once the network's tasks have ended; raise the error that ended them, if one did."""
        if self._supervisor is not None:
            await asyncio.shield(self._supervisor)

    async def _supervise(self, dialer: Dialer, ready: asyncio.Event) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                for address in self._config.peers:
                    group.create_task(dialer.run(address), name=f"dial {address}")
                self._update_target_dialers()
                ready.set()
                await self._stop_requested.wait()
                raise _Stopping
        except* _Stopping:
            pass
        finally:
            self._group = None
            self._target_dialers.clear()

    def _on_supervisor_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (error := task.exception()) is not None:
            log.critical("networking stopped by an error", exc_info=error)

    # --- sending -------------------------------------------------------------------------------------

    def broadcast(self, kind: str, payload: bytes, *, exclude: bytes | None = None,
                  skip: Callable[[bytes], bool] | None = None) -> int:
        """Queue a message for every connected peer but `exclude` and those `skip` names; return how many.

        Never blocks. Raises InvalidOutgoingMessage for an unknown kind or an oversize payload.
        """
        validate_outgoing(self._config.limits, kind, payload)
        frame = encode_frame(Message(kind, payload))
        return sum(1 for link in self._registry.links()
                   if link.peer_key != exclude and (skip is None or not skip(link.peer_key))
                   and link.enqueue_gossip(frame))

    def send(self, peer: bytes, kind: str, payload: bytes) -> bool:
        """Queue a message for one peer; return False if it is not connected. Never blocks."""
        validate_outgoing(self._config.limits, kind, payload)
        frame = encode_frame(Message(kind, payload))
        link = self._registry.get(peer)
        return link is not None and link.enqueue_gossip(frame)

    async def request(self, peer: bytes, kind: str, payload: bytes, *, timeout: float) -> bytes:
        """Ask one peer and return its answer.

        Raises InvalidOutgoingMessage, PeerNotConnected, TooManyPendingRequests, RequestTimedOut
        (after `timeout` seconds), PeerDisconnected, or RemoteError (the peer answered with an error).
        """
        validate_outgoing(self._config.limits, kind, payload)
        link = self._registry.get(peer)
        if link is None:
            raise PeerNotConnected(f"no link to {format_key(peer)}")
        return await link.request(kind, payload, timeout_s=timeout)

    # --- peers ---------------------------------------------------------------------------------------

    def set_dial_targets(self, targets: Mapping[bytes, str]) -> None:
        """Dial these node keys at these HOST:PORT addresses, besides the configured peers.

        Called with the node keys of the on-chain roster after each membership change: a new key gets a
        dialer, a key whose address changed is dialed at the new address (its old dialer stops), and a key
        no longer listed is not dialed any more (`disconnect_disallowed` closes its link, if it is no
        longer allowed at all). Our own key, unusable addresses and addresses already in `peers` are
        skipped. May be called before `start`.
        """
        wanted: dict[bytes, str] = {}
        for key, address in targets.items():
            try:
                parse_listen(address, field="peers")
            except ConfigError:
                log.warning("not dialing %s at %r: not a HOST:PORT address", format_key(key), address)
                continue
            if key != self.public_key:
                wanted[key] = address
        self._dial_targets = wanted
        self._update_target_dialers()

    def dial_targets(self) -> dict[bytes, str]:
        """The roster targets being dialed now: node key -> address."""
        return {key: address for key, (address, _) in self._target_dialers.items()}

    def _update_target_dialers(self) -> None:
        if self._group is None or self._dialer is None:
            return  # _supervise starts them
        for key, (address, task) in list(self._target_dialers.items()):
            if self._dial_targets.get(key) != address:  # removed, or moved to another address
                task.cancel()
                del self._target_dialers[key]
                log.info("stopped dialing %s at %s", format_key(key), address)
        configured = set(self._config.peers)
        for key, address in self._dial_targets.items():
            if key in self._target_dialers or address in configured:
                continue
            with contextlib.suppress(RuntimeError):  # the TaskGroup is shutting down
                task = self._group.create_task(self._dialer.run(address, key=key), name=f"dial {address} (roster)")
                self._target_dialers[key] = (address, task)
                log.info("dialing %s at %s (from the roster)", format_key(key), address)

    def peers(self) -> list[PeerInfo]:
        """The connected peers, sorted by key."""
        return self._registry.peers()

    def connected_keys(self) -> frozenset[bytes]:
        """The keys of the connected peers (cheap: no statistics are gathered)."""
        return frozenset(link.peer_key for link in self._registry.links())

    def peer_traffic(self) -> list[tuple[bytes, int, int, bool]]:
        """(key, bytes in, bytes out, connected) per peer key since the start; safe from any thread."""
        return self._registry.peer_traffic()

    def get_score(self, peer: bytes) -> int:
        return self._registry.get_score(peer)

    def get_ban(self, peer: bytes) -> Ban | None:
        return self._registry.get_ban(peer)

    def report_peer(self, peer: bytes, offence: Offence, reason: str) -> None:
        """Score `peer` down for an offence the node found in what it sent (an invalid synced block, a false
        status); a low enough score bans it and closes its link, as for offences the links find."""
        self._registry.penalise_key(peer, offence, reason)

    def disconnect_disallowed(self) -> int:
        """Close the links of keys `is_allowed` no longer accepts (after a membership change)."""
        return self._registry.disconnect_disallowed()

    # --- links ---------------------------------------------------------------------------------------

    def release_connection(self, request: web.Request) -> None:
        """The request's connection is no longer pending: it sent a whole request (see network/listener.py)."""
        if self._gate is not None:
            self._gate.release(request.transport)

    async def handle_inbound(self, request: web.Request) -> web.StreamResponse:
        """Accept one connection on /p2p and wait while its link runs in the supervisor's TaskGroup."""
        self.release_connection(request)  # a request arrived: the handshake timeout bounds it from now on
        peername = request.transport.get_extra_info("peername") if request.transport else None
        address = f"{peername[0]}:{peername[1]}" if peername else "?"
        if self._phase is not _Phase.RUNNING or self._group is None:
            return closing_response(503, "stopping")
        if self._handshakes >= self._config.max_handshakes:
            self._refusals.warning("refused connection from %s: %d handshakes in progress", address, self._handshakes)
            return closing_response(503, "busy")
        ws: web.WebSocketResponse = web.WebSocketResponse(
            max_msg_size=self._max_msg_size, compress=False, autoping=True, timeout=self._config.close_timeout_ms / 1000
        )
        if not ws.can_prepare(request).ok:
            return closing_response(400, "expected a WebSocket upgrade")
        self._handshakes += 1  # released when the handshake ends, in _serve_link
        task: asyncio.Task[LinkResult] | None = None
        try:
            await ws.prepare(request)
            task = self._spawn_inbound(ws, address)
        except (OSError, RuntimeError, aiohttp.ClientError) as exc:
            # the peer went away in the middle of the upgrade (a reset, a closing transport): routine
            log.debug("connection from %s lost during the WebSocket upgrade: %r", address, exc)
            return ws
        finally:
            if task is None:
                self._handshakes -= 1
        if task is None:
            await close_websocket(ws, CLOSE_GOING_AWAY, "stopping", timeout_s=self._config.close_timeout_ms / 1000)
        else:
            await asyncio.wait({task})  # the TaskGroup owns the task; this only waits for it
        return ws

    def _spawn_inbound(self, ws: WebSocket, address: str) -> asyncio.Task[LinkResult] | None:
        coroutine = self._serve_link(ws, address, Direction.INBOUND)
        with contextlib.suppress(RuntimeError):  # raised if the TaskGroup is shutting down
            if self._group is not None:
                return self._group.create_task(coroutine, name=f"link {address}")
        coroutine.close()
        return None

    async def _serve_outbound(
        self, ws: WebSocket, address: str, on_authenticated: Callable[[bytes], None]
    ) -> LinkResult:
        return await self._serve_link(ws, address, Direction.OUTBOUND, on_authenticated)

    async def _serve_link(
        self, ws: WebSocket, address: str, direction: Direction, on_authenticated: Callable[[bytes], None] | None = None
    ) -> LinkResult:
        """Authenticate, register and run one link; always closes `ws`, cancelled or not."""
        close_code, close_reason = CLOSE_GOING_AWAY, "node stopping"
        ephemeral = EphemeralKey()
        own = Hello(self._config.chain_id, self._config.genesis_hash, self.public_key, os.urandom(NONCE_SIZE),
                    ephemeral.public_key)
        exchange = HandshakeExchange(
            self._key, own, self._config.limits, ephemeral=ephemeral, is_initiator=direction is Direction.OUTBOUND,
            max_sealed_size=self._max_msg_size,
        )
        try:
            try:
                peer, sealed = await self._handshake(ws, exchange, direction)
                # again, authenticated and about to register: the roster (a department removed) or a ban may
                # have changed while the handshake ran, after `disconnect_disallowed` looked at the links
                self._registry.check_peer(peer.public_key)
            except HandshakeRefused as exc:
                self._refusals.warning("refused %s link %s (key %s): %s: %s", direction.value, address,
                                       exchange.claimed_key, exc.code, exc.message)
                close_code, close_reason = exc.close_code, f"{exc.code}: {exc.message}"
                return LinkResult(LinkOutcome.SELF if isinstance(exc, SelfConnection) else LinkOutcome.REFUSED)
            except (HandshakeAborted, OSError, aiohttp.ClientError) as exc:
                self._refusals.warning("%s handshake with %s (key %s) failed: %s", direction.value, address,
                                       exchange.claimed_key, exc)
                close_reason = "handshake failed"
                duplicate = isinstance(exc, HandshakeAborted) and exc.close_code == CLOSE_DUPLICATE
                return LinkResult(LinkOutcome.DUPLICATE if duplicate else LinkOutcome.FAILED)
            if on_authenticated is not None:
                on_authenticated(peer.public_key)
            link = Link(
                sealed, peer_key=peer.public_key, own_key=self.public_key, address=address, direction=direction,
                config=self._config, handler=self._handler, report=self._registry.penalise,
                connected_ms=self._registry.now_ms(), stats=sealed.stats,
            )
            if not self._registry.register(link):
                log.info("closing %s link with %s (%s): a link dialed by the smaller key is kept",
                         direction.value, format_key(link.peer_key), address)
                close_code, close_reason = CLOSE_DUPLICATE, "duplicate link"
                return LinkResult(LinkOutcome.DUPLICATE)
            return await self._run_link(link)
        finally:
            # a no-op when the link closed it already
            await close_websocket(ws, close_code, close_reason, timeout_s=self._config.close_timeout_ms / 1000)

    async def _handshake(
        self, ws: WebSocket, exchange: HandshakeExchange, direction: Direction
    ) -> tuple[Hello, SealedWebSocket]:
        try:
            async with asyncio.timeout(self._config.handshake_timeout_ms / 1000):
                return await exchange.run(ws, self._registry.check_peer)
        except TimeoutError:
            raise HandshakeTimeout(f"no handshake within {self._config.handshake_timeout_ms} ms") from None
        finally:
            if direction is Direction.INBOUND:
                self._handshakes -= 1

    async def _run_link(self, link: Link) -> LinkResult:
        """Run a registered link until it closes; score its violation, if it ended with one."""
        what = f"{link.direction.value} link with {format_key(link.peer_key)} ({link.address})"
        log.info("%s up", what)
        try:
            await link.run()
        finally:
            self._registry.unregister(link)
        if link.violation is not None and link.violation.scored:
            self._registry.penalise(
                link, Offence.PROTOCOL_VIOLATION, f"{link.violation.code}: {link.violation.message}"
            )
        log.info("%s closed: %s", what, link.close_reason)
        duplicate = CLOSE_DUPLICATE in (link.close_code, link.peer_close_code)
        duration_ms = self._registry.now_ms() - link.connected_ms
        return LinkResult(LinkOutcome.DUPLICATE if duplicate else LinkOutcome.RAN, duration_ms)


NETWORK: Final = web.AppKey("network", Network)


def closing_response(status: int, text: str) -> web.Response:
    """A short answer that closes the connection: a peer socket is for one WebSocket, not for keep-alive."""
    response = web.Response(status=status, text=text)
    response.force_close()
    return response


async def _p2p_endpoint(request: web.Request) -> web.StreamResponse:
    return await request.app[NETWORK].handle_inbound(request)


async def _not_found(request: web.Request) -> web.StreamResponse:
    request.app[NETWORK].release_connection(request)
    return closing_response(404, "not found")


def create_p2p_app(network: Network) -> web.Application:
    """Build the listener's aiohttp app: one WebSocket route, no request bodies; anything else is a 404
    that closes the connection."""
    app = web.Application(client_max_size=4096)
    app[NETWORK] = network
    app.router.add_get(P2P_PATH, _p2p_endpoint)
    app.router.add_route("*", "/{tail:.*}", _not_found)
    return app
