"""Official documents (公文): a department's document officer sends an encrypted document to other
departments; recipients sign for it or return it, the sender may withdraw it until someone has signed,
a recipient may forward it, nodes report that they hold the ciphertext, and every opening is recorded.

Only hashes, sizes and the content key sealed to each party's encryption key go on chain
(docs/documents.md); the ciphertext travels between the nodes of the parties. Every sealed key must name
the fingerprint of its department's encryption key in force at the send's height
(`governance.encryption_key_at`), so a document is never sealed to a key that was rotated away.

Theory of operation (a recipient's state in `recipient_status`, by method):

    send ──> pending (every recipient)
    receipt:   pending ──> received       (the plaintext hash it names must be the sender's)
    return:    pending ──> returned
    withdraw:  the whole document, by its sender, while no recipient has received it
    forward:   received ──> a new record for new recipients, linked both ways
    delivered: a recipient's node holds the ciphertext (any state; once)
    access:    an opening by a member of a holding department, recorded under its own key

The state layout and the queries are in `contracts.document_queries`, re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from chainnode import crypto
from chainnode.codec import Value
from chainnode.results import Event
from contracts import calendar, case_queries, certificates, governance, proposals
from contracts import document_queries as Q
from contracts.base import CallContext, ContractError, Method, Outcome, StateOverlay, StateReader
from contracts.document_args import (
    AccessArgs,
    DeliveredArgs,
    ForwardArgs,
    ReasonArgs,
    ReceiptArgs,
    SealedKey,
    SendArgs,
    compute_document_targets,
    parse_access,
    parse_delivered,
    parse_forward,
    parse_reason,
    parse_receipt,
    parse_send,
)

ROLE_OFFICER: Final = "document_officer"
MAX_ACCESS_SEQ: Final = 2**32 - 1

get_document = Q.get_document
document_json = Q.document_json
documents_of = Q.documents_of
documents_of_case = Q.documents_of_case
documents_of_certificate = Q.documents_of_certificate
access_records = Q.access_records
blob_parties = Q.blob_parties
pending_deliveries = Q.pending_deliveries
may_read = Q.may_read


# --- checks ------------------------------------------------------------------------------------------


def _load(reader: StateReader, doc_id: str) -> dict[str, Any]:
    record = Q.get_document(reader, doc_id)
    if record is None:
        raise ContractError("document_not_found", f"there is no document {doc_id}", field="doc_id")
    return record


def _require_recipient(record: dict[str, Any], department: str) -> dict[str, Any]:
    """The department's recipient status. Raises not_a_recipient."""
    status = record["recipient_status"].get(department)
    if status is None:
        raise ContractError("not_a_recipient", f"{department} is not a recipient of document {record['doc_id']}; "
                            f"its recipients are {', '.join(record['recipients'])}", field="doc_id")
    return dict(status)


def _require_not_withdrawn(record: dict[str, Any]) -> None:
    withdrawn = record["withdrawn"]
    if withdrawn is not None:
        raise ContractError("document_withdrawn", f"document {record['doc_id']} was withdrawn by "
                            f"{record['sender']} at height {withdrawn['height']} ({withdrawn['reason']})",
                            field="doc_id")


def _require_pending(record: dict[str, Any], department: str, status: dict[str, Any]) -> None:
    """Raises already_received, already_returned."""
    if status["state"] == Q.RECEIVED:
        raise ContractError("already_received", f"{department} already received document {record['doc_id']} at "
                            f"height {status['height']} ({status['signer_name']})", field="doc_id")
    if status["state"] == Q.RETURNED:
        raise ContractError("already_returned", f"{department} already returned document {record['doc_id']} at "
                            f"height {status['height']} ({status['reason']})", field="doc_id")


