"""The `report` command group: an auditor's reports. `report authority` lists committed actions whose signer
lacked the role or department they needed (GET /v1/reports/authority); `report case | cert | department`
write a printable single-file HTML report, or its JSON, of every event of a case, a certificate or a
department's period (chainnode.reports).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from chainnode import reports
from chainnode.cli import UsageError, add_read_key, emit, open_client, write_output_file
from chainnode.cli_records import add_action, date_arg, format_local_ms, positive_int, record_id, utc_offset
from chainnode.errors import ChainError
from chainnode.genesis import Genesis, load_genesis
from contracts.calendar import format_date

if TYPE_CHECKING:
    from chainnode.client import Client

MAX_BLOCKS: Final = 10_000
PAGE: Final = 1000


@dataclass(frozen=True, slots=True)
class Subject:
    """What a report is about, as gathered from the node: its title, facts, history bounds and the check of
    its record against genesis."""

    title: str
    height: int
    facts: tuple[tuple[str, str], ...]
    entity: str
    from_height: int | None
    record_check: reports.Verification


def cmd_report_authority(args: argparse.Namespace) -> int:
    """Exit 0 when nothing is flagged, 1 when some action was not authorised (so a scheduled check can alert)."""
    if args.from_height is not None and args.to_height is not None:
        if args.to_height < args.from_height:
            raise UsageError(f"--to {args.to_height} is below --from {args.from_height}", field="to_height")
        if args.to_height - args.from_height + 1 > MAX_BLOCKS:
            raise UsageError(f"a report covers at most {MAX_BLOCKS} blocks: ask for the range in parts",
                             field="to_height")
    with open_client(args) as client:
        answer = client.authority_report(from_height=args.from_height, to_height=args.to_height)
        offset = 0 if args.json else utc_offset(client)
    findings = answer.get("findings") or []
    lines = [f"authority check of blocks {answer.get('from_height')} to {answer.get('to_height')}: "
             f"{answer.get('checked')} decision(s), certificate and document action(s) checked, "
             f"{len(findings)} finding(s)"]
    for f in findings:
        who = f"{f.get('signer_name')} ({f.get('signer_department')}; {', '.join(f.get('signer_roles') or []) or '-'})"
        lines.append(f"  height {f.get('height')}  {format_local_ms(int(f.get('time_ms') or 0), offset)}  "
                     f"{f.get('contract')}.{f.get('method')}  {str(f.get('problem')).upper()}  by {who}")
        lines.append(f"    {f.get('detail')}  tx {f.get('tx_id')}")
    if answer.get("next_from_height"):
        lines.append(f"(the chain continues: --from {answer['next_from_height']})")
    emit(args, answer, lines)
    return 1 if findings else 0


def _proof(answer: dict[str, Any]) -> bytes:
    from chainnode.cli import _unb64

    return _unb64(answer.get("proof") or "")


def _record_check(what: str, genesis: Genesis | None, check: Callable[[Genesis], tuple[str, ...]]
                  ) -> reports.Verification:
    """`check(genesis)`'s lines as a verified check, a failed one if it raises, or 'not verified'."""
    if genesis is None:
        return reports.Verification(status=reports.NOT_VERIFIED, lines=(f"{what}: not verified (give --genesis G)",))
    try:
        return reports.Verification(status="verified", lines=check(genesis))
    except ChainError as exc:
        return reports.verification_failed(what, exc)


def _case_subject(client: Client, args: argparse.Namespace, genesis: Genesis | None) -> Subject:
    from chainnode.case_verify import verify_case

    answer = client.case(args.id, height=args.height)
    c, height = answer.get("case") or {}, int(answer.get("height") or 0)
    decision = c.get("decision") or {}
    facts = (("Case", c.get("case_id")),
             ("Item", f"{c.get('item_code')} v{c.get('item_version')} ({c.get('item_name')})"),
             ("Department", c.get("department")),
             ("First-contact officer", f"{c.get('officer_name')} ({c.get('officer')})"),
             ("Holder reference", c.get("holder_ref")), ("Status", str(c.get("status")).upper()),
             ("Filed at height", c.get("filed_height")),
             ("Deadline", f"{c.get('deadline_date') or 'none'}" + (" (OVERDUE)" if c.get("overdue") else "")),
             ("Decision", f"{decision.get('decision')} at height {decision.get('height')}: {decision.get('reason')}"
              if decision else "none yet"),
             ("Certificate", c.get("certificate_id") or "none"))
    def check(genesis: Genesis) -> tuple[str, ...]:
        v = verify_case(genesis, args.id, _proof(client.case_proof(args.id, height=height)))
        return (f"case record: proven at height {v.proven_at_height} ({v.proven_time}), block {v.proven_block_hash}: "
                f"{v.verdict}, held by {v.department}, officer {v.officer_name}, deadline {v.deadline or 'none'}",)

    return Subject(f"Case report {args.id}", height, tuple((k, str(v)) for k, v in facts), f"case:{args.id}", None,
                   _record_check("case record", genesis, check))


