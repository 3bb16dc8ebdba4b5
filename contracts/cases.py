"""Cases (办件): one application against an approval item, from filing to decision.

A clerk of the item's implementing department files a case for a holder, citing attested materials. The
contract checks them at once: a cited material that does not exist or cannot be used (revoked, another
holder's, outside its validity) refuses the whole call, naming every such material; otherwise each
required material of the item's current version must be matched by a cited one of its type, from an
accepted issuer, in an accepted form. Complete: the case is `accepted`, the clerk is its first-contact
officer (首问负责制) and its deadlines run in working days on the on-chain calendar. Incomplete: the case
is recorded as `returned` with the complete list of problems, the one-time correction notice (补正).

Theory of operation (status by method):

    file ──> accepted | returned
    resubmit:            returned ──> accepted | returned    (citations are added, the check runs again)
    request_correction:  accepted ──> returned               (the clock is suspended)
    review, opinion, hand_over: status unchanged             (hand_over also on a returned case)
    decide:              accepted ──> approved | denied      (approval may issue a certificate)

The clock: a case returned at filing has no deadline until it is accepted. A correction request
suspends the clock, storing the working days left; the resubmission that completes the case sets the new
deadline that many working days from its own date (an overdue case stays overdue). Every transition
appends a step and rewrites the department index. The state layout and the queries are in
`contracts.case_queries`, re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from chainnode.codec import Value
from chainnode.results import Event
from contracts import args as A
from contracts import case_queries as Q
from contracts import certificates, governance, items, materials, proposals
from contracts.base import CallContext, ContractError, Method, Outcome, StateOverlay, StateReader
from contracts.calendar import Calendar
from contracts.case_args import (
    MAX_CASE_MATERIALS,
    MAX_STEPS,
    OFFICER_ROLES,
    CorrectionArgs,
    DecideArgs,
    FileArgs,
    HandOverArgs,
    OpinionArgs,
    ResubmitArgs,
    compute_case_targets,
    compute_file_targets,
    parse_decide,
    parse_file,
    parse_hand_over,
    parse_opinion,
    parse_request_correction,
    parse_resubmit,
    parse_review,
)
from contracts.case_queries import ACCEPTED, APPROVED, CLOSED, DENIED, RETURNED, Problem

get_case = Q.get_case
case_json = Q.case_json
cases_by_department = Q.cases_by_department
cases_of_holder = Q.cases_of_holder
supervision = Q.supervision
time_spent = Q.time_spent



# --- checks ------------------------------------------------------------------------------------------


def _authorise(reader: StateReader, ctx: CallContext, roles: tuple[str, ...],
               department: str | None = None) -> tuple[governance.MemberRecord, str]:
    """The signer and the role it acts in. Raises the roster's errors (role_required, wrong_department, ...)."""
    member = governance.require_member(reader, ctx.signer, ctx.height, roles, department)
    return member, next((r for r in roles if r in member.roles), member.roles[0])


def _load_case(reader: StateReader, case_id: str) -> dict[str, Any]:
    record = get_case(reader, case_id)
    if record is None:
        raise ContractError("case_not_found", f"there is no case {case_id}", field="case_id")
    return record


def _require_accepted(record: dict[str, Any]) -> None:
    if record["status"] in CLOSED:
        decision = record["decision"]
        raise ContractError("case_closed", f"case {record['case_id']} was already {record['status']} at height "
                            f"{decision['height']} by {decision['name']}", field="case_id")
    if record["status"] != ACCEPTED:
        raise ContractError("case_not_accepted", f"case {record['case_id']} is {record['status']} awaiting "
                            "corrected materials; it must be accepted first", field="case_id")


def _require_step_room(record: dict[str, Any]) -> None:
    if len(record["steps"]) >= MAX_STEPS:
        raise ContractError("too_many_steps", f"case {record['case_id']} already has {MAX_STEPS} recorded steps",
                            field="case_id")


def _calendar(reader: StateReader) -> Calendar:
    return Calendar(reader, governance.utc_offset_minutes(reader))


# --- effects -----------------------------------------------------------------------------------------


def _step(kind: str, member: governance.MemberRecord, role: str, ctx: CallContext,
          **details: Value) -> dict[str, Value]:
    return {"kind": kind, "signer": member.public_key, "name": member.name, "department": member.department,
            "role": role, "height": ctx.height, "time_ms": ctx.block_time_ms, "tx_id": ctx.tx_id, **details}


