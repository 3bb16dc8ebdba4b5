"""Signed reads at the API's edge: the facts of a request taken on the event loop, and the whole check of its
signature, nonce and signer done on the read pool (chainnode.read_auth for the header, chainnode.read_scope
for what the signer may read).

The replay cache is one per app (`REPLAYS`): a header accepted once is refused at this node until its window
has passed, and it never verifies at another node, whose key it does not name.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

from chainnode import crypto, records
from chainnode.read_auth import ReplayCache, SignedRead, reader_member, verify_read
from contracts import governance

REPLAYS: Final = web.AppKey("replays", ReplayCache)


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """What a signed read binds, taken from the request on the loop (the header is checked later, off it)."""

    header: str | None
    method: str
    target: str
    body_sha256: bytes
    now_ms: int

    @property
    def is_signed(self) -> bool:
        return self.header is not None


def read_request(request: web.Request, body_sha256: bytes | None = None) -> ReadRequest:
    from chainnode.api import NODE

    return ReadRequest(header=request.headers.get("Authorization"), method=request.method,
                       target=request.rel_url.raw_path_qs, body_sha256=body_sha256 or crypto.sha256(b""),
                       now_ms=request.app[NODE].clock.now_ms())


def _other_node_keys(node: Any) -> Iterator[bytes]:
    """The other departments' node keys, read only when a signature fails (to name `wrong_node`)."""
    for department in governance.departments(records.view(node.reader)):
        yield department.node_key


def _check(node: Any, replays: ReplayCache, facts: ReadRequest) -> tuple[SignedRead, governance.MemberRecord]:
    """The header's form, window and signature for this node, then the signer's registration at the head, and
    only then its nonce: a key off the roster (which anyone can make) never takes a place in the replay cache,
    so it cannot fill the cache and turn members away. Runs on the read pool."""
    signed = verify_read(facts.header, chain_id=node.genesis.chain_id, node_key=node.node_key.public_key,
                         method=facts.method, target=facts.target, body_sha256=facts.body_sha256,
                         now_ms=facts.now_ms, other_node_keys=_other_node_keys(node))
    head = records.view(node.reader)
    member = reader_member(head, signed, head.height)
    replays.record(signed, facts.now_ms)
    return signed, member


def verify_signed(node: Any, replays: ReplayCache, facts: ReadRequest) -> SignedRead:
    """A signed request of a registered member (`_check`). Raises ReadUnauthenticated (401:
    signature_required, malformed_signature, read_request_expired, wrong_node, bad_signature, read_replayed),
    ReadForbidden (403, the roster's code: a key revoked since cannot read, not even past heights) or Busy (503,
    the replay cache is full)."""
    return _check(node, replays, facts)[0]


def signed_member(node: Any, replays: ReplayCache, facts: ReadRequest) -> governance.MemberRecord:
    """`verify_signed`, answering the signer's registration at the head."""
    return _check(node, replays, facts)[1]
