"""Signed transactions: the only way a client changes the ledger.

A transaction names a contract method and its arguments, the signer's Ed25519 public key, a random
nonce and an expiry height. Its identity `tx_id` is the hash of the unsigned body, so a second signature
over the same body is the same transaction, and the chain commits it at most once. The nonce makes two
otherwise equal calls distinct, so one key can submit many transactions at once in any order: there is
no per-signer sequence number. The expiry height bounds how long a transaction can wait to be committed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final, NewType

from chainnode import codec, crypto
from chainnode.codec import Value
from chainnode.errors import InvalidField

TxId = NewType("TxId", bytes)

TAG_TX: Final = 1
TAG_TX_BODY: Final = 9
TX_VERSION: Final = 1

NONCE_MIN: Final = 8
NONCE_MAX: Final = 32
MAX_NAME: Final = 64
NAME_PATTERN: Final = re.compile(r"[a-z][a-z0-9_]*")
DEFAULT_MAX_TX_BYTES: Final = 64 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class TxBody:
    """What the signer signs."""

    chain_id: str
    contract: str
    method: str
    args: Value = field(hash=False)
    signer: bytes
    """Ed25519 public key of the signer (32 bytes)."""
    nonce: bytes
    """Random bytes (8 to 32) that make this call unique."""
    expiry_height: int
    """The last height at which this transaction may be committed."""

    def fields(self) -> list[Value]:
        return [self.chain_id, self.contract, self.method, self.args, self.signer, self.nonce, self.expiry_height]

    def encode(self) -> bytes:
        return codec.encode_object(TAG_TX_BODY, TX_VERSION, self.fields())

    def compute_tx_id(self) -> TxId:
        return TxId(crypto.compute_hash(crypto.DOMAIN_TX, self.encode()))

    def compute_signing_bytes(self) -> bytes:
        return crypto.compute_signing_bytes(crypto.SIGN_TX, self.chain_id, self.encode())


@dataclass(frozen=True, slots=True)
class Transaction:
    """A signed transaction with its canonical bytes and id computed once."""

    body: TxBody
    signature: bytes
    raw: bytes = field(default=b"", compare=False, repr=False)
    tx_id: TxId = field(default=TxId(b""), compare=False)
    body_bytes: bytes = field(default=b"", compare=False, repr=False)
    parsed_args: object = field(default=None, compare=False, repr=False)
    """The contract's parse of `body.args`, set once by `chainnode.execution.parse_call` (at admission), so
    execution does not parse the same arguments again. Parsed arguments are frozen dataclasses that handlers
    only read. None until then."""

    def __post_init__(self) -> None:
        if not self.raw:
            object.__setattr__(
                self, "raw", codec.encode_object(TAG_TX, TX_VERSION, [*self.body.fields(), self.signature])
            )
        if not self.body_bytes:
            fast = compute_body_bytes(self.raw) if len(self.signature) == crypto.SIGNATURE_SIZE else None
            object.__setattr__(self, "body_bytes", fast or self.body.encode())
        if not self.tx_id:
            object.__setattr__(self, "tx_id", TxId(crypto.compute_hash(crypto.DOMAIN_TX, self.body_bytes)))

    @property
    def signer(self) -> bytes:
        return self.body.signer

    def compute_signing_bytes(self) -> bytes:
        return crypto.compute_signing_bytes(crypto.SIGN_TX, self.body.chain_id, self.body_bytes)

    def is_signature_valid(self) -> bool:
        return crypto.verify_signature(self.body.signer, self.compute_signing_bytes(), self.signature)


_RAW_PREFIX: Final = bytes([0x90 | 10, TAG_TX])
_BODY_PREFIX: Final = bytes([0x90 | 9, TAG_TX_BODY])
_SIGNATURE_HEADER: Final = bytes([0xC4, crypto.SIGNATURE_SIZE])
_SIGNATURE_TAIL: Final = 2 + crypto.SIGNATURE_SIZE


def compute_body_bytes(raw: bytes) -> bytes | None:
    """The canonical body bytes, cut from the canonical signed bytes without re-encoding.

    A signed transaction is the array [1, 1, *body fields, signature] and its body the array
    [9, 1, *body fields]: the same field bytes under another array header and tag. Returns None if `raw`
    does not have the expected frame (then the caller encodes the body instead).
    """
    if raw[:2] != _RAW_PREFIX or raw[-_SIGNATURE_TAIL : -crypto.SIGNATURE_SIZE] != _SIGNATURE_HEADER:
        return None
    return _BODY_PREFIX + raw[2:-_SIGNATURE_TAIL]


def sign_transaction(key: crypto.PrivateKey, body: TxBody) -> Transaction:
    """Return `body` signed by `key`. Raises InvalidField if the body's signer is not `key`."""
    if body.signer != key.public_key:
        raise InvalidField("the body's signer is not the signing key", field="signer")
    validate_tx_body(body)
    return Transaction(body, key.sign(body.compute_signing_bytes()))


def validate_tx_body(body: TxBody) -> None:
    """Check the shape of every field. Raises InvalidField naming the field."""
    codec.want_str(body.chain_id, "chain_id", min_len=1, max_len=64)
    for name in ("contract", "method"):
        value = getattr(body, name)
        codec.want_str(value, name, min_len=1, max_len=MAX_NAME)
        if not NAME_PATTERN.fullmatch(value):
            raise InvalidField(f"{name} {value!r} must be lowercase letters, digits and '_'", field=name)
    codec.want_bytes(body.signer, "signer", size=crypto.PUBLIC_KEY_SIZE)
    nonce = codec.want_bytes(body.nonce, "nonce", max_size=NONCE_MAX)
    if len(nonce) < NONCE_MIN:
        raise InvalidField(f"nonce must be {NONCE_MIN} to {NONCE_MAX} bytes", field="nonce")
    codec.want_int(body.expiry_height, "expiry_height", lo=1, hi=2**63 - 1)


def decode_transaction(data: bytes, *, max_size: int = DEFAULT_MAX_TX_BYTES) -> Transaction:
    """Decode and shape-check a signed transaction. The signature is NOT checked here.

    Raises InputTooLarge, MalformedEncoding, NonCanonicalEncoding, TrailingBytes, UnknownTag,
    UnsupportedVersion or InvalidField.
    """
    fields = codec.decode_object(
        data, tag=TAG_TX, version=TX_VERSION, n_fields=8, max_size=max_size, what="transaction"
    )
    return transaction_from_fields(fields, raw=data)


def transaction_from_fields(fields: list[Value], *, raw: bytes = b"") -> Transaction:
    chain_id, contract, method, args, signer, nonce, expiry_height, signature = fields
    body = TxBody(
        chain_id=chain_id,
        contract=contract,
        method=method,
        args=args,
        signer=signer,
        nonce=nonce,
        expiry_height=expiry_height,
    )
    validate_tx_body(body)
    codec.want_bytes(signature, "signature", size=crypto.SIGNATURE_SIZE)
    return Transaction(body, signature, raw)
