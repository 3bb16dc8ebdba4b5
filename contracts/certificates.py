"""Certificates (证照): electronic licences issued by an authorised department, and everything done to them.

A certificate is issued by a key with the role `issuer` of a department listed among its type's issuers
(`proposals.get_cert_type(...)["issuers"]`), or from an approved case (`issue_for_case`, signed by the
approving officer, who either holds `issuer` as well or names an issuing officer of its department who
does; that officer is recorded as `issuer_officer`, the approver as the history entry's signer).
Afterwards only an issuer of the issuing department may amend it (a new version; the old one stays
readable), suspend, reinstate, renew (new end of validity) or revoke it (final). Every
action is recorded with its reason and signer under its own key, `cert/<id>/h/<seq>`, written in the same
transaction; the record keeps only the current fields and the count of actions (`actions`), so its size
(and a verifier's proof of it) does not grow with the history. The status comes from the record alone
(`status_at`); as of an earlier height, from the record read at that height. A superseded version has no
status of its own: it is revoked, suspended or expired with its certificate.

Status as of a time T at or after the record's last action, in order of precedence: `revoked`,
`suspended`, `not_yet_valid` (T before valid_from_ms), `expired` (T at or after valid_until_ms),
otherwise `valid`. A certificate cannot be back-dated: valid_from_ms is never before the block time of
its issue, so before issue it reads as `not_yet_valid`.

State layout (certificate IDs are 32 lowercase hex digits, `contracts.args.ID_HEX`):
- `cert/<id>` -> the current record (shape below).
- `cert/<id>/v/<version as 4 bytes big-endian>` -> the full record of each superseded version.
- `cert/<id>/h/<seq as 4 bytes big-endian>` -> action number seq (0: the issue), at most MAX_HISTORY.
- `certs/holder/<holder_ref, 32 bytes>/<id>` -> b"\\xc0": the holder index, never deleted. It lives
  under its own prefix `certs/` (which `cert/` is not a prefix of), so a holder scan never meets a
  record and a scan of `cert/` never meets the index.

Record: {"cert_id", "cert_type", "holder_ref" (32-byte salted hash), "content_hash" (32 bytes),
"issuer" (department code), "issuer_officer" (public key), "issuer_officer_name", "case_id" (or None),
"materials" ([material IDs]), "metadata" ({str: str}), "valid_from_ms", "valid_until_ms" (or None),
"version", "previous_version" (or None), "issued_height", "issued_ms", "tx_id" (the issue transaction),
"updated_height", "updated_ms", "suspended", "suspended_reason", "revoked", "revoked_reason",
"revoked_height", "revoked_ms", "actions" (how many actions are recorded)}.
Action: {"action", "reason", "signer", "signer_name", "department", "height", "time_ms", "version",
"tx_id", "valid_until_ms" (the end of validity after the action)}; actions: issued, amended, suspended,
reinstated, renewed, revoked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from chainnode.codec import Value
from chainnode.results import Event, jsonable
from contracts import args as A
from contracts import governance, proposals
from contracts import materials as materials_contract
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

PREFIX_CERT: Final = b"cert/"
PREFIX_HOLDER: Final = b"certs/holder/"
DOMAIN_CERT_ID: Final = b"chainnode/v1/certificate"
ROLE_ISSUER: Final = "issuer"
DAY_MS: Final = 86_400_000
MAX_HISTORY: Final = 256
MAX_MATERIALS: Final = 32
MAX_VERSION: Final = 2**32 - 1
MAX_HOLDER_LIST: Final = 1000

VALID: Final = "valid"
SUSPENDED: Final = "suspended"
REVOKED: Final = "revoked"
EXPIRED: Final = "expired"
NOT_YET_VALID: Final = "not_yet_valid"


def compute_cert_id(tx_id: bytes) -> str:
    return derive_record_id(DOMAIN_CERT_ID, tx_id)


def cert_key(cert_id: str) -> bytes:
    return PREFIX_CERT + cert_id.encode()


def version_key(cert_id: str, version: int) -> bytes:
    return PREFIX_CERT + cert_id.encode() + b"/v/" + version.to_bytes(4, "big")


def history_key(cert_id: str, seq: int) -> bytes:
    return PREFIX_CERT + cert_id.encode() + b"/h/" + seq.to_bytes(4, "big")


def holder_prefix(holder_ref: bytes) -> bytes:
    return PREFIX_HOLDER + holder_ref + b"/"


def holder_key(holder_ref: bytes, cert_id: str) -> bytes:
    return holder_prefix(holder_ref) + cert_id.encode()


# --- reading -----------------------------------------------------------------------------------------


def _decode(reader: StateReader, key: bytes) -> dict[str, Any] | None:
    raw = reader.get(key)
    return None if raw is None else dict(decode_state(raw))


def get_certificate(reader: StateReader, cert_id: str) -> dict[str, Any] | None:
    """The current record of a certificate, or None if there is no such certificate."""
    return _decode(reader, cert_key(cert_id))


def get_certificate_version(reader: StateReader, cert_id: str, version: int) -> dict[str, Any] | None:
    """The record as it stood at `version` (the current record for the current version), or None."""
    if not 1 <= version <= MAX_VERSION:
        return None
    current = get_certificate(reader, cert_id)
    if current is None or version > current["version"]:
        return None
    if version == current["version"]:
        return current
    return _decode(reader, version_key(cert_id, version))


def get_certificate_history(reader: StateReader, cert_id: str, count: int, *, start: int = 0,
                            limit: int = MAX_HISTORY) -> list[dict[str, Any]]:
    """Actions `start` to `start + limit` (at most) of the first `count` of a certificate, in order.

    `count` is the `actions` of the record read at the same height (a version's snapshot gives the actions
    recorded up to its amendment): one read per action, never more than MAX_HISTORY.
    """
    end = min(count, start + limit, MAX_HISTORY)
    entries = []
    for seq in range(max(start, 0), end):
        entry = _decode(reader, history_key(cert_id, seq))
        if entry is None:
            break
        entries.append(entry)
    return entries


def certificates_of_holder(reader: StateReader, holder_ref: bytes, *, limit: int = MAX_HOLDER_LIST
                           ) -> list[dict[str, Any]]:
    """The current records of every certificate issued to `holder_ref`, in certificate-ID order."""
    prefix = holder_prefix(holder_ref)
    records = []
    for key, _ in reader.iter_prefix(prefix):
        record = get_certificate(reader, key[len(prefix):].decode())
        if record is not None:
            records.append(record)
        if len(records) >= limit:
            break
    return records


def status_at(record: Mapping[str, Any], time_ms: int) -> str:
    """The status as of block time `time_ms` at or after the record's last action (see the module doc).

    `record` is the certificate's record (`cert/<id>`) read at the height whose time `time_ms` is, or a
    later one: the status as of an earlier height is that of the record read at that height. A superseded
    version's snapshot (`cert/<id>/v/<n>`) stops when it was amended, so it would miss every later
    suspension or revocation; the status of any version is the certificate's (`certificate_version_json`).
    """
    if record["revoked"]:
        return REVOKED
    if record["suspended"]:
        return SUSPENDED
    if time_ms < record["valid_from_ms"]:
        return NOT_YET_VALID
    valid_until = record["valid_until_ms"]
    if valid_until is not None and time_ms >= valid_until:
        return EXPIRED
    return VALID


def certificate_json(record: Mapping[str, Any], time_ms: int) -> dict[str, Any]:
    """The current record as JSON (bytes as lowercase hex) with its "status" as of `time_ms`."""
    out: dict[str, Any] = {key: jsonable(value) for key, value in record.items()}
    out["status"] = status_at(record, time_ms)
    return out


def certificate_version_json(version: Mapping[str, Any], current: Mapping[str, Any], time_ms: int,
                             history: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One version of a certificate as JSON, with the **certificate's** status as of `time_ms` and its actions.

    `history` is the certificate's actions read at the same height as `current`
    (`get_certificate_history(reader, cert_id, current["actions"])`). A superseded version's record is a
    snapshot taken when it was amended: its `actions`, `revoked` and `suspended` stop there, so its status
    is read from `current`, never from the snapshot, and the action after its last is the amendment that
    replaced it. Adds "status", "latest_version" (how many versions there are), "superseded",
    "superseded_height" (the height of that amendment, None for the latest) and "history" (the actions up
    to this version's last).
    """
    out = certificate_json(version, time_ms)
    out["status"] = status_at(current, time_ms)
    out["latest_version"] = current["version"]
    out["superseded"] = version["version"] < current["version"]
    replaced_by = history[version["actions"]] if out["superseded"] and len(history) > version["actions"] else None
    out["superseded_height"] = None if replaced_by is None else replaced_by["height"]
    out["history"] = [jsonable(dict(entry)) for entry in history[:version["actions"]]]
    return out