def validate_recipients(reader: StateReader, sender: str, recipients: Sequence[str], sealed_keys: Sequence[SealedKey],
                        height: int, *, holding: Sequence[str] = ()) -> None:
    """The recipients can receive from `sender` and the sealed keys are exactly theirs and the sender's, each
    sealed to the key in force at `height`.

    Raises ContractError: self_recipient, already_a_recipient (one of `holding`), unknown_department,
    no_encryption_key, sealed_keys_mismatch, stale_key (naming the current fingerprint).
    """
    for i, code in enumerate(recipients):
        field = f"recipients[{i}]"
        if code == sender:
            raise ContractError("self_recipient", f"{sender} cannot send a document to itself", field=field)
        if code in holding:
            raise ContractError("already_a_recipient", f"{code} already holds this document", field=field)
        dept = governance.get_department(reader, code)
        if dept is None or not dept.active_at(height):
            raise ContractError("unknown_department", f"{code} is not an active department", field=field)
    keys = {}
    for field, code in [*((f"recipients[{i}]", c) for i, c in enumerate(recipients)), ("signer", sender)]:
        key = governance.encryption_key_at(reader, code, height)
        if key is None:
            raise ContractError("no_encryption_key", f"{code} has no encryption key in force at height {height}; "
                                "its admin must set one (governance.set_encryption_key)", field=field)
        keys[code] = key
    sealed_to = {k.department for k in sealed_keys}
    if sealed_to != set(keys):
        missing, extra = sorted(set(keys) - sealed_to), sorted(sealed_to - set(keys))
        raise ContractError("sealed_keys_mismatch", "sealed_keys must hold one key for each recipient and the "
                            f"sender; missing: {', '.join(missing) or 'none'}, not a party: "
                            f"{', '.join(extra) or 'none'}", field="sealed_keys")
    for i, sealed in enumerate(sealed_keys):
        current = crypto.compute_key_fingerprint(keys[sealed.department])
        if sealed.fingerprint != current:
            raise ContractError("stale_key", f"the key for {sealed.department} is sealed to "
                                f"{sealed.fingerprint.hex()}, not to its encryption key in force at height "
                                f"{height} ({current.hex()})", field=f"sealed_keys[{i}].fingerprint")


# --- effects -----------------------------------------------------------------------------------------


def _history(action: str, member: governance.MemberRecord, ctx: CallContext, detail: str) -> dict[str, Value]:
    return {"action": action, "department": member.department, "signer": member.public_key,
            "signer_name": member.name, "height": ctx.height, "time_ms": ctx.block_time_ms, "tx_id": ctx.tx_id,
            "detail": detail}


def _put(overlay: StateOverlay, record: dict[str, Any], entry: dict[str, Value] | None = None) -> None:
    """Write the record, with `entry` appended to its history (bounded by construction; see the queries)."""
    if entry is not None:
        if len(record["history"]) >= Q.MAX_HISTORY:
            raise ContractError("too_many_changes", f"document {record['doc_id']} already has {Q.MAX_HISTORY} "
                                "recorded actions", field="doc_id")
        record["history"] = [*record["history"], entry]
    overlay.put_value(Q.doc_key(record["doc_id"]), record)


def _entities(record: dict[str, Any], signer: bytes, *extra: str) -> tuple[str, ...]:
    related = [f"case:{record['case_id']}"] if record["case_id"] else []
    related += [f"cert:{record['cert_id']}"] if record["cert_id"] else []
    return (f"document:{record['doc_id']}", f"department:{record['sender']}",
            *(f"department:{code}" for code in record["recipients"]), *related, f"member:{signer.hex()}", *extra)


def _event(kind: str, record: dict[str, Any], signer: bytes, **attributes: Value) -> Event:
    return Event(kind=f"document.{kind}", attributes={
        "doc_id": record["doc_id"], "number": record["number"], "sender": record["sender"],
        "recipients": list(record["recipients"]), "signer": signer, **attributes,
    })


def _new_status() -> dict[str, Value]:
    return {"state": Q.PENDING, "delivered_height": None, "delivered_ms": None, "height": None, "time_ms": None,
            "signer": None, "signer_name": None, "reason": None, "plaintext_sha256": None}


def _new_record(doc_id: str, content: dict[str, Any], officer: governance.MemberRecord, recipients: Sequence[str],
                sealed_keys: Sequence[SealedKey], ctx: CallContext) -> dict[str, Any]:
    """A record carrying `content` (the fields a forward copies) from `officer`'s department."""
    return {
        "doc_id": doc_id, **content, "sender": officer.department, "sender_officer": officer.public_key,
        "sender_officer_name": officer.name, "recipients": sorted(recipients),
        "sealed_keys": [k.to_value() for k in sealed_keys], "forwards": [], "sent_height": ctx.height,
        "sent_ms": ctx.block_time_ms, "tx_id": ctx.tx_id, "withdrawn": None,
        "recipient_status": {code: _new_status() for code in sorted(recipients)}, "access_count": 0, "history": [],
    }


