#!/usr/bin/env python3
"""Transport encryption benchmark: what sealing every peer frame costs, beside the Ed25519 verify floor.

1. Frames: seal + open (ChaCha20-Poly1305, network/session.py) per frame size, in MB/s and µs per frame,
   beside what the link does anyway per frame (encode_frame + decode_frame): "off" is that alone.
2. Handshake: the key exchange, HKDF, one Ed25519 signature and one verification, per link.
3. Link: two `Network`s on 127.0.0.1 in this process, one side broadcasting N messages to the other,
   sealed (as every node runs) and unsealed (the sealing replaced by a pass-through in this process only).
4. With --cluster: the 4-validator cluster of scripts/bench/cluster.py at saturation, runs alternating
   sealed and unsealed.

There is no switch in the node that turns encryption off. The unsealed runs replace
`network.link.SealedWebSocket` in the benchmark's own processes (`disable_sealing`, used by the node
processes this script starts with `--cluster`); a node started any other way always seals.

    .venv/bin/python scripts/bench/transport.py                       # frames, handshake, link
    .venv/bin/python scripts/bench/transport.py --cluster --runs 3 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import WSMessage, WSMsgType

from chainnode import crypto
from network import link
from network.config import NetworkConfig
from network.frames import Hello, Message, decode_frame, encode_frame
from network.handshake import sign_handshake, validate_auth
from network.network import Network
from network.session import EphemeralKey, SecureSession, start_session
from network.verdict import Verdict

BENCH_DIR = Path(__file__).resolve().parent
SIZES = (128, 1024, 16 * 1024, 256 * 1024, 1024 * 1024)
"""Payload bytes: a vote, a small tx, a large tx, a proposal's block, a blob chunk."""


class _Unsealed:
    """The sealed WebSocket's interface, passing frames through: for the "off" measurements only."""

    def __init__(self, ws: link.WebSocket, session: SecureSession) -> None:
        self._ws = ws
        self.stats = link.LinkStats()

    @property
    def closed(self) -> bool:
        return self._ws.closed

    async def send_bytes(self, data: bytes, compress: int | None = None) -> None:
        await self._ws.send_bytes(data)
        self.stats.bytes_out += len(data)

    async def receive(self, timeout: float | None = None) -> WSMessage:
        message = await self._ws.receive(timeout)
        if message.type is WSMsgType.BINARY:
            self.stats.bytes_in += len(message.data)
        return message

    async def close(self, *, code: int = 1000, message: bytes = b"") -> bool:
        return await self._ws.close(code=code, message=message)


def disable_sealing() -> None:
    """Replace the link's sealing with a pass-through, in this process: both ends of a link must do it."""
    link.SealedWebSocket = _Unsealed  # type: ignore[misc, assignment]


def load_cluster() -> Any:
    """scripts/bench/cluster.py, whose floor and cluster this benchmark shares."""
    if str(BENCH_DIR) not in sys.path:
        sys.path.append(str(BENCH_DIR))  # after the packages: scripts/bench/contracts.py must not shadow contracts/
    import cluster

    return cluster


def timed(fn: Callable[[], object], *, min_seconds: float = 0.5) -> float:
    """Seconds per call of `fn`, over enough calls to take at least `min_seconds`."""
    calls, start = 0, time.perf_counter()
    while True:
        for _ in range(10):
            fn()
        calls += 10
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return elapsed / calls


def session_pair() -> tuple[SecureSession, SecureSession, Hello, Hello]:
    a, b = crypto.PrivateKey(b"\x01" * 32), crypto.PrivateKey(b"\x02" * 32)
    ea, eb = EphemeralKey(), EphemeralKey()
    ha = Hello("bench", bytes(32), a.public_key, os.urandom(32), ea.public_key)
    hb = Hello("bench", bytes(32), b.public_key, os.urandom(32), eb.public_key)
    sa = start_session(ea, peer_ephemeral_key=eb.public_key, own_hello=encode_frame(ha), peer_hello=encode_frame(hb),
                       is_initiator=True, max_sealed_size=2**31)
    sb = start_session(eb, peer_ephemeral_key=ea.public_key, own_hello=encode_frame(hb), peer_hello=encode_frame(ha),
                       is_initiator=False, max_sealed_size=2**31)
    return sa, sb, ha, hb


