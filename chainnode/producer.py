"""Building a block from pending transactions: execute, compute the roots, assemble the header.

This is the proposer's half of block production. How the block then gets its commit is the consensus
layer's business: with one validator the node signs the precommit itself (`commit_alone`); the BFT
layer replaces only that step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from chainnode import crypto
from chainnode.block import (
    VOTE_PRECOMMIT,
    ZERO_HASH,
    Block,
    BlockHeader,
    Commit,
    CommitSignature,
    Vote,
    compute_results_root,
    compute_tx_root,
)
from chainnode.errors import InvariantViolation
from chainnode.execution import BlockContext, BlockExecution, execute_block
from chainnode.state import StateUpdate, compute_state_update
from chainnode.state_tree import StateTree
from chainnode.tx import Transaction
from chainnode.validators import ValidatorSet
from contracts.base import StateReader


@dataclass(frozen=True, slots=True, kw_only=True)
class ProposedBlock:
    block: Block
    block_bytes: bytes
    block_hash: bytes
    execution: BlockExecution
    update: StateUpdate
    txs: tuple[Transaction, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainTip:
    """What the next block builds on."""

    chain_id: str
    height: int
    """Height of the last committed block (0 before block 1)."""
    block_hash: bytes
    """Hash of the last block; the genesis hash before block 1."""
    time_ms: int
    last_commit: Commit | None


def compute_block_time(tip: ChainTip, now_ms: int) -> int:
    """Block time: the proposer's clock, but always strictly later than the parent's."""
    return max(now_ms, tip.time_ms + 1)


def build_block(
    *,
    tip: ChainTip,
    txs: Sequence[Transaction],
    now_ms: int,
    state: StateReader,
    tree: StateTree,
    load_node: Callable[[bytes], bytes],
    validators: ValidatorSet,
    next_validators: ValidatorSet,
    proposer: bytes,
) -> ProposedBlock:
    """Execute `txs` on top of the committed state and return the complete block."""
    height = tip.height + 1
    time_ms = compute_block_time(tip, now_ms)
    execution = execute_block(state, txs, BlockContext(chain_id=tip.chain_id, height=height, time_ms=time_ms))
    update = compute_state_update(tree, execution.changes, load_node)
    raw_txs = tuple(tx.raw for tx in txs)
    header = BlockHeader(
        chain_id=tip.chain_id,
        height=height,
        time_ms=time_ms,
        prev_hash=tip.block_hash,
        tx_count=len(raw_txs),
        tx_root=compute_tx_root(raw_txs),
        results_root=compute_results_root(execution.result_bytes),
        state_root=update.root,
        last_commit_hash=ZERO_HASH if tip.last_commit is None else tip.last_commit.compute_hash(),
        validators_hash=validators.compute_hash(),
        next_validators_hash=next_validators.compute_hash(),
        proposer=proposer,
    )
    block = Block(header=header, txs=raw_txs, last_commit=tip.last_commit)
    return ProposedBlock(
        block=block,
        block_bytes=block.encode(),
        block_hash=header.compute_hash(),
        execution=execution,
        update=update,
        txs=tuple(txs),
    )


def commit_alone(key: crypto.PrivateKey, proposed: ProposedBlock, validators: ValidatorSet) -> Commit:
    """The commit of a single-validator network: this node's own precommit, which alone is > 2/3."""
    index = validators.index_of(key.public_key)
    if index is None or not validators.is_quorum(validators.validators[index].power):
        raise InvariantViolation("commit_alone needs a node key holding more than 2/3 of the voting power")
    header = proposed.block.header
    vote = Vote(vote_type=VOTE_PRECOMMIT, height=header.height, round=0, block_hash=proposed.block_hash)
    signature = key.sign(vote.compute_signing_bytes(header.chain_id))
    return Commit(
        height=header.height,
        round=0,
        block_hash=proposed.block_hash,
        signatures=(CommitSignature(validator_index=index, signature=signature),),
    )
