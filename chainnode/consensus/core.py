"""The Tendermint consensus core: Algorithm 1 of Buchman, Kwon and Milosevic, "The latest gossip on BFT
consensus" (arXiv:1807.04938), as a pure state machine for one height.

Theory of operation. `start_height` builds the state of a height and runs StartRound; `step(state,
event, now_ms)` takes one event and returns the next state, the effects for the driver, and a verdict on
the event. It does no I/O and reads no clock: time comes in as `now_ms`, timers go out as
`ScheduleTimeout` and come back as `TimeoutEvent`. An event first *records* what it brings (a proposal, a
vote, a verdict) or runs the paper's timeout function; then the upon-rules are evaluated against the
recorded messages until none is enabled (`_run_rules`), as the paper's "upon" clauses are conditions
over all messages received so far. Values are block hashes; valid(v) is the driver's `BlockVerdict`, and
a rule that needs valid(v) waits until the verdict is in.

    paper lines   handler
    11-21         _start_round                StartRound: propose validValue or ask for a block; else
                                              schedule timeoutPropose
    22-27         _rule_fresh_proposal        PROPOSAL(h, r, v, -1) while step = propose: prevote v or nil
    28-33         _rule_pol_proposal          PROPOSAL(h, r, v, vr) + 2f+1 PREVOTE(h, vr, v): prevote v or nil
    34-35         _rule_prevote_any           2f+1 PREVOTE(h, r, *) while step = prevote, first time:
                                              schedule timeoutPrevote
    36-43         _rule_prevote_value         PROPOSAL(h, r, v) + 2f+1 PREVOTE(h, r, v), valid(v), step >=
                                              prevote, first time: lock and precommit v (if at prevote);
                                              validValue := v
    44-46         _rule_prevote_nil           2f+1 PREVOTE(h, r, nil) while step = prevote: precommit nil
    47-48         _rule_precommit_any         2f+1 PRECOMMIT(h, r, *), first time: schedule timeoutPrecommit
    49-54         _rule_decide                PROPOSAL(h, r', v) + 2f+1 PRECOMMIT(h, r', v), valid(v): Decide
    55-56         _rule_skip_round            f+1 messages of round r' > r: StartRound(r')
    57-67         _on_timeout                 OnTimeoutPropose / OnTimeoutPrevote / OnTimeoutPrecommit

"2f+1" is more than 2/3 of the voting power, "f+1" more than 1/3. Deviations, each for the driver's
sake and none affecting safety: after a decision (line 49) the core stops and the driver commits the
block and calls `start_height` for the next height with that height's validator set (lines 52-54);
getValue() (line 18) is the `RequestProposal` / `ProposalReady` exchange; a fresh proposal (pol_round -1)
is prevoted only if the driver found it timely (proposer-based timestamps, ARCHITECTURE decision 4).
A validator counts once towards "2f+1 of any" and once towards each value it voted for: a second,
different vote is reported as evidence and counted for its value too (safe by quorum intersection, and
needed for liveness when a double voter's votes reach nodes in different orders; see state.VoteSet).
Memory is bounded: messages for other heights are ignored (the driver stashes the next height's), so
are rounds more than MAX_ROUNDS_AHEAD ahead; at most MAX_PROPOSALS_PER_ROUND proposals per round and
MAX_VALUES_PER_VALIDATOR values per validator, round and type are kept, besides nil and proposed values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final, TypeAlias

from chainnode.block import VOTE_PRECOMMIT, VOTE_PREVOTE, Vote
from chainnode.consensus.errors import InvalidVote, WrongProposer
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
    compute_duplicate_vote_evidence,
    is_well_formed_vote,
    validate_proposal,
)
from chainnode.consensus.proposer import compute_proposer
from chainnode.consensus.state import (
    MAX_VALUES_PER_VALIDATOR,
    ConsensusState,
    Decision,
    ReceivedProposal,
    Resume,
    RoundStep,
)
from chainnode.errors import InvariantViolation
from chainnode.validators import ValidatorSet

MAX_ROUNDS_AHEAD: Final = 10
"""Messages for rounds further ahead of ours are ignored (the f+1 rule still sees nearer ones)."""
MAX_PROPOSALS_PER_ROUND: Final = 4
"""An equivocating proposer can make us keep at most this many proposals per round."""
_MAX_FIRINGS: Final = 1000

_RULE_PREVOTE_ANY: Final = "prevote_any"
_RULE_PREVOTE_VALUE: Final = "prevote_value"
_RULE_PRECOMMIT_ANY: Final = "precommit_any"

_Out: TypeAlias = tuple[ConsensusState, tuple[Effect, ...]]


@dataclass(frozen=True, slots=True)
class Step:
    """The next state, the effects to perform in order, and the verdict on the event's message."""

    state: ConsensusState
    effects: tuple[Effect, ...] = ()
    verdict: Verdict = Verdict.ACCEPT


