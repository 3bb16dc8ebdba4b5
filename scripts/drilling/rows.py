"""One row of the drill: settle, inject the fault, hold it, heal, and time the recovery.

Timeline of a row (seconds from its start): [0, settle) measures throughput before; the fault holds for
`fault_s` from the moment it is in place (setting it up may take seconds: a home copied, a proposal
voted); "during" covers the set-up and the hold. The heal is followed by up to `recovery_s` of watching
heights every 0.1 s. "First commit" is the first block any node commits above the highest height seen at
the heal; "all synced" is when every node has such a block. Once all are synced the row watches `after_s`
more seconds to measure throughput after, then ends (so a quick recovery makes a short row).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from scripts.drilling.load import Load
from scripts.drilling.nemeses import Nemesis, Scene, faketime_missing
from scripts.drilling.net import DrillError, DrillNet
from scripts.drilling.report import Row

POLL_S = 0.1
IN_FLIGHT_S = 2.0
"""A commit already under way when the fault started may still land this long after it."""


@dataclass(frozen=True, slots=True)
class Timing:
    settle_s: float = 3.0
    fault_s: float = 20.0
    recovery_s: float = 20.0
    after_s: float = 3.0


def _max_height(net: DrillNet) -> int:
    heights = [h for h in net.heights().values() if h is not None]
    return max(heights, default=net.max_seen)


def _hold(until: float, net: DrillNet) -> None:
    while time.monotonic() < until:
        net.heights()  # keeps max_seen fresh for the load's expiry heights
        time.sleep(min(0.5, max(0.0, until - time.monotonic())))


def restore(net: DrillNet, say: Callable[[str], None]) -> None:
    """Bring back nodes an earlier row left down (a restart that failed), so each row starts whole."""
    for i, node in enumerate(net.nodes):
        if node.proc is None or node.proc.poll() is not None:
            say(f"{node.name} is down before the row; starting it")
            try:
                net.start(i)
            except DrillError as exc:
                say(f"{node.name} cannot start: {exc}")


def _act(what: str, action: Callable[[Scene], None], scene: Scene, row: Row) -> None:
    try:
        action(scene)
    except DrillError as exc:
        row.liveness.append(f"{what}: {exc}")


def _recover(
    net: DrillNet, row: Row, heal_height: int, healed: float, timing: Timing, banned: tuple[int, ...] = ()
) -> float:
    """Watch heights after the heal; fill first_commit_s / all_synced_s; return when 'after' starts.

    Times count from the heal's start (a restart is part of recovering); the window of `recovery_s`
    counts from its end, so a slow restart does not eat the window."""
    deadline = time.monotonic() + timing.recovery_s
    while time.monotonic() < deadline:
        heights = {i: h for i, h in net.heights().items() if i not in banned}
        now = time.monotonic()
        known = [h for h in heights.values() if h is not None]
        if row.first_commit_s is None and known and max(known) > heal_height:
            row.first_commit_s = now - healed
        if len(known) == len(heights) and min(known) > heal_height:
            row.all_synced_s = now - healed
            return now
        time.sleep(POLL_S)
    return healed


def run_row(net: DrillNet, load: Load, nemesis: Nemesis, timing: Timing) -> Row:
    """Run one nemesis under the load and return its row (lost/duplicated/forked come from the audit)."""
    row = Row(nemesis.name, nemesis.about)
    if nemesis.needs_faketime and (why := faketime_missing()):
        row.skipped = why
        return row
    started, low = time.monotonic(), _max_height(net)
    _hold(started + timing.settle_s, net)
    scene = Scene(net, timing.fault_s)
    fault_at = time.monotonic()
    _act("inject", nemesis.inject, scene, row)
    in_place = time.monotonic()  # some faults take seconds to set up (a copy of a home, a proposal)
    _hold(in_place + IN_FLIGHT_S, net)
    settled_height = _max_height(net)
    _hold(in_place + timing.fault_s, net)
    heal_height = _max_height(net)
    row.progress_during = heal_height > settled_height
    healed = time.monotonic()
    _act("heal", nemesis.heal, scene, row)
    after_from = _recover(net, row, heal_height, healed, timing, nemesis.banned)
    for index in nemesis.banned:
        row.notes.append(f"node{index}'s key is banned by its peers for what the fault sent with it; it is left out "
                         "of 'all synced' and rejoins when the ban ends")
    if row.all_synced_s is not None:
        _hold(after_from + timing.after_s, net)
    if nemesis.verify is not None:
        _act("verify", nemesis.verify, scene, row)
    ended = time.monotonic()
    row.window, row.heights = (started, ended), (low, _max_height(net))
    row.acked = load.count(started, ended)
    row.before_tps = load.rate(started, fault_at)
    row.during_tps = load.rate(fault_at, healed)
    row.after_tps = load.rate(after_from, ended)
    _judge(row, nemesis, timing, settled_height, heal_height)
    row.notes.extend(scene.notes)
    return row


def _judge(row: Row, nemesis: Nemesis, timing: Timing, settled: int, healed: int) -> None:
    if nemesis.stalls and row.progress_during:
        row.safety.append(f"committed without a quorum: height {settled} -> {healed} during the fault")
    if not nemesis.stalls and not row.progress_during:
        row.liveness.append("no block committed during the fault")
    if row.first_commit_s is None:
        row.liveness.append(f"no commit within {timing.recovery_s:.0f} s of the heal")
    if row.all_synced_s is None:
        row.liveness.append(f"not every node caught up within {timing.recovery_s:.0f} s of the heal")


def compare_byzantine(rows: list[Row]) -> None:
    """The goal: throughput during the flood within 2x of the row where the same validator is silent."""
    by_name = {r.name: r for r in rows}
    silent, flood = by_name.get("byz-silent"), by_name.get("byz-flood")
    if silent is None or flood is None or silent.skipped or flood.skipped:
        return
    if flood.during_tps * 2 < silent.during_tps:
        flood.liveness.append(f"throughput under the flood {flood.during_tps:.1f} tx/s is under half of the "
                              f"silent row's {silent.during_tps:.1f} tx/s")
