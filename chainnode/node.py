"""The node's write path: the one place where the ledger meets the world (store, threads, clock, tasks).

It opens the home, initialises the store from genesis on first start, admits transactions (signature
checks on a thread pool), builds, validates and commits blocks, and keeps the validator sets and limits
in force. Block building and committing run in a worker thread; one lock orders a commit against block
building and validation, which need the state tree and the store to agree. Client reads never take
that lock: after each commit the node publishes a `Head` that its `Reader` (chainnode/reader.py) answers
from, with store snapshots.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import shutil
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chainnode import crypto, faults, keyfile
from chainnode.admission import CHUNK as ADMISSION_CHUNK
from chainnode.admission import (
    AdmissionPool,
    BrokenProcessPool,
    Passed,
    Refused,
    ScreenRules,
    Verdict,
    WireVerdict,
    from_wire,
    screen_batch,
    trusted_transaction,
)
from chainnode.blob_transfer import get_max_document_bytes
from chainnode.blobs import BlobStore
from chainnode.block import Block, Commit, decode_block, decode_commit, validate_commit
from chainnode.clock import Clock, SystemClock
from chainnode.committed import CommittedWindow
from chainnode.config import HomeLayout, NodeConfig, admission_process_count, available_cores, load_config
from chainnode.doc_keys import DocumentKeys
from chainnode.errors import (
    ChainError,
    CorruptStore,
    InvalidBlock,
    InvalidInput,
    InvalidSignature,
    StoreError,
    TxAlreadyPending,
)
from chainnode.execution import compute_genesis_changes
from chainnode.genesis import Genesis, load_genesis
from chainnode.limits import MAX_ENCODED_BLOCK
from chainnode.mempool import Admission, Mempool, RosterCheck
from chainnode.metrics import NodeMetrics
from chainnode.producer import ChainTip, ProposedBlock, build_block, commit_alone
from chainnode.reader import Head, Reader, TxStatus, load_validator_set
from chainnode.rollback import StoreRollback, detect_store_rollback
from chainnode.state import compute_state_update
from chainnode.state_cache import StateCache
from chainnode.state_tree import StateTree
from chainnode.store import BlockWrite, Store
from chainnode.tx import Transaction
from chainnode.validation import validate_proposed_block
from chainnode.validators import ValidatorSet, apply_validator_updates
from contracts import proposals

log = logging.getLogger("chainnode.node")

VERIFY_CHUNK = 256
MIN_POOL_BATCH = 64
"""Smaller batches are checked in the node's process: handing them to a worker would cost more than it saves."""


@dataclass(frozen=True, slots=True)
class ConsensusLimits:
    max_block_txs: int
    max_block_bytes: int
    max_tx_bytes: int


def _verify_chunk(txs: Sequence[Transaction]) -> list[bool]:
    return [tx.is_signature_valid() for tx in txs]


def _as_repeat(first: Admission) -> Admission:
    """The verdict on a second copy of bytes whose first copy got `first`: refused the same way, or, if the
    first was admitted, refused as already pending (with its ID, as a repeat within one batch is)."""
    if not first.accepted or first.tx_id is None:
        return first
    return Admission(tx_id=first.tx_id, error=TxAlreadyPending(
        f"transaction {first.tx_id.hex()} is already pending", field="tx"))


def open_store(layout: HomeLayout, genesis: Genesis, *, compression: str = "none") -> Store:
    """Open the home's store, initialising it from genesis on first use. `compression`: `[storage] compression`.

    Raises StoreLocked, CorruptStore or StoreError, including when the store belongs to another genesis.
    """
    store = Store(layout.data, compression=compression)
    abandoned = store.syncing_height()
    if abandoned is not None and store.head_height() <= 0:
        # a state sync that did not finish: nothing in the store is the node's own, so start afresh
        log.warning("the store holds an unfinished state sync to height %d; clearing it to sync again", abandoned)
        store.close()
        shutil.rmtree(layout.data)
        store = Store(layout.data, compression=compression)
    try:
        stored = store.genesis_hash()
        if stored is None:
            changes = compute_genesis_changes(store, genesis)
            update = compute_state_update(StateTree.empty(), changes, store.load_node)
            store.initialise(genesis.hash, changes, update, genesis.validator_set().encode())
        elif stored != genesis.hash:
            raise StoreError(
                f"the store in {layout.data} belongs to another network (genesis {stored.hex()[:16]}…, "
                f"this genesis.json is {genesis.hash.hex()[:16]}…)"
            )
    except BaseException:
        store.close()
        raise
    return store


