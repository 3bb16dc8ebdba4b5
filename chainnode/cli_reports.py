"""The `report` command group: an auditor's reports. `report authority` lists committed actions whose signer
lacked the role or department they needed (GET /v1/reports/authority); `report case | cert | department`
write a printable single-file HTML report, or its JSON, of every event of a case, a certificate or a
department's period (chainnode.reports).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, Final

from chainnode.cli import UsageError, emit, open_client
from chainnode.cli_records import add_action, format_local_ms, positive_int, utc_offset

MAX_BLOCKS: Final = 10_000


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
