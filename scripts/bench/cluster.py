#!/usr/bin/env python3
"""Cluster benchmark: N validators as real processes on this machine, M concurrent clients.

Prints committed tx/s, p50/p95/p99 submit-to-commit latency, blocks/s, bytes on the wire per committed
transaction, CPU microseconds per transaction per node, then a latency-vs-load curve at 25/50/75/100 %
of the measured saturation rate, and (with --catchup N) how long a stopped validator takes to catch up
N committed transactions. The floor (Ed25519 verifications per second on one core) is measured in the
same run so the ratio means something on another day.

    .venv/bin/python scripts/bench/cluster.py --validators 4 --clients 4 --seconds 20
    .venv/bin/python scripts/bench/cluster.py --validators 7 --seconds 20 --no-curve
    .venv/bin/python scripts/bench/cluster.py --validators 4 --catchup 100000 --no-curve
    .venv/bin/python scripts/bench/cluster.py --validators 4 --rate 1000 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import msgpack
from ledger import cpu_seconds, verify_floor

from chainnode import crypto
from chainnode.home import DepartmentSpec, init_network
from chainnode.tx import TxBody, decode_transaction, sign_transaction

CODES = ["PSB", "SAMR", "CAB", "TAX", "HRSS", "NRB", "HCB"]
START = "import sys; from chainnode.cli import main; sys.exit(main(['start', '--home', sys.argv[1]]))"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_spy(pid: int) -> subprocess.Popen[bytes]:
    """BENCH_SPY=1: sample node0's Python stacks (all threads) into /tmp/bench-cluster-spy.txt (raw format)."""
    return subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "-o", "/tmp/bench-cluster-spy.txt",
                             "-f", "raw", "-p", str(pid), "-t", "-r", "200",
                             *os.environ.get("BENCH_SPY_ARGS", "").split()],  # e.g. BENCH_SPY_ARGS=--gil
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Net:
    def __init__(self, root: Path, validators: int, block_txs: int, block_interval_ms: int = 100,
                 admission_processes: int | None = None) -> None:
        overrides: dict[str, Any] = {} if admission_processes is None else {"admission_processes": admission_processes}
        self.api = [free_port() for _ in range(validators)]
        p2p = [free_port() for _ in range(validators)]
        _, self.homes = init_network(
            [root / f"node{i}" for i in range(validators)], chain_id="bench",
            departments=[DepartmentSpec(code=c, name=c) for c in CODES[:validators]],
            api_ports=self.api, p2p_ports=p2p,
            config_overrides={"block_interval_ms": block_interval_ms, "log_level": "warning",
                              "timeout_propose_ms": 2000, "max_block_txs": block_txs, **overrides},
        )
        self.root = root
        self.urls = [h.api_url for h in self.homes]
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * validators
        self.keys = [crypto.load_key_file(h.officer_key).key for h in self.homes]

    def start(self, i: int) -> None:
        with (self.root / f"node{i}.log").open("ab") as log:
            self.procs[i] = subprocess.Popen([sys.executable, "-c", START, str(self.homes[i].home)],
                                             stdout=log, stderr=subprocess.STDOUT)

    def stop(self, i: int) -> None:
        proc = self.procs[i]
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                print(f"node{i} did not stop within 60 s of SIGTERM; killing it (see its log)", flush=True)
                proc.kill()
                proc.wait(10)
            self.procs[i] = None

    async def wait_ready(self, session: aiohttp.ClientSession, i: int) -> dict[str, Any]:
        for _ in range(600):
            try:
                async with session.get(self.urls[i] + "/v1/status") as r:
                    if r.status == 200:
                        return dict(await r.json())
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
        raise SystemExit(f"node{i} did not start; see {self.root}/node{i}.log")


def make_txs(net: Net, n: int, tag: str) -> list[list[bytes]]:
    """Signed anchor transactions, one list per validator's officer (clients spread over departments)."""
    out: list[list[bytes]] = [[] for _ in net.keys]
    for k in range(n):
        i = k % len(net.keys)
        key = net.keys[i]
        body = TxBody(chain_id="bench", contract="anchor", method="put",
                      args={"content_hash": crypto.sha256(f"{tag}-{k}".encode()), "kind": "bench"},
                      signer=key.public_key, nonce=os.urandom(16), expiry_height=50_000)
        out[i].append(sign_transaction(key, body).raw)
    return out


