"""The nemeses, in the spirit of Jepsen's Tendermint analysis: crashes, a pause, partitions, a torn WAL, a
skewed clock, one key on two nodes, a membership change under a crash, and a Byzantine validator.

Each is a pair of actions: `inject` starts the fault, `heal` ends it (and restarts what it stopped). A
nemesis with `stalls` takes the quorum away: the drill then expects no commit during the fault.
"""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from chainnode import crypto
from chainnode.client import Client
from chainnode.config import HomeLayout
from chainnode.errors import ChainError
from scripts.drilling.net import DrillError, DrillNet
from tests.nodeproc import START_NODE, http_json, wait_ready

ROOT: Final = Path(__file__).resolve().parents[2]
FAKETIME_HINT: Final = "install libfaketime to run it: apt-get install -y faketime (Debian/Ubuntu)"


@dataclass(slots=True)
class Scene:
    """What a nemesis acts on: the network, the fault window, and notes for its row."""

    net: DrillNet
    fault_s: float
    notes: list[str] = field(default_factory=list)
    scratch: dict[str, Any] = field(default_factory=dict)


Action = Callable[[Scene], None]


@dataclass(frozen=True, slots=True)
class Nemesis:
    name: str
    about: str
    inject: Action
    heal: Action
    stalls: bool = False
    needs_faketime: bool = False
    verify: Action | None = None
    """Run once the row has recovered: checks that add notes (the new validator signs, ...)."""
    banned: tuple[int, ...] = ()
    """Nodes whose key the others ban for what the fault did with it: not expected to catch up within the
    recovery window (they rejoin when the ban ends, 60 s for a first ban)."""


def find_libfaketime() -> Path | None:
    """libfaketime's multi-threaded library (the node runs threads), where Debian's package puts it."""
    for pattern in ("/usr/lib/*/faketime/libfaketimeMT.so.1", "/usr/lib/faketime/libfaketimeMT.so.1",
                    "/usr/local/lib/faketime/libfaketimeMT.so.1"):
        found = sorted(glob.glob(pattern))
        if found:
            return Path(found[0])
    return None


def faketime_missing() -> str | None:
    """Why a skewed clock cannot be run here, or None if libfaketime is installed."""
    return None if find_libfaketime() is not None else f"libfaketime is not installed; {FAKETIME_HINT}"


# --- crashes and pauses ------------------------------------------------------------------------------


def _kill(*nodes: int) -> Action:
    def inject(scene: Scene) -> None:
        for i in nodes:
            scene.net.send_signal(i, signal.SIGKILL)
    return inject


def _stop(*nodes: int) -> Action:
    def inject(scene: Scene) -> None:
        for i in nodes:
            scene.net.send_signal(i, signal.SIGTERM)
    return inject


def _restart(*nodes: int) -> Action:
    def heal(scene: Scene) -> None:
        for i in nodes:
            scene.net.start(i, wait=False)
        for i in nodes:
            scene.net.wait_ready(i)
    return heal


def _pause(scene: Scene) -> None:
    scene.net.send_signal(1, signal.SIGSTOP)


def _resume(scene: Scene) -> None:
    scene.net.send_signal(1, signal.SIGCONT)


# --- partitions ----------------------------------------------------------------------------------------


def _cut(*pairs: tuple[int, int]) -> Action:
    def inject(scene: Scene) -> None:
        scene.net.cut({frozenset(p) for p in pairs})
    return inject


def _heal_links(scene: Scene) -> None:
    scene.net.heal()


# --- a torn WAL ----------------------------------------------------------------------------------------


def _truncate_tail(path: Path, fraction: float, at_most: int) -> int:
    size = path.stat().st_size
    cut = min(at_most, int(size * fraction))
    if cut:
        os.truncate(path, size - cut)
    return cut


