"""State snapshots for state sync: the manifest and the chunks of the state at one height, served and checked.

The state at height H is cut by the first `bits` bits of each key hash into 2^bits chunks. The manifest
commits to each chunk's subtree of the state tree (docs/state.md "The root"): EMPTY, one leaf (given as
`key_hash || value_hash`, so its place is checkable) or an internal node's hash. The chunks' commitments
combine to H's state root by the rule of `compute_manifest_root`, so a manifest that matches a
quorum-verified header fixes every chunk exactly; a chunk is then accepted only if its (key, value)
pairs rebuild to its commitment. A server reads everything from the versioned tree of H (`R`, `n`) and
the state history (`y`), which never change once written: any height from its base to its head can be
served, without files, locks or a snapshot being prepared. The wire format is in docs/sync.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

from chainnode import codec
from chainnode.crypto import HASH_SIZE
from chainnode.errors import CorruptStore, InvalidInput
from chainnode.limits import SYNC_CHUNK_LIMIT, SYNC_MANIFEST_LIMIT
from chainnode.state_tree import (
    EMPTY_HASH,
    EMPTY_REF,
    KEY_BITS,
    REF_EMPTY,
    REF_LEAF,
    REF_NODE,
    LoadNode,
    StateTree,
    compute_key_hash,
    compute_leaf_hash,
    compute_node_hash,
    compute_node_key,
    compute_ref_hash,
    compute_subtree,
    compute_value_hash,
    split_node,
)

TAG_MANIFEST: Final = 50
TAG_CHUNK_PAGE: Final = 51
SNAPSHOT_VERSION: Final = 1

MAX_CHUNK_BITS: Final = 16
"""At most 65,536 chunks: a manifest stays under MAX_MANIFEST_BYTES."""
TARGET_CHUNK_KEYS: Final = 4096
MAX_MANIFEST_BYTES: Final = SYNC_MANIFEST_LIMIT
PAGE_BYTES: Final = 4 * 1024 * 1024
"""A chunk page holds pairs up to about this many bytes (always at least one pair)."""
MAX_PAGE_BYTES: Final = SYNC_CHUNK_LIMIT
"""The decode bound of a page: PAGE_BYTES plus one pair of the largest key and value a page may carry."""
MAX_PAGE_PAIRS: Final = 1 << 20
MAX_STATE_KEY: Final = 64 * 1024
MAX_STATE_VALUE: Final = 16 * 1024 * 1024
SAMPLE_PATHS: Final = 32


class InvalidSnapshot(InvalidInput):
    """A manifest or chunk from a peer that does not match the verified state root: the peer's fault."""

    code = "invalid_snapshot"


# --- the manifest -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChunkEntry:
    """One chunk's commitment: `count` is 0 (no key), 1 (one key) or 2 (two or more), and `commitment` is
    b"", that key's `key_hash || value_hash`, or the chunk subtree's node hash."""

    count: int
    commitment: bytes

    def compute_hash(self) -> bytes:
        """The hash of the chunk's subtree: EMPTY, the leaf hash, or the node hash."""
        if self.count == 0:
            return EMPTY_HASH
        if self.count == 1:
            return compute_leaf_hash(self.commitment[:HASH_SIZE], self.commitment[HASH_SIZE:])
        return self.commitment


@dataclass(frozen=True, slots=True)
class Manifest:
    height: int
    state_root: bytes
    bits: int
    chunks: tuple[ChunkEntry, ...]

    def encode(self) -> bytes:
        """[50, 1, height, state_root, bits, [[count, commitment], ...]]."""
        return codec.encode_object(TAG_MANIFEST, SNAPSHOT_VERSION, [
            self.height, self.state_root, self.bits, [[c.count, c.commitment] for c in self.chunks]])


