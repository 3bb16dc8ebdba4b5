"""Start-up check: is the store behind what this node already signed?

The store writes each block with `sync=True` and the WAL fsyncs each signature decision, so after any
crash the store's head is at least the WAL's highest height minus one. If it is lower, the disk lost
fsynced writes (seen: a truncated LevelDB log reopening a store 8 blocks lower without a word). That must
not pass silently: the operator has a disk to check, and an auditor a gap to explain.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from chainnode.config import HomeLayout
from chainnode.errors import CorruptStore
from chainnode.wal import last_signed_height

log = logging.getLogger("chainnode.node")


@dataclass(frozen=True, slots=True)
class StoreRollback:
    """The store opened below what this node's WAL says it already signed: the disk lost fsynced writes."""

    store_height: int
    wal_signed_height: int

    @property
    def lost_blocks(self) -> int:
        """At least this many committed blocks are gone (signing at height H needs block H - 1)."""
        return self.wal_signed_height - 1 - self.store_height

    def to_json(self, head: int) -> dict[str, Any]:
        return {
            "store_height_at_start": self.store_height,
            "wal_signed_height": self.wal_signed_height,
            "lost_blocks": self.lost_blocks,
            "resynced": head >= self.wal_signed_height - 1,
        }


def detect_store_rollback(layout: HomeLayout, head: int) -> StoreRollback | None:
    """Compare the store's head with the highest height in the consensus WAL, and say so loudly if the
    store is behind it (an ERROR log line naming both heights and what follows).

    A node signs for height H only once block H - 1 is in its store, so a head below the WAL's last
    height minus one means committed, fsynced blocks were lost (a disk or file system that dropped
    writes, a store restored from an old copy). The node still starts: it re-syncs the missing blocks
    from its peers, and its sign guard, rebuilt from the same WAL, still refuses to sign anything else
    for heights and rounds it already signed. A damaged WAL is left to the consensus driver, which
    refuses to start on it with the offset named.
    """
    try:
        signed = last_signed_height(layout.wal)
    except CorruptStore:
        return None
    if signed is None or head >= signed - 1:
        return None
    rollback = StoreRollback(store_height=head, wal_signed_height=signed)
    log.error(
        "STORE ROLLBACK: the store in %s opened at height %d, but this node's WAL holds signatures for height "
        "%d: the disk lost at least %d fsynced block(s). The node will re-sync the missing blocks from its "
        "peers; its sign guard (from the WAL) still prevents double-signing. Check the disk and file system.",
        layout.data, head, signed, rollback.lost_blocks,
    )
    return rollback
