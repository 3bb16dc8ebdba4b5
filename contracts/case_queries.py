"""Cases (办件), read side: the state layout of case records and their indexes, the queries over them, and
the materials check a filing runs (which a client may also run to see whether a filing would be accepted).

The `cases` contract (`contracts.cases`) writes these keys; everything here is pure: it takes a
StateReader (of the head, or of a past height) and a block time, and never writes. Listing at a past
height works because no index key is ever deleted: a historical reader walks today's index keys and reads
each one's value at that height, skipping keys filed after it (`up_to_height`).

State layout (case IDs are 32 lowercase hex digits, `contracts.args.ID_HEX`):
- `case/<id>` -> the full case record:
  {"case_id", "item_code", "item_version", "item_name", "department" (implementing department),
  "holder_ref" (32 bytes), "status" ("returned" | "accepted" | "approved" | "denied"), "note",
  "materials": [{"material_id", "material_type", "issuer", "form", "supplementary" (the item does not
  list its type), "cited_height", "set_aside" (None, or the defect code found when a later check could no
  longer use it)}], "problems": [{"material_type", "reason"}] (the correction notice; empty once
  accepted), "requested_corrections": [{"material_type", "reason"}] (what a reviewer asked for during
  processing, until the resubmission that resolves it), "officer" (public key of the first-contact
  officer), "officer_name", "filed_height", "filed_ms", "accepted_ms" (first acceptance, or None),
  "promised_limit_days", "legal_limit_days", "deadline_ms", "legal_deadline_ms" (None while returned),
  "suspended_ms", "suspended_remaining_days", "suspended_legal_remaining_days", "suspended_deadline_ms",
  "suspended_legal_deadline_ms" (while the clock is suspended by a correction request, else None),
  "parallel_departments", "cert_type",
  "opinions": {department: {"opinion", "comment", "signer", "name", "role", "height", "time_ms",
  "tx_id"}}, "decision": None or {"decision", "reason", "signer", "name", "height", "time_ms", "tx_id",
  "on_time", "legal_on_time"}, "certificate_id" (or None), "steps": [{"kind", "signer", "name",
  "department", "role", "height", "time_ms", "tx_id", ...details of the kind}]}.
- `cases/dept/<department>/<filed height, 8 bytes big-endian><case_id>` -> {"status", "deadline_ms",
  "on_time"}: rewritten on every transition, never deleted.
- `cases/holder/<holder_ref, 32 bytes>/<case_id>` -> b"\\xc0": a verifier finds an applicant's cases.
`case/` is not a prefix of `cases/`, so a scan of one never meets the other.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from chainnode.codec import Value
from chainnode.results import jsonable
from contracts import args as A
from contracts import items, materials
from contracts.base import ContractError, StateReader, decode_state, derive_record_id
from contracts.calendar import Calendar, date_of, format_date

PREFIX_CASE: Final = b"case/"
PREFIX_DEPARTMENT: Final = b"cases/dept/"
PREFIX_HOLDER: Final = b"cases/holder/"
DOMAIN_CASE: Final = b"chainnode/v1/case"
INDEX_VALUE: Final = b"\xc0"
HEIGHT_BYTES: Final = 8

RETURNED: Final = "returned"
ACCEPTED: Final = "accepted"
APPROVED: Final = "approved"
DENIED: Final = "denied"
STATUSES: Final = (RETURNED, ACCEPTED, APPROVED, DENIED)
CLOSED: Final = (APPROVED, DENIED)
MAX_HOLDER_LIST: Final = 1000
MAX_MESSAGE: Final = 4000
MISSING: Final = "missing"
ISSUER_NOT_ACCEPTED: Final = "issuer_not_accepted"
FORM_NOT_ACCEPTED: Final = "form_not_accepted"


def compute_case_id(tx_id: bytes) -> str:
    """SHA-256(b"chainnode/v1/case" || 0x00 || tx_id), first 16 bytes, as hex."""
    return derive_record_id(DOMAIN_CASE, tx_id)


def case_key(case_id: str) -> bytes:
    return PREFIX_CASE + case_id.encode()


def department_prefix(department: str) -> bytes:
    return PREFIX_DEPARTMENT + department.encode() + b"/"


def department_index_key(department: str, filed_height: int, case_id: str) -> bytes:
    return department_prefix(department) + filed_height.to_bytes(HEIGHT_BYTES, "big") + case_id.encode()


def holder_prefix(holder_ref: bytes) -> bytes:
    return PREFIX_HOLDER + holder_ref + b"/"


def holder_index_key(holder_ref: bytes, case_id: str) -> bytes:
    return holder_prefix(holder_ref) + case_id.encode()


def index_value(record: dict[str, Any]) -> dict[str, Value]:
    """The department index's value for a record: what supervision needs without loading the record."""
    decision = record["decision"]
    return {"status": record["status"], "deadline_ms": record["deadline_ms"],
            "on_time": None if decision is None else decision["on_time"]}


