"""Official documents (公文), read side: the state layout of document records and their indexes, and the
pure queries the node and the API run over them (who may fetch a ciphertext, what a node still has to
fetch, a department's boxes, a document's openings).

The `documents` contract (`contracts.documents`) writes these keys; everything here takes a StateReader
and never writes. Document IDs are 32 lowercase hex digits (`contracts.args.ID_HEX`).

State layout:
- `doc/<id>` -> the document record: {"doc_id", "number", "year", "title", "classification" ("public" |
  "internal" | "confidential"), "sender", "sender_officer", "sender_officer_name", "recipients" ([codes],
  sorted), "reply_days" (or None), "reply_deadline_ms" (or None), "case_id", "cert_id" (or None),
  "plaintext_sha256", "ciphertext_sha256", "ciphertext_size", "sealed_keys" ([{"department",
  "fingerprint", "sealed"}], sorted by department), "forwarded_from" (an ID or None), "origin_sender",
  "forwards" ([IDs]), "sent_height", "sent_ms", "tx_id", "withdrawn" (None or {"reason", "signer",
  "height", "time_ms", "tx_id"}), "recipient_status" ({code: {"state": "pending" | "received" |
  "returned", "delivered_height", "delivered_ms", "height", "time_ms", "signer", "signer_name", "reason",
  "plaintext_sha256"}}), "access_count", "history" ([{"action", "department", "signer", "signer_name",
  "height", "time_ms", "tx_id", "detail"}])}.
- `docs/access/<id>/<seq, 4 bytes big-endian>` -> one access record per opening, seq from 0:
  {"signer", "signer_name", "department", "roles", "height", "time_ms", "tx_id", "case_id", "purpose",
  "flagged"}.
- `docs/sent/<dept>/<id>`, `docs/inbox/<dept>/<id>` -> nil: what a department sent (or forwarded) and
  received (or was forwarded).
- `docs/undelivered/<dept>/<id>` -> nil: inbox entries whose ciphertext the department's node does not
  yet hold; deleted on delivery or withdrawal (the one index this contract deletes from: it is a work
  queue read at the head, never listed at a past height).
- `docs/number/<dept>/<year>/<number>` -> the ID holding that document number of the department that year.
- `docs/case/<case_id>/<id>`, `docs/cert/<cert_id>/<id>` -> nil: documents related to a case or certificate.
- `docs/blob/<ciphertext_sha256, 32 bytes>/<id>` -> nil: the documents that carry a ciphertext.
- `docs/config` -> {"max_document_bytes"} (`contracts.proposals.DOCS_CONFIG_KEY`).
`doc/` is not a prefix of `docs/`, so a scan of one never meets the other.

Bounds: at most 64 recipients and 64 forwards per record, so its history holds at most 1 + 2 * 64 + 1 +
64 = 194 entries (one send, a delivery and a receipt or return per recipient, a withdrawal, the forwards)
and never reaches its cap of 256. Openings are separate keys, unbounded.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Final

from chainnode.results import jsonable
from contracts import args as A
from contracts.base import StateReader, decode_state, derive_record_id

PREFIX_DOC: Final = b"doc/"
PREFIX_ACCESS: Final = b"docs/access/"
PREFIX_SENT: Final = b"docs/sent/"
PREFIX_INBOX: Final = b"docs/inbox/"
PREFIX_UNDELIVERED: Final = b"docs/undelivered/"
PREFIX_NUMBER: Final = b"docs/number/"
PREFIX_CASE: Final = b"docs/case/"
PREFIX_CERT: Final = b"docs/cert/"
PREFIX_BLOB: Final = b"docs/blob/"
DOMAIN_DOCUMENT: Final = b"chainnode/v1/document"
INDEX_VALUE: Final = b"\xc0"
SEQ_BYTES: Final = 4
MAX_FORWARDS: Final = 64
MAX_HISTORY: Final = 256
MAX_LIST: Final = 1000

PENDING: Final = "pending"
RECEIVED: Final = "received"
RETURNED: Final = "returned"
BOXES: Final = ("sent", "inbox", "pending_receipt", "overdue")
ROLE_AUDITOR: Final = "auditor"


def compute_doc_id(tx_id: bytes) -> str:
    """SHA-256(b"chainnode/v1/document" || 0x00 || tx_id), first 16 bytes, as hex."""
    return derive_record_id(DOMAIN_DOCUMENT, tx_id)


def doc_key(doc_id: str) -> bytes:
    return PREFIX_DOC + doc_id.encode()


def access_prefix(doc_id: str) -> bytes:
    return PREFIX_ACCESS + doc_id.encode() + b"/"


def access_key(doc_id: str, seq: int) -> bytes:
    return access_prefix(doc_id) + seq.to_bytes(SEQ_BYTES, "big")


def _department_prefix(prefix: bytes, department: str) -> bytes:
    return prefix + department.encode() + b"/"


def sent_key(department: str, doc_id: str) -> bytes:
    return _department_prefix(PREFIX_SENT, department) + doc_id.encode()


def inbox_key(department: str, doc_id: str) -> bytes:
    return _department_prefix(PREFIX_INBOX, department) + doc_id.encode()


def undelivered_key(department: str, doc_id: str) -> bytes:
    return _department_prefix(PREFIX_UNDELIVERED, department) + doc_id.encode()


def number_key(department: str, year: int, number: str) -> bytes:
    """The number is the key's last part, so a '/' in it is unambiguous."""
    return _department_prefix(PREFIX_NUMBER, department) + str(year).encode() + b"/" + number.encode()


