"""Governance proposals: a department admin proposes, each active department votes once, and a passed
proposal takes effect at its stated height.

A proposal passes when its yes-votes exceed `num/den` of the departments active at the vote (the kind's
threshold from genesis, default 2/3) at or before its deadline height, and is rejected as soon as it can no
longer pass. A passed proposal is applied at the start of the first block at or after
`max(effective_height, pass height + 1)` (`begin_block`), before that block's transactions. Application
re-checks the payload against the state of that time; if it no longer fits (the department was removed
meanwhile, say), the proposal is marked `failed` with the reason and nothing changes.

Kinds and payloads are listed in docs/contracts.md. Validator changes (remove a department, change power)
go to consensus as validator updates, effective two heights after the block that applies them.

A department added at height H joins as an **observer first**: its node key and admins are registered
from H, so its node may link to the others and sync (peers accept registered node keys), but its voting
power is queued only at H + JOIN_DELAY_BLOCKS (`begin_block`), and so counts for the quorum from
H + JOIN_DELAY_BLOCKS + 2. Until then the network's quorum does not depend on a node that is still
catching up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from chainnode.codec import Value
from chainnode.genesis import DEFAULT_THRESHOLD, MAX_DOCUMENT_BYTES_CEILING, PROPOSAL_KINDS, Genesis, Params
from chainnode.limits import MAX_BLOCK_BYTES_CEILING, MAX_BLOCK_TXS_CEILING, MAX_TX_BYTES_CEILING
from chainnode.results import Event
from contracts import args as A
from contracts import calendar, governance
from contracts.base import CallContext, ContractError, Outcome, StateOverlay, StateReader, decode_state, want_args_map

PREFIX_PROPOSAL: Final = b"gov/proposal/"
PREFIX_SCHEDULED: Final = b"gov/scheduled/"
PREFIX_JOIN_POWER: Final = b"gov/join_power/"
JOIN_DELAY_BLOCKS: Final = 10
"""Blocks between a department's admission (it may link and sync) and the queueing of its voting power."""
PREFIX_CERT_TYPE: Final = b"gov/cert_type/"
PREFIX_MATERIAL_TYPE: Final = b"gov/material_type/"
SEQ_KEY: Final = b"gov/proposal_seq"
LIMITS_KEY: Final = b"consensus/limits"
DOCS_CONFIG_KEY: Final = b"docs/config"
"""{"max_document_bytes"}: the documents contract's limits (genesis params, proposal `set_document_limits`)."""
MAX_DEADLINE_DELAY: Final = 1_000_000
MAX_ADMINS: Final = 8
MAX_ISSUERS: Final = 64
MAX_DATES: Final = 366
MAX_POWER: Final = 2**40
LIMIT_RANGES: Final = {  # never above the protocol ceilings, from which every transport limit derives
    "max_block_txs": (1, MAX_BLOCK_TXS_CEILING),
    "max_block_bytes": (4096, MAX_BLOCK_BYTES_CEILING),
    "max_tx_bytes": (1024, MAX_TX_BYTES_CEILING),
}
STATUSES: Final = ("open", "passed", "rejected", "applied", "failed")


def proposal_key(proposal_id: int) -> bytes:
    return PREFIX_PROPOSAL + proposal_id.to_bytes(8, "big")


def scheduled_key(height: int, proposal_id: int) -> bytes:
    return PREFIX_SCHEDULED + height.to_bytes(8, "big") + proposal_id.to_bytes(8, "big")


def join_power_key(height: int, code: str) -> bytes:
    return PREFIX_JOIN_POWER + height.to_bytes(8, "big") + code.encode()


def power_in_force(dept: governance.DepartmentRecord, height: int) -> int:
    """The department's power as it counts for the quorum at `height`: 0 while a joiner is an observer."""
    joining = dept.admitted_height > 0 and height < dept.admitted_height + JOIN_DELAY_BLOCKS
    return 0 if joining else dept.power


def _is_join_pending(dept: governance.DepartmentRecord, height: int) -> bool:
    """The department's join power is still to be queued (`_queue_join_power` runs after the proposals of
    its block, so at the due height too)."""
    return dept.admitted_height > 0 and height <= dept.admitted_height + JOIN_DELAY_BLOCKS


def cert_type_key(code: str) -> bytes:
    return PREFIX_CERT_TYPE + code.encode()


