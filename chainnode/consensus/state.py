"""The state of the consensus core for one height: Algorithm 1's variables and the messages it has seen.

`ConsensusState` is frozen and replaced on every step. Its mappings are copy-on-write: the core builds a
new mapping for every change and never mutates one it has stored, so an old state stays valid (a driver
or a test may keep it and compare). Everything in it belongs to the current height; the driver starts a
fresh state for the next height.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from chainnode.block import Commit, CommitSignature
from chainnode.consensus.events import Timeouts
from chainnode.consensus.messages import Proposal, SignedVote
from chainnode.validators import ValidatorSet

MAX_VALUES_PER_VALIDATOR: Final = 3
"""Votes of one validator for different values kept per round and type; more are only evidence."""


class RoundStep(enum.IntEnum):
    """step_p of Algorithm 1, ordered as the paper's `step_p >= prevote` needs."""

    PROPOSE = 0
    PREVOTE = 1
    PRECOMMIT = 2


@dataclass(frozen=True, slots=True)
class ReceivedProposal:
    proposal: Proposal
    timely: bool


@dataclass(frozen=True, slots=True)
class VoteSet:
    """The votes of one round and type, per validator, with the power behind each value.

    A validator counts once towards "any" and at most once towards each value. A validator that votes
    for two values (a double vote, reported as evidence) counts for both: any two quorums of more than
    2/3 intersect in more than 1/3 of the power, so an honest validator, who votes once, is in both, and
    a faulty validator's second vote cannot make conflicting quorums. Counting it keeps the algorithm
    live when an equivocator's votes reach different nodes in different orders (as CometBFT counts a
    conflicting vote for a block that peers claim has +2/3). At most MAX_VALUES_PER_VALIDATOR values per
    validator are kept.
    """

    votes: Mapping[int, tuple[SignedVote, ...]] = field(default_factory=dict)
    """Each validator's votes, one per value, in arrival order."""
    power_by_value: Mapping[bytes, int] = field(default_factory=dict)
    """Voting power per block hash voted for (NIL for nil)."""
    total_power: int = 0
    """Power of the validators that voted here at all."""

    def add(self, signed: SignedVote, power: int) -> VoteSet:
        """A copy with `signed` added; the caller checked that its validator has no vote for this value."""
        value = signed.vote.block_hash
        index = signed.validator_index
        previous = self.votes.get(index, ())
        return VoteSet(
            votes={**self.votes, index: (*previous, signed)},
            power_by_value={**self.power_by_value, value: self.power_by_value.get(value, 0) + power},
            total_power=self.total_power + (0 if previous else power),
        )

    def get_power(self, value: bytes) -> int:
        return self.power_by_value.get(value, 0)

    def get_vote(self, index: int, value: bytes) -> SignedVote | None:
        return next((v for v in self.votes.get(index, ()) if v.vote.block_hash == value), None)

    def compute_commit(self, height: int, round_: int, block_hash: bytes) -> Commit:
        """The commit made of this set's votes for `block_hash`, sorted by validator index."""
        signatures = []
        for index in sorted(self.votes):
            signed = self.get_vote(index, block_hash)
            if signed is not None:
                signatures.append(CommitSignature(validator_index=index, signature=signed.signature))
        return Commit(height=height, round=round_, block_hash=block_hash, signatures=tuple(signatures))


EMPTY_VOTE_SET: Final = VoteSet()


@dataclass(frozen=True, slots=True)
class Decision:
    round: int
    block_hash: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Resume:
    """Where a restarted node resumes a height, from what it signed before (see guard.compute_resume).

    The round and step of its last signature, and its lock: a correct process precommits a value exactly
    when it locks it (lines 38-40), so its last non-nil precommit of the height is its lock.
    """

    round: int
    step: RoundStep
    locked_value: bytes | None = None
    locked_round: int = -1


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsensusState:
    """Algorithm 1's variables for height `height`, plus the messages and verdicts received for it."""

    height: int
    validators: ValidatorSet
    my_index: int | None
    """Our index in `validators`; None on a node that follows consensus without voting."""
    timeouts: Timeouts
    round: int = 0
    step: RoundStep = RoundStep.PROPOSE
    locked_value: bytes | None = None
    locked_round: int = -1
    valid_value: bytes | None = None
    valid_round: int = -1
    proposals: Mapping[int, tuple[ReceivedProposal, ...]] = field(default_factory=dict)
    """Proposals from each round's proposer, in arrival order (more than one only if it equivocates)."""
    votes: Mapping[tuple[int, int], VoteSet] = field(default_factory=dict)
    """Vote sets by (round, vote_type)."""
    verdicts: Mapping[bytes, bool] = field(default_factory=dict)
    """valid(v) for each block hash the driver has judged (or we built)."""
    requested: frozenset[bytes] = frozenset()
    """Block hashes whose verdict we asked for."""
    awaiting_block: int = -1
    """The round for which we asked the driver to build a block, or -1."""
    fired: frozenset[tuple[str, int]] = frozenset()
    """(rule, round) of the "for the first time" rules that have fired."""
    reported: frozenset[tuple[int, int, int]] = frozenset()
    """(validator_index, round, vote_type) of double votes already reported."""
    decision: Decision | None = None

    def get_votes(self, round_: int, vote_type: int) -> VoteSet:
        return self.votes.get((round_, vote_type), EMPTY_VOTE_SET)

    def get_proposals(self, round_: int) -> tuple[ReceivedProposal, ...]:
        return self.proposals.get(round_, ())

    def is_quorum_for(self, round_: int, vote_type: int, value: bytes) -> bool:
        """More than 2/3 of the voting power voted `value` (NIL: nil) in this round and type."""
        return self.validators.is_quorum(self.get_votes(round_, vote_type).get_power(value))

    def is_quorum_any(self, round_: int, vote_type: int) -> bool:
        """More than 2/3 of the voting power voted anything in this round and type."""
        return self.validators.is_quorum(self.get_votes(round_, vote_type).total_power)

