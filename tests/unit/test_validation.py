"""Validating a block proposed by another department's node: every rule, and re-execution."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from chainnode import crypto
from chainnode.block import VOTE_PRECOMMIT, Block, Commit, CommitSignature, Vote, decode_block
from chainnode.errors import InvalidBlock, InvalidCommit
from chainnode.home import DepartmentSpec, init_network
from chainnode.node import Node
from chainnode.producer import ProposedBlock
from tests.nodeproc import anchor_tx


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Node, Node, crypto.PrivateKey]]:
    _, homes = init_network(
        [tmp_path / "a", tmp_path / "b"],
        chain_id="v",
        departments=[DepartmentSpec(code="PSB", name="Police"), DepartmentSpec(code="SAMR", name="Market")],
        api_ports=[1, 2],
        p2p_ports=[3, 4],
    )
    a, b = Node.from_home(homes[0].home), Node.from_home(homes[1].home)
    try:
        yield a, b, crypto.load_key_file(homes[0].officer_key).key
    finally:
        a.close()
        b.close()


def quorum_commit(nodes: list[Node], block_hash: bytes, height: int) -> Commit:
    validators = nodes[0].validators_at(height)
    vote = Vote(vote_type=VOTE_PRECOMMIT, height=height, round=0, block_hash=block_hash)
    signatures = sorted(
        (
            CommitSignature(
                validator_index=validators.index_of(n.node_key.public_key) or 0,
                signature=n.node_key.sign(vote.compute_signing_bytes("v")),
            )
            for n in nodes
        ),
        key=lambda s: s.validator_index,
    )
    return Commit(height=height, round=0, block_hash=block_hash, signatures=tuple(signatures))


async def test_a_peer_validates_and_commits_the_same_block(pair: tuple[Node, Node, crypto.PrivateKey]) -> None:
    a, b, key = pair
    await a.submit([anchor_tx(key, "v", f"doc{i}") for i in range(5)])
    proposed = a.build_proposal(a.take_proposal_txs(), now_ms=a.clock.now_ms())
    validated = b.validate_block(proposed.block)
    assert validated.block_hash == proposed.block_hash and validated.update.root == proposed.update.root
    commit = quorum_commit([a, b], proposed.block_hash, 1)
    a.commit_decided(proposed, commit)
    b.commit_decided(validated, commit)
    assert a.tree.root() == b.tree.root() and a.tip.block_hash == b.tip.block_hash
    with pytest.raises(InvalidCommit):
        lone = quorum_commit([a], proposed.block_hash, 1)
        b.commit_decided(validated, lone)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda h: {"state_root": bytes(32)}, "another state root"),
        (lambda h: {"results_root": bytes(32)}, "another results root"),
        (lambda h: {"height": 2}, "does not follow"),
        (lambda h: {"prev_hash": bytes(32)}, "does not link"),
        (lambda h: {"chain_id": "other"}, "is for chain .other."),
        (lambda h: {"time_ms": 0}, "not after its parent"),
        (lambda h: {"proposer": bytes(32)}, "not a validator"),
        (lambda h: {"validators_hash": bytes(32)}, "another validator set"),
    ],
)
async def test_each_broken_rule_is_named(pair: tuple[Node, Node, crypto.PrivateKey], change, words: str) -> None:  # type: ignore[no-untyped-def]
    a, b, key = pair
    await a.submit([anchor_tx(key, "v", "x")])
    proposed = a.build_proposal(a.take_proposal_txs(), now_ms=a.clock.now_ms())
    header = dataclasses.replace(proposed.block.header, **change(proposed.block.header))
    with pytest.raises(InvalidBlock, match=words):
        b.validate_block(dataclasses.replace(proposed.block, header=header))
    assert b.head_height() == 0


async def test_forged_and_duplicate_transactions_are_refused(pair: tuple[Node, Node, crypto.PrivateKey]) -> None:
    a, b, key = pair
    raw = anchor_tx(key, "v", "y")
    forged = raw[:-1] + bytes([raw[-1] ^ 1])
    block = _block_with(a, [forged])
    with pytest.raises(InvalidBlock, match="signature"):
        b.validate_block(block)
    with pytest.raises(InvalidBlock, match="already committed"):
        b.validate_block(_block_with(a, [raw, raw]))


def _block_with(node: Node, raws: list[bytes]) -> Block:
    from chainnode.tx import decode_transaction

    proposed = node.build_proposal([decode_transaction(r) for r in raws], now_ms=node.clock.now_ms())
    return proposed.block


async def test_block_sync_verifies_and_applies(pair: tuple[Node, Node, crypto.PrivateKey]) -> None:
    a, b, key = pair
    for i in range(3):
        await a.submit([anchor_tx(key, "v", f"s{i}-{j}") for j in range(4)])
        proposed = a.build_proposal(a.take_proposal_txs(), now_ms=a.clock.now_ms())
        a.commit_decided(proposed, quorum_commit([a, b], proposed.block_hash, i + 1))
        await a.announce_commit(proposed)
    batch = a.blocks_for_sync(1, max_blocks=10, max_bytes=1 << 20)
    assert len(batch) == 3
    block_bytes, commit_bytes = batch[0]
    with pytest.raises(InvalidBlock, match="does not follow"):
        b.apply_synced_block(*batch[1])
    bad_commit = quorum_commit([a], Block.__name__.encode().ljust(32, b"\0"), 1).encode()
    with pytest.raises(InvalidCommit):
        b.apply_synced_block(block_bytes, bad_commit)
    for block_bytes, commit_bytes in batch:
        b.apply_synced_block(block_bytes, commit_bytes)
    assert b.head_height() == 3 and b.tree.root() == a.tree.root()


async def test_a_synced_block_validated_as_a_proposal_is_not_executed_again(
    pair: tuple[Node, Node, crypto.PrivateKey], monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b, key = pair
    roots = []
    for i in range(2):
        await a.submit([anchor_tx(key, "v", f"k{i}-{j}") for j in range(4)])
        proposed = a.build_proposal(a.take_proposal_txs(), now_ms=a.clock.now_ms())
        a.commit_decided(proposed, quorum_commit([a, b], proposed.block_hash, i + 1))
        await a.announce_commit(proposed)
        roots.append(a.tree.root())
    (block1, commit1), (block2, commit2) = a.blocks_for_sync(1, max_blocks=10, max_bytes=1 << 20)
    validated = b.validate_block(decode_block(block1))  # as b's consensus would, from the proposal
    kept = {(1, validated.block_hash): validated}

    def executed(height: int, block_hash: bytes) -> ProposedBlock | None:
        return kept.get((height, block_hash))

    def no_execution(block: Block) -> ProposedBlock:
        raise AssertionError("the block was executed again")

    with monkeypatch.context() as patch:
        patch.setattr(b, "validate_block", no_execution)
        with pytest.raises(InvalidCommit):  # the commit is checked all the same
            b.apply_synced_block(block1, quorum_commit([a], validated.block_hash, 1).encode(), executed)
        assert b.apply_synced_block(block1, commit1, executed) is validated
    assert b.head_height() == 1 and b.tree.root() == roots[0]
    b.apply_synced_block(block2, commit2, lambda height, block_hash: validated)  # another block's form: not used
    assert b.head_height() == 2 and b.tree.root() == a.tree.root()
    samples = {(s.name, s.labels.get("execution")): s.value for m in b.metrics.registry.collect() for s in m.samples}
    assert samples[("chainnode_synced_blocks_total", "known")] == 1
    assert samples[("chainnode_synced_blocks_total", "executed")] == 1
