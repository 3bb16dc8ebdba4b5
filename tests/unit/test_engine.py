"""The consensus engine against hostile validators: proposal floods, vote floods, early proposals, relaying.

The engine runs with a fake node (a validator set of four, a head height, a clock) and a host that only
records what the engine asks for, so each test drives it message by message, as the network would.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from chainnode import crypto
from chainnode.block import VOTE_PRECOMMIT, VOTE_PREVOTE, Block, BlockHeader, Vote, decode_block
from chainnode.consensus import MAX_PROPOSALS_PER_ROUND, MAX_ROUNDS_AHEAD
from chainnode.consensus.errors import WrongProposer
from chainnode.consensus.events import Decide, TimeoutEvent, Timeouts
from chainnode.consensus.messages import Proposal, sign_proposal, sign_vote
from chainnode.consensus.proposer import compute_proposer
from chainnode.driver.engine import ConsensusEngine, EngineSettings
from chainnode.driver.gossip import (
    KIND_PROPOSAL,
    KIND_VOTE,
    PeerStatus,
    decode_proposal_message,
    encode_proposal_message,
)
from chainnode.driver.signer import WalSigner
from chainnode.driver.stash import MAX_PER_VALIDATOR
from chainnode.errors import InvalidSignature
from chainnode.validators import Validator, ValidatorSet
from chainnode.wal import SignLog
from network.verdict import Verdict

CHAIN = "engine-test"
KEYS = sorted((crypto.PrivateKey(bytes([i + 1]) * 32) for i in range(4)), key=lambda k: k.public_key)
VALIDATORS = ValidatorSet(
    tuple(Validator(department=f"D{i}", public_key=k.public_key, power=10) for i, k in enumerate(KEYS))
)
NOW = 1_700_000_000_000
PEER = b"\xee" * 32


@dataclass
class FakeApp:
    head: int = 0
    now: int = NOW
    checked: list[bytes] = field(default_factory=list)
    """The messages whose signatures the engine asked the app to check."""

    def head_height(self) -> int:
        return self.head

    def validators_at(self, height: int) -> ValidatorSet:
        return VALIDATORS

    def now_ms(self) -> int:
        return self.now

    def decode_block(self, raw: bytes) -> Block:
        return decode_block(raw)

    def verify_signature(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        self.checked.append(message)
        return crypto.verify_signature(public_key, message, signature)


@dataclass
class FakeHost:
    broadcasts: list[tuple[str, bytes, bytes | None]] = field(default_factory=list)
    origins: list[bytes | None] = field(default_factory=list)
    sends: list[tuple[bytes, str, bytes]] = field(default_factory=list)
    timers: list[tuple[int, TimeoutEvent]] = field(default_factory=list)
    builds: list[tuple[int, int]] = field(default_factory=list)
    validations: list[tuple[int, bytes]] = field(default_factory=list)
    commits: list[Decide] = field(default_factory=list)
    syncs: int = 0

    def broadcast(self, kind: str, payload: bytes, *, exclude: bytes | None = None,
                  origin: bytes | None = None) -> None:
        self.broadcasts.append((kind, payload, exclude))
        self.origins.append(origin)

    def send(self, peer: bytes, kind: str, payload: bytes) -> None:
        self.sends.append((peer, kind, payload))

    def schedule(self, delay_ms: int, event: TimeoutEvent) -> None:
        self.timers.append((delay_ms, event))

    def build_block(self, height: int, round_: int) -> None:
        self.builds.append((height, round_))

    def validate_block(self, height: int, block_hash: bytes, block: Block) -> None:
        self.validations.append((height, block_hash))

    def commit_block(self, decision: Decide, block: Block, executed: Any | None) -> None:
        self.commits.append(decision)

    def report_evidence(self, evidence: Any) -> None:
        pass

    def request_sync(self) -> None:
        self.syncs += 1

    def votes_sent(self, vote_type: int) -> list[Vote]:
        from chainnode.consensus.messages import decode_signed_vote

        votes = [decode_signed_vote(p) for kind, p, exclude in self.broadcasts if kind == KIND_VOTE and exclude is None]
        return [v.vote for v in votes if v.vote.vote_type == vote_type and v.validator_index == ME]


ME = compute_proposer(VALIDATORS, 1, 1)  # not the proposer of round 0 at height 1
PROPOSER = compute_proposer(VALIDATORS, 1, 0)
OTHERS = [i for i in range(4) if i not in (ME, PROPOSER)]


_OPEN_WALS: list[SignLog] = []


@pytest.fixture(autouse=True)
def _close_wals() -> Iterator[None]:
    yield
    while _OPEN_WALS:
        _OPEN_WALS.pop().close()


def make_engine(
    tmp_path: Path, *, me: int = ME, app: FakeApp | None = None
) -> tuple[ConsensusEngine, FakeApp, FakeHost]:
    app = app or FakeApp()
    host = FakeHost()
    wal = SignLog(tmp_path / f"wal{me}")
    _OPEN_WALS.append(wal)
    signer = WalSigner(chain_id=CHAIN, key=KEYS[me], wal=wal)
    settings = EngineSettings(chain_id=CHAIN, timeouts=Timeouts(), time_precision_ms=2000, message_delay_ms=1000)
    return ConsensusEngine(app=app, host=host, signer=signer, settings=settings), app, host


def make_block(height: int, marker: int, *, time_ms: int = NOW) -> Block:
    header = BlockHeader(
        chain_id=CHAIN, height=height, time_ms=time_ms, prev_hash=bytes(32), tx_count=0, tx_root=bytes(32),
        results_root=bytes(32), state_root=marker.to_bytes(32, "big"), last_commit_hash=bytes(32),
        validators_hash=bytes(32), next_validators_hash=bytes(32), proposer=KEYS[0].public_key,
    )
    return Block(header=header, txs=(), last_commit=None)


def proposal_payload(signer: int, height: int, round_: int, block: Block, pol_round: int = -1) -> bytes:
    proposal = Proposal(height=height, round=round_, block_hash=block.compute_hash(), pol_round=pol_round, time_ms=NOW)
    return encode_proposal_message(sign_proposal(KEYS[signer], CHAIN, proposal, signer), block.encode())


def vote_payload(signer: int, vote_type: int, height: int, round_: int, block_hash: bytes) -> bytes:
    vote = Vote(vote_type=vote_type, height=height, round=round_, block_hash=block_hash)
    return sign_vote(KEYS[signer], CHAIN, vote, signer).encode()


def test_junk_proposals_from_a_validator_out_of_turn_are_rejected_and_the_honest_block_is_prevoted(
    tmp_path: Path,
) -> None:
    engine, _, host = make_engine(tmp_path)
    engine.start("test")
    attacker = OTHERS[0]
    for marker in range(200):  # validly signed by a real validator, but not the proposer of round 0
        with pytest.raises(WrongProposer):
            engine.receive_proposal(PEER, proposal_payload(attacker, 1, 0, make_block(1, marker)))
    assert len(engine.blocks) == 0  # none of it was kept
    honest = make_block(1, 10_000)
    assert engine.receive_proposal(PEER, proposal_payload(PROPOSER, 1, 0, honest)) is Verdict.ACCEPT
    assert host.validations == [(1, honest.compute_hash())]
    engine.on_verdict(1, honest.compute_hash(), executed="executed")
    assert [v.block_hash for v in host.votes_sent(VOTE_PREVOTE)] == [honest.compute_hash()]


def test_a_flooding_proposer_keeps_at_most_its_cap_of_blocks_and_cannot_evict_the_first(tmp_path: Path) -> None:
    engine, _, _host = make_engine(tmp_path)
    engine.start("test")
    first = make_block(1, 0)
    engine.receive_proposal(PEER, proposal_payload(PROPOSER, 1, 0, first))
    flood = [proposal_payload(PROPOSER, 1, 0, make_block(1, m)) for m in range(1, 100)]
    verdicts = [engine.receive_proposal(PEER, payload) for payload in flood]
    assert verdicts.count(Verdict.IGNORE) >= 99 - MAX_PROPOSALS_PER_ROUND
    assert engine.blocks.count(1, 0) == MAX_PROPOSALS_PER_ROUND
    assert engine.blocks.get(1, first.compute_hash()) is not None


def test_a_forged_proposal_is_rejected_before_its_block_is_decoded(tmp_path: Path) -> None:
    engine, _, _ = make_engine(tmp_path)
    engine.start("test")
    block = make_block(1, 1)
    proposal = Proposal(height=1, round=0, block_hash=block.compute_hash(), pol_round=-1, time_ms=NOW)
    forged = sign_proposal(crypto.PrivateKey(b"\x55" * 32), CHAIN, proposal, PROPOSER)
    with pytest.raises(InvalidSignature):
        engine.receive_proposal(PEER, encode_proposal_message(forged, b"not even a block"))


def test_a_future_round_vote_flood_is_bounded_and_never_crowds_out_the_engines_own_events(tmp_path: Path) -> None:
    engine, _app, host = make_engine(tmp_path)
    engine.start("test")
    attacker = OTHERS[0]
    accepted = 0
    for round_ in range(0, 40):
        for marker in range(20):
            for vote_type in (VOTE_PREVOTE, VOTE_PRECOMMIT):
                payload = vote_payload(attacker, vote_type, 1, round_, marker.to_bytes(32, "big"))
                accepted += engine.receive_vote(PEER, payload) is Verdict.ACCEPT
                # and the same flood for the next height, which is stashed
                engine.receive_vote(PEER, vote_payload(attacker, vote_type, 2, round_, marker.to_bytes(32, "big")))
    # at most a few values per (round, type) within the round window are used at all
    assert accepted <= (MAX_ROUNDS_AHEAD + 1) * 2 * 4
    assert len(engine.stash) <= MAX_PER_VALIDATOR
    # the engine's own events still work: the propose timeout makes it prevote nil
    assert host.timers and host.timers[0][1] == TimeoutEvent(host.timers[0][1].kind, 1, 0)
    engine.on_timeout(host.timers[0][1])
    assert [v.block_hash for v in host.votes_sent(VOTE_PREVOTE)] == [b""]


def test_a_proposal_for_the_next_height_that_arrives_during_the_commit_is_kept(tmp_path: Path) -> None:
    engine, app, host = make_engine(tmp_path)
    engine.start("test")
    block = make_block(1, 1)
    engine.receive_proposal(PEER, proposal_payload(PROPOSER, 1, 0, block))
    engine.on_verdict(1, block.compute_hash(), executed="executed")
    for i in range(4):
        if i != ME:
            engine.receive_vote(PEER, vote_payload(i, VOTE_PREVOTE, 1, 0, block.compute_hash()))
    for i in range(4):
        if i != ME:
            engine.receive_vote(PEER, vote_payload(i, VOTE_PRECOMMIT, 1, 0, block.compute_hash()))
    assert [d.height for d in host.commits] == [1]
    # while block 1 is written, the proposer of height 2 already proposes
    proposer_2 = compute_proposer(VALIDATORS, 2, 0)
    next_block = make_block(2, 2)
    assert engine.receive_proposal(PEER, proposal_payload(proposer_2, 2, 0, next_block)) is Verdict.ACCEPT
    app.head = 1  # the commit is done
    assert engine.prepare_height() is not None  # the stashed proposal is a reason to start
    engine.start("test")
    assert host.validations[-1] == (2, next_block.compute_hash())  # judged, not "unknown" nor "invalid"
    engine.on_verdict(2, next_block.compute_hash(), executed="executed")
    assert [v.block_hash for v in host.votes_sent(VOTE_PREVOTE) if v.height == 2] == [next_block.compute_hash()]


def test_verdicts_for_a_finished_height_are_dropped(tmp_path: Path) -> None:
    engine, app, _host = make_engine(tmp_path)
    engine.start("test")
    block = make_block(1, 1)
    engine.receive_proposal(PEER, proposal_payload(PROPOSER, 1, 0, block))
    app.head = 1
    engine.prepare_height()
    engine.on_verdict(1, block.compute_hash(), executed=None)  # a late "invalid" from height 1
    engine.start("test")
    assert engine.state is not None and engine.state.verdicts == {}


def test_a_new_vote_is_relayed_once_to_every_peer_but_its_sender(tmp_path: Path) -> None:
    engine, _, host = make_engine(tmp_path)
    engine.start("test")
    payload = vote_payload(OTHERS[0], VOTE_PREVOTE, 1, 0, b"")
    assert engine.receive_vote(PEER, payload) is Verdict.ACCEPT
    assert engine.receive_vote(b"\xdd" * 32, payload) is Verdict.IGNORE  # the same vote relayed back
    relays = [(kind, exclude, origin) for (kind, p, exclude), origin in zip(host.broadcasts, host.origins, strict=True)
              if p == payload]
    # the signer's key goes along: peers linked to the signer have the vote from it and are skipped
    assert relays == [(KIND_VOTE, PEER, KEYS[OTHERS[0]].public_key)]


def test_votes_are_checked_through_the_apps_verifier(tmp_path: Path) -> None:
    """The node's verifier remembers what it verified, so the commit that carries a precommit costs nothing more."""
    engine, app, _ = make_engine(tmp_path)
    engine.start("test")
    vote = Vote(vote_type=VOTE_PRECOMMIT, height=1, round=0, block_hash=b"")
    assert engine.receive_vote(PEER, sign_vote(KEYS[OTHERS[0]], CHAIN, vote, OTHERS[0]).encode()) is Verdict.ACCEPT
    assert app.checked == [vote.compute_signing_bytes(CHAIN)]


