"""The history cursor: opaque, bound to one chain and one entity, strict about its form; and where a page starts."""

from __future__ import annotations

import base64

import pytest

from chainnode.errors import InvalidField
from chainnode.history import MAX_INDEX, compute_start, decode_cursor, encode_cursor

MAX = 2**62


def test_a_cursor_round_trips_for_its_chain_and_entity() -> None:
    for position in [(1, 0), (7, 1999), (MAX, MAX_INDEX)]:
        text = encode_cursor("devnet", "case:ab", position)
        assert len(text) == 28 and "=" not in text
        assert decode_cursor(text, "devnet", "case:ab", max_height=MAX) == position


@pytest.mark.parametrize(("chain_id", "entity"), [("devnet", "case:ac"), ("other", "case:ab"), ("devnet", "case:ab ")])
def test_a_cursor_of_another_entity_or_chain_is_refused(chain_id: str, entity: str) -> None:
    text = encode_cursor("devnet", "case:ab", (3, 4))
    with pytest.raises(InvalidField, match="another entity or chain") as caught:
        decode_cursor(text, chain_id, entity, max_height=MAX)
    assert caught.value.field == "cursor"


def test_a_malformed_cursor_is_refused_naming_the_field() -> None:
    good = encode_cursor("devnet", "case:ab", (3, 4))
    raw = base64.urlsafe_b64decode(good)
    bad_version = base64.urlsafe_b64encode(b"\x02" + raw[1:]).decode()
    too_high = encode_cursor("devnet", "case:ab", (MAX + 1, 0))
    for text in ["", "x", good[:-1], good + "A", good[:-1] + "=", good.replace(good[0], "+"), "é" * 28,
                 good + "\n", bad_version, too_high]:
        with pytest.raises(InvalidField) as caught:
            decode_cursor(text, "devnet", "case:ab", max_height=MAX)
        assert caught.value.field == "cursor", text


def test_a_page_starts_after_the_cursor_and_within_the_bounds() -> None:
    assert compute_start(1, None) == (1, 0)
    assert compute_start(1, (5, 2)) == (5, 3)
    assert compute_start(9, (5, 2)) == (9, 0)  # a raised lower bound wins
    assert compute_start(1, (5, MAX_INDEX)) == (6, 0)
