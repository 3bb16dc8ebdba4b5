"""The node's LevelDB store: one database per node home, one key prefix per column.

Every write of a committed block (block, commit, results, transaction index, state, state history,
state tree nodes, entity index, head) goes into ONE write batch written with sync=True, so a crash
at any instant leaves the old or the new height, never half a block. This module alone imports plyvel.
The column layout is documented in docs/storage.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
import struct
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import plyvel

from chainnode import codec
from chainnode.block import Block, BlockHeader, Commit, decode_block, decode_commit
from chainnode.config import STORAGE_COMPRESSIONS
from chainnode.errors import CorruptStore, InvalidInput, StateNotKept, StoreError, StoreLocked
from chainnode.execution import compute_call_entities
from chainnode.state import StateUpdate
from chainnode.state_tree import StateTree, compute_key_hash
from chainnode.tx import decode_transaction

log = logging.getLogger(__name__)

FORMAT_VERSION: Final = b"chainnode-store/4"
"""4: a refused call is indexed (`e`) under the entities its arguments name, not only its signer;
3: the state is a versioned sparse Merkle tree (docs/state.md); 2 had hash buckets."""
SYNCED_FORMAT: Final = b"chainnode-store/5"
"""The marker of a store that state sync started at a base height (`m/base`): the layout of /4, with the state
below the base not kept. Written when a state sync begins, so that a release that does not know `m/base`
refuses the store instead of answering reads below the base as if the keys were absent."""
UPGRADABLE_FORMAT: Final = b"chainnode-store/3"
"""The one older format a store is upgraded from when opened (`Store.upgrade_entity_index`)."""
UPGRADE_BATCH_BLOCKS: Final = 1000

META_FORMAT: Final = b"m/format"
META_GENESIS: Final = b"m/genesis"
META_HEAD: Final = b"m/head"
META_BASE: Final = b"m/base"
"""h8(H) on a store that state sync started at height H: the state below H is not kept (docs/sync.md)."""
META_SYNCING: Final = b"m/syncing"
"""h8(H) while state sync to H writes; a store that holds it at start is cleared and synced again."""
COL_BLOCK: Final = b"b"
COL_BLOCK_HASH: Final = b"H"
COL_COMMIT: Final = b"c"
COL_RESULTS: Final = b"r"
COL_TX: Final = b"t"
COL_STATE: Final = b"s"
COL_NODE: Final = b"n"
COL_ROOT: Final = b"R"
COL_HISTORY: Final = b"y"
COL_ENTITY: Final = b"e"
COL_VALIDATORS: Final = b"w"

U64: Final = struct.Struct(">Q")
U32: Final = struct.Struct(">I")
MAX_STORED_VALUE: Final = 128 * 1024 * 1024
PINNED_DEPTH: Final = 16
"""Tree nodes above this depth (at most 65,535 positions) stay cached in their newest version: every block
update and proof reads them."""
NODE_CACHE_LIMIT: Final = 1 << 15
"""Deeper tree nodes per cache generation."""


def h8(height: int) -> bytes:
    return U64.pack(height)


def entity_prefix(entity: str) -> bytes:
    return COL_ENTITY + entity.encode() + b"\x00"


@dataclass(frozen=True, slots=True, kw_only=True)
class TxLocation:
    height: int
    index: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockWrite:
    """Everything one committed block adds to the store."""

    block: Block
    block_bytes: bytes
    block_hash: bytes
    commit: Commit
    tx_ids: Sequence[bytes]
    result_bytes: Sequence[bytes]
    entities: Sequence[Sequence[str]]
    changes: Mapping[bytes, bytes | None]
    update: StateUpdate
    validator_sets: Mapping[int, bytes] = dataclasses.field(default_factory=dict)
    """Validator sets taking effect at a height (canonical tag-8 bytes), decided by this block."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncedBlockWrite:
    """One block state sync verified without executing it: what the store keeps of it."""

    height: int
    block_bytes: bytes
    block_hash: bytes
    commit_bytes: bytes
    results_raw: bytes
    """The canonical array of the transactions' encoded results (the `r` row), checked against results_root."""
    tx_ids: Sequence[bytes]
    entities: Sequence[Sequence[str]]
    validator_sets: Mapping[int, bytes] = dataclasses.field(default_factory=dict)
    """Validator sets taking effect at a height, as this block's header names them (canonical tag-8 bytes)."""


