"""Peer scores and bans: misbehaviour costs points, points come back with time, too few means a ban.

Theory of operation. Every authenticated peer key has a score, 0 at best. A message its handler judged
REJECT (or a status it then could not serve) costs `reject_penalty`; a protocol violation (malformed,
oversize or unknown frame, a text message, an unasked response), a message or request that made the
handler fail, or a sync answer with an invalid block costs `violation_penalty`. The score recovers by one point every
`recovery_ms` up to 0 again. When a penalty brings the score to `ban_threshold` or lower, the key is
banned: its links are closed, and it is neither accepted nor dialed until the ban ends. The n-th ban of
a key lasts `min(ban_max_ms, ban_base_ms * 2**(n-1))`; a ban resets the score to 0. No I/O and no clock
here: the caller passes `now_ms`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Offence(enum.Enum):
    REJECTED_MESSAGE = "rejected_message"
    """The handler judged a message REJECT, or refused a request as invalid input."""
    PROTOCOL_VIOLATION = "protocol_violation"
    HANDLER_FAILURE = "handler_failure"
    """A message or request made the handler fail with an unexpected exception."""
    INVALID_SYNC_DATA = "invalid_sync_data"
    """A block-sync answer held a block or commit that does not verify."""
    FALSE_STATUS = "false_status"
    """The peer announced a height and then could not serve the blocks up to it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ScoringRules:
    reject_penalty: int = 10
    violation_penalty: int = 40
    ban_threshold: int = -100
    """A penalty that brings the score to this value or lower bans the peer."""
    recovery_ms: int = 10_000
    """One point comes back per this many milliseconds, up to 0."""
    ban_base_ms: int = 60_000
    ban_max_ms: int = 3_600_000

    def get_penalty(self, offence: Offence) -> int:
        if offence in (Offence.REJECTED_MESSAGE, Offence.FALSE_STATUS):
            return self.reject_penalty
        return self.violation_penalty


@dataclass(frozen=True, slots=True)
class Ban:
    key: bytes
    until_ms: int
    count: int
    """How many times this key has been banned, this one included."""


@dataclass(frozen=True, slots=True)
class Penalty:
    score: int
    """The score the penalty brought the key to (before a ban resets it)."""
    ban: Ban | None
    """The ban that starts with this penalty, if one does."""


@dataclass(slots=True)
class _Entry:
    score: int = 0
    updated_ms: int = 0
    bans: int = 0
    banned_until_ms: int = 0


class PeerScores:
    """The scores and bans of every peer key seen since the node started.

    Only authenticated, allowed keys are ever scored, so the table is bounded by the membership.
    """

    def __init__(self, rules: ScoringRules) -> None:
        self._rules = rules
        self._entries: dict[bytes, _Entry] = {}

    def get_score(self, key: bytes, now_ms: int) -> int:
        entry = self._entries.get(key)
        return 0 if entry is None else self._recovered(entry, now_ms)

    def get_ban(self, key: bytes, now_ms: int) -> Ban | None:
        """Return the ban in force on `key` at `now_ms`, if any."""
        entry = self._entries.get(key)
        if entry is None or entry.banned_until_ms <= now_ms:
            return None
        return Ban(key, entry.banned_until_ms, entry.bans)

    def apply_penalty(self, key: bytes, offence: Offence, now_ms: int) -> Penalty:
        """Subtract the penalty for `offence` from `key`'s score; say whether a ban starts now."""
        entry = self._entries.setdefault(key, _Entry(updated_ms=now_ms))
        entry.score = self._recovered(entry, now_ms) - self._rules.get_penalty(offence)
        entry.updated_ms = now_ms
        penalty = Penalty(score=entry.score, ban=None)
        if entry.score > self._rules.ban_threshold or entry.banned_until_ms > now_ms:
            return penalty
        entry.bans += 1
        duration = min(self._rules.ban_max_ms, self._rules.ban_base_ms << min(entry.bans - 1, 32))
        entry.banned_until_ms = now_ms + duration
        entry.score = 0
        return Penalty(score=penalty.score, ban=Ban(key, entry.banned_until_ms, entry.bans))

    def _recovered(self, entry: _Entry, now_ms: int) -> int:
        if entry.score >= 0 or self._rules.recovery_ms <= 0:
            return entry.score
        points = max(0, now_ms - entry.updated_ms) // self._rules.recovery_ms
        return min(0, entry.score + points)