def material_type_key(code: str) -> bytes:
    return PREFIX_MATERIAL_TYPE + code.encode()


# --- payloads ----------------------------------------------------------------------------------------


def _fields(value: Value, field: str, allowed: set[str], required: set[str]) -> dict[str, Value]:
    """The map `value` (the payload or one of its entries) with `required` keys and no others."""
    if type(value) is not dict:
        raise A.bad(field, f"{field} must be a map")
    unknown = sorted(str(k) for k in set(value) - allowed)
    if unknown:
        raise A.bad(field, f"{field} has unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
    missing = sorted(required - set(value))
    if missing:
        raise A.bad(field, f"{field} is missing field(s) {', '.join(missing)}")
    return dict(value)


def _admin(value: Value, field: str) -> dict[str, Value]:
    fields = _fields(value, field, {"public_key", "name"}, {"public_key", "name"})
    return {"public_key": A.bytes32(fields["public_key"], f"{field}.public_key"),
            "name": A.text(fields["name"], f"{field}.name")}


def _date(value: Value, field: str) -> str:
    if type(value) is not str:
        raise A.bad(field, f"{field} must be a YYYY-MM-DD date string")
    try:
        calendar.parse_date(value)
    except ValueError as exc:
        raise A.bad(field, f"{field} must be a YYYY-MM-DD date; {value[:40]!r} is not one") from exc
    return value


def _payload_add_department(p: Value) -> dict[str, Value]:
    f = _fields(p, "payload", {"code", "name", "node_key", "power", "address", "admins", "encryption_key"},
                {"code", "name", "node_key", "power", "admins"})
    payload: dict[str, Value] = {
        "code": A.department_code(f["code"], "payload.code"),
        "name": A.text(f["name"], "payload.name"),
        "node_key": A.bytes32(f["node_key"], "payload.node_key"),
        "power": A.integer(f["power"], "payload.power", high=MAX_POWER),
        "address": A.optional(f, "address", lambda v, n: A.text(v, "payload.address", min_len=0), ""),
        "admins": list(A.items_of(f["admins"], "payload.admins", _admin, max_items=MAX_ADMINS, min_items=1)),
    }
    if f.get("encryption_key") is not None:  # absent from older payloads, which stay as they were
        payload["encryption_key"] = A.encryption_key(f["encryption_key"], "payload.encryption_key")
    keys = [payload["node_key"], *(a["public_key"] for a in payload["admins"])]
    if len(set(keys)) != len(keys):
        raise A.bad("payload.admins", "payload.node_key and the admins' public keys must all differ")
    return payload


def _payload_code_only(p: Value) -> dict[str, Value]:
    f = _fields(p, "payload", {"code"}, {"code"})
    return {"code": A.department_code(f["code"], "payload.code")}


def _payload_set_power(p: Value) -> dict[str, Value]:
    f = _fields(p, "payload", {"code", "power"}, {"code", "power"})
    return {"code": A.department_code(f["code"], "payload.code"),
            "power": A.integer(f["power"], "payload.power", high=MAX_POWER)}


def _payload_limits(p: Value) -> dict[str, Value]:
    f = _fields(p, "payload", set(LIMIT_RANGES), set())
    if not f:
        raise A.bad("payload", f"payload must set at least one of {', '.join(LIMIT_RANGES)}")
    return {name: A.integer(f[name], f"payload.{name}", low=LIMIT_RANGES[name][0], high=LIMIT_RANGES[name][1])
            for name in sorted(f)}


def _payload_calendar(p: Value) -> dict[str, Value]:
    f = _fields(p, "payload", {"year", "holidays", "workdays"}, {"year", "holidays", "workdays"})
    year = A.integer(f["year"], "payload.year", low=calendar.MIN_YEAR, high=calendar.MAX_YEAR)
    holidays = sorted(A.items_of(f["holidays"], "payload.holidays", _date, max_items=MAX_DATES))
    workdays = sorted(A.items_of(f["workdays"], "payload.workdays", _date, max_items=MAX_DATES))
    for name, dates in (("holidays", holidays), ("workdays", workdays)):
        outside = [d for d in dates if not d.startswith(f"{year:04d}-")]
        if outside:
            raise A.bad(f"payload.{name}", f"payload.{name} lists dates outside {year}: {', '.join(outside)}")
    both = sorted(set(holidays) & set(workdays))
    if both:
        raise A.bad("payload", f"dates listed as both holiday and working day: {', '.join(both)}")
    return {"year": year, "holidays": list(holidays), "workdays": list(workdays)}


def _payload_cert_type(p: Value) -> dict[str, Value]:
    f = _fields(p, "payload", {"code", "name", "issuers", "validity_days"}, {"code", "name", "issuers"})
    return {
        "code": A.code(f["code"], "payload.code"),
        "name": A.text(f["name"], "payload.name"),
        "issuers": sorted(A.items_of(f["issuers"], "payload.issuers", A.department_code, max_items=MAX_ISSUERS,
                                     min_items=1)),
        "validity_days": A.optional(f, "validity_days", lambda v, n: A.integer(v, "payload.validity_days", low=1,
                                                                               high=100 * 366), None),
    }


def _payload_material_type(p: Value) -> dict[str, Value]:
    f = _fields(p, "payload", {"code", "name"}, {"code", "name"})
    return {"code": A.code(f["code"], "payload.code"), "name": A.text(f["name"], "payload.name")}


def _payload_document_limits(p: Value) -> dict[str, Value]:
    f = _fields(p, "payload", {"max_document_bytes"}, {"max_document_bytes"})
    return {"max_document_bytes": A.integer(f["max_document_bytes"], "payload.max_document_bytes", low=1024,
                                            high=MAX_DOCUMENT_BYTES_CEILING)}


PAYLOADS: Final[dict[str, Callable[[Value], dict[str, Value]]]] = {
    "add_department": _payload_add_department,
    "remove_department": _payload_code_only,
    "set_power": _payload_set_power,
    "set_consensus_limits": _payload_limits,
    "publish_calendar": _payload_calendar,
    "register_cert_type": _payload_cert_type,
    "register_material_type": _payload_material_type,
    "set_document_limits": _payload_document_limits,
}
assert tuple(PAYLOADS) == PROPOSAL_KINDS


# --- stateful checks and application ------------------------------------------------------------------


def _department(reader: StateReader, code: str, height: int) -> governance.DepartmentRecord:
    dept = governance.get_department(reader, code)
    if dept is None or not dept.active_at(height):
        raise ContractError("unknown_department", f"{code} is not an active department", field="payload.code")
    return dept


def check_payload(reader: StateReader, kind: str, payload: dict[str, Value], height: int) -> None:
    """Raise ContractError if the payload does not fit the state at `height`."""
    if kind == "add_department":
        if governance.get_department(reader, payload["code"]) is not None:
            raise ContractError("department_exists", f"department {payload['code']} exists", field="payload.code")
        for key in [payload["node_key"], *(a["public_key"] for a in payload["admins"])]:
            existing = governance.member_record(reader, key)
            if existing is not None:
                raise ContractError(
                    "member_exists", f"key {key.hex()[:16]}… is already registered to {existing['department']}",
                    field="payload",
                )
    elif kind in ("remove_department", "set_power"):
        _department(reader, payload["code"], height)
        active = governance.active_departments(reader, height)
        remaining = [d for d in active if d.code != payload["code"]]
        new_power = sum(power_in_force(d, height) for d in remaining) + (payload["power"] if kind == "set_power" else 0)
        if kind == "remove_department" and not remaining:
            raise ContractError("last_department", "the last department cannot be removed", field="payload.code")
        if new_power <= 0:
            raise ContractError("no_voting_power", "the change would leave no validator with voting power",
                                field="payload")
    elif kind == "register_cert_type":
        for code in payload["issuers"]:
            dept = governance.get_department(reader, code)
            if dept is None or not dept.active_at(height):
                raise ContractError("unknown_department", f"issuer {code} is not an active department",
                                    field="payload.issuers")


def _queue_validator_update(overlay: StateOverlay, height: int, department: str, key: bytes, power: int) -> None:
    from contracts.validators import VALIDATOR_UPDATES_KEY

    queued = overlay.get_value(VALIDATOR_UPDATES_KEY)
    updates = list(queued["updates"]) if queued is not None and queued["height"] == height else []
    updates.append([department, key, power])
    overlay.put_value(VALIDATOR_UPDATES_KEY, {"height": height, "updates": updates})


def apply_payload(overlay: StateOverlay, kind: str, payload: dict[str, Value], height: int) -> None:
    """Make a passed proposal's change (or a genesis registry entry). Raises ContractError if it no longer fits."""
    check_payload(overlay, kind, payload, height)
    if kind == "add_department":
        governance.put_department(
            overlay, code=payload["code"], name=payload["name"], node_key=payload["node_key"],
            power=payload["power"], address=payload["address"], height=height,
        )
        for admin in payload["admins"]:
            governance.put_member(
                overlay, governance.new_member(admin["public_key"], payload["code"], admin["name"], ["admin"], height)
            )
        if payload.get("encryption_key") is not None:
            governance.put_encryption_key(overlay, payload["code"], payload["encryption_key"], height)
        # observer first: the power is queued JOIN_DELAY_BLOCKS later, once the node has had time to sync
        overlay.put_value(join_power_key(height + JOIN_DELAY_BLOCKS, payload["code"]), payload["code"])
    elif kind in ("remove_department", "set_power"):
        record = dict(overlay.get_value(governance.department_key(payload["code"])) or {})
        power = 0 if kind == "remove_department" else payload["power"]
        if kind == "remove_department":
            record["removed_height"] = height
        record["power"] = power
        overlay.put_value(governance.department_key(payload["code"]), record)
        dept = governance.get_department(overlay, payload["code"])
        if dept is None or not _is_join_pending(dept, height):
            _queue_validator_update(overlay, height, payload["code"], record["node_key"], power)
        # else: an observer still; its pending join queues the power its record holds when the period ends
    elif kind == "set_consensus_limits":
        limits = dict(overlay.get_value(LIMITS_KEY) or {})
        limits.update(payload)
        overlay.put_value(LIMITS_KEY, limits)
    elif kind == "set_document_limits":
        config = dict(overlay.get_value(DOCS_CONFIG_KEY) or {})
        config.update(payload)
        overlay.put_value(DOCS_CONFIG_KEY, config)
    elif kind == "publish_calendar":
        overlay.put_value(calendar.calendar_key(payload["year"]), payload)
    elif kind == "register_cert_type":
        overlay.put_value(cert_type_key(payload["code"]), {**payload, "registered_height": height})
    elif kind == "register_material_type":
        overlay.put_value(material_type_key(payload["code"]), {**payload, "registered_height": height})


def apply_genesis(overlay: StateOverlay, genesis: Genesis) -> None:
    """Write the registries genesis starts with, and the documents contract's limits. Raises ContractError
    naming the entry at fault."""
    overlay.put_value(DOCS_CONFIG_KEY, {"max_document_bytes": genesis.params.max_document_bytes})
    sections: list[tuple[str, tuple[dict[str, Any], ...]]] = [
        ("register_material_type", genesis.governance.material_types),
        ("register_cert_type", genesis.governance.cert_types),
        ("publish_calendar", genesis.governance.calendars),
    ]
    for kind, entries in sections:
        seen: set[Value] = set()
        for i, entry in enumerate(entries):
            try:
                payload = PAYLOADS[kind](entry)
                name = payload.get("code", payload.get("year"))
                if name in seen:
                    raise ContractError("duplicate_entry", f"{name} is listed twice")
                seen.add(name)
                apply_payload(overlay, kind, payload, 0)
            except ContractError as exc:
                raise ContractError(exc.code, f"genesis.governance entry {i} of {kind}: {exc.message}",
                                    field=exc.field) from exc


# --- methods -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProposeArgs:
    kind: str
    payload: dict[str, Value]
    title: str
    deadline_height: int
    effective_height: int


@dataclass(frozen=True, slots=True)
class VoteArgs:
    proposal_id: int
    approve: bool


def parse_propose(args: Value) -> ProposeArgs:
    f = want_args_map(args, {"kind", "payload", "title", "deadline_height", "effective_height"},
                      {"kind", "payload", "deadline_height", "effective_height"})
    kind = A.choice(f["kind"], "kind", PROPOSAL_KINDS)
    return ProposeArgs(
        kind=kind,
        payload=PAYLOADS[kind](f["payload"]),
        title=A.optional(f, "title", A.text, ""),
        deadline_height=A.integer(f["deadline_height"], "deadline_height", low=1),
        effective_height=A.integer(f["effective_height"], "effective_height", low=1),
    )


def parse_vote(args: Value) -> VoteArgs:
    f = want_args_map(args, {"proposal_id", "approve"}, {"proposal_id", "approve"})
    return VoteArgs(A.integer(f["proposal_id"], "proposal_id", low=1), A.boolean(f["approve"], "approve"))


def threshold(reader: StateReader, kind: str) -> tuple[int, int]:
    config = reader.get(governance.CONFIG_KEY)
    if config is None:
        return DEFAULT_THRESHOLD
    pair = decode_state(config)["thresholds"].get(kind)
    return DEFAULT_THRESHOLD if pair is None else (int(pair[0]), int(pair[1]))


def propose(overlay: StateOverlay, args: ProposeArgs, ctx: CallContext) -> Outcome:
    admin = governance.require_member(overlay, ctx.signer, ctx.height, ("admin",))
    if not ctx.height < args.deadline_height <= ctx.height + MAX_DEADLINE_DELAY:
        raise ContractError(
            "invalid_deadline", f"deadline_height must be after the current height {ctx.height} and at most "
            f"{MAX_DEADLINE_DELAY} ahead", field="deadline_height",
        )
    if not ctx.height < args.effective_height <= args.deadline_height + MAX_DEADLINE_DELAY:
        raise ContractError(
            "invalid_effective_height",
            f"effective_height must be after the current height {ctx.height} and at most {MAX_DEADLINE_DELAY} "
            "after the deadline", field="effective_height",
        )
    check_payload(overlay, args.kind, args.payload, ctx.height)
    proposal_id = int(overlay.get_value(SEQ_KEY) or 0) + 1
    overlay.put_value(SEQ_KEY, proposal_id)
    num, den = threshold(overlay, args.kind)
    record: dict[str, Value] = {
        "id": proposal_id,
        "kind": args.kind,
        "payload": args.payload,
        "title": args.title,
        "department": admin.department,
        "proposer": ctx.signer,
        "proposed_height": ctx.height,
        "deadline_height": args.deadline_height,
        "effective_height": args.effective_height,
        "threshold": [num, den],
        "votes": {},
        "status": "open",
        "decided_height": None,
        "apply_height": None,
        "failure": None,
        "tx_id": ctx.tx_id,
    }
    overlay.put_value(proposal_key(proposal_id), record)
    event = Event(kind="proposal.created", attributes={"id": proposal_id, "kind": args.kind,
                                                      "department": admin.department})
    return Outcome((event,), (f"proposal:{proposal_id}", f"department:{admin.department}"))


def vote(overlay: StateOverlay, args: VoteArgs, ctx: CallContext) -> Outcome:
    admin = governance.require_member(overlay, ctx.signer, ctx.height, ("admin",))
    record = overlay.get_value(proposal_key(args.proposal_id))
    if record is None:
        raise ContractError("proposal_not_found", f"there is no proposal {args.proposal_id}", field="proposal_id")
    record = dict(record)
    if record["status"] != "open":
        raise ContractError("proposal_closed", f"proposal {args.proposal_id} is already {record['status']}",
                            field="proposal_id")
    if ctx.height > record["deadline_height"]:
        raise ContractError(
            "proposal_expired", f"proposal {args.proposal_id} closed for votes at height {record['deadline_height']}",
            field="proposal_id",
        )
    votes = dict(record["votes"])
    if admin.department in votes:
        raise ContractError("already_voted", f"{admin.department} already voted on proposal {args.proposal_id}",
                            field="proposal_id")
    votes[admin.department] = {"approve": args.approve, "signer": ctx.signer, "height": ctx.height}
    record["votes"] = dict(sorted(votes.items()))
    active = {d.code for d in governance.active_departments(overlay, ctx.height)}
    yes = sum(1 for code, v in votes.items() if v["approve"] and code in active)
    no = sum(1 for code, v in votes.items() if not v["approve"] and code in active)
    num, den = record["threshold"]
    events = [Event(kind="proposal.voted", attributes={"id": args.proposal_id, "department": admin.department,
                                                       "approve": args.approve})]
    if yes * den > num * len(active):
        apply_height = max(record["effective_height"], ctx.height + 1)
        record.update(status="passed", decided_height=ctx.height, apply_height=apply_height)
        overlay.put_value(scheduled_key(apply_height, args.proposal_id), args.proposal_id)
        events.append(Event(kind="proposal.passed", attributes={"id": args.proposal_id, "apply_height": apply_height}))
    elif (len(active) - no) * den <= num * len(active):
        record.update(status="rejected", decided_height=ctx.height)
        events.append(Event(kind="proposal.rejected", attributes={"id": args.proposal_id}))
    overlay.put_value(proposal_key(args.proposal_id), record)
    return Outcome(tuple(events), (f"proposal:{args.proposal_id}", f"department:{admin.department}"))


def _queue_join_power(overlay: StateOverlay, height: int) -> list[Event]:
    """Queue the voting power of departments admitted JOIN_DELAY_BLOCKS ago, with the power their record
    holds now (a `set_power` or removal meanwhile wins)."""
    due = []
    for key, value in overlay.iter_prefix(PREFIX_JOIN_POWER):
        if int.from_bytes(key[len(PREFIX_JOIN_POWER):len(PREFIX_JOIN_POWER) + 8], "big") > height:
            break
        due.append((key, decode_state(value)))
    events = []
    for key, code in due:
        overlay.delete(key)
        dept = governance.get_department(overlay, code)
        if dept is None or not dept.active_at(height) or dept.power <= 0:
            continue
        _queue_validator_update(overlay, height, code, dept.node_key, dept.power)
        events.append(Event(kind="department.power_queued",
                            attributes={"code": code, "power": dept.power, "effective_height": height + 2}))
    return events


def begin_block(overlay: StateOverlay, height: int) -> list[Event]:
    """Apply every passed proposal whose apply height has come, then queue the power of departments whose
    observer period ends; called before a block's transactions."""
    due = []
    for key, value in overlay.iter_prefix(PREFIX_SCHEDULED):
        if int.from_bytes(key[len(PREFIX_SCHEDULED):len(PREFIX_SCHEDULED) + 8], "big") > height:
            break
        due.append((key, decode_state(value)))
    events = []
    for key, proposal_id in due:
        overlay.delete(key)
        record = dict(overlay.get_value(proposal_key(proposal_id)) or {})
        attempt = overlay.child()
        try:
            apply_payload(attempt, record["kind"], record["payload"], height)
        except ContractError as exc:
            record.update(status="failed", failure=f"{exc.code}: {exc.message}")
        else:
            attempt.merge_into_parent()
            record["status"] = "applied"
        record["apply_height"] = height
        overlay.put_value(proposal_key(proposal_id), record)
        events.append(Event(kind=f"proposal.{record['status']}", attributes={"id": proposal_id}))
    return events + _queue_join_power(overlay, height)


# --- queries -----------------------------------------------------------------------------------------


def get_proposal(reader: StateReader, proposal_id: int, height: int | None = None) -> dict[str, Value] | None:
    raw = reader.get(proposal_key(proposal_id))
    if raw is None:
        return None
    record = dict(decode_state(raw))
    if height is not None and record["status"] == "open" and height > record["deadline_height"]:
        record["status"] = "expired"
    return record


def list_proposals(reader: StateReader, height: int | None = None, *, limit: int = 100) -> list[dict[str, Value]]:
    records = []
    for key, _ in reader.iter_prefix(PREFIX_PROPOSAL):
        record = get_proposal(reader, int.from_bytes(key[len(PREFIX_PROPOSAL):], "big"), height)
        if record is not None:
            records.append(record)
    return records[-limit:]


def get_cert_type(reader: StateReader, code: str) -> dict[str, Value] | None:
    raw = reader.get(cert_type_key(code))
    return None if raw is None else dict(decode_state(raw))


def get_material_type(reader: StateReader, code: str) -> dict[str, Value] | None:
    raw = reader.get(material_type_key(code))
    return None if raw is None else dict(decode_state(raw))


def max_document_bytes(reader: StateReader) -> int:
    """The largest ciphertext a document may have now (`docs/config`; the genesis default if unset)."""
    raw = reader.get(DOCS_CONFIG_KEY)
    config = {} if raw is None else dict(decode_state(raw))
    return int(config.get("max_document_bytes", Params().max_document_bytes))


def consensus_limits(reader: StateReader) -> dict[str, int]:
    raw = reader.get(LIMITS_KEY)
    return {} if raw is None else dict(decode_state(raw))


def compute_vote_targets(args: VoteArgs) -> tuple[str, ...]:
    """The entity a vote names: its proposal."""
    return (f"proposal:{args.proposal_id}",)
