"""Turn duplicate-vote evidence seen by the core into an `evidence.report` transaction by the node key."""

from __future__ import annotations

import logging
import os

from chainnode import crypto
from chainnode.consensus.messages import DuplicateVoteEvidence
from chainnode.tx import TxBody, sign_transaction
from chainnode.validators import ValidatorSet

log = logging.getLogger("chainnode.bft")

EXPIRY_HEIGHTS = 1000


def compute_evidence_tx(
    evidence: DuplicateVoteEvidence, *, chain_id: str, key: crypto.PrivateKey, validators: ValidatorSet, head: int
) -> bytes | None:
    """The signed report of `evidence` (validators: the set of the votes' height), or None if the
    offender's index is not in that set."""
    vote_a, vote_b = evidence.vote_a, evidence.vote_b
    if vote_a.validator_index >= len(validators):
        return None
    offender = validators.validators[vote_a.validator_index]
    log.warning(
        "evidence: validator %s (%s) signed two %s votes at height %d round %d",
        offender.public_key.hex()[:16],
        offender.department,
        "prevote" if vote_a.vote.vote_type == 1 else "precommit",
        vote_a.vote.height,
        vote_a.vote.round,
    )
    body = TxBody(
        chain_id=chain_id,
        contract="evidence",
        method="report",
        args={
            "offender": offender.public_key,
            "vote_type": vote_a.vote.vote_type,
            "height": vote_a.vote.height,
            "round": vote_a.vote.round,
            "block_hash_a": vote_a.vote.block_hash,
            "signature_a": vote_a.signature,
            "block_hash_b": vote_b.vote.block_hash,
            "signature_b": vote_b.signature,
        },
        signer=key.public_key,
        nonce=os.urandom(16),
        expiry_height=head + EXPIRY_HEIGHTS,
    )
    return sign_transaction(key, body).raw
