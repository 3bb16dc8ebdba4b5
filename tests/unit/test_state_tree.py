"""The bucketed state tree and state proofs (chainnode.state_tree)."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections import defaultdict
from collections.abc import Mapping

import pytest

from chainnode import codec, merkle
from chainnode.errors import (
    InputTooLarge,
    InvalidField,
    InvalidProof,
    InvariantViolation,
    MalformedEncoding,
    NonCanonicalEncoding,
    TrailingBytes,
    UnknownTag,
    UnsupportedVersion,
)
from chainnode.state_tree import (
    EMPTY_BUCKET_LEAF_HASH,
    N_BUCKETS,
    TAG_STATE_PROOF,
    StateProof,
    StateTree,
    compute_bucket,
    compute_bucket_bytes,
    compute_bucket_entries,
    compute_bucket_leaf_hash,
    compute_key_hash,
    compute_state_proof,
    compute_updated_bucket_bytes,
    compute_value_hash,
    is_valid_state_proof,
    validate_bucket_bytes,
    verify_state_proof,
)

EMPTY_STATE_ROOT = "d83389ac9a207fb7dbdc492fbb56b9482f19170699e224be64694cc885a3a2a2"


def group_by_bucket(keys: list[bytes]) -> dict[int, list[bytes]]:
    groups: dict[int, list[bytes]] = defaultdict(list)
    for key in keys:
        groups[compute_bucket(compute_key_hash(key))].append(key)
    return groups


# 20,000 keys give a few hundred buckets holding three keys or more (birthday collisions).
CROWDED = [
    keys for keys in group_by_bucket([f"key-{i}".encode() for i in range(20_000)]).values() if len(keys) >= 3
]


def bucket_bytes_of(state: Mapping[bytes, bytes]) -> dict[int, bytes]:
    entries: dict[int, list[tuple[bytes, bytes]]] = defaultdict(list)
    for key, value in state.items():
        key_hash = compute_key_hash(key)
        entries[compute_bucket(key_hash)].append((key_hash, compute_value_hash(value)))
    return {bucket: compute_bucket_bytes(items) for bucket, items in entries.items()}


def build(state: Mapping[bytes, bytes]) -> tuple[StateTree, dict[int, bytes]]:
    buckets = bucket_bytes_of(state)
    hashes = [EMPTY_BUCKET_LEAF_HASH] * N_BUCKETS
    for bucket, data in buckets.items():
        hashes[bucket] = compute_bucket_leaf_hash(data)
    return StateTree.from_leaf_hashes(hashes), buckets


def proof_for(tree: StateTree, buckets: Mapping[int, bytes], key: bytes, value: bytes | None) -> StateProof:
    bucket = compute_bucket(compute_key_hash(key))
    return compute_state_proof(tree, key, value, buckets.get(bucket, b""))


State = tuple[dict[bytes, bytes], StateTree, dict[int, bytes]]


@pytest.fixture(scope="module")
def crowded_state() -> State:
    """A state whose first crowded bucket holds all its keys but the last, plus a few lone keys."""
    keys = [*CROWDED[0][:-1], *CROWDED[1], b"lone-1", b"lone-2"]
    state = {key: b"value of " + key for key in keys}
    tree, buckets = build(state)
    return state, tree, buckets


# --- helpers --------------------------------------------------------------------------------------------


def test_key_and_value_hashes_use_their_domains() -> None:
    assert compute_key_hash(b"k") == hashlib.sha256(b"chainnode/v1/state-key\x00k").digest()
    assert compute_value_hash(b"v") == hashlib.sha256(b"chainnode/v1/state-value\x00v").digest()


def test_bucket_is_first_two_bytes_big_endian() -> None:
    assert compute_bucket(bytes([0x01, 0x02]) + bytes(30)) == 0x0102
    assert compute_bucket(b"\xff" * 32) == N_BUCKETS - 1
    with pytest.raises(InvalidField):
        compute_bucket(b"\x00" * 31)


def test_bucket_bytes_are_sorted_entries() -> None:
    a, b = b"\x00\x01" + b"a" * 30, b"\x00\x01" + b"b" * 30
    va, vb = b"A" * 32, b"B" * 32
    assert compute_bucket_bytes([(b, vb), (a, va)]) == a + va + b + vb
    assert compute_bucket_bytes([]) == b""
    assert compute_bucket_entries(a + va + b + vb) == [(a, va), (b, vb)]


def test_bucket_bytes_reject_bad_entries() -> None:
    a, b = b"\x00\x01" + b"a" * 30, b"\x00\x02" + b"b" * 30
    with pytest.raises(InvalidField):
        compute_bucket_bytes([(a, b"A" * 32), (a, b"B" * 32)])  # duplicate key hash
    with pytest.raises(InvalidField):
        compute_bucket_bytes([(a, b"A" * 32), (b, b"B" * 32)])  # two buckets
    with pytest.raises(InvalidField):
        compute_bucket_bytes([(a[:31], b"A" * 32)])
    with pytest.raises(InvalidField):
        compute_bucket_entries(b"\x00" * 65)


def test_updated_bucket_bytes_insert_replace_delete() -> None:
    a, b, c = (b"\x00\x07" + bytes([i]) * 30 for i in (1, 2, 3))
    start = compute_bucket_bytes([(a, b"1" * 32), (c, b"3" * 32)])
    after = compute_updated_bucket_bytes(start, {b: b"2" * 32, c: None, a: b"9" * 32})
    assert after == a + b"9" * 32 + b + b"2" * 32
    assert compute_updated_bucket_bytes(after, {a: None, b: None, c: None}) == b""


def test_updated_bucket_bytes_reject_bad_changes() -> None:
    a, other = b"\x00\x07" + b"a" * 30, b"\x00\x08" + b"b" * 30
    start = compute_bucket_bytes([(a, b"1" * 32)])
    with pytest.raises(InvalidField):
        compute_updated_bucket_bytes(start, {other: b"2" * 32})  # another bucket
    with pytest.raises(InvalidField):
        compute_updated_bucket_bytes(b"", {a: b"2" * 32, other: b"2" * 32})  # two buckets
    with pytest.raises(InvalidField):
        compute_updated_bucket_bytes(start, {a: b"2" * 31})
    with pytest.raises(InvalidField):
        compute_updated_bucket_bytes(start[:-1], {a: None})
    assert compute_updated_bucket_bytes(start, {b"\x00\x07" + b"z" * 30: None}) == start  # absent: no-op


def test_validate_bucket_bytes() -> None:
    a, b = b"\x00\x07" + b"a" * 30, b"\x00\x07" + b"b" * 30
    assert validate_bucket_bytes(a + bytes(32) + b + bytes(32), 7) == [(a, bytes(32)), (b, bytes(32))]
    with pytest.raises(InvalidField):
        validate_bucket_bytes(b + bytes(32) + a + bytes(32), 7)  # unsorted
    with pytest.raises(InvalidField):
        validate_bucket_bytes(a + bytes(32) + a + bytes(32), 7)  # not strictly sorted
    with pytest.raises(InvalidField):
        validate_bucket_bytes(a + bytes(32), 8)  # wrong bucket


# --- the tree -------------------------------------------------------------------------------------------


def test_empty_state_root() -> None:
    tree = StateTree.empty()
    assert tree.root().hex() == EMPTY_STATE_ROOT
    assert tree.root() == merkle.compute_root([b""] * N_BUCKETS)
    assert tree.leaf_hash(12345) == merkle.leaf_hash(b"")


def test_root_is_the_mth_of_all_bucket_bytes(crowded_state: State) -> None:
    _, tree, buckets = crowded_state
    assert tree.root() == merkle.compute_root([buckets.get(i, b"") for i in range(N_BUCKETS)])


def test_from_leaf_hashes_checks_its_input() -> None:
    with pytest.raises(InvalidField):
        StateTree.from_leaf_hashes([EMPTY_BUCKET_LEAF_HASH] * (N_BUCKETS - 1))
    with pytest.raises(InvalidField):
        StateTree.from_leaf_hashes([EMPTY_BUCKET_LEAF_HASH] * (N_BUCKETS - 1) + [b"short"])


def test_set_leaf_hashes_matches_a_rebuild_and_copy_is_independent() -> None:
    committed = StateTree.empty()
    speculative = committed.copy()
    updates = {0: b"\x01" * 32, 1: b"\x02" * 32, 40000: b"\x03" * 32, N_BUCKETS - 1: b"\x04" * 32}
    speculative.set_leaf_hashes(updates)
    hashes = [EMPTY_BUCKET_LEAF_HASH] * N_BUCKETS
    for bucket, hash_ in updates.items():
        hashes[bucket] = hash_
    assert speculative.root() == StateTree.from_leaf_hashes(hashes).root()
    assert speculative.root() == merkle.compute_root_from_hashes(hashes)
    assert speculative.leaf_hashes() == hashes
    assert committed.root().hex() == EMPTY_STATE_ROOT


@pytest.mark.parametrize(
    "updates",
    [{N_BUCKETS: b"\x01" * 32}, {-1: b"\x01" * 32}, {5: b"\x01" * 31}, {5: b"\x01" * 32, 6: b"short"}],
)
def test_invalid_updates_change_nothing(updates: dict[int, bytes]) -> None:
    tree = StateTree.empty()
    with pytest.raises(InvalidField):
        tree.set_leaf_hashes(updates)
    assert tree.root().hex() == EMPTY_STATE_ROOT
    assert tree.leaf_hash(5) == EMPTY_BUCKET_LEAF_HASH


def test_inclusion_path_is_the_rfc_path(crowded_state: State) -> None:
    _, tree, buckets = crowded_state
    hashes = tree.leaf_hashes()
    for bucket in [0, 1, 2, N_BUCKETS - 1, *buckets]:
        path = tree.inclusion_path(bucket)
        assert len(path) == 16
        assert path == merkle.compute_inclusion_proof(hashes, bucket)
        assert merkle.verify_inclusion(hashes[bucket], bucket, N_BUCKETS, path, tree.root())
    with pytest.raises(InvalidField):
        tree.inclusion_path(N_BUCKETS)


def test_block_sized_update_is_fast() -> None:
    tree = StateTree.empty()
    updates = {(i * 21) % N_BUCKETS: hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(3000)}
    best = min(_timed_update(tree.copy(), updates) for _ in range(3))
    assert best < 0.2  # well under 50 ms on a development machine; loose for slow CI


def _timed_update(tree: StateTree, updates: dict[int, bytes]) -> float:
    start = time.perf_counter()
    tree.set_leaf_hashes(updates)
    tree.root()
    return time.perf_counter() - start


# --- proofs ---------------------------------------------------------------------------------------------


def test_presence_and_absence_proofs_verify(crowded_state: State) -> None:
    state, tree, buckets = crowded_state
    for key, value in state.items():
        proof = proof_for(tree, buckets, key, value)
        verify_state_proof(tree.root(), proof)
        assert is_valid_state_proof(tree.root(), proof)
    absent_in_crowded_bucket = CROWDED[0][-1]
    assert compute_bucket(compute_key_hash(absent_in_crowded_bucket)) in buckets
    verify_state_proof(tree.root(), proof_for(tree, buckets, absent_in_crowded_bucket, None))
    verify_state_proof(tree.root(), proof_for(tree, buckets, b"never written", None))


def test_presence_proof_in_a_bucket_of_many(crowded_state: State) -> None:
    state, tree, buckets = crowded_state
    key = CROWDED[0][0]
    proof = proof_for(tree, buckets, key, state[key])
    assert len(proof.bucket_bytes) == 64 * (len(CROWDED[0]) - 1)
    verify_state_proof(tree.root(), proof)


def _assert_rejected(root: bytes, proof: StateProof, words: str) -> None:
    with pytest.raises(InvalidProof, match=words):
        verify_state_proof(root, proof)
    assert not is_valid_state_proof(root, proof)


def test_tampered_value_fails(crowded_state: State) -> None:
    state, tree, buckets = crowded_state
    key = CROWDED[0][0]
    proof = proof_for(tree, buckets, key, state[key])
    _assert_rejected(tree.root(), dataclasses.replace(proof, value=b"forged"), "value does not match")


def test_tampered_bucket_entry_fails(crowded_state: State) -> None:
    state, tree, buckets = crowded_state
    key = CROWDED[0][0]
    proof = proof_for(tree, buckets, key, state[key])
    # Rewrite another key's value hash: the bucket is well-formed and still holds our key, but its leaf
    # hash no longer verifies.
    forged = bytearray(proof.bucket_bytes)
    own = forged.index(compute_key_hash(key))
    other = 32 if own != 0 else 96
    forged[other] ^= 1
    _assert_rejected(tree.root(), dataclasses.replace(proof, bucket_bytes=bytes(forged)), "does not verify")
    # Rewrite our own value hash to the forged value's: membership passes, inclusion fails.
    forged = bytearray(proof.bucket_bytes)
    forged[own + 32 : own + 64] = compute_value_hash(b"forged")
    tampered = dataclasses.replace(proof, value=b"forged", bucket_bytes=bytes(forged))
    _assert_rejected(tree.root(), tampered, "does not verify")


def test_wrong_root_fails(crowded_state: State) -> None:
    state, tree, buckets = crowded_state
    proof = proof_for(tree, buckets, b"lone-1", state[b"lone-1"])
    _assert_rejected(StateTree.empty().root(), proof, "does not verify")
    _assert_rejected(tree.root()[:31], proof, "state root")


def test_absent_key_claimed_present_fails(crowded_state: State) -> None:
    _, tree, buckets = crowded_state
    absent = CROWDED[0][-1]
    _assert_rejected(tree.root(), proof_for(tree, buckets, absent, b"anything"), "claimed present")


def test_present_key_claimed_absent_fails(crowded_state: State) -> None:
    _, tree, buckets = crowded_state
    _assert_rejected(tree.root(), proof_for(tree, buckets, CROWDED[0][0], None), "claimed absent")


def test_absence_by_dropping_the_entry_fails(crowded_state: State) -> None:
    _, tree, buckets = crowded_state
    key = CROWDED[0][0]
    proof = proof_for(tree, buckets, key, None)
    key_hash = compute_key_hash(key)
    entries = [e for e in compute_bucket_entries(proof.bucket_bytes) if e[0] != key_hash]
    dropped = dataclasses.replace(proof, bucket_bytes=compute_bucket_bytes(entries))
    _assert_rejected(tree.root(), dropped, "does not verify")


def test_malformed_bucket_bytes_fail(crowded_state: State) -> None:
    state, tree, buckets = crowded_state
    key = CROWDED[0][0]
    proof = proof_for(tree, buckets, key, state[key])
    entries = compute_bucket_entries(proof.bucket_bytes)
    unsorted = b"".join(k + v for k, v in reversed(entries))
    _assert_rejected(tree.root(), dataclasses.replace(proof, bucket_bytes=unsorted), "not strictly sorted")
    truncated = proof.bucket_bytes[:-1]
    _assert_rejected(tree.root(), dataclasses.replace(proof, bucket_bytes=truncated), "multiple of 64")
    stranger = compute_key_hash(b"lone-2") + compute_value_hash(state[b"lone-2"])
    mixed = b"".join(sorted([proof.bucket_bytes, stranger]))
    _assert_rejected(tree.root(), dataclasses.replace(proof, bucket_bytes=mixed), "not in bucket")


def test_malformed_path_fails(crowded_state: State) -> None:
    state, tree, buckets = crowded_state
    proof = proof_for(tree, buckets, b"lone-1", state[b"lone-1"])
    _assert_rejected(tree.root(), dataclasses.replace(proof, path=proof.path[:15]), "path")
    _assert_rejected(tree.root(), dataclasses.replace(proof, path=(*proof.path[:15], b"\x00" * 31)), "path")
    swapped = (proof.path[1], proof.path[0], *proof.path[2:])
    _assert_rejected(tree.root(), dataclasses.replace(proof, path=swapped), "does not verify")


def test_compute_state_proof_refuses_stale_bucket_bytes(crowded_state: State) -> None:
    _, tree, _ = crowded_state
    with pytest.raises(InvariantViolation):
        compute_state_proof(tree, CROWDED[0][0], None, b"")


# --- encoding -------------------------------------------------------------------------------------------


def test_encode_layout_and_round_trip(crowded_state: State) -> None:
    state, tree, buckets = crowded_state
    for key, value in [(CROWDED[0][0], state[CROWDED[0][0]]), (b"nothing here", None)]:
        proof = proof_for(tree, buckets, key, value)
        data = proof.encode()
        fields = [key, value, proof.bucket_bytes, list(proof.path)]
        assert codec.decode(data, max_size=1 << 20) == [7, 1, *fields]
        assert StateProof.decode(data) == proof
        verify_state_proof(tree.root(), StateProof.decode(data))


def _good_fields() -> list[object]:
    key_hash = compute_key_hash(b"k")
    return [b"k", b"v", key_hash + compute_value_hash(b"v"), [b"\x00" * 32] * 16]


def _encode(fields: list[object], *, tag: int = TAG_STATE_PROOF, version: int = 1) -> bytes:
    return codec.encode_object(tag, version, fields)


def test_decode_accepts_the_good_fields() -> None:
    proof = StateProof.decode(_encode(_good_fields()))
    assert proof.value == b"v"
    assert len(proof.path) == 16


@pytest.mark.parametrize(
    ("index", "value"),
    [
        (0, "k"),  # key not bytes
        (1, 5),  # value neither bytes nor nil
        (2, b"\x00" * 63),  # bucket bytes not a multiple of 64
        (2, b"\x02" * 64 + b"\x01" * 64),  # entries not sorted
        (2, b"\x01" * 64 + b"\x01" * 64),  # duplicate entry
        (2, "bucket"),
        (3, [b"\x00" * 32] * 15),  # path too short
        (3, [b"\x00" * 32] * 17),  # path too long
        (3, [b"\x00" * 32] * 15 + [b"\x00" * 31]),  # a path hash of 31 bytes
        (3, b"\x00" * 512),  # path not an array
    ],
)
def test_decode_rejects_bad_fields(index: int, value: object) -> None:
    fields = _good_fields()
    fields[index] = value
    with pytest.raises(InvalidField):
        StateProof.decode(_encode(fields))


def test_decode_rejects_bad_frames() -> None:
    good = _encode(_good_fields())
    with pytest.raises(UnknownTag):
        StateProof.decode(_encode(_good_fields(), tag=8))
    with pytest.raises(UnsupportedVersion):
        StateProof.decode(_encode(_good_fields(), version=2))
    with pytest.raises(MalformedEncoding):
        StateProof.decode(_encode(_good_fields()[:3]))
    with pytest.raises(MalformedEncoding):
        StateProof.decode(b"\xc1")
    with pytest.raises(MalformedEncoding):
        StateProof.decode(b"")
    with pytest.raises(TrailingBytes):
        StateProof.decode(good + b"\x00")
    with pytest.raises(InputTooLarge):
        StateProof.decode(good, max_size=len(good) - 1)
    with pytest.raises(NonCanonicalEncoding):
        StateProof.decode(good[:1] + b"\xd0\x07" + good[2:])  # tag 7 as int8 instead of fixint


def test_golden_vector_of_a_one_key_state() -> None:
    # The worked example of docs/state.md: the state {b"alice": b"1"}.
    key_hash = compute_key_hash(b"alice")
    value_hash = compute_value_hash(b"1")
    assert key_hash.hex() == "9d7d75312f55e67e9738639c7747033003aded4ed910aaf9c611eebd7083fba3"
    assert value_hash.hex() == "2dea44ce7aa86127c277323d7f372f35608fd93d39ad9e0115e36462c9ee941c"
    assert compute_bucket(key_hash) == 40317
    bucket_bytes = compute_bucket_bytes([(key_hash, value_hash)])
    tree = StateTree.empty()
    tree.set_leaf_hashes({40317: compute_bucket_leaf_hash(bucket_bytes)})
    assert tree.root().hex() == "2fe13235c1e14bb505899737a419baf5e6d3e323c187ee15ab78e7ba20467023"
    present = compute_state_proof(tree, b"alice", b"1", bucket_bytes).encode()
    assert len(present) == 626
    assert (
        hashlib.sha256(present).hexdigest()
        == "8ff3681f43baaf6affb901b1e7954631dc7db53bfec3ad6f01ea82c47544345a"
    )
    absent = compute_state_proof(tree, b"bob", None, b"").encode()
    assert absent[:10].hex() == "960701c403626f62c0c4"  # [7, 1, b"bob", nil, b"" ...
    assert (
        hashlib.sha256(absent).hexdigest()
        == "a85d972a3358b41ad32b42ec7283f2186bc55561517f026dee94ce43a5c08198"
    )
