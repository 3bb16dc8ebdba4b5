"""The sparse Merkle state tree and state proofs (chainnode.state_tree, chainnode.state)."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import random
from collections.abc import Mapping

import pytest

from chainnode import codec
from chainnode.errors import (
    InputTooLarge,
    InvalidField,
    InvalidProof,
    InvariantViolation,
    TrailingBytes,
    UnknownTag,
    UnsupportedVersion,
)
from chainnode.state import compute_state_update
from chainnode.state_tree import (
    EMPTY_HASH,
    KEY_BITS,
    TAG_STATE_PROOF,
    StateProof,
    StateTree,
    compute_key_hash,
    compute_leaf_hash,
    compute_node_hash,
    compute_node_key,
    compute_path,
    compute_state_proof,
    compute_tree_update,
    compute_value_hash,
    is_valid_state_proof,
    verify_state_proof,
)
from tests.state_reference import bit, reference_root


class Nodes(dict[bytes, bytes]):
    """An in-memory node store that keeps every version, as the LevelDB store does."""

    def apply(self, tree: StateTree, changes: Mapping[bytes, bytes | None]) -> StateTree:
        update = compute_tree_update(tree, changes, self.__getitem__)
        assert not set(update.nodes) & set(self)  # a version never overwrites a stored node
        self.update(update.nodes)
        return update.tree


def hashes_of(state: Mapping[bytes, bytes]) -> dict[bytes, bytes]:
    return {compute_key_hash(k): compute_value_hash(v) for k, v in state.items()}


def build(state: Mapping[bytes, bytes]) -> tuple[StateTree, Nodes]:
    nodes = Nodes()
    return nodes.apply(StateTree.empty(), hashes_of(state)), nodes


STATE = {f"key-{i}".encode(): f"value-{i}".encode() for i in range(300)}


@pytest.fixture(scope="module")
def state() -> tuple[StateTree, Nodes]:
    return build(STATE)


# --- hashes and shape ---------------------------------------------------------------------------------------


def test_hashes_use_their_domains() -> None:
    kh, vh = compute_key_hash(b"k"), compute_value_hash(b"v")
    assert kh == hashlib.sha256(b"chainnode/v1/state-key\x00k").digest()
    assert vh == hashlib.sha256(b"chainnode/v1/state-value\x00v").digest()
    assert compute_leaf_hash(kh, vh) == hashlib.sha256(b"chainnode/v1/state-leaf\x00" + kh + vh).digest()
    assert compute_node_hash(kh, vh) == hashlib.sha256(b"chainnode/v1/state-node\x00" + kh + vh).digest()


def test_small_trees_have_the_documented_roots() -> None:
    assert StateTree.empty().root() == EMPTY_HASH == bytes(32)
    a, b = bytes([0x00]) + bytes(31), bytes([0x80]) + bytes(31)  # differ in the first bit
    assert Nodes().apply(StateTree.empty(), {a: b"A" * 32}).root() == compute_leaf_hash(a, b"A" * 32)
    two = Nodes().apply(StateTree.empty(), {a: b"A" * 32, b: b"B" * 32})
    assert two.root() == compute_node_hash(compute_leaf_hash(a, b"A" * 32), compute_leaf_hash(b, b"B" * 32))
    c = bytes([0x20]) + bytes(31)  # shares "0" with a, then "01" vs "00": a chain of two nodes under the root
    three = Nodes().apply(StateTree.empty(), {a: b"A" * 32, b: b"B" * 32, c: b"C" * 32})
    lower = compute_node_hash(compute_leaf_hash(a, b"A" * 32), compute_leaf_hash(c, b"C" * 32))
    assert three.root() == compute_node_hash(compute_node_hash(lower, EMPTY_HASH), compute_leaf_hash(b, b"B" * 32))


def test_node_keys_are_version_depth_and_left_aligned_path() -> None:
    assert compute_node_key(5, 0, 0) == (5).to_bytes(8, "big") + b"\x00"
    assert compute_node_key(5, 3, 0b101) == (5).to_bytes(8, "big") + b"\x03\xa0"
    assert compute_node_key(1, 9, 0b1_0000_0001) == (1).to_bytes(8, "big") + b"\x09\x80\x80"


def test_the_root_matches_the_reference_and_deletes_restore_it(state: tuple[StateTree, Nodes]) -> None:
    tree, nodes = state
    assert tree.version == 0 and tree.root() == reference_root(hashes_of(STATE))
    extra = {b"extra-1": b"x", b"extra-2": b"y"}
    grown = nodes.apply(tree, hashes_of(extra))
    assert grown.version == 1 and grown.root() == reference_root(hashes_of({**STATE, **extra}))
    shrunk = nodes.apply(grown, dict.fromkeys(hashes_of(extra)))
    assert shrunk.root() == tree.root()
    emptied = nodes.apply(shrunk, dict.fromkeys(hashes_of(STATE)))
    assert emptied.root() == EMPTY_HASH


def test_an_unchanged_batch_writes_nothing(state: tuple[StateTree, Nodes]) -> None:
    tree, nodes = state
    same = dict(itertools.islice(hashes_of(STATE).items(), 10))
    absent = dict.fromkeys(hashes_of({b"never": b""}))
    update = compute_tree_update(tree, {**same, **absent}, nodes.__getitem__)
    assert update.tree.root() == tree.root() and update.nodes == {} and update.stale == ()


def test_the_update_rehashes_each_touched_node_once(state: tuple[StateTree, Nodes]) -> None:
    tree, nodes = state
    changes = {kh: b"\x01" * 32 for kh in itertools.islice(hashes_of(STATE), 50)}
    update = compute_tree_update(tree, changes, nodes.__getitem__)
    assert update.hashed == len(update.nodes) + len(changes)  # one hash per new node and per new leaf
    assert len(update.nodes) < 50 * 12  # far below 256 hashes per write


def test_the_update_refuses_malformed_hashes(state: tuple[StateTree, Nodes]) -> None:
    tree, nodes = state
    with pytest.raises(InvalidField):
        compute_tree_update(tree, {b"short": None}, nodes.__getitem__)
    with pytest.raises(InvalidField):
        compute_tree_update(tree, {bytes(32): b"short"}, nodes.__getitem__)


def test_a_damaged_node_is_an_invariant_violation(state: tuple[StateTree, Nodes]) -> None:
    tree, nodes = state
    for damage in (lambda v: v[:-1], lambda v: v[:41], lambda v: b"\x07" + v[1:], lambda v: b""):
        damaged = {key: damage(value) for key, value in nodes.items()}
        with pytest.raises(InvariantViolation):
            compute_state_proof(tree, b"key-1", STATE[b"key-1"], damaged.__getitem__)
        with pytest.raises(InvariantViolation):  # one change walks its path alone
            compute_tree_update(tree, {compute_key_hash(b"key-1"): bytes(32)}, damaged.__getitem__)
        with pytest.raises(InvariantViolation):  # many changes split at each node
            compute_tree_update(tree, dict.fromkeys(hashes_of(STATE), bytes(32)), damaged.__getitem__)


# --- versions -----------------------------------------------------------------------------------------------


def test_every_past_version_is_read_and_proven_from_stored_nodes() -> None:
    rng = random.Random(7)
    nodes, tree, current = Nodes(), StateTree.empty(), {}
    history: list[tuple[StateTree, dict[bytes, bytes]]] = []
    for _ in range(12):
        writes: dict[bytes, bytes | None] = {f"k{rng.randrange(80)}".encode(): rng.randbytes(4) for _ in range(15)}
        for key in rng.sample(sorted(current), min(5, len(current))):
            writes[key] = None
        update = compute_state_update(tree, writes, nodes.__getitem__)
        nodes.update(update.nodes)
        tree = update.tree
        current = {k: v for k, v in {**current, **writes}.items() if v is not None}
        history.append((tree, dict(current)))
    for version, (old, values) in enumerate(history):
        assert old.version == version and old.root() == reference_root(hashes_of(values))
        for key in (b"k1", b"k2", b"k40", b"nope"):
            proof = compute_state_proof(old, key, values.get(key), nodes.__getitem__)
            verify_state_proof(old.root(), proof)


# --- proofs -------------------------------------------------------------------------------------------------


def test_presence_and_absence_proofs_verify(state: tuple[StateTree, Nodes]) -> None:
    tree, nodes = state
    for key in (b"key-0", b"key-299"):
        proof = compute_state_proof(tree, key, STATE[key], nodes.__getitem__)
        verify_state_proof(tree.root(), proof)
        assert proof.leaf == compute_key_hash(key) + compute_value_hash(STATE[key])
    kinds = set()
    for i in range(40):
        proof = compute_state_proof(tree, f"absent-{i}".encode(), None, nodes.__getitem__)
        verify_state_proof(tree.root(), proof)
        kinds.add(proof.leaf is None)
    assert kinds == {True, False}  # both an empty place and another key's leaf prove absence


def test_the_proof_needs_the_tree_value(state: tuple[StateTree, Nodes]) -> None:
    tree, nodes = state
    with pytest.raises(InvariantViolation):
        compute_state_proof(tree, b"key-1", b"another value", nodes.__getitem__)
    with pytest.raises(InvariantViolation):
        compute_state_proof(tree, b"key-1", None, nodes.__getitem__)
    with pytest.raises(InvariantViolation):
        compute_state_proof(tree, b"absent", b"x", nodes.__getitem__)


def assert_rejected(root: bytes, proof: StateProof, words: str) -> None:
    with pytest.raises(InvalidProof) as caught:
        verify_state_proof(root, proof)
    assert words in caught.value.message
    assert not is_valid_state_proof(root, proof)


def test_tampered_presence_proofs_fail(state: tuple[StateTree, Nodes]) -> None:
    tree, nodes = state
    root = tree.root()
    proof = compute_state_proof(tree, b"key-7", STATE[b"key-7"], nodes.__getitem__)
    assert_rejected(root, dataclasses.replace(proof, value=b"forged"), "value does not match")
    assert_rejected(root, dataclasses.replace(proof, value=None), "claimed absent")
    assert_rejected(root, dataclasses.replace(proof, key=b"key-8"), "another key's")
    flipped = bytes([proof.siblings[0][0] ^ 1]) + proof.siblings[0][1:]
    assert_rejected(root, dataclasses.replace(proof, siblings=(flipped, *proof.siblings[1:])), "does not lead")
    assert_rejected(root, dataclasses.replace(proof, siblings=proof.siblings[1:]), "does not lead")
    assert_rejected(root, dataclasses.replace(proof, siblings=(EMPTY_HASH, *proof.siblings)), "does not lead")
    assert_rejected(root[:31], proof, "32 bytes")
    assert_rejected(bytes(32), proof, "does not lead")
    assert_rejected(root, dataclasses.replace(proof, siblings=(b"x" * 31,)), "siblings")
    assert_rejected(root, dataclasses.replace(proof, leaf=proof.leaf[:63] if proof.leaf else None), "64 bytes")


def test_tampered_absence_proofs_fail(state: tuple[StateTree, Nodes]) -> None:
    tree, nodes = state
    root = tree.root()
    present = compute_state_proof(tree, b"key-3", STATE[b"key-3"], nodes.__getitem__)
    # Claiming key-3 absent with an empty place instead of its leaf fails.
    assert_rejected(root, dataclasses.replace(present, value=None, leaf=None), "does not lead")
    # Another key's leaf proves nothing about a key off that leaf's path.
    absent = next(
        p
        for i in range(100)
        if (p := compute_state_proof(tree, f"absent-{i}".encode(), None, nodes.__getitem__)).leaf is not None
    )
    stranger = next(k for k in STATE if bit(compute_key_hash(k), 0) != bit(compute_key_hash(absent.key), 0))
    assert_rejected(root, dataclasses.replace(absent, key=stranger), "not on the key's path")  # a present key
    moved = dataclasses.replace(absent, key=next(
        f"x{i}".encode() for i in range(1000)
        if bit(compute_key_hash(f"x{i}".encode()), 0) != bit(compute_key_hash(absent.key), 0)
    ))
    assert_rejected(root, moved, "not on the key's path")
    assert_rejected(root, dataclasses.replace(absent, value=b"x"), "another key's")


# --- encoding -----------------------------------------------------------------------------------------------


def test_proofs_round_trip_through_their_encoding(state: tuple[StateTree, Nodes]) -> None:
    tree, nodes = state
    for key in (b"key-1", b"absent-1", b"absent-2"):
        proof = compute_state_proof(tree, key, STATE.get(key), nodes.__getitem__)
        data = proof.encode()
        assert data[:3] == bytes([0x96, TAG_STATE_PROOF, 2])
        assert StateProof.decode(data) == proof


def _encode(fields: list[codec.Value], *, tag: int = TAG_STATE_PROOF, version: int = 2) -> bytes:
    return codec.encode([tag, version, *fields])


def test_decode_refuses_malformed_proofs() -> None:
    good: list[codec.Value] = [b"k", None, bytes(64), [bytes(32)] * 3]
    assert StateProof.decode(_encode(good)).siblings == (bytes(32),) * 3
    for index, bad in [
        (0, "k"),
        (1, 5),
        (2, bytes(63)),
        (2, bytes(65)),
        (3, [bytes(31)]),
        (3, [bytes(32)] * (KEY_BITS + 1)),
        (3, bytes(32)),
    ]:
        fields = list(good)
        fields[index] = bad
        with pytest.raises(InvalidField):
            StateProof.decode(_encode(fields))
    with pytest.raises(UnknownTag):
        StateProof.decode(_encode(good, tag=8))
    with pytest.raises(UnsupportedVersion):
        StateProof.decode(_encode(good, version=1))  # the bucket proof of chainnode-store/2
    with pytest.raises(TrailingBytes):
        StateProof.decode(_encode(good) + b"\x00")
    with pytest.raises(InputTooLarge):
        StateProof.decode(_encode(good), max_size=10)


# --- grinding -----------------------------------------------------------------------------------------------


def ground_key_hashes(prefix_bits: int, count: int, rng: random.Random) -> list[bytes]:
    """Key hashes a grinder would find: all share their first `prefix_bits` bits (0xA5A5A5...)."""
    top = int.from_bytes(b"\xa5" * 32, "big") >> (KEY_BITS - prefix_bits) << (KEY_BITS - prefix_bits)
    return [(top | rng.getrandbits(KEY_BITS - prefix_bits)).to_bytes(32, "big") for _ in range(count)]


def test_grinding_keys_into_one_prefix_does_not_grow_honest_proofs_or_updates() -> None:
    """The bucket tree put ground keys in one bucket: proofs of all its keys carried all N entries (64 N
    bytes, past 1 MiB at 16k keys) and each write to it rebuilt the whole bucket. Here honest proofs and
    update costs do not change with N, and a ground key's own proof grows by O(prefix + log N) only."""
    rng = random.Random(3)
    honest = {rng.randbytes(32): rng.randbytes(32) for _ in range(2_000)}
    probe = next(iter(honest))
    seen: list[tuple[int, int, int]] = []
    for n_ground in (256, 4_096):
        nodes = Nodes()
        tree = nodes.apply(StateTree.empty(), honest)
        ground = dict.fromkeys(ground_key_hashes(24, n_ground, rng), b"\x01" * 32)
        update = compute_tree_update(tree, ground, nodes.__getitem__)
        nodes.update(update.nodes)
        tree = update.tree
        assert len(update.nodes) <= n_ground * 2 + 24  # the ground keys' own subtree, not 256 per key
        honest_proof = compute_tree_proof(tree, probe, honest[probe], nodes)
        write = compute_tree_update(tree, {probe: b"\x02" * 32}, nodes.__getitem__)
        seen.append((len(honest_proof.siblings), len(write.nodes), write.hashed))
        ground_proof = compute_tree_proof(tree, next(iter(ground)), b"\x01" * 32, nodes)
        assert len(ground_proof.siblings) <= 24 + 2 * n_ground.bit_length() + 8
        assert len(ground_proof.encode()) < 4_096
    assert seen[0] == seen[1]  # an honest key's proof and write cost are the same for 256 and 4,096 ground keys
    assert seen[0][0] <= 2 * 2_000 .bit_length() + 4


