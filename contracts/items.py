"""Items (事项): the approval-item catalogue. A department publishes, amends and retires its own items.

An item says what a case against it needs: the implementing department, the required materials (type,
accepted issuing departments, original or copy), the legal and promised time limits in working days, the
certificate type an approval produces and the departments whose opinions a parallel approval collects.
Only an admin of the owner department (the department that published it) may change it.

Every amendment is a new version; earlier versions stay readable, so a case keeps the rules of the
version it was filed under. Retiring an item stops new cases; its versions stay readable.

State layout (item codes never contain "/", see `contracts.args.CODE`):
- `item/<code>` -> {"code", "owner", "department", "status": "active" | "retired", "version",
  "retired_height", "retired_reason"}: the item's current state.
- `item/<code>/v/<version as 4 bytes big-endian>` -> one version's full definition plus "version",
  "published_height", "published_ms", "signer", "tx_id" and "reason" (the amendment's reason, or None).
- `items/index/<code>` -> b"\\xc0": one key per item, for listing. It lives under its own prefix `items/`
  (which `item/` is not a prefix of), so a scan lists each code once and never picks up version records,
  whatever codes are prefixes of others.
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
    want_args_map,
)

PREFIX_ITEM: Final = b"item/"
PREFIX_INDEX: Final = b"items/index/"
KINDS: Final = ("licensing", "non_licensing", "other")
FORMS: Final = ("original", "copy")
STATUS_ACTIVE: Final = "active"
STATUS_RETIRED: Final = "retired"
MAX_MATERIALS: Final = 32
MAX_ISSUERS: Final = 32
MAX_PARALLEL: Final = 16
MAX_CONDITIONS: Final = 16
MAX_LIMIT_DAYS: Final = 3650
MAX_VERSION: Final = 2**32 - 1
INDEX_VALUE: Final = b"\xc0"
EMPTY: Final[tuple[str, ...]] = ()
DEFINITION_FIELDS: Final = frozenset({
    "code", "name", "legal_basis", "department", "kind", "conditions", "materials", "legal_limit_days",
    "promised_limit_days", "cert_type", "parallel_departments",
})
DEFINITION_REQUIRED: Final = frozenset({
    "code", "name", "legal_basis", "kind", "materials", "legal_limit_days", "promised_limit_days",
})


# --- read API ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequiredMaterial:
    """One material an item requires."""

    material_type: str
    issuers: tuple[str, ...]
    """Accepted issuing departments; empty: any department."""
    form: str
    """"original" or "copy"; an item that accepts a copy accepts an original too."""
    optional: bool


@dataclass(frozen=True, slots=True)
class ItemVersion:
    """One version of an item's definition, with the item's status now."""

    code: str
    version: int
    name: str
    legal_basis: str
    owner: str
    department: str
    kind: str
    conditions: tuple[str, ...]
    materials: tuple[RequiredMaterial, ...]
    legal_limit_days: int
    promised_limit_days: int
    cert_type: str | None
    parallel_departments: tuple[str, ...]
    published_height: int
    status: str


def item_key(code: str) -> bytes:
    return PREFIX_ITEM + code.encode()


def version_key(code: str, version: int) -> bytes:
    return PREFIX_ITEM + code.encode() + b"/v/" + version.to_bytes(4, "big")


def index_key(code: str) -> bytes:
    return PREFIX_INDEX + code.encode()


def _decode(reader: StateReader, key: bytes) -> Value | None:
    raw = reader.get(key)
    return None if raw is None else decode_state(raw)


def _item_version(header: dict[str, Value], record: dict[str, Value]) -> ItemVersion:
    return ItemVersion(
        code=record["code"],
        version=record["version"],
        name=record["name"],
        legal_basis=record["legal_basis"],
        owner=record["owner"],
        department=record["department"],
        kind=record["kind"],
        conditions=tuple(record["conditions"]),
        materials=tuple(
            RequiredMaterial(m["material_type"], tuple(m["issuers"]), m["form"], m["optional"])
            for m in record["materials"]
        ),
        legal_limit_days=record["legal_limit_days"],
        promised_limit_days=record["promised_limit_days"],
        cert_type=record["cert_type"],
        parallel_departments=tuple(record["parallel_departments"]),
        published_height=record["published_height"],
        status=header["status"],
    )


def get_item(reader: StateReader, code: str, version: int | None = None) -> ItemVersion | None:
    """The item's version `version` (default: the current one), or None if there is no such item or version."""
    if type(code) is not str or not A.CODE.match(code):
        return None
    header = _decode(reader, item_key(code))
    if header is None:
        return None
    wanted = header["version"] if version is None else version
    if type(wanted) is not int or not 1 <= wanted <= min(header["version"], MAX_VERSION):
        return None
    record = _decode(reader, version_key(code, wanted))
    return None if record is None else _item_version(header, record)


