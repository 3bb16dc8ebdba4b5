"""The checks a peer's vote or proposal meets before it reaches the consensus core, cheapest first.

A vote: height window, well-formed, validator index in the height's set, round bound, not seen before,
not beyond its validator's values for the round and type (unless nil or a proposed value), then the
Ed25519 signature. A proposal: height window, `pol_round`, **the signer is the proposer of (height,
round)**, round bound, not seen before, the round's block cap, the signature, and only then the block is
decoded and its hash compared. [REJECT] raises an InvalidInput (the network scores the sender down);
[IGNORE] returns None (no cost, no penalty). The screen remembers what passed, per height.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from chainnode import crypto
from chainnode.block import Block
from chainnode.consensus import MAX_ROUNDS_AHEAD
from chainnode.consensus.errors import InvalidVote, WrongProposer
from chainnode.consensus.messages import (
    NIL,
    SignedProposal,
    SignedVote,
    is_well_formed_vote,
    validate_proposal,
    verify_signed_proposal,
    verify_signed_vote,
)
from chainnode.consensus.proposer import compute_proposer
from chainnode.consensus.state import MAX_VALUES_PER_VALIDATOR
from chainnode.driver.blocks import HeldBlock, ProposalBlocks
from chainnode.driver.gossip import HEIGHT_WINDOW, decode_proposal_message, decode_vote_message
from chainnode.errors import InvalidBlock, InvalidSignature
from chainnode.validators import ValidatorSet

log = logging.getLogger("chainnode.bft")


@dataclass(frozen=True, slots=True)
class ScreenedProposal:
    signed: SignedProposal
    held: HeldBlock
    proposer: int
    timely: bool


def _round_at(deciding: tuple[int, int] | None, height: int) -> int:
    """The core's round at `height` if it is deciding that height, else 0 (a later height starts at 0)."""
    return deciding[1] if deciding is not None and deciding[0] == height else 0


