"""The drill's network: department nodes as real processes on 127.0.0.1, each node's `peers` pointing at
one TCP proxy per ordered pair (tests.cluster.ProxyMesh), so the drill can cut and heal any pair of nodes.

The drill owns every process it starts (nodes, a second copy of a node, the Byzantine tool) and ends each
by its pid; `close` kills whatever is still running.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import threading
import urllib.error
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from chainnode import crypto
from chainnode.config import HomeLayout, load_config, render_config
from chainnode.home import DepartmentSpec, init_network, join_home
from tests.cluster import DEPARTMENTS, FAST, ProxyMesh
from tests.nodeproc import START_NODE, free_port, http_json, log_tail, wait_ready

CHAIN_ID: Final = "drill"
DRILL_CONFIG: Final[dict[str, Any]] = {**FAST, "log_level": "info", "dial_roster": False}
"""The fast timeouts of the cluster tests: a round that fails costs about 2 s, not 5. Nodes dial only
their configured peers (the proxies): the addresses on chain would bypass the partitions."""


class DrillError(Exception):
    """Something the drill needs is missing or broke (not a finding about the chain): exit 2."""


@dataclass(slots=True)
class NodeSlot:
    """One node process the drill runs: its home, addresses and, while it runs, its process."""

    name: str
    home: Path
    url: str
    p2p: str
    """The node's real P2P address (its peers reach it through proxies instead)."""
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    paused: bool = False
    env: dict[str, str] = field(default_factory=dict)
    """Extra environment of the node process (libfaketime's, for a skewed clock)."""


