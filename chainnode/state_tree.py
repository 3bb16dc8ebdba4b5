"""The authenticated state: a sparse Merkle tree over 256-bit key hashes, versioned by height.

A key lives at the shortest prefix of its key hash that no other key shares (path compression, as in
Diem's Jellyfish Merkle tree): a tree of N honest keys is about log2(N) + 2 levels deep, and a key ground
to share k bits with another costs its maker 2^k hashes and adds k levels to those two keys' proofs only.
The node hashes and the proof format are defined in docs/state.md, precisely enough to reimplement.

Theory of operation: every internal node is stored under its node key `h8(version) || depth || path`,
where `version` is the height of the block that wrote it. A node never changes once written: a block
writes new versions of the nodes on the paths it touches and leaves older versions in place, so the
tree after any past height is read by starting from that height's root reference and following child
references (each names its child's version). A child reference carries the child's hash, so one pass
over the sorted batch of a block re-hashes each touched node exactly once. This module is pure: it reads
nodes through a callback and returns the nodes to write.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from chainnode import codec
from chainnode.crypto import (
    DOMAIN_STATE_KEY,
    DOMAIN_STATE_LEAF,
    DOMAIN_STATE_NODE,
    DOMAIN_STATE_VALUE,
    HASH_SIZE,
    compute_hash,
)
from chainnode.errors import InvalidField, InvalidProof, InvariantViolation

KEY_BITS: Final = 256
EMPTY_HASH: Final = bytes(HASH_SIZE)
"""The hash of an empty subtree (and the root of the empty state): 32 zero bytes, which no SHA-256 output
is known to equal."""

REF_EMPTY: Final = 0
REF_LEAF: Final = 1
REF_NODE: Final = 2
EMPTY_REF: Final = b"\x00"
"""A child reference: `0x00` (empty); `0x01 || leaf_hash || key_hash || value_hash` (97 bytes, a leaf);
`0x02 || node_hash || h8(version)` (41 bytes, an internal node stored under that version)."""
REF_SIZES: Final = (1, 97, 41)

TAG_STATE_PROOF: Final = 7
STATE_PROOF_VERSION: Final = 2
MAX_STATE_PROOF_SIZE: Final = 64 * 1024

_LEAF_PREFIX: Final = DOMAIN_STATE_LEAF + b"\x00"
_NODE_PREFIX: Final = DOMAIN_STATE_NODE + b"\x00"
_sha256 = hashlib.sha256
_DEPTH_BYTES: Final = tuple(bytes((depth,)) for depth in range(KEY_BITS))

LoadNode = Callable[[bytes], bytes]
"""Return the stored value of a node key (`h8(version) || depth || path`); raise if it is missing."""


# --- hashes and references -------------------------------------------------------------------------------


def compute_key_hash(key: bytes) -> bytes:
    """Return compute_hash(DOMAIN_STATE_KEY, key): the key's position in the tree."""
    return compute_hash(DOMAIN_STATE_KEY, key)


def compute_value_hash(value: bytes) -> bytes:
    """Return compute_hash(DOMAIN_STATE_VALUE, value)."""
    return compute_hash(DOMAIN_STATE_VALUE, value)


def compute_leaf_hash(key_hash: bytes, value_hash: bytes) -> bytes:
    """Return SHA-256("chainnode/v1/state-leaf" || 0x00 || key_hash || value_hash)."""
    return _sha256(_LEAF_PREFIX + key_hash + value_hash).digest()


