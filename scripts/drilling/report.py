"""What the drill reports: one row per nemesis, the audit of the final chains that fills in lost, duplicated
and forked, and the table and JSON that print them.

The audit reads every node's store after the nodes stopped: a height whose block hash differs between
two nodes is forked; an acknowledged write missing from the longest chain is lost; a transaction id
found in two blocks (or twice in one) is duplicated. Each finding is charged to the row during which the
write was acknowledged or the height was committed.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from chainnode.config import HomeLayout
from chainnode.errors import ChainError
from chainnode.store import Store
from chainnode.tx import decode_transaction
from scripts.drilling.load import Ack


@dataclass(slots=True)
class Row:
    """The figures of one nemesis. Times are seconds; rates are acknowledged writes per second."""

    name: str
    about: str
    acked: int = 0
    lost: int = 0
    duplicated: int = 0
    forked: int = 0
    before_tps: float = 0.0
    during_tps: float = 0.0
    after_tps: float = 0.0
    first_commit_s: float | None = None
    """From the heal to the first block committed after it (on any node)."""
    all_synced_s: float | None = None
    """From the heal until every node has a block committed after the heal."""
    progress_during: bool = False
    heights: tuple[int, int] = (0, 0)
    """The highest height seen when the row started and when it ended."""
    window: tuple[float, float] = (0.0, 0.0)
    safety: list[str] = field(default_factory=list)
    liveness: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None

    @property
    def verdict(self) -> str:
        if self.skipped is not None:
            return "SKIP"
        if self.safety:
            return "FAIL"
        return "slow" if self.liveness else "ok"


@dataclass(frozen=True, slots=True)
class ChainView:
    """What one node's store holds: block hash per height and, for the reference, the tx id counts."""

    head: int
    hashes: dict[int, bytes]
    tx_counts: Counter[str]


def read_chain(home: Path, *, with_txs: bool) -> ChainView:
    store = Store(HomeLayout(home).data)
    try:
        head = store.head_height()
        hashes: dict[int, bytes] = {}
        counts: Counter[str] = Counter()
        for height in range(1, head + 1):
            header = store.get_header(height)
            if header is not None:
                hashes[height] = header.compute_hash()
            if with_txs:
                block = store.get_block(height)
                for raw in block.txs if block is not None else ():
                    counts[decode_transaction(raw).tx_id.hex()] += 1
        return ChainView(head, hashes, counts)
    finally:
        store.close()


def audit(rows: list[Row], acks: list[Ack], homes: list[Path]) -> list[str]:
    """Fill lost / duplicated / forked into `rows` from the stores of `homes`; return findings outside rows."""
    stray: list[str] = []
    readable: list[Path] = []
    views: list[ChainView] = []
    for home in homes:
        try:
            views.append(read_chain(home, with_txs=False))
            readable.append(home)
        except ChainError as exc:  # a damaged store is a finding, not a reason to skip the others
            stray.append(f"cannot read the store of {home.name}: {exc}")
    if not views:
        return stray
    best = max(range(len(views)), key=lambda i: views[i].head)
    reference = read_chain(readable[best], with_txs=True)
    forked = sorted({h for view in views for h, digest in view.hashes.items()
                     if reference.hashes.get(h, digest) != digest})
    lost = [ack for ack in acks if reference.tx_counts[ack.tx_id] == 0]
    duplicated = [tx_id for tx_id, n in reference.tx_counts.items() if n > 1]
    acked_at = {ack.tx_id: ack.at for ack in acks}
    for row in rows:
        start, end = row.window
        row.lost = sum(1 for ack in lost if start <= ack.at < end)
        row.duplicated = sum(1 for tx_id in duplicated if start <= acked_at.get(tx_id, -1.0) < end)
        low, high = row.heights
        row.forked = sum(1 for h in forked if low < h <= high)
        for what, n in (("lost", row.lost), ("duplicated", row.duplicated), ("forked heights", row.forked)):
            if n:
                row.safety.append(f"{n} {what}")
    if forked:
        stray.append(f"forked heights: {forked[:20]}")
    if lost:
        stray.append(f"{len(lost)} acknowledged writes are not in the chain of the longest node")
    if duplicated:
        stray.append(f"{len(duplicated)} transactions are in the chain more than once")
    return stray


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


HEADER = ("nemesis", "acked", "lost", "dup", "forked", "tps before", "during", "after", "1st commit s",
          "all synced s", "verdict")


def format_row(row: Row) -> tuple[str, ...]:
    if row.skipped is not None:
        return (row.name, "-", "-", "-", "-", "-", "-", "-", "-", "-", "SKIP")
    return (row.name, str(row.acked), str(row.lost), str(row.duplicated), str(row.forked),
            _num(row.before_tps), _num(row.during_tps), _num(row.after_tps), _num(row.first_commit_s),
            _num(row.all_synced_s), row.verdict)


def format_table(rows: list[Row]) -> str:
    cells = [HEADER, *(format_row(r) for r in rows)]
    widths = [max(len(c[k]) for c in cells) for k in range(len(HEADER))]
    lines = ["  ".join(c[k].ljust(widths[k]) if k == 0 else c[k].rjust(widths[k]) for k in range(len(c)))
             for c in cells]
    lines.insert(1, "-" * len(lines[0]))
    notes = [f"  {r.name}: {label}{note}" for r in rows
             for label, items in (("skipped: ", [r.skipped] if r.skipped else []), ("SAFETY: ", r.safety),
                                  ("liveness: ", r.liveness), ("", r.notes))
             for note in items]
    return "\n".join(lines + (["", "notes:", *notes] if notes else []))


def write_json(path: Path, rows: list[Row], extra: dict[str, object]) -> None:
    document = {**extra, "rows": [{**asdict(r), "verdict": r.verdict} for r in rows]}
    path.write_text(json.dumps(document, indent=2) + "\n")
