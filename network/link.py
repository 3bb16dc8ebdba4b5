"""One authenticated, encrypted link to a peer over a WebSocket: the handshake exchange, the sealing of
frames, the bounded queues, and request/response matching.

Theory of operation. `HandshakeExchange.run` sends our hello (with a fresh ephemeral X25519 key), checks
the peer's, derives the session keys (network/session.py), sends our signature over the transcript sealed
and checks the peer's (see network/handshake.py). From then on every frame goes through a
`SealedWebSocket`. `Link.run` then runs five tasks:

- receive: reads one WebSocket message at a time and decodes it (size limit first). It answers pings,
  matches responses to requests, and puts messages and requests on the bounded receive queue; when that
  queue is full it stops reading, so TCP pushes back on the peer.
- dispatch: awaits the handler for one message or request at a time; a REJECT costs the peer points.
  Any exception from the handler is the peer's fault, never the node's: a `ChainError` becomes a verdict
  or an error response, anything else is logged (with its traceback, once per link), costs the peer
  `violation_penalty` and, for a request, is answered `internal_error`. The link stays up unless the
  score brings a ban.
- send: writes control frames (requests, responses, pings, pongs) before gossip. The gossip queue drops
  its oldest frame when full (counted in `dropped`); a full control queue, or a write that does not
  finish within `send_timeout_ms`, means the peer is stuck, and closes the link.
- ping: one ping every `ping_interval_ms`; no pong within `ping_timeout_ms` closes the link.
- closer: waits for `close()` from outside (a ban, a duplicate link, a membership change).

The first of them to finish closes the link (`run_until_first_returns`): the others are cancelled,
waiting requests fail with PeerDisconnected, and the WebSocket is closed with the first recorded code
and reason.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol, TypeVar

import aiohttp
from aiohttp import WebSocketError, WSCloseCode, WSMessage, WSMsgType

from chainnode.crypto import PrivateKey
from chainnode.errors import ChainError, InvariantViolation
from network.config import NetworkConfig
from network.errors import (
    CLOSE_GOING_AWAY,
    CLOSE_NORMAL,
    CLOSE_PING_TIMEOUT,
    CLOSE_STALLED,
    FrameTooLarge,
    HandshakeAborted,
    HandshakeViolation,
    MalformedFrame,
    PeerDisconnected,
    ProtocolViolation,
    RemoteError,
    RequestTimedOut,
    SealedFrameTooLarge,
    SessionFailure,
    TextFrame,
    TooManyPendingRequests,
    UnexpectedFrame,
)
from network.frames import (
    CODE_OK,
    CODE_PATTERN,
    Auth,
    Frame,
    Hello,
    Message,
    Ping,
    Pong,
    Request,
    Response,
    decode_frame,
    encode_frame,
)
from network.handler import MessageHandler
from network.handshake import sign_handshake, validate_auth, validate_hello
from network.scoring import Offence
from network.session import EphemeralKey, SecureSession, start_session
from network.verdict import Verdict, compute_verdict

log = logging.getLogger("network.link")

MAX_ERROR_MESSAGE: Final = 512
"""Bytes of an error message sent in a response."""
CODE_INTERNAL_ERROR: Final = "internal_error"
"""The response code for a request whose handler failed unexpectedly."""
MAX_CLOSE_REASON: Final = 120
"""A WebSocket close frame carries at most 123 bytes of reason."""

_HandshakeFrame = TypeVar("_HandshakeFrame", Hello, Auth)


class WebSocket(Protocol):
    """What a link needs of aiohttp's client and server WebSockets."""

    @property
    def closed(self) -> bool: ...

    async def send_bytes(self, data: bytes, compress: int | None = None) -> None: ...

    async def receive(self, timeout: float | None = None) -> WSMessage: ...

    async def close(self, *, code: int = WSCloseCode.OK, message: bytes = b"") -> bool: ...


P2P_PATH: Final = "/p2p"
"""The HTTP path of the WebSocket upgrade."""