def test_a_forged_copy_of_a_known_vote_is_rejected(tmp_path: Path) -> None:
    engine, _, _ = make_engine(tmp_path)
    engine.start("test")
    vote = Vote(vote_type=VOTE_PREVOTE, height=1, round=0, block_hash=b"")
    assert engine.receive_vote(PEER, sign_vote(KEYS[OTHERS[0]], CHAIN, vote, OTHERS[0]).encode()) is Verdict.ACCEPT
    forged = sign_vote(crypto.PrivateKey(b"\x66" * 32), CHAIN, vote, OTHERS[0])
    with pytest.raises(InvalidSignature):
        engine.receive_vote(PEER, forged.encode())


def test_the_round_s_votes_go_again_to_peers_at_the_same_height(tmp_path: Path) -> None:
    """What lets a ring or a line of links decide: a peer that missed a vote gets it at the next tick."""
    engine, _, host = make_engine(tmp_path)
    engine.start("test")
    payload = vote_payload(OTHERS[0], VOTE_PREVOTE, 1, 0, b"")
    engine.receive_vote(PEER, payload)
    behind, ahead = b"\x01" * 32, b"\x02" * 32
    engine.note_status(behind, PeerStatus(head=0, height=1, round=0))
    engine.note_status(ahead, PeerStatus(head=1, height=2, round=0))
    engine.tick()
    assert (behind, KIND_VOTE, payload) in host.sends
    assert not [s for s in host.sends if s[0] == ahead]


