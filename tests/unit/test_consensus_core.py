"""The Tendermint core driven directly, one test per rule of Algorithm 1 (arXiv:1807.04938) and more.

Four validators of power 1: "2f+1" is 3 votes, "f+1" is 2. Messages are really signed with fixed keys.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import pytest

from chainnode import crypto
from chainnode.block import VOTE_PRECOMMIT, VOTE_PREVOTE, Vote, validate_commit
from chainnode.consensus.core import MAX_PROPOSALS_PER_ROUND, MAX_ROUNDS_AHEAD, Step, start_height, step
from chainnode.consensus.errors import InvalidProposal, InvalidVote, WrongProposer
from chainnode.consensus.events import (
    BlockVerdict,
    Decide,
    Effect,
    Event,
    ProposalEvent,
    ProposalReady,
    ReportEvidence,
    RequestProposal,
    RequestVerdict,
    ScheduleTimeout,
    SendProposal,
    SendVote,
    TimeoutEvent,
    TimeoutKind,
    Timeouts,
    Verdict,
    VoteEvent,
)
from chainnode.consensus.messages import (
    NIL,
    Proposal,
    SignedProposal,
    compute_duplicate_vote_evidence,
    sign_proposal,
    sign_vote,
    validate_evidence,
)
from chainnode.consensus.proposer import compute_proposer
from chainnode.consensus.state import MAX_VALUES_PER_VALIDATOR, ConsensusState, Resume, RoundStep
from chainnode.errors import ConfigError, InvariantViolation
from chainnode.validators import Validator, ValidatorSet

CHAIN = "gov-test-1"
KEYS = sorted((crypto.PrivateKey(bytes([i]) * 32) for i in range(1, 5)), key=lambda k: k.public_key)
VALIDATORS = ValidatorSet(
    tuple(Validator(department=f"d{i}", public_key=k.public_key, power=1) for i, k in enumerate(KEYS))
)
TIMEOUTS = Timeouts(
    propose_ms=100, propose_delta_ms=10, prevote_ms=50, prevote_delta_ms=5, precommit_ms=60, precommit_delta_ms=6,
    max_ms=200,
)
V = bytes([0xAA]) * 32
W = bytes([0xBB]) * 32
H = 1


def proposer(round_: int, height: int = H) -> int:
    return compute_proposer(VALIDATORS, height, round_)


def not_proposer(*rounds: int) -> int:
    """A validator that proposes none of `rounds` at height H."""
    return next(i for i in range(4) if all(proposer(r) != i for r in rounds))


def others(me: int) -> list[int]:
    return [i for i in range(4) if i != me]


def proposal(
    round_: int, value: bytes = V, *, pol_round: int = -1, height: int = H, timely: bool = True
) -> ProposalEvent:
    signer = compute_proposer(VALIDATORS, height, round_)
    body = Proposal(height=height, round=round_, block_hash=value, pol_round=pol_round, time_ms=1)
    return ProposalEvent(sign_proposal(KEYS[signer], CHAIN, body, signer), timely)


def vote(index: int, vote_type: int, round_: int, value: bytes, *, height: int = H) -> VoteEvent:
    body = Vote(vote_type=vote_type, height=height, round=round_, block_hash=value)
    return VoteEvent(sign_vote(KEYS[index], CHAIN, body, index))


def prevotes(indices: Sequence[int], round_: int, value: bytes) -> list[Event]:
    return [vote(i, VOTE_PREVOTE, round_, value) for i in indices]


def precommits(indices: Sequence[int], round_: int, value: bytes) -> list[Event]:
    return [vote(i, VOTE_PRECOMMIT, round_, value) for i in indices]


class Node:
    """Drives one core; records every effect. `now` is the fake clock in ms."""

    def __init__(self, me: int | None, *, height: int = H, resume: Resume | None = None, now: int = 0) -> None:
        self.now = now
        begun = start_height(
            height=height, validators=VALIDATORS, my_index=me, timeouts=TIMEOUTS, now_ms=now, resume=resume
        )
        self.state: ConsensusState = begun.state
        self.effects: list[Effect] = list(begun.effects)
        self.last: Step = begun

    def feed(self, *events: Event) -> list[Effect]:
        produced: list[Effect] = []
        for event in events:
            self.last = step(self.state, event, now_ms=self.now)
            self.state = self.last.state
            produced.extend(self.last.effects)
        self.effects.extend(produced)
        return produced

    def votes_sent(self, vote_type: int | None = None) -> list[Vote]:
        return [e.vote for e in self.effects if isinstance(e, SendVote) and vote_type in (None, e.vote.vote_type)]


def sent(effects: Sequence[Effect], vote_type: int) -> list[bytes]:
    return [e.vote.block_hash for e in effects if isinstance(e, SendVote) and e.vote.vote_type == vote_type]


def with_verdict(node: Node, event: ProposalEvent, valid: bool = True) -> list[Effect]:
    """Deliver a proposal and the driver's verdict on its block."""
    return node.feed(event, BlockVerdict(event.signed.proposal.block_hash, valid))


