"""The link registry: who may link, which of two links to one key survives (the same choice at both
ends), when the handler hears of a peer, and what a low score does."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from network.config import NetworkConfig
from network.errors import CLOSE_DUPLICATE, CLOSE_POLICY_VIOLATION, PeerBanned, PeerNotAllowed, TooManyPeers
from network.link import Direction, Link, WebSocket
from network.registry import PeerRegistry
from network.scoring import Offence, ScoringRules

SMALL, LARGE, OTHER = b"\x01" * 32, b"\x09" * 32, b"\x05" * 32


class Clock:
    now = 1_000

    def now_ms(self) -> int:
        return self.now


class Handler:
    def __init__(self) -> None:
        self.events: list[tuple[str, bytes]] = []

    async def on_message(self, peer: bytes, kind: str, payload: bytes) -> Any: ...

    async def on_request(self, peer: bytes, kind: str, payload: bytes) -> bytes:
        return b""

    def on_peer_connected(self, peer: bytes) -> None:
        self.events.append(("connected", peer))

    def on_peer_disconnected(self, peer: bytes) -> None:
        self.events.append(("disconnected", peer))


def make_registry(**overrides: Any) -> tuple[PeerRegistry, Handler, Clock, set[bytes]]:
    allowed = {SMALL, LARGE, OTHER}
    config = NetworkConfig(chain_id="c", genesis_hash=bytes(32), **overrides)
    handler, clock = Handler(), Clock()
    return PeerRegistry(config, is_allowed=allowed.__contains__, handler=handler, clock=clock), handler, clock, allowed


def make_link(registry: PeerRegistry, *, own: bytes, peer: bytes, direction: Direction) -> Link:
    config = NetworkConfig(chain_id="c", genesis_hash=bytes(32))
    return Link(cast(WebSocket, object()), peer_key=peer, own_key=own, address="x:1", direction=direction,
                config=config, handler=Handler(), report=registry.penalise, connected_ms=0)


def test_at_both_ends_the_link_dialed_by_the_smaller_key_survives() -> None:
    # the node with the smaller key sees its outbound link and the peer's inbound link
    small_side, small_events, _, _ = make_registry()
    dialed_by_small = make_link(small_side, own=SMALL, peer=LARGE, direction=Direction.OUTBOUND)
    dialed_by_large = make_link(small_side, own=SMALL, peer=LARGE, direction=Direction.INBOUND)
    # and the node with the larger key sees them the other way round, in the other order
    large_side, _, _, _ = make_registry()
    large_in = make_link(large_side, own=LARGE, peer=SMALL, direction=Direction.INBOUND)
    large_out = make_link(large_side, own=LARGE, peer=SMALL, direction=Direction.OUTBOUND)

    assert small_side.register(dialed_by_small) and not small_side.register(dialed_by_large)
    assert large_side.register(large_out) and large_side.register(large_in)  # replaces
    assert large_out.is_closing and large_out.close_code == CLOSE_DUPLICATE
    assert small_side.get(LARGE) is dialed_by_small and large_side.get(SMALL) is large_in
    assert small_events.events == [("connected", LARGE)]


def test_a_redial_replaces_the_stale_link_without_a_disconnect() -> None:
    registry, handler, _, _ = make_registry()
    old = make_link(registry, own=SMALL, peer=OTHER, direction=Direction.INBOUND)
    new = make_link(registry, own=SMALL, peer=OTHER, direction=Direction.INBOUND)
    assert registry.register(old) and registry.register(new)
    registry.unregister(old)  # the replaced link ends: the peer is still connected
    assert handler.events == [("connected", OTHER)]
    registry.unregister(new)
    assert handler.events == [("connected", OTHER), ("disconnected", OTHER)]
    assert registry.peers() == []


def test_check_peer() -> None:
    registry, _, _, allowed = make_registry(max_links=1)
    registry.check_peer(OTHER)
    allowed.discard(OTHER)
    with pytest.raises(PeerNotAllowed):
        registry.check_peer(OTHER)
    registry.register(make_link(registry, own=SMALL, peer=LARGE, direction=Direction.OUTBOUND))
    registry.check_peer(LARGE)  # already linked: a replacement is fine
    allowed.add(OTHER)
    with pytest.raises(TooManyPeers):
        registry.check_peer(OTHER)


async def test_ban_closes_the_link_refuses_the_key_and_ends_in_time() -> None:
    registry, _, clock, _ = make_registry(
        scoring=ScoringRules(violation_penalty=60, ban_base_ms=5_000), backoff_base_ms=10, backoff_max_ms=20
    )
    link = make_link(registry, own=SMALL, peer=OTHER, direction=Direction.INBOUND)
    registry.register(link)
    registry.penalise(link, Offence.PROTOCOL_VIOLATION, "garbage")
    assert registry.get_score(OTHER) == -60 and not link.is_closing
    registry.penalise(link, Offence.PROTOCOL_VIOLATION, "garbage again")
    assert link.is_closing and link.close_code == CLOSE_POLICY_VIOLATION
    with pytest.raises(PeerBanned):
        registry.check_peer(OTHER)
    registry.unregister(link)
    waiting = asyncio.create_task(registry.wait_until_dialable(OTHER))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    clock.now += 5_000
    async with asyncio.timeout(1):  # the dialer looks again at least every backoff_max_ms
        await waiting


async def test_wait_until_dialable_waits_for_the_disconnect() -> None:
    registry, _, _, _ = make_registry()
    link = make_link(registry, own=SMALL, peer=OTHER, direction=Direction.OUTBOUND)
    registry.register(link)
    waiting = asyncio.create_task(registry.wait_until_dialable(OTHER))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    registry.unregister(link)
    async with asyncio.timeout(1):
        await waiting


def test_disconnect_disallowed() -> None:
    registry, _, _, allowed = make_registry()
    keep = make_link(registry, own=SMALL, peer=LARGE, direction=Direction.OUTBOUND)
    drop = make_link(registry, own=SMALL, peer=OTHER, direction=Direction.OUTBOUND)
    registry.register(keep)
    registry.register(drop)
    allowed.discard(OTHER)
    assert registry.disconnect_disallowed() == 1
    assert drop.is_closing and not keep.is_closing
