"""The frames of a node-to-node link: one canonical msgpack array per WebSocket binary message.

No I/O here. `decode_frame` reads the tag and, for the kinds-carrying frames, the kind from the first
bytes (a canonical frame always starts `fixarray, tag, version, fixstr kind`), checks the size limit of
that kind, and only then decodes, so an oversize frame costs nothing to refuse. Everything a peer can
send ends either in a frame object or in a `ProtocolViolation`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Final, TypeAlias

from chainnode import codec
from chainnode.errors import InvalidInput
from network.errors import FrameTooLarge, MalformedFrame, ProtocolViolation, UnknownKind

TAG_HELLO: Final = 20
TAG_AUTH: Final = 21
TAG_MESSAGE: Final = 22
TAG_REQUEST: Final = 23
TAG_RESPONSE: Final = 24
TAG_PING: Final = 25
TAG_PONG: Final = 26
VERSION: Final = 2

CONTROL_TAGS: Final = frozenset({TAG_HELLO, TAG_AUTH, TAG_PING, TAG_PONG})
KIND_TAGS: Final = frozenset({TAG_MESSAGE, TAG_REQUEST, TAG_RESPONSE})

CONTROL_FRAME_LIMIT: Final = 512
"""The size limit of hello, auth, ping and pong frames (a hello with a 64-character chain ID is < 250)."""
FRAME_OVERHEAD: Final = 128
"""Bytes a message, request or response frame may have beyond its payload (the most is 82)."""

NONCE_SIZE: Final = 32
KEY_SIZE: Final = 32
SIGNATURE_SIZE: Final = 64
MAX_REQUEST_ID: Final = 2**63 - 1
MAX_PING_NONCE: Final = 2**64 - 1
CODE_OK: Final = "ok"
CODE_PATTERN: Final = re.compile(r"[a-z0-9_]{1,32}")


@dataclass(frozen=True, slots=True)
class Hello:
    tag: ClassVar[int] = TAG_HELLO
    chain_id: str
    genesis_hash: bytes
    public_key: bytes
    nonce: bytes
    ephemeral_key: bytes
    """A fresh X25519 public key for this connection's key exchange (network/session.py)."""

    def fields(self) -> list[codec.Value]:
        return [self.chain_id, self.genesis_hash, self.public_key, self.nonce, self.ephemeral_key]


@dataclass(frozen=True, slots=True)
class Auth:
    tag: ClassVar[int] = TAG_AUTH
    signature: bytes

    def fields(self) -> list[codec.Value]:
        return [self.signature]


@dataclass(frozen=True, slots=True)
class Message:
    """A one-way message (gossip)."""

    tag: ClassVar[int] = TAG_MESSAGE
    kind: str
    payload: bytes

    def fields(self) -> list[codec.Value]:
        return [self.kind, self.payload]


@dataclass(frozen=True, slots=True)
class Request:
    tag: ClassVar[int] = TAG_REQUEST
    kind: str
    request_id: int
    payload: bytes

    def fields(self) -> list[codec.Value]:
        return [self.kind, self.request_id, self.payload]


@dataclass(frozen=True, slots=True)
class Response:
    """The answer to the request with the same id: `code` "ok" and the result, or an error code and its
    UTF-8 message."""

    tag: ClassVar[int] = TAG_RESPONSE
    kind: str
    request_id: int
    code: str
    payload: bytes

    def fields(self) -> list[codec.Value]:
        return [self.kind, self.request_id, self.code, self.payload]


@dataclass(frozen=True, slots=True)
class Ping:
    tag: ClassVar[int] = TAG_PING
    nonce: int

    def fields(self) -> list[codec.Value]:
        return [self.nonce]


@dataclass(frozen=True, slots=True)
class Pong:
    tag: ClassVar[int] = TAG_PONG
    nonce: int

    def fields(self) -> list[codec.Value]:
        return [self.nonce]


Frame: TypeAlias = Hello | Auth | Message | Request | Response | Ping | Pong


def encode_frame(frame: Frame) -> bytes:
    """Return the canonical bytes of `frame`: the array [tag, 1, *fields]."""
    return codec.encode_object(frame.tag, VERSION, frame.fields())


