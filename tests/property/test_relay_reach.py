"""The relay rule (`has_from_origin`) over random link graphs: a message reaches every node joined to its
origin by any path of links, and in a full mesh nobody receives a second copy.

Two uses, as in the node: a vote or proposal, relayed by each node on first receipt to every peer but its
sender unless the peer is linked to the message's signer; and a transaction, the same with the peer it came
from in the signer's place. The origin sends to all its peers."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from hypothesis import given, settings
from hypothesis import strategies as st

from chainnode.driver.gossip import has_from_origin


def key(i: int) -> bytes:
    return i.to_bytes(32, "big")


def flood(links: Mapping[bytes, frozenset[bytes]], origin: bytes, *, by_sender: bool) -> dict[bytes, int]:
    """Copies each node receives when `origin` sends a message to all its peers and every node relays it on first
    receipt by the rule. `by_sender`: the transaction form (the rule's origin is the peer it came from)."""
    received: dict[bytes, int] = {node: 0 for node in links}
    queue = deque((origin, peer) for peer in links[origin])
    while queue:
        sender, node = queue.popleft()
        received[node] += 1
        if received[node] > 1 or node == origin:
            continue
        rule_origin = sender if by_sender else origin
        for peer in links[node]:
            if peer != sender and not has_from_origin(peer, rule_origin, links):
                queue.append((node, peer))
    return received


def reachable(links: Mapping[bytes, frozenset[bytes]], origin: bytes) -> set[bytes]:
    seen, queue = {origin}, deque([origin])
    while queue:
        for peer in links[queue.popleft()]:
            if peer not in seen:
                seen.add(peer)
                queue.append(peer)
    return seen


@st.composite
def graphs(draw: st.DrawFn) -> dict[bytes, frozenset[bytes]]:
    n = draw(st.integers(2, 12))
    edges = draw(st.sets(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=n * 3))
    adjacency: dict[bytes, set[bytes]] = {key(i): set() for i in range(n)}
    for a, b in edges:
        if a != b:
            adjacency[key(a)].add(key(b))
            adjacency[key(b)].add(key(a))
    return {node: frozenset(peers) for node, peers in adjacency.items()}


@settings(max_examples=300, deadline=None)
@given(graphs(), st.data(), st.booleans())
def test_every_node_joined_to_the_origin_gets_the_message(links: dict[bytes, frozenset[bytes]], data: st.DataObject,
                                                          by_sender: bool) -> None:
    origin = data.draw(st.sampled_from(sorted(links)))
    received = flood(links, origin, by_sender=by_sender)
    got = {node for node, copies in received.items() if copies} | {origin}
    assert got == reachable(links, origin)


def test_a_full_mesh_sends_each_message_once_per_node() -> None:
    nodes = [key(i) for i in range(7)]
    mesh = {node: frozenset(n for n in nodes if n != node) for node in nodes}
    for by_sender in (False, True):
        received = flood(mesh, nodes[0], by_sender=by_sender)
        assert received == {nodes[0]: 0, **{node: 1 for node in nodes[1:]}}


def test_a_line_relays_end_to_end() -> None:
    a, b, c, d = (key(i) for i in range(4))
    line = {a: frozenset({b}), b: frozenset({a, c}), c: frozenset({b, d}), d: frozenset({c})}
    for by_sender in (False, True):
        assert flood(line, a, by_sender=by_sender) == {a: 0, b: 1, c: 1, d: 1}


def test_a_peer_whose_links_are_unknown_is_relayed_to() -> None:
    a, b, c = key(1), key(2), key(3)
    assert has_from_origin(a, a, {})  # the origin itself
    assert not has_from_origin(b, a, {})  # no status with links yet: it may lack it
    assert has_from_origin(b, a, {b: frozenset({a, c})})
    assert not has_from_origin(b, a, {b: frozenset({c})})
