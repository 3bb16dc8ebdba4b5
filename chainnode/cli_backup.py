"""`chainnode backup` and `chainnode restore`: a node home's store and blobs to one file and back.

`backup --home HOME --out FILE` asks a running node over HOME/admin.sock for a snapshot as of one committed
height (the node keeps committing meanwhile); with the node stopped it reads the store itself. `restore
--home HOME --from FILE` rebuilds HOME/data (which must not hold a store) and HOME/blobs, checks the whole
file, then runs `chainnode check` on the result. Keys, config.toml and the WAL are never in a backup.
"""

from __future__ import annotations

import argparse
import http.client
import socket
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from chainnode import backup
from chainnode.cli import UsageError, emit
from chainnode.config import HomeLayout
from chainnode.errors import ChainError, StoreLocked


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = str(path)

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


class _Progress:
    """Plain progress lines on stderr, at most one every two seconds, with a percentage and an ETA when the
    total is known (`estimated`: the total is an estimate, so the line says "about" and never shows 100 %
    before the end)."""

    def __init__(self, what: str, *, estimated: bool = False) -> None:
        self.what, self.start, self.last = what, time.monotonic(), 0.0
        self.estimated = estimated

    def __call__(self, unit: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < 2.0:
            return
        self.last = now
        if total and done < total:
            rate = done / max(now - self.start, 1e-6)
            eta = (total - done) / rate if rate else 0
            about = "about " if self.estimated else ""
            percent = min(100 * done / total, 99.0) if self.estimated else 100 * done / total
            line = f"{self.what}: {done / 1e6:,.1f} of {about}{total / 1e6:,.1f} MB ({percent:.0f}%), " \
                   f"about {eta:.0f} s left"
        elif unit == "bytes":
            line = f"{self.what}: {done / 1e6:,.1f} MB so far"
        else:
            line = f"{self.what}: {done:,} {unit} so far"
        print(line, file=sys.stderr, flush=True)


def _counted(frames: Iterator[bytes], progress: _Progress, estimate: int) -> Iterator[bytes]:
    done = 0
    for frame in frames:
        done += len(frame)
        progress("bytes", done, estimate)
        yield frame


def _from_running_node(sock: Path) -> tuple[Iterator[bytes], int, int] | None:
    """The backup stream of the node listening on `sock`, its height and estimated size, or None if no node
    answers there."""
    if not sock.exists():
        return None
    connection = _UnixConnection(sock, timeout=60.0)
    try:
        connection.request("GET", "/backup")
        response = connection.getresponse()
    except (ConnectionRefusedError, FileNotFoundError):
        return None  # a socket left by a node that is gone
    except OSError as exc:
        raise ChainError(f"the node's admin socket {sock} did not answer: {exc}") from exc
    if response.status != 200:
        reason = response.read(500).decode(errors="replace").strip()
        raise ChainError(f"the node did not start the backup ({response.status}): {reason}")
    height = int(response.getheader("X-Chainnode-Height") or -1)
    estimate = int(response.getheader("X-Chainnode-Estimated-Bytes") or 0)

    def chunks() -> Iterator[bytes]:
        try:
            while chunk := response.read(1 << 20):
                yield chunk
        finally:
            connection.close()

    return chunks(), height, estimate


def cmd_backup(args: argparse.Namespace) -> int:
    layout = HomeLayout(args.home)
    if not layout.config.is_file():
        raise UsageError(f"{args.home} is not a node home (no config.toml)", field="home")
    out: Path = args.out
    if out.exists() and not args.force:
        raise UsageError(f"{out} exists; choose another name or pass --force", field="out")
    if not out.parent.is_dir():
        raise UsageError(f"the directory {out.parent} does not exist", field="out")
    streamed = _from_running_node(layout.root / backup.ADMIN_SOCKET)
    if streamed is not None:
        frames, height, estimate = streamed
        source = "the running node"
    else:
        from chainnode.genesis import load_genesis
        from chainnode.store import Store

        if not layout.data.is_dir():
            raise UsageError(f"{args.home} holds no store ({layout.data} is missing)", field="home")
        genesis = load_genesis(layout.genesis)
        try:
            store = Store(layout.data, upgrade=False)
        except StoreLocked as exc:
            raise ChainError(f"a node runs on {args.home} but its admin socket "
                             f"{layout.root / backup.ADMIN_SOCKET} does not answer; restart the node "
                             "(it creates the socket) or stop it and run this again") from exc
        snapshot = store.snapshot()
        height = snapshot.head_height()
        frames = backup.backup_frames(snapshot, layout.blobs, chain_id=genesis.chain_id,
                                      genesis_hash=genesis.hash)
        estimate = backup.estimate_backup_bytes(layout.data, layout.blobs)
        source = "the stopped node's store"
    try:
        written = backup.write_backup_file(_counted(frames, _Progress("backup", estimated=True), estimate), out)
    finally:
        if streamed is None:
            snapshot.close()
            store.close()
    header = backup.read_header(out)
    document = {"out": str(out), "bytes": written, "height": header.height, "chain_id": header.chain_id,
                "source": source}
    emit(args, document, [f"backup of {args.home} at height {height} from {source}: {out} ({written:,} bytes)",
                          f"restore it with: chainnode restore --home NEW_HOME --from {out}"])
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from chainnode.genesis import load_genesis

    layout = HomeLayout(args.home)
    if not layout.genesis.is_file() or not layout.config.is_file():
        raise UsageError(f"{args.home} is not a node home: restore into a home with the network's genesis.json, "
                         "config.toml and keys (chainnode join/init creates one; or the home you backed up, with "
                         "its data directory moved away)", field="home")
    genesis = load_genesis(layout.genesis)
    layout.blobs.mkdir(parents=True, exist_ok=True)
    report = backup.restore(args.source, data_dir=layout.data, blobs_dir=layout.blobs, genesis_hash=genesis.hash,
                            progress=_Progress("restore"))
    lines = [f"restored {report.rows:,} rows and {report.blobs} blobs of chain {report.header.chain_id} at height "
             f"{report.header.height} into {layout.data}"]
    document: dict[str, Any] = {"home": str(args.home), "height": report.header.height, "rows": report.rows,
                                "blobs": report.blobs}
    if not args.no_check:
        from chainnode.check import check_home

        checked = check_home(args.home, progress=lambda message: print(message, file=sys.stderr, flush=True))
        document["check_ok"] = bool(checked.ok)
        if not checked.ok:
            emit(args, document, [*lines, f"chainnode check found {len(checked.problems)} problem(s) in the "
                                  "restored store; run `chainnode check --home` for the list"])
            return 1
        lines.append(f"chainnode check: OK ({checked.blocks_checked} blocks)")
    if not layout.wal.exists():
        lines.append("note: this home has no consensus WAL. If it is a validator's new disk, its key may have "
                     "signed at the network's current height: start it and let it catch up before the key "
                     "signs again (docs/operations.md, \"Restore\")")
    lines.append(f"start the node: chainnode start --home {args.home} (it catches up from its peers)")
    emit(args, document, lines)
    return 0


def add_commands(sub: Any, parents: Sequence[argparse.ArgumentParser]) -> None:
    common = parents[0]
    p = sub.add_parser("backup", parents=[common], help="write a node home's store and blobs to one file "
                       "(while the node runs)")
    p.add_argument("--home", type=Path, required=True, metavar="DIR")
    p.add_argument("--out", type=Path, required=True, metavar="FILE")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(run=cmd_backup)
    p = sub.add_parser("restore", parents=[common], help="rebuild a home's store and blobs from a backup file")
    p.add_argument("--home", type=Path, required=True, metavar="DIR")
    p.add_argument("--from", dest="source", type=Path, required=True, metavar="FILE")
    p.add_argument("--no-check", action="store_true", help="skip `chainnode check` of the restored store")
    p.set_defaults(run=cmd_restore)
