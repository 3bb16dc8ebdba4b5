"""Who this node should link to, read from the chain: the node keys and addresses of the departments in
force at the head (from genesis and from passed proposals).

Validators find each other from the on-chain roster, so admitting, moving or removing a department needs
no hand-edited `peers` list: after each commit the node recomputes the roster (`compute_roster`); when it
changed, `MembershipTracker.refresh` gives the network its new dial targets (keyed by node key, so a
changed address is re-dialled and a removed key is dropped) and closes the links of keys no longer allowed.
Configured `peers` stay dialled as well: they are how a joining node reaches the network before its own
store knows the roster. `dial_roster = false` in config.toml turns the roster dialing off (nodes reached
through other addresses than those on chain); links of removed nodes are closed all the same.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

from chainnode.config import parse_listen
from chainnode.errors import ConfigError
from contracts import governance
from contracts.base import StateReader, decode_state

log = logging.getLogger("chainnode.membership")


@dataclass(frozen=True, slots=True)
class Roster:
    node_keys: frozenset[bytes]
    """Every department node key registered at the height: the keys allowed to link."""
    dial_targets: Mapping[bytes, str]
    """Node key -> HOST:PORT for the registered keys with a usable address, this node's own excluded."""


class DialTargets(Protocol):
    """What the tracker needs of the network (network.Network)."""

    def set_dial_targets(self, targets: Mapping[bytes, str]) -> None: ...

    def disconnect_disallowed(self) -> int: ...


def _usable_address(address: object) -> str | None:
    if type(address) is not str or not address:
        return None
    try:
        parse_listen(address, field="address")
    except ConfigError:
        return None
    return address


def compute_roster(reader: StateReader, height: int, *, own_key: bytes) -> Roster:
    """The node keys registered at `height` and the addresses to dial them at.

    A department counts while it is active at `height` and its node key holds the node role then (an
    admitted joiner counts from its admission: it links and syncs as an observer before it votes). An
    address that is empty or not HOST:PORT is not dialled; that node can still dial us.
    """
    keys: set[bytes] = set()
    targets: dict[bytes, str] = {}
    for key, raw in reader.iter_prefix(governance.PREFIX_DEPARTMENT):
        value = decode_state(raw)
        node_key = value["node_key"]
        dept = governance.get_department(reader, key[len(governance.PREFIX_DEPARTMENT):].decode())
        if dept is None or not dept.active_at(height) or not governance.is_node_key(reader, node_key, height):
            continue
        keys.add(node_key)
        address = _usable_address(value.get("address"))
        if address is not None and node_key != own_key:
            targets[node_key] = address
    return Roster(frozenset(keys), MappingProxyType(dict(sorted(targets.items()))))


class MembershipTracker:
    """Keeps the network's dial targets and links in step with the roster at the head."""

    def __init__(self, reader: StateReader, network: DialTargets, *, own_key: bytes, dial: bool = True) -> None:
        self._reader, self._network, self._own_key, self._dial = reader, network, own_key, dial
        """With `dial` false (config `dial_roster = false`) only links are closed; nothing is dialed."""
        self.roster: Roster | None = None

    def refresh(self, height: int) -> bool:
        """Recompute the roster at `height` (the next height to decide); when it changed, update the dial
        targets and close the links of keys that left it. Returns whether it changed."""
        roster = compute_roster(self._reader, height, own_key=self._own_key)
        if roster == self.roster:
            return False
        first = self.roster is None
        self.roster = roster
        self._network.set_dial_targets(roster.dial_targets if self._dial else {})
        closed = 0 if first else self._network.disconnect_disallowed()
        log.info("roster at height %d: %d node keys, dialling %d (%s)%s", height, len(roster.node_keys),
                 len(roster.dial_targets), ", ".join(roster.dial_targets.values()) or "none",
                 f"; closed {closed} links no longer allowed" if closed else "")
        return True
