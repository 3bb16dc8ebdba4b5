"""`/metrics`, `/health` and `/ready` on real nodes: in-process over the API, and a four-department network
of real processes writing JSON logs."""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import threading
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from chainnode import crypto
from chainnode.api import READS, create_app
from chainnode.bft import BftDriver
from chainnode.home import DepartmentSpec, init_home, init_network
from chainnode.node import Node
from tests.cluster import Cluster
from tests.nodeproc import anchor_tx, http_json

CHAIN = "metrics-test"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample, parsed by prometheus-client's own parser (it raises on anything malformed)."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        assert family.documentation, f"{family.name} has no HELP text"
        assert family.name.startswith("chainnode_"), family.name
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[tuple[TestClient[Any, Any], Node, crypto.PrivateKey]]:
    _, created = init_home(tmp_path / "home", chain_id=CHAIN, department="PSB", name="Police")
    node = Node.from_home(created.home)
    client = TestClient(TestServer(create_app(node), host="127.0.0.1"))
    await client.start_server()
    try:
        yield client, node, crypto.load_key_file(created.officer_key).key
    finally:
        await client.close()
        node.close()


async def scrape(client: TestClient[Any, Any]) -> Samples:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return parse(await response.text())


async def test_metrics_parse_and_counters_move_with_admissions_and_blocks(env: Any) -> None:
    client, node, key = env
    before = await scrape(client)
    assert value(before, "chainnode_head_height") == 0
    assert value(before, "chainnode_blocks_committed_total") == 0
    good = [anchor_tx(key, CHAIN, f"doc {i}", expiry=50) for i in range(3)]
    forged = bytearray(anchor_tx(key, CHAIN, "forged", expiry=50))
    forged[-1] ^= 1
    body = {"txs": [base64.b64encode(r).decode() for r in [*good, bytes(forged)]]}
    response = await client.post("/v1/txs", json=body)
    assert (await response.json())["accepted"] == 3
    pending = await scrape(client)
    assert value(pending, "chainnode_mempool_transactions") == 3
    assert value(pending, "chainnode_mempool_bytes") == sum(len(r) for r in good)
    assert value(pending, "chainnode_admission_verdicts_total", code="accepted", source="api") == 3
    assert value(pending, "chainnode_admission_verdicts_total", code="invalid_signature", source="api") == 1
    await node.produce_block()
    await node.submit([anchor_tx(key, CHAIN, "second block", expiry=50)])
    await node.produce_block()
    after = await scrape(client)
    assert value(after, "chainnode_head_height") == 2
    assert value(after, "chainnode_mempool_transactions") == 0
    assert value(after, "chainnode_blocks_committed_total") == 2
    assert value(after, "chainnode_transactions_committed_total", outcome="ok") == 4
    assert value(after, "chainnode_block_interval_seconds_count") == 1  # block 1 has no parent block
    assert value(after, "chainnode_block_execution_seconds_count", phase="build") == 2
    assert value(after, "chainnode_store_write_seconds_count") == 2
    assert value(after, "chainnode_peers_connected") == 0  # a single validator has no peers


async def test_a_scrape_is_answered_while_client_reads_fill_the_read_pool(env: Any) -> None:
    client, _, _ = env
    pool = client.server.app[READS]
    release = threading.Event()
    blockers = [asyncio.ensure_future(pool.run(release.wait)) for _ in range(pool.limit)]
    try:
        async with asyncio.timeout(5):
            while pool.admitted < pool.limit:  # every blocker admitted: the pool is full
                await asyncio.sleep(0)
        busy = await client.get("/v1/txs/" + "00" * 32)
        assert busy.status == 503 and (await busy.json(content_type=None))["code"] == "busy"
        assert value(await scrape(client), "chainnode_head_height") == 0  # its own thread: still answered
        assert (await client.get("/health")).status == 200
    finally:
        release.set()
        await asyncio.gather(*blockers)


async def test_health_answers_and_ready_waits_for_the_start(env: Any) -> None:
    client, node, _ = env
    health = await client.get("/health")
    assert health.status == 200 and (await health.json())["status"] == "ok"
    starting = await client.get("/ready")
    body = await starting.json(content_type=None)
    assert starting.status == 503 and starting.content_type == "application/problem+json"
    assert body["code"] == "starting" and body["ready"] is False
    node.metrics.running = True  # what chainnode.service.serve sets once the node produces
    ready = await client.get("/ready")
    assert ready.status == 200 and (await ready.json())["ready"] is True
    paths = (await (await client.get("/v1/openapi.json")).json())["paths"]
    assert {"/metrics", "/health", "/ready"} <= set(paths)


