"""State tree properties: batches equal a from-scratch reference, order does not matter, proofs are sound."""

from __future__ import annotations

import dataclasses
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from chainnode.state import compute_state_update
from chainnode.state_tree import (
    EMPTY_HASH,
    StateProof,
    StateTree,
    compute_leaf_hash,
    compute_node_hash,
    compute_path,
    compute_state_proof,
    compute_tree_update,
    is_valid_state_proof,
    verify_state_proof,
)
from tests.state_reference import bit, reference_root

FAST = settings(max_examples=150, deadline=None)

# Key hashes from a few bytes so that many share long prefixes (deep paths, chains of one-sided nodes),
# padded to 32 bytes; the last byte varies freely so that keys stay distinct.
KEY_HASHES = st.builds(
    lambda head, tail: (head + bytes(31))[:31] + tail,
    st.sampled_from([b"", b"\x00", b"\x80", b"\xa5\xa5", b"\xa5\xa4", b"\xff\xff\xff"]),
    st.binary(min_size=1, max_size=1),
)
VALUE_HASHES = st.sampled_from([bytes([i]) * 32 for i in range(1, 6)])
BATCH = st.dictionaries(KEY_HASHES, st.none() | VALUE_HASHES, max_size=25)


Run = tuple[list[StateTree], dict[bytes, bytes], list[dict[bytes, bytes]]]


def run(batches: list[dict[bytes, bytes | None]]) -> Run:
    """Apply the batches as successive versions; return every tree, the node store and each state."""
    nodes: dict[bytes, bytes] = {}
    tree, state = StateTree.empty(), {}
    trees, states = [], []
    for batch in batches:
        update = compute_tree_update(tree, batch, nodes.__getitem__)
        assert not set(update.nodes) & set(nodes)
        nodes.update(update.nodes)
        tree = update.tree
        state = {k: v for k, v in {**state, **batch}.items() if v is not None}
        trees.append(tree)
        states.append(state)
    return trees, nodes, states


@FAST
@given(st.lists(BATCH, min_size=1, max_size=6))
def test_every_version_equals_the_reference_root(batches: list[dict[bytes, bytes | None]]) -> None:
    trees, _, states = run(batches)
    for version, (tree, state) in enumerate(zip(trees, states, strict=True)):
        assert tree.version == version
        assert tree.root() == reference_root(state)


@FAST
@given(BATCH, BATCH, st.randoms(use_true_random=False))
def test_the_root_does_not_depend_on_the_order_within_a_batch(
    first: dict[bytes, bytes | None], second: dict[bytes, bytes | None], rng: random.Random
) -> None:
    items = list(second.items())
    rng.shuffle(items)
    trees_a, nodes_a, _ = run([first, second])
    trees_b, nodes_b, _ = run([first, dict(items)])
    assert trees_a[-1] == trees_b[-1] and nodes_a == nodes_b  # the same root and the same stored nodes


@FAST
@given(st.lists(BATCH, min_size=1, max_size=4), KEY_HASHES, st.data())
def test_proofs_at_every_version_are_sound(
    batches: list[dict[bytes, bytes | None]], key_hash: bytes, data: st.DataObject
) -> None:
    trees, nodes, states = run(batches)
    version = data.draw(st.integers(0, len(trees) - 1), label="version")
    tree, state = trees[version], states[version]
    leaf, siblings = compute_path(tree, key_hash, nodes.__getitem__)
    root = tree.root()
    if key_hash in state:
        assert leaf == key_hash + state[key_hash]
    else:
        assert leaf is None or leaf[:32] != key_hash
    assert _fold(key_hash, leaf, siblings) == root
    if siblings:
        index = data.draw(st.integers(0, len(siblings) - 1), label="sibling")
        bad = list(siblings)
        bad[index] = bytes([bad[index][0] ^ 1]) + bad[index][1:]
        assert _fold(key_hash, leaf, tuple(bad)) != root
    if leaf is not None:
        assert _fold(key_hash, None, siblings) != root  # the leaf cannot be hidden to fake an absence


def _fold(key_hash: bytes, leaf: bytes | None, siblings: tuple[bytes, ...]) -> bytes:
    node = EMPTY_HASH if leaf is None else compute_leaf_hash(leaf[:32], leaf[32:])
    for i, sibling in enumerate(siblings):
        depth = len(siblings) - 1 - i
        node = compute_node_hash(sibling, node) if bit(key_hash, depth) else compute_node_hash(node, sibling)
    return node


@FAST
@given(st.dictionaries(st.binary(max_size=6), st.binary(max_size=6), max_size=30), st.binary(max_size=6), st.data())
def test_key_proofs_verify_and_forged_values_fail(
    state: dict[bytes, bytes], key: bytes, data: st.DataObject
) -> None:
    nodes: dict[bytes, bytes] = {}
    update = compute_state_update(StateTree.empty(), dict(state), nodes.__getitem__)
    nodes.update(update.nodes)
    proof = compute_state_proof(update.tree, key, state.get(key), nodes.__getitem__)
    verify_state_proof(update.root, proof)
    assert StateProof.decode(proof.encode()) == proof
    if key in state:
        other = data.draw(st.binary(max_size=6).filter(lambda v: v != state[key]), label="other value")
        assert not is_valid_state_proof(update.root, dataclasses.replace(proof, value=other))
        assert not is_valid_state_proof(update.root, dataclasses.replace(proof, value=None))
    else:
        assert not is_valid_state_proof(update.root, dataclasses.replace(proof, value=b"forged"))