# --- arguments ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssueArgs:
    cert_type: str
    holder_ref: bytes
    content_hash: bytes
    valid_from_ms: int | None
    valid_until_ms: int | None
    materials: tuple[str, ...]
    metadata: dict[str, str]


@dataclass(frozen=True, slots=True)
class ChangeArgs:
    """The arguments of amend, suspend, reinstate, renew and revoke (unused fields are None)."""

    cert_id: str
    reason: str
    content_hash: bytes | None = None
    valid_until_ms: int | None = None






def parse_issue(args: Value) -> IssueArgs:
    """Raises ContractError (invalid_arguments) naming the argument at fault."""
    f = want_args_map(args, {"cert_type", "holder_ref", "content_hash", "valid_from_ms", "valid_until_ms",
                             "materials", "metadata"}, {"cert_type", "holder_ref", "content_hash"})
    return IssueArgs(
        cert_type=A.code(f["cert_type"], "cert_type"),
        holder_ref=A.bytes32(f["holder_ref"], "holder_ref"),
        content_hash=A.bytes32(f["content_hash"], "content_hash"),
        valid_from_ms=A.optional(f, "valid_from_ms", A.time_ms, None),
        valid_until_ms=A.optional(f, "valid_until_ms", A.time_ms, None),
        materials=A.optional(f, "materials", lambda v, n: A.items_of(v, n, A.record_id, max_items=MAX_MATERIALS),
                             ()),
        metadata=A.optional(f, "metadata", A.metadata, {}),
    )


