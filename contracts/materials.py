"""Materials (材料): a department attests a supporting document once; any later case cites the record.

A material record says which department attested which registered material type, for which holder (a
salted hash, `holder_ref`: no personal data on chain), with which content hash, in which form (original
or copy) and for which validity window `[valid_from_ms, valid_until_ms)` of block time. The issuing
department may revoke it with a reason; the record stays, marked revoked.

The same (issuer, material type, holder, content hash) is attested once: a second attestation is refused
naming the first record, unless that record has been revoked, in which case a fresh record is made.

State layout:
- `material/<id>` -> the record (see `MaterialRecord`); `id` is 32 lowercase hex digits.
- `material/holder/<holder_ref, 32 bytes>/<id>` -> b"\\xc0": never deleted, so a holder's materials are one
  prefix scan (`materials_of_holder`).
- `material/dup/<holder_ref, 32 bytes><content_hash, 32 bytes><issuer>\\x00<material_type>` -> the ID of
  the latest record of that combination (department and type codes never contain a NUL byte).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from chainnode.codec import Value
from chainnode.results import Event
from contracts import args as A
from contracts import governance, proposals
from contracts.base import (
    CallContext,
    ContractError,
    Method,
    Outcome,
    StateOverlay,
    StateReader,
    decode_state,
    derive_record_id,
    want_args_map,
)

PREFIX: Final = b"material/"
PREFIX_HOLDER: Final = b"material/holder/"
PREFIX_DUP: Final = b"material/dup/"
DOMAIN_MATERIAL: Final = b"chainnode/v1/material"
FORMS: Final = ("original", "copy")
ATTEST_ROLES: Final = ("clerk", "issuer")
REVOKE_ROLES: Final = ("admin", "clerk", "issuer")
INDEX_VALUE: Final = b"\xc0"

DEFECT_REVOKED: Final = "material_revoked"
DEFECT_OTHER_HOLDER: Final = "material_other_holder"
DEFECT_NOT_YET_VALID: Final = "material_not_yet_valid"
DEFECT_EXPIRED: Final = "material_expired"


# --- read API ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MaterialRecord:
    """An attested material. It is usable while `valid_from_ms <= t < valid_until_ms` and not revoked."""

    material_id: str
    material_type: str
    holder_ref: bytes
    content_hash: bytes
    form: str
    issuer: str
    """The attesting department."""
    issuer_officer: bytes
    """The key that signed the attestation."""
    valid_from_ms: int
    valid_until_ms: int | None
    revoked: bool
    revoked_reason: str | None
    revoked_height: int | None
    attested_height: int
    attested_ms: int
    tx_id: bytes
    revoked_by: bytes | None = None


def compute_material_id(tx_id: bytes) -> str:
    """SHA-256(b"chainnode/v1/material" || 0x00 || tx_id), first 16 bytes, as hex."""
    return derive_record_id(DOMAIN_MATERIAL, tx_id)


def material_key(material_id: str) -> bytes:
    return PREFIX + material_id.encode()


def holder_prefix(holder_ref: bytes) -> bytes:
    return PREFIX_HOLDER + holder_ref + b"/"


def holder_key(holder_ref: bytes, material_id: str) -> bytes:
    return holder_prefix(holder_ref) + material_id.encode()


def dup_key(issuer: str, material_type: str, holder_ref: bytes, content_hash: bytes) -> bytes:
    return PREFIX_DUP + holder_ref + content_hash + issuer.encode() + b"\x00" + material_type.encode()


def _record(value: dict[str, Value]) -> MaterialRecord:
    return MaterialRecord(
        material_id=value["material_id"],
        material_type=value["material_type"],
        holder_ref=value["holder_ref"],
        content_hash=value["content_hash"],
        form=value["form"],
        issuer=value["issuer"],
        issuer_officer=value["issuer_officer"],
        valid_from_ms=value["valid_from_ms"],
        valid_until_ms=value["valid_until_ms"],
        revoked=value["revoked"],
        revoked_reason=value["revoked_reason"],
        revoked_height=value["revoked_height"],
        attested_height=value["attested_height"],
        attested_ms=value["attested_ms"],
        tx_id=value["tx_id"],
        revoked_by=value["revoked_by"],
    )


def _get_raw(reader: StateReader, material_id: str) -> dict[str, Value] | None:
    if type(material_id) is not str or not A.ID_HEX.match(material_id):
        return None
    raw = reader.get(material_key(material_id))
    return None if raw is None else dict(decode_state(raw))


def get_material(reader: StateReader, material_id: str) -> MaterialRecord | None:
    """The material record with this ID, or None (also for a malformed ID)."""
    value = _get_raw(reader, material_id)
    return None if value is None else _record(value)


def materials_of_holder(reader: StateReader, holder_ref: bytes) -> list[MaterialRecord]:
    """Every material ever attested for this holder (revoked ones too), oldest first."""
    if type(holder_ref) is not bytes or len(holder_ref) != 32:
        return []
    prefix = holder_prefix(holder_ref)
    found = [get_material(reader, key[len(prefix):].decode()) for key, _ in reader.iter_prefix(prefix)]
    records = [m for m in found if m is not None]
    return sorted(records, key=lambda m: (m.attested_height, m.material_id))


def defect(material: MaterialRecord, *, holder_ref: bytes, time_ms: int) -> str | None:
    """None if the material is usable by `holder_ref` at block time `time_ms`; else the first reason of
    material_revoked, material_other_holder, material_not_yet_valid, material_expired (in this order)."""
    if material.revoked:
        return DEFECT_REVOKED
    if material.holder_ref != holder_ref:
        return DEFECT_OTHER_HOLDER
    if time_ms < material.valid_from_ms:
        return DEFECT_NOT_YET_VALID
    if material.valid_until_ms is not None and time_ms >= material.valid_until_ms:
        return DEFECT_EXPIRED
    return None


def material_json(m: MaterialRecord) -> dict[str, Any]:
    """The record as a JSON-friendly map: bytes as lowercase hex."""
    return {
        "material_id": m.material_id,
        "material_type": m.material_type,
        "holder_ref": m.holder_ref.hex(),
        "content_hash": m.content_hash.hex(),
        "form": m.form,
        "issuer": m.issuer,
        "issuer_officer": m.issuer_officer.hex(),
        "valid_from_ms": m.valid_from_ms,
        "valid_until_ms": m.valid_until_ms,
        "revoked": m.revoked,
        "revoked_reason": m.revoked_reason,
        "revoked_height": m.revoked_height,
        "revoked_by": None if m.revoked_by is None else m.revoked_by.hex(),
        "attested_height": m.attested_height,
        "attested_ms": m.attested_ms,
        "tx_id": m.tx_id.hex(),
    }


# --- arguments ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AttestArgs:
    material_type: str
    holder_ref: bytes
    content_hash: bytes
    form: str
    valid_from_ms: int | None
    """None: the block time."""
    valid_until_ms: int | None
    """None: no expiry."""


@dataclass(frozen=True, slots=True)
class RevokeArgs:
    material_id: str
    reason: str




def parse_attest(args: Value) -> AttestArgs:
    """Raises ContractError (invalid_arguments) naming the argument at fault."""
    f = want_args_map(
        args, {"material_type", "holder_ref", "content_hash", "form", "valid_from_ms", "valid_until_ms"},
        {"material_type", "holder_ref", "content_hash"},
    )
    parsed = AttestArgs(
        material_type=A.code(f["material_type"], "material_type"),
        holder_ref=A.bytes32(f["holder_ref"], "holder_ref"),
        content_hash=A.bytes32(f["content_hash"], "content_hash"),
        form=A.optional(f, "form", lambda v, n: A.choice(v, n, FORMS), "original"),
        valid_from_ms=A.optional(f, "valid_from_ms", A.time_ms, None),
        valid_until_ms=A.optional(f, "valid_until_ms", A.time_ms, None),
    )
    if parsed.valid_from_ms is not None and parsed.valid_until_ms is not None:
        _validate_window(parsed.valid_from_ms, parsed.valid_until_ms)
    return parsed


def parse_revoke(args: Value) -> RevokeArgs:
    f = want_args_map(args, {"material_id", "reason"}, {"material_id", "reason"})
    return RevokeArgs(material_id=A.record_id(f["material_id"], "material_id"), reason=A.text(f["reason"], "reason"))


def _validate_window(valid_from_ms: int, valid_until_ms: int) -> None:
    if valid_until_ms <= valid_from_ms:
        raise A.bad("valid_until_ms",
                    f"valid_until_ms ({valid_until_ms}) must be later than valid_from_ms ({valid_from_ms})")


# --- methods -----------------------------------------------------------------------------------------


def attest(overlay: StateOverlay, args: AttestArgs, ctx: CallContext) -> Outcome:
    """Record a material attested by the signer's department.

    Raises ContractError: the roster's errors (role clerk or issuer), unknown_material_type,
    material_exists (naming the first record), invalid_arguments (validity window).
    """
    # AUTHORISE: a clerk or issuer; the material is issued by the signer's department.
    officer = governance.require_member(overlay, ctx.signer, ctx.height, ATTEST_ROLES)
    issuer = officer.department
    # CHECK
    if proposals.get_material_type(overlay, args.material_type) is None:
        raise ContractError("unknown_material_type", f"material type {args.material_type!r} is not registered",
                            field="material_type")
    valid_from_ms = ctx.block_time_ms if args.valid_from_ms is None else args.valid_from_ms
    if args.valid_until_ms is not None:
        _validate_window(valid_from_ms, args.valid_until_ms)
    dup = dup_key(issuer, args.material_type, args.holder_ref, args.content_hash)
    first_id = overlay.get_value(dup)
    if first_id is not None:
        first = get_material(overlay, first_id)
        if first is not None and not first.revoked:
            raise ContractError(
                "material_exists",
                f"{issuer} already attested this {args.material_type} for this holder and content: material "
                f"{first.material_id} at height {first.attested_height}",
                field="content_hash",
            )
    # EFFECT
    material_id = compute_material_id(ctx.tx_id)
    overlay.put_value(material_key(material_id), {
        "material_id": material_id,
        "material_type": args.material_type,
        "holder_ref": args.holder_ref,
        "content_hash": args.content_hash,
        "form": args.form,
        "issuer": issuer,
        "issuer_officer": ctx.signer,
        "valid_from_ms": valid_from_ms,
        "valid_until_ms": args.valid_until_ms,
        "revoked": False,
        "revoked_reason": None,
        "revoked_height": None,
        "revoked_by": None,
        "attested_height": ctx.height,
        "attested_ms": ctx.block_time_ms,
        "tx_id": ctx.tx_id,
    })
    overlay.put(holder_key(args.holder_ref, material_id), INDEX_VALUE)
    overlay.put_value(dup, material_id)
    # EVENTS
    event = Event(kind="material.attested", attributes={
        "material_id": material_id, "material_type": args.material_type, "holder_ref": args.holder_ref,
        "content_hash": args.content_hash, "form": args.form, "issuer": issuer, "by": ctx.signer,
    })
    return Outcome((event,), (f"material:{material_id}", f"holder:{args.holder_ref.hex()}", f"department:{issuer}"))


def revoke(overlay: StateOverlay, args: RevokeArgs, ctx: CallContext) -> Outcome:
    """Mark a material revoked, with a reason, by its issuing department.

    Raises ContractError: the roster's errors (role clerk, issuer or admin), material_not_found,
    wrong_department, material_revoked.
    """
    # AUTHORISE: a clerk, issuer or admin of the issuing department.
    officer = governance.require_member(overlay, ctx.signer, ctx.height, REVOKE_ROLES)
    record = _get_raw(overlay, args.material_id)
    if record is None:
        raise ContractError("material_not_found", f"no material {args.material_id} is attested",
                            field="material_id")
    if record["issuer"] != officer.department:
        raise ContractError(
            "wrong_department",
            f"material {args.material_id} was attested by {record['issuer']}; {officer.department} may not revoke it",
            field="material_id",
        )
    # CHECK
    if record["revoked"]:
        raise ContractError(
            "material_revoked",
            f"material {args.material_id} was already revoked at height {record['revoked_height']}: "
            f"{record['revoked_reason']}",
            field="material_id",
        )
    # EFFECT
    record.update(revoked=True, revoked_reason=args.reason, revoked_height=ctx.height, revoked_by=ctx.signer)
    overlay.put_value(material_key(args.material_id), record)
    # EVENTS
    event = Event(kind="material.revoked", attributes={
        "material_id": args.material_id, "issuer": record["issuer"], "reason": args.reason, "by": ctx.signer,
    })
    return Outcome((event,), (f"material:{args.material_id}", f"holder:{record['holder_ref'].hex()}",
                              f"department:{record['issuer']}"))


def compute_material_targets(args: AttestArgs | RevokeArgs) -> tuple[str, ...]:
    """The entity a materials call names: the holder of an attestation (its ID comes from the transaction),
    the material of a revocation."""
    return (f"holder:{args.holder_ref.hex()}",) if isinstance(args, AttestArgs) else (f"material:{args.material_id}",)


METHODS: Final[dict[str, Method]] = {
    "attest": Method(
        parse=parse_attest, handler=attest, targets=compute_material_targets,
        description="A clerk or certificate issuer attests a material (type, holder hash, content hash, validity) "
                    "for the signer's department; cases cite it by ID.",
        example={"material_type": "id_card", "holder_ref": "<32 bytes>", "content_hash": "<32 bytes>",
                 "form": "original", "valid_from_ms": 1_772_413_200_000, "valid_until_ms": 2_087_946_000_000},
    ),
    "revoke": Method(
        parse=parse_revoke, handler=revoke, targets=compute_material_targets,
        description="The issuing department revokes a material with a reason; the record stays, marked revoked.",
        example={"material_id": "<32 hex digits>", "reason": "attested in error"},
    ),
}
