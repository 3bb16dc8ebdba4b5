"""The arguments of the documents contract's methods: their shapes and the stateless parsers run at admission
and again at execution (each raises ContractError naming the field; `invalid_arguments` unless said)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from chainnode import crypto
from chainnode.codec import Value
from contracts import args as A
from contracts.base import ContractError, want_args_map

MAX_RECIPIENTS: Final = 64
MAX_SEALED_KEYS: Final = MAX_RECIPIENTS + 1
"""One sealed content key per recipient and one for the sender."""
MAX_NUMBER: Final = 64
"""Characters of a document number (文号), e.g. "京政发〔2026〕12号"."""
MAX_REPLY_DAYS: Final = 365
SEALED_SIZE: Final = 32 + 48
"""A sealed box (`crypto_box_seal`, 48 bytes of overhead) of a 32-byte content key."""
MIN_CIPHERTEXT: Final = 30 + 21
"""The envelope of an empty plaintext: magic, header and one sealed chunk of 0 bytes."""
MAX_CIPHERTEXT: Final = 1 << 30
"""The parser's bound; the contract refuses anything above `docs/config` max_document_bytes."""
CLASSIFICATIONS: Final = ("public", "internal", "confidential")


@dataclass(frozen=True, slots=True)
class SealedKey:
    """The content key sealed to one department's encryption key, named by that key's fingerprint."""

    department: str
    fingerprint: bytes
    sealed: bytes

    def to_value(self) -> dict[str, Value]:
        return {"department": self.department, "fingerprint": self.fingerprint, "sealed": self.sealed}


@dataclass(frozen=True, slots=True)
class SendArgs:
    number: str
    title: str
    classification: str
    recipients: tuple[str, ...]
    plaintext_sha256: bytes
    ciphertext_sha256: bytes
    ciphertext_size: int
    sealed_keys: tuple[SealedKey, ...]
    reply_days: int | None
    case_id: str | None
    cert_id: str | None


@dataclass(frozen=True, slots=True)
class ReceiptArgs:
    doc_id: str
    plaintext_sha256: bytes


@dataclass(frozen=True, slots=True)
class ReasonArgs:
    """The arguments of `return` and `withdraw`."""

    doc_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class ForwardArgs:
    doc_id: str
    recipients: tuple[str, ...]
    sealed_keys: tuple[SealedKey, ...]
    note: str


@dataclass(frozen=True, slots=True)
class DeliveredArgs:
    doc_id: str


@dataclass(frozen=True, slots=True)
class AccessArgs:
    doc_id: str
    reply_key: bytes
    case_id: str | None
    purpose: str


def _recipients(value: Value, field: str) -> tuple[str, ...]:
    """1 to 64 department codes; one listed twice is `duplicate_recipient`."""
    recipients = A.items_of(value, field, A.department_code, max_items=MAX_RECIPIENTS, min_items=1, unique=False)
    twice = sorted({r for r in recipients if recipients.count(r) > 1})
    if twice:
        raise ContractError("duplicate_recipient", f"{field} lists {', '.join(twice)} more than once", field=field)
    return recipients


def _sealed_key(value: Value, field: str) -> SealedKey:
    f = want_args_map(value, {"department", "fingerprint", "sealed"}, {"department", "fingerprint", "sealed"})
    sealed = f["sealed"]
    if type(sealed) is not bytes or len(sealed) != SEALED_SIZE:
        raise A.bad(f"{field}.sealed", f"{field}.sealed must be {SEALED_SIZE} bytes (a sealed box of a 32-byte "
                    "content key)")
    return SealedKey(department=A.department_code(f["department"], f"{field}.department"),
                     fingerprint=A.bytes32(f["fingerprint"], f"{field}.fingerprint"), sealed=sealed)


def _sealed_keys(value: Value, field: str) -> tuple[SealedKey, ...]:
    """One sealed key per department, sorted by department; a department twice is `sealed_keys_mismatch`."""
    keys = A.items_of(value, field, _sealed_key, max_items=MAX_SEALED_KEYS, min_items=1, unique=False)
    departments = [k.department for k in keys]
    twice = sorted({d for d in departments if departments.count(d) > 1})
    if twice:
        raise ContractError("sealed_keys_mismatch", f"{field} holds more than one key for {', '.join(twice)}",
                            field=field)
    return tuple(sorted(keys, key=lambda k: k.department))


def _optional_text(fields: dict[str, Value], name: str, max_len: int = A.MAX_TEXT) -> str:
    return A.optional(fields, name, lambda v, n: A.text(v, n, min_len=0, max_len=max_len), "")


