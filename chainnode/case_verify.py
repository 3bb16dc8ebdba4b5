"""Checking a case's standing against genesis alone: which department and officer hold it, its status, its
deadline and whether it is overdue as of the proven block's time.

An applicant or a verifier holds the case ID, the network's genesis.json (or a trust file it saved) and a
state proof of the case record (`case/<id>`) at one height. Everything reported is read from the proven value
and the proven block's time; a node's JSON is never trusted. A proof that `case/<id>` is absent is a proven
"no such case". This is what `chainnode case status` runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from chainnode.anchor_verify import decode_proven_record, format_time_ms, proven_field, verify_state_value
from chainnode.errors import ChainError, InvalidProof
from chainnode.genesis import Genesis
from chainnode.light import TrustRoot
from contracts import case_queries
from contracts.calendar import date_of, format_date

MAX_RECORD_BYTES: Final = 1 << 20
CASE: Final = "a case record"


class CaseNotFound(ChainError):
    """A genuine proof shows that no case has this ID at the proven height."""

    code = "case_not_found"


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedCase:
    case_id: str
    item_code: str
    item_name: str
    department: str
    """The implementing department, which holds the case (parallel departments only give opinions)."""
    department_name: str | None
    officer: str
    """The first-contact officer responsible now (hand-overs move it)."""
    officer_name: str
    status: str
    """returned, accepted, approved or denied."""
    filed_height: int
    filed_time: str
    deadline: str | None
    """The civil date the promised deadline falls on (the end of that day), or None while there is none."""
    deadline_time: str | None
    overdue: bool
    """Open past its deadline at the proven block's time, or decided after it."""
    decision: str | None
    decision_height: int | None
    last_step: str
    last_step_height: int
    certificate_id: str | None
    proven_at_height: int
    proven_time: str
    proven_block_hash: str
    trust: TrustRoot | None = None
    """The trust root after this proof: save it (`--trust-out`) and the next proofs need no older hops."""

    @property
    def verdict(self) -> str:
        return self.status.upper() + (" (OVERDUE)" if self.overdue else "")


def _optional_int(record: dict[str, Any], name: str) -> int | None:
    value = record.get(name)
    if value is not None and type(value) is not int:
        raise InvalidProof(f"record check failed: the proven value is not {CASE} ({name} is not an integer)",
                           field=name)
    return value


def verify_case(genesis: Genesis, case_id: str, bundle: bytes, trust: TrustRoot | None = None) -> VerifiedCase:
    """Verify the case record's state proof (one bundle) against `genesis` (or a saved trust root) and read the
    case's standing from it.

    Raises InvalidProof naming the failed check (format, block and commit, state path, key, record; a bundle
    that starts from another trust root than the verifier holds), or CaseNotFound for a genuine proof of
    absence."""
    proven = verify_state_value(genesis, bundle, trust)
    if proven.key != case_queries.case_key(case_id):
        raise InvalidProof("record check failed: the proof is for another key than this case's record", field="key")
    if proven.value is None:
        raise CaseNotFound(f"no such case: no case {case_id} exists at height {proven.height} (a proof of absence, "
                           "checked against genesis)")
    record = decode_proven_record(proven.value, CASE, MAX_RECORD_BYTES)
    if proven_field(record, "case_id", str, CASE) != case_id:
        raise InvalidProof("record check failed: the proven record is of another case", field="case_id")
    status = proven_field(record, "status", str, CASE)
    if status not in case_queries.STATUSES:
        raise InvalidProof(f"record check failed: the proven value is not {CASE} (status {status!r})", field="status")
    steps = proven_field(record, "steps", list, CASE)
    last = steps[-1] if steps and type(steps[-1]) is dict else {}
    decision = record.get("decision")
    if decision is not None and (type(decision) is not dict or type(decision.get("on_time")) is not bool):
        raise InvalidProof(f"record check failed: the proven value is not {CASE} (decision)", field="decision")
    deadline = _optional_int(record, "deadline_ms")
    _optional_int(record, "legal_deadline_ms")
    certificate = record.get("certificate_id")
    department = proven_field(record, "department", str, CASE)
    dept = genesis.department(department)
    offset = genesis.params.utc_offset_minutes
    return VerifiedCase(
        case_id=case_id, item_code=proven_field(record, "item_code", str, CASE),
        item_name=proven_field(record, "item_name", str, CASE), department=department,
        department_name=None if dept is None else dept.name,
        officer=proven_field(record, "officer", bytes, CASE).hex(),
        officer_name=proven_field(record, "officer_name", str, CASE), status=status,
        filed_height=proven_field(record, "filed_height", int, CASE),
        filed_time=format_time_ms(proven_field(record, "filed_ms", int, CASE)),
        deadline=None if deadline is None else format_date(date_of(deadline - 1, offset)),
        deadline_time=None if deadline is None else format_time_ms(deadline),
        overdue=case_queries.is_overdue(record, proven.time_ms),
        decision=None if decision is None else str(decision.get("decision")),
        decision_height=None if decision is None else _optional_int(decision, "height"),
        last_step=str(last.get("kind", "")), last_step_height=last["height"] if type(last.get("height")) is int else 0,
        certificate_id=certificate if type(certificate) is str else None,
        proven_at_height=proven.height, proven_time=format_time_ms(proven.time_ms),
        proven_block_hash=proven.block_hash.hex(), trust=proven.trust,
    )
