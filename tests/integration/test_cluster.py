"""Four department nodes as real processes under load: crashes, a lost quorum, a partition, a double signer.

Every test ends the same way: no fork (every live node has the same block at every height), every
transaction the API reported committed is on every node, and every store passes `chainnode check`.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.cluster import DEPARTMENTS, Cluster, Load
from tests.nodeproc import http_json


def assert_no_progress(cluster: Cluster, nodes: list[int], seconds: float) -> int:
    """Observe for a fixed window that the heights of `nodes` do not move (a liveness *absence* check)."""
    before = {i: cluster.height(i) for i in nodes}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert {i: cluster.height(i) for i in nodes} == before, "committed without a quorum"
        time.sleep(0.1)
    return max(before.values())


@pytest.fixture
def cluster(tmp_path: Path) -> Cluster:
    return Cluster(tmp_path)


def test_one_validator_down_the_chain_goes_on_and_it_catches_up(cluster: Cluster) -> None:
    cluster.start_all()
    try:
        with Load(cluster):
            cluster.wait_height(3)
            cluster.kill(3)
            start = cluster.height(0)
            cluster.wait_height(start + 3, [0, 1, 2])
            cluster.start(3)
            cluster.wait_height(cluster.height(0), [3], timeout=60)
            target = cluster.height(0) + 2
            cluster.wait_height(target)  # it votes again: all four move on together
        cluster.wait_height(max(cluster.height(i) for i in range(4)))
        head = cluster.assert_consistent()
        assert head >= target and len(cluster.committed) > 5
    finally:
        cluster.stop_all()
    cluster.check_stores()


def test_two_of_four_down_commits_stop_without_fork_and_resume(cluster: Cluster) -> None:
    cluster.start_all()
    try:
        ids = cluster.submit(0, ["before"])
        cluster.wait_committed(0, ids)
        cluster.wait_height(cluster.height(0))
        cluster.kill(2)
        cluster.kill(3)
        pending = cluster.submit(0, ["while-half-down"])
        stuck = assert_no_progress(cluster, [0, 1], seconds=4)
        code, body = http_json(f"{cluster.urls[1]}/v1/txs/{pending[0]}")
        # pending at node 1 if the transaction reached it by gossip, else unknown there (404 not_found)
        assert (code, body.get("status") if code == 200 else body.get("code")) in ((200, "pending"), (404, "not_found"))
        # what an operator reads: half the power voted, a decision needs more, and who is silent
        votes = http_json(f"{cluster.urls[0]}/v1/status")[1]["consensus"]["votes"]
        assert votes["total_power"] == 40 and votes["quorum_power"] == 27
        assert votes["prevote_power"] <= 20 and votes["precommit_power"] <= 20
        assert sorted(votes["not_heard_from"]) == sorted(code for code, _ in DEPARTMENTS[2:4])
        cluster.start(2)
        cluster.wait_committed(0, pending, timeout=90)
        assert cluster.height(0) > stuck
        cluster.wait_height(cluster.height(0), [0, 1, 2])
        cluster.assert_consistent()
    finally:
        cluster.stop_all()
    cluster.check_stores()


def test_partition_two_and_two_then_heal(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, proxies=True)
    cluster.start_all()
    try:
        cluster.wait_committed(0, cluster.submit(0, ["before-split"]))
        cluster.wait_height(cluster.height(0))  # every node has the block before the split
        assert cluster.mesh is not None
        cluster.mesh.partition({0, 1})
        left = cluster.submit(0, ["left-side"])
        right = cluster.submit(2, ["right-side"])
        assert_no_progress(cluster, [0, 1, 2, 3], seconds=4)
        cluster.mesh.heal()
        cluster.wait_committed(0, left, timeout=90)
        cluster.wait_committed(2, right, timeout=90)
        cluster.wait_height(max(cluster.height(i) for i in range(4)))
        cluster.assert_consistent()
    finally:
        cluster.stop_all()
    cluster.check_stores()


def test_a_double_signing_validator_is_caught_and_harmless(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, per_node={3: {"misbehave": "double-sign"}})
    cluster.start_all()
    try:
        with Load(cluster):
            cluster.wait_height(4)
            offender = cluster.genesis.validator_set()
            key = next(v.public_key for v in offender.validators if v.department == "TAX")
            deadline = time.monotonic() + 60
            recorded = []
            while not recorded and time.monotonic() < deadline:
                code, body = http_json(f"{cluster.urls[0]}/v1/history/validator:{key.hex()}")
                recorded = [e for e in body.get("events", []) if e["code"] == "ok"] if code == 200 else []
                time.sleep(0.2)
            assert recorded, "no evidence of the double signer was committed"
        cluster.wait_height(max(cluster.height(i) for i in range(4)))
        cluster.assert_consistent()
        height = recorded[0]["height"]
        code, block = http_json(f"{cluster.urls[1]}/v1/blocks/{height}")
        assert any(tx["contract"] == "evidence" and tx["code"] == "ok" for tx in block["txs"])
    finally:
        cluster.stop_all()
    cluster.check_stores()


@pytest.mark.parametrize(
    ("kills", "seed"), [pytest.param(3, 1, id="3-kills"), pytest.param(15, 2, id="15-kills", marks=pytest.mark.slow)]
)
def test_validators_killed_at_random_moments_never_double_sign(tmp_path: Path, kills: int, seed: int) -> None:
    import random

    rng = random.Random(seed)
    cluster = Cluster(tmp_path)
    cluster.start_all()
    try:
        with Load(cluster):
            for _ in range(kills):
                victim = rng.randrange(4)
                cluster.wait_height(cluster.height((victim + 1) % 4) + 1)
                time.sleep(rng.uniform(0, 0.5))  # a random moment inside a height
                cluster.kill(victim)
                cluster.start(victim)
            cluster.wait_height(cluster.height(0) + 2)
        cluster.wait_height(max(cluster.height(i) for i in range(4)))
        cluster.assert_consistent()
        for validator in cluster.genesis.validator_set().validators:
            code, body = http_json(f"{cluster.urls[0]}/v1/history/validator:{validator.public_key.hex()}")
            assert code == 200 and body["events"] == [], f"{validator.department} double-signed after a crash"
    finally:
        cluster.stop_all()
    cluster.check_stores()


def test_an_observer_follows_verifies_and_serves_but_never_votes(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, n=5, observers=1)
    cluster.start_all()
    try:
        ids = cluster.submit(4, [f"via-observer-{k}" for k in range(5)])  # submitted to the observer
        cluster.wait_committed(4, ids)
        cluster.wait_committed(0, ids)
        cluster.wait_height(cluster.height(0))
        cluster.assert_consistent()
        code, status = http_json(cluster.urls[4] + "/v1/status")
        assert code == 200 and status["validator"] is False and status["validators"] == 4
        for height in range(1, cluster.height(0) + 1):
            code, block = http_json(f"{cluster.urls[4]}/v1/blocks/{height}")
            assert len(block["commit"]["signatures"]) >= 3
    finally:
        cluster.stop_all()
    cluster.check_stores()


def test_a_taken_p2p_port_is_one_clear_error(tmp_path: Path) -> None:
    import socket

    from chainnode.config import HomeLayout, load_config, parse_listen

    cluster = Cluster(tmp_path, n=2)
    _, port = parse_listen(load_config(HomeLayout(cluster.homes[0].home).config).p2p_listen, field="p2p")
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        cluster.start(0, wait=False)
        proc = cluster.procs[0]
        assert proc is not None
        assert proc.wait(60) == 2
        cluster.procs[0] = None
    log = (tmp_path / "node0.log").read_text()
    assert "error: listen_failed" in log and str(port) in log and "Traceback" not in log