def parse_send(args: Value) -> SendArgs:
    """Raises ContractError: invalid_arguments naming the argument, duplicate_recipient, sealed_keys_mismatch."""
    f = want_args_map(args, {"number", "title", "classification", "recipients", "plaintext_sha256",
                             "ciphertext_sha256", "ciphertext_size", "sealed_keys", "reply_days", "case_id",
                             "cert_id"},
                      {"number", "title", "classification", "recipients", "plaintext_sha256", "ciphertext_sha256",
                       "ciphertext_size", "sealed_keys"})
    return SendArgs(
        number=A.text(f["number"], "number", max_len=MAX_NUMBER),
        title=A.text(f["title"], "title"),
        classification=A.choice(f["classification"], "classification", CLASSIFICATIONS),
        recipients=_recipients(f["recipients"], "recipients"),
        plaintext_sha256=A.bytes32(f["plaintext_sha256"], "plaintext_sha256"),
        ciphertext_sha256=A.bytes32(f["ciphertext_sha256"], "ciphertext_sha256"),
        ciphertext_size=A.integer(f["ciphertext_size"], "ciphertext_size", low=MIN_CIPHERTEXT, high=MAX_CIPHERTEXT),
        sealed_keys=_sealed_keys(f["sealed_keys"], "sealed_keys"),
        reply_days=A.optional(f, "reply_days", lambda v, n: A.integer(v, n, low=1, high=MAX_REPLY_DAYS), None),
        case_id=A.optional(f, "case_id", A.record_id, None),
        cert_id=A.optional(f, "cert_id", A.record_id, None),
    )


def parse_receipt(args: Value) -> ReceiptArgs:
    f = want_args_map(args, {"doc_id", "plaintext_sha256"}, {"doc_id", "plaintext_sha256"})
    return ReceiptArgs(doc_id=A.record_id(f["doc_id"], "doc_id"),
                       plaintext_sha256=A.bytes32(f["plaintext_sha256"], "plaintext_sha256"))


def parse_reason(args: Value) -> ReasonArgs:
    f = want_args_map(args, {"doc_id", "reason"}, {"doc_id", "reason"})
    return ReasonArgs(doc_id=A.record_id(f["doc_id"], "doc_id"), reason=A.text(f["reason"], "reason"))


def parse_forward(args: Value) -> ForwardArgs:
    """Raises ContractError: invalid_arguments naming the argument, duplicate_recipient, sealed_keys_mismatch."""
    f = want_args_map(args, {"doc_id", "recipients", "sealed_keys", "note"}, {"doc_id", "recipients", "sealed_keys"})
    return ForwardArgs(doc_id=A.record_id(f["doc_id"], "doc_id"), recipients=_recipients(f["recipients"], "recipients"),
                       sealed_keys=_sealed_keys(f["sealed_keys"], "sealed_keys"), note=_optional_text(f, "note"))


def parse_delivered(args: Value) -> DeliveredArgs:
    f = want_args_map(args, {"doc_id"}, {"doc_id"})
    return DeliveredArgs(doc_id=A.record_id(f["doc_id"], "doc_id"))


def parse_access(args: Value) -> AccessArgs:
    f = want_args_map(args, {"doc_id", "reply_key", "case_id", "purpose"}, {"doc_id", "reply_key"})
    purpose = _optional_text(f, "purpose")
    if "purpose" in f and not purpose.strip():
        raise A.bad("purpose", "purpose, when given, must say something (not only spaces)")
    reply_key = A.bytes32(f["reply_key"], "reply_key")
    if not crypto.is_usable_encryption_key(reply_key):
        raise A.bad("reply_key", "reply_key is not a usable X25519 public key (a low-order point)")
    return AccessArgs(doc_id=A.record_id(f["doc_id"], "doc_id"), reply_key=reply_key,
                      case_id=A.optional(f, "case_id", A.record_id, None), purpose=purpose)


def compute_document_targets(args: SendArgs | ReceiptArgs | ReasonArgs | ForwardArgs | DeliveredArgs | AccessArgs
                             ) -> tuple[str, ...]:
    """The entities a documents call names: the document (none yet for a send), the recipient departments of
    a send or forward, and the case or certificate it cites."""
    named = [] if isinstance(args, SendArgs) else [f"document:{args.doc_id}"]
    if isinstance(args, SendArgs | ForwardArgs):
        named += (f"department:{code}" for code in args.recipients)
    if isinstance(args, SendArgs | AccessArgs) and args.case_id is not None:
        named.append(f"case:{args.case_id}")
    if isinstance(args, SendArgs) and args.cert_id is not None:
        named.append(f"cert:{args.cert_id}")
    return tuple(named)
