"""Four real node processes whose peer links all run through recording TCP relays: a known transaction
commits everywhere, and neither its bytes nor its memo ever cross a relay in the clear."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from chainnode import crypto
from chainnode.tx import TxBody, decode_transaction, sign_transaction
from network.config import DEFAULT_LIMITS as LIMITS
from network.errors import MalformedFrame
from network.frames import TAG_HELLO, decode_frame
from tests.cluster import Cluster
from tests.nodeproc import http_json
from tests.tcp_proxy import websocket_payloads

MEMO = "licence 2026-0042 granted to Zhang San, ID 110101199003077777"


def is_hello(payload: bytes) -> bool:
    try:
        return decode_frame(payload, LIMITS).tag == TAG_HELLO
    except MalformedFrame:
        return False  # a connection cut in the middle of its first frame


def test_no_peer_link_carries_a_transaction_in_the_clear(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, proxies=True, record=True)
    mesh = cluster.mesh
    assert mesh is not None
    cluster.start_all()
    try:
        body = TxBody(
            chain_id="cluster", contract="anchor", method="put",
            args={"content_hash": crypto.sha256(MEMO.encode()), "kind": "decision", "metadata": {"memo": MEMO}},
            signer=cluster.keys[0].public_key, nonce=os.urandom(16), expiry_height=10_000,
        )
        raw = sign_transaction(cluster.keys[0], body).raw
        request = json.dumps({"txs": [base64.b64encode(raw).decode()]}).encode()
        status, answer = http_json(cluster.urls[0] + "/v1/txs", data=request, timeout=10)
        assert status == 200 and answer["rejected"] == 0, answer
        tx_id = decode_transaction(raw).tx_id.hex()
        for i in range(4):
            cluster.wait_committed(i, [tx_id], timeout=60)
    finally:
        cluster.stop_all()
    needles = (raw, raw[:32], raw[-64:], MEMO.encode(), b"Zhang San", crypto.sha256(MEMO.encode()))
    hellos = 0
    for out, back in mesh.captures():
        for data in (out, back):
            assert not any(needle in data for needle in needles)
        if not back.startswith(b"HTTP/1.1 101"):
            continue  # refused before the upgrade (busy, stopping): no WebSocket frames
        dialed, answered = websocket_payloads(out), websocket_payloads(back)  # client masks removed
        for data in (*dialed, *answered):
            assert not any(needle in data for needle in needles)
        hellos += sum(1 for payload in dialed[:1] + answered[:1] if is_hello(payload))
    assert hellos >= 6  # the parsing is right: every link of the mesh opened with two hellos in the clear