def list_items(reader: StateReader, department: str | None = None) -> list[ItemVersion]:
    """The current version of every item (retired ones too, see `status`), in code order.

    With `department`, only the items that department owns or implements.
    """
    found = []
    for key, _ in reader.iter_prefix(PREFIX_INDEX):
        item = get_item(reader, key[len(PREFIX_INDEX):].decode())
        if item is not None and (department is None or department in (item.owner, item.department)):
            found.append(item)
    return found


def _terms(item: ItemVersion | Definition) -> dict[str, Value]:
    """The terms an item version states, as stored (and shown): conditions, materials, limits, outcome."""
    return {
        "conditions": list(item.conditions),
        "materials": [
            {"material_type": m.material_type, "issuers": list(m.issuers), "form": m.form, "optional": m.optional}
            for m in item.materials
        ],
        "legal_limit_days": item.legal_limit_days,
        "promised_limit_days": item.promised_limit_days,
        "cert_type": item.cert_type,
        "parallel_departments": list(item.parallel_departments),
    }


def item_json(item: ItemVersion) -> dict[str, Any]:
    """The item version as a JSON-friendly map (the API's shape)."""
    return {
        "code": item.code,
        "version": item.version,
        "name": item.name,
        "legal_basis": item.legal_basis,
        "owner": item.owner,
        "department": item.department,
        "kind": item.kind,
        **_terms(item),
        "published_height": item.published_height,
        "status": item.status,
    }


# --- arguments ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Definition:
    """A parsed item definition, as `publish` and `amend` take it."""

    code: str
    name: str
    legal_basis: str
    department: str | None
    """Implementing department; None: the owner."""
    kind: str
    conditions: tuple[str, ...]
    materials: tuple[RequiredMaterial, ...]
    legal_limit_days: int
    promised_limit_days: int
    cert_type: str | None
    parallel_departments: tuple[str, ...]
    reason: str | None


@dataclass(frozen=True, slots=True)
class RetireArgs:
    code: str
    reason: str


