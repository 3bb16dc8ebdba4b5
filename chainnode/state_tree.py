"""The authenticated state: 65,536 hash buckets under one RFC 9162 Merkle root, and proofs against it.

A key lives in the bucket named by the first two bytes of its key hash. A bucket's leaf data is the
concatenation of `key_hash || value_hash` for its keys, sorted by key hash; the state root is the RFC 9162
Merkle Tree Hash over the 65,536 bucket leaf data strings in bucket order. A proof of a key (present or
absent) is the bucket's full leaf data plus the 16-hash inclusion path of that bucket. See docs/state.md.

Theory of operation: `StateTree` keeps every node of the fixed, perfect binary tree as a list of 32-byte
`bytes` per level (131,071 nodes), and an update re-hashes only the paths above the touched buckets. The
tree is mutable; a block is executed speculatively on a `copy()` (17 list copies that share the immutable
hashes, about 1-2 ms) that replaces the committed tree only once the block is committed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from chainnode import codec
from chainnode.crypto import DOMAIN_STATE_KEY, DOMAIN_STATE_VALUE, HASH_SIZE, compute_hash, sha256
from chainnode.errors import InvalidField, InvalidProof, InvariantViolation
from chainnode.merkle import NODE_PREFIX, leaf_hash, verify_inclusion

TREE_DEPTH: Final = 16
N_BUCKETS: Final = 1 << TREE_DEPTH
ENTRY_SIZE: Final = 2 * HASH_SIZE
"""One bucket entry: key_hash (32 bytes) || value_hash (32 bytes)."""
EMPTY_BUCKET_LEAF_HASH: Final = leaf_hash(b"")

TAG_STATE_PROOF: Final = 7
STATE_PROOF_VERSION: Final = 1
MAX_STATE_PROOF_SIZE: Final = 64 * 1024


# --- pure helpers ----------------------------------------------------------------------------------------


def compute_key_hash(key: bytes) -> bytes:
    """Return compute_hash(DOMAIN_STATE_KEY, key)."""
    return compute_hash(DOMAIN_STATE_KEY, key)


def compute_value_hash(value: bytes) -> bytes:
    """Return compute_hash(DOMAIN_STATE_VALUE, value)."""
    return compute_hash(DOMAIN_STATE_VALUE, value)


def compute_bucket(key_hash: bytes) -> int:
    """Return the bucket of a key hash: its first two bytes as a big-endian integer.

    Raises InvalidField if `key_hash` is not 32 bytes.
    """
    if len(key_hash) != HASH_SIZE:
        raise InvalidField(f"a key hash is {HASH_SIZE} bytes, got {len(key_hash)}", field="key_hash")
    return int.from_bytes(key_hash[:2], "big")


def compute_bucket_bytes(entries: Iterable[tuple[bytes, bytes]]) -> bytes:
    """Return a bucket's leaf data: `key_hash || value_hash` for each entry, sorted by key hash.

    Raises InvalidField if a hash is not 32 bytes, a key hash appears twice, or the entries do not all
    belong to the same bucket.
    """
    ordered = sorted(entries)
    for key_hash, value_hash in ordered:
        if len(key_hash) != HASH_SIZE or len(value_hash) != HASH_SIZE:
            raise InvalidField(f"bucket entries hold two {HASH_SIZE}-byte hashes", field="entries")
    for (previous, _), (current, _) in itertools.pairwise(ordered):
        if previous == current:
            raise InvalidField(f"key hash {current.hex()} appears twice in a bucket", field="entries")
        if previous[:2] != current[:2]:
            raise InvalidField("bucket entries belong to different buckets", field="entries")
    return b"".join(key_hash + value_hash for key_hash, value_hash in ordered)


def compute_bucket_leaf_hash(bucket_bytes: bytes) -> bytes:
    """Return the RFC 9162 leaf hash of a bucket's leaf data."""
    return leaf_hash(bucket_bytes)


def compute_bucket_entries(bucket_bytes: bytes) -> list[tuple[bytes, bytes]]:
    """Split a bucket's leaf data into its (key_hash, value_hash) entries, without checking their order.

    Raises InvalidField if the length is not a multiple of 64.
    """
    if len(bucket_bytes) % ENTRY_SIZE:
        raise InvalidField(
            f"bucket bytes must be a multiple of {ENTRY_SIZE} bytes, got {len(bucket_bytes)}",
            field="bucket_bytes",
        )
    return [
        (bucket_bytes[i : i + HASH_SIZE], bucket_bytes[i + HASH_SIZE : i + ENTRY_SIZE])
        for i in range(0, len(bucket_bytes), ENTRY_SIZE)
    ]