# --- public API -----------------------------------------------------------------------------------------


def start_height(
    *,
    height: int,
    validators: ValidatorSet,
    my_index: int | None,
    timeouts: Timeouts,
    now_ms: int,
    resume: Resume | None = None,
) -> Step:
    """Start consensus for `height` (line 10: StartRound(0)), or resume it after a restart.

    With `resume` (from guard.compute_resume over this node's WAL) the node re-enters the round and step
    of its last signature with its lock restored (validValue := lockedValue, which a lock implies); it
    runs StartRound again only if it was still at the propose step, and otherwise schedules the timeout
    of the step it resumes in. Raises InvariantViolation for a
    `my_index` outside the set or a height below 1 (the driver's bug).
    """
    if my_index is not None and not 0 <= my_index < len(validators):
        raise InvariantViolation(f"my_index {my_index} is not in a set of {len(validators)} validators")
    if height < 1:
        raise InvariantViolation(f"height {height} < 1")
    state = ConsensusState(height=height, validators=validators, my_index=my_index, timeouts=timeouts)
    if resume is None:
        return Step(*_start_round(state, 0, now_ms))
    state = replace(
        state,
        round=resume.round,
        step=resume.step,
        locked_value=resume.locked_value,
        locked_round=resume.locked_round,
        valid_value=resume.locked_value,
        valid_round=resume.locked_round,
    )
    if resume.step is RoundStep.PROPOSE:
        return Step(*_start_round(state, resume.round, now_ms))
    # At prevote or precommit the votes that would schedule this step's timeout may all have been
    # received before the crash and never come again: schedule it now, so a restarted node cannot wait
    # forever. Firing it only precommits nil (prevote step) or moves to the next round, both always safe.
    kind = TimeoutKind.PREVOTE if resume.step is RoundStep.PREVOTE else TimeoutKind.PRECOMMIT
    return Step(state, (_schedule(state, kind, now_ms),))


def step(state: ConsensusState, event: Event, *, now_ms: int) -> Step:
    """Process one event; return the next state, the effects and a verdict on the event's message.

    Raises WrongProposer ([REJECT] a proposal not signed by its round's proposer), InvalidProposal
    ([REJECT] pol_round not below round) and InvalidVote ([REJECT] unknown validator index, vote type or
    malformed block hash); `state` is unchanged then, as for every IGNORE verdict.
    """
    if state.decision is not None:
        return Step(state, (), Verdict.IGNORE)  # [IGNORE] this height is decided; the driver moves on
    if isinstance(event, ProposalEvent):
        received = _receive_proposal(state, event)
    elif isinstance(event, VoteEvent):
        received = _receive_vote(state, event)
    elif isinstance(event, TimeoutEvent):
        received = _on_timeout(state, event, now_ms)
    elif isinstance(event, BlockVerdict):
        received = _receive_verdict(state, event)
    else:
        received = _on_proposal_ready(state, event, now_ms)
    if received.verdict is Verdict.IGNORE:
        return received
    next_state, effects = _run_rules(received.state, now_ms)
    return Step(next_state, received.effects + effects, Verdict.ACCEPT)


def get_proposer(state: ConsensusState, round_: int) -> int:
    return compute_proposer(state.validators, state.height, round_)


def is_proposer(state: ConsensusState, round_: int) -> bool:
    return state.my_index is not None and get_proposer(state, round_) == state.my_index


# --- recording what an event brings ----------------------------------------------------------------------


def _ignore(state: ConsensusState, *effects: Effect) -> Step:
    return Step(state, effects, Verdict.IGNORE)