def bench_frames(floor: float) -> None:
    limits = {"bench": 2 * 1024 * 1024}
    sa, sb, _, _ = session_pair()
    print(f"{'payload':>10} {'off: frame µs':>14} {'seal+open µs':>13} {'on: total µs':>13} {'seal+open MB/s':>15} "
          f"{'in verifies':>12}")
    for size in SIZES:
        frame = encode_frame(Message("bench", os.urandom(size)))
        codec_s = timed(lambda frame=frame: decode_frame(frame, limits))  # type: ignore[misc]
        codec_s += timed(lambda size=size: encode_frame(Message("bench", bytes(size))))  # type: ignore[misc]

        def round_trip(frame: bytes = frame) -> None:
            sb.opener.open(sa.sealer.seal(frame))

        crypt_s = timed(round_trip)
        print(f"{size:>10,} {codec_s * 1e6:>14.1f} {crypt_s * 1e6:>13.1f} {(codec_s + crypt_s) * 1e6:>13.1f} "
              f"{len(frame) / crypt_s / 1e6:>15.0f} {crypt_s * floor:>12.2f}", flush=True)


def bench_handshake(floor: float) -> None:
    a, b = crypto.PrivateKey(b"\x01" * 32), crypto.PrivateKey(b"\x02" * 32)

    def one_side() -> None:
        sa, _, ha, hb = session_pair()  # two key pairs, two exchanges, two HKDFs: count half of it
        auth = sign_handshake(a, own=ha, peer=hb, transcript_hash=sa.transcript_hash)
        validate_auth(auth, own=hb, peer=ha, transcript_hash=sa.transcript_hash)

    def auth_only() -> None:
        ha = Hello("bench", bytes(32), a.public_key, bytes(32), bytes(32))
        hb = Hello("bench", bytes(32), b.public_key, bytes(32), bytes(32))
        validate_auth(sign_handshake(a, own=ha, peer=hb, transcript_hash=bytes(32)), own=hb, peer=ha,
                      transcript_hash=bytes(32))

    total, signature = timed(one_side), timed(auth_only)
    exchange = (total - signature) / 2
    print(f"handshake, per side: key pair + X25519 + HKDF {exchange * 1e6:.0f} µs, Ed25519 sign + verify "
          f"{signature * 1e6:.0f} µs (= {signature * floor:.1f} verifications)", flush=True)


class Sink:
    def __init__(self) -> None:
        self.count = 0
        self.done = asyncio.Event()
        self.want = 0

    async def on_message(self, peer: bytes, kind: str, payload: bytes) -> Verdict:
        self.count += 1
        if self.count >= self.want:
            self.done.set()
        return Verdict.ACCEPT

    async def on_request(self, peer: bytes, kind: str, payload: bytes) -> bytes:
        return b""

    def on_peer_connected(self, peer: bytes) -> None: ...

    def on_peer_disconnected(self, peer: bytes) -> None: ...


async def bench_link(size: int, count: int) -> float:
    """Messages per second from one node to another over a real link on 127.0.0.1."""
    keys = [crypto.PrivateKey(bytes([i + 1]) * 32) for i in range(2)]
    members = {key.public_key for key in keys}
    genesis = crypto.sha256(b"bench")
    config = NetworkConfig(chain_id="bench", genesis_hash=genesis, listen="127.0.0.1:0",
                           limits={"bench": 2 * 1024 * 1024}, send_queue_size=count + 1)
    sink = Sink()
    receiver = Network(config, keys[0], is_allowed=members.__contains__, handler=sink, rng=random.Random(1))
    await receiver.start()
    sender = Network(dataclasses.replace(config, peers=(receiver.address,)), keys[1],
                     is_allowed=members.__contains__, handler=Sink(), rng=random.Random(2))
    await sender.start()
    try:
        while not sender.peers() or not receiver.peers():
            await asyncio.sleep(0.01)
        payload = os.urandom(size)
        sink.want = count
        start = time.perf_counter()
        for _ in range(count):
            sender.broadcast("bench", payload)
            await asyncio.sleep(0)
        await asyncio.wait_for(sink.done.wait(), 120)
        return count / (time.perf_counter() - start)
    finally:
        await sender.stop()
        await receiver.stop()