def decode_manifest(data: bytes) -> Manifest:
    """Decode a manifest and check every field's shape. Raises InvalidInput naming the field."""
    fields = codec.decode_object(data, tag=TAG_MANIFEST, version=SNAPSHOT_VERSION, n_fields=4,
                                 max_size=MAX_MANIFEST_BYTES, what="snapshot manifest")
    height = codec.want_int(fields[0], "height", lo=1, hi=2**63 - 1)
    state_root = codec.want_bytes(fields[1], "state_root", size=HASH_SIZE)
    bits = codec.want_int(fields[2], "bits", hi=MAX_CHUNK_BITS)
    raw = codec.want_list(fields[3], "chunks", max_len=1 << MAX_CHUNK_BITS)
    # [REJECT] a chunk list that does not cover the 2^bits prefixes exactly
    if len(raw) != 1 << bits:
        raise InvalidSnapshot(f"a manifest of {bits} bits lists {1 << bits} chunks, not {len(raw)}", field="chunks")
    chunks = []
    for index, item in enumerate(raw):
        pair = codec.want_list(item, "chunk", max_len=2)
        if len(pair) != 2:
            raise InvalidSnapshot(f"chunk {index} is not [count, commitment]", field="chunks")
        count = codec.want_int(pair[0], "count", hi=2)
        size = 0 if count == 0 else 2 * HASH_SIZE if count == 1 else HASH_SIZE
        commitment = codec.want_bytes(pair[1], "commitment", max_size=2 * HASH_SIZE)
        # [REJECT] a commitment whose size does not fit the count class
        if len(commitment) != size:
            raise InvalidSnapshot(f"chunk {index} of {count} keys needs a {size}-byte commitment", field="chunks")
        if count == 1 and not is_in_chunk(commitment[:HASH_SIZE], bits, index):
            raise InvalidSnapshot(f"chunk {index}'s one key hash lies outside the chunk", field="chunks")
        chunks.append(ChunkEntry(count, commitment))
    return Manifest(height, state_root, bits, tuple(chunks))


def compute_manifest_root(manifest: Manifest) -> bytes:
    """Combine the chunks' commitments into the state root, as `root(S, 0)` of docs/state.md does.

    Level by level from depth `bits` up, each pair of siblings (a, b) becomes: the other one if neither is
    an internal node and one is EMPTY (a lone leaf moves up; two EMPTY give EMPTY); else
    node_hash(hash(a), hash(b)), an internal node.
    """
    level: list[tuple[int, bytes]] = [(c.count, c.compute_hash()) for c in manifest.chunks]
    while len(level) > 1:
        joined = []
        for (kind_a, hash_a), (kind_b, hash_b) in zip(level[0::2], level[1::2], strict=True):
            if kind_a != REF_NODE and kind_b != REF_NODE and REF_EMPTY in (kind_a, kind_b):
                joined.append((kind_b, hash_b) if kind_a == REF_EMPTY else (kind_a, hash_a))
            else:
                joined.append((REF_NODE, compute_node_hash(hash_a, hash_b)))
        level = joined
    return level[0][1]


def validate_manifest(manifest: Manifest, *, height: int, state_root: bytes) -> None:
    """Check a decoded manifest against the state root of the verified header of `height`.

    Raises InvalidSnapshot for another height, another root, or chunks that do not combine to the root.
    """
    # [REJECT] a manifest of another height or root than the one asked for
    if manifest.height != height:
        raise InvalidSnapshot(f"the manifest is of height {manifest.height}, not {height}", field="height")
    if manifest.state_root != state_root:
        raise InvalidSnapshot(f"the manifest's state root is not header {height}'s", field="state_root")
    # [REJECT] chunk commitments that do not combine to the root (a lying manifest)
    if compute_manifest_root(manifest) != state_root:
        raise InvalidSnapshot(f"the manifest's chunks do not combine to the state root of header {height}",
                              field="chunks")


def is_in_chunk(key_hash: bytes, bits: int, index: int) -> bool:
    """Whether `key_hash` begins with the `bits`-bit prefix `index`."""
    return bits == 0 or int.from_bytes(key_hash[:2], "big") >> (16 - bits) == index


# --- chunk pages ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChunkPage:
    height: int
    bits: int
    index: int
    pairs: tuple[tuple[bytes, bytes], ...]
    """(key, value) in key-hash order."""
    next_cursor: bytes | None
    """The key hash the next page starts after; None on the chunk's last page."""

    def encode(self) -> bytes:
        """[51, 1, height, bits, index, [[key, value], ...], next_cursor or nil]."""
        return codec.encode_object(TAG_CHUNK_PAGE, SNAPSHOT_VERSION, [
            self.height, self.bits, self.index, [list(p) for p in self.pairs], self.next_cursor])


def decode_chunk_page(data: bytes) -> ChunkPage:
    """Decode a chunk page and check its fields' shapes. Raises InvalidInput naming the field."""
    fields = codec.decode_object(data, tag=TAG_CHUNK_PAGE, version=SNAPSHOT_VERSION, n_fields=5,
                                 max_size=MAX_PAGE_BYTES, what="snapshot chunk page")
    height = codec.want_int(fields[0], "height", lo=1, hi=2**63 - 1)
    bits = codec.want_int(fields[1], "bits", hi=MAX_CHUNK_BITS)
    index = codec.want_int(fields[2], "index", hi=(1 << bits) - 1)
    pairs = []
    for item in codec.want_list(fields[3], "pairs", max_len=MAX_PAGE_PAIRS):
        pair = codec.want_list(item, "pair", max_len=2)
        if len(pair) != 2:
            raise InvalidSnapshot("a chunk pair is [key, value]", field="pairs")
        pairs.append((codec.want_bytes(pair[0], "key", max_size=MAX_STATE_KEY),
                      codec.want_bytes(pair[1], "value", max_size=MAX_STATE_VALUE)))
    cursor = None if fields[4] is None else codec.want_bytes(fields[4], "next_cursor", size=HASH_SIZE)
    if cursor is not None and not pairs:
        raise InvalidSnapshot("a page that is not the last holds at least one pair", field="pairs")
    return ChunkPage(height, bits, index, tuple(pairs), cursor)


