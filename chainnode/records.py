"""Read the contracts' records at the head or as of any past height, for the API and the CLI.

A query names a height (default: the head). `View` is a StateReader of the state after that block plus the
block's time, read from the state history column (`Store.value_at`), so one answer never mixes two heights.
Listing a prefix walks today's keys under the prefix and reads each one's value at that height: the
contracts never delete index keys (they update their values), so the keys that existed then are a subset
of today's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chainnode import crypto
from chainnode.blob_transfer import get_max_document_bytes
from chainnode.errors import InvalidField, NotFound
from chainnode.periods import Period, get_period, validate_dates
from chainnode.results import jsonable
from contracts import calendar, case_queries, cases, certificates, governance, items, materials, proposals

if TYPE_CHECKING:
    from chainnode.reader import Reader
    from chainnode.store import StoreView


@dataclass(frozen=True, slots=True)
class View:
    """The state after block `height`, and that block's time, read from the state history.

    History rows are never rewritten, so a query sees exactly the state of its height even while blocks
    commit, and never holds up a commit however long it runs.
    """

    store: StoreView
    height: int
    time_ms: int

    def get(self, key: bytes) -> bytes | None:
        return self.store.value_at(key, self.height)

    def iter_prefix(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        for key, _ in list(self.store.iter_prefix(prefix)):
            value = self.store.value_at(key, self.height)
            if value is not None:
                yield key, value

    def calendar(self) -> calendar.Calendar:
        return calendar.Calendar(self, governance.utc_offset_minutes(self))


def view(reader: Reader, height: int | None = None) -> View:
    """The view at `height` (default: the published head). Raises NotFound for a height not yet committed."""
    head = reader.head_height()
    at = head if height is None else height
    if not 0 <= at <= head:
        raise NotFound(f"height {at} is not between 0 and the head {head}", field="height")
    header = reader.store.get_header(at) if at > 0 else None
    return View(reader.store, at, reader.genesis.genesis_time_ms if header is None else header.time_ms)


def envelope(v: View, **fields: Any) -> dict[str, Any]:
    """Every answer says which height and block time it describes."""
    return {"height": v.height, "time_ms": v.time_ms, **fields}


# --- governance ---------------------------------------------------------------------------------------


def department_json(d: governance.DepartmentRecord, height: int, encryption_key: bytes | None = None,
                    key_periods: list[tuple[int, bytes]] | None = None) -> dict[str, Any]:
    """The department as JSON, with its encryption key in force at `height` and that key's fingerprint, and
    every key period (`[from_height, key hex]`, a scheduled rotation included), so a client sealing a
    document for the next block can pick the key in force then."""
    return {
        "code": d.code,
        "name": d.name,
        "node_key": d.node_key.hex(),
        "power": d.power,
        "admitted_height": d.admitted_height,
        "removed_height": d.removed_height,
        "active": d.active_at(height),
        "encryption_key": None if encryption_key is None else encryption_key.hex(),
        "encryption_key_fingerprint": None if encryption_key is None else
        crypto.compute_key_fingerprint(encryption_key).hex(),
        "encryption_key_periods": [[start, key.hex()] for start, key in key_periods or []],
    }


def list_departments(v: View) -> dict[str, Any]:
    return envelope(v, departments=[
        department_json(d, v.height, governance.encryption_key_at(v, d.code, v.height),
                        governance.encryption_key_periods(v, d.code))
        for d in governance.departments(v)
    ])


def member(v: View, public_key: bytes) -> dict[str, Any]:
    record = governance.member_record(v, public_key)
    if record is None:
        raise NotFound(f"no member is registered with key {public_key.hex()} at height {v.height}",
                       field="public_key")
    now = governance.member_at(v, public_key, v.height)
    upcoming = [{"from_height": p[0], "roles": list(p[1])} for p in record["periods"] if p[0] > v.height]
    return envelope(
        v,
        member=jsonable(record),
        active=now is not None,
        roles=[] if now is None else list(now.roles),
        scheduled=upcoming,
        note="a change takes effect from its from_height: the key signs with the roles in force at each height",
    )


def roster(v: View, department: str) -> dict[str, Any]:
    if governance.get_department(v, department) is None:
        raise NotFound(f"there is no department {department}", field="department")
    members = [
        {"public_key": m.public_key.hex(), "name": m.name, "roles": list(m.roles)}
        for m in governance.roster(v, department, v.height)
    ]
    return envelope(v, department=department, members=members)


def proposal(v: View, proposal_id: int) -> dict[str, Any]:
    record = proposals.get_proposal(v, proposal_id, v.height)
    if record is None:
        raise NotFound(f"there is no proposal {proposal_id} at height {v.height}", field="proposal_id")
    return envelope(v, proposal=jsonable(record))


def list_proposals(v: View, limit: int) -> dict[str, Any]:
    return envelope(v, proposals=[jsonable(p) for p in proposals.list_proposals(v, v.height, limit=limit)])


def registries(v: View) -> dict[str, Any]:
    cert_types = [jsonable(proposals.get_cert_type(v, key[len(proposals.PREFIX_CERT_TYPE):].decode()))
                  for key, _ in v.iter_prefix(proposals.PREFIX_CERT_TYPE)]
    material_types = [
        jsonable(proposals.get_material_type(v, key[len(proposals.PREFIX_MATERIAL_TYPE):].decode()))
        for key, _ in v.iter_prefix(proposals.PREFIX_MATERIAL_TYPE)
    ]
    years = [int(key[len(calendar.PREFIX_CALENDAR):]) for key, _ in v.iter_prefix(calendar.PREFIX_CALENDAR)]
    return envelope(
        v,
        cert_types=cert_types,
        material_types=material_types,
        calendar_years=sorted(years),
        consensus_limits=proposals.consensus_limits(v),
        documents={"max_document_bytes": get_max_document_bytes(v)},
        utc_offset_minutes=governance.utc_offset_minutes(v),
    )


def calendar_year(v: View, year: int) -> dict[str, Any]:
    cal = v.calendar()
    published = cal.year(year)
    return envelope(
        v,
        year=year,
        published=published is not None,
        holidays=[] if published is None else sorted(calendar.format_date(d) for d in published.holidays),
        workdays=[] if published is None else sorted(calendar.format_date(d) for d in published.workdays),
    )


# --- the catalogue, materials, cases and certificates ---------------------------------------------------


def item(v: View, code: str, version: int | None) -> dict[str, Any]:
    found = items.get_item(v, code, version)
    if found is None:
        what = f"item {code}" + ("" if version is None else f" version {version}")
        raise NotFound(f"there is no {what} at height {v.height}", field="code")
    return envelope(v, item=items.item_json(found))


def list_items(v: View, department: str | None) -> dict[str, Any]:
    return envelope(v, items=[items.item_json(i) for i in items.list_items(v, department)])


def material(v: View, material_id: str) -> dict[str, Any]:
    found = materials.get_material(v, material_id)
    if found is None:
        raise NotFound(f"there is no material {material_id} at height {v.height}", field="material_id")
    return envelope(v, material=materials.material_json(found))


def holder_records(v: View, holder_ref: bytes) -> dict[str, Any]:
    """Everything on chain about one holder reference: materials, cases and certificates."""
    cal = v.calendar()
    return envelope(
        v,
        holder_ref=holder_ref.hex(),
        materials=[materials.material_json(m) for m in materials.materials_of_holder(v, holder_ref)],
        cases=[cases.case_json(c, now_ms=v.time_ms, calendar=cal) for c in cases.cases_of_holder(v, holder_ref)],
        certificates=[certificates.certificate_json(c, v.time_ms)
                      for c in certificates.certificates_of_holder(v, holder_ref)],
    )


def case(v: View, case_id: str) -> dict[str, Any]:
    found = cases.get_case(v, case_id)
    if found is None:
        raise NotFound(f"there is no case {case_id} at height {v.height}", field="case_id")
    cal = v.calendar()
    return envelope(v, case=cases.case_json(found, now_ms=v.time_ms, calendar=cal),
                    time_spent=cases.time_spent(found, cal))


def _require_department(v: View, department: str) -> None:
    """Raises NotFound naming a department that does not exist at the view's height, so that a mistyped
    code is an error rather than an empty list or a report of zeros. A department that has since left the
    alliance keeps its record and its cases, so it is found."""
    if governance.get_department(v, department) is None:
        raise NotFound(f"there is no department {department} at height {v.height}", field="department")


def list_cases(v: View, department: str, status: str | None, limit: int) -> dict[str, Any]:
    """Raises NotFound for an unknown department."""
    _require_department(v, department)
    cal = v.calendar()
    found = cases.cases_by_department(v, department, status=status, up_to_height=v.height, limit=limit)
    return envelope(v, department=department, status=status,
                    cases=[cases.case_json(c, now_ms=v.time_ms, calendar=cal) for c in found])


def supervision(v: View, department: str, within_days: int, from_height: int = 0, *,
                per_officer: bool = False, period: Period | None = None) -> dict[str, Any]:
    """Deadline supervision of the cases filed from `from_height` to the view's height, or in `period` (the
    view is then at the period's last block, or at height 0 for a period before the first block).

    With `per_officer`, adds "time_per_step" and "officers" (`cases.supervision_breakdown`). Raises NotFound
    for an unknown department; InvalidField for a period that ends before it starts."""
    _require_department(v, department)
    if period is not None:
        from_height = period.from_height
    elif from_height > v.height:
        raise InvalidField(f"from_height {from_height} is after the height {v.height} the answer is for",
                           field="from_height")
    cal = v.calendar()
    report = cases.supervision(v, department, now_ms=v.time_ms, within_days=within_days, calendar=cal,
                               up_to_height=v.height, from_height=from_height)
    if per_officer:
        report.update(case_queries.supervision_breakdown(v, department, now_ms=v.time_ms, calendar=cal,
                                                  up_to_height=v.height, from_height=from_height))
    dates = {} if period is None else {"from_date": period.from_date, "to_date": period.to_date,
                                       "to_height": period.to_height}
    return envelope(v, department=department, within_days=within_days, from_height=from_height, **dates, **report)


def supervision_of_dates(reader: Reader, department: str, within_days: int, from_date: int | None,
                         to_date: int | None, *, per_officer: bool = False) -> dict[str, Any]:
    """Supervision over the cases filed in a period of civil dates (chainnode.periods gives the rule), as
    of the period's last block. Raises NotFound for an unknown department (at the head), InvalidField
    (field to_date) for a period that ends before it starts."""
    validate_dates(from_date, to_date)
    _require_department(view(reader), department)
    period = get_period(reader, governance.utc_offset_minutes(view(reader)), from_date, to_date)
    return supervision(view(reader, max(period.to_height, 0)), department, within_days, per_officer=per_officer,
                       period=period)


def certificate(v: View, cert_id: str, version: int | None) -> dict[str, Any]:
    """The certificate (or one of its versions) as of the view's height. Raises NotFound.

    The status is always the certificate's: a superseded version is revoked, suspended or expired with the
    certificate, whatever its own snapshot says (`certificates.certificate_version_json`)."""
    current = certificates.get_certificate(v, cert_id)
    found = current if version is None else certificates.get_certificate_version(v, cert_id, version)
    if current is None or found is None:
        what = f"certificate {cert_id}" + ("" if version is None else f" version {version}")
        raise NotFound(f"there is no {what} at height {v.height}", field="cert_id")
    history = certificates.get_certificate_history(v, cert_id, current["actions"])
    return envelope(v, certificate=certificates.certificate_version_json(found, current, v.time_ms, history))


def certificate_proof_keys(v: View, cert_id: str, content_hash: bytes | None = None) -> list[bytes]:
    """The state keys a certificate check proves (docs/proofs.md, "A certificate"): the record; its issuing
    officer's roster record; and, when `content_hash` is an older version's content, that version's record.
    Only the record's key when there is no such certificate."""
    record = certificates.get_certificate(v, cert_id)
    keys = [certificates.cert_key(cert_id)]
    if record is None:
        return keys
    keys.append(governance.member_key(record["issuer_officer"]))
    if content_hash is not None and content_hash != record["content_hash"]:
        older = next((n for n in range(record["version"] - 1, 0, -1)
                      if (certificates.get_certificate_version(v, cert_id, n) or {}).get("content_hash")
                      == content_hash), None)
        if older is not None:
            keys.append(certificates.version_key(cert_id, older))
    return keys