def _receive_proposal(state: ConsensusState, event: ProposalEvent) -> Step:
    signed = event.signed
    proposal = signed.proposal
    if proposal.height != state.height:
        return _ignore(state)  # [IGNORE] another height: the driver stashes the next one
    if proposal.round > state.round + MAX_ROUNDS_AHEAD:
        return _ignore(state)  # [IGNORE] too far ahead to keep
    validate_proposal(proposal)  # [REJECT] pol_round not in [-1, round)
    proposer = get_proposer(state, proposal.round)
    if signed.validator_index != proposer:  # [REJECT] not from proposer(h, r)
        raise WrongProposer(
            height=proposal.height, round_=proposal.round, signer=signed.validator_index, proposer=proposer
        )
    known = state.get_proposals(proposal.round)
    if any(received.proposal == proposal for received in known):
        return _ignore(state)  # [IGNORE] duplicate
    if len(known) >= MAX_PROPOSALS_PER_ROUND:
        return _ignore(state)  # [IGNORE] an equivocating proposer: enough kept
    state = replace(
        state, proposals={**state.proposals, proposal.round: (*known, ReceivedProposal(proposal, event.timely))}
    )
    value = proposal.block_hash
    if value in state.verdicts or value in state.requested:
        return Step(state)
    return Step(replace(state, requested=state.requested | {value}), (RequestVerdict(value),))


def _receive_vote(state: ConsensusState, event: VoteEvent) -> Step:
    signed = event.signed
    vote = signed.vote
    if not 0 <= signed.validator_index < len(state.validators):  # [REJECT] unknown validator
        raise InvalidVote(f"no validator #{signed.validator_index}", field="validator_index")
    if not is_well_formed_vote(vote):  # [REJECT] unknown type, negative round, malformed hash
        raise InvalidVote("malformed vote (type, round or block hash)", field="vote")
    if vote.height != state.height:
        return _ignore(state)  # [IGNORE] another height: the driver stashes the next one
    if vote.round > state.round + MAX_ROUNDS_AHEAD:
        return _ignore(state)  # [IGNORE] too far ahead to keep
    votes = state.get_votes(vote.round, vote.vote_type)
    previous = votes.votes.get(signed.validator_index, ())
    if any(known.vote.block_hash == vote.block_hash for known in previous):
        return _ignore(state)  # [IGNORE] duplicate
    effects: tuple[Effect, ...] = ()
    if previous:  # a double vote: evidence once per validator, round and type; the vote still counts
        key = (signed.validator_index, vote.round, vote.vote_type)
        if key not in state.reported:
            effects = (ReportEvidence(compute_duplicate_vote_evidence(previous[0], signed)),)
            state = replace(state, reported=state.reported | {key})
        if len(previous) >= MAX_VALUES_PER_VALIDATOR and not _is_proposed_or_nil(state, vote.block_hash):
            return _ignore(state, *effects)  # [IGNORE] enough of this validator's values kept
    power = state.validators.validators[signed.validator_index].power
    key_votes = (vote.round, vote.vote_type)
    return Step(replace(state, votes={**state.votes, key_votes: votes.add(signed, power)}), effects)


def _is_proposed_or_nil(state: ConsensusState, value: bytes) -> bool:
    """Nil, or the value of a proposal received at this height: a vote for it is kept beyond the cap.

    A Byzantine validator can fill its capped values of a round with votes for random hashes before its
    vote for a real value arrives; if that vote is part of a proof of lock, dropping it could stall the
    height (the locked node's re-proposal would never gather its 2f+1 prevotes elsewhere). Votes for
    proposed values are few (at most MAX_PROPOSALS_PER_ROUND per round), so keeping them stays bounded.
    """
    if value == NIL or value in (state.locked_value, state.valid_value):
        return True
    return any(received.proposal.block_hash == value for kept in state.proposals.values() for received in kept)


def _receive_verdict(state: ConsensusState, event: BlockVerdict) -> Step:
    if event.block_hash in state.verdicts or event.block_hash not in state.requested:
        return _ignore(state)  # already judged, or not a block we asked about
    return Step(replace(state, verdicts={**state.verdicts, event.block_hash: event.valid}))


def _on_proposal_ready(state: ConsensusState, event: ProposalReady, now_ms: int) -> Step:
    """getValue() returns (line 18): propose the block the driver built, if we still wait for it."""
    if (event.height, event.round) != (state.height, state.round) or state.awaiting_block != state.round:
        return _ignore(state)
    if state.step is not RoundStep.PROPOSE:
        return _ignore(state)
    proposal = Proposal(
        height=state.height, round=state.round, block_hash=event.block_hash, pol_round=-1, time_ms=now_ms
    )
    state = replace(state, awaiting_block=-1, verdicts={**state.verdicts, event.block_hash: True})
    return Step(state, (SendProposal(proposal),))