class NodeCache:
    """State tree nodes read or written lately, shared by the store and its snapshots.

    A node key names one immutable value, so no cached entry is ever wrong for any view. Nodes above
    PINNED_DEPTH are kept in their newest version (by position); deeper ones in two generations (a full
    young generation becomes the old one).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pinned: dict[bytes, tuple[bytes, bytes]] = {}
        """depth || path -> (node key, value) of the newest version seen of each node above PINNED_DEPTH."""
        self._young: dict[bytes, bytes] = {}
        self._old: dict[bytes, bytes] = {}
        self.reads = 0
        """Tree nodes read from LevelDB (cache misses) since the store was opened."""

    def get(self, node_key: bytes) -> bytes | None:
        with self._lock:
            if len(node_key) > 8 and node_key[8] < PINNED_DEPTH:
                held = self._pinned.get(node_key[8:])
                return held[1] if held is not None and held[0] == node_key else None
            return self._young.get(node_key) or self._old.get(node_key)

    def remember(self, nodes: Mapping[bytes, bytes]) -> None:
        deeper = {}
        with self._lock:
            for node_key, value in nodes.items():
                if node_key[8] < PINNED_DEPTH:
                    held = self._pinned.get(node_key[8:])
                    if held is None or held[0][:8] < node_key[:8]:  # an old-height read keeps the newest version
                        self._pinned[node_key[8:]] = (node_key, value)
                else:
                    deeper[node_key] = value
            if len(deeper) > NODE_CACHE_LIMIT:
                return  # a genesis of many keys: keep its top, not all of it
            if len(self._young) + len(deeper) > NODE_CACHE_LIMIT:
                self._old, self._young = self._young, {}
            self._young.update(deeper)


class StoreView:
    """Every read of the store, over the live database or over one LevelDB snapshot.

    `Store` is the live view plus the writes; `Store.snapshot()` gives a `StoreSnapshot`, the same getters
    frozen at one committed height, for readers that must not mix two heights and must not take the lock
    the committer holds. (A class hierarchy here, against the house rule, because a snapshot *is* a store
    view: one set of getters serves both.)
    """

    def __init__(
        self, source: Any, *, headers: OrderedDict[int, BlockHeader], header_lock: threading.Lock,
        header_cache: int, nodes: NodeCache, base: list[int] | None = None,
    ) -> None:
        self._db = source
        self._base = base if base is not None else [self._read_base()]
        """[the state-sync base height, 0 if none]: shared with snapshots, set once when a sync finishes."""
        self._headers = headers
        self._header_lock = header_lock
        self._header_cache = header_cache
        self._nodes = nodes

    @property
    def node_reads(self) -> int:
        """State tree nodes read from LevelDB (cache misses) since the store was opened."""
        return self._nodes.reads

    # --- meta ------------------------------------------------------------------------------------------

    def _get(self, key: bytes) -> bytes | None:
        value: bytes | None = self._db.get(key)
        return value

    def genesis_hash(self) -> bytes | None:
        return self._get(META_GENESIS)

    def format_marker(self) -> bytes | None:
        """The store's `m/format` (FORMAT_VERSION, or SYNCED_FORMAT for a state-synced store)."""
        return self._get(META_FORMAT)

    def _read_base(self) -> int:
        raw = self._db.get(META_BASE)
        if raw is None:
            return 0
        if len(raw) != 8:
            raise CorruptStore("the state sync base marker is damaged")
        return int(U64.unpack(raw)[0])

    def base_height(self) -> int:
        """The height state sync started this store at (its state below is not kept); 0 if it replayed."""
        return self._base[0]

    def syncing_height(self) -> int | None:
        """The height of a state sync that was writing and did not finish, if any (docs/sync.md)."""
        raw = self._db.get(META_SYNCING)
        return None if raw is None or len(raw) != 8 else int(U64.unpack(raw)[0])

    def validate_state_kept(self, height: int) -> None:
        """Raises StateNotKept for a height whose state this state-synced store does not hold (0 < h < base)."""
        base = self._base[0]
        if 0 < height < base:
            raise StateNotKept(f"this node was state-synced at height {base}; state before {base} is not kept "
                               f"here (asked for height {height}); ask a node that replayed the chain",
                               field="height")

    def head_height(self) -> int:
        """The last committed height; 0 when only genesis state exists; -1 before initialisation."""
        raw = self._db.get(META_HEAD)
        if raw is None:
            return -1
        if len(raw) != 8:
            raise CorruptStore("the head marker is damaged")
        return int(U64.unpack(raw)[0])

    # --- blocks ----------------------------------------------------------------------------------------

    def get_block_bytes(self, height: int) -> bytes | None:
        return self._get(COL_BLOCK + h8(height))

    def get_block(self, height: int) -> Block | None:
        raw = self.get_block_bytes(height)
        if raw is None:
            return None
        try:
            return decode_block(raw)
        except InvalidInput as exc:
            raise CorruptStore(f"block {height} in the store cannot be decoded: {exc.message}") from exc

    def get_header(self, height: int) -> BlockHeader | None:
        """A block's header, from the cache shared by every view (headers never change once written)."""
        with self._header_lock:
            header = self._headers.get(height)
        if header is not None:
            return header
        block = self.get_block(height)
        if block is None:
            return None
        self._cache_header(height, block.header)
        return block.header

    def _cache_header(self, height: int, header: BlockHeader) -> None:
        with self._header_lock:
            self._headers[height] = header
            if len(self._headers) > self._header_cache:
                self._headers.popitem(last=False)

    def get_height_of(self, block_hash: bytes) -> int | None:
        raw = self._db.get(COL_BLOCK_HASH + block_hash)
        return None if raw is None else int(U64.unpack(raw)[0])

    def get_commit_bytes(self, height: int) -> bytes | None:
        return self._get(COL_COMMIT + h8(height))

    def get_commit(self, height: int) -> Commit | None:
        raw = self.get_commit_bytes(height)
        if raw is None:
            return None
        try:
            return decode_commit(raw)
        except InvalidInput as exc:
            raise CorruptStore(f"commit {height} in the store cannot be decoded: {exc.message}") from exc

    def get_result_bytes(self, height: int) -> list[bytes] | None:
        raw = self._db.get(COL_RESULTS + h8(height))
        if raw is None:
            return None
        try:
            value = codec.decode(raw, max_size=MAX_STORED_VALUE)
        except InvalidInput as exc:
            raise CorruptStore(f"results of block {height} cannot be decoded: {exc.message}") from exc
        if type(value) is not list or not all(type(v) is bytes for v in value):
            raise CorruptStore(f"results of block {height} are damaged")
        return value

    def get_result_raw(self, height: int) -> bytes | None:
        """The `r` row of block `height` as stored: the canonical array of its encoded results."""
        return self._get(COL_RESULTS + h8(height))

    def get_tx_location(self, tx_id: bytes) -> TxLocation | None:
        raw = self._db.get(COL_TX + tx_id)
        if raw is None:
            return None
        if len(raw) != 12:
            raise CorruptStore(f"transaction index entry of {tx_id.hex()} is damaged")
        return TxLocation(height=int(U64.unpack(raw[:8])[0]), index=int(U32.unpack(raw[8:])[0]))

    def has_tx(self, tx_id: bytes) -> bool:
        return self._db.get(COL_TX + tx_id) is not None

    def get_validator_set_bytes(self, height: int) -> bytes | None:
        """The validator set in force at `height`: the latest one taking effect at or before it."""
        with self._db.iterator(start=COL_VALIDATORS, stop=COL_VALIDATORS + h8(height + 1), reverse=True) as it:
            for _, value in it:
                return bytes(value)
        return None

    def validator_change_heights(self, up_to: int) -> list[int]:
        """The heights from which a stored validator set is in force, up to `up_to`, ascending."""
        stop = COL_VALIDATORS + h8(up_to + 1)
        return [int(U64.unpack(key[1:9])[0]) for key, _ in self._db.iterator(start=COL_VALIDATORS, stop=stop)]

    # --- state -----------------------------------------------------------------------------------------

    def get(self, key: bytes) -> bytes | None:
        return self._get(COL_STATE + key)

    def iter_prefix(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        cut = len(COL_STATE)
        for key, value in self._db.iterator(prefix=COL_STATE + prefix):
            yield key[cut:], value

    def load_node(self, node_key: bytes) -> bytes:
        """The stored state tree node `node_key` (docs/state.md). Raises CorruptStore if it is missing."""
        value = self._nodes.get(node_key)
        if value is None:
            self._nodes.reads += 1
            value = self._db.get(COL_NODE + node_key)
            if value is None:
                raise CorruptStore(f"state tree node {node_key.hex()} is missing; run `chainnode check`")
            self._nodes.remember({node_key: value})
        return value

    def root_at(self, height: int) -> StateTree:
        """The state tree after block `height` (0: the genesis state): one read of its root reference.

        Raises StateNotKept below a state-synced store's base, CorruptStore if the height is committed but its
        root reference is missing.
        """
        self.validate_state_kept(height)
        ref = self._db.get(COL_ROOT + h8(height))
        if ref is None:
            raise CorruptStore(f"the state root reference of height {height} is missing; run `chainnode check`")
        return StateTree(height, bytes(ref))

    def load_tree(self) -> StateTree:
        """The state tree at the head; the empty tree before initialisation."""
        head = self.head_height()
        return StateTree.empty() if head < 0 else self.root_at(head)

    def value_at(self, key: bytes, height: int) -> bytes | None:
        """The value of `key` after block `height` (None if absent then), from the state history.

        Raises StateNotKept below a state-synced store's base.
        """
        self.validate_state_kept(height)
        key_hash = compute_key_hash(key)
        found = self.history_pair_at(key_hash, height)
        return None if found is None else found[1]

    def history_pair_at(self, key_hash: bytes, height: int) -> tuple[bytes, bytes | None] | None:
        """The (key, value) the state history holds for `key_hash` after block `height` (value None: deleted);
        None if the key was never written up to then. On a state-synced store a row below the base (the
        genesis state's) counts as absent: every key present at the base has a row at the base."""
        prefix = COL_HISTORY + key_hash
        with self._db.iterator(start=prefix, stop=prefix + h8(height + 1), reverse=True) as it:
            for row_key, raw in it:
                if self._base[0] > 0 and int(U64.unpack(row_key[33:41])[0]) < self._base[0] <= height:
                    return None
                return self._decode_history(raw, key_hash)
        return None

    @contextlib.contextmanager
    def history_reader(self, height: int) -> Iterator[Callable[[bytes], tuple[bytes, bytes | None] | None]]:
        """`history_pair_at(key_hash, height)` for many key hashes in a row, through one LevelDB iterator
        (one seek per key instead of an iterator per key: serving state chunks)."""
        base = self._base[0]
        with self._db.iterator(prefix=COL_HISTORY) as it:
            def read(key_hash: bytes) -> tuple[bytes, bytes | None] | None:
                prefix = COL_HISTORY + key_hash
                it.seek(prefix + h8(height + 1))
                try:
                    row_key, raw = it.prev()
                except StopIteration:
                    return None
                if row_key[:33] != prefix:  # a seek moves out of the prefix: another key's row
                    return None
                if base > 0 and int(U64.unpack(row_key[33:41])[0]) < base <= height:
                    return None
                return self._decode_history(raw, key_hash)

            yield read

    @staticmethod
    def _decode_history(raw: bytes, key_hash: bytes) -> tuple[bytes, bytes | None]:
        try:
            key, value = codec.decode(raw, max_size=MAX_STORED_VALUE)
        except (InvalidInput, ValueError, TypeError) as exc:
            raise CorruptStore(f"state history of key hash {key_hash.hex()} is damaged") from exc
        return key, value

    # --- history ---------------------------------------------------------------------------------------

    def iter_entity(self, entity: str, *, start: tuple[int, int] = (0, 0)) -> Iterator[tuple[int, int, bytes]]:
        """(height, index, tx_id) of every transaction that touched `entity`, in chain order."""
        prefix = entity_prefix(entity)
        cut = len(prefix)
        begin = prefix + h8(start[0]) + U32.pack(start[1])
        for key, tx_id in self._db.iterator(start=begin, stop=prefix + b"\xff" * 13):
            height, index = U64.unpack(key[cut : cut + 8])[0], U32.unpack(key[cut + 8 : cut + 12])[0]
            yield int(height), int(index), tx_id

    def iter_state_history(self, key: bytes) -> Iterator[tuple[int, bytes | None]]:
        key_hash = compute_key_hash(key)
        for k, raw in self._db.iterator(prefix=COL_HISTORY + key_hash):
            yield int(U64.unpack(k[33:41])[0]), self._decode_history(raw, key_hash)[1]

    def iter_all(self) -> Iterator[tuple[bytes, bytes]]:
        """Every row in key order (backups: call it on a snapshot)."""
        return self._db.iterator()  # type: ignore[no-any-return]

    def iter_column(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        yield from self._db.iterator(prefix=prefix)

    def iter_range(self, start: bytes, stop: bytes | None) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value) from `start` (included) to `stop` (excluded; None: to the end), in key order."""
        iterator: Iterator[tuple[bytes, bytes]] = self._db.iterator(start=start, stop=stop)
        return iterator

    def iter_keys(self, start: bytes, stop: bytes | None) -> Iterator[bytes]:
        """Every key from `start` (included) to `stop` (excluded; None: to the end), in key order."""
        iterator: Iterator[bytes] = self._db.iterator(start=start, stop=stop, include_value=False)
        return iterator


class StoreSnapshot(StoreView):
    """The store frozen at one instant (a LevelDB snapshot): every getter answers as of that commit.

    Release it promptly (`with store.snapshot() as snap:`): LevelDB keeps what a snapshot can see.
    """

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> StoreSnapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Store(StoreView):
    """A node's LevelDB store. Reads are safe from any thread; writes come from the one committer."""

    def __init__(self, path: Path, *, header_cache: int = 1024, upgrade: bool = True,
                 compression: str = "none") -> None:
        """`compression`: "none" or "snappy", for the table blocks LevelDB writes from now on (each block
        records how it was written, so a store opens with either)."""
        if compression not in STORAGE_COMPRESSIONS:
            raise ValueError(f"unknown store compression {compression!r}")
        path.mkdir(parents=True, exist_ok=True)
        try:
            db = plyvel.DB(
                str(path),
                create_if_missing=True,
                paranoid_checks=True,
                bloom_filter_bits=10,
                lru_cache_size=64 * 1024 * 1024,
                write_buffer_size=32 * 1024 * 1024,
                compression=None if compression == "none" else compression,  # plyvel's names otherwise
            )
        except plyvel.IOError as exc:
            if "lock" in str(exc).lower():
                raise StoreLocked(
                    f"the store {path} is in use by another process (is a node already running with this home?)"
                ) from exc
            raise StoreError(f"cannot open the store {path}: {exc}") from exc
        except plyvel.CorruptionError as exc:
            raise CorruptStore(f"the store {path} is corrupt: {exc}") from exc
        super().__init__(db, headers=OrderedDict(), header_lock=threading.Lock(), header_cache=header_cache,
                         nodes=NodeCache())
        self.path = path
        self.compression = compression
        self._check_format(path, upgrade=upgrade)

    def _check_format(self, path: Path, *, upgrade: bool) -> None:
        try:
            fmt = self._db.get(META_FORMAT)
        except plyvel.Error as exc:
            self._db.close()
            raise CorruptStore(f"the store {path} cannot be read: {exc}") from exc
        if fmt == SYNCED_FORMAT:
            return
        if fmt is not None and fmt != FORMAT_VERSION and not re.fullmatch(rb"chainnode-store/[0-9]{1,4}", fmt):
            self._db.close()
            raise CorruptStore(f"the store {path} is corrupt: its format marker {fmt!r} is damaged")
        if fmt == UPGRADABLE_FORMAT and upgrade:
            self.upgrade_entity_index()
            return
        if fmt == UPGRADABLE_FORMAT:
            self._db.close()
            raise StoreError(
                f"the store {path} has format {fmt.decode()}, which this release upgrades when a node opens it; "
                "start the node once (chainnode start --home HOME) and stop it, then run this again"
            )
        if fmt is not None and fmt != FORMAT_VERSION:
            self._db.close()
            raise StoreError(
                f"the store {path} has format {fmt.decode(errors='replace')}, written by another release; this "
                f"node reads {FORMAT_VERSION.decode()}. Re-create the node home from its genesis and let it sync "
                "from the network (on a local devnet: ./scripts/devnet reset)"
            )

    def upgrade_entity_index(self) -> None:
        """Upgrade a chainnode-store/3 store to /4: index every committed call under the entities its arguments
        name (`execution.compute_call_entities`), which /3 wrote for successful calls only.

        Writes only missing `e` rows (a row already there is rewritten with the same value), in batches of
        UPGRADE_BATCH_BLOCKS blocks, then the new format marker in a last synced batch: a crash meanwhile
        leaves a /3 store with some rows added, and the next open runs the upgrade again from the start.
        Raises CorruptStore if a block below the head is missing or a transaction cannot be decoded.
        """
        head = self.head_height()
        log.info("upgrading the store %s from %s to %s: indexing the calls of %d blocks under their targets",
                 self.path, UPGRADABLE_FORMAT.decode(), FORMAT_VERSION.decode(), max(head, 0))
        batch = self._db.write_batch(transaction=True)
        for height in range(1, head + 1):
            block = self.get_block(height)
            if block is None:
                raise CorruptStore(f"block {height} is missing below the head {head}; run `chainnode check`")
            for index, raw in enumerate(block.txs):
                try:
                    tx = decode_transaction(raw, max_size=MAX_STORED_VALUE)
                except InvalidInput as exc:
                    raise CorruptStore(f"transaction {index} of block {height} cannot be decoded: {exc.message}; "
                                       "run `chainnode check`") from exc
                position = h8(height) + U32.pack(index)
                for entity in compute_call_entities(tx):
                    batch.put(entity_prefix(entity) + position, tx.tx_id)
            if height % UPGRADE_BATCH_BLOCKS == 0:
                batch.write()
                batch = self._db.write_batch(transaction=True)
                log.info("upgrading the store: indexed block %d of %d", height, head)
        batch.write()
        self._db.put(META_FORMAT, FORMAT_VERSION, sync=True)
        log.info("upgraded the store %s to %s", self.path, FORMAT_VERSION.decode())

    def close(self) -> None:
        if not self._db.closed:
            self._db.close()

    def snapshot(self) -> StoreSnapshot:
        """A read-only view of the store as of now: one committed height, whatever commits after.

        It shares the header and tree node caches: both hold only values that never change once written.
        """
        return StoreSnapshot(self._db.snapshot(), headers=self._headers, header_lock=self._header_lock,
                             header_cache=self._header_cache, nodes=self._nodes, base=self._base)

    def initialise(
        self, genesis_hash: bytes, changes: Mapping[bytes, bytes | None], update: StateUpdate, validators: bytes
    ) -> None:
        """Write the genesis state at height 0 and the genesis validator set from height 1, in one batch."""
        batch = self._db.write_batch(transaction=True, sync=True)
        batch.put(META_FORMAT, FORMAT_VERSION)
        batch.put(META_GENESIS, genesis_hash)
        batch.put(COL_VALIDATORS + h8(1), validators)
        self._put_state(batch, 0, changes, update)
        batch.put(META_HEAD, h8(0))
        batch.write()
        self._nodes.remember(update.nodes)

    # --- the one write per block -----------------------------------------------------------------------

    def commit_block(self, write: BlockWrite) -> None:
        """Write a committed block and all that follows from it in one synced batch.

        Raises StoreError if the block does not extend the head (a bug in the caller).
        """
        height = write.block.height
        head = self.head_height()
        if height != head + 1:
            raise StoreError(f"block {height} does not extend the stored head {head}")
        batch = self._db.write_batch(transaction=True, sync=True)
        hb = h8(height)
        batch.put(COL_BLOCK + hb, write.block_bytes)
        batch.put(COL_BLOCK_HASH + write.block_hash, hb)
        batch.put(COL_COMMIT + hb, write.commit.encode())
        batch.put(COL_RESULTS + hb, codec.encode(list(write.result_bytes)))
        for index, (tx_id, entities) in enumerate(zip(write.tx_ids, write.entities, strict=True)):
            position = hb + U32.pack(index)
            batch.put(COL_TX + tx_id, position)
            for entity in entities:
                batch.put(entity_prefix(entity) + position, tx_id)
        self._put_state(batch, height, write.changes, write.update)
        for effective, encoded in write.validator_sets.items():
            batch.put(COL_VALIDATORS + h8(effective), encoded)
        batch.put(META_HEAD, hb)
        batch.write()
        self._cache_header(height, write.block.header)
        self._nodes.remember(write.update.nodes)

    # --- state sync: blocks without execution, then the state of one height (docs/sync.md) ---------------

    def begin_state_sync(self, height: int) -> None:
        """Mark the store as being state-synced to `height`, before anything of it is written (synced put).

        Raises StoreError unless the store holds the genesis state only.
        """
        if self.head_height() != 0:
            raise StoreError(f"state sync needs a store at height 0; this one is at {self.head_height()}")
        batch = self._db.write_batch(transaction=True, sync=True)
        batch.put(META_FORMAT, SYNCED_FORMAT)
        batch.put(META_SYNCING, h8(height))
        batch.write()

    def clear_all(self) -> None:
        """Delete every row, in batches (a state sync that failed half way; the caller initialises again)."""
        batch, count = self._db.write_batch(transaction=True), 0
        with self._db.iterator(include_value=False) as keys:  # an iterator reads one snapshot: safe to delete
            for key in keys:
                batch.delete(key)
                count += 1
                if count % 100_000 == 0:
                    batch.write()
                    batch = self._db.write_batch(transaction=True)
        batch.write()
        self._base[0] = 0

    def write_synced_blocks(self, blocks: Sequence[SyncedBlockWrite]) -> None:
        """Write verified blocks with their commits, results and indexes (not the head: see finish_state_sync)."""
        batch = self._db.write_batch(transaction=True)
        for block in blocks:
            hb = h8(block.height)
            batch.put(COL_BLOCK + hb, block.block_bytes)
            batch.put(COL_BLOCK_HASH + block.block_hash, hb)
            batch.put(COL_COMMIT + hb, block.commit_bytes)
            batch.put(COL_RESULTS + hb, block.results_raw)
            for index, (tx_id, entities) in enumerate(zip(block.tx_ids, block.entities, strict=True)):
                position = hb + U32.pack(index)
                batch.put(COL_TX + tx_id, position)
                for entity in entities:
                    batch.put(entity_prefix(entity) + position, tx_id)
            for effective, encoded in block.validator_sets.items():
                batch.put(COL_VALIDATORS + h8(effective), encoded)
        batch.write()

    def clear_current_state(self) -> None:
        """Delete every `s` row (the genesis state a synced state replaces); history rows stay."""
        batch = self._db.write_batch(transaction=True)
        for key in self._db.iterator(prefix=COL_STATE, include_value=False):
            batch.delete(key)
        batch.write()

    def write_synced_state(self, height: int, rows: Sequence[tuple[bytes, bytes, bytes]],
                           nodes: Mapping[bytes, bytes]) -> None:
        """Write verified state rows `(key, key_hash, value)` of `height` (`s`, and `y` at `height`) and tree
        nodes of version `height`."""
        batch = self._db.write_batch(transaction=True)
        hb = h8(height)
        for key, key_hash, value in rows:
            batch.put(COL_STATE + key, value)
            batch.put(COL_HISTORY + key_hash + hb, codec.encode([key, value]))
        for node_key, node in nodes.items():
            batch.put(COL_NODE + node_key, node)
        batch.write()

    def finish_state_sync(self, height: int, root_ref: bytes, nodes: Mapping[bytes, bytes],
                          validator_sets: Mapping[int, bytes]) -> None:
        """The last, synced batch of a state sync: the top tree nodes, the root reference of `height`, the
        validator sets the node needs next, `m/head` and `m/base` = `height`; `m/syncing` goes."""
        batch = self._db.write_batch(transaction=True, sync=True)
        for node_key, node in nodes.items():
            batch.put(COL_NODE + node_key, node)
        batch.put(COL_ROOT + h8(height), root_ref)
        for effective, encoded in validator_sets.items():
            batch.put(COL_VALIDATORS + h8(effective), encoded)
        batch.put(META_BASE, h8(height))
        batch.put(META_HEAD, h8(height))
        batch.delete(META_SYNCING)
        batch.write()
        self._base[0] = height
        self._nodes.remember(nodes)

    def replace_commit(self, height: int, commit: Commit) -> None:
        self._db.put(COL_COMMIT + h8(height), commit.encode(), sync=True)

    def _put_state(
        self, batch: plyvel.WriteBatch, height: int, changes: Mapping[bytes, bytes | None], update: StateUpdate
    ) -> None:
        if update.tree.version != height:
            raise StoreError(f"the state update of version {update.tree.version} cannot be stored at height {height}")
        hb = h8(height)
        for key, value in changes.items():
            key_hash = update.key_hashes[key]
            if value is None:
                batch.delete(COL_STATE + key)
            else:
                batch.put(COL_STATE + key, value)
            batch.put(COL_HISTORY + key_hash + hb, codec.encode([key, value]))
        for node_key, node in update.nodes.items():
            batch.put(COL_NODE + node_key, node)
        batch.put(COL_ROOT + hb, update.tree.ref)
