"""RFC 9162 (Certificate Transparency v2) Merkle trees: tree heads, inclusion and consistency proofs.

The tree is exactly RFC 9162 section 2.1: a leaf hash is SHA-256(0x00 || data), an interior node hash is
SHA-256(0x01 || left || right), the hash of the empty list is SHA-256(""), and a list of n > 1 items is
split at k, the largest power of two smaller than n.

Theory of operation: instead of the RFC's recursive split we build the tree bottom-up, level by level,
hashing neighbours in pairs and carrying an unpaired last node up unchanged. Node i of level h then
commits exactly the leaves [i * 2**h, min((i + 1) * 2**h, n)), and every subtree the RFC recursion names
is one such node, so the root, PATH and PROOF come out identical while costing n - 1 hashes and no
recursion. The property tests check this against the RFC's recursive definitions.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import Final

from chainnode.crypto import HASH_SIZE, sha256
from chainnode.errors import InvalidField

LEAF_PREFIX: Final = b"\x00"
NODE_PREFIX: Final = b"\x01"
EMPTY_ROOT: Final = sha256(b"")
"""MTH({}) = SHA-256(""), e3b0c442...b855."""


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 9162 leaf hash SHA-256(0x00 || data)."""
    return sha256(LEAF_PREFIX + data)


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 9162 interior node hash SHA-256(0x01 || left || right)."""
    return sha256(NODE_PREFIX + left + right)


def compute_split(n: int) -> int:
    """Return k, the largest power of two smaller than `n` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _next_level(level: Sequence[bytes]) -> list[bytes]:
    size = len(level)
    parents = [sha256(NODE_PREFIX + level[i] + level[i + 1]) for i in range(0, size - 1, 2)]
    if size & 1:
        parents.append(level[-1])
    return parents


def compute_levels(leaf_hashes: Sequence[bytes]) -> list[list[bytes]]:
    """Return every level of the tree over `leaf_hashes`, leaves first and the root level last.

    An empty input gives a single empty level.
    """
    levels = [list(leaf_hashes)]
    while len(levels[-1]) > 1:
        levels.append(_next_level(levels[-1]))
    return levels