def _on_timeout(state: ConsensusState, event: TimeoutEvent, now_ms: int) -> Step:
    """Lines 57-67: a timeout acts only if we are still in its height, round (and step)."""
    if (event.height, event.round) != (state.height, state.round):
        return _ignore(state)
    if event.kind is TimeoutKind.PROPOSE and state.step is RoundStep.PROPOSE:  # lines 57-60
        return Step(*_prevote(state, NIL))
    if event.kind is TimeoutKind.PREVOTE and state.step is RoundStep.PREVOTE:  # lines 61-64
        return Step(*_precommit(state, NIL))
    if event.kind is TimeoutKind.PRECOMMIT:  # lines 65-67
        return Step(*_start_round(state, state.round + 1, now_ms))
    return _ignore(state)


# --- actions of Algorithm 1 -----------------------------------------------------------------------------


def _start_round(state: ConsensusState, round_: int, now_ms: int) -> _Out:
    """Lines 11-21: StartRound(round)."""
    state = replace(state, round=round_, step=RoundStep.PROPOSE, awaiting_block=-1)
    if not is_proposer(state, round_):
        return state, (_schedule(state, TimeoutKind.PROPOSE, now_ms),)
    if state.valid_value is not None:  # lines 15-16, 19: re-propose validValue with its proof-of-lock round
        proposal = Proposal(
            height=state.height,
            round=round_,
            block_hash=state.valid_value,
            pol_round=state.valid_round,
            time_ms=now_ms,
        )
        return state, (SendProposal(proposal),)
    return replace(state, awaiting_block=round_), (RequestProposal(state.height, round_),)  # line 18


def _schedule(state: ConsensusState, kind: TimeoutKind, now_ms: int) -> ScheduleTimeout:
    at_ms = now_ms + state.timeouts.compute_timeout(kind, state.round)
    return ScheduleTimeout(kind, state.height, state.round, at_ms)


def _vote(state: ConsensusState, vote_type: int, value: bytes) -> tuple[Effect, ...]:
    if state.my_index is None:
        return ()
    return (SendVote(Vote(vote_type=vote_type, height=state.height, round=state.round, block_hash=value)),)


def _prevote(state: ConsensusState, value: bytes) -> _Out:
    return replace(state, step=RoundStep.PREVOTE), _vote(state, VOTE_PREVOTE, value)


def _precommit(state: ConsensusState, value: bytes) -> _Out:
    return replace(state, step=RoundStep.PRECOMMIT), _vote(state, VOTE_PRECOMMIT, value)


# --- the upon-rules -------------------------------------------------------------------------------------

_Rule: TypeAlias = Callable[[ConsensusState, int], "_Out | None"]


def _rule_decide(state: ConsensusState, now_ms: int) -> _Out | None:
    """Lines 49-54: a proposal for v in some round r with 2f+1 precommits for v there, valid(v)."""
    for (round_, vote_type), votes in state.votes.items():
        if vote_type != VOTE_PRECOMMIT:
            continue
        for value, power in votes.power_by_value.items():
            if value == NIL or not state.validators.is_quorum(power) or state.verdicts.get(value) is not True:
                continue
            if any(r.proposal.block_hash == value for r in state.get_proposals(round_)):
                commit = votes.compute_commit(state.height, round_, value)
                return replace(state, decision=Decision(round_, value)), (
                    Decide(state.height, round_, value, commit),
                )
    return None


def _rule_fresh_proposal(state: ConsensusState, now_ms: int) -> _Out | None:
    """Lines 22-27: PROPOSAL(h, r, v, -1) from the proposer while step = propose."""
    if state.step is not RoundStep.PROPOSE:
        return None
    for received in state.get_proposals(state.round):
        value = received.proposal.block_hash
        valid = state.verdicts.get(value)
        if received.proposal.pol_round != -1 or valid is None:
            continue  # valid(v) not known yet: wait for the verdict (or timeoutPropose)
        acceptable = state.locked_round == -1 or state.locked_value == value
        return _prevote(state, value if valid and received.timely and acceptable else NIL)
    return None