class DrillNet:
    """Nodes, proxies and helper processes of one drill run."""

    def __init__(self, root: Path, *, n: int = 4) -> None:
        self.root = root
        api = [free_port() for _ in range(n)]
        p2p = [free_port() for _ in range(n)]
        self.genesis, homes = init_network(
            [root / f"node{i}" for i in range(n)], chain_id=CHAIN_ID,
            departments=[DepartmentSpec(code=c, name=m, power=10) for c, m in DEPARTMENTS[:n]],
            api_ports=api, p2p_ports=p2p, config_overrides=DRILL_CONFIG,
        )
        self.mesh = ProxyMesh()
        self.nodes: list[NodeSlot] = []
        for i, created in enumerate(homes):
            layout = HomeLayout(created.home)
            config = load_config(layout.config)
            peers = tuple(f"127.0.0.1:{self.mesh.add(i, j, p2p[j])}" for j in range(n) if j != i)
            layout.config.write_text(render_config(dataclasses.replace(config, peers=peers)))
            self.nodes.append(NodeSlot(f"node{i}", created.home, created.api_url, config.p2p_listen,
                                       root / f"node{i}.log"))
        self.keys = [crypto.load_key_file(h.officer_key).key for h in homes]
        self.helpers: dict[str, subprocess.Popen[bytes]] = {}
        self.max_seen = 0
        self._lock = threading.Lock()

    # --- node processes --------------------------------------------------------------------------

    def start(self, i: int, *, wait: bool = True, env: dict[str, str] | None = None) -> None:
        node = self.nodes[i]
        node.env = dict(env or {})
        with node.log.open("ab") as handle:
            node.proc = subprocess.Popen([sys.executable, "-c", START_NODE, str(node.home)],
                                         stdout=handle, stderr=subprocess.STDOUT, env={**os.environ, **node.env})
        if wait:
            self.wait_ready(i)

    def wait_ready(self, i: int, timeout: float = 60) -> None:
        node = self.nodes[i]
        if node.proc is None:
            raise DrillError(f"{node.name} is not running")
        try:
            wait_ready(node.url, node.proc, timeout, log=node.log)
        except AssertionError as exc:
            raise DrillError(f"{node.name} did not start: {exc}") from None

    def start_all(self) -> None:
        for i in range(len(self.nodes)):
            self.start(i, wait=False)
        for i in range(len(self.nodes)):
            self.wait_ready(i)

    def send_signal(self, i: int, sig: int) -> None:
        """Send `sig` to node i's own process (SIGKILL and SIGTERM also forget it; SIGSTOP marks it paused)."""
        node = self.nodes[i]
        if node.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):  # it may have exited on its own
            if node.paused and sig != signal.SIGCONT:
                os.kill(node.proc.pid, signal.SIGCONT)  # a stopped process would not act on SIGTERM
            os.kill(node.proc.pid, sig)
        node.paused = sig == signal.SIGSTOP
        if sig in (signal.SIGKILL, signal.SIGTERM):
            try:
                node.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.kill(node.proc.pid, signal.SIGKILL)
                node.proc.wait(30)
            node.proc = None

    def exit_code(self, i: int, sig: int = signal.SIGTERM) -> int | None:
        """Stop node i with `sig` and return its exit code (None if it was not running)."""
        proc = self.nodes[i].proc
        self.send_signal(i, sig)
        return None if proc is None else proc.returncode

    def running(self) -> list[int]:
        return [i for i, n in enumerate(self.nodes) if n.proc is not None and n.proc.poll() is None]

    def serving(self) -> list[int]:
        """Nodes that answer API calls: running and not paused."""
        return [i for i in self.running() if not self.nodes[i].paused]

    # --- partitions ------------------------------------------------------------------------------

    def cut(self, pairs: set[frozenset[int]]) -> None:
        self.mesh.cut_pairs(pairs)

    def heal(self) -> None:
        self.mesh.heal()

    # --- reading ---------------------------------------------------------------------------------

    def height(self, i: int) -> int | None:
        """Node i's committed height, or None if it does not answer within a second."""
        if i not in self.serving():
            return None
        try:
            code, body = http_json(self.nodes[i].url + "/v1/status", timeout=1)
        except (OSError, urllib.error.URLError, ValueError):
            return None
        if code != 200:
            return None
        height = int(body["height"])
        with self._lock:
            self.max_seen = max(self.max_seen, height)
        return height

    def heights(self) -> dict[int, int | None]:
        return {i: self.height(i) for i in range(len(self.nodes))}

    # --- helper processes ------------------------------------------------------------------------

    def spawn(self, name: str, argv: list[str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as handle:
            proc = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT)
        self.helpers[name] = proc
        return proc

    def end_helper(self, name: str, sig: int = signal.SIGKILL) -> int | None:
        proc = self.helpers.pop(name, None)
        if proc is None:
            return None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, sig)
        try:
            return proc.wait(30)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            return proc.wait(30)

    def copy_home(self, i: int, name: str) -> tuple[Path, str]:
        """A copy of node i's stopped home with its own ports, dialing the others directly; returns (home, url)."""
        target = self.root / name
        shutil.copytree(self.nodes[i].home, target)
        layout = HomeLayout(target)
        config = load_config(layout.config)
        api_port = free_port()
        peers = tuple(n.p2p for k, n in enumerate(self.nodes) if k != i)
        layout.config.write_text(render_config(dataclasses.replace(
            config, api_listen=f"127.0.0.1:{api_port}", p2p_listen=f"127.0.0.1:{free_port()}", peers=peers)))
        return target, f"http://127.0.0.1:{api_port}"

    def add_joiner(self, code: str, name: str) -> tuple[int, dict[str, Any]]:
        """Make the home of a department that asks to join, add it as a node (not started); returns its index
        and the add_department proposal payload (the new node dials the others through new proxies)."""
        index = len(self.nodes)
        api_port, p2p_port = free_port(), free_port()
        peers = tuple(f"127.0.0.1:{self.mesh.add(index, j, self._port(n.p2p))}" for j, n in enumerate(self.nodes))
        joining = join_home(self.root / f"node{index}", genesis_path=HomeLayout(self.nodes[0].home).genesis,
                            department=code, peers=peers, api_port=api_port, p2p_port=p2p_port,
                            config_overrides=DRILL_CONFIG)
        for j, node in enumerate(self.nodes):  # the others reach it through proxies too
            layout = HomeLayout(node.home)
            config = load_config(layout.config)
            proxy = self.mesh.add(j, index, p2p_port)
            layout.config.write_text(render_config(dataclasses.replace(
                config, peers=(*config.peers, f"127.0.0.1:{proxy}"))))
        self.nodes.append(NodeSlot(f"node{index}", joining.home, f"http://127.0.0.1:{api_port}",
                                   f"127.0.0.1:{p2p_port}", self.root / f"node{index}.log"))
        payload = joining.proposal_payload(name=name, power=10, address="")
        payload["node_key"] = bytes.fromhex(payload["node_key"])
        payload["admins"][0]["public_key"] = bytes.fromhex(payload["admins"][0]["public_key"])
        return index, payload

    @staticmethod
    def _port(address: str) -> int:
        return int(address.rpartition(":")[2])

    def log_tail(self, i: int, lines: int = 15) -> str:
        return log_tail(self.nodes[i].log, lines)

    # --- the end ---------------------------------------------------------------------------------

    def stop_all(self) -> dict[str, int]:
        """SIGTERM every node (after SIGCONT if paused); return each node's exit code."""
        codes: dict[str, int] = {}
        for i, node in enumerate(self.nodes):
            code = self.exit_code(i, signal.SIGTERM)
            if code is not None:
                codes[node.name] = code
        return codes

    def close(self) -> None:
        """Kill whatever still runs (after a failure, or at the end) and stop the proxies."""
        for name in list(self.helpers):
            self.end_helper(name)
        for i in self.running():
            self.send_signal(i, signal.SIGKILL)
        self.mesh.close()