def _put_indexes(overlay: StateOverlay, record: dict[str, Any]) -> None:
    doc_id = record["doc_id"]
    overlay.put(Q.sent_key(record["sender"], doc_id), Q.INDEX_VALUE)
    for code in record["recipients"]:
        overlay.put(Q.inbox_key(code, doc_id), Q.INDEX_VALUE)
        overlay.put(Q.undelivered_key(code, doc_id), Q.INDEX_VALUE)
    overlay.put(Q.blob_key(record["ciphertext_sha256"], doc_id), Q.INDEX_VALUE)
    if record["case_id"] is not None:
        overlay.put(Q.case_index_key(record["case_id"], doc_id), Q.INDEX_VALUE)
    if record["cert_id"] is not None:
        overlay.put(Q.cert_index_key(record["cert_id"], doc_id), Q.INDEX_VALUE)


def _delete_if_present(overlay: StateOverlay, key: bytes) -> None:
    """Delete an index key only if it is there, so a block never records the deletion of an absent key."""
    if overlay.get(key) is not None:
        overlay.delete(key)


def _new_id(overlay: StateOverlay, ctx: CallContext) -> str:
    doc_id = Q.compute_doc_id(ctx.tx_id)
    if overlay.get(Q.doc_key(doc_id)) is not None:
        raise ContractError("document_exists", f"transaction {ctx.tx_id.hex()} already created document {doc_id}")
    return doc_id


# --- methods -----------------------------------------------------------------------------------------


def send(overlay: StateOverlay, args: SendArgs, ctx: CallContext) -> Outcome:
    """Send a document from the signer's department to the recipients.

    Raises ContractError: the roster's errors (role document_officer), number_in_use (naming the first ID),
    self_recipient, unknown_department, no_encryption_key, sealed_keys_mismatch, stale_key,
    document_too_large, case_not_found, certificate_not_found, calendar_exhausted.
    """
    # AUTHORISE
    officer = governance.require_member(overlay, ctx.signer, ctx.height, (ROLE_OFFICER,))
    # CHECK
    offset = governance.utc_offset_minutes(overlay)
    year = calendar.year_of(ctx.block_time_ms, offset)
    first = Q.get_number_holder(overlay, officer.department, year, args.number)
    if first is not None:
        raise ContractError("number_in_use", f"{officer.department} already used number {args.number!r} in {year} "
                            f"for document {first}", field="number")
    validate_recipients(overlay, officer.department, args.recipients, args.sealed_keys, ctx.height)
    carrier = next(iter(overlay.iter_prefix(Q.blob_prefix(args.ciphertext_sha256))), None)
    if carrier is not None:  # a ciphertext belongs to one send (and its forwards): who may fetch it follows
        first = carrier[0][len(Q.blob_prefix(args.ciphertext_sha256)):].decode()
        raise ContractError("ciphertext_in_use", f"document {first} already carries this ciphertext; a send "
                            "encrypts its content afresh (a new content key), and only a forward reuses one",
                            field="ciphertext_sha256")
    limit = proposals.max_document_bytes(overlay)
    if args.ciphertext_size > limit:
        raise ContractError("document_too_large", f"the ciphertext of {args.ciphertext_size} bytes exceeds the "
                            f"network's max_document_bytes of {limit}", field="ciphertext_size")
    if args.case_id is not None and case_queries.get_case(overlay, args.case_id) is None:
        raise ContractError("case_not_found", f"there is no case {args.case_id}", field="case_id")
    if args.cert_id is not None and certificates.get_certificate(overlay, args.cert_id) is None:
        raise ContractError("certificate_not_found", f"there is no certificate {args.cert_id}", field="cert_id")
    deadline = (None if args.reply_days is None
                else calendar.Calendar(overlay, offset).deadline_ms(ctx.block_time_ms, args.reply_days))
    doc_id = _new_id(overlay, ctx)
    # EFFECT
    content = {
        "number": args.number, "year": year, "title": args.title, "classification": args.classification,
        "reply_days": args.reply_days, "reply_deadline_ms": deadline, "case_id": args.case_id,
        "cert_id": args.cert_id, "plaintext_sha256": args.plaintext_sha256,
        "ciphertext_sha256": args.ciphertext_sha256, "ciphertext_size": args.ciphertext_size,
        "forwarded_from": None, "origin_sender": officer.department,
    }
    record = _new_record(doc_id, content, officer, args.recipients, args.sealed_keys, ctx)
    _put(overlay, record, _history("sent", officer, ctx, ""))
    _put_indexes(overlay, record)
    overlay.put_value(Q.number_key(officer.department, year, args.number), doc_id)
    # EVENTS
    event = _event("sent", record, ctx.signer, year=year, classification=args.classification,
                   ciphertext_sha256=args.ciphertext_sha256, ciphertext_size=args.ciphertext_size,
                   reply_deadline_ms=deadline, case_id=args.case_id, cert_id=args.cert_id)
    return Outcome((event,), _entities(record, ctx.signer))


