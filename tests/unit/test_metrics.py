"""The node's metrics and readiness without a node: counters per batch, levels read at scrape time, peer
traffic that never goes back, and each reason /ready gives."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from prometheus_client.parser import text_string_to_metric_families

from chainnode.errors import InvalidSignature, MempoolFull
from chainnode.health import MAX_BEHIND, compute_readiness
from chainnode.mempool import Admission
from chainnode.metrics import NodeMetrics, PeerTraffic
from network.config import NetworkConfig
from network.link import Direction, Link, WebSocket
from network.registry import PeerRegistry

A, B = b"\x0a" * 32, b"\x0b" * 32


@dataclass
class FakeProbe:
    traffic: list[PeerTraffic] = field(default_factory=list)
    departments: dict[bytes, str] = field(default_factory=dict)
    round: int | None = None
    target: int | None = None
    syncing: bool = False
    lookups: int = 0

    def peer_traffic(self) -> Sequence[PeerTraffic]:
        return self.traffic

    def peer_department(self, key: bytes) -> str | None:
        self.lookups += 1
        return self.departments.get(key)

    def consensus_round(self) -> int | None:
        return self.round

    def sync_target(self) -> int:
        return self.target

    def is_syncing(self) -> bool:
        return self.syncing

    def state_sync_progress(self) -> tuple[str, int, int] | None:
        return ("chunks", 3, 4) if self.syncing else None


def samples(metrics: NodeMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, parsed by prometheus-client's own parser, by name and sorted labels."""
    out = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def make_metrics(head: list[int], mempool: list[tuple[int, int]]) -> NodeMetrics:
    return NodeMetrics(head_height=lambda: head[0], mempool_size=lambda: mempool[0])


def test_levels_are_read_at_scrape_time_and_events_counted_once_per_call() -> None:
    head, mempool = [0], [(0, 0)]
    metrics = make_metrics(head, mempool)
    before = samples(metrics)
    assert before[("chainnode_head_height", ())] == 0
    assert before[("chainnode_peers_connected", ())] == 0
    assert before[("chainnode_consensus_round", ())] == -1
    head[0], mempool[0] = 7, (3, 900)
    metrics.on_block_committed(txs=5, failed=2, interval_ms=1500)
    metrics.on_block_committed(txs=0, failed=0, interval_ms=None)
    metrics.on_decided(1)
    with metrics.time_build(), metrics.time_store_write():
        pass
    after = samples(metrics)
    assert after[("chainnode_head_height", ())] == 7
    assert after[("chainnode_mempool_transactions", ())] == 3 and after[("chainnode_mempool_bytes", ())] == 900
    assert after[("chainnode_blocks_committed_total", ())] == 2
    assert after[("chainnode_transactions_committed_total", (("outcome", "ok"),))] == 3
    assert after[("chainnode_transactions_committed_total", (("outcome", "failed"),))] == 2
    assert after[("chainnode_block_interval_seconds_count", ())] == 1
    assert after[("chainnode_block_interval_seconds_sum", ())] == 1.5
    assert after[("chainnode_consensus_rounds_per_height_sum", ())] == 2  # decided in round 1: two rounds
    assert after[("chainnode_block_execution_seconds_count", (("phase", "build"),))] == 1
    assert after[("chainnode_block_execution_seconds_count", (("phase", "validate"),))] == 0
    assert after[("chainnode_store_write_seconds_count", ())] == 1


def test_admission_verdicts_are_counted_by_code_and_source() -> None:
    metrics = make_metrics([0], [(0, 0)])
    batch = [Admission(tx_id=b"1"), Admission(tx_id=b"2"),
             Admission(tx_id=b"3", error=InvalidSignature("bad", field="signature")),
             Admission(tx_id=b"4", error=MempoolFull("full"))]
    metrics.count_admissions(batch, source="api")
    metrics.count_admissions(batch[:1], source="peer")
    after = samples(metrics)
    name = "chainnode_admission_verdicts_total"
    assert after[(name, (("code", "accepted"), ("source", "api")))] == 2
    assert after[(name, (("code", "invalid_signature"), ("source", "api")))] == 1
    assert after[(name, (("code", "mempool_full"), ("source", "api")))] == 1
    assert after[(name, (("code", "accepted"), ("source", "peer")))] == 1


def test_peer_traffic_is_labelled_by_department_and_looked_up_once() -> None:
    metrics = make_metrics([4], [(0, 0)])
    probe = FakeProbe(traffic=[PeerTraffic(A, 100, 50, True), PeerTraffic(B, 7, 8, False)],
                      departments={A: "SAMR"}, round=2, target=9, syncing=True)
    metrics.consensus = probe
    first = samples(metrics)
    assert first[("chainnode_peer_received_bytes_total", (("peer", "SAMR"),))] == 100
    assert first[("chainnode_peer_sent_bytes_total", (("peer", "SAMR"),))] == 50
    assert first[("chainnode_peer_received_bytes_total", (("peer", B.hex()[:16]),))] == 7  # not registered
    assert first[("chainnode_peers_connected", ())] == 1
    assert first[("chainnode_consensus_round", ())] == 2
    assert first[("chainnode_sync_target_height", ())] == 9 and first[("chainnode_sync_behind_blocks", ())] == 5
    assert first[("chainnode_syncing", ())] == 1
    assert first[("chainnode_state_sync_ratio", (("phase", "chunks"),))] == 0.75
    lookups = probe.lookups
    samples(metrics)
    assert probe.lookups == lookups + 1  # SAMR is cached; the unregistered key is asked again


