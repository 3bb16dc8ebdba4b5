#!/usr/bin/env python3
"""Pipeline benchmark: one node's per-transaction work, phase by phase, in one thread of this process.

Builds a node home, then for each of --blocks blocks of --txs signed anchor transactions: screens them as
admission does (decode, shape, call, roster, committed), verifies their signatures, inserts them in the
mempool, builds the block (execution, state tree, roots) and commits it (one LevelDB batch). Prints the
median microseconds per transaction of each phase, beside the floor (Ed25519 verify + SHA-256 + a batched
LevelDB write) measured in the same run. Nothing else runs (no HTTP, no other thread), so the figures are the
node's serial Python work without contention, and steadier than the whole-node benchmarks on a shared
machine.

    .venv/bin/python scripts/bench/pipeline.py --txs 5000 --blocks 5
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(1, str(Path(__file__).resolve().parent))

from ledger import make_txs, measure_floor

from chainnode import crypto
from chainnode.home import init_home
from chainnode.node import Node
from chainnode.producer import commit_alone

PHASES = ("screen", "verify", "admit", "build", "commit")


def run(txs: int, blocks: int) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    try:
        _, created = init_home(work / "node", chain_id="bench", department="PSB", name="Bench", api_port=1,
                               p2p_port=2, config_overrides={"max_block_txs": txs})
        key = crypto.load_key_file(created.officer_key).key
        node = Node.from_home(work / "node")
        raws = make_txs(key, "bench", txs * blocks, 0)
        spent: dict[str, list[float]] = {phase: [] for phase in PHASES}
        for b in range(blocks):
            chunk = raws[b * txs:(b + 1) * txs]
            marks = [time.perf_counter()]
            screened = [node.mempool.screen(raw, next_height=node.tip.height + 1) for raw in chunk]
            marks.append(time.perf_counter())
            verdicts = [tx.is_signature_valid() for tx in screened]
            marks.append(time.perf_counter())
            for tx, ok in zip(screened, verdicts, strict=True):
                node.mempool.record_signature_verdict(tx, ok)
                node.mempool.admit(tx)
            marks.append(time.perf_counter())
            taken = node.mempool.take(max_txs=txs, max_bytes=1 << 30, next_height=node.tip.height + 1)
            proposed = node.build_proposal(taken, node.clock.now_ms())
            marks.append(time.perf_counter())
            node._commit(proposed, commit_alone(node.node_key, proposed, node.validators_at(proposed.block.height)))
            node.mempool.remove(tx.tx_id for tx in taken)
            marks.append(time.perf_counter())
            for i, phase in enumerate(PHASES):
                spent[phase].append((marks[i + 1] - marks[i]) / txs * 1e6)
        node.close()
        return {phase: statistics.median(values) for phase, values in spent.items()}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--txs", type=int, default=5000, help="transactions per block")
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    results, floors = [], []
    for _ in range(args.runs):
        floors.append(measure_floor())
        results.append(run(args.txs, args.blocks))
    floor = statistics.median(floors)
    print(f"median of {args.runs} runs of {args.blocks} blocks of {args.txs} anchors, us per transaction:")
    serial = 0.0
    for phase in PHASES:
        value = statistics.median(r[phase] for r in results)
        if phase != "verify":
            serial += value
        print(f"  {phase:8s} {value:7.1f}")
    print(f"  serial work (all but verify)   {serial:7.1f} us = {serial / floor:.2f} x the floor")
    print(f"  floor (verify+sha256+leveldb write) {floor:.0f} us/tx")


if __name__ == "__main__":
    main()