class Direction(enum.Enum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class LinkOutcome(enum.Enum):
    """How a connection ended, which decides what its dialer does next."""

    FAILED = "failed"  # no connection, or it broke during the handshake
    REFUSED = "refused"  # one side refused the other
    SELF = "self"  # the address is this node
    DUPLICATE = "duplicate"  # another link to the same key was kept
    RAN = "ran"  # the link was up, and is now closed


@dataclass(frozen=True, slots=True)
class LinkResult:
    outcome: LinkOutcome
    duration_ms: int = 0


def format_key(key: bytes | None) -> str:
    """The prefix of a key that logs show."""
    return "?" if key is None else key.hex()[:16]


async def close_websocket(ws: WebSocket, code: int, reason: str, *, timeout_s: float) -> None:
    """Close `ws` with `code` and an ASCII reason, waiting at most `timeout_s` for the peer's answer."""
    message = reason.encode("ascii", "replace")[:MAX_CLOSE_REASON]
    try:
        async with asyncio.timeout(timeout_s):
            await ws.close(code=code, message=message)
    except (TimeoutError, OSError, aiohttp.ClientError):
        pass  # the transport is closed either way


def describe_close(message: WSMessage) -> str:
    """Say why the peer's side ended, from the message `receive` returned."""
    if message.type is WSMsgType.CLOSE:
        reason = f" {message.extra}" if message.extra else ""
        return f"peer closed the link ({message.data}{reason})"
    if message.type is WSMsgType.ERROR:
        return f"connection failed: {message.data!r}"
    return "connection lost"


def _error_violation(message: WSMessage) -> ProtocolViolation | None:
    """The violation behind a WebSocket ERROR message, or None if the connection just broke."""
    error = message.data
    if not isinstance(error, WebSocketError):
        return None
    if error.code == WSCloseCode.MESSAGE_TOO_BIG:
        return FrameTooLarge(f"WebSocket message over the largest limit: {error}")
    return MalformedFrame(f"WebSocket protocol error {error.code}: {error}")


@dataclass(slots=True)
class LinkStats:
    bytes_in: int = 0
    """Bytes received on the wire after the hellos: sealed frames, tags included (counted by SealedWebSocket)."""
    bytes_out: int = 0
    """Bytes sent on the wire after the hellos, as `bytes_in`."""
    messages_in: int = 0
    """Frames received after the handshake, pings and pongs included."""
    messages_out: int = 0
    dropped: int = 0
    """Gossip frames dropped because the send queue was full."""
    rtt_ms: int | None = None
    """Round-trip time of the last ping."""


class SealedWebSocket:
    """A WebSocket whose binary messages are sealed frames (network/session.py): `send_bytes` seals and
    `receive` opens, so the link above sees plain frames. `receive` raises a `SessionFailure` (ForgedFrame,
    SealedFrameTooLarge, a WebSocket protocol error) for anything that does not open; the link closes on
    it without scoring the peer, since bytes below the encryption may come from anyone on the path.

    It counts the bytes it sends and receives into `stats`, which the link built on it shares."""

    def __init__(self, ws: WebSocket, session: SecureSession) -> None:
        self._ws, self._session = ws, session
        self.stats = LinkStats()

    @property
    def closed(self) -> bool:
        return self._ws.closed

    async def send_bytes(self, data: bytes, compress: int | None = None) -> None:
        sealed = self._session.sealer.seal(data)
        await self._ws.send_bytes(sealed)
        self.stats.bytes_out += len(sealed)

    async def receive(self, timeout: float | None = None) -> WSMessage:
        message = await self._ws.receive(timeout)
        if message.type is WSMsgType.BINARY:
            self.stats.bytes_in += len(message.data)
            return WSMessage(WSMsgType.BINARY, self._session.opener.open(message.data), message.extra)
        if message.type is WSMsgType.ERROR and isinstance(message.data, WebSocketError):
            # below the encryption, so nothing proves the peer sent it: close, do not score
            if message.data.code == WSCloseCode.MESSAGE_TOO_BIG:
                raise SealedFrameTooLarge(f"WebSocket message over the largest sealed frame: {message.data}")
            raise SessionFailure(f"WebSocket protocol error {message.data.code} under the session: {message.data}")
        return message

    async def close(self, *, code: int = WSCloseCode.OK, message: bytes = b"") -> bool:
        return await self._ws.close(code=code, message=message)


class HandshakeExchange:
    """Our side of one handshake; `peer` holds the peer's hello once it has arrived.

    The dialer is the initiator of the key exchange, the listener the responder.
    """

    def __init__(
        self, key: PrivateKey, own: Hello, limits: Mapping[str, int], *, ephemeral: EphemeralKey, is_initiator: bool,
        max_sealed_size: int,
    ) -> None:
        if own.ephemeral_key != ephemeral.public_key:
            raise InvariantViolation("the hello must carry this exchange's ephemeral key")
        self._key, self.own, self._limits, self._ephemeral = key, own, limits, ephemeral
        self._is_initiator, self._max_sealed_size = is_initiator, max_sealed_size
        self.peer: Hello | None = None

    @property
    def claimed_key(self) -> str:
        """The prefix of the key the peer claimed in its hello, for logs ("?" before it arrived)."""
        return format_key(self.peer.public_key if self.peer else None)

    async def run(self, ws: WebSocket, check_peer: Callable[[bytes], None]) -> tuple[Hello, SealedWebSocket]:
        """Authenticate the peer; return its hello and the WebSocket sealed under the session's keys.

        Raises a HandshakeRefused subclass (wrong chain or genesis, our own key, `check_peer` refused the
        key, a low-order ephemeral key, bad signature, a bad or forged frame) or HandshakeAborted (the peer
        closed or the connection broke).
        """
        own_bytes = encode_frame(self.own)
        await ws.send_bytes(own_bytes)
        self.peer = await self._receive(ws, Hello)
        validate_hello(self.peer, own=self.own)
        check_peer(self.peer.public_key)
        session = start_session(
            self._ephemeral, peer_ephemeral_key=self.peer.ephemeral_key, own_hello=own_bytes,
            peer_hello=encode_frame(self.peer), is_initiator=self._is_initiator, max_sealed_size=self._max_sealed_size,
        )
        sealed = SealedWebSocket(ws, session)
        auth = sign_handshake(self._key, own=self.own, peer=self.peer, transcript_hash=session.transcript_hash)
        await sealed.send_bytes(encode_frame(auth))
        validate_auth(await self._receive(sealed, Auth), own=self.own, peer=self.peer,
                      transcript_hash=session.transcript_hash)
        return self.peer, sealed

    async def _receive(self, ws: WebSocket, expected: type[_HandshakeFrame]) -> _HandshakeFrame:
        try:
            message = await ws.receive()
        except ProtocolViolation as exc:  # a sealed auth that does not open
            raise HandshakeViolation(f"{exc.code}: {exc.message}") from exc
        if message.type is WSMsgType.BINARY:
            try:
                frame = decode_frame(message.data, self._limits)
            except ProtocolViolation as exc:
                raise HandshakeViolation(f"{exc.code}: {exc.message}") from exc
            if not isinstance(frame, expected):
                raise HandshakeViolation(f"expected {expected.__name__.lower()}, got {type(frame).__name__.lower()}")
            return frame
        if message.type is WSMsgType.TEXT:
            raise HandshakeViolation("text message: every frame is binary")
        violation = _error_violation(message) if message.type is WSMsgType.ERROR else None
        if violation is not None:
            raise HandshakeViolation(f"{violation.code}: {violation.message}") from violation
        code = message.data if message.type is WSMsgType.CLOSE else None
        raise HandshakeAborted(describe_close(message), close_code=code, reason=str(message.extra or ""))


async def run_until_first_returns(coroutines: list[Coroutine[Any, Any, None]]) -> None:
    """Run `coroutines` as tasks until one of them returns; then cancel the others and wait for all.

    Every task is awaited before this returns, even if the caller is cancelled meanwhile. The first
    exception a task raised (a bug: the loops catch what a peer can cause) is raised here.

    Not a TaskGroup on purpose: in Python 3.11 a TaskGroup ended by one of its children, inside a task
    that is itself cancelled at that moment, swallows that cancellation (CPython issue 116720, fixed in
    3.12), and links run inside the network's TaskGroup, which cancels them on stop.
    """
    tasks = [asyncio.create_task(coroutine) for coroutine in coroutines]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        pending, cancelled = set(tasks), False
        while pending:
            try:
                _, pending = await asyncio.wait(pending)
            except asyncio.CancelledError:
                cancelled = True  # cancelled again: still wait, so no task outlives us
        if cancelled:
            raise asyncio.CancelledError
    errors = [task.exception() for task in tasks if not task.cancelled()]
    for error in errors:
        if error is not None:
            raise error


Report = Callable[["Link", Offence, str], None]


class Link:
    """An authenticated link to one peer. Create it after the handshake; `run` until it closes."""

    def __init__(
        self, ws: WebSocket, *, peer_key: bytes, own_key: bytes, address: str, direction: Direction,
        config: NetworkConfig, handler: MessageHandler, report: Report, connected_ms: int,
        stats: LinkStats | None = None,
    ) -> None:
        """`stats`: the counters of the SealedWebSocket `ws` is, which counts the bytes on the wire."""
        self.peer_key, self.address, self.direction, self.connected_ms = peer_key, address, direction, connected_ms
        self.initiator = own_key if direction is Direction.OUTBOUND else peer_key
        self.stats = LinkStats() if stats is None else stats
        self.close_code = CLOSE_NORMAL
        self.close_reason = ""
        self.peer_close_code: int | None = None
        """The close code the peer sent, if it closed the link."""
        self.violation: ProtocolViolation | None = None
        self.handler_failures = 0
        """Messages and requests from this peer that made the handler fail unexpectedly."""
        self._ws, self._config, self._handler, self._report = ws, config, handler, report
        self._gossip: deque[bytes] = deque()
        self._control: deque[bytes] = deque()
        self._wakeup = asyncio.Event()
        self._closing = asyncio.Event()
        self._received: asyncio.Queue[Message | Request] = asyncio.Queue(config.receive_queue_size)
        self._pending: dict[int, tuple[str, asyncio.Future[bytes]]] = {}
        self._last_request_id = 0
        self._ping_nonce = 0
        self._pong = asyncio.Event()

    @property
    def is_closing(self) -> bool:
        return self._closing.is_set()

    def close(self, code: int, reason: str) -> None:
        """Ask the link to close; the first reason given is the one sent and logged."""
        if not self._closing.is_set():
            self.close_code, self.close_reason = code, reason
            self._closing.set()

    def enqueue_gossip(self, frame: bytes) -> bool:
        """Queue an encoded message frame; drop the oldest queued one if full. False if closing."""
        if self._closing.is_set():
            return False
        if len(self._gossip) >= self._config.send_queue_size:
            self._gossip.popleft()
            self.stats.dropped += 1
        self._gossip.append(frame)
        self._wakeup.set()
        return True

    def _enqueue_control(self, frame: Frame) -> bool:
        if self._closing.is_set():
            return False
        if len(self._control) >= self._config.control_queue_size:
            self.close(CLOSE_STALLED, "control send queue full: the peer does not read")
            return False
        self._control.append(encode_frame(frame))
        self._wakeup.set()
        return True

    async def request(self, kind: str, payload: bytes, *, timeout_s: float) -> bytes:
        """Send a request and return the answer.

        Raises TooManyPendingRequests, RequestTimedOut, PeerDisconnected, or RemoteError if the peer
        answered with an error code.
        """
        if len(self._pending) >= self._config.max_pending_requests:
            raise TooManyPendingRequests(f"{len(self._pending)} requests to {format_key(self.peer_key)} are waiting")
        self._last_request_id += 1
        request_id = self._last_request_id
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (kind, future)
        try:
            if not self._enqueue_control(Request(kind, request_id, payload)):
                raise PeerDisconnected(f"link to {format_key(self.peer_key)} is closing: {self.close_reason}")
            async with asyncio.timeout(timeout_s):
                return await future
        except TimeoutError:
            raise RequestTimedOut(
                f"no answer to {kind} request {request_id} from {format_key(self.peer_key)} within {timeout_s} s"
            ) from None
        finally:
            self._pending.pop(request_id, None)

    async def run(self) -> None:
        """Serve the link until it closes; then close the WebSocket. Returns normally on any close."""
        try:
            await run_until_first_returns(
                [self._until_done(loop()) for loop in (self._receive_loop, self._dispatch_loop, self._send_loop,
                                                       self._ping_loop, self._closing.wait)]
            )
        finally:
            self.close(CLOSE_GOING_AWAY, "node stopping")  # kept only if no other reason was recorded
            for _, future in self._pending.values():
                if not future.done():
                    future.set_exception(
                        PeerDisconnected(f"link to {format_key(self.peer_key)} closed: {self.close_reason}")
                    )
            self._pending.clear()
            await close_websocket(
                self._ws, self.close_code, self.close_reason, timeout_s=self._config.close_timeout_ms / 1000
            )

    async def _until_done(self, loop: Awaitable[object]) -> None:
        try:
            await loop
        except ProtocolViolation as exc:
            self.violation = exc
            self.close(exc.close_code, f"{exc.code}: {exc.message}")
        except (OSError, aiohttp.ClientError) as exc:
            self.close(CLOSE_GOING_AWAY, f"connection lost: {exc!r}")

    async def _receive_loop(self) -> None:
        while True:
            message = await self._ws.receive()
            if message.type is WSMsgType.BINARY:
                self.stats.messages_in += 1
                await self._on_frame(decode_frame(message.data, self._config.limits))
            elif message.type is WSMsgType.TEXT:
                raise TextFrame("text message: every frame is binary")
            elif message.type in (WSMsgType.PING, WSMsgType.PONG):
                continue  # WebSocket-level keepalive, answered by aiohttp
            else:
                violation = _error_violation(message) if message.type is WSMsgType.ERROR else None
                if violation is not None:
                    raise violation
                if message.type is WSMsgType.CLOSE:
                    self.peer_close_code = message.data
                self.close(CLOSE_NORMAL, describe_close(message))
                return

    async def _on_frame(self, frame: Frame) -> None:
        match frame:
            case Message() | Request():
                await self._received.put(frame)  # blocks when the handler lags: backpressure
            case Response():
                self._on_response(frame)
            case Ping(nonce=nonce):
                self._enqueue_control(Pong(nonce))
            case Pong(nonce=nonce):
                if nonce == self._ping_nonce:
                    self._pong.set()
            case _:
                raise UnexpectedFrame(f"{type(frame).__name__.lower()} frame after the handshake")

    def _on_response(self, frame: Response) -> None:
        entry = self._pending.get(frame.request_id)
        if entry is None:
            if frame.request_id > self._last_request_id:
                raise UnexpectedFrame(f"response to request {frame.request_id}, which was never sent")
            return  # the answer to a request that timed out
        kind, future = entry
        if frame.kind != kind:
            raise UnexpectedFrame(f"response of kind {frame.kind!r} to a {kind!r} request")
        del self._pending[frame.request_id]
        if future.done():
            return
        if frame.code == CODE_OK:
            future.set_result(frame.payload)
        else:
            text = frame.payload.decode("utf-8", "replace")
            future.set_exception(RemoteError(f"peer answered {frame.code}: {text}", remote_code=frame.code))

    async def _dispatch_loop(self) -> None:
        while True:
            frame = await self._received.get()
            if isinstance(frame, Message):
                await self._dispatch_message(frame)
            else:
                await self._dispatch_request(frame)

    async def _dispatch_message(self, frame: Message) -> None:
        try:
            verdict = await self._handler.on_message(self.peer_key, frame.kind, frame.payload)
            reason = "the handler rejected it"
        except ChainError as exc:
            verdict, reason = compute_verdict(exc), f"{exc.code}: {exc.message}"
        except InvariantViolation:
            raise  # the node's own state is broken: stop loudly rather than run on with it
        except Exception as exc:  # what this peer sent broke the handler: the peer's fault, not the node's
            self._on_handler_failure(f"{frame.kind} message", exc)
            return
        if verdict is Verdict.REJECT:
            self._report(self, Offence.REJECTED_MESSAGE, f"{frame.kind} message rejected: {reason}")

    def _on_handler_failure(self, what: str, exc: Exception) -> None:
        """Log the first failure on this link with its traceback (later ones in one line) and score the peer
        down: a handler that fails on some input is a bug to fix, but the input came from this peer, and the
        node must keep serving everyone else. Repeat offenders get banned through the score."""
        self.handler_failures += 1
        detail = f"{type(exc).__name__}: {exc}"[:200]
        if self.handler_failures == 1:
            log.error("the handler failed on a %s from %s (%s)", what, format_key(self.peer_key), self.address,
                      exc_info=exc)
        else:
            log.warning("the handler failed on a %s from %s (%s) again (%d on this link): %s", what,
                        format_key(self.peer_key), self.address, self.handler_failures, detail)
        self._report(self, Offence.HANDLER_FAILURE, f"{what} made the handler fail: {detail}")

    async def _dispatch_request(self, frame: Request) -> None:
        limit = self._config.limits[frame.kind]
        try:
            answer = await self._handler.on_request(self.peer_key, frame.kind, frame.payload)
            code = CODE_OK
            if len(answer) > limit:
                log.error("answer to a %s request is %d bytes, over the limit %d", frame.kind, len(answer), limit)
                code, answer = "response_too_large", b"the answer is over the kind's limit"
        except ChainError as exc:
            code = exc.code if CODE_PATTERN.fullmatch(exc.code) else "error"
            answer = exc.message.encode("utf-8")[: min(MAX_ERROR_MESSAGE, limit)]
            if compute_verdict(exc) is Verdict.REJECT:
                self._report(self, Offence.REJECTED_MESSAGE, f"{frame.kind} request rejected: {code}: {exc.message}")
        except InvariantViolation:
            raise  # the node's own state is broken: stop loudly rather than run on with it
        except Exception as exc:  # the peer's fault, as for a message; the peer still gets an answer
            self._on_handler_failure(f"{frame.kind} request", exc)
            code, answer = CODE_INTERNAL_ERROR, b"the request could not be served"
        self._enqueue_control(Response(frame.kind, frame.request_id, code, answer))

    async def _send_loop(self) -> None:
        timeout_s = self._config.send_timeout_ms / 1000
        while True:
            if self._control:
                frame = self._control.popleft()
            elif self._gossip:
                frame = self._gossip.popleft()
            else:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            try:
                async with asyncio.timeout(timeout_s):
                    await self._ws.send_bytes(frame)
            except TimeoutError:
                self.close(CLOSE_STALLED, f"a frame could not be written within {self._config.send_timeout_ms} ms")
                return
            self.stats.messages_out += 1

    async def _ping_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._config.ping_interval_ms / 1000)
            self._ping_nonce += 1
            self._pong.clear()
            sent = loop.time()
            self._enqueue_control(Ping(self._ping_nonce))
            try:
                async with asyncio.timeout(self._config.ping_timeout_ms / 1000):
                    await self._pong.wait()
            except TimeoutError:
                self.close(CLOSE_PING_TIMEOUT, f"no pong within {self._config.ping_timeout_ms} ms")
                return
            self.stats.rtt_ms = round((loop.time() - sent) * 1000)