def locked_node(value: bytes = V, *, me: int | None = None) -> Node:
    """A node that prevoted, locked and precommitted `value` in round 0."""
    me = not_proposer(0) if me is None else me
    node = Node(me)
    with_verdict(node, proposal(0, value))
    node.feed(*prevotes(others(me), 0, value))
    assert node.state.locked_value == value and node.state.step is RoundStep.PRECOMMIT
    return node


# --- lines 11-21: StartRound ----------------------------------------------------------------------------


def test_start_round_as_non_proposer_schedules_timeout_propose() -> None:
    node = Node(not_proposer(0), now=1000)
    assert node.effects == [ScheduleTimeout(TimeoutKind.PROPOSE, H, 0, 1100)]
    assert (node.state.height, node.state.round, node.state.step) == (H, 0, RoundStep.PROPOSE)
    assert node.state.locked_round == node.state.valid_round == -1


def test_start_round_as_proposer_without_valid_value_asks_for_a_block_then_proposes_it() -> None:
    node = Node(proposer(0), now=5)
    assert node.effects == [RequestProposal(H, 0)]
    assert node.feed(ProposalReady(H, 1, V)) == [] and node.last.verdict is Verdict.IGNORE  # not our round
    effects = node.feed(ProposalReady(H, 0, V))
    assert effects == [SendProposal(Proposal(height=H, round=0, block_hash=V, pol_round=-1, time_ms=5))]
    assert node.state.verdicts[V] is True  # we built it: valid(v), no verdict request for our own block
    assert node.feed(ProposalReady(H, 0, W)) == []  # asked once, proposed once


def test_our_own_proposal_comes_back_and_we_prevote_it() -> None:
    me = proposer(0)
    node = Node(me)
    (send,) = node.feed(ProposalReady(H, 0, V))
    assert isinstance(send, SendProposal)
    own = ProposalEvent(sign_proposal(KEYS[me], CHAIN, send.proposal, me))
    assert sent(node.feed(own), VOTE_PREVOTE) == [V]


def test_start_round_as_proposer_with_valid_value_reproposes_it_with_its_round() -> None:
    me = proposer(1)
    node = locked_node(V, me=me)
    effects = node.feed(*precommits(others(me), 0, NIL), TimeoutEvent(TimeoutKind.PRECOMMIT, H, 0))
    assert node.state.round == 1 and node.state.valid_value == V and node.state.valid_round == 0
    assert [e for e in effects if isinstance(e, SendProposal)] == [
        SendProposal(Proposal(height=H, round=1, block_hash=V, pol_round=0, time_ms=0))
    ]
    assert not any(isinstance(e, RequestProposal) for e in effects)


# --- lines 22-27: fresh proposal ------------------------------------------------------------------------


def test_fresh_valid_proposal_is_prevoted_after_the_verdict() -> None:
    node = Node(not_proposer(0))
    effects = node.feed(proposal(0, V))
    before = node.state
    assert effects == [RequestVerdict(V)] and before.step is RoundStep.PROPOSE  # valid(v) not known yet
    assert sent(node.feed(BlockVerdict(V, True)), VOTE_PREVOTE) == [V]
    assert node.state.step is RoundStep.PREVOTE


@pytest.mark.parametrize(
    ("valid", "timely"), [(False, True), (True, False)], ids=["invalid-block", "untimely-proposal"]
)
def test_fresh_invalid_or_untimely_proposal_gets_a_nil_prevote(valid: bool, timely: bool) -> None:
    node = Node(not_proposer(0))
    effects = with_verdict(node, proposal(0, V, timely=timely), valid)
    assert sent(effects, VOTE_PREVOTE) == [NIL] and node.state.step is RoundStep.PREVOTE


