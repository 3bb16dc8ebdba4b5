#!/usr/bin/env python3
"""Documents benchmark: official documents sent and received per second on a 4-validator network of real
processes, for small (100 KB) and large (10 MB) contents, and the end-to-end ciphertext transfer rate.

For each size, `--docs` documents are sent from PSB's officer to TAX (each: encrypt, upload to PSB's node,
`documents.send` committed); the clock stops when TAX's node has fetched every ciphertext over the peer
network, checked its hash and reported the delivery on chain, and then again once TAX's officer has
opened each one through TAX's node (access recorded, content key received, ciphertext downloaded,
decrypted, both hashes checked). Floors measured in the same run: PyNaCl XChaCha20-Poly1305 secretstream
MB/s on one core, and disk write MB/s (LevelDB batches with sync, and a plain fsynced file), so the
ratios mean something on another day.

    .venv/bin/python scripts/bench/documents.py                     # 100 KB x 40 and 10 MB x 8, 3 runs
    .venv/bin/python scripts/bench/documents.py --runs 1 --small-docs 10 --large-docs 2
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import plyvel

# Python puts this script's directory first on the path; its contracts.py would shadow the package.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

from chainnode import crypto, doc_client
from chainnode.client import Client


def _load_cluster_bench() -> Any:
    """scripts/bench/cluster.py (its network of real node processes), loaded by path: this directory also
    holds contracts.py, which must not shadow the `contracts` package."""
    spec = importlib.util.spec_from_file_location("bench_cluster", Path(__file__).resolve().parent / "cluster.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


Net = _load_cluster_bench().Net

PSB, TAX = 0, 3


def crypto_floor(megabytes: int = 64) -> float:
    """XChaCha20-Poly1305 secretstream MB/s on one core (1 MiB chunks, as the envelope uses)."""
    sealer = crypto.StreamSealer(crypto.new_content_key())
    chunk = os.urandom(1 << 20)
    start = time.perf_counter()
    for i in range(megabytes):
        sealer.seal(chunk, final=i == megabytes - 1)
    return megabytes / (time.perf_counter() - start)


def disk_floor(root: Path, megabytes: int = 64) -> tuple[float, float]:
    """(LevelDB sync-batch MB/s, fsynced plain file MB/s) on the benchmark's disk."""
    db = plyvel.DB(str(root / "floor.ldb"), create_if_missing=True)
    value = os.urandom(1 << 20)
    start = time.perf_counter()
    for i in range(megabytes):
        with db.write_batch(sync=True) as batch:
            batch.put(i.to_bytes(4, "big"), value)
    leveldb = megabytes / (time.perf_counter() - start)
    db.close()
    start = time.perf_counter()
    with (root / "floor.bin").open("wb") as handle:
        for _ in range(megabytes):
            handle.write(value)
        handle.flush()
        os.fsync(handle.fileno())
    plain = megabytes / (time.perf_counter() - start)
    return leveldb, plain


def wait_delivered(client: Client, key: crypto.PrivateKey, doc_ids: list[str], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    pending = list(doc_ids)
    while pending:
        status = doc_client.record(client, key, pending[0])["document"]["recipient_status"]["TAX"]
        if status["delivered_height"] is not None:
            pending.pop(0)
            continue
        if time.monotonic() > deadline:
            raise SystemExit(f"{len(pending)} documents not delivered within {timeout:g} s")
        time.sleep(0.05)


def one_run(net: Any, work: Path, size: int, count: int, concurrency: int) -> dict[str, float]:
    """`count` documents PSB -> TAX by `concurrency` clerks at once (each: a blocking client of its own)."""
    files = []
    for k in range(count):
        path = work / f"doc-{size}-{k}.bin"
        path.write_bytes(os.urandom(size))
        files.append(path)
    tag = os.urandom(3).hex()
    local = threading.local()
    created: list[Client] = []

    def client(url: str) -> Client:
        clients = local.__dict__.setdefault("clients", {})
        if url not in clients:
            clients[url] = Client(url, timeout=120)
            created.append(clients[url])
        return clients[url]  # type: ignore[no-any-return]

    def send(k: int) -> doc_client.Sent:
        return doc_client.send(client(net.urls[PSB]), net.keys[PSB], files[k], recipients=["TAX"],
                               number=f"BENCH-{tag}-{k}", title="benchmark", classification="internal",
                               max_bytes=64 << 20)

    def open_one(k_sent: tuple[int, doc_client.Sent]) -> None:
        k, sent = k_sent
        doc_client.open_to(client(net.urls[TAX]), net.keys[TAX], sent.doc_id, work / f"opened-{k}.bin")

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        start = time.perf_counter()
        sent = list(pool.map(send, range(count)))
        sent_s = time.perf_counter() - start
        with Client(net.urls[PSB], timeout=120) as watcher:
            wait_delivered(watcher, net.keys[PSB], [s.doc_id for s in sent])
        delivered_s = time.perf_counter() - start
        list(pool.map(open_one, enumerate(sent)))
        opened_s = time.perf_counter() - start
    for made in created:
        made.close()
    cipher_mb = sum(s.digest.ciphertext_size for s in sent) / 1e6
    return {"sent_per_s": count / sent_s, "delivered_per_s": count / delivered_s,
            "received_per_s": count / opened_s, "transfer_mb_s": cipher_mb / delivered_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--small-docs", type=int, default=40)
    parser.add_argument("--large-docs", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=8, help="clerks sending (and opening) at once")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-docs-") as tmp:
        root = Path(tmp)
        floor_crypto = crypto_floor()
        floor_leveldb, floor_disk = disk_floor(root)
        print(f"floor: XChaCha20-Poly1305 {floor_crypto:.0f} MB/s on one core; disk {floor_leveldb:.0f} MB/s "
              f"(LevelDB, sync batch per MiB), {floor_disk:.0f} MB/s (fsynced file)", flush=True)
        net = Net(root / "net", 4, 2000)
        for i in range(4):
            net.start(i)
        try:
            import asyncio

            import aiohttp

            async def ready() -> None:
                async with aiohttp.ClientSession() as session:
                    for i in range(4):
                        await net.wait_ready(session, i)

            asyncio.run(ready())
            work = root / "work"
            work.mkdir()
            for label, size, count in (("100 KB", 100_000, args.small_docs), ("10 MB", 10_000_000, args.large_docs)):
                runs = [one_run(net, work, size, count, args.concurrency) for _ in range(args.runs)]
                median = {name: statistics.median(r[name] for r in runs) for name in runs[0]}
                print(f"{label} x {count}, {args.concurrency} clerks at once, median of {args.runs}: "
                      f"sent {median['sent_per_s']:.1f}/s, "
                      f"delivered {median['delivered_per_s']:.1f}/s, sent+delivered+opened "
                      f"{median['received_per_s']:.1f}/s; ciphertext transfer {median['transfer_mb_s']:.1f} MB/s "
                      f"({median['transfer_mb_s'] / floor_crypto:.3f} of the cipher floor, "
                      f"{median['transfer_mb_s'] / floor_disk:.3f} of the disk floor)", flush=True)
        finally:
            for i in range(4):
                net.stop(i)


if __name__ == "__main__":
    main()
