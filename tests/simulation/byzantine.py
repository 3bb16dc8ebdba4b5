"""Byzantine behaviours: a validator that runs the real engine and bends what leaves it.

A Byzantine node runs the same ConsensusEngine as the honest ones (with its own WAL); its host passes
every outgoing message through `Adversary.outgoing`, which may add messages (twin votes, floods,
proposals out of turn), replace them (a second block for some peers, a fake proof-of-lock, votes that
break its lock) or let them pass. Everything it sends is validly signed with its own key: the attacks
are the ones a validator's key makes possible, which the engine must survive without the network's help.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from chainnode.block import VOTE_PRECOMMIT, VOTE_PREVOTE, Vote
from chainnode.consensus import MAX_ROUNDS_AHEAD
from chainnode.consensus.messages import NIL, Proposal, SignedProposal, sign_proposal, sign_vote
from chainnode.consensus.proposer import compute_proposer
from chainnode.driver.gossip import KIND_PROPOSAL, KIND_VOTE, decode_proposal_message, encode_proposal_message
from tests.simulation.scenarios import (
    CHAIN_ID,
    DOUBLE_VOTE,
    EQUIVOCATE,
    FAKE_POL,
    INVALID,
    LOCK_BREAK,
    PROPOSAL_FLOOD,
    SKEW,
    VOTE_FLOOD,
    WRONG_PROPOSER,
)
from tests.simulation.world import INVALID_TX, build_block

if TYPE_CHECKING:
    from tests.simulation.host import SimNode
    from tests.simulation.sim import Simulation

Outgoing = list[tuple[int | None, str, bytes]]
"""(destination node, or None for every peer; message kind; payload)."""

FLOOD_BLOCKS = 8
"""Extra distinct blocks a flooding proposer signs for each round it proposes."""


class Adversary:
    def __init__(self, sim: Simulation, node: SimNode, behaviour: str) -> None:
        self.sim, self.node, self.behaviour = sim, node, behaviour
        self.done: set[tuple[int, int, int]] = set()
        self.replaced: dict[tuple[int, int, int], bytes] = {}
        self.precommitted: dict[int, tuple[int, bytes]] = {}
        rng = sim.rng
        self.clock_offset_ms = (rng.choice((-1, 1)) * sim.skew_ms) if behaviour == SKEW else 0

    # --- what the node itself does differently ---

    def block_txs(self) -> tuple[bytes, ...]:
        return (INVALID_TX,) if self.behaviour == INVALID else (self.sim.rng.randbytes(8),)

    def finds_every_block_valid(self) -> bool:
        return self.behaviour == INVALID

    # --- what leaves it ---

    def outgoing(self, kind: str, payload: bytes, destination: int | None) -> Outgoing:
        if kind == KIND_VOTE:
            signed = self.sim.decode_vote(payload)
            index = self.my_index(signed.vote.height)
            if index is not None and signed.validator_index == index:
                return self.own_vote(signed.vote, index, payload, destination)
        elif kind == KIND_PROPOSAL:
            proposal_signed, _ = decode_proposal_message(payload)
            index = self.my_index(proposal_signed.proposal.height)
            if index is not None and proposal_signed.validator_index == index:
                return self.own_proposal(proposal_signed, index, payload, destination)
        return [(destination, kind, payload)]

    def my_index(self, height: int) -> int | None:
        return self.sim.membership.validators_at(height).index_of(self.node.key.public_key)

    def once(self, height: int, round_: int, what: int) -> bool:
        key = (height, round_, what)
        if key in self.done:
            return False
        self.done.add(key)
        return True

    def own_vote(self, vote: Vote, index: int, payload: bytes, destination: int | None) -> Outgoing:
        out: Outgoing = []
        if self.behaviour == LOCK_BREAK:
            payload = self.break_lock(vote, index, payload)
        out.append((destination, KIND_VOTE, payload))
        first = self.once(vote.height, vote.round, vote.vote_type)
        if not first:
            return out
        if self.behaviour == DOUBLE_VOTE:
            other = NIL if vote.block_hash != NIL and self.sim.rng.random() < 0.5 else self.sim.rng.randbytes(32)
            self.sim.note_double_vote(self.node.index, vote, other)
            twin = sign_vote(self.node.key, CHAIN_ID, replace(vote, block_hash=other), index).encode()
            out.append((None, KIND_VOTE, twin))
        elif vote.vote_type == VOTE_PREVOTE and self.behaviour == VOTE_FLOOD:
            out.extend((None, KIND_VOTE, p) for p in self.vote_flood(vote, index))
        elif vote.vote_type == VOTE_PREVOTE and self.behaviour in (WRONG_PROPOSER, PROPOSAL_FLOOD):
            out.extend((None, KIND_PROPOSAL, p) for p in self.proposals_out_of_turn(vote.height, vote.round, index))
        return out

    def own_proposal(self, signed: SignedProposal, index: int, payload: bytes, destination: int | None) -> Outgoing:
        proposal = signed.proposal
        key = (proposal.height, proposal.round, 0)
        if self.behaviour == FAKE_POL and proposal.round >= 1:
            if key not in self.replaced:
                fake = replace(proposal, pol_round=self.sim.rng.randrange(proposal.round))
                self.replaced[key] = self.sign_new_block(fake, index)
                self.sim.fake_pols += 1
            return [(destination, KIND_PROPOSAL, self.replaced[key])]
        if destination is not None or not self.once(proposal.height, proposal.round, 0):
            return [(destination, KIND_PROPOSAL, payload)]
        if self.behaviour == EQUIVOCATE:
            twin = self.sign_new_block(proposal, index)
            peers = [n.index for n in self.sim.nodes if n.index != self.node.index]
            return [(peer, KIND_PROPOSAL, payload if self.sim.rng.random() < 0.5 else twin) for peer in peers]
        if self.behaviour == PROPOSAL_FLOOD:
            flood = [(None, KIND_PROPOSAL, self.sign_new_block(proposal, index)) for _ in range(FLOOD_BLOCKS)]
            return [(None, KIND_PROPOSAL, payload), *flood]
        return [(None, KIND_PROPOSAL, payload)]

    # --- the attacks ---

    def sign_new_block(self, proposal: Proposal, index: int) -> bytes:
        """`proposal` for a new block of its height, validly signed."""
        block, raw = build_block(
            self.node.chain, height=proposal.height, time_ms=self.sim.wall_clock(self.node),
            txs=(self.sim.rng.randbytes(8),), proposer=self.node.key.public_key, membership=self.sim.membership,
        )
        ours = replace(proposal, block_hash=block.compute_hash(), time_ms=block.header.time_ms)
        return encode_proposal_message(sign_proposal(self.node.key, CHAIN_ID, ours, index), raw)

    def proposals_out_of_turn(self, height: int, round_: int, index: int) -> list[bytes]:
        """Proposals for rounds this validator does not propose: the next two (WRONG_PROPOSER), or every
        round in the window and beyond (PROPOSAL_FLOOD)."""
        validators = self.sim.membership.validators_at(height)
        last = round_ + (2 if self.behaviour == WRONG_PROPOSER else MAX_ROUNDS_AHEAD + 2)
        payloads = []
        for r in range(round_, last + 1):
            if compute_proposer(validators, height, r) == index:
                continue
            template = Proposal(height=height, round=r, block_hash=NIL, pol_round=-1, time_ms=0)
            payloads.append(self.sign_new_block(template, index))
        return payloads

    def vote_flood(self, vote: Vote, index: int) -> list[bytes]:
        """Votes for random values in near and far future rounds of this height and in the next height."""
        rng = self.sim.rng
        slots = [(vote.height, vote.round + d) for d in (1, 2, MAX_ROUNDS_AHEAD, MAX_ROUNDS_AHEAD + 3, 100)]
        slots += [(vote.height + 1, r) for r in (0, 1, 2)]
        payloads = []
        for height, round_ in slots:
            next_index = self.my_index(height)
            if next_index is None:
                continue
            for vote_type in (VOTE_PREVOTE, VOTE_PRECOMMIT):
                fake = Vote(vote_type=vote_type, height=height, round=round_, block_hash=rng.randbytes(32))
                payloads.append(sign_vote(self.node.key, CHAIN_ID, fake, next_index).encode())
        return payloads

    def break_lock(self, vote: Vote, index: int, payload: bytes) -> bytes:
        """Precommit a value (the one its engine precommits, or, instead of nil, the round's proposal or a
        value no one proposed); in every later round of the height, vote for another value (the round's
        proposal, or one no one proposed), where a validator locked on the first must vote it or nil."""
        key = (vote.height, vote.round, vote.vote_type)
        if key in self.replaced:
            return self.replaced[key]
        locked = self.precommitted.get(vote.height)
        replacement = payload
        proposals = self.round_proposals(vote.height, vote.round)
        if locked is None and vote.vote_type == VOTE_PRECOMMIT:
            value = vote.block_hash or (proposals[0] if proposals else self.sim.rng.randbytes(32))
            self.precommitted[vote.height] = (vote.round, value)
            if value != vote.block_hash:
                replacement = sign_vote(self.node.key, CHAIN_ID, replace(vote, block_hash=value), index).encode()
        elif locked is not None and vote.round > locked[0]:
            others = [value for value in proposals if value != locked[1]]
            other = others[0] if others else self.sim.rng.randbytes(32)
            self.sim.lock_breaks += 1
            replacement = sign_vote(self.node.key, CHAIN_ID, replace(vote, block_hash=other), index).encode()
        self.replaced[key] = replacement
        return replacement

    def round_proposals(self, height: int, round_: int) -> list[bytes]:
        state = self.node.engine.state if self.node.engine is not None else None
        if state is None or state.height != height:
            return []
        return [received.proposal.block_hash for received in state.get_proposals(round_)]
