"""Node-to-node links between real `Network` instances on 127.0.0.1: the handshake and its refusals,
broadcast, request/response, abusive peers, scores and bans, one link per peer, and a clean stop."""

from __future__ import annotations

import asyncio
import logging
import struct
from typing import Any

import pytest

from chainnode.crypto import PrivateKey
from network.errors import (
    CLOSE_POLICY_VIOLATION,
    CLOSE_PROTOCOL_ERROR,
    CLOSE_TOO_BIG,
    CLOSE_UNSUPPORTED_DATA,
    InvalidOutgoingMessage,
    ListenError,
    PeerDisconnected,
    PeerNotConnected,
    RemoteError,
    RequestTimedOut,
)
from network.frames import Auth, Hello, Message, Ping, Pong, Request, Response, encode_frame
from network.link import Direction
from network.scoring import ScoringRules
from network.verdict import Verdict
from tests.integration.test_network_support import (
    CHAIN,
    GENESIS,
    KEYS,
    Cluster,
    FakeClock,
    RawPeer,
    RecordingHandler,
    free_port,
    logged,
    wait_linked,
    wait_until,
)

A, B, C, D, E, F, OUTSIDER = KEYS[0], KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]


async def test_handshake_links_both_sides_and_messages_flow() -> None:
    async with Cluster() as cluster:
        a = await cluster.add(A)
        b = await cluster.add(B, peers=[a.address])
        await wait_linked(a, b)
        [seen_by_a] = a.network.peers()
        [seen_by_b] = b.network.peers()
        assert seen_by_a.key == B.public_key and seen_by_a.direction is Direction.INBOUND
        assert seen_by_b.key == A.public_key and seen_by_b.direction is Direction.OUTBOUND
        assert seen_by_b.address == a.address and seen_by_a.score == 0
        assert a.handler.connected == [B.public_key] and b.handler.connected == [A.public_key]

        assert a.network.broadcast("vote", b"v1") == 1
        assert b.network.send(A.public_key, "tx", b"t1")
        await wait_until(lambda: len(a.handler.messages) == 1 and len(b.handler.messages) == 1, "both messages")
        assert b.handler.messages == [(A.public_key, "vote", b"v1")]
        assert a.handler.messages == [(B.public_key, "tx", b"t1")]
        await wait_until(lambda: all(p.rtt_ms is not None for p in a.network.peers()), "a ping round trip")
        info = a.network.peers()[0]
        assert info.messages_in >= 1 and info.messages_out >= 1 and info.bytes_in > 0 and info.bytes_out > 0


async def test_broadcast_reaches_every_peer_and_send_one() -> None:
    async with Cluster() as cluster:
        a = await cluster.add(A)
        others = [await cluster.add(key, peers=[a.address]) for key in (B, C, D)]
        await wait_until(lambda: len(a.network.peers()) == 3, "three peers at a")
        assert a.network.broadcast("vote", b"all") == 3
        assert a.network.broadcast("vote", b"not c", exclude=C.public_key) == 2
        assert a.network.broadcast("vote", b"only c", skip=lambda key: key != C.public_key) == 1
        assert a.network.send(D.public_key, "block", b"only d")
        assert not a.network.send(E.public_key, "block", b"nobody")
        await wait_until(lambda: sum(len(n.handler.messages) for n in others) == 7, "seven deliveries")
        b, c, d = (n.handler.messages for n in others)
        assert [m[2] for m in b] == [b"all", b"not c"]
        assert [m[2] for m in c] == [b"all", b"only c"]
        assert [m[2] for m in d] == [b"all", b"not c", b"only d"]
        assert a.network.connected_keys() == {B.public_key, C.public_key, D.public_key}
        with pytest.raises(InvalidOutgoingMessage):
            a.network.broadcast("gossip", b"unknown kind")
        with pytest.raises(InvalidOutgoingMessage):
            a.network.send(B.public_key, "vote", bytes(1025))


