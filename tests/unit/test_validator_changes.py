"""Validator-set changes: queued by block H, in force at H+2, named in headers, checked by `chainnode check`."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chainnode import codec, crypto, light
from chainnode.block import VOTE_PRECOMMIT, Commit, CommitSignature, Vote
from chainnode.check import check_home
from chainnode.errors import InvalidCommit, InvalidProof
from chainnode.genesis import Genesis
from chainnode.home import CreatedHome, DepartmentSpec, init_network
from chainnode.node import Node
from chainnode.tx import TxBody, decode_transaction, sign_transaction
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


async def test_proofs_carry_the_validator_set_transitions_since_genesis(
    net: tuple[list[Node], list[CreatedHome]],
) -> None:
    nodes, homes = net
    admin = crypto.load_key_file(homes[0].officer_key).key
    body = TxBody(chain_id="vc", contract="testhook", method="set_validator",
                  args={"department": "SAMR", "public_key": nodes[1].node_key.public_key, "power": 0},
                  signer=admin.public_key, nonce=b"w" * 16, expiry_height=100)
    early = anchor_tx(admin, "vc", "early")
    await advance(nodes, [sign_transaction(admin, body).raw, early], nodes)  # block 1 queues SAMR's removal
    await advance(nodes, [anchor_tx(admin, "vc", "b2")], nodes)
    late = anchor_tx(admin, "vc", "late")
    await advance(nodes, [late], [nodes[0]])  # block 3 is signed by PSB alone
    genesis = nodes[0].genesis

    early_bundle = nodes[0].reader.tx_bundle(decode_transaction(early).tx_id)
    assert early_bundle.transitions == () and light.decode_bundle(early_bundle.encode()) == early_bundle
    assert light.verify_tx_bundle(genesis, early_bundle).height == 1

    bundle = nodes[0].reader.tx_bundle(decode_transaction(late).tx_id)
    assert [t.header.height for t in bundle.transitions] == [2]
    decoded = light.decode_bundle(bundle.encode())
    assert isinstance(decoded, light.TxBundle) and light.verify_tx_bundle(genesis, decoded).height == 3
    state = nodes[0].reader.state_bundle(b"consensus/test_hooks")
    assert light.verify_state_bundle(genesis, light.decode_bundle(state.encode())).height == 3  # type: ignore[arg-type]

    with pytest.raises(InvalidProof, match="lacks the validator-set transitions"):
        light.verify_tx_bundle(genesis, dataclasses.replace(bundle, transitions=()))
    hop = bundle.transitions[0]
    forged_set = dataclasses.replace(hop, next_validators=genesis.validator_set())
    with pytest.raises(InvalidProof, match="does not match block 2's next_validators_hash"):
        light.verify_tx_bundle(genesis, dataclasses.replace(bundle, transitions=(forged_set,)))
    unsigned = dataclasses.replace(hop, commit=dataclasses.replace(hop.commit, signatures=hop.commit.signatures[:1]))
    with pytest.raises(InvalidProof, match="does not finalise the transition block 2"):
        light.verify_tx_bundle(genesis, dataclasses.replace(bundle, transitions=(unsigned,)))
    with pytest.raises(InvalidProof, match="out of order"):
        light.verify_tx_bundle(genesis, dataclasses.replace(bundle, transitions=(hop, hop)))


def _reencoded(data: bytes, version: int, fields: list[Any]) -> bytes:
    """`data`'s tag with another version and field list: the same proof in another form."""
    tag = codec.decode(data, max_size=light.MAX_BUNDLE_BYTES)[0]  # type: ignore[index]
    return codec.encode([tag, version, *fields])


def _fields(data: bytes) -> list[Any]:
    value = codec.decode(data, max_size=light.MAX_BUNDLE_BYTES)
    assert isinstance(value, list)
    return list(value[2:])


def _verify(genesis: Genesis, data: bytes) -> None:
    bundle = light.decode_bundle(data)
    if isinstance(bundle, light.TxBundle):
        light.verify_tx_bundle(genesis, bundle)
    else:
        light.verify_state_bundle(genesis, bundle)


async def test_each_proof_has_exactly_one_encoding(net: tuple[list[Node], list[CreatedHome]]) -> None:
    """A genuine bundle re-encoded in any other form (version 2 with no transitions, version 1 with a
    transitions field, a field dropped or added, a transition that changes nothing) is refused."""
    nodes, homes = net
    admin = crypto.load_key_file(homes[0].officer_key).key
    body = TxBody(chain_id="vc", contract="testhook", method="set_validator",
                  args={"department": "SAMR", "public_key": nodes[1].node_key.public_key, "power": 0},
                  signer=admin.public_key, nonce=b"w" * 16, expiry_height=100)
    early = anchor_tx(admin, "vc", "early")
    await advance(nodes, [sign_transaction(admin, body).raw, early], nodes)
    await advance(nodes, [anchor_tx(admin, "vc", "b2")], nodes)
    late = anchor_tx(admin, "vc", "late")
    await advance(nodes, [late], [nodes[0]])
    genesis, reader = nodes[0].genesis, nodes[0].reader
    v1 = reader.tx_bundle(decode_transaction(early).tx_id).encode()
    v2 = reader.tx_bundle(decode_transaction(late).tx_id).encode()
    state = reader.state_bundle(b"consensus/test_hooks").encode()
    for genuine in (v1, v2, state):
        _verify(genesis, genuine)
    header, commit = reader.get_header_commit(1)  # block 1 names the genesis set as the next one: no change
    no_change = light.Transition(header=header, commit=commit, next_validators=genesis.validator_set()).fields()
    assert header.next_validators_hash == header.validators_hash

    v1_fields, v2_fields, state_fields = _fields(v1), _fields(v2), _fields(state)
    alternatives = {
        "tx v1 as v2 with no transitions": _reencoded(v1, 2, [*v1_fields, []]),
        "tx v1 with a transitions field": _reencoded(v1, 1, [*v1_fields, []]),
        "tx v1 as v2 with a transition that changes nothing": _reencoded(v1, 2, [*v1_fields, [no_change]]),
        "tx v2 as v1 without its transitions": _reencoded(v2, 1, v2_fields[:-1]),
        "tx v2 as v1 with its transitions": _reencoded(v2, 1, v2_fields),
        "tx v2 without the transitions field": _reencoded(v2, 2, v2_fields[:-1]),
        "tx v2 with a transition that changes nothing": _reencoded(v2, 2, [*v2_fields[:-1],
                                                                           [no_change, *v2_fields[-1]]]),
        "state v3 without the transitions field": _reencoded(state, 3, state_fields[:-1]),
        "state v3 with a field added": _reencoded(state, 3, [*state_fields, []]),
        "state as version 2": _reencoded(state, 2, state_fields),
        "state with a transition that changes nothing": _reencoded(state, 3, [*state_fields[:-1],
                                                                             [no_change, *state_fields[-1]]]),
    }
    for name, data in alternatives.items():
        with pytest.raises(InvalidProof):
            _verify(genesis, data)
            pytest.fail(f"{name} verifies")
    with pytest.raises(InvalidProof, match="version 2 transaction proof bundle carries at least one"):
        light.decode_bundle(alternatives["tx v1 as v2 with no transitions"])
    with pytest.raises(InvalidProof, match="does not change the validator set"):
        _verify(genesis, alternatives["tx v2 with a transition that changes nothing"])
