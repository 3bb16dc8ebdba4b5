"""The Tendermint consensus core (pure), its messages, proposer selection and sign guard.

Nothing in this package does I/O, reads a clock or draws random numbers: the node driver feeds events to
`step` and performs the effects it returns. See docs/consensus.md, "The Tendermint core".
"""

from __future__ import annotations

from chainnode.consensus.core import MAX_PROPOSALS_PER_ROUND, MAX_ROUNDS_AHEAD, Step, start_height, step
from chainnode.consensus.errors import InvalidEvidence, InvalidProposal, InvalidVote, WrongProposer
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
from chainnode.consensus.guard import GuardDecision, SignGuard, SignIntent, compute_resume
from chainnode.consensus.messages import (
    NIL,
    DuplicateVoteEvidence,
    Proposal,
    SignedProposal,
    SignedVote,
    sign_proposal,
    sign_vote,
    validate_evidence,
    verify_signed_proposal,
    verify_signed_vote,
)
from chainnode.consensus.proposer import compute_proposer
from chainnode.consensus.state import ConsensusState, Resume, RoundStep

__all__ = [
    "MAX_PROPOSALS_PER_ROUND",
    "MAX_ROUNDS_AHEAD",
    "NIL",
    "BlockVerdict",
    "ConsensusState",
    "Decide",
    "DuplicateVoteEvidence",
    "Effect",
    "Event",
    "GuardDecision",
    "InvalidEvidence",
    "InvalidProposal",
    "InvalidVote",
    "Proposal",
    "ProposalEvent",
    "ProposalReady",
    "ReportEvidence",
    "RequestProposal",
    "RequestVerdict",
    "Resume",
    "RoundStep",
    "ScheduleTimeout",
    "SendProposal",
    "SendVote",
    "SignGuard",
    "SignIntent",
    "SignedProposal",
    "SignedVote",
    "Step",
    "TimeoutEvent",
    "TimeoutKind",
    "Timeouts",
    "Verdict",
    "VoteEvent",
    "WrongProposer",
    "compute_proposer",
    "compute_resume",
    "sign_proposal",
    "sign_vote",
    "start_height",
    "step",
    "validate_evidence",
    "verify_signed_proposal",
    "verify_signed_vote",
]