class Node:
    """One department's node with a single-validator block producer."""

    def __init__(
        self,
        *,
        layout: HomeLayout,
        config: NodeConfig,
        genesis: Genesis,
        node_key: crypto.PrivateKey,
        clock: Clock | None = None,
    ) -> None:
        self.layout = layout
        self.config = config
        self.genesis = genesis
        self.node_key = node_key
        self.clock = clock or SystemClock()
        self.store = open_store(layout, genesis, compression=config.storage_compression)
        self._validator_sets: OrderedDict[int, ValidatorSet] = OrderedDict()
        self._commit_lock = threading.RLock()
        self.tree = self.store.load_tree()
        self.state = StateCache(self.store)
        """The current state as execution reads it (under `_commit_lock`), kept in step by `_commit`."""
        self._limits: tuple[int, ConsensusLimits] | None = None
        self.tip = self._load_tip()
        self._validate_tip_state()
        self.store_rollback: StoreRollback | None = detect_store_rollback(layout, self.tip.height)
        self._head = self._compute_head()
        self.reader = Reader(self.store, genesis, head=lambda: self._head)
        """Every client read: never takes `_commit_lock`; the API runs it on its read pool."""
        self.committed = CommittedWindow(self.store.has_tx, head=self.tip.height, max_ttl=genesis.params.max_tx_ttl)
        """Whether a transaction is already committed, from memory for all that could still be admitted."""
        self.mempool = Mempool(
            chain_id=genesis.chain_id,
            max_txs=config.mempool_max_txs,
            max_bytes=config.mempool_max_bytes,
            max_tx_bytes=genesis.params.max_tx_bytes,
            max_ttl=genesis.params.max_tx_ttl,
            is_committed=self.committed.contains,
            validate_signer=RosterCheck(self.store),
        )
        self.metrics = NodeMetrics(head_height=self.head_height,
                                   mempool_size=lambda: (len(self.mempool), self.mempool.size_bytes))
        """Prometheus metrics (chainnode/metrics.py): counted here per block and per batch, levels at scrape."""
        self._pool = ThreadPoolExecutor(max_workers=config.verify_threads, thread_name_prefix="verify")
        self.consensus_signatures = crypto.VerifiedSignatures()
        """Vote and commit signatures this node verified: a precommit checked as a vote is not checked again
        in the commit that decides its block, nor in the next block's last commit."""
        self.admission = AdmissionPool(admission_process_count(config, available_cores()))
        """Worker processes for the stateless checks of submitted batches (chainnode/admission.py)."""
        self._work = asyncio.Event()
        self._new_head = asyncio.Condition()
        self._stopping = False
        self.consensus_status: Callable[[], dict[str, Any]] | None = None
        """Set by the BFT driver: round, step and peers for the status API."""
        self.on_admitted: Callable[[list[bytes]], None] | None = None
        """Called with the transactions a client submitted and the mempool accepted (gossip hook)."""
        self.started_ms = self.clock.now_ms()
        store = self.store
        self.blobs = BlobStore(layout.blobs, max_store_bytes=config.max_store_bytes,
                               max_blob_bytes=lambda: get_max_document_bytes(store))
        """Document ciphertexts (HOME/blobs): uploaded by clients, fetched and served by the BFT driver."""
        self.document_keys = DocumentKeys(layout.keys)
        """The department's encryption keys, for opening documents through this node."""
        self._admitting: dict[tuple[bytes, bool], asyncio.Future[Admission]] = {}
        """The verdicts to come of the bytes batches are checking now, by (bytes, from a client)."""
        self.client_checks: dict[str, Callable[[Transaction], None]] = {}
        """Extra admission rules, by name, for transactions clients submit (not gossip): raise InvalidInput."""
        self.is_producer = self.validators_at(self.tip.height + 1).index_of(node_key.public_key) is not None

    @classmethod
    def from_home(
        cls, home: Path, *, clock: Clock | None = None, passphrase: crypto.PassphraseProvider | None = None,
        sync_mode: str | None = None,
    ) -> Node:
        """`sync_mode` overrides `[sync] mode` of config.toml. Raises ConfigError, GenesisError, or KeyFileError
        (a key file missing, damaged, or encrypted and `passphrase` does not open it)."""
        layout = HomeLayout(home)
        config = load_config(layout.config)
        if sync_mode is not None:
            config = dataclasses.replace(config, sync_mode=sync_mode)
        genesis = load_genesis(layout.genesis)
        faults.validate_test_faults(misbehave=config.misbehave, test_hooks=genesis.params.test_hooks,
                                    environ=os.environ)
        key = keyfile.load_node_key(layout.node_key, passphrase)
        document_keys = keyfile.load_document_keys(layout.keys, passphrase)
        node = cls(layout=layout, config=config, genesis=genesis, node_key=key, clock=clock)
        node.document_keys = document_keys
        return node

    def _load_tip(self) -> ChainTip:
        head = self.store.head_height()
        if head <= 0:
            return ChainTip(
                chain_id=self.genesis.chain_id,
                height=0,
                block_hash=self.genesis.hash,
                time_ms=self.genesis.genesis_time_ms,
                last_commit=None,
            )
        header = self.store.get_header(head)
        commit = self.store.get_commit(head)
        if header is None or commit is None:
            raise CorruptStore(f"the store's head is {head} but block or commit {head} is missing")
        return ChainTip(
            chain_id=self.genesis.chain_id,
            height=head,
            block_hash=header.compute_hash(),
            time_ms=header.time_ms,
            last_commit=commit,
        )

    def _compute_head(self) -> Head:
        """The head readers see: the tip, the tree after it (never mutated: each block executes on a copy)."""
        return Head(tip=self.tip, tree=self.tree, next_validators=len(self.validators_at(self.tip.height + 1)))

    def _validate_tip_state(self) -> None:
        if self.tip.height == 0:
            return
        header = self.store.get_header(self.tip.height)
        if header is not None and header.state_root != self.tree.root():
            raise CorruptStore(
                f"the stored state does not match block {self.tip.height}'s state root; run `chainnode check`"
            )

    # --- lifecycle ---------------------------------------------------------------------------------

    async def run_producer(self) -> None:
        """Produce blocks until `stop` is called; finishes the block in hand before returning."""
        if not self.is_producer:
            log.info("this node's key is not a validator: it will not produce blocks")
            return
        interval = self.config.block_interval_ms / 1000
        while not self._stopping:
            if not self.mempool and not self.config.create_empty_blocks:
                self._work.clear()
                await self._work.wait()
                if self._stopping:
                    break
                if len(self.mempool) < self.config.max_block_txs:
                    await asyncio.sleep(interval)
            elif not self.mempool:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._work.wait(), self.config.empty_block_interval_ms / 1000)
                self._work.clear()
            await self.produce_block()

    async def produce_block(self) -> ProposedBlock | None:
        txs = self.take_proposal_txs()
        if not txs and not self.config.create_empty_blocks:
            return None
        proposed = await asyncio.to_thread(self._build_and_commit, txs)
        await self.announce_commit(proposed)
        return proposed

    def _build_and_commit(self, txs: list[Transaction]) -> ProposedBlock:
        with self._commit_lock:
            proposed = self.build_proposal(txs, self.clock.now_ms())
            commit = commit_alone(self.node_key, proposed, self.validators_at(proposed.block.height))
            self._commit(proposed, commit)
            return proposed

    def _commit(self, proposed: ProposedBlock, commit: Commit) -> None:
        height = proposed.block.header.height
        new_sets: dict[int, bytes] = {}
        if proposed.execution.validator_updates:
            updates = list(proposed.execution.validator_updates)
            following = apply_validator_updates(self.validators_at(height + 1), updates)
            new_sets[height + 2] = following.encode()
            self._validator_sets.pop(height + 2, None)
            log.info("validator set changes at height %d: %d validators, power %d", height + 2,
                     len(following), following.total_power)
        with self.metrics.time_store_write():
            self.store.commit_block(
                BlockWrite(
                    block=proposed.block,
                    block_bytes=proposed.block_bytes,
                    block_hash=proposed.block_hash,
                    commit=commit,
                    tx_ids=[tx.tx_id for tx in proposed.txs],
                    result_bytes=proposed.execution.result_bytes,
                    entities=proposed.execution.entities,
                    changes=proposed.execution.changes,
                    update=proposed.update,
                    validator_sets=new_sets,
                )
            )
        self.state.apply(proposed.execution.changes)
        self.committed.add_block(height, proposed.txs)
        self.tree = proposed.update.tree
        header = proposed.block.header
        parent = self.tip
        self.tip = ChainTip(
            chain_id=header.chain_id,
            height=header.height,
            block_hash=proposed.block_hash,
            time_ms=header.time_ms,
            last_commit=commit,
        )
        self._head = self._compute_head()  # one reference assignment: readers see the old head or this one
        failed = sum(1 for r in proposed.execution.results if not r.ok)
        self.metrics.on_block_committed(txs=len(proposed.txs), failed=failed,
                                        interval_ms=header.time_ms - parent.time_ms if parent.height else None)
        log.info(
            "committed block %d hash=%s txs=%d failed=%d",
            header.height,
            proposed.block_hash.hex()[:16],
            len(proposed.txs),
            failed,
            extra={"height": header.height},
        )

    # --- what the BFT driver and block sync use -------------------------------------------------------

    def validators_at(self, height: int) -> ValidatorSet:
        """The validator set that signs block `height`.

        Known two heights ahead: the set of H+2 follows from block H's execution. Raises CorruptStore if
        the stored set cannot be decoded.
        """
        cached = self._validator_sets.get(height)
        if cached is not None:
            return cached
        found = load_validator_set(self.store, self.genesis, height)
        self._validator_sets[height] = found
        if len(self._validator_sets) > 64:
            self._validator_sets.popitem(last=False)
        return found

    def limits(self) -> ConsensusLimits:
        """The block and transaction limits in force for the next block: genesis, changed by governance."""
        height = self.tip.height
        if self._limits is None or self._limits[0] != height:
            params = self.genesis.params
            changed = proposals.consensus_limits(self.store)
            self._limits = (height, ConsensusLimits(
                max_block_txs=changed.get("max_block_txs", params.max_block_txs),
                max_block_bytes=changed.get("max_block_bytes", params.max_block_bytes),
                max_tx_bytes=changed.get("max_tx_bytes", params.max_tx_bytes),
            ))
            self.mempool.max_tx_bytes = self._limits[1].max_tx_bytes
        return self._limits[1]

    def take_proposal_txs(self) -> list[Transaction]:
        limits = self.limits()
        return self.mempool.take(
            max_txs=min(self.config.max_block_txs, limits.max_block_txs),
            max_bytes=min(self.config.max_block_bytes, limits.max_block_bytes),
            next_height=self.tip.height + 1,
        )

    def build_proposal(self, txs: list[Transaction], now_ms: int) -> ProposedBlock:
        """Execute `txs` on the committed state into a block for the next height; commits nothing."""
        with self._commit_lock:
            height = self.tip.height + 1
            with self.metrics.time_build():
                return build_block(
                    tip=self.tip,
                    txs=txs,
                    now_ms=now_ms,
                    state=self.state,
                    tree=self.tree,
                    load_node=self.store.load_node,
                    validators=self.validators_at(height),
                    next_validators=self.validators_at(height + 1),
                    proposer=self.node_key.public_key,
                )

    def check_signatures(self, txs: Sequence[Transaction]) -> list[bool]:
        """Signature verdicts, from the admission cache where known, the rest on the verify pool."""
        verdicts: list[bool | None] = [self.mempool.cached_signature_verdict(tx) for tx in txs]
        unknown = [i for i, v in enumerate(verdicts) if v is None]
        chunks = [unknown[k : k + VERIFY_CHUNK] for k in range(0, len(unknown), VERIFY_CHUNK)]
        for chunk, results in zip(
            chunks, self._pool.map(_verify_chunk, [[txs[i] for i in c] for c in chunks]), strict=True
        ):
            for i, ok in zip(chunk, results, strict=True):
                verdicts[i] = ok
        return [bool(v) for v in verdicts]

    def validate_block(self, block: Block) -> ProposedBlock:
        """Every validity rule for a block proposed for the next height, with re-execution.

        Raises InvalidBlock or InvalidCommit naming the rule.
        """
        with self._commit_lock:
            height = self.tip.height + 1
            limits = self.limits()
            size = sum(len(raw) for raw in block.txs)
            if len(block.txs) > limits.max_block_txs or size > limits.max_block_bytes:
                raise InvalidBlock(
                    f"block {height} has {len(block.txs)} transactions of {size} bytes; the limits are "
                    f"{limits.max_block_txs} and {limits.max_block_bytes} bytes", field="txs",
                )
            with self.metrics.time_validate():
                return validate_proposed_block(
                    block,
                    tip=self.tip,
                    state=self.state,
                    tree=self.tree,
                    load_node=self.store.load_node,
                    validators=self.validators_at(height),
                    next_validators=self.validators_at(height + 1),
                    last_validators=self.validators_at(height - 1) if height > 1 else None,
                    max_tx_bytes=limits.max_tx_bytes,
                    is_committed=self.committed.contains,
                    check_signatures=self.check_signatures,
                    known=self.mempool.get_by_raw,
                    verify_commit=self.consensus_signatures.verify,
                )

    def commit_decided(self, proposed: ProposedBlock, commit: Commit) -> None:
        """Write a block the network decided, with its commit (checked here again: it is what we store).

        Raises InvalidCommit, or StoreError if the block does not extend the head.
        """
        header = proposed.block.header
        validate_commit(
            commit,
            chain_id=header.chain_id,
            height=header.height,
            block_hash=proposed.block_hash,
            validators=self.validators_at(header.height),
            verify=self.consensus_signatures.verify,
        )
        with self._commit_lock:
            self._commit(proposed, commit)

    def blocks_for_sync(self, from_height: int, *, max_blocks: int, max_bytes: int) -> list[tuple[bytes, bytes]]:
        """Committed blocks from `from_height` on, each with its commit, within the given bounds."""
        out: list[tuple[bytes, bytes]] = []
        size = 0
        for height in range(from_height, min(self.tip.height, from_height + max_blocks - 1) + 1):
            block = self.store.get_block_bytes(height)
            commit = self.store.get_commit_bytes(height)
            if block is None or commit is None:
                break
            size += len(block) + len(commit)
            if out and size > max_bytes:
                break
            out.append((block, commit))
        return out

    def apply_synced_block(
        self, block_bytes: bytes, commit_bytes: bytes,
        executed: Callable[[int, bytes], ProposedBlock | None] = lambda height, block_hash: None,
    ) -> ProposedBlock:
        """Verify a block fetched from a peer (its commit against the validators of its height, then
        every validity rule with re-execution) and commit it. Raises InvalidBlock or InvalidCommit.

        `executed(height, block_hash)` gives this node's consensus's executed form of that block, if it
        validated the same block as a proposal on the same head: then the block is not executed again (the
        hash names the same header, and the header the same transactions; the commit is still checked)."""
        block = decode_block(block_bytes, max_size=MAX_ENCODED_BLOCK)
        commit = decode_commit(commit_bytes)
        height = block.header.height
        if height != self.tip.height + 1:
            raise InvalidBlock(f"synced block {height} does not follow the head {self.tip.height}", field="height")
        block_hash = block.compute_hash()
        validate_commit(
            commit, chain_id=self.genesis.chain_id, height=height, block_hash=block_hash,
            validators=self.validators_at(height), verify=self.consensus_signatures.verify,
        )
        known = executed(height, block_hash)
        if known is not None and known.block_hash == block_hash and known.block.header.height == height:
            proposed = known
        else:
            known, proposed = None, self.validate_block(block)
        self.metrics.on_synced_block(known=known is not None)
        with self._commit_lock:
            self._commit(proposed, commit)
        return proposed

    def reload_after_state_sync(self) -> None:
        """Take up the head a finished state sync wrote: its tip, state tree and validator sets."""
        with self._commit_lock:
            self._validator_sets.clear()
            self._limits = None
            self.state.clear()  # the sync replaced the current state outside _commit
            self.tree = self.store.load_tree()
            self.tip = self._load_tip()
            self._validate_tip_state()
            self.committed.reset(self.tip.height)
            self._head = self._compute_head()
            self.is_producer = self.validators_at(self.tip.height + 1).index_of(self.node_key.public_key) is not None

    async def announce_state_sync(self) -> None:
        """After a state sync, on the event loop: drop pending transactions the synced blocks committed and
        those of keys no longer on the roster, and wake the waiters of the new head."""
        self.mempool.remove([tx.tx_id for tx in self.mempool.pending() if self.store.has_tx(tx.tx_id)])
        self.mempool.drop_unauthorised(next_height=self.tip.height + 1)
        async with self._new_head:
            self._new_head.notify_all()

    def reset_after_failed_state_sync(self) -> None:
        """Put the store back to the genesis state after a state sync that stopped half way."""
        with self._commit_lock:
            self.store.clear_all()
            changes = compute_genesis_changes(self.store, self.genesis)
            update = compute_state_update(StateTree.empty(), changes, self.store.load_node)
            self.store.initialise(self.genesis.hash, changes, update, self.genesis.validator_set().encode())
        self.reload_after_state_sync()

    async def announce_commit(self, proposed: ProposedBlock) -> None:
        """After a commit, on the event loop: drop its transactions from the mempool, and those of keys the
        new head no longer lists (revoked, department removed), and wake waiters."""
        self.mempool.note_committed(proposed.txs)
        dropped = self.mempool.drop_unauthorised(next_height=self.tip.height + 1)
        if dropped:
            log.info("dropped %d pending transactions of keys no longer on the roster", dropped)
        async with self._new_head:
            self._new_head.notify_all()

    async def stop(self) -> None:
        self._stopping = True
        self._work.set()

    def close(self) -> None:
        self.admission.close()
        self._pool.shutdown(wait=True)
        with self._commit_lock:
            self.store.close()

    # --- admission ---------------------------------------------------------------------------------

    async def submit(self, raws: Sequence[bytes], *, relay: bool = True) -> list[Admission]:
        """Admit a batch of encoded transactions; one verdict per input, in order.

        Bytes already pending or just committed are refused undecoded. Bytes another batch is checking at this
        moment (gossip brings each transaction once per link, often at once) are not checked twice: they get
        that batch's verdict, as a repeat. The rest are checked here (`_check_here`) or in the admission
        workers (`_check_in_workers`).
        """
        loop = asyncio.get_running_loop()
        outcomes: list[Admission | None] = [None] * len(raws)
        mine: list[int] = []
        repeats: list[tuple[int, asyncio.Future[Admission]]] = []
        for i, raw in enumerate(raws):
            known = self.mempool.refuse_known(raw, name_id=relay)  # a client is told which transaction
            if known is not None:
                outcomes[i] = known
                continue
            key = (raw, relay)  # client batches run extra checks: they share verdicts only with each other
            other = self._admitting.get(key)
            if other is not None:
                repeats.append((i, other))
                continue
            self._admitting[key] = loop.create_future()
            mine.append(i)
        try:
            if self.admission.processes and len(mine) >= MIN_POOL_BATCH:
                await self._check_in_workers(raws, mine, outcomes, relay=relay)
            else:
                await self._check_here(raws, mine, outcomes, relay=relay)
        finally:
            for i in mine:
                settled = self._admitting.pop((raws[i], relay))
                outcome = outcomes[i]
                if outcome is None:
                    settled.cancel()  # this batch failed: whoever waits checks the bytes itself
                else:
                    settled.set_result(outcome)
        for i, other in repeats:
            await asyncio.wait([other])
            if other.cancelled():
                await self._check_here(raws, [i], outcomes, relay=relay)
            else:
                outcomes[i] = _as_repeat(other.result())
        return self._finish_submit(raws, outcomes, relay=relay)

    async def _check_here(self, raws: Sequence[bytes], todo: list[int], outcomes: list[Admission | None], *,
                          relay: bool) -> None:
        """Screening (decode and stateless checks) on the event loop; each chunk of screened transactions goes
        to the verification threads at once, so signature checks overlap with screening."""
        loop = asyncio.get_running_loop()
        pending: list[tuple[list[tuple[int, Transaction]], asyncio.Future[list[bool]]]] = []
        chunk: list[tuple[int, Transaction]] = []
        next_height = self.tip.height + 1
        for i in todo:
            try:
                tx = self.mempool.screen(raws[i], next_height=next_height)
                if relay:
                    for check in self.client_checks.values():
                        check(tx)
            except InvalidInput as exc:
                outcomes[i] = Admission(tx_id=None, error=exc)
                continue
            verdict = self.mempool.cached_signature_verdict(tx)
            if verdict is not None:
                outcomes[i] = self._admit(tx, verdict)
                continue
            chunk.append((i, tx))
            if len(chunk) >= VERIFY_CHUNK:
                pending.append((chunk, loop.run_in_executor(self._pool, _verify_chunk, [t for _, t in chunk])))
                chunk = []
        if chunk:
            pending.append((chunk, loop.run_in_executor(self._pool, _verify_chunk, [t for _, t in chunk])))
        for items, future in pending:
            for (i, tx), valid in zip(items, await future, strict=True):
                self.mempool.record_signature_verdict(tx, valid)
                outcomes[i] = self._admit(tx, valid)

    def _finish_submit(self, raws: Sequence[bytes], outcomes: list[Admission | None], *,
                       relay: bool) -> list[Admission]:
        self.metrics.count_admissions((o for o in outcomes if o is not None), source="api" if relay else "peer")
        if len(self.mempool):
            self._work.set()
        if relay and self.on_admitted is not None:
            accepted = [raws[i] for i, o in enumerate(outcomes) if o is not None and o.accepted]
            if accepted:
                self.on_admitted(accepted)
        return [o if o is not None else Admission(tx_id=None) for o in outcomes]

    async def _check_in_workers(self, raws: Sequence[bytes], todo: list[int], outcomes: list[Admission | None], *,
                                relay: bool) -> None:
        """The stateless checks and signatures in the admission workers; the roster, pending and committed
        checks and the mempool insert here, on the loop, in the batch's order."""
        next_height = self.tip.height + 1
        rules = self.mempool.rules(next_height)
        chunks = [todo[k : k + ADMISSION_CHUNK] for k in range(0, len(todo), ADMISSION_CHUNK)]
        futures: list[Future[list[WireVerdict]] | None]
        try:
            futures = list(self.admission.submit_chunks([raws[i] for i in todo], rules))
        except BrokenProcessPool:  # new workers could not start either: check here, no verdict lost
            log.error("admission workers cannot start; checking this batch in the node's process")
            futures = [None] * len(chunks)
        admitted: set[bytes] = set()
        for chunk, future in zip(chunks, futures, strict=True):
            verdicts = await self._chunk_verdicts(future, [raws[i] for i in chunk], rules)
            for i, verdict in zip(chunk, verdicts, strict=True):
                outcomes[i] = self._admit_verdict(raws[i], verdict, next_height, relay=relay, batch=admitted)

    async def _chunk_verdicts(self, future: Future[list[WireVerdict]] | None, raws: list[bytes],
                              rules: ScreenRules) -> list[Verdict]:
        """A worker's verdicts on `raws`; if there is no worker (`future` None) or it died, the same checks on
        the verify threads (a broken pool is replaced for the next batch)."""
        if future is not None:
            try:
                return [from_wire(item) for item in await asyncio.wrap_future(future)]
            except BrokenProcessPool:
                log.error("an admission worker process died; checking this batch in the node's process and "
                          "starting new workers")
                self.admission.replace_broken()
        return await asyncio.get_running_loop().run_in_executor(self._pool, screen_batch, raws, rules)

    def _admit_verdict(self, raw: bytes, verdict: Verdict, next_height: int, *, relay: bool,
                       batch: set[bytes]) -> Admission:
        """The verdict `submit` gives in the node's process: refusals of the stateful checks as of the batch's
        start carry no ID; a repeat within the batch is refused by the insert, with its ID."""
        signature_holds = isinstance(verdict, Passed)
        if isinstance(verdict, Refused):
            if verdict.code != InvalidSignature.code or verdict.tx_id is None:
                error = verdict.error()
                if verdict.tx_id is not None:
                    self.mempool.remember_refusal(verdict.tx_id, error)
                return Admission(tx_id=None, error=error)
            verdict = Passed(verdict.tx_id)  # decoded and shaped: the checks below come first, as inline
        tx = trusted_transaction(raw, verdict)
        if tx.tx_id in batch:
            return self._admit(tx, signature_holds)
        try:
            self.mempool.screen_stateful(tx, next_height=next_height)
            if relay:
                for check in self.client_checks.values():
                    check(tx)
        except InvalidInput as exc:
            return Admission(tx_id=None, error=exc)
        self.mempool.record_signature_verdict(tx, signature_holds)
        admission = self._admit(tx, signature_holds)
        if admission.accepted:
            batch.add(tx.tx_id)
        return admission

    def _admit(self, tx: Transaction, valid: bool) -> Admission:
        if not valid:
            return Admission(tx_id=tx.tx_id, error=InvalidSignature("signature does not verify", field="signature"))
        try:
            self.mempool.admit(tx)
        except ChainError as exc:
            return Admission(tx_id=tx.tx_id, error=exc)
        return Admission(tx_id=tx.tx_id)

    # --- waiting, and the node's own status ---------------------------------------------------------

    def head_height(self) -> int:
        return self.tip.height

    async def wait_for_work(self, timeout_s: float) -> None:
        """Return when transactions are pending, or after `timeout_s`."""
        if len(self.mempool):
            return
        self._work.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._work.wait(), timeout_s)

    async def wait_for_height(self, height: int, timeout_s: float) -> bool:
        async with self._new_head:
            try:
                await asyncio.wait_for(self._new_head.wait_for(lambda: self._head.tip.height >= height), timeout_s)
            except TimeoutError:
                return False
        return True

    def mempool_status(self, tx_id: bytes) -> TxStatus | None:
        """"pending" or "rejected" as the mempool knows it; None if it knows nothing of `tx_id`."""
        if self.mempool.is_pending(tx_id):
            return TxStatus(tx_id, "pending")
        rejection = self.mempool.get_rejection(tx_id)
        if rejection is not None:
            return TxStatus(tx_id, "rejected", code=rejection.code, message=rejection.message)
        return None

    def local_status(self) -> dict[str, Any]:
        """This node's own facts for the status page (the chain facts come from `Reader.status`)."""
        return {
            "node_key": self.node_key.public_key.hex(),
            "moniker": self.config.moniker,
            "mempool": {"txs": len(self.mempool), "bytes": self.mempool.size_bytes},
            # from the set in force now, not at start: a department admitted later becomes a validator
            "validator": self.validators_at(self.tip.height + 1).index_of(self.node_key.public_key) is not None,
            "version": "0.1.0",
            "consensus": None if self.consensus_status is None else self.consensus_status(),
            "store_rollback": None if self.store_rollback is None else self.store_rollback.to_json(self.tip.height),
            "state_sync_base": self.store.base_height() or None,
        }
