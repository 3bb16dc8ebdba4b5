"""Relaying peers' transactions: late (after a full tick), only those still pending, never to their sender, and
nothing dropped when many are held."""

from __future__ import annotations

from chainnode.driver.relay import TxRelay

A, B = b"\x0a" * 32, b"\x0b" * 32


def make(pending: set[bytes], capacity: int = 100) -> tuple[TxRelay, list[tuple[list[bytes], bytes]]]:
    sent: list[tuple[list[bytes], bytes]] = []
    relay = TxRelay(is_pending=pending.__contains__, send=lambda raws, source: sent.append((raws, source)),
                    capacity=capacity)
    return relay, sent


def test_a_peers_transaction_is_relayed_after_a_full_tick_to_all_but_its_sender() -> None:
    relay, sent = make({b"t1", b"t2", b"t3"})
    relay.add([b"t1", b"t2"], A)
    assert relay.tick() == 0 and sent == []  # added since the last tick: not yet
    relay.add([b"t3"], B)
    assert relay.tick() == 2 and sent == [([b"t1", b"t2"], A)]  # excluded: A, which sent them
    assert relay.tick() == 1 and sent[1:] == [([b"t3"], B)]
    assert relay.tick() == 0 and len(relay) == 0


def test_what_was_committed_meanwhile_is_not_relayed() -> None:
    pending = {b"t1", b"t2"}
    relay, sent = make(pending)
    relay.add([b"t1", b"t2"], A)
    relay.tick()
    pending.discard(b"t1")  # committed (or refused) before its turn: every node that matters has it
    relay.tick()
    assert sent == [([b"t2"], A)]


def test_beyond_capacity_the_older_generation_goes_out_early_and_nothing_is_lost() -> None:
    raws = [f"t{i}".encode() for i in range(25)]
    relay, sent = make(set(raws), capacity=10)
    for i in range(0, 25, 5):
        relay.add(raws[i:i + 5], A)
        assert len(relay) <= 10
    while len(relay):
        relay.tick()
    assert sorted(raw for batch, _ in sent for raw in batch) == sorted(raws)