def _tear_wal(scene: Scene) -> None:
    """Kill node 2 and cut the tails of its newest WAL file and of LevelDB's newest log."""
    scene.net.send_signal(2, signal.SIGKILL)
    layout = HomeLayout(scene.net.nodes[2].home)
    for what, folder, pattern in (("WAL", layout.wal, "*"), ("LevelDB log", layout.data, "*.log")):
        files = sorted((p for p in folder.glob(pattern) if p.is_file() and p.stat().st_size),
                       key=lambda p: p.stat().st_mtime)
        if not files:
            scene.notes.append(f"no {what} file to truncate in {folder}")
            continue
        cut = _truncate_tail(files[-1], 0.25, 4096)
        scene.notes.append(f"cut {cut} bytes off {what} {files[-1].name}")


# --- a skewed clock ------------------------------------------------------------------------------------


def _skew(offset: str) -> Action:
    def inject(scene: Scene) -> None:
        library = find_libfaketime()
        if library is None:
            raise DrillError(f"libfaketime is not installed; {FAKETIME_HINT}")
        scene.net.send_signal(1, signal.SIGTERM)
        # Preloaded into the node itself, not through the `faketime` wrapper, which forks: a signal to the
        # wrapper would not reach the node. Monotonic time stays real: asyncio's timers run on it.
        scene.net.start(1, env={"LD_PRELOAD": str(library), "FAKETIME": offset,
                                "FAKETIME_DONT_FAKE_MONOTONIC": "1"})
    return inject


def _unskew(scene: Scene) -> None:
    scene.net.send_signal(1, signal.SIGTERM)
    scene.net.start(1)


# --- one key on two nodes ------------------------------------------------------------------------------


def _twin(scene: Scene) -> None:
    """Stop node 2, copy its home (keys, store, WAL), and run both the original and the copy."""
    net = scene.net
    net.send_signal(2, signal.SIGTERM)
    home, url = net.copy_home(2, f"node2-twin-{time.monotonic_ns()}")
    net.start(2)
    proc = net.spawn("twin", [sys.executable, "-c", START_NODE, str(home)], net.root / "node2-twin.log")
    try:
        wait_ready(url, proc, 60, log=net.root / "node2-twin.log")
    except AssertionError as exc:
        raise DrillError(f"the copy of node2 did not start: {exc}") from None
    scene.scratch["twin_home"] = home


def _end_twin(scene: Scene) -> None:
    scene.net.end_helper("twin", signal.SIGKILL)


def _count_evidence(scene: Scene) -> None:
    """After the row: how many duplicate-vote evidence records of node2's key the chain holds."""
    key = crypto.load_key_file(HomeLayout(scene.net.nodes[2].home).node_key).key.public_key.hex()
    code, body = http_json(f"{scene.net.nodes[0].url}/v1/history/validator:{key}", timeout=5)
    events = [e for e in body.get("events", []) if e.get("code") == "ok"] if code == 200 else []
    scene.notes.append(f"{len(events)} evidence records of the doubled key committed")


# --- a Byzantine validator -----------------------------------------------------------------------------


def _attack(scene: Scene) -> None:
    """Stop node 3 and run scripts/byzantine.py with its node key in its place."""
    net = scene.net
    net.send_signal(3, signal.SIGTERM)
    peers = ",".join(n.p2p for k, n in enumerate(net.nodes) if k != 3)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "scripts.byzantine", "--home", str(net.nodes[3].home), "--peers", peers,
            "--seconds", str(int(scene.fault_s) + 30)]
    log = net.root / "byzantine.log"
    with log.open("ab") as handle:
        net.helpers["byzantine"] = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, env=env)


def _end_attack(scene: Scene) -> None:
    code = scene.net.end_helper("byzantine", signal.SIGTERM)
    lines = (scene.net.root / "byzantine.log").read_text(errors="replace").splitlines()
    summary = next((line for line in reversed(lines) if line.startswith("byzantine: sent")), None)
    scene.notes.append(summary or f"the Byzantine tool printed no summary (exit {code})")
    _restart(3)(scene)


# --- a validator-set change under a crash --------------------------------------------------------------


def _call(url: str, scene: Scene, key_index: int, method: str, args: dict[str, Any]) -> dict[str, Any] | None:
    try:
        with Client(url, timeout=30) as client:
            return client.call(scene.net.keys[key_index], "governance", method, args, wait_s=30)
    except ChainError as exc:
        scene.notes.append(f"governance.{method} by key {key_index}: {exc}")
        return None


