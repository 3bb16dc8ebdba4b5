"""The encrypted session of a peer link, against real networks on 127.0.0.1: what a recording relay sees,
a relay that swaps the ephemeral keys, a peer that signs with the wrong node key, and tampered frames."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace

import aiohttp
import pytest
from aiohttp import web

from network.errors import CLOSE_POLICY_VIOLATION, CLOSE_PROTOCOL_ERROR
from network.frames import Hello, Message, decode_frame, encode_frame
from network.session import EphemeralKey, SecureSession, start_session
from tests.integration.test_network_support import (
    KEYS,
    LIMITS,
    Cluster,
    RawPeer,
    logged,
    quiet_aiohttp,
    wait_linked,
    wait_until,
)
from tests.tcp_proxy import TcpProxy, websocket_payloads

A, B, E, OUTSIDER = KEYS[0], KEYS[1], KEYS[4], KEYS[6]


async def test_a_recording_relay_sees_no_plaintext() -> None:
    memo = b"memo: licence 2026-0042 granted to Zhang San"
    async with Cluster() as cluster:
        a = await cluster.add(A)
        host, port = a.address.rsplit(":", 1)
        relay = TcpProxy(0, host, int(port), record=True)
        await relay.start()
        try:
            b = await cluster.add(B, peers=[relay.address])
            await wait_linked(a, b)
            b.network.broadcast("tx", memo)
            a.network.broadcast("vote", memo[::-1])
            assert await b.network.request(A.public_key, "block", memo, timeout=2) == memo[::-1]
            await wait_until(lambda: (B.public_key, "tx", memo) in a.handler.messages, "the tx to reach a")
            await wait_until(lambda: (A.public_key, "vote", memo[::-1]) in b.handler.messages, "the vote to reach b")
        finally:
            await relay.stop()
        # what an eavesdropper gets: the raw bytes, and the WebSocket payloads with the client's masks removed
        [(to_a, from_a)] = relay.captured
        dialed, answered = websocket_payloads(bytes(to_a)), websocket_payloads(bytes(from_a))
        wire = bytes(to_a) + bytes(from_a) + b"".join(dialed + answered)
        for needle in (memo, memo[::-1], memo[:16], b"licence", encode_frame(Message("tx", memo))):
            assert needle not in wire
        # the parsing is right: the first payload each way is a hello in the clear (keys and nonces are public)
        hellos = [decode_frame(dialed[0], LIMITS), decode_frame(answered[0], LIMITS)]
        assert [hello.public_key for hello in hellos if isinstance(hello, Hello)] == [B.public_key, A.public_key]
        assert len(dialed) >= 3 and len(answered) >= 3  # hello, auth, then sealed frames



class SwappingRelay:
    """A man in the middle between a dialer and `target`: it replaces each hello's ephemeral key with its
    own, so it holds a session with each side, and passes every frame on, re-sealed."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.plaintext: list[bytes] = []
        self.runner: web.AppRunner | None = None
        self.address = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/p2p", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        assert self.runner.addresses
        self.address = f"127.0.0.1:{self.runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        dialer = web.WebSocketResponse(max_msg_size=0)
        await dialer.prepare(request)
        async with aiohttp.ClientSession() as session, session.ws_connect(
            f"http://{self.target}/p2p", max_msg_size=0
        ) as listener:
            listener_hello = decode_frame((await listener.receive()).data, LIMITS)
            dialer_hello = decode_frame((await dialer.receive()).data, LIMITS)
            assert isinstance(listener_hello, Hello) and isinstance(dialer_hello, Hello)
            to_dialer, to_listener = EphemeralKey(), EphemeralKey()
            fake_listener_hello = replace(listener_hello, ephemeral_key=to_dialer.public_key)
            fake_dialer_hello = replace(dialer_hello, ephemeral_key=to_listener.public_key)
            await dialer.send_bytes(encode_frame(fake_listener_hello))
            await listener.send_bytes(encode_frame(fake_dialer_hello))
            with_dialer = start_session(
                to_dialer, peer_ephemeral_key=dialer_hello.ephemeral_key, own_hello=encode_frame(fake_listener_hello),
                peer_hello=encode_frame(dialer_hello), is_initiator=False, max_sealed_size=2**20,
            )
            with_listener = start_session(
                to_listener, peer_ephemeral_key=listener_hello.ephemeral_key,
                own_hello=encode_frame(fake_dialer_hello), peer_hello=encode_frame(listener_hello),
                is_initiator=True, max_sealed_size=2**20,
            )
            pumps = [asyncio.create_task(self._pump(dialer, with_dialer, listener, with_listener)),
                     asyncio.create_task(self._pump(listener, with_listener, dialer, with_dialer))]
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
        await dialer.close()
        return dialer

    async def _pump(self, source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse, inbound: SecureSession,
                    sink: web.WebSocketResponse | aiohttp.ClientWebSocketResponse, outbound: SecureSession) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            async for message in source:
                if message.type is not aiohttp.WSMsgType.BINARY:
                    return
                frame = inbound.opener.open(message.data)
                self.plaintext.append(frame)  # the relay reads the auth: it is only a signature
                await sink.send_bytes(outbound.sealer.seal(frame))