async def drive(net: Net, per_node: list[list[bytes]], *, clients: int, batch: int, rate: float | None,
                seconds: float) -> dict[str, float]:
    """Submit for `seconds` (at `rate` tx/s, or as fast as accepted); measure commits from node0's events."""
    submitted: dict[str, float] = {}
    committed: dict[str, float] = {}
    blocks: list[float] = []
    async with aiohttp.ClientSession() as session:
        head = (await net.wait_ready(session, 0))["height"]
        ws = await session.ws_connect(f"{net.urls[0]}/v1/events?from_height={head + 1}", max_msg_size=0)

        async def listen() -> None:
            async for message in ws:
                event = json.loads(message.data)
                now = time.perf_counter()
                blocks.append(now)
                for result in event["results"]:
                    committed.setdefault(result["tx_id"], now)

        listener = asyncio.create_task(listen())
        cpu0 = [cpu_seconds(p.pid) for p in net.procs if p is not None]
        spy = start_spy(net.procs[0].pid) if os.environ.get("BENCH_SPY") and net.procs[0] is not None else None
        wire0 = await wire_bytes(session, net)
        t0 = time.perf_counter()
        deadline = t0 + seconds
        cursors = [0] * len(per_node)

        async def client(c: int) -> None:
            i = c % len(per_node)
            while time.perf_counter() < deadline and cursors[i] < len(per_node[i]):
                chunk = per_node[i][cursors[i]:cursors[i] + batch]
                cursors[i] += len(chunk)
                now = time.perf_counter()
                for raw in chunk:
                    submitted[decode_transaction(raw).tx_id.hex()] = now
                async with session.post(net.urls[i] + "/v1/txs", data=msgpack.packb(chunk, use_bin_type=True),
                                        headers={"Content-Type": "application/msgpack"}) as r:
                    answer = await r.json()
                if r.status != 200 or answer["rejected"]:
                    raise SystemExit(f"node{i} rejected a batch: {str(answer)[:300]}")
                if rate is not None:
                    await asyncio.sleep(max(0.0, len(chunk) * clients / rate - (time.perf_counter() - now)))

        await asyncio.gather(*(client(c) for c in range(clients)))
        settle = time.perf_counter() + 120
        while time.perf_counter() < settle and not all(t in committed for t in submitted):
            await asyncio.sleep(0.05)
        elapsed = max(committed.values(), default=t0) - t0
        cpu = [cpu_seconds(p.pid) - c for p, c in zip([p for p in net.procs if p], cpu0, strict=True)]
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
        wire = await wire_bytes(session, net) - wire0
        listener.cancel()
        await ws.close()
    done = [t for t in submitted if t in committed]
    latencies = sorted(committed[t] - submitted[t] for t in done)
    n = max(1, len(done))

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * q))] * 1000 if latencies else float("nan")

    return {
        "tps": len(done) / max(elapsed, 1e-9), "p50": pct(0.5), "p95": pct(0.95), "p99": pct(0.99),
        "blocks_s": len(blocks) / max(elapsed, 1e-9), "wire_b": wire / n,
        "cpu_us": statistics.mean(cpu) / n * 1e6, "lost": len(submitted) - len(done),
    }


async def wire_bytes(session: aiohttp.ClientSession, net: Net) -> int:
    total = 0
    for i, proc in enumerate(net.procs):
        if proc is None:
            continue
        async with session.get(net.urls[i] + "/v1/status") as r:
            status = await r.json()
        total += sum(p["bytes_out"] for p in (status.get("consensus") or {}).get("peers", []))
    return total


async def synced_blocks(session: aiohttp.ClientSession, net: Net) -> dict[str, float]:
    """Blocks the nodes committed from block sync, summed, by execution (known: validated before as a proposal)."""
    totals: dict[str, float] = {}
    for i, proc in enumerate(net.procs):
        if proc is None:
            continue
        async with session.get(net.urls[i] + "/metrics") as r:
            text = await r.text()
        for kind in ("executed", "known"):
            for line in text.splitlines():
                if line.startswith(f'chainnode_synced_blocks_total{{execution="{kind}"}}'):
                    totals[kind] = totals.get(kind, 0.0) + float(line.split()[-1])
    return totals


def report(label: str, r: dict[str, float]) -> None:
    print(f"{label}: {r['tps']:7.0f} tx/s  p50 {r['p50']:6.0f} ms  p95 {r['p95']:6.0f} ms  p99 {r['p99']:6.0f} ms  "
          f"{r['blocks_s']:5.2f} blocks/s  {r['wire_b']:6.0f} B/tx on the wire  {r['cpu_us']:5.0f} us CPU/tx/node"
          + (f"  ({r['lost']:.0f} not committed)" if r["lost"] else ""), flush=True)