def case_index_key(case_id: str, doc_id: str) -> bytes:
    return PREFIX_CASE + case_id.encode() + b"/" + doc_id.encode()


def cert_index_key(cert_id: str, doc_id: str) -> bytes:
    return PREFIX_CERT + cert_id.encode() + b"/" + doc_id.encode()


def blob_prefix(ciphertext_sha256: bytes) -> bytes:
    return PREFIX_BLOB + ciphertext_sha256 + b"/"


def blob_key(ciphertext_sha256: bytes, doc_id: str) -> bytes:
    return blob_prefix(ciphertext_sha256) + doc_id.encode()


# --- single records ----------------------------------------------------------------------------------


def get_document(reader: StateReader, doc_id: str) -> dict[str, Any] | None:
    """The document record (shape in the module docstring), or None (also for a malformed ID)."""
    if type(doc_id) is not str or not A.ID_HEX.match(doc_id):
        return None
    raw = reader.get(doc_key(doc_id))
    return None if raw is None else dict(decode_state(raw))


def document_json(record: dict[str, Any]) -> dict[str, Any]:
    """The record as JSON: bytes as lowercase hex."""
    return {key: jsonable(value) for key, value in record.items()}


def holders(record: dict[str, Any]) -> list[str]:
    """The departments holding a sealed key of the record: its sender and its recipients, sorted."""
    return sorted({record["sender"], *record["recipients"]})


def get_number_holder(reader: StateReader, department: str, year: int, number: str) -> str | None:
    """The ID of the document that holds `number` of `department` in `year`, or None."""
    raw = reader.get(number_key(department, year, number))
    return None if raw is None else str(decode_state(raw))


def is_overdue(record: dict[str, Any], department: str, now_ms: int) -> bool:
    """`department`'s receipt of a document not withdrawn is still pending past its reply deadline."""
    status = record["recipient_status"].get(department)
    deadline = record["reply_deadline_ms"]
    return (status is not None and status["state"] == PENDING and record["withdrawn"] is None
            and deadline is not None and now_ms > deadline)


def may_read(reader: StateReader, doc_id: str, department: str, roles: Collection[str]) -> bool:
    """Whether a member of `department` holding `roles` may read the document's record (not its content):
    its sender, any of its recipients, or an auditor."""
    record = get_document(reader, doc_id)
    if record is None:
        return False
    return department in holders(record) or ROLE_AUDITOR in roles


def access_records(reader: StateReader, doc_id: str, *, limit: int | None = None) -> list[dict[str, Any]]:
    """Every opening of the document, in order (`seq` added to each), or the first `limit`."""
    if type(doc_id) is not str or not A.ID_HEX.match(doc_id):
        return []
    prefix = access_prefix(doc_id)
    found: list[dict[str, Any]] = []
    for key, raw in reader.iter_prefix(prefix):
        if limit is not None and len(found) >= limit:
            break
        found.append({"seq": int.from_bytes(key[len(prefix):], "big"), **dict(decode_state(raw))})
    return found