def _put_case(overlay: StateOverlay, record: dict[str, Any], step: dict[str, Value]) -> None:
    """Append the step and write the record and its department index entry."""
    record["steps"] = [*record["steps"], step]
    overlay.put_value(Q.case_key(record["case_id"]), record)
    overlay.put_value(Q.department_index_key(record["department"], record["filed_height"], record["case_id"]),
                      Q.index_value(record))


def _material_entry(material: materials.MaterialRecord, item: items.ItemVersion, height: int) -> dict[str, Value]:
    listed = {m.material_type for m in item.materials}
    return {"material_id": material.material_id, "material_type": material.material_type,
            "issuer": material.issuer, "form": material.form, "supplementary": material.material_type not in listed,
            "cited_height": height, "set_aside": None}


def _accept(record: dict[str, Any], calendar: Calendar, now_ms: int) -> None:
    """Start the clock, or restart a suspended one with the working days it had left."""
    if record["suspended_ms"] is None:
        record["accepted_ms"] = now_ms
        record["deadline_ms"] = calendar.deadline_ms(now_ms, record["promised_limit_days"])
        record["legal_deadline_ms"] = calendar.deadline_ms(now_ms, record["legal_limit_days"])
    else:
        for field, left in (("deadline_ms", "suspended_remaining_days"),
                            ("legal_deadline_ms", "suspended_legal_remaining_days")):
            days = int(record[left])
            record[field] = calendar.deadline_ms(now_ms, days) if days >= 0 else record[f"suspended_{field}"]
    record.update(status=ACCEPTED, problems=[], requested_corrections=[], suspended_ms=None,
                  suspended_remaining_days=None, suspended_legal_remaining_days=None, suspended_deadline_ms=None,
                  suspended_legal_deadline_ms=None)


def _entities(record: dict[str, Any], *extra: str) -> tuple[str, ...]:
    return (f"case:{record['case_id']}", f"item:{record['item_code']}", f"department:{record['department']}",
            f"holder:{record['holder_ref'].hex()}", *extra)


def _event(kind: str, record: dict[str, Any], signer: bytes, **attributes: Value) -> Event:
    return Event(kind=f"case.{kind}", attributes={
        "case_id": record["case_id"], "item_code": record["item_code"], "department": record["department"],
        "status": record["status"], "signer": signer, **attributes,
    })


# --- methods -----------------------------------------------------------------------------------------


def _active_item(reader: StateReader, code: str) -> items.ItemVersion:
    item = items.get_item(reader, code)
    if item is None:
        raise ContractError("item_not_found", f"no item with code {code!r} is published", field="item_code")
    if item.status != items.STATUS_ACTIVE:
        raise ContractError("item_retired", f"item {code} is retired; no new cases may be filed", field="item_code")
    return item


def file(overlay: StateOverlay, args: FileArgs, ctx: CallContext) -> Outcome:
    """File a case against the item's current version: accepted if complete, else returned with every problem.

    Raises ContractError: the roster's errors (role clerk), item_not_found, item_retired, wrong_department,
    material_not_found or a material defect (see `validate_cited`), calendar_exhausted.
    """
    # AUTHORISE: a clerk of the item's implementing department.
    clerk, role = _authorise(overlay, ctx, ("clerk",))
    item = _active_item(overlay, args.item_code)
    if clerk.department != item.department and not governance.is_department_check_skipped(overlay, ctx.signer):
        raise ContractError("wrong_department", f"item {item.code} is implemented by {item.department}; the signer "
                            f"belongs to {clerk.department}", field="signer")
    # CHECK
    cited = Q.validate_cited(overlay, args.materials, args.holder_ref, ctx.block_time_ms)
    problems = Q.compute_problems(item, cited)
    case_id = Q.compute_case_id(ctx.tx_id)
    if overlay.get(Q.case_key(case_id)) is not None:
        raise ContractError("case_exists", f"transaction {ctx.tx_id.hex()} already filed case {case_id}")
    # EFFECT
    record: dict[str, Any] = {
        "case_id": case_id, "item_code": item.code, "item_version": item.version, "item_name": item.name,
        "department": item.department, "holder_ref": args.holder_ref, "status": RETURNED, "note": args.note,
        "materials": [_material_entry(m, item, ctx.height) for m in cited],
        "problems": [p.to_value() for p in problems], "requested_corrections": [],
        "officer": clerk.public_key, "officer_name": clerk.name, "filed_height": ctx.height,
        "filed_ms": ctx.block_time_ms, "accepted_ms": None, "promised_limit_days": item.promised_limit_days,
        "legal_limit_days": item.legal_limit_days, "deadline_ms": None, "legal_deadline_ms": None,
        "suspended_ms": None, "suspended_remaining_days": None, "suspended_legal_remaining_days": None,
        "suspended_deadline_ms": None, "suspended_legal_deadline_ms": None,
        "parallel_departments": list(item.parallel_departments), "cert_type": item.cert_type, "opinions": {},
        "decision": None, "certificate_id": None, "steps": [],
    }
    if not problems:
        _accept(record, _calendar(overlay), ctx.block_time_ms)
    _put_case(overlay, record, _step("file", clerk, role, ctx, status=record["status"], materials=list(args.materials),
                                     problems=record["problems"], deadline_ms=record["deadline_ms"], note=args.note))
    overlay.put(Q.holder_index_key(args.holder_ref, case_id), Q.INDEX_VALUE)
    # EVENTS
    event = _event("filed", record, ctx.signer, item_version=item.version, holder_ref=args.holder_ref,
                   problems=len(problems), deadline_ms=record["deadline_ms"])
    return Outcome((event,), _entities(record, *(f"material:{m}" for m in args.materials)))


