"""State snapshots: the chunk partition, the manifest's combine rule, and every way a chunk or manifest can lie."""

from __future__ import annotations

import dataclasses

import pytest

from chainnode import codec
from chainnode.errors import InvalidInput
from chainnode.snapshot import (
    ChunkEntry,
    InvalidSnapshot,
    Manifest,
    compute_manifest,
    compute_manifest_root,
    decode_chunk_page,
    decode_manifest,
    estimate_bits,
    is_in_chunk,
    read_chunk_page,
    validate_manifest,
    verify_chunk,
)
from chainnode.state import compute_state_update
from chainnode.state_tree import (
    EMPTY_HASH,
    StateTree,
    compute_joined_tree,
    compute_key_hash,
    compute_ref_hash,
)
from chainnode.sync_server import validate_blocks_request, validate_chunk_request, validate_manifest_request


class Memory:
    """A state tree of one height in memory, with its history, as a serving node reads it."""

    def __init__(self, state: dict[bytes, bytes], height: int = 7) -> None:
        self.nodes: dict[bytes, bytes] = {}
        update = compute_state_update(StateTree(height - 1, b"\x00"), dict(state), self.nodes.__getitem__)
        self.nodes.update(update.nodes)
        self.tree = update.tree
        self.height = height
        self.by_hash = {compute_key_hash(k): (k, v) for k, v in state.items()}

    def history_pair(self, key_hash: bytes) -> tuple[bytes, bytes | None] | None:
        return self.by_hash.get(key_hash)

    def manifest(self, bits: int) -> Manifest:
        return compute_manifest(self.tree, self.height, bits, self.nodes.__getitem__)

    def chunk(self, bits: int, index: int, max_bytes: int = 1 << 22) -> list[tuple[bytes, bytes]]:
        pairs: list[tuple[bytes, bytes]] = []
        cursor = None
        while True:
            page = read_chunk_page(self.tree, self.height, bits, index, cursor, load_node=self.nodes.__getitem__,
                                   history_pair=self.history_pair, max_bytes=max_bytes)
            page = decode_chunk_page(page.encode())
            pairs.extend(page.pairs)
            if page.next_cursor is None:
                return pairs
            cursor = page.next_cursor


def state_of(n: int) -> dict[bytes, bytes]:
    return {f"key-{i}".encode(): f"value-{i}".encode() * (1 + i % 3) for i in range(n)}


@pytest.mark.parametrize(("n", "bits"), [(0, 0), (0, 3), (1, 0), (1, 4), (2, 5), (300, 0), (300, 4), (300, 8)])
def test_chunks_rebuild_the_tree_of_the_height(n: int, bits: int) -> None:
    memory = Memory(state_of(n))
    manifest = decode_manifest(memory.manifest(bits).encode())
    validate_manifest(manifest, height=7, state_root=memory.tree.root())
    refs, seen = [], 0
    for index in range(1 << bits):
        pairs = memory.chunk(bits, index, max_bytes=200)  # many pages per chunk
        chunk = verify_chunk(manifest, index, pairs)
        refs.append(chunk.ref)
        seen += len(pairs)
        for node_key, value in chunk.nodes.items():
            assert memory.nodes[node_key] == value  # the same nodes, under the same version
    root, top = compute_joined_tree(refs, bits, 7)
    assert compute_ref_hash(root) == memory.tree.root() and root == memory.tree.ref
    assert all(memory.nodes[k] == v for k, v in top.items())
    assert seen == n


def test_estimated_bits_aim_at_a_few_thousand_keys_a_chunk() -> None:
    memory = Memory(state_of(40_000))
    assert 2 <= estimate_bits(memory.tree, memory.nodes.__getitem__) <= 5
    assert estimate_bits(Memory(state_of(10)).tree, Memory(state_of(10)).nodes.__getitem__) == 0


@pytest.fixture(scope="module")
def served() -> tuple[Memory, Manifest, list[tuple[bytes, bytes]], int]:
    memory = Memory(state_of(400))
    manifest = memory.manifest(3)
    index = max(range(8), key=lambda i: manifest.chunks[i].count)
    return memory, manifest, memory.chunk(3, index), index


def test_a_flipped_byte_is_refused(served: tuple[Memory, Manifest, list[tuple[bytes, bytes]], int]) -> None:
    _, manifest, pairs, index = served
    key, value = pairs[5]
    bad = [*pairs[:5], (key, value[:-1] + bytes([value[-1] ^ 1])), *pairs[6:]]
    with pytest.raises(InvalidSnapshot, match="does not rebuild"):
        verify_chunk(manifest, index, bad)


def test_a_missing_key_is_refused(served: tuple[Memory, Manifest, list[tuple[bytes, bytes]], int]) -> None:
    _, manifest, pairs, index = served
    with pytest.raises(InvalidSnapshot, match="does not rebuild"):
        verify_chunk(manifest, index, pairs[:3] + pairs[4:])


def test_an_extra_key_is_refused(served: tuple[Memory, Manifest, list[tuple[bytes, bytes]], int]) -> None:
    _, manifest, pairs, index = served
    extra = next(k for i in range(10_000) if is_in_chunk(compute_key_hash(k := f"extra-{i}".encode()), 3, index))
    bad = sorted([*pairs, (extra, b"x")], key=lambda p: compute_key_hash(p[0]))
    with pytest.raises(InvalidSnapshot, match="does not rebuild"):
        verify_chunk(manifest, index, bad)


