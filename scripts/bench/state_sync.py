#!/usr/bin/env python3
"""State sync benchmark: how long a fresh department node takes to join a chain of N committed transactions,
by state sync and by replay, as real processes on this machine.

The chain is built in-process on the serving node's home (one validator, blocks of --block-txs anchors,
executed and committed through the Node's own block path), then that node runs as a process with the
joiner (an observer department of the same genesis) as its peer. The joiner starts with `--sync state`
and is timed until its head reaches the chain's; its data is wiped and it starts again with
`--sync replay`. The floor, Ed25519 verifications per second on one core, is measured in the same run.

    .venv/bin/python scripts/bench/state_sync.py --txs 1000000
    .venv/bin/python scripts/bench/state_sync.py --txs 100000 --no-replay --keep
    .venv/bin/python scripts/bench/state_sync.py --reuse /tmp/bench-ssync-XXXX   # the chain a --keep run left
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

# Python puts this script's directory first on the path; its contracts.py would shadow the package. The floor
# comes from the ledger benchmark, through the repository's root instead.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from chainnode import crypto
from chainnode.config import HomeLayout, load_config, render_config
from chainnode.home import DepartmentSpec, init_network
from chainnode.node import Node
from chainnode.tx import Transaction, TxBody, sign_transaction
from scripts.bench.ledger import verify_floor

START = "import sys; from chainnode.cli import main; sys.exit(main(['start', '--home', sys.argv[1], *sys.argv[2:]]))"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def status(url: str) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(url + "/v1/status", timeout=5) as answer:
            return dict(json.loads(answer.read()))
    except OSError:
        return None


async def build_chain(home: Path, n_txs: int, block_txs: int, officer: crypto.PrivateKey) -> tuple[int, float]:
    """Commit `n_txs` anchors in blocks of `block_txs` on the home's store; returns (head, seconds)."""
    node = Node.from_home(home)
    chain_id = node.genesis.chain_id
    started = time.monotonic()
    done = 0
    try:
        while done < n_txs:
            count = min(block_txs, n_txs - done)
            txs: list[Transaction] = []
            for i in range(done, done + count):
                body = TxBody(chain_id=chain_id, contract="anchor", method="put",
                              args={"content_hash": crypto.sha256(i.to_bytes(8, "big")), "kind": "bench"},
                              signer=officer.public_key, nonce=os.urandom(16), expiry_height=1 << 40)
                txs.append(sign_transaction(officer, body))
            await asyncio.to_thread(node._build_and_commit, txs)
            done += count
            if node.head_height() % 50 == 0:
                print(f"  built {done:,} of {n_txs:,} transactions ({node.head_height()} blocks)", flush=True)
        return node.head_height(), time.monotonic() - started
    finally:
        node.close()


def start(home: Path, log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-c", START, str(home), *args], stdout=out, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def time_join(home: Path, url: str, head: int, mode: str, log: Path, timeout: float) -> float:
    data = HomeLayout(home).data
    shutil.rmtree(data, ignore_errors=True)
    started = time.monotonic()
    proc = start(home, log, "--sync", mode)
    try:
        while time.monotonic() - started < timeout:
            if proc.poll() is not None:
                raise SystemExit(f"the joiner exited ({proc.returncode}); see {log}")
            found = status(url)
            if found is not None and int(str(found["height"])) >= head:
                return time.monotonic() - started
            time.sleep(0.2)
        raise SystemExit(f"the joiner did not reach height {head} by {mode} in {timeout:.0f} s; see {log}")
    finally:
        stop(proc)


def make_homes(root: Path, block_txs: int) -> tuple[list[Path], list[str], crypto.PrivateKey]:
    api, p2p = [free_port(), free_port()], [free_port(), free_port()]
    _, homes = init_network([root / "source", root / "joiner"], chain_id="bench",
                            departments=[DepartmentSpec(code="PSB", name="Police", power=10),
                                         DepartmentSpec(code="SAMR", name="Market", power=0)],
                            api_ports=api, p2p_ports=p2p,
                            params={"max_block_txs": block_txs, "max_tx_ttl": 1 << 40})
    for i, home in enumerate(homes):
        layout = HomeLayout(home.home)
        config = load_config(layout.config)
        layout.config.write_text(render_config(dataclasses.replace(
            config, peers=(f"127.0.0.1:{p2p[1 - i]}",), max_block_txs=block_txs, log_level="info")))
    return [h.home for h in homes], [h.api_url for h in homes], crypto.load_key_file(homes[0].officer_key).key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--txs", type=int, default=100_000)
    parser.add_argument("--block-txs", type=int, default=2000)
    parser.add_argument("--no-replay", action="store_true", help="time state sync only")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--keep", action="store_true", help="keep the homes and logs")
    parser.add_argument("--reuse", type=Path, metavar="DIR", help="the homes a --keep run left: skip building")
    args = parser.parse_args()

    floor = verify_floor()
    if args.reuse is not None:
        root = args.reuse
        homes = [root / "source", root / "joiner"]
        urls = ["http://" + load_config(HomeLayout(h).config).api_listen for h in homes]
        source_node = Node.from_home(homes[0])
        head = source_node.head_height()
        headers = [source_node.store.get_header(h) for h in range(1, head + 1)]
        txs = sum(header.tx_count for header in headers if header is not None)
        source_node.close()
    else:
        root = Path(tempfile.mkdtemp(prefix="bench-ssync-"))
        homes, urls, officer = make_homes(root, args.block_txs)
        print(f"building a chain of {args.txs:,} transactions in blocks of {args.block_txs:,}", flush=True)
        head, built_s = asyncio.run(build_chain(homes[0], args.txs, args.block_txs, officer))
        txs = args.txs
        print(f"built {head} blocks in {built_s:.0f} s", flush=True)
    source = start(homes[0], root / "source.log")
    try:
        while status(urls[0]) is None:
            if source.poll() is not None:
                raise SystemExit(f"the serving node exited; see {root / 'source.log'}")
            time.sleep(0.2)
        state_s = time_join(homes[1], urls[1], head, "state", root / "joiner-state.log", args.timeout)
        replay_s = None if args.no_replay else time_join(homes[1], urls[1], head, "replay",
                                                         root / "joiner-replay.log", args.timeout)
    finally:
        stop(source)
    print(f"chain: {txs:,} transactions, {head} blocks; machine: {os.cpu_count()} cores")
    print(f"floor: {floor:,.0f} Ed25519 verifications/s on one core")
    print(f"join by state sync: {state_s:.1f} s ({txs / state_s:,.0f} committed tx/s)")
    if replay_s is not None:
        print(f"join by replay:     {replay_s:.1f} s ({txs / replay_s:,.0f} committed tx/s)")
    if args.keep or args.reuse is not None:
        print(f"homes and logs in {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
