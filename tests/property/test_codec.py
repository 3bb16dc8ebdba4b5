"""Property tests of the canonical codec and of every decoder built on it.

Round trips: any canonical value encodes to bytes that decode to the same value (type for type), and
the bytes do not depend on dict insertion order. Fuzzing: on random bytes, on single-byte mutations of
valid encodings and on valid encodings with one node of the value tree replaced, a decoder either
returns something that re-encodes to exactly its input, or raises a subclass of InvalidInput. No other
exception may escape, since every one of these decoders reads bytes from peers and clients.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from chainnode import block, codec, crypto, results, tx
from chainnode.errors import InvalidField, InvalidInput
from tests.vectors import generate

FAST = settings(max_examples=200, deadline=None)
LIMIT = 1 << 20

# --- canonical values --------------------------------------------------------------------------------

INTS = st.integers(min_value=codec.INT_MIN, max_value=codec.INT_MAX)
SCALARS = st.one_of(INTS, st.binary(max_size=40), st.text(max_size=20), st.booleans(), st.none())
MAP_KEYS = st.text(max_size=8)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=5),
        st.lists(children, max_size=5).map(tuple),
        st.dictionaries(MAP_KEYS, children, max_size=5),
    )


def depth(value: codec.Value) -> int:
    """Depth of the deepest node, counting the root as 0 (as the codec does)."""
    if type(value) in (list, tuple):
        return 1 + max((depth(item) for item in value), default=-1)
    if type(value) is dict:
        return 1 + max((depth(item) for item in value.values()), default=-1)
    return 0


VALUES = st.recursive(SCALARS, _containers, max_leaves=12).filter(lambda v: depth(v) <= codec.MAX_DEPTH)


def shape(value: codec.Value) -> Any:
    """A form of `value` that compares by type as well as by value (so True != 1), lists and tuples alike."""
    if type(value) in (list, tuple):
        return ("array", [shape(item) for item in value])
    if type(value) is dict:
        return ("map", sorted((key, shape(item)) for key, item in value.items()))
    return (type(value).__name__, value)


def reorder(value: codec.Value, rnd: random.Random) -> codec.Value:
    """The same value with every dict's insertion order shuffled."""
    if type(value) in (list, tuple):
        return type(value)(reorder(item, rnd) for item in value)
    if type(value) is dict:
        items = list(value.items())
        rnd.shuffle(items)
        return {key: reorder(item, rnd) for key, item in items}
    return value


@FAST
@given(VALUES)
def test_decode_inverts_encode(value: codec.Value) -> None:
    data = codec.encode(value)
    decoded = codec.decode(data, max_size=LIMIT)
    assert shape(decoded) == shape(value)
    assert codec.encode(decoded) == data


@FAST
@given(VALUES, st.randoms(use_true_random=False))
def test_encode_does_not_depend_on_insertion_order(value: codec.Value, rnd: random.Random) -> None:
    assert codec.encode(reorder(value, rnd)) == codec.encode(value)


@FAST
@given(VALUES, VALUES)
def test_different_values_have_different_encodings(first: codec.Value, second: codec.Value) -> None:
    assert (codec.encode(first) == codec.encode(second)) == (shape(first) == shape(second))


@FAST
@given(st.dictionaries(MAP_KEYS, SCALARS, min_size=2, max_size=8))
def test_map_keys_are_sorted_by_utf8_bytes(value: dict[str, Any]) -> None:
    decoded = codec.decode(codec.encode(value), max_size=LIMIT)
    keys = [key.encode() for key in decoded]
    assert keys == sorted(keys)


# --- fuzzing -----------------------------------------------------------------------------------------


def _mutate(data: bytes, draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["replace", "replace", "replace", "insert", "delete", "truncate", "append"]))
    if kind == "append":
        return data + draw(st.binary(min_size=1, max_size=4))
    index = draw(st.integers(min_value=0, max_value=len(data) - 1))
    if kind == "replace":
        new = draw(st.integers(min_value=0, max_value=255).filter(lambda b: b != data[index]))
        return data[:index] + bytes([new]) + data[index + 1 :]
    if kind == "insert":
        return data[:index] + draw(st.binary(min_size=1, max_size=2)) + data[index:]
    if kind == "delete":
        return data[:index] + data[index + 1 :]
    return data[:index]


@st.composite
def mutations(draw: st.DrawFn, valid: st.SearchStrategy[bytes]) -> bytes:
    """A valid encoding with one byte replaced, inserted or deleted, or cut short, or extended."""
    return _mutate(draw(valid), draw)


# fixarray 0, 1, 2, 10; fixmap 0, 1; nil; bin8; str8; array16; map16; ext8, fixext 4 and 8
FRAME_BYTES = (0x90, 0x91, 0x92, 0x9A, 0x80, 0x81, 0xC0, 0xC4, 0xD9, 0xDC, 0xDE, 0xC7, 0xD6, 0xD7)