def compute_frame_limit(data: bytes, limits: Mapping[str, int]) -> int:
    """Return the size limit that applies to `data`, read from its first bytes only.

    Raises MalformedFrame if the bytes cannot start a canonical frame, UnknownKind for a kind without
    a limit.
    """
    if len(data) < 4 or not 0x92 <= data[0] <= 0x9F:
        raise MalformedFrame("a frame is a msgpack array [tag, version, ...] of 2 to 15 items")
    tag = data[1]
    if data[2] > 0x7F:
        raise MalformedFrame("the version must be a small positive integer")
    if tag in CONTROL_TAGS:
        return CONTROL_FRAME_LIMIT
    if tag not in KIND_TAGS:
        raise MalformedFrame(f"unknown frame tag (first bytes {data[:2].hex()})")
    length = data[3] - 0xA0
    if not 1 <= length <= 31 or len(data) < 4 + length:
        raise MalformedFrame("the kind must be a string of 1 to 31 bytes")
    raw_kind = data[4 : 4 + length]
    limit = limits.get(raw_kind.decode("latin-1"))
    if limit is None:
        raise UnknownKind(f"unknown message kind {raw_kind!r}", field="kind")
    return limit + FRAME_OVERHEAD


def decode_frame(data: bytes, limits: Mapping[str, int]) -> Frame:
    """Decode one frame received from a peer.

    Checks, in order: the size limit of the frame's kind (before decoding), canonical msgpack, the tag,
    version and field count, each field's type and size, and the payload against its kind's limit.
    Raises FrameTooLarge, UnknownKind or MalformedFrame; nothing else.
    """
    limit = compute_frame_limit(data, limits)
    if len(data) > limit:
        raise FrameTooLarge(f"a {len(data)}-byte frame exceeds its limit of {limit} bytes")
    try:
        return _decode_fields(codec.decode(data, max_size=limit), limits)
    except ProtocolViolation:
        raise
    except InvalidInput as exc:
        raise MalformedFrame(f"{exc.code}: {exc.message}", field=exc.field) from exc


def _decode_fields(value: codec.Value, limits: Mapping[str, int]) -> Frame:
    tag = value[0]  # compute_frame_limit saw an array of at least two items
    if tag == TAG_HELLO and value[1] != VERSION and type(value[1]) is int:
        raise MalformedFrame(
            f"the peer speaks wire version {value[1]}, this node {VERSION}: every node of a network runs the same "
            "wire version (compare `chainnode --version`; docs/operations.md, Upgrade)", field="version")
    if tag == TAG_HELLO:
        chain_id, genesis_hash, public_key, nonce, ephemeral_key = codec.check_object(
            value, tag=tag, version=VERSION, n_fields=5, what="hello"
        )
        return Hello(
            codec.want_str(chain_id, "chain_id", min_len=1, max_len=64),
            codec.want_bytes(genesis_hash, "genesis_hash", size=32),
            codec.want_bytes(public_key, "public_key", size=KEY_SIZE),
            codec.want_bytes(nonce, "nonce", size=NONCE_SIZE),
            codec.want_bytes(ephemeral_key, "ephemeral_key", size=KEY_SIZE),
        )
    if tag == TAG_AUTH:
        (signature,) = codec.check_object(value, tag=tag, version=VERSION, n_fields=1, what="auth")
        return Auth(codec.want_bytes(signature, "signature", size=SIGNATURE_SIZE))
    if tag in (TAG_PING, TAG_PONG):
        (nonce,) = codec.check_object(value, tag=tag, version=VERSION, n_fields=1, what="ping")
        checked = codec.want_int(nonce, "nonce", hi=MAX_PING_NONCE)
        return Ping(checked) if tag == TAG_PING else Pong(checked)
    if tag == TAG_MESSAGE:
        kind, payload = codec.check_object(value, tag=tag, version=VERSION, n_fields=2, what="message")
        return Message(kind, _want_payload(payload, kind, limits))
    if tag == TAG_REQUEST:
        kind, request_id, payload = codec.check_object(value, tag=tag, version=VERSION, n_fields=3, what="request")
        return Request(kind, _want_request_id(request_id), _want_payload(payload, kind, limits))
    kind, request_id, code, payload = codec.check_object(value, tag=tag, version=VERSION, n_fields=4, what="response")
    if type(code) is not str or not CODE_PATTERN.fullmatch(code):
        raise MalformedFrame(f"response code must match {CODE_PATTERN.pattern}", field="code")
    return Response(kind, _want_request_id(request_id), code, _want_payload(payload, kind, limits))


def _want_request_id(value: codec.Value) -> int:
    return codec.want_int(value, "request_id", lo=1, hi=MAX_REQUEST_ID)


def _want_payload(value: codec.Value, kind: str, limits: Mapping[str, int]) -> bytes:
    # The kind was looked up in compute_frame_limit from the same bytes, and canonical decoding
    # guarantees those bytes are this string.
    limit = limits[kind]
    if type(value) is not bytes:
        raise MalformedFrame("payload must be bytes", field="payload")
    if len(value) > limit:
        raise FrameTooLarge(f"a {len(value)}-byte {kind} payload exceeds its limit of {limit} bytes")
    return value
