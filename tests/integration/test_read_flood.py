"""A flood of client reads on three of four real node processes must not slow the chain.

Old-height state proofs (each at an uncached height rebuilds a state tree), entity histories and whole blocks
are read as fast as several client threads can ask, on every validator but the one we measure on. The
chain's pace under the flood (blocks per second, latency of a submitted transaction) is compared with
the pace measured in the same test without it, under the same write load. Every read answers 200, or
503 `busy` when the node's read pool is full; never an error.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
import urllib.error
from dataclasses import dataclass, field
from pathlib import Path

from chainnode.read_auth import NONCE_SIZE, sign_read
from tests.cluster import Cluster, Load
from tests.nodeproc import http_json

WINDOW_S = 4.0
ROUNDS = 2
HAMMERED = (0, 1, 2)
MEASURED = 3
THREADS_PER_NODE = 3


@dataclass
class Pace:
    blocks_per_s: float
    latency_s: float


@dataclass
class Hammer:
    """Client threads reading old state, history and blocks from the given nodes as fast as they can."""

    cluster: Cluster
    key_hex: str
    top: int
    stop: threading.Event = field(default_factory=threading.Event)
    codes: dict[str, int] = field(default_factory=dict)
    bad: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    threads: list[threading.Thread] = field(default_factory=list)
    node_keys: dict[str, bytes] = field(default_factory=dict)

    def paths(self, turn: int) -> list[str]:
        old = 1 + turn % self.top  # more old heights than a node keeps trees for: each one is a rebuild
        return [
            f"/v1/state?key={self.key_hex}&height={old}",
            "/v1/state?key=" + self.key_hex + "&height=1",
            "/v1/history/department:PSB?limit=1000",
            f"/v1/blocks/{1 + (turn * 7) % self.top}",
        ]

    def headers(self, url: str, path: str) -> dict[str, str]:
        """A history is internal: signed by node0's officer (every role, auditor included) for the node asked."""
        if not path.startswith("/v1/history/"):
            return {}
        node_key = self.node_keys.get(url)
        if node_key is None:
            node_key = self.node_keys[url] = bytes.fromhex(http_json(url + "/v1/status")[1]["node_key"])
        header = sign_read(self.cluster.keys[0], "cluster", "GET", path, time.time_ns() // 1_000_000,
                           os.urandom(NONCE_SIZE), node_key)
        return {"Authorization": header}

    def run(self, url: str, seed: int) -> None:
        turn = seed
        while not self.stop.is_set():
            for path in self.paths(turn):
                try:
                    code, body = http_json(url + path, timeout=60, headers=self.headers(url, path))
                except (urllib.error.URLError, OSError) as exc:
                    self.record("error", f"{path}: {exc}")
                    continue
                if code == 200:
                    self.record("200")
                elif code == 503 and body.get("code") == "busy":
                    self.record("503 busy")
                else:
                    self.record(str(code), f"{path}: {code} {body}")
            turn += 1

    def record(self, outcome: str, problem: str | None = None) -> None:
        with self.lock:
            self.codes[outcome] = self.codes.get(outcome, 0) + 1
            if problem is not None:
                self.bad.append(problem)

    def __enter__(self) -> Hammer:
        for i in HAMMERED:
            for k in range(THREADS_PER_NODE):
                thread = threading.Thread(target=self.run, args=(self.cluster.urls[i], k * 3), daemon=True)
                thread.start()
                self.threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(90)


def measure_pace(cluster: Cluster, label: str) -> tuple[int, float, list[float]]:
    """Blocks committed on the measured node over one window, the window's length, and the commit latency
    of each single transaction submitted to it one after another during the window."""
    start_height, start = cluster.height(MEASURED), time.monotonic()
    latencies = []
    turn = 0
    while time.monotonic() - start < WINDOW_S:
        sent = time.monotonic()
        ids = cluster.submit(MEASURED, [f"{label}-probe-{turn}"])
        cluster.wait_committed(MEASURED, ids, timeout=120)
        latencies.append(time.monotonic() - sent)
        turn += 1
    return cluster.height(MEASURED) - start_height, time.monotonic() - start, latencies


@dataclass
class Tally:
    blocks: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    def add(self, measured: tuple[int, float, list[float]]) -> None:
        self.blocks += measured[0]
        self.seconds += measured[1]
        self.latencies += measured[2]

    @property
    def pace(self) -> Pace:
        return Pace(blocks_per_s=self.blocks / self.seconds, latency_s=statistics.median(self.latencies))


def test_a_read_flood_on_three_validators_does_not_slow_the_chain(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, overrides={"read_queue": 0})  # 2 read threads, no queue: some reads are refused
    cluster.start_all()
    try:
        first = cluster.submit(0, ["flood-anchor"])
        cluster.wait_committed(0, first)
        calm, flood = Tally(), Tally()
        codes: dict[str, int] = {}
        bad: list[str] = []
        with Load(cluster, batch=10):
            cluster.wait_height(12)
            key_hex = _anchor_key(cluster)
            for round_ in range(ROUNDS):  # interleaved, so a change in the machine's load hits both sides
                calm.add(measure_pace(cluster, f"calm-{round_}"))
                with Hammer(cluster, key_hex=key_hex, top=cluster.height(MEASURED) - 1) as hammer:
                    flood.add(measure_pace(cluster, f"flood-{round_}"))
                for outcome, n in hammer.codes.items():
                    codes[outcome] = codes.get(outcome, 0) + n
                bad += hammer.bad
        baseline, flooded = calm.pace, flood.pace
        assert not bad, bad[:5]
        assert codes.get("200", 0) > 20, codes  # the flood was served, not merely refused
        # Generous: the flood still costs CPU on a shared 2-core machine (the pace about halves, latency about
        # triples); while reads held the commit lock and ran on the event loop the chain all but stopped
        # (0.15 blocks/s against 12.4, 3.6 s median latency against 0.09 s).
        assert flooded.blocks_per_s >= baseline.blocks_per_s / 5, (baseline, flooded, codes)
        assert flooded.latency_s <= 5 * baseline.latency_s + 1.0, (baseline, flooded, codes)
        cluster.wait_height(cluster.height(MEASURED))
        cluster.assert_consistent()
    finally:
        cluster.stop_all()


def _anchor_key(cluster: Cluster) -> str:
    """The state key of the first anchor, read back through the anchors route."""
    from chainnode import crypto

    content_hash = crypto.sha256(b"flood-anchor").hex()
    code, body = http_json(f"{cluster.urls[MEASURED]}/v1/anchors/{content_hash}")
    assert code == 200, body
    return str(body["anchors"][0]["key"])
