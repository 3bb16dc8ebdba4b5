"""`chainnode history ENTITY`: an auditor's trace of one entity (case:<id>, cert:<id>, member:<hex>, ...), one
line per transaction that touched it, in chain order: height, block time in the network's zone, the call, its
outcome, who signed it with the department and roles the signer held at that height, and the transaction ID.

One page by default (`--limit`, 100); `--all` follows the node's cursor to the end. With `--json`, one page's
answer as the node gave it, or with `--all` every event in one document. With `--verify --export FILE`, every
page (to the end) is checked and written with its proof to one JSON file (`chainnode-history`, below) that the
web console's audit page verifies again in the browser, with no node.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from chainnode.cli import UsageError, add_read_key, emit, open_client
from chainnode.cli_records import format_local_ms, positive_int, utc_offset

if TYPE_CHECKING:
    from chainnode.client import Client

ENTITY_FORM: Final = re.compile(r"[a-z][a-z_]{0,31}:[^\s\x00]{1,160}\Z")
ENTITY_HELP: Final = ("KIND:ID, e.g. case:<id>, cert:<id>, material:<id>, item:<code>, department:<CODE>, "
                      "member:<hex>, document:<id>, anchor:<hex>, signer:<hex>")
MAX_PAGE: Final = 1000
EXPORT_KIND: Final = "chainnode-history"
EXPORT_VERSION: Final = 1
MAX_EXPORT_EVENTS: Final = 100_000
"""An export holds at most this many events (the audit page reads at most 64 MiB); narrow --from/--to."""


def validate_entity(entity: str) -> None:
    """Raises UsageError (exit 2) naming the form unless `entity` is KIND:ID."""
    if not ENTITY_FORM.match(entity):
        raise UsageError(f"entity {entity!r} is not of the form {ENTITY_HELP}", field="entity")


def format_signer(event: dict[str, Any]) -> str:
    """"Name (DEPT; role, role)" as the roster stood at the event's height."""
    name, department = event.get("signer_name"), event.get("signer_department")
    if name is None:
        return f"unregistered key {str(event.get('signer'))[:16]}…"
    roles = ", ".join(event.get("signer_roles") or []) or "no role then"
    return f"{name} ({department}; {roles})"


def format_event_line(event: dict[str, Any], utc_offset_minutes: int) -> str:
    local = format_local_ms(int(event.get("time_ms") or 0), utc_offset_minutes)
    call = f"{event.get('contract')}.{event.get('method')}"
    mark = "✓ " if event.get("verified") else ""
    return (f"{mark}{event.get('height'):>8}  {local}  {call:<28} {event.get('code'):<14} {format_signer(event)}  "
            f"tx {event.get('tx_id')}")


def _page(client: Client, args: argparse.Namespace, limit: int, cursor: str | None) -> dict[str, Any]:
    """One page; with --verify, its proof is checked against genesis (or the trust file) before anything of it
    is shown, and each event is marked verified."""
    trust = getattr(args, "trust_root", None)
    page = client.history_page(args.entity, limit=limit, from_height=args.from_height, to_height=args.to_height,
                               cursor=cursor, proof=args.verify, trusted_height=None if trust is None else trust.height)
    events = page.get("events") or []
    if args.verify and events:
        from chainnode.cli import _unb64
        from chainnode.trace_verify import verify_trace

        encoded = str(page.get("proof") or "")
        proof = _unb64(encoded)
        checked = verify_trace(args.genesis_doc, events, proof, trust)
        if getattr(args, "export", None) is not None:
            args.exported.append({"head": page.get("head"), "from_height": page.get("from_height"),
                                  "to_height": page.get("to_height"), "events": [dict(e) for e in events],
                                  "proof": encoded})
        for event in events:
            event["verified"] = True
        args.verified = getattr(args, "verified", 0) + checked.events
        args.proof_bytes = getattr(args, "proof_bytes", 0) + len(proof)
        page.pop("proof", None)
    return page


def _print(lines: Sequence[str]) -> None:
    if lines:
        print("\n".join(lines), flush=True)


def _verified_lines(args: argparse.Namespace) -> list[str]:
    if not args.verify:
        return []
    root = "genesis" if args.trust_root is None else f"genesis and trust file {args.trust}"
    return [f"✓ {getattr(args, 'verified', 0)} events verified against {root} {args.genesis} "
            f"(proofs {getattr(args, 'proof_bytes', 0)} bytes): each is the proven transaction at its height and "
            "index, with its call, signer, time and outcome; names and roles are the node's reading of the roster"]


def compute_export(args: argparse.Namespace) -> dict[str, Any]:
    """The export document: the verified pages, each with the events as the node gave them and the proof."""
    genesis = args.genesis_doc
    return {"kind": EXPORT_KIND, "version": EXPORT_VERSION, "entity": args.entity, "chain_id": genesis.chain_id,
            "genesis_hash": genesis.hash.hex(), "from_height": args.from_height, "to_height": args.to_height,
            "events": sum(len(p["events"]) for p in args.exported), "pages": args.exported}


