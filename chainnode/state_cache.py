"""The current state as execution reads it: the store's `s` column, remembered in memory across blocks.

Execution reads the same records block after block: the roster (every call checks its signer), the items
a case cites, the materials it cites, the case a decision closes. From LevelDB each such read is a call
into the database that waits for the interpreter lock on its way back, while the records themselves are
few and small. A `StateCache` keeps the values execution read (a miss is remembered too: most keys a
block writes were never there) and the values each committed block wrote, so a later block finds them in
a dict.

It is exact, not approximate: every change to the current state goes through `Node._commit`, which
writes the block's batch and then `apply`s the same changes here, under the node's commit lock; execution
reads it under that lock too (build and validate). A state sync, or its undoing, replaces the state
outside that path, and the node `clear`s the cache then. Client reads never use it: they read the store
itself (chainnode/reader.py), from other threads, without the commit lock.

Memory is bounded by the bytes of its keys and values: two generations of at most `max_bytes / 2` each;
when the young one fills, it becomes the old one and the old one is dropped. A read found in the old
generation moves to the young one, so what blocks keep reading stays.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final, Protocol

DEFAULT_MAX_BYTES: Final = 64 * 1024 * 1024
ENTRY_OVERHEAD: Final = 120
"""Bytes counted per entry beside its key and value: the dict slot and the two bytes objects' headers."""

_MISSING: Final = object()


class CurrentState(Protocol):
    """What the cache reads through to: the store's current state."""

    def get(self, key: bytes) -> bytes | None: ...

    def iter_prefix(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]: ...


class StateCache:
    """A StateReader over the current state that remembers what it read and what commits wrote."""

    def __init__(self, state: CurrentState, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._state = state
        self.max_bytes = max_bytes
        self._young: dict[bytes, bytes | None] = {}
        self._old: dict[bytes, bytes | None] = {}
        self._young_bytes = 0

    def get(self, key: bytes) -> bytes | None:
        value = self._young.get(key, _MISSING)
        if value is not _MISSING:
            return value  # type: ignore[return-value]
        value = self._old.get(key, _MISSING)
        if value is _MISSING:
            value = self._state.get(key)
        self._remember(key, value)  # type: ignore[arg-type]
        return value  # type: ignore[return-value]

    def iter_prefix(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Straight from the store: the cache cannot know which keys a prefix holds."""
        return self._state.iter_prefix(prefix)

    def apply(self, changes: Mapping[bytes, bytes | None]) -> None:
        """A committed block's changes (key -> new value, None for a deletion), once its batch is written."""
        for key, value in changes.items():
            self._remember(key, value)

    def clear(self) -> None:
        """Forget everything (the state was replaced outside `apply`: a state sync, or undoing one)."""
        self._young, self._old, self._young_bytes = {}, {}, 0

    def _remember(self, key: bytes, value: bytes | None) -> None:
        self._young[key] = value
        self._young_bytes += len(key) + (0 if value is None else len(value)) + ENTRY_OVERHEAD
        if self._young_bytes > self.max_bytes // 2:
            self._old, self._young, self._young_bytes = self._young, {}, 0