def test_a_key_of_another_chunk_is_refused(served: tuple[Memory, Manifest, list[tuple[bytes, bytes]], int]) -> None:
    memory, manifest, pairs, index = served
    other = memory.chunk(3, (index + 1) % 8)[0]
    with pytest.raises(InvalidSnapshot, match="another chunk"):
        verify_chunk(manifest, index, sorted([*pairs, other], key=lambda p: compute_key_hash(p[0])))


def test_unsorted_or_repeated_keys_are_refused(served: tuple[Memory, Manifest, list[tuple[bytes, bytes]], int]) -> None:
    _, manifest, pairs, index = served
    with pytest.raises(InvalidSnapshot, match="strictly increasing"):
        verify_chunk(manifest, index, [pairs[1], pairs[0], *pairs[2:]])
    with pytest.raises(InvalidSnapshot, match="strictly increasing"):
        verify_chunk(manifest, index, [pairs[0], *pairs])


def test_a_lying_manifest_is_refused(served: tuple[Memory, Manifest, list[tuple[bytes, bytes]], int]) -> None:
    memory, manifest, _, index = served
    root = memory.tree.root()
    changed = list(manifest.chunks)
    changed[index] = ChunkEntry(changed[index].count, bytes(32))
    with pytest.raises(InvalidSnapshot, match="do not combine"):
        validate_manifest(dataclasses.replace(manifest, chunks=tuple(changed)), height=7, state_root=root)
    with pytest.raises(InvalidSnapshot, match="state root"):
        validate_manifest(manifest, height=7, state_root=bytes(32))
    with pytest.raises(InvalidSnapshot, match="height"):
        validate_manifest(manifest, height=8, state_root=root)
    assert compute_manifest_root(Memory({}).manifest(2)) == EMPTY_HASH


def test_a_lone_leaf_moved_to_its_sibling_chunk_is_refused() -> None:
    """EMPTY beside a leaf combines to the same root whichever side the leaf is on: the leaf's key hash in
    the manifest pins its chunk, so the swap is refused by the decoder."""
    memory = Memory(state_of(1))
    manifest = memory.manifest(1)
    swapped = Manifest(7, manifest.state_root, 1, tuple(reversed(manifest.chunks)))
    assert compute_manifest_root(swapped) == memory.tree.root()
    with pytest.raises(InvalidSnapshot, match="outside the chunk"):
        decode_manifest(swapped.encode())


@pytest.mark.parametrize("fields", [
    [7, b"\x00" * 32, 17, []],
    [7, b"\x00" * 32, 1, [[0, b""]]],
    [7, b"\x00" * 31, 0, [[0, b""]]],
    [0, b"\x00" * 32, 0, [[0, b""]]],
    [7, b"\x00" * 32, 0, [[2, b"\x00" * 64]]],
    [7, b"\x00" * 32, 0, [[1, b"\x00" * 32]]],
    [7, b"\x00" * 32, 0, [[-1, b""]]],
    [7, b"\x00" * 32, 0, [[3, b"\x00" * 32]]],
    [7, b"\x00" * 32, 0, [[0, b"", 3]]],
    [7, b"\x00" * 32, 0, [["0", b""]]],
])
def test_hostile_manifests_are_refused(fields: list[object]) -> None:
    with pytest.raises(InvalidInput):
        decode_manifest(codec.encode_object(50, 1, fields))


@pytest.mark.parametrize("fields", [
    [7, 17, 0, [], None],
    [7, 2, 4, [], None],
    [7, 2, 1, [[b"k"]], None],
    [7, 2, 1, [], b"\x00" * 32],
    [7, 2, 1, [[b"k", b"v"]], b"\x00" * 31],
    [7, 2, 1, [[b"k", "v"]], None],
])
def test_hostile_chunk_pages_are_refused(fields: list[object]) -> None:
    with pytest.raises(InvalidInput):
        decode_chunk_page(codec.encode_object(51, 1, fields))


@pytest.mark.parametrize("request_", [[], [1], [0, 5], [1, 0], [2**63, 1], [1, 2**21], ["1", 1], [1, 2, 3], {"a": 1}])
def test_hostile_block_requests_are_refused(request_: object) -> None:
    with pytest.raises(InvalidInput):
        validate_blocks_request(codec.encode(request_))


@pytest.mark.parametrize("request_", [[], [-1], [2**63], [b"1"], [1, 2]])
def test_hostile_manifest_requests_are_refused(request_: object) -> None:
    with pytest.raises(InvalidInput):
        validate_manifest_request(codec.encode(request_))


@pytest.mark.parametrize("request_", [[1, 17, 0, None], [1, 2, 4, None], [0, 2, 1, None], [1, 2, 1, b"x"],
                                      [1, 2, 1], [1, -1, 0, None], [1, 0, 0, "cursor"]])
def test_hostile_chunk_requests_are_refused(request_: object) -> None:
    with pytest.raises(InvalidInput):
        validate_chunk_request(codec.encode(request_))
    assert validate_chunk_request(codec.encode([1, 2, 3, None])) == (1, 2, 3, None)