def _cert_subject(client: Client, args: argparse.Namespace, genesis: Genesis | None) -> Subject:
    from chainnode.cert_verify import verify_certificate

    answer = client.certificate(args.id, height=args.height)
    c, height = answer.get("certificate") or {}, int(answer.get("height") or 0)
    facts = (("Certificate", c.get("cert_id")), ("Type", c.get("cert_type")),
             ("Version", f"{c.get('version')} of {c.get('latest_version')}"), ("Holder reference", c.get("holder_ref")),
             ("Issued by", f"{c.get('issuer')}, officer {c.get('issuer_officer_name')} ({c.get('issuer_officer')})"),
             ("Issued at height", c.get("issued_height")), ("From case", c.get("case_id") or "none"),
             ("Content hash", c.get("content_hash")), ("Status", str(c.get("status")).upper()),
             *((f"Metadata: {k}", v) for k, v in (c.get("metadata") or {}).items()))
    def check(genesis: Genesis) -> tuple[str, ...]:
        v = verify_certificate(genesis, args.id, _proof(client.cert_proof(args.id, height=height)))
        return (f"certificate record: proven at height {v.proven_at_height} ({v.proven_time}), block "
                f"{v.proven_block_hash}: {v.verdict}; issued by {v.issuer}, officer {v.officer_name} holding "
                f"{', '.join(v.officer_roles_at_issue) or 'no role'} at height {v.issued_height}",
                *(f"reason: {r}" for r in v.reasons))

    return Subject(f"Certificate report {args.id}", height, tuple((k, str(v)) for k, v in facts), f"cert:{args.id}",
                   None, _record_check("certificate record", genesis, check))


def _department_subject(client: Client, args: argparse.Namespace, genesis: Genesis | None) -> Subject:
    from_date = None if args.from_date is None else format_date(args.from_date)
    to_date = None if args.to_date is None else format_date(args.to_date)
    if from_date or to_date:
        answer = client.supervision(args.code, from_date=from_date, to_date=to_date)
        last = int(answer.get("to_height") or 0)
        period = (f"{from_date or 'the start'} to {to_date or 'now'} (heights {answer.get('from_height')} "
                  f"to {last})")
    else:
        answer = client.supervision(args.code, height=args.to_height, from_height=args.from_height)
        last = int(answer.get("height") or 0)
        period = f"heights {answer.get('from_height') or 1} to {last}"
    rate = answer.get("on_time_rate")
    facts = (("Department", args.code), ("Period (cases filed)", period), ("Open", answer.get("open")),
             ("Returned for correction", answer.get("returned")), ("Decided", answer.get("decided")),
             ("On-time rate", "no decisions" if rate is None else f"{rate}%"),
             ("Overdue now", ", ".join(c["case_id"] for c in answer.get("overdue") or []) or "none"))
    check = reports.Verification(status=reports.NOT_VERIFIED, lines=(
        "department figures: as the node reported them (each event below can be verified with --verify)",))
    return Subject(f"Department report {args.code}", last, tuple((k, str(v)) for k, v in facts),
                   f"department:{args.code}", max(1, int(answer.get("from_height") or 1)), check)


GATHER: Final = {"case": _case_subject, "cert": _cert_subject, "department": _department_subject}


