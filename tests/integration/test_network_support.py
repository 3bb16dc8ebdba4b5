"""Helpers for the network integration tests (no tests here): real `Network` instances on 127.0.0.1
ephemeral ports with recording handlers, keys from fixed seeds, and a raw WebSocket peer that speaks the
handshake by hand so tests can send what a real node never would."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any

import aiohttp
import pytest

from chainnode.crypto import PrivateKey, sha256
from chainnode.errors import InvalidInput, NotFound
from network.config import NetworkConfig
from network.frames import Auth, Frame, Hello, decode_frame, encode_frame
from network.handshake import sign_handshake, validate_auth
from network.network import Network
from network.session import EphemeralKey, SecureSession, start_session
from network.verdict import Verdict

CHAIN = "net-test"
GENESIS = sha256(b"net-test genesis")
KEYS = [PrivateKey(bytes([i + 1]) * 32) for i in range(8)]
"""KEYS[0..5] are members; KEYS[6] and KEYS[7] are outsiders."""
MEMBERS = frozenset(key.public_key for key in KEYS[:6])
LIMITS = {"vote": 1024, "block": 64 * 1024, "tx": 4096}


def fast_config(**overrides: Any) -> NetworkConfig:
    """Settings with short timeouts, so faults show within a second."""
    config = NetworkConfig(
        chain_id=CHAIN, genesis_hash=GENESIS, listen="127.0.0.1:0", limits=LIMITS, handshake_timeout_ms=1_000,
        close_timeout_ms=300, send_timeout_ms=1_000, backoff_base_ms=20, backoff_max_ms=200,
        ping_interval_ms=200, ping_timeout_ms=1_000,
    )
    return replace(config, **overrides)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class FakeClock:
    def __init__(self, now_ms: int = 1_700_000_000_000) -> None:
        self.now = now_ms

    def now_ms(self) -> int:
        return self.now


@dataclass
class RecordingHandler:
    """Records everything; answers requests with the reversed payload, `b"missing"` with NotFound,
    `b"invalid"` with an InvalidInput, and `b"slow"` only once `gate` is set."""

    verdict: Verdict = Verdict.ACCEPT
    messages: list[tuple[bytes, str, bytes]] = field(default_factory=list)
    requests: list[tuple[bytes, str, bytes]] = field(default_factory=list)
    connected: list[bytes] = field(default_factory=list)
    disconnected: list[bytes] = field(default_factory=list)
    gate: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_message(self, peer: bytes, kind: str, payload: bytes) -> Verdict:
        self.messages.append((peer, kind, payload))
        return self.verdict

    async def on_request(self, peer: bytes, kind: str, payload: bytes) -> bytes:
        self.requests.append((peer, kind, payload))
        if payload == b"missing":
            raise NotFound("no such block")
        if payload == b"invalid":
            raise InvalidInput("that request makes no sense")
        if payload == b"slow":
            await self.gate.wait()
        return payload[::-1]

    def on_peer_connected(self, peer: bytes) -> None:
        self.connected.append(peer)

    def on_peer_disconnected(self, peer: bytes) -> None:
        self.disconnected.append(peer)


@dataclass
class Node:
    network: Network
    handler: RecordingHandler
    key: PrivateKey

    @property
    def address(self) -> str:
        return self.network.address

    def peer_keys(self) -> set[bytes]:
        return {info.key for info in self.network.peers()}

    def is_linked(self, other: Node) -> bool:
        return other.key.public_key in self.peer_keys()


class Cluster:
    """Networks started in one test, all stopped at its end (in reverse order)."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []

    async def __aenter__(self) -> Cluster:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        for node in reversed(self.nodes):
            await node.network.stop()

    async def add(
        self, key: PrivateKey, *, peers: Iterable[str] = (), allowed: Callable[[bytes], bool] = MEMBERS.__contains__,
        clock: FakeClock | None = None, handler: RecordingHandler | None = None, **overrides: Any,
    ) -> Node:
        handler = handler or RecordingHandler()
        network = Network(
            fast_config(peers=tuple(peers), **overrides), key, is_allowed=allowed, handler=handler, clock=clock,
            rng=random.Random(key.public_key),
        )
        node = Node(network, handler, key)
        await node.network.start()
        self.nodes.append(node)
        return node