def _change_parser(extra: set[str], required: set[str]) -> Callable[[Value], ChangeArgs]:
    def parse(args: Value) -> ChangeArgs:
        f = want_args_map(args, {"cert_id", "reason"} | extra, {"cert_id", "reason"} | required)
        return ChangeArgs(
            cert_id=A.record_id(f["cert_id"], "cert_id"),
            reason=A.text(f["reason"], "reason"),
            content_hash=A.optional(f, "content_hash", A.bytes32, None),
            valid_until_ms=A.optional(f, "valid_until_ms", A.time_ms, None),
        )

    return parse


parse_amend = _change_parser({"content_hash", "valid_until_ms"}, {"content_hash"})
parse_status_change = _change_parser(set(), set())
parse_renew = _change_parser({"valid_until_ms"}, {"valid_until_ms"})


# --- checks ------------------------------------------------------------------------------------------


def validate_authorised(reader: StateReader, cert_type: str, department: str, officer: bytes) -> dict[str, Any]:
    """The certificate type, if `department` (of the key `officer`) may issue it. Raises unknown_cert_type,
    cert_type_not_authorised."""
    registered = proposals.get_cert_type(reader, cert_type)
    if registered is None:
        raise ContractError("unknown_cert_type", f"certificate type {cert_type!r} is not registered",
                            field="cert_type")
    if department not in registered["issuers"] and not governance.is_department_check_skipped(reader, officer):
        raise ContractError(
            "cert_type_not_authorised",
            f"{department} is not authorised to issue {cert_type!r}; its issuers are "
            f"{', '.join(registered['issuers'])}",
            field="cert_type",
        )
    return registered


def validate_materials(reader: StateReader, cited: Sequence[str], holder_ref: bytes, time_ms: int) -> None:
    """Every cited material exists and is usable for `holder_ref` at `time_ms`.

    Raises material_not_found, or the material's defect (material_revoked, material_other_holder,
    material_not_yet_valid, material_expired) naming the material.
    """
    for i, material_id in enumerate(cited):
        material = materials_contract.get_material(reader, material_id)
        if material is None:
            raise ContractError("material_not_found", f"there is no material {material_id}",
                                field=f"materials[{i}]")
        problem = materials_contract.defect(material, holder_ref=holder_ref, time_ms=time_ms)
        if problem is not None:
            raise ContractError(problem, f"material {material_id} ({material.material_type}) cannot be used: "
                                         f"{problem.removeprefix('material_').replace('_', ' ')}",
                                field=f"materials[{i}]")


