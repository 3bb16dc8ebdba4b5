"""The BFT driver: runs the Tendermint core (chainnode.consensus) for a node over the peer network.

Theory of operation. One task, the consensus loop, owns the core's state: it takes events from a
bounded queue (verified peer messages, fired timers, internal notices) and performs the effects the core
returns, in order. Before it signs a proposal or vote it asks the sign guard and appends the record to
the WAL with fsync; then it signs, broadcasts, and delivers the message back to the core. Blocks are
built and validated (re-executed) in worker threads, and a decided block is committed with one LevelDB
batch. A height starts once there is something to decide (pending transactions, a peer's message for the
height, or the empty-block interval), so an idle network does not spin rounds.

Peers' messages arrive through `on_message` (network tasks): they are decoded and signature-checked
there, so a malformed or forged message is rejected (and its sender scored down) before it costs the
consensus loop anything. Messages for a future height are kept in a bounded stash. A node that is behind
(it restarted, was partitioned, or joined late) learns it from peers' status messages and fetches the
missing blocks with their commits, verifies and applies them, then rejoins consensus.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from chainnode import codec
from chainnode.block import VOTE_PREVOTE, Block, decode_block
from chainnode.config import NodeConfig
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
    Timeouts,
    VoteEvent,
)
from chainnode.consensus.guard import (
    GuardDecision,
    SignGuard,
    SignIntent,
    compute_proposal_intent,
    compute_resume,
    compute_vote_intent,
)
from chainnode.consensus.messages import (
    DuplicateVoteEvidence,
    SignedProposal,
    SignedVote,
    decode_proposal_signing_bytes,
    decode_signed_proposal,
    decode_signed_vote,
    decode_vote_signing_bytes,
    sign_proposal,
    sign_vote,
    verify_signed_proposal,
    verify_signed_vote,
)
from chainnode.consensus.state import ConsensusState
from chainnode.errors import ChainError, InvalidBlock, InvalidCommit, InvalidInput, InvalidSignature
from chainnode.membership import MembershipTracker
from chainnode.node import Node
from chainnode.producer import ProposedBlock
from chainnode.sync import KIND_BLOCK, BlockSync, serve_blocks
from chainnode.tx import TxBody, sign_transaction
from chainnode.wal import SignLog, SignRecord
from contracts import governance
from network.config import DEFAULT_LIMITS, NetworkConfig
from network.network import Network
from network.verdict import Verdict

log = logging.getLogger("chainnode.bft")

KIND_TXS: Final = "txs"
KIND_PROPOSAL: Final = "proposal"
KIND_VOTE: Final = "vote"
KIND_STATUS: Final = "status"
LIMITS: Final = {**DEFAULT_LIMITS, KIND_TXS: 16 * 1024 * 1024}
MAX_STASH_HEIGHTS: Final = 2
MAX_STASH_PER_HEIGHT: Final = 4096
EVENT_QUEUE: Final = 10_000
MAX_BLOCK_CACHE: Final = 16


@dataclass(frozen=True, slots=True)
class _HeightReady:
    """Internal: start `height` now: there is work for it."""

    height: int
    reason: str


@dataclass(frozen=True, slots=True)
class _Resync:
    """Internal: block sync moved the head; restart consensus at the new height."""


_Item = Event | _HeightReady | _Resync


class BftDriver:
    """Consensus for one node: owns the core state, the WAL and the network handler side."""

    def __init__(self, node: Node, *, clock_ms: Any = None) -> None:
        self.node = node
        self.config: NodeConfig = node.config
        self.chain_id = node.genesis.chain_id
        self.timeouts = Timeouts(
            propose_ms=self.config.timeout_propose_ms,
            propose_delta_ms=self.config.timeout_propose_delta_ms,
            prevote_ms=self.config.timeout_prevote_ms,
            prevote_delta_ms=self.config.timeout_prevote_delta_ms,
            precommit_ms=self.config.timeout_precommit_ms,
            precommit_delta_ms=self.config.timeout_precommit_delta_ms,
            max_ms=self.config.timeout_max_ms,
        )
        self.wal = SignLog(node.layout.wal)
        self.guard = SignGuard.from_records(self.wal.records)
        self.network = Network(
            NetworkConfig(
                chain_id=self.chain_id,
                genesis_hash=node.genesis.hash,
                listen=self.config.p2p_listen,
                peers=tuple(self.config.peers),
                limits=LIMITS,
            ),
            node.node_key,
            is_allowed=self.is_allowed,
            handler=self,
        )
        # membership hook: dial targets and allowed links follow the on-chain roster (chainnode/membership.py)
        self.membership = MembershipTracker(node.store, self.network, own_key=node.node_key.public_key,
                                            dial=self.config.dial_roster)
        self.events: asyncio.Queue[_Item] = asyncio.Queue(EVENT_QUEUE)
        self.state: ConsensusState | None = None
        self.blocks: OrderedDict[bytes, Block] = OrderedDict()
        self.executed: OrderedDict[bytes, ProposedBlock] = OrderedDict()
        self.stash: dict[int, list[Event]] = {}
        self.own_messages: list[tuple[str, bytes]] = []
        self.pending_proposal: RequestProposal | None = None
        self.round_started_ms = 0
        self.last_commit_ms = 0
        self._sync_lock = asyncio.Lock()
        self.sync = BlockSync(node, self.network, lock=self._sync_lock, on_advanced=lambda: self._put(_Resync()))
        self._stopping = False
        self._tasks: set[asyncio.Task[Any]] = set()
        node.on_admitted = self._relay_txs
        node.consensus_status = self.status_json

    # --- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the peer listener and start dialing. Raises ListenError (a ConfigError) if the port is taken."""
        self.membership.refresh(self.node.head_height() + 1)  # membership hook: dial the roster from the start
        await self.network.start()
        log.info(
            "p2p listening on %s as %s; peers: %s",
            self.network.address,
            self.node.node_key.public_key.hex()[:16],
            ", ".join(self.config.peers) or "none",
        )

    async def run(self) -> None:
        """Run consensus, status and sync until `stop` (after `start`)."""
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._consensus_loop())
                group.create_task(self._status_loop())
                group.create_task(self.sync.run())
                group.create_task(self.network.wait_closed())  # a handler bug stops the network: surface it
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self.network.stop()
            self.wal.close()

    async def stop(self) -> None:
        """End every loop and close the peer links (the WAL keeps what a restart needs)."""
        self._stopping = True
        self.sync.stop()
        with contextlib.suppress(asyncio.QueueFull):
            self.events.put_nowait(_Resync())
        await self.network.stop()

    def is_allowed(self, key: bytes) -> bool:
        """Links are accepted from registered department nodes only (validators and observers)."""
        try:
            return governance.is_node_key(self.node.store, key, self.node.head_height() + 1)
        except InvalidInput:
            return False

    def status_json(self) -> dict[str, Any]:
        state = self.state
        return {
            "height": self.node.head_height(),
            "consensus_height": None if state is None else state.height,
            "round": None if state is None else state.round,
            "step": None if state is None else state.step.name.lower(),
            "peers": [
                {
                    "key": p.key.hex(),
                    "address": p.address,
                    "direction": p.direction.value,
                    "score": p.score,
                    "bytes_in": p.bytes_in,
                    "bytes_out": p.bytes_out,
                }
                for p in self.network.peers()
            ],
            "last_commit_ms": self.last_commit_ms or None,
        }

    # --- the consensus loop ------------------------------------------------------------------------

    async def _consensus_loop(self) -> None:
        await self._enter_height()
        while not self._stopping:
            item = await self.events.get()
            if self._stopping:
                break
            if isinstance(item, _Resync):
                await self._enter_height()
            elif isinstance(item, _HeightReady):
                if self.state is None and item.height == self.node.head_height() + 1:
                    await self._start_core(item.reason)
            elif self.state is None:
                await self._stash(item)
            else:
                await self._feed(item)

    async def _enter_height(self) -> None:
        """Prepare the next height; start the core now if there is work, else when work arrives."""
        self.state = None
        self.own_messages = []
        self.pending_proposal = None
        height = self.node.head_height() + 1
        self.membership.refresh(height)  # membership hook: after each commit or sync, follow the roster
        self.wal.compact(height)
        self._broadcast_status()
        if len(self.node.mempool):
            await self._start_core(f"{len(self.node.mempool)} transactions are pending")
        elif compute_resume(self.chain_id, self.wal.records, height) is not None:
            await self._start_core("this node signed for the height before it restarted")
        elif self.stash.get(height):
            await self._start_core(f"peers are at the height: {type(self.stash[height][0]).__name__}")
        else:
            self._wait_for_work(height)

    def _wait_for_work(self, height: int) -> None:
        """Start `height` once transactions are pending (after a block interval to gather more), or after
        the empty-block interval if empty blocks are configured. A peer's message for the height starts it
        earlier (see `_stash`)."""

        def waiting() -> bool:
            return self.node.head_height() + 1 == height and self.state is None and not self._stopping

        async def wait() -> None:
            waited_ms = 0
            while waiting():
                if len(self.node.mempool):
                    await asyncio.sleep(self.config.block_interval_ms / 1000)
                    self._put(_HeightReady(height, f"{len(self.node.mempool)} transactions are pending"))
                    return
                if self.config.create_empty_blocks and waited_ms >= self.config.empty_block_interval_ms:
                    self._put(_HeightReady(height, "the empty-block interval passed"))
                    return
                await self.node.wait_for_work(1.0)
                waited_ms += 1000

        self._spawn(wait())

    async def _start_core(self, reason: str) -> None:
        height = self.node.head_height() + 1
        log.debug("starting height %d: %s", height, reason)
        validators = self.node.validators_at(height)
        now = self.node.clock.now_ms()
        resume = compute_resume(self.chain_id, self.wal.records, height)
        step = core.start_height(
            height=height,
            validators=validators,
            my_index=validators.index_of(self.node.node_key.public_key),
            timeouts=self.timeouts,
            now_ms=now,
            resume=resume,
        )
        self.state = step.state
        self.round_started_ms = now
        self._broadcast_status()
        for old in [h for h in self.stash if h < height]:
            del self.stash[old]
        if resume is not None:
            log.info("resuming height %d at round %d after a restart", height, resume.round)
            self._resend_signed(height)
        await self._perform(step.effects)
        for event in self.stash.pop(height, []):
            await self._feed(event)

    async def _stash(self, event: Event) -> None:
        height = _event_height(event)
        head = self.node.head_height()
        if height is None or not head < height <= head + MAX_STASH_HEIGHTS:
            return
        bucket = self.stash.setdefault(height, [])
        if len(bucket) < MAX_STASH_PER_HEIGHT:
            bucket.append(event)
        if height == head + 1 and self.state is None:
            await self._start_core(f"a peer is at height {height}: {type(event).__name__}")

    async def _feed(self, event: Event) -> None:
        state = self.state
        if state is None:
            return
        height = _event_height(event)
        if height is not None and height != state.height:
            if height > state.height:
                await self._stash(event)
            return
        try:
            result = core.step(state, event, now_ms=self.node.clock.now_ms())
        except ChainError as exc:
            log.info("consensus refused a message: %s", exc.message)
            return
        self.state = result.state
        await self._perform(result.effects)

    async def _perform(self, effects: Sequence[Effect]) -> None:
        for effect in effects:
            match effect:
                case ScheduleTimeout(kind, height, round_, at_ms):
                    delay = max(0, at_ms - self.node.clock.now_ms()) / 1000
                    asyncio.get_running_loop().call_later(delay, self._put, TimeoutEvent(kind, height, round_))
                case SendVote(vote):
                    self._send_vote(vote)
                case SendProposal(proposal):
                    self._send_proposal(proposal)
                case RequestProposal():
                    await self._build_proposal(effect)
                case RequestVerdict(block_hash):
                    await self._judge(block_hash)
                case Decide():
                    await self._decide(effect)
                    return  # the height is over; what follows belongs to it
                case ReportEvidence(evidence):
                    await self._report(evidence)

    def _put(self, item: _Item) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self.events.put_nowait(item)

    # --- effects -----------------------------------------------------------------------------------

    def _approve_signature(self, intent: SignIntent) -> bytes | None:
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
            log.info(
                "not signing a %s for height %d round %d: already past it", intent.kind, intent.height, intent.round
            )
        else:
            log.warning(
                "already signed another %s for height %d round %d: sending that one again",
                intent.kind,
                intent.height,
                intent.round,
            )
        return earlier

    def _my_index(self) -> int | None:
        return None if self.state is None else self.state.my_index

    def _send_vote(self, vote: Any) -> None:
        index = self._my_index()
        if index is None:
            return
        approved = self._approve_signature(compute_vote_intent(self.chain_id, vote))
        if approved is None:
            return
        vote = decode_vote_signing_bytes(self.chain_id, approved)
        signed = sign_vote(self.node.node_key, self.chain_id, vote, index)
        payload = signed.encode()
        self.own_messages.append((KIND_VOTE, payload))
        self.network.broadcast(KIND_VOTE, payload)
        self._put(VoteEvent(signed))
        if self.config.misbehave == "double-sign" and vote.vote_type == 1:
            self._equivocate(vote, index)

    def _equivocate(self, vote: Any, index: int) -> None:
        """Test-only fault: sign a second, conflicting prevote for a random value (bypassing the guard)."""
        forged = sign_vote(self.node.node_key, self.chain_id, replace(vote, block_hash=os.urandom(32)), index)
        log.warning("misbehaving on purpose: double-signing a prevote at height %d round %d", vote.height, vote.round)
        self.network.broadcast(KIND_VOTE, forged.encode())

    def _send_proposal(self, proposal: Any) -> None:
        index = self._my_index()
        block = self.blocks.get(proposal.block_hash)
        if index is None or block is None:
            log.error("cannot propose: the block %s is not at hand", proposal.block_hash.hex()[:16])
            return
        self.wal.save_block(proposal.block_hash, block.encode())
        approved = self._approve_signature(compute_proposal_intent(self.chain_id, proposal))
        if approved is None:
            return
        proposal = decode_proposal_signing_bytes(self.chain_id, approved)
        block = self._recover_block(proposal.block_hash)
        if block is None:
            log.error("cannot propose again: the block signed before is lost")
            return
        signed = sign_proposal(self.node.node_key, self.chain_id, proposal, index)
        payload = codec.encode([signed.encode(), block.encode()])
        self.own_messages.append((KIND_PROPOSAL, payload))
        self.network.broadcast(KIND_PROPOSAL, payload)
        self._put(ProposalEvent(signed, timely=True))

    def _recover_block(self, block_hash: bytes) -> Block | None:
        block = self.blocks.get(block_hash)
        if block is None:
            raw = self.wal.load_block(block_hash)
            if raw is not None:
                block = decode_block(raw)
                self._remember(block_hash, block)
        return block

    async def _build_proposal(self, request: RequestProposal) -> None:
        earlier = self.guard.get_signed(request.height, request.round, "proposal")
        if earlier is not None:  # proposed this round before a crash: the same block again, never another
            proposal = decode_proposal_signing_bytes(self.chain_id, earlier)
            if self._recover_block(proposal.block_hash) is not None:
                self._put(ProposalReady(request.height, request.round, proposal.block_hash))
                return
        txs = self.node.take_proposal_txs()
        proposed = await asyncio.to_thread(self.node.build_proposal, txs, self.node.clock.now_ms())
        self._remember(proposed.block_hash, proposed.block, proposed)
        log.info("proposing block %d round %d with %d txs", request.height, request.round, len(txs))
        self._put(ProposalReady(request.height, request.round, proposed.block_hash))

    async def _judge(self, block_hash: bytes) -> None:
        if block_hash in self.executed:
            self._put(BlockVerdict(block_hash, True))
            return
        block = self.blocks.get(block_hash)
        if block is None:
            self._put(BlockVerdict(block_hash, False))
            return
        try:
            proposed = await asyncio.to_thread(self.node.validate_block, block)
        except (InvalidBlock, InvalidCommit) as exc:
            log.warning("proposed block %s is invalid: %s", block_hash.hex()[:16], exc.message)
            self._put(BlockVerdict(block_hash, False))
            return
        self._remember(block_hash, block, proposed)
        self._put(BlockVerdict(block_hash, True))

    async def _decide(self, decision: Decide) -> None:
        proposed = self.executed.get(decision.block_hash)
        if proposed is None:
            block = self.blocks.get(decision.block_hash)
            if block is None:
                log.warning("decided block %d is not at hand; fetching it from peers", decision.height)
                self.sync.wanted.set()
                return
            try:
                proposed = await asyncio.to_thread(self.node.validate_block, block)
            except (InvalidBlock, InvalidCommit) as exc:
                # More than 2/3 precommitted a block this node finds invalid: its state or code differs
                # from the others'. Never commit it; fetch the chain from peers, whose commits it verifies.
                log.error("the network decided block %d, which this node finds invalid: %s", decision.height,
                          exc.message)
                self.sync.wanted.set()
                return
        async with self._sync_lock:
            if self.node.head_height() + 1 != decision.height:
                return  # block sync got there first
            await asyncio.to_thread(self.node.commit_decided, proposed, decision.commit)
            await self.node.announce_commit(proposed)
        self.last_commit_ms = self.node.clock.now_ms()
        log.info(
            "committed block %d round %d hash %s txs %d signatures %d",
            decision.height,
            decision.round,
            decision.block_hash.hex()[:16],
            len(proposed.txs),
            len(decision.commit.signatures),
        )
        self.blocks.clear()
        self.executed.clear()
        self.wal.drop_blocks()
        await self._enter_height()

    async def _report(self, evidence: DuplicateVoteEvidence) -> None:
        vote_a, vote_b = evidence.vote_a, evidence.vote_b
        validators = self.node.validators_at(vote_a.vote.height)
        if vote_a.validator_index >= len(validators):
            return
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
            chain_id=self.chain_id,
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
            signer=self.node.node_key.public_key,
            nonce=os.urandom(16),
            expiry_height=self.node.head_height() + 1000,
        )
        await self.node.submit([sign_transaction(self.node.node_key, body).raw])

    def _remember(self, block_hash: bytes, block: Block, proposed: ProposedBlock | None = None) -> None:
        self.blocks[block_hash] = block
        if proposed is not None:
            self.executed[block_hash] = proposed
        for cache in (self.blocks, self.executed):
            while len(cache) > MAX_BLOCK_CACHE:
                cache.popitem(last=False)

    def _resend_signed(self, height: int) -> None:
        """After a restart, send again the proposal and votes signed for `height` before the crash (the
        same bytes, so the same deterministic signatures), so peers that missed them are not left waiting."""
        index = self._my_index()
        if index is None:
            return
        for record in self.wal.records:
            if record.height != height:
                continue
            try:
                if record.kind == "proposal":
                    proposal = decode_proposal_signing_bytes(self.chain_id, record.signing_bytes)
                    block = self._recover_block(proposal.block_hash)
                    if block is None:
                        continue
                    signed_proposal = sign_proposal(self.node.node_key, self.chain_id, proposal, index)
                    payload = codec.encode([signed_proposal.encode(), block.encode()])
                    self.own_messages.append((KIND_PROPOSAL, payload))
                    self.network.broadcast(KIND_PROPOSAL, payload)
                    self._put(ProposalEvent(signed_proposal, timely=True))
                    continue
                vote = decode_vote_signing_bytes(self.chain_id, record.signing_bytes)
            except InvalidInput:
                continue
            signed = sign_vote(self.node.node_key, self.chain_id, vote, index)
            self.own_messages.append((KIND_VOTE, signed.encode()))
            self.network.broadcast(KIND_VOTE, signed.encode())
            self._put(VoteEvent(signed))

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("consensus task failed", exc_info=task.exception())

    # --- gossip in and out -------------------------------------------------------------------------

    def _relay_txs(self, raws: list[bytes]) -> None:
        self.network.broadcast(KIND_TXS, codec.encode(raws))

    def _status_payload(self) -> bytes:
        """[committed height, height in consensus or 0]: peers start a height together and find laggards."""
        return codec.encode([self.node.head_height(), 0 if self.state is None else self.state.height])

    def _broadcast_status(self) -> None:
        self.network.broadcast(KIND_STATUS, self._status_payload())

    def _resend_own_messages(self) -> None:
        """Re-send what this node signed at the current height, which heals a link whose queue dropped it.

        Votes are small and go every status interval. A proposal carries its whole block, so it goes
        again only once the height has run longer than the propose timeout: until then a peer that has
        not voted is more likely still validating it than missing it.
        """
        state = self.state
        stale = self.node.clock.now_ms() - self.round_started_ms > self.config.timeout_propose_ms
        for kind, payload in self.own_messages[-8:]:
            if kind == KIND_VOTE:
                self.network.broadcast(kind, payload)
            elif stale and state is not None:  # the block only to validators that have not prevoted yet
                prevoted = state.votes.get((state.round, VOTE_PREVOTE))
                voters = set(prevoted.votes) if prevoted is not None else set()
                for index, validator in enumerate(state.validators.validators):
                    if index not in voters and index != state.my_index:
                        self.network.send(validator.public_key, kind, payload)

    async def _status_loop(self) -> None:
        while not self._stopping:
            self._broadcast_status()
            if self.state is not None:
                self._resend_own_messages()
            await asyncio.sleep(self.config.status_interval_ms / 1000)

    async def on_message(self, peer: bytes, kind: str, payload: bytes) -> Verdict:
        if kind == KIND_VOTE:
            signed = decode_signed_vote(payload)
            if not self._in_window(signed.vote.height):
                return Verdict.IGNORE  # [IGNORE] a past height, or too far ahead to matter yet
            self._check_vote(signed)
            await self.events.put(VoteEvent(signed))  # a full queue holds the peer back
            return Verdict.ACCEPT
        if kind == KIND_PROPOSAL:
            event = self._decode_proposal(payload)
            if event is None:
                return Verdict.IGNORE  # [IGNORE] a past height, or too far ahead to matter yet
            await self.events.put(event)
            return Verdict.ACCEPT
        if kind == KIND_TXS:
            raws = codec.decode(payload, max_size=LIMITS[KIND_TXS])
            if type(raws) is not list or not all(type(r) is bytes for r in raws):
                raise InvalidInput("a txs message is an array of transactions")
            await self.node.submit(raws, relay=False)
            return Verdict.ACCEPT
        if kind == KIND_STATUS:
            value = codec.decode(payload, max_size=LIMITS[KIND_STATUS])
            if type(value) is not list or len(value) != 2 or not all(type(v) is int for v in value):
                raise InvalidInput("a status message is [committed height, consensus height]")
            self.sync.note_peer_height(peer, value[0])
            head = self.node.head_height()
            if value[0] <= head and value[1] == head + 1 and self.state is None:
                self._put(_HeightReady(head + 1, "a peer started the height"))
            return Verdict.ACCEPT
        raise InvalidInput(f"unexpected message kind {kind!r}")

    def _in_window(self, height: int) -> bool:
        head = self.node.head_height()
        return head < height <= head + MAX_STASH_HEIGHTS

    def _check_vote(self, signed: SignedVote) -> None:
        height = signed.vote.height
        if not verify_signed_vote(self.chain_id, signed, self.node.validators_at(height)):
            raise InvalidSignature(f"vote for height {height} does not verify", field="signature")  # [REJECT]

    def _decode_proposal(self, payload: bytes) -> ProposalEvent | None:
        value = codec.decode(payload, max_size=LIMITS[KIND_PROPOSAL])
        if type(value) is not list or len(value) != 2 or not all(type(v) is bytes for v in value):
            raise InvalidInput("a proposal message is [signed proposal, block]")
        signed: SignedProposal = decode_signed_proposal(value[0])
        proposal = signed.proposal
        if not self._in_window(proposal.height):
            return None
        if not verify_signed_proposal(self.chain_id, signed, self.node.validators_at(proposal.height)):
            raise InvalidSignature("proposal signature does not verify", field="signature")  # [REJECT]
        block = decode_block(value[1], max_size=LIMITS[KIND_PROPOSAL])
        if block.compute_hash() != proposal.block_hash:
            raise InvalidBlock("the attached block is not the proposed one", field="block")  # [REJECT]
        self._remember(proposal.block_hash, block)
        now = self.node.clock.now_ms()
        precision, delay = self.config.time_precision_ms, self.config.message_delay_ms
        timely = now - precision - delay <= block.header.time_ms <= now + precision
        return ProposalEvent(signed, timely=timely)

    async def on_request(self, peer: bytes, kind: str, payload: bytes) -> bytes:
        if kind != KIND_BLOCK:
            raise InvalidInput(f"unexpected request kind {kind!r}")
        return serve_blocks(self.node, payload)

    def on_peer_connected(self, peer: bytes) -> None:
        self.network.send(peer, KIND_STATUS, self._status_payload())
        for kind, payload in self.own_messages:
            self.network.send(peer, kind, payload)

    def on_peer_disconnected(self, peer: bytes) -> None:
        self.sync.forget_peer(peer)


def _event_height(event: Event) -> int | None:
    if isinstance(event, ProposalEvent):
        return event.signed.proposal.height
    if isinstance(event, VoteEvent):
        return event.signed.vote.height
    if isinstance(event, TimeoutEvent):
        return event.height
    if isinstance(event, ProposalReady):
        return event.height
    return None
