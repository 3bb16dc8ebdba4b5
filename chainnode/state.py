"""From a block's state writes to the new state root: the tree nodes to store and the tree that follows.

This module is pure: it reads the committed tree's nodes through a callback and returns everything the
store must write. The committed `StateTree` is never changed: the update names a new version of it
(the next height), whose new nodes exist only in the update until the store writes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from chainnode.state_tree import LoadNode, StateTree, compute_key_hash, compute_tree_update, compute_value_hash


@dataclass(frozen=True, slots=True, kw_only=True)
class StateUpdate:
    root: bytes
    tree: StateTree
    """The tree after the block: version = the block's height."""
    key_hashes: dict[bytes, bytes]
    """Each changed key -> its key hash."""
    nodes: dict[bytes, bytes]
    """Node key -> node value of every tree node the block writes (docs/state.md)."""
    stale: tuple[bytes, ...]
    """Keys of older nodes the new tree no longer references; the store keeps them as history."""
    hashed: int
    """Leaf and node hashes computed for the tree (the update's cost)."""


def compute_state_update(tree: StateTree, changes: Mapping[bytes, bytes | None], load_node: LoadNode) -> StateUpdate:
    """Compute the tree nodes and root for `changes` (key -> value, None to delete) applied on `tree`.

    The new tree has version `tree.version + 1`: the height of the block whose changes these are
    (0 for the genesis state on `StateTree.empty()`).
    """
    key_hashes: dict[bytes, bytes] = {}
    entries: dict[bytes, bytes | None] = {}
    for key, value in changes.items():
        key_hash = compute_key_hash(key)
        key_hashes[key] = key_hash
        entries[key_hash] = None if value is None else compute_value_hash(value)
    update = compute_tree_update(tree, entries, load_node)
    return StateUpdate(
        root=update.tree.root(),
        tree=update.tree,
        key_hashes=key_hashes,
        nodes=update.nodes,
        stale=update.stale,
        hashed=update.hashed,
    )
