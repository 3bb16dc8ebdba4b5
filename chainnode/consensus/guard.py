"""The sign guard: a node never signs two different things for one height, round and step, even
across crashes, and a restarted node resumes where its signatures left it.

The driver persists a record (height, round, kind, signing bytes) with fsync before each signature
(chainnode/wal.py) and rebuilds the guard from those records after a restart. The rule is the one of
CometBFT's private validator: (height, round, step) with step proposal < prevote < precommit never goes
back, and at the same (height, round, step) only the very same bytes may be signed again (Ed25519 is
deterministic, so the signature is the same too). The guard is pure: it answers and returns a new guard,
the driver does the I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol

from chainnode.block import Vote
from chainnode.consensus.messages import (
    NIL,
    Proposal,
    decode_vote_signing_bytes,
)
from chainnode.consensus.state import Resume, RoundStep
from chainnode.errors import CorruptStore, InvalidInput, InvariantViolation

KIND_PROPOSAL: Final = "proposal"
KIND_PREVOTE: Final = "prevote"
KIND_PRECOMMIT: Final = "precommit"
STEP_OF_KIND: Final[Mapping[str, RoundStep]] = {
    KIND_PROPOSAL: RoundStep.PROPOSE,
    KIND_PREVOTE: RoundStep.PREVOTE,
    KIND_PRECOMMIT: RoundStep.PRECOMMIT,
}
_KIND_OF_VOTE_TYPE: Final = {1: KIND_PREVOTE, 2: KIND_PRECOMMIT}


class SignRecordLike(Protocol):
    """What the WAL keeps per signature (chainnode.wal.SignRecord has this shape)."""

    @property
    def height(self) -> int: ...
    @property
    def round(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def signing_bytes(self) -> bytes: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class SignIntent:
    """What the node is about to sign: the record the driver persists before signing."""

    height: int
    round: int
    kind: str
    signing_bytes: bytes


def compute_vote_intent(chain_id: str, vote: Vote) -> SignIntent:
    return SignIntent(
        height=vote.height,
        round=vote.round,
        kind=_KIND_OF_VOTE_TYPE[vote.vote_type],
        signing_bytes=vote.compute_signing_bytes(chain_id),
    )


def compute_proposal_intent(chain_id: str, proposal: Proposal) -> SignIntent:
    return SignIntent(
        height=proposal.height,
        round=proposal.round,
        kind=KIND_PROPOSAL,
        signing_bytes=proposal.compute_signing_bytes(chain_id),
    )


class GuardDecision(enum.Enum):
    SIGN = "sign"  # new: persist the record (fsync), then sign
    REPEAT = "repeat"  # these exact bytes were signed before: sign again (same signature) or resend
    REFUSE = "refuse"  # it would contradict an earlier signature: do not sign


def _position(height: int, round_: int, kind: str) -> tuple[int, int, int]:
    step = STEP_OF_KIND.get(kind)
    if step is None:
        raise InvariantViolation(f"unknown signature kind {kind!r}")
    return (height, round_, int(step))


@dataclass(frozen=True, slots=True)
class SignGuard:
    """The highest (height, round, step) signed so far and what was signed at the newest height."""

    last: tuple[int, int, int] | None = None
    signed: Mapping[tuple[int, int, str], bytes] = field(default_factory=dict)

    @classmethod
    def from_records(cls, records: Iterable[SignRecordLike]) -> SignGuard:
        """Rebuild the guard from the WAL's records. Raises CorruptStore if two records conflict."""
        guard = cls()
        for record in records:
            intent = SignIntent(
                height=record.height, round=record.round, kind=record.kind, signing_bytes=record.signing_bytes
            )
            known = guard.get_signed(intent.height, intent.round, intent.kind)
            if known is not None and known != intent.signing_bytes:
                raise CorruptStore(
                    f"the WAL holds two different {intent.kind} signatures for height {intent.height} "
                    f"round {intent.round}"
                )
            if guard.check(intent) is GuardDecision.SIGN:
                guard = guard.record(intent)
        return guard

    def get_signed(self, height: int, round_: int, kind: str) -> bytes | None:
        """The bytes signed for (height, round, kind), if any (kept for the newest height only)."""
        return self.signed.get((height, round_, kind))

    def check(self, intent: SignIntent) -> GuardDecision:
        position = _position(intent.height, intent.round, intent.kind)
        known = self.get_signed(intent.height, intent.round, intent.kind)
        if known is not None:
            return GuardDecision.REPEAT if known == intent.signing_bytes else GuardDecision.REFUSE
        if self.last is not None and position <= self.last:
            return GuardDecision.REFUSE  # (height, round, step) would go back
        return GuardDecision.SIGN

    def record(self, intent: SignIntent) -> SignGuard:
        """The guard after signing `intent`; the driver persists the record first. REPEAT changes nothing.

        Raises InvariantViolation if `check` refuses the intent (the driver must not sign it).
        """
        decision = self.check(intent)
        if decision is GuardDecision.REPEAT:
            return self
        if decision is GuardDecision.REFUSE:
            raise InvariantViolation(f"refused to sign {intent.kind} at height {intent.height} round {intent.round}")
        kept = {key: value for key, value in self.signed.items() if key[0] == intent.height}
        kept[(intent.height, intent.round, intent.kind)] = intent.signing_bytes
        return SignGuard(last=_position(intent.height, intent.round, intent.kind), signed=kept)


def compute_resume(chain_id: str, records: Iterable[SignRecordLike], height: int) -> Resume | None:
    """Where to resume `height` after a restart, from this node's WAL records; None if it signed nothing.

    The round and step of the last signature at `height`, and the lock: the value of the highest-round
    non-nil precommit (a correct process precommits a value exactly when it locks it). Raises
    CorruptStore if a vote record does not decode.
    """
    mine = [r for r in records if r.height == height]
    if not mine:
        return None
    last = max(_position(r.height, r.round, r.kind) for r in mine)
    locked_value: bytes | None = None
    locked_round = -1
    for record in mine:
        if record.kind != KIND_PRECOMMIT or record.round <= locked_round:
            continue
        try:
            vote = decode_vote_signing_bytes(chain_id, record.signing_bytes)
        except InvalidInput as exc:
            raise CorruptStore(f"WAL precommit record at height {height}: {exc.message}") from exc
        if vote.block_hash != NIL:
            locked_value, locked_round = vote.block_hash, record.round
    return Resume(round=last[1], step=RoundStep(last[2]), locked_value=locked_value, locked_round=locked_round)