# --- single records ----------------------------------------------------------------------------------


def get_case(reader: StateReader, case_id: str) -> dict[str, Any] | None:
    """The case record (shape in the module docstring), or None (also for a malformed ID)."""
    if type(case_id) is not str or not A.ID_HEX.match(case_id):
        return None
    raw = reader.get(case_key(case_id))
    return None if raw is None else dict(decode_state(raw))


def _date(time_ms: int | None, calendar: Calendar) -> str | None:
    """The civil date a deadline falls on (a deadline is the end of that day)."""
    return None if time_ms is None else format_date(date_of(time_ms - 1, calendar.utc_offset_minutes))


def is_overdue(record: dict[str, Any], now_ms: int, *, legal: bool = False) -> bool:
    """An open case past its deadline at `now_ms`, or a case decided after it. A suspended clock never runs out."""
    field = "legal_on_time" if legal else "on_time"
    if record["decision"] is not None:
        return not record["decision"][field]
    deadline = record["legal_deadline_ms" if legal else "deadline_ms"]
    return record["status"] == ACCEPTED and deadline is not None and now_ms > deadline


def working_days_left(record: dict[str, Any], now_ms: int, calendar: Calendar) -> int | None:
    """Working days until the deadline (negative past it); the stored remainder while suspended; else None."""
    if record["status"] == ACCEPTED and record["deadline_ms"] is not None:
        return calendar.working_days_left(now_ms, record["deadline_ms"])
    if record["status"] == RETURNED and record["suspended_ms"] is not None:
        return int(record["suspended_remaining_days"])
    return None


def case_json(record: dict[str, Any], *, now_ms: int, calendar: Calendar) -> dict[str, Any]:
    """The record as JSON (bytes as lowercase hex) plus its standing at block time `now_ms`: "overdue",
    "legal_overdue", "working_days_left", "suspended", and the deadlines' civil dates."""
    out: dict[str, Any] = {key: jsonable(value) for key, value in record.items()}
    out["overdue"] = is_overdue(record, now_ms)
    out["legal_overdue"] = is_overdue(record, now_ms, legal=True)
    out["working_days_left"] = working_days_left(record, now_ms, calendar)
    out["suspended"] = record["suspended_ms"] is not None
    out["deadline_date"] = _date(record["deadline_ms"], calendar)
    out["legal_deadline_date"] = _date(record["legal_deadline_ms"], calendar)
    return out


def case_summary(record: dict[str, Any], *, now_ms: int, calendar: Calendar) -> dict[str, Any]:
    """The few fields a supervision list shows for one case."""
    return {
        "case_id": record["case_id"],
        "item_code": record["item_code"],
        "department": record["department"],
        "status": record["status"],
        "officer": record["officer"].hex(),
        "officer_name": record["officer_name"],
        "filed_height": record["filed_height"],
        "accepted_ms": record["accepted_ms"],
        "deadline_ms": record["deadline_ms"],
        "deadline_date": _date(record["deadline_ms"], calendar),
        "working_days_left": working_days_left(record, now_ms, calendar),
    }


