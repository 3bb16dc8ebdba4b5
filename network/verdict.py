"""What a handler decides about a message from a peer, and the one mapping from errors to verdicts."""

from __future__ import annotations

import enum

from chainnode.errors import ChainError, InvalidInput


class Verdict(enum.Enum):
    ACCEPT = "accept"
    """Process and relay."""
    IGNORE = "ignore"
    """Not now (a future height or round) or not useful: keep it in a bounded stash or drop it; no penalty."""
    REJECT = "reject"
    """Provably invalid: drop it and score the peer down."""


def compute_verdict(error: ChainError) -> Verdict:
    """Return the verdict for a message whose handling raised `error`."""
    # [REJECT] the peer sent input that breaks a rule: a bad signature, encoding or field
    if isinstance(error, InvalidInput):
        return Verdict.REJECT
    # [IGNORE] valid but not servable now: not found, busy, not synced
    return Verdict.IGNORE
