"""Signed read requests: how a member proves who is asking for a scoped record (docs/api.md).

A scoped route (a document record, a department's documents, a ciphertext download, a blob upload) needs
the header

    Authorization: Chainnode-Signed key=<64 hex>, time=<ms since epoch>, signature=<128 hex>

where the signature is Ed25519 by `key` over

    compute_signing_bytes("chainnode/v1/sign/read", chain_id, encode([method, target, time_ms, body_sha256]))

`method` is the upper-case HTTP method, `target` the path with its query string exactly as sent, and
`body_sha256` the SHA-256 of the body (of the empty string for a GET). A request is good for
`WINDOW_MS` either side of the node's clock, so a captured header is useless a minute later and on any
other path, query, body or chain. The key must hold a role at the head; which records it may read is the
route's rule (for documents: the sender's and recipients' staff, and auditors).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from chainnode import codec, crypto
from chainnode.errors import ChainError
from contracts import governance
from contracts.base import ContractError, StateReader

SIGN_READ: Final = b"chainnode/v1/sign/read"
SCHEME: Final = "Chainnode-Signed"
WINDOW_MS: Final = 60_000
MAX_HEADER: Final = 512
EMPTY_SHA256: Final = crypto.sha256(b"")
_HEADER: Final = re.compile(
    r"^Chainnode-Signed key=(?P<key>[0-9a-f]{64}), time=(?P<time>[0-9]{1,16}), "
    r"signature=(?P<signature>[0-9a-f]{128})\Z"
)


class ReadUnauthenticated(ChainError):
    """The request is not signed, or its signature does not hold."""

    code = "signature_required"
    http_status = 401

    def __init__(self, message: str, *, code: str = "signature_required") -> None:
        super().__init__(message, field="Authorization")
        self.code = code  # type: ignore[misc]


class ReadForbidden(ChainError):
    """The signer is known but may not read this record."""

    code = "not_authorised"
    http_status = 403

    def __init__(self, message: str, *, code: str = "not_authorised") -> None:
        super().__init__(message, field="Authorization")
        self.code = code  # type: ignore[misc]


@dataclass(frozen=True, slots=True)
class SignedRead:
    """A parsed Authorization header whose signature verified (the roster not yet checked)."""

    public_key: bytes
    time_ms: int


def compute_read_signing_bytes(chain_id: str, method: str, target: str, time_ms: int, body_sha256: bytes) -> bytes:
    return crypto.compute_signing_bytes(SIGN_READ, chain_id, codec.encode([method.upper(), target, time_ms,
                                                                           body_sha256]))


def sign_read(key: crypto.PrivateKey, chain_id: str, method: str, target: str, time_ms: int,
              body_sha256: bytes = EMPTY_SHA256) -> str:
    """The Authorization header value for one request."""
    signature = key.sign(compute_read_signing_bytes(chain_id, method, target, time_ms, body_sha256))
    return f"{SCHEME} key={key.public_key.hex()}, time={time_ms}, signature={signature.hex()}"


def verify_read(header: str | None, *, chain_id: str, method: str, target: str, body_sha256: bytes,
                now_ms: int) -> SignedRead:
    """Check the header's form, freshness and signature. Raises ReadUnauthenticated naming what is wrong."""
    if header is None:
        raise ReadUnauthenticated(
            "this record is readable only by a signed request of a registered member: send "
            f"'Authorization: {SCHEME} key=…, time=…, signature=…' (chainnode doc commands sign for you)"
        )
    match = _HEADER.match(header) if len(header) <= MAX_HEADER else None
    if match is None:
        raise ReadUnauthenticated(
            f"the Authorization header must read '{SCHEME} key=<64 hex>, time=<ms>, signature=<128 hex>'",
            code="malformed_signature",
        )
    time_ms = int(match["time"])
    if abs(now_ms - time_ms) > WINDOW_MS:
        raise ReadUnauthenticated(
            f"the signed request's time is {(now_ms - time_ms) / 1000:+.0f} s from the node's clock; it must be "
            f"within {WINDOW_MS // 1000} s (check the client's clock)",
            code="read_request_expired",
        )
    key = bytes.fromhex(match["key"])
    message = compute_read_signing_bytes(chain_id, method, target, time_ms, body_sha256)
    if not crypto.verify_signature(key, message, bytes.fromhex(match["signature"])):
        raise ReadUnauthenticated(
            "the request's signature does not verify for this method, path, time, body and chain",
            code="bad_signature",
        )
    return SignedRead(public_key=key, time_ms=time_ms)


def reader_member(state: StateReader, signed: SignedRead, height: int) -> governance.MemberRecord:
    """The signer's registration at `height`. Raises ReadForbidden with the roster's code."""
    try:
        return governance.require_member(state, signed.public_key, height)
    except ContractError as exc:
        raise ReadForbidden(exc.message, code=exc.code) from exc