def _validity(registered: Mapping[str, Any], valid_from_ms: int | None, valid_until_ms: int | None,
              ctx: CallContext) -> tuple[int, int | None]:
    start = ctx.block_time_ms if valid_from_ms is None else valid_from_ms
    if start < ctx.block_time_ms:
        raise ContractError("invalid_validity", f"valid_from_ms {start} is before the block time "
                            f"{ctx.block_time_ms}; a certificate cannot be back-dated", field="valid_from_ms")
    end = valid_until_ms
    if end is None and registered.get("validity_days"):
        end = start + int(registered["validity_days"]) * DAY_MS
    if end is not None and end <= start:
        raise ContractError("invalid_validity", f"valid_until_ms {end} must be after valid_from_ms {start}",
                            field="valid_until_ms")
    return start, end


def _require_changeable(overlay: StateOverlay, cert_id: str, officer: governance.MemberRecord) -> dict[str, Any]:
    """The current record, if the officer's department issued it, it is not revoked and its history has room.

    Raises cert_not_found, wrong_department, cert_revoked, too_many_changes.
    """
    department = officer.department
    record = get_certificate(overlay, cert_id)
    if record is None:
        raise ContractError("cert_not_found", f"there is no certificate {cert_id}", field="cert_id")
    if record["issuer"] != department and not governance.is_department_check_skipped(overlay, officer.public_key):
        raise ContractError("wrong_department", f"certificate {cert_id} was issued by {record['issuer']}; "
                            f"only its issuers may change it, the signer belongs to {department}", field="signer")
    if record["revoked"]:
        raise ContractError(
            "cert_revoked", f"certificate {cert_id} was revoked at height {record['revoked_height']} "
            f"({record['revoked_reason']}); revocation is final", field="cert_id",
        )
    if record["actions"] >= MAX_HISTORY:
        raise ContractError("too_many_changes", f"certificate {cert_id} already has {MAX_HISTORY} recorded "
                            "actions; issue a new certificate instead", field="cert_id")
    return record


# --- effects -----------------------------------------------------------------------------------------


def _history_entry(action: str, reason: str, officer: governance.MemberRecord, ctx: CallContext, version: int,
                   valid_until_ms: int | None) -> dict[str, Value]:
    return {"action": action, "reason": reason, "signer": officer.public_key, "signer_name": officer.name,
            "department": officer.department, "height": ctx.height, "time_ms": ctx.block_time_ms,
            "version": version, "tx_id": ctx.tx_id, "valid_until_ms": valid_until_ms}


def _event(action: str, record: Mapping[str, Any], reason: str, signer: bytes) -> Event:
    return Event(kind=f"cert.{action}", attributes={
        "cert_id": record["cert_id"], "cert_type": record["cert_type"], "holder_ref": record["holder_ref"],
        "issuer": record["issuer"], "version": record["version"], "valid_until_ms": record["valid_until_ms"],
        "case_id": record["case_id"], "reason": reason, "signer": signer,
    })


def _record_action(overlay: StateOverlay, record: dict[str, Any], entry: dict[str, Value]) -> None:
    """Write `entry` as the certificate's next action and the record with its count of actions."""
    overlay.put_value(history_key(record["cert_id"], record["actions"]), entry)
    record["actions"] += 1
    overlay.put_value(cert_key(record["cert_id"]), record)


def _issue_reason(case_id: str | None) -> str:
    return "" if case_id is None else f"approved case {case_id}"


def certificate_entities(record: Mapping[str, Any]) -> tuple[str, ...]:
    """The entity IDs of a certificate for the history index: cert, holder and issuing department."""
    return (f"cert:{record['cert_id']}", f"holder:{record['holder_ref'].hex()}", f"department:{record['issuer']}")