@dataclass(frozen=True, slots=True)
class VerifiedChunk:
    index: int
    ref: bytes
    """The chunk's subtree reference at depth `bits`, as the tree of the synced height holds it."""
    nodes: dict[bytes, bytes]
    """The internal nodes of the chunk's subtree, under the synced height's version."""
    rows: list[tuple[bytes, bytes, bytes]]
    """(key, key_hash, value) in key-hash order."""


def verify_chunk(manifest: Manifest, index: int, pairs: list[tuple[bytes, bytes]]) -> VerifiedChunk:
    """Check a whole chunk's pairs against a verified manifest and build its subtree.

    Raises InvalidSnapshot naming the fault: a key outside the chunk, keys not in strictly increasing
    key-hash order (a duplicate included), a number of keys of another class than the manifest's, or
    pairs that do not rebuild to the chunk's commitment (a changed, missing or extra pair).
    """
    bits = manifest.bits
    entry = manifest.chunks[index]
    rows: list[tuple[bytes, bytes, bytes]] = []
    items: list[tuple[bytes, bytes]] = []
    previous = b""
    for key, value in pairs:
        key_hash = compute_key_hash(key)
        # [REJECT] a key whose hash lies in another chunk
        if not is_in_chunk(key_hash, bits, index):
            raise InvalidSnapshot(f"chunk {index} holds key {key[:40]!r}, whose hash lies in another chunk",
                                  field="pairs")
        # [REJECT] unsorted or repeated keys
        if key_hash <= previous:
            raise InvalidSnapshot(f"chunk {index}'s keys are not in strictly increasing key-hash order",
                                  field="pairs")
        previous = key_hash
        rows.append((key, key_hash, value))
        items.append((key_hash, compute_value_hash(value)))
    # [REJECT] a number of keys of another class than the manifest's (0, 1, or 2 for two or more)
    if min(len(items), 2) != entry.count:
        raise InvalidSnapshot(f"chunk {index} holds {len(items)} keys; the manifest says {entry.count}",
                              field="pairs")
    ref, nodes = compute_subtree(items, bits, index, manifest.height)
    # [REJECT] pairs that do not rebuild to the verified commitment
    if compute_ref_hash(ref) != entry.compute_hash():
        raise InvalidSnapshot(f"chunk {index} does not rebuild to the manifest's subtree hash", field="pairs")
    return VerifiedChunk(index=index, ref=ref, nodes=nodes, rows=rows)


# --- the serving side: read from the versioned tree of a height ----------------------------------------


HistoryPair = Callable[[bytes], "tuple[bytes, bytes | None] | None"]
"""key_hash -> the (key, value) the state history holds for it at the height served, or None."""


def estimate_bits(tree: StateTree, load_node: LoadNode) -> int:
    """Chunk bits for chunks of about TARGET_CHUNK_KEYS keys, from the depth of SAMPLE_PATHS sample paths.

    The path of a key hash that is not in a tree of N random key hashes ends about log2(N) - 0.3 levels
    deep (measured from 10^3 to 10^6 keys); the estimate needs no count of the keys, and a wrong one only
    changes how many chunks and pages there are.
    """
    total = 0
    for i in range(SAMPLE_PATHS):
        probe = hashlib.sha256(b"chainnode/v1/snapshot-probe" + bytes((i,))).digest()
        ref, depth = tree.ref, 0
        while ref[0] == REF_NODE:
            left, right = split_node(load_node(ref[33:41] + compute_node_key(0, depth, _prefix(probe, depth))[8:]))
            ref = right if _bit(probe, depth) else left
            depth += 1
        total += depth
    log_keys = total / SAMPLE_PATHS + 0.3
    bits = round(log_keys - 12)  # 2^12 = TARGET_CHUNK_KEYS
    return max(0, min(MAX_CHUNK_BITS, bits))


