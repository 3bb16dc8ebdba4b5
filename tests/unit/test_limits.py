"""Size limits agree: whatever block the ceilings allow fits every message that must carry it, and
neither genesis nor governance can set a limit above a ceiling."""

from __future__ import annotations

import pytest

from chainnode import codec, crypto
from chainnode.block import MAX_COMMIT_BYTES, Block, BlockHeader
from chainnode.consensus.messages import Proposal, sign_proposal
from chainnode.driver.gossip import LIMITS, decode_txs_message, encode_proposal_message, split_txs
from chainnode.genesis import GenesisError, parse_genesis
from chainnode.limits import (
    BLOCK_SYNC_LIMIT,
    MAX_BLOCK_BYTES_CEILING,
    MAX_BLOCK_TXS_CEILING,
    MAX_ENCODED_BLOCK,
    MAX_TX_BYTES_CEILING,
    PROPOSAL_MESSAGE_LIMIT,
    TXS_MESSAGE_LIMIT,
)
from contracts.proposals import LIMIT_RANGES
from network.config import MAX_KIND_LIMIT

KEY = crypto.PrivateKey(b"\x01" * 32)


def block_of(txs: tuple[bytes, ...]) -> Block:
    header = BlockHeader(
        chain_id="limits", height=7, time_ms=1, prev_hash=bytes(32), tx_count=len(txs), tx_root=bytes(32),
        results_root=bytes(32), state_root=bytes(32), last_commit_hash=bytes(32), validators_hash=bytes(32),
        next_validators_hash=bytes(32), proposer=KEY.public_key,
    )
    return Block(header=header, txs=txs, last_commit=None)


@pytest.mark.parametrize(
    "txs",
    [
        (b"x" * MAX_TX_BYTES_CEILING,) * (MAX_BLOCK_BYTES_CEILING // MAX_TX_BYTES_CEILING),  # few, largest
        (b"y" * (MAX_BLOCK_BYTES_CEILING // MAX_BLOCK_TXS_CEILING),) * MAX_BLOCK_TXS_CEILING,  # most, small
    ],
    ids=["largest-transactions", "most-transactions"],
)
def test_the_largest_block_the_ceilings_allow_fits_a_proposal_and_a_sync_answer(txs: tuple[bytes, ...]) -> None:
    assert sum(len(t) for t in txs) <= MAX_BLOCK_BYTES_CEILING and len(txs) <= MAX_BLOCK_TXS_CEILING
    raw = block_of(txs).encode()
    assert len(raw) <= MAX_ENCODED_BLOCK
    proposal = Proposal(height=7, round=0, block_hash=block_of(txs).compute_hash(), pol_round=-1, time_ms=1)
    message = encode_proposal_message(sign_proposal(KEY, "limits", proposal, 0), raw)
    assert len(message) <= PROPOSAL_MESSAGE_LIMIT == LIMITS["proposal"]
    assert len(raw) + MAX_COMMIT_BYTES + 64 <= BLOCK_SYNC_LIMIT == LIMITS["block"]
    assert max(LIMITS.values()) <= MAX_KIND_LIMIT  # the network accepts every derived limit


def test_governance_and_genesis_ranges_stop_at_the_ceilings() -> None:
    assert LIMIT_RANGES["max_block_bytes"][1] == MAX_BLOCK_BYTES_CEILING
    assert LIMIT_RANGES["max_block_txs"][1] == MAX_BLOCK_TXS_CEILING
    assert LIMIT_RANGES["max_tx_bytes"][1] == MAX_TX_BYTES_CEILING


def test_a_genesis_above_a_ceiling_is_refused() -> None:
    from chainnode.genesis import Params

    document = {
        "chain_id": "limits", "genesis_time_ms": 1,
        "params": {"max_block_bytes": MAX_BLOCK_BYTES_CEILING + 1},
        "departments": [],
    }
    with pytest.raises(GenesisError, match="max_block_bytes"):
        parse_genesis(document)
    assert Params().max_block_bytes <= MAX_BLOCK_BYTES_CEILING


def test_relayed_transactions_are_split_to_fit_the_txs_limit() -> None:
    raws = [bytes([i % 256]) * MAX_TX_BYTES_CEILING for i in range(40)]  # 40 MiB: more than one message
    messages = split_txs(raws)
    assert len(messages) > 1 and all(len(m) <= TXS_MESSAGE_LIMIT for m in messages)
    assert [raw for m in messages for raw in decode_txs_message(m)] == raws
    assert codec.decode(split_txs([b"one"])[0], max_size=64) == [b"one"]