def _outstanding(record: dict[str, Any], added: Sequence[materials.MaterialRecord],
                 problems: Sequence[Problem]) -> list[Problem]:
    """A reviewer's requested corrections that no newly cited material of their type answers."""
    answered = {m.material_type for m in added} | {p.material_type for p in problems}
    return [Problem(p["material_type"], p["reason"]) for p in record["requested_corrections"]
            if p["material_type"] not in answered]


def resubmit(overlay: StateOverlay, args: ResubmitArgs, ctx: CallContext) -> Outcome:
    """Add corrected materials to a returned case and check it again: accepted if complete, else returned.

    Materials cited earlier that can no longer be used (revoked or expired since) are set aside: they stay
    on the case, marked with their defect, and no longer count. A case returned by a correction request
    also needs a newly cited material of each requested type.

    Raises ContractError: the roster's errors (role clerk), case_not_found, wrong_department, case_closed,
    case_not_returned, invalid_arguments (a material already on the case), too_many_materials,
    too_many_steps, material_not_found or a material defect, item_not_found, calendar_exhausted.
    """
    # AUTHORISE: a clerk of the case's department.
    record = _load_case(overlay, args.case_id)
    clerk, role = _authorise(overlay, ctx, ("clerk",), record["department"])
    # CHECK
    if record["status"] != RETURNED:
        code = "case_closed" if record["status"] in CLOSED else "case_not_returned"
        raise ContractError(code, f"case {args.case_id} is {record['status']}; only a returned case takes "
                            "corrected materials", field="case_id")
    _require_step_room(record)
    already = sorted({m["material_id"] for m in record["materials"]} & set(args.materials))
    if already:
        raise A.bad("materials", f"case {args.case_id} already cites material {', '.join(already)}")
    if len(record["materials"]) + len(args.materials) > MAX_CASE_MATERIALS:
        raise ContractError("too_many_materials", f"a case cites at most {MAX_CASE_MATERIALS} materials; case "
                            f"{args.case_id} has {len(record['materials'])}", field="materials")
    added = Q.validate_cited(overlay, args.materials, record["holder_ref"], ctx.block_time_ms)
    item = items.get_item(overlay, record["item_code"], record["item_version"])
    if item is None:
        raise ContractError("item_not_found", f"item {record['item_code']} version {record['item_version']} is "
                            "missing", field="case_id")
    kept, set_aside = [], []
    entries = [dict(e) for e in record["materials"]]
    for entry in entries:
        if entry["set_aside"] is not None:
            continue
        material = materials.get_material(overlay, entry["material_id"])
        defect = "material_not_found" if material is None else materials.defect(
            material, holder_ref=record["holder_ref"], time_ms=ctx.block_time_ms)
        if material is not None and defect is None:
            kept.append(material)
        else:
            entry["set_aside"] = defect
            set_aside.append({"material_id": entry["material_id"], "defect": defect})
    problems = Q.compute_problems(item, [*kept, *added])
    problems += _outstanding(record, added, problems)
    # EFFECT
    record["materials"] = [*entries, *(_material_entry(m, item, ctx.height) for m in added)]
    if problems:
        record["problems"] = [p.to_value() for p in problems]
    else:
        _accept(record, _calendar(overlay), ctx.block_time_ms)
    _put_case(overlay, record, _step("resubmit", clerk, role, ctx, status=record["status"],
                                     materials=list(args.materials), set_aside=set_aside,
                                     problems=record["problems"], deadline_ms=record["deadline_ms"], note=args.note))
    # EVENTS
    event = _event("resubmitted", record, ctx.signer, problems=len(problems), deadline_ms=record["deadline_ms"])
    return Outcome((event,), _entities(record, *(f"material:{m}" for m in args.materials)))


