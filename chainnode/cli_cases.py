"""The `case` and `cert` command groups of the CLI: work a case from filing to decision, issue and manage
certificates, and show either as of any height (state, steps, deadlines, status and history).

Shared helpers (submitting a call, argument types, dates in the network's time zone) are in
`chainnode.cli_records`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from chainnode import crypto
from chainnode.cli import UsageError, add_read_key, emit, open_client, read_input_file
from chainnode.cli_records import (
    Committed,
    add_action,
    add_content_choice,
    add_height,
    add_key_choice,
    content_hash,
    date_arg,
    emit_write,
    end_of_day_ms,
    format_date_ms,
    format_local_ms,
    hex32,
    positive_int,
    public_key,
    record_id,
    submit,
    utc_offset,
)
from chainnode.codec import Value
from contracts import case_queries, certificates
from contracts.calendar import format_date

if TYPE_CHECKING:
    from chainnode.client import Client

REVIEW_OPINIONS: Final = ("agree", "disagree", "note")
PARALLEL_OPINIONS: Final = ("agree", "disagree")
CASE_STATUSES: Final = ("returned", "accepted", "approved", "denied")
MAX_WITHIN_DAYS: Final = 3650


def problem_arg(text: str) -> dict[str, str]:
    """argparse type: TYPE:REASON, e.g. `address_proof:the lease is not signed`."""
    material_type, sep, reason = text.partition(":")
    if not sep or not material_type.strip() or not reason.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not TYPE:REASON (e.g. address_proof:lease not signed)")
    return {"material_type": material_type.strip(), "reason": reason.strip()}


def working_days_arg(text: str) -> int:
    """argparse type: 0 to 3650 working days."""
    if not text.isdigit() or int(text) > MAX_WITHIN_DAYS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of working days from 0 to {MAX_WITHIN_DAYS}")
    return int(text)


def format_duration(ms: int) -> str:
    minutes = ms // 60_000
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    return f"{days}d {hours}h {minutes:02d}m" if days else f"{hours}h {minutes:02d}m"


def _problems_text(problems: list[dict[str, Any]]) -> str:
    return "; ".join(f"{p.get('material_type')} ({p.get('reason')})" for p in problems) or "none"


def _deadline_text(case: dict[str, Any]) -> str:
    if case.get("deadline_date") is None:
        if case.get("suspended"):
            return f"suspended for correction, {case.get('working_days_left')} working day(s) left when resumed"
        return "none (the clock starts when the case is accepted)"
    left = case.get("working_days_left")
    standing = "OVERDUE" if case.get("overdue") else "on time"
    if case.get("decision") is None and left is not None:
        standing += f", {left} working day(s) left"
    return (f"{case.get('deadline_date')} ({case.get('promised_limit_days')} working days promised; {standing}); "
            f"legal deadline {case.get('legal_deadline_date')}")


# --- case: writes ------------------------------------------------------------------------------------


def _case_outcome(client: Client, done: Committed, case_id: str) -> tuple[dict[str, Any], list[str]]:
    """The case after the call (read at the call's height) and a line saying where it stands."""
    if done.height is None:
        return {}, []
    case = client.case(case_id, height=done.height).get("case") or {}
    status = case.get("status")
    if status == "returned":
        line = f"case {case_id} RETURNED for correction (补正): {_problems_text(case.get('problems') or [])}"
    elif status == "accepted":
        line = f"case {case_id} ACCEPTED; deadline {_deadline_text(case)}"
    else:
        line = f"case {case_id} {str(status).upper()}"
    return case, [line, f"  {done.where()}; show it: chainnode case show {case_id}"]


def cmd_case_file(args: argparse.Namespace) -> int:
    call: dict[str, Value] = {"item_code": args.item, "holder_ref": args.holder, "materials": args.material,
                              "note": args.note}
    with open_client(args) as client:
        done = submit(args, client, "cases", "file", call)
        case_id = done.record_id("case_id", case_queries.compute_case_id)
        case, lines = _case_outcome(client, done, case_id)
    return emit_write(args, done, lines, new_id=case_id, case_id=case_id, case=case)


def cmd_case_resubmit(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        done = submit(args, client, "cases", "resubmit", {"case_id": args.id, "materials": args.material,
                                                          "note": args.note})
        case, lines = _case_outcome(client, done, args.id)
    return emit_write(args, done, lines, case_id=args.id, case=case)


def cmd_case_step(args: argparse.Namespace) -> int:
    """review, opinion, request-correction and hand-over: one step on the case, status mostly unchanged."""
    call: dict[str, Value] = {"case_id": args.id}
    if args.action in ("review", "opinion"):
        call.update(opinion=args.opinion, comment=args.comment)
        method, what = args.action, f"{args.action} '{args.opinion}' recorded"
    elif args.action == "request-correction":
        call.update(problems=args.problem, note=args.note)
        method, what = "request_correction", "returned for correction; its clock is suspended"
    else:
        to = public_key(args, "to", "to_key")
        call.update(to=to, reason=args.reason)
        method, what = "hand_over", f"handed over to {to.hex()}"
    with open_client(args) as client:
        done = submit(args, client, "cases", method, call)
    return emit_write(args, done, [f"case {args.id}: {what} (status {done.attribute('status')})",
                                   f"  {done.where()}"], case_id=args.id)


def cmd_case_decide(args: argparse.Namespace) -> int:
    call: dict[str, Value] = {"case_id": args.id, "decision": "approve" if args.approve else "deny",
                              "reason": args.reason}
    cert_hash = content_hash(args, "cert_content", "cert_content_hash")
    if cert_hash is None and args.valid_until is not None:
        raise UsageError("--valid-until applies to the certificate: give --cert-content or --cert-content-hash too")
    if cert_hash is None and args.issuer_officer is not None:
        raise UsageError("--issuer-officer applies to the certificate: give --cert-content or --cert-content-hash too")
    with open_client(args) as client:
        if cert_hash is not None:
            certificate: dict[str, Value] = {"content_hash": cert_hash}
            if args.valid_until is not None:
                certificate["valid_until_ms"] = end_of_day_ms(args.valid_until, utc_offset(client))
            if args.issuer_officer is not None:
                certificate["issuer_officer"] = args.issuer_officer
            call["certificate"] = certificate
        done = submit(args, client, "cases", "decide", call)
    cert_id = done.attribute("certificate_id")
    lines = [f"case {args.id} {'APPROVED' if args.approve else 'DENIED'}: {args.reason}"
             + ("" if done.attribute("on_time") is not False else " (after its deadline)")]
    if cert_id:
        lines.append(f"  certificate {cert_id} issued; show it: chainnode cert show {cert_id}")
    lines.append(f"  {done.where()}")
    return emit_write(args, done, lines, case_id=args.id, cert_id=cert_id)


# --- case: reads -------------------------------------------------------------------------------------


def _case_lines(case: dict[str, Any], spent: dict[str, Any], offset: int, height: Any) -> list[str]:
    lines = [
        f"case {case.get('case_id')}: item {case.get('item_code')} v{case.get('item_version')} "
        f"({case.get('item_name')})  [{str(case.get('status')).upper()} as of height {height}]",
        f"  department:   {case.get('department')}; first-contact officer {case.get('officer_name')} "
        f"({case.get('officer')})",
        f"  holder:       {case.get('holder_ref')}",
        f"  filed:        height {case.get('filed_height')}, {format_local_ms(int(case.get('filed_ms') or 0), offset)}",
        f"  deadline:     {_deadline_text(case)}",
    ]
    for m in case.get("materials") or []:
        aside = f" [set aside: {m.get('set_aside')}]" if m.get("set_aside") else ""
        lines.append(f"  material:     {m.get('material_id')} {m.get('material_type')} by {m.get('issuer')} "
                     f"({m.get('form')}){aside}")
    if case.get("problems"):
        lines.append(f"  to correct:   {_problems_text(case['problems'])}")
    for department, o in (case.get("opinions") or {}).items():
        lines.append(f"  opinion:      {department} {o.get('opinion')} ({o.get('name')}): {o.get('comment')}")
    decision = case.get("decision")
    if decision:
        when = "on time" if decision.get("on_time") else "after the deadline"
        lines.append(f"  decision:     {decision.get('decision')} by {decision.get('name')} at height "
                     f"{decision.get('height')} ({when}): {decision.get('reason')}")
    if case.get("certificate_id"):
        lines.append(f"  certificate:  {case['certificate_id']}")
    lines.append("  steps:")
    for step, timing in zip(case.get("steps") or [], spent.get("steps") or [], strict=False):
        detail = step.get("opinion") or step.get("decision") or step.get("status") or step.get("to_name") or ""
        lines.append(f"    {timing.get('index', 0) + 1}. height {step.get('height')}  "
                     f"{format_local_ms(int(step.get('time_ms') or 0), offset)}  {step.get('kind')} {detail}  "
                     f"by {step.get('name')} ({step.get('department')} {step.get('role')})  "
                     f"+{format_duration(int(timing.get('ms') or 0))}, {timing.get('working_days')} working day(s)")
    lines.append(f"  time spent:   {format_duration(int(spent.get('total_ms') or 0))}, "
                 f"{spent.get('total_working_days')} working day(s)")
    for officer in spent.get("officers") or []:
        lines.append(f"    {officer.get('name')} ({officer.get('department')}): {officer.get('steps')} step(s), "
                     f"{format_duration(int(officer.get('ms') or 0))}, {officer.get('working_days')} working day(s)")
    return lines


def cmd_case_show(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        answer = client.case(args.id, height=args.height)
        offset = utc_offset(client)
    lines = _case_lines(answer.get("case") or {}, answer.get("time_spent") or {}, offset, answer.get("height"))
    emit(args, answer, lines)
    return 0


def _case_row(c: dict[str, Any]) -> str:
    flag = "  OVERDUE" if c.get("overdue") else ""
    return (f"  {c.get('case_id')}  {c.get('item_code')}  {c.get('status'):<8}  deadline "
            f"{c.get('deadline_date') or '-'}{flag}")


def cmd_case_list(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        answer = client.cases(args.department, args.status, height=args.height)
    found = answer.get("cases") or []
    which = f" {args.status}" if args.status else ""
    lines = [f"{args.department}: {len(found)}{which} case(s) at height {answer.get('height')}, newest first"]
    emit(args, answer, lines + [_case_row(c) for c in found])
    return 0


def _supervision_period(args: argparse.Namespace, answer: dict[str, Any]) -> str:
    if args.from_date or args.to_date:
        return (f" for cases filed {answer.get('from_date') or 'from the start'} to {answer.get('to_date') or 'now'} "
                f"(heights {answer.get('from_height')} to {answer.get('to_height')})")
    return "" if not args.from_height else f", cases filed from height {args.from_height}"


def _officer_lines(answer: dict[str, Any]) -> list[str]:
    def median(ms: Any, days: Any) -> str:
        return "-" if ms is None else f"{format_duration(int(ms))} ({days} working day(s))"

    lines = ["  time per step (median since the step before):"]
    for s in answer.get("time_per_step") or []:
        spent = "starts the clock" if s.get("kind") == "file" else median(s.get("median_ms"),
                                                                           s.get("median_working_days"))
        lines.append(f"    {s.get('kind'):<20} {s.get('count'):>5} step(s)  {spent}")
    lines.append("  per officer:")
    lines += [f"    {o.get('name')} ({o.get('department')}, {str(o.get('signer'))[:16]}…): {o.get('cases')} case(s), "
              f"{o.get('on_time')} decided on time, {o.get('overdue')} overdue; {o.get('steps')} step(s), median "
              f"{median(o.get('median_step_ms'), o.get('median_step_working_days'))}"
              for o in answer.get("officers") or []]
    return lines


def cmd_case_overdue(args: argparse.Namespace) -> int:
    department = args.department or args.department_option
    if not department or (args.department and args.department_option):
        raise UsageError("name one department: DEPT or --department DEPT", field="department")
    if (args.from_date or args.to_date) and (args.from_height or args.height):
        raise UsageError("a period is --from-date/--to-date or --from-height/--height, not both")
    if args.from_date and args.to_date and args.to_date < args.from_date:
        raise UsageError("--to-date is before --from-date: the period ends before it starts", field="to_date")
    dates = {name: None if value is None else format_date(value)
             for name, value in (("from_date", args.from_date), ("to_date", args.to_date))}
    with open_client(args) as client:
        answer = client.supervision(department, args.within_days, height=args.height, from_height=args.from_height,
                                    per_officer=args.per_officer, **dates)
    rate = answer.get("on_time_rate")
    lines = [
        f"{department} at height {answer.get('height')}{_supervision_period(args, answer)}: {answer.get('open')} "
        f"open, {answer.get('returned')} "
        f"returned, {answer.get('decided')} decided ({'no decisions yet' if rate is None else f'{rate}% on time'})",
        f"  overdue ({len(answer.get('overdue') or [])}):",
    ]
    row = "    {case_id}  {item_code}  officer {officer_name}  deadline {deadline_date}  {working_days_left} day(s)"
    lines += [row.format(**c) for c in answer.get("overdue") or []]
    lines.append(f"  due within {args.within_days} working day(s) ({len(answer.get('due_soon') or [])}):")
    lines += [row.format(**c) for c in answer.get("due_soon") or []]
    if args.per_officer:
        lines += _officer_lines(answer)
    emit(args, answer, lines)
    return 0


def cmd_case_status(args: argparse.Namespace) -> int:
    """A case's standing trusting only genesis (or a saved trust file): exit 0 when the proof verifies, 1 for a
    proven absence (or a node that cannot answer), 2 for a proof (or trust file) that does not verify."""
    from chainnode.case_verify import verify_case
    from chainnode.cli import _unb64, decode_proof_file, report_error, write_output_file
    from chainnode.errors import InvalidProof
    from chainnode.genesis import load_genesis

    genesis = load_genesis(args.genesis)
    try:
        trust = read_trust(args.trust, genesis)
        if args.proof is not None:
            bundle, source = decode_proof_file(args.proof)[0], f"proof file {args.proof}"
        else:
            with open_client(args) as client:
                answer = client.case_proof(args.id, height=args.height,
                                           trusted_height=None if trust is None else trust.height)
                source = f"node {client.base_url}"
            bundle = _unb64(answer.get("proof") or "")
        v = verify_case(genesis, args.id, bundle, trust)
    except InvalidProof as exc:
        report_error(exc, args)
        return 2
    if args.proof_out is not None:
        write_output_file(args.proof_out, bundle)
    if args.trust_out is not None and v.trust is not None:
        write_output_file(args.trust_out, (json.dumps(v.trust.to_json(), indent=2) + "\n").encode())
    department = v.department + (f" ({v.department_name})" if v.department_name else "")
    deadline = "none yet (the clock starts when the case is accepted)" if v.deadline is None else \
        f"{v.deadline} ({'OVERDUE' if v.overdue else 'not overdue'} as of {v.proven_time})"
    decided = "" if v.decision is None else f"; decision {v.decision} at height {v.decision_height}"
    root = f"genesis {args.genesis}" + ("" if trust is None else
                                        f" and trust file {args.trust} (height {trust.height})")
    lines = [
        f"checked the proof from {source} against {root} (chain {genesis.chain_id}) only",
        f"{v.verdict}: case {v.case_id}, item {v.item_code} ({v.item_name})",
        f"  held by:     {department}, officer {v.officer_name} (key {v.officer})",
        f"  filed:       height {v.filed_height}, {v.filed_time}",
        f"  deadline:    {deadline}",
        f"  last step:   {v.last_step} at height {v.last_step_height}{decided}",
        *([f"  certificate: {v.certificate_id}"] if v.certificate_id else []),
        f"  proof:       height {v.proven_at_height} ({v.proven_time}), block {v.proven_block_hash}",
    ]
    if args.trust_out is not None:
        lines.append(f"  saved:       trust in the validator set of height {v.proven_at_height} to {args.trust_out}")
    document = {k: value for k, value in asdict(v).items() if k != "trust"}
    emit(args, {"verified": True, "verdict": v.verdict, **document}, lines)
    return 0


def add_case(sub: Any, both: Sequence[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("case", help="file and work cases (办件) against approval items")
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = add_action(actions, "file", both, cmd_case_file, "file a case citing materials (clerk)", write=True)
    p.add_argument("--item", required=True, metavar="CODE")
    p.add_argument("--holder", type=hex32, required=True, metavar="HEX", help="the applicant's holder reference")
    p.add_argument("--material", type=record_id, action="append", default=[], metavar="ID", help="repeatable")
    p.add_argument("--note", default=None)
    p = add_action(actions, "resubmit", both, cmd_case_resubmit, "add corrected materials to a returned case "
                   "(clerk)", write=True)
    p.add_argument("id", type=record_id, metavar="ID")
    p.add_argument("--material", type=record_id, action="append", required=True, metavar="ID", help="repeatable")
    p.add_argument("--note", default=None)
    for name, choices, help_text in (("review", REVIEW_OPINIONS, "record a review opinion (reviewer)"),
                                     ("opinion", PARALLEL_OPINIONS, "a parallel department's opinion")):
        p = add_action(actions, name, both, cmd_case_step, help_text, write=True)
        p.add_argument("id", type=record_id, metavar="ID")
        p.add_argument("--opinion", required=True, choices=choices)
        p.add_argument("--comment", required=True)
    p = add_action(actions, "request-correction", both, cmd_case_step, "return an accepted case for corrections",
                   write=True)
    p.add_argument("id", type=record_id, metavar="ID")
    p.add_argument("--problem", type=problem_arg, action="append", required=True, metavar="TYPE:REASON",
                   help="repeatable")
    p.add_argument("--note", required=True, help="what the applicant must do")
    p = add_action(actions, "hand-over", both, cmd_case_step, "hand the case to another officer", write=True)
    p.add_argument("id", type=record_id, metavar="ID")
    add_key_choice(p, "to", "to-key", "the new officer's key")
    p.add_argument("--reason", required=True)
    p = add_action(actions, "decide", both, cmd_case_decide, "approve or deny an accepted case (approver)",
                   write=True)
    p.add_argument("id", type=record_id, metavar="ID")
    decision = p.add_mutually_exclusive_group(required=True)
    decision.add_argument("--approve", dest="approve", action="store_true", default=None)
    decision.add_argument("--deny", dest="approve", action="store_false")
    p.add_argument("--reason", required=True)
    add_content_choice(p, "cert-content", required=False)
    p.add_argument("--valid-until", type=date_arg, metavar="YYYY-MM-DD", help="the certificate's last valid day")
    p.add_argument("--issuer-officer", type=hex32, metavar="HEX",
                   help="the certificate's issuing officer, a key of the department holding issuer (needed when "
                        "the approver holds no issuer role)")
    p = add_action(actions, "show", both, cmd_case_show, "a case: state, steps, deadline, time spent")
    add_read_key(p)
    p.add_argument("id", type=record_id, metavar="ID")
    add_height(p)
    p = add_action(actions, "status", both, cmd_case_status, "a case's department, officer, status and deadline, "
                   "checked trusting only genesis (exit 0 if the proof verifies)")
    add_read_key(p)
    p.add_argument("id", type=record_id, metavar="ID")
    p.add_argument("--genesis", type=Path, required=True, metavar="GENESIS")
    p.add_argument("--height", type=positive_int, metavar="H", help="prove the state after block H (default: head)")
    proof = p.add_mutually_exclusive_group()
    proof.add_argument("--proof", type=Path, metavar="FILE", help="check this saved proof offline")
    proof.add_argument("--proof-out", type=Path, metavar="FILE", help="save the proof for offline checks")
    add_trust_options(p)
    p = add_action(actions, "list", both, cmd_case_list, "a department's cases, newest first")
    add_read_key(p)
    p.add_argument("--department", required=True, metavar="CODE")
    p.add_argument("--status", choices=CASE_STATUSES)
    add_height(p)
    p = add_action(actions, "overdue", both, cmd_case_overdue, "deadline supervision: overdue and due-soon cases, "
                   "on-time rate, time per step and per officer, for a period")
    add_read_key(p)
    p.add_argument("department", nargs="?", metavar="DEPT", help="department code")
    p.add_argument("--department", dest="department_option", metavar="CODE", help="the same, as an option")
    p.add_argument("--from-date", type=date_arg, metavar="YYYY-MM-DD",
                   help="only cases filed on or after this day (the network's time zone)")
    p.add_argument("--to-date", type=date_arg, metavar="YYYY-MM-DD",
                   help="only cases filed up to this day inclusive, reported as of the day's last block")
    p.add_argument("--per-officer", action="store_true", help="add time per step and per officer")
    p.add_argument("--within-days", type=working_days_arg, default=3, metavar="N",
                   help="due within N working days (default 3)")
    p.add_argument("--from-height", type=positive_int, metavar="H",
                   help="only cases filed at or after block H: a period, with --height as its end")
    add_height(p)


# --- cert --------------------------------------------------------------------------------------------


def certificate_line(c: dict[str, Any]) -> str:
    """One line for a certificate in a list: ID, type, issuer, version and status."""
    return f"{c.get('cert_id')}  {c.get('cert_type')}  by {c.get('issuer')}  v{c.get('version')}  {c.get('status')}"


def _validity_text(c: dict[str, Any], offset: int) -> str:
    start = format_date_ms(int(c.get("valid_from_ms") or 0), offset)
    until = c.get("valid_until_ms")
    return f"from {start}" + (" with no end" if until is None else
                              f" to {format_date_ms(int(until), offset, last_day=True)} inclusive")


def cmd_cert_issue(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        offset = utc_offset(client)
        call: dict[str, Value] = {
            "cert_type": args.type, "holder_ref": args.holder, "content_hash": content_hash(args),
            "valid_until_ms": None if args.valid_until is None else end_of_day_ms(args.valid_until, offset),
            "materials": args.material or None,
        }
        done = submit(args, client, "certificates", "issue", call)
    cert_id = done.record_id("cert_id", certificates.compute_cert_id)
    until = done.attribute("valid_until_ms")
    validity = "with no end of validity" if until is None else \
        f"valid to {format_date_ms(int(until), offset, last_day=True)} inclusive"
    return emit_write(args, done, [
        f"certificate {cert_id} ({args.type}) issued by {done.attribute('issuer')} to holder {args.holder.hex()}, "
        f"{validity}",
        f"  {done.where()}; show it: chainnode cert show {cert_id}",
    ], new_id=cert_id, cert_id=cert_id)


def cmd_cert_change(args: argparse.Namespace) -> int:
    """amend, suspend, reinstate, renew, revoke."""
    call: dict[str, Value] = {"cert_id": args.id, "reason": args.reason}
    with open_client(args) as client:
        if args.action == "amend":
            call["content_hash"] = content_hash(args)
        if getattr(args, "valid_until", None) is not None:
            call["valid_until_ms"] = end_of_day_ms(args.valid_until, utc_offset(client))
        done = submit(args, client, "certificates", args.action, call)
    past = {"amend": "amended", "suspend": "suspended", "reinstate": "reinstated", "renew": "renewed",
            "revoke": "revoked"}[args.action]
    return emit_write(args, done, [f"certificate {args.id} {past} (now version {done.attribute('version')}): "
                                   f"{args.reason}", f"  {done.where()}"], cert_id=args.id)


def cmd_cert_show(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        answer = client.certificate(args.id, version=args.version, height=args.height)
        offset = utc_offset(client)
    c = answer.get("certificate") or {}
    history = c.get("history") or []
    issued = history[0] if history else {}
    version = f"version {c.get('version')} of {c.get('latest_version')}"
    if c.get("superseded"):
        version += f", superseded at height {c.get('superseded_height')} (status is the certificate's)"
    lines = [
        f"certificate {c.get('cert_id')}: {c.get('cert_type')} {version}  "
        f"[{str(c.get('status')).upper()} as of height {answer.get('height')}]",
        f"  holder:       {c.get('holder_ref')}",
        f"  issued by:    {c.get('issuer')}, officer {c.get('issuer_officer_name')} ({c.get('issuer_officer')})",
        f"  issued at:    height {c.get('issued_height')}, {format_local_ms(int(c.get('issued_ms') or 0), offset)}"
        + (f", from case {c.get('case_id')}" if c.get("case_id") else ""),
        f"  validity:     {_validity_text(c, offset)}",
        f"  content hash: {c.get('content_hash')}",
    ]
    if c.get("materials"):
        lines.append(f"  materials:    {', '.join(c['materials'])}")
    for key, value in (c.get("metadata") or {}).items():
        lines.append(f"  {key + ':':<13} {value}")
    if issued:
        lines.append("  history:")
    for entry in history:
        reason = f": {entry.get('reason')}" if entry.get("reason") else ""
        lines.append(f"    height {entry.get('height')}  {format_local_ms(int(entry.get('time_ms') or 0), offset)}  "
                     f"{entry.get('action')} v{entry.get('version')} by {entry.get('signer_name')} "
                     f"({entry.get('department')}){reason}")
    emit(args, answer, lines)
    return 0


def add_trust_options(p: argparse.ArgumentParser) -> None:
    """`--trust FILE` and `--trust-out FILE` of the commands that verify a state proof (docs/proofs.md)."""
    p.add_argument("--trust", type=Path, metavar="FILE", help="a trust file saved by --trust-out: proofs start "
                   "from its validator set, so they stay short")
    p.add_argument("--trust-out", type=Path, metavar="FILE", help="after a proof verifies, save the validator set "
                   "that signed it as the new trust root")


def read_trust(path: Path | None, genesis: Any) -> Any:
    """The verifier's saved trust root (`--trust FILE`), or None: trust genesis alone."""
    from chainnode.light import read_trust_file

    if path is None:
        return None
    return read_trust_file(read_input_file(path, "trust file").decode("utf-8", "replace"), genesis)


def cmd_cert_verify(args: argparse.Namespace) -> int:
    """Check a certificate trusting only genesis (or a saved trust file); exit 0 only for a valid one (and the
    file's content)."""
    from chainnode.cert_verify import verify_certificate
    from chainnode.cli import _unb64, decode_proof_file, write_output_file
    from chainnode.genesis import load_genesis

    genesis = load_genesis(args.genesis)
    trust = read_trust(args.trust, genesis)
    file_hash = None if args.file is None else crypto.compute_content_hash(read_input_file(args.file, "file"))
    if args.proof is not None:
        bundle, source = decode_proof_file(args.proof)[0], f"proof file {args.proof}"
    elif args.qr_image is not None:
        from chainnode.qr import read_qr

        bundle, source = read_qr(args.qr_image), f"QR code {args.qr_image}"
    else:
        with open_client(args) as client:
            params = {} if args.height is None else {"height": str(args.height)}
            if trust is not None:
                params["trusted_height"] = str(trust.height)
            if file_hash is not None:
                params["content_hash"] = file_hash.hex()
            answer = client._read(f"/v1/certs/{args.id}/proof", params)
            source = f"node {client.base_url}"
        bundle = _unb64(answer.get("proof") or "")
    v = verify_certificate(genesis, args.id, bundle, file_hash, trust)
    if args.proof_out is not None:
        write_output_file(args.proof_out, bundle)
    qr_version = None
    if args.qr is not None:
        from chainnode.qr import write_qr

        qr_version = write_qr(args.qr, bundle)
    if args.trust_out is not None and v.trust is not None:
        write_output_file(args.trust_out, (json.dumps(v.trust.to_json(), indent=2) + "\n").encode())
    issuer = v.issuer + (f" ({v.issuer_name})" if v.issuer_name else "")
    root = f"genesis {args.genesis}" + ("" if trust is None else
                                        f" and trust file {args.trust} (height {trust.height})")
    file_text = "" if v.content_matches is None else "; the file IS this content" if v.content_matches else \
        f"; the file is version {v.file_version}, NOT the current content" if v.file_version else \
        "; the file is NOT this content"
    lines = [
        f"checked a {len(bundle)}-byte proof from {source} against {root} (chain {genesis.chain_id})",
        f"{v.verdict}: certificate {v.cert_id} ({v.cert_type}), version {v.version} (the latest)",
        f"  issued by:   {issuer} at height {v.issued_height}, {v.issued_time}",
        f"  officer:     {v.officer_name} ({v.officer_department}, key {v.officer}), roles at that height: "
        f"{', '.join(v.officer_roles_at_issue) or 'none'}" + ("" if v.officer_held_issuer else "  <- NOT an issuer"),
        f"  validity:    from {v.valid_from}" + (f" until {v.valid_until}" if v.valid_until else " with no end"),
        f"  status:      {v.status} at height {v.proven_at_height} ({v.proven_time})",
        f"  content:     sha256 {v.content_hash}{file_text}",
        *(f"  reason:      {reason}" for reason in v.reasons),
        f"  proof:       block {v.proven_block_hash}",
    ]
    if args.proof_out is not None:
        lines.append(f"  saved:       proof ({len(bundle)} bytes) to {args.proof_out}")
    if qr_version is not None:
        lines.append(f"  saved:       QR code (version {qr_version}) to {args.qr}")
    if args.trust_out is not None:
        lines.append(f"  saved:       trust in the validator set of height {v.proven_at_height} to {args.trust_out}")
    document = {k: value for k, value in asdict(v).items() if k != "trust"}
    emit(args, {"verified": v.ok, "verdict": v.verdict, "proof_bytes": len(bundle), **document}, lines)
    return 0 if v.ok else 1


def add_cert(sub: Any, both: Sequence[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("cert", help="issue and manage electronic certificates (证照)")
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = add_action(actions, "issue", both, cmd_cert_issue, "issue a certificate (issuer of an authorised "
                   "department)", write=True)
    p.add_argument("--type", required=True, metavar="T", help="a registered certificate type")
    p.add_argument("--holder", type=hex32, required=True, metavar="HEX", help="the holder reference")
    add_content_choice(p)
    p.add_argument("--valid-until", type=date_arg, metavar="YYYY-MM-DD", help="last valid day (default: the type's)")
    p.add_argument("--material", type=record_id, action="append", default=[], metavar="ID", help="repeatable")
    p = add_action(actions, "amend", both, cmd_cert_change, "a new version with new content", write=True)
    p.add_argument("id", type=record_id, metavar="ID")
    add_content_choice(p)
    p.add_argument("--reason", required=True)
    p.add_argument("--valid-until", type=date_arg, metavar="YYYY-MM-DD", help="a new last valid day")
    for name, help_text in (("suspend", "suspend a valid certificate"), ("reinstate", "lift a suspension"),
                            ("revoke", "revoke a certificate (final)")):
        p = add_action(actions, name, both, cmd_cert_change, help_text, write=True)
        p.add_argument("id", type=record_id, metavar="ID")
        p.add_argument("--reason", required=True)
    p = add_action(actions, "renew", both, cmd_cert_change, "extend a certificate's validity", write=True)
    p.add_argument("id", type=record_id, metavar="ID")
    p.add_argument("--valid-until", type=date_arg, required=True, metavar="YYYY-MM-DD", help="the new last valid day")
    p.add_argument("--reason", required=True)
    p = add_action(actions, "verify", both, cmd_cert_verify, "check a certificate trusting only genesis: issuer, "
                   "officer's role, content, status (exit 0 only if valid)")
    p.add_argument("id", type=record_id, metavar="ID")
    p.add_argument("--genesis", type=Path, required=True, metavar="GENESIS")
    p.add_argument("--file", type=Path, metavar="FILE", help="the content presented; its SHA-256 must match")
    p.add_argument("--height", type=positive_int, metavar="H", help="prove the state after block H (default: head)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--proof", type=Path, metavar="FILE", help="check this saved proof offline")
    source.add_argument("--qr-image", type=Path, metavar="IMAGE", help="check the proof in this QR code image "
                        "offline (PNG, JPEG, ...)")
    p.add_argument("--proof-out", type=Path, metavar="FILE", help="save the proof (binary) for offline checks")
    p.add_argument("--qr", type=Path, metavar="FILE.png", help="save the proof as one QR code (PNG or SVG)")
    add_trust_options(p)
    p = add_action(actions, "show", both, cmd_cert_show, "a certificate and its status as of a height")
    p.add_argument("id", type=record_id, metavar="ID")
    p.add_argument("--version", type=positive_int, metavar="N", help="an earlier version")
    add_height(p)


def add_commands(sub: Any, both: Sequence[argparse.ArgumentParser]) -> None:
    add_case(sub, both)
    add_cert(sub, both)