def receipt(overlay: StateOverlay, args: ReceiptArgs, ctx: CallContext) -> Outcome:
    """Sign for a document (签收), confirming the plaintext hash the recipient decrypted.

    Raises ContractError: the roster's errors (role document_officer), document_not_found, not_a_recipient,
    document_withdrawn, already_received, already_returned, hash_mismatch.
    """
    officer = governance.require_member(overlay, ctx.signer, ctx.height, (ROLE_OFFICER,))
    record = _load(overlay, args.doc_id)
    status = _require_recipient(record, officer.department)
    _require_not_withdrawn(record)
    _require_pending(record, officer.department, status)
    if args.plaintext_sha256 != record["plaintext_sha256"]:
        raise ContractError("hash_mismatch", f"the plaintext hash {args.plaintext_sha256.hex()} is not that of "
                            f"document {args.doc_id} ({record['plaintext_sha256'].hex()})", field="plaintext_sha256")
    status.update(state=Q.RECEIVED, height=ctx.height, time_ms=ctx.block_time_ms, signer=officer.public_key,
                  signer_name=officer.name, plaintext_sha256=args.plaintext_sha256)
    record["recipient_status"] = {**record["recipient_status"], officer.department: status}
    _put(overlay, record, _history("received", officer, ctx, ""))
    event = _event("received", record, ctx.signer, department=officer.department)
    return Outcome((event,), _entities(record, ctx.signer))


def return_document(overlay: StateOverlay, args: ReasonArgs, ctx: CallContext) -> Outcome:
    """Return a document to its sender (退回) with a reason.

    Raises ContractError: the roster's errors (role document_officer), document_not_found, not_a_recipient,
    document_withdrawn, already_received, already_returned.
    """
    officer = governance.require_member(overlay, ctx.signer, ctx.height, (ROLE_OFFICER,))
    record = _load(overlay, args.doc_id)
    status = _require_recipient(record, officer.department)
    _require_not_withdrawn(record)
    _require_pending(record, officer.department, status)
    status.update(state=Q.RETURNED, height=ctx.height, time_ms=ctx.block_time_ms, signer=officer.public_key,
                  signer_name=officer.name, reason=args.reason)
    record["recipient_status"] = {**record["recipient_status"], officer.department: status}
    _put(overlay, record, _history("returned", officer, ctx, args.reason))
    _delete_if_present(overlay, Q.undelivered_key(officer.department, args.doc_id))  # nothing left to deliver
    event = _event("returned", record, ctx.signer, department=officer.department, reason=args.reason)
    return Outcome((event,), _entities(record, ctx.signer))


def withdraw(overlay: StateOverlay, args: ReasonArgs, ctx: CallContext) -> Outcome:
    """Withdraw a document (撤回) while no recipient has received it; its recipients lose the ciphertext.

    Raises ContractError: the roster's errors (role document_officer), document_not_found, not_the_sender,
    already_withdrawn, already_received (naming who).
    """
    officer = governance.require_member(overlay, ctx.signer, ctx.height, (ROLE_OFFICER,))
    record = _load(overlay, args.doc_id)
    if record["sender"] != officer.department:
        raise ContractError("not_the_sender", f"document {args.doc_id} was sent by {record['sender']}; the signer "
                            f"belongs to {officer.department}", field="doc_id")
    if record["withdrawn"] is not None:
        raise ContractError("already_withdrawn", f"document {args.doc_id} was already withdrawn at height "
                            f"{record['withdrawn']['height']}", field="doc_id")
    received = [code for code, s in record["recipient_status"].items() if s["state"] == Q.RECEIVED]
    if received:
        raise ContractError("already_received", f"document {args.doc_id} was already received by "
                            f"{', '.join(received)}; it can no longer be withdrawn", field="doc_id")
    record["withdrawn"] = {"reason": args.reason, "signer": officer.public_key, "height": ctx.height,
                           "time_ms": ctx.block_time_ms, "tx_id": ctx.tx_id}
    _put(overlay, record, _history("withdrawn", officer, ctx, args.reason))
    for code in record["recipients"]:
        _delete_if_present(overlay, Q.undelivered_key(code, args.doc_id))
    event = _event("withdrawn", record, ctx.signer, reason=args.reason)
    return Outcome((event,), _entities(record, ctx.signer))


