"""State sync: join a chain at a recent height H without re-executing blocks 1..H.

Theory of operation (docs/sync.md has the protocol). A node whose store holds only the genesis state
(1) fetches blocks 1..H with their commits, results and new validator sets, and verifies them without
executing: the hash chain from the genesis hash, each block's transactions and results against its
header's roots, each header's validator set against the set the previous header named, and each commit
against its height's set (signatures checked in parallel batches). Trust comes from genesis and the
commits alone. (2) It fetches the manifest of H's state and checks that its chunk commitments combine to
header H's state root. (3) It fetches the chunks from several peers at once, each checked to rebuild to
its commitment, and writes the state of H (current rows, history at H, tree nodes of version H). A last
synced batch sets the head and the base to H. A peer that sends anything that does not verify is scored
down (`Offence.INVALID_SYNC_DATA`) and not asked again in this run; the work goes to another peer.

The serving side is chainnode/sync_server.py.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final

from chainnode import codec, crypto
from chainnode.block import (
    Block,
    Commit,
    compute_results_root,
    decode_block,
    decode_commit,
    validate_block_shape,
    validate_commit,
)
from chainnode.errors import ChainError, InvalidBlock, InvalidInput
from chainnode.execution import compute_call_entities, compute_validator_updates
from chainnode.genesis import Genesis
from chainnode.limits import MAX_ENCODED_BLOCK, MAX_TX_BYTES_CEILING
from chainnode.node import Node
from chainnode.progress import format_progress
from chainnode.snapshot import (
    ChunkPage,
    Manifest,
    VerifiedChunk,
    decode_chunk_page,
    decode_manifest,
    validate_manifest,
    verify_chunk,
)
from chainnode.state_tree import EMPTY_REF, compute_joined_tree, compute_ref_hash
from chainnode.store import SyncedBlockWrite
from chainnode.sync_server import (
    BATCH_BLOCKS,
    KIND_SYNC_BLOCKS,
    KIND_SYNC_CHUNK,
    KIND_SYNC_MANIFEST,
    SyncEntry,
    decode_blocks_answer,
)
from chainnode.tx import decode_transaction
from chainnode.validators import ValidatorSet, apply_validator_updates, decode_validator_set
from contracts.validators import VALIDATOR_UPDATES_KEY
from network.errors import RemoteError
from network.network import Network
from network.scoring import Offence

log = logging.getLogger("chainnode.sync")

MAX_RESULTS_BYTES: Final = 24 * 1024 * 1024
MAX_SET_BYTES: Final = 1 << 20
REQUEST_TIMEOUT_S: Final = 60.0
MODES: Final = ("auto", "state", "replay")
MAX_PEER_FAILURES: Final = 3
RETRY_PAUSE_S: Final = 0.5
BLOCKS_IN_FLIGHT: Final = 4
"""Block batches requested ahead of verification, spread over the peers."""
MAX_CHUNK_TOTAL: Final = 1 << 30
"""The largest chunk accepted, in key and value bytes: the pages of one chunk are held until it verifies."""
PROGRESS_EVERY_S: Final = 5.0


class StateSyncFailed(ChainError):
    """No peer could supply a verified part of the state sync; the node retries or replays."""

    code = "state_sync_failed"


# --- verifying blocks without executing them ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChainPosition:
    """Where header verification stands: the last verified block and the set that signs the next one."""

    height: int
    block_hash: bytes
    time_ms: int
    validators: ValidatorSet
    state_root: bytes

    @classmethod
    def genesis(cls, genesis: Genesis) -> ChainPosition:
        return cls(0, genesis.hash, genesis.genesis_time_ms, genesis.validator_set(), b"")


Signed = tuple[bytes, bytes, bytes]


def verify_many(pool: ThreadPoolExecutor | None, items: Sequence[Signed]) -> list[bool]:
    """Each signature's verdict, in order, split over the pool's threads (libsodium releases the GIL)."""
    if pool is None or len(items) < 64:
        return [crypto.verify_signature(*item) for item in items]
    size = -(-len(items) // 8)
    parts = [items[i:i + size] for i in range(0, len(items), size)]
    return [ok for part in pool.map(lambda p: [crypto.verify_signature(*i) for i in p], parts) for ok in part]


def verify_synced_blocks(entries: Sequence[SyncEntry], position: ChainPosition, *, chain_id: str,
                         pool: ThreadPoolExecutor | None = None) -> tuple[list[SyncedBlockWrite], ChainPosition]:
    """Verify consecutive blocks after `position` without executing them; return what to store and the new
    position. Raises InvalidBlock or InvalidCommit naming the first fault (the peer's)."""
    staged: list[tuple[Block, Commit, SyncEntry, ValidatorSet, dict[int, bytes]]] = []
    pos = position
    for entry in entries:
        block = decode_block(entry.block, max_size=MAX_ENCODED_BLOCK)
        commit = decode_commit(entry.commit)
        header = block.header
        height = pos.height + 1
        # [REJECT] a block that does not extend the verified chain
        if header.chain_id != chain_id or header.height != height:
            raise InvalidBlock(f"expected block {height} of chain {chain_id!r}", field="height")
        if header.prev_hash != pos.block_hash:
            raise InvalidBlock(f"block {height} does not link to block {height - 1}", field="prev_hash")
        if header.time_ms <= pos.time_ms:
            raise InvalidBlock(f"block {height} time is not after its parent's", field="time_ms")
        # [REJECT] a block signed by another set than the one its parent named
        if header.validators_hash != pos.validators.compute_hash():
            raise InvalidBlock(f"block {height} names another validator set", field="validators_hash")
        if pos.validators.index_of(header.proposer) is None:
            raise InvalidBlock(f"block {height} proposer is not a validator", field="proposer")
        validate_block_shape(block)
        _check_results(entry.results, header.tx_count, header.results_root, height)
        validators, sets = pos.validators, {}
        if header.next_validators_hash != validators.compute_hash():
            validators = _decode_next_set(entry.next_set, header.next_validators_hash, height)
            sets[height + 1] = validators.encode()
        staged.append((block, commit, entry, pos.validators, sets))
        pos = ChainPosition(height, block.compute_hash(), header.time_ms, validators, header.state_root)
    items: list[Signed] = []
    for _block, commit, _, signers, _ in staged:
        message = commit.precommit().compute_signing_bytes(chain_id)
        items.extend((signers.validators[s.validator_index].public_key, message, s.signature)
                     for s in commit.signatures if s.validator_index < len(signers))
    good = {item for item, ok in zip(items, verify_many(pool, items), strict=True) if ok}
    writes = []
    for block, commit, entry, signers, sets in staged:
        validate_commit(commit, chain_id=chain_id, height=block.height, block_hash=block.compute_hash(),
                        validators=signers, verify=lambda k, m, s: (k, m, s) in good)
        writes.append(_synced_write(block, commit, entry, sets))
    return writes, pos


def _check_results(raw: bytes, count: int, root: bytes, height: int) -> None:
    try:
        results = codec.decode(raw, max_size=MAX_RESULTS_BYTES)
    except InvalidInput as exc:
        raise InvalidBlock(f"block {height}'s results do not decode: {exc.message}", field="results") from exc
    # [REJECT] results that are not the header's
    if type(results) is not list or len(results) != count or not all(type(r) is bytes for r in results):
        raise InvalidBlock(f"block {height}'s results are not {count} encoded results", field="results")
    if compute_results_root(results) != root:
        raise InvalidBlock(f"block {height}'s results do not match results_root", field="results_root")


def _decode_next_set(raw: bytes | None, expected: bytes, height: int) -> ValidatorSet:
    # [REJECT] a new set missing, or not the one the header names
    if raw is None:
        raise InvalidBlock(f"block {height} names a new validator set and the answer lacks it", field="next_set")
    try:
        validators = decode_validator_set(codec.decode(raw, max_size=MAX_SET_BYTES))
    except InvalidInput as exc:
        raise InvalidBlock(f"the validator set after block {height} does not decode: {exc.message}",
                           field="next_set") from exc
    if validators.compute_hash() != expected or validators.encode() != raw:
        raise InvalidBlock(f"the validator set after block {height} is not the one its header names",
                           field="next_set")
    return validators


def _synced_write(block: Block, commit: Commit, entry: SyncEntry, sets: dict[int, bytes]) -> SyncedBlockWrite:
    tx_ids, entities = [], []
    for index, raw in enumerate(block.txs):
        try:
            tx = decode_transaction(raw, max_size=MAX_TX_BYTES_CEILING)
        except InvalidInput as exc:  # a quorum committed it, so it decoded for them: not this release's chain
            raise InvalidBlock(f"block {block.height} tx {index} does not decode: {exc.message}", field="txs") from exc
        tx_ids.append(tx.tx_id)
        entities.append(compute_call_entities(tx))
    return SyncedBlockWrite(height=block.height, block_bytes=entry.block, block_hash=block.compute_hash(),
                            commit_bytes=commit.encode(), results_raw=entry.results, tx_ids=tx_ids,
                            entities=entities, validator_sets=sets)


# --- fetching ---------------------------------------------------------------------------------------------------


class _Progress:
    def __init__(self, what: str, total: int) -> None:
        self.what, self.total, self.done = what, total, 0
        self.started = self.shown = time.monotonic()

    def add(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.shown >= PROGRESS_EVERY_S or self.done >= self.total:
            self.shown = now
            log.info("state sync: %s", format_progress(self.what, self.done, self.total, now - self.started))


class StateSync:
    """Runs one state sync of a node at height 0 from its linked peers (BlockSync decides when)."""

    def __init__(self, node: Node, network: Network, *, peer_heights: Callable[[], dict[bytes, int]]) -> None:
        self.node = node
        self.network = network
        self.peer_heights = peer_heights
        self.excluded: set[bytes] = set()
        """Peers not asked again in this sync."""
        self.failures: dict[bytes, int] = {}
        self.phase = ""
        """"blocks", "manifest", "chunks" or "" (metrics and status)."""
        self.stopping = False
        """Set when the node stops: the sync ends at its next request (the next start clears what it wrote)."""
        self.progress: tuple[int, int] = (0, 0)

    def is_wanted(self) -> bool:
        """State sync when the store holds genesis only and `[sync] mode` asks for it: "state" as soon as a
        peer has a block, "auto" when one is more than `[sync] min_blocks` ahead."""
        mode = self.node.config.sync_mode
        if mode == "replay" or self.node.head_height() != 0:
            return False
        best = max(self.peer_heights().values(), default=0)
        return best > (0 if mode == "state" else self.node.config.sync_min_blocks)

    async def wait_for_peers(self, timeout_s: float = 3.0) -> None:
        """Give every linked peer's status a moment to arrive, so the height is chosen among all of them."""
        deadline = time.monotonic() + timeout_s
        while len(self.peer_heights()) < len(self.network.peers()) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)

    def choose_height(self) -> int:
        """The second-highest head among the peers (the highest with one peer): at least two can serve it."""
        heads = sorted((h for h in self.peer_heights().values() if h > 0), reverse=True)
        if not heads:
            raise StateSyncFailed("no peer has a committed block")
        return heads[min(1, len(heads) - 1)]

    def _sources(self, height: int) -> list[bytes]:
        """The peers to ask for a part of `height`, highest head first. Raises StateSyncFailed when there is
        none, or when the node is stopping."""
        if self.stopping:
            raise StateSyncFailed("the node is stopping")
        peers = [p for p, h in self.peer_heights().items() if h >= height and p not in self.excluded]
        if not peers:
            raise StateSyncFailed(f"no linked peer that has not failed can serve height {height}")
        return sorted(peers, key=lambda p: -self.peer_heights().get(p, 0))

    async def _charge(self, peer: bytes, exc: Exception, what: str, height: int, *, blocks: bool = False) -> None:
        """A peer whose answer did not verify is scored down and not asked again in this sync; so is one that
        answered `not_found` for blocks up to a height it announced (a false status). A peer that answered
        `not_found` for state (it may have joined by state sync above that height) is only not asked again;
        one that failed otherwise (another error answer, a timeout, a lost link) is asked again after a pause,
        until it has failed MAX_PEER_FAILURES times."""
        if isinstance(exc, InvalidInput):
            self.excluded.add(peer)
            log.warning("state sync: peer %s sent invalid %s: %s", peer.hex()[:16], what, exc)
            self.network.report_peer(peer, Offence.INVALID_SYNC_DATA, f"invalid {what}: {exc}")
            return
        if isinstance(exc, RemoteError) and exc.remote_code == "not_found":
            self.excluded.add(peer)
            announced = self.peer_heights().get(peer, 0)
            if blocks and height <= announced:  # every node keeps every block up to its head
                log.warning("state sync: peer %s announced height %d but cannot serve %s", peer.hex()[:16],
                            announced, what)
                self.network.report_peer(peer, Offence.FALSE_STATUS,
                                         f"announced height {announced} but answered not_found for {what}")
            else:  # a state-synced peer keeps no state below its base
                log.info("state sync: peer %s does not keep %s", peer.hex()[:16], what)
            return
        self.failures[peer] = failures = self.failures.get(peer, 0) + 1
        log.info("state sync: peer %s could not serve %s (%d of %d): %s", peer.hex()[:16], what, failures,
                 MAX_PEER_FAILURES, exc)
        if failures >= MAX_PEER_FAILURES:
            self.excluded.add(peer)
        else:
            await asyncio.sleep(RETRY_PAUSE_S)

    async def run(self) -> None:
        """Sync the state of a recent height, then reload the node at it. Raises StateSyncFailed."""
        height = self.choose_height()
        started = time.monotonic()
        log.info("state sync: joining at height %d (mode %s) from %d peers", height, self.node.config.sync_mode,
                 len(self._sources(height)))
        await asyncio.to_thread(self.node.store.begin_state_sync, height)
        with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="sync-verify") as pool:
            position = await self._fetch_blocks(height, pool)
        manifest = await self._fetch_manifest(position)
        await self._fetch_state(manifest, position)
        self.phase = ""
        log.info("state sync: at height %d after %.1f s; continuing with block sync and consensus", height,
                 time.monotonic() - started)

    async def _fetch_blocks(self, height: int, pool: ThreadPoolExecutor) -> ChainPosition:
        """Blocks 1..height, verified in order while the next batches are in flight (BLOCKS_IN_FLIGHT, spread
        over the peers), each verified batch written while the next one is verified."""
        self.phase = "blocks"
        self.progress = (0, height)
        position = ChainPosition.genesis(self.node.genesis)
        progress = _Progress("verifying blocks and commits", height)
        pending: dict[int, tuple[bytes, asyncio.Task[bytes]]] = {}
        writing: asyncio.Task[None] | None = None
        chain_id = self.node.genesis.chain_id
        try:
            while position.height < height:
                start = position.height + 1
                for stale in [s for s in pending if s < start]:  # a short answer moved past them
                    pending.pop(stale)[1].cancel()
                sources = self._sources(height)
                if start not in pending:
                    pending[start] = self._ask_blocks(sources, start)
                following = max(pending) + BATCH_BLOCKS
                while len(pending) < BLOCKS_IN_FLIGHT and following <= height:
                    pending[following] = self._ask_blocks(sources, following)
                    following += BATCH_BLOCKS
                peer, task = pending.pop(start)
                try:
                    entries = decode_blocks_answer(await task)[: height - position.height]
                    writes, position = await asyncio.to_thread(verify_synced_blocks, entries, position,
                                                               chain_id=chain_id, pool=pool)
                except (ChainError, OSError, TimeoutError) as exc:
                    await self._charge(peer, exc, f"blocks from {start}", start, blocks=True)
                    continue
                if writing is not None:
                    await writing
                writing = asyncio.create_task(asyncio.to_thread(self.node.store.write_synced_blocks, writes))
                progress.add(len(writes))
                self.progress = (position.height, height)
            if writing is not None:
                await writing
        finally:
            for _, task in pending.values():
                task.cancel()
            await asyncio.gather(*(task for _, task in pending.values()), return_exceptions=True)
            if writing is not None and not writing.done():
                await asyncio.gather(writing, return_exceptions=True)
        return position

    def _ask_blocks(self, sources: list[bytes], start: int) -> tuple[bytes, asyncio.Task[bytes]]:
        """Request the batch from `start` of one of `sources`, chosen by the batch's number."""
        peer = sources[(start // BATCH_BLOCKS) % len(sources)]
        return peer, asyncio.create_task(self._request(peer, KIND_SYNC_BLOCKS, [start, BATCH_BLOCKS]))

    async def _request(self, peer: bytes, kind: str, request: list[codec.Value]) -> bytes:
        return await self.network.request(peer, kind, codec.encode(request), timeout=REQUEST_TIMEOUT_S)

    async def _fetch_manifest(self, position: ChainPosition) -> Manifest:
        self.phase = "manifest"
        while True:
            peer = self._sources(position.height)[0]
            try:
                manifest = decode_manifest(await self._request(peer, KIND_SYNC_MANIFEST, [position.height]))
                validate_manifest(manifest, height=position.height, state_root=position.state_root)
            except (ChainError, OSError, TimeoutError) as exc:
                await self._charge(peer, exc, f"the manifest of height {position.height}", position.height)
                continue
            log.info("state sync: manifest of height %d verified: %d chunks, %d of them empty", manifest.height,
                     len(manifest.chunks), sum(1 for c in manifest.chunks if c.count == 0))
            return manifest

    async def _fetch_state(self, manifest: Manifest, position: ChainPosition) -> None:
        self.phase = "chunks"
        store = self.node.store
        await asyncio.to_thread(store.clear_current_state)
        refs: list[bytes | None] = [None] * len(manifest.chunks)
        queue: asyncio.Queue[int] = asyncio.Queue()
        for index, entry in enumerate(manifest.chunks):
            if entry.count == 0:
                refs[index] = EMPTY_REF
            else:
                queue.put_nowait(index)
        progress = _Progress("fetching and writing state chunks", queue.qsize())
        self.progress = (0, queue.qsize())
        updates: list[bytes] = []
        workers = min(8, max(4, 2 * len(self._sources(manifest.height))), max(1, queue.qsize()))

        async def work(slot: int) -> None:
            while not queue.empty():
                index = queue.get_nowait()
                chunk = await self._fetch_chunk(manifest, index, slot)
                refs[index] = chunk.ref
                updates.extend(value for key, _, value in chunk.rows if key == VALIDATOR_UPDATES_KEY)
                await asyncio.to_thread(store.write_synced_state, manifest.height, chunk.rows, chunk.nodes)
                progress.add(1)
                self.progress = (progress.done, progress.total)

        try:
            async with asyncio.TaskGroup() as group:
                for slot in range(workers):
                    group.create_task(work(slot))
        except* StateSyncFailed as failed:
            raise failed.exceptions[0] from None
        root_ref, top = compute_joined_tree([r if r is not None else EMPTY_REF for r in refs], manifest.bits,
                                            manifest.height)
        if compute_ref_hash(root_ref) != position.state_root:
            raise StateSyncFailed(f"the written state does not rebuild to header {manifest.height}'s state root")
        sets = self._following_sets(position, updates)
        await asyncio.to_thread(store.finish_state_sync, manifest.height, root_ref, top, sets)
        await asyncio.to_thread(self.node.reload_after_state_sync)

    async def _fetch_chunk(self, manifest: Manifest, index: int, slot: int) -> VerifiedChunk:
        """All pages of one chunk from one peer, verified; another peer after a failure."""
        while True:
            sources = self._sources(manifest.height)
            peer = sources[(index + slot) % len(sources)]
            pairs: list[tuple[bytes, bytes]] = []
            cursor: bytes | None = None
            size = 0
            try:
                while True:
                    page = decode_chunk_page(await self._request(
                        peer, KIND_SYNC_CHUNK, [manifest.height, manifest.bits, index, cursor]))
                    _check_page(page, manifest, index, cursor)
                    pairs.extend(page.pairs)
                    size += sum(len(k) + len(v) for k, v in page.pairs)
                    # [REJECT] a chunk larger than any honest one (pages that never end)
                    if size > MAX_CHUNK_TOTAL:
                        raise InvalidInput(f"chunk {index} runs past {MAX_CHUNK_TOTAL} bytes")
                    if page.next_cursor is None:
                        break
                    cursor = page.next_cursor
                return await asyncio.to_thread(verify_chunk, manifest, index, pairs)
            except (ChainError, OSError, TimeoutError) as exc:
                await self._charge(peer, exc, f"chunk {index} of height {manifest.height}", manifest.height)

    def _following_sets(self, position: ChainPosition, updates: list[bytes]) -> dict[int, bytes]:
        """The sets of H+1 (named by header H) and H+2 (the updates block H queued, in the state of H)."""
        height = position.height
        sets = {height + 1: position.validators.encode()}
        for raw in updates:
            queued = codec.decode(raw, max_size=1 << 20)
            if type(queued) is dict and queued.get("height") == height:
                changes = compute_validator_updates({VALIDATOR_UPDATES_KEY: raw})
                sets[height + 2] = apply_validator_updates(position.validators, list(changes)).encode()
        return sets


def _check_page(page: ChunkPage, manifest: Manifest, index: int, cursor: bytes | None) -> None:
    # [REJECT] a page of another chunk than asked, or one that does not move forward
    if (page.height, page.bits, page.index) != (manifest.height, manifest.bits, index):
        raise InvalidInput(f"the answer is a page of another chunk than {index} of height {manifest.height}")
    if cursor is not None and page.next_cursor is not None and page.next_cursor <= cursor:
        raise InvalidInput(f"a page of chunk {index} does not move past its cursor")


__all__ = [
    "MODES",
    "ChainPosition",
    "StateSync",
    "StateSyncFailed",
    "verify_synced_blocks",
]