# --- lists -------------------------------------------------------------------------------------------


def _ids_under(reader: StateReader, prefix: bytes) -> list[str]:
    return [key[len(prefix):].decode() for key, _ in reader.iter_prefix(prefix)]


def _records(reader: StateReader, ids: list[str]) -> list[dict[str, Any]]:
    records = (get_document(reader, doc_id) for doc_id in ids)
    return [r for r in records if r is not None]


def _newest_first(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(records, key=lambda r: (r["sent_height"], r["doc_id"]), reverse=True)


def documents_of(reader: StateReader, department: str, box: str, *, now_ms: int | None = None,
                 limit: int = 100) -> list[dict[str, Any]]:
    """A department's documents in one box, newest first, at most `limit`.

    "sent": what it sent or forwarded; "inbox": what it received or was forwarded; "pending_receipt": inbox
    documents not withdrawn that it has neither received nor returned; "overdue": those of them whose reply
    deadline had passed at block time `now_ms` (required for this box). Reads every record of the box (the
    indexes are keyed by ID, not by time). Raises ValueError for an unknown box or an overdue box without
    `now_ms`.
    """
    if box not in BOXES:
        raise ValueError(f"box must be one of {', '.join(BOXES)}")
    if box == "overdue" and now_ms is None:
        raise ValueError("the overdue box needs now_ms")
    if box == "sent":
        return _newest_first(_records(reader, _ids_under(reader, _department_prefix(PREFIX_SENT, department))))[:limit]
    records = _records(reader, _ids_under(reader, _department_prefix(PREFIX_INBOX, department)))
    if box == "pending_receipt":
        records = [r for r in records
                   if r["withdrawn"] is None and r["recipient_status"][department]["state"] == PENDING]
    elif box == "overdue":
        assert now_ms is not None
        records = [r for r in records if is_overdue(r, department, now_ms)]
    return _newest_first(records)[:limit]


def documents_of_case(reader: StateReader, case_id: str, *, limit: int = MAX_LIST) -> list[dict[str, Any]]:
    """The documents related to a case (sent or forwarded with its ID), oldest first."""
    if type(case_id) is not str or not A.ID_HEX.match(case_id):
        return []
    ids = _ids_under(reader, PREFIX_CASE + case_id.encode() + b"/")
    return _newest_first(_records(reader, ids))[::-1][:limit]


def documents_of_certificate(reader: StateReader, cert_id: str, *, limit: int = MAX_LIST) -> list[dict[str, Any]]:
    """The documents related to a certificate, oldest first."""
    if type(cert_id) is not str or not A.ID_HEX.match(cert_id):
        return []
    ids = _ids_under(reader, PREFIX_CERT + cert_id.encode() + b"/")
    return _newest_first(_records(reader, ids))[::-1][:limit]


def blob_parties(reader: StateReader, ciphertext_sha256: bytes) -> frozenset[str]:
    """The departments whose nodes may fetch the ciphertext with this SHA-256: the sender of every document
    that carries it, and the recipients of those not withdrawn."""
    if type(ciphertext_sha256) is not bytes or len(ciphertext_sha256) != 32:
        return frozenset()
    parties: set[str] = set()
    for record in _records(reader, _ids_under(reader, blob_prefix(ciphertext_sha256))):
        parties.add(record["sender"])
        if record["withdrawn"] is None:
            parties.update(record["recipients"])
    return frozenset(parties)


def pending_deliveries(reader: StateReader, department: str, limit: int, *, after: str | None = None
                       ) -> list[tuple[str, bytes, int]]:
    """(doc_id, ciphertext_sha256, ciphertext_size) of the department's inbox documents whose delivery its
    node has not yet reported, in ID order, at most `limit`, those with an ID after `after` (a page cursor)."""
    found: list[tuple[str, bytes, int]] = []
    prefix = _department_prefix(PREFIX_UNDELIVERED, department)
    for key, _ in reader.iter_prefix(prefix):
        if len(found) >= limit:
            break
        doc_id = key[len(prefix):].decode()
        if after is not None and doc_id <= after:
            continue
        record = get_document(reader, doc_id)
        if record is not None:
            found.append((doc_id, bytes(record["ciphertext_sha256"]), int(record["ciphertext_size"])))
    return found