def _join(scene: Scene) -> None:
    """Start a fifth department's node, propose adding it, kill node 2 between the votes."""
    net = scene.net
    index, payload = net.add_joiner("HRSS", "Human Resources")
    scene.scratch["joiner"] = index
    net.start(index)
    head = max(h for h in net.heights().values() if h is not None)
    proposed = _call(net.nodes[0].url, scene, 0, "propose", {
        "kind": "add_department", "payload": payload, "title": "Admit HRSS",
        "deadline_height": head + 500, "effective_height": head + 5,
    })
    if proposed is None:
        raise DrillError("the add_department proposal was not committed")
    proposal_id = next(e["attributes"]["id"] for e in proposed["result"]["events"] if e["kind"] == "proposal.created")
    _call(net.nodes[1].url, scene, 1, "vote", {"proposal_id": proposal_id, "approve": True})
    net.send_signal(2, signal.SIGKILL)  # a validator crashes while the change is being decided
    for voter in (2, 3):
        _call(net.nodes[1 if voter == 2 else 3].url, scene, voter, "vote",
              {"proposal_id": proposal_id, "approve": True})
    scene.scratch["joiner_key"] = payload["node_key"].hex()


def _check_joined(scene: Scene) -> None:
    key = scene.scratch.get("joiner_key")
    code, body = http_json(f"{scene.net.nodes[0].url}/v1/validators", timeout=5)
    members = [v["public_key"] for v in body.get("validators", [])] if code == 200 else []
    scene.notes.append(f"validators now: {len(members)}; the new department "
                       f"{'is' if key in members else 'is NOT'} one of them")


NEMESES: Final[tuple[Nemesis, ...]] = (
    Nemesis("kill-one", "kill -9 node3, restart it", _kill(3), _restart(3)),
    Nemesis("kill-two", "kill -9 node2 and node3 (no quorum), restart both", _kill(2, 3), _restart(2, 3),
            stalls=True),
    Nemesis("pause", "SIGSTOP node1, then SIGCONT", _pause, _resume),
    Nemesis("isolate", "cut node0 off from every other node", _cut((0, 1), (0, 2), (0, 3)), _heal_links),
    Nemesis("split", "partition {0,1} | {2,3}", _cut((0, 2), (0, 3), (1, 2), (1, 3)), _heal_links, stalls=True),
    Nemesis("ring", "ring 0-1-2-3-0: cut 0-2 and 1-3", _cut((0, 2), (1, 3)), _heal_links),
    Nemesis("line", "line 0-1-2-3: cut 0-2, 0-3 and 1-3", _cut((0, 2), (0, 3), (1, 3)), _heal_links),
    Nemesis("wal-truncate", "kill -9 node2, cut the tails of its WAL and LevelDB log, restart", _tear_wal,
            _restart(2)),
    Nemesis("clock-ahead", "node1's clock 30 s ahead (faketime)", _skew("+30s"), _unskew, needs_faketime=True),
    Nemesis("clock-behind", "node1's clock 30 s behind (faketime)", _skew("-30s"), _unskew, needs_faketime=True),
    Nemesis("dup-key", "node2's home copied and run twice at once (one key, two nodes)", _twin, _end_twin,
            verify=_count_evidence),
    Nemesis("byz-silent", "node3 stopped (silent validator): the baseline of byz-flood", _stop(3), _restart(3)),
    Nemesis("byz-flood", "node3's key floods signed junk proposals and future-round votes", _attack, _end_attack,
            banned=(3,)),
    Nemesis("valset-add", "add a fifth validator by proposal while node2 is killed and restarted", _join, _restart(2),
            verify=_check_joined),
)


def select(only: str | None) -> list[Nemesis]:
    """The nemeses named in `only` (comma-separated; all when None), in the drill's order."""
    if not only:
        return list(NEMESES)
    wanted = [name.strip() for name in only.split(",") if name.strip()]
    known = {n.name for n in NEMESES}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise DrillError(f"unknown nemesis {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return [n for n in NEMESES if n.name in wanted]
