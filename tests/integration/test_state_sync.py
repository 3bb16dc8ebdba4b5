"""A department node joins a running network by state sync: four validators commit a few hundred anchors, a
fresh observer with `[sync] mode = "state"` fetches the blocks without executing them and the state of a
recent height in chunks, checks both against the commits and the state root, and then follows the chain by
executing new blocks like any node. Real processes on 127.0.0.1."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from chainnode import crypto, light
from chainnode.check import check_home
from chainnode.client import Client
from chainnode.config import HomeLayout
from chainnode.genesis import load_genesis
from tests.cluster import Cluster
from tests.kit import wait_for
from tests.nodeproc import http_json, wait_ready


def status(url: str) -> dict[str, Any]:
    code, body = http_json(url + "/v1/status", timeout=5)
    assert code == 200, body
    return dict(body)


def test_an_observer_joins_by_state_sync_then_validates_new_blocks(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, n=5, observers=1, per_node={4: {"sync_mode": "state"}})
    for i in range(4):
        cluster.start(i, wait=False)
    try:
        for i in range(4):
            proc = cluster.procs[i]
            assert proc is not None
            wait_ready(cluster.urls[i], proc, log=cluster.log(i))
        labels = [f"before-{k}" for k in range(300)]
        ids: list[str] = []
        for start in range(0, len(labels), 30):
            ids += cluster.submit(start // 30 % 4, labels[start:start + 30])
            cluster.wait_committed(0, ids[-1:])
        cluster.wait_committed(0, ids)
        head = cluster.height(0)
        assert head >= 5

        cluster.start(4)
        joined = wait_for("the observer to state-sync", lambda: status(cluster.urls[4])["state_sync_base"], timeout=90)
        observer = status(cluster.urls[4])
        assert 1 <= joined <= head + 2 and observer["height"] >= joined
        log = cluster.log(4).read_text()
        assert "state sync: manifest of height" in log and "Traceback" not in log
        # the state of the base height is the network's: the same state root as the validators' block there
        _, block = http_json(f"{cluster.urls[0]}/v1/blocks/{joined}")
        _, own = http_json(f"{cluster.urls[4]}/v1/blocks/{joined}")
        assert own["hash"] == block["hash"]

        # it then executes new blocks like any node: same heads, same state roots
        more = cluster.submit(1, [f"after-{k}" for k in range(40)])
        cluster.wait_committed(4, more)
        cluster.wait_committed(0, more)
        target = cluster.height(0)
        cluster.wait_height(target, nodes=[0, 4])
        wait_for("equal state roots", lambda: status(cluster.urls[0])["state_root"] == status(cluster.urls[4])[
            "state_root"] and status(cluster.urls[0])["height"] == status(cluster.urls[4])["height"])
        cluster.assert_consistent()

        # proofs it serves verify against genesis: a transaction from before the base, an anchor at the head
        genesis = load_genesis(HomeLayout(cluster.homes[0].home).genesis)
        # (a transaction's proof is an internal read: PSB's officer, an auditor, signs it)
        with Client(cluster.urls[4], key=cluster.keys[0]) as client:
            tx_bundle = light.decode_bundle(client.tx_proof(ids[0]))
        assert isinstance(tx_bundle, light.TxBundle)
        verified = light.verify_tx_bundle(genesis, tx_bundle)
        assert verified.tx.tx_id.hex() == ids[0] and verified.result.code == "ok"
        code, anchors = http_json(f"{cluster.urls[4]}/v1/anchors/{crypto.sha256(b'before-7').hex()}")
        assert code == 200, anchors
        state_bundle = light.decode_bundle(base64.b64decode(anchors["anchors"][0]["proof"]))
        assert isinstance(state_bundle, light.StateValueBundle)
        state = light.verify_state_bundle(genesis, state_bundle)
        assert state.value is not None
        # an auditor's trace from before the base is there; state from before it is a clear error
        code, history = http_json(f"{cluster.urls[4]}/v1/history/anchor:{crypto.sha256(b'before-7').hex()}")
        assert code == 200 and len(history["events"]) == 1, history
        if joined > 1:
            key = anchors["anchors"][0]["key"]
            code, refused = http_json(f"{cluster.urls[4]}/v1/state?key={key}&height={joined - 1}")
            assert code == 410 and refused["code"] == "state_not_kept", refused
            assert f"state-synced at height {joined}" in refused["detail"]
    finally:
        cluster.stop_all()
    cluster.check_stores()
    report = check_home(cluster.homes[4].home)
    assert report.ok, report.problems