def _issue(overlay: StateOverlay, ctx: CallContext, officer: governance.MemberRecord, args: IssueArgs,
           case_id: str | None, signer: governance.MemberRecord | None = None) -> dict[str, Any]:
    """Write a new certificate issued by `officer` (who holds `issuer`); `signer` is the transaction's signer
    when it is someone else (an approver naming the issuing officer), recorded in the history entry."""
    registered = validate_authorised(overlay, args.cert_type, officer.department, officer.public_key)
    validate_materials(overlay, args.materials, args.holder_ref, ctx.block_time_ms)
    start, end = _validity(registered, args.valid_from_ms, args.valid_until_ms, ctx)
    cert_id = compute_cert_id(ctx.tx_id)
    if overlay.get(cert_key(cert_id)) is not None:
        raise ContractError("cert_exists", f"transaction {ctx.tx_id.hex()} already issued certificate {cert_id}")
    record: dict[str, Any] = {
        "cert_id": cert_id, "cert_type": args.cert_type, "holder_ref": args.holder_ref,
        "content_hash": args.content_hash, "issuer": officer.department, "issuer_officer": officer.public_key,
        "issuer_officer_name": officer.name, "case_id": case_id, "materials": list(args.materials),
        "metadata": args.metadata, "valid_from_ms": start, "valid_until_ms": end, "version": 1,
        "previous_version": None, "issued_height": ctx.height, "issued_ms": ctx.block_time_ms, "tx_id": ctx.tx_id,
        "updated_height": ctx.height, "updated_ms": ctx.block_time_ms, "suspended": False, "suspended_reason": None,
        "revoked": False, "revoked_reason": None, "revoked_height": None, "revoked_ms": None, "actions": 0,
    }
    _record_action(overlay, record, _history_entry("issued", _issue_reason(case_id),
                                                   officer if signer is None else signer, ctx, 1, end))
    overlay.put(holder_key(args.holder_ref, cert_id), b"\xc0")
    return record


def validate_case_issuer(reader: StateReader, ctx: CallContext, *, approver: governance.MemberRecord,
                         issuer_officer: bytes | None, department: str) -> governance.MemberRecord:
    """The issuing officer of a certificate issued by a case decision: the approver, if it holds `issuer`
    too, else the named `issuer_officer`, a key of `department` holding `issuer` at `ctx.height`.

    Raises issuer_required naming what is needed: an approver without `issuer` who names no officer, or
    a named key that is not a member of `department` holding `issuer` at this height.
    """
    if issuer_officer is None:
        if ROLE_ISSUER in approver.roles:
            return approver
        raise ContractError(
            "issuer_required", f"approving the case issues a certificate, and its issuing officer must hold the "
            f"role {ROLE_ISSUER}: {approver.name} of {department} holds {', '.join(approver.roles)}; sign with a "
            f"{department} key holding both approver and {ROLE_ISSUER}, or name certificate.issuer_officer, a "
            f"{department} key holding {ROLE_ISSUER}", field="certificate.issuer_officer")
    named = governance.member_at(reader, issuer_officer, ctx.height)
    if named is None or named.department != department or ROLE_ISSUER not in named.roles:
        held = "not a current member" if named is None else \
            f"{named.name} of {named.department} with role(s) {', '.join(named.roles)}"
        raise ContractError(
            "issuer_required", f"certificate.issuer_officer must be a {department} key holding the role "
            f"{ROLE_ISSUER} at height {ctx.height}; {issuer_officer.hex()} is {held}",
            field="certificate.issuer_officer")
    return named


def issue_for_case(overlay: StateOverlay, ctx: CallContext, *, approver: governance.MemberRecord,
                   issuer_officer: bytes | None, cert_type: str, holder_ref: bytes, content_hash: bytes,
                   case_id: str, materials: Sequence[str], valid_from_ms: int | None, valid_until_ms: int | None,
                   metadata: Mapping[str, str] | None = None) -> tuple[str, Event]:
    """Issue a certificate from an approved case; returns (cert_id, event).

    The approver signed the decision; the certificate's `issuer_officer` is whoever holds `issuer` for it
    (`validate_case_issuer`): the approver itself, or the officer the decision names. The history entry
    records the approver as the signer. The caller has checked the approver's role and the arguments'
    shapes. Raises ContractError: issuer_required, and like `issue`: unknown_cert_type,
    cert_type_not_authorised, material_not_found or a material defect, invalid_validity, cert_exists (one
    certificate per transaction).
    """
    officer = validate_case_issuer(overlay, ctx, approver=approver, issuer_officer=issuer_officer,
                                   department=approver.department)
    args = IssueArgs(cert_type=cert_type, holder_ref=holder_ref, content_hash=content_hash,
                     valid_from_ms=valid_from_ms, valid_until_ms=valid_until_ms, materials=tuple(materials),
                     metadata=A.metadata(dict(metadata or {}), "metadata"))
    record = _issue(overlay, ctx, officer, args, case_id, signer=approver)
    return record["cert_id"], _event("issued", record, _issue_reason(case_id), approver.public_key)


