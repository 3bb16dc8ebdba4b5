"""The client side of the document exchange: encrypt, seal, upload and send; open, check and save; forward.

Everything that touches plaintext runs here, on the member's machine: a node never sees a plaintext it is
not a recipient of. Opening goes through the member's own department node, which records the opening on
the ledger (a `documents.access` transaction the member signs) before it hands over the content key,
sealed to a one-time X25519 key made for this opening alone (docs/documents.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from chainnode import crypto, envelope
from chainnode.anchor_verify import decode_proven_record, verify_state_value
from chainnode.client_records import ContractRefused, check_committed
from chainnode.codec import Value
from chainnode.errors import ChainError, DecryptionFailed, InvalidProof
from chainnode.genesis import Genesis
from contracts import governance
from contracts.base import ContractError, derive_record_id
from contracts.document_args import parse_send

if TYPE_CHECKING:
    from chainnode.client import Client

DOMAIN_DOCUMENT: Final = b"chainnode/v1/document"
COMMIT_WAIT_S: Final = 60


class DocumentError(ChainError):
    """A document could not be sent or opened on the client's side; the message names the step."""

    code = "document_error"


class DocumentArgumentError(DocumentError):
    """The command's own arguments cannot make a valid document (checked before anything is uploaded)."""

    code = "invalid_arguments"


@dataclass(frozen=True, slots=True)
class Sent:
    doc_id: str
    tx_id: str
    height: int
    digest: envelope.ContentDigest


@dataclass(frozen=True, slots=True)
class Opened:
    doc_id: str
    path: Path
    plaintext_sha256: bytes
    access_tx: str
    height: int


def document_id(tx_id: bytes) -> str:
    return derive_record_id(DOMAIN_DOCUMENT, tx_id)


def encryption_keys(client: Client, codes: Sequence[str]) -> dict[str, bytes]:
    """The encryption public key of each department in force at the next height (the earliest the send can
    be committed at), from the node's department list, a rotation already scheduled included.

    The client trusts its own department's node for these keys (docs/documents.md, threat model): the
    contract refuses a send sealed to a key not in force (stale_key), but that refused transaction and the
    uploaded ciphertext exist, so a node that lied would get the content key it sealed to."""
    answer = client.departments()
    next_height = int(answer.get("height") or 0) + 1
    listed = {d["code"]: d for d in answer.get("departments", [])}
    keys = {}
    for code in codes:
        department = listed.get(code)
        if department is None:
            known = ", ".join(sorted(listed))
            raise DocumentArgumentError(f"there is no department {code}; the departments are {known}", field="to")
        in_force = [key for start, key in department.get("encryption_key_periods") or [] if start <= next_height]
        key = in_force[-1] if in_force else department.get("encryption_key")
        if not isinstance(key, str) or len(key) != 64:
            raise DocumentArgumentError(f"{code} has no encryption key registered, so it cannot receive documents",
                                        field="to")
        keys[code] = bytes.fromhex(key)
    return keys


