"""The offline integrity check of a node's store, behind `chainnode check --home DIR`.

Blocks and their commits are the store's only primary records; every other column follows from them.
The check verifies each block against genesis (hash chain, commits, Merkle roots, transaction
signatures), replays every block from the genesis state in memory, and compares every other stored key
and value with what the replay implies, so any altered, missing or extra byte is found. It never
writes to the store and refuses to run beside a node that holds the store open.

Theory of operation: three passes.
1. SCAN every key of the database once, in key order, but those of the current state (s, w: pass 3 reads
   them), each known column as its own key range. Meta keys and keys of no known column are judged here.
   Each entry of the per-height index columns (H, t, e, y, n, R) is assigned the height it belongs to (read
   from its key or value) and folded into that height's digest, a SHA-256 chain over the height's
   entries in key order. A height's tree nodes (n) are adjacent in key order, so they are folded as one
   entry: the SHA-256 of all of them (`compute_index_digest` defines it). Entries that claim a height
   beyond the head are reported.
2. REPLAY heights 0 (genesis state) to head in order: check the block and its commits, execute it on
   the in-memory state, and compare the digest of the index entries the replay implies with the
   scanned one. Only on a mismatch are the expected entries looked up one by one, to name the fault.
   Transaction signatures are verified by worker processes beside the replay: a large block's in chunks
   of VERIFY_CHUNK, small blocks' gathered across blocks into chunks of that size.
3. STATE: compare the current-state columns (s, w) with the replayed state key by key, then name
   the entries that mismatched heights hold but the replay did not expect (one more scan).
The chained digests make the comparison exact with one 32-byte digest per height and no lookup per
entry; the state, its live tree nodes (roughly 300 bytes a key in Python, so a few hundred MB for a
million keys) and the set of committed transaction IDs are the only things held in full.
"""

from __future__ import annotations

import bisect
import hashlib
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from chainnode import codec, crypto
from chainnode.block import (
    Block,
    compute_results_root,
    decode_block,
    decode_commit,
    validate_block_shape,
    validate_commit,
)
from chainnode.config import HomeLayout
from chainnode.errors import CorruptStore, InvalidBlock, InvalidInput, StoreError
from chainnode.execution import (
    BlockContext,
    compute_call_entities,
    compute_genesis_changes,
    compute_validator_updates,
    execute_block,
)
from chainnode.genesis import Genesis, load_genesis
from chainnode.results import decode_result
from chainnode.state import StateUpdate, compute_state_update
from chainnode.state_tree import StateTree
from chainnode.store import (
    COL_BLOCK,
    COL_BLOCK_HASH,
    COL_COMMIT,
    COL_ENTITY,
    COL_HISTORY,
    COL_NODE,
    COL_RESULTS,
    COL_ROOT,
    COL_STATE,
    COL_TX,
    COL_VALIDATORS,
    FORMAT_VERSION,
    MAX_STORED_VALUE,
    META_BASE,
    META_FORMAT,
    META_GENESIS,
    META_HEAD,
    META_SYNCING,
    SYNCED_FORMAT,
    U32,
    U64,
    Store,
    entity_prefix,
    h8,
)
from chainnode.tx import Transaction, decode_transaction
from chainnode.validators import ValidatorSet, apply_validator_updates, decode_validator_set
from contracts.validators import VALIDATOR_UPDATES_KEY

MAX_PROBLEMS: Final = 20
MAX_FAULTS_PER_HEIGHT: Final = 5
"""Index entries named one by one per height; the rest are counted, so one bad block cannot fill the report."""
PROGRESS_EVERY: Final = 1000
VERIFY_CHUNK: Final = 256
MAX_BATCHES_IN_FLIGHT: Final = 8
ZERO_DIGEST: Final = bytes(32)
NODE_COLUMN_END: Final = bytes([COL_NODE[0] + 1])
_unpack_u64 = U64.unpack_from

INDEX_COLUMNS: Final = (COL_BLOCK_HASH, COL_ENTITY, COL_TX, COL_NODE, COL_ROOT, COL_HISTORY)
"""Columns with entries for many keys per height, compared through the per-height digests."""
BLOCK_COLUMNS: Final = (COL_BLOCK, COL_COMMIT, COL_RESULTS)
"""Columns with one entry per height, read directly."""
STATE_COLUMNS: Final = (COL_STATE, COL_VALIDATORS)
"""Columns that hold the current state, compared with the replayed state at the end."""
META_KEYS: Final = (META_FORMAT, META_GENESIS, META_HEAD, META_BASE, META_SYNCING)
SCANNED_COLUMNS: Final = tuple(sorted({*INDEX_COLUMNS, *BLOCK_COLUMNS, *STATE_COLUMNS, b"m"}))
"""Every known column's first byte, in key order: the scan reads each as a key range, and what lies between."""