def _required_material(value: Value, field: str) -> RequiredMaterial:
    allowed = ("form", "issuers", "material_type", "optional")
    if type(value) is not dict:
        raise A.bad(field, f"{field} must be a map with the fields {', '.join(allowed)}")
    unknown = sorted(str(k) for k in set(value) - set(allowed))
    if unknown:
        raise A.bad(field, f"{field} has unknown field(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    if "material_type" not in value:
        raise A.bad(field, f"{field} is missing material_type")
    f = dict(value)
    issuers = A.optional(
        f, "issuers", lambda v, n: A.items_of(v, f"{field}.issuers", A.department_code, max_items=MAX_ISSUERS), EMPTY
    )
    return RequiredMaterial(
        material_type=A.code(f["material_type"], f"{field}.material_type"),
        issuers=tuple(sorted(issuers)),
        form=A.optional(f, "form", lambda v, n: A.choice(v, f"{field}.form", FORMS), "original"),
        optional=A.optional(f, "optional", lambda v, n: A.boolean(v, f"{field}.optional"), False),
    )


def _definition(args: Value, *, amend: bool) -> Definition:
    allowed = set(DEFINITION_FIELDS) | ({"reason"} if amend else set())
    f = want_args_map(args, allowed, set(DEFINITION_REQUIRED))
    code = A.code(f["code"], "code")
    name = A.text(f["name"], "name")
    legal_basis = A.text(f["legal_basis"], "legal_basis", max_len=A.MAX_LONG_TEXT)
    kind = A.choice(f["kind"], "kind", KINDS)
    materials = A.items_of(f["materials"], "materials", _required_material, max_items=MAX_MATERIALS)
    types = [m.material_type for m in materials]
    twice = sorted({t for t in types if types.count(t) > 1})
    if twice:
        raise A.bad("materials", f"materials lists the material type {', '.join(twice)} more than once")
    legal = A.integer(f["legal_limit_days"], "legal_limit_days", low=1, high=MAX_LIMIT_DAYS)
    promised = A.integer(f["promised_limit_days"], "promised_limit_days", low=1, high=MAX_LIMIT_DAYS)
    if promised > legal:
        raise A.bad("promised_limit_days",
                    f"promised_limit_days ({promised}) must not exceed legal_limit_days ({legal})")
    department = A.optional(f, "department", A.department_code, None)
    parallel = A.optional(
        f, "parallel_departments",
        lambda v, n: A.items_of(v, n, A.department_code, max_items=MAX_PARALLEL), EMPTY,
    )
    if department is not None and department in parallel:
        raise A.bad("parallel_departments",
                    f"parallel_departments must not include the implementing department {department}")
    return Definition(
        code=code,
        name=name,
        legal_basis=legal_basis,
        department=department,
        kind=kind,
        conditions=A.optional(f, "conditions", lambda v, n: A.items_of(v, n, A.text, max_items=MAX_CONDITIONS), EMPTY),
        materials=materials,
        legal_limit_days=legal,
        promised_limit_days=promised,
        cert_type=A.optional(f, "cert_type", A.code, None),
        parallel_departments=tuple(sorted(parallel)),
        reason=A.optional(f, "reason", A.text, None),
    )


def parse_publish(args: Value) -> Definition:
    """Raises ContractError (invalid_arguments) naming the argument at fault."""
    return _definition(args, amend=False)


def parse_amend(args: Value) -> Definition:
    """A full new definition plus an optional `reason`. Raises ContractError (invalid_arguments)."""
    return _definition(args, amend=True)


def parse_retire(args: Value) -> RetireArgs:
    f = want_args_map(args, {"code", "reason"}, {"code", "reason"})
    return RetireArgs(code=A.code(f["code"], "code"), reason=A.text(f["reason"], "reason"))


# --- checks ------------------------------------------------------------------------------------------


def _require_active_department(reader: StateReader, code: str, height: int, field: str) -> None:
    dept = governance.get_department(reader, code)
    if dept is None or not dept.active_at(height):
        raise ContractError("unknown_department", f"{field}: {code} is not an active department", field=field)


def validate_definition(reader: StateReader, definition: Definition, department: str, height: int) -> None:
    """Check a definition against the registries and the roster at `height`; `department` implements it.

    Raises ContractError: unknown_department, unknown_material_type, unknown_cert_type,
    cert_type_not_authorised, invalid_arguments (the implementing department among the parallel ones).
    """
    _require_active_department(reader, department, height, "department")
    if department in definition.parallel_departments:
        raise ContractError(
            "invalid_arguments",
            f"parallel_departments must not include the implementing department {department}",
            field="parallel_departments",
        )
    for code in definition.parallel_departments:
        _require_active_department(reader, code, height, "parallel_departments")
    for i, material in enumerate(definition.materials):
        if proposals.get_material_type(reader, material.material_type) is None:
            raise ContractError(
                "unknown_material_type", f"materials[{i}]: material type {material.material_type!r} is not registered",
                field=f"materials[{i}].material_type",
            )
        for code in material.issuers:
            _require_active_department(reader, code, height, f"materials[{i}].issuers")
    if definition.cert_type is not None:
        cert_type = proposals.get_cert_type(reader, definition.cert_type)
        if cert_type is None:
            raise ContractError("unknown_cert_type", f"certificate type {definition.cert_type!r} is not registered",
                                field="cert_type")
        if department not in cert_type["issuers"]:
            raise ContractError(
                "cert_type_not_authorised",
                f"{department} may not issue certificate type {definition.cert_type!r}; its issuers are "
                f"{', '.join(cert_type['issuers'])}",
                field="cert_type",
            )


def _owned_item(reader: StateReader, code: str, admin: governance.MemberRecord) -> dict[str, Value]:
    header = _decode(reader, item_key(code))
    if header is None:
        raise ContractError("item_not_found", f"no item with code {code!r} is published", field="code")
    if header["owner"] != admin.department:
        raise ContractError(
            "not_owner", f"item {code} is owned by {header['owner']}; {admin.department} may not change it",
            field="code",
        )
    if header["status"] == STATUS_RETIRED:
        raise ContractError(
            "item_retired", f"item {code} was retired at height {header['retired_height']}: {header['retired_reason']}",
            field="code",
        )
    return dict(header)


# --- effects -----------------------------------------------------------------------------------------


def _put_version(overlay: StateOverlay, definition: Definition, owner: str, department: str, version: int,
                 ctx: CallContext) -> None:
    record: dict[str, Value] = {
        "code": definition.code,
        "name": definition.name,
        "legal_basis": definition.legal_basis,
        "owner": owner,
        "department": department,
        "kind": definition.kind,
        **_terms(definition),
        "version": version,
        "published_height": ctx.height,
        "published_ms": ctx.block_time_ms,
        "signer": ctx.signer,
        "tx_id": ctx.tx_id,
        "reason": definition.reason,
    }
    overlay.put_value(version_key(definition.code, version), record)


def _entities(code: str, *departments: str) -> tuple[str, ...]:
    seen = dict.fromkeys(f"department:{d}" for d in departments)
    return (f"item:{code}", *seen)


# --- methods -----------------------------------------------------------------------------------------


def publish(overlay: StateOverlay, args: Definition, ctx: CallContext) -> Outcome:
    """Publish a new item owned by the signer's department.

    Raises ContractError: the roster's errors (role `admin`), item_exists, unknown_department,
    unknown_material_type, unknown_cert_type, cert_type_not_authorised, invalid_arguments.
    """
    # AUTHORISE: an admin; the item belongs to the admin's department.
    admin = governance.require_member(overlay, ctx.signer, ctx.height, ("admin",))
    owner = admin.department
    department = args.department or owner
    # CHECK
    existing = _decode(overlay, item_key(args.code))
    if existing is not None:
        raise ContractError("item_exists", f"item {args.code} is already published by {existing['owner']}",
                            field="code")
    validate_definition(overlay, args, department, ctx.height)
    # EFFECT
    overlay.put_value(item_key(args.code), {
        "code": args.code, "owner": owner, "department": department, "status": STATUS_ACTIVE, "version": 1,
        "retired_height": None, "retired_reason": None,
    })
    _put_version(overlay, args, owner, department, 1, ctx)
    overlay.put(index_key(args.code), INDEX_VALUE)
    # EVENTS
    event = Event(kind="item.published", attributes={
        "code": args.code, "version": 1, "owner": owner, "department": department, "by": ctx.signer,
    })
    return Outcome((event,), _entities(args.code, owner, department))


def amend(overlay: StateOverlay, args: Definition, ctx: CallContext) -> Outcome:
    """Replace an item's definition by a new version; earlier versions stay readable.

    Raises ContractError: the roster's errors (role `admin`), item_not_found, not_owner, item_retired,
    unknown_department, unknown_material_type, unknown_cert_type, cert_type_not_authorised, invalid_arguments.
    """
    # AUTHORISE: an admin of the owner department.
    admin = governance.require_member(overlay, ctx.signer, ctx.height, ("admin",))
    header = _owned_item(overlay, args.code, admin)
    # CHECK
    department = args.department or header["owner"]
    validate_definition(overlay, args, department, ctx.height)
    version = int(header["version"]) + 1
    if version > MAX_VERSION:
        raise ContractError("too_many_versions", f"item {args.code} has reached {MAX_VERSION} versions",
                            field="code")
    # EFFECT
    previous_department = header["department"]
    header.update(version=version, department=department)
    overlay.put_value(item_key(args.code), header)
    _put_version(overlay, args, header["owner"], department, version, ctx)
    # EVENTS
    event = Event(kind="item.amended", attributes={
        "code": args.code, "version": version, "owner": header["owner"], "department": department,
        "by": ctx.signer,
    })
    return Outcome((event,), _entities(args.code, header["owner"], previous_department, department))


def retire(overlay: StateOverlay, args: RetireArgs, ctx: CallContext) -> Outcome:
    """Retire an item: no new cases; its versions stay readable.

    Raises ContractError: the roster's errors (role `admin`), item_not_found, not_owner, item_retired.
    """
    # AUTHORISE: an admin of the owner department.
    admin = governance.require_member(overlay, ctx.signer, ctx.height, ("admin",))
    # CHECK
    header = _owned_item(overlay, args.code, admin)
    # EFFECT
    header.update(status=STATUS_RETIRED, retired_height=ctx.height, retired_reason=args.reason)
    overlay.put_value(item_key(args.code), header)
    # EVENTS
    event = Event(kind="item.retired", attributes={
        "code": args.code, "version": header["version"], "reason": args.reason, "by": ctx.signer,
    })
    return Outcome((event,), _entities(args.code, header["owner"], header["department"]))


def compute_item_targets(args: Definition | RetireArgs) -> tuple[str, ...]:
    """The entity an items call names: the item."""
    return (f"item:{args.code}",)


_EXAMPLE: Final[dict[str, Any]] = {
    "code": "SAMR-001",
    "name": "Business licence for a sole proprietor",
    "legal_basis": "Regulation on Individual Industrial and Commercial Households, art. 8",
    "department": "SAMR",
    "kind": "licensing",
    "conditions": ["applicant is an adult resident"],
    "materials": [
        {"material_type": "id_card", "issuers": ["PSB"], "form": "original", "optional": False},
        {"material_type": "lease", "issuers": [], "form": "copy", "optional": True},
    ],
    "legal_limit_days": 15,
    "promised_limit_days": 5,
    "cert_type": "business_licence",
    "parallel_departments": ["TAX"],
}

METHODS: Final[dict[str, Method]] = {
    "publish": Method(
        parse=parse_publish, handler=publish, targets=compute_item_targets,
        description="A department admin publishes a new approval item owned by the department.",
        example=_EXAMPLE,
    ),
    "amend": Method(
        parse=parse_amend, handler=amend, targets=compute_item_targets,
        description="The owner department's admin publishes a new version of an item (a full definition); "
                    "cases keep the version they were filed under.",
        example={**_EXAMPLE, "promised_limit_days": 3, "reason": "faster processing"},
    ),
    "retire": Method(
        parse=parse_retire, handler=retire, targets=compute_item_targets,
        description="The owner department's admin retires an item; no new cases may be filed against it.",
        example={"code": "SAMR-001", "reason": "merged into SAMR-002"},
    ),
}