def forward(overlay: StateOverlay, args: ForwardArgs, ctx: CallContext) -> Outcome:
    """Forward a received document (转发) to new recipients: a new record with the same content and number,
    new sealed keys, `forwarded_from` naming the original, whose `forwards` and history name it.

    Raises ContractError: the roster's errors (role document_officer), document_not_found, not_a_recipient,
    not_received, document_withdrawn, too_many_forwards, already_a_recipient, and the recipient and key
    refusals of `send`.
    """
    officer = governance.require_member(overlay, ctx.signer, ctx.height, (ROLE_OFFICER,))
    original = _load(overlay, args.doc_id)
    status = _require_recipient(original, officer.department)
    _require_not_withdrawn(original)  # first: nothing withdrawn was ever received
    if status["state"] != Q.RECEIVED:
        raise ContractError("not_received", f"{officer.department} has not received document {args.doc_id} "
                            f"({status['state']}); only a received document can be forwarded", field="doc_id")
    if len(original["forwards"]) >= Q.MAX_FORWARDS:
        raise ContractError("too_many_forwards", f"document {args.doc_id} was already forwarded "
                            f"{Q.MAX_FORWARDS} times", field="doc_id")
    validate_recipients(overlay, officer.department, args.recipients, args.sealed_keys, ctx.height,
                        holding=Q.holders(original))
    doc_id = _new_id(overlay, ctx)
    content = {name: original[name] for name in (
        "number", "year", "title", "classification", "case_id", "cert_id", "plaintext_sha256",
        "ciphertext_sha256", "ciphertext_size", "origin_sender")}
    content.update(reply_days=None, reply_deadline_ms=None, forwarded_from=args.doc_id)
    record = _new_record(doc_id, content, officer, args.recipients, args.sealed_keys, ctx)
    _put(overlay, record, _history("sent", officer, ctx, args.note))
    _put_indexes(overlay, record)
    original["forwards"] = [*original["forwards"], doc_id]
    _put(overlay, original, _history("forwarded", officer, ctx, doc_id))
    event = _event("forwarded", record, ctx.signer, forwarded_from=args.doc_id, note=args.note)
    return Outcome((event,), _entities(record, ctx.signer, f"document:{args.doc_id}"))


def delivered(overlay: StateOverlay, args: DeliveredArgs, ctx: CallContext) -> Outcome:
    """A recipient department's node reports that it holds the document's ciphertext.

    Raises ContractError: the roster's errors (role node), document_not_found, not_a_recipient,
    already_delivered, document_withdrawn.
    """
    node = governance.require_member(overlay, ctx.signer, ctx.height, (governance.ROLE_NODE,))
    record = _load(overlay, args.doc_id)
    status = _require_recipient(record, node.department)
    if status["delivered_height"] is not None:
        raise ContractError("already_delivered", f"{node.department}'s node already reported document "
                            f"{args.doc_id} delivered at height {status['delivered_height']}", field="doc_id")
    _require_not_withdrawn(record)
    status.update(delivered_height=ctx.height, delivered_ms=ctx.block_time_ms)
    record["recipient_status"] = {**record["recipient_status"], node.department: status}
    _put(overlay, record, _history("delivered", node, ctx, ""))
    _delete_if_present(overlay, Q.undelivered_key(node.department, args.doc_id))
    event = _event("delivered", record, ctx.signer, department=node.department)
    return Outcome((event,), _entities(record, ctx.signer))