def request_correction(overlay: StateOverlay, args: CorrectionArgs, ctx: CallContext) -> Outcome:
    """Return an accepted case for corrected materials and suspend its clock.

    Raises ContractError: the roster's errors (role reviewer or approver), case_not_found, wrong_department,
    case_closed, case_not_accepted, too_many_steps, unknown_material_type.
    """
    # AUTHORISE: a reviewer or approver of the case's department.
    record = _load_case(overlay, args.case_id)
    member, role = _authorise(overlay, ctx, ("reviewer", "approver"), record["department"])
    # CHECK
    _require_accepted(record)
    _require_step_room(record)
    for i, problem in enumerate(args.problems):
        if proposals.get_material_type(overlay, problem.material_type) is None:
            raise ContractError("unknown_material_type", f"material type {problem.material_type!r} is not "
                                "registered", field=f"problems[{i}].material_type")
    calendar = _calendar(overlay)
    remaining = calendar.working_days_left(ctx.block_time_ms, record["deadline_ms"])
    legal_remaining = calendar.working_days_left(ctx.block_time_ms, record["legal_deadline_ms"])
    # EFFECT
    problems = [p.to_value() for p in args.problems]
    step = _step("request_correction", member, role, ctx, problems=problems, note=args.note,
                 deadline_ms=record["deadline_ms"], remaining_days=remaining)
    record.update(status=RETURNED, problems=problems, requested_corrections=problems, suspended_ms=ctx.block_time_ms,
                  suspended_remaining_days=remaining, suspended_legal_remaining_days=legal_remaining,
                  suspended_deadline_ms=record["deadline_ms"], suspended_legal_deadline_ms=record["legal_deadline_ms"],
                  deadline_ms=None, legal_deadline_ms=None)
    _put_case(overlay, record, step)
    # EVENTS
    event = _event("correction_requested", record, ctx.signer, problems=len(problems), remaining_days=remaining)
    return Outcome((event,), _entities(record))


def review(overlay: StateOverlay, args: OpinionArgs, ctx: CallContext) -> Outcome:
    """Record a reviewer's opinion on an accepted case.

    Raises ContractError: the roster's errors (role reviewer), case_not_found, wrong_department, case_closed,
    case_not_accepted, too_many_steps.
    """
    # AUTHORISE: a reviewer of the case's department.
    record = _load_case(overlay, args.case_id)
    member, role = _authorise(overlay, ctx, ("reviewer",), record["department"])
    # CHECK
    _require_accepted(record)
    _require_step_room(record)
    # EFFECT
    _put_case(overlay, record, _step("review", member, role, ctx, opinion=args.opinion, comment=args.comment))
    # EVENTS
    return Outcome((_event("reviewed", record, ctx.signer, opinion=args.opinion),), _entities(record))


def opinion(overlay: StateOverlay, args: OpinionArgs, ctx: CallContext) -> Outcome:
    """Record one parallel department's opinion on an accepted case (once per department).

    Raises ContractError: the roster's errors (role reviewer or approver), case_not_found,
    not_a_parallel_department, case_closed, case_not_accepted, opinion_exists, too_many_steps.
    """
    # AUTHORISE: a reviewer or approver of one of the item version's parallel departments.
    member, role = _authorise(overlay, ctx, ("reviewer", "approver"))
    record = _load_case(overlay, args.case_id)
    if member.department not in record["parallel_departments"] \
            and not governance.is_department_check_skipped(overlay, ctx.signer):
        listed = ", ".join(record["parallel_departments"]) or "none"
        raise ContractError("not_a_parallel_department", f"{member.department} is not a parallel department of "
                            f"case {args.case_id} (those are: {listed})", field="signer")
    # CHECK
    _require_accepted(record)
    _require_step_room(record)
    given = record["opinions"].get(member.department)
    if given is not None:
        raise ContractError("opinion_exists", f"{member.department} already gave its opinion ({given['opinion']}) "
                            f"on case {args.case_id} at height {given['height']}", field="case_id")
    # EFFECT
    entry = {"opinion": args.opinion, "comment": args.comment, "signer": ctx.signer, "name": member.name,
             "role": role, "height": ctx.height, "time_ms": ctx.block_time_ms, "tx_id": ctx.tx_id}
    opinions = {**record["opinions"], member.department: entry}
    record["opinions"] = {d: opinions[d] for d in sorted(opinions)}
    _put_case(overlay, record, _step("opinion", member, role, ctx, opinion=args.opinion, comment=args.comment))
    # EVENTS
    event = _event("opinion", record, ctx.signer, opinion=args.opinion, from_department=member.department)
    return Outcome((event,), _entities(record, f"department:{member.department}"))


