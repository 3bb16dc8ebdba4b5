"""The WAL-guarded signer: nothing is signed for a (height, round, kind) before it is on disk.

Every proposal and vote goes through `approve`: the sign guard says whether this node may sign it (the
step moves forward), must repeat what it signed before a crash (the same bytes, so the same deterministic
Ed25519 signature), or must not sign at all; a new signature is appended to the WAL with fsync first.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Protocol

from chainnode import crypto
from chainnode.block import Vote
from chainnode.consensus.guard import (
    GuardDecision,
    SignGuard,
    SignIntent,
    compute_proposal_intent,
    compute_resume,
    compute_vote_intent,
)
from chainnode.consensus.messages import (
    Proposal,
    SignedProposal,
    SignedVote,
    decode_proposal_signing_bytes,
    decode_vote_signing_bytes,
    sign_proposal,
    sign_vote,
)
from chainnode.consensus.state import Resume
from chainnode.wal import SignRecord

log = logging.getLogger("chainnode.bft")


class SignWal(Protocol):
    """What the signer needs of a write-ahead log. `chainnode.wal.SignLog` is the node's (a file, fsync);
    the simulator passes an in-memory one that survives its simulated crashes."""

    @property
    def records(self) -> Sequence[SignRecord]:
        """Every record appended so far (after a restart: every record that reached the disk)."""
        ...

    def append(self, record: SignRecord) -> None:
        """Persist `record` durably before the caller signs."""
        ...

    def save_block(self, block_hash: bytes, block_bytes: bytes) -> None:
        """Keep the block of a proposal about to be signed, so it can be proposed again after a crash."""
        ...

    def load_block(self, block_hash: bytes) -> bytes | None: ...


class WalSigner:
    """Signs proposals and votes for one node key, guarded by its WAL."""

    def __init__(self, *, chain_id: str, key: crypto.PrivateKey, wal: SignWal) -> None:
        self.chain_id = chain_id
        self.key = key
        self.wal = wal
        self.guard = SignGuard.from_records(wal.records)

    @property
    def records(self) -> Iterable[SignRecord]:
        return self.wal.records

    def compute_resume(self, height: int) -> Resume | None:
        """Round, step and lock at `height` before a restart, or None if nothing was signed there."""
        return compute_resume(self.chain_id, self.wal.records, height)

    def get_signed(self, height: int, round_: int, kind: str) -> bytes | None:
        return self.guard.get_signed(height, round_, kind)

    def approve(self, intent: SignIntent) -> bytes | None:
        """The signing bytes to sign for this (height, round, kind): the intent's if the guard allows it
        (persisted to the WAL first), the bytes signed before a crash if it already signed something else
        there, or None if the step would go back."""
        decision = self.guard.check(intent)
        if decision is GuardDecision.SIGN:
            self.wal.append(
                SignRecord(
                    height=intent.height, round=intent.round, kind=intent.kind, signing_bytes=intent.signing_bytes
                )
            )
            self.guard = self.guard.record(intent)
            return intent.signing_bytes
        if decision is GuardDecision.REPEAT:
            return intent.signing_bytes
        earlier = self.guard.get_signed(intent.height, intent.round, intent.kind)
        if earlier is None:
            log.info("not signing a %s for height %d round %d: already past it", intent.kind, intent.height,
                     intent.round)
        else:
            log.warning("already signed another %s for height %d round %d: sending that one again", intent.kind,
                        intent.height, intent.round)
        return earlier

    def sign_vote(self, vote: Vote, index: int) -> SignedVote | None:
        """Sign `vote` (or what was signed in its place before a crash); None if the guard refuses."""
        approved = self.approve(compute_vote_intent(self.chain_id, vote))
        if approved is None:
            return None
        return sign_vote(self.key, self.chain_id, decode_vote_signing_bytes(self.chain_id, approved), index)

    def sign_proposal(self, proposal: Proposal, index: int) -> SignedProposal | None:
        """Sign `proposal` (or the one signed in its place before a crash); None if the guard refuses.
        The caller saved the proposal's block first (see SignWal.save_block)."""
        approved = self.approve(compute_proposal_intent(self.chain_id, proposal))
        if approved is None:
            return None
        return sign_proposal(self.key, self.chain_id, decode_proposal_signing_bytes(self.chain_id, approved), index)

    def resign(self, record: SignRecord, index: int) -> SignedVote | SignedProposal:
        """The message signed for `record` before a restart, signed again (same bytes, same signature).
        Raises InvalidInput if the record's bytes do not decode."""
        if record.kind == "proposal":
            proposal = decode_proposal_signing_bytes(self.chain_id, record.signing_bytes)
            return sign_proposal(self.key, self.chain_id, proposal, index)
        return sign_vote(self.key, self.chain_id, decode_vote_signing_bytes(self.chain_id, record.signing_bytes), index)
