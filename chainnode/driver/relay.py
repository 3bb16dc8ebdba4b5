"""Relaying transactions that peers sent: late, and only those still pending.

A node sends the transactions its clients submit to every peer at once. A transaction a peer sent is
relayed too, so that it reaches nodes its submitter has no link to (a partial partition: docs/reliability.md),
but not at once: in a full mesh every node already has it from the submitter, and relaying it at once made
each node receive every transaction once per link (three copies on 4 validators, six on 7), each copy a
message to seal, send, open and refuse. So a peer's transaction is relayed after one to two status intervals,
and only if it is still pending here: by then a healthy network has usually committed it, while a node cut off
from its submitter still gets it, a little later. Nor to every peer: not to a peer whose status lists a link
with the one the transaction came from, which relayed it by the same rule (`gossip.has_from_origin`).

Nothing is dropped: the held transactions are those admitted since the last tick or the one before, and if
more than `capacity` are held, the oldest go out at once instead of waiting.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

CAPACITY: Final = 100_000
"""Transactions held at most before the older generation is relayed early (a bound on memory, not a drop)."""


class TxRelay:
    def __init__(self, *, is_pending: Callable[[bytes], bool], send: Callable[[list[bytes], bytes], None],
                 capacity: int = CAPACITY) -> None:
        self._is_pending = is_pending
        self._send = send
        """Send transactions to every peer but the one given (the one they came from)."""
        self._capacity = capacity
        self._young: list[tuple[bytes, bytes]] = []
        self._old: list[tuple[bytes, bytes]] = []

    def __len__(self) -> int:
        return len(self._young) + len(self._old)

    def add(self, raws: Sequence[bytes], source: bytes) -> None:
        """Hold transactions `source` sent and this node admitted (new here), to relay at a later tick."""
        self._young.extend((raw, source) for raw in raws)
        while len(self) > self._capacity:
            self.tick()

    def tick(self) -> int:
        """Relay what has waited a full tick and is still pending; returns how many were relayed."""
        due, self._old, self._young = self._old, self._young, []
        by_source: dict[bytes, list[bytes]] = {}
        for raw, source in due:
            if self._is_pending(raw):
                by_source.setdefault(source, []).append(raw)
        for source, raws in by_source.items():
            self._send(raws, source)
        return sum(len(raws) for raws in by_source.values())