def test_node_keys_of_one_department_are_one_series() -> None:
    metrics = make_metrics([4], [(0, 0)])
    metrics.consensus = FakeProbe(traffic=[PeerTraffic(A, 100, 50, True), PeerTraffic(B, 7, 8, False)],
                                  departments={A: "SAMR", B: "SAMR"})  # e.g. a validator and the key it replaced
    text = metrics.render().decode()
    assert text.count('chainnode_peer_received_bytes_total{peer="SAMR"}') == 1
    after = samples(metrics)
    assert after[("chainnode_peer_received_bytes_total", (("peer", "SAMR"),))] == 107
    assert after[("chainnode_peer_sent_bytes_total", (("peer", "SAMR"),))] == 58


def test_readiness_gives_each_reason() -> None:
    metrics = make_metrics([0], [(0, 0)])
    solo = compute_readiness(metrics, height=5)
    assert not solo.ready and solo.reason == "starting"
    metrics.running = True
    assert compute_readiness(metrics, height=5).ready  # a single validator needs no peers
    probe = FakeProbe()
    metrics.consensus = probe
    alone = compute_readiness(metrics, height=5)
    assert (alone.ready, alone.reason, alone.peers) == (False, "no_peers", 0)
    probe.traffic = [PeerTraffic(A, 1, 1, True)]
    unknown = compute_readiness(metrics, height=5)
    assert (unknown.ready, unknown.reason) == (False, "syncing")  # linked, but no peer told its height yet
    probe.target = 5 + MAX_BEHIND
    assert compute_readiness(metrics, height=5).ready  # a block or two behind is normal for an instant
    probe.target = 5 + MAX_BEHIND + 1
    behind = compute_readiness(metrics, height=5)
    assert (behind.ready, behind.reason, behind.behind) == (False, "behind", MAX_BEHIND + 1)
    probe.syncing = True
    syncing = compute_readiness(metrics, height=5)
    assert syncing.reason == "syncing" and "behind by 3" in syncing.detail
    assert syncing.to_json()["target_height"] == 5 + MAX_BEHIND + 1


def make_link(registry: PeerRegistry, peer: bytes) -> Link:
    config = NetworkConfig(chain_id="c", genesis_hash=bytes(32))
    return Link(cast(WebSocket, object()), peer_key=peer, own_key=b"\x01" * 32, address="x:1",
                direction=Direction.INBOUND, config=config, handler=cast(Any, None), report=registry.penalise,
                connected_ms=0)


class Handler:
    def on_peer_connected(self, peer: bytes) -> None: ...

    def on_peer_disconnected(self, peer: bytes) -> None: ...


def test_a_peers_byte_totals_never_go_back_across_replaced_and_ended_links() -> None:
    registry = PeerRegistry(NetworkConfig(chain_id="c", genesis_hash=bytes(32)), is_allowed=lambda _: True,
                            handler=cast(Any, Handler()), clock=cast(Any, None))
    first = make_link(registry, A)
    assert registry.register(first)
    first.stats.bytes_in, first.stats.bytes_out = 100, 40
    assert registry.peer_traffic() == [(A, 100, 40, True)]
    second = make_link(registry, A)
    assert registry.register(second)  # replaces the first, which is still running
    second.stats.bytes_in = 5
    assert registry.peer_traffic() == [(A, 105, 40, True)]
    registry.unregister(first)
    first.stats.bytes_in = 999  # counted once, when it ended
    assert registry.peer_traffic() == [(A, 105, 40, True)]
    registry.unregister(second)
    assert registry.peer_traffic() == [(A, 105, 40, False)]
    third = make_link(registry, A)
    assert registry.register(third)
    third.stats.bytes_out = 1
    assert registry.peer_traffic() == [(A, 105, 41, True)]


def test_the_grafana_dashboard_is_a_dashboard_over_metrics_that_exist() -> None:
    dashboard = json.loads((Path(__file__).parents[2] / "contrib/grafana/chainnode-dashboard.json").read_text())
    assert dashboard["uid"] and dashboard["schemaVersion"] >= 30 and dashboard["title"]
    metrics = make_metrics([0], [(0, 0)])
    metrics.consensus = FakeProbe(traffic=[PeerTraffic(A, 1, 1, True)])
    metrics.count_admissions([Admission(tx_id=b"1")], source="api")
    names = {name for name, _ in samples(metrics)}
    ids, used = set(), set()
    for panel in dashboard["panels"]:
        assert panel["id"] not in ids and {"x", "y", "w", "h"} <= set(panel["gridPos"])
        ids.add(panel["id"])
        for target in panel.get("targets", []):
            used |= set(re.findall(r"chainnode_[a-z_]+", target["expr"]))
    assert used and used <= names, used - names
    for wanted in ("head_height", "block_interval_seconds", "transactions_committed_total", "mempool_transactions",
                   "peers_connected", "peer_received_bytes_total", "admission_verdicts_total",
                   "block_execution_seconds", "store_write_seconds"):
        assert any(name.startswith("chainnode_" + wanted) for name in used), wanted