def test_a_node_locked_on_another_value_prevotes_nil_for_a_fresh_proposal() -> None:
    node = locked_node(V, me=not_proposer(0, 1))
    node.feed(*precommits(others(node.state.my_index or 0), 0, NIL), TimeoutEvent(TimeoutKind.PRECOMMIT, H, 0))
    assert sent(with_verdict(node, proposal(1, W)), VOTE_PREVOTE) == [NIL]


def test_a_node_locked_on_the_proposed_value_prevotes_it() -> None:
    node = locked_node(V, me=not_proposer(0, 1))
    node.feed(*precommits(others(node.state.my_index or 0), 0, NIL), TimeoutEvent(TimeoutKind.PRECOMMIT, H, 0))
    assert sent(node.feed(proposal(1, V)), VOTE_PREVOTE) == [V]  # verdict known from round 0


def test_no_verdict_means_no_prevote_until_timeout_propose_then_nil() -> None:
    node = Node(not_proposer(0))
    node.feed(proposal(0, V))
    assert node.votes_sent() == []
    assert sent(node.feed(TimeoutEvent(TimeoutKind.PROPOSE, H, 0)), VOTE_PREVOTE) == [NIL]
    assert node.feed(BlockVerdict(V, True)) == []  # too late for this round


# --- lines 28-33: proposal with a proof-of-lock round ---------------------------------------------------


def round_two_node(lock: bool) -> Node:
    """At round 2; locked on V at round 0 if `lock`; it saw 2f+1 prevotes for W in round 1."""
    me = not_proposer(0, 1, 2)
    node = locked_node(V, me=me) if lock else Node(me)
    node.feed(*precommits(others(me), 0, NIL), TimeoutEvent(TimeoutKind.PRECOMMIT, H, 0))
    node.feed(*prevotes(others(me), 1, W), *precommits(others(me), 1, NIL), TimeoutEvent(TimeoutKind.PRECOMMIT, H, 1))
    assert node.state.round == 2
    return node


@pytest.mark.parametrize("lock", [False, True], ids=["unlocked", "locked-on-older-round"])
def test_proposal_with_a_proof_of_lock_is_prevoted_when_locked_round_is_not_newer(lock: bool) -> None:
    node = round_two_node(lock)
    effects = with_verdict(node, proposal(2, W, pol_round=1))
    assert sent(effects, VOTE_PREVOTE) == [W]


def test_proposal_with_a_proof_of_lock_older_than_our_lock_gets_nil() -> None:
    me = not_proposer(0, 1, 2)
    node = Node(me)
    # round 0: 2f+1 prevotes for W, but we were at propose... timeout, then round 1: lock on V
    node.feed(*prevotes(others(me), 0, W), TimeoutEvent(TimeoutKind.PROPOSE, H, 0))
    node.feed(*precommits(others(me), 0, NIL), TimeoutEvent(TimeoutKind.PRECOMMIT, H, 0))
    with_verdict(node, proposal(1, V))
    node.feed(*prevotes(others(me), 1, V))
    assert node.state.locked_round == 1
    node.feed(*precommits(others(me), 1, NIL), TimeoutEvent(TimeoutKind.PRECOMMIT, H, 1))
    assert sent(with_verdict(node, proposal(2, W, pol_round=0)), VOTE_PREVOTE) == [NIL]


def test_proposal_with_a_proof_of_lock_for_an_invalid_block_gets_nil() -> None:
    node = round_two_node(False)
    assert sent(with_verdict(node, proposal(2, W, pol_round=1), valid=False), VOTE_PREVOTE) == [NIL]


def test_proposal_claiming_a_proof_of_lock_we_have_not_seen_waits_for_timeout() -> None:
    node = round_two_node(False)
    assert sent(with_verdict(node, proposal(2, V, pol_round=1)), VOTE_PREVOTE) == []  # no 2f+1 for V at 1
    assert sent(node.feed(*prevotes([node.state.my_index or 0], 1, V)), VOTE_PREVOTE) == []  # 1 of 3 needed
    assert sent(node.feed(TimeoutEvent(TimeoutKind.PROPOSE, H, 2)), VOTE_PREVOTE) == [NIL]


