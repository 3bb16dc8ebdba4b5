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

    def apply_synced_block(self, block: bytes, commit: bytes) -> Any:
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
