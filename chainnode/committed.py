"""Which transactions are already committed, answered from memory for every transaction that could still be
admitted.

Admission and block validation ask for each transaction whether it was committed before. Asking LevelDB
costs about 1 µs alone but about 12 µs while another thread runs Python (each read gives up the interpreter
lock and waits to get it back), and the node asks once per transaction on its busiest threads. A committed
transaction can only matter while it has not expired: one whose expiry height is below the next block's
height is refused for that reason first. So the window keeps, in memory, the IDs of the transactions
committed since the node started whose expiry height is at least the next height, and forgets each at its
expiry.

It is exact, not a guess:
- Transactions committed before the node started (or before a state sync, or a reset) have an expiry
  height of at most that head plus `max_tx_ttl`; for a transaction with an expiry height up to that bound,
  the window asks the store. A store at genesis (head 0) holds none, so it is never asked.
- When the window holds more than `capacity` IDs, it forgets those that expire first and asks the store
  for every expiry height up to the last one forgotten.
- Every committed block is added (`Node._commit`, the only way a node commits a block it executed) before
  the mempool learns of it.

tests/property/test_committed_window.py compares it with the store's own index over random chains,
expiries, restarts and a small capacity.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Final

from chainnode.tx import Transaction

CAPACITY: Final = 400_000
"""IDs held at most (about 60 MB); beyond it the earliest expiries are asked of the store."""


class CommittedWindow:
    def __init__(self, has_tx: Callable[[bytes], bool], *, head: int, max_ttl: int,
                 capacity: int = CAPACITY) -> None:
        self._has_tx = has_tx
        self._max_ttl = max_ttl
        self._capacity = capacity
        self._lock = threading.Lock()
        self._ids: dict[bytes, int] = {}
        self._by_expiry: dict[int, list[bytes]] = {}
        self._ask_store_through = 0
        self._next_height = 1
        self.reset(head)

    def reset(self, head: int) -> None:
        """Forget everything: the store's head is now `head` (start, state sync, a store put back)."""
        with self._lock:
            # first: readers never see a gap; a store at genesis holds no transaction to ask about
            self._ask_store_through = head + self._max_ttl if head > 0 else 0
            self._ids = {}
            self._by_expiry = {}
            self._next_height = head + 1

    def __len__(self) -> int:
        return len(self._ids)

    def contains(self, tx: Transaction) -> bool:
        """Whether `tx` is committed (for one that could still be admitted: expiry at least the next height)."""
        if tx.tx_id in self._ids:
            return True
        if tx.body.expiry_height <= self._ask_store_through:
            return self._has_tx(tx.tx_id)
        return False

    def add_block(self, height: int, txs: Iterable[Transaction]) -> None:
        """Block `height` was committed with `txs`; forget what expires before the next height."""
        with self._lock:
            ids, by_expiry = self._ids, self._by_expiry
            for tx in txs:
                expiry = tx.body.expiry_height
                if expiry > height:  # one expiring at `height` can never be admitted again
                    ids[tx.tx_id] = expiry
                    by_expiry.setdefault(expiry, []).append(tx.tx_id)
            for expiry in range(self._next_height, height + 1):
                for tx_id in by_expiry.pop(expiry, ()):
                    ids.pop(tx_id, None)
            self._next_height = max(self._next_height, height + 1)
            if len(ids) > self._capacity:
                self._shrink()

    def _shrink(self) -> None:
        """Forget the earliest expiries until a tenth of the room is free again; ask the store for those."""
        target = self._capacity * 9 // 10
        for expiry in sorted(self._by_expiry):
            if len(self._ids) <= target:
                break
            self._ask_store_through = max(self._ask_store_through, expiry)  # first: readers never see a gap
            for tx_id in self._by_expiry.pop(expiry):
                self._ids.pop(tx_id, None)
