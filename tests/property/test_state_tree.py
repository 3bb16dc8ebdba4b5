"""State tree properties: roots match a from-scratch MTH, incremental equals rebuild, proofs are sound."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Mapping

from hypothesis import given, settings
from hypothesis import strategies as st

from chainnode import merkle
from chainnode.state_tree import (
    EMPTY_BUCKET_LEAF_HASH,
    N_BUCKETS,
    StateProof,
    StateTree,
    compute_bucket,
    compute_bucket_bytes,
    compute_bucket_leaf_hash,
    compute_key_hash,
    compute_state_proof,
    compute_updated_bucket_bytes,
    compute_value_hash,
    is_valid_state_proof,
    verify_state_proof,
)


def _group(keys: list[bytes]) -> dict[int, list[bytes]]:
    groups: dict[int, list[bytes]] = defaultdict(list)
    for key in keys:
        groups[compute_bucket(compute_key_hash(key))].append(key)
    return groups


# Keys that share buckets (birthday collisions among 20,000 names), so buckets hold several entries, plus
# keys that are alone in theirs.
_GROUPS = _group([f"key-{i}".encode() for i in range(20_000)])
CROWDED_KEYS = [key for keys in _GROUPS.values() if len(keys) >= 2 for key in keys][:600]
LONE_KEYS = [keys[0] for keys in _GROUPS.values() if len(keys) == 1][:200]
KEYS = st.sampled_from(CROWDED_KEYS + LONE_KEYS)
VALUES = st.binary(max_size=16)
STATES = st.dictionaries(KEYS, VALUES, max_size=120)


def bucket_bytes_of(state: Mapping[bytes, bytes]) -> dict[int, bytes]:
    """From scratch: every non-empty bucket's leaf data."""
    entries: dict[int, list[tuple[bytes, bytes]]] = defaultdict(list)
    for key, value in state.items():
        key_hash = compute_key_hash(key)
        entries[compute_bucket(key_hash)].append((key_hash, compute_value_hash(value)))
    return {bucket: compute_bucket_bytes(items) for bucket, items in entries.items()}


def tree_of(buckets: Mapping[int, bytes]) -> StateTree:
    """From scratch: all 65,536 leaf hashes, every level hashed."""
    hashes = [EMPTY_BUCKET_LEAF_HASH] * N_BUCKETS
    for bucket, data in buckets.items():
        hashes[bucket] = compute_bucket_leaf_hash(data)
    return StateTree.from_leaf_hashes(hashes)


EMPTY = StateTree.empty()


def quick_tree_of(buckets: Mapping[int, bytes]) -> StateTree:
    """The same tree, built incrementally from the empty one (fast for a few buckets)."""
    tree = EMPTY.copy()
    tree.set_leaf_hashes({bucket: compute_bucket_leaf_hash(data) for bucket, data in buckets.items()})
    return tree


SLOW = settings(deadline=None, max_examples=15)
FAST = settings(deadline=None, max_examples=50)


@SLOW
@given(STATES)
def test_root_is_the_mth_of_the_bucket_bytes_from_scratch(state: dict[bytes, bytes]) -> None:
    buckets = bucket_bytes_of(state)
    tree = tree_of(buckets)
    assert quick_tree_of(buckets).root() == tree.root()
    assert tree.root() == merkle.compute_root([buckets.get(i, b"") for i in range(N_BUCKETS)])


@FAST
@given(STATES, st.lists(st.tuples(KEYS, st.none() | VALUES), max_size=60))
def test_incremental_updates_equal_a_rebuild(
    state: dict[bytes, bytes], writes: list[tuple[bytes, bytes | None]]
) -> None:
    buckets = bucket_bytes_of(state)
    tree = quick_tree_of(buckets)
    committed_root = tree.root()
    speculative = tree.copy()
    # Apply the block's writes the way a node does: per touched bucket, edit its bytes, then re-hash.
    changes: dict[int, dict[bytes, bytes | None]] = defaultdict(dict)
    final = dict(state)
    for key, value in writes:
        key_hash = compute_key_hash(key)
        changes[compute_bucket(key_hash)][key_hash] = None if value is None else compute_value_hash(value)
        if value is None:
            final.pop(key, None)
        else:
            final[key] = value
    new_bytes = {b: compute_updated_bucket_bytes(buckets.get(b, b""), c) for b, c in changes.items()}
    speculative.set_leaf_hashes({b: compute_bucket_leaf_hash(data) for b, data in new_bytes.items()})
    rebuilt = bucket_bytes_of(final)
    for bucket, data in new_bytes.items():
        assert data == rebuilt.get(bucket, b"")
    assert speculative.root() == tree_of(rebuilt).root()
    assert tree.root() == committed_root  # the committed tree is untouched


@FAST
@given(STATES, KEYS, st.data())
def test_proofs_verify_for_present_and_absent_keys(
    state: dict[bytes, bytes], key: bytes, data: st.DataObject
) -> None:
    buckets = bucket_bytes_of(state)
    tree = quick_tree_of(buckets)
    bucket = compute_bucket(compute_key_hash(key))
    proof = compute_state_proof(tree, key, state.get(key), buckets.get(bucket, b""))
    verify_state_proof(tree.root(), proof)
    assert StateProof.decode(proof.encode()) == proof
    # Any other claim about the key fails: a different value, or presence/absence flipped.
    if key in state:
        other = data.draw(VALUES.filter(lambda v: v != state[key]), label="other value")
        assert not is_valid_state_proof(tree.root(), dataclasses.replace(proof, value=other))
        assert not is_valid_state_proof(tree.root(), dataclasses.replace(proof, value=None))
    else:
        claimed = data.draw(VALUES, label="claimed value")
        assert not is_valid_state_proof(tree.root(), dataclasses.replace(proof, value=claimed))


@FAST
@given(STATES.filter(bool), st.data())
def test_any_bit_flip_in_bucket_bytes_path_or_root_fails(
    state: dict[bytes, bytes], data: st.DataObject
) -> None:
    buckets = bucket_bytes_of(state)
    tree = quick_tree_of(buckets)
    key = data.draw(st.sampled_from(sorted(state)), label="key")
    proof = compute_state_proof(tree, key, state[key], buckets[compute_bucket(compute_key_hash(key))])
    root = tree.root()
    target = data.draw(st.sampled_from(["bucket_bytes", "path", "root"]), label="target")
    if target == "bucket_bytes":
        bit = data.draw(st.integers(0, len(proof.bucket_bytes) * 8 - 1), label="bit")
        proof = dataclasses.replace(proof, bucket_bytes=_flip(proof.bucket_bytes, bit))
    elif target == "path":
        j = data.draw(st.integers(0, 15), label="element")
        bit = data.draw(st.integers(0, 255), label="bit")
        path = tuple(_flip(p, bit) if i == j else p for i, p in enumerate(proof.path))
        proof = dataclasses.replace(proof, path=path)
    else:
        root = _flip(root, data.draw(st.integers(0, 255), label="bit"))
    assert not is_valid_state_proof(root, proof)


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@FAST
@given(
    st.binary(max_size=64),
    st.none() | st.binary(max_size=64),
    st.lists(st.binary(min_size=64, max_size=64), max_size=8, unique=True),
    st.lists(st.binary(min_size=32, max_size=32), min_size=16, max_size=16),
)
def test_encode_decode_round_trip(
    key: bytes, value: bytes | None, entries: list[bytes], path: list[bytes]
) -> None:
    proof = StateProof(key=key, value=value, bucket_bytes=b"".join(sorted(entries)), path=tuple(path))
    assert StateProof.decode(proof.encode()) == proof
