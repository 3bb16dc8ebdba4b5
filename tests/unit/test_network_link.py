"""One link driven through a fake WebSocket: queue bounds and priorities, backpressure, request
matching, keepalive, verdicts, and that closing or cancelling always ends every task."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import WSMessage, WSMsgType

from chainnode.errors import InvalidInput, NotFound
from network.config import NetworkConfig
from network.errors import (
    CLOSE_DUPLICATE,
    CLOSE_PING_TIMEOUT,
    CLOSE_PROTOCOL_ERROR,
    CLOSE_STALLED,
    PeerDisconnected,
    RemoteError,
    RequestTimedOut,
    TooManyPendingRequests,
    UnexpectedFrame,
)
from network.frames import Frame, Message, Ping, Pong, Request, Response, decode_frame, encode_frame
from network.link import Direction, Link, run_until_first_returns
from network.scoring import Offence
from network.verdict import Verdict

PEER = b"p" * 32
LIMITS = {"vote": 100, "block": 1000}


class FakeWebSocket:
    """In-memory WebSocket: the test feeds `incoming`; `sent` records writes while `writable` is set."""

    def __init__(self) -> None:
        self.incoming: asyncio.Queue[WSMessage] = asyncio.Queue()
        self.sent: list[bytes] = []
        self.writable = asyncio.Event()
        self.writable.set()
        self.closed_with: tuple[int, bytes] | None = None
        self.receive_calls = 0

    @property
    def closed(self) -> bool:
        return self.closed_with is not None

    async def send_bytes(self, data: bytes, compress: int | None = None) -> None:
        await self.writable.wait()
        self.sent.append(data)

    async def receive(self, timeout: float | None = None) -> WSMessage:
        self.receive_calls += 1
        return await self.incoming.get()

    async def close(self, *, code: int = 1000, message: bytes = b"") -> bool:
        if self.closed_with is None:
            self.closed_with = (code, message)
        return True

    def feed(self, frame: Frame | bytes) -> None:
        data = frame if isinstance(frame, bytes) else encode_frame(frame)
        self.incoming.put_nowait(WSMessage(WSMsgType.BINARY, data, None))

    def frames(self) -> list[Frame]:
        return [decode_frame(data, LIMITS) for data in self.sent]


@dataclass
class Handler:
    verdict: Verdict = Verdict.ACCEPT
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    messages: list[bytes] = field(default_factory=list)
    blocking: bool = False

    async def on_message(self, peer: bytes, kind: str, payload: bytes) -> Verdict:
        if self.blocking:
            await self.gate.wait()
        self.messages.append(payload)
        if payload == b"invalid":
            raise InvalidInput("bad vote")
        return self.verdict

    async def on_request(self, peer: bytes, kind: str, payload: bytes) -> bytes:
        if payload == b"missing":
            raise NotFound("nothing at that height")
        if payload == b"huge":
            return bytes(2000)
        return payload.upper()

    def on_peer_connected(self, peer: bytes) -> None: ...

    def on_peer_disconnected(self, peer: bytes) -> None: ...


def make_link(**overrides: int) -> tuple[FakeWebSocket, Link, Handler, list[tuple[Offence, str]]]:
    settings: dict[str, Any] = {
        "send_queue_size": 3, "control_queue_size": 4, "receive_queue_size": 2, "max_pending_requests": 2,
        "ping_interval_ms": 60_000, "ping_timeout_ms": 60_000, "send_timeout_ms": 60_000, "close_timeout_ms": 100,
        **overrides,
    }
    config = NetworkConfig(chain_id="c", genesis_hash=bytes(32), limits=LIMITS, **settings)
    ws, handler, reports = FakeWebSocket(), Handler(), []
    link = Link(ws, peer_key=PEER, own_key=b"o" * 32, address="peer:1", direction=Direction.OUTBOUND, config=config,
                handler=handler, report=lambda _, offence, reason: reports.append((offence, reason)), connected_ms=0)
    return ws, link, handler, reports


async def until(predicate: object, what: str) -> None:
    async with asyncio.timeout(2):
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.001)


async def test_full_gossip_queue_drops_the_oldest_and_counts() -> None:
    ws, link, _, _ = make_link()
    ws.writable.clear()  # the peer reads nothing
    for i in range(5):
        assert link.enqueue_gossip(encode_frame(Message("vote", bytes([i]))))
    task = asyncio.create_task(link.run())
    await until(lambda: link.stats.dropped == 2, "drops")  # queue of 3: the send loop holds one in hand
    ws.writable.set()
    await until(lambda: len(ws.sent) == 3, "the rest to be written")
    assert [f.payload for f in ws.frames()] == [b"\x02", b"\x03", b"\x04"]  # type: ignore[union-attr]
    link.close(1000, "done")
    await task
    assert not link.enqueue_gossip(b"late")


async def test_control_frames_go_before_gossip_and_a_full_control_queue_closes() -> None:
    ws, link, _, _ = make_link()
    ws.writable.clear()
    link.enqueue_gossip(encode_frame(Message("vote", b"g")))
    task = asyncio.create_task(link.run())
    await asyncio.sleep(0.01)
    for nonce in range(6):  # pings we must answer, while the peer reads nothing
        ws.feed(Ping(nonce))
    await task
    assert link.close_code == CLOSE_STALLED and "control send queue full" in link.close_reason
    assert ws.closed_with is not None and ws.closed_with[0] == CLOSE_STALLED


async def test_stuck_writes_close_the_link() -> None:
    ws, link, _, _ = make_link(send_timeout_ms=50)
    ws.writable.clear()
    link.enqueue_gossip(encode_frame(Message("vote", b"g")))
    await link.run()
    assert link.close_code == CLOSE_STALLED and "could not be written" in link.close_reason


async def test_slow_handler_stops_reading_backpressure() -> None:
    ws, link, handler, _ = make_link()
    handler.blocking = True
    for i in range(10):
        ws.feed(Message("vote", bytes([i])))
    task = asyncio.create_task(link.run())
    await until(lambda: ws.receive_calls >= 3, "reads")
    await asyncio.sleep(0.02)
    # one message in the handler, two in the receive queue, one in hand waiting for room: then no reads
    assert ws.receive_calls == 4 and ws.incoming.qsize() == 6
    handler.gate.set()
    await until(lambda: len(handler.messages) == 10, "all messages handled in order")
    assert handler.messages == [bytes([i]) for i in range(10)]
    link.close(1000, "done")
    await task


async def test_requests_match_responses_and_fail_cleanly() -> None:
    ws, link, _, _ = make_link()
    task = asyncio.create_task(link.run())
    first = asyncio.create_task(link.request("block", b"a", timeout_s=2))
    second = asyncio.create_task(link.request("vote", b"b", timeout_s=2))
    await until(lambda: len(ws.sent) == 2, "both requests written")
    with pytest.raises(TooManyPendingRequests):
        await link.request("block", b"c", timeout_s=2)
    ws.feed(Response("vote", 2, "ok", b"B"))  # answers may come in any order
    ws.feed(Response("block", 1, "not_found", b"nothing"))
    assert await second == b"B"
    with pytest.raises(RemoteError) as error:
        await first
    assert error.value.remote_code == "not_found"
    with pytest.raises(RequestTimedOut):
        await link.request("block", b"late", timeout_s=0.01)
    ws.feed(Response("block", 3, "ok", b"too late"))  # dropped: its request timed out
    pending = asyncio.create_task(link.request("block", b"never", timeout_s=5))
    await until(lambda: len(ws.sent) == 4, "the last request written")
    link.close(CLOSE_DUPLICATE, "replaced")
    await task
    with pytest.raises(PeerDisconnected, match="replaced"):
        await pending
    assert link.violation is None


async def test_answer_of_the_wrong_kind_is_a_violation() -> None:
    ws, link, _, _ = make_link()
    task = asyncio.create_task(link.run())
    request = asyncio.create_task(link.request("block", b"a", timeout_s=2))
    await until(lambda: len(ws.sent) == 1, "the request written")
    ws.feed(Response("vote", 1, "ok", b""))
    await task
    assert isinstance(link.violation, UnexpectedFrame) and link.close_code == CLOSE_PROTOCOL_ERROR
    with pytest.raises(PeerDisconnected):
        await request


async def test_serving_requests_and_verdicts() -> None:
    ws, link, handler, reports = make_link()
    handler.verdict = Verdict.REJECT
    ws.feed(Request("block", 5, b"abc"))
    ws.feed(Request("block", 6, b"missing"))
    ws.feed(Request("vote", 7, b"huge"))
    ws.feed(Message("vote", b"reject me"))
    ws.feed(Message("vote", b"invalid"))
    task = asyncio.create_task(link.run())
    await until(lambda: len(ws.sent) == 3 and len(reports) == 2, "answers and reports")
    assert ws.frames() == [
        Response("block", 5, "ok", b"ABC"),
        Response("block", 6, "not_found", b"nothing at that height"),
        Response("vote", 7, "response_too_large", b"the answer is over the kind's limit"),
    ]
    assert [offence for offence, _ in reports] == [Offence.REJECTED_MESSAGE] * 2
    assert "invalid_input: bad vote" in reports[1][1]
    link.close(1000, "done")
    await task


async def test_pings_are_answered_and_a_silent_peer_times_out() -> None:
    ws, link, _, _ = make_link(ping_interval_ms=10, ping_timeout_ms=50)
    ws.feed(Ping(41))
    await link.run()  # we ping every 10 ms; nobody answers
    assert Pong(41) in ws.frames() and Ping(1) in ws.frames()
    assert link.close_code == CLOSE_PING_TIMEOUT


async def test_pong_records_the_round_trip() -> None:
    ws, link, _, _ = make_link(ping_interval_ms=10, ping_timeout_ms=1000)
    task = asyncio.create_task(link.run())
    await until(lambda: Ping(1) in ws.frames(), "a ping")
    ws.feed(Pong(1))
    await until(lambda: link.stats.rtt_ms is not None, "the round trip")
    link.close(1000, "done")
    await task


async def test_peer_closing_ends_the_link() -> None:
    ws, link, _, _ = make_link()
    ws.incoming.put_nowait(WSMessage(WSMsgType.CLOSE, CLOSE_DUPLICATE, "duplicate link"))
    await link.run()
    assert link.peer_close_code == CLOSE_DUPLICATE and "duplicate link" in link.close_reason


async def test_a_text_message_is_a_violation() -> None:
    ws, link, _, _ = make_link()
    ws.incoming.put_nowait(WSMessage(WSMsgType.TEXT, "hi", None))
    await link.run()
    assert link.violation is not None and link.violation.code == "text_frame"


@pytest.mark.parametrize("sleeps", range(8))
async def test_cancellation_is_never_swallowed(sleeps: int) -> None:
    """Whatever instant a cancel arrives (even while a task has just finished), it propagates and no
    task is left behind."""
    before = asyncio.all_tasks()

    async def quick() -> None:
        await asyncio.sleep(0)

    async def forever() -> None:
        await asyncio.Event().wait()

    async def parent() -> None:
        await run_until_first_returns([quick(), forever(), forever()])
        await asyncio.sleep(10)

    task = asyncio.create_task(parent())
    for _ in range(sleeps):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert asyncio.all_tasks() == before


async def test_bug_in_a_loop_is_raised_not_hidden() -> None:
    async def broken() -> None:
        raise KeyError("bug")

    async def forever() -> None:
        await asyncio.Event().wait()

    with pytest.raises(KeyError):
        await run_until_first_returns([broken(), forever()])