def compute_node_hash(left: bytes, right: bytes) -> bytes:
    """Return SHA-256("chainnode/v1/state-node" || 0x00 || left || right) for two child hashes."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def compute_leaf_ref(key_hash: bytes, value_hash: bytes) -> bytes:
    """Return the reference of a leaf: 0x01 || leaf_hash || key_hash || value_hash."""
    return b"\x01" + _sha256(_LEAF_PREFIX + key_hash + value_hash).digest() + key_hash + value_hash


def compute_ref_hash(ref: bytes) -> bytes:
    """Return the hash a reference names: EMPTY_HASH for the empty reference."""
    return ref[1:33] if ref[0] else EMPTY_HASH


def compute_node_key(version: int, depth: int, prefix: int) -> bytes:
    """Return the key of the internal node at `depth` whose path is the `depth`-bit integer `prefix`.

    `h8(version) || depth (1 byte) || path`, the path being the prefix bits left-aligned in
    ceil(depth / 8) bytes with the unused low bits zero.
    """
    return version.to_bytes(8, "big") + bytes((depth,)) + (prefix << (-depth % 8)).to_bytes((depth + 7) >> 3, "big")


def split_node(value: bytes) -> tuple[bytes, bytes]:
    """Split a stored internal node into its (left, right) child references.

    Raises InvariantViolation if the value is not two well-formed references (a damaged store).
    """
    try:
        cut = REF_SIZES[value[0]]
        left, right = value[:cut], value[cut:]
        if len(right) != REF_SIZES[right[0]]:
            raise IndexError
    except IndexError as exc:
        raise InvariantViolation(f"a stored state tree node is damaged ({len(value)} bytes)") from exc
    return left, right


def _bit(key_hash: bytes, depth: int) -> int:
    return (key_hash[depth >> 3] >> (7 - (depth & 7))) & 1


@dataclass(frozen=True, slots=True)
class StateTree:
    """The state tree after block `version` (-1: before genesis), named by its root reference.

    Immutable: an update returns a new StateTree and the nodes to store; the nodes of older versions stay.
    """

    version: int
    ref: bytes

    @classmethod
    def empty(cls) -> StateTree:
        """Return the tree before genesis: no keys, root EMPTY_HASH."""
        return cls(-1, EMPTY_REF)

    def root(self) -> bytes:
        """Return the state root."""
        return compute_ref_hash(self.ref)


# --- the batch update ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TreeUpdate:
    """What one batch changes: the new tree, the nodes to store, and the nodes it no longer uses."""

    tree: StateTree
    nodes: dict[bytes, bytes]
    """Node key -> node value (two child references), all of version `tree.version`."""
    stale: tuple[bytes, ...]
    """Keys of older nodes the new tree no longer references (kept in the store as history)."""
    hashed: int
    """How many leaf and node hashes the update computed."""


class _Batch:
    """One pass over a sorted batch: each touched node is loaded once, rebuilt once and hashed once."""

    __slots__ = ("hashed", "key_hashes", "load", "nodes", "stale", "value_hashes", "version", "version_bytes")

    def __init__(self, version: int, key_hashes: list[bytes], value_hashes: list[bytes | None], load: LoadNode):
        self.version = version
        self.version_bytes = version.to_bytes(8, "big")
        self.key_hashes = key_hashes
        self.value_hashes = value_hashes
        self.load = load
        self.nodes: dict[bytes, bytes] = {}
        self.stale: list[bytes] = []
        self.hashed = 0

    def split(self, depth: int, prefix: int, lo: int, hi: int) -> int:
        """Return the first index in [lo, hi) whose key hash has bit `depth` set."""
        pivot = (((prefix << 1) | 1) << (KEY_BITS - 1 - depth)).to_bytes(32, "big")
        return bisect.bisect_left(self.key_hashes, pivot, lo, hi)

    def update(self, ref: bytes, depth: int, prefix: int, lo: int, hi: int) -> bytes:
        """Return the new reference of the subtree at (depth, prefix) after the changes [lo, hi)."""
        kind = ref[0]
        if kind == REF_NODE:
            return self.update_node(ref, depth, prefix, lo, hi)
        items = [
            (self.key_hashes[i], vh) for i in range(lo, hi) if (vh := self.value_hashes[i]) is not None
        ]
        if kind == REF_LEAF:
            old_key = ref[33:65]
            if not any(self.key_hashes[i] == old_key for i in range(lo, hi)):
                items.append((old_key, ref[65:97]))
                items.sort()
            if len(items) == 1 and items[0][0] == old_key and items[0][1] == ref[65:97]:
                return ref
        return self.build(items, 0, len(items), depth, prefix)

    def update_node(self, ref: bytes, depth: int, prefix: int, lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return self.update_path(ref, depth, prefix, lo)
        node_key = ref[33:41] + bytes((depth,)) + (prefix << (-depth % 8)).to_bytes((depth + 7) >> 3, "big")
        left, right = split_node(self.load(node_key))
        mid = self.split(depth, prefix, lo, hi)
        new_left = self.update(left, depth + 1, prefix << 1, lo, mid) if lo < mid else left
        new_right = self.update(right, depth + 1, (prefix << 1) | 1, mid, hi) if mid < hi else right
        if new_left == left and new_right == right:
            return ref
        self.stale.append(node_key)
        return self.join(new_left, new_right, depth, prefix)

    def update_path(self, ref: bytes, depth: int, prefix: int, index: int) -> bytes:
        """`update_node` for a single change: walk down to its leaf, then rebuild the path bottom-up.

        The hot loop of a block update (most touched nodes below the top levels see one change), so it
        is written flat: per level one load, one slice pair, one hash.
        """
        key_hash, load, depth_bytes = self.key_hashes[index], self.load, _DEPTH_BYTES
        whole = int.from_bytes(key_hash, "big")
        path: list[tuple[bytes, bytes, int]] = []
        top = ref
        while ref[0] == REF_NODE:
            node_key = ref[33:41] + depth_bytes[depth] + (prefix << (-depth % 8)).to_bytes((depth + 7) >> 3, "big")
            value = load(node_key)
            try:
                cut = REF_SIZES[value[0]]
                right = value[cut:]
                if len(right) != REF_SIZES[right[0]]:
                    raise IndexError
            except IndexError:
                split_node(value)  # raises InvariantViolation
            depth += 1
            prefix = whole >> (KEY_BITS - depth)
            if prefix & 1:
                path.append((node_key, value[:cut], 1))
                ref = right
            else:
                path.append((node_key, right, 0))
                ref = value[:cut]
        if ref[0] == REF_LEAF and ref[33:65] == key_hash:  # the common case: a new value for this key
            value_hash = self.value_hashes[index]
            if value_hash == ref[65:97]:
                return top
            if value_hash is None:
                new = EMPTY_REF
            else:
                self.hashed += 1
                new = compute_leaf_ref(key_hash, value_hash)
        else:
            new = self.update(ref, depth, prefix, index, index + 1)
            if new == ref:
                return top
        version, nodes, hashed = self.version_bytes, self.nodes, 0
        self.stale.extend([step[0] for step in path])
        for node_key, sibling, bit in reversed(path):
            sk, nk = sibling[0], new[0]
            if sk != REF_NODE and nk != REF_NODE and (sk == REF_EMPTY or nk == REF_EMPTY):
                if nk == REF_EMPTY:
                    new = sibling
                continue
            hashed += 1
            if bit:
                nodes[version + node_key[8:]] = sibling + new
                data = (sibling[1:33] if sk else EMPTY_HASH) + (new[1:33] if nk else EMPTY_HASH)
            else:
                nodes[version + node_key[8:]] = new + sibling
                data = (new[1:33] if nk else EMPTY_HASH) + (sibling[1:33] if sk else EMPTY_HASH)
            new = b"\x02" + _sha256(_NODE_PREFIX + data).digest() + version
        self.hashed += hashed
        return new

    def build(self, items: list[tuple[bytes, bytes]], lo: int, hi: int, depth: int, prefix: int) -> bytes:
        """Return the reference of a fresh subtree holding items[lo:hi], all under (depth, prefix)."""
        if hi - lo == 0:
            return EMPTY_REF
        if hi - lo == 1:
            self.hashed += 1
            return compute_leaf_ref(*items[lo])
        pivot = (((prefix << 1) | 1) << (KEY_BITS - 1 - depth)).to_bytes(32, "big")
        mid = bisect.bisect_left(items, (pivot,), lo, hi)
        left = self.build(items, lo, mid, depth + 1, prefix << 1)
        right = self.build(items, mid, hi, depth + 1, (prefix << 1) | 1)
        return self.join(left, right, depth, prefix)

    def join(self, left: bytes, right: bytes, depth: int, prefix: int) -> bytes:
        """Return the reference of the node with these children, writing it if it is an internal node.

        An empty subtree next to a leaf collapses to the leaf, so every leaf sits at the shortest prefix
        that no other key shares.
        """
        if left[0] != REF_NODE and right[0] != REF_NODE:
            if left[0] == REF_EMPTY:
                return right
            if right[0] == REF_EMPTY:
                return left
        self.hashed += 1
        node_hash = _sha256(
            _NODE_PREFIX + (left[1:33] if left[0] else EMPTY_HASH) + (right[1:33] if right[0] else EMPTY_HASH)
        ).digest()
        key = self.version_bytes + bytes((depth,)) + (prefix << (-depth % 8)).to_bytes((depth + 7) >> 3, "big")
        self.nodes[key] = left + right
        return b"\x02" + node_hash + self.version_bytes


def compute_tree_update(tree: StateTree, changes: Mapping[bytes, bytes | None], load_node: LoadNode) -> TreeUpdate:
    """Apply `changes` (key_hash -> new value_hash, or None to delete) to `tree` as version tree.version + 1.

    The result does not depend on the order of `changes`. Deleting an absent key changes nothing. Raises
    InvalidField if a hash is not 32 bytes, and InvariantViolation if a stored node is damaged.
    """
    for key_hash, value_hash in changes.items():
        if len(key_hash) != HASH_SIZE or (value_hash is not None and len(value_hash) != HASH_SIZE):
            raise InvalidField(f"a state tree change holds {HASH_SIZE}-byte hashes", field="changes")
    ordered = sorted(changes)
    batch = _Batch(tree.version + 1, ordered, [changes[k] for k in ordered], load_node)
    ref = batch.update(tree.ref, 0, 0, 0, len(ordered)) if ordered else tree.ref
    return TreeUpdate(
        tree=StateTree(tree.version + 1, ref), nodes=batch.nodes, stale=tuple(batch.stale), hashed=batch.hashed
    )


# --- proofs ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StateProof:
    """A proof that `key` has `value` (or, when value is None, is absent) under a state root."""

    key: bytes
    value: bytes | None
    """The value proven, or None for a proof of absence."""
    leaf: bytes | None
    """`key_hash || value_hash` of the leaf at the end of the key's path, or None if that place is empty."""
    siblings: tuple[bytes, ...]
    """The hashes beside the path, nearest the leaf first; their number is the leaf's depth."""

    def encode(self) -> bytes:
        """Return the canonical encoding [7, 2, key, value, leaf, [siblings...]]."""
        return codec.encode_object(
            TAG_STATE_PROOF, STATE_PROOF_VERSION, [self.key, self.value, self.leaf, list(self.siblings)]
        )

    @classmethod
    def decode(cls, data: bytes, *, max_size: int = MAX_STATE_PROOF_SIZE) -> StateProof:
        """Decode and check the fields of a state proof; does not verify it against a root.

        Raises InputTooLarge, MalformedEncoding, NonCanonicalEncoding, TrailingBytes, UnknownTag,
        UnsupportedVersion, or InvalidField (a field of the wrong type or size, a leaf that is not 64
        bytes, more than 256 siblings or a sibling that is not 32 bytes).
        """
        fields = codec.decode_object(
            data,
            tag=TAG_STATE_PROOF,
            version=STATE_PROOF_VERSION,
            n_fields=4,
            max_size=max_size,
            what="state proof",
        )
        key = codec.want_bytes(fields[0], "key", max_size=max_size)
        value = None if fields[1] is None else codec.want_bytes(fields[1], "value", max_size=max_size)
        leaf = None if fields[2] is None else codec.want_bytes(fields[2], "leaf", size=2 * HASH_SIZE)
        raw = codec.want_list(fields[3], "siblings", max_len=KEY_BITS)
        siblings = tuple(codec.want_bytes(item, "siblings", size=HASH_SIZE) for item in raw)
        return cls(key=key, value=value, leaf=leaf, siblings=siblings)