class MessageScreen:
    """Screens peer votes and proposals for one node; `round_of(height)` gives the round it is in there."""

    def __init__(
        self,
        *,
        chain_id: str,
        head_height: Callable[[], int],
        validators_at: Callable[[int], ValidatorSet],
        now_ms: Callable[[], int],
        decode_block: Callable[[bytes], Block],
        blocks: ProposalBlocks,
        time_precision_ms: int,
        message_delay_ms: int,
        verify_signature: crypto.Verifier = crypto.verify_signature,
    ) -> None:
        self.chain_id = chain_id
        self._verify_signature = verify_signature
        self._head_height, self._validators_at, self._now_ms = head_height, validators_at, now_ms
        self._decode_block = decode_block
        self.blocks = blocks
        self.precision_ms, self.delay_ms = time_precision_ms, message_delay_ms
        self._seen: dict[int, set[bytes]] = {}
        self._values: dict[tuple[int, int, int, int], int] = {}
        self._untimely_logged: set[tuple[int, int]] = set()

    def forget_below(self, height: int) -> None:
        for old in [h for h in self._seen if h < height]:
            del self._seen[old]
        for slot in [s for s in self._values if s[0] < height]:
            del self._values[slot]
        self._untimely_logged = {k for k in self._untimely_logged if k[0] >= height}

    def mark_seen(self, height: int, message_id: bytes) -> None:
        """This node's own message: a copy relayed back is a duplicate."""
        self._seen.setdefault(height, set()).add(message_id)

    def screen_vote(self, payload: bytes, *, deciding: tuple[int, int] | None) -> SignedVote | None:
        """The verified vote, or None ([IGNORE]). Raises InvalidInput ([REJECT]).

        `deciding` is the (height, round) this node's core is at, None while it waits."""
        signed = decode_vote_message(payload)  # [REJECT] not a canonical signed vote
        vote = signed.vote
        if not self._is_in_window(vote.height):
            return None  # [IGNORE] a finished height, or too far ahead to matter yet
        if not is_well_formed_vote(vote):
            raise InvalidVote("malformed vote (type, round or block hash)", field="vote")  # [REJECT]
        validators = self._validators_at(vote.height)
        if not 0 <= signed.validator_index < len(validators):
            raise InvalidVote(f"no validator #{signed.validator_index}", field="validator_index")  # [REJECT]
        if vote.round > _round_at(deciding, vote.height) + MAX_ROUNDS_AHEAD:
            return None  # [IGNORE] a round too far ahead to keep
        seen = self._seen.setdefault(vote.height, set())
        if payload in seen:  # canonical, and Ed25519 signatures are deterministic: one vote, one payload
            return None  # [IGNORE] a duplicate (relays and re-sends bring many)
        slot = (vote.height, vote.round, vote.vote_type, signed.validator_index)
        known_value = vote.block_hash == NIL or self.blocks.get(vote.height, vote.block_hash) is not None
        if self._values.get(slot, 0) > MAX_VALUES_PER_VALIDATOR and not known_value:
            return None  # [IGNORE] this validator's values for the round and type are kept already
        if not verify_signed_vote(self.chain_id, signed, validators, verify=self._verify_signature):
            raise InvalidSignature(f"vote for height {vote.height} does not verify", field="signature")  # [REJECT]
        seen.add(payload)
        self._values[slot] = self._values.get(slot, 0) + 1
        return signed

    def screen_proposal(self, payload: bytes, *, deciding: tuple[int, int] | None) -> ScreenedProposal | None:
        """The verified proposal with its decoded block, or None ([IGNORE]). Raises InvalidInput ([REJECT]).
        The block is kept in `blocks` once every check passed."""
        signed, block_raw = decode_proposal_message(payload)  # [REJECT] not [signed proposal, block]
        proposal = signed.proposal
        if not self._is_in_window(proposal.height):
            return None  # [IGNORE] a finished height, or too far ahead to matter yet
        validate_proposal(proposal)  # [REJECT] pol_round not in [-1, round)
        validators = self._validators_at(proposal.height)
        proposer = compute_proposer(validators, proposal.height, proposal.round)
        if signed.validator_index != proposer:  # [REJECT] not from proposer(h, r), whoever relayed it
            raise WrongProposer(
                height=proposal.height, round_=proposal.round, signer=signed.validator_index, proposer=proposer
            )
        if proposal.round > _round_at(deciding, proposal.height) + MAX_ROUNDS_AHEAD:
            return None  # [IGNORE] a round too far ahead to keep
        message_id = signed.encode()
        seen = self._seen.setdefault(proposal.height, set())
        if message_id in seen:
            return None  # [IGNORE] a duplicate
        if self.blocks.is_full(proposal.height, proposal.round, proposal.block_hash):
            return None  # [IGNORE] an equivocating proposer: enough of its blocks kept
        if not verify_signed_proposal(self.chain_id, signed, validators):
            raise InvalidSignature("proposal signature does not verify", field="signature")  # [REJECT]
        block = self._decode_block(block_raw)  # [REJECT] not a canonical block
        if block.compute_hash() != proposal.block_hash or block.header.height != proposal.height:
            raise InvalidBlock("the attached block is not the proposed one", field="block")  # [REJECT]
        seen.add(message_id)
        held = HeldBlock(block, block_raw)
        self.blocks.add(proposal.height, proposal.round, proposal.block_hash, held)
        return ScreenedProposal(signed, held, proposer, self._is_timely(signed, block))

    def _is_in_window(self, height: int) -> bool:
        head = self._head_height()
        return head < height <= head + HEIGHT_WINDOW

    def _is_timely(self, signed: SignedProposal, block: Block) -> bool:
        """Proposer-based timestamps: a fresh proposal's block time must be near our clock."""
        proposal = signed.proposal
        now = self._now_ms()
        timely = now - self.precision_ms - self.delay_ms <= block.header.time_ms <= now + self.precision_ms
        key = (proposal.height, proposal.round)
        if not timely and proposal.pol_round == -1 and key not in self._untimely_logged:
            self._untimely_logged.add(key)
            log.warning(
                "proposal for height %d round %d from validator #%d has block time %d, %+d ms from this node's "
                "clock (allowed: -%d..+%d): prevoting nil; one of the two clocks is wrong",
                proposal.height, proposal.round, signed.validator_index, block.header.time_ms,
                block.header.time_ms - now, self.precision_ms + self.delay_ms, self.precision_ms,
            )
        return timely
