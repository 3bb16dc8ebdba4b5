"""The consensus engine: the Tendermint core (chainnode.consensus) run over verified peer messages.

Theory of operation. The engine is synchronous and does no I/O of its own: the node's event loop calls
it with a peer's message (`receive_vote`, `receive_proposal`, `note_status`), a fired timer
(`on_timeout`), the answer to a job it asked for (`on_built`, `on_verdict`), or a new head
(`prepare_height`, `start`), and it answers through two ports: `EngineApp` (what it reads of the node:
head, validator sets, clock, block decoding) and `EngineHost` (what it asks the world to do: send,
schedule a timer, build / validate / commit a block in a worker, report evidence, sync). The same engine
runs in the node (chainnode/bft.py) and in the seeded simulator (tests/simulation), which injects a
simulated network and clock.

A peer message is checked cheapest first (screen.py), verified, and handed to the core at once, so its
verdict (ACCEPT, IGNORE, or a raised InvalidInput meaning REJECT) reaches the network while the sender is
known: a validator that floods proposals out of turn is scored down and banned. Nothing is queued for
peers, so nothing of theirs can crowd out the engine's own events; the engine's own events (its signed
messages delivered back to the core, built blocks, verdicts, timeouts) go through an unbounded internal
queue that is drained before every call returns, so none is ever dropped. Every message accepted for the
first time is relayed to the other peers once, and every status interval what peers at this height may
lack goes again (regossip.py): any connected quorum decides, whatever the shape of the partition.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Protocol

from chainnode.block import VOTE_PRECOMMIT, VOTE_PREVOTE, Block
from chainnode.consensus import core
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
    VoteEvent,
)
from chainnode.consensus.messages import (
    DuplicateVoteEvidence,
    Proposal,
    SignedProposal,
    decode_proposal_signing_bytes,
    sign_vote,
)
from chainnode.consensus.state import ConsensusState
from chainnode.driver.blocks import HeldBlock, ProposalBlocks
from chainnode.driver.gossip import (
    KIND_PROPOSAL,
    KIND_VOTE,
    PeerStatus,
    encode_proposal_message,
)
from chainnode.driver.regossip import Regossip
from chainnode.driver.screen import MessageScreen
from chainnode.driver.signer import WalSigner
from chainnode.driver.stash import Stash
from chainnode.errors import ChainError, InvalidInput
from chainnode.validators import ValidatorSet
from network.verdict import Verdict

log = logging.getLogger("chainnode.bft")

KEEP_ROUNDS: Final = 2
"""Rounds before the current one whose proposal blocks are kept (besides the locked and valid values)."""


class EngineApp(Protocol):
    """What the engine reads from its node. Every call is synchronous and cheap."""

    def head_height(self) -> int: ...

    def validators_at(self, height: int) -> ValidatorSet: ...

    def now_ms(self) -> int:
        """Wall-clock time: block times and the timeliness of proposals."""
        ...

    def decode_block(self, raw: bytes) -> Block:
        """Raises InvalidInput."""
        ...

    def verify_signature(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        """Ed25519 verification of a vote's signature; the node's answers from its cache of consensus
        signatures it verified before (`crypto.VerifiedSignatures`)."""
        ...


class EngineHost(Protocol):
    """What the engine asks of the world. Every call returns at once; jobs answer through the engine."""

    def broadcast(self, kind: str, payload: bytes, *, exclude: bytes | None = None,
                  origin: bytes | None = None) -> None:
        """Send to every peer but `exclude`. `origin`: the key of the node that sent this message to all its
        peers first (a vote's signer, a proposal's proposer); peers whose status lists a link with it have it
        from there and may be skipped (docs/consensus.md, "Relaying")."""
        ...

    def send(self, peer: bytes, kind: str, payload: bytes) -> None: ...

    def schedule(self, delay_ms: int, event: TimeoutEvent) -> None:
        """Call `engine.on_timeout(event)` after `delay_ms` of monotonic time."""
        ...

    def build_block(self, height: int, round_: int) -> None:
        """Build a block for `height`; answer `engine.on_built`."""
        ...

    def validate_block(self, height: int, block_hash: bytes, block: Block) -> None:
        """Validate (re-execute) `block`; answer `engine.on_verdict`."""
        ...

    def commit_block(self, decision: Decide, block: Block, executed: Any | None) -> None:
        """Commit the decided block (validating it first if `executed` is None), then call
        `engine.prepare_height`; on failure, fetch the chain from peers."""
        ...

    def report_evidence(self, evidence: DuplicateVoteEvidence) -> None: ...

    def request_sync(self) -> None:
        """Peers have blocks this node lacks (a decided block not at hand): fetch them."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineSettings:
    chain_id: str
    timeouts: Timeouts
    time_precision_ms: int
    """Proposer-based timestamps: how far a fresh proposal's block time may be from our clock."""
    message_delay_ms: int
    equivocate: bool = False
    """Test fault (double-signing prevotes); refused by the config loader outside test builds."""


