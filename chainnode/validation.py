"""Validating a proposed block before voting for it: the rules every honest validator applies.

A proposed block is valid when its header extends the committed tip (chain, height, parent hash, time,
validator sets), its transactions decode canonically, are signed, are for this chain, unexpired and never
committed before, its carried commit finalises the parent, and re-executing it on the committed state
gives exactly the header's results root and state root. The re-execution result is returned, so the
node commits what it validated without executing twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from chainnode import crypto
from chainnode.block import Block, validate_block_shape, validate_commit
from chainnode.errors import InvalidBlock, InvalidCommit, InvalidInput
from chainnode.producer import ChainTip, ProposedBlock, build_block
from chainnode.state_tree import StateTree
from chainnode.tx import Transaction, decode_transaction
from chainnode.validators import ValidatorSet
from contracts.base import StateReader

SignatureCheck = Callable[[Sequence[Transaction]], list[bool]]


def validate_block_header_against_tip(
    block: Block,
    *,
    tip: ChainTip,
    validators: ValidatorSet,
    next_validators: ValidatorSet,
    last_validators: ValidatorSet | None,
    verify_commit: crypto.Verifier = crypto.verify_signature,
) -> None:
    """Header rules that need no execution. Raises InvalidBlock or InvalidCommit naming the rule.
    `verify_commit` checks each signature of the parent's commit (the node's cache of consensus signatures)."""
    header = block.header
    if header.chain_id != tip.chain_id:
        raise InvalidBlock(f"block is for chain {header.chain_id!r}, expected {tip.chain_id!r}", field="chain_id")
    if header.height != tip.height + 1:
        raise InvalidBlock(f"block height {header.height} does not follow {tip.height}", field="height")
    if header.prev_hash != tip.block_hash:
        raise InvalidBlock(
            f"block {header.height} does not link to the committed block {tip.height}", field="prev_hash"
        )
    if header.time_ms <= tip.time_ms:
        raise InvalidBlock(f"block {header.height} time is not after its parent's", field="time_ms")
    if header.validators_hash != validators.compute_hash():
        raise InvalidBlock(f"block {header.height} names another validator set", field="validators_hash")
    if header.next_validators_hash != next_validators.compute_hash():
        raise InvalidBlock(f"block {header.height} names another next validator set", field="next_validators_hash")
    if validators.index_of(header.proposer) is None:
        raise InvalidBlock(f"block {header.height} proposer is not a validator", field="proposer")
    validate_block_shape(block)
    if block.last_commit is not None:
        if last_validators is None:
            raise InvalidBlock("no validator set for the parent's commit", field="last_commit")
        validate_commit(
            block.last_commit,
            chain_id=tip.chain_id,
            height=tip.height,
            block_hash=tip.block_hash,
            validators=last_validators,
            verify=verify_commit,
        )


def decode_block_txs(
    block: Block,
    *,
    max_tx_bytes: int,
    is_committed: Callable[[Transaction], bool],
    check_signatures: SignatureCheck,
    known: Callable[[bytes], Transaction | None] | None = None,
) -> list[Transaction]:
    """Decode and check every transaction of a block. Raises InvalidBlock naming the first bad one."""
    height = block.header.height
    txs = []
    seen: set[bytes] = set()
    for index, raw in enumerate(block.txs):
        tx = known(raw) if known is not None else None  # the same bytes decoded at admission
        if tx is None:
            try:
                tx = decode_transaction(raw, max_size=max_tx_bytes)
            except InvalidInput as exc:
                raise InvalidBlock(f"block {height} tx {index}: {exc.message}", field="txs") from exc
        if tx.body.chain_id != block.header.chain_id:
            raise InvalidBlock(f"block {height} tx {index} is for another chain", field="txs")
        if tx.body.expiry_height < height:
            raise InvalidBlock(f"block {height} tx {index} expired at height {tx.body.expiry_height}", field="txs")
        if tx.tx_id in seen or is_committed(tx):
            raise InvalidBlock(f"block {height} tx {index} ({tx.tx_id.hex()}) was already committed", field="txs")
        seen.add(tx.tx_id)
        txs.append(tx)
    verdicts = check_signatures(txs)
    for index, ok in enumerate(verdicts):
        if not ok:
            raise InvalidBlock(f"block {height} tx {index}: signature does not verify", field="txs")
    return txs


def validate_proposed_block(
    block: Block,
    *,
    tip: ChainTip,
    state: StateReader,
    tree: StateTree,
    load_node: Callable[[bytes], bytes],
    validators: ValidatorSet,
    next_validators: ValidatorSet,
    last_validators: ValidatorSet | None,
    max_tx_bytes: int,
    is_committed: Callable[[Transaction], bool],
    check_signatures: SignatureCheck,
    known: Callable[[bytes], Transaction | None] | None = None,
    verify_commit: crypto.Verifier = crypto.verify_signature,
) -> ProposedBlock:
    """Check every rule and re-execute; return the executed block. Raises InvalidBlock / InvalidCommit."""
    validate_block_header_against_tip(
        block, tip=tip, validators=validators, next_validators=next_validators, last_validators=last_validators,
        verify_commit=verify_commit,
    )
    txs = decode_block_txs(
        block, max_tx_bytes=max_tx_bytes, is_committed=is_committed, check_signatures=check_signatures, known=known
    )
    replay_tip = ChainTip(
        chain_id=tip.chain_id,
        height=tip.height,
        block_hash=tip.block_hash,
        time_ms=block.header.time_ms - 1,
        last_commit=block.last_commit,
    )
    executed = build_block(
        tip=replay_tip,
        txs=txs,
        now_ms=block.header.time_ms,
        state=state,
        tree=tree,
        load_node=load_node,
        validators=validators,
        next_validators=next_validators,
        proposer=block.header.proposer,
    )
    header = block.header
    if executed.block.header.results_root != header.results_root:
        raise InvalidBlock(f"block {header.height}: re-execution gives another results root", field="results_root")
    if executed.block.header.state_root != header.state_root:
        raise InvalidBlock(f"block {header.height}: re-execution gives another state root", field="state_root")
    if executed.block_hash != block.compute_hash():
        raise InvalidBlock(f"block {header.height}: re-built header differs from the proposed one", field="header")
    return executed


__all__ = [
    "InvalidBlock",
    "InvalidCommit",
    "decode_block_txs",
    "validate_block_header_against_tip",
    "validate_proposed_block",
]
