"""Block sync against peers that lie: requests outside the store's range are refused before the store sees
them, and a peer that serves an invalid block or cannot serve the height it announced is scored down."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from chainnode import codec
from chainnode.errors import InvalidBlock, InvalidInput
from chainnode.sync import SYNC_BATCH_BLOCKS, BlockSync, serve_blocks, validate_block_request
from network.errors import RemoteError, RequestTimedOut
from network.scoring import Offence

PEER = b"\x07" * 32


@pytest.mark.parametrize("value", [[-1, 10], [0, 10], [1, 0], [1, -5], [2**63, 1], [1, 2**21], [1], "x", [1, "2"]])
def test_out_of_range_requests_are_invalid_input(value: Any) -> None:
    with pytest.raises(InvalidInput):
        validate_block_request(value)


def test_a_large_batch_is_capped() -> None:
    assert validate_block_request([3, 1 << 20]) == (3, SYNC_BATCH_BLOCKS)
    assert validate_block_request([1, 1]) == (1, 1)


class StoreMustNotBeReached:
    def blocks_for_sync(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an invalid request reached the store")


def test_serve_blocks_refuses_a_negative_height_before_the_store() -> None:
    with pytest.raises(InvalidInput):
        serve_blocks(StoreMustNotBeReached(), codec.encode([-1, 10]))  # type: ignore[arg-type]


@dataclass
class FakeClock:
    def now_ms(self) -> int:
        return 1_000


@dataclass
class FakeNode:
    head: int = 0
    clock: FakeClock = field(default_factory=FakeClock)

    def head_height(self) -> int:
        return self.head

    def apply_synced_block(self, block: bytes, commit: bytes, executed: Any = None) -> Any:
        raise InvalidBlock("the commit does not verify")


@dataclass
class FakeNetwork:
    answer: Any
    reports: list[tuple[bytes, Offence]] = field(default_factory=list)

    async def request(self, peer: bytes, kind: str, payload: bytes, *, timeout: float) -> bytes:
        if isinstance(self.answer, Exception):
            raise self.answer
        assert isinstance(self.answer, bytes)
        return self.answer

    def report_peer(self, peer: bytes, offence: Offence, reason: str) -> None:
        self.reports.append((peer, offence))


async def run_sync(answer: Any) -> FakeNetwork:
    network = FakeNetwork(answer)
    sync = BlockSync(FakeNode(), network, lock=asyncio.Lock(), on_advanced=lambda: None)  # type: ignore[arg-type]
    sync.note_peer_height(PEER, 5)
    await sync.catch_up()
    assert sync.peer_heights == {}  # dropped as a sync source in every case
    return network


async def test_a_peer_that_announced_a_height_it_cannot_serve_is_scored_down() -> None:
    network = await run_sync(RemoteError("peer answered not_found", remote_code="not_found"))
    assert network.reports == [(PEER, Offence.FALSE_STATUS)]


async def test_a_peer_that_serves_an_invalid_block_is_scored_down() -> None:
    network = await run_sync(codec.encode([[b"block", b"commit"]]))
    assert network.reports == [(PEER, Offence.INVALID_SYNC_DATA)]


async def test_an_answer_that_does_not_decode_is_scored_down() -> None:
    network = await run_sync(codec.encode(["not a pair"]))
    assert network.reports == [(PEER, Offence.INVALID_SYNC_DATA)]


async def test_not_found_for_an_announced_height_is_a_false_status() -> None:
    network = await run_sync(RemoteError("peer answered not_found", remote_code="not_found"))
    assert network.reports == [(PEER, Offence.FALSE_STATUS)]


async def test_the_peers_own_failure_is_no_false_status() -> None:
    """internal_error is what a peer answers when serving failed on its side: dropped as a source, not charged."""
    network = await run_sync(RemoteError("peer answered internal_error", remote_code="internal_error"))
    assert network.reports == []


async def test_a_timeout_is_no_offence() -> None:
    network = await run_sync(RequestTimedOut("slow"))
    assert network.reports == []


@dataclass
class LaggingNode(FakeNode):
    """A node whose own consensus commits its next block when `commit_next` is set."""

    new_head: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_for_height(self, height: int, timeout_s: float) -> bool:
        try:
            await asyncio.wait_for(self.new_head.wait(), timeout_s)
        except TimeoutError:
            return False
        self.head = height
        return True


@dataclass
class RecordingNetwork:
    asked: asyncio.Event = field(default_factory=asyncio.Event)
    requests: list[bytes] = field(default_factory=list)

    async def request(self, peer: bytes, kind: str, payload: bytes, *, timeout: float) -> bytes:
        self.requests.append(payload)
        self.asked.set()
        raise RequestTimedOut("no answer")  # dropped as a source: the loop ends

    def report_peer(self, peer: bytes, offence: Offence, reason: str) -> None:
        raise AssertionError("no offence here")


async def lagging_sync(grace_s: float, monkeypatch: pytest.MonkeyPatch, *, executing: bool = True,
                       ) -> tuple[BlockSync, LaggingNode, RecordingNetwork]:
    """A node at head 4; `executing`: its consensus is executing block 5 (and keeps at it)."""
    from chainnode import sync as sync_module

    monkeypatch.setattr(sync_module, "LAG_GRACE_S", grace_s)
    node, network = LaggingNode(head=4), RecordingNetwork()
    sync = BlockSync(node, network, lock=asyncio.Lock(), on_advanced=lambda: None,  # type: ignore[arg-type]
                     is_executing=lambda height: executing and height == node.head + 1)
    return sync, node, network


async def stop(sync: BlockSync, task: asyncio.Task[None]) -> None:
    sync.stop()
    await asyncio.wait_for(task, 5)


async def test_one_block_behind_is_left_to_consensus_that_commits_it(monkeypatch: pytest.MonkeyPatch) -> None:
    sync, node, network = await lagging_sync(30.0, monkeypatch)
    task = asyncio.create_task(sync.run())
    sync.note_peer_height(PEER, 5)
    await asyncio.sleep(0)
    node.new_head.set()  # this node's consensus commits block 5 itself
    sync.note_peer_height(PEER, 5)
    await asyncio.wait_for(until(lambda: node.head == 5 and not sync.wanted.is_set()), 5)
    await stop(sync, task)
    assert network.requests == []  # the block was not fetched (and so not executed twice)


async def until(condition: Any) -> None:
    while not condition():
        await asyncio.sleep(0.01)


async def test_one_block_behind_is_fetched_when_consensus_does_not_commit_it(monkeypatch: pytest.MonkeyPatch) -> None:
    sync, _node, network = await lagging_sync(0.05, monkeypatch)
    task = asyncio.create_task(sync.run())
    sync.note_peer_height(PEER, 5)
    await asyncio.wait_for(network.asked.wait(), 5)
    await stop(sync, task)
    assert network.requests[0] == codec.encode([5, SYNC_BATCH_BLOCKS])


@pytest.mark.parametrize("how", ["two ahead", "consensus asks", "not executing it"])
async def test_further_behind_or_asked_by_consensus_or_idle_fetches_at_once(how: str,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Two blocks behind, consensus asking, or one behind without executing that block (the end of the height was
    missed and the peers have moved on): no grace."""
    # a grace no test would outlive
    sync, _node, network = await lagging_sync(3600.0, monkeypatch, executing=how != "not executing it")
    task = asyncio.create_task(sync.run())
    if how == "two ahead":
        sync.note_peer_height(PEER, 6)
    elif how == "not executing it":
        sync.note_peer_height(PEER, 5)
    else:
        sync.peer_heights[PEER] = 5
        sync.request()
    await asyncio.wait_for(network.asked.wait(), 5)
    await stop(sync, task)
    assert network.requests[0] == codec.encode([5, SYNC_BATCH_BLOCKS])