def compute_state_proof(tree: StateTree, key: bytes, value: bytes | None, load_node: LoadNode) -> StateProof:
    """Return the proof for `key` in `tree`, given its value there (None if absent).

    Reads one stored node per level of the key's path. Raises InvariantViolation if the tree does not
    hold `value` for `key` (the caller's value comes from another height) or a stored node is damaged.
    """
    key_hash = compute_key_hash(key)
    leaf, siblings = compute_path(tree, key_hash, load_node)
    if value is None:
        if leaf is not None and leaf[:HASH_SIZE] == key_hash:
            raise InvariantViolation(f"the state tree holds key hash {key_hash.hex()}, said to be absent")
    elif leaf != key_hash + compute_value_hash(value):
        raise InvariantViolation(f"the state tree does not hold the given value of key hash {key_hash.hex()}")
    return StateProof(key=key, value=value, leaf=leaf, siblings=siblings)


def compute_path(tree: StateTree, key_hash: bytes, load_node: LoadNode) -> tuple[bytes | None, tuple[bytes, ...]]:
    """Return (leaf, siblings) of `key_hash`'s path: the leaf `key_hash || value_hash` where the path ends
    (None if that place is empty; it may be another key's leaf) and the sibling hashes, nearest it first.

    Raises InvariantViolation if a stored node is damaged.
    """
    ref, depth, prefix = tree.ref, 0, 0
    siblings: list[bytes] = []
    while ref[0] == REF_NODE:
        left, right = split_node(load_node(ref[33:41] + compute_node_key(0, depth, prefix)[8:]))
        bit = _bit(key_hash, depth)
        siblings.append(compute_ref_hash(left if bit else right))
        ref, depth, prefix = (right if bit else left), depth + 1, (prefix << 1) | bit
    siblings.reverse()
    return (ref[33:97] if ref[0] == REF_LEAF else None), tuple(siblings)


