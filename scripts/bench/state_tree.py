"""Benchmark: one block's state update into a sparse Merkle state tree holding 1M keys.

Builds the tree of `--keys` random keys once, then for each block size (default 1,000, 2,000 and 3,000
changed keys: a new value for existing keys) times `compute_state_update` on fresh random keys, RUNS
times, and prints the median. The nodes are read from an in-memory dict and, with `--leveldb`, from a
real `Store` in a temporary directory (the genesis batch writes the 1M keys, their history and the
tree; its node cache is warmed by WARM_UP untimed blocks, then each run reads new paths). As the floor it
prints the rate of plain hashlib SHA-256 over node-hash-sized inputs (88 bytes) measured in the same run.

Usage: .venv/bin/python scripts/bench/state_tree.py [--keys 1000000] [--sizes 1000,2000,3000] [--leveldb]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from chainnode.state import compute_state_update
from chainnode.state_tree import StateTree, compute_path, compute_state_proof
from chainnode.store import Store

RUNS = 5
WARM_UP = 5


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def sha256_floor(n: int, rng: random.Random) -> float:
    """Return plain hashlib SHA-256 digests per second of 88-byte inputs (median of RUNS)."""
    inputs = [rng.randbytes(88) for _ in range(n)]
    sha256 = hashlib.sha256

    def run() -> None:
        for data in inputs:
            sha256(data).digest()

    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return n / statistics.median(times)


def time_blocks(
    label: str, tree: StateTree, keys: list[bytes], load: Callable[[bytes], bytes], size: int, rng: random.Random,
    floor: float, store: Store | None = None,
) -> float:
    """Time RUNS updates of `size` random existing keys on `tree`; print and return the median."""
    times, written, hashed, reads = [], [], [], []
    for _ in range(RUNS):
        changes: dict[bytes, bytes | None] = {key: rng.randbytes(8) for key in rng.sample(keys, size)}
        before = 0 if store is None else store.node_reads
        start = time.perf_counter()
        update = compute_state_update(tree, changes, load)
        times.append(time.perf_counter() - start)
        reads.append((0 if store is None else store.node_reads) - before)
        written.append(len(update.nodes))
        hashed.append(update.hashed)
    median = statistics.median(times)
    print(f"{label}: {size:,} changed keys, median of {RUNS}: {ms(median)} "
          f"({size / median:,.0f} key updates/s; {statistics.median(written):,.0f} nodes written, "
          f"{statistics.median(hashed):,.0f} hashes = {ms(statistics.median(hashed) / floor)} at the floor; "
          f"runs: {', '.join(f'{t * 1e3:.1f}' for t in times)} ms)"
          + (f"; {statistics.median(reads):,.0f} nodes read from LevelDB" if store is not None else ""))
    return median


def time_proofs(store: Store, keys: list[bytes], rng: random.Random) -> None:
    """Time what Node.state_bundle does for the state part: the root of a height, the value from the
    history, and one node read per level (present keys and absent ones)."""
    sample = rng.sample(keys, 1_000) + [b"absent/" + rng.randbytes(8) for _ in range(1_000)]
    start = time.perf_counter()
    for key in sample:
        compute_state_proof(store.root_at(0), key, store.value_at(key, 0), store.load_node)
    per = (time.perf_counter() - start) / len(sample)
    print(f"leveldb: state proof at height 0 (root, value history, path), 2,000 keys: {per * 1e6:.0f} µs each")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--sizes", default="1000,2000,3000")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--leveldb", action="store_true", help="also time reads from a LevelDB store")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    sizes = [int(s) for s in args.sizes.split(",")]

    keys = [b"anchor/" + rng.randbytes(16) for _ in range(args.keys)]
    start = time.perf_counter()
    no_nodes: dict[bytes, bytes] = {}
    genesis = compute_state_update(StateTree.empty(), dict.fromkeys(keys, b"v"), no_nodes.__getitem__)
    built = time.perf_counter() - start
    nodes = genesis.nodes
    depths = [len(compute_path(genesis.tree, genesis.key_hashes[k], nodes.__getitem__)[1]) for k in keys[:2000]]
    proof = compute_state_proof(genesis.tree, keys[0], b"v", nodes.__getitem__).encode()
    print(f"state: {args.keys:,} keys, {len(nodes):,} internal nodes, built in {built:.1f} s; "
          f"leaf depth mean {statistics.mean(depths):.1f}, max {max(depths)} (2,000 keys); "
          f"one state proof {len(proof)} bytes")
    floor = sha256_floor(200_000, rng)
    for size in sizes:
        time_blocks("memory ", genesis.tree, keys, nodes.__getitem__, size, rng, floor)
    if args.leveldb:
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(Path(tmp) / "data")
            start = time.perf_counter()
            store.initialise(b"\x00" * 32, dict.fromkeys(keys, b"v"), genesis, b"")
            print(f"leveldb: genesis batch of {args.keys:,} keys written in {time.perf_counter() - start:.1f} s")
            tree = store.load_tree()
            for _ in range(WARM_UP):  # a running node's cache holds the nodes recent blocks read and wrote
                compute_state_update(tree, {key: b"w" for key in rng.sample(keys, sizes[0])}, store.load_node)
            for size in sizes:
                time_blocks("leveldb", tree, keys, store.load_node, size, rng, floor, store)
            time_proofs(store, keys, rng)
            store.close()
    print(f"floor: hashlib SHA-256 of 88-byte inputs, median of {RUNS}: {floor:,.0f} hashes/s")


if __name__ == "__main__":
    main()
