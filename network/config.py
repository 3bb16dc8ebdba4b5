"""The settings of one node's networking: identity of the network, addresses, and every bound.

Message kinds are the keys of `limits`: a kind this node has no limit for is unknown, and a peer that
sends it is disconnected. Durations are integer milliseconds, as in the node's config.toml.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Final

from chainnode.config import parse_listen
from chainnode.errors import ConfigError
from network.scoring import ScoringRules

KIND_PATTERN: Final = re.compile(r"[a-z][a-z0-9_.\-]{0,30}")
"""A kind is ASCII and at most 31 bytes, so it is always a msgpack fixstr at a fixed offset in a frame."""

MAX_KIND_LIMIT: Final = 64 * 1024 * 1024

DEFAULT_LIMITS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "tx": 128 * 1024,  # one signed transaction (genesis max_tx_bytes is 64 KiB by default)
        "vote": 4 * 1024,  # a signed prevote or precommit
        "proposal": 9 * 1024 * 1024,  # a signed proposal with its block (max_block_bytes is 8 MiB)
        "status": 4 * 1024,  # height and round announcements
        "evidence": 64 * 1024,  # two conflicting signed votes
        "block": 9 * 1024 * 1024,  # block sync: a height asked for, a block and its commit answered
    }
)
"""Maximum payload bytes per message kind. A request and its response share their kind's limit."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkConfig:
    chain_id: str
    genesis_hash: bytes
    listen: str = "127.0.0.1:26656"
    """HOST:PORT to accept links on; port 0 picks a free port (see `Network.address`)."""
    peers: tuple[str, ...] = ()
    """HOST:PORT addresses to keep an outbound link to."""
    limits: Mapping[str, int] = field(default_factory=lambda: DEFAULT_LIMITS)
    send_queue_size: int = 1024
    """Gossip frames waiting to be written, per peer. When full, the oldest is dropped and counted."""
    control_queue_size: int = 256
    """Requests, responses and pongs waiting to be written, per peer. When full, the link is closed."""
    receive_queue_size: int = 64
    """Received messages and requests waiting for the handler, per peer. When full, reading stops."""
    max_pending_requests: int = 64
    """Our requests to one peer waiting for an answer."""
    max_links: int = 64
    max_handshakes: int = 16
    """Inbound connections still in their handshake at once; more are answered 503."""
    max_pending_connections: int = 64
    """TCP connections that have not yet sent a request; more are aborted at accept."""
    header_timeout_ms: int = 5_000
    """A connection that sends no complete request in this time is closed (idle and slow-header sockets)."""
    handshake_timeout_ms: int = 5_000
    send_timeout_ms: int = 10_000
    """A frame whose write does not finish in this time means the peer is stuck: the link is closed."""
    close_timeout_ms: int = 1_000
    backoff_base_ms: int = 500
    backoff_max_ms: int = 30_000
    ping_interval_ms: int = 5_000
    ping_timeout_ms: int = 15_000
    """A link whose pong has not come back this long after the ping is dead and is closed."""
    scoring: ScoringRules = field(default_factory=ScoringRules)

    def __post_init__(self) -> None:
        # A read-only copy: the caller's dict cannot change the limits of a running network.
        object.__setattr__(self, "limits", MappingProxyType(dict(self.limits)))
        validate_network_config(self)

    @property
    def max_limit(self) -> int:
        return max(self.limits.values())


def validate_network_config(config: NetworkConfig) -> None:
    """Raise ConfigError (naming the field) unless every setting is usable."""
    if not 1 <= len(config.chain_id) <= 64:
        raise ConfigError("chain_id must be 1 to 64 characters", field="chain_id")
    if len(config.genesis_hash) != 32:
        raise ConfigError("genesis_hash must be 32 bytes", field="genesis_hash")
    parse_listen(config.listen, field="listen")
    for address in config.peers:
        parse_listen(address, field="peers")
    if not config.limits:
        raise ConfigError("limits must name at least one message kind", field="limits")
    for kind, limit in config.limits.items():
        if not isinstance(kind, str) or not KIND_PATTERN.fullmatch(kind):
            raise ConfigError(f"message kind {kind!r} must match {KIND_PATTERN.pattern}", field="limits")
        if type(limit) is not int or not 1 <= limit <= MAX_KIND_LIMIT:
            raise ConfigError(f"limit of {kind!r} must be 1..{MAX_KIND_LIMIT} bytes", field=f"limits.{kind}")
    for item in fields(config):
        value = getattr(config, item.name)
        if item.name.endswith(("_size", "_ms", "_requests", "_links", "_handshakes", "_connections")) and (
            type(value) is not int or value < 1
        ):
            raise ConfigError(f"{item.name} must be a positive integer", field=item.name)
    if config.backoff_base_ms > config.backoff_max_ms:
        raise ConfigError("backoff_base_ms must not exceed backoff_max_ms", field="backoff_base_ms")
    rules = config.scoring
    if rules.reject_penalty < 0 or rules.violation_penalty < 0 or rules.ban_threshold >= 0:
        raise ConfigError("penalties must be >= 0 and ban_threshold < 0", field="scoring")
    if rules.ban_base_ms < 1 or rules.ban_max_ms < rules.ban_base_ms:
        raise ConfigError("need 1 <= ban_base_ms <= ban_max_ms", field="scoring")