def _update(overlay: StateOverlay, record: dict[str, Any], action: str, reason: str,
            officer: governance.MemberRecord, ctx: CallContext) -> Outcome:
    record["updated_height"] = ctx.height
    record["updated_ms"] = ctx.block_time_ms
    _record_action(overlay, record, _history_entry(action, reason, officer, ctx, record["version"],
                                                   record["valid_until_ms"]))
    return Outcome((_event(action, record, reason, officer.public_key),), certificate_entities(record))


# --- methods -----------------------------------------------------------------------------------------


def issue(overlay: StateOverlay, args: IssueArgs, ctx: CallContext) -> Outcome:
    """Raises the role errors of governance.require_member, unknown_cert_type, cert_type_not_authorised,
    material_not_found, a material defect, invalid_validity."""
    # AUTHORISE
    officer = governance.require_member(overlay, ctx.signer, ctx.height, (ROLE_ISSUER,))
    # CHECK + EFFECT (nothing is written before every check has passed)
    record = _issue(overlay, ctx, officer, args, None)
    # EVENTS
    entities = (*certificate_entities(record), *(f"material:{m}" for m in args.materials))
    return Outcome((_event("issued", record, "", officer.public_key),), entities)


def amend(overlay: StateOverlay, args: ChangeArgs, ctx: CallContext) -> Outcome:
    """A new version with a new content hash (and optionally a new end of validity); the old one is kept.

    Raises role errors, cert_not_found, wrong_department, too_many_changes, cert_revoked,
    cert_type_not_authorised, invalid_validity, no_change.
    """
    officer = governance.require_member(overlay, ctx.signer, ctx.height, (ROLE_ISSUER,))
    record = _require_changeable(overlay, args.cert_id, officer)
    validate_authorised(overlay, record["cert_type"], officer.department, officer.public_key)
    end = record["valid_until_ms"] if args.valid_until_ms is None else args.valid_until_ms
    if args.valid_until_ms is not None and not args.valid_until_ms > max(record["valid_from_ms"], ctx.block_time_ms):
        raise ContractError("invalid_validity", f"valid_until_ms {args.valid_until_ms} must be after valid_from_ms "
                            f"{record['valid_from_ms']} and the block time {ctx.block_time_ms}", field="valid_until_ms")
    if args.content_hash == record["content_hash"] and end == record["valid_until_ms"]:
        raise ContractError("no_change", f"the amendment leaves certificate {args.cert_id} version "
                            f"{record['version']} as it is", field="content_hash")
    if record["version"] >= MAX_VERSION:
        raise ContractError("too_many_changes", f"certificate {args.cert_id} has too many versions", field="cert_id")
    overlay.put_value(version_key(args.cert_id, record["version"]), record)
    record = dict(record)
    record.update(content_hash=args.content_hash, valid_until_ms=end, previous_version=record["version"],
                  version=record["version"] + 1)
    return _update(overlay, record, "amended", args.reason, officer, ctx)


def suspend(overlay: StateOverlay, args: ChangeArgs, ctx: CallContext) -> Outcome:
    """Suspend a valid (or not yet valid) certificate. Raises role errors, cert_not_found, wrong_department,
    cert_revoked, too_many_changes, cert_suspended, cert_expired."""
    officer = governance.require_member(overlay, ctx.signer, ctx.height, (ROLE_ISSUER,))
    record = _require_changeable(overlay, args.cert_id, officer)
    if record["suspended"]:
        raise ContractError("cert_suspended", f"certificate {args.cert_id} is already suspended "
                            f"({record['suspended_reason']})", field="cert_id")
    if status_at(record, ctx.block_time_ms) == EXPIRED:
        raise ContractError("cert_expired", f"certificate {args.cert_id} expired at {record['valid_until_ms']}; "
                            "renew it first", field="cert_id")
    record.update(suspended=True, suspended_reason=args.reason)
    return _update(overlay, record, "suspended", args.reason, officer, ctx)


def reinstate(overlay: StateOverlay, args: ChangeArgs, ctx: CallContext) -> Outcome:
    """Raises role errors, cert_not_found, wrong_department, too_many_changes, cert_revoked, cert_not_suspended."""
    officer = governance.require_member(overlay, ctx.signer, ctx.height, (ROLE_ISSUER,))
    record = _require_changeable(overlay, args.cert_id, officer)
    if not record["suspended"]:
        raise ContractError("cert_not_suspended", f"certificate {args.cert_id} is not suspended", field="cert_id")
    record.update(suspended=False, suspended_reason=None)
    return _update(overlay, record, "reinstated", args.reason, officer, ctx)