def verify_state_proof(root: bytes, proof: StateProof) -> None:
    """Check that `proof` shows its key holds its value (or is absent) in the state with `root`.

    Raises InvalidProof, naming what is wrong: a malformed root, leaf or sibling; a value that is not the
    leaf's; a key claimed absent whose leaf is present; a leaf off the key's path; or a path that does not
    lead to the root.
    """
    # STRUCTURE
    if type(root) is not bytes or len(root) != HASH_SIZE:
        raise InvalidProof(f"state root must be {HASH_SIZE} bytes", field="root")
    depth = len(proof.siblings)
    if depth > KEY_BITS or any(type(s) is not bytes or len(s) != HASH_SIZE for s in proof.siblings):
        raise InvalidProof(f"siblings must be at most {KEY_BITS} hashes of {HASH_SIZE} bytes", field="siblings")
    leaf = proof.leaf
    if leaf is not None and (type(leaf) is not bytes or len(leaf) != 2 * HASH_SIZE):
        raise InvalidProof(f"the leaf must be {2 * HASH_SIZE} bytes", field="leaf")
    key_hash = compute_key_hash(proof.key)
    # MEMBERSHIP
    if proof.value is not None:
        if leaf is None or leaf[:HASH_SIZE] != key_hash:
            raise InvalidProof("key is claimed present but the proof's leaf is another key's", field="leaf")
        if leaf[HASH_SIZE:] != compute_value_hash(proof.value):
            raise InvalidProof("value does not match the value hash in the leaf", field="value")
    elif leaf is not None:
        if leaf[:HASH_SIZE] == key_hash:
            raise InvalidProof("key is claimed absent but the proof's leaf holds it", field="value")
        shared = int.from_bytes(leaf[:HASH_SIZE], "big") ^ int.from_bytes(key_hash, "big")
        if depth and shared >> (KEY_BITS - depth):
            raise InvalidProof("the proof's leaf is not on the key's path", field="leaf")
    # PATH
    node = EMPTY_HASH if leaf is None else compute_leaf_hash(leaf[:HASH_SIZE], leaf[HASH_SIZE:])
    for i, sibling in enumerate(proof.siblings):
        node = compute_node_hash(sibling, node) if _bit(key_hash, depth - 1 - i) else compute_node_hash(node, sibling)
    if node != root:
        raise InvalidProof("the path does not lead to the state root", field="siblings")


