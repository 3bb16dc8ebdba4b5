"""Liveness and readiness of a node, as a load balancer or an orchestrator asks for them.

`/health` says the process is up and its event loop answers. `/ready` says the node is worth sending
clients to: it has started, it is linked to peers, and its head is within `MAX_BEHIND` blocks of the
highest head a peer announced. A node a few blocks behind is normal for an instant (a peer announces a
block before this node commits it), so readiness allows that much; further behind it answers 503 with
the reason: `starting`, `no_peers`, `syncing` (block sync is fetching, or no linked peer has announced its
height yet) or `behind` (nothing fetching yet).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from chainnode.metrics import NodeMetrics

MAX_BEHIND: Final = 2
"""Blocks a ready node may lag the highest head its peers announced."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Readiness:
    ready: bool
    reason: str | None
    """None when ready; else `starting`, `no_peers`, `syncing` or `behind`."""
    detail: str
    height: int
    target_height: int
    behind: int
    peers: int | None
    """Connected peers; None on a single-validator node (it has none to need)."""

    def to_json(self) -> dict[str, Any]:
        return {"ready": self.ready, "reason": self.reason, "detail": self.detail, "height": self.height,
                "target_height": self.target_height, "behind": self.behind, "peers": self.peers}


def compute_readiness(metrics: NodeMetrics, *, height: int) -> Readiness:
    """Whether the node with these metrics and head `height` is ready, and if not, why."""
    probe = metrics.consensus
    announced = None if probe is None else probe.sync_target()
    target = max(height, announced or 0)
    behind = target - height
    peers = None if probe is None else sum(1 for t in probe.peer_traffic() if t.connected)

    def answer(reason: str | None, detail: str) -> Readiness:
        return Readiness(ready=reason is None, reason=reason, detail=detail, height=height, target_height=target,
                         behind=behind, peers=peers)

    if not metrics.running:
        return answer("starting", "the node is starting")
    if probe is None:
        return answer(None, "producing blocks alone (single validator)")
    if peers == 0:
        return answer("no_peers", "linked to no peer node")
    if announced is None:
        return answer("syncing", "linked, waiting for the peers to announce their heights")
    if behind > MAX_BEHIND:
        if probe.is_syncing():
            return answer("syncing", f"fetching blocks: at {height} of {target}, behind by {behind}")
        return answer("behind", f"behind by {behind} blocks (at {height}, a peer is at {target})")
    return answer(None, "caught up and taking part in consensus")