async def test_request_response_errors_and_timeout() -> None:
    async with Cluster() as cluster:
        a = await cluster.add(A)
        b = await cluster.add(B, peers=[a.address])
        await wait_linked(a, b)
        assert await b.network.request(A.public_key, "block", b"height 7", timeout=2) == b"7 thgieh"
        with pytest.raises(RemoteError) as missing:
            await b.network.request(A.public_key, "block", b"missing", timeout=2)
        assert missing.value.remote_code == "not_found" and "no such block" in missing.value.message
        assert b.network.get_score(A.public_key) == 0 and a.network.get_score(B.public_key) == 0

        with pytest.raises(RequestTimedOut):
            await b.network.request(A.public_key, "block", b"slow", timeout=0.2)
        a.handler.gate.set()  # the late answer arrives now and is dropped
        assert await b.network.request(A.public_key, "block", b"after", timeout=2) == b"retfa"
        with pytest.raises(RemoteError) as invalid:
            await b.network.request(A.public_key, "block", b"invalid", timeout=2)
        assert invalid.value.remote_code == "invalid_input"
        assert a.network.get_score(B.public_key) < 0  # an invalid request costs points like a rejected message
        with pytest.raises(PeerNotConnected):
            await b.network.request(C.public_key, "block", b"x", timeout=1)
        with pytest.raises(InvalidOutgoingMessage):
            await b.network.request(A.public_key, "nope", b"x", timeout=1)


async def test_pending_request_fails_when_the_peer_goes_away() -> None:
    async with Cluster() as cluster:
        a = await cluster.add(A)
        b = await cluster.add(B, peers=[a.address])
        await wait_linked(a, b)
        pending = asyncio.ensure_future(b.network.request(A.public_key, "block", b"slow", timeout=5))
        await wait_until(lambda: len(a.handler.requests) == 1, "the request to arrive")
        await a.network.stop()
        with pytest.raises(PeerDisconnected):
            await pending
        await wait_until(lambda: b.handler.disconnected == [A.public_key], "b to see a leave")


@pytest.mark.parametrize(
    ("name", "dialer", "overrides", "code"),
    [
        ("unknown key", OUTSIDER, {}, "peer_not_allowed"),
        ("wrong chain", B, {"chain_id": "another-chain"}, "wrong_chain_id"),
        ("wrong genesis", B, {"genesis_hash": bytes(32)}, "wrong_genesis"),
        ("our own key", A, {}, "self_connection"),
    ],
)
async def test_handshake_refused(
    caplog: pytest.LogCaptureFixture, name: str, dialer: PrivateKey, overrides: dict[str, Any], code: str
) -> None:
    caplog.set_level(logging.INFO, logger="network")
    async with Cluster() as cluster:
        a = await cluster.add(A)
        b = await cluster.add(dialer, peers=[a.address], **overrides)
        # a logs the refusal with the peer's address, key prefix and reason
        await wait_until(lambda: logged(caplog, "refused inbound link", dialer.public_key.hex()[:16], code) > 0, name)
        assert a.network.peers() == [] and b.network.peers() == []
        assert a.handler.connected == [] and b.handler.connected == []


async def test_own_address_is_dialed_once() -> None:
    port = free_port()
    async with Cluster() as cluster:
        a = await cluster.add(A, listen=f"127.0.0.1:{port}", peers=[f"127.0.0.1:{port}"])
        b = await cluster.add(B, peers=[a.address])
        await wait_linked(a, b)
        assert [p.key for p in a.network.peers()] == [B.public_key]


