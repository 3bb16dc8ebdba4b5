"""The state root as docs/state.md defines it, computed from scratch: what the tree's tests compare with."""

from __future__ import annotations

from collections.abc import Mapping

from chainnode.state_tree import EMPTY_HASH, compute_leaf_hash, compute_node_hash


def bit(key_hash: bytes, depth: int) -> int:
    return (key_hash[depth // 8] >> (7 - depth % 8)) & 1


def reference_root(items: Mapping[bytes, bytes], depth: int = 0) -> bytes:
    """key_hash -> value_hash to the root: empty -> 32 zero bytes, one key -> its leaf, else a node."""
    if not items:
        return EMPTY_HASH
    if len(items) == 1:
        [(key_hash, value_hash)] = items.items()
        return compute_leaf_hash(key_hash, value_hash)
    left = {k: v for k, v in items.items() if not bit(k, depth)}
    right = {k: v for k, v in items.items() if bit(k, depth)}
    return compute_node_hash(reference_root(left, depth + 1), reference_root(right, depth + 1))