def renew(overlay: StateOverlay, args: ChangeArgs, ctx: CallContext) -> Outcome:
    """A later end of validity. Raises role errors, cert_not_found, wrong_department, too_many_changes,
    cert_revoked, cert_type_not_authorised, invalid_validity."""
    officer = governance.require_member(overlay, ctx.signer, ctx.height, (ROLE_ISSUER,))
    record = _require_changeable(overlay, args.cert_id, officer)
    validate_authorised(overlay, record["cert_type"], officer.department, officer.public_key)
    current = record["valid_until_ms"]
    if args.valid_until_ms is None or current is None:
        raise ContractError("invalid_validity", f"certificate {args.cert_id} has no end of validity to renew",
                            field="valid_until_ms")
    if not args.valid_until_ms > max(current, ctx.block_time_ms):
        raise ContractError("invalid_validity", f"valid_until_ms {args.valid_until_ms} must be after the current "
                            f"end of validity {current} and the block time {ctx.block_time_ms}",
                            field="valid_until_ms")
    record["valid_until_ms"] = args.valid_until_ms
    return _update(overlay, record, "renewed", args.reason, officer, ctx)


def revoke(overlay: StateOverlay, args: ChangeArgs, ctx: CallContext) -> Outcome:
    """Final. Raises role errors, cert_not_found, wrong_department, too_many_changes, cert_revoked."""
    officer = governance.require_member(overlay, ctx.signer, ctx.height, (ROLE_ISSUER,))
    record = _require_changeable(overlay, args.cert_id, officer)
    record.update(revoked=True, revoked_reason=args.reason, revoked_height=ctx.height, revoked_ms=ctx.block_time_ms)
    return _update(overlay, record, "revoked", args.reason, officer, ctx)


def compute_certificate_targets(args: IssueArgs | ChangeArgs) -> tuple[str, ...]:
    """The entities a certificates call names: the certificate of a change; the holder and the cited
    materials of an issue (its ID comes from the transaction)."""
    if isinstance(args, ChangeArgs):
        return (f"cert:{args.cert_id}",)
    return (f"holder:{args.holder_ref.hex()}", *(f"material:{m}" for m in args.materials))


_CERT_ID_EXAMPLE: Final = "0123456789abcdef0123456789abcdef"

METHODS: Final[dict[str, Method]] = {
    "issue": Method(
        parse=parse_issue, handler=issue, targets=compute_certificate_targets,
        description="An issuer of an authorised department issues a certificate to a holder reference.",
        example={"cert_type": "business_licence", "holder_ref": "<32 bytes>", "content_hash": "<32 bytes>",
                 "valid_until_ms": 1_800_000_000_000, "materials": [_CERT_ID_EXAMPLE], "metadata": {"name": "..."}},
    ),
    "amend": Method(
        parse=parse_amend, handler=amend, targets=compute_certificate_targets,
        description="An issuer of the issuing department records a new version; the old version stays readable.",
        example={"cert_id": _CERT_ID_EXAMPLE, "content_hash": "<32 bytes>", "reason": "registered address changed"},
    ),
    "suspend": Method(
        parse=parse_status_change, handler=suspend, targets=compute_certificate_targets,
        description="An issuer of the issuing department suspends a valid certificate.",
        example={"cert_id": _CERT_ID_EXAMPLE, "reason": "under investigation"},
    ),
    "reinstate": Method(
        parse=parse_status_change, handler=reinstate, targets=compute_certificate_targets,
        description="An issuer of the issuing department lifts a suspension.",
        example={"cert_id": _CERT_ID_EXAMPLE, "reason": "investigation closed"},
    ),
    "renew": Method(
        parse=parse_renew, handler=renew, targets=compute_certificate_targets,
        description="An issuer of the issuing department extends a certificate's validity.",
        example={"cert_id": _CERT_ID_EXAMPLE, "valid_until_ms": 1_830_000_000_000, "reason": "annual renewal"},
    ),
    "revoke": Method(
        parse=parse_status_change, handler=revoke, targets=compute_certificate_targets,
        description="An issuer of the issuing department revokes a certificate; revocation is final.",
        example={"cert_id": _CERT_ID_EXAMPLE, "reason": "obtained by fraud"},
    ),
}
