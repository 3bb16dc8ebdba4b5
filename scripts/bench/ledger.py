#!/usr/bin/env python3
"""Ledger benchmark: one node, N signed anchor transactions submitted in batches through the HTTP API.

Prints committed tx/s, p50/p99 submit-to-commit latency, node CPU microseconds per transaction, stored
bytes per transaction and, measured in the same run, the floor: Ed25519 verify + SHA-256 + a LevelDB
write per transaction. Each figure is the median over --runs runs. With --fill N, each run first commits N
other anchors to its node (printing each chunk's figures), so the measured transactions meet a grown state
tree and store: a node's throughput falls as they grow.

    .venv/bin/python scripts/bench/ledger.py --txs 50000 --batch 1000 --clients 4 --runs 3
    .venv/bin/python scripts/bench/ledger.py --txs 30000 --fill 120000 --runs 1
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from chainnode import crypto
from chainnode.home import init_home
from chainnode.tx import TxBody, sign_transaction


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and its live child processes (a node's admission workers)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def verify_floor(n: int = 5000) -> float:
    """Ed25519 verifications per second on one core (the cluster, state sync and check benchmarks' floor, and
    the drill's)."""
    key = crypto.PrivateKey(b"\x07" * 32)
    message = os.urandom(180)
    signature = key.sign(message)
    start = time.process_time()
    for _ in range(n):
        crypto.verify_signature(key.public_key, message, signature)
    return n / (time.process_time() - start)


def measure_floor(n: int = 20_000) -> float:
    """Microseconds per transaction for the unavoidable work: verify + hash + one LevelDB write."""
    import plyvel

    key = crypto.PrivateKey(b"\x07" * 32)
    message = os.urandom(180)
    signature = key.sign(message)
    work = tempfile.mkdtemp(prefix="floor-")
    db = plyvel.DB(work, create_if_missing=True)
    start = time.process_time()
    for block in range(n // 1000):
        batch = db.write_batch(sync=True)
        for i in range(1000):
            crypto.verify_signature(key.public_key, message, signature)
            digest = crypto.sha256(message + i.to_bytes(4, "big"))
            batch.put(block.to_bytes(4, "big") + digest, message)
        batch.write()
    elapsed = time.process_time() - start
    db.close()
    shutil.rmtree(work, ignore_errors=True)
    return elapsed / n * 1e6


def make_txs(key: crypto.PrivateKey, chain_id: str, n: int, run: int) -> list[bytes]:
    out = []
    for i in range(n):
        body = TxBody(
            chain_id=chain_id,
            contract="anchor",
            method="put",
            args={"content_hash": crypto.sha256(f"{run}-{i}".encode()), "kind": "bench"},
            signer=key.public_key,
            nonce=os.urandom(16),
            expiry_height=100_000,
        )
        out.append(sign_transaction(key, body).raw)
    return out


async def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"node exited with {proc.returncode}")
            try:
                async with session.get(url + "/v1/status") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise SystemExit("node did not become ready")


async def drive(url: str, txs: list[bytes], tx_ids: list[str], batch: int, clients: int) -> tuple[float, list[float]]:
    submitted: dict[str, float] = {}
    committed: dict[str, float] = {}
    done = asyncio.Event()
    wanted = set(tx_ids)
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(url + "/v1/events", max_msg_size=0)

        async def listen() -> None:
            async for message in ws:
                event = message.json()
                now = time.perf_counter()
                for result in event.get("results", []):
                    if result["tx_id"] in wanted:
                        committed[result["tx_id"]] = now
                if len(committed) >= len(wanted):
                    done.set()
                    return

        listener = asyncio.create_task(listen())
        queue: asyncio.Queue[int] = asyncio.Queue()
        for start in range(0, len(txs), batch):
            queue.put_nowait(start)

        async def client() -> None:
            import msgpack

            while not queue.empty():
                start = queue.get_nowait()
                chunk = txs[start : start + batch]
                body = msgpack.packb(chunk, use_bin_type=True)
                now = time.perf_counter()
                for tx_id in tx_ids[start : start + batch]:
                    submitted[tx_id] = now
                async with session.post(
                    url + "/v1/txs", data=body, headers={"Content-Type": "application/msgpack"}
                ) as r:
                    answer = await r.json()
                    if r.status != 200 or answer["rejected"]:
                        raise SystemExit(f"submission rejected: {str(answer)[:300]}")

        t0 = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        await asyncio.wait_for(done.wait(), 600)
        elapsed = max(committed.values()) - t0
        listener.cancel()
        await ws.close()
    latencies = sorted(committed[t] - submitted[t] for t in tx_ids)
    return elapsed, latencies


def one_run(args: argparse.Namespace, run: int) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="bench-ledger-"))
    home = work / "node"
    port = free_port()
    _, created = init_home(
        home,
        chain_id="bench",
        department="PSB",
        name="Bench",
        api_port=port,
        p2p_port=free_port(),
        config_overrides={"block_interval_ms": args.interval_ms, "max_block_txs": args.block_txs,
                          "admission_processes": args.admission_processes},
    )
    key = crypto.load_key_file(created.officer_key).key
    from chainnode.tx import decode_transaction

    txs = make_txs(key, "bench", args.txs, run)
    tx_ids = [decode_transaction(t).tx_id.hex() for t in txs]
    log = (work / "node.log").open("wb")
    pin = ["taskset", "-c", args.cpus] if args.cpus else []
    proc = subprocess.Popen(
        [
            *pin,
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from chainnode.service import run_home; run_home(Path(sys.argv[1]))",
            str(home),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(wait_ready(url, proc))
        for k in range(-(-args.fill // args.txs)):  # --fill: grow the state first, in chunks of --txs
            chunk = make_txs(key, "bench", args.txs, 10_000 * (run + 1) + k)
            chunk_ids = [decode_transaction(t).tx_id.hex() for t in chunk]
            before = cpu_seconds(proc.pid)
            chunk_s, chunk_latencies = asyncio.run(drive(url, chunk, chunk_ids, args.batch, args.clients))
            print(f"  fill {(k + 1) * args.txs}: {args.txs / chunk_s:.0f} tx/s, "
                  f"{(cpu_seconds(proc.pid) - before) / args.txs * 1e6:.0f} us CPU/tx, "
                  f"p99 {chunk_latencies[int(len(chunk_latencies) * 0.99)] * 1000:.0f} ms, "
                  f"store {dir_bytes(home / 'data') / 1e6:.0f} MB", flush=True)
        cpu0 = cpu_seconds(proc.pid)
        spy = (
            subprocess.Popen(
                ["py-spy", "record", "-o", "/tmp/spy.txt", "-f", "raw", "-p", str(proc.pid), "-t", "-r", "250",
                 *os.environ.get("BENCH_SPY_ARGS", "").split()],  # e.g. BENCH_SPY_ARGS=--gil
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if os.environ.get("BENCH_SPY")
            else None
        )
        elapsed, latencies = asyncio.run(drive(url, txs, tx_ids, args.batch, args.clients))
        cpu = cpu_seconds(proc.pid) - cpu0
        if spy:
            spy.send_signal(2)
            spy.wait()
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
    stored = dir_bytes(home / "data")
    shutil.rmtree(work, ignore_errors=True)
    return {
        "tps": args.txs / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "cpu_us": cpu / args.txs * 1e6,
        "bytes": stored / (-(-args.fill // args.txs) * args.txs + args.txs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--txs", type=int, default=30_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--interval-ms", type=int, default=100)
    parser.add_argument("--block-txs", type=int, default=5000)
    parser.add_argument("--fill", type=int, default=0, metavar="N",
                        help="first commit N other anchors to the node (in chunks of --txs, each printed), so the "
                             "measured --txs run on a grown state")
    parser.add_argument("--cpus", default="", help="run the node on these CPUs only (taskset -c LIST, e.g. 0 or 0,1)")
    parser.add_argument("--admission-processes", type=int, default=-1,
                        help="the node's [mempool] admission_processes (-1: its automatic choice; 0: none)")
    args = parser.parse_args()
    runs = []
    floors = []
    for run in range(args.runs):
        floors.append(measure_floor())
        result = one_run(args, run)
        runs.append(result)
        print(
            f"run {run + 1}: {result['tps']:.0f} tx/s, p50 {result['p50_ms']:.0f} ms, p99 {result['p99_ms']:.0f} ms, "
            f"{result['cpu_us']:.0f} us CPU/tx, {result['bytes']:.0f} B/tx; floor {floors[-1]:.0f} us/tx",
            flush=True,
        )
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    floor = statistics.median(floors)
    grown = f", each on a node already holding {args.fill} anchors" if args.fill else ""
    print(f"\nmedian of {args.runs} runs, {args.txs} txs in batches of {args.batch} from {args.clients} "
          f"clients{grown}:")
    print(f"  committed throughput   {med['tps']:10.0f} tx/s")
    print(f"  submit-to-commit p50   {med['p50_ms']:10.0f} ms")
    print(f"  submit-to-commit p99   {med['p99_ms']:10.0f} ms")
    print(f"  node CPU per tx        {med['cpu_us']:10.0f} us")
    print(f"  stored bytes per tx    {med['bytes']:10.0f} B")
    print(f"  floor (verify+sha256+leveldb write) {floor:.0f} us/tx = {1e6 / floor:.0f} tx/s on one core")
    print(f"  CPU per tx / floor     {med['cpu_us'] / floor:10.2f} x")


if __name__ == "__main__":
    main()
