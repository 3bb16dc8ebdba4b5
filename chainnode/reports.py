"""An auditor's report of one case, certificate or department period: every event with its height, time, signer,
role, department, call and outcome, the chain and genesis it belongs to, and what was verified, as JSON and
as a single-file HTML page that prints on A4.

The module does no I/O: the CLI (`chainnode report`) gathers the node's answers and proofs, builds a `Report`
and renders it. Each event carries `verified`: True (its proof checked against genesis), False (a proof was
asked for and failed) or None (not verified). Event verification is a `TraceVerifier`, a function
`(genesis, history page) -> [bool]`, one per event of the page: the page's whole-trace proof
(`verify_trace_by_page_proof`, chainnode.trace_verify) or, from a node that sends none, each event's own
transaction proof (`verify_trace_by_tx_proofs`). Every text that reaches the HTML goes through
`html.escape`, so a hostile name, reason or metadata string cannot add markup.
"""

from __future__ import annotations

import base64
import binascii
import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from chainnode import light
from chainnode.anchor_verify import format_time_ms
from chainnode.errors import ChainError, InvalidProof
from chainnode.genesis import Genesis
from chainnode.trace_verify import verify_trace

TraceVerifier = Callable[[Genesis, dict[str, Any]], list[bool]]
"""`verify_trace(genesis, page) -> per-event bool`: whether each event of a history page (GET
/v1/history/{entity}, with its `proof` if asked for) is proven against genesis."""
NOT_VERIFIED: Final = "not verified"
KINDS: Final = ("case", "certificate", "department")


@dataclass(frozen=True, slots=True, kw_only=True)
class Verification:
    """The report's 'Verification' section: what was checked against genesis, and the outcome."""

    status: str
    """"verified", "failed" or "not verified"."""
    lines: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    kind: str
    """case, certificate or department."""
    subject: str
    title: str
    chain_id: str
    genesis_hash: str
    genesis_source: str
    """Where the genesis hash comes from: a genesis file the reader holds, or the node's word."""
    as_of_height: int
    utc_offset_minutes: int
    facts: tuple[tuple[str, str], ...] = ()
    events: tuple[dict[str, Any], ...] = ()
    verification: Verification = field(default_factory=lambda: Verification(status=NOT_VERIFIED))

    def to_json(self) -> dict[str, Any]:
        """The report's whole content, as the HTML shows it."""
        return {
            "kind": self.kind, "subject": self.subject, "title": self.title, "chain_id": self.chain_id,
            "genesis_hash": self.genesis_hash, "genesis_source": self.genesis_source,
            "as_of_height": self.as_of_height, "utc_offset_minutes": self.utc_offset_minutes,
            "facts": [{"name": name, "value": value} for name, value in self.facts],
            "events": list(self.events),
            "verification": {"status": self.verification.status, "lines": list(self.verification.lines)},
        }


# --- events --------------------------------------------------------------------------------------------


def format_local_time(time_ms: int, utc_offset_minutes: int) -> str:
    """A block time in the network's zone, e.g. 2026-03-02 09:00:00 UTC+08:00."""
    moment = datetime.fromtimestamp(time_ms / 1000, tz=UTC) + timedelta(minutes=utc_offset_minutes)
    sign = "+" if utc_offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(utc_offset_minutes), 60)
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC{sign}{hours:02d}:{minutes:02d}"


def compute_event_rows(events: Sequence[dict[str, Any]], verified: Sequence[bool] | None,
                       utc_offset_minutes: int) -> list[dict[str, Any]]:
    """The report's rows from history events (GET /v1/history): one per event, in chain order, with
    `verified` from the trace verifier (None when none ran)."""
    rows = []
    for i, e in enumerate(events):
        time_ms = int(e.get("time_ms") or 0)
        rows.append({
            "height": e.get("height"), "index": e.get("index"), "time_ms": time_ms,
            "time": format_time_ms(time_ms), "local_time": format_local_time(time_ms, utc_offset_minutes),
            "tx_id": e.get("tx_id"), "signer": e.get("signer"), "signer_name": e.get("signer_name"),
            "roles": list(e.get("signer_roles") or []), "department": e.get("signer_department"),
            "method": f"{e.get('contract')}.{e.get('method')}", "outcome": e.get("code"),
            "message": e.get("message") or "",
            "verified": None if verified is None else bool(verified[i]),
        })
    return rows


