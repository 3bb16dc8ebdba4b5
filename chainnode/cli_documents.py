"""`chainnode doc ...`: send, open, sign for, return, withdraw and forward official documents (公文), list a
department's documents, show one's record and history, and verify one against genesis.

Encryption and decryption run in this process; the node sees ciphertext only. Every read of a document
record is a request signed with `--key` (docs/api.md, signed requests); opening records an access on the
ledger before the node hands over the content key (docs/documents.md).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from chainnode import doc_client, light
from chainnode.anchor_verify import encode_proof_file
from chainnode.cli import (
    InputFileError,
    UsageError,
    _unb64,
    decode_proof_file,
    emit,
    open_client,
    require_args_key,
    write_output_file,
)
from chainnode.cli_records import (
    InvalidArgumentsLocal,
    Refused,
    add_action,
    add_height,
    format_date_ms,
    format_local_ms,
    positive_int,
    record_id,
    refused,
    utc_offset,
)
from chainnode.client_records import ContractRefused
from chainnode.doc_verify import verify_document_bundle
from chainnode.errors import InvalidProof
from chainnode.genesis import Genesis, Params, load_genesis
from chainnode.tx import Transaction, decode_transaction

if TYPE_CHECKING:
    from chainnode.client import Client

CLASSIFICATIONS: Final = ("public", "internal", "confidential")
BOXES: Final = ("inbox", "sent", "pending_receipt", "overdue")


def departments_arg(text: str) -> list[str]:
    """argparse type: comma-separated department codes."""
    codes = [c.strip() for c in text.split(",") if c.strip()]
    if not codes:
        raise argparse.ArgumentTypeError("name at least one department code, e.g. TAX,PSB")
    return codes


def _file_sha256(path: Path) -> bytes:
    try:
        return doc_client.file_sha256(path)
    except FileNotFoundError as exc:
        raise InputFileError(f"file {path} does not exist") from exc
    except OSError as exc:
        raise InputFileError(f"file {path} cannot be read: {exc.strerror or exc}") from exc


def _max_bytes(client: Client) -> int:
    limits = client.registries().get("documents") or {}
    return int(limits.get("max_document_bytes") or Params().max_document_bytes)


# --- writes --------------------------------------------------------------------------------------------


def cmd_send(args: argparse.Namespace) -> int:
    if not args.file.is_file():
        raise InputFileError(f"file {args.file} does not exist or is not a file")
    key = require_args_key(args)
    with open_client(args) as client:
        try:
            sent = doc_client.send(
                client, key, args.file, recipients=args.to, number=args.number, title=args.title,
                classification=args.classification, max_bytes=_max_bytes(client), reply_days=args.reply_days,
                case_id=args.case, cert_id=args.cert, genesis=load_genesis(args.genesis) if args.genesis else None,
            )
        except ContractRefused as exc:
            raise refused(exc) from exc
        except doc_client.DocumentArgumentError as exc:
            raise InvalidArgumentsLocal(exc.message, field=exc.field) from exc
    d = sent.digest
    emit(args, {"doc_id": sent.doc_id, "tx_id": sent.tx_id, "height": sent.height,
                "plaintext_sha256": d.plaintext_sha256.hex(), "ciphertext_sha256": d.ciphertext_sha256.hex(),
                "ciphertext_size": d.ciphertext_size, "recipients": args.to}, [
        f"document {sent.doc_id} ({args.number}, {args.title!r}) sent to {', '.join(args.to)}",
        f"  content sha256 {d.plaintext_sha256.hex()}; ciphertext {d.ciphertext_size} bytes, sealed to each "
        "recipient and to your department",
        f"  tx {sent.tx_id}, height {sent.height}; follow it: chainnode doc show {sent.doc_id} --key {args.key}",
    ])
    return 0


def cmd_open(args: argparse.Namespace) -> int:
    key = require_args_key(args)
    with open_client(args) as client:
        opened = doc_client.open_to(client, key, args.id, args.out, case_id=args.case, purpose=args.purpose)
    emit(args, {"doc_id": opened.doc_id, "out": str(opened.path), "plaintext_sha256": opened.plaintext_sha256.hex(),
                "access_tx": opened.access_tx, "height": opened.height}, [
        f"opened document {opened.doc_id} into {opened.path} (sha256 {opened.plaintext_sha256.hex()}, as on chain)",
        f"  the opening is on the ledger: tx {opened.access_tx}, height {opened.height}",
        f"  sign for it: chainnode doc receipt {opened.doc_id} --file {opened.path} --key {args.key}",
    ])
    return 0


def _simple_write(args: argparse.Namespace, lines: Sequence[str], run: Any) -> int:
    key = require_args_key(args)
    with open_client(args) as client:
        try:
            tx_id, height = run(client, key)
        except ContractRefused as exc:
            raise refused(exc) from exc
    emit(args, {"doc_id": args.id, "tx_id": tx_id, "height": height},
         [*lines, f"  tx {tx_id}, height {height}"])
    return 0


def cmd_receipt(args: argparse.Namespace) -> int:
    digest = _file_sha256(args.file)
    return _simple_write(args, [f"signed for document {args.id}: content sha256 {digest.hex()}"],
                         lambda c, k: doc_client.receipt(c, k, args.id, args.file))


def cmd_return(args: argparse.Namespace) -> int:
    return _simple_write(args, [f"returned document {args.id}: {args.reason}"],
                         lambda c, k: doc_client.return_document(c, k, args.id, args.reason))


def cmd_withdraw(args: argparse.Namespace) -> int:
    return _simple_write(args, [f"withdrew document {args.id}: {args.reason}"],
                         lambda c, k: doc_client.withdraw(c, k, args.id, args.reason))


def cmd_forward(args: argparse.Namespace) -> int:
    key = require_args_key(args)
    with open_client(args) as client:
        try:
            sent = doc_client.forward(client, key, args.id, args.to, args.note,
                                      genesis=load_genesis(args.genesis) if args.genesis else None)
        except ContractRefused as exc:
            raise refused(exc) from exc
        except doc_client.DocumentArgumentError as exc:
            raise InvalidArgumentsLocal(exc.message, field=exc.field) from exc
    emit(args, {"doc_id": sent.doc_id, "forwarded_from": args.id, "tx_id": sent.tx_id, "height": sent.height,
                "recipients": args.to}, [
        f"forwarded document {args.id} to {', '.join(args.to)} as document {sent.doc_id}",
        f"  tx {sent.tx_id}, height {sent.height}",
    ])
    return 0


# --- reads ---------------------------------------------------------------------------------------------


def _status_text(code: str, status: dict[str, Any], offset: int) -> str:
    state = str(status.get("state"))
    delivered = status.get("delivered_height")
    text = f"    {code:<8} {state}"
    if state in ("received", "returned"):
        text += (f" by {status.get('signer_name')} at height {status.get('height')}, "
                 f"{format_local_ms(int(status.get('time_ms') or 0), offset)}")
    if state == "returned":
        text += f": {status.get('reason')}"
    text += f"; ciphertext delivered at height {delivered}" if delivered is not None else \
        "; ciphertext not yet delivered to its node"
    return text


def cmd_show(args: argparse.Namespace) -> int:
    key = require_args_key(args)
    with open_client(args) as client:
        answer = doc_client.record(client, key, args.id, args.height)
        offset = utc_offset(client)
    d = answer.get("document") or {}
    lines = [
        f"document {d.get('doc_id')}: {d.get('number')}  {d.get('title')!r}  [{d.get('classification')}]"
        + ("  WITHDRAWN" if d.get("withdrawn") else "") + f"  (as of height {answer.get('height')})",
        f"  from:     {d.get('sender')}, officer {d.get('sender_officer_name')} ({d.get('sender_officer')})",
        f"  sent at:  height {d.get('sent_height')}, {format_local_ms(int(d.get('sent_ms') or 0), offset)}",
        f"  content:  sha256 {d.get('plaintext_sha256')}; ciphertext {d.get('ciphertext_size')} bytes",
    ]
    if d.get("reply_deadline_ms"):
        lines.append(f"  reply by: end of {format_date_ms(int(d['reply_deadline_ms']), offset, last_day=True)} "
                     f"({d.get('reply_days')} working days)")
    for name, label in (("case_id", "case"), ("cert_id", "certificate"), ("forwarded_from", "forwarded from")):
        if d.get(name):
            lines.append(f"  {label + ':':<9} {d[name]}")
    if d.get("forwards"):
        lines.append(f"  forwards: {', '.join(d['forwards'])}")
    if d.get("withdrawn"):
        lines.append(f"  withdrawn at height {d['withdrawn'].get('height')}: {d['withdrawn'].get('reason')}")
    lines.append("  recipients:")
    statuses = d.get("recipient_status") or {}
    lines += [_status_text(code, statuses.get(code) or {}, offset) for code in d.get("recipients") or []]
    access = answer.get("access") or []
    lines.append(f"  opened {len(access)} time(s); see chainnode doc history {args.id} --key {args.key}")
    emit(args, answer, lines)
    return 0


def cmd_inbox(args: argparse.Namespace) -> int:
    key = require_args_key(args)
    with open_client(args) as client:
        department = args.department or doc_client.member_department(client, key)
        params = {"department": department, "box": args.box, "limit": str(args.limit)}
        answer = client.signed_json(key, "/v1/documents", params)
        offset = utc_offset(client)
    documents = answer.get("documents") or []
    lines = [f"{len(documents)} document(s) in {department}'s {args.box} as of height {answer.get('height')}"]
    for d in documents:
        statuses = d.get("recipient_status") or {}
        mine = statuses.get(department, {}).get("state") if department in statuses else None
        lines.append(f"  {d.get('doc_id')}  {d.get('number')}  {d.get('title')!r}  from {d.get('sender')}  "
                     f"{format_local_ms(int(d.get('sent_ms') or 0), offset)}"
                     + (f"  [{mine}]" if mine else f"  to {', '.join(d.get('recipients') or [])}")
                     + ("  WITHDRAWN" if d.get("withdrawn") else ""))
    emit(args, answer, lines)
    return 0


def _events(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """Every event of a document in chain order: its history entries and each opening."""
    d = answer.get("document") or {}
    events = [dict(h) for h in d.get("history") or []]
    for a in answer.get("access") or []:
        detail = (a.get("case_id") and f"case {a['case_id']}") or a.get("purpose") or "no case or purpose"
        events.append({"action": "opened" + (" (FLAGGED)" if a.get("flagged") else ""),
                       "department": a.get("department"), "signer": a.get("signer"),
                       "signer_name": a.get("signer_name"), "roles": a.get("roles"), "height": a.get("height"),
                       "time_ms": a.get("time_ms"), "tx_id": a.get("tx_id"), "detail": detail})
    return sorted(events, key=lambda e: (int(e.get("height") or 0), str(e.get("tx_id"))))


_METHODS: Final = {"sent": ("send", "forward"), "delivered": ("delivered",), "received": ("receipt",),
                    "returned": ("return",), "withdrawn": ("withdraw",), "forwarded": ("forward",),
                    "opened": ("access",)}
"""The methods whose transaction may stand behind each event (a forward's own record starts with "sent")."""
MAX_PAGE: Final = 1000


def _proven_txs(bundle_bytes: bytes) -> dict[str, Transaction]:
    """The transactions a history page's bundle holds, by ID. Read only after `verify_trace` has checked the
    bundle, so these are the proven bytes."""
    bundle = light.decode_bundle(bundle_bytes)
    found: dict[str, Transaction] = {}
    for link in bundle.links:
        if isinstance(link.payload, light.TxPayload):
            for entry in link.payload.entries:
                tx = decode_transaction(entry.tx_bytes)
                found[tx.tx_id.hex()] = tx
    return found


def _check_event(event: dict[str, Any], proven: dict[str, Any], tx: Transaction, doc_id: str) -> None:
    """The proven transaction is the event the node's record reports: height, signer, method, document,
    success. `proven` is the page's event after verify_trace. Raises InvalidProof naming the first difference."""
    action = str(event.get("action", "")).split(" ")[0]
    methods = _METHODS.get(action, ())
    args = tx.body.args if isinstance(tx.body.args, dict) else {}
    checks = [
        (proven.get("height") == event.get("height"),
         f"is proven at height {proven.get('height')}, not {event.get('height')}"),
        (proven.get("signer") == event.get("signer"), "was signed by another key than the event names"),
        (proven.get("contract") == "documents" and proven.get("method") in methods,
         f"is {proven.get('contract')}.{proven.get('method')}, not a {action}"),
        (doc_client.document_id(tx.tx_id) == doc_id if action == "sent" else args.get("doc_id") == doc_id,
         "is about another document"),
        (proven.get("code") == "ok", f"failed on chain ({proven.get('code')})"),
    ]
    for ok, problem in checks:
        if not ok:
            raise InvalidProof(f"transaction {event.get('tx_id')} of the {action} event {problem}")


def verify_document_history(genesis: Genesis, doc_id: str, events: list[dict[str, Any]],
                            pages: Sequence[dict[str, Any]], trust: light.TrustRoot | None = None) -> int:
    """Check every page of `document:<doc_id>`'s history with its one proof (chainnode.trace_verify), then that
    each event of the document's record is a proven transaction of that history. Returns the proof bytes
    checked. Raises InvalidProof naming the page or event that fails."""
    from chainnode.trace_verify import verify_trace

    proven_events: dict[str, dict[str, Any]] = {}
    txs: dict[str, Transaction] = {}
    size = 0
    for page in pages:
        page_events = page.get("events") or []
        if not page_events:
            continue
        bundle = _unb64(str(page.get("proof") or ""))
        verify_trace(genesis, page_events, bundle, trust)
        size += len(bundle)
        txs.update(_proven_txs(bundle))
        proven_events.update((str(e.get("tx_id")), e) for e in page_events)
    for event in events:
        tx_id = str(event.get("tx_id"))
        if tx_id not in proven_events or tx_id not in txs:
            raise InvalidProof(f"transaction {tx_id} of the {event.get('action')} event is not in the proven "
                               f"history of document {doc_id}")
        _check_event(event, proven_events[tx_id], txs[tx_id], doc_id)
    return size


def _history_pages(client: Client, doc_id: str, height: int, trust: light.TrustRoot | None, proof: bool
                   ) -> list[dict[str, Any]]:
    """`GET /v1/history/document:<id>` up to the record's height: one page (and its proof) for any usual
    document, more only past 1,000 events."""
    pages: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = client.history_page(f"document:{doc_id}", limit=MAX_PAGE, to_height=height, cursor=cursor,
                                   proof=proof, trusted_height=None if trust is None else trust.height)
        pages.append(page)
        cursor = page.get("next_cursor")
        if not cursor:
            return pages


def _merge_page_events(events: list[dict[str, Any]], pages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The record's events with each one's position and the signer's roles from the history page, plus the
    calls on the document the record does not show (refused attempts), in chain order."""
    by_tx = {str(e.get("tx_id")): e for page in pages for e in page.get("events") or []}
    listed = {str(e.get("tx_id")) for e in events}
    for event in events:
        found = by_tx.get(str(event.get("tx_id")))
        if found is not None:
            event["index"] = found.get("index")
            if event.get("roles") is None:
                event["roles"] = found.get("signer_roles") or []
    for tx_id, e in by_tx.items():
        if tx_id not in listed:
            refused = "" if e.get("code") == "ok" else f" REFUSED ({e.get('code')})"
            events.append({"action": f"{e.get('contract')}.{e.get('method')}{refused}", "tx_id": tx_id,
                           "department": e.get("signer_department"), "signer": e.get("signer"),
                           "signer_name": e.get("signer_name"), "roles": e.get("signer_roles") or [],
                           "height": e.get("height"), "index": e.get("index"), "time_ms": e.get("time_ms"),
                           "detail": e.get("message") or None})
    return sorted(events, key=lambda e: (int(e.get("height") or 0), int(e.get("index") or 0), str(e.get("tx_id"))))


def cmd_history(args: argparse.Namespace) -> int:
    """A document's events from its record, with the signer's roles from its history page; with --genesis, the
    page's one proof is checked and each event matched to a proven transaction (exit 1 if any check fails)."""
    from chainnode.cli_cases import read_trust

    key = require_args_key(args)
    if args.trust is not None and args.genesis is None:
        raise UsageError("--trust is for a check against genesis: add --genesis GENESIS", field="trust")
    genesis = load_genesis(args.genesis) if args.genesis else None
    trust = read_trust(args.trust, genesis)
    with open_client(args) as client:
        answer = doc_client.record(client, key, args.id)
        offset = utc_offset(client)
        pages = _history_pages(client, args.id, int(answer.get("height") or 0), trust, genesis is not None)
        record_events = _events(answer)
        proof_bytes = 0
        if genesis is not None:
            proof_bytes = verify_document_history(genesis, args.id, record_events, pages, trust)
            if int(answer.get("access_count") or 0) != len(answer.get("access") or []):
                raise InvalidProof(f"the record counts {answer.get('access_count')} openings but the node listed "
                                   f"{len(answer.get('access') or [])}")
        events = _merge_page_events(record_events, pages)
        for event in events:
            if event.get("roles") is None and event.get("signer"):
                member = client.member(str(event["signer"]), height=int(event.get("height") or 0))
                event["roles"] = member.get("roles") or []
            event["verified"] = genesis is not None
    root = f"genesis {args.genesis}" + ("" if trust is None else f" and trust file {args.trust}")
    mark = "✓ " if genesis is not None else ""
    lines = [f"history of document {args.id} ({len(events)} events, as of height {answer.get('height')}):"]
    for e in events:
        detail = f": {e['detail']}" if e.get("detail") else ""
        lines.append(f"  {mark}height {e.get('height')}  {format_local_ms(int(e.get('time_ms') or 0), offset)}  "
                     f"{e.get('action')} by {e.get('signer_name')} ({e.get('department')}; "
                     f"{', '.join(e.get('roles') or [])}){detail}")
        lines.append(f"      tx {e.get('tx_id')}")
    if genesis is None:
        lines.append("not verified: pass --genesis GENESIS to check every event against it")
    else:
        lines.append(f"✓ {len(events)} events verified against {root} (one proof, {proof_bytes} bytes): each is "
                     "the proven transaction at its height, with its call, signer, time and outcome; names and "
                     "roles are the node's reading of the roster")
    emit(args, {"doc_id": args.id, "height": answer.get("height"), "verified": genesis is not None,
                "proof_bytes": proof_bytes, "events": events}, lines)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    file_hash = _file_sha256(args.file)
    genesis = load_genesis(args.genesis)
    if args.proof is not None:
        bundles, source = decode_proof_file(args.proof), f"proof file {args.proof}"
    else:
        if args.key is None:
            raise InputFileError("without --proof, pass --key: document records are read by signed request")
        with open_client(args) as client:
            answer = doc_client.record(client, require_args_key(args), args.id)
            source = f"node {client.base_url}"
        proof = (answer.get("state_proof") or {}).get("proof")
        bundles = [_unb64(proof)]
    v = verify_document_bundle(genesis, args.id, bundles[0], file_hash)
    if args.proof_out is not None:
        write_output_file(args.proof_out, encode_proof_file({"doc_id": args.id}, bundles[:1]))
    verdict = "VERIFIED" if v.content_matches else "CONTENT DIFFERS"
    lines = [
        f"file {args.file}: sha256 {file_hash.hex()}",
        f"checked a state proof from {source} against genesis {args.genesis} (chain {genesis.chain_id}) only",
        f"{verdict}: document {v.doc_id} {v.number} {v.title!r} [{v.classification}]",
        ("  forwarded by: " if v.forwarded_from else "  sent by:   ") + v.sender
        + (f" ({v.sender_name})" if v.sender_name else "")
        + f", officer {v.sender_officer_name} (key {v.sender_officer})",
        f"  sent at:   height {v.sent_height}, {v.sent_time}",
        *([f"  forwards:  document {v.forwarded_from}, first sent by {v.origin_sender}; {v.sender} forwarded it"]
          if v.forwarded_from else []),
        f"  content:   sha256 {v.plaintext_sha256} on chain; "
        + ("this file is that content" if v.content_matches else "this file is NOT that content"),
    ]
    for r in v.recipients:
        text = f"  {r.department:<9}  {r.state}"
        if r.state in ("received", "returned"):
            text += f" by {r.signer_name} at height {r.height}, {r.time}"
        if r.receipt_matches:
            text += " (the receipt names the content on chain)"
        if r.reason:
            text += f": {r.reason}"
        lines.append(text)
    if v.withdrawn:
        lines.append("  the sender WITHDREW this document")
    lines.append(f"  proof:     state at height {v.proven_at_height}, block {v.proven_block_hash}")
    emit(args, {"verified": bool(v.content_matches), **asdict(v)}, lines)
    return 0 if v.content_matches else 1


def cmd_rotate_key(args: argparse.Namespace) -> int:
    """A new department encryption key: the old one is kept (documents sealed to it still open), the new
    one goes in force on chain by `governance.set_encryption_key`, signed by a department admin."""
    from chainnode import crypto, keyfile
    from chainnode.config import HomeLayout
    from chainnode.doc_keys import DocumentKeys

    layout = HomeLayout(args.home)
    if not layout.config.is_file():
        raise InputFileError(f"{args.home} is not a node home (no config.toml)")
    passphrase = keyfile.get_passphrase_source().get  # for an encrypted key file
    current = crypto.load_encryption_key_file(layout.encryption_key, passphrase=passphrase) \
        if layout.encryption_key.exists() else None
    admin = require_args_key(args)
    keyring = DocumentKeys(layout.keys)
    fresh = crypto.EncryptionKey.generate()
    fingerprint = crypto.compute_key_fingerprint(fresh.public_key).hex()
    # Both keys are on disk under their fingerprints before the chain names the new one, so a crash at any
    # point loses no key the chain may name; the node finds keys by fingerprint.
    if current is not None and not keyring.archive_path(current).exists():
        crypto.write_encryption_key_file(keyring.archive_path(current), current, label="documents")
    staged = keyring.archive_path(fresh)
    crypto.write_encryption_key_file(staged, fresh, label="documents")
    with open_client(args) as client:
        try:
            status = client.call(admin, "governance", "set_encryption_key", {"public_key": fresh.public_key})
        except ContractRefused as exc:
            staged.unlink(missing_ok=True)
            refusal = refused(exc)
            raise Refused(f"{refusal.message}; the key in force is unchanged and the new key was deleted",
                          code=refusal.code) from exc
        except BaseException:
            print(f"note: the new key {fingerprint[:16]}… stays in {staged} in case the chain took it (GET "
                  "/v1/departments shows the fingerprint in force); the node opens documents with either key",
                  file=sys.stderr)
            raise
    crypto.write_encryption_key_file(layout.encryption_key, fresh, label="documents", overwrite=True)
    emit(args, {"public_key": fresh.public_key.hex(), "fingerprint": fingerprint, "height": status.get("height"),
                "key_file": str(layout.encryption_key)}, [
        f"new encryption key {fingerprint[:16]}… in {layout.encryption_key}; in force from the height after "
        f"{status.get('height')}",
        "  the old key stays beside it, so documents sealed to it still open",
    ])
    return 0


# --- the parser ----------------------------------------------------------------------------------------


def add_commands(sub: Any, both: Sequence[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("doc", help="send, open, sign for and trace official documents (公文)")
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")

    def key_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--key", type=Path, required=True, metavar="KEYFILE", help="your member key file")

    p = add_action(actions, "send", both, cmd_send, "encrypt a file to its recipients and send it")
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--to", type=departments_arg, required=True, metavar="CODES", help="recipients, e.g. TAX,PSB")
    p.add_argument("--number", required=True, help="the document number (文号), unique per department and year")
    p.add_argument("--title", required=True)
    p.add_argument("--classification", choices=CLASSIFICATIONS, default="internal")
    p.add_argument("--reply-days", type=positive_int, metavar="N", help="a reply is due in N working days")
    p.add_argument("--case", type=record_id, metavar="ID", help="a related case")
    p.add_argument("--cert", type=record_id, metavar="ID", help="a related certificate")
    p.add_argument("--genesis", type=Path, metavar="GENESIS",
                   help="check the recipients' encryption keys against state proofs from it (trust no node)")
    key_option(p)
    p = add_action(actions, "inbox", both, cmd_inbox, "a department's documents (default: your inbox)")
    p.add_argument("--box", choices=BOXES, default="inbox")
    p.add_argument("--department", metavar="CODE", help="default: your department (auditors: any)")
    p.add_argument("--limit", type=positive_int, default=100, metavar="N")
    key_option(p)
    p = add_action(actions, "open", both, cmd_open, "decrypt a document (the opening is recorded on the ledger)")
    p.add_argument("id", type=record_id, metavar="ID")
    p.add_argument("--out", type=Path, required=True, metavar="FILE")
    p.add_argument("--case", type=record_id, metavar="ID", help="the case you open it for")
    p.add_argument("--purpose", metavar="TEXT", help="why you open it (recorded)")
    key_option(p)
    p = add_action(actions, "receipt", both, cmd_receipt, "sign for a document (签收) with the content received")
    p.add_argument("id", type=record_id, metavar="ID")
    p.add_argument("--file", type=Path, required=True, metavar="FILE", help="the opened content")
    key_option(p)
    for name, run, help_text in (("return", cmd_return, "return a document (退回) with a reason"),
                                 ("withdraw", cmd_withdraw, "withdraw a sent document (撤回) before any receipt")):
        p = add_action(actions, name, both, run, help_text)
        p.add_argument("id", type=record_id, metavar="ID")
        p.add_argument("--reason", required=True)
        key_option(p)
    p = add_action(actions, "forward", both, cmd_forward, "forward a received document (转发) to more departments")
    p.add_argument("id", type=record_id, metavar="ID")
    p.add_argument("--to", type=departments_arg, required=True, metavar="CODES")
    p.add_argument("--note", help="a note for the new recipients")
    p.add_argument("--genesis", type=Path, metavar="GENESIS",
                   help="check the new recipients' encryption keys against state proofs from it")
    key_option(p)
    p = add_action(actions, "show", both, cmd_show, "a document's record: status per recipient, receipts, returns")
    p.add_argument("id", type=record_id, metavar="ID")
    add_height(p)
    key_option(p)
    p = add_action(actions, "history", both, cmd_history, "every event of a document; with --genesis, verified "
                   "by one proof")
    p.add_argument("id", type=record_id, metavar="ID")
    p.add_argument("--genesis", type=Path, metavar="GENESIS", help="verify every event against it (one proof of "
                   "the document's history)")
    p.add_argument("--trust", type=Path, metavar="FILE", help="with --genesis: a trust file (cert verify "
                   "--trust-out), so the proof starts from its validator set")
    key_option(p)
    p = add_action(actions, "verify", both, cmd_verify, "check a file against a document's record, trusting "
                   "only genesis")
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--id", type=record_id, required=True, metavar="ID")
    p.add_argument("--genesis", type=Path, required=True, metavar="GENESIS")
    p.add_argument("--proof", type=Path, metavar="FILE", help="check this saved proof offline")
    p.add_argument("--proof-out", type=Path, metavar="FILE", help="save the proof for offline checks")
    p.add_argument("--key", type=Path, metavar="KEYFILE", help="your member key (to fetch the proof)")
    p = add_action(actions, "rotate-key", both, cmd_rotate_key, "give the department a new encryption key "
                   "(run on its node's machine, by a department admin)")
    p.add_argument("--home", type=Path, required=True, metavar="DIR", help="the department node's home")
    key_option(p)