def test_an_untimely_proposal_is_logged_and_prevoted_nil(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    engine, _, host = make_engine(tmp_path)
    engine.start("test")
    skewed = make_block(1, 1, time_ms=NOW + 30_000)
    with caplog.at_level("WARNING", logger="chainnode.bft"):
        engine.receive_proposal(PEER, proposal_payload(PROPOSER, 1, 0, skewed))
    assert "one of the two clocks is wrong" in caplog.text
    engine.on_verdict(1, skewed.compute_hash(), executed="executed")
    assert [v.block_hash for v in host.votes_sent(VOTE_PREVOTE)] == [b""]


def test_a_decided_block_that_is_not_at_hand_is_fetched_not_judged(tmp_path: Path) -> None:
    engine, _, host = make_engine(tmp_path)
    engine.start("test")
    unknown = make_block(1, 77).compute_hash()
    for i in range(4):
        if i != ME:
            engine.receive_vote(PEER, vote_payload(i, VOTE_PRECOMMIT, 1, 0, unknown))
    # precommits for a block never seen: the core needs its proposal to decide; nothing was judged invalid
    assert host.validations == [] and engine.state is not None and engine.state.verdicts == {}


def test_blocks_of_rounds_long_past_are_dropped_but_the_valid_value_is_kept(tmp_path: Path) -> None:
    engine, _, host = make_engine(tmp_path)
    engine.start("test")
    for round_ in range(6):
        proposer = compute_proposer(VALIDATORS, 1, round_)
        if proposer != ME:
            engine.receive_proposal(PEER, proposal_payload(proposer, 1, round_, make_block(1, 100 + round_)))
        # every other validator precommits nil: the round ends
        for i in range(4):
            if i != ME:
                engine.receive_vote(PEER, vote_payload(i, VOTE_PREVOTE, 1, round_, b""))
                engine.receive_vote(PEER, vote_payload(i, VOTE_PRECOMMIT, 1, round_, b""))
        for _, event in host.timers:
            if event.round == round_:
                engine.on_timeout(event)
    assert engine.state is not None and engine.state.round >= 5
    assert all(round_ >= engine.state.round - 2 for round_ in engine.blocks.rounds(1))


def lock_on_round_0(tmp_path: Path) -> tuple[ConsensusEngine, FakeHost, Block]:
    """An engine that received round 0's proposal and a quorum of prevotes for it: it locks and precommits."""
    engine, _, host = make_engine(tmp_path)
    engine.start("test")
    block = make_block(1, 1)
    engine.receive_proposal(PEER, proposal_payload(PROPOSER, 1, 0, block))
    engine.on_verdict(1, block.compute_hash(), executed="executed")
    for i in [*OTHERS, PROPOSER]:
        engine.receive_vote(PEER, vote_payload(i, VOTE_PREVOTE, 1, 0, block.compute_hash()))
    return engine, host, block


def test_a_node_that_restarts_locked_proposes_its_locked_block_again(tmp_path: Path) -> None:
    """Locked on another proposer's block at round 0, the node crashes; restarted, it is the proposer of
    round 1 and must re-propose the locked block (which only it and its WAL can bring back), not nothing."""
    _engine, host, block = lock_on_round_0(tmp_path)
    assert [v.block_hash for v in host.votes_sent(VOTE_PRECOMMIT)] == [block.compute_hash()]
    _OPEN_WALS.pop().close()  # the crash: the node keeps its WAL directory only

    restarted, _, host = make_engine(tmp_path)
    assert restarted.prepare_height() is not None
    restarted.start("test")
    assert restarted.state is not None and restarted.state.locked_value == block.compute_hash()
    for i in [*OTHERS, PROPOSER]:  # round 0 ends without a decision
        restarted.receive_vote(PEER, vote_payload(i, VOTE_PRECOMMIT, 1, 0, b""))
    timeouts = [event for _, event in host.timers if event.round == 0]
    for event in timeouts:
        restarted.on_timeout(event)
    assert restarted.state.round == 1
    proposals = [decode_proposal_message(p)[0].proposal for kind, p, exclude in host.broadcasts
                 if kind == KIND_PROPOSAL and exclude is None]
    assert [(p.round, p.block_hash, p.pol_round) for p in proposals] == [(1, block.compute_hash(), 0)]
    assert host.builds == []


def test_the_votes_of_a_proposals_proof_of_lock_round_go_again_to_peers_at_the_height(tmp_path: Path) -> None:
    """A re-proposal (pol_round >= 0) is accepted only with the prevotes of its POL round; a node that
    holds them sends them to peers at the height, even if that round is neither its current nor its valid
    one (a peer that restarted lost them, and the proposer may be the only other holder)."""
    engine, _, host = make_engine(tmp_path)
    engine.start("test")
    value = make_block(1, 7)
    pol_votes = [vote_payload(i, VOTE_PREVOTE, 1, 0, value.compute_hash()) for i in OTHERS]
    for payload in pol_votes:
        engine.receive_vote(PEER, payload)
    round_ = next(r for r in range(2, 8) if compute_proposer(VALIDATORS, 1, r) not in (ME,))
    for i in OTHERS:  # more than 1/3 of the power is at `round_`: skip there
        engine.receive_vote(PEER, vote_payload(i, VOTE_PREVOTE, 1, round_, b""))
    assert engine.state is not None and engine.state.round == round_ and engine.state.valid_round == -1
    proposer = compute_proposer(VALIDATORS, 1, round_)
    engine.receive_proposal(PEER, proposal_payload(proposer, 1, round_, value, pol_round=0))
    engine.note_status(PEER, PeerStatus(0, 1, round_))
    host.sends.clear()
    engine.tick()
    sent = {payload for peer, kind, payload in host.sends if peer == PEER and kind == KIND_VOTE}
    assert set(pol_votes) <= sent


def test_a_proposer_that_cannot_accept_its_own_re_proposal_prevotes_nil_after_the_propose_timeout(
    tmp_path: Path,
) -> None:
    """Restarted locked, the node re-proposes its locked value but lost the proof-of-lock votes: it must
    not wait in the propose step forever (its power may be needed for any quorum)."""
    _engine, host, _block = lock_on_round_0(tmp_path)
    _OPEN_WALS.pop().close()  # the crash

    restarted, _, host = make_engine(tmp_path)
    restarted.prepare_height()
    restarted.start("test")
    for i in [*OTHERS, PROPOSER]:
        restarted.receive_vote(PEER, vote_payload(i, VOTE_PRECOMMIT, 1, 0, b""))
    for _, event in [t for t in host.timers if t[1].round == 0]:
        restarted.on_timeout(event)
    assert restarted.state is not None and restarted.state.round == 1 and restarted.state.step.name == "PROPOSE"
    timeouts = [event for _, event in host.timers if event.round == 1 and event.kind.name == "PROPOSE"]
    assert timeouts
    restarted.on_timeout(timeouts[0])
    assert [v.block_hash for v in host.votes_sent(VOTE_PREVOTE) if v.round == 1] == [b""]


def test_timeouts_are_scheduled_as_delays_so_a_wall_clock_jump_cannot_stretch_them(tmp_path: Path) -> None:
    app = FakeApp()
    engine, _, host = make_engine(tmp_path, app=app)
    engine.start("test")
    app.now += 30_000  # the wall clock jumps between the step and the timer; the delay is the core's
    [(delay, event)] = host.timers
    assert delay == Timeouts().propose_ms and event.round == 0