async def test_bad_and_replayed_handshake_signatures_are_refused(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="network")
    async with Cluster() as cluster, RawPeer(E) as raw:
        a = await cluster.add(A)
        # session 1: an honest handshake, recorded by an eavesdropper
        _, auth = await raw.authenticate(a.address)
        recorded = list(raw.sent)  # our hello in the clear, then our auth sealed
        await wait_until(lambda: E.public_key in {p.key for p in a.network.peers()}, "the honest session")
        await raw.ws.close() if raw.ws else None
        await wait_until(lambda: a.network.peers() == [], "session 1 to end")

        # session 2: the recorded bytes replayed; a's ephemeral key is new, so the sealed auth does not open
        await raw.connect(a.address)
        await raw.send_raw(recorded[0])
        await raw.receive_raw()  # a answers the hello with its sealed auth, then checks ours
        await raw.send_raw(recorded[1])
        assert await raw.wait_closed() == CLOSE_PROTOCOL_ERROR

        # session 3: the recorded signature (which the eavesdropper cannot even read) in a fresh key exchange:
        # a's nonce and the transcript are new, so the signature fails
        await raw.connect(a.address)
        fresh = raw.hello()  # the same nonce as in session 1, a new ephemeral key
        await raw.send(fresh)
        raw.start_session(fresh)
        assert isinstance(await raw.receive_frame(), Auth)
        await raw.send(auth)
        assert await raw.wait_closed() == CLOSE_POLICY_VIOLATION

        # session 4: a signature that is not a signature at all
        node_hello = await raw.connect(a.address)
        own = raw.hello(b"\x22" * 32)
        await raw.send(own)
        raw.start_session(own)
        await raw.receive_frame()
        await raw.send(Auth(bytes(64)))
        assert await raw.wait_closed() == CLOSE_POLICY_VIOLATION
        assert node_hello.public_key == A.public_key
        assert logged(caplog, "refused inbound link", E.public_key.hex()[:16], "forged_frame") == 1
        assert logged(caplog, "refused inbound link", E.public_key.hex()[:16], "invalid_handshake_signature") == 2
        assert a.network.get_score(E.public_key) == 0  # refusals before authentication are never scored
        assert a.network.peers() == []


async def test_handshake_that_never_finishes_times_out(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="network")
    async with Cluster() as cluster, RawPeer(E) as raw:
        a = await cluster.add(A, handshake_timeout_ms=200)
        await raw.connect(a.address)
        assert await raw.wait_closed() == CLOSE_POLICY_VIOLATION
        assert logged(caplog, "refused inbound link", "handshake_timeout") == 1


def _oversize_vote() -> bytes:
    return encode_frame(Message("vote", bytes(1025)))


@pytest.mark.parametrize(
    ("name", "send", "close_code"),
    [
        ("garbage bytes", b"\xc1garbage", CLOSE_PROTOCOL_ERROR),
        ("a payload over its kind's limit", _oversize_vote(), CLOSE_TOO_BIG),
        ("an unknown kind", encode_frame(Message("gossip", b"x")), CLOSE_PROTOCOL_ERROR),
        ("a text message", "hello", CLOSE_UNSUPPORTED_DATA),
        ("non-canonical msgpack", bytes.fromhex("9316") + b"\x01" + b"\xcc\x05", CLOSE_PROTOCOL_ERROR),
        ("a hello after the handshake", encode_frame(Hello(CHAIN, GENESIS, E.public_key, bytes(32), bytes(32))),
         CLOSE_PROTOCOL_ERROR),
        ("an answer to a request never sent", encode_frame(Response("vote", 9, "ok", b"")), CLOSE_PROTOCOL_ERROR),
    ],
)
async def test_abusive_peer_is_disconnected_and_scored_down(name: str, send: bytes | str, close_code: int) -> None:
    async with Cluster() as cluster, RawPeer(E) as raw:
        a = await cluster.add(A)
        b = await cluster.add(B, peers=[a.address])
        await raw.authenticate(a.address)
        await wait_until(lambda: len(a.network.peers()) == 2, "a to link with b and the raw peer")
        assert raw.ws is not None
        if isinstance(send, str):
            await raw.ws.send_str(send)
        else:
            await raw.send(send)
        assert await raw.wait_closed() == close_code, name
        await wait_until(lambda: a.network.get_score(E.public_key) < 0, "the raw peer's score to drop")
        assert a.network.get_ban(E.public_key) is None  # one violation is not yet a ban
        # a keeps serving its other peers
        assert [p.key for p in a.network.peers()] == [B.public_key]
        assert await b.network.request(A.public_key, "block", b"still there", timeout=2) == b"ereht llits"