def compute_root_from_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return the Merkle Tree Hash of the leaves whose leaf hashes are `leaf_hashes`."""
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def compute_root(leaves: Sequence[bytes]) -> bytes:
    """Return the Merkle Tree Hash MTH(D[n]) of the leaf data `leaves` (not hashes)."""
    return compute_root_from_hashes([sha256(LEAF_PREFIX + data) for data in leaves])


def _subtree_hash(levels: Sequence[Sequence[bytes]], start: int, end: int) -> bytes:
    """Return MTH(D[start:end]) for a subtree the RFC recursion names (start aligned, end <= n)."""
    height = (end - start - 1).bit_length()
    return levels[height][start >> height]


class MerkleTree:
    """An RFC 9162 tree over a fixed list of leaf hashes, with every level kept for fast proofs.

    Build it once per block to serve many proofs; the module functions build one for a single answer.
    """

    __slots__ = ("_levels", "size")

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        self._levels = compute_levels(leaf_hashes)
        self.size = len(leaf_hashes)

    def root(self) -> bytes:
        """Return the Merkle Tree Hash."""
        return self._levels[-1][0] if self.size else EMPTY_ROOT

    def leaf_hash(self, index: int) -> bytes:
        """Return the leaf hash at `index`.

        Raises InvalidField if `index` is not in [0, size).
        """
        _validate_index(index, self.size)
        return self._levels[0][index]

    def inclusion_proof(self, index: int) -> list[bytes]:
        """Return PATH(index, D[size]) (RFC 9162 section 2.1.3.1), the sibling nearest the leaf first.

        Raises InvalidField if `index` is not in [0, size).
        """
        _validate_index(index, self.size)
        path: list[bytes] = []
        for level in self._levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            index >>= 1
        return path

    def consistency_proof(self, old_size: int) -> list[bytes]:
        """Return PROOF(old_size, D[size]) (RFC 9162 section 2.1.4.1).

        The proof is empty when old_size is 0 or equal to size (nothing to prove).
        Raises InvalidField if `old_size` is not in [0, size].
        """
        if type(old_size) is not int or not 0 <= old_size <= self.size:
            raise InvalidField(f"old_size must be in [0, {self.size}], got {old_size!r}", field="old_size")
        if old_size in (0, self.size):
            return []
        # Walk SUBPROOF's recursion top-down, collecting the node appended at each step, then reverse.
        proof: list[bytes] = []
        start, end, known = 0, self.size, True
        while start + old_size != end:
            k = compute_split(end - start)
            if old_size <= k:
                proof.append(_subtree_hash(self._levels, start + k, end))
                end = start + k
            else:
                proof.append(_subtree_hash(self._levels, start, start + k))
                start, old_size, known = start + k, old_size - k, False
        if not known:
            proof.append(_subtree_hash(self._levels, start, end))
        proof.reverse()
        return proof


def _validate_index(index: int, size: int) -> None:
    if type(index) is not int or not 0 <= index < size:
        raise InvalidField(f"leaf index must be in [0, {size}), got {index!r}", field="index")


def compute_inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """Return the RFC 9162 inclusion proof PATH(index, D[n]) for the leaf at `index`.

    Raises InvalidField if `index` is not in [0, len(leaf_hashes)).
    """
    _validate_index(index, len(leaf_hashes))
    return MerkleTree(leaf_hashes).inclusion_proof(index)


def compute_consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """Return the RFC 9162 consistency proof PROOF(old_size, D[n]) between the first old_size leaves and all.

    Raises InvalidField if `old_size` is not in [0, len(leaf_hashes)].
    """
    return MerkleTree(leaf_hashes).consistency_proof(old_size)


def _is_hash(value: object) -> bool:
    return type(value) is bytes and len(value) == HASH_SIZE


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Return whether `proof` shows the leaf hash at `index` in the tree of `tree_size` with head `root`.

    The algorithm of RFC 9162 section 2.1.3.2, step for step. Any malformed input (index out of range, a
    hash that is not 32 bytes, a proof of the wrong length) gives False; it never raises.
    """
    if not (_is_hash(leaf_hash) and _is_hash(root) and all(_is_hash(p) for p in proof)):
        return False
    if type(index) is not int or type(tree_size) is not int or not 0 <= index < tree_size:
        return False  # step 1
    fn, sn = index, tree_size - 1  # step 2
    r = leaf_hash  # step 3
    for p in proof:  # step 4
        if sn == 0:
            return False  # 4a
        if fn & 1 or fn == sn:  # 4b
            r = sha256(NODE_PREFIX + p + r)
            while not fn & 1 and fn != 0:  # only runs when LSB(fn) is not set
                fn >>= 1
                sn >>= 1
        else:
            r = sha256(NODE_PREFIX + r + p)
        fn >>= 1  # 4c
        sn >>= 1
    return sn == 0 and r == root  # step 5


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Return whether `proof` shows the tree of `new_size` (head `new_root`) extends the one of `old_size`.

    For 0 < old_size < new_size this is the algorithm of RFC 9162 section 2.1.4.2, step for step. The RFC
    leaves the edge cases open; here old_size == new_size verifies iff the proof is empty and the roots
    are equal, and old_size == 0 iff the proof is empty and old_root is the empty-tree hash. Any
    malformed input gives False; it never raises.
    """
    if not (_is_hash(old_root) and _is_hash(new_root) and all(_is_hash(c) for c in proof)):
        return False
    if type(old_size) is not int or type(new_size) is not int or not 0 <= old_size <= new_size:
        return False
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if old_size == new_size:
        return not proof and old_root == new_root
    return _verify_consistency_rfc(old_size, new_size, old_root, new_root, list(proof))


def _verify_consistency_rfc(
    first: int, second: int, first_hash: bytes, second_hash: bytes, path: list[bytes]
) -> bool:
    if not path:
        return False  # step 1
    if first & (first - 1) == 0:
        path.insert(0, first_hash)  # step 2
    fn, sn = first - 1, second - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:
            return False  # 6a
        if fn & 1 or fn == sn:  # 6b
            fr = sha256(NODE_PREFIX + c + fr)
            sr = sha256(NODE_PREFIX + c + sr)
            while not fn & 1 and fn != 0:  # only runs when LSB(fn) is not set
                fn >>= 1
                sn >>= 1
        else:
            sr = sha256(NODE_PREFIX + sr + c)
        fn >>= 1  # 6c
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0  # step 7


def compute_multiproof(leaf_hashes: Sequence[bytes], indices: Sequence[int]) -> list[bytes]:
    """Return the multiproof of the leaves at `indices`: the hashes of the largest subtrees (as the RFC 9162
    split names them) that hold none of those leaves, in depth-first order, left before right.

    With one index it holds the hashes of PATH(index, D[n]), in this order. Raises InvalidField for an index
    outside [0, n) or no index at all.
    """
    chosen = sorted(set(indices))
    if not chosen:
        raise InvalidField("a multiproof names at least one leaf", field="index")
    for index in (chosen[0], chosen[-1]):
        _validate_index(index, len(leaf_hashes))
    levels = compute_levels(leaf_hashes)
    proof: list[bytes] = []

    def walk(lo: int, hi: int, first: int, last: int) -> None:
        # chosen[first:last] are the chosen indexes in [lo, hi)
        if first == last:
            proof.append(_subtree_hash(levels, lo, hi))
            return
        if hi - lo == 1:
            return
        mid = lo + compute_split(hi - lo)
        split = bisect_left(chosen, mid, first, last)
        walk(lo, mid, first, split)
        walk(mid, hi, split, last)

    walk(0, len(leaf_hashes), 0, len(chosen))
    return proof


def compute_multiproof_root(leaves: dict[int, bytes], size: int, proof: Sequence[bytes]) -> bytes | None:
    """Return the root that `proof` and the leaf hashes `leaves` ({index: leaf hash}) give for a tree of
    `size` leaves, or None if they do not fit together (an index out of range, too few or too many hashes).

    The one multiproof of `compute_multiproof` is the only sequence that is consumed exactly.
    """
    chosen = sorted(leaves)
    if not chosen or chosen[0] < 0 or chosen[-1] >= size or not all(_is_hash(p) for p in proof):
        return None
    position = 0

    def walk(lo: int, hi: int, first: int, last: int) -> bytes | None:
        nonlocal position
        if first == last:
            if position >= len(proof):
                return None
            position += 1
            return proof[position - 1]
        if hi - lo == 1:
            return leaves[lo]
        mid = lo + compute_split(hi - lo)
        split = bisect_left(chosen, mid, first, last)
        left = walk(lo, mid, first, split)
        right = None if left is None else walk(mid, hi, split, last)
        return None if right is None else sha256(NODE_PREFIX + left + right)  # type: ignore[operator]

    root = walk(0, size, 0, len(chosen))
    return root if position == len(proof) else None
