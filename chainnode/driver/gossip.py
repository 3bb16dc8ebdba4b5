"""Consensus messages on the wire: kinds, size limits, decoding, and the cheap checks that come first.

Every check a peer message meets before it costs real work is here, in the order it runs: size, shape,
height window, signer and round bounds, duplicates; only then the Ed25519 verification and, for a
proposal, the decoding of its block (see engine.py). A check marked [REJECT] proves the sender broke a
rule (the network scores it down); [IGNORE] means not useful now (no penalty).

Wire formats (each a canonical msgpack value, docs/consensus.md):
  vote      SignedVote bytes
  proposal  [SignedProposal bytes, block bytes]
  status    [committed height, consensus height or 0, round or -1]
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


@dataclass(frozen=True, slots=True)
class PeerStatus:
    """What a peer last announced: its committed height, the height and round it is deciding."""

    head: int
    height: int
    """0 while the peer waits for work at head + 1."""
    round: int
    """-1 while the peer waits for work."""


def encode_status(status: PeerStatus) -> bytes:
    return codec.encode([status.head, status.height, status.round])


def decode_status(payload: bytes) -> PeerStatus:
    """[REJECT] anything but [head >= 0, height >= 0, round >= -1] (a 2-element form omits the round)."""
    value = codec.decode(payload, max_size=LIMITS[KIND_STATUS])
    if type(value) is not list or len(value) not in (2, 3) or not all(type(v) is int for v in value):
        raise InvalidInput("a status message is [committed height, consensus height, round]")
    head, height = value[0], value[1]
    round_ = value[2] if len(value) == 3 else -1
    if head < 0 or height < 0 or round_ < -1 or head >= 2**63 or height >= 2**63 or round_ >= 2**31:
        raise InvalidInput("a status message's heights and round are out of range")
    return PeerStatus(head, height, round_)


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