async def wait_until(predicate: Callable[[], bool], what: str, *, timeout: float = 5.0) -> None:
    """Poll `predicate` until it holds; fail the test with `what` after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)


async def wait_linked(*nodes: Node) -> None:
    """Wait until every pair of `nodes` is linked, both ways."""
    await wait_until(
        lambda: all(a.is_linked(b) for a in nodes for b in nodes if a is not b), "every pair of nodes to be linked"
    )


def logged(caplog: pytest.LogCaptureFixture, *needles: str) -> int:
    """How many captured log lines contain every one of `needles`."""
    return sum(all(needle in record.getMessage() for needle in needles) for record in caplog.records)


class RawPeer:
    """A hand-driven WebSocket peer (always the dialer, so the initiator of the key exchange): it runs the
    handshake step by step and sends anything at all. Once `start_session` ran, `send` seals and
    `receive_frame` opens, as a real node does; `send_raw` / `receive_raw` bypass the session."""

    def __init__(self, key: PrivateKey, *, chain_id: str = CHAIN, genesis_hash: bytes = GENESIS) -> None:
        self.key, self.chain_id, self.genesis_hash = key, chain_id, genesis_hash
        self._session: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.node_hello: Hello | None = None
        self.ephemeral = EphemeralKey()
        self.session: SecureSession | None = None
        self.sent: list[bytes] = []
        """Every WebSocket message sent, as on the wire (what an eavesdropper records)."""

    async def __aenter__(self) -> RawPeer:
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self.ws is not None:
            await self.ws.close()
        assert self._session is not None
        await self._session.close()

    def hello(self, nonce: bytes = b"\x11" * 32) -> Hello:
        return Hello(self.chain_id, self.genesis_hash, self.key.public_key, nonce, self.ephemeral.public_key)

    async def connect(self, address: str) -> Hello:
        """Open a WebSocket to the node and read its hello (a fresh ephemeral key, no session yet)."""
        assert self._session is not None
        if self.ws is not None:
            await self.ws.close()
        self.ephemeral, self.session = EphemeralKey(), None
        self.ws = await self._session.ws_connect(f"http://{address}/p2p", max_msg_size=0, autoping=True)
        frame = await self.receive_frame()
        assert isinstance(frame, Hello)
        self.node_hello = frame
        return frame

    def start_session(self, own: Hello) -> SecureSession:
        """Derive the session keys from our hello and the node's, as the initiator."""
        assert self.node_hello is not None
        self.session = start_session(
            self.ephemeral, peer_ephemeral_key=self.node_hello.ephemeral_key, own_hello=encode_frame(own),
            peer_hello=encode_frame(self.node_hello), is_initiator=True, max_sealed_size=2**30,
        )
        return self.session

    async def receive_raw(self) -> bytes:
        assert self.ws is not None
        message = await self.ws.receive(timeout=5)
        assert message.type is aiohttp.WSMsgType.BINARY, message
        data: bytes = message.data
        return data

    async def receive_frame(self) -> Frame:
        data = await self.receive_raw()
        return decode_frame(data if self.session is None else self.session.opener.open(data), LIMITS)

    async def send_raw(self, data: bytes) -> None:
        assert self.ws is not None
        self.sent.append(data)
        await self.ws.send_bytes(data)

    async def send(self, frame: Frame | bytes) -> None:
        data = frame if isinstance(frame, bytes) else encode_frame(frame)
        await self.send_raw(data if self.session is None else self.session.sealer.seal(data))

    async def authenticate(self, address: str, *, nonce: bytes = b"\x11" * 32,
                           signer: PrivateKey | None = None) -> tuple[Hello, Auth]:
        """Run a correct handshake (or one signed by `signer` instead of our key); return the hello and auth
        we sent."""
        node_hello = await self.connect(address)
        own = self.hello(nonce)
        await self.send(own)
        session = self.start_session(own)
        auth = sign_handshake(signer or self.key, own=own, peer=node_hello, transcript_hash=session.transcript_hash)
        await self.send(auth)
        if signer is not None:
            return own, auth
        node_auth = await self.receive_frame()
        assert isinstance(node_auth, Auth)
        validate_auth(node_auth, own=own, peer=node_hello, transcript_hash=session.transcript_hash)
        return own, auth

    async def wait_closed(self) -> int | None:
        """Read (answering nothing) until the node closes the link; return its close code."""
        assert self.ws is not None
        async with asyncio.timeout(5):
            while True:
                message = await self.ws.receive()
                if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                    return self.ws.close_code
                if message.type is aiohttp.WSMsgType.ERROR:
                    return self.ws.close_code


def quiet_aiohttp() -> None:
    """aiohttp logs a whole traceback for some client aborts; the tests check our own logs only."""
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