LABELS: Final[Mapping[bytes, str]] = {
    COL_BLOCK: "block", COL_COMMIT: "commit", COL_RESULTS: "results", COL_BLOCK_HASH: "block hash index",
    COL_TX: "transaction index", COL_ENTITY: "entity index", COL_HISTORY: "state history",
    COL_NODE: "state tree nodes", COL_ROOT: "state tree roots", COL_STATE: "current state",
    COL_VALIDATORS: "validator sets",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One fault found in the store."""

    height: int | None
    """The height the faulty record belongs to (0: the genesis state); None for meta and current state."""
    column: str
    """The column of the record: "b", "c", "r", "H", "t", "e", "y", "n", "R", "s", "w", "m/head", ...;
    "?" for a key in no known column, "*" for a count of further index faults at one height."""
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckReport:
    """The outcome of `check_home`."""

    ok: bool
    head: int
    """The head height the store records (the highest stored block if its head marker is unusable)."""
    blocks_checked: int
    txs_checked: int
    problems: list[Problem]
    truncated: bool = False
    """True when the check stopped early after MAX_PROBLEMS problems."""

    @property
    def first_bad_height(self) -> int | None:
        """The lowest height any problem names, or None."""
        return min((p.height for p in self.problems if p.height is not None), default=None)


def check_home(
    home: Path,
    *,
    progress: Callable[[str], None] | None = None,
    count: Callable[[str, int, int], None] | None = None,
) -> CheckReport:
    """Check the whole store of the node home `home` against its genesis.json; never writes to it.

    Raises GenesisError if genesis.json is missing or invalid, StoreLocked if a node is running with
    this home, CorruptStore if the database cannot be opened or read (damaged files), and StoreError if
    there is no store yet or it has a format this version does not read.
    """
    layout = HomeLayout(home)
    genesis = load_genesis(layout.genesis)
    store = _open_store(layout.data)
    checker = _Checker(store, genesis, progress or _quiet, count)
    try:
        checker.run()
    except _Enough:
        checker.truncated = True
    except Exception as exc:
        if _is_leveldb_error(exc):
            raise CorruptStore(f"the store {layout.data} cannot be read: {exc}") from exc
        raise
    finally:
        checker.close()
        store.close()
    return CheckReport(
        ok=not checker.problems, head=checker.head, blocks_checked=checker.blocks_checked,
        txs_checked=checker.txs_checked, problems=list(checker.problems), truncated=checker.truncated,
    )


# --- opening -------------------------------------------------------------------------------------------


def _open_store(data: Path) -> Store:
    # Store() creates a missing database; check first, so the check never creates or changes one.
    if not data.is_dir():
        raise StoreError(f"there is no store at {data}: no node has run with this home")
    if not (data / "CURRENT").is_file():
        raise CorruptStore(f"{data} is not a usable LevelDB store: its CURRENT file is missing")
    try:
        return Store(data, upgrade=False)
    except Exception as exc:
        if not _is_leveldb_error(exc):
            raise
        # Store() can fail on its first read after opening; its traceback holds the half-built Store,
        # whose open database keeps the lock until the traceback is gone.
        cause = exc.with_traceback(None)
    raise CorruptStore(f"the store {data} cannot be read: {cause}") from cause


def _is_leveldb_error(exc: Exception) -> bool:
    # store.py alone imports plyvel, and its iterators pass plyvel's errors through; recognise them here.
    return type(exc).__module__.partition(".")[0] == "plyvel"


def _quiet(message: str) -> None:
    pass


class _Enough(Exception):
    """Raised inside the checker once MAX_PROBLEMS problems are collected."""


# --- small pure helpers --------------------------------------------------------------------------------


def compute_entry_digest(digest: bytes, key: bytes, value: bytes) -> bytes:
    """Fold one (key, value) entry into a running digest: SHA-256(digest || len || key || len || value)."""
    return hashlib.sha256(b"".join((digest, U32.pack(len(key)), key, U32.pack(len(value)), value))).digest()


def _verification_pool() -> Executor:
    """Worker processes for signatures, one per core (started with `spawn`); one thread on a single core. In
    processes, the checks run beside re-execution instead of taking turns with it for the interpreter lock."""
    cores = os.cpu_count() or 1
    if cores < 2:
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="verify")
    return ProcessPoolExecutor(max_workers=cores, mp_context=multiprocessing.get_context("spawn"))


def compute_index_digest(entries: Mapping[bytes, bytes]) -> bytes:
    """The digest of a height's index entries: each entry folded in key order (`compute_entry_digest`),
    from 32 zero bytes, except that the height's tree nodes, adjacent in key order, are folded as one
    entry: key "n" (shorter than any node key), value `compute_run_digest` of the nodes."""
    keys = sorted(entries)
    first, end = bisect.bisect_left(keys, COL_NODE), bisect.bisect_left(keys, NODE_COLUMN_END)
    digest = ZERO_DIGEST
    for key in keys[:first]:
        digest = compute_entry_digest(digest, key, entries[key])
    if first < end:
        digest = compute_entry_digest(digest, COL_NODE, compute_run_digest((k, entries[k]) for k in keys[first:end]))
    for key in keys[end:]:
        digest = compute_entry_digest(digest, key, entries[key])
    return digest


def compute_run_digest(entries: Iterable[tuple[bytes, bytes]]) -> bytes:
    """SHA-256 over `len(key) || key || len(value) || value` of each entry in turn (lengths: 4 bytes)."""
    pack = U32.pack
    return hashlib.sha256(b"".join([pack(len(k)) + k + pack(len(v)) + v for k, v in entries])).digest()


def _height_in_key(key: bytes, value: bytes) -> int | None:
    """b, c, r and R: `column || h8(height)`."""
    return int(_unpack_u64(key, 1)[0]) if len(key) == 9 else None


def _height_of_block_hash(key: bytes, value: bytes) -> int | None:
    """H: `H || block_hash` -> h8(height)."""
    return int(_unpack_u64(value)[0]) if len(key) == 33 and len(value) == 8 else None


def _height_of_tx(key: bytes, value: bytes) -> int | None:
    """t: `t || tx_id` -> h8(height) || u32(index)."""
    return int(_unpack_u64(value)[0]) if len(key) == 33 and len(value) == 12 else None


def _height_of_entity(key: bytes, value: bytes) -> int | None:
    """e: `e || entity || 0x00 || h8(height) || u32(index)` -> tx_id."""
    ok = len(key) >= 14 and key[-13] == 0 and len(value) == 32
    return int(_unpack_u64(key, len(key) - 12)[0]) if ok else None


def _height_of_history(key: bytes, value: bytes) -> int | None:
    """y: `y || key_hash || h8(height)`."""
    return int(_unpack_u64(key, 33)[0]) if len(key) == 41 else None


def _height_of_node(key: bytes, value: bytes) -> int | None:
    """n: `n || h8(version) || depth || path` (path: at most 32 bytes)."""
    return int(_unpack_u64(key, 1)[0]) if 10 <= len(key) <= 42 else None


ENTRY_HEIGHT: Final[Mapping[bytes, Callable[[bytes, bytes], int | None]]] = {
    COL_BLOCK: _height_in_key, COL_COMMIT: _height_in_key, COL_RESULTS: _height_in_key, COL_ROOT: _height_in_key,
    COL_BLOCK_HASH: _height_of_block_hash, COL_TX: _height_of_tx, COL_ENTITY: _height_of_entity,
    COL_HISTORY: _height_of_history, COL_NODE: _height_of_node,
}
"""Per-height column -> the height of one of its entries, read from its key or value (None if malformed)."""


def compute_entry_height(column: bytes, key: bytes, value: bytes) -> int | None:
    """The height a per-height entry belongs to, from its key or value; None if they are malformed."""
    height_of = ENTRY_HEIGHT.get(column)
    return None if height_of is None else height_of(key, value)


def compute_index_entries(
    *, height: int, block_hash: bytes | None, tx_ids: Sequence[bytes], entities: Sequence[Iterable[str]],
    changes: Mapping[bytes, bytes | None], update: StateUpdate,
) -> dict[bytes, bytes]:
    """Every H, t, e, y, n and R entry that `Store.commit_block` (or `initialise`, at height 0) writes."""
    hb = h8(height)
    entries = compute_block_entries(height=height, block_hash=block_hash, tx_ids=tx_ids, entities=entities)
    for key, value in changes.items():
        entries[COL_HISTORY + update.key_hashes[key] + hb] = codec.encode([key, value])
    for node_key, node in update.nodes.items():
        entries[COL_NODE + node_key] = node
    entries[COL_ROOT + hb] = update.tree.ref
    return entries


def compute_block_entries(*, height: int, block_hash: bytes | None, tx_ids: Sequence[bytes],
                          entities: Sequence[Iterable[str]]) -> dict[bytes, bytes]:
    """The H, t and e entries of one block: all that state sync writes for a block below its base."""
    hb = h8(height)
    entries: dict[bytes, bytes] = {}
    if block_hash is not None:
        entries[COL_BLOCK_HASH + block_hash] = hb
    for index, (tx_id, touched) in enumerate(zip(tx_ids, entities, strict=True)):
        position = hb + U32.pack(index)
        entries[COL_TX + tx_id] = position
        for entity in touched:
            entries[entity_prefix(entity) + position] = tx_id
    return entries


def show_key(key: bytes, *, limit: int = 96) -> str:
    """A key for people: each '/'-separated segment as text where printable, binary tails as <hex>."""
    parts = []
    for part in key.split(b"/"):
        text = len(part)
        for i, c in enumerate(part):
            if not 0x20 <= c < 0x7F:
                text = i
                break
        if text == len(part):
            parts.append(part.decode("ascii"))
        elif text >= 3:
            parts.append(f"{part[:text].decode('ascii')}<{part[text:].hex()}>")
        else:
            parts.append(part.hex())
    shown = "/".join(parts)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _short(data: bytes) -> str:
    return data.hex()[:16] + "…"


def describe_entry(column: bytes, key: bytes, value: bytes | None) -> str:
    """What an index or state entry is about, from its key (and for history entries, its value)."""
    size = len(key)
    if column in (COL_BLOCK_HASH, COL_TX) and size == 33:
        return f"{'block hash' if column == COL_BLOCK_HASH else 'tx'} {_short(key[1:])}"
    if column == COL_ENTITY and size >= 14 and key[-13] == 0:
        return f"entity {key[1:-13].decode('utf-8', 'replace')} tx #{U32.unpack(key[-4:])[0]}"
    if column == COL_HISTORY and size == 41:
        decoded = None
        if value is not None:
            try:
                decoded = codec.decode(value, max_size=MAX_STORED_VALUE)
            except InvalidInput:
                decoded = None
        if type(decoded) is list and len(decoded) == 2 and type(decoded[0]) is bytes:
            return f"key {show_key(decoded[0])}"
        return f"key hash {_short(key[1:33])}"
    if column == COL_NODE and size >= 10:
        return f"the tree node at depth {key[9]} path {key[10:].hex() or '(root)'}"
    if column == COL_ROOT:
        return "the state tree root"
    if column == COL_STATE:
        return f"key {show_key(key[1:])}"
    return f"entry {show_key(key)}"


def find_highest_block(store: Store) -> int:
    """The highest h with block h stored, assuming blocks 1..h have no gap (O(log h) lookups)."""
    def has(height: int) -> bool:
        return store.get_block_bytes(height) is not None

    if not has(1):
        return 0
    low, high = 1, 2
    while high < 2**63 and has(high):
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if has(middle) else (low, middle)
    return low


def _get(store: Store, key: bytes) -> bytes | None:
    """The value stored under exactly `key` (the store offers prefix iteration only)."""
    for found, value in store.iter_column(key):
        return value if found == key else None
    return None


def _merge_differences(
    actual: Iterator[tuple[bytes, bytes]], expected: Iterator[tuple[bytes, bytes]]
) -> Iterator[tuple[bytes, bytes | None, bytes | None]]:
    """(key, stored value, expected value) for each key where two key-sorted streams differ."""
    a, e = next(actual, None), next(expected, None)
    while a is not None or e is not None:
        a_key = None if a is None else a[0]
        e_key = None if e is None else e[0]
        if a is not None and (e_key is None or a[0] < e_key):
            yield a[0], a[1], None
            a = next(actual, None)
        elif e is not None and (a_key is None or e[0] < a_key):
            yield e[0], None, e[1]
            e = next(expected, None)
        elif a is not None and e is not None:
            if a[1] != e[1]:
                yield a[0], a[1], e[1]
            a, e = next(actual, None), next(expected, None)


# --- the replayed state --------------------------------------------------------------------------------


class MemoryState:
    """The replayed state: a dict that also iterates a prefix in key order (a contracts StateReader).

    Keys are kept sorted per namespace (the key up to its first "/": `anchor/`, `gov/`, `case/`, ...), each
    sorted again only when it changed since it was last iterated. Sorting every key whenever any was added
    made a replay quadratic: each block adds keys, and each block's start iterates the governance proposals,
    so a chain of thousands of blocks sorted its whole state thousands of times.
    """

    def __init__(self) -> None:
        self.values: dict[bytes, bytes] = {}
        self._namespaces: dict[bytes, set[bytes]] = {}
        self._sorted: dict[bytes, list[bytes]] = {}

    @staticmethod
    def _namespace(key: bytes) -> bytes:
        cut = key.find(b"/")
        return key[:cut + 1] if cut >= 0 else b""

    def get(self, key: bytes) -> bytes | None:
        return self.values.get(key)

    def iter_prefix(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        if b"/" in prefix:  # every key under the prefix is in the prefix's namespace
            namespace = self._namespace(prefix)
            keys = self._sorted.get(namespace)
            if keys is None:
                keys = self._sorted[namespace] = sorted(self._namespaces.get(namespace, ()))
        else:
            keys = sorted(self.values)
        for i in range(bisect.bisect_left(keys, prefix), len(keys)):
            if not keys[i].startswith(prefix):
                break
            yield keys[i], self.values[keys[i]]

    def apply(self, changes: Mapping[bytes, bytes | None]) -> None:
        for key, value in changes.items():
            if value is None:
                if self.values.pop(key, None) is not None:
                    namespace = self._namespace(key)
                    self._namespaces[namespace].discard(key)
                    self._sorted.pop(namespace, None)
            else:
                if key not in self.values:
                    namespace = self._namespace(key)
                    self._namespaces.setdefault(namespace, set()).add(key)
                    self._sorted.pop(namespace, None)
                self.values[key] = value


@dataclass(slots=True)
class _Replay:
    state: MemoryState
    nodes: dict[bytes, bytes]
    """The nodes the current replayed tree references (older versions are dropped once stale)."""
    tree: StateTree

    def load_node(self, node_key: bytes) -> bytes:
        return self.nodes[node_key]

    def apply(self, changes: Mapping[bytes, bytes | None], update: StateUpdate) -> None:
        self.state.apply(changes)
        for node_key in update.stale:
            del self.nodes[node_key]
        self.nodes.update(update.nodes)
        self.tree = update.tree


@dataclass(frozen=True, slots=True)
class _SignatureBatch:
    """One chunk of small blocks' signatures on the verification pool."""

    blocks: list[tuple[int, Sequence[Transaction]]]
    future: Future[list[bool]]


@dataclass(frozen=True, slots=True)
class _Parent:
    """What block h needs of block h - 1 (or of genesis, for block 1)."""

    block_hash: bytes
    time_ms: int


# --- the checker ---------------------------------------------------------------------------------------


class _Checker:
    def __init__(self, store: Store, genesis: Genesis, progress: Callable[[str], None],
                 count: Callable[[str, int, int], None] | None = None) -> None:
        self.store = store
        self.genesis = genesis
        self.count = count
        """Called with (what, done, total) at every block, for a progress line; else a message every 1000."""
        self.sets: dict[int, ValidatorSet] = {1: genesis.validator_set()}
        """Validator sets by the height they take effect, as the replay decides them."""
        self.progress = progress
        self.problems: list[Problem] = []
        self.truncated = False
        self.head = 0
        self.end = 0
        """The last height checked: the head, unless the head marker is unusable."""
        self.blocks_checked = 0
        self.txs_checked = 0
        self.digests: list[bytes] = []
        """Height -> the scanned digest of its index entries."""
        self.replay: _Replay | None = _Replay(MemoryState(), {}, StateTree.empty())
        """None once a block cannot be executed: later state cannot be known."""
        self.committed: dict[bytes, int] = {}
        self.suspects: dict[int, set[bytes]] = {}
        """Heights whose index entries mismatch -> the keys the replay expects there."""
        self.base = store.base_height()
        """The height a state-synced store starts its state at (0: replayed from genesis)."""
        self._verify_pool: Executor | None = None
        """Signatures verify here, in other processes, while this one re-executes the blocks (started with the
        first chunk of VERIFY_CHUNK signatures: a store of fewer is checked sooner without)."""
        self._gathered: list[tuple[int, Sequence[Transaction]]] = []
        """Small blocks whose signatures wait to fill a chunk: (height, transactions)."""
        self._gathered_items: list[tuple[bytes, bytes, bytes]] = []
        self._batches: deque[_SignatureBatch] = deque()
        """Chunks of small blocks' signatures on the pool, oldest first."""

    def add(self, height: int | None, column: bytes | str, message: str) -> None:
        name = column if isinstance(column, str) else column.decode("ascii", "replace")
        self.problems.append(Problem(height, name, message))
        if len(self.problems) >= MAX_PROBLEMS:
            raise _Enough

    def run(self) -> None:
        self.progress(f"checking the store {self.store.path}")
        self.check_meta()
        self.scan()
        self.replay_genesis()
        parent: _Parent | None = _Parent(self.genesis.hash, self.genesis.genesis_time_ms)
        for height in range(1, self.end + 1):
            if height <= self.base:
                parent = self.check_synced_height(height, parent)
            else:
                parent = self.check_height(height, parent)
            if self.count is not None:
                self.count("checking blocks", height, self.end)
            elif height % PROGRESS_EVERY == 0:
                self.progress(f"checked block {height} of {self.end}")
        self.send_gathered()
        self.collect_batches(wait=True)
        self.progress(f"checked {self.blocks_checked} blocks and {self.txs_checked} transactions")
        if self.replay is not None:
            self.check_state_columns(self.replay)
        self.report_unexpected_entries()

    # --- 1. meta and the scan ------------------------------------------------------------------------

    def check_meta(self) -> None:
        """The format marker, the genesis hash and the head marker; sets the range of heights to check."""
        fmt = _get(self.store, META_FORMAT)
        if fmt is None:
            self.add(None, "m/format", "the store's format marker is missing")
        elif fmt == SYNCED_FORMAT:
            if not self.base and self.store.syncing_height() is None:
                self.add(None, "m/format", f"the store's format marker says {SYNCED_FORMAT.decode()} (state-synced) "
                         "but it records no state sync base")
        elif fmt != FORMAT_VERSION:  # Store() already refuses to open such a store
            self.add(None, "m/format", f"the store's format marker is not {FORMAT_VERSION!r}")
        elif self.base:
            self.add(None, "m/format", f"the store records a state sync base but its format marker is not "
                     f"{SYNCED_FORMAT.decode()}")
        stored = self.store.genesis_hash()
        if stored is None:
            self.add(None, "m/genesis", "the genesis hash is missing")
        elif stored != self.genesis.hash:
            self.add(None, "m/genesis", f"the stored genesis hash {_short(stored)} is not the hash of "
                     f"genesis.json ({_short(self.genesis.hash)})")
        raw = _get(self.store, META_HEAD)
        marker: int | None = None
        if raw is None:
            self.add(None, "m/head", "the head marker is missing")
        elif len(raw) != 8:
            self.add(None, "m/head", f"the head marker is damaged: {len(raw)} bytes instead of 8")
        else:
            marker = int(U64.unpack(raw)[0])
        if marker is not None and (marker == 0 or self.store.get_block_bytes(marker) is not None):
            self.head = self.end = marker
        else:
            top = find_highest_block(self.store)
            if marker is None:
                self.head = self.end = top
            elif marker <= top + 1:
                self.head = self.end = marker  # block `marker` is reported missing
            else:
                self.add(None, "m/head", f"the head marker says {marker}, but the stored blocks end at {top}")
                self.head, self.end = marker, top
        syncing = self.store.syncing_height()
        if syncing is not None:
            self.add(None, "m/syncing", f"a state sync to height {syncing} did not finish; starting the node clears "
                     "the store and syncs again")
        if self.base > self.end:
            self.add(None, "m/base", f"the state sync base {self.base} is above the head {self.end}")
        if self.end < 2**63 and self.store.get_block_bytes(self.end + 1) is not None:
            self.add(None, "m/head", f"block {self.end + 1} is stored, beyond the head {self.end}")

    def scan(self) -> None:
        """Pass 1 over every key but the current state's, column by column in key order: unknown columns and
        meta keys, misplaced entries, and each height's index digest. Each known column is read as its own
        key range, with a loop made for it; the keys between those ranges belong to no known column."""
        self.digests = [ZERO_DIGEST] * (self.end + 1)
        beyond: dict[bytes, list[int]] = {}
        n_keys = 0
        start = b""
        for column in SCANNED_COLUMNS:
            stop = bytes([column[0] + 1])
            n_keys += self.scan_unknown(start, column)
            if column == b"m":
                n_keys += self.scan_meta()
            elif column == COL_NODE:
                n_keys += self.scan_nodes(beyond)
            elif column not in STATE_COLUMNS:  # the current state is compared in pass 3
                n_keys += self.scan_column(column, beyond)
            start = stop
        n_keys += self.scan_unknown(start, None)
        self.progress(f"scanned {n_keys} keys outside the current state")
        for column, (count, low, high, lowest) in beyond.items():
            where = f"height {low}" if low == high else f"heights {low}..{high}"
            self.add(low, column, f"{LABELS[column]}: {count} entr{'y' if count == 1 else 'ies'} at {where}, "
                     f"outside the stored heights {lowest}..{self.end}")

    def scan_unknown(self, start: bytes, stop: bytes | None) -> int:
        """Report every key in [start, stop): no known column begins there."""
        count = 0
        for key in self.store.iter_keys(start, stop):
            count += 1
            self.add(None, "?", f"key {show_key(key)} belongs to no known column")
        return count

    def scan_meta(self) -> int:
        count = 0
        for key in self.store.iter_keys(b"m", b"n"):
            count += 1
            if key not in META_KEYS:
                self.add(None, "m", f"unknown meta key {show_key(key)}")
        return count

    def note_out_of_place(self, beyond: dict[bytes, list[int]], column: bytes, key: bytes, height: int | None,
                          lowest: int) -> None:
        """A malformed entry is reported now; entries outside the stored heights are counted for one report."""
        if height is None:
            self.add(None, column, f"{LABELS[column]}: malformed entry {show_key(key)}")
            return
        seen = beyond.setdefault(column, [0, height, height, lowest])
        seen[0] += 1
        seen[1], seen[2] = min(seen[1], height), max(seen[2], height)

    def scan_column(self, column: bytes, beyond: dict[bytes, list[int]]) -> int:
        """The entries of a per-height column: each assigned its height, and folded into that height's digest
        if it is an index column."""
        digests, end, count, height_of = self.digests, self.end, 0, ENTRY_HEIGHT[column]
        lowest = 0 if column in (COL_HISTORY, COL_ROOT) else 1
        fold = column in INDEX_COLUMNS
        for key, value in self.store.iter_range(column, bytes([column[0] + 1])):
            count += 1
            height = height_of(key, value)
            if height is None or not lowest <= height <= end:
                self.note_out_of_place(beyond, column, key, height, lowest)
            elif fold:
                digests[height] = compute_entry_digest(digests[height], key, value)
        return count

    def scan_nodes(self, beyond: dict[bytes, list[int]]) -> int:
        """The state tree nodes: a height's are adjacent in key order and fold into its digest as one entry
        (compute_index_digest)."""
        digests, end, count = self.digests, self.end, 0
        join, pack = b"".join, U32.pack
        run: hashlib._Hash | None = None  # the nodes of run_height so far
        run_height = -1
        for key, value in self.store.iter_range(COL_NODE, NODE_COLUMN_END):
            count += 1
            height = _height_of_node(key, value)
            if height is None or height > end:
                self.note_out_of_place(beyond, COL_NODE, key, height, 0)
                continue
            if height != run_height or run is None:
                if run is not None:
                    digests[run_height] = compute_entry_digest(digests[run_height], COL_NODE, run.digest())
                run, run_height = hashlib.sha256(), height
            run.update(join((pack(len(key)), key, pack(len(value)), value)))
        if run is not None:
            digests[run_height] = compute_entry_digest(digests[run_height], COL_NODE, run.digest())
        return count

    # --- 2. the replay -------------------------------------------------------------------------------

    def replay_genesis(self) -> None:
        replay = self.replay
        if replay is None:
            return
        changes = compute_genesis_changes(replay.state, self.genesis)
        update = compute_state_update(replay.tree, changes, replay.load_node)
        self.check_index(0, compute_index_entries(
            height=0, block_hash=None, tx_ids=(), entities=(), changes=changes, update=update,
        ))
        replay.apply(changes, update)

    def stop_replay(self, height: int) -> None:
        if self.replay is not None:
            self.replay = None
            self.add(height, "b", f"re-execution stopped at block {height}: the state and indexes of heights "
                     f"{height}..{self.end} were not checked")

    def check_height(self, height: int, parent: _Parent | None) -> _Parent | None:
        """Check block `height` and everything stored for it; return what block `height + 1` needs."""
        raw = self.store.get_block_bytes(height)
        if raw is None:
            self.add(height, COL_BLOCK, f"block {height} is missing")
            self.stop_replay(height)
            return None
        try:
            block = decode_block(raw)
        except InvalidInput as exc:
            self.add(height, COL_BLOCK, f"block {height} cannot be decoded: {exc.message}")
            self.stop_replay(height)
            return None
        block_hash = block.header.compute_hash()
        self.blocks_checked += 1
        self.check_header(height, block, parent)
        self.check_commits(height, block, block_hash, parent)
        txs = self.check_txs(height, block)
        signatures = self.verify_signatures(height, txs or [])
        if txs is None or block.header.height != height:
            self.stop_replay(height)  # another height's block, or one that cannot run: all would differ
        if self.replay is None or txs is None:
            self.check_results(height, block, None)
        else:
            self.execute(height, block, block_hash, txs, self.replay)
        if signatures is not None:
            self.report_signatures(height, txs or [], [ok for future in signatures for ok in future.result()])
        self.collect_batches(wait=False)
        return _Parent(block_hash, block.header.time_ms)

    def verify_signatures(self, height: int, txs: Sequence[Transaction]) -> list[Future[list[bool]]] | None:
        """Start checking the signatures of `txs`. A block of at least VERIFY_CHUNK transactions goes to the
        pool in chunks, and its futures are returned for the caller to report at the end of the height. A
        smaller block's signatures are gathered with the next blocks' into chunks of that size (None is
        returned; `collect_batches` reports them later): one small block is not worth a hand-over."""
        items = [(tx.signer, tx.compute_signing_bytes(), tx.signature) for tx in txs]
        if len(items) < VERIFY_CHUNK:
            if items:
                self._gathered.append((height, txs))
                self._gathered_items.extend(items)
                if len(self._gathered_items) >= VERIFY_CHUNK:
                    self.send_gathered()
            return None
        pool = self._pool()
        chunks = range(0, len(items), VERIFY_CHUNK)
        return [pool.submit(crypto.verify_many, items[i : i + VERIFY_CHUNK]) for i in chunks]

    def _pool(self) -> Executor:
        if self._verify_pool is None:
            self._verify_pool = _verification_pool()
        return self._verify_pool

    def send_gathered(self) -> None:
        """Hand the gathered small blocks' signatures to the pool as one chunk (the last, partial chunk of a
        store too small to have started the pool is verified here)."""
        if not self._gathered:
            return
        future: Future[list[bool]]
        if len(self._gathered_items) < VERIFY_CHUNK and self._verify_pool is None:
            future = Future()
            future.set_result(crypto.verify_many(self._gathered_items))
        else:
            future = self._pool().submit(crypto.verify_many, self._gathered_items)
        self._batches.append(_SignatureBatch(self._gathered, future))
        self._gathered, self._gathered_items = [], []

    def collect_batches(self, *, wait: bool) -> None:
        """Report the chunks of small blocks that are done, oldest first; with `wait`, all of them. At most
        MAX_BATCHES_IN_FLIGHT stay on the pool, so the replay never runs far ahead of the checks."""
        while self._batches and (wait or self._batches[0].future.done()
                                 or len(self._batches) > MAX_BATCHES_IN_FLIGHT):
            batch = self._batches.popleft()
            verdicts = batch.future.result()
            at = 0
            for height, txs in batch.blocks:
                self.report_signatures(height, txs, verdicts[at : at + len(txs)])
                at += len(txs)

    def close(self) -> None:
        if self._verify_pool is not None:
            self._verify_pool.shutdown(wait=True, cancel_futures=True)

    def report_signatures(self, height: int, txs: Sequence[Transaction], verdicts: Sequence[bool]) -> None:
        for index, (tx, ok) in enumerate(zip(txs, verdicts, strict=True)):
            if not ok:
                self.add(height, COL_BLOCK, f"block {height}: transaction #{index} ({_short(tx.tx_id)}): the "
                         "signature does not verify")

    def check_synced_height(self, height: int, parent: _Parent | None) -> _Parent | None:
        """Check block `height` of a state-synced store at or below its base, without executing it: its chain
        link, commits, roots and indexes; at the base, the state rows of that height against its state root."""
        raw = self.store.get_block_bytes(height)
        block = None
        try:
            block = None if raw is None else decode_block(raw)
        except InvalidInput as exc:
            self.add(height, COL_BLOCK, f"block {height} cannot be decoded: {exc.message}")
        if block is None:
            if raw is None:
                self.add(height, COL_BLOCK, f"block {height} is missing")
            self.stop_replay(height)
            return None
        block_hash = block.header.compute_hash()
        self.blocks_checked += 1
        self.learn_next_set(height, block)
        self.check_header(height, block, parent)
        self.check_commits(height, block, block_hash, parent)
        txs = self.check_txs(height, block)
        self.check_results(height, block, None)
        if txs is None:
            self.stop_replay(height)
            return _Parent(block_hash, block.header.time_ms)
        tx_ids = [tx.tx_id for tx in txs]
        entities = [set(compute_call_entities(tx)) for tx in txs]
        if height < self.base:
            self.check_index(height, compute_block_entries(height=height, block_hash=block_hash, tx_ids=tx_ids,
                                                           entities=entities))
        else:
            self.start_at_base(block, block_hash, tx_ids, entities)
        return _Parent(block_hash, block.header.time_ms)

    def learn_next_set(self, height: int, block: Block) -> None:
        """Below the base the sets are not replayed: a new set is the stored one its header names."""
        if block.header.next_validators_hash == self.set_at(height).compute_hash():
            return
        raw = _get(self.store, COL_VALIDATORS + h8(height + 1))
        try:
            found = None if raw is None else decode_validator_set(codec.decode(raw, max_size=1 << 20))
        except InvalidInput:
            found = None
        if found is None or found.compute_hash() != block.header.next_validators_hash:
            self.add(height + 1, COL_VALIDATORS, f"the validator set block {height} names for height {height + 1} "
                     "is missing or another")
            return
        self.sets[height + 1] = found

    def start_at_base(self, block: Block, block_hash: bytes, tx_ids: Sequence[bytes], entities: list[set[str]]) -> None:
        """The state of the base height is its history rows at that height: rebuild its tree from them, compare
        the root with the block's state root, and replay the blocks above from it."""
        base = self.base
        self.progress(f"rebuilding the state of the base height {base}")
        state = MemoryState()
        changes: dict[bytes, bytes | None] = {}
        for key, value in self.store.iter_column(COL_HISTORY):
            if len(key) == 41 and key[33:] == h8(base):
                try:
                    pair = codec.decode(value, max_size=MAX_STORED_VALUE)
                except InvalidInput:
                    pair = None  # reported by the index comparison below
                if type(pair) is list and len(pair) == 2 and type(pair[0]) is bytes and type(pair[1]) is bytes:
                    changes[pair[0]] = pair[1]
        state.apply(changes)
        update = compute_state_update(StateTree(base - 1, b"\x00"), changes, lambda key: b"")
        if update.root != block.header.state_root:
            self.add(base, COL_HISTORY, f"the state of the base height {base} does not rebuild to block {base}'s "
                     "state root")
        self.check_index(base, compute_index_entries(height=base, block_hash=block_hash, tx_ids=tx_ids,
                                                     entities=entities, changes=changes, update=update))
        self.replay = _Replay(state, dict(update.nodes), update.tree)
        self.sets[base + 1] = self.set_at(base + 1)
        queued = compute_validator_updates(
            {VALIDATOR_UPDATES_KEY: raw} if (raw := state.values.get(VALIDATOR_UPDATES_KEY)) is not None else {})
        if queued and codec.decode(state.values[VALIDATOR_UPDATES_KEY], max_size=1 << 20).get("height") == base:
            self.sets[base + 2] = apply_validator_updates(self.set_at(base + 1), list(queued))

    def check_header(self, height: int, block: Block, parent: _Parent | None) -> None:
        header = block.header
        if header.height != height:
            self.add(height, COL_BLOCK, f"block {height}: the header says height {header.height}")
        if header.chain_id != self.genesis.chain_id:
            self.add(height, COL_BLOCK, f"block {height}: chain_id {header.chain_id!r} is not the network's")
        if parent is not None:
            what = "the genesis hash" if height == 1 else f"the hash of block {height - 1}"
            if header.prev_hash != parent.block_hash:
                self.add(height, COL_BLOCK, f"block {height}: prev_hash does not match {what}")
            if header.time_ms <= parent.time_ms:
                self.add(height, COL_BLOCK, f"block {height}: time {header.time_ms} is not later than "
                         f"{'genesis' if height == 1 else f'block {height - 1}'} ({parent.time_ms})")
        try:
            validate_block_shape(block)
        except InvalidBlock as exc:
            self.add(height, COL_BLOCK, exc.message)
        if header.validators_hash != self.set_at(height).compute_hash():
            self.add(height, COL_BLOCK, f"block {height}: validators_hash is not the validator set of its height")
        if header.next_validators_hash != self.set_at(height + 1).compute_hash():
            self.add(height, COL_BLOCK, f"block {height}: next_validators_hash is not the next height's set")
        if self.set_at(height).index_of(header.proposer) is None:
            self.add(height, COL_BLOCK, f"block {height}: the proposer is not a validator")

    def check_commits(self, height: int, block: Block, block_hash: bytes, parent: _Parent | None) -> None:
        """The previous block's commit carried in this block, and this block's own stored commit."""
        chain_id = self.genesis.chain_id
        if block.last_commit is not None and parent is not None and height > 1:
            try:
                validate_commit(block.last_commit, chain_id=chain_id, height=height - 1,
                                block_hash=parent.block_hash, validators=self.set_at(height - 1))
            except InvalidInput as exc:
                self.add(height, COL_BLOCK, f"block {height}: its last commit does not verify: {exc.message}")
        raw = self.store.get_commit_bytes(height)
        if raw is None:
            self.add(height, COL_COMMIT, f"the commit of block {height} is missing")
            return
        try:
            commit = decode_commit(raw)
            validate_commit(commit, chain_id=chain_id, height=height, block_hash=block_hash,
                            validators=self.set_at(height))
        except InvalidInput as exc:
            self.add(height, COL_COMMIT, f"the commit of block {height} is not valid: {exc.message}")

    def check_txs(self, height: int, block: Block) -> list[Transaction] | None:
        """Decode and check each transaction; None if one cannot be decoded (the block cannot run)."""
        txs: list[Transaction] = []
        for index, raw in enumerate(block.txs):
            self.txs_checked += 1
            try:
                tx = decode_transaction(raw, max_size=self.genesis.params.max_tx_bytes)
            except InvalidInput as exc:
                self.add(height, COL_BLOCK, f"block {height}: transaction #{index} cannot be decoded: {exc.message}")
                return None
            where = f"block {height}: transaction #{index} ({_short(tx.tx_id)})"
            if tx.body.chain_id != self.genesis.chain_id:
                self.add(height, COL_BLOCK, f"{where} is for chain {tx.body.chain_id!r}")
            if tx.body.expiry_height < height:
                self.add(height, COL_BLOCK, f"{where} expired at height {tx.body.expiry_height}")
            first = self.committed.get(tx.tx_id)
            if first is None:
                self.committed[tx.tx_id] = height
            else:
                self.add(height, COL_BLOCK, f"{where} was already committed at height {first}")
            txs.append(tx)
        return txs

    def execute(self, height: int, block: Block, block_hash: bytes, txs: list[Transaction], replay: _Replay) -> None:
        """Re-execute the block on the replayed state and compare results, state root and indexes."""
        header = block.header
        execution = execute_block(replay.state, txs, BlockContext(
            chain_id=header.chain_id, height=height, time_ms=header.time_ms,
        ))
        self.check_results(height, block, execution.result_bytes)
        update = compute_state_update(replay.tree, execution.changes, replay.load_node)
        if update.root != header.state_root:
            self.add(height, COL_BLOCK, f"block {height}: state_root does not match the state after re-execution")
        self.check_index(height, compute_index_entries(
            height=height, block_hash=block_hash, tx_ids=[tx.tx_id for tx in txs],
            entities=[set(touched) for touched in execution.entities], changes=execution.changes, update=update,
        ))
        replay.apply(execution.changes, update)
        if execution.validator_updates:
            self.sets[height + 2] = apply_validator_updates(self.set_at(height + 1), list(execution.validator_updates))

    def set_at(self, height: int) -> ValidatorSet:
        """The validator set in force at `height`: the latest one taking effect at or before it."""
        return self.sets[max(h for h in self.sets if h <= max(height, 1))]

    def check_results(self, height: int, block: Block, recomputed: Sequence[bytes] | None) -> None:
        header = block.header
        recomputed_ok = recomputed is not None and compute_results_root(recomputed) == header.results_root
        if recomputed is not None and not recomputed_ok:
            self.add(height, COL_BLOCK, f"block {height}: results_root does not match the re-executed results")
        raw = _get(self.store, COL_RESULTS + h8(height))
        if raw is None:
            self.add(height, COL_RESULTS, f"the results of block {height} are missing")
            return
        expected = None if recomputed is None else codec.encode(list(recomputed))
        if recomputed_ok and recomputed is not None and len(recomputed) == header.tx_count and raw == expected:
            return  # the stored bytes are the re-executed results, which match the header: nothing to decode
        fault = _validate_stored_results(raw, header.tx_count, header.results_root)
        if fault is None and expected is not None and raw != expected:
            fault = "they differ from re-execution"
        if fault is not None:
            self.add(height, COL_RESULTS, f"the results of block {height} are wrong: {fault}")

    def check_index(self, height: int, entries: Mapping[bytes, bytes]) -> None:
        """Compare a height's expected H, t, e, y, n and R entries with the scanned digest; name any fault."""
        if compute_index_digest(entries) == self.digests[height]:
            return
        self.suspects[height] = set(entries)
        faults = 0
        for key in sorted(entries):
            column, expected = key[:1], entries[key]
            stored = _get(self.store, key)
            if stored == expected:
                continue
            faults += 1
            if faults <= MAX_FAULTS_PER_HEIGHT:
                what = describe_entry(column, key, expected)
                fault = f"the entry of {what} is missing" if stored is None else f"value of {what} differs"
                self.add(height, column, f"{LABELS[column]} at height {height}: {fault}")
        if faults > MAX_FAULTS_PER_HEIGHT:
            self.add(height, "*", f"indexes at height {height}: {faults - MAX_FAULTS_PER_HEIGHT} more entries "
                     "are missing or differ")

    # --- 3. the current state and the leftovers -------------------------------------------------------

    def check_state_columns(self, replay: _Replay) -> None:
        """The s and w columns hold exactly the replayed state and validator sets."""
        self.progress("comparing the current state")
        state = replay.state.values
        expected_columns: tuple[tuple[bytes, Iterator[tuple[bytes, bytes]]], ...] = (
            (COL_STATE, ((COL_STATE + key, state[key]) for key in sorted(state))),
            (COL_VALIDATORS, ((COL_VALIDATORS + h8(h), self.sets[h].encode()) for h in sorted(self.sets))),
        )
        for column, expected in expected_columns:
            label = LABELS[column]
            for key, stored, wanted in _merge_differences(self.store.iter_column(column), expected):
                what = describe_entry(column, key, None)
                if stored is None:
                    self.add(None, column, f"{label}: {what} is missing")
                elif wanted is None:
                    self.add(None, column, f"{label}: unexpected {what}")
                else:
                    self.add(None, column, f"{label}: value of {what} differs")

    def report_unexpected_entries(self) -> None:
        """Name the entries that mismatched heights hold but the replay did not expect."""
        if not self.suspects:
            return
        for column in INDEX_COLUMNS:
            for key, value in self.store.iter_column(column):
                height = compute_entry_height(column, key, value)
                expected = self.suspects.get(height) if height is not None else None
                if expected is not None and key not in expected:
                    self.add(height, column, f"{LABELS[column]} at height {height}: unexpected entry for "
                             f"{describe_entry(column, key, value)}")


def _validate_stored_results(raw: bytes, tx_count: int, results_root: bytes) -> str | None:
    """What is wrong with a block's stored results, or None: decoding, count and RFC 9162 root."""
    try:
        value = codec.decode(raw, max_size=MAX_STORED_VALUE)
    except InvalidInput as exc:
        return f"they cannot be decoded: {exc.message}"
    if type(value) is not list or not all(type(item) is bytes for item in value):
        return "they are not a list of encoded results"
    if len(value) != tx_count:
        return f"{len(value)} results for {tx_count} transactions"
    for index, item in enumerate(value):
        try:
            decode_result(item)
        except InvalidInput as exc:
            return f"result #{index} cannot be decoded: {exc.message}"
    if compute_results_root(value) != results_root:
        return "they do not match the header's results_root"
    return None