async def test_a_relay_that_swaps_the_ephemeral_keys_is_refused_by_both_sides(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="network")
    quiet_aiohttp()
    async with Cluster() as cluster:
        a = await cluster.add(A)
        relay = SwappingRelay(a.address)
        await relay.start()
        try:
            b = await cluster.add(B, peers=[relay.address])
            await wait_until(lambda: logged(caplog, "invalid_handshake_signature") >= 2, "both sides to refuse")
            assert a.network.peers() == [] and b.network.peers() == []
            assert logged(caplog, "refused inbound link", B.public_key.hex()[:16], "invalid_handshake_signature")
            assert logged(caplog, "refused outbound link", A.public_key.hex()[:16], "invalid_handshake_signature")
            assert a.network.get_score(B.public_key) == 0 and b.network.get_score(A.public_key) == 0
            assert relay.plaintext  # it did read the auths: signatures over transcripts it cannot make agree
        finally:
            await relay.stop()


async def test_a_peer_signing_with_another_key_than_its_hello_claims_is_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="network")
    async with Cluster() as cluster, RawPeer(B) as raw:
        a = await cluster.add(A)
        # it claims B's (a member's) node key and completes the key exchange, but holds only another key
        await raw.authenticate(a.address, signer=OUTSIDER)
        assert await raw.wait_closed() == CLOSE_POLICY_VIOLATION
        assert logged(caplog, "refused inbound link", B.public_key.hex()[:16], "invalid_handshake_signature") == 1
        assert a.network.peers() == [] and a.network.get_score(B.public_key) == 0


@pytest.mark.parametrize("where", ["tag", "ciphertext", "truncated", "replayed"])
async def test_a_tampered_frame_closes_that_link_only(where: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="network")
    async with Cluster() as cluster, RawPeer(E) as raw:
        a = await cluster.add(A)
        b = await cluster.add(B, peers=[a.address])
        await raw.authenticate(a.address)
        await wait_until(lambda: len(a.network.peers()) == 2, "a to link with b and the raw peer")
        assert raw.session is not None
        sealed = raw.session.sealer.seal(encode_frame(Message("vote", b"v")))
        match where:
            case "tag":
                forged = sealed[:-1] + bytes([sealed[-1] ^ 1])
            case "ciphertext":
                forged = bytes([sealed[0] ^ 0x80]) + sealed[1:]
            case "truncated":
                forged = sealed[:10]
            case _:
                await raw.send_raw(sealed)
                forged = sealed  # the same bytes again: the counter has moved on
        await raw.send_raw(forged)
        assert await raw.wait_closed() == CLOSE_PROTOCOL_ERROR
        await wait_until(lambda: [p.key for p in a.network.peers()] == [B.public_key], "the raw link to close")
        assert logged(caplog, "forged_frame") >= 1
        # not scored: bytes that do not open may come from anyone on the path, not only from the peer
        assert a.network.get_score(E.public_key) == 0
        # a keeps serving its other peer
        assert await b.network.request(A.public_key, "block", b"still there", timeout=2) == b"ereht llits"


async def test_a_frame_altered_on_the_path_closes_the_link_unscored_and_it_comes_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="network")
    async with Cluster() as cluster:
        a = await cluster.add(A)
        host, port = a.address.rsplit(":", 1)
        relay = TcpProxy(0, host, int(port))
        await relay.start()
        try:
            b = await cluster.add(B, peers=[relay.address])
            await wait_linked(a, b)
            relay.tamper_after = 0  # the next chunk a sends through the relay arrives with one bit flipped
            a.network.broadcast("vote", b"v" * 200)
            await wait_until(lambda: relay.tampered == 1 and logged(caplog, "outbound link", "closed") >= 1,
                             "b to close the altered link")
            assert logged(caplog, "closed: forged_frame") + logged(caplog, "closed: session_failure") >= 1
            await wait_linked(a, b)  # b dials again: a fresh key exchange, a fresh link
            assert a.network.get_score(B.public_key) == 0 and b.network.get_score(A.public_key) == 0
            assert await b.network.request(A.public_key, "block", b"again", timeout=2) == b"niaga"
        finally:
            await relay.stop()


async def test_a_link_carries_frames_both_ways_after_the_key_exchange() -> None:
    async with Cluster() as cluster:
        a = await cluster.add(A)
        b = await cluster.add(B, peers=[a.address])
        await wait_linked(a, b)
        for i in range(50):
            b.network.broadcast("vote", bytes([i]) * 100)
        await wait_until(lambda: len(a.handler.messages) == 50, "50 messages in order")
        assert [payload[0] for _, _, payload in a.handler.messages] == list(range(50))
