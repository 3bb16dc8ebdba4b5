"""Unit tests of the canonical codec: what it accepts, and each way it refuses input, with its error class."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chainnode import codec
from chainnode.errors import (
    InputTooLarge,
    InvalidField,
    InvalidInput,
    MalformedEncoding,
    NonCanonicalEncoding,
    TrailingBytes,
    UnknownTag,
    UnsupportedVersion,
)

LIMIT = 1 << 16


def nested(levels: int, inner: codec.Value) -> codec.Value:
    """Return `inner` wrapped in `levels` single-item lists: `inner` then sits at depth `levels`."""
    value = inner
    for _ in range(levels):
        value = [value]
    return value


# --- what canonical bytes look like -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\xcc\x80"),
        (255, b"\xcc\xff"),
        (256, b"\xcd\x01\x00"),
        (-1, b"\xff"),
        (-32, b"\xe0"),
        (-33, b"\xd0\xdf"),
        (codec.INT_MAX, b"\xcf" + b"\xff" * 8),
        (codec.INT_MIN, b"\xd3\x80" + b"\x00" * 7),
        (True, b"\xc3"),
        (False, b"\xc2"),
        (None, b"\xc0"),
        (b"", b"\xc4\x00"),
        (b"a", b"\xc4\x01a"),
        ("", b"\xa0"),
        ("a", b"\xa1a"),
        ("x" * 31, b"\xbf" + b"x" * 31),
        ("x" * 32, b"\xd9\x20" + b"x" * 32),
        ([], b"\x90"),
        ((1, 2), b"\x92\x01\x02"),
        ({}, b"\x80"),
        ({"b": 1, "a": 2}, b"\x82\xa1a\x02\xa1b\x01"),
    ],
    ids=repr,
)
def test_encode_uses_the_shortest_form(value: codec.Value, expected: bytes) -> None:
    assert codec.encode(value) == expected
    assert codec.decode(expected, max_size=LIMIT) == (list(value) if type(value) is tuple else value)


def test_encode_sorts_map_keys_by_utf8_bytes() -> None:
    value = {"é": 1, "z": 2, "B": 3, "a": 4, "aa": 5}
    encoded = codec.encode(value)
    decoded = codec.decode(encoded, max_size=LIMIT)
    assert list(decoded) == sorted(value, key=str.encode)
    assert list(decoded) == ["B", "a", "aa", "z", "é"]


def test_encode_keeps_bool_and_int_apart() -> None:
    assert codec.encode(True) != codec.encode(1)
    assert type(codec.decode(codec.encode(True), max_size=LIMIT)) is bool
    assert type(codec.decode(codec.encode(1), max_size=LIMIT)) is int


def test_encode_keeps_bytes_and_str_apart() -> None:
    assert codec.encode(b"a") != codec.encode("a")
    assert codec.decode(codec.encode(b"a"), max_size=LIMIT) == b"a"
    assert codec.decode(codec.encode("a"), max_size=LIMIT) == "a"


def test_encode_turns_bytearray_and_memoryview_into_bytes() -> None:
    assert codec.encode(bytearray(b"xy")) == codec.encode(b"xy")
    assert codec.encode({"k": memoryview(b"xy")}) == codec.encode({"k": b"xy"})


def test_decode_accepts_exactly_max_size_bytes() -> None:
    data = codec.encode(b"x" * 100)
    assert codec.decode(data, max_size=len(data)) == b"x" * 100


@pytest.mark.parametrize("inner", [[], {}, [0], {"a": b"x"}, 0, b"x"], ids=repr)
def test_nesting_up_to_max_depth_round_trips(inner: codec.Value) -> None:
    value = nested(codec.MAX_DEPTH, inner)  # `inner` sits at depth MAX_DEPTH
    assert codec.decode(codec.encode(value), max_size=LIMIT) == value


# --- decode refuses ----------------------------------------------------------------------------------


def reject(name: str, data: bytes, error: type[InvalidInput], words: str) -> Any:
    """One case: `data` must raise exactly `error` with `words` in its message."""
    return pytest.param(data, error, words, id=name)


REJECTED = [
    reject("float64", b"\xcb" + bytes(8), MalformedEncoding, "floats are not allowed"),
    reject("float32", b"\xca" + bytes(4), MalformedEncoding, "floats are not allowed"),
    reject("float in a list", b"\x91\xcb" + bytes(8), MalformedEncoding, "floats are not allowed"),
    reject("fixext1", b"\xd4\x05\x00", MalformedEncoding, "extension type 5 is not allowed"),
    reject("ext8", b"\xc7\x02\x07ab", MalformedEncoding, "extension type 7 is not allowed"),
    # msgpack turns ext -1 into a Timestamp without calling ext_hook: the type check must catch it
    reject("ext timestamp 32", b"\xd6\xff" + bytes(4), MalformedEncoding, "type Timestamp is not allowed"),
    reject("ext timestamp 64", b"\xd7\xff" + bytes(8), MalformedEncoding, "type Timestamp is not allowed"),
    reject("ext timestamp 96", b"\xc7\x0c\xff" + bytes(12), MalformedEncoding, "type Timestamp is not allowed"),
    reject("ext timestamp in a map", b"\x81\xa1t\xd6\xff" + bytes(4), MalformedEncoding, "Timestamp"),
    reject("ext timestamp of bad length", b"\xd5\xff\x00\x00", MalformedEncoding, "timestamp"),
    reject("int map key", b"\x81\x01\x02", MalformedEncoding, "int is not allowed for map key"),
    reject("nil map key", b"\x81\xc0\x01", MalformedEncoding, "NoneType is not allowed for map key"),
    reject("array map key", b"\x81\x90\x01", MalformedEncoding, "list is not allowed for map key"),
    reject("bin map key", b"\x81\xc4\x01a\x01", MalformedEncoding, "map keys must be strings"),
    reject("unsorted map keys", b"\x82\xa1b\x01\xa1a\x02", NonCanonicalEncoding, "order"),
    reject("unsorted nested map keys", b"\x91\x82\xa1b\x01\xa1a\x02", NonCanonicalEncoding, "order"),
    reject("duplicate map keys", b"\x82\xa1a\x01\xa1a\x02", NonCanonicalEncoding, "duplicate keys"),
    reject("uint16 holding 1", b"\xcd\x00\x01", NonCanonicalEncoding, "int width"),
    reject("uint8 holding 1", b"\xcc\x01", NonCanonicalEncoding, "int width"),
    reject("int8 holding -1", b"\xd0\xff", NonCanonicalEncoding, "int width"),
    reject("uint64 holding 256", b"\xcf" + (256).to_bytes(8, "big"), NonCanonicalEncoding, "int width"),
    reject("int64 holding a positive", b"\xd3" + (5).to_bytes(8, "big"), NonCanonicalEncoding, "int width"),
    reject("str8 for a short string", b"\xd9\x01a", NonCanonicalEncoding, "canonical form"),
    reject("str16 for a short string", b"\xda\x00\x01a", NonCanonicalEncoding, "canonical form"),
    reject("bin16 for short bytes", b"\xc5\x00\x01a", NonCanonicalEncoding, "canonical form"),
    reject("array16 for a short array", b"\xdc\x00\x01\x01", NonCanonicalEncoding, "canonical form"),
    reject("map16 for a short map", b"\xde\x00\x01\xa1a\x01", NonCanonicalEncoding, "canonical form"),
    reject("trailing byte", b"\x01\x02", TrailingBytes, "1 trailing bytes"),
    reject("trailing bytes", b"\x90\x00\x00\x00", TrailingBytes, "3 trailing bytes"),
    reject("truncated array", b"\x92\x01", MalformedEncoding, "incomplete input"),
    reject("truncated uint16", b"\xcd\x00", MalformedEncoding, "incomplete input"),
    reject("truncated str", b"\xa3ab", MalformedEncoding, "incomplete input"),
    reject("truncated bin", b"\xc4\x05abc", MalformedEncoding, "incomplete input"),
    reject("empty input", b"", MalformedEncoding, "empty input"),
    reject("invalid utf-8 in a str", b"\xa1\xff", MalformedEncoding, "utf-8"),
    reject("utf-8 encoded surrogate in a str", b"\xa3\xed\xa0\x80", MalformedEncoding, "utf-8"),
    reject("invalid utf-8 in a map key", b"\x81\xa1\xff\x01", MalformedEncoding, "utf-8"),
    reject("reserved byte 0xc1", b"\xc1", MalformedEncoding, "not valid msgpack"),
    reject(
        "nesting just past MAX_DEPTH",
        b"\x91" * (codec.MAX_DEPTH + 1) + b"\x90",
        MalformedEncoding,
        f"nested deeper than {codec.MAX_DEPTH} levels",
    ),
    reject("nesting past the unpacker's stack", b"\x91" * 5000 + b"\x90", MalformedEncoding, "not valid msgpack"),
]


@pytest.mark.parametrize(("data", "error", "words"), REJECTED)
def test_decode_rejects(data: bytes, error: type[InvalidInput], words: str) -> None:
    with pytest.raises(error) as caught:
        codec.decode(data, max_size=LIMIT)
    assert type(caught.value) is error
    assert words.lower() in caught.value.message.lower()
    assert isinstance(caught.value, InvalidInput)  # the peer's fault: reject and keep running


@pytest.mark.parametrize("size", [1, 2, 4, 8, 16])
def test_decode_rejects_every_fixext_type(size: int) -> None:
    for code in range(-128, 128):
        data = bytes([{1: 0xD4, 2: 0xD5, 4: 0xD6, 8: 0xD7, 16: 0xD8}[size], code & 0xFF]) + bytes(size)
        with pytest.raises(MalformedEncoding):
            codec.decode(data, max_size=LIMIT)
        with pytest.raises(MalformedEncoding):
            codec.decode(b"\x91" + data, max_size=LIMIT)


def test_decode_rejects_oversize_input_before_parsing_it() -> None:
    garbage = b"\xc1" * 101  # would be malformed, but the size is checked first
    with pytest.raises(InputTooLarge, match="101 bytes exceed the limit of 100"):
        codec.decode(garbage, max_size=100)
    assert InputTooLarge.http_status == 413


def test_decode_rejects_one_byte_over_max_size() -> None:
    data = codec.encode(b"x" * 100)
    with pytest.raises(InputTooLarge, match=f"{len(data)} bytes exceed the limit of {len(data) - 1}"):
        codec.decode(data, max_size=len(data) - 1)


def test_decode_rejects_nesting_one_past_max_depth_but_not_at_it() -> None:
    ok = codec.encode(nested(codec.MAX_DEPTH, []))
    assert codec.decode(ok, max_size=LIMIT) == nested(codec.MAX_DEPTH, [])
    too_deep = b"\x91" + ok
    with pytest.raises(MalformedEncoding, match=f"deeper than {codec.MAX_DEPTH} levels"):
        codec.decode(too_deep, max_size=LIMIT)


@pytest.mark.parametrize("inner", [[], [0], {}, {"a": b"x"}, {"a": None}, {"a": 1}, {"a": -1}, 0, b"x"], ids=repr)
@pytest.mark.parametrize("levels", [codec.MAX_DEPTH - 1, codec.MAX_DEPTH, codec.MAX_DEPTH + 1])
def test_encode_and_decode_agree_on_the_depth_limit(levels: int, inner: codec.Value) -> None:
    data = b"\x91" * levels + codec.encode(inner)
    try:
        decoded = codec.decode(data, max_size=LIMIT)
    except MalformedEncoding:
        with pytest.raises(InvalidField, match="nested deeper"):
            codec.encode(nested(levels, inner))
    else:
        assert codec.encode(decoded) == data
        assert codec.encode(nested(levels, inner)) == data


def test_decode_keeps_the_cause_of_a_msgpack_error() -> None:
    with pytest.raises(MalformedEncoding) as caught:
        codec.decode(b"\x92\x01", max_size=LIMIT)
    assert isinstance(caught.value.__cause__, ValueError)


# msgpack's FormatError and StackError have an empty str(): the message must still say something.
@pytest.mark.parametrize("data", [b"\xc1", b"\x91" * 5000 + b"\x90"], ids=["reserved byte", "stack overflow"])
def test_decode_message_says_why_msgpack_failed(data: bytes) -> None:
    with pytest.raises(MalformedEncoding) as caught:
        codec.decode(data, max_size=LIMIT)
    assert caught.value.message.removeprefix("not valid msgpack:").strip()


# --- encode refuses ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (1.5, "type float cannot be encoded"),
        (0.0, "type float cannot be encoded"),
        ([1, 2.0], "type float cannot be encoded"),
        ({"k": 2.0}, "type float cannot be encoded"),
        ({1, 2}, "type set cannot be encoded"),
        (frozenset(), "type frozenset cannot be encoded"),
        (object(), "type object cannot be encoded"),
        (codec.INT_MAX + 1, f"integer {codec.INT_MAX + 1} outside the 64-bit range"),
        (codec.INT_MIN - 1, f"integer {codec.INT_MIN - 1} outside the 64-bit range"),
        ([2**70], "outside the 64-bit range"),
        ({1: "a"}, "map key 1 is not a string"),
        ({b"k": "a"}, "map key b'k' is not a string"),
        ({"ok": {None: 1}}, "map key None is not a string"),
        (nested(codec.MAX_DEPTH + 1, []), f"nested deeper than {codec.MAX_DEPTH} levels"),
        (nested(codec.MAX_DEPTH + 1, {}), f"nested deeper than {codec.MAX_DEPTH} levels"),
    ],
    ids=lambda v: repr(v)[:40],
)
def test_encode_refuses(value: codec.Value, words: str) -> None:
    with pytest.raises(InvalidField) as caught:
        codec.encode(value)
    assert type(caught.value) is InvalidField
    assert words in caught.value.message


# json.loads('"\\ud800"') makes such strings: a client can send them, and must get InvalidField.
@pytest.mark.parametrize(
    "value",
    ["\ud800", ["ok", "\udfff"], {"\udfff": 1}, {"k": "\ud800"}],
    ids=["str", "in a list", "map key", "map value"],
)
def test_encode_refuses_lone_surrogates_with_invalid_field(value: codec.Value) -> None:
    with pytest.raises(InvalidField) as caught:
        codec.encode(value)
    assert "lone surrogate" in caught.value.message


# --- tagged objects ----------------------------------------------------------------------------------

TAG, VERSION = 7, 1


def decode_thing(data: bytes, *, n_fields: int = 2) -> list[codec.Value]:
    return codec.decode_object(data, tag=TAG, version=VERSION, n_fields=n_fields, max_size=LIMIT, what="thing")


def test_object_round_trip() -> None:
    data = codec.encode_object(TAG, VERSION, ["a", b"b"])
    assert data == codec.encode([TAG, VERSION, "a", b"b"])
    assert decode_thing(data) == ["a", b"b"]


@pytest.mark.parametrize(
    ("value", "error", "words"),
    [
        ([8, VERSION, "a", b"b"], UnknownTag, "thing: expected tag 7, got 8"),
        (["7", VERSION, "a", b"b"], UnknownTag, "expected tag 7, got '7'"),
        ([None, VERSION, "a", b"b"], UnknownTag, "expected tag 7, got None"),
        ([TAG, 2, "a", b"b"], UnsupportedVersion, "thing: version 2 is not supported (expected 1)"),
        ([TAG, True, "a", b"b"], UnsupportedVersion, "version True is not supported"),
        ([TAG, VERSION, "a"], MalformedEncoding, "thing: expected 2 fields, got 1"),
        ([TAG, VERSION, "a", b"b", 3], MalformedEncoding, "thing: expected 2 fields, got 3"),
        ([TAG], MalformedEncoding, "thing: expected an array [tag, version, ...]"),
        ([], MalformedEncoding, "expected an array"),
        ({"tag": TAG}, MalformedEncoding, "expected an array"),
        (b"\x07\x01", MalformedEncoding, "expected an array"),
    ],
    ids=repr,
)
def test_decode_object_rejects(value: codec.Value, error: type[InvalidInput], words: str) -> None:
    with pytest.raises(error) as caught:
        decode_thing(codec.encode(value))
    assert type(caught.value) is error
    assert words in caught.value.message


def test_decode_object_rejects_bool_tag_equal_to_int_tag() -> None:
    data = codec.encode([True, VERSION])
    with pytest.raises(UnknownTag, match="got True"):
        codec.decode_object(data, tag=1, version=VERSION, n_fields=0, max_size=LIMIT, what="thing")


def test_decode_object_passes_codec_errors_through() -> None:
    data = codec.encode_object(TAG, VERSION, ["a", b"b"])
    with pytest.raises(TrailingBytes):
        decode_thing(data + b"\x00")
    with pytest.raises(InputTooLarge):
        codec.decode_object(data, tag=TAG, version=VERSION, n_fields=2, max_size=len(data) - 1, what="thing")


# --- field checks ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "value", "words"),
    [
        (lambda v: codec.want_int(v, "f"), -1, "f must be an integer in [0, "),
        (lambda v: codec.want_int(v, "f"), True, "f must be an integer"),
        (lambda v: codec.want_int(v, "f"), "1", "f must be an integer"),
        (lambda v: codec.want_int(v, "f", lo=1, hi=9), 10, "f must be an integer in [1, 9]"),
        (lambda v: codec.want_bytes(v, "f"), "ab", "f must be bytes"),
        (lambda v: codec.want_bytes(v, "f", size=32), bytes(31), "f must be 32 bytes, got 31"),
        (lambda v: codec.want_bytes(v, "f", max_size=4), bytes(5), "f is longer than 4 bytes"),
        (lambda v: codec.want_str(v, "f"), b"ab", "f must be a string of 0..256 characters"),
        (lambda v: codec.want_str(v, "f", min_len=1), "", "f must be a string of 1..256 characters"),
        (lambda v: codec.want_str(v, "f", max_len=3), "abcd", "f must be a string of 0..3 characters"),
        (lambda v: codec.want_list(v, "f", max_len=2), (1,), "f must be an array of at most 2 items"),
        (lambda v: codec.want_list(v, "f", max_len=2), [1, 2, 3], "f must be an array of at most 2 items"),
    ],
    ids=lambda v: "" if callable(v) else repr(v)[:30],
)
def test_want_rejects_with_the_field_name(
    check: Callable[[codec.Value], object], value: codec.Value, words: str
) -> None:
    with pytest.raises(InvalidField) as caught:
        check(value)
    assert caught.value.field == "f"
    assert words in caught.value.message
    assert caught.value.to_problem()["field"] == "f"


def test_want_accepts_and_returns_values() -> None:
    assert codec.want_int(5, "f", lo=5, hi=5) == 5
    assert codec.want_bytes(bytes(32), "f", size=32) == bytes(32)
    assert codec.want_str("abc", "f", min_len=3, max_len=3) == "abc"
    assert codec.want_list([1, 2], "f", max_len=2) == [1, 2]