def hand_over(overlay: StateOverlay, args: HandOverArgs, ctx: CallContext) -> Outcome:
    """Hand responsibility for an open case to another officer of its department.

    Raises ContractError: the roster's errors, case_not_found, wrong_department, not_case_officer (neither
    the officer nor an admin), case_closed, too_many_steps, invalid_officer.
    """
    # AUTHORISE: the current first-contact officer, or an admin of the case's department.
    record = _load_case(overlay, args.case_id)
    member, _ = _authorise(overlay, ctx, (), record["department"])
    if ctx.signer == record["officer"]:
        role = next((r for r in OFFICER_ROLES if r in member.roles), member.roles[0])
    elif "admin" in member.roles:
        role = "admin"
    else:
        raise ContractError("not_case_officer", f"case {args.case_id} is held by {record['officer_name']}; only "
                            f"that officer or an admin of {record['department']} may hand it over", field="signer")
    # CHECK
    if record["status"] in CLOSED:
        raise ContractError("case_closed", f"case {args.case_id} is already {record['status']}", field="case_id")
    _require_step_room(record)
    target = governance.member_at(overlay, args.to, ctx.height)
    if args.to == record["officer"]:
        raise ContractError("invalid_officer", f"{record['officer_name']} already holds case {args.case_id}",
                            field="to")
    if target is None or target.department != record["department"] or not set(OFFICER_ROLES) & set(target.roles):
        held = "not a current member" if target is None else f"{target.name} of {target.department} with role(s) " \
            f"{', '.join(target.roles)}"
        raise ContractError("invalid_officer", f"the new officer must be a current {record['department']} member "
                            f"with role {', '.join(OFFICER_ROLES)}; the key is {held}", field="to")
    # EFFECT
    step = _step("hand_over", member, role, ctx, from_officer=record["officer"], from_name=record["officer_name"],
                 to_officer=target.public_key, to_name=target.name, reason=args.reason)
    record.update(officer=target.public_key, officer_name=target.name)
    _put_case(overlay, record, step)
    # EVENTS
    event = _event("handed_over", record, ctx.signer, from_officer=step["from_officer"], to_officer=args.to)
    return Outcome((event,), _entities(record))


def decide(overlay: StateOverlay, args: DecideArgs, ctx: CallContext) -> Outcome:
    """Approve or deny an accepted case; approving an item with a certificate type issues the certificate.

    Raises ContractError: the roster's errors (role approver of the case's department), case_not_found,
    case_closed, case_not_accepted, opinions_missing, opinion_against, certificate_required,
    certificate_not_expected, too_many_steps, issuer_required (the certificate's issuing officer: an
    approver holding `issuer` too, or `certificate.issuer_officer`, a key of the department holding
    `issuer`), and the certificate contract's errors (unknown_cert_type, cert_type_not_authorised, a
    material defect, invalid_validity).
    """
    # AUTHORISE: an approver of the case's department.
    record = _load_case(overlay, args.case_id)
    approver, role = _authorise(overlay, ctx, ("approver",), record["department"])
    # CHECK
    _require_accepted(record)
    _require_step_room(record)
    approve = args.decision == "approve"
    if approve:
        missing = [d for d in record["parallel_departments"] if d not in record["opinions"]]
        if missing:
            raise ContractError("opinions_missing", f"case {args.case_id} still needs the opinion of "
                                f"{', '.join(missing)}", field="case_id")
        against = [d for d, o in record["opinions"].items() if o["opinion"] == "disagree"]
        if against:
            raise ContractError("opinion_against", f"{', '.join(against)} disagreed with case {args.case_id}; it "
                                "cannot be approved", field="case_id")
        if record["cert_type"] is not None and args.certificate is None:
            raise ContractError("certificate_required", f"approving case {args.case_id} issues a "
                                f"{record['cert_type']}; give certificate.content_hash", field="certificate")
    if args.certificate is not None and record["cert_type"] is None:
        raise ContractError("certificate_not_expected", f"item {record['item_code']} version "
                            f"{record['item_version']} issues no certificate", field="certificate")
    # EFFECT
    events: list[Event] = []
    extra: list[str] = []
    if approve and args.certificate is not None:
        cited = [m["material_id"] for m in record["materials"] if m["set_aside"] is None]
        cert_id, cert_event = certificates.issue_for_case(
            overlay, ctx, approver=approver, issuer_officer=args.certificate.issuer_officer,
            cert_type=record["cert_type"], holder_ref=record["holder_ref"],
            content_hash=args.certificate.content_hash, case_id=args.case_id, materials=cited,
            valid_from_ms=args.certificate.valid_from_ms, valid_until_ms=args.certificate.valid_until_ms,
            metadata=args.certificate.metadata)
        record["certificate_id"] = cert_id
        events.append(cert_event)
        extra.append(f"cert:{cert_id}")
    on_time = ctx.block_time_ms <= record["deadline_ms"]
    legal_on_time = ctx.block_time_ms <= record["legal_deadline_ms"]
    record["status"] = APPROVED if approve else DENIED
    record["decision"] = {"decision": args.decision, "reason": args.reason, "signer": ctx.signer,
                          "name": approver.name, "height": ctx.height, "time_ms": ctx.block_time_ms,
                          "tx_id": ctx.tx_id, "on_time": on_time, "legal_on_time": legal_on_time}
    _put_case(overlay, record, _step("decide", approver, role, ctx, decision=args.decision, reason=args.reason,
                                     on_time=on_time, certificate_id=record["certificate_id"]))
    # EVENTS
    events.insert(0, _event("decided", record, ctx.signer, decision=args.decision, on_time=on_time,
                            certificate_id=record["certificate_id"]))
    return Outcome(tuple(events), _entities(record, *extra))


