"""Verifying a document against genesis alone: who sent it, when, with which content, who received it.

A verifier holds the file (the plaintext), the network's genesis.json and a state proof of the document's
record (from a node, or a saved proof file). `verify_document_bundle` checks the proof with chainnode.light
and reads everything it reports from the proven record only: the sender and its officer, the block height
and time of the send, the plaintext's SHA-256 (compared with the file's), and each recipient's status with
the receipt's signer and the content hash the receipt names. This is what `chainnode doc verify` runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from chainnode.anchor_verify import decode_proven_record, format_time_ms, proven_field, verify_state_value
from chainnode.errors import InvalidProof
from chainnode.genesis import Genesis
from contracts.document_queries import doc_key

MAX_RECORD_BYTES: Final = 1 << 20


@dataclass(frozen=True, slots=True, kw_only=True)
class RecipientStatus:
    department: str
    state: str
    delivered_height: int | None
    signer_name: str | None
    height: int | None
    time: str | None
    reason: str | None
    receipt_matches: bool | None
    """For a receipt: whether it names the same plaintext hash as the send (the contract requires it)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedDocument:
    doc_id: str
    number: str
    title: str
    classification: str
    sender: str
    sender_name: str | None
    sender_officer: str
    sender_officer_name: str
    sent_height: int
    sent_time: str
    plaintext_sha256: str
    content_matches: bool | None
    """Whether the file given hashes to the plaintext_sha256 on chain (None: no file given)."""
    forwarded_from: str | None
    """For a forward (转发): the document it forwards; `sender` is then the forwarding department."""
    origin_sender: str
    """The department that first sent the content (the sender, unless this is a forward)."""
    withdrawn: bool
    recipients: list[RecipientStatus] = field(default_factory=list)
    proven_at_height: int = 0
    proven_block_hash: str = ""


def _field(record: dict[str, Any], name: str, kind: type) -> Any:
    return proven_field(record, name, kind, "a document record")


def verify_document_bundle(genesis: Genesis, doc_id: str, data: bytes, file_sha256: bytes | None = None
                           ) -> VerifiedDocument:
    """Verify a state proof of document `doc_id`'s record against `genesis` alone.

    Raises InvalidProof naming the failed check (format, block and commit, state path, absence, a record
    under another key, a malformed record)."""
    verified = verify_state_value(genesis, data)
    if verified.key != doc_key(doc_id):
        raise InvalidProof("record check failed: the proof is for another key than this document's record",
                           field="key")
    if verified.value is None:
        raise InvalidProof(f"record check failed: the proof shows that no document {doc_id} exists at height "
                           f"{verified.height}")
    record = decode_proven_record(verified.value, "a document record", MAX_RECORD_BYTES)
    if _field(record, "doc_id", str) != doc_id:
        raise InvalidProof("record check failed: the proven record is of another document", field="doc_id")
    plaintext = _field(record, "plaintext_sha256", bytes)
    statuses = _field(record, "recipient_status", dict)
    recipients = []
    for code in _field(record, "recipients", list):
        status = statuses.get(code)
        if type(status) is not dict:
            raise InvalidProof(f"record check failed: no status for recipient {code}")
        state = str(status.get("state"))
        named = status.get("plaintext_sha256")
        acted = state in ("received", "returned")
        time_ms = status.get("time_ms")
        recipients.append(RecipientStatus(
            department=str(code), state=state, delivered_height=status.get("delivered_height"),
            signer_name=status.get("signer_name") if acted else None,
            height=status.get("height") if acted else None,
            time=format_time_ms(time_ms) if acted and type(time_ms) is int else None,
            reason=status.get("reason") if state == "returned" else None,
            receipt_matches=(named == plaintext) if state == "received" else None,
        ))
    sender = _field(record, "sender", str)
    dept = genesis.department(sender)
    return VerifiedDocument(
        doc_id=doc_id, number=_field(record, "number", str), title=_field(record, "title", str),
        classification=_field(record, "classification", str), sender=sender,
        sender_name=None if dept is None else dept.name,
        sender_officer=_field(record, "sender_officer", bytes).hex(),
        sender_officer_name=_field(record, "sender_officer_name", str),
        sent_height=_field(record, "sent_height", int), sent_time=format_time_ms(_field(record, "sent_ms", int)),
        plaintext_sha256=plaintext.hex(),
        content_matches=None if file_sha256 is None else file_sha256 == plaintext,
        forwarded_from=record.get("forwarded_from"), origin_sender=_field(record, "origin_sender", str),
        withdrawn=record.get("withdrawn") is not None,
        recipients=recipients, proven_at_height=verified.height, proven_block_hash=verified.block_hash.hex(),
    )