def compute_tree_proof(tree: StateTree, key_hash: bytes, value_hash: bytes, nodes: Nodes) -> StateProof:
    """A proof for a chosen key hash (no key has it), as compute_state_proof builds one."""
    leaf, siblings = compute_path(tree, key_hash, nodes.__getitem__)
    assert leaf == key_hash + value_hash
    return StateProof(key=b"", value=None, leaf=leaf, siblings=siblings)


def test_real_keys_ground_to_one_16_bit_prefix_cost_their_own_proofs_only() -> None:
    """Keys found by trying ~65,536 candidates each share 16 bits: their proofs grow by about 16 hashes,
    the proof of a key elsewhere does not."""
    target = compute_key_hash(b"anchor/target")[:2]
    ground = [b"anchor/target"]
    for i in itertools.count():
        key = f"anchor/ground-{i}".encode()
        if compute_key_hash(key)[:2] == target:
            ground.append(key)
            if len(ground) == 3:
                break
    honest = {f"honest-{i}".encode(): b"v" for i in range(500)}
    before, nodes_before = build(honest)
    after, nodes_after = build({**honest, **dict.fromkeys(ground, b"g")})
    depths = [
        len(compute_state_proof(after, key, b"g", nodes_after.__getitem__).siblings) for key in ground
    ]
    assert all(16 <= depth <= 24 for depth in depths)
    for key in itertools.islice(honest, 50):
        if compute_key_hash(key)[:1] == target[:1]:
            continue
        old = compute_state_proof(before, key, b"v", nodes_before.__getitem__)
        new = compute_state_proof(after, key, b"v", nodes_after.__getitem__)
        assert len(new.siblings) <= len(old.siblings) + 1


