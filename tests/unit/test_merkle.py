"""Known vectors and edge cases of the RFC 9162 Merkle tree (chainnode.merkle)."""

from __future__ import annotations

import hashlib
import time

import pytest

from chainnode import merkle
from chainnode.errors import InvalidField


def h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# The eight leaves of the Certificate Transparency reference test vectors (RFC 6962 / RFC 9162 trees),
# and the roots of their prefixes D[0:1] .. D[0:8].
CT_LEAVES = [
    bytes.fromhex(x)
    for x in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_HASHES = [merkle.leaf_hash(d) for d in CT_LEAVES]


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    expected = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert merkle.compute_root([]).hex() == expected
    assert merkle.compute_root_from_hashes([]).hex() == expected
    assert merkle.EMPTY_ROOT.hex() == expected
    assert merkle.MerkleTree([]).root().hex() == expected


def test_leaf_and_node_prefixes() -> None:
    assert merkle.leaf_hash(b"abc") == h(b"\x00abc")
    assert merkle.node_hash(b"L" * 32, b"R" * 32) == h(b"\x01" + b"L" * 32 + b"R" * 32)


def test_one_leaf_root_is_its_leaf_hash() -> None:
    assert merkle.compute_root([b"x"]) == h(b"\x00x")
    assert merkle.compute_inclusion_proof([merkle.leaf_hash(b"x")], 0) == []


def test_three_leaves_by_hand() -> None:
    # k = 2: MTH = H(1 || H(1 || L0 || L1) || L2); the third leaf is not paired with a copy of itself.
    l0, l1, l2 = h(b"\x00a"), h(b"\x00b"), h(b"\x00c")
    left = h(b"\x01" + l0 + l1)
    assert merkle.compute_root([b"a", b"b", b"c"]) == h(b"\x01" + left + l2)
    assert merkle.compute_inclusion_proof([l0, l1, l2], 0) == [l1, l2]
    assert merkle.compute_inclusion_proof([l0, l1, l2], 2) == [left]


def test_five_leaves_by_hand() -> None:
    leaves = [bytes([i]) for i in range(5)]
    lh = [h(b"\x00" + d) for d in leaves]
    n01, n23 = h(b"\x01" + lh[0] + lh[1]), h(b"\x01" + lh[2] + lh[3])
    n0123 = h(b"\x01" + n01 + n23)
    root = h(b"\x01" + n0123 + lh[4])
    assert merkle.compute_root(leaves) == root
    assert merkle.compute_inclusion_proof(lh, 4) == [n0123]
    assert merkle.compute_inclusion_proof(lh, 2) == [lh[3], n01, lh[4]]
    assert merkle.compute_consistency_proof(lh, 3) == [lh[2], lh[3], n01, lh[4]]
    assert merkle.verify_consistency(3, 5, h(b"\x01" + n01 + lh[2]), root, [lh[2], lh[3], n01, lh[4]])


@pytest.mark.parametrize("size", range(1, 9))
def test_ct_vector_roots(size: int) -> None:
    assert merkle.compute_root(CT_LEAVES[:size]).hex() == CT_ROOTS[size - 1]


def test_ct_vector_inclusion_proof() -> None:
    proof = merkle.compute_inclusion_proof(CT_HASHES, 0)
    assert [p.hex() for p in proof] == [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]
    assert merkle.verify_inclusion(CT_HASHES[0], 0, 8, proof, bytes.fromhex(CT_ROOTS[7]))


def test_ct_vector_consistency_proof() -> None:
    proof = merkle.compute_consistency_proof(CT_HASHES, 6)
    assert [p.hex() for p in proof] == [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]
    old, new = bytes.fromhex(CT_ROOTS[5]), bytes.fromhex(CT_ROOTS[7])
    assert merkle.verify_consistency(6, 8, old, new, proof)
    assert not merkle.verify_consistency(6, 8, new, old, proof)


def test_compute_proofs_reject_bad_index() -> None:
    with pytest.raises(InvalidField):
        merkle.compute_inclusion_proof(CT_HASHES, 8)
    with pytest.raises(InvalidField):
        merkle.compute_inclusion_proof(CT_HASHES, -1)
    with pytest.raises(InvalidField):
        merkle.compute_inclusion_proof([], 0)
    with pytest.raises(InvalidField):
        merkle.compute_consistency_proof(CT_HASHES, 9)
    with pytest.raises(InvalidField):
        merkle.compute_consistency_proof(CT_HASHES, -1)


def test_verify_inclusion_returns_false_on_bad_input() -> None:
    root = bytes.fromhex(CT_ROOTS[7])
    proof = merkle.compute_inclusion_proof(CT_HASHES, 3)
    assert merkle.verify_inclusion(CT_HASHES[3], 3, 8, proof, root)
    assert not merkle.verify_inclusion(CT_HASHES[3], 8, 8, proof, root)  # index >= size
    assert not merkle.verify_inclusion(CT_HASHES[3], -1, 8, proof, root)
    assert not merkle.verify_inclusion(CT_HASHES[3], 3, 0, proof, root)
    assert not merkle.verify_inclusion(CT_HASHES[3], 3, 8, proof[:-1], root)  # too short
    assert not merkle.verify_inclusion(CT_HASHES[3], 3, 8, [*proof, proof[0]], root)  # too long
    assert not merkle.verify_inclusion(CT_HASHES[3], 3, 8, [*proof[:-1], proof[-1][:31]], root)
    assert not merkle.verify_inclusion(CT_HASHES[3][:31], 3, 8, proof, root)
    assert not merkle.verify_inclusion(CT_HASHES[3], 3, 8, proof, root + b"\x00")
    assert not merkle.verify_inclusion(CT_HASHES[3], 3, 9, proof, root)  # wrong size


def test_verify_consistency_edge_cases() -> None:
    root8 = bytes.fromhex(CT_ROOTS[7])
    assert merkle.verify_consistency(8, 8, root8, root8, [])
    assert not merkle.verify_consistency(8, 8, root8, root8, [root8])
    assert not merkle.verify_consistency(8, 8, root8, bytes.fromhex(CT_ROOTS[6]), [])
    assert merkle.verify_consistency(0, 8, merkle.EMPTY_ROOT, root8, [])
    assert not merkle.verify_consistency(0, 8, root8, root8, [])
    assert not merkle.verify_consistency(9, 8, root8, root8, [])
    assert not merkle.verify_consistency(-1, 8, merkle.EMPTY_ROOT, root8, [])
    # An empty proof never shows consistency between different non-zero sizes (RFC 9162 step 1).
    assert not merkle.verify_consistency(4, 8, bytes.fromhex(CT_ROOTS[3]), root8, [])


def test_proofs_do_not_authenticate_the_tree_size() -> None:
    # RFC 9162 behaviour, pinned so nobody relies on the opposite: the path of leaf 0 in a tree of 6
    # (L1, MTH(D[2:4]), MTH(D[4:6])) hashes up the same way for a claimed size of 7, and so does the
    # consistency proof 1 -> 6. A tree size must therefore be taken from signed data (the block header),
    # never from the proof request.
    hashes = CT_HASHES[:6]
    root6 = bytes.fromhex(CT_ROOTS[5])
    path = merkle.compute_inclusion_proof(hashes, 0)
    assert merkle.verify_inclusion(hashes[0], 0, 6, path, root6)
    assert merkle.verify_inclusion(hashes[0], 0, 7, path, root6)
    proof = merkle.compute_consistency_proof(hashes, 1)
    assert merkle.verify_consistency(1, 7, bytes.fromhex(CT_ROOTS[0]), root6, proof)


def test_ten_thousand_leaf_root_is_fast() -> None:
    leaves = [i.to_bytes(4, "big") * 8 for i in range(10_000)]
    merkle.compute_root(leaves)  # warm up
    start = time.perf_counter()
    merkle.compute_root(leaves)
    elapsed = time.perf_counter() - start
    # About 20,000 SHA-256 calls; a few ms on a fast machine, generous bound for slow CI.
    assert elapsed < 0.25