async def test_ready_is_503_no_peers_for_a_validator_with_no_links(tmp_path: Path) -> None:
    _, homes = init_network(
        [tmp_path / "a", tmp_path / "b"], chain_id="m",
        departments=[DepartmentSpec(code="PSB", name="P"), DepartmentSpec(code="TAX", name="T")],
        api_ports=[1, 2], p2p_ports=[3, 4],
    )
    node = Node.from_home(homes[0].home)
    driver = BftDriver(node)
    client = TestClient(TestServer(create_app(node), host="127.0.0.1"))
    await client.start_server()
    try:
        node.metrics.running = True
        response = await client.get("/ready")
        body = await response.json(content_type=None)
        assert response.status == 503 and body["code"] == "no_peers" and body["peers"] == 0
        assert response.headers["Retry-After"] == "1"
        assert value(await scrape(client), "chainnode_sync_behind_blocks") == 0
    finally:
        await client.close()
        driver.wal.close()
        node.close()


def get_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


def test_a_network_reports_peers_traffic_rounds_and_readiness_in_json_logs(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, overrides={"log_format": "json"})
    cluster.start_all()
    try:
        ids = cluster.submit(0, [f"metrics {i}" for i in range(5)])
        cluster.wait_committed(0, ids)
        head = cluster.height(0)
        cluster.wait_height(head)
        deadline = time.monotonic() + 30
        while not all(http_json(url + "/ready")[0] == 200 for url in cluster.urls):
            assert time.monotonic() < deadline, [http_json(url + "/ready") for url in cluster.urls]
            time.sleep(0.1)
        scrapes = [parse(get_text(url + "/metrics")) for url in cluster.urls]
        first, second = scrapes[:2]
        assert value(first, "chainnode_peers_connected") == 3
        peers = {dict(labels)["peer"] for name, labels in first if name == "chainnode_peer_received_bytes_total"}
        assert peers == {"SAMR", "CAB", "TAX"}
        assert all(value(first, "chainnode_peer_sent_bytes_total", peer=p) > 0 for p in peers)
        assert value(first, "chainnode_admission_verdicts_total", code="accepted", source="api") == 5
        # node1 judged each gossiped copy: accepted, or (if node0's block got there first) refused as committed
        from_peers = sum(v for (name, labels), v in second.items()
                         if name == "chainnode_admission_verdicts_total" and ("source", "peer") in labels)
        assert from_peers >= 5, {k: v for k, v in second.items() if k[0] == "chainnode_admission_verdicts_total"}
        for samples in (first, second):
            assert value(samples, "chainnode_head_height") >= head
            assert value(samples, "chainnode_transactions_committed_total", outcome="ok") == 5
            assert value(samples, "chainnode_consensus_rounds_per_height_count") >= 1
            assert value(samples, "chainnode_store_write_seconds_count") >= 1
        # each block was built by its proposer and validated (re-executed) by the others
        assert sum(value(s, "chainnode_block_execution_seconds_count", phase="build") for s in scrapes) >= 1
        assert sum(value(s, "chainnode_block_execution_seconds_count", phase="validate") for s in scrapes) >= 3
        received = value(first, "chainnode_peer_received_bytes_total", peer="TAX")
        for i in (1, 2, 3):
            cluster.kill(i)
        deadline = time.monotonic() + 30
        while (answer := http_json(cluster.urls[0] + "/ready"))[0] != 503:
            assert time.monotonic() < deadline, answer
            time.sleep(0.1)
        assert answer[1]["code"] == "no_peers"
        alone = parse(get_text(cluster.urls[0] + "/metrics"))
        assert value(alone, "chainnode_peers_connected") == 0
        assert value(alone, "chainnode_peer_received_bytes_total", peer="TAX") >= received  # never goes back
        assert cluster.kill(0, signal.SIGTERM) == 0
    finally:
        cluster.abort()
    lines = cluster.log(0).read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    committed = [r for r in records if r["message"].startswith("committed block ")]
    assert committed and all(r["height"] == int(r["message"].split()[2]) for r in committed)
    assert any("height" in r and r["logger"].startswith("network") for r in records)
    seed = crypto.load_key_file(cluster.homes[0].home / "keys" / "node.key").key.seed.hex()
    assert seed not in "\n".join(lines)