def write_export(path: Path, document: dict[str, Any]) -> None:
    """Write the export next to its final name, then rename it, so a reader never sees half a file."""
    from chainnode.cli import InputFileError

    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_text(json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
        partial.replace(path)
    except OSError as exc:
        raise InputFileError(f"cannot write the export {path}: {exc.strerror or exc}") from exc


def cmd_history(args: argparse.Namespace) -> int:
    validate_entity(args.entity)
    if args.export is not None:
        if not args.verify:
            raise UsageError("--export writes verified pages: add --verify --genesis GENESIS", field="export")
        if args.trust is not None:
            raise UsageError("--export proves from genesis, which the audit page holds: drop --trust", field="trust")
        args.all, args.exported = True, []
    if args.from_height is not None and args.to_height is not None and args.to_height < args.from_height:
        raise UsageError(f"--to {args.to_height} is below --from {args.from_height}")
    limit = args.limit or (MAX_PAGE if args.all else 100)
    if args.verify:
        from chainnode.cli_cases import read_trust
        from chainnode.genesis import load_genesis

        if args.genesis is None:
            raise UsageError("--verify checks against a genesis file: add --genesis GENESIS", field="genesis")
        args.genesis_doc = load_genesis(args.genesis)
        args.trust_root = read_trust(args.trust, args.genesis_doc)
    elif args.genesis is not None or args.trust is not None:
        raise UsageError("--genesis and --trust are for --verify", field="verify")
    with open_client(args) as client:
        offset = 0 if args.json else utc_offset(client)
        page = _page(client, args, limit, args.cursor)
        if not args.all:
            events = page.get("events") or []
            lines = [format_event_line(e, offset) for e in events] or ["no events"]
            lines += _verified_lines(args)
            if page.get("next_cursor"):
                lines.append(f"(more events follow: add --all, or --cursor {page['next_cursor']})")
            emit(args, page, lines)
            return 0
        collected: list[dict[str, Any]] = []
        count = 0
        while True:  # text streams page by page, so a long trace starts printing at once
            events = page.get("events") or []
            count += len(events)
            if args.json:
                collected.extend(events)
            else:
                args.emitted = True
                _print([format_event_line(e, offset) for e in events])
            cursor = page.get("next_cursor")
            if not cursor:
                break
            if args.export is not None and count >= MAX_EXPORT_EVENTS:
                raise UsageError(f"an export holds at most {MAX_EXPORT_EVENTS} events; narrow it with --from/--to",
                                 field="export")
            page = _page(client, args, limit, cursor)
    if args.export is not None:
        write_export(args.export, compute_export(args))
    if args.json:
        emit(args, {**page, "events": collected, "next_cursor": None}, [])
    elif count == 0:
        _print(["no events"])
    else:
        _print(_verified_lines(args))
    if args.export is not None and not args.json:
        _print([f"exported {count} events in {len(args.exported)} pages with their proofs to {args.export}"])
    sys.stdout.flush()
    return 0


def add_commands(sub: Any, parents: Sequence[argparse.ArgumentParser]) -> None:
    """Add `chainnode history` to the `chainnode` parser."""
    help_text = "every transaction that touched an entity, with who signed it in what role, in chain order"
    p = sub.add_parser("history", parents=parents, help=help_text, description=help_text)
    p.add_argument("entity", metavar="ENTITY", help=ENTITY_HELP)
    add_read_key(p)
    p.add_argument("--from", dest="from_height", type=positive_int, metavar="H", help="from height H (default 1)")
    p.add_argument("--to", dest="to_height", type=positive_int, metavar="H", help="up to height H (default: head)")
    p.add_argument("--limit", type=positive_int, metavar="N",
                   help=f"events per page (default 100, with --all {MAX_PAGE}; the node caps it at {MAX_PAGE})")
    p.add_argument("--all", action="store_true", help="follow the cursor to the last event")
    p.add_argument("--cursor", metavar="C", help="continue after a page (its next_cursor)")
    p.add_argument("--verify", action="store_true", help="ask for each page's proof and check every event against "
                   "genesis before showing it (exit 1 if any check fails)")
    p.add_argument("--genesis", type=Path, metavar="GENESIS", help="with --verify: the network's genesis.json")
    p.add_argument("--trust", type=Path, metavar="FILE", help="with --verify: a trust file (cert verify --trust-out)")
    p.add_argument("--export", type=Path, metavar="FILE", help="with --verify: follow every page to the end and "
                   "write them with their proofs to FILE (JSON), for the web console's audit page to verify")
    p.set_defaults(run=cmd_history)
