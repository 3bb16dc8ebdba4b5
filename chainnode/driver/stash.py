"""A bounded stash of verified consensus messages for heights this node has not started yet.

Each (height, validator) gets at most MAX_PER_VALIDATOR messages, so one validator flooding future-round
votes fills only its own share; a message beyond it is dropped (the sender re-sends what matters, and
peers relay it again). Heights outside the window are never stashed.
"""

from __future__ import annotations

from typing import Final

from chainnode.consensus.events import ProposalEvent, VoteEvent

MAX_PER_VALIDATOR: Final = 128

Stashed = ProposalEvent | VoteEvent


def _signer(event: Stashed) -> int:
    return event.signed.validator_index


class Stash:
    def __init__(self, *, max_per_validator: int = MAX_PER_VALIDATOR) -> None:
        self.max_per_validator = max_per_validator
        self._events: dict[int, list[Stashed]] = {}
        self._counts: dict[tuple[int, int], int] = {}

    def add(self, height: int, event: Stashed) -> bool:
        """Keep `event` for `height`; False if its validator's share is full."""
        key = (height, _signer(event))
        if self._counts.get(key, 0) >= self.max_per_validator:
            return False
        self._counts[key] = self._counts.get(key, 0) + 1
        self._events.setdefault(height, []).append(event)
        return True

    def has(self, height: int) -> bool:
        return bool(self._events.get(height))

    def first(self, height: int) -> Stashed | None:
        events = self._events.get(height)
        return events[0] if events else None

    def pop(self, height: int) -> list[Stashed]:
        """The messages stashed for `height`, in arrival order; forgets them and every lower height."""
        events = self._events.pop(height, [])
        self.prune_below(height + 1)
        return events

    def prune_below(self, height: int) -> None:
        for h in [h for h in self._events if h < height]:
            del self._events[h]
        for key in [k for k in self._counts if k[0] < height]:
            del self._counts[key]

    def __len__(self) -> int:
        return sum(len(events) for events in self._events.values())