async def test_raw_peer_gets_pings_and_may_ask() -> None:
    async with Cluster() as cluster, RawPeer(E) as raw:
        a = await cluster.add(A)
        await raw.authenticate(a.address)
        await raw.send(Ping(5))
        await raw.send(Request("block", 1, b"abc"))
        seen: list[object] = []
        while len([f for f in seen if isinstance(f, Pong | Response)]) < 2:
            frame = await raw.receive_frame()
            seen.append(frame)
            if isinstance(frame, Ping):
                await raw.send(Pong(frame.nonce))  # the node pings us too
        assert Pong(5) in seen and Response("block", 1, "ok", b"cba") in seen


async def test_peer_that_keeps_sending_rejected_messages_is_banned(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="network")
    clock = FakeClock()
    rules = ScoringRules(reject_penalty=30, ban_threshold=-100, ban_base_ms=60_000)
    async with Cluster() as cluster:
        a = await cluster.add(A, clock=clock, scoring=rules)
        a.handler.verdict = Verdict.REJECT
        b = await cluster.add(B, peers=[a.address])
        await wait_linked(a, b)
        for i in range(4):
            b.network.broadcast("vote", bytes([i]))
        await wait_until(lambda: a.network.get_ban(B.public_key) is not None, "b's ban")
        assert logged(caplog, "banned for 60000 ms", B.public_key.hex()[:16]) == 1
        assert logged(caplog, "scored down", "vote message rejected") == 4
        await wait_until(lambda: a.network.peers() == [] and b.network.peers() == [], "the link to close")
        # b keeps dialing and a keeps refusing it while the ban lasts
        await wait_until(lambda: logged(caplog, "refused inbound link", "peer_banned") >= 2, "refused redials")
        assert a.network.peers() == []

        clock.now += 60_001
        a.handler.verdict = Verdict.ACCEPT
        await wait_linked(a, b)
        assert a.network.get_score(B.public_key) == 0


async def test_both_sides_dialing_keep_the_link_dialed_by_the_smaller_key() -> None:
    port_a, port_b = free_port(), free_port()
    async with Cluster() as cluster:
        a = await cluster.add(A, listen=f"127.0.0.1:{port_a}", peers=[f"127.0.0.1:{port_b}"])
        b = await cluster.add(B, listen=f"127.0.0.1:{port_b}", peers=[f"127.0.0.1:{port_a}"])
        await wait_linked(a, b)
        smaller = min(A.public_key, B.public_key)
        expected_at_a = Direction.OUTBOUND if smaller == A.public_key else Direction.INBOUND

        def settled() -> bool:
            at_a, at_b = a.network.peers(), b.network.peers()
            return (
                len(at_a) == 1 and len(at_b) == 1 and at_a[0].direction is expected_at_a
                and at_b[0].direction is not expected_at_a and at_a[0].rtt_ms is not None
                and at_b[0].rtt_ms is not None
            )

        await wait_until(settled, "one link, dialed by the smaller key, that has answered a ping")
        assert a.network.broadcast("vote", b"once") == 1
        await wait_until(lambda: len(b.handler.messages) == 1, "one delivery")


async def test_membership_change_closes_links_of_removed_members() -> None:
    members = {A.public_key, B.public_key, C.public_key}
    async with Cluster() as cluster:
        a = await cluster.add(A, allowed=members.__contains__)
        b = await cluster.add(B, peers=[a.address])
        c = await cluster.add(C, peers=[a.address])
        await wait_linked(a, b)
        await wait_linked(a, c)
        members.discard(C.public_key)
        assert a.network.disconnect_disallowed() == 1
        await wait_until(lambda: a.peer_keys() == {B.public_key} and c.network.peers() == [], "c to be dropped")


