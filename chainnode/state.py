"""From a block's state writes to the new state root: the bucket updates and the tree that follows.

This module is pure: it reads the current content of the touched buckets through a callback and returns
everything the store must write. The committed `StateTree` is never changed here; the update holds a
copy with the new leaves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from chainnode.state_tree import (
    StateTree,
    compute_bucket,
    compute_bucket_leaf_hash,
    compute_key_hash,
    compute_updated_bucket_bytes,
    compute_value_hash,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class StateUpdate:
    root: bytes
    tree: StateTree
    key_hashes: dict[bytes, bytes]
    """Each changed key -> its key hash."""
    entry_changes: dict[bytes, bytes | None]
    """key_hash -> new value_hash, or None when the key is deleted."""
    buckets: dict[int, bytes]
    """Each touched bucket -> its new leaf data."""
    leaf_hashes: dict[int, bytes]


def compute_state_update(
    tree: StateTree, changes: Mapping[bytes, bytes | None], load_bucket: Callable[[int], bytes]
) -> StateUpdate:
    """Compute the new buckets, leaf hashes and root for `changes` applied on top of `tree`."""
    key_hashes: dict[bytes, bytes] = {}
    entry_changes: dict[bytes, bytes | None] = {}
    per_bucket: dict[int, dict[bytes, bytes | None]] = {}
    for key, value in changes.items():
        key_hash = compute_key_hash(key)
        key_hashes[key] = key_hash
        value_hash = None if value is None else compute_value_hash(value)
        entry_changes[key_hash] = value_hash
        per_bucket.setdefault(compute_bucket(key_hash), {})[key_hash] = value_hash
    buckets = {b: compute_updated_bucket_bytes(load_bucket(b), c) for b, c in sorted(per_bucket.items())}
    leaf_hashes = {b: compute_bucket_leaf_hash(data) for b, data in buckets.items()}
    new_tree = tree.copy()
    new_tree.set_leaf_hashes(leaf_hashes)
    return StateUpdate(
        root=new_tree.root(),
        tree=new_tree,
        key_hashes=key_hashes,
        entry_changes=entry_changes,
        buckets=buckets,
        leaf_hashes=leaf_hashes,
    )