_CASE_ID: Final = "0123456789abcdef0123456789abcdef"
_MATERIAL_ID: Final = "fedcba9876543210fedcba9876543210"

METHODS: Final[dict[str, Method]] = {
    "file": Method(
        parse=parse_file, handler=file, targets=compute_file_targets,
        description="A clerk of the item's implementing department files a case citing materials: accepted with "
                    "a deadline if complete, else returned with the complete list of problems.",
        example={"item_code": "SAMR-001", "holder_ref": "<32 bytes>", "materials": [_MATERIAL_ID],
                 "note": "walk-in application"},
    ),
    "resubmit": Method(
        parse=parse_resubmit, handler=resubmit, targets=compute_case_targets,
        description="A clerk adds corrected materials to a returned case; the check runs again.",
        example={"case_id": _CASE_ID, "materials": [_MATERIAL_ID]},
    ),
    "request_correction": Method(
        parse=parse_request_correction, handler=request_correction, targets=compute_case_targets,
        description="A reviewer or approver returns an accepted case for corrections; its clock is suspended.",
        example={"case_id": _CASE_ID, "problems": [{"material_type": "lease", "reason": "signature page missing"}],
                 "note": "bring the complete lease"},
    ),
    "review": Method(
        parse=parse_review, handler=review, targets=compute_case_targets,
        description="A reviewer of the case's department records an opinion (agree, disagree or note).",
        example={"case_id": _CASE_ID, "opinion": "agree", "comment": "materials complete and consistent"},
    ),
    "opinion": Method(
        parse=parse_opinion, handler=opinion, targets=compute_case_targets,
        description="A reviewer or approver of a parallel department gives that department's one opinion.",
        example={"case_id": _CASE_ID, "opinion": "agree", "comment": "no tax arrears"},
    ),
    "hand_over": Method(
        parse=parse_hand_over, handler=hand_over, targets=compute_case_targets,
        description="The case's officer or a department admin hands the case to another officer of the department.",
        example={"case_id": _CASE_ID, "to": "<32 bytes>", "reason": "officer on leave"},
    ),
    "decide": Method(
        parse=parse_decide, handler=decide, targets=compute_case_targets,
        description="An approver of the case's department approves or denies it; approval of an item with a "
                    "certificate type issues the certificate in the same transaction, its issuing officer the "
                    "approver (holding issuer too) or certificate.issuer_officer (a key of the department "
                    "holding issuer).",
        example={"case_id": _CASE_ID, "decision": "approve", "reason": "all conditions met",
                 "certificate": {"content_hash": "<32 bytes>", "valid_until_ms": 1_930_000_000_000,
                                 "metadata": {"name": "..."}, "issuer_officer": "<32 bytes>"}},
    ),
}
