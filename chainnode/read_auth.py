"""Signed read requests: how a member proves who is asking for a scoped record (docs/api.md).

An internal route (a case, a material, a holder's records, supervision, history, a transaction's detail, a
document record, a ciphertext download, a blob upload) needs the header

    Authorization: Chainnode-Signed key=<64 hex>, time=<ms since epoch>, nonce=<32 hex>, signature=<128 hex>

where the signature is Ed25519 by `key` over

    compute_signing_bytes("chainnode/v1/sign/read", chain_id,
                          encode([method, target, time_ms, nonce, body_sha256, node_key]))

`method` is the upper-case HTTP method, `target` the path with its query string exactly as sent, `nonce` 16
random bytes, `body_sha256` the SHA-256 of the body (of the empty string for a GET) and `node_key` the
Ed25519 public key of the node asked (`node_key` in GET /v1/status). A header is good for `WINDOW_MS` either
side of the node's clock, at one node, once: the node keeps every (key, nonce) it accepted until its
window has passed (`ReplayCache`), so a captured header cannot be replayed to it, nor to any other node,
path, query, body or chain. The key must hold a role at the head; which records it may read is the route's
rule (`chainnode.read_scope`).

Theory of operation of the replay cache: an entry (key, nonce) stays while a header carrying it could still
be inside the window, i.e. until `time_ms + WINDOW_MS` by the node's clock. Entries are dropped in order of
that expiry (a heap). At `capacity` live entries a new signed read is refused with 503 `busy` rather than
forgetting a live entry, which would reopen a replay.
"""

from __future__ import annotations

import heapq
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from chainnode import codec, crypto
from chainnode.errors import Busy, ChainError
from contracts import governance
from contracts.base import ContractError, StateReader

SIGN_READ: Final = b"chainnode/v1/sign/read"
SCHEME: Final = "Chainnode-Signed"
WINDOW_MS: Final = 60_000
NONCE_SIZE: Final = 16
MAX_HEADER: Final = 512
REPLAY_CAPACITY: Final = 200_000
"""Live (key, nonce) entries a node keeps: at one entry per signed read for 2 minutes, over 1,600 reads a
second, beyond what a node's read pool serves."""
MAX_OTHER_NODES: Final = 64
"""At most this many other node keys are tried to tell `wrong_node` from `bad_signature`."""
EMPTY_SHA256: Final = crypto.sha256(b"")
FORM: Final = f"{SCHEME} key=<64 hex>, time=<ms>, nonce=<32 hex>, signature=<128 hex>"
_HEADER: Final = re.compile(
    r"^Chainnode-Signed key=(?P<key>[0-9a-f]{64}), time=(?P<time>[0-9]{1,16}), "
    r"nonce=(?P<nonce>[0-9a-f]{32}), signature=(?P<signature>[0-9a-f]{128})\Z"
)
_OLD_HEADER: Final = re.compile(r"^Chainnode-Signed key=[0-9a-f]{64}, time=[0-9]{1,16}, signature=[0-9a-f]{128}\Z")


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
    nonce: bytes


def compute_read_signing_bytes(chain_id: str, method: str, target: str, time_ms: int, nonce: bytes,
                               body_sha256: bytes, node_key: bytes) -> bytes:
    payload = codec.encode([method.upper(), target, time_ms, nonce, body_sha256, node_key])
    return crypto.compute_signing_bytes(SIGN_READ, chain_id, payload)


def sign_read(key: crypto.PrivateKey, chain_id: str, method: str, target: str, time_ms: int, nonce: bytes,
              node_key: bytes, body_sha256: bytes = EMPTY_SHA256) -> str:
    """The Authorization header value for one request to the node whose public key is `node_key`.
    `nonce` must be 16 fresh random bytes (`os.urandom(NONCE_SIZE)`)."""
    if len(nonce) != NONCE_SIZE:
        raise ValueError(f"a read nonce is {NONCE_SIZE} bytes")
    message = compute_read_signing_bytes(chain_id, method, target, time_ms, nonce, body_sha256, node_key)
    signature = key.sign(message)
    return (f"{SCHEME} key={key.public_key.hex()}, time={time_ms}, nonce={nonce.hex()}, "
            f"signature={signature.hex()}")