def is_event_proven(genesis: Genesis, event: dict[str, Any], data: bytes) -> bool:
    """Whether `data` is a transaction proof, valid against genesis, of exactly this event: its transaction,
    height, signer, call and outcome."""
    try:
        bundle = light.decode_bundle(data)
        if not isinstance(bundle, light.TxBundle):
            return False
        proven = light.verify_tx_bundle(genesis, bundle)
    except ChainError:
        return False
    body = proven.tx.body
    return (proven.tx.tx_id.hex() == event.get("tx_id") and proven.height == event.get("height")
            and body.signer.hex() == event.get("signer") and body.contract == event.get("contract")
            and body.method == event.get("method") and proven.result.code == event.get("code"))


def verify_trace_by_tx_proofs(fetch_tx_proof: Callable[[str], bytes]) -> TraceVerifier:
    """A TraceVerifier that checks each event's own transaction proof (`fetch_tx_proof(tx_id)`, e.g.
    `client.tx_proof`); an event whose proof cannot be fetched or fails is False."""
    def verify_trace(genesis: Genesis, page: dict[str, Any]) -> list[bool]:
        found = []
        for event in page.get("events") or []:
            try:
                data = fetch_tx_proof(str(event.get("tx_id")))
            except ChainError:
                found.append(False)
                continue
            found.append(is_event_proven(genesis, event, data))
        return found

    return verify_trace


def verify_trace_by_page_proof(genesis: Genesis, page: dict[str, Any]) -> list[bool]:
    """A TraceVerifier over the page's own proof (`GET /v1/history/{entity}?proof=1`: one bundle of every
    event, chainnode.trace_verify): every event True if it verifies, every event False if it does not."""
    events = page.get("events") or []
    try:
        verify_trace(genesis, events, base64.b64decode(str(page.get("proof") or ""), validate=True))
    except (ChainError, binascii.Error, ValueError):
        return [False] * len(events)
    return [True] * len(events)


def verify_trace_by_proofs(fetch_tx_proof: Callable[[str], bytes]) -> TraceVerifier:
    """The page's proof when the node sent one, else each event's transaction proof."""
    by_tx = verify_trace_by_tx_proofs(fetch_tx_proof)

    def verify(genesis: Genesis, page: dict[str, Any]) -> list[bool]:
        return verify_trace_by_page_proof(genesis, page) if page.get("proof") else by_tx(genesis, page)

    return verify


def summarise_events(rows: Sequence[dict[str, Any]]) -> Verification:
    """The verification status the events alone give: all verified, some failed, or none checked."""
    checked = [r["verified"] for r in rows if r["verified"] is not None]
    if not checked:
        return Verification(status=NOT_VERIFIED, lines=("events: not verified (give --verify --genesis G)",))
    failed = sum(1 for ok in checked if not ok)
    line = f"events: {len(checked) - failed} of {len(rows)} transaction proofs verified against genesis"
    return Verification(status="failed" if failed else "verified",
                        lines=(line + (f", {failed} FAILED" if failed else ""),))


def combine(*parts: Verification) -> Verification:
    """One section from several checks: failed if any failed, verified if every one verified."""
    statuses = [p.status for p in parts]
    status = "failed" if "failed" in statuses else "verified" if all(s == "verified" for s in statuses) \
        else NOT_VERIFIED
    return Verification(status=status, lines=tuple(line for p in parts for line in p.lines))


def verification_failed(what: str, error: InvalidProof | ChainError) -> Verification:
    return Verification(status="failed", lines=(f"{what}: FAILED: {error.code}: {error.message}",))


# --- HTML ----------------------------------------------------------------------------------------------

