"""Consensus messages on the wire: kinds, size limits, decoding, and the cheap checks that come first.

Every check a peer message meets before it costs real work is here, in the order it runs: size, shape,
height window, signer and round bounds, duplicates; only then the Ed25519 verification and, for a
proposal, the decoding of its block (see engine.py). A check marked [REJECT] proves the sender broke a
rule (the network scores it down); [IGNORE] means not useful now (no penalty).

Wire formats (each a canonical msgpack value, docs/consensus.md):
  vote      SignedVote bytes
  proposal  [SignedProposal bytes, block bytes]
  status    [committed height, consensus height or 0, round or -1, [linked peer key, ...]]
  txs       [transaction bytes, ...]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from chainnode import codec
from chainnode.consensus.messages import SignedProposal, SignedVote, decode_signed_proposal, decode_signed_vote
from chainnode.errors import InvalidInput
from chainnode.limits import (
    BLOB_MESSAGE_LIMIT,
    BLOCK_SYNC_LIMIT,
    PROPOSAL_MESSAGE_LIMIT,
    STATUS_MESSAGE_LIMIT,
    SYNC_BLOCKS_LIMIT,
    SYNC_CHUNK_LIMIT,
    SYNC_MANIFEST_LIMIT,
    TXS_MESSAGE_LIMIT,
    VOTE_MESSAGE_LIMIT,
)

KIND_TXS: Final = "txs"
KIND_PROPOSAL: Final = "proposal"
KIND_VOTE: Final = "vote"
KIND_STATUS: Final = "status"
KIND_BLOCK: Final = "block"
KIND_BLOB: Final = "blob"
"""Document ciphertext transfer (chainnode/blob_transfer.py): a request kind only."""

LIMITS: Final[Mapping[str, int]] = MappingProxyType(
    {
        KIND_TXS: TXS_MESSAGE_LIMIT,
        KIND_PROPOSAL: PROPOSAL_MESSAGE_LIMIT,
        KIND_VOTE: VOTE_MESSAGE_LIMIT,
        KIND_STATUS: STATUS_MESSAGE_LIMIT,
        KIND_BLOCK: BLOCK_SYNC_LIMIT,
        KIND_BLOB: BLOB_MESSAGE_LIMIT,
        "evidence": 64 * 1024,
        "tx": 128 * 1024,
        # state sync (chainnode/state_sync.py): a request and its answer share the limit
        "sync_blocks": SYNC_BLOCKS_LIMIT,
        "sync_manifest": SYNC_MANIFEST_LIMIT,
        "sync_chunk": SYNC_CHUNK_LIMIT,
    }
)
"""Payload limits per message kind, all derived from the protocol ceilings (chainnode/limits.py)."""

HEIGHT_WINDOW: Final = 2
"""Messages for heights head+1 .. head+HEIGHT_WINDOW are used (or stashed); others are ignored."""
MAX_STATUS_LINKS: Final = 64
"""Linked peers a status lists at most (the network's default `max_links`); a node with more lists the first
64 by key, and its peers relay to it what it may lack from the others, as to a node whose links are unknown."""


@dataclass(frozen=True, slots=True)
class PeerStatus:
    """What a peer last announced: its committed height, the height and round it is deciding, and the peers
    it has links with."""

    head: int
    height: int
    """0 while the peer waits for work at head + 1."""
    round: int
    """-1 while the peer waits for work."""
    links: frozenset[bytes] | None = None
    """Keys of the peers the sender had links with (at most MAX_STATUS_LINKS); None if it did not say. What a
    linked peer sends it, it has: relays skip it (driver/relay.py, docs/consensus.md "Relaying")."""


def encode_status(status: PeerStatus) -> bytes:
    fields: list[codec.Value] = [status.head, status.height, status.round]
    if status.links is not None:
        fields.append(sorted(status.links)[:MAX_STATUS_LINKS])
    return codec.encode(fields)


def decode_status(payload: bytes) -> PeerStatus:
    """[REJECT] anything but [head >= 0, height >= 0, round >= -1, links]: `links` an array of at most
    MAX_STATUS_LINKS 32-byte keys in ascending order without repeats (an older form omits the links, or the
    links and the round)."""
    value = codec.decode(payload, max_size=LIMITS[KIND_STATUS])
    if type(value) is not list or len(value) not in (2, 3, 4) or not all(type(v) is int for v in value[:3]):
        raise InvalidInput("a status message is [committed height, consensus height, round, linked peers]")
    head, height = value[0], value[1]
    round_ = value[2] if len(value) >= 3 else -1
    if head < 0 or height < 0 or round_ < -1 or head >= 2**63 or height >= 2**63 or round_ >= 2**31:
        raise InvalidInput("a status message's heights and round are out of range")
    links = None if len(value) < 4 else _decode_links(value[3])
    return PeerStatus(head, height, round_, links)


def _decode_links(value: codec.Value) -> frozenset[bytes]:
    if type(value) is not list or len(value) > MAX_STATUS_LINKS:
        raise InvalidInput(f"a status message's linked peers are an array of at most {MAX_STATUS_LINKS} keys")
    for i, key in enumerate(value):
        if type(key) is not bytes or len(key) != 32 or (i and key <= value[i - 1]):
            raise InvalidInput("a status message's linked peers are 32-byte keys in ascending order, each once")
    return frozenset(value)


def has_from_origin(peer: bytes, origin: bytes, links: Mapping[bytes, frozenset[bytes]]) -> bool:
    """Whether `peer` has, or gets without our relay, a message that started at `origin`: it is the origin, or
    its last status lists a link with the origin (`links`: each peer's announced links; a peer that announced
    none is assumed to lack it).

    Relaying to every other peer except these reaches every node that any path of links joins to the origin,
    if the origin sent the message to all its peers: on a shortest path from the origin each node's successor
    is not linked to the origin, so it gets the relay (tests/property/test_relay_reach.py). Transactions use the
    same rule with the peer they came from as `origin`: that peer relayed them by the same rule, back to the
    node that admitted them from a client and sent them to all its peers."""
    if peer == origin:
        return True
    linked = links.get(peer)
    return linked is not None and origin in linked


def decode_vote_message(payload: bytes) -> SignedVote:
    """[REJECT] a vote message that is not one canonical SignedVote."""
    if len(payload) > LIMITS[KIND_VOTE]:
        raise InvalidInput(f"a vote message of {len(payload)} bytes exceeds {LIMITS[KIND_VOTE]}")
    return decode_signed_vote(payload)


def decode_proposal_message(payload: bytes) -> tuple[SignedProposal, bytes]:
    """The signed proposal and the (still encoded) block. [REJECT] any other shape.

    The block is decoded only after the cheap checks and the signature (engine.receive_proposal).
    """
    value = codec.decode(payload, max_size=LIMITS[KIND_PROPOSAL])
    if type(value) is not list or len(value) != 2 or not all(type(v) is bytes for v in value):
        raise InvalidInput("a proposal message is [signed proposal, block]")
    return decode_signed_proposal(value[0]), value[1]


def encode_proposal_message(signed: SignedProposal, block_bytes: bytes) -> bytes:
    return codec.encode([signed.encode(), block_bytes])


def decode_txs_message(payload: bytes) -> list[bytes]:
    """[REJECT] anything but an array of transaction byte strings."""
    raws = codec.decode(payload, max_size=LIMITS[KIND_TXS])
    if type(raws) is not list or not all(type(r) is bytes for r in raws):
        raise InvalidInput("a txs message is an array of transactions")
    return raws


def split_txs(raws: list[bytes], *, limit: int = TXS_MESSAGE_LIMIT) -> list[bytes]:
    """Encode `raws` as txs messages of at most `limit` bytes each (one transaction always fits)."""
    messages: list[bytes] = []
    batch: list[bytes] = []
    size = 16
    for raw in raws:
        if batch and size + len(raw) + 8 > limit:
            messages.append(codec.encode(batch))
            batch, size = [], 16
        batch.append(raw)
        size += len(raw) + 8
    if batch:
        messages.append(codec.encode(batch))
    return messages
