"""Network settings: the defaults are usable, every bad value is a ConfigError naming its field."""

from __future__ import annotations

from typing import Any

import pytest

from chainnode.errors import ConfigError
from network.config import DEFAULT_LIMITS, NetworkConfig
from network.frames import FRAME_OVERHEAD
from network.scoring import ScoringRules

BASE: dict[str, Any] = {"chain_id": "c", "genesis_hash": bytes(32)}


def test_defaults() -> None:
    config = NetworkConfig(**BASE)
    assert dict(config.limits) == dict(DEFAULT_LIMITS)
    assert config.max_limit == 9 * 1024 * 1024
    assert config.max_limit + FRAME_OVERHEAD < 64 * 1024 * 1024


def test_limits_are_a_read_only_copy() -> None:
    limits = {"vote": 10}
    config = NetworkConfig(**BASE, limits=limits)
    limits["vote"] = 10**6
    assert config.limits["vote"] == 10
    with pytest.raises(TypeError):
        config.limits["vote"] = 1  # type: ignore[index]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"chain_id": ""}, "chain_id"),
        ({"genesis_hash": b"short"}, "genesis_hash"),
        ({"listen": "nowhere"}, "listen"),
        ({"peers": ("127.0.0.1:1", "no-port")}, "peers"),
        ({"limits": {}}, "limits"),
        ({"limits": {"Vote": 10}}, "limits"),
        ({"limits": {"x" * 32: 10}}, "limits"),
        ({"limits": {"vote": 0}}, "limits.vote"),
        ({"limits": {"vote": 10**9}}, "limits.vote"),
        ({"send_queue_size": 0}, "send_queue_size"),
        ({"ping_interval_ms": -1}, "ping_interval_ms"),
        ({"max_pending_requests": 0}, "max_pending_requests"),
        ({"backoff_base_ms": 10, "backoff_max_ms": 5}, "backoff_base_ms"),
        ({"scoring": ScoringRules(ban_threshold=0)}, "scoring"),
        ({"scoring": ScoringRules(ban_base_ms=10, ban_max_ms=5)}, "scoring"),
    ],
)
def test_bad_settings(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as error:
        NetworkConfig(**{**BASE, **change})
    assert error.value.field == field