STYLE: Final = """
body { font: 10pt/1.4 "Noto Sans", "Helvetica Neue", Arial, sans-serif; color: #111; margin: 2em; }
h1 { font-size: 16pt; margin: 0 0 .3em; } h2 { font-size: 12pt; margin: 1.2em 0 .4em; border-bottom: 1px solid #999; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .1em 1em; margin: 0; }
dl.meta dt { font-weight: bold; } dl.meta dd { margin: 0; font-family: monospace; word-break: break-all; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #bbb; padding: 2px 4px; vertical-align: top; }
th { background: #eee; text-align: left; } .mono { font-family: monospace; font-size: 8pt; word-break: break-all; }
.refused { color: #a00; font-weight: bold; } .failed { color: #a00; font-weight: bold; } .ok { color: #060; }
footer { margin-top: 2em; font-size: 8pt; color: #555; }
@page { size: A4 landscape; margin: 12mm; }
@media print {
  body { margin: 0; font-size: 8.5pt; }
  thead { display: table-header-group; }
  tr, dl.meta { page-break-inside: avoid; break-inside: avoid; }
  h2 { page-break-after: avoid; break-after: avoid; }
}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _verified_cell(value: bool | None) -> str:
    if value is None:
        return f"<td>{NOT_VERIFIED}</td>"
    return '<td class="ok">verified</td>' if value else '<td class="failed">FAILED</td>'


def _event_row(r: dict[str, Any]) -> str:
    outcome = r["outcome"]
    shown = _e(outcome) if outcome == "ok" else \
        f'<span class="refused">refused: {_e(outcome)}</span> {_e(r["message"])}'
    return (f"<tr><td>{_e(r['height'])}</td><td>{_e(r['local_time'])}</td>"
            f"<td>{_e(r['signer_name'] or 'unregistered key')}<br><span class=\"mono\">{_e(r['signer'])}</span></td>"
            f"<td>{_e(', '.join(r['roles']) or 'no role then')}</td><td>{_e(r['department'])}</td>"
            f"<td>{_e(r['method'])}</td><td>{shown}</td><td class=\"mono\">{_e(r['tx_id'])}</td>"
            f"{_verified_cell(r['verified'])}</tr>")


def render_html(report: Report) -> str:
    """The report as one self-contained HTML document (inline CSS, no scripts, no external assets)."""
    meta = [("Chain ID", report.chain_id), ("Genesis hash", f"{report.genesis_hash} ({report.genesis_source})"),
            ("As of height", report.as_of_height), ("Events", len(report.events))]
    facts = "".join(f"<tr><th>{_e(name)}</th><td>{_e(value)}</td></tr>" for name, value in report.facts)
    rows = "".join(_event_row(r) for r in report.events) or '<tr><td colspan="9">no events</td></tr>'
    status_class = {"verified": "ok", "failed": "failed"}.get(report.verification.status, "")
    lines = "".join(f"<li>{_e(line)}</li>" for line in report.verification.lines)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{_e(report.title)}</title>
<style>{STYLE}</style>
</head>
<body>
<header>
<h1>{_e(report.title)}</h1>
<dl class="meta">{"".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in meta)}</dl>
</header>
<main>
<section id="summary">
<h2>Summary</h2>
<table><tbody>{facts}</tbody></table>
</section>
<section id="events">
<h2>Events</h2>
<table>
<thead><tr><th>Height</th><th>Time</th><th>Signer</th><th>Role</th><th>Department</th><th>Method</th><th>Outcome</th>
<th>Transaction</th><th>Verified</th></tr></thead>
<tbody>{rows}</tbody>
</table>
</section>
<section id="verification">
<h2>Verification</h2>
<p>Status: <strong class="{status_class}">{_e(report.verification.status.upper())}</strong></p>
<ul>{lines}</ul>
</section>
</main>
<footer>Times are block times in the network's zone (UTC offset {report.utc_offset_minutes} minutes). A verified
item was checked against the genesis named above only; anything else is as the node reported it.</footer>
</body>
</html>
"""