def ext_frame(code: int, payload: bytes) -> bytes:
    """A msgpack extension value of type `code`, in the shortest frame for its length."""
    fixext = {1: 0xD4, 2: 0xD5, 4: 0xD6, 8: 0xD7, 16: 0xD8}
    if len(payload) in fixext:
        return bytes([fixext[len(payload)], code & 0xFF]) + payload
    return bytes([0xC7, len(payload), code & 0xFF]) + payload


# Type -1 is msgpack's timestamp, which msgpack decodes itself; 4, 8 and 12 bytes are its valid lengths.
EXT_FRAMES = st.builds(
    ext_frame,
    st.one_of(st.just(-1), st.integers(min_value=-128, max_value=127)),
    st.one_of(st.sampled_from([4, 8, 12]), st.integers(min_value=0, max_value=20)).flatmap(
        lambda n: st.binary(min_size=n, max_size=n)
    ),
)


@st.composite
def token_soup(draw: st.DrawFn) -> bytes:
    """Byte strings spliced from msgpack frame bytes, encodings and noise: closer to valid than random."""
    parts = st.one_of(
        st.sampled_from([bytes([b]) for b in FRAME_BYTES]),
        SCALARS.map(codec.encode),
        EXT_FRAMES,
        st.binary(max_size=3),
    )
    return b"".join(draw(st.lists(parts, min_size=1, max_size=6)))


def _replace_node(value: codec.Value, draw: st.DrawFn, replacement: st.SearchStrategy[Any]) -> codec.Value:
    """`value` with one node (maybe the root) replaced by a value drawn from `replacement`."""
    children: list[Any] = []
    if type(value) is list:
        children = list(range(len(value)))
    elif type(value) is dict:
        children = list(value)
    if not children or draw(st.integers(min_value=0, max_value=3)) == 0:
        return draw(replacement)
    key = draw(st.sampled_from(children))
    copy = list(value) if type(value) is list else dict(value)
    copy[key] = _replace_node(value[key], draw, replacement)
    return copy


PLACEHOLDER = b"\x00chainnode test placeholder\x00"


@st.composite
def field_swaps(draw: st.DrawFn, valid: st.SearchStrategy[bytes]) -> bytes:
    """A valid encoding whose value tree has one node replaced: well-formed msgpack, wrong content.

    The new node is a random canonical value, or an extension value (which encode cannot make, so it is
    spliced into the bytes in place of a placeholder).
    """
    with_ext = draw(st.booleans())
    replacement = st.just(PLACEHOLDER) if with_ext else VALUES
    try:
        data = codec.encode(_replace_node(codec.decode(draw(valid), max_size=LIMIT), draw, replacement))
    except InvalidField:  # nested too deep after the swap
        assume(False)
        raise
    if with_ext:
        marker = codec.encode(PLACEHOLDER)
        assume(data.count(marker) == 1)
        data = data.replace(marker, draw(EXT_FRAMES))
    return data


def check_codec_decode(data: bytes) -> None:
    try:
        value = codec.decode(data, max_size=LIMIT)
    except InvalidInput:
        return
    assert codec.encode(value) == data


VALID_VALUE_BYTES = VALUES.map(codec.encode)


@FAST
@given(st.binary(max_size=200))
def test_decode_random_bytes(data: bytes) -> None:
    check_codec_decode(data)


@FAST
@given(token_soup())
def test_decode_token_soup(data: bytes) -> None:
    check_codec_decode(data)


@FAST
@given(mutations(VALID_VALUE_BYTES))
def test_decode_mutated_encodings(data: bytes) -> None:
    check_codec_decode(data)


@FAST
@given(EXT_FRAMES, st.sampled_from([b"", b"\x91", b"\x92\x00", b"\x81\xa1k", b"\x91\x81\xa1k"]))
def test_decode_refuses_extension_values_anywhere(frame: bytes, prefix: bytes) -> None:
    try:
        value = codec.decode(prefix + frame, max_size=LIMIT)
    except InvalidInput:
        return
    raise AssertionError(f"decoded an extension value: {value!r}")


def test_decode_rejects_every_single_byte_change_of_a_small_value() -> None:
    # Exhaustive for one small value: each change decodes to a value that re-encodes to it, or is refused.
    data = codec.encode({"a": [1, b"x", "y", None, True], "b": -2})
    for index in range(len(data)):
        for new in range(256):
            if new != data[index]:
                check_codec_decode(data[:index] + bytes([new]) + data[index + 1 :])


# --- the object decoders -----------------------------------------------------------------------------


def _transactions() -> list[bytes]:
    return [t.raw for t in generate.build_transactions()]


