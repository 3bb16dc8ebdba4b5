"""An auditor's history of one entity (case:<id>, cert:<id>, member:<hex>, ...): every transaction that touched
it, in chain order, with who signed it and in what capacity, what it did and what it emitted.

The entity index (docs/storage.md, column `e`) lists (height, index, tx_id) per entity in chain order; a page
is one bounded scan of it, from a start position up to a height bound, at most `limit` rows plus one to tell
whether more follow. Each row is then read from height-addressed columns only (the block, its results, the
state history of that height), so a page never mixes heights and never waits for a commit. The signer's
name, department and roles are those of the roster in force at the transaction's height
(`governance.member_at` over the state of that height), never today's.

A cursor is the last position answered, (height, index), bound to the chain and the entity by an 8-byte
hash, so a cursor of another entity or chain is refused instead of silently answering from the wrong
place. It says nothing the answer did not already say and is not a credential.
"""

from __future__ import annotations

import base64
import re
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from chainnode import codec, crypto, records
from chainnode.anchor_verify import format_time_ms
from chainnode.block import Block
from chainnode.errors import CorruptStore, InvalidField, StateNotKept
from chainnode.results import decode_result, jsonable
from chainnode.tx import Transaction, decode_transaction
from contracts import governance

if TYPE_CHECKING:
    from chainnode.reader import Reader

DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 1000
DOMAIN_CURSOR: Final = b"chainnode/v1/history-cursor"
CURSOR_VERSION: Final = 1
_CURSOR: Final = struct.Struct(">BQI8s")
"""version, height, index, tag: 21 bytes, exactly 28 base64url characters (no padding)."""
_CURSOR_TEXT: Final = re.compile(r"[A-Za-z0-9_-]{28}\Z")
MAX_INDEX: Final = 0xFFFF_FFFF

Position = tuple[int, int]
"""(height, index) of a transaction in the chain."""


def compute_cursor_tag(chain_id: str, entity: str) -> bytes:
    """The 8 bytes that bind a cursor to one chain and one entity."""
    return crypto.compute_hash(DOMAIN_CURSOR, codec.encode([chain_id, entity]))[:8]


def encode_cursor(chain_id: str, entity: str, position: Position) -> str:
    """The opaque `next_cursor` string for continuing after `position`."""
    raw = _CURSOR.pack(CURSOR_VERSION, position[0], position[1], compute_cursor_tag(chain_id, entity))
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(text: str, chain_id: str, entity: str, *, max_height: int) -> Position:
    """The position a cursor continues after.

    Raises InvalidField(field="cursor") if it is not a cursor of this API, or one of another entity or chain.
    """
    if not _CURSOR_TEXT.match(text):
        raise InvalidField("cursor is not a history cursor: pass next_cursor exactly as it was answered",
                           field="cursor")
    version, height, index, tag = _CURSOR.unpack(base64.urlsafe_b64decode(text))
    if version != CURSOR_VERSION or height > max_height:
        raise InvalidField("cursor is not a history cursor: pass next_cursor exactly as it was answered",
                           field="cursor")
    if tag != compute_cursor_tag(chain_id, entity):
        raise InvalidField(f"cursor belongs to another entity or chain, not to {entity} on {chain_id}",
                           field="cursor")
    return height, index


def compute_start(from_height: int, after: Position | None) -> Position:
    """The first position a page may answer: the lower height bound, or just after the cursor."""
    start = (from_height, 0)
    if after is None:
        return start
    height, index = after
    following = (height, index + 1) if index < MAX_INDEX else (height + 1, 0)
    return max(start, following)


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryPage:
    """One answer: the events in [from_height, to_height] after the cursor, and where the next page starts."""

    entity: str
    head: int
    """The published head the page was read at."""
    from_height: int
    to_height: int
    """The upper bound actually applied: the one asked for, or the head if lower."""
    limit: int
    events: tuple[dict[str, Any], ...] = field(default=())
    last: Position | None = None
    """The position of the last event when more events follow within the bounds; None at the end."""

    def to_json(self, chain_id: str) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "head": self.head,
            "from_height": self.from_height,
            "to_height": self.to_height,
            "limit": self.limit,
            "events": list(self.events),
            "next_cursor": None if self.last is None else encode_cursor(chain_id, self.entity, self.last),
        }


