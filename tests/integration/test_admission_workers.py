"""A node process with admission worker processes: batches through the API commit, bad transactions get
their codes, and the workers do not outlive a node killed with SIGKILL."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import msgpack

from chainnode import crypto
from chainnode.home import init_home
from tests.nodeproc import anchor_tx, free_port, http_json, kill, log_tail, start_node, wait_ready


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_node_with_admission_workers_commits_batches_and_its_workers_die_with_it(tmp_path: Path) -> None:
    port = free_port()
    _, created = init_home(tmp_path / "node", chain_id="workers", department="PSB", name="Workers", api_port=port,
                           p2p_port=free_port(), config_overrides={"admission_processes": 2})
    key = crypto.load_key_file(created.officer_key).key
    log = tmp_path / "node.log"
    proc = start_node(tmp_path / "node", log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc, log=log)
        assert "admission: 2 worker processes" in log.read_text(), log_tail(log)
        workers = _children(proc.pid)
        assert len(workers) >= 2

        good = [anchor_tx(key, "workers", f"w{i}") for i in range(200)]
        wrong_chain = anchor_tx(key, "another", "x")
        bad_signature = good[0][:-1] + bytes([good[0][-1] ^ 1])
        batch = [*good, wrong_chain, bad_signature, good[5]]
        status, answer = http_json(url + "/v1/txs", data=msgpack.packb(batch, use_bin_type=True),
                                   content_type="application/msgpack")
        assert status == 200, answer
        codes = [r.get("code") for r in answer["results"]]
        assert answer["accepted"] == 200, codes[-3:]
        assert codes[-3:] == ["wrong_chain_id", "invalid_signature", "tx_already_pending"]

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            _, first_tx = http_json(url + f"/v1/txs/{answer['results'][0]['tx_id']}")
            _, last_tx = http_json(url + f"/v1/txs/{answer['results'][199]['tx_id']}")
            if first_tx["status"] == last_tx["status"] == "committed":
                break
            time.sleep(0.1)
        assert first_tx["status"] == last_tx["status"] == "committed", (first_tx, last_tx)
    finally:
        kill(proc)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.1)
    left = [pid for pid in workers if _alive(pid)]
    for pid in left:
        os.kill(pid, 9)
    assert not left, "admission workers outlived their node"