def access(overlay: StateOverlay, args: AccessArgs, ctx: CallContext) -> Outcome:
    """Record an opening of a document by a member of a department that holds a sealed key of it.

    An opening of a confidential document with neither a case nor a purpose is allowed but `flagged`.
    Raises ContractError: the roster's errors, document_not_found, no_access (naming the departments that
    may), document_withdrawn (for recipients; the sender keeps access to its archive), too_many_openings.
    """
    member = governance.require_member(overlay, ctx.signer, ctx.height)
    record = _load(overlay, args.doc_id)
    allowed = Q.holders(record)
    if member.department not in allowed:
        raise ContractError("no_access", f"{member.department} holds no key of document {args.doc_id}; only "
                            f"{', '.join(allowed)} may open it", field="doc_id")
    if member.department != record["sender"]:
        _require_not_withdrawn(record)
    if args.case_id is not None and case_queries.get_case(overlay, args.case_id) is None:
        raise ContractError("case_not_found", f"there is no case {args.case_id}; an opening names a real case "
                            "or a purpose", field="case_id")
    seq = int(record["access_count"])
    if seq >= MAX_ACCESS_SEQ:
        raise ContractError("too_many_openings", f"document {args.doc_id} has been opened {seq} times",
                            field="doc_id")
    flagged = record["classification"] == "confidential" and args.case_id is None and not args.purpose
    overlay.put_value(Q.access_key(args.doc_id, seq), {
        "signer": member.public_key, "signer_name": member.name, "department": member.department,
        "roles": list(member.roles), "height": ctx.height, "time_ms": ctx.block_time_ms, "tx_id": ctx.tx_id,
        "case_id": args.case_id, "purpose": args.purpose, "flagged": flagged,
    })
    record["access_count"] = seq + 1
    _put(overlay, record)
    event = _event("opened", record, ctx.signer, department=member.department, seq=seq, flagged=flagged,
                   reply_key=args.reply_key, case_id=args.case_id)
    extra = (f"case:{args.case_id}",) if args.case_id is not None and args.case_id != record["case_id"] else ()
    return Outcome((event,), _entities(record, ctx.signer, *extra))


_DOC_ID: Final = "0123456789abcdef0123456789abcdef"
_SEALED: Final = {"department": "SAMR", "fingerprint": "<32 bytes>", "sealed": "<80 bytes>"}

METHODS: Final[dict[str, Method]] = {
    "send": Method(
        parse=parse_send, handler=send, targets=compute_document_targets,
        description="A document officer sends an encrypted official document to other departments, with the "
                    "content key sealed to each recipient's and its own encryption key in force.",
        example={"number": "PSB[2026]12", "title": "Notice on joint inspection", "classification": "internal",
                 "recipients": ["SAMR"], "plaintext_sha256": "<32 bytes>", "ciphertext_sha256": "<32 bytes>",
                 "ciphertext_size": 1_048_627, "reply_days": 5,
                 "sealed_keys": [{**_SEALED, "department": "PSB"}, _SEALED]},
    ),
    "receipt": Method(
        parse=parse_receipt, handler=receipt, targets=compute_document_targets,
        description="A recipient's document officer signs for a document, confirming the plaintext's hash.",
        example={"doc_id": _DOC_ID, "plaintext_sha256": "<32 bytes>"},
    ),
    "return": Method(
        parse=parse_reason, handler=return_document, targets=compute_document_targets,
        description="A recipient's document officer returns a document to its sender with a reason.",
        example={"doc_id": _DOC_ID, "reason": "not within our remit"},
    ),
    "withdraw": Method(
        parse=parse_reason, handler=withdraw, targets=compute_document_targets,
        description="The sender's document officer withdraws a document that no recipient has received yet.",
        example={"doc_id": _DOC_ID, "reason": "sent in error"},
    ),
    "forward": Method(
        parse=parse_forward, handler=forward, targets=compute_document_targets,
        description="A recipient's document officer forwards a received document to other departments.",
        example={"doc_id": _DOC_ID, "recipients": ["TAX"], "note": "for your information",
                 "sealed_keys": [_SEALED, {**_SEALED, "department": "TAX"}]},
    ),
    "delivered": Method(
        parse=parse_delivered, handler=delivered, targets=compute_document_targets,
        description="A recipient department's node reports that it holds the document's ciphertext.",
        example={"doc_id": _DOC_ID},
    ),
    "access": Method(
        parse=parse_access, handler=access, targets=compute_document_targets,
        description="A member of a department holding a key of the document records an opening of it.",
        example={"doc_id": _DOC_ID, "reply_key": "<32 bytes>", "purpose": "drafting the reply"},
    ),
}