async def test_a_key_removed_while_its_handshake_runs_is_refused_before_it_links(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The roster can change between the handshake's check of a key and the link's registration (a department
    removed at the block committed meanwhile); `disconnect_disallowed` then finds no link to close, so the new
    link must not be registered either."""
    asked: list[bytes] = []

    def allowed_once(key: bytes) -> bool:  # C passes the handshake's check, and is removed right after it
        asked.append(key)
        return key != C.public_key or asked.count(key) == 1

    async with Cluster() as cluster:
        a = await cluster.add(A, allowed=allowed_once)
        b = await cluster.add(B, peers=[a.address])
        await wait_linked(a, b)
        with caplog.at_level(logging.WARNING):
            c = await cluster.add(C, peers=[a.address])
            await wait_until(lambda: asked.count(C.public_key) >= 2, "c's handshake to be checked twice")
            await wait_until(lambda: "peer_not_allowed" in caplog.text, "the refusal to be logged")
        assert a.peer_keys() == {B.public_key}
        await wait_until(lambda: c.network.peers() == [], "c's side of the refused link to close")
        assert a.peer_keys() == {B.public_key}


async def test_port_in_use_is_a_clear_error() -> None:
    async with Cluster() as cluster:
        a = await cluster.add(A)
        with pytest.raises(ListenError) as error:
            await cluster.add(B, listen=a.address)
        assert a.address in error.value.message and error.value.code == "listen_failed"


async def test_stop_leaves_no_task_behind() -> None:
    before = asyncio.all_tasks()
    async with Cluster() as cluster, RawPeer(E) as raw:
        a = await cluster.add(A)
        b = await cluster.add(B, peers=[a.address])
        c = await cluster.add(C, peers=[a.address, b.address, "127.0.0.1:1"])
        await wait_linked(a, b, c)
        await raw.connect(a.address)  # a connection stuck in its handshake
        pending = asyncio.ensure_future(c.network.request(A.public_key, "block", b"slow", timeout=5))
        await wait_until(lambda: len(a.handler.requests) == 1, "the request to arrive")
        for node in cluster.nodes:
            await node.network.stop()
        with pytest.raises(PeerDisconnected):
            await pending
    assert asyncio.all_tasks() == before


class BuggyHandler(RecordingHandler):
    async def on_message(self, peer: bytes, kind: str, payload: bytes) -> Verdict:
        raise RuntimeError("a bug in the handler")

    async def on_request(self, peer: bytes, kind: str, payload: bytes) -> bytes:
        if payload == b"boom":
            raise struct.error("argument out of range")
        return await super().on_request(peer, kind, payload)


async def test_handler_failure_is_the_peers_fault_not_the_nodes(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="network")
    async with Cluster() as cluster:
        a = await cluster.add(A, handler=BuggyHandler())
        b = await cluster.add(B, peers=[a.address])
        await wait_linked(a, b)
        b.network.broadcast("vote", b"boom")
        with pytest.raises(RemoteError) as failed:
            await b.network.request(A.public_key, "block", b"boom", timeout=2)
        assert failed.value.remote_code == "internal_error"
        await wait_until(lambda: a.network.get_score(B.public_key) <= -80, "both failures to be charged to b")
        # the node and the link keep working: a's network did not stop, and the same peer is still served
        assert await b.network.request(A.public_key, "block", b"still", timeout=2) == b"llits"
        assert a.is_linked(b)
        tracebacks = [r for r in caplog.records if r.exc_info and "the handler failed" in r.getMessage()]
        assert len(tracebacks) == 1  # the first failure with its traceback, the next one in a line
        assert logged(caplog, "the handler failed", "again (2 on this link)") == 1
        assert logged(caplog, "networking stopped by an error") == 0
        # a third failure reaches the ban threshold: the repeat offender is disconnected and refused
        b.network.broadcast("vote", b"boom")
        await wait_until(lambda: a.network.get_ban(B.public_key) is not None, "b to be banned")
        await wait_until(lambda: not a.is_linked(b), "b's link to be closed")
        await a.network.stop()  # stops cleanly: nothing is raised