def compute_entry_offset(bucket_bytes: bytes, key_hash: bytes) -> tuple[int, bool]:
    """Binary-search sorted bucket bytes for `key_hash`.

    Return (offset, found): the byte offset of its entry, or where the entry would be inserted.
    """
    lo, hi = 0, len(bucket_bytes) // ENTRY_SIZE
    while lo < hi:
        mid = (lo + hi) // 2
        if bucket_bytes[mid * ENTRY_SIZE : mid * ENTRY_SIZE + HASH_SIZE] < key_hash:
            lo = mid + 1
        else:
            hi = mid
    offset = lo * ENTRY_SIZE
    return offset, bucket_bytes[offset : offset + HASH_SIZE] == key_hash


def compute_updated_bucket_bytes(bucket_bytes: bytes, changes: Mapping[bytes, bytes | None]) -> bytes:
    """Return the bucket's leaf data after `changes`: key_hash -> new value_hash, or None to delete.

    `bucket_bytes` must be well-formed (it comes from our own store); only its length is re-checked.
    Deleting an absent key is a no-op. Raises InvalidField if the length is not a multiple of 64, or a
    change has a hash that is not 32 bytes or a key hash from another bucket.
    """
    if len(bucket_bytes) % ENTRY_SIZE:
        raise InvalidField(f"bucket bytes must be a multiple of {ENTRY_SIZE} bytes", field="bucket_bytes")
    prefix = bucket_bytes[:2]
    for key_hash, value_hash in changes.items():
        if len(key_hash) != HASH_SIZE or (value_hash is not None and len(value_hash) != HASH_SIZE):
            raise InvalidField(f"a change holds {HASH_SIZE}-byte hashes", field="changes")
        prefix = prefix or key_hash[:2]
        if key_hash[:2] != prefix:
            raise InvalidField(f"key hash {key_hash.hex()} belongs to another bucket", field="changes")
    for key_hash, value_hash in changes.items():
        offset, found = compute_entry_offset(bucket_bytes, key_hash)
        rest = bucket_bytes[offset + ENTRY_SIZE :] if found else bucket_bytes[offset:]
        entry = b"" if value_hash is None else key_hash + value_hash
        bucket_bytes = bucket_bytes[:offset] + entry + rest
    return bucket_bytes


def validate_bucket_bytes(bucket_bytes: bytes, bucket: int) -> list[tuple[bytes, bytes]]:
    """Check a bucket's leaf data is well-formed for `bucket` and return its entries.

    Raises InvalidField unless the length is a multiple of 64, the key hashes are strictly increasing, and
    every key hash falls in `bucket`.
    """
    entries = compute_bucket_entries(bucket_bytes)
    prefix = bucket.to_bytes(2, "big")
    previous = b""
    for key_hash, _ in entries:
        if key_hash <= previous:
            raise InvalidField("bucket entries are not strictly sorted by key hash", field="bucket_bytes")
        if key_hash[:2] != prefix:
            raise InvalidField(f"key hash {key_hash.hex()} is not in bucket {bucket}", field="bucket_bytes")
        previous = key_hash
    return entries


# --- the tree --------------------------------------------------------------------------------------------


