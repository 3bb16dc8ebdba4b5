"""Benchmark: apply one block's state updates to a state tree holding 1M keys.

A 1,000-transaction block writing 3 keys each touches about 3,000 buckets. For each of 5 runs this times
computing the new bucket bytes of 3,000 distinct buckets (one key rewritten in each), their leaf hashes,
the re-hash of the touched paths and the new root, on a fresh copy of the 1M-key tree. It prints the
median, the updates per second, and as a floor the rate of plain hashlib SHA-256 over 64-byte inputs on
the same machine in the same run.

Usage: .venv/bin/python scripts/bench/state_tree.py [--keys 1000000] [--buckets 3000] [--seed 1]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from chainnode.state_tree import (
    ENTRY_SIZE,
    N_BUCKETS,
    TREE_DEPTH,
    StateTree,
    compute_bucket_leaf_hash,
    compute_updated_bucket_bytes,
)

RUNS = 5


def build_state(n_keys: int, rng: random.Random) -> list[bytes]:
    """Return the bucket bytes of all buckets for `n_keys` random key hashes with random value hashes."""
    entries: list[list[bytes]] = [[] for _ in range(N_BUCKETS)]
    blob = rng.randbytes(n_keys * ENTRY_SIZE)
    for offset in range(0, len(blob), ENTRY_SIZE):
        entry = blob[offset : offset + ENTRY_SIZE]
        entries[int.from_bytes(entry[:2], "big")].append(entry)
    return [b"".join(sorted(bucket)) for bucket in entries]


def plan_block(
    buckets: list[bytes], n_buckets: int, rng: random.Random
) -> dict[int, dict[bytes, bytes | None]]:
    """Pick `n_buckets` distinct buckets and one key write in each (a new value for an existing key)."""
    block: dict[int, dict[bytes, bytes | None]] = {}
    for bucket in rng.sample(range(N_BUCKETS), n_buckets):
        data = buckets[bucket]
        if data:
            offset = rng.randrange(len(data) // ENTRY_SIZE) * ENTRY_SIZE
            key_hash = data[offset : offset + 32]
        else:
            key_hash = bucket.to_bytes(2, "big") + rng.randbytes(30)
        block[bucket] = {key_hash: rng.randbytes(32)}
    return block


def apply_block(
    tree: StateTree, buckets: list[bytes], block: dict[int, dict[bytes, bytes | None]]
) -> tuple[float, float, float]:
    """New bucket bytes, new leaf hashes, re-hashed paths and the new root: the work of one block.

    Returns the seconds spent in each of the three phases.
    """
    start = time.perf_counter()
    new_bytes = {
        bucket: compute_updated_bucket_bytes(buckets[bucket], changes) for bucket, changes in block.items()
    }
    edited = time.perf_counter()
    leaf_hashes = {bucket: compute_bucket_leaf_hash(data) for bucket, data in new_bytes.items()}
    hashed = time.perf_counter()
    tree.set_leaf_hashes(leaf_hashes)
    tree.root()
    done = time.perf_counter()
    return edited - start, hashed - edited, done - hashed


def count_node_hashes(touched: list[int]) -> int:
    """Return how many interior nodes `set_leaf_hashes` re-hashes for these touched buckets."""
    total, dirty = 0, set(touched)
    for _ in range(TREE_DEPTH):
        dirty = {index >> 1 for index in dirty}
        total += len(dirty)
    return total


def time_once(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def sha256_floor(n: int, rng: random.Random) -> float:
    """Return plain hashlib SHA-256 digests per second of 64-byte inputs (median of RUNS)."""
    inputs = [rng.randbytes(64) for _ in range(n)]
    sha256 = hashlib.sha256

    def run() -> None:
        for data in inputs:
            sha256(data).digest()

    return n / statistics.median(time_once(run) for _ in range(RUNS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--buckets", type=int, default=3_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    start = time.perf_counter()
    buckets = build_state(args.keys, rng)
    built = time.perf_counter()
    tree = StateTree.from_leaf_hashes([compute_bucket_leaf_hash(data) for data in buckets])
    hashed = time.perf_counter()
    per_bucket = args.keys / N_BUCKETS
    print(f"state: {args.keys:,} keys in {N_BUCKETS:,} buckets, {per_bucket:.1f} keys/bucket on average")
    print(
        f"setup: bucket bytes built in {built - start:.2f} s, tree hashed in {(hashed - built) * 1e3:.0f} ms"
    )

    phases: list[tuple[float, float, float]] = []
    copy_times, node_hashes = [], []
    for _ in range(RUNS):
        block = plan_block(buckets, args.buckets, rng)
        node_hashes.append(count_node_hashes(list(block)))
        copy_start = time.perf_counter()
        speculative = tree.copy()
        copy_times.append(time.perf_counter() - copy_start)
        phases.append(apply_block(speculative, buckets, block))
    block_times = [sum(run) for run in phases]
    edit, leaf, paths = (statistics.median(phase) for phase in zip(*phases, strict=True))
    block_median = statistics.median(block_times)
    copy_median = statistics.median(copy_times)
    floor = sha256_floor(100_000, rng)
    hashes = statistics.median(node_hashes)

    print(f"block update ({args.buckets:,} touched buckets), median of {RUNS}: {ms(block_median)}")
    print(f"  all runs (ms): {', '.join(f'{t * 1e3:.1f}' for t in block_times)}")
    print(
        f"  phases (median each): bucket bytes {ms(edit)}, leaf hashes {ms(leaf)}, paths + root {ms(paths)}"
    )
    print(f"bucket updates per second: {args.buckets / block_median:,.0f}")
    print(
        f"  of which SHA-256 calls: {args.buckets:,} bucket leaf hashes"
        f" (~{args.keys // N_BUCKETS * ENTRY_SIZE:,} bytes each) + {hashes:,.0f} node hashes"
        f" (64 bytes each; {hashes / floor * 1e3:.1f} ms at the floor below)"
    )
    print(f"tree copy for speculative execution, median of {RUNS}: {copy_median * 1e3:.2f} ms")
    print(f"floor: hashlib SHA-256 of 64-byte inputs, median of {RUNS}: {floor:,.0f} hashes/s")


if __name__ == "__main__":
    main()
