"""Frame encoding and decoding: golden bytes, limits checked before decoding, and a fuzz of the decoder
in which only typed protocol violations may escape."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainnode import codec
from network.errors import FrameTooLarge, MalformedFrame, ProtocolViolation, UnknownKind
from network.frames import (
    CONTROL_FRAME_LIMIT,
    FRAME_OVERHEAD,
    MAX_REQUEST_ID,
    Auth,
    Frame,
    Hello,
    Message,
    Ping,
    Pong,
    Request,
    Response,
    compute_frame_limit,
    decode_frame,
    encode_frame,
)

LIMITS = {"vote": 100, "block": 1000, "a" * 31: 10}

FRAMES: list[Frame] = [
    Hello("chain", b"\x01" * 32, b"\x02" * 32, b"\x03" * 32, b"\x04" * 32),
    Auth(b"\x04" * 64),
    Message("vote", b"v"),
    Request("block", 1, b"height"),
    Response("block", MAX_REQUEST_ID, "ok", b"block bytes"),
    Response("block", 2, "not_found", b"no such block"),
    Ping(0),
    Pong(2**64 - 1),
    Message("a" * 31, b""),
]


@pytest.mark.parametrize("frame", FRAMES, ids=lambda f: type(f).__name__)
def test_round_trip(frame: Frame) -> None:
    data = encode_frame(frame)
    assert decode_frame(data, LIMITS) == frame
    assert data == codec.encode_object(frame.tag, 2, frame.fields())


def test_golden_bytes() -> None:
    # [22, 2, "vote", b"v"], [23, 2, "block", 1, b"h"], [25, 2, 7]: what another implementation must send
    assert encode_frame(Message("vote", b"v")).hex() == "941602a4766f7465c40176"
    assert encode_frame(Request("block", 1, b"h")).hex() == "951702a5626c6f636b01c40168"
    assert encode_frame(Response("block", 1, "ok", b"")).hex() == "961802a5626c6f636b01a26f6bc400"
    assert encode_frame(Ping(7)).hex() == "93190207"


def test_limit_is_read_from_the_first_bytes() -> None:
    assert compute_frame_limit(encode_frame(Ping(1)), LIMITS) == CONTROL_FRAME_LIMIT
    assert compute_frame_limit(encode_frame(Message("vote", b"")), LIMITS) == 100 + FRAME_OVERHEAD
    # an oversize frame is refused on its prefix alone: the rest is never decoded
    prefix = encode_frame(Message("vote", b""))[:9]
    with pytest.raises(FrameTooLarge):
        decode_frame(prefix + b"\xc1" * 300, LIMITS)
    with pytest.raises(FrameTooLarge):
        decode_frame(encode_frame(Hello("x" * 500, bytes(32), bytes(32), bytes(32), bytes(32))), LIMITS)


def test_payload_over_its_kind_limit_within_the_overhead() -> None:
    with pytest.raises(FrameTooLarge, match="vote payload"):
        decode_frame(encode_frame(Message("vote", bytes(101))), LIMITS)
    assert decode_frame(encode_frame(Message("vote", bytes(100))), LIMITS) == Message("vote", bytes(100))


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", MalformedFrame),
        (b"\x91\x16", MalformedFrame),  # too short
        (codec.encode({"tag": 22}), MalformedFrame),  # a map, not an array
        (codec.encode([99, 2, "vote", b""]), MalformedFrame),  # unknown tag
        (codec.encode([22, 1, "vote", b""]), MalformedFrame),  # version 1: an older build
        (codec.encode([22, 2, "vote", b"", b""]), MalformedFrame),  # wrong field count
        (codec.encode([22, 2, "gossip", b""]), UnknownKind),
        (codec.encode([22, 2, "vote", "not bytes"]), MalformedFrame),
        (codec.encode([23, 2, "vote", 0, b""]), MalformedFrame),  # request ids start at 1
        (codec.encode([24, 2, "vote", 1, "Not OK!", b""]), MalformedFrame),  # code pattern
        (codec.encode([20, 2, "c", bytes(31), bytes(32), bytes(32)]), MalformedFrame),  # short genesis hash
        (codec.encode([21, 2, bytes(63)]), MalformedFrame),  # short signature
        (codec.encode([25, 2, -1]), MalformedFrame),
        (codec.encode([25, 2, 1]) + b"\x00", MalformedFrame),  # trailing bytes
        (bytes.fromhex("93190 1cc05".replace(" ", "")), MalformedFrame),  # 5 as uint8: not canonical
        (bytes.fromhex("9416 01 d904766f7465 c400".replace(" ", "")), MalformedFrame),  # kind as str8
        (bytes.fromhex("9416 01 a4766f7465 c0".replace(" ", "")), MalformedFrame),  # nil payload
        (bytes.fromhex("9416 01 a4ff6f7465 c400".replace(" ", "")), UnknownKind),  # not UTF-8
        (codec.encode([21, 2, b"x" * 64])[:-1], MalformedFrame),  # truncated
    ],
)
def test_bad_frames_raise_typed_errors(data: bytes, error: type[ProtocolViolation]) -> None:
    with pytest.raises(error):
        decode_frame(data, LIMITS)


def test_codec_errors_keep_their_cause() -> None:
    with pytest.raises(MalformedFrame) as raised:
        decode_frame(codec.encode([25, 2, 1]) + b"\x00", LIMITS)
    assert "trailing_bytes" in raised.value.message and raised.value.__cause__ is not None


# --- fuzz: nothing but a ProtocolViolation ever escapes ----------------------------------------------


def _decode_or_violation(data: bytes) -> None:
    try:
        frame = decode_frame(data, LIMITS)
    except ProtocolViolation:
        return
    assert encode_frame(frame) == data  # whatever decodes is canonical: it re-encodes to the same bytes


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_arbitrary_bytes(data: bytes) -> None:
    _decode_or_violation(data)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=40), st.sampled_from(range(20, 27)), st.sampled_from(["vote", "block", "x"]))
def test_fuzz_plausible_prefixes(tail: bytes, tag: int, kind: str) -> None:
    _decode_or_violation(bytes([0x94, tag, 2, 0xA0 + len(kind)]) + kind.encode() + tail)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(FRAMES), st.data())
def test_fuzz_mutated_valid_frames(frame: Frame, data: st.DataObject) -> None:
    raw = bytearray(encode_frame(frame))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(raw) - 1))
        match data.draw(st.sampled_from(["flip", "cut", "insert"])):
            case "flip":
                raw[position] ^= data.draw(st.integers(1, 255))
            case "cut":
                del raw[position:]
            case _:
                raw[position:position] = data.draw(st.binary(min_size=1, max_size=4))
        if not raw:
            break
    _decode_or_violation(bytes(raw))


values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.binary(max_size=40) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=6),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(range(18, 29)), st.lists(values, max_size=6))
def test_fuzz_canonical_arrays_with_frame_tags(tag: int, fields: list[object]) -> None:
    _decode_or_violation(codec.encode([tag, 2, *fields]))


@settings(max_examples=200, deadline=None)
@given(
    st.builds(Message, st.sampled_from(sorted(LIMITS)), st.binary(max_size=10)),
    st.builds(Request, st.sampled_from(sorted(LIMITS)), st.integers(1, MAX_REQUEST_ID), st.binary(max_size=10)),
    st.builds(Response, st.sampled_from(sorted(LIMITS)), st.integers(1, MAX_REQUEST_ID),
              st.from_regex(r"[a-z0-9_]{1,32}", fullmatch=True), st.binary(max_size=10)),
)
def test_valid_frames_round_trip(message: Message, request: Request, response: Response) -> None:
    for frame in (message, request, response):
        assert decode_frame(encode_frame(frame), LIMITS) == frame


def test_a_hello_of_another_wire_version_names_both_versions() -> None:
    older = codec.encode([20, 1, "c", bytes(32), bytes(32), bytes(32), bytes(32)])
    with pytest.raises(MalformedFrame, match="peer speaks wire version 1, this node 2"):
        decode_frame(older, LIMITS)