async def catchup(net: Net, n: int) -> None:
    lagging = len(net.procs) - 1
    net.stop(lagging)
    per_node = make_txs(net, n, "catchup")
    per_node[lagging] = []
    result = await drive(net, per_node, clients=4, batch=1000, rate=None, seconds=3600)
    committed = int(n - result["lost"])
    print(f"catch-up: committed {committed} txs without node{lagging}; restarting it", flush=True)
    async with aiohttp.ClientSession() as session:
        target = (await net.wait_ready(session, 0))["height"]
        net.start(lagging)
        t0 = time.perf_counter()
        await net.wait_ready(session, lagging)
        while (await net.wait_ready(session, lagging))["height"] < target:
            await asyncio.sleep(0.1)
        took = time.perf_counter() - t0
    print(f"catch-up: {committed} transactions in {target} blocks in {took:.1f} s ({committed / took:.0f} tx/s, "
          f"{target / took:.1f} blocks/s), including process start", flush=True)


async def saturate_and_curve(net: Net, args: argparse.Namespace) -> None:
    """--runs saturating bursts, then (unless --no-curve) the latency curve at shares of their median rate."""
    runs = []
    for run in range(args.runs):
        txs = make_txs(net, args.max_txs, f"sat-{run}")
        runs.append(await drive(net, txs, clients=args.clients, batch=args.batch, rate=None, seconds=args.seconds))
        report(f"saturation run {run + 1}", runs[-1])
    sat = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    report(f"saturation (median of {args.runs})", sat)
    if args.curve:
        for share in (0.25, 0.5, 0.75, 1.0):
            offered = sat["tps"] * share
            txs = make_txs(net, int(offered * args.seconds * 1.2) + 100, f"curve-{share}")
            result = await drive(net, txs, clients=args.clients, batch=max(10, int(offered / 20 / args.clients)),
                                 rate=offered, seconds=args.seconds)
            report(f"offered {share:4.0%} = {offered:6.0f} tx/s", result)


async def main_async(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    net = Net(work, args.validators, args.block_txs, args.block_interval_ms, args.admission_processes)
    floor = verify_floor()
    print(f"{args.validators} validators on 127.0.0.1, {os.cpu_count()} cores; floor: {floor:.0f} Ed25519 "
          f"verifications/s on one core", flush=True)
    try:
        for i in range(args.validators):
            net.start(i)
        async with aiohttp.ClientSession() as session:
            for i in range(args.validators):
                await net.wait_ready(session, i)
        if args.catchup:
            await catchup(net, args.catchup)
            return
        if args.rate:  # one sustained offered load only (profiling a steady state; latency at a given load)
            txs = make_txs(net, int(args.rate * args.seconds * 1.2) + 100, "rate")
            report(f"offered {args.rate:6.0f} tx/s", await drive(
                net, txs, clients=args.clients, batch=max(10, int(args.rate / 20 / args.clients)), rate=args.rate,
                seconds=args.seconds))
        else:
            await saturate_and_curve(net, args)

        async with aiohttp.ClientSession() as session:
            synced = await synced_blocks(session, net)
        if synced:
            print(f"blocks committed from block sync, all nodes: {synced.get('executed', 0):.0f} executed on arrival, "
                  f"{synced.get('known', 0):.0f} already validated as proposals", flush=True)
    finally:
        for i in range(args.validators):
            net.stop(i)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--validators", type=int, default=4)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--max-txs", type=int, default=60_000)
    parser.add_argument("--no-curve", dest="curve", action="store_false")
    parser.add_argument("--catchup", type=int, default=0, metavar="N")
    parser.add_argument("--rate", type=float, default=0, metavar="TX_S",
                        help="only offer this sustained load for --seconds (no saturation runs, no curve)")
    parser.add_argument("--block-txs", type=int, default=2000, help="max_block_txs of every node")
    parser.add_argument("--block-interval-ms", type=int, default=100,
                        help="block_interval_ms of every node: the block cadence under a steady load")
    parser.add_argument("--admission-processes", type=int, default=None,
                        help="[mempool] admission_processes of every node (-1: each node's automatic choice; 0: none); "
                             "by default what `chainnode testnet` writes: the workers of each node's share of cores")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
