"""The protocol's size ceilings, and every transport limit derived from them.

Governance may change `max_block_bytes`, `max_block_txs` and `max_tx_bytes` at run time (genesis sets the
first values), but never above the ceilings below. Every limit a node enforces on the wire (a proposal
with its block, a block-sync answer, a batch of relayed transactions) and every decode bound a verifier
uses is computed here from the ceilings, so whatever value governance picks, a block that validators may
build always fits every frame that must carry it; a node never builds what it could not send.
"""

from __future__ import annotations

from typing import Final

from chainnode.block import MAX_BLOCK_TXS_HARD, MAX_COMMIT_BYTES

MAX_TX_BYTES_CEILING: Final = 1024 * 1024
"""The largest `max_tx_bytes` genesis or governance may set."""
MAX_BLOCK_TXS_CEILING: Final = MAX_BLOCK_TXS_HARD
"""The largest `max_block_txs` genesis or governance may set."""
MAX_BLOCK_BYTES_CEILING: Final = 32 * 1024 * 1024
"""The largest `max_block_bytes` (sum of a block's transaction bytes) genesis or governance may set."""

BLOCK_ENCODING_OVERHEAD: Final = 5 * MAX_BLOCK_TXS_CEILING + 1024 * 1024
"""Bytes an encoded block adds to its transactions: a 5-byte msgpack length per transaction, and at most
1 MiB for the header, the last commit and the array framing."""
MAX_ENCODED_BLOCK: Final = MAX_BLOCK_BYTES_CEILING + BLOCK_ENCODING_OVERHEAD
"""The largest encoded block a valid chain can hold: the decode bound for blocks from peers and files."""

PROPOSAL_MESSAGE_LIMIT: Final = MAX_ENCODED_BLOCK + 64 * 1024
"""A signed proposal (under 1 KiB) with its block."""
BLOCK_SYNC_LIMIT: Final = MAX_ENCODED_BLOCK + MAX_COMMIT_BYTES + 64 * 1024
"""A block-sync answer: at least one block with its commit always fits; more only within the limit."""
SYNC_BLOCKS_LIMIT: Final = BLOCK_SYNC_LIMIT + 24 * 1024 * 1024
"""A state-sync blocks answer: at least one block and commit of the largest size, its results and a validator set."""
SYNC_MANIFEST_LIMIT: Final = 9 * 1024 * 1024
"""A state-sync manifest: 2^16 chunk entries of at most 69 bytes (chainnode/snapshot.py)."""
SYNC_CHUNK_LIMIT: Final = 25 * 1024 * 1024
"""A state-sync chunk page: about 4 MiB of pairs plus one pair of the largest key and value."""
TXS_MESSAGE_LIMIT: Final = 16 * 1024 * 1024
"""A batch of relayed transactions; larger batches are split. At least one transaction always fits."""
VOTE_MESSAGE_LIMIT: Final = 4 * 1024
STATUS_MESSAGE_LIMIT: Final = 4 * 1024

if TXS_MESSAGE_LIMIT < MAX_TX_BYTES_CEILING + 64:  # pragma: no cover - a constant's consistency
    raise ValueError("TXS_MESSAGE_LIMIT must hold the largest transaction")

BLOB_CHUNK_MAX: Final = 1024 * 1024
"""The most ciphertext bytes one `blob` request may ask for (and one answer carry)."""
BLOB_MESSAGE_LIMIT: Final = BLOB_CHUNK_MAX + 1024
"""A `blob` answer: [status, total, up to BLOB_CHUNK_MAX bytes] (the framing is under 32 bytes)."""
