"""A node under load is killed with SIGKILL at random moments and restarted: nothing committed is lost."""

from __future__ import annotations

import base64
import random
import threading
import time
from pathlib import Path

import pytest

from chainnode import crypto
from chainnode.check import check_home
from chainnode.home import init_home
from chainnode.tx import decode_transaction
from tests.nodeproc import anchor_tx, free_port, http_json, kill, start_node, wait_ready


class Load:
    """Submits batches and records every transaction the API reported committed."""

    def __init__(self, url: str, key: crypto.PrivateKey, chain_id: str) -> None:
        self.url = url
        self.key = key
        self.chain_id = chain_id
        self.committed: set[str] = set()
        self.submitted: list[str] = []
        self.stop = threading.Event()
        self.counter = 0

    def run(self) -> None:
        while not self.stop.is_set():
            raws = [anchor_tx(self.key, self.chain_id, f"crash-{self.counter}-{i}") for i in range(50)]
            self.counter += 1
            ids = [decode_transaction(r).tx_id.hex() for r in raws]
            try:
                status, _ = http_json(self.url + "/v1/txs", data=_json_batch(raws), timeout=5)
                if status != 200:
                    continue
                self.submitted.extend(ids)
                for tx_id in ids[::10]:
                    code, body = http_json(f"{self.url}/v1/txs/{tx_id}?wait=2", timeout=5)
                    if code == 200 and body["status"] == "committed":
                        self.committed.add(tx_id)
            except OSError:
                time.sleep(0.02)  # the node is down: retry until it is back


def _json_batch(raws: list[bytes]) -> bytes:
    import json

    return json.dumps({"txs": [base64.b64encode(r).decode() for r in raws]}).encode()


@pytest.mark.parametrize(
    ("kills", "seed"),
    [pytest.param(5, 20261125, id="5-kills"), pytest.param(25, 7, id="25-kills", marks=pytest.mark.slow)],
)
def test_sigkill_under_load_loses_nothing_committed(tmp_path: Path, kills: int, seed: int) -> None:
    rng = random.Random(seed)
    port = free_port()
    _, created = init_home(
        tmp_path / "home",
        chain_id="crash",
        department="PSB",
        name="Police",
        api_port=port,
        p2p_port=free_port(),
        config_overrides={"block_interval_ms": 20},
    )
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "node.log"
    key = crypto.load_key_file(created.officer_key).key
    load = Load(url, key, "crash")
    proc = start_node(created.home, log)
    wait_ready(url, proc)
    worker = threading.Thread(target=load.run, daemon=True)
    worker.start()
    heights = []
    try:
        for _ in range(kills):
            target = len(load.committed) + 20
            deadline = time.monotonic() + 60
            while len(load.committed) < target and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0, 0.3))  # a random moment inside block production
            kill(proc)
            proc = start_node(created.home, log)
            heights.append(wait_ready(url, proc)["height"])
    finally:
        load.stop.set()
        worker.join(30)
    assert len(load.committed) >= 20 * kills
    for tx_id in sorted(load.committed):
        code, body = http_json(f"{url}/v1/txs/{tx_id}")
        assert code == 200 and body["status"] == "committed", f"{tx_id} was reported committed, now {body}"
    assert heights == sorted(heights)
    kill(proc, sig=15)
    report = check_home(created.home)
    assert report.ok, report.problems
    assert report.head >= heights[-1]