@dataclass(slots=True)
class _BlockRows:
    """One block's decoded header and results list, read once for every event of the page in that block."""

    block: Block
    results: list[bytes]
    view: records.View
    members: dict[bytes, dict[str, Any]] = field(default_factory=dict)


def get_signer_json(rows: _BlockRows, signer: bytes, height: int) -> dict[str, Any]:
    """The signer's name, department and roles in force at `height` (roles empty if it held none then; None
    below the base of a state-synced node, which does not keep the roster of that height)."""
    found = rows.members.get(signer)
    if found is not None:
        return found
    try:
        member = governance.member_at(rows.view, signer, height)
    except StateNotKept:  # a state-synced node: the roster of that height is not kept, the keys' owners are
        view = records.View(rows.view.store, rows.view.store.base_height(), rows.view.time_ms)
        record = governance.member_record(view, signer)
        found = {"signer_name": None if record is None else record["name"],
                 "signer_department": None if record is None else record["department"], "signer_roles": None}
        rows.members[signer] = found
        return found
    if member is not None:
        found = {"signer_name": member.name, "signer_department": member.department,
                 "signer_roles": list(member.roles)}
    else:  # refused as not a member, revoked or not yet effective: still say whose key it was, if anyone's
        record = governance.member_record(rows.view, signer)
        found = {"signer_name": None if record is None else record["name"],
                 "signer_department": None if record is None else record["department"], "signer_roles": []}
    rows.members[signer] = found
    return found


def compute_event_json(rows: _BlockRows, height: int, index: int, tx_id: bytes) -> dict[str, Any]:
    """One history event. Raises CorruptStore if the indexed transaction is not where the index says."""
    if index >= len(rows.block.txs) or index >= len(rows.results):
        raise CorruptStore(f"the entity index names transaction {index} of block {height}, which has no such "
                           "transaction; run `chainnode check`")
    tx: Transaction = decode_transaction(rows.block.txs[index])
    result = decode_result(rows.results[index])
    if tx.tx_id != tx_id:
        raise CorruptStore(f"the entity index entry at {height}/{index} names another transaction; run "
                           "`chainnode check`")
    time_ms = rows.block.header.time_ms
    return {
        "height": height,
        "index": index,
        "time_ms": time_ms,
        "time": format_time_ms(time_ms),
        "tx_id": tx_id.hex(),
        "contract": tx.body.contract,
        "method": tx.body.method,
        "signer": tx.signer.hex(),
        **get_signer_json(rows, tx.signer, height),
        "code": result.code,
        "message": result.message,
        "events": [{"kind": e.kind, "attributes": jsonable(e.attributes)} for e in result.events],
    }


def get_entity_history(
    reader: Reader, entity: str, *, limit: int = DEFAULT_LIMIT, from_height: int = 1, to_height: int | None = None,
    after: Position | None = None,
) -> HistoryPage:
    """The events of `entity` with a height in [from_height, to_height] (capped at the published head), after
    the position `after` (a decoded cursor), at most `limit` of them (capped at MAX_LIMIT).

    Raises CorruptStore if the index and the blocks disagree.
    """
    head = reader.head_height()
    top = head if to_height is None else min(to_height, head)
    limit = max(1, min(limit, MAX_LIMIT))
    found: list[tuple[int, int, bytes]] = []
    if from_height <= top:
        for height, index, tx_id in reader.store.iter_entity(entity, start=compute_start(from_height, after)):
            if height > top:
                break
            found.append((height, index, tx_id))
            if len(found) > limit:  # one more than asked tells whether another page follows
                break
    more = len(found) > limit
    events: list[dict[str, Any]] = []
    rows: _BlockRows | None = None
    for height, index, tx_id in found[:limit]:
        if rows is None or rows.view.height != height:
            rows = _read_block(reader, height)
        events.append(compute_event_json(rows, height, index, tx_id))
    last = (found[limit - 1][0], found[limit - 1][1]) if more else None
    return HistoryPage(entity=entity, head=head, from_height=from_height, to_height=top, limit=limit,
                       events=tuple(events), last=last)


def _read_block(reader: Reader, height: int) -> _BlockRows:
    block = reader.store.get_block(height)
    if block is None:
        raise CorruptStore(f"the entity index names block {height}, which is not stored; run `chainnode check`")
    view = records.View(reader.store, height, block.header.time_ms)
    return _BlockRows(block=block, results=reader.get_results(height), view=view)
