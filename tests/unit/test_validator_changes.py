"""Validator-set changes: queued by block H, in force at H+2, named in headers, checked by `chainnode check`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chainnode import crypto
from chainnode.block import VOTE_PRECOMMIT, Commit, CommitSignature, Vote
from chainnode.check import check_home
from chainnode.errors import InvalidCommit
from chainnode.home import CreatedHome, DepartmentSpec, init_network
from chainnode.node import Node
from chainnode.tx import TxBody, sign_transaction
from tests.nodeproc import anchor_tx


@pytest.fixture
def net(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[list[Node], list[CreatedHome]]]:
    monkeypatch.setenv("CHAINNODE_TEST_FAULTS", "test-hooks")  # a genesis with test hooks starts only so
    _, homes = init_network(
        [tmp_path / "a", tmp_path / "b"],
        chain_id="vc",
        departments=[DepartmentSpec(code="PSB", name="Police"), DepartmentSpec(code="SAMR", name="Market")],
        api_ports=[1, 2],
        p2p_ports=[3, 4],
        params={"test_hooks": 1},
    )
    nodes = [Node.from_home(h.home) for h in homes]
    try:
        yield nodes, homes
    finally:
        for node in nodes:
            node.close()


def commit_by(signers: list[Node], block_hash: bytes, height: int) -> Commit:
    validators = signers[0].validators_at(height)
    vote = Vote(vote_type=VOTE_PRECOMMIT, height=height, round=0, block_hash=block_hash)
    signatures = []
    for node in signers:
        index = validators.index_of(node.node_key.public_key)
        assert index is not None
        signatures.append(
            CommitSignature(validator_index=index, signature=node.node_key.sign(vote.compute_signing_bytes("vc")))
        )
    return Commit(
        height=height,
        round=0,
        block_hash=block_hash,
        signatures=tuple(sorted(signatures, key=lambda s: s.validator_index)),
    )


async def advance(nodes: list[Node], raws: list[bytes], signers: list[Node]) -> None:
    await nodes[0].submit(raws)
    proposed = nodes[0].build_proposal(nodes[0].take_proposal_txs(), now_ms=nodes[0].clock.now_ms())
    commit = commit_by(signers, proposed.block_hash, proposed.block.height)
    for node in nodes:
        executed = proposed if node is nodes[0] else node.validate_block(proposed.block)
        node.commit_decided(executed, commit)
        await node.announce_commit(executed)


async def test_removing_a_validator_takes_effect_two_heights_later(net: tuple[list[Node], list[CreatedHome]]) -> None:
    nodes, homes = net
    admin = crypto.load_key_file(homes[0].officer_key).key
    samr_key = nodes[1].node_key.public_key
    body = TxBody(
        chain_id="vc",
        contract="testhook",
        method="set_validator",
        args={"department": "SAMR", "public_key": samr_key, "power": 0},
        signer=admin.public_key,
        nonce=b"v" * 16,
        expiry_height=100,
    )
    both = nodes
    await advance(nodes, [sign_transaction(admin, body).raw], both)  # block 1 queues the change
    status = nodes[0].reader.tx_status(sign_transaction(admin, body).tx_id)
    assert status.result is not None and status.result["code"] == "ok"
    assert len(nodes[0].validators_at(2)) == 2 and len(nodes[0].validators_at(3)) == 1
    await advance(nodes, [anchor_tx(admin, "vc", "b2")], both)  # block 2: still both sign
    header2 = nodes[1].store.get_header(2)
    assert header2 is not None and header2.next_validators_hash == nodes[0].validators_at(3).compute_hash()
    proposed = nodes[0].build_proposal([], now_ms=nodes[0].clock.now_ms())
    with pytest.raises(InvalidCommit):  # SAMR's signature no longer counts at height 3
        nodes[0].commit_decided(proposed, commit_by_indexes(nodes[1], proposed.block_hash, 3))
    await advance(nodes, [anchor_tx(admin, "vc", "b3")], [nodes[0]])  # block 3: PSB alone is > 2/3
    assert nodes[1].head_height() == 3
    for node in nodes:
        node.close()
    for home in homes:
        report = check_home(home.home)
        assert report.ok, report.problems


def commit_by_indexes(node: Node, block_hash: bytes, height: int) -> Commit:
    vote = Vote(vote_type=VOTE_PRECOMMIT, height=height, round=0, block_hash=block_hash)
    return Commit(
        height=height,
        round=0,
        block_hash=block_hash,
        signatures=(
            CommitSignature(validator_index=0, signature=node.node_key.sign(vote.compute_signing_bytes("vc"))),
        ),
    )


async def test_test_hooks_are_refused_without_the_genesis_flag(tmp_path: Path) -> None:
    _, homes = init_network(
        [tmp_path / "x"],
        chain_id="nh",
        departments=[DepartmentSpec(code="PSB", name="P")],
        api_ports=[1],
        p2p_ports=[2],
    )
    node = Node.from_home(homes[0].home)
    try:
        admin = crypto.load_key_file(homes[0].officer_key).key
        body = TxBody(
            chain_id="nh",
            contract="testhook",
            method="set_validator",
            args={"department": "PSB", "public_key": node.node_key.public_key, "power": 5},
            signer=admin.public_key,
            nonce=b"w" * 16,
            expiry_height=100,
        )
        tx = sign_transaction(admin, body)
        await node.submit([tx.raw])
        await node.produce_block()
        status = node.reader.tx_status(tx.tx_id)
        assert status.result is not None and status.result["code"] == "test_hooks_disabled"
        assert node.validators_at(3).total_power == 10
    finally:
        node.close()
