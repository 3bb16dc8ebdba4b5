"""The contract registry: every callable contract method, by contract and method name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from contracts import anchor, evidence, validators
from contracts.base import Method

REGISTRY: Final[Mapping[str, Mapping[str, Method]]] = {
    "anchor": {
        "put": Method(
            parse=anchor.parse_put,
            handler=anchor.put,
            description="Record a SHA-256 content hash with a kind and metadata for the signer's department.",
            example={"content_hash": "<32 bytes>", "kind": "contract", "metadata": {"title": "..."}},
        ),
    },
    "evidence": {
        "report": Method(
            parse=evidence.parse_report, handler=evidence.report,
            description="Record two conflicting signed votes of one validator (equivocation), reported by a node.",
        ),
    },
    "testhook": {
        "set_validator": Method(
            parse=validators.parse_set_validator, handler=validators.set_validator,
            description="Test networks only: queue a validator update that takes effect two heights later.",
            example={"department": "PSB", "public_key": "<32 bytes>", "power": 10},
        ),
    },
}
