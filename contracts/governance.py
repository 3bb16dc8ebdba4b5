"""Governance: the departments of the alliance and their members (staff keys with roles), as of any height.

A member record keeps every change of the key's roles as a period `[from_height, roles]`, in order; the
roles in force at height H are those of the last period with `from_height <= H`, and an empty role list
means the key is revoked. So the roster of any past height is read from the current record, and a
signature made years ago is checked against the roster of its time (`member_at`).

Department admins register, re-role, rotate and revoke their own department's keys; every change names
an effective height (default: the next height). Departments come from genesis and from proposals
(`contracts.proposals`); a removed department keeps its record with `removed_height`, and its keys stop
signing from that height on while what they signed before stays checkable.

A department's X25519 encryption key (for official documents, docs/documents.md) is kept the same way,
in periods by height under `gov/enckey/<code>` -> {"department", "periods": [[from_height, public_key]]}:
from genesis (`departments[i].encryption_key`), from an `add_department` proposal, and by rotation
(`set_encryption_key`, signed by an admin of the department). Old periods are never removed, so a
document stays openable by the key it was sealed to and a verifier can tell which key was current.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Final

from chainnode import crypto
from chainnode.codec import Value
from chainnode.genesis import KNOWN_ROLES, Genesis
from chainnode.results import Event
from contracts import args as A
from contracts.base import CallContext, ContractError, Outcome, StateOverlay, StateReader, decode_state, want_args_map

PREFIX_DEPARTMENT: Final = b"gov/department/"
PREFIX_MEMBER: Final = b"gov/member/"
PREFIX_ROSTER: Final = b"gov/roster/"
PREFIX_ENCRYPTION_KEY: Final = b"gov/enckey/"
CONFIG_KEY: Final = b"gov/config"
PREFIX_TEST_SKIP_ROLE: Final = b"consensus/test_hooks/skip_role/"
"""Test hook: a key under this prefix signs as if it held every role. Written at genesis only, and only by a
genesis that enables test hooks (`Genesis.skip_role_check`)."""
PREFIX_TEST_SKIP_DEPARTMENT: Final = b"consensus/test_hooks/skip_department/"
"""Test hook: a key under this prefix acts as if its department were authorised for whatever it signs (a
certificate type, another department's case or certificate). Written at genesis only, and only by a genesis
that enables test hooks (`Genesis.skip_department_check`)."""
ROLE_NODE: Final = "node"
STAFF_ROLES: Final = tuple(sorted(KNOWN_ROLES))
MAX_PERIODS: Final = 64
MAX_EFFECTIVE_DELAY: Final = 1_000_000
"""How far ahead (in heights) a change may be scheduled."""


@dataclass(frozen=True, slots=True)
class MemberRecord:
    """A key's registration as of one height."""

    public_key: bytes
    department: str
    roles: tuple[str, ...]
    name: str


@dataclass(frozen=True, slots=True)
class DepartmentRecord:
    code: str
    name: str
    node_key: bytes
    power: int
    admitted_height: int
    removed_height: int | None

    def active_at(self, height: int) -> bool:
        return self.admitted_height <= height and (self.removed_height is None or height < self.removed_height)


def department_key(code: str) -> bytes:
    return PREFIX_DEPARTMENT + code.encode()


def member_key(public_key: bytes) -> bytes:
    return PREFIX_MEMBER + public_key


def roster_key(department: str, public_key: bytes) -> bytes:
    return PREFIX_ROSTER + department.encode() + b"/" + public_key


def encryption_key_key(code: str) -> bytes:
    return PREFIX_ENCRYPTION_KEY + code.encode()


def _decode(reader: StateReader, key: bytes) -> Value | None:
    raw = reader.get(key)
    return None if raw is None else decode_state(raw)


@functools.lru_cache(maxsize=8192)
def _decode_shared(raw: bytes) -> Value:
    """`decode_state`, remembered by the bytes: for the roster lookups every call makes, which only read the
    value and hand out nothing of it but strings, numbers and tuples. Never give its value to a caller that
    could change it."""
    return decode_state(raw)


def _read_only(reader: StateReader, key: bytes) -> Value | None:
    raw = reader.get(key)
    return None if raw is None else _decode_shared(raw)


# --- genesis -----------------------------------------------------------------------------------------


def new_member(public_key: bytes, department: str, name: str, roles: list[str], from_height: int) -> dict[str, Value]:
    return {
        "public_key": public_key,
        "department": department,
        "name": name,
        "periods": [[from_height, sorted(roles)]],
        "rotated_from": None,
        "rotated_to": None,
        "revoked_reason": None,
    }


def put_department(
    overlay: StateOverlay, *, code: str, name: str, node_key: bytes, power: int, address: str, height: int
) -> None:
    overlay.put_value(
        department_key(code),
        {
            "code": code,
            "name": name,
            "node_key": node_key,
            "power": power,
            "address": address,
            "admitted_height": height,
            "removed_height": None,
        },
    )
    put_member(overlay, new_member(node_key, code, f"{code} node", [ROLE_NODE], height))


def put_member(overlay: StateOverlay, record: dict[str, Value]) -> None:
    overlay.put_value(member_key(record["public_key"]), record)
    overlay.put(roster_key(record["department"], record["public_key"]), b"\xc0")


def apply_genesis(overlay: StateOverlay, genesis: Genesis) -> None:
    from contracts.validators import TEST_HOOKS_KEY

    if genesis.params.test_hooks:
        overlay.put_value(TEST_HOOKS_KEY, 1)
        for key in genesis.skip_role_check:
            overlay.put_value(PREFIX_TEST_SKIP_ROLE + key, 1)
        for key in genesis.skip_department_check:
            overlay.put_value(PREFIX_TEST_SKIP_DEPARTMENT + key, 1)
    overlay.put_value(
        CONFIG_KEY,
        {
            "utc_offset_minutes": genesis.params.utc_offset_minutes,
            "thresholds": {kind: list(pair) for kind, pair in sorted(genesis.governance.thresholds.items())},
        },
    )
    for dept in genesis.departments:
        put_department(
            overlay, code=dept.code, name=dept.name, node_key=dept.node_key, power=dept.power,
            address=dept.address, height=0,
        )
        for member in dept.members:
            put_member(overlay, new_member(member.public_key, dept.code, member.name, list(member.roles), 0))
        if dept.encryption_key is not None:
            put_encryption_key(overlay, dept.code, dept.encryption_key, 0)


def put_encryption_key(overlay: StateOverlay, department: str, public_key: bytes, from_height: int) -> None:
    """Start a period of the department's encryption key at `from_height` (replacing one starting there).

    Raises ContractError: change_pending (a period starts after `from_height`), too_many_changes.
    """
    record = _decode(overlay, encryption_key_key(department))
    periods = [] if record is None else [list(p) for p in record["periods"]]
    if periods and from_height < periods[-1][0]:
        raise ContractError(
            "change_pending",
            f"a key change of {department} takes effect at height {periods[-1][0]}; a new one cannot take effect "
            "before it",
            field="effective_height",
        )
    if periods and from_height == periods[-1][0]:
        periods[-1] = [from_height, public_key]
    else:
        if len(periods) >= MAX_PERIODS:
            raise ContractError("too_many_changes", f"a department keeps at most {MAX_PERIODS} encryption keys")
        periods.append([from_height, public_key])
    overlay.put_value(encryption_key_key(department), {"department": department, "periods": periods})


# --- lookups -----------------------------------------------------------------------------------------


def get_department(reader: StateReader, code: str) -> DepartmentRecord | None:
    value = _read_only(reader, department_key(code))
    if value is None:
        return None
    return DepartmentRecord(
        code=value["code"], name=value["name"], node_key=value["node_key"], power=value["power"],
        admitted_height=value["admitted_height"], removed_height=value["removed_height"],
    )


def departments(reader: StateReader) -> list[DepartmentRecord]:
    codes = [key[len(PREFIX_DEPARTMENT):].decode() for key, _ in reader.iter_prefix(PREFIX_DEPARTMENT)]
    return [d for d in (get_department(reader, c) for c in codes) if d is not None]


def active_departments(reader: StateReader, height: int) -> list[DepartmentRecord]:
    return [d for d in departments(reader) if d.active_at(height)]


def encryption_key_periods(reader: StateReader, department: str) -> list[tuple[int, bytes]]:
    """Every period of the department's encryption key, `(from_height, public_key)` in order; [] if none."""
    record = _decode(reader, encryption_key_key(department))
    return [] if record is None else [(int(h), bytes(k)) for h, k in record["periods"]]


def encryption_key_at(reader: StateReader, department: str, height: int) -> bytes | None:
    """The department's encryption public key in force at `height`: that of the last period with
    `from_height <= height`; None before the first period (or if it never had one)."""
    current = None
    for from_height, public_key in encryption_key_periods(reader, department):
        if from_height > height:
            break
        current = public_key
    return current


def utc_offset_minutes(reader: StateReader) -> int:
    config = _decode(reader, CONFIG_KEY)
    return 0 if config is None else int(config["utc_offset_minutes"])


def roles_at(periods: list[list[Value]], height: int) -> tuple[str, ...] | None:
    """The roles in force at `height`, or None before the first period."""
    current = None
    for from_height, roles in periods:
        if from_height > height:
            break
        current = tuple(roles)
    return current


def member_record(reader: StateReader, public_key: bytes) -> dict[str, Value] | None:
    value = _decode(reader, member_key(public_key))
    return None if value is None else dict(value)


def member_at(reader: StateReader, public_key: bytes, height: int) -> MemberRecord | None:
    """The key's department and roles at `height`; None if it was not registered then (or is revoked)."""
    value = _decode(reader, member_key(public_key))
    if value is None:
        return None
    roles = roles_at(value["periods"], height)
    if not roles:
        return None
    department = get_department(reader, value["department"])
    if department is None or not department.active_at(height):
        return None
    return MemberRecord(public_key=public_key, department=value["department"], roles=roles, name=value["name"])


def require_member(
    reader: StateReader, signer: bytes, height: int, roles: tuple[str, ...] = (), department: str | None = None
) -> MemberRecord:
    """The signer's registration at `height`, holding one of `roles` (any role if empty), in `department`.

    Raises ContractError: not_a_member, key_not_yet_effective, key_revoked, department_removed,
    role_required or wrong_department, each naming what the roster says.
    """
    value = _read_only(reader, member_key(signer))
    if value is None:
        raise ContractError("not_a_member", "the signing key is not registered to any department", field="signer")
    held = roles_at(value["periods"], height)
    if held is None:
        raise ContractError(
            "key_not_yet_effective",
            f"the signing key is registered to {value['department']} from height {value['periods'][0][0]}, "
            f"not at height {height}",
            field="signer",
        )
    if not held:
        reason = f" ({value['revoked_reason']})" if value["revoked_reason"] else ""
        raise ContractError("key_revoked", f"the signing key of {value['department']} is revoked{reason}",
                            field="signer")
    dept = get_department(reader, value["department"])
    if dept is None or not dept.active_at(height):
        raise ContractError(
            "department_removed", f"department {value['department']} is no longer a member of the alliance",
            field="signer",
        )
    if roles and not set(roles) & set(held) and reader.get(PREFIX_TEST_SKIP_ROLE + signer) is None:
        raise ContractError(
            "role_required",
            f"this needs the role {' or '.join(roles)}; the signer ({value['name']}, {value['department']}) "
            f"holds {', '.join(held)}",
            field="signer",
        )
    if department is not None and value["department"] != department \
            and not is_department_check_skipped(reader, signer):
        raise ContractError(
            "wrong_department",
            f"this is for department {department}; the signer belongs to {value['department']}",
            field="signer",
        )
    return MemberRecord(public_key=signer, department=value["department"], roles=held, name=value["name"])


def is_department_check_skipped(reader: StateReader, signer: bytes) -> bool:
    """Whether the genesis test hook (`PREFIX_TEST_SKIP_DEPARTMENT`) exempts `signer` from department checks;
    always False on a network whose genesis does not enable test hooks."""
    return reader.get(PREFIX_TEST_SKIP_DEPARTMENT + signer) is not None


def roster(reader: StateReader, department: str, height: int) -> list[MemberRecord]:
    """Every key of `department` that held a role at `height`, in key order."""
    prefix = PREFIX_ROSTER + department.encode() + b"/"
    members = []
    for key, _ in reader.iter_prefix(prefix):
        member = member_at(reader, key[len(prefix):], height)
        if member is not None:
            members.append(member)
    return members


def is_node_key(reader: StateReader, public_key: bytes, height: int) -> bool:
    member = member_at(reader, public_key, height)
    return member is not None and ROLE_NODE in member.roles


# --- member management (by a department admin, for the admin's own department) -------------------------


@dataclass(frozen=True, slots=True)
class MemberArgs:
    public_key: bytes
    name: str
    roles: tuple[str, ...]
    new_public_key: bytes | None
    reason: str
    effective_height: int | None


def _roles(value: Value, field: str) -> tuple[str, ...]:
    roles = A.items_of(value, field, lambda v, f: A.choice(v, f, STAFF_ROLES), max_items=len(STAFF_ROLES),
                       min_items=1)
    return tuple(sorted(roles))


def _member_args(args: Value, allowed: set[str], required: set[str]) -> MemberArgs:
    fields = want_args_map(args, allowed | {"effective_height"}, required)
    for name in sorted(required):
        if fields[name] is None:
            raise A.bad(name, f"{name} is required and cannot be null")
    return MemberArgs(
        public_key=A.bytes32(fields["public_key"], "public_key"),
        name=A.optional(fields, "name", A.text, ""),
        roles=A.optional(fields, "roles", _roles, ()),
        new_public_key=A.optional(fields, "new_public_key", A.bytes32, None),
        reason=A.optional(fields, "reason", A.text, ""),
        effective_height=A.optional(fields, "effective_height", A.integer, None),
    )


def parse_register(args: Value) -> MemberArgs:
    return _member_args(args, {"public_key", "name", "roles"}, {"public_key", "name", "roles"})


def parse_set_roles(args: Value) -> MemberArgs:
    return _member_args(args, {"public_key", "roles"}, {"public_key", "roles"})


def parse_rotate(args: Value) -> MemberArgs:
    parsed = _member_args(args, {"public_key", "new_public_key", "reason"}, {"public_key", "new_public_key"})
    if parsed.new_public_key == parsed.public_key:
        raise A.bad("new_public_key", "new_public_key must differ from public_key")
    return parsed


def parse_revoke(args: Value) -> MemberArgs:
    return _member_args(args, {"public_key", "reason"}, {"public_key", "reason"})


def _effective(args: MemberArgs, ctx: CallContext) -> int:
    return _effective_height(args.effective_height, ctx)


def _effective_height(effective_height: int | None, ctx: CallContext) -> int:
    """The height a change takes effect: the next one by default. Raises invalid_effective_height."""
    if effective_height is None:
        return ctx.height + 1
    if not ctx.height < effective_height <= ctx.height + MAX_EFFECTIVE_DELAY:
        raise ContractError(
            "invalid_effective_height",
            f"effective_height must be after the current height {ctx.height} and at most "
            f"{MAX_EFFECTIVE_DELAY} heights ahead",
            field="effective_height",
        )
    return effective_height


def _own_member(overlay: StateOverlay, admin: MemberRecord, public_key: bytes) -> dict[str, Value]:
    record = member_record(overlay, public_key)
    if record is None:
        raise ContractError("member_not_found", "no member is registered with this key", field="public_key")
    if record["department"] != admin.department:
        raise ContractError(
            "wrong_department", f"the key belongs to {record['department']}, not to {admin.department}",
            field="public_key",
        )
    if ROLE_NODE in record["periods"][-1][1]:
        raise ContractError("node_key", "a department's node key changes only by proposal", field="public_key")
    return record


def _add_period(record: dict[str, Value], effective: int, roles: list[str]) -> None:
    periods = [list(p) for p in record["periods"]]
    if effective < periods[-1][0]:
        raise ContractError(
            "change_pending",
            f"a change of this key takes effect at height {periods[-1][0]}; a new one cannot take effect before it",
            field="effective_height",
        )
    if effective == periods[-1][0]:
        periods[-1] = [effective, roles]
    else:
        if len(periods) >= MAX_PERIODS:
            raise ContractError("too_many_changes", f"a key keeps at most {MAX_PERIODS} role changes")
        periods.append([effective, roles])
    record["periods"] = periods


def _member_event(kind: str, record: dict[str, Value], effective: int, signer: MemberRecord) -> Outcome:
    event = Event(
        kind=kind,
        attributes={
            "public_key": record["public_key"],
            "department": record["department"],
            "roles": list(record["periods"][-1][1]),
            "effective_height": effective,
            "by": signer.public_key,
        },
    )
    return Outcome((event,), (f"member:{record['public_key'].hex()}", f"department:{record['department']}"))


def register_member(overlay: StateOverlay, args: MemberArgs, ctx: CallContext) -> Outcome:
    admin = require_member(overlay, ctx.signer, ctx.height, ("admin",))
    effective = _effective(args, ctx)
    existing = member_record(overlay, args.public_key)
    if existing is not None:
        raise ContractError(
            "member_exists", f"this key is already registered to {existing['department']} as {existing['name']}",
            field="public_key",
        )
    record = new_member(args.public_key, admin.department, args.name, list(args.roles), effective)
    put_member(overlay, record)
    return _member_event("member.registered", record, effective, admin)


def set_roles(overlay: StateOverlay, args: MemberArgs, ctx: CallContext) -> Outcome:
    admin = require_member(overlay, ctx.signer, ctx.height, ("admin",))
    effective = _effective(args, ctx)
    record = _own_member(overlay, admin, args.public_key)
    if not record["periods"][-1][1]:
        raise ContractError("key_revoked", "a revoked key cannot be given roles again", field="public_key")
    _add_period(record, effective, list(args.roles))
    put_member(overlay, record)
    return _member_event("member.roles_changed", record, effective, admin)


def rotate_key(overlay: StateOverlay, args: MemberArgs, ctx: CallContext) -> Outcome:
    admin = require_member(overlay, ctx.signer, ctx.height, ("admin",))
    effective = _effective(args, ctx)
    record = _own_member(overlay, admin, args.public_key)
    roles = list(record["periods"][-1][1])
    if not roles:
        raise ContractError("key_revoked", "a revoked key cannot be rotated", field="public_key")
    assert args.new_public_key is not None
    if member_record(overlay, args.new_public_key) is not None:
        raise ContractError("member_exists", "the new key is already registered", field="new_public_key")
    _add_period(record, effective, [])
    record["rotated_to"] = args.new_public_key
    record["revoked_reason"] = args.reason or "rotated"
    successor = new_member(args.new_public_key, admin.department, record["name"], roles, effective)
    successor["rotated_from"] = args.public_key
    put_member(overlay, record)
    put_member(overlay, successor)
    outcome = _member_event("member.rotated", successor, effective, admin)
    return Outcome(outcome.events, (*outcome.entities, f"member:{args.public_key.hex()}"))


def revoke_member(overlay: StateOverlay, args: MemberArgs, ctx: CallContext) -> Outcome:
    admin = require_member(overlay, ctx.signer, ctx.height, ("admin",))
    effective = _effective(args, ctx)
    record = _own_member(overlay, admin, args.public_key)
    if not record["periods"][-1][1]:
        raise ContractError("key_revoked", "this key is already revoked", field="public_key")
    _add_period(record, effective, [])
    record["revoked_reason"] = args.reason
    put_member(overlay, record)
    return _member_event("member.revoked", record, effective, admin)


# --- the department's encryption key (by a department admin, for the admin's own department) ----------


@dataclass(frozen=True, slots=True)
class EncryptionKeyArgs:
    public_key: bytes
    effective_height: int | None


def parse_set_encryption_key(args: Value) -> EncryptionKeyArgs:
    fields = want_args_map(args, {"public_key", "effective_height"}, {"public_key"})
    return EncryptionKeyArgs(
        public_key=A.encryption_key(fields["public_key"], "public_key"),
        effective_height=A.optional(fields, "effective_height", A.integer, None),
    )


def set_encryption_key(overlay: StateOverlay, args: EncryptionKeyArgs, ctx: CallContext) -> Outcome:
    """Start a new period of the signer's department's encryption key (default: from the next height).

    A change at the same height as a pending one replaces it. Raises ContractError: the roster's errors
    (role admin), invalid_effective_height, same_key (the key in force, or pending, is this one),
    change_pending, too_many_changes.
    """
    # AUTHORISE: an admin, for the admin's own department.
    admin = require_member(overlay, ctx.signer, ctx.height, ("admin",))
    effective = _effective_height(args.effective_height, ctx)
    # CHECK
    periods = encryption_key_periods(overlay, admin.department)
    in_force = encryption_key_at(overlay, admin.department, ctx.height)
    if args.public_key == in_force or (periods and periods[-1][1] == args.public_key):
        when = "in force" if args.public_key == in_force else f"pending from height {periods[-1][0]}"
        raise ContractError("same_key", f"this key is already the encryption key of {admin.department} ({when})",
                            field="public_key")
    # EFFECT
    put_encryption_key(overlay, admin.department, args.public_key, effective)
    # EVENTS
    event = Event(kind="department.encryption_key_set", attributes={
        "department": admin.department, "public_key": args.public_key,
        "fingerprint": crypto.compute_key_fingerprint(args.public_key), "effective_height": effective,
        "by": admin.public_key,
    })
    return Outcome((event,), (f"department:{admin.department}", f"member:{admin.public_key.hex()}"))


def compute_member_targets(args: MemberArgs) -> tuple[str, ...]:
    """The entities a member call names: the key, and the new key of a rotation."""
    keys = (args.public_key,) if args.new_public_key is None else (args.public_key, args.new_public_key)
    return tuple(f"member:{key.hex()}" for key in keys)