def run_link_child(size: int, count: int, sealed: bool) -> None:
    if not sealed:
        disable_sealing()
    print(asyncio.run(bench_link(size, count)))


def bench_links() -> None:
    import subprocess

    print(f"{'payload':>10} {'msgs':>6} {'off msg/s':>10} {'on msg/s':>10} {'off MB/s':>9} {'on MB/s':>8} "
          f"{'on/off':>7}")
    for size, count in ((128, 20000), (1024, 20000), (16 * 1024, 5000), (256 * 1024, 400), (1024 * 1024, 100)):
        rates: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(3):
            for sealed in (False, True):  # each in a fresh process, alternating
                out = subprocess.run(
                    [sys.executable, str(Path(__file__).resolve()), "--link-child", str(size), str(count),
                     "sealed" if sealed else "unsealed"], capture_output=True, text=True, check=True,
                )
                rates[sealed].append(float(out.stdout.strip().splitlines()[-1]))
        off, on = statistics.median(rates[False]), statistics.median(rates[True])
        print(f"{size:>10,} {count:>6} {off:>10.0f} {on:>10.0f} {off * size / 1e6:>9.1f} {on * size / 1e6:>8.1f} "
              f"{on / off:>7.2f}", flush=True)


def bench_cluster(args: argparse.Namespace) -> None:
    cluster = load_cluster()
    sealed_start = cluster.START
    unsealed_start = (f"import sys; sys.path.append({str(BENCH_DIR)!r}); import transport; "
                      "transport.disable_sealing(); from chainnode.cli import main; "
                      "sys.exit(main(['start', '--home', sys.argv[1]]))")
    results: dict[str, list[dict[str, float]]] = {"on": [], "off": []}
    print(f"floor: {cluster.verify_floor():.0f} Ed25519 verifications/s on one core", flush=True)
    for run in range(args.runs):
        for label, start in (("off", unsealed_start), ("on", sealed_start)):
            cluster.START = start
            work = Path(tempfile.mkdtemp(prefix="bench-transport-"))
            net = cluster.Net(work, args.validators, 2000)
            try:
                result = asyncio.run(_saturate(cluster, net, args, f"{label}-{run}"))
            finally:
                for i in range(args.validators):
                    net.stop(i)
                shutil.rmtree(work, ignore_errors=True)
            results[label].append(result)
            cluster.report(f"encryption {label}, run {run + 1}", result)
    for label in ("off", "on"):
        runs = results[label]
        cluster.report(f"encryption {label}, median of {args.runs}", {k: statistics.median(r[k] for r in runs)
                                                                       for k in runs[0]})


async def _saturate(cluster: Any, net: Any, args: argparse.Namespace, tag: str) -> dict[str, float]:
    import aiohttp

    for i in range(args.validators):
        net.start(i)
    async with aiohttp.ClientSession() as session:
        for i in range(args.validators):
            await net.wait_ready(session, i)
        while True:  # every validator linked to every other
            statuses = [await net.wait_ready(session, i) for i in range(args.validators)]
            if all(len((s.get("consensus") or {}).get("peers", [])) == args.validators - 1 for s in statuses):
                break
            await asyncio.sleep(0.2)
    txs = cluster.make_txs(net, args.max_txs, tag)
    result: dict[str, float] = await cluster.drive(net, txs, clients=4, batch=500, rate=None, seconds=args.seconds)
    return result


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--link-child":
        run_link_child(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "sealed")
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cluster", action="store_true", help="also the 4-validator cluster, on and off")
    parser.add_argument("--validators", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--max-txs", type=int, default=30_000)
    args = parser.parse_args()
    floor = load_cluster().verify_floor()
    print(f"{os.cpu_count()} cores; floor: {floor:.0f} Ed25519 verifications/s on one core "
          f"({1e6 / floor:.0f} µs each)", flush=True)
    bench_frames(floor)
    bench_handshake(floor)
    bench_links()
    if args.cluster:
        bench_cluster(args)


if __name__ == "__main__":
    main()
