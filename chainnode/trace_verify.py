"""Verifying a page of an entity's history against genesis alone, from one bundle.

A history page (chainnode/history.py) lists events: transactions that touched an entity, with their height,
index, call, signer and outcome. With `proof=1` the node adds one transaction bundle (docs/proofs.md,
tag 11) holding every event's transaction and result under its block's header and commit, each block once
with a multiproof of its events. `verify_trace` checks that bundle and then that each event the node
listed is exactly a proven transaction: same position, ID, call, signer, block time and outcome. What the
bundle does not prove is said plainly: the signer's name and roles come from the roster and are the node's
word, and whether the node left an event out of the page (the entity index is the node's own).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chainnode import light
from chainnode.errors import InvalidProof
from chainnode.genesis import Genesis


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedTrace:
    events: int
    blocks: int
    links: int
    trust: light.TrustRoot


def _mismatch(event: dict[str, Any], what: str) -> InvalidProof:
    return InvalidProof(f"event at height {event.get('height')} index {event.get('index')}: the node's {what} "
                        "differs from the proven transaction", field=what)


def verify_trace(genesis: Genesis, events: Sequence[dict[str, Any]], bundle_bytes: bytes,
                 trust: light.TrustRoot | None = None) -> VerifiedTrace:
    """Check that every event of a page is a proven transaction, and that the bundle proves nothing else.

    Raises InvalidProof naming the first event or check that fails."""
    bundle = light.decode_bundle(bundle_bytes)
    if not isinstance(bundle, light.TxBundle):
        raise InvalidProof("a history proof is a transaction bundle, not a state proof")
    proven, after = light.verify_txs(genesis, bundle, trust)
    by_position = {(p.height, p.index): p for p in proven}
    if len(by_position) != len(events):
        raise InvalidProof(f"the proof holds {len(by_position)} transactions and the page lists {len(events)} events")
    listed = {(e.get("height"), e.get("index")) for e in events}
    if listed != set(by_position):
        raise InvalidProof("the page lists an event twice or one the proof does not hold", field="position")
    for event in events:
        p = by_position.get((event.get("height"), event.get("index")))  # type: ignore[arg-type]
        if p is None:
            raise _mismatch(event, "position")
        body = p.tx.body
        checks = (("tx_id", p.tx.tx_id.hex()), ("contract", body.contract), ("method", body.method),
                  ("signer", body.signer.hex()), ("time_ms", p.time_ms), ("code", p.result.code),
                  ("message", p.result.message))
        for name, value in checks:
            if event.get(name) != value:
                raise _mismatch(event, name)
        if [e.get("kind") for e in event.get("events") or []] != [e.kind for e in p.result.events]:
            raise _mismatch(event, "events")
    return VerifiedTrace(events=len(events), blocks=sum(1 for link in bundle.links if link.payload is not None),
                         links=len(bundle.links), trust=after)
