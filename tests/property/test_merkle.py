"""The iterative RFC 9162 tree agrees with the RFC's recursive definitions, and its proofs are sound.

The reference functions below are RFC 9162 section 2.1 transcribed literally (MTH, PATH, PROOF and
SUBPROOF as recursive functions over leaf data), sharing no code with chainnode.merkle.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainnode import merkle

# --- RFC 9162 section 2.1, literally --------------------------------------------------------------------


def ref_hash(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def ref_split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: Sequence[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return ref_hash(b"")
    if n == 1:
        return ref_hash(b"\x00" + d[0])
    k = ref_split(n)
    return ref_hash(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:]))


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = ref_split(n)
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = ref_split(n)
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def ref_proof(m: int, d: Sequence[bytes]) -> list[bytes]:
    return ref_subproof(m, d, True)


# --- strategies -----------------------------------------------------------------------------------------


@st.composite
def leaf_lists(
    draw: st.DrawFn, min_size: int = 0, max_size: int = 300, *, distinct: bool = False
) -> list[bytes]:
    """Leaf data lists of min_size..max_size: either small arbitrary lists or larger generated ones.

    With `distinct`, no two leaves are equal: equal leaves make equal subtrees, and then a proof can
    rightly verify for another index holding the same data.
    """
    if draw(st.booleans()):
        small = st.lists(
            st.binary(max_size=12), min_size=min_size, max_size=min(max_size, 24), unique=distinct
        )
        return draw(small)
    n = draw(st.integers(min_size, max_size))
    salt = draw(st.binary(max_size=8))
    return [salt + i.to_bytes(2, "big") for i in range(n)]


def flip_bit(data: bytes, bit: int) -> bytes:
    bit %= len(data) * 8
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


SETTINGS = settings(deadline=None, max_examples=60)


# --- tree hashes ----------------------------------------------------------------------------------------


@SETTINGS
@given(leaf_lists())
def test_root_matches_rfc_mth(leaves: list[bytes]) -> None:
    expected = ref_mth(leaves)
    hashes = [merkle.leaf_hash(d) for d in leaves]
    assert merkle.compute_root(leaves) == expected
    assert merkle.compute_root_from_hashes(hashes) == expected
    assert merkle.MerkleTree(hashes).root() == expected


# --- inclusion ------------------------------------------------------------------------------------------


@SETTINGS
@given(leaf_lists(min_size=1), st.data())
def test_inclusion_proofs_match_rfc_path_and_all_verify(leaves: list[bytes], data: st.DataObject) -> None:
    hashes = [merkle.leaf_hash(d) for d in leaves]
    tree = merkle.MerkleTree(hashes)
    root = tree.root()
    index = data.draw(st.integers(0, len(leaves) - 1), label="index")
    assert merkle.compute_inclusion_proof(hashes, index) == ref_path(index, leaves)
    for i, leaf in enumerate(hashes):
        assert merkle.verify_inclusion(leaf, i, len(hashes), tree.inclusion_proof(i), root)


@SETTINGS
@given(leaf_lists(min_size=1, distinct=True), st.data())
def test_inclusion_fails_after_any_single_bit_flip(leaves: list[bytes], data: st.DataObject) -> None:
    hashes = [merkle.leaf_hash(d) for d in leaves]
    size = len(hashes)
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = merkle.compute_inclusion_proof(hashes, index)
    root = merkle.compute_root_from_hashes(hashes)
    leaf = hashes[index]
    assert merkle.verify_inclusion(leaf, index, size, proof, root)
    targets = ["leaf", "index", "root"] + (["proof"] if proof else [])
    target = data.draw(st.sampled_from(targets), label="target")
    bit = data.draw(st.integers(0, 255), label="bit")
    if target == "proof":
        j = data.draw(st.integers(0, len(proof) - 1), label="element")
        proof = [flip_bit(p, bit) if i == j else p for i, p in enumerate(proof)]
    elif target == "leaf":
        leaf = flip_bit(leaf, bit)
    elif target == "root":
        root = flip_bit(root, bit)
    else:
        index ^= 1 << (bit % (size.bit_length() + 1))
    assert not merkle.verify_inclusion(leaf, index, size, proof, root)


@SETTINGS
@given(leaf_lists(min_size=1), st.data())
def test_inclusion_fails_for_a_proof_of_the_wrong_length(leaves: list[bytes], data: st.DataObject) -> None:
    hashes = [merkle.leaf_hash(d) for d in leaves]
    size = len(hashes)
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = merkle.compute_inclusion_proof(hashes, index)
    root = merkle.compute_root_from_hashes(hashes)
    assert not merkle.verify_inclusion(hashes[index], index, size, [*proof, root], root)
    if proof:
        assert not merkle.verify_inclusion(hashes[index], index, size, proof[:-1], root)


# --- consistency ----------------------------------------------------------------------------------------


@SETTINGS
@given(leaf_lists(min_size=1), st.data())
def test_consistency_proofs_match_rfc_and_all_verify(leaves: list[bytes], data: st.DataObject) -> None:
    hashes = [merkle.leaf_hash(d) for d in leaves]
    n = len(hashes)
    tree = merkle.MerkleTree(hashes)
    m = data.draw(st.integers(1, n), label="old_size")
    assert merkle.compute_consistency_proof(hashes, m) == ref_proof(m, leaves)
    new_root = tree.root()
    for old_size in range(1, n + 1):
        old_root = merkle.compute_root_from_hashes(hashes[:old_size])
        proof = tree.consistency_proof(old_size)
        assert merkle.verify_consistency(old_size, n, old_root, new_root, proof)


@SETTINGS
@given(leaf_lists(min_size=1), st.data())
def test_consistency_fails_after_any_single_bit_flip(leaves: list[bytes], data: st.DataObject) -> None:
    # Tree sizes are not flipped: RFC 9162 proofs do not authenticate the sizes, which come from the
    # signed tree head (see tests/unit/test_merkle.py::test_proofs_do_not_authenticate_the_tree_size).
    hashes = [merkle.leaf_hash(d) for d in leaves]
    n = len(hashes)
    m = data.draw(st.integers(1, n), label="old_size")
    proof = merkle.compute_consistency_proof(hashes, m)
    old_root = merkle.compute_root_from_hashes(hashes[:m])
    new_root = merkle.compute_root_from_hashes(hashes)
    assert merkle.verify_consistency(m, n, old_root, new_root, proof)
    targets = ["old_root", "new_root"] + (["proof"] if proof else [])
    target = data.draw(st.sampled_from(targets), label="target")
    bit = data.draw(st.integers(0, 255), label="bit")
    if target == "proof":
        j = data.draw(st.integers(0, len(proof) - 1), label="element")
        proof = [flip_bit(p, bit) if i == j else p for i, p in enumerate(proof)]
    elif target == "old_root":
        old_root = flip_bit(old_root, bit)
    else:
        new_root = flip_bit(new_root, bit)
    assert not merkle.verify_consistency(m, n, old_root, new_root, proof)


@SETTINGS
@given(leaf_lists(min_size=2), st.data())
def test_consistency_fails_for_a_different_history(leaves: list[bytes], data: st.DataObject) -> None:
    n = len(leaves)
    m = data.draw(st.integers(1, n - 1), label="old_size")
    changed = data.draw(st.integers(0, m - 1), label="changed_leaf")
    forked = [*leaves[:changed], leaves[changed] + b"!", *leaves[changed + 1 :]]
    hashes = [merkle.leaf_hash(d) for d in leaves]
    proof = merkle.compute_consistency_proof(hashes, m)
    assert not merkle.verify_consistency(m, n, ref_mth(forked[:m]), ref_mth(leaves), proof)


# --- exhaustive small trees -----------------------------------------------------------------------------


@pytest.mark.parametrize("n", range(1, 41))
def test_every_index_and_old_size_of_small_trees(n: int) -> None:
    leaves = [bytes([i]) * (i % 3) for i in range(n)]
    hashes = [merkle.leaf_hash(d) for d in leaves]
    root = ref_mth(leaves)
    for index in range(n):
        proof = merkle.compute_inclusion_proof(hashes, index)
        assert proof == ref_path(index, leaves)
        assert merkle.verify_inclusion(hashes[index], index, n, proof, root)
    for m in range(1, n + 1):
        proof = merkle.compute_consistency_proof(hashes, m)
        assert proof == ref_proof(m, leaves)
        assert merkle.verify_consistency(m, n, ref_mth(leaves[:m]), root, proof)