def verify_read(header: str | None, *, chain_id: str, node_key: bytes, method: str, target: str,
                body_sha256: bytes, now_ms: int, other_node_keys: Iterable[bytes] = ()) -> SignedRead:
    """Check the header's form, freshness and signature for this node. Raises ReadUnauthenticated naming what is
    wrong: signature_required, malformed_signature, read_request_expired, wrong_node (the signature verifies
    for one of `other_node_keys`: it was made for another node) or bad_signature. Does not look at replays
    (`ReplayCache.record` does, after the signature holds)."""
    if header is None:
        raise ReadUnauthenticated(
            "this record is readable only by a request signed by a registered member's key: send "
            f"'Authorization: {FORM}' (docs/api.md, \"Signed requests\"); the chainnode commands sign with "
            "--key KEYFILE, the Python client with Client(url, key=...)"
        )
    if len(header) <= MAX_HEADER and _OLD_HEADER.match(header):
        raise ReadUnauthenticated(
            f"this header has no nonce and is not bound to a node; the Authorization header must read '{FORM}', "
            "signed over the node's key too (update the client)", code="malformed_signature",
        )
    match = _HEADER.match(header) if len(header) <= MAX_HEADER else None
    if match is None:
        raise ReadUnauthenticated(f"the Authorization header must read '{FORM}'", code="malformed_signature")
    time_ms = int(match["time"])
    if abs(now_ms - time_ms) > WINDOW_MS:
        raise ReadUnauthenticated(
            f"the signed request's time is {(now_ms - time_ms) / 1000:+.0f} s from the node's clock; it must be "
            f"within {WINDOW_MS // 1000} s (check the client's clock)",
            code="read_request_expired",
        )
    key, nonce, signature = bytes.fromhex(match["key"]), bytes.fromhex(match["nonce"]), bytes.fromhex(
        match["signature"])

    def verifies(for_node: bytes) -> bool:
        message = compute_read_signing_bytes(chain_id, method, target, time_ms, nonce, body_sha256, for_node)
        return crypto.verify_signature(key, message, signature)

    if verifies(node_key):
        return SignedRead(public_key=key, time_ms=time_ms, nonce=nonce)
    others = [k for k in list(other_node_keys)[:MAX_OTHER_NODES] if k != node_key]
    for other in others:
        if verifies(other):
            raise ReadUnauthenticated(
                f"the request was signed for the node {other.hex()[:16]}…, not for this node ({node_key.hex()[:16]}…): "
                "a signed read is good at the node it names only; sign for the node you ask (its node_key in "
                "GET /v1/status)", code="wrong_node",
            )
    raise ReadUnauthenticated(
        "the request's signature does not verify for this method, path, time, nonce, body, chain and node "
        f"({node_key.hex()[:16]}…)", code="bad_signature",
    )


class ReplayCache:
    """The (key, nonce) pairs of accepted signed reads, each kept until its window has passed. Thread-safe:
    reads are verified on the read pool's threads."""

    def __init__(self, *, capacity: int = REPLAY_CAPACITY, window_ms: int = WINDOW_MS) -> None:
        if capacity < 1:
            raise ValueError("a replay cache holds at least one entry")
        self.capacity = capacity
        self.window_ms = window_ms
        self._lock = threading.Lock()
        self._live: dict[tuple[bytes, bytes], int] = {}
        self._expiries: list[tuple[int, bytes, bytes]] = []
        self._now_ms = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._live)

    def record(self, signed: SignedRead, now_ms: int) -> None:
        """Remember `signed`'s (key, nonce). Raises ReadUnauthenticated read_replayed if it is already held,
        Busy if `capacity` live entries are held (none is forgotten before its window has passed)."""
        entry = (signed.public_key, signed.nonce)
        with self._lock:
            # Requests are timed on arrival and checked later on a pool thread, so `now_ms` may run backwards a
            # little between calls: the cache's clock never does, and a header past its window by that clock
            # is refused here, so an entry already dropped cannot be replayed by a request timed earlier.
            now_ms = self._now_ms = max(now_ms, self._now_ms)
            self._evict(now_ms)
            if signed.time_ms + self.window_ms < now_ms:
                raise ReadUnauthenticated(
                    f"the signed request's time is more than {self.window_ms // 1000} s behind the node's clock",
                    code="read_request_expired",
                )
            if entry in self._live:
                raise ReadUnauthenticated(
                    "this signed request was already answered (its key and nonce were used before): sign each "
                    "request anew, with a fresh nonce", code="read_replayed",
                )
            if len(self._live) >= self.capacity:
                raise Busy(f"the node holds {len(self._live)} recent signed reads, its limit; retry shortly")
            expiry = signed.time_ms + self.window_ms
            self._live[entry] = expiry
            heapq.heappush(self._expiries, (expiry, signed.public_key, signed.nonce))

    def _evict(self, now_ms: int) -> None:
        """Drop the entries whose header would now be refused as expired anyway."""
        while self._expiries and self._expiries[0][0] < now_ms:
            _, key, nonce = heapq.heappop(self._expiries)
            self._live.pop((key, nonce), None)


def authenticate(header: str | None, *, chain_id: str, node_key: bytes, method: str, target: str,
                 body_sha256: bytes, now_ms: int, replays: ReplayCache,
                 other_node_keys: Iterable[bytes] = ()) -> SignedRead:
    """`verify_read`, then `replays.record`: the whole check of a signed request but the roster's."""
    signed = verify_read(header, chain_id=chain_id, node_key=node_key, method=method, target=target,
                         body_sha256=body_sha256, now_ms=now_ms, other_node_keys=other_node_keys)
    replays.record(signed, now_ms)
    return signed


def reader_member(state: StateReader, signed: SignedRead, height: int) -> governance.MemberRecord:
    """The signer's registration at `height`. Raises ReadForbidden with the roster's code."""
    try:
        return governance.require_member(state, signed.public_key, height)
    except ContractError as exc:
        raise ReadForbidden(exc.message, code=exc.code) from exc