# --- lines 34-35 and 61-64: 2f+1 prevotes of any kind, timeoutPrevote -----------------------------------


def test_mixed_prevote_quorum_schedules_timeout_prevote_once_and_it_precommits_nil() -> None:
    me = not_proposer(0)
    node = Node(me, now=10)
    with_verdict(node, proposal(0, V))
    a, b, c = others(me)
    effects = node.feed(*prevotes([me], 0, V), vote(a, VOTE_PREVOTE, 0, W))  # our own vote comes back
    assert not any(isinstance(e, ScheduleTimeout) for e in effects)  # 2 of 4: not yet 2f+1
    effects = node.feed(vote(b, VOTE_PREVOTE, 0, NIL))
    assert [e for e in effects if isinstance(e, ScheduleTimeout)] == [ScheduleTimeout(TimeoutKind.PREVOTE, H, 0, 60)]
    node.feed(vote(c, VOTE_PREVOTE, 0, NIL))  # 4 of 4: still only once
    assert sum(isinstance(e, ScheduleTimeout) and e.kind is TimeoutKind.PREVOTE for e in node.effects) == 1
    assert sent(node.feed(TimeoutEvent(TimeoutKind.PREVOTE, H, 0)), VOTE_PRECOMMIT) == [NIL]
    assert node.state.step is RoundStep.PRECOMMIT and node.state.locked_round == -1


# --- lines 36-43: 2f+1 prevotes for a value -------------------------------------------------------------


def test_prevote_quorum_for_the_proposal_locks_and_precommits_it() -> None:
    me = not_proposer(0)
    node = Node(me)
    with_verdict(node, proposal(0, V))
    effects = node.feed(*prevotes(others(me), 0, V))
    assert sent(effects, VOTE_PRECOMMIT) == [V]
    state = node.state
    assert (state.locked_value, state.locked_round, state.valid_value, state.valid_round) == (V, 0, V, 0)
    assert state.step is RoundStep.PRECOMMIT


def test_prevote_quorum_after_precommitting_nil_only_updates_the_valid_value() -> None:
    me = not_proposer(0)
    node = Node(me)
    with_verdict(node, proposal(0, V))
    node.feed(*prevotes(others(me)[:1], 0, NIL), TimeoutEvent(TimeoutKind.PREVOTE, H, 0))
    assert node.state.step is RoundStep.PRECOMMIT and sent(node.effects, VOTE_PRECOMMIT) == [NIL]
    effects = node.feed(*prevotes([me, *others(me)[1:]], 0, V))
    assert sent(effects, VOTE_PRECOMMIT) == []
    assert (node.state.locked_round, node.state.valid_value, node.state.valid_round) == (-1, V, 0)


def test_prevote_quorum_for_a_value_without_its_proposal_or_verdict_does_nothing() -> None:
    me = not_proposer(0)
    node = Node(me)
    node.feed(TimeoutEvent(TimeoutKind.PROPOSE, H, 0))  # prevote nil, no proposal seen
    assert sent(node.feed(*prevotes(others(me), 0, V)), VOTE_PRECOMMIT) == []
    node.feed(proposal(0, V))  # the proposal, but valid(v) is still unknown
    assert node.state.locked_round == -1
    assert sent(node.feed(BlockVerdict(V, True)), VOTE_PRECOMMIT) == [V]  # now all conditions hold


def test_relocking_on_a_newer_value() -> None:
    node = round_two_node(True)
    assert node.state.locked_value == V
    with_verdict(node, proposal(2, W, pol_round=1))
    effects = node.feed(*prevotes(others(node.state.my_index or 0), 2, W))
    assert sent(effects, VOTE_PRECOMMIT) == [W]
    assert (node.state.locked_value, node.state.locked_round) == (W, 2)


# --- lines 44-46: 2f+1 nil prevotes ---------------------------------------------------------------------


def test_nil_prevote_quorum_precommits_nil() -> None:
    me = not_proposer(0)
    node = Node(me)
    with_verdict(node, proposal(0, V))
    effects = node.feed(*prevotes(others(me), 0, NIL))
    assert sent(effects, VOTE_PRECOMMIT) == [NIL] and node.state.locked_round == -1


