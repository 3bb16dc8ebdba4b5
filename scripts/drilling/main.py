"""`scripts/drill`: the command line, the run from start to audit, and the exit code.

Exit codes: 0 every row passed; 1 a safety finding (a lost, duplicated or forked write, a commit without a
quorum) or a node that did not stop cleanly or failed `chainnode check`; 3 only liveness findings (a
stall, a slow recovery, the Byzantine throughput goal missed); 2 the drill itself could not run.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from scripts.bench.ledger import verify_floor
from scripts.drilling.load import Load
from scripts.drilling.nemeses import NEMESES, Nemesis, faketime_missing, select
from scripts.drilling.net import DrillError, DrillNet
from scripts.drilling.report import Row, audit, format_row, format_table, write_json
from scripts.drilling.rows import Timing, compare_byzantine, restore, run_row

WARM_UP_S = 60.0
FINAL_SYNC_S = 30.0


def say(message: str) -> None:
    print(f"drill: {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/drill", description="Run the fault drill: 4 real nodes under load, one nemesis after another.",
        epilog="Nemeses: " + ", ".join(n.name for n in NEMESES) + ". Exit: 0 pass, 1 safety or store check "
               "failure, 3 liveness findings only, 2 the drill could not run.")
    parser.add_argument("--only", metavar="NAME[,NAME]", help="run only these nemeses (in the drill's order)")
    parser.add_argument("--list", action="store_true", help="list the nemeses and exit")
    parser.add_argument("--fault", type=float, default=20.0, metavar="S", help="seconds each fault holds (20)")
    parser.add_argument("--recovery", type=float, default=20.0, metavar="S",
                        help="seconds to wait for recovery after the heal (20)")
    parser.add_argument("--settle", type=float, default=3.0, metavar="S",
                        help="seconds of load before each fault, for 'tps before' (3)")
    parser.add_argument("--after", type=float, default=3.0, metavar="S",
                        help="seconds of load after every node caught up, for 'tps after' (3)")
    parser.add_argument("--workers", type=int, default=4, help="concurrent clients (4)")
    parser.add_argument("--batch", type=int, default=10, help="writes each client has in flight (10)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the rows to FILE as JSON")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep node homes and logs in DIR (new or empty)")
    return parser.parse_args(argv)


def check_store(home: Path) -> tuple[bool, str]:
    """Run `chainnode check --home HOME`; (passed, its last line)."""
    binary = Path(sys.executable).parent / "chainnode"
    argv = [str(binary)] if binary.exists() else [sys.executable, "-m", "chainnode.cli"]
    done = subprocess.run([*argv, "check", "--home", str(home)], capture_output=True, text=True, timeout=600)
    lines = done.stdout.strip().splitlines() or done.stderr.strip().splitlines()
    return done.returncode == 0, lines[-1] if lines else f"exit {done.returncode}"


def check_stores(net: DrillNet) -> list[str]:
    """`chainnode check` every home, one per core at a time (a check is CPU-bound and single-threaded)."""
    problems: list[str] = []
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        outcomes = pool.map(lambda node: (node.name, *check_store(node.home)), net.nodes)
        for name, passed, last in outcomes:
            say(f"chainnode check --home {name}: {'ok' if passed else 'FAILED'}: {last}")
            if not passed:
                problems.append(f"chainnode check failed for {name}: {last}")
    return problems


def _warm_up(load: Load) -> None:
    deadline = time.monotonic() + WARM_UP_S
    while not load.acks:
        if time.monotonic() > deadline:
            raise DrillError(f"no write was committed in the first {WARM_UP_S:.0f} s; see the node logs")
        time.sleep(0.2)


def _final_sync(net: DrillNet) -> None:
    """With the load stopped, give every node a moment to reach the same head before they stop."""
    deadline = time.monotonic() + FINAL_SYNC_S
    while time.monotonic() < deadline:
        heights = set(net.heights().values())
        if len(heights) == 1 and None not in heights:
            return
        time.sleep(0.2)
    say(f"nodes stop at different heights: {net.heights()}")


def run_drill(root: Path, nemeses: list[Nemesis], timing: Timing, args: argparse.Namespace) -> tuple[
        list[Row], list[str], Load, DrillNet]:
    """Start the network and the load, run every row, stop everything; returns rows, problems, load, net."""
    net = DrillNet(root)
    problems: list[str] = []
    rows: list[Row] = []
    load = Load(net, workers=args.workers, batch=args.batch)
    try:
        say(f"starting {len(net.nodes)} nodes under {root}")
        net.start_all()
        load.start()
        _warm_up(load)
        for nemesis in nemeses:
            restore(net, say)
            say(f"{nemesis.name}: {nemesis.about}")
            row = run_row(net, load, nemesis, timing)
            rows.append(row)
            say("  " + "  ".join(f"{h}={v}" for h, v in zip(("acked", "before", "during", "after", "1st", "synced"),
                                                               format_row(row)[1:2] + format_row(row)[5:10],
                                                               strict=True)) + f"  {row.verdict}")
        compare_byzantine(rows)
        load.stop()
        restore(net, say)
        _final_sync(net)
        for name, code in net.stop_all().items():
            if code != 0:
                problems.append(f"{name} exited with code {code} on SIGTERM")
    finally:
        load.stop()
        net.close()
    return rows, problems, load, net


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for nemesis in NEMESES:
            print(f"{nemesis.name:14} {nemesis.about}")
        return 0
    try:
        nemeses = select(args.only)
    except DrillError as exc:
        say(str(exc))
        return 2
    if any(n.needs_faketime for n in nemeses) and (why := faketime_missing()):
        say(f"{why}; the clock-skew rows will be skipped")
    timing = Timing(settle_s=args.settle, fault_s=args.fault, recovery_s=args.recovery, after_s=args.after)
    floor = verify_floor()  # the cluster benchmark's floor, so the two figures compare
    say(f"floor: {floor:,.0f} Ed25519 verifications/s on one core")
    started = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="drill-") as scratch:
        root = args.keep if args.keep is not None else Path(scratch)
        if args.keep is not None:
            if args.keep.exists() and any(args.keep.iterdir()):
                say(f"--keep {args.keep} is not empty")
                return 2
            args.keep.mkdir(parents=True, exist_ok=True)
        try:
            rows, problems, load, net = run_drill(root, nemeses, timing, args)
        except DrillError as exc:
            say(f"cannot run the drill: {exc}")
            return 2
        problems += audit(rows, load.acks, [n.home for n in net.nodes])
        problems += check_stores(net)
    print(format_table(rows))
    print(f"\nwrites: {len(load.acks)} acknowledged of {load.sent} sent ({load.resent} resent to another node, "
          f"{load.errors} client errors); floor {floor:,.0f} Ed25519 verifications/s; {platform.node()}, "
          f"{os.cpu_count()} cores, {started:%Y-%m-%d %H:%M} UTC")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    if args.json is not None:
        write_json(args.json, rows, {"started": started.isoformat(), "floor_verify_per_s": round(floor),
                                     "problems": problems, "acknowledged": len(load.acks), "sent": load.sent})
    if problems or any(r.safety for r in rows):
        return 1
    return 3 if any(r.liveness for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
