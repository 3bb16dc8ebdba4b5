"""A local network of real node processes for fault tests: start, kill, partition, load, compare."""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chainnode import crypto
from chainnode.check import check_home
from chainnode.config import HomeLayout, load_config, render_config
from chainnode.home import DepartmentSpec, init_network
from chainnode.tx import decode_transaction
from tests.nodeproc import anchor_tx, free_port, http_json, kill, log_tail, start_node, wait_ready
from tests.tcp_proxy import TcpProxy

FAST: dict[str, Any] = {
    "block_interval_ms": 50,
    "timeout_propose_ms": 1500,
    "timeout_propose_delta_ms": 250,
    "timeout_prevote_ms": 500,
    "timeout_prevote_delta_ms": 250,
    "timeout_precommit_ms": 500,
    "timeout_precommit_delta_ms": 250,
    "timeout_max_ms": 4000,
    "status_interval_ms": 300,
}
DEPARTMENTS = [
    ("PSB", "Police"),
    ("SAMR", "Market"),
    ("CAB", "Civil Affairs"),
    ("TAX", "Tax"),
    ("HRSS", "HR"),
    ("NRB", "Resources"),
    ("HCB", "Housing"),
]


class ProxyMesh:
    """One TCP proxy per ordered pair of nodes, run on a private event loop thread, so links can be cut."""

    def __init__(self, *, record: bool = False) -> None:
        self.record = record
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.proxies: dict[tuple[int, int], TcpProxy] = {}

    def add(self, source: int, target: int, target_port: int) -> int:
        proxy = TcpProxy(0, "127.0.0.1", target_port, record=self.record)
        asyncio.run_coroutine_threadsafe(proxy.start(), self.loop).result(10)
        self.proxies[(source, target)] = proxy
        return proxy.port

    def captures(self) -> list[tuple[bytes, bytes]]:
        """With `record`: the bytes forwarded, (to the target, from the target) per proxied connection."""
        return [(bytes(out), bytes(back)) for proxy in self.proxies.values() for out, back in proxy.captured]

    def _call(self, fn: Callable[[], None]) -> None:
        done = threading.Event()

        def run() -> None:
            fn()
            done.set()

        self.loop.call_soon_threadsafe(run)
        done.wait(10)

    def partition(self, side: set[int]) -> None:
        for (a, b), proxy in self.proxies.items():
            if (a in side) != (b in side):
                self._call(proxy.cut)

    def cut_pairs(self, pairs: set[frozenset[int]]) -> None:
        """Cut the links between each given pair of nodes, both directions (a ring, a line, ...)."""
        for (a, b), proxy in self.proxies.items():
            if frozenset((a, b)) in pairs:
                self._call(proxy.cut)

    def heal(self) -> None:
        for proxy in self.proxies.values():
            self._call(proxy.heal)

    def close(self) -> None:
        for proxy in self.proxies.values():
            asyncio.run_coroutine_threadsafe(proxy.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class Cluster:
    def __init__(
        self,
        root: Path,
        n: int = 4,
        *,
        proxies: bool = False,
        overrides: dict[str, Any] | None = None,
        per_node: dict[int, dict[str, Any]] | None = None,
        observers: int = 0,
        test_faults: dict[int, str] | None = None,
        record: bool = False,
    ) -> None:
        self.root = root
        self.n = n
        api = [free_port() for _ in range(n)]
        p2p = [free_port() for _ in range(n)]
        self.genesis, self.homes = init_network(
            [root / f"node{i}" for i in range(n)],
            chain_id="cluster",
            departments=[DepartmentSpec(code=c, name=m, power=0 if k >= n - observers else 10)
                         for k, (c, m) in enumerate(DEPARTMENTS[:n])],
            api_ports=api,
            p2p_ports=p2p,
            config_overrides={**FAST, **(overrides or {})},
        )
        self.urls = [h.api_url for h in self.homes]
        self.test_faults: dict[int, str] = dict(test_faults or {})
        """CHAINNODE_TEST_FAULTS per node: what its config asks for, so only that node may misbehave."""
        self.mesh = ProxyMesh(record=record) if proxies else None
        for i, home in enumerate(self.homes):
            layout = HomeLayout(home.home)
            config = load_config(layout.config)
            changes = dict((per_node or {}).get(i, {}))
            if changes.get("misbehave"):
                self.test_faults[i] = ",".join(filter(None, (self.test_faults.get(i), changes["misbehave"])))
            if self.mesh is not None:
                changes["peers"] = tuple(f"127.0.0.1:{self.mesh.add(i, j, p2p[j])}" for j in range(n) if j != i)
                changes["dial_roster"] = False  # the addresses on chain would bypass the proxies
            if changes:
                import dataclasses

                layout.config.write_text(render_config(dataclasses.replace(config, **changes)))
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * n
        self.keys = [crypto.load_key_file(h.officer_key).key for h in self.homes]
        self.committed: set[str] = set()

    # --- processes ---------------------------------------------------------------------------------

    def start(self, i: int, *, wait: bool = True) -> None:
        proc = self.procs[i] = start_node(self.homes[i].home, self.log(i), test_faults=self.test_faults.get(i, ""))
        if wait:
            wait_ready(self.urls[i], proc, log=self.log(i))

    def log(self, i: int) -> Path:
        return self.root / f"node{i}.log"

    def start_all(self) -> None:
        """Start every node and wait until each answers; if one fails, kill the rest before raising."""
        try:
            for i in range(self.n):
                self.start(i, wait=False)
            for i in range(self.n):
                proc = self.procs[i]
                assert proc is not None
                wait_ready(self.urls[i], proc, log=self.log(i))
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Kill whatever is still running (after a failure), without the clean-stop assertions."""
        for i in range(self.n):
            if self.procs[i] is not None:
                self.kill(i)
        if self.mesh is not None:
            self.mesh.close()
            self.mesh = None

    def kill(self, i: int, sig: int = signal.SIGKILL) -> int:
        proc = self.procs[i]
        assert proc is not None
        self.procs[i] = None
        return kill(proc, sig)

    def stop_all(self) -> None:
        try:
            for i in range(self.n):
                if self.procs[i] is not None:
                    code = self.kill(i, signal.SIGTERM)
                    assert code == 0, f"node{i} did not stop cleanly; its log ends:\n{log_tail(self.log(i))}"
        finally:
            self.abort()

    def alive(self) -> list[int]:
        return [i for i in range(self.n) if self.procs[i] is not None]

    # --- reading -----------------------------------------------------------------------------------

    def height(self, i: int) -> int:
        status, body = http_json(self.urls[i] + "/v1/status", timeout=5)
        assert status == 200
        return int(body["height"])

    def wait_height(self, target: int, nodes: list[int] | None = None, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        nodes = self.alive() if nodes is None else nodes
        while time.monotonic() < deadline:
            if all(self.height(i) >= target for i in nodes):
                return
            time.sleep(0.05)
        heights = {i: self.height(i) for i in nodes}
        raise AssertionError(f"nodes {nodes} did not reach height {target} in {timeout}s: {heights}")

    def block_hash(self, i: int, height: int) -> str:
        status, body = http_json(f"{self.urls[i]}/v1/blocks/{height}", timeout=5)
        assert status == 200, body
        return str(body["hash"])

    # --- writing -----------------------------------------------------------------------------------

    def submit(self, i: int, labels: list[str]) -> list[str]:
        raws = [anchor_tx(self.keys[i], "cluster", label) for label in labels]
        body = json.dumps({"txs": [base64.b64encode(r).decode() for r in raws]}).encode()
        status, answer = http_json(self.urls[i] + "/v1/txs", data=body, timeout=10)
        assert status == 200 and answer["rejected"] == 0, answer
        return [decode_transaction(r).tx_id.hex() for r in raws]

    def wait_committed(self, i: int, tx_ids: list[str], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        for tx_id in tx_ids:
            while True:
                code, body = http_json(f"{self.urls[i]}/v1/txs/{tx_id}?wait=2", timeout=10)
                if code == 200 and body["status"] == "committed":
                    self.committed.add(tx_id)
                    break
                assert time.monotonic() < deadline, f"{tx_id} not committed on node{i}: {body}"

    # --- the checks every fault test ends with -----------------------------------------------------

    def assert_consistent(self) -> int:
        """Same block at every height on every live node; every reported-committed tx everywhere; returns head."""
        nodes = self.alive()
        head = min(self.height(i) for i in nodes)
        for height in range(1, head + 1):
            hashes = {self.block_hash(i, height) for i in nodes}
            assert len(hashes) == 1, f"fork at height {height}: {hashes}"
        for i in nodes:
            for tx_id in sorted(self.committed):
                code, body = http_json(f"{self.urls[i]}/v1/txs/{tx_id}")
                assert code == 200 and body["status"] == "committed", f"node{i} lost {tx_id}: {body}"
        return head

    def check_stores(self) -> None:
        for home in self.homes:
            report = check_home(home.home)
            assert report.ok, (home.home, report.problems)


class Load:
    """Background load: batches to the live nodes in turn; records what the API reported committed."""

    def __init__(self, cluster: Cluster, *, batch: int = 20) -> None:
        self.cluster = cluster
        self.batch = batch
        self.stop = threading.Event()
        self.errors: list[str] = []
        self.sent = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def __enter__(self) -> Load:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(60)

    def run(self) -> None:
        turn = 0
        while not self.stop.is_set():
            nodes = self.cluster.alive()
            if not nodes:
                time.sleep(0.05)
                continue
            i = nodes[turn % len(nodes)]
            turn += 1
            labels = [f"load-{turn}-{k}" for k in range(self.batch)]
            try:
                ids = self.cluster.submit(i, labels)
                self.sent += len(ids)
                code, body = http_json(f"{self.cluster.urls[i]}/v1/txs/{ids[-1]}?wait=3", timeout=10)
                if code == 200 and body["status"] == "committed":
                    self.cluster.committed.add(ids[-1])
            except (OSError, AssertionError) as exc:  # a node went down under us: try the next one
                self.errors.append(str(exc))
                time.sleep(0.05)
