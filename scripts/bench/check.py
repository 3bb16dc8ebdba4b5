#!/usr/bin/env python3
"""Integrity check benchmark: build a store of --blocks blocks of --txs signed anchors, then time `chainnode check`
of it --runs times, beside the Ed25519 floor measured in the same run.

The store is built through the node's own commit path (one block at a time, as a single validator commits), so
it holds what a real node's store holds: blocks, commits, results, the indexes and the state tree. Many small
blocks and few large ones stress different parts of the check (per-block work against per-transaction work).

    .venv/bin/python scripts/bench/check.py --blocks 50 --txs 2000
    .venv/bin/python scripts/bench/check.py --blocks 2000 --txs 50
    .venv/bin/python scripts/bench/check.py --home /tmp/store --keep       # build once, keep it
    .venv/bin/python scripts/bench/check.py --home /tmp/store --reuse      # time an existing store again
"""

from __future__ import annotations

import argparse
import logging
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(1, str(Path(__file__).resolve().parent))

from ledger import make_txs, verify_floor

from chainnode import crypto
from chainnode.home import init_home
from chainnode.node import Node
from chainnode.producer import commit_alone


def build(home: Path, blocks: int, per_block: int) -> None:
    logging.disable(logging.WARNING)
    _, created = init_home(home, chain_id="bench", department="PSB", name="Bench", api_port=1, p2p_port=2,
                           config_overrides={"max_block_txs": per_block})
    key = crypto.load_key_file(created.officer_key).key
    node = Node.from_home(home)
    try:
        for b in range(blocks):
            next_height = node.tip.height + 1
            for raw in make_txs(key, "bench", per_block, b):
                tx = node.mempool.screen(raw, next_height=next_height)
                node.mempool.record_signature_verdict(tx, True)  # each is verified again by the check
                node.mempool.admit(tx)
            taken = node.mempool.take(max_txs=per_block, max_bytes=1 << 30, next_height=next_height)
            proposed = node.build_proposal(taken, node.clock.now_ms())
            node._commit(proposed, commit_alone(node.node_key, proposed, node.validators_at(next_height)))
            node.mempool.note_committed(taken)
            if (b + 1) % 200 == 0:
                print(f"  built {b + 1} of {blocks} blocks", flush=True)
    finally:
        node.close()
        logging.disable(logging.NOTSET)


def time_check(home: Path) -> tuple[float, int]:
    """Seconds `chainnode check` took, and how many transactions it checked."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "chainnode.cli", "check", "--home", str(home)],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2])
    took = time.perf_counter() - start
    found = re.search(r"(\d+) transactions checked", done.stdout)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"chainnode check failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return took, int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, default=50)
    parser.add_argument("--txs", type=int, default=2000, help="anchor transactions per block")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--home", type=Path, help="where to build the store (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the store built at --home afterwards")
    parser.add_argument("--reuse", action="store_true", help="time the store already at --home (never removed)")
    args = parser.parse_args()
    if (args.reuse or args.keep) and args.home is None:
        parser.error("--reuse and --keep need --home")
    temporary = None if args.home else Path(tempfile.mkdtemp(prefix="bench-check-"))
    home: Path = args.home or temporary / "home"
    built = False
    try:
        if not args.reuse:
            if home.exists():
                raise SystemExit(f"{home} exists; remove it, or pass --reuse to time it")
            print(f"building {args.blocks} blocks of {args.txs} anchors in {home}", flush=True)
            built = True
            build(home, args.blocks, args.txs)
        floor = verify_floor()
        times, total = [], 0
        for run in range(args.runs):
            took, total = time_check(home)
            times.append(took)
            print(f"run {run + 1}: {took:.1f} s", flush=True)
        median = statistics.median(times)
        print(f"chainnode check of {total} transactions: median {median:.1f} s = {total / median:.0f} tx/s; "
              f"floor: {floor:.0f} Ed25519 verifications/s on one core ({total / median / floor:.2f} x)")
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
        elif built and not args.keep:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
