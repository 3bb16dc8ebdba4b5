"""The consensus package's errors: the peer's fault (reject the message), all under chainnode.errors.

Each derives from `chainnode.errors.InvalidInput`, so the node maps them all to a [REJECT] verdict and
keeps running; each carries a stable `code` and the field at fault.
"""

from __future__ import annotations

from chainnode.errors import InvalidInput


class InvalidProposal(InvalidInput):
    """A proposal breaks a rule that does not depend on our state (round, pol_round, signer)."""

    code = "invalid_proposal"


class WrongProposer(InvalidProposal):
    """A proposal signed by a validator that is not the proposer of its height and round."""

    code = "wrong_proposer"

    def __init__(self, *, height: int, round_: int, signer: int, proposer: int) -> None:
        super().__init__(
            f"proposal for height {height} round {round_} is signed by validator #{signer}; "
            f"the proposer is #{proposer}",
            field="validator_index",
        )
        self.height, self.round, self.signer, self.proposer = height, round_, signer, proposer


class InvalidVote(InvalidInput):
    """A vote names an unknown validator, an unknown vote type, or a malformed block hash."""

    code = "invalid_vote"


class InvalidEvidence(InvalidInput):
    """Duplicate-vote evidence that does not prove a double vote."""

    code = "invalid_evidence"