# --- lists -------------------------------------------------------------------------------------------


def _department_entries(reader: StateReader, department: str,
                        up_to_height: int | None) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """(filed height, case ID, index value) of the department's cases, oldest first."""
    prefix = department_prefix(department)
    for key, raw in reader.iter_prefix(prefix):
        rest = key[len(prefix):]
        height = int.from_bytes(rest[:HEIGHT_BYTES], "big")
        if up_to_height is not None and height > up_to_height:
            break
        yield height, rest[HEIGHT_BYTES:].decode(), dict(decode_state(raw))


def cases_by_department(reader: StateReader, department: str, *, status: str | None = None,
                        up_to_height: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """The department's cases filed at or before `up_to_height`, newest first, optionally of one status."""
    entries = [(h, c) for h, c, value in _department_entries(reader, department, up_to_height)
               if status is None or value["status"] == status]
    found: list[dict[str, Any]] = []
    for _, case_id in reversed(entries):
        if len(found) >= limit:
            break
        record = get_case(reader, case_id)
        if record is not None:
            found.append(record)
    return found


def cases_of_holder(reader: StateReader, holder_ref: bytes, *, limit: int = MAX_HOLDER_LIST) -> list[dict[str, Any]]:
    """Every case filed for this holder reference, newest first."""
    if type(holder_ref) is not bytes or len(holder_ref) != 32:
        return []
    prefix = holder_prefix(holder_ref)
    records = []
    for key, _ in reader.iter_prefix(prefix):
        record = get_case(reader, key[len(prefix):].decode())
        if record is not None:
            records.append(record)
        if len(records) >= limit:
            break
    return sorted(records, key=lambda r: (r["filed_height"], r["case_id"]), reverse=True)


def _percent(part: int, whole: int) -> str | None:
    """part/whole as a percentage with one decimal, rounded down ("66.6"); None when whole is 0."""
    if whole == 0:
        return None
    tenths = part * 1000 // whole
    return f"{tenths // 10}.{tenths % 10}"


def supervision(reader: StateReader, department: str, *, now_ms: int, within_days: int, calendar: Calendar,
                up_to_height: int | None = None, from_height: int = 0) -> dict[str, Any]:
    """Deadline supervision (电子监察) of a department's cases as of block time `now_ms`, over the cases filed
    from `from_height` to `up_to_height` (a period: default, every case).

    "overdue": open (accepted) cases past their deadline, most overdue first; "due_soon": open cases not
    yet overdue whose deadline is at most `within_days` working days away, soonest first; "open",
    "returned", "decided" and "decided_on_time" counts; "on_time_rate": the decided cases' on-time share
    as a percentage string with one decimal ("87.5"), or None when none is decided. Cases whose clock is
    suspended for a correction are neither overdue nor due.
    """
    overdue, due_soon = [], []
    counts = {"open": 0, "returned": 0, "decided": 0, "decided_on_time": 0}
    for filed, case_id, value in _department_entries(reader, department, up_to_height):
        if filed < from_height:
            continue
        status = value["status"]
        if status in CLOSED:
            counts["decided"] += 1
            counts["decided_on_time"] += 1 if value["on_time"] else 0
            continue
        if status == RETURNED:
            counts["returned"] += 1
            continue
        counts["open"] += 1
        deadline = value["deadline_ms"]
        if deadline is None:
            continue
        if now_ms > deadline:
            overdue.append((deadline, case_id))
        elif calendar.working_days_left(now_ms, deadline) <= within_days:
            due_soon.append((deadline, case_id))

    def summaries(entries: list[tuple[int, str]]) -> list[dict[str, Any]]:
        records = (get_case(reader, case_id) for _, case_id in sorted(entries))
        return [case_summary(r, now_ms=now_ms, calendar=calendar) for r in records if r is not None]

    return {
        "overdue": summaries(overdue),
        "due_soon": summaries(due_soon),
        **counts,
        "on_time_rate": _percent(counts["decided_on_time"], counts["decided"]),
    }


def _median(values: list[int]) -> int | None:
    """The lower median (an element of `values`, so an integer), or None for no values."""
    return None if not values else sorted(values)[(len(values) - 1) // 2]


def supervision_breakdown(reader: StateReader, department: str, *, now_ms: int, calendar: Calendar,
                          up_to_height: int | None = None, from_height: int = 0) -> dict[str, Any]:
    """Time per step and per officer over the department's cases filed from `from_height` to `up_to_height`,
    read from each case record's steps (`time_spent`) as of the reader's height.

    "time_per_step": per step kind (file, resubmit, request_correction, review, opinion, hand_over, decide),
    in order of first appearance: how many, and the median time since the step before (lower median, in ms
    and in working days; None for the filing, which starts the clock). "officers": per key that signed a
    step, in order of first appearance: the cases it worked on, of those the decided ones on time and the
    overdue ones (`is_overdue` at `now_ms`), its steps and their median time. Reads every case record of
    the period.
    """
    kinds: dict[str, dict[str, Any]] = {}
    officers: dict[str, dict[str, Any]] = {}
    for filed, case_id, _ in _department_entries(reader, department, up_to_height):
        record = get_case(reader, case_id) if filed >= from_height else None
        if record is None:
            continue
        overdue = is_overdue(record, now_ms)
        on_time = record["decision"] is not None and bool(record["decision"]["on_time"])
        seen: set[str] = set()
        for step in time_spent(record, calendar)["steps"]:
            per_kind = kinds.setdefault(step["kind"], {"count": 0, "ms": [], "working_days": []})
            per_kind["count"] += 1
            officer = officers.setdefault(step["signer"], {
                "signer": step["signer"], "name": step["name"], "department": step["department"], "cases": 0,
                "on_time": 0, "overdue": 0, "steps": 0, "ms": [], "working_days": []})
            if step["index"] > 0:  # the filing starts the clock: no time is spent before it
                per_kind["ms"].append(step["ms"])
                per_kind["working_days"].append(step["working_days"])
                officer["ms"].append(step["ms"])
                officer["working_days"].append(step["working_days"])
            officer["steps"] += 1
            if step["signer"] not in seen:
                seen.add(step["signer"])
                officer["cases"] += 1
                officer["on_time"] += 1 if on_time else 0
                officer["overdue"] += 1 if overdue else 0
    return {
        "time_per_step": [{"kind": kind, "count": times["count"], "median_ms": _median(times["ms"]),
                           "median_working_days": _median(times["working_days"])} for kind, times in kinds.items()],
        "officers": [{**{k: v for k, v in o.items() if k not in ("ms", "working_days")},
                      "median_step_ms": _median(o["ms"]), "median_step_working_days": _median(o["working_days"])}
                     for o in officers.values()],
    }


# --- time spent ----------------------------------------------------------------------------------------


def time_spent(record: dict[str, Any], calendar: Calendar) -> dict[str, Any]:
    """Time per step and per officer, for supervision and audit.

    Each step's time is the time since the previous step (0 for the filing), in milliseconds and in
    working days (working days after the previous step's date up to the step's date), and counts for the
    officer who signed the step. "steps" lists them in order; "officers" totals them per signer, in order
    of first appearance; "total_ms" and "total_working_days" span the filing to the last step.
    """
    offset = calendar.utc_offset_minutes
    steps: list[dict[str, Any]] = []
    officers: dict[bytes, dict[str, Any]] = {}
    previous: int | None = None
    for index, step in enumerate(record["steps"]):
        at = int(step["time_ms"])
        ms = 0 if previous is None else at - previous
        days = 0 if previous is None else calendar.working_days_between(date_of(previous, offset),
                                                                         date_of(at, offset))
        previous = at
        steps.append({"index": index, "kind": step["kind"], "signer": step["signer"].hex(), "name": step["name"],
                      "department": step["department"], "role": step["role"], "height": step["height"],
                      "time_ms": at, "ms": ms, "working_days": days})
        total = officers.setdefault(step["signer"], {"signer": step["signer"].hex(), "name": step["name"],
                                                     "department": step["department"], "steps": 0, "ms": 0,
                                                     "working_days": 0})
        total["steps"] += 1
        total["ms"] += ms
        total["working_days"] += days
    return {
        "steps": steps,
        "officers": list(officers.values()),
        "total_ms": sum(s["ms"] for s in steps),
        "total_working_days": sum(s["working_days"] for s in steps),
    }


# --- the materials check ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    material_type: str
    reason: str

    def to_value(self) -> dict[str, Value]:
        return {"material_type": self.material_type, "reason": self.reason}


def _when(time_ms: int) -> str:
    moment = datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=time_ms)
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _describe_defect(material_id: str, code: str, material: materials.MaterialRecord | None) -> str:
    if material is None:
        return f"{material_id} does not exist"
    what = f"{material_id} ({material.material_type})"
    if code == materials.DEFECT_REVOKED:
        return f"{what} was revoked at height {material.revoked_height}"
    if code == materials.DEFECT_OTHER_HOLDER:
        return f"{what} belongs to another holder"
    if code == materials.DEFECT_NOT_YET_VALID:
        return f"{what} is valid only from {_when(material.valid_from_ms)}"
    return f"{what} expired at {_when(material.valid_until_ms or 0)}"


def validate_cited(reader: StateReader, cited: Sequence[str], holder_ref: bytes,
                   time_ms: int) -> list[materials.MaterialRecord]:
    """The cited materials, if every one exists and is usable by `holder_ref` at `time_ms`.

    Raises ContractError with the code of the first defect in citation order (material_not_found,
    material_revoked, material_other_holder, material_not_yet_valid, material_expired) and a message that
    lists every defective material with its reason.
    """
    found, defects = [], []
    for i, material_id in enumerate(cited):
        material = materials.get_material(reader, material_id)
        code = "material_not_found" if material is None else materials.defect(material, holder_ref=holder_ref,
                                                                                time_ms=time_ms)
        if code is None and material is not None:
            found.append(material)
        elif code is not None:
            defects.append((i, code, _describe_defect(material_id, code, material)))
    if defects:
        listed = "; ".join(text for _, _, text in defects)
        raise ContractError(defects[0][1], f"{len(defects)} cited material(s) cannot be used: {listed}"[:MAX_MESSAGE],
                            field=f"materials[{defects[0][0]}]")
    return found


def compute_problems(item: items.ItemVersion, usable: Sequence[materials.MaterialRecord]) -> list[Problem]:
    """Every required material of `item` that no usable material satisfies, in the item's order.

    A requirement is met by a material of its type, from one of its issuers (any if none are listed), in
    its form ("copy" accepts originals too). The reason is `missing` when no material of the type is
    cited, else `issuer_not_accepted` when none comes from an accepted issuer, else `form_not_accepted`.
    """
    problems = []
    for required in item.materials:
        if required.optional:
            continue
        of_type = [m for m in usable if m.material_type == required.material_type]
        from_issuer = [m for m in of_type if not required.issuers or m.issuer in required.issuers]
        in_form = [m for m in from_issuer if required.form == "copy" or m.form == "original"]
        if in_form:
            continue
        reason = MISSING if not of_type else ISSUER_NOT_ACCEPTED if not from_issuer else FORM_NOT_ACCEPTED
        problems.append(Problem(required.material_type, reason))
    return problems
