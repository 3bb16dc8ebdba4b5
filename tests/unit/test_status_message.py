"""The status message: heights, round and the sender's linked peers, decoded strictly; older forms accepted."""

from __future__ import annotations

import pytest

from chainnode import codec
from chainnode.driver.gossip import MAX_STATUS_LINKS, PeerStatus, decode_status, encode_status
from chainnode.errors import InvalidInput

KEYS = [bytes([i]) * 32 for i in range(1, 4)]


def test_a_status_with_links_round_trips() -> None:
    status = PeerStatus(7, 8, 1, frozenset(KEYS))
    payload = encode_status(status)
    assert codec.decode(payload, max_size=4096) == [7, 8, 1, sorted(KEYS)]
    assert decode_status(payload) == status


def test_older_forms_say_nothing_of_links() -> None:
    assert decode_status(codec.encode([7, 8, 1])) == PeerStatus(7, 8, 1, None)
    assert decode_status(codec.encode([7, 0])) == PeerStatus(7, 0, -1, None)
    assert decode_status(encode_status(PeerStatus(7, 0, -1))) == PeerStatus(7, 0, -1, None)


def test_a_node_with_more_links_lists_the_first_by_key() -> None:
    many = frozenset(i.to_bytes(32, "big") for i in range(MAX_STATUS_LINKS + 10))
    decoded = decode_status(encode_status(PeerStatus(1, 2, 0, many)))
    assert decoded.links == frozenset(sorted(many)[:MAX_STATUS_LINKS])


@pytest.mark.parametrize("links", [
    "not a list",
    [KEYS[1], KEYS[0]],  # not ascending
    [KEYS[0], KEYS[0]],  # twice
    [b"short"],
    [1],
    [i.to_bytes(32, "big") for i in range(MAX_STATUS_LINKS + 1)],
])
def test_malformed_links_are_refused(links: object) -> None:
    with pytest.raises(InvalidInput, match="linked peers"):
        decode_status(codec.encode([1, 2, 0, links]))  # type: ignore[list-item]


def test_other_shapes_are_refused() -> None:
    for value in ([1], [1, 2, 0, [], 5], [1, "2", 0], [-1, 0, 0]):
        with pytest.raises(InvalidInput):
            decode_status(codec.encode(value))
