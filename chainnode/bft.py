"""The BFT driver: runs the consensus engine (chainnode.driver) for a node over the peer network.

Theory of operation. The engine (driver/engine.py) holds the Tendermint core's state and decides what
to do; this module is its host: it hands it peers' messages as they arrive (each answered with a verdict
the network scores the peer by), fires its timers on the event loop's monotonic clock, runs the blocks it
asks for through the node in worker threads (build, validate, commit: one LevelDB batch per block), and
starts each height once there is something to decide (pending transactions, a peer's message for the
height, a restart mid-height, or the empty-block interval), so an idle network does not spin rounds.

A node that is behind (it restarted, was partitioned, or joined late) learns it from peers' status
messages and fetches the missing blocks with their commits (chainnode/sync.py); whenever the head moves,
by consensus or by sync, the engine is prepared for the next height.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
from collections.abc import Coroutine, Iterator
from dataclasses import replace
from typing import Any

from chainnode import faults
from chainnode.blob_fetcher import DeliveryFetcher, NodeDeliveryHost
from chainnode.blob_transfer import KIND_BLOB, BlobServer, DocumentQueries, NoDocuments, get_node_department
from chainnode.blobs import BlobStore
from chainnode.block import VOTE_PRECOMMIT, VOTE_PREVOTE, Block, decode_block
from chainnode.config import NodeConfig
from chainnode.consensus.events import Decide, TimeoutEvent, Timeouts
from chainnode.consensus.messages import DuplicateVoteEvidence
from chainnode.driver.engine import ConsensusEngine, EngineSettings
from chainnode.driver.evidence import compute_evidence_tx
from chainnode.driver.gossip import (
    KIND_PROPOSAL,
    KIND_STATUS,
    KIND_TXS,
    KIND_VOTE,
    LIMITS,
    decode_status,
    decode_txs_message,
    encode_status,
    has_from_origin,
    split_txs,
)
from chainnode.driver.relay import TxRelay
from chainnode.driver.signer import WalSigner
from chainnode.errors import ChainError, InvalidBlock, InvalidCommit, InvalidInput
from chainnode.limits import MAX_ENCODED_BLOCK
from chainnode.membership import MembershipTracker
from chainnode.metrics import PeerTraffic
from chainnode.node import Node
from chainnode.producer import ProposedBlock
from chainnode.state_sync import StateSync
from chainnode.sync import KIND_BLOCK, BlockSync, serve_blocks
from chainnode.sync_server import SYNC_KINDS, SyncServer
from chainnode.validators import ValidatorSet
from chainnode.wal import SignLog
from contracts import governance
from network.config import NetworkConfig
from network.errors import InvalidOutgoingMessage
from network.network import Network
from network.verdict import Verdict

__all__ = ["KIND_PROPOSAL", "KIND_STATUS", "KIND_TXS", "KIND_VOTE", "LIMITS", "BftDriver"]

log = logging.getLogger("chainnode.bft")


class _NodeApp:
    """The engine's view of the node (chainnode.driver.engine.EngineApp)."""

    def __init__(self, node: Node) -> None:
        self.node = node

    def head_height(self) -> int:
        return self.node.head_height()

    def validators_at(self, height: int) -> ValidatorSet:
        return self.node.validators_at(height)

    def now_ms(self) -> int:
        return self.node.clock.now_ms()

    def decode_block(self, raw: bytes) -> Block:
        return decode_block(raw, max_size=MAX_ENCODED_BLOCK)

    def verify_signature(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        return self.node.consensus_signatures.verify(public_key, message, signature)


class _MetricsProbe:
    """What scrapes and readiness checks read of the driver (chainnode.metrics.ConsensusProbe), from any thread."""

    def __init__(self, driver: BftDriver) -> None:
        self._driver = driver

    def peer_traffic(self) -> list[PeerTraffic]:
        return [PeerTraffic(key, i, o, up) for key, i, o, up in self._driver.network.peer_traffic()]

    def peer_department(self, key: bytes) -> str | None:
        try:
            with self._driver.node.store.snapshot() as snapshot:
                record = governance.member_record(snapshot, key)
        except (ChainError, RuntimeError):  # RuntimeError: plyvel's, once the store is closed at shutdown
            return None
        department = None if record is None else record.get("department")
        return department if isinstance(department, str) else None

    def consensus_round(self) -> int | None:
        state = self._driver.engine.state
        return None if state is None else state.round

    def sync_target(self) -> int | None:
        return self._driver.sync.target_height()

    def is_syncing(self) -> bool:
        return self._driver.sync.fetching

    def state_sync_progress(self) -> tuple[str, int, int] | None:
        state_sync = self._driver.sync.state_sync
        if state_sync is None or state_sync.phase not in ("blocks", "chunks"):
            return None
        return (state_sync.phase, *state_sync.progress)


class BftDriver:
    """Consensus for one node: the engine's host on the network, the event loop and the node."""

    def __init__(
        self, node: Node, *, documents: DocumentQueries | None = None, blobs: BlobStore | None = None
    ) -> None:
        """`documents`: the documents contract's queries (blob_parties, pending_deliveries); `blobs`: the
        home's blob store, if the caller opened it already (one instance per home and process)."""
        self.node = node
        self.config: NodeConfig = node.config
        self.chain_id = node.genesis.chain_id
        self.wal = SignLog(node.layout.wal)
        self.signer = WalSigner(chain_id=self.chain_id, key=node.node_key, wal=self.wal)
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
        # dial targets and allowed links follow the on-chain roster (chainnode/membership.py)
        self.membership = MembershipTracker(node.store, self.network, own_key=node.node_key.public_key,
                                            dial=self.config.dial_roster)
        self.engine = ConsensusEngine(
            app=_NodeApp(node),
            host=self,
            signer=self.signer,
            settings=EngineSettings(
                chain_id=self.chain_id,
                timeouts=Timeouts(
                    propose_ms=self.config.timeout_propose_ms,
                    propose_delta_ms=self.config.timeout_propose_delta_ms,
                    prevote_ms=self.config.timeout_prevote_ms,
                    prevote_delta_ms=self.config.timeout_prevote_delta_ms,
                    precommit_ms=self.config.timeout_precommit_ms,
                    precommit_delta_ms=self.config.timeout_precommit_delta_ms,
                    max_ms=self.config.timeout_max_ms,
                ),
                time_precision_ms=self.config.time_precision_ms,
                message_delay_ms=self.config.message_delay_ms,
                # a test fault: only with CHAINNODE_TEST_FAULTS naming it (the start is refused otherwise)
                equivocate=self.config.misbehave == "double-sign" and faults.is_enabled(faults.DOUBLE_SIGN, os.environ),
            ),
        )
        self.last_commit_ms = 0
        self._names_of: tuple[bytes, tuple[str, ...]] | None = None
        """(validator set hash, department per validator) for the status page's votes."""
        self._sync_lock = asyncio.Lock()
        self._executing: dict[int, int] = {}
        """Heights whose block this node is executing now (validations in flight), with how many."""
        self.sync = BlockSync(node, self.network, lock=self._sync_lock, on_advanced=self._on_head_moved,
                              is_executing=self.is_executing, executed=self.executed_block)
        self.tx_relay = TxRelay(is_pending=lambda raw: node.mempool.get_by_raw(raw) is not None,
                                send=self._relay_from_peer)
        """Peers' transactions, relayed at a later status tick if still pending (driver/relay.py)."""
        self.peer_links: dict[bytes, frozenset[bytes]] = {}
        """The linked peers each connected peer's last status listed; relays skip what a peer has from its own
        links (docs/consensus.md, "Relaying")."""
        self.sync.state_sync = StateSync(node, self.network, peer_heights=lambda: dict(self.sync.peer_heights))
        self.sync_server = SyncServer(node)
        self._init_blobs(documents or NoDocuments(), blobs)
        self._stopping = False
        self._stopped = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        node.on_admitted = self._relay_txs
        node.consensus_status = self.status_json
        node.metrics.consensus = _MetricsProbe(self)

    # --- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the peer listener and start dialing. Raises ListenError (a ConfigError) if the port is taken."""
        self.membership.refresh(self.node.head_height() + 1)  # dial the roster from the start
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
            self._enter_height()
            async with asyncio.TaskGroup() as group:
                group.create_task(self._status_loop())
                group.create_task(self.sync.run())
                group.create_task(self.deliveries.run())
                group.create_task(self._stopped.wait())
                group.create_task(self.network.wait_closed())  # a network bug: surface it
        finally:
            for timer in self._timers:
                timer.cancel()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self.network.stop()
            self.sync_server.close()
            self.wal.close()

    async def stop(self) -> None:
        """End every loop and close the peer links (the WAL keeps what a restart needs)."""
        self._stopping = True
        self.sync.stop()
        self.deliveries.stop()
        self._stopped.set()
        await self.network.stop()

    def is_allowed(self, key: bytes) -> bool:
        """Links are accepted from registered department nodes only (validators and observers)."""
        try:
            return governance.is_node_key(self.node.store, key, self.node.head_height() + 1)
        except InvalidInput:
            return False

    def status_json(self) -> dict[str, Any]:
        state = self.engine.state
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
            "votes": self._round_votes_json(),
        }

    def _validator_names(self, validators: ValidatorSet) -> tuple[str, ...]:
        """Each validator's department code (its key's first 16 hex digits if it has none), read from the store
        once per validator set, so the status page reads memory only while the set stays."""
        key = validators.compute_hash()
        if self._names_of is None or self._names_of[0] != key:
            height = self.node.head_height() + 1
            self._names_of = (key, tuple(
                get_node_department(self.node.store, v.public_key, height) or v.public_key.hex()[:16]
                for v in validators.validators))
        return self._names_of[1]

    def _round_votes_json(self) -> dict[str, Any] | None:
        """Who has voted in the round in progress, for an operator asking why the height does not move: the
        power behind prevotes and precommits, what a decision needs, and the validators not heard from."""
        state = self.engine.state
        if state is None:
            return None
        names = self._validator_names(state.validators)
        prevotes = state.get_votes(state.round, VOTE_PREVOTE)
        precommits = state.get_votes(state.round, VOTE_PRECOMMIT)
        heard = set(prevotes.votes) | set(precommits.votes)
        silent = [name for index, name in enumerate(names) if index not in heard]
        return {
            "round": state.round,
            "total_power": state.validators.total_power,
            "quorum_power": state.validators.total_power * 2 // 3 + 1,
            "prevote_power": prevotes.total_power,
            "precommit_power": precommits.total_power,
            "not_heard_from": silent,
        }

    def _init_blobs(self, documents: DocumentQueries, blobs: BlobStore | None) -> None:
        """Document ciphertexts: the store in HOME/blobs (scanned now), the `blob` request server and the
        fetcher of this department's pending deliveries (docs/documents.md, "Blob store and transfer")."""
        store = self.node.store
        self.blobs = blobs or self.node.blobs
        slow = faults.is_enabled(faults.SLOW_BLOBS, os.environ)
        self.blob_server = BlobServer(self.blobs, store, documents, head_height=self.node.head_height,
                                      report=self.network.report_peer, delay_s=0.1 if slow else 0.0)
        self.deliveries = DeliveryFetcher(self.blobs, NodeDeliveryHost(self.node, self.network), documents)

    # --- heights -----------------------------------------------------------------------------------

    def _enter_height(self) -> None:
        """Prepare the next height; start it now if there is work, else when work arrives."""
        previous_start_ms = self.engine.round_started_ms
        reason = self.engine.prepare_height()
        height = self.engine.height
        self.membership.refresh(height)  # after each commit or sync, follow the roster
        self.wal.compact(height)
        self.deliveries.notify()  # the inbox may have new documents, or delivered reports committed
        pending = len(self.node.mempool)
        if reason is None and pending >= min(self.config.max_block_txs, self.node.limits().max_block_txs):
            reason = f"{pending} transactions are pending, a full block"
        if reason is not None:
            self.engine.start(reason)
        else:
            self._wait_for_work(height, previous_start_ms)
        self._broadcast_status()  # the new head, and the height if it started

    def _on_head_moved(self) -> None:
        """Block sync applied blocks: restart consensus at the new head."""
        if self.engine.height != self.node.head_height() + 1:
            self._enter_height()

    def _wait_for_work(self, height: int, previous_start_ms: int) -> None:
        """Start `height` once transactions are pending, at most one block interval after the previous height
        started (so under a steady load that fills no block, blocks come every `block_interval_ms` and each
        gathers that interval's transactions, instead of many small blocks each paying a block's fixed
        cost), or after the empty-block interval if empty blocks are configured. A full block's worth pending
        starts a height at once (`_enter_height`), and a peer's message for the height starts it earlier
        (see ConsensusEngine.receive_*)."""

        def waiting() -> bool:
            return self.engine.height == height and self.engine.is_waiting() and not self._stopping

        async def wait() -> None:
            waited_ms = 0
            while waiting():
                if len(self.node.mempool):
                    interval = self.config.block_interval_ms
                    # pending at the commit: what is left of the interval since the previous height started;
                    # arrived while idle: one interval, to gather a block's worth
                    left = interval - (self.node.clock.now_ms() - previous_start_ms) if waited_ms == 0 else interval
                    await asyncio.sleep(min(interval, max(0, left)) / 1000)
                    if waiting():
                        self.engine.start(f"{len(self.node.mempool)} transactions are pending")
                        self._broadcast_status()
                    return
                if self.config.create_empty_blocks and waited_ms >= self.config.empty_block_interval_ms:
                    self.engine.start("the empty-block interval passed")
                    self._broadcast_status()
                    return
                await self.node.wait_for_work(1.0)
                waited_ms += 1000

        self._spawn(wait())

    # --- the engine's host -------------------------------------------------------------------------

    def broadcast(self, kind: str, payload: bytes, *, exclude: bytes | None = None,
                  origin: bytes | None = None) -> None:
        """Send to every peer but `exclude`; with `origin`, not to `origin` itself nor to a peer whose last
        status lists a link with it (the origin sent the message to all its peers)."""
        skip = None if origin is None else functools.partial(has_from_origin, origin=origin, links=self.peer_links)
        try:
            self.network.broadcast(kind, payload, exclude=exclude, skip=skip)
        except InvalidOutgoingMessage as exc:  # sizes are derived so that this cannot happen: a bug
            log.error("not sending a %s message: %s", kind, exc)

    def send(self, peer: bytes, kind: str, payload: bytes) -> None:
        try:
            self.network.send(peer, kind, payload)
        except InvalidOutgoingMessage as exc:
            log.error("not sending a %s message: %s", kind, exc)

    def schedule(self, delay_ms: int, event: TimeoutEvent) -> None:
        def fire() -> None:
            self._timers.discard(handle)
            if not self._stopping:
                self.engine.on_timeout(event)

        handle = asyncio.get_running_loop().call_later(delay_ms / 1000, fire)
        self._timers.add(handle)

    def build_block(self, height: int, round_: int) -> None:
        self._spawn(self._build(height, round_))

    def validate_block(self, height: int, block_hash: bytes, block: Block) -> None:
        self._spawn(self._validate(height, block_hash, block))

    def commit_block(self, decision: Decide, block: Block, executed: Any | None) -> None:
        self._spawn(self._commit(decision, block, executed))

    def report_evidence(self, evidence: DuplicateVoteEvidence) -> None:
        self._spawn(self._report(evidence))

    def request_sync(self) -> None:
        self.sync.request()

    # --- jobs --------------------------------------------------------------------------------------

    async def _build(self, height: int, round_: int) -> None:
        txs = self.node.take_proposal_txs()
        proposed = await asyncio.to_thread(self.node.build_proposal, txs, self.node.clock.now_ms())
        if proposed.block.header.height == height:
            self.engine.on_built(height, round_, proposed.block, proposed.block_bytes, proposed)

    async def _validate(self, height: int, block_hash: bytes, block: Block) -> None:
        if self.node.head_height() + 1 != height:
            return  # the head moved on: the engine has left this height
        try:
            with self._executing_block(height):
                proposed = await asyncio.to_thread(self.node.validate_block, block)
        except (InvalidBlock, InvalidCommit) as exc:
            if self.node.head_height() + 1 == height:
                log.warning("proposed block %d %s is invalid: %s", height, block_hash.hex()[:16], exc.message)
                self.engine.on_verdict(height, block_hash, None)
            return
        self.engine.on_verdict(height, block_hash, proposed)

    @contextlib.contextmanager
    def _executing_block(self, height: int) -> Iterator[None]:
        """Mark block `height` as being executed here (block sync then leaves a one-block lag to consensus)."""
        self._executing[height] = self._executing.get(height, 0) + 1
        try:
            yield
        finally:
            left = self._executing[height] - 1
            if left:
                self._executing[height] = left
            else:
                del self._executing[height]

    def is_executing(self, height: int) -> bool:
        return height in self._executing

    def executed_block(self, height: int, block_hash: bytes) -> ProposedBlock | None:
        """The executed form of a block this node's consensus validated or built (block sync commits it
        without executing it again). Safe from a worker thread: one dictionary read."""
        executed = self.engine.blocks.get_executed(height, block_hash)
        return executed if isinstance(executed, ProposedBlock) else None

    async def _commit(self, decision: Decide, block: Block, executed_or_none: Any | None) -> None:
        executed: ProposedBlock
        if executed_or_none is not None:
            executed = executed_or_none
        else:
            try:
                with self._executing_block(decision.height):
                    executed = await asyncio.to_thread(self.node.validate_block, block)
            except (InvalidBlock, InvalidCommit) as exc:
                # More than 2/3 precommitted a block this node finds invalid: its state or code differs
                # from the others'. Never commit it; fetch the chain from peers, whose commits it verifies.
                log.error("the network decided block %d, which this node finds invalid: %s", decision.height,
                          exc.message)
                self.sync.request()
                return
        async with self._sync_lock:
            if self.node.head_height() + 1 != decision.height:
                return  # block sync got there first (and moved the engine on)
            await asyncio.to_thread(self.node.commit_decided, executed, decision.commit)
            await self.node.announce_commit(executed)
        self.last_commit_ms = self.node.clock.now_ms()
        self.node.metrics.on_decided(decision.round)
        log.info(
            "committed block %d round %d hash %s txs %d signatures %d",
            decision.height,
            decision.round,
            decision.block_hash.hex()[:16],
            len(executed.txs),
            len(decision.commit.signatures),
            extra={"height": decision.height},
        )
        self.wal.drop_blocks()
        self._enter_height()

    async def _report(self, evidence: DuplicateVoteEvidence) -> None:
        raw = compute_evidence_tx(
            evidence,
            chain_id=self.chain_id,
            key=self.node.node_key,
            validators=self.node.validators_at(evidence.vote_a.vote.height),
            head=self.node.head_height(),
        )
        if raw is not None:
            await self.node.submit([raw])

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("consensus task failed", exc_info=task.exception())

    # --- gossip in and out -------------------------------------------------------------------------

    def _relay_txs(self, raws: list[bytes]) -> None:
        for payload in split_txs(raws):
            self.broadcast(KIND_TXS, payload)

    def _relay_from_peer(self, raws: list[bytes], source: bytes) -> None:
        # the source sent them to every peer not linked to where it had them from, and so on back to the node
        # that admitted them from a client, which sent them to all its peers: a peer linked to the source has
        # them or gets them on that path (docs/consensus.md, "Relaying")
        for payload in split_txs(raws):
            self.broadcast(KIND_TXS, payload, exclude=source, origin=source)

    def _status_payload(self) -> bytes:
        return encode_status(replace(self.engine.status(), links=self.network.connected_keys()))

    def _broadcast_status(self) -> None:
        self.broadcast(KIND_STATUS, self._status_payload())

    async def _status_loop(self) -> None:
        while not self._stopping:
            self._broadcast_status()
            self.engine.tick()
            self.tx_relay.tick()
            await asyncio.sleep(self.config.status_interval_ms / 1000)

    async def on_message(self, peer: bytes, kind: str, payload: bytes) -> Verdict:
        if kind == KIND_VOTE:
            return self.engine.receive_vote(peer, payload)
        if kind == KIND_PROPOSAL:
            return self.engine.receive_proposal(peer, payload)
        if kind == KIND_TXS:
            raws = decode_txs_message(payload)
            admissions = await self.node.submit(raws, relay=False)
            # relay what was new here (the mempool admits a transaction once), so a transaction reaches
            # every node that any path of links leads to, not only the submitting node's neighbours; later,
            # and only if still pending, since in a full mesh every node has it from the submitter already
            self.tx_relay.add([raw for raw, admission in zip(raws, admissions, strict=True) if admission.accepted],
                              peer)
            return Verdict.ACCEPT
        if kind == KIND_STATUS:
            status = decode_status(payload)
            if status.links is None:
                self.peer_links.pop(peer, None)  # links not announced: relay it everything
            else:
                self.peer_links[peer] = status.links
            self.sync.note_peer_height(peer, status.head)
            self.engine.note_status(peer, status)
            head = self.node.head_height()
            if status.head <= head and status.height == head + 1 and self.engine.is_waiting():
                self.engine.start("a peer started the height")
            return Verdict.ACCEPT
        raise InvalidInput(f"unexpected message kind {kind!r}")

    async def on_request(self, peer: bytes, kind: str, payload: bytes) -> bytes:
        if kind == KIND_BLOB:
            return await self.blob_server.serve(peer, payload)
        if kind in SYNC_KINDS:
            return await self.sync_server.serve(kind, payload)
        if kind != KIND_BLOCK:
            raise InvalidInput(f"unexpected request kind {kind!r}")
        return serve_blocks(self.node, payload)

    def on_peer_connected(self, peer: bytes) -> None:
        self._broadcast_status()  # the new peer learns where we are; the others, that our links changed
        self.engine.on_peer_connected(peer)

    def on_peer_disconnected(self, peer: bytes) -> None:
        self.peer_links.pop(peer, None)
        self.sync.forget_peer(peer)
        self.engine.forget_peer(peer)
        self._broadcast_status()  # at once: a peer that thinks us linked to `peer` would skip relaying its messages