def proven_encryption_keys(client: Client, genesis: Genesis, codes: Sequence[str]) -> dict[str, bytes]:
    """The key in force at the next height of each department, read from state proofs checked against
    `genesis` (docs/proofs.md): the node is trusted for nothing, so a node that lied about a recipient's key
    would be caught here, before anything is sealed. Raises InvalidProof or DocumentArgumentError."""
    keys = {}
    for code in codes:
        state_key = governance.encryption_key_key(code)
        answer = client.state(state_key)
        try:
            bundle = base64.b64decode(str(answer.get("proof")), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidProof("the node's answer holds no state proof") from exc
        proven = verify_state_value(genesis, bundle)
        if proven.key != state_key:
            raise InvalidProof(f"the node proved another key than {code}'s encryption key", field="key")
        if proven.value is None:
            raise DocumentArgumentError(f"{code} has no encryption key on chain (proven), so it cannot receive "
                                        "documents", field="to")
        record = decode_proven_record(proven.value, "an encryption-key record", 1 << 16)
        periods = record.get("periods")
        in_force = [k for start, k in periods if start <= proven.height + 1] if type(periods) is list else []
        if not in_force or type(in_force[-1]) is not bytes:
            raise DocumentArgumentError(f"{code} has no encryption key in force (proven)", field="to")
        keys[code] = in_force[-1]
    return keys


def _party_keys(client: Client, parties: Sequence[str], genesis: Genesis | None) -> dict[str, bytes]:
    """Proven keys with `genesis` (`proven_encryption_keys`), else the node's department list's."""
    return encryption_keys(client, parties) if genesis is None else proven_encryption_keys(client, genesis, parties)


def member_department(client: Client, key: crypto.PrivateKey) -> str:
    record = client.member(key.public_key)
    department = record.get("member", {}).get("department")
    if not isinstance(department, str) or not record.get("active"):
        raise DocumentError("the signing key holds no role now; ask your department admin", field="key")
    return department


def _sealed_keys(content_key: bytes, keys: dict[str, bytes]) -> list[Value]:
    return [{"department": code, "fingerprint": s.fingerprint, "sealed": s.sealed}
            for code, s in envelope.seal_content_key(content_key, keys).items()]


def _call(client: Client, key: crypto.PrivateKey, method: str, args: dict[str, Value]) -> tuple[str, int]:
    tx = client.build_tx(key, "documents", method, args)
    tx_id = client.submit(tx.raw)
    status = check_committed(client.wait_committed(tx_id, COMMIT_WAIT_S), tx_id)
    return tx_id, int(status["height"])


def send(client: Client, key: crypto.PrivateKey, source: Path, *, recipients: Sequence[str], number: str,
         title: str, classification: str, max_bytes: int, reply_days: int | None = None,
         case_id: str | None = None, cert_id: str | None = None, genesis: Genesis | None = None) -> Sent:
    """Encrypt `source`, upload the ciphertext to the node, and send it (wait for the commit).

    With `genesis`, the recipients' keys are checked against state proofs (`proven_encryption_keys`);
    without, the node's department list is trusted for them."""
    sender = member_department(client, key)
    if sender in recipients:
        raise DocumentArgumentError(f"{sender} is your own department; a document goes to other departments",
                                    field="to")
    parties = [*recipients, sender]
    keys = _party_keys(client, parties, genesis)
    content_key = crypto.new_content_key()
    with tempfile.TemporaryDirectory(prefix="chainnode-doc-") as work:
        cipher_path = Path(work) / "ciphertext"
        try:
            with source.open("rb") as plain, cipher_path.open("wb") as sink:
                digest = envelope.encrypt_stream(plain, sink, content_key, max_plaintext=max_bytes)
        except OSError as exc:
            raise DocumentError(f"cannot read {source}: {exc.strerror or exc}", field="file") from exc
        args: dict[str, Value] = {
            "number": number, "title": title, "classification": classification, "recipients": list(recipients),
            "plaintext_sha256": digest.plaintext_sha256, "ciphertext_sha256": digest.ciphertext_sha256,
            "ciphertext_size": digest.ciphertext_size, "sealed_keys": _sealed_keys(content_key, keys),
        }
        for name, value in (("reply_days", reply_days), ("case_id", case_id), ("cert_id", cert_id)):
            if value is not None:
                args[name] = value
        try:  # the contract's own argument check, before anything is uploaded
            parse_send(args)
        except ContractError as exc:
            raise DocumentArgumentError(exc.message, field=exc.field) from exc
        client.upload_ciphertext(key, cipher_path, digest.ciphertext_sha256)
    try:
        tx_id, height = _call(client, key, "send", args)
    except ContractRefused as exc:
        if exc.code != "stale_key":
            raise
        # a department's key changed between reading it and the commit: seal to the key in force now
        args["sealed_keys"] = _sealed_keys(content_key, _party_keys(client, parties, genesis))
        tx_id, height = _call(client, key, "send", args)
    return Sent(document_id(bytes.fromhex(tx_id)), tx_id, height, digest)


def record(client: Client, key: crypto.PrivateKey, doc_id: str, height: int | None = None) -> dict[str, Any]:
    """The document record, its access records and its state proof (a signed read)."""
    params = {} if height is None else {"height": str(height)}
    return client.signed_json(key, f"/v1/documents/{doc_id}", params)


def content_key(client: Client, key: crypto.PrivateKey, doc_id: str, *, case_id: str | None,
                purpose: str | None) -> tuple[bytes, str, int]:
    """Record an opening on the ledger and receive the content key: (key, access tx, height)."""
    one_time = crypto.EncryptionKey.generate()
    args: dict[str, Value] = {"doc_id": doc_id, "reply_key": one_time.public_key}
    if case_id is not None:
        args["case_id"] = case_id
    if purpose is not None:
        args["purpose"] = purpose
    tx = client.build_tx(key, "documents", "access", args)
    answer = client.open_document_key(doc_id, tx.raw)
    try:
        sealed = bytes.fromhex(str(answer["sealed_content_key"]))
        opened = crypto.open_sealed(one_time, sealed)
    except (KeyError, ValueError, DecryptionFailed) as exc:
        raise DocumentError("the node's answer does not hold a content key sealed to this opening") from exc
    return opened, str(answer.get("access_tx", tx.tx_id.hex())), int(answer.get("height") or 0)


def open_to(client: Client, key: crypto.PrivateKey, doc_id: str, out: Path, *, case_id: str | None = None,
            purpose: str | None = None) -> Opened:
    """Open a document into `out`: record the access, fetch the ciphertext, decrypt, check both hashes.

    `out` is written only when every check passed (through a temporary file in its directory)."""
    document = record(client, key, doc_id)["document"]
    department = member_department(client, key)
    status = (document.get("recipient_status") or {}).get(department)
    if status is not None and status.get("delivered_height") is None and department != document.get("sender"):
        raise DocumentError(
            f"{department}'s node has not reported the ciphertext of {doc_id} yet (it fetches it from the sender's "
            "node once the send is committed); nothing was opened or recorded: try again shortly", field="doc_id")
    cipher_hash = bytes.fromhex(document["ciphertext_sha256"])
    plain_hash = bytes.fromhex(document["plaintext_sha256"])
    size = int(document["ciphertext_size"])
    key_bytes, access_tx, height = content_key(client, key, doc_id, case_id=case_id, purpose=purpose)
    out_dir = out.resolve().parent
    with tempfile.TemporaryDirectory(prefix="chainnode-doc-") as work:
        cipher_path = Path(work) / "ciphertext"
        with cipher_path.open("wb") as sink:
            client.download_ciphertext(key, doc_id, sink, size=size)
        if file_sha256(cipher_path) != cipher_hash:
            raise DocumentError("the ciphertext the node sent does not match the hash on chain; nothing was written")
        fd, temporary = tempfile.mkstemp(prefix=f".{out.name}.", dir=out_dir)
        try:
            with cipher_path.open("rb") as source, os.fdopen(fd, "wb") as sink:
                got = envelope.decrypt_stream(source, sink, key_bytes)
            if got != plain_hash:
                raise DocumentError("the decrypted content does not match the plaintext hash on chain; "
                                    "nothing was written")
            os.replace(temporary, out)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    return Opened(doc_id, out, plain_hash, access_tx, height)


def file_sha256(path: Path) -> bytes:
    """SHA-256 of a file, read in 1 MiB blocks. Raises OSError."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.digest()


def receipt(client: Client, key: crypto.PrivateKey, doc_id: str, plaintext: Path) -> tuple[str, int]:
    """Sign for a document (签收), naming the SHA-256 of the content received."""
    try:
        digest = file_sha256(plaintext)
    except OSError as exc:
        raise DocumentError(f"cannot read {plaintext}: {exc.strerror or exc}", field="file") from exc
    return _call(client, key, "receipt", {"doc_id": doc_id, "plaintext_sha256": digest})


def return_document(client: Client, key: crypto.PrivateKey, doc_id: str, reason: str) -> tuple[str, int]:
    return _call(client, key, "return", {"doc_id": doc_id, "reason": reason})


def withdraw(client: Client, key: crypto.PrivateKey, doc_id: str, reason: str) -> tuple[str, int]:
    return _call(client, key, "withdraw", {"doc_id": doc_id, "reason": reason})


def forward(client: Client, key: crypto.PrivateKey, doc_id: str, recipients: Sequence[str],
            note: str | None = None, genesis: Genesis | None = None) -> Sent:
    """Forward (转发) a received document: open its content key (recorded as an access with the purpose
    "forward"), seal it to the new recipients and the forwarding department, and send the forward."""
    forwarder = member_department(client, key)
    document = record(client, key, doc_id)["document"]
    parties = [*recipients, forwarder]
    keys = _party_keys(client, parties, genesis)
    key_bytes, _, _ = content_key(client, key, doc_id, case_id=None, purpose="forward")
    args: dict[str, Value] = {"doc_id": doc_id, "recipients": list(recipients),
                              "sealed_keys": _sealed_keys(key_bytes, keys)}
    if note:
        args["note"] = note
    tx_id, height = _call(client, key, "forward", args)
    digest = envelope.ContentDigest(bytes.fromhex(document["plaintext_sha256"]),
                                    bytes.fromhex(document["ciphertext_sha256"]), int(document["ciphertext_size"]))
    return Sent(document_id(bytes.fromhex(tx_id)), tx_id, height, digest)