class StateTree:
    """Every node hash of the state's Merkle tree in memory: level 0 holds the leaf hashes, level 16 the root.

    Mutable: `set_leaf_hashes` changes it in place. Execute a block on `copy()` and keep the committed tree
    untouched until the block is committed.
    """

    __slots__ = ("_levels",)

    def __init__(self, levels: list[list[bytes]]) -> None:
        """Wrap prebuilt levels; use `empty()` or `from_leaf_hashes()` instead."""
        if len(levels) != TREE_DEPTH + 1 or any(
            len(level) != N_BUCKETS >> h for h, level in enumerate(levels)
        ):
            raise InvariantViolation("state tree levels have the wrong shape")
        self._levels = levels

    @classmethod
    def empty(cls) -> StateTree:
        """Return the tree of the empty state, where every bucket's leaf data is b""."""
        levels: list[list[bytes]] = []
        node = EMPTY_BUCKET_LEAF_HASH
        for height in range(TREE_DEPTH + 1):
            levels.append([node] * (N_BUCKETS >> height))
            node = sha256(NODE_PREFIX + node + node)
        return cls(levels)

    @classmethod
    def from_leaf_hashes(cls, hashes: Sequence[bytes]) -> StateTree:
        """Build the tree from all 65,536 bucket leaf hashes, in bucket order.

        Raises InvalidField unless there are exactly 65,536 hashes of 32 bytes each.
        """
        if len(hashes) != N_BUCKETS:
            raise InvalidField(f"expected {N_BUCKETS} leaf hashes, got {len(hashes)}", field="hashes")
        if any(type(h) is not bytes or len(h) != HASH_SIZE for h in hashes):
            raise InvalidField(f"every leaf hash must be {HASH_SIZE} bytes", field="hashes")
        levels = [list(hashes)]
        for _ in range(TREE_DEPTH):
            child = levels[-1]
            levels.append([sha256(NODE_PREFIX + child[i] + child[i + 1]) for i in range(0, len(child), 2)])
        return cls(levels)

    def root(self) -> bytes:
        """Return the state root."""
        return self._levels[TREE_DEPTH][0]

    def leaf_hash(self, bucket: int) -> bytes:
        """Return the leaf hash of `bucket`.

        Raises InvalidField if `bucket` is not in [0, 65536).
        """
        _validate_bucket(bucket)
        return self._levels[0][bucket]

    def leaf_hashes(self) -> list[bytes]:
        """Return all 65,536 leaf hashes in bucket order."""
        return list(self._levels[0])

    def set_leaf_hashes(self, updates: Mapping[int, bytes]) -> None:
        """Replace the leaf hashes of the buckets in `updates` and re-hash only the paths above them.

        Raises InvalidField (and changes nothing) if a bucket is out of range or a hash is not 32 bytes.
        """
        for bucket, hash_ in updates.items():
            _validate_bucket(bucket)
            if type(hash_) is not bytes or len(hash_) != HASH_SIZE:
                raise InvalidField(
                    f"leaf hash of bucket {bucket} must be {HASH_SIZE} bytes", field="leaf_hash"
                )
        leaves = self._levels[0]
        for bucket, hash_ in updates.items():
            leaves[bucket] = hash_
        dirty = {bucket >> 1 for bucket in updates}
        for height in range(TREE_DEPTH):
            child, parent = self._levels[height], self._levels[height + 1]
            for index in dirty:
                parent[index] = sha256(NODE_PREFIX + child[2 * index] + child[2 * index + 1])
            dirty = {index >> 1 for index in dirty}

    def copy(self) -> StateTree:
        """Return an independent copy (lists sharing the immutable hashes), for speculative execution."""
        return StateTree([list(level) for level in self._levels])

    def inclusion_path(self, bucket: int) -> list[bytes]:
        """Return the RFC 9162 inclusion proof of leaf `bucket` in the tree of 65,536 leaves (16 hashes).

        Raises InvalidField if `bucket` is not in [0, 65536).
        """
        _validate_bucket(bucket)
        return [self._levels[height][(bucket >> height) ^ 1] for height in range(TREE_DEPTH)]


def _validate_bucket(bucket: int) -> None:
    if type(bucket) is not int or not 0 <= bucket < N_BUCKETS:
        raise InvalidField(f"bucket must be in [0, {N_BUCKETS}), got {bucket!r}", field="bucket")