def _blocks() -> list[bytes]:
    block_2 = generate.build_block_2()
    genesis_child = block.Block(header=generate.build_header_1(), txs=(), last_commit=None)
    return [block_2.encode(), genesis_child.encode()]


def _reencode_transaction(decoded: tx.Transaction) -> bytes:
    assert decoded.tx_id == decoded.body.compute_tx_id()
    return tx.Transaction(decoded.body, decoded.signature).raw


DECODERS: dict[str, tuple[Callable[[bytes], Any], Callable[[Any], bytes], list[bytes]]] = {
    # name: (decoder, re-encoder of its result, valid encodings to mutate)
    "transaction": (
        tx.decode_transaction,
        _reencode_transaction,
        _transactions(),
    ),
    "header": (
        block.decode_header,
        lambda h: h.encode(),
        [generate.build_header_1().encode(), generate.build_block_2().header.encode()],
    ),
    "commit": (
        block.decode_commit,
        lambda c: c.encode(),
        [generate.build_commit((0,)).encode(), generate.build_commit((0, 1, 3)).encode()],
    ),
    "block": (block.decode_block, lambda b: b.encode(), _blocks()),
    "result": (results.decode_result, lambda r: r.encode(), [r.encode() for r in generate.build_results()]),
}
DECODER_NAMES = st.sampled_from(sorted(DECODERS))


def check_decoder(name: str, data: bytes) -> None:
    decode, encode, _ = DECODERS[name]
    try:
        decoded = decode(data)
    except InvalidInput:
        return
    assert encode(decoded) == data


@st.composite
def decoder_inputs(draw: st.DrawFn, how: str) -> tuple[str, bytes]:
    name = draw(DECODER_NAMES)
    valid = st.sampled_from(DECODERS[name][2])
    if how == "random":
        data = draw(st.one_of(st.binary(max_size=300), token_soup()))
    elif how == "mutation":
        data = draw(mutations(valid))
    elif how == "field swap":
        data = draw(field_swaps(valid))
    else:
        data = draw(valid)
    return name, data


def test_decoders_accept_their_valid_encodings() -> None:
    for name, (_, _, valid) in DECODERS.items():
        for data in valid:
            check_decoder(name, data)
            decode, encode, _ = DECODERS[name]
            assert encode(decode(data)) == data


@FAST
@given(decoder_inputs("random"))
def test_decoders_on_random_bytes(case: tuple[str, bytes]) -> None:
    check_decoder(*case)


@FAST
@given(decoder_inputs("mutation"))
def test_decoders_on_mutated_encodings(case: tuple[str, bytes]) -> None:
    check_decoder(*case)


@FAST
@given(decoder_inputs("field swap"))
def test_decoders_on_swapped_fields(case: tuple[str, bytes]) -> None:
    check_decoder(*case)


@FAST
@given(DECODER_NAMES, VALUES)
def test_decoders_on_any_canonical_value(name: str, value: codec.Value) -> None:
    check_decoder(name, codec.encode(value))


def _with_placeholder(where: str) -> tuple[str, bytes]:
    """A valid encoding with PLACEHOLDER in a field whose content is free-form (not type-checked)."""
    if where.startswith("tx"):
        fields = codec.decode(generate.build_transactions()[0].raw, max_size=LIMIT)
        fields[5] = {"args": PLACEHOLDER, "args list": [1, PLACEHOLDER], "args map": {"k": PLACEHOLDER}}[where[3:]]
        return "transaction", codec.encode(fields)
    fields = codec.decode(generate.build_results()[0].encode(), max_size=LIMIT)
    fields[5][0][1] = {"attribute": PLACEHOLDER}
    return "result", codec.encode(fields)


@FAST
@given(EXT_FRAMES, st.sampled_from(["tx args", "tx args list", "tx args map", "event attributes"]))
def test_decoders_refuse_extension_values_in_free_form_fields(frame: bytes, where: str) -> None:
    name, data = _with_placeholder(where)
    data = data.replace(codec.encode(PLACEHOLDER), frame)
    decode = DECODERS[name][0]
    try:
        decoded = decode(data)
    except InvalidInput:
        return
    raise AssertionError(f"{name} decoder accepted an extension value: {decoded!r}")


@settings(max_examples=200, deadline=None)
@given(domain=st.binary(max_size=64), chain_id=st.text(max_size=64), payload=st.binary(max_size=70_000))
def test_signing_bytes_are_the_canonical_encoding(domain: bytes, chain_id: str, payload: bytes) -> None:
    try:
        expected = codec.encode([domain, chain_id, payload])
    except InvalidField:  # a lone surrogate in the chain ID: refused by both
        with pytest.raises(InvalidField):
            crypto.compute_signing_bytes(domain, chain_id, payload)
        return
    assert crypto.compute_signing_bytes(domain, chain_id, payload) == expected
