"""What a peer can send the consensus driver: garbage is rejected with a typed error, never a crash."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chainnode import codec, crypto
from chainnode.bft import KIND_PROPOSAL, KIND_STATUS, KIND_TXS, KIND_VOTE, BftDriver
from chainnode.blob_transfer import KIND_BLOB, BlobRequest, decode_blob_response, encode_blob_request
from chainnode.block import VOTE_PREVOTE, Vote
from chainnode.consensus.messages import sign_vote
from chainnode.errors import ChainError, InvalidInput
from chainnode.home import DepartmentSpec, init_network
from chainnode.node import Node
from network.verdict import Verdict

PEER = b"\x01" * 32


@pytest.fixture
async def driver(tmp_path: Path) -> AsyncIterator[BftDriver]:
    _, homes = init_network(
        [tmp_path / "a", tmp_path / "b"], chain_id="m",
        departments=[DepartmentSpec(code="PSB", name="P"), DepartmentSpec(code="TAX", name="T")],
        api_ports=[1, 2], p2p_ports=[3, 4],
    )
    node = Node.from_home(homes[0].home)
    bft = BftDriver(node)
    try:
        yield bft
    finally:
        bft.wal.close()
        node.close()


async def test_a_valid_vote_is_accepted_and_a_forged_one_rejected(driver: BftDriver) -> None:
    other = Node.from_home(driver.node.layout.root.parent / "b")
    try:
        validators = driver.node.validators_at(1)
        index = validators.index_of(other.node_key.public_key)
        assert index is not None
        vote = Vote(vote_type=VOTE_PREVOTE, height=1, round=0, block_hash=b"\x07" * 32)
        signed = sign_vote(other.node_key, "m", vote, index)
        assert await driver.on_message(PEER, KIND_VOTE, signed.encode()) is Verdict.ACCEPT
        forged = sign_vote(crypto.PrivateKey(b"\x09" * 32), "m", vote, index)
        with pytest.raises(InvalidInput):
            await driver.on_message(PEER, KIND_VOTE, forged.encode())
    finally:
        other.close()


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        (KIND_VOTE, b"\xc1"),
        (KIND_PROPOSAL, codec.encode([b"x", b"y"])),
        (KIND_PROPOSAL, codec.encode([1, 2, 3])),
        (KIND_TXS, codec.encode([1])),
        (KIND_STATUS, codec.encode(["high"])),
        ("nonsense", b""),
    ],
)
async def test_malformed_messages_are_rejected(driver: BftDriver, kind: str, payload: bytes) -> None:
    with pytest.raises(InvalidInput):
        await driver.on_message(PEER, kind, payload)
    assert driver.node.head_height() == 0


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from([KIND_VOTE, KIND_PROPOSAL, KIND_TXS, KIND_STATUS]), payload=st.binary(max_size=300))
async def test_fuzzed_payloads_only_raise_typed_errors(driver: BftDriver, kind: str, payload: bytes) -> None:
    try:
        verdict = await driver.on_message(PEER, kind, payload)
    except ChainError:
        return  # the network turns it into REJECT or IGNORE and scores the peer
    assert verdict in (Verdict.ACCEPT, Verdict.IGNORE)


@pytest.mark.parametrize(
    "answer",
    [codec.encode(5), codec.encode([[1, 2]]), codec.encode([[b"block"]]), codec.encode([[b"a", "b"]]), b"\xc1"],
)
def test_a_malformed_sync_answer_is_refused(answer: bytes) -> None:
    from chainnode.sync import decode_answer

    with pytest.raises(InvalidInput):
        decode_answer(answer)


async def test_block_requests_are_checked(driver: BftDriver) -> None:
    from chainnode.errors import NotFound
    from chainnode.sync import KIND_BLOCK

    with pytest.raises(InvalidInput):
        await driver.on_request(PEER, KIND_BLOCK, codec.encode(["one", 2]))
    with pytest.raises(NotFound):
        await driver.on_request(PEER, KIND_BLOCK, codec.encode([1, 10]))
    with pytest.raises(InvalidInput):
        await driver.on_request(PEER, "other", b"")


async def test_a_proposal_out_of_turn_is_rejected_at_once_and_its_block_not_kept(driver: BftDriver) -> None:
    """A validator that is not the round's proposer cannot make the node keep (or even decode) its block:
    the verdict is REJECT, so the network scores the sender down."""
    from chainnode.block import Block, BlockHeader
    from chainnode.consensus.errors import WrongProposer
    from chainnode.consensus.messages import Proposal, sign_proposal
    from chainnode.consensus.proposer import compute_proposer

    other = Node.from_home(driver.node.layout.root.parent / "b")
    try:
        validators = driver.node.validators_at(1)
        index = validators.index_of(other.node_key.public_key)
        assert index is not None
        round_ = next(r for r in range(10) if compute_proposer(validators, 1, r) != index)
        header = BlockHeader(
            chain_id="m", height=1, time_ms=1, prev_hash=bytes(32), tx_count=0, tx_root=bytes(32),
            results_root=bytes(32), state_root=bytes(32), last_commit_hash=bytes(32), validators_hash=bytes(32),
            next_validators_hash=bytes(32), proposer=other.node_key.public_key,
        )
        block = Block(header=header, txs=(), last_commit=None)
        proposal = Proposal(height=1, round=round_, block_hash=block.compute_hash(), pol_round=-1, time_ms=1)
        signed = sign_proposal(other.node_key, "m", proposal, index)
        with pytest.raises(WrongProposer):
            await driver.on_message(PEER, KIND_PROPOSAL, codec.encode([signed.encode(), block.encode()]))
        assert len(driver.engine.blocks) == 0
    finally:
        other.close()


async def test_blob_requests_are_answered_and_garbage_refused(driver: BftDriver) -> None:
    other = Node.from_home(driver.node.layout.root.parent / "b")
    try:
        request = BlobRequest(b"\x05" * 32, 0, 1024)
        # no document carries the hash (the documents queries are not wired here): refused, no penalty
        answer = await driver.on_request(other.node_key.public_key, KIND_BLOB, encode_blob_request(request))
        assert decode_blob_response(answer, request).status == "refused"
        with pytest.raises(InvalidInput):
            await driver.on_request(other.node_key.public_key, KIND_BLOB, codec.encode([b"\x05" * 31, 0, 1]))
        assert driver.blobs.root == driver.node.layout.root / "blobs" and driver.blobs.root.is_dir()
    finally:
        other.close()


async def test_relays_skip_peers_whose_status_lists_a_link_with_the_origin(driver: BftDriver,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The driver keeps each peer's announced links and hands the network the rule: a relay skips the origin
    and every peer linked to it; a peer that announced no links gets everything."""
    origin, linked, unlinked, silent = (bytes([i]) * 32 for i in (0x21, 0x22, 0x23, 0x24))
    status_with = codec.encode([0, 0, -1, sorted([origin, unlinked])])  # `linked` lists a link with the origin
    assert await driver.on_message(linked, KIND_STATUS, status_with) is Verdict.ACCEPT
    assert await driver.on_message(unlinked, KIND_STATUS, codec.encode([0, 0, -1, [linked]])) is Verdict.ACCEPT
    assert await driver.on_message(silent, KIND_STATUS, codec.encode([0, 0, -1])) is Verdict.ACCEPT
    sent: list[tuple[str, bytes | None, list[bytes]]] = []

    def record(kind: str, payload: bytes, *, exclude: bytes | None = None, skip: object = None) -> int:
        peers = [origin, linked, unlinked, silent]
        sent.append((kind, exclude, [p for p in peers if p != exclude and not (callable(skip) and skip(p))]))
        return len(sent[-1][2])

    monkeypatch.setattr(driver.network, "broadcast", record)
    driver.broadcast(KIND_VOTE, b"v", exclude=unlinked, origin=origin)
    driver._relay_from_peer([b"tx"], unlinked)  # a transaction: the peer it came from is the origin
    driver.broadcast(KIND_VOTE, b"own")  # no origin: every peer
    assert sent == [(KIND_VOTE, unlinked, [silent]), (KIND_TXS, unlinked, [origin, silent]),
                    (KIND_VOTE, None, [origin, linked, unlinked, silent])]
    driver.on_peer_disconnected(linked)
    assert linked not in driver.peer_links and set(driver.peer_links) == {unlinked}


async def test_block_sync_is_given_the_executed_blocks_consensus_keeps(driver: BftDriver) -> None:
    """Block sync commits a fetched block that consensus already validated without executing it again: the
    driver hands it the engine's executed forms, and only those (by height and hash)."""
    proposed = driver.node.build_proposal([], driver.node.clock.now_ms())
    driver.engine.blocks.set_executed(1, proposed.block_hash, proposed)
    assert driver.sync.executed(1, proposed.block_hash) is proposed
    assert driver.sync.executed(1, bytes(32)) is None
    assert driver.sync.executed(2, proposed.block_hash) is None