def test_nil_prevote_quorum_at_propose_step_waits_for_our_prevote() -> None:
    me = not_proposer(0)
    node = Node(me)
    assert sent(node.feed(*prevotes(others(me), 0, NIL)), VOTE_PRECOMMIT) == []  # step is propose
    effects = node.feed(TimeoutEvent(TimeoutKind.PROPOSE, H, 0))
    assert sent(effects, VOTE_PREVOTE) == [NIL] and sent(effects, VOTE_PRECOMMIT) == [NIL]


# --- lines 47-48 and 65-67: 2f+1 precommits of any kind, timeoutPrecommit -------------------------------


def test_precommit_quorum_of_any_kind_schedules_timeout_precommit_at_any_step() -> None:
    me = not_proposer(0)
    node = Node(me, now=7)
    effects = node.feed(*precommits(others(me)[:2], 0, NIL), vote(others(me)[2], VOTE_PRECOMMIT, 0, V))
    assert [e for e in effects if isinstance(e, ScheduleTimeout)] == [
        ScheduleTimeout(TimeoutKind.PRECOMMIT, H, 0, 67)
    ]
    assert node.state.step is RoundStep.PROPOSE
    effects = node.feed(TimeoutEvent(TimeoutKind.PRECOMMIT, H, 0))
    assert node.state.round == 1 and node.state.step is RoundStep.PROPOSE
    assert effects[-1] in (ScheduleTimeout(TimeoutKind.PROPOSE, H, 1, 117), RequestProposal(H, 1))


# --- lines 49-54: decision ------------------------------------------------------------------------------


def test_precommit_quorum_for_the_proposal_decides_with_a_valid_commit() -> None:
    me = not_proposer(0)
    node = Node(me)
    with_verdict(node, proposal(0, V))
    effects = node.feed(*precommits(others(me), 0, V))
    decides = [e for e in effects if isinstance(e, Decide)]
    assert len(decides) == 1
    decide = decides[0]
    assert (decide.height, decide.round, decide.block_hash) == (H, 0, V)
    assert [s.validator_index for s in decide.commit.signatures] == sorted(others(me))
    validate_commit(decide.commit, chain_id=CHAIN, height=H, block_hash=V, validators=VALIDATORS)
    assert node.state.decision is not None
    before = node.state
    assert node.feed(*prevotes([0], 1, W)) == [] and node.last.verdict is Verdict.IGNORE and node.state is before


def test_decision_in_an_earlier_round() -> None:
    me = not_proposer(0, 1)
    node = Node(me)
    with_verdict(node, proposal(0, V))
    node.feed(*precommits(others(me)[:1], 0, V), *prevotes(others(me), 1, NIL))  # f+1 of round 1: skip
    assert node.state.round == 1
    decides = [e for e in node.feed(*precommits(others(me)[1:], 0, V)) if isinstance(e, Decide)]
    assert [(d.round, d.block_hash) for d in decides] == [(0, V)]


@pytest.mark.parametrize("verdict", [None, False], ids=["verdict-pending", "invalid-block"])
def test_no_decision_without_a_valid_proposal(verdict: bool | None) -> None:
    me = not_proposer(0)
    node = Node(me)
    node.feed(*precommits(others(me), 0, V))
    assert node.state.decision is None  # no proposal for V
    node.feed(proposal(0, V))
    if verdict is not None:
        node.feed(BlockVerdict(V, verdict))
    assert node.state.decision is None and not any(isinstance(e, Decide) for e in node.effects)


def test_a_follower_without_a_vote_decides_too() -> None:
    node = Node(None)
    assert node.effects == [ScheduleTimeout(TimeoutKind.PROPOSE, H, 0, 100)]
    with_verdict(node, proposal(0, V))
    node.feed(*prevotes([0, 1, 2], 0, V), *precommits([0, 1, 2], 0, V))
    assert node.votes_sent() == [] and node.state.decision is not None


# --- lines 55-56: f+1 messages of a higher round --------------------------------------------------------


def test_f_plus_one_messages_of_a_higher_round_skip_to_it() -> None:
    me = not_proposer(0, 3)
    node = Node(me)
    a, b, _ = others(me)
    node.feed(vote(a, VOTE_PREVOTE, 3, NIL))
    assert node.state.round == 0  # f: not enough
    effects = node.feed(vote(b, VOTE_PRECOMMIT, 3, V))
    assert node.state.round == 3 and node.state.step is RoundStep.PROPOSE
    assert ScheduleTimeout(TimeoutKind.PROPOSE, H, 3, 130) in effects