# --- golden vector ------------------------------------------------------------------------------------------


def test_golden_vector_of_a_three_key_state() -> None:
    """The worked example of docs/state.md."""
    nodes = Nodes()
    update = compute_state_update(StateTree.empty(), {b"alice": b"1", b"bob": b"2", b"carol": b"3"}, nodes.__getitem__)
    nodes.update(update.nodes)
    assert update.root.hex() == "aad650269a35c84cad0302a2b8578eb118de3a70b4e0c7bc89d7d3c2d0c8a09e"
    proof = compute_state_proof(update.tree, b"alice", b"1", nodes.__getitem__)
    assert proof.encode().hex() == (
        "960702c405616c696365c40131c4409d7d75312f55e67e9738639c7747033003aded4ed910aaf9c611eebd7083fba32dea44ce7a"
        "a86127c277323d7f372f35608fd93d39ad9e0115e36462c9ee941c92c4201548c5595e63124d9147fa54d9ecd15fa5a7405c796e"
        "25509b928d21f83efab6c420a1ecf29dd153b09814eaf48e4194cdfab2663b6d08c1099c015bf11a7448a20a"
    )
    absent = compute_state_proof(update.tree, b"dave", None, nodes.__getitem__)
    assert absent.leaf == proof.leaf and absent.siblings == proof.siblings  # dave's path ends at alice's leaf
    verify_state_proof(update.root, absent)


def test_keys_differing_only_in_the_last_bit_sit_at_depth_256() -> None:
    """The deepest possible tree: 255 one-sided nodes, then the two leaves; deleting one collapses it."""
    a, b = bytes(32), bytes(31) + b"\x01"
    nodes = Nodes()
    tree = nodes.apply(StateTree.empty(), {a: b"A" * 32, b: b"B" * 32})
    assert tree.root() == reference_root({a: b"A" * 32, b: b"B" * 32}) and len(nodes) == 256
    leaf, siblings = compute_path(tree, b, nodes.__getitem__)
    assert leaf == b + b"B" * 32 and len(siblings) == KEY_BITS
    proof = StateProof(key=b"", value=None, leaf=leaf, siblings=siblings)
    assert StateProof.decode(proof.encode()) == proof and len(proof.encode()) < 9_000
    assert nodes.apply(tree, {b: None}).root() == compute_leaf_hash(a, b"A" * 32)
