"""The sign guard: never two different signatures for one (height, round, step), and resuming a height."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from chainnode.block import VOTE_PRECOMMIT, VOTE_PREVOTE, Vote
from chainnode.consensus.guard import (
    KIND_PRECOMMIT,
    KIND_PREVOTE,
    KIND_PROPOSAL,
    GuardDecision,
    SignGuard,
    SignIntent,
    compute_proposal_intent,
    compute_resume,
    compute_vote_intent,
)
from chainnode.consensus.messages import NIL, Proposal
from chainnode.consensus.state import Resume, RoundStep
from chainnode.errors import CorruptStore, InvariantViolation

CHAIN = "gov-test-1"
V = bytes([0xAA]) * 32
W = bytes([0xBB]) * 32


def prevote(height: int, round_: int, value: bytes) -> SignIntent:
    return compute_vote_intent(CHAIN, Vote(vote_type=VOTE_PREVOTE, height=height, round=round_, block_hash=value))


def precommit(height: int, round_: int, value: bytes) -> SignIntent:
    return compute_vote_intent(CHAIN, Vote(vote_type=VOTE_PRECOMMIT, height=height, round=round_, block_hash=value))


def proposal(height: int, round_: int, value: bytes, time_ms: int = 1) -> SignIntent:
    body = Proposal(height=height, round=round_, block_hash=value, pol_round=-1, time_ms=time_ms)
    return compute_proposal_intent(CHAIN, body)


def guard_of(*intents: SignIntent) -> SignGuard:
    guard = SignGuard()
    for intent in intents:
        guard = guard.record(intent)
    return guard


def test_a_new_position_may_be_signed_and_the_same_bytes_again() -> None:
    guard = guard_of(proposal(5, 0, V), prevote(5, 0, V))
    assert guard.check(precommit(5, 0, V)) is GuardDecision.SIGN
    assert guard.check(prevote(5, 0, V)) is GuardDecision.REPEAT
    assert guard.record(prevote(5, 0, V)) is guard
    assert guard.get_signed(5, 0, KIND_PREVOTE) == prevote(5, 0, V).signing_bytes


@pytest.mark.parametrize(
    "intent",
    [
        prevote(5, 1, NIL),  # same height, round and type, another value
        proposal(5, 0, V),  # back to the proposal step of a round we prevoted in
        proposal(5, 1, V, time_ms=2),  # the same block proposed again with another time
        precommit(5, 0, V),  # an older round
        prevote(4, 9, V),  # an older height
    ],
)
def test_anything_that_contradicts_or_goes_back_is_refused(intent: SignIntent) -> None:
    guard = guard_of(proposal(5, 1, V), prevote(5, 1, V))
    assert guard.check(intent) is GuardDecision.REFUSE
    with pytest.raises(InvariantViolation):
        guard.record(intent)


def test_only_the_newest_height_is_kept() -> None:
    guard = guard_of(prevote(5, 0, V), precommit(5, 0, V), prevote(6, 0, W))
    assert guard.get_signed(5, 0, KIND_PREVOTE) is None
    assert guard.get_signed(6, 0, KIND_PREVOTE) == prevote(6, 0, W).signing_bytes
    assert guard.check(prevote(5, 0, V)) is GuardDecision.REFUSE  # still refused: it would go back


@dataclass(frozen=True)
class Record:
    """The shape of chainnode.wal.SignRecord."""

    height: int
    round: int
    kind: str
    signing_bytes: bytes


def records(*intents: SignIntent) -> list[Record]:
    return [Record(i.height, i.round, i.kind, i.signing_bytes) for i in intents]


def test_the_guard_rebuilt_from_the_wal_refuses_what_the_old_one_refused() -> None:
    wal = records(prevote(3, 0, V), precommit(3, 0, V), proposal(3, 1, W), prevote(3, 1, W))
    guard = SignGuard.from_records(wal)
    assert guard == guard_of(*(SignIntent(**vars(r)) for r in wal))
    assert guard.check(prevote(3, 1, NIL)) is GuardDecision.REFUSE
    assert guard.check(prevote(3, 1, W)) is GuardDecision.REPEAT
    assert guard.check(precommit(3, 1, NIL)) is GuardDecision.SIGN


def test_a_wal_with_two_different_signatures_for_one_position_is_corrupt() -> None:
    with pytest.raises(CorruptStore):
        SignGuard.from_records(records(prevote(3, 0, V), prevote(3, 0, W)))


def test_an_unknown_kind_is_our_bug() -> None:
    with pytest.raises(InvariantViolation):
        SignGuard().check(SignIntent(height=1, round=0, kind="commit", signing_bytes=b""))


def test_resume_is_none_for_a_height_without_signatures() -> None:
    assert compute_resume(CHAIN, records(prevote(3, 0, V)), 4) is None


def test_resume_takes_the_last_position_and_the_highest_non_nil_precommit_as_lock() -> None:
    wal = records(
        prevote(3, 0, V), precommit(3, 0, V),  # locked V at round 0
        prevote(3, 1, NIL), precommit(3, 1, NIL),  # a nil precommit does not unlock
        proposal(3, 2, V),
    )
    assert compute_resume(CHAIN, wal, 3) == Resume(round=2, step=RoundStep.PROPOSE, locked_value=V, locked_round=0)
    wal += records(prevote(3, 2, W), precommit(3, 2, W))  # relocked W at round 2
    assert compute_resume(CHAIN, wal, 3) == Resume(round=2, step=RoundStep.PRECOMMIT, locked_value=W, locked_round=2)


def test_resume_without_a_precommit_has_no_lock() -> None:
    assert compute_resume(CHAIN, records(prevote(3, 4, V)), 3) == Resume(round=4, step=RoundStep.PREVOTE)


def test_a_precommit_record_that_does_not_decode_is_corrupt() -> None:
    bad = Record(3, 0, KIND_PRECOMMIT, b"\x93\x01\x02\x03")
    with pytest.raises(CorruptStore):
        compute_resume(CHAIN, [bad], 3)
    assert KIND_PROPOSAL == "proposal"
