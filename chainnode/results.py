"""Transaction results: what each transaction did, committed by the block's results root.

A result is ok with events, or a stable error code and a message. Its canonical bytes are the leaf data
of the block's results tree (RFC 9162), so a proof shows that a transaction succeeded, not only that it
was included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from chainnode import codec
from chainnode.codec import Value
from chainnode.errors import InvalidField

TAG_RESULT: Final = 6
RESULT_VERSION: Final = 1
CODE_OK: Final = "ok"
MAX_RESULT_BYTES: Final = 64 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Something a contract reports: a kind ("anchor.recorded") and string/bytes/int attributes."""

    kind: str
    attributes: dict[str, Value] = field(hash=False)

    def fields(self) -> list[Value]:
        return [self.kind, self.attributes]


@dataclass(frozen=True, slots=True, kw_only=True)
class TxResult:
    tx_id: bytes
    code: str
    message: str
    events: tuple[Event, ...] = ()

    @property
    def ok(self) -> bool:
        return self.code == CODE_OK

    def encode(self) -> bytes:
        return codec.encode_object(
            TAG_RESULT, RESULT_VERSION, [self.tx_id, self.code, self.message, [e.fields() for e in self.events]]
        )

    def to_json(self) -> dict[str, Value]:
        return {
            "tx_id": self.tx_id.hex(),
            "code": self.code,
            "message": self.message,
            "events": [{"kind": e.kind, "attributes": jsonable(e.attributes)} for e in self.events],
        }


def read_result_summary(data: bytes) -> tuple[bytes, str, str]:
    """The transaction ID, code and message of a result this node stored (its own results column, written
    canonically by execution and covered by the block's results root): read without checking its events.
    Raises the codec's errors for bytes that are not a result at all."""
    fields = codec.decode_trusted(data)
    if type(fields) is not list or len(fields) != 6 or fields[0] != TAG_RESULT:
        raise InvalidField("not a stored result", field="result")
    return fields[2], fields[3], fields[4]


def decode_result(data: bytes) -> TxResult:
    """Raises the codec's errors or InvalidField."""
    tx_id, code, message, events = codec.decode_object(
        data, tag=TAG_RESULT, version=RESULT_VERSION, n_fields=4, max_size=MAX_RESULT_BYTES, what="result"
    )
    codec.want_bytes(tx_id, "tx_id", size=32)
    codec.want_str(code, "code", min_len=1, max_len=64)
    codec.want_str(message, "message", max_len=4096)
    decoded = []
    for item in codec.want_list(events, "events", max_len=256):
        pair = codec.want_list(item, "event", max_len=2)
        if len(pair) != 2 or type(pair[1]) is not dict:
            raise InvalidField("an event is [kind, attributes]", field="events")
        decoded.append(Event(kind=codec.want_str(pair[0], "event.kind", max_len=64), attributes=pair[1]))
    return TxResult(tx_id=tx_id, code=code, message=message, events=tuple(decoded))


def jsonable(value: Value) -> Value:
    """Turn a canonical value into JSON: bytes become lowercase hex strings."""
    if type(value) is bytes:
        return value.hex()
    if type(value) is list:
        return [jsonable(v) for v in value]
    if type(value) is dict:
        return {k: jsonable(v) for k, v in value.items()}
    return value