def test_a_proposal_counts_as_its_proposers_message_of_that_round() -> None:
    me = not_proposer(0, 2)
    node = Node(me)
    p = proposer(2)
    other = next(i for i in others(me) if i != p)
    node.feed(proposal(2, V), vote(other, VOTE_PREVOTE, 2, NIL))
    assert node.state.round == 2


def test_messages_beyond_the_round_window_are_ignored() -> None:
    me = not_proposer(0)
    node = Node(me)
    far = MAX_ROUNDS_AHEAD + 1
    before = node.state
    node.feed(*prevotes(others(me), far, NIL))
    assert node.state == before and node.last.verdict is Verdict.IGNORE
    node.feed(*prevotes(others(me)[:2], MAX_ROUNDS_AHEAD, NIL))
    assert node.state.round == MAX_ROUNDS_AHEAD


# --- timeouts -------------------------------------------------------------------------------------------


def test_timeouts_grow_with_the_round_and_are_capped() -> None:
    assert [TIMEOUTS.compute_timeout(TimeoutKind.PROPOSE, r) for r in (0, 1, 5, 10, 11, 1000)] == [
        100, 110, 150, 200, 200, 200,
    ]
    assert TIMEOUTS.compute_timeout(TimeoutKind.PREVOTE, 3) == 65
    assert TIMEOUTS.compute_timeout(TimeoutKind.PRECOMMIT, 3) == 78
    defaults = Timeouts()
    assert defaults.compute_timeout(TimeoutKind.PROPOSE, 0) == 3000
    assert defaults.compute_timeout(TimeoutKind.PROPOSE, 10**6) == defaults.max_ms


def test_scheduled_timeouts_use_the_round_duration() -> None:
    me = not_proposer(0, 5)
    node = Node(me, now=1000)
    node.feed(*prevotes(others(me)[:2], 5, NIL))
    assert node.effects[-1] == ScheduleTimeout(TimeoutKind.PROPOSE, H, 5, 1150)


