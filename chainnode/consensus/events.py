"""What goes into the consensus core (events) and what comes out (effects), and the timeout schedule.

The driver turns the world into events (a verified message, a fired timer, its verdict on a block, a block
it built) and performs the effects the core returns, in order: persist-then-sign-then-broadcast for
`SendProposal` / `SendVote` (see guard.py), set a timer for `ScheduleTimeout`, and so on. The driver also
delivers its own signed proposals and votes back to the core as events: in Algorithm 1, "broadcast"
includes the sender.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields
from typing import TypeAlias

from chainnode.block import Commit, Vote
from chainnode.consensus.messages import DuplicateVoteEvidence, Proposal, SignedProposal, SignedVote
from chainnode.errors import ConfigError


class TimeoutKind(enum.Enum):
    PROPOSE = "propose"
    PREVOTE = "prevote"
    PRECOMMIT = "precommit"


class Verdict(enum.Enum):
    """What the driver does with the peer message behind an event (errors raised mean REJECT)."""

    ACCEPT = "accept"  # used: relay it
    IGNORE = "ignore"  # not for now, or already known: drop (stash future heights), do not score the peer


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeouts:
    """timeoutX(round) = min(X_ms + round * X_delta_ms, max_ms), as in the paper, with a cap."""

    propose_ms: int = 3000
    propose_delta_ms: int = 500
    prevote_ms: int = 1000
    prevote_delta_ms: int = 500
    precommit_ms: int = 1000
    precommit_delta_ms: int = 500
    max_ms: int = 60_000

    def __post_init__(self) -> None:
        for item in fields(self):
            name, value = item.name, getattr(self, item.name)
            if type(value) is not int or not 0 <= value <= 86_400_000:
                raise ConfigError(f"timeout {name} must be an integer number of ms in [0, 86400000]", field=name)
        if self.max_ms < max(self.propose_ms, self.prevote_ms, self.precommit_ms):
            raise ConfigError("timeout max_ms must be at least each base timeout", field="max_ms")

    def compute_timeout(self, kind: TimeoutKind, round_: int) -> int:
        base, delta = {
            TimeoutKind.PROPOSE: (self.propose_ms, self.propose_delta_ms),
            TimeoutKind.PREVOTE: (self.prevote_ms, self.prevote_delta_ms),
            TimeoutKind.PRECOMMIT: (self.precommit_ms, self.precommit_delta_ms),
        }[kind]
        return min(base + round_ * delta, self.max_ms)


# --- events ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProposalEvent:
    """A proposal whose signature the driver has verified, with its block at hand.

    `timely` is the driver's proposer-based-timestamp check made when the proposal arrived (block time
    within precision + message delay of its clock); it only matters for fresh proposals (pol_round -1).
    """

    signed: SignedProposal
    timely: bool = True


@dataclass(frozen=True, slots=True)
class VoteEvent:
    """A vote whose signature the driver has verified."""

    signed: SignedVote


@dataclass(frozen=True, slots=True)
class TimeoutEvent:
    kind: TimeoutKind
    height: int
    round: int


@dataclass(frozen=True, slots=True)
class BlockVerdict:
    """The driver's verdict on the block with this hash: the paper's valid(v)."""

    block_hash: bytes
    valid: bool


@dataclass(frozen=True, slots=True)
class ProposalReady:
    """The driver built the block `block_hash` after a RequestProposal(height, round)."""

    height: int
    round: int
    block_hash: bytes


Event: TypeAlias = ProposalEvent | VoteEvent | TimeoutEvent | BlockVerdict | ProposalReady


# --- effects --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestProposal:
    """We propose for (height, round) and hold no valid value: build a block, answer ProposalReady."""

    height: int
    round: int


@dataclass(frozen=True, slots=True)
class SendProposal:
    """Persist a WAL record, sign, attach the block, broadcast, and deliver back to the core."""

    proposal: Proposal


@dataclass(frozen=True, slots=True)
class SendVote:
    """Persist a WAL record, sign, broadcast, and deliver back to the core (as a VoteEvent)."""

    vote: Vote


@dataclass(frozen=True, slots=True)
class ScheduleTimeout:
    """Deliver TimeoutEvent(kind, height, round) at `at_ms` (the driver's clock)."""

    kind: TimeoutKind
    height: int
    round: int
    at_ms: int


@dataclass(frozen=True, slots=True)
class RequestVerdict:
    """Validate the block with this hash (from a received proposal) and answer with a BlockVerdict."""

    block_hash: bytes


@dataclass(frozen=True, slots=True)
class Decide:
    """`block_hash` is decided at `height`; `commit` holds the precommits for it, in validator order."""

    height: int
    round: int
    block_hash: bytes
    commit: Commit


@dataclass(frozen=True, slots=True)
class ReportEvidence:
    """A validator voted twice: keep the evidence for inclusion in a block and gossip it."""

    evidence: DuplicateVoteEvidence


Effect: TypeAlias = (
    RequestProposal | SendProposal | SendVote | ScheduleTimeout | RequestVerdict | Decide | ReportEvidence
)