# --- proofs ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StateProof:
    """A proof that `key` has `value` (or, when value is None, is absent) under a state root."""

    key: bytes
    value: bytes | None
    """The value proven, or None for a proof of absence."""
    bucket_bytes: bytes
    """The full leaf data of the key's bucket at the proven height."""
    path: tuple[bytes, ...]
    """The RFC 9162 inclusion proof of the bucket's leaf: 16 hashes, nearest the leaf first."""

    def encode(self) -> bytes:
        """Return the canonical encoding [7, 1, key, value, bucket_bytes, [path...]]."""
        return codec.encode_object(
            TAG_STATE_PROOF, STATE_PROOF_VERSION, [self.key, self.value, self.bucket_bytes, list(self.path)]
        )

    @classmethod
    def decode(cls, data: bytes, *, max_size: int = MAX_STATE_PROOF_SIZE) -> StateProof:
        """Decode and check the fields of a state proof; does not verify it against a root.

        Raises InputTooLarge, MalformedEncoding, NonCanonicalEncoding, TrailingBytes, UnknownTag,
        UnsupportedVersion, or InvalidField (a field of the wrong type or size, bucket bytes not a
        multiple of 64 or not strictly sorted, a path that is not 16 hashes of 32 bytes).
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
        bucket_bytes = codec.want_bytes(fields[2], "bucket_bytes", max_size=max_size)
        _validate_sorted_entries(bucket_bytes)
        raw_path = codec.want_list(fields[3], "path", max_len=TREE_DEPTH)
        if len(raw_path) != TREE_DEPTH:
            raise InvalidField(f"path must hold {TREE_DEPTH} hashes, got {len(raw_path)}", field="path")
        path = tuple(codec.want_bytes(item, "path", size=HASH_SIZE) for item in raw_path)
        return cls(key=key, value=value, bucket_bytes=bucket_bytes, path=path)


def _validate_sorted_entries(bucket_bytes: bytes) -> None:
    previous = b""
    for key_hash, _ in compute_bucket_entries(bucket_bytes):
        if key_hash <= previous:
            raise InvalidField("bucket entries are not strictly sorted by key hash", field="bucket_bytes")
        previous = key_hash


def compute_state_proof(tree: StateTree, key: bytes, value: bytes | None, bucket_bytes: bytes) -> StateProof:
    """Return the proof for `key` given its value (None if absent) and its bucket's current leaf data.

    Raises InvariantViolation if `bucket_bytes` is not what the tree holds for the key's bucket (a bug in
    the caller's store).
    """
    bucket = compute_bucket(compute_key_hash(key))
    if leaf_hash(bucket_bytes) != tree.leaf_hash(bucket):
        raise InvariantViolation(f"bucket bytes of bucket {bucket} do not match the state tree")
    return StateProof(
        key=key, value=value, bucket_bytes=bucket_bytes, path=tuple(tree.inclusion_path(bucket))
    )


def verify_state_proof(root: bytes, proof: StateProof) -> None:
    """Check that `proof` shows its key holds its value (or is absent) in the state with `root`.

    Raises InvalidProof, naming what is wrong, if the root or path is malformed, the bucket bytes are
    malformed (not a multiple of 64, not strictly sorted, an entry outside the key's bucket), the value
    claimed is not in the bucket, a key claimed absent is present, or the bucket does not verify against
    the root.
    """
    # STRUCTURE
    if type(root) is not bytes or len(root) != HASH_SIZE:
        raise InvalidProof(f"state root must be {HASH_SIZE} bytes", field="root")
    if len(proof.path) != TREE_DEPTH or any(type(p) is not bytes or len(p) != HASH_SIZE for p in proof.path):
        raise InvalidProof(f"path must hold {TREE_DEPTH} hashes of {HASH_SIZE} bytes", field="path")
    key_hash = compute_key_hash(proof.key)
    bucket = compute_bucket(key_hash)
    try:
        entries = validate_bucket_bytes(proof.bucket_bytes, bucket)
    except InvalidField as exc:
        raise InvalidProof(f"malformed bucket: {exc.message}", field="bucket_bytes") from exc
    # MEMBERSHIP
    stored = dict(entries).get(key_hash)
    if proof.value is None and stored is not None:
        raise InvalidProof("key is claimed absent but its bucket holds it", field="value")
    if proof.value is not None:
        if stored is None:
            raise InvalidProof("key is claimed present but its bucket does not hold it", field="value")
        if stored != compute_value_hash(proof.value):
            raise InvalidProof("value does not match the value hash in the bucket", field="value")
    # INCLUSION
    if not verify_inclusion(leaf_hash(proof.bucket_bytes), bucket, N_BUCKETS, proof.path, root):
        raise InvalidProof(f"bucket {bucket} does not verify against the state root", field="path")


def is_valid_state_proof(root: bytes, proof: StateProof) -> bool:
    """Return whether `verify_state_proof(root, proof)` passes."""
    try:
        verify_state_proof(root, proof)
    except InvalidProof:
        return False
    return True
