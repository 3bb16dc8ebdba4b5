"""Anchor (存证): record a content hash with its kind and metadata, for later proof of existence.

Any registered member of a department may anchor a hash for that department. The record says who
anchored it, for which department, at which height and block time, in which transaction. A second
anchor of the same hash by the same department is refused with an error naming the first record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from chainnode.codec import Value
from chainnode.results import Event
from contracts import governance
from contracts.base import CallContext, ContractError, Outcome, StateOverlay, want_args_map

PREFIX: Final = b"anchor/"
MAX_KIND: Final = 64
MAX_METADATA_ENTRIES: Final = 16
MAX_METADATA_VALUE: Final = 512


@dataclass(frozen=True, slots=True)
class PutArgs:
    content_hash: bytes
    kind: str
    metadata: dict[str, str]


def anchor_key(content_hash: bytes, department: str) -> bytes:
    return PREFIX + content_hash + b"/" + department.encode()


def anchors_prefix(content_hash: bytes) -> bytes:
    return PREFIX + content_hash + b"/"


def parse_put(args: Value) -> PutArgs:
    """Raises ContractError (invalid_arguments) naming the argument at fault."""
    fields = want_args_map(args, {"content_hash", "kind", "metadata"}, {"content_hash", "kind"})
    content_hash = fields["content_hash"]
    if type(content_hash) is not bytes or len(content_hash) != 32:
        raise ContractError(
            "invalid_arguments", "content_hash must be 32 bytes (a SHA-256 digest)", field="content_hash"
        )
    kind = fields["kind"]
    if type(kind) is not str or not 1 <= len(kind) <= MAX_KIND:
        raise ContractError("invalid_arguments", f"kind must be a string of 1 to {MAX_KIND} characters", field="kind")
    metadata = fields.get("metadata", {})
    if type(metadata) is not dict or len(metadata) > MAX_METADATA_ENTRIES:
        raise ContractError(
            "invalid_arguments", f"metadata must be a map of at most {MAX_METADATA_ENTRIES} entries", field="metadata"
        )
    for key, value in metadata.items():
        if not 1 <= len(key) <= MAX_KIND or type(value) is not str or len(value) > MAX_METADATA_VALUE:
            raise ContractError(
                "invalid_arguments",
                f"metadata {key!r}: keys are 1-{MAX_KIND} characters, values strings of at most {MAX_METADATA_VALUE}",
                field="metadata",
            )
    return PutArgs(content_hash, kind, dict(metadata))


def put(overlay: StateOverlay, args: PutArgs, ctx: CallContext) -> Outcome:
    # AUTHORISE: the signer must be a registered member of a department.
    member = governance.require_member(overlay, ctx.signer, ctx.height)
    # CHECK: one anchor per hash per department.
    key = anchor_key(args.content_hash, member.department)
    first = overlay.get_value(key)
    if first is not None:
        raise ContractError(
            "anchor_exists",
            f"{member.department} already anchored this hash at height {first['height']} "
            f"in transaction {first['tx_id'].hex()}",
            field="content_hash",
        )
    # EFFECT
    overlay.put_value(
        key,
        {
            "content_hash": args.content_hash,
            "kind": args.kind,
            "metadata": args.metadata,
            "department": member.department,
            "signer": ctx.signer,
            "signer_name": member.name,
            "height": ctx.height,
            "time_ms": ctx.block_time_ms,
            "tx_id": ctx.tx_id,
        },
    )
    # EVENTS
    event = Event(
        kind="anchor.recorded",
        attributes={
            "content_hash": args.content_hash,
            "department": member.department,
            "kind": args.kind,
        },
    )
    return Outcome((event,), (f"anchor:{args.content_hash.hex()}", f"department:{member.department}"))


def compute_put_targets(args: PutArgs) -> tuple[str, ...]:
    """The entity a `put` names: its anchor."""
    return (f"anchor:{args.content_hash.hex()}",)