def build_report(client: Client, args: argparse.Namespace, genesis: Genesis | None,
                 verify_trace: reports.TraceVerifier | None) -> reports.Report:
    """Gather a report from the node: the subject, every event of its history up to the subject's height,
    and the checks against genesis that were asked for."""
    subject = GATHER[args.action](client, args, genesis)
    status = client.status()
    prove = verify_trace is not None and genesis is not None
    events: list[dict[str, Any]] = []
    verified: list[bool] | None = [] if prove else None
    cursor: str | None = None
    while subject.from_height is None or subject.from_height <= subject.height:
        page = client.history_page(subject.entity, limit=PAGE, from_height=subject.from_height,
                                   to_height=subject.height, cursor=cursor, proof=prove)
        events += page.get("events") or []
        if verified is not None and verify_trace is not None and genesis is not None:
            verified += verify_trace(genesis, page)
        cursor = page.get("next_cursor")
        if not cursor:
            break
    offset = utc_offset(client)
    checks = [subject.record_check, reports.summarise_events(reports.compute_event_rows(events, verified, offset))]
    if genesis is not None and status.get("genesis_hash") != genesis.hash.hex():
        checks.append(reports.Verification(status="failed", lines=(
            f"the node's genesis hash {status.get('genesis_hash')} is not {genesis.hash.hex()} (of {args.genesis}): "
            "it serves another network",)))
    return reports.Report(
        kind=reports.KINDS[list(GATHER).index(args.action)], subject=args.id if args.action != "department"
        else args.code, title=subject.title, chain_id=str(status.get("chain_id")),
        genesis_hash=genesis.hash.hex() if genesis is not None else str(status.get("genesis_hash")),
        genesis_source=f"of genesis file {args.genesis}" if genesis is not None else "as the node reported it",
        as_of_height=subject.height, utc_offset_minutes=offset, facts=subject.facts,
        events=tuple(reports.compute_event_rows(events, verified, offset)), verification=reports.combine(*checks))


def cmd_report(args: argparse.Namespace) -> int:
    """Write the report (HTML to --out or stdout, or its JSON); exit 1 if a requested check failed."""
    if args.verify and args.genesis is None:
        raise UsageError("--verify checks each event against a genesis file: give --genesis G too", field="genesis")
    if args.action == "department":
        if (args.from_date or args.to_date) and (args.from_height or args.to_height):
            raise UsageError("a period is --from-date/--to-date or --from/--to heights, not both")
        if args.from_date and args.to_date and args.to_date < args.from_date:
            raise UsageError("--to-date is before --from-date: the period ends before it starts", field="to_date")
    genesis = None if args.genesis is None else load_genesis(args.genesis)
    with open_client(args) as client:
        verifier = reports.verify_trace_by_proofs(client.tx_proof) if args.verify else None
        report = build_report(client, args, genesis, verifier)
    status = report.verification.status
    if args.json:
        emit(args, report.to_json(), [])
    elif args.out is not None:
        write_output_file(args.out, reports.render_html(report).encode())
        emit(args, {}, [f"{report.title}: {len(report.events)} event(s) as of height {report.as_of_height}, "
                        f"verification: {status}; written to {args.out}"])
    else:
        args.emitted = True
        print(reports.render_html(report), end="")
    return 1 if status == "failed" else 0


def add_commands(sub: Any, both: Sequence[argparse.ArgumentParser]) -> None:
    """Add `chainnode report` to the `chainnode` parser."""
    group = sub.add_parser("report", help="an auditor's reports: authority checks, case, certificate and "
                                          "department reports (HTML or JSON)")
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = add_action(actions, "authority", both, cmd_report_authority, "committed actions whose signer lacked the "
                   "role or department they needed (exit 1 if any)")
    p.add_argument("--from", dest="from_height", type=positive_int, metavar="H", help="first block")
    p.add_argument("--to", dest="to_height", type=positive_int, metavar="H",
                   help=f"last block (at most {MAX_BLOCKS} blocks per report)")
    add_read_key(p)
    for name, help_text in (("case", "a case's report: facts, every event, verification"),
                            ("cert", "a certificate's report: facts, every event, verification"),
                            ("department", "a department's report for a period: supervision figures and every "
                                           "event")):
        p = add_action(actions, name, both, cmd_report, help_text + " (HTML, or --json)")
        add_read_key(p)
        if name == "department":
            p.add_argument("code", metavar="CODE", help="department code")
            p.add_argument("--from-date", type=date_arg, metavar="YYYY-MM-DD", help="cases filed from this day")
            p.add_argument("--to-date", type=date_arg, metavar="YYYY-MM-DD", help="cases filed up to this day")
            p.add_argument("--from", dest="from_height", type=positive_int, metavar="H", help="from block H")
            p.add_argument("--to", dest="to_height", type=positive_int, metavar="H", help="up to block H")
        else:
            p.add_argument("id", type=record_id, metavar="ID")
            p.add_argument("--height", type=positive_int, metavar="H", help="as of block H (default: the head)")
        p.add_argument("--out", type=Path, metavar="FILE.html", help="write the HTML here (default: stdout)")
        p.add_argument("--genesis", type=Path, metavar="GENESIS",
                       help="check the record (case, certificate) and the chain against this genesis")
        p.add_argument("--verify", action="store_true", help="also verify every event's transaction proof "
                       "against --genesis")
