"""The live links, at most one per peer key, and the scores and bans of peer keys.

The registry decides at the handshake whether a key may link at all (`check_peer`), which of two links to
one key survives (`register`, by `is_preferred_link`), and what a misbehaving key costs (`penalise`). It
tells the node's handler when a peer arrives and leaves: once per peer, not once per link.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from network.clock import Clock
from network.config import NetworkConfig
from network.errors import CLOSE_DUPLICATE, CLOSE_POLICY_VIOLATION, PeerBanned, PeerNotAllowed, TooManyPeers
from network.handler import MessageHandler
from network.handshake import is_preferred_link
from network.link import Direction, Link, format_key
from network.scoring import Ban, Offence, PeerScores

log = logging.getLogger("network")


@dataclass(frozen=True, slots=True)
class PeerInfo:
    key: bytes
    address: str
    """HOST:PORT we dialed, or the remote end of an inbound connection."""
    direction: Direction
    connected_since_ms: int
    score: int
    bytes_in: int
    bytes_out: int
    messages_in: int
    """Frames received after the handshake, pings included."""
    messages_out: int
    dropped: int
    """Gossip frames dropped because this peer's send queue was full."""
    rtt_ms: int | None
    """Round-trip time of the last ping, once one has come back."""


class PeerRegistry:
    def __init__(
        self, config: NetworkConfig, *, is_allowed: Callable[[bytes], bool], handler: MessageHandler, clock: Clock
    ) -> None:
        self._config, self._is_allowed, self._handler, self._clock = config, is_allowed, handler, clock
        self._scores = PeerScores(config.scoring)
        self._links: dict[bytes, Link] = {}
        self._running: set[Link] = set()
        """Registered links until they end, a replaced one included (its bytes still count)."""
        self._ended_bytes: dict[bytes, tuple[int, int]] = {}
        """Bytes (in, out) of the ended links of each key, so a peer's totals never go back at a reconnect."""
        self._changed = asyncio.Event()

    def now_ms(self) -> int:
        return self._clock.now_ms()

    def get(self, key: bytes) -> Link | None:
        return self._links.get(key)

    def links(self) -> list[Link]:
        return list(self._links.values())

    def peers(self) -> list[PeerInfo]:
        """The connected peers, sorted by key."""
        now = self._clock.now_ms()
        return [
            PeerInfo(
                key=key, address=link.address, direction=link.direction, connected_since_ms=link.connected_ms,
                score=self._scores.get_score(key, now), bytes_in=link.stats.bytes_in,
                bytes_out=link.stats.bytes_out, messages_in=link.stats.messages_in,
                messages_out=link.stats.messages_out, dropped=link.stats.dropped, rtt_ms=link.stats.rtt_ms,
            )
            for key, link in sorted(self._links.items())
        ]

    def peer_traffic(self) -> list[tuple[bytes, int, int, bool]]:
        """(key, bytes in, bytes out, connected) of every key linked since the start, over all its links.

        Safe from another thread: the containers are copied first (one C-level copy each, under the GIL).
        """
        totals = dict(self._ended_bytes)
        for link in list(self._running):
            bytes_in, bytes_out = totals.get(link.peer_key, (0, 0))
            totals[link.peer_key] = (bytes_in + link.stats.bytes_in, bytes_out + link.stats.bytes_out)
        connected = set(list(self._links))
        return [(key, i, o, key in connected) for key, (i, o) in sorted(totals.items())]

    def get_score(self, key: bytes) -> int:
        return self._scores.get_score(key, self._clock.now_ms())

    def get_ban(self, key: bytes) -> Ban | None:
        return self._scores.get_ban(key, self._clock.now_ms())

    def check_peer(self, key: bytes) -> None:
        """Refuse a key at the handshake. Raises PeerNotAllowed, PeerBanned or TooManyPeers."""
        if not self._is_allowed(key):
            raise PeerNotAllowed("key is not a member of this network", field="public_key")
        if (ban := self.get_ban(key)) is not None:
            raise PeerBanned(f"banned until {ban.until_ms} (ban {ban.count})", field="public_key")
        if key not in self._links and len(self._links) >= self._config.max_links:
            raise TooManyPeers(f"already {len(self._links)} links")

    def register(self, link: Link) -> bool:
        """Make `link` the peer's link, closing a link it replaces; False if an existing link is kept."""
        existing = self._links.get(link.peer_key)
        if existing is not None:
            if not is_preferred_link(link.initiator, existing.initiator):
                return False
            existing.close(CLOSE_DUPLICATE, "replaced by a newer link")
        self._links[link.peer_key] = link
        self._running.add(link)
        self._notify_changed()
        if existing is None:  # a replaced link is not a disconnection: the peer stays connected
            self._handler.on_peer_connected(link.peer_key)
        return True

    def unregister(self, link: Link) -> None:
        if link in self._running:
            self._running.discard(link)
            bytes_in, bytes_out = self._ended_bytes.get(link.peer_key, (0, 0))
            self._ended_bytes[link.peer_key] = (bytes_in + link.stats.bytes_in, bytes_out + link.stats.bytes_out)
        if self._links.get(link.peer_key) is link:
            del self._links[link.peer_key]
            self._notify_changed()
            self._handler.on_peer_disconnected(link.peer_key)

    async def wait_until_dialable(self, key: bytes) -> None:
        """Wait while `key` is connected (either way) or banned."""
        while True:
            if key in self._links:
                await self._changed.wait()
                continue
            if (ban := self.get_ban(key)) is None:
                return
            await asyncio.sleep(min(ban.until_ms - self._clock.now_ms(), self._config.backoff_max_ms) / 1000)

    def penalise(self, link: Link, offence: Offence, reason: str) -> None:
        """Score the link's peer down for `offence`; ban it and close its link if the score is too low."""
        self.penalise_key(link.peer_key, offence, reason, link=link)

    def penalise_key(self, key: bytes, offence: Offence, reason: str, *, link: Link | None = None) -> None:
        """Score `key` down for `offence` (found by the node, not by a link); ban it and close its link if the
        score is too low. `link` is the link the offence came on, when it may already be replaced."""
        link = link or self._links.get(key)
        address = link.address if link is not None else "not connected"
        now = self._clock.now_ms()
        penalty = self._scores.apply_penalty(key, offence, now)
        log.warning("peer %s (%s) scored down to %d: %s", format_key(key), address, penalty.score, reason)
        if (ban := penalty.ban) is not None:
            log.warning("peer %s banned for %d ms (ban %d): score reached %d", format_key(key),
                        ban.until_ms - now, ban.count, self._config.scoring.ban_threshold)
            for banned in (link, self._links.get(key)):  # the scored link may have been replaced already
                if banned is not None:
                    banned.close(CLOSE_POLICY_VIOLATION, f"{PeerBanned.code}: score too low")

    def disconnect_disallowed(self) -> int:
        """Close the links of keys `is_allowed` no longer accepts; return how many."""
        refused = [link for key, link in self._links.items() if not self._is_allowed(key)]
        for link in refused:
            log.warning("closing link with %s: no longer allowed", format_key(link.peer_key))
            link.close(CLOSE_POLICY_VIOLATION, f"{PeerNotAllowed.code}: no longer a member")
        return len(refused)

    def _notify_changed(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