def _rule_pol_proposal(state: ConsensusState, now_ms: int) -> _Out | None:
    """Lines 28-33: PROPOSAL(h, r, v, vr) with 0 <= vr < r and 2f+1 PREVOTE(h, vr, v), step = propose."""
    if state.step is not RoundStep.PROPOSE:
        return None
    for received in state.get_proposals(state.round):
        value, pol_round = received.proposal.block_hash, received.proposal.pol_round
        valid = state.verdicts.get(value)
        if not 0 <= pol_round < state.round or valid is None:
            continue
        if not state.is_quorum_for(pol_round, VOTE_PREVOTE, value):
            continue
        acceptable = state.locked_round <= pol_round or state.locked_value == value
        return _prevote(state, value if valid and acceptable else NIL)
    return None


def _rule_prevote_any(state: ConsensusState, now_ms: int) -> _Out | None:
    """Lines 34-35: 2f+1 PREVOTE(h, r, *) while step = prevote, for the first time."""
    key = (_RULE_PREVOTE_ANY, state.round)
    if state.step is not RoundStep.PREVOTE or key in state.fired:
        return None
    if not state.is_quorum_any(state.round, VOTE_PREVOTE):
        return None
    return replace(state, fired=state.fired | {key}), (_schedule(state, TimeoutKind.PREVOTE, now_ms),)


def _rule_prevote_value(state: ConsensusState, now_ms: int) -> _Out | None:
    """Lines 36-43: PROPOSAL(h, r, v) and 2f+1 PREVOTE(h, r, v), valid(v), step >= prevote, first time."""
    key = (_RULE_PREVOTE_VALUE, state.round)
    if state.step < RoundStep.PREVOTE or key in state.fired:
        return None
    for received in state.get_proposals(state.round):
        value = received.proposal.block_hash
        if state.verdicts.get(value) is not True or not state.is_quorum_for(state.round, VOTE_PREVOTE, value):
            continue
        effects: tuple[Effect, ...] = ()
        fired = state.fired | {key}
        if state.step is RoundStep.PREVOTE:  # lines 37-41
            state, effects = _precommit(replace(state, locked_value=value, locked_round=state.round), value)
        return replace(state, valid_value=value, valid_round=state.round, fired=fired), effects  # lines 42-43
    return None


def _rule_prevote_nil(state: ConsensusState, now_ms: int) -> _Out | None:
    """Lines 44-46: 2f+1 PREVOTE(h, r, nil) while step = prevote."""
    if state.step is not RoundStep.PREVOTE or not state.is_quorum_for(state.round, VOTE_PREVOTE, NIL):
        return None
    return _precommit(state, NIL)


def _rule_precommit_any(state: ConsensusState, now_ms: int) -> _Out | None:
    """Lines 47-48: 2f+1 PRECOMMIT(h, r, *), for the first time."""
    key = (_RULE_PRECOMMIT_ANY, state.round)
    if key in state.fired or not state.is_quorum_any(state.round, VOTE_PRECOMMIT):
        return None
    return replace(state, fired=state.fired | {key}), (_schedule(state, TimeoutKind.PRECOMMIT, now_ms),)


def _rule_skip_round(state: ConsensusState, now_ms: int) -> _Out | None:
    """Lines 55-56: messages of some round r' > r from validators with more than 1/3 of the power."""
    rounds = {r for r, _ in state.votes} | set(state.proposals)
    for round_ in sorted((r for r in rounds if r > state.round), reverse=True):
        senders = set(state.get_votes(round_, VOTE_PREVOTE).votes) | set(state.get_votes(round_, VOTE_PRECOMMIT).votes)
        if state.get_proposals(round_):
            senders.add(get_proposer(state, round_))
        power = sum(state.validators.validators[i].power for i in senders)
        if 3 * power > state.validators.total_power:
            return _start_round(state, round_, now_ms)
    return None


_RULES: Final[tuple[_Rule, ...]] = (
    _rule_decide,
    _rule_fresh_proposal,
    _rule_pol_proposal,
    _rule_prevote_any,
    _rule_prevote_value,
    _rule_prevote_nil,
    _rule_precommit_any,
    _rule_skip_round,
)


def _run_rules(state: ConsensusState, now_ms: int) -> _Out:
    """Fire enabled rules, first enabled first, until none is; every firing moves the state forward."""
    effects: list[Effect] = []
    for _ in range(_MAX_FIRINGS):
        if state.decision is not None:
            return state, tuple(effects)
        for rule in _RULES:
            fired = rule(state, now_ms)
            if fired is not None:
                state = fired[0]
                effects.extend(fired[1])
                break
        else:
            return state, tuple(effects)
    raise InvariantViolation(f"consensus rules did not settle after {_MAX_FIRINGS} firings at height {state.height}")