def is_valid_state_proof(root: bytes, proof: StateProof) -> bool:
    """Return whether `verify_state_proof(root, proof)` passes."""
    try:
        verify_state_proof(root, proof)
    except InvalidProof:
        return False
    return True


# --- whole subtrees (state sync) -------------------------------------------------------------------------


def compute_subtree(
    items: list[tuple[bytes, bytes]], depth: int, prefix: int, version: int
) -> tuple[bytes, dict[bytes, bytes]]:
    """Build the subtree at (depth, prefix) holding `items` fresh, as version `version`.

    `items` are (key_hash, value_hash) pairs sorted by key hash, all sharing the `depth`-bit `prefix`.
    Returns the subtree's reference (EMPTY_REF, a leaf reference or an internal node's reference) and
    the internal nodes to store: exactly the nodes a tree of these keys holds at and below that place.
    """
    batch = _Batch(version, [], [], _no_load)
    return batch.build(items, 0, len(items), depth, prefix), batch.nodes


def compute_joined_tree(refs: list[bytes], depth: int, version: int) -> tuple[bytes, dict[bytes, bytes]]:
    """Join the 2^depth subtree references at `depth` (in prefix order) into the tree above them.

    Returns the root reference and the internal nodes above `depth`, as version `version`; a leaf beside an
    empty subtree moves up, as in `root(S, d)` of docs/state.md.
    """
    if len(refs) != 1 << depth:
        raise InvariantViolation(f"{len(refs)} subtrees cannot fill depth {depth}")
    batch = _Batch(version, [], [], _no_load)
    level = list(refs)
    for d in range(depth - 1, -1, -1):
        level = [batch.join(level[2 * p], level[2 * p + 1], d, p) for p in range(len(level) // 2)]
    return level[0], batch.nodes


def _no_load(node_key: bytes) -> bytes:
    raise InvariantViolation(f"a fresh subtree reads no stored node ({node_key.hex()})")