def compute_manifest(tree: StateTree, height: int, bits: int, load_node: LoadNode) -> Manifest:
    """The manifest of the tree of `height` cut into 2^bits chunks (one read per internal node above `bits`)."""
    chunks: list[ChunkEntry] = []

    def walk(ref: bytes, depth: int, prefix: int) -> None:
        span = 1 << (bits - depth)
        if ref[0] == REF_EMPTY:
            chunks.extend([ChunkEntry(0, b"")] * span)
        elif ref[0] == REF_LEAF:
            where = int.from_bytes(ref[33:35], "big") >> (16 - bits) if bits else 0
            for index in range(prefix * span, (prefix + 1) * span):
                chunks.append(ChunkEntry(1, ref[33:97]) if index == where else ChunkEntry(0, b""))
        elif depth == bits:
            chunks.append(ChunkEntry(2, ref[1:33]))
        else:
            left, right = split_node(load_node(ref[33:41] + compute_node_key(0, depth, prefix)[8:]))
            walk(left, depth + 1, prefix << 1)
            walk(right, depth + 1, (prefix << 1) | 1)

    walk(tree.ref, 0, 0)
    return Manifest(height, tree.root(), bits, tuple(chunks))


def iter_chunk_leaves(tree: StateTree, bits: int, index: int, after: bytes | None,
                      load_node: LoadNode) -> Iterator[tuple[bytes, bytes]]:
    """(key_hash, value_hash) of the chunk's leaves in key-hash order, those above `after` only."""
    ref, depth, prefix = tree.ref, 0, 0
    while depth < bits and ref[0] == REF_NODE:
        left, right = split_node(load_node(ref[33:41] + compute_node_key(0, depth, prefix)[8:]))
        bit = (index >> (bits - 1 - depth)) & 1
        ref, depth, prefix = (right if bit else left), depth + 1, (prefix << 1) | bit
    if ref[0] == REF_LEAF:
        if is_in_chunk(ref[33:65], bits, index) and (after is None or ref[33:65] > after):
            yield ref[33:65], ref[65:97]
        return
    if ref[0] == REF_NODE:
        yield from _leaves(ref, depth, prefix, after, load_node)


def _leaves(ref: bytes, depth: int, prefix: int, after: bytes | None,
            load_node: LoadNode) -> Iterator[tuple[bytes, bytes]]:
    stack = [(ref, depth, prefix)]
    while stack:
        ref, depth, prefix = stack.pop()
        if ref[0] == REF_LEAF:
            if after is None or ref[33:65] > after:
                yield ref[33:65], ref[65:97]
            continue
        if ref[0] == REF_EMPTY:
            continue
        if after is not None and depth > 0:  # skip a subtree wholly at or below the cursor
            top = ((prefix + 1) << (KEY_BITS - depth)) - 1
            if top <= int.from_bytes(after, "big"):
                continue
        left, right = split_node(load_node(ref[33:41] + compute_node_key(0, depth, prefix)[8:]))
        stack.append((right, depth + 1, (prefix << 1) | 1))
        stack.append((left, depth + 1, prefix << 1))


def read_chunk_page(tree: StateTree, height: int, bits: int, index: int, after: bytes | None, *,
                    load_node: LoadNode, history_pair: HistoryPair, max_bytes: int = PAGE_BYTES) -> ChunkPage:
    """One page of chunk `index` of the state at `height` (`tree` is that height's), starting after the key
    hash `after`. Raises CorruptStore if the state history does not hold a leaf's key and value."""
    pairs: list[tuple[bytes, bytes]] = []
    size = 0
    last = None
    for key_hash, value_hash in iter_chunk_leaves(tree, bits, index, after, load_node):
        if pairs and (size >= max_bytes or len(pairs) >= MAX_PAGE_PAIRS):
            return ChunkPage(height, bits, index, tuple(pairs), last)
        found = history_pair(key_hash)
        if found is None or found[1] is None or compute_value_hash(found[1]) != value_hash:
            raise CorruptStore(f"the state history does not hold the value of key hash {key_hash.hex()} at "
                               f"height {height}; run `chainnode check`")
        pairs.append((found[0], found[1]))
        size += len(found[0]) + len(found[1]) + 16
        last = key_hash
    return ChunkPage(height, bits, index, tuple(pairs), None)


def _bit(key_hash: bytes, depth: int) -> int:
    return (key_hash[depth >> 3] >> (7 - (depth & 7))) & 1


def _prefix(key_hash: bytes, depth: int) -> int:
    return int.from_bytes(key_hash, "big") >> (KEY_BITS - depth) if depth else 0


__all__ = [
    "EMPTY_REF",
    "ChunkEntry",
    "ChunkPage",
    "InvalidSnapshot",
    "Manifest",
    "VerifiedChunk",
    "compute_manifest",
    "compute_manifest_root",
    "decode_chunk_page",
    "decode_manifest",
    "estimate_bits",
    "read_chunk_page",
    "validate_manifest",
    "verify_chunk",
]