class ConsensusEngine:
    """Consensus for one node: the core's state, the proposal blocks, the stash and the gossip policy."""

    def __init__(
        self, *, app: EngineApp, host: EngineHost, signer: WalSigner, settings: EngineSettings
    ) -> None:
        self.app, self.host, self.signer, self.settings = app, host, signer, settings
        self.chain_id = settings.chain_id
        self.state: ConsensusState | None = None
        self.height = app.head_height() + 1
        self.deciding: Decide | None = None
        self.blocks = ProposalBlocks()
        self.stash = Stash()
        self.screen = MessageScreen(
            chain_id=settings.chain_id, head_height=app.head_height, validators_at=app.validators_at,
            now_ms=app.now_ms, decode_block=app.decode_block, blocks=self.blocks,
            time_precision_ms=settings.time_precision_ms, message_delay_ms=settings.message_delay_ms,
            verify_signature=app.verify_signature,
        )
        self.regossip = Regossip()
        self.round_started_ms = 0
        self._own: list[tuple[str, bytes]] = []
        self._pending: deque[Event] = deque()
        self._draining = False

    # --- heights -------------------------------------------------------------------------------------

    def prepare_height(self) -> str | None:
        """Forget the finished height and get ready for head + 1; say why to start it now, or None."""
        self.state = None
        self.deciding = None
        self._own = []
        self._pending.clear()
        self.height = self.app.head_height() + 1
        self.blocks.prune(height=self.height)
        self.stash.prune_below(self.height)
        self.screen.forget_below(self.height)
        self.regossip.forget(below_height=self.height)
        if self.signer.compute_resume(self.height) is not None:
            return "this node signed for the height before it restarted"
        first = self.stash.first(self.height)
        if first is not None:
            return f"peers are at the height: {type(first).__name__}"
        return None

    def is_waiting(self) -> bool:
        """True while the next height has not started (no work yet) and nothing is being committed."""
        return self.state is None and self.deciding is None

    def start(self, reason: str) -> bool:
        """Start the core at head + 1 (or resume where the WAL says this node was). False if it runs."""
        if not self.is_waiting() or self.height != self.app.head_height() + 1:
            return False
        height = self.height
        log.debug("starting height %d: %s", height, reason)
        validators = self.app.validators_at(height)
        now = self.app.now_ms()
        resume = self.signer.compute_resume(height)
        step = core.start_height(
            height=height,
            validators=validators,
            my_index=validators.index_of(self.signer.key.public_key),
            timeouts=self.settings.timeouts,
            now_ms=now,
            resume=resume,
        )
        self.state = step.state
        self.round_started_ms = now
        if resume is not None:
            log.info("resuming height %d at round %d (%s step) after a restart", height, resume.round,
                     resume.step.name.lower())
            self._resend_signed(height)
        self._perform(step.effects, now)
        for event in self.stash.pop(height):
            self._pending.append(event)
        self._drain()
        return True

    def status(self) -> PeerStatus:
        state = self.state
        return PeerStatus(
            self.app.head_height(), 0 if state is None else state.height, -1 if state is None else state.round
        )

    # --- peer input ----------------------------------------------------------------------------------

    def receive_vote(self, peer: bytes, payload: bytes) -> Verdict:
        """Screen, relay and use a peer's vote. Raises InvalidInput ([REJECT]) for a bad one."""
        signed = self.screen.screen_vote(payload, deciding=self._deciding())
        if signed is None:
            return Verdict.IGNORE
        height = signed.vote.height
        signer = self._validator_key(height, signed.validator_index)
        self.host.broadcast(KIND_VOTE, payload, exclude=peer, origin=signer)
        return self._deliver(height, VoteEvent(signed))

    def receive_proposal(self, peer: bytes, payload: bytes) -> Verdict:
        """Screen (the block is decoded only after every cheaper check), keep, relay and use a peer's
        proposal. Raises InvalidInput ([REJECT]) for a bad one."""
        screened = self.screen.screen_proposal(payload, deciding=self._deciding())
        if screened is None:
            return Verdict.IGNORE
        proposal = screened.signed.proposal
        self.regossip.remember_proposal(proposal.height, proposal.round, payload)
        self.host.broadcast(KIND_PROPOSAL, payload, exclude=peer,
                            origin=self._validator_key(proposal.height, screened.proposer))
        return self._deliver(proposal.height, ProposalEvent(screened.signed, timely=screened.timely))

    def note_status(self, peer: bytes, status: PeerStatus) -> None:
        self.regossip.note_status(peer, status)

    def forget_peer(self, peer: bytes) -> None:
        self.regossip.forget_peer(peer)

    def on_peer_connected(self, peer: bytes) -> None:
        """A new link: send what this node signed at the current height."""
        for kind, payload in self._own:
            self.host.send(peer, kind, payload)

    def _validator_key(self, height: int, index: int) -> bytes:
        """The key of validator `index` of `height`'s set (the screen checked that the index is in it)."""
        return self.app.validators_at(height).validators[index].public_key

    # --- internal input ------------------------------------------------------------------------------

    def on_timeout(self, event: TimeoutEvent) -> None:
        if self.state is not None and event.height == self.state.height:
            self._pending.append(event)
            self._drain()

    def on_built(self, height: int, round_: int, block: Block, raw: bytes, executed: Any) -> None:
        """The block this node asked to build for (height, round_)."""
        if self.state is None or height != self.state.height:
            return
        block_hash = block.compute_hash()
        self.blocks.add(height, round_, block_hash, HeldBlock(block, raw), force=True)
        self.blocks.set_executed(height, block_hash, executed)
        log.info("proposing block %d round %d with %d txs", height, round_, len(block.txs))
        self._pending.append(ProposalReady(height, round_, block_hash))
        self._drain()

    def on_verdict(self, height: int, block_hash: bytes, executed: Any | None) -> None:
        """The validation this node asked for: `executed` is the executed block, None if it is invalid."""
        if self.state is None or height != self.state.height:
            return  # a verdict for a finished height
        if executed is not None:
            self.blocks.set_executed(height, block_hash, executed)
        self._pending.append(BlockVerdict(block_hash, executed is not None))
        self._drain()

    def tick(self) -> None:
        """Every status interval: send again what peers at this height may lack (regossip.py)."""
        state = self.state
        if state is None or self.deciding is not None:
            return
        stale = self.app.now_ms() - self.round_started_ms > self.settings.timeouts.propose_ms
        for peer, kind, payload in self.regossip.compute_sends(state, self._own, stale=stale):
            if peer is None:
                self.host.broadcast(kind, payload)
            else:
                self.host.send(peer, kind, payload)

    # --- stepping the core ---------------------------------------------------------------------------

    def _deliver(self, height: int, event: ProposalEvent | VoteEvent) -> Verdict:
        """Hand a verified peer message to the core now, or stash it for its height."""
        state = self.state
        if state is not None and height == state.height:
            if self.deciding is not None:
                return Verdict.IGNORE  # [IGNORE] this height is decided; relayed all the same
            verdict = self._step(event, from_peer=True)
            self._drain()
            return verdict
        self.stash.add(height, event)
        if self.is_waiting() and height == self.height:
            self.start(f"a peer is at height {height}: {type(event).__name__}")
        return Verdict.ACCEPT

    def _drain(self) -> None:
        """Run the engine's own queued events until none is left (re-entrant calls only queue)."""
        if self._draining:
            return
        self._draining = True
        try:
            while self._pending and self.state is not None and self.deciding is None:
                self._step(self._pending.popleft(), from_peer=False)
        finally:
            self._draining = False

    def _step(self, event: Event, *, from_peer: bool) -> Verdict:
        state = self.state
        if state is None:
            return Verdict.IGNORE
        now = self.app.now_ms()
        try:
            result = core.step(state, event, now_ms=now)
        except ChainError as exc:
            if from_peer:
                raise
            log.error("consensus refused this node's own event %s: %s", type(event).__name__, exc)
            return Verdict.IGNORE
        self.state = result.state
        if result.state.round != state.round:
            self._round_ended(state)
            self.round_started_ms = now
            self._forget_old_rounds(result.state)
        self._perform(result.effects, now)
        return Verdict(result.verdict.value)  # the core's ACCEPT / IGNORE

    def _forget_old_rounds(self, state: ConsensusState) -> None:
        """Blocks of rounds long past cannot be decided any more unless they are the locked or valid
        value (which may be proposed again): drop the rest, so a height that runs many rounds holds a
        bounded number of blocks. A late decision on a dropped block fetches it by block sync."""
        keep_from = state.round - KEEP_ROUNDS
        keep = {value for value in (state.locked_value, state.valid_value) if value is not None}
        self.blocks.prune(height=state.height, keep_from_round=keep_from, keep_hashes=keep)
        self.regossip.forget(below_height=state.height, height=state.height, below_round=keep_from)

    def _round_ended(self, state: ConsensusState) -> None:
        """A round this node proposed in ended without a decision: say what the others made of it."""
        if not core.is_proposer(state, state.round):
            return
        prevotes = state.get_votes(state.round, VOTE_PREVOTE)
        log.warning(
            "height %d round %d: this node proposed, but its block was not decided (%d of %d voting power "
            "prevoted nil); if this repeats, check this node's clock against the others' (proposals more than "
            "%d ms off are refused) and its log for errors",
            state.height, state.round, prevotes.get_power(b""), state.validators.total_power,
            self.settings.time_precision_ms,
        )

    def _perform(self, effects: Sequence[Effect], now: int) -> None:
        for effect in effects:
            match effect:
                case ScheduleTimeout(kind, height, round_, at_ms):
                    # the delay, not the deadline: timers run on monotonic time, so a wall-clock jump
                    # cannot stretch or shrink a timeout
                    self.host.schedule(max(0, at_ms - now), TimeoutEvent(kind, height, round_))
                case SendVote(vote):
                    self._send_vote(vote)
                case SendProposal(proposal):
                    self._send_proposal(proposal)
                case RequestProposal(height, round_):
                    self._request_proposal(height, round_)
                case RequestVerdict(block_hash):
                    self._request_verdict(block_hash)
                case Decide():
                    self._decide(effect)
                    return  # the height is over; what follows belongs to it
                case ReportEvidence(evidence):
                    self.host.report_evidence(evidence)

    # --- effects -------------------------------------------------------------------------------------

    def _send_vote(self, vote: Any) -> None:
        index = None if self.state is None else self.state.my_index
        if index is None:
            return
        if vote.vote_type == VOTE_PRECOMMIT and vote.block_hash:
            # a precommit locks the value: keep its block with the WAL, so that after a restart (which
            # resumes the lock) this node can propose it again in a later round instead of nothing. Durable
            # before the precommit leaves, not in the background: if locked nodes lose the block in crashes,
            # no one can propose the value they are locked on, while they prevote nil on any other value
            # without a newer proof of lock. Written in the background (tried), the simulator's
            # flapping-crash scenario stalled so (test_simulation_long, seed 1085).
            held = self.blocks.get(vote.height, vote.block_hash)
            if held is not None:
                self.signer.wal.save_block(vote.block_hash, held.raw)
        signed = self.signer.sign_vote(vote, index)
        if signed is None:
            return
        payload = signed.encode()
        self._own.append((KIND_VOTE, payload))
        self.screen.mark_seen(vote.height, payload)
        self.host.broadcast(KIND_VOTE, payload)
        self._pending.append(VoteEvent(signed))
        if self.settings.equivocate and vote.vote_type == VOTE_PREVOTE:
            forged = sign_vote(self.signer.key, self.chain_id, replace(vote, block_hash=bytes(31) + b"\x01"), index)
            log.warning("misbehaving on purpose: double-signing a prevote at height %d round %d", vote.height,
                        vote.round)
            self.host.broadcast(KIND_VOTE, forged.encode())

    def _send_proposal(self, proposal: Proposal) -> None:
        index = None if self.state is None else self.state.my_index
        held = self._recover_block(proposal.height, proposal.round, proposal.block_hash)
        if index is None or held is None:
            log.error("cannot propose: the block %s is not at hand", proposal.block_hash.hex()[:16])
            return
        self.signer.wal.save_block(proposal.block_hash, held.raw)
        signed = self.signer.sign_proposal(proposal, index)
        if signed is None:
            return
        if signed.proposal.block_hash != proposal.block_hash:  # signed another block before a crash
            held = self._recover_block(proposal.height, signed.proposal.round, signed.proposal.block_hash)
            if held is None:
                log.error("cannot propose again: the block signed before is lost")
                return
        self._publish_proposal(signed, held)
        if signed.proposal.pol_round >= 0:
            # Algorithm 1 sets no propose timeout for the proposer, which accepts its own proposal at once.
            # A re-proposed value needs its proof-of-lock votes, which a restart loses (the lock itself is
            # restored from the WAL): without this timeout such a proposer would never prevote, and its
            # power could hold the round forever. CometBFT's proposer sets the timeout too.
            kind = TimeoutKind.PROPOSE
            self.host.schedule(
                self.settings.timeouts.compute_timeout(kind, proposal.round),
                TimeoutEvent(kind, proposal.height, proposal.round),
            )

    def _publish_proposal(self, signed: SignedProposal, held: HeldBlock) -> None:
        proposal = signed.proposal
        self.blocks.add(proposal.height, proposal.round, proposal.block_hash, held, force=True)
        payload = encode_proposal_message(signed, held.raw)
        self._own.append((KIND_PROPOSAL, payload))
        self.regossip.remember_proposal(proposal.height, proposal.round, payload)
        self.screen.mark_seen(proposal.height, signed.encode())
        self.host.broadcast(KIND_PROPOSAL, payload)
        self._pending.append(ProposalEvent(signed, timely=True))

    def _recover_block(self, height: int, round_: int, block_hash: bytes) -> HeldBlock | None:
        held = self.blocks.get(height, block_hash)
        if held is None:
            raw = self.signer.wal.load_block(block_hash)
            if raw is None:
                return None
            try:
                block = self.app.decode_block(raw)
            except InvalidInput as exc:
                log.error("the saved proposal block %s is damaged: %s", block_hash.hex()[:16], exc)
                return None
            held = HeldBlock(block, raw)
            self.blocks.add(height, round_, block_hash, held, force=True)
        return held

    def _request_proposal(self, height: int, round_: int) -> None:
        earlier = self.signer.get_signed(height, round_, "proposal")
        if earlier is not None:  # proposed this round before a crash: the same block again, never another
            proposal = decode_proposal_signing_bytes(self.chain_id, earlier)
            if self._recover_block(height, round_, proposal.block_hash) is not None:
                self._pending.append(ProposalReady(height, round_, proposal.block_hash))
                return
        self.host.build_block(height, round_)

    def _request_verdict(self, block_hash: bytes) -> None:
        state = self.state
        if state is None:
            return
        if self.blocks.get_executed(state.height, block_hash) is not None:
            self._pending.append(BlockVerdict(block_hash, True))
            return
        held = self.blocks.get(state.height, block_hash)
        if held is None:  # cannot happen: a proposal reaches the core only with its block kept
            log.error("no block %s at hand to validate; waiting for it", block_hash.hex()[:16])
            return
        self.host.validate_block(state.height, block_hash, held.block)

    def _decide(self, decision: Decide) -> None:
        self.deciding = decision
        held = self.blocks.get(decision.height, decision.block_hash)
        if held is None:
            log.warning("decided block %d is not at hand; fetching it from peers", decision.height)
            self.host.request_sync()
            return
        self.host.commit_block(decision, held.block, self.blocks.get_executed(decision.height, decision.block_hash))

    def _resend_signed(self, height: int) -> None:
        """After a restart, send again what was signed for `height` before the crash (the same bytes, so
        the same deterministic signatures), so peers that missed it are not left waiting."""
        state = self.state
        if state is None or state.my_index is None:
            return
        for record in list(self.signer.records):
            if record.height != height:
                continue
            try:
                signed = self.signer.resign(record, state.my_index)
            except InvalidInput:
                continue
            if isinstance(signed, SignedProposal):
                held = self._recover_block(height, signed.proposal.round, signed.proposal.block_hash)
                if held is not None:
                    self._publish_proposal(signed, held)
                continue
            self._own.append((KIND_VOTE, signed.encode()))
            self.host.broadcast(KIND_VOTE, signed.encode())
            self._pending.append(VoteEvent(signed))

    # --- checks --------------------------------------------------------------------------------------

    def _deciding(self) -> tuple[int, int] | None:
        state = self.state
        return None if state is None else (state.height, state.round)