@pytest.mark.parametrize(
    "changes",
    [{"propose_ms": -1}, {"max_ms": 10}, {"prevote_delta_ms": 1.5}, {"precommit_ms": 10**9}],
)
def test_bad_timeout_settings_are_config_errors(changes: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        Timeouts(**changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "event",
    [
        TimeoutEvent(TimeoutKind.PROPOSE, H, 1),  # another round
        TimeoutEvent(TimeoutKind.PROPOSE, H + 1, 0),  # another height
        TimeoutEvent(TimeoutKind.PREVOTE, H, 0),  # step is propose, not prevote
    ],
)
def test_stale_timeouts_change_nothing(event: TimeoutEvent) -> None:
    node = Node(not_proposer(0))
    before = node.state
    assert node.feed(event) == [] and node.state == before and node.last.verdict is Verdict.IGNORE


# --- evidence, duplicates, rejections -------------------------------------------------------------------


def test_a_second_different_vote_is_reported_once_and_counts_for_its_value() -> None:
    me = not_proposer(0)
    node = Node(me)
    a = others(me)[0]
    first, second = vote(a, VOTE_PREVOTE, 0, V), vote(a, VOTE_PREVOTE, 0, NIL)
    node.feed(first)
    (report,) = node.feed(second)
    assert isinstance(report, ReportEvidence)
    assert report.evidence == compute_duplicate_vote_evidence(first.signed, second.signed)
    validate_evidence(CHAIN, report.evidence, VALIDATORS)
    votes = node.state.get_votes(0, VOTE_PREVOTE)
    assert votes.total_power == 1 and votes.get_power(V) == 1 and votes.get_power(NIL) == 1
    assert node.feed(vote(a, VOTE_PREVOTE, 0, W)) == []  # a third value: no second report
    assert node.feed(second) == [] and node.last.verdict is Verdict.IGNORE  # a duplicate


def test_a_double_voter_cannot_make_two_quorums() -> None:
    """3 of 4 prevote V, the double voter also prevotes nil: only the V quorum exists."""
    me = not_proposer(0)
    node = Node(me)
    with_verdict(node, proposal(0, V))
    a, b, c = others(me)
    node.feed(vote(a, VOTE_PREVOTE, 0, NIL), vote(c, VOTE_PREVOTE, 0, NIL), *prevotes([me, a], 0, V))
    assert sent(node.effects, VOTE_PRECOMMIT) == []  # V: 2, nil: 2 (a counts for both), any: 3
    node.feed(*prevotes([b], 0, V))
    assert sent(node.effects, VOTE_PRECOMMIT) == [V]  # not nil: nil has only 2 of 4


def test_a_proposal_from_the_wrong_validator_is_rejected_and_changes_nothing() -> None:
    node = Node(not_proposer(0))
    wrong = (proposer(0) + 1) % 4
    body = Proposal(height=H, round=0, block_hash=V, pol_round=-1, time_ms=1)
    before = copy.deepcopy(node.state)
    with pytest.raises(WrongProposer) as caught:
        step(node.state, ProposalEvent(sign_proposal(KEYS[wrong], CHAIN, body, wrong)), now_ms=0)
    assert caught.value.code == "wrong_proposer" and caught.value.proposer == proposer(0)
    assert node.state == before


def test_a_proposal_with_a_bad_proof_of_lock_round_is_rejected() -> None:
    node = Node(not_proposer(0))
    body = Proposal(height=H, round=0, block_hash=V, pol_round=0, time_ms=1)
    signed = SignedProposal(proposal=body, validator_index=proposer(0), signature=bytes(64))
    with pytest.raises(InvalidProposal):
        step(node.state, ProposalEvent(signed), now_ms=0)


def test_malformed_votes_are_rejected() -> None:
    node = Node(not_proposer(0))
    good = vote(0, VOTE_PREVOTE, 0, V).signed
    for bad in (
        VoteEvent(type(good)(vote=good.vote, validator_index=4, signature=good.signature)),
        VoteEvent(type(good)(vote=Vote(vote_type=3, height=H, round=0, block_hash=V), validator_index=0,
                             signature=good.signature)),
        VoteEvent(type(good)(vote=Vote(vote_type=1, height=H, round=0, block_hash=b"x"), validator_index=0,
                             signature=good.signature)),
    ):
        with pytest.raises(InvalidVote):
            step(node.state, bad, now_ms=0)


def test_messages_for_other_heights_are_ignored() -> None:
    node = Node(not_proposer(0))
    before = node.state
    node.feed(vote(0, VOTE_PREVOTE, 0, V, height=H + 1), proposal(0, V, height=H + 1))
    assert node.state == before and node.last.verdict is Verdict.IGNORE


def test_an_equivocating_proposer_fills_at_most_a_few_slots() -> None:
    node = Node(not_proposer(0))
    for i in range(MAX_PROPOSALS_PER_ROUND + 3):
        node.feed(proposal(0, crypto.sha256(b"%d" % i)))
    assert len(node.state.get_proposals(0)) == MAX_PROPOSALS_PER_ROUND
    assert sum(isinstance(e, RequestVerdict) for e in node.effects) == MAX_PROPOSALS_PER_ROUND


def test_unsolicited_verdicts_are_ignored() -> None:
    node = Node(not_proposer(0))
    node.feed(BlockVerdict(V, True))
    assert node.last.verdict is Verdict.IGNORE and V not in node.state.verdicts


def test_step_never_changes_a_state_it_was_given() -> None:
    me = not_proposer(0)
    node = Node(me)
    keep = node.state
    snapshot = copy.deepcopy(keep)
    with_verdict(node, proposal(0, V))
    node.feed(*prevotes(others(me), 0, V), *precommits(others(me), 0, V))
    assert keep == snapshot and node.state.decision is not None


# --- resuming after a crash -----------------------------------------------------------------------------


def test_resume_restores_the_lock_and_the_step() -> None:
    me = not_proposer(0, 1, 2)
    node = Node(me, resume=Resume(round=2, step=RoundStep.PRECOMMIT, locked_value=V, locked_round=1))
    state = node.state
    assert (state.round, state.step, state.locked_value, state.locked_round) == (2, RoundStep.PRECOMMIT, V, 1)
    assert (state.valid_value, state.valid_round) == (V, 1)
    # the precommit timeout of the resumed step is scheduled: the votes that would schedule it may never
    # come again, and without it a restarted node could wait for good
    assert [(e.kind, e.round) for e in node.effects if isinstance(e, ScheduleTimeout)] == [(TimeoutKind.PRECOMMIT, 2)]
    # Locked on V at round 1: a fresh W in round 3 gets a nil prevote.
    node.feed(*precommits(others(me), 2, NIL), TimeoutEvent(TimeoutKind.PRECOMMIT, H, 2))
    assert sent(with_verdict(node, proposal(3, W)), VOTE_PREVOTE) == [NIL]


def test_a_node_resumed_at_prevote_schedules_the_prevote_timeout_and_precommits_nil_on_it() -> None:
    me = not_proposer(0, 1, 2)
    node = Node(me, resume=Resume(round=1, step=RoundStep.PREVOTE, locked_value=None, locked_round=-1))
    assert [(e.kind, e.round) for e in node.effects if isinstance(e, ScheduleTimeout)] == [(TimeoutKind.PREVOTE, 1)]
    assert sent(node.feed(TimeoutEvent(TimeoutKind.PREVOTE, H, 1)), VOTE_PRECOMMIT) == [NIL]


def test_a_resumed_proposer_reproposes_its_locked_value() -> None:
    me = proposer(1)
    node = Node(me, resume=Resume(round=1, step=RoundStep.PROPOSE, locked_value=V, locked_round=0))
    assert node.effects == [SendProposal(Proposal(height=H, round=1, block_hash=V, pol_round=0, time_ms=0))]


def test_start_height_refuses_a_bad_index_or_height() -> None:
    with pytest.raises(InvariantViolation):
        start_height(height=1, validators=VALIDATORS, my_index=4, timeouts=TIMEOUTS, now_ms=0)
    with pytest.raises(InvariantViolation):
        start_height(height=0, validators=VALIDATORS, my_index=0, timeouts=TIMEOUTS, now_ms=0)


# --- a whole height, four nodes, in lock step -----------------------------------------------------------


def test_four_nodes_decide_the_same_block_in_round_zero() -> None:
    nodes = [Node(i) for i in range(4)]
    p = proposer(0)
    (send,) = nodes[p].feed(ProposalReady(H, 0, V))
    assert isinstance(send, SendProposal)
    outbox: list[Event] = [ProposalEvent(sign_proposal(KEYS[p], CHAIN, send.proposal, p))]
    decided: dict[int, Decide] = {}
    while outbox:
        event = outbox.pop(0)
        for i, node in enumerate(nodes):
            for effect in node.feed(event):
                if isinstance(effect, SendVote):
                    outbox.append(VoteEvent(sign_vote(KEYS[i], CHAIN, effect.vote, i)))
                elif isinstance(effect, RequestVerdict):
                    outbox.append(BlockVerdict(effect.block_hash, True))
                elif isinstance(effect, Decide):
                    decided[i] = effect
    assert sorted(decided) == [0, 1, 2, 3]
    assert {d.block_hash for d in decided.values()} == {V}
    for d in decided.values():
        validate_commit(d.commit, chain_id=CHAIN, height=H, block_hash=V, validators=VALIDATORS)


def test_a_vote_for_a_proposed_value_is_kept_beyond_a_flooders_cap() -> None:
    """A validator that filled its capped values of a round with random hashes still counts for the value
    actually proposed there: otherwise its vote, part of a proof of lock, would be lost and a re-proposal
    could never gather its prevotes."""
    me = not_proposer(0)
    flooder = next(i for i in others(me) if i != proposer(0))
    node = Node(me)
    junk = [bytes([0x10 + k]) * 32 for k in range(MAX_VALUES_PER_VALIDATOR)]
    node.feed(*[vote(flooder, VOTE_PREVOTE, 0, value) for value in junk])
    node.feed(vote(flooder, VOTE_PREVOTE, 0, bytes([0x99]) * 32))  # a value no one proposed: dropped
    assert node.last.verdict is Verdict.IGNORE
    with_verdict(node, proposal(0, V))
    node.feed(vote(flooder, VOTE_PREVOTE, 0, V))
    assert node.state.get_votes(0, VOTE_PREVOTE).get_vote(flooder, V) is not None
    node.feed(vote(flooder, VOTE_PREVOTE, 0, NIL))
    assert node.state.get_votes(0, VOTE_PREVOTE).get_vote(flooder, NIL) is not None
