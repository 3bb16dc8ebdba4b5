"""The `chainnode` command line end to end: a real `chainnode start` process and the CLI as subprocesses.

Ports are ephemeral (bind port 0, then hand the number to `chainnode init`); readiness is polled on
/v1/status, never waited for with a fixed sleep.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chainnode import codec, light
from chainnode.state_tree import compute_key_hash, compute_value_hash

CLI = [sys.executable, "-m", "chainnode.cli"]
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


@dataclass
class RunningNode:
    home: Path
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def genesis(self) -> Path:
        return self.home / "genesis.json"

    @property
    def officer_key(self) -> Path:
        return self.home / "keys" / "officer.key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def run_cli(
    *args: str | Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the CLI; CHAINNODE_NODE is taken from `env` only, never from the caller's environment."""
    full_env = {k: v for k, v in os.environ.items() if k != "CHAINNODE_NODE"}
    full_env.update(env or {})
    return subprocess.run(
        [*CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=full_env, check=False
    )


def assert_one_error_line(result: subprocess.CompletedProcess[str], code: str | None = None) -> str:
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr
    if code is not None:
        assert lines[0].startswith(f"error: {code}: "), lines[0]
    return lines[0]


def init_home(home: Path, *, api_port: int | None = None, chain_id: str = "itest") -> str:
    port = api_port or free_port()
    result = run_cli("init", "--home", home, "--chain-id", chain_id, "--department", "PSB",
                     "--name", "Public Security Bureau", "--api-port", str(port), "--p2p-port", str(free_port()))
    assert result.returncode == 0, result.stderr
    assert "officer.key" in result.stdout and "chainnode start --home" in result.stdout
    return f"http://127.0.0.1:{port}"


def get_status(url: str) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(f"{url}/v1/status", timeout=2) as response:
            document: dict[str, object] = json.loads(response.read())
            return document
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def start_node(home: Path, url: str) -> RunningNode:
    log = home / "node.log"
    with log.open("ab") as handle:
        process = subprocess.Popen([*CLI, "start", "--home", str(home)], stdout=handle, stderr=handle)
    deadline = time.monotonic() + START_TIMEOUT_S
    while get_status(url) is None:
        if process.poll() is not None:
            raise AssertionError(f"the node exited with {process.returncode}:\n{log.read_text()}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"the node did not answer within {START_TIMEOUT_S} s:\n{log.read_text()}")
        time.sleep(0.05)
    return RunningNode(home=home, url=url, process=process, log=log)


def stop_node(node: RunningNode) -> int:
    if node.process.poll() is None:
        node.process.send_signal(signal.SIGTERM)
    try:
        return node.process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        node.process.kill()
        node.process.wait()
        raise


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    home = tmp_path_factory.mktemp("cli") / "node0"
    running = start_node(home, init_home(home))
    try:
        yield running
    finally:
        stop_node(running)


@pytest.fixture(scope="module")
def anchored(node: RunningNode, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    document = tmp_path_factory.mktemp("files") / "decision.txt"
    document.write_text("Decision 2024-17: licence granted\n")
    result = run_cli("anchor", "put", document, "--node", node.url, "--key", node.officer_key, "--kind", "decision",
                     "--meta", "case=2024-17", "--wait", "--json")
    assert result.returncode == 0, result.stderr
    return document, json.loads(result.stdout)


def test_anchor_put_waits_for_the_commit(anchored: tuple[Path, dict[str, object]]) -> None:
    _, out = anchored
    assert out["status"] == "committed" and out["code"] == "ok"
    assert isinstance(out["height"], int) and out["height"] >= 1
    assert isinstance(out["tx_id"], str) and len(out["tx_id"]) == 64


def test_anchoring_twice_fails_with_the_nodes_message(node: RunningNode, anchored: tuple[Path, object]) -> None:
    result = run_cli("anchor", "put", anchored[0], "--node", node.url, "--key", node.officer_key, "--wait")
    assert result.returncode == 1
    assert "already anchored this hash" in assert_one_error_line(result, "anchor_exists")


def test_anchor_verify_names_the_department(node: RunningNode, anchored: tuple[Path, object], tmp_path: Path) -> None:
    proof = tmp_path / "proof.json"
    result = run_cli("anchor", "verify", anchored[0], "--node", node.url, "--genesis", node.genesis,
                     "--proof-out", proof)
    assert result.returncode == 0, result.stderr
    assert "VERIFIED" in result.stdout and "PSB (Public Security Bureau)" in result.stdout
    assert "case=2024-17" in result.stdout and "decision" in result.stdout
    offline = run_cli("anchor", "verify", anchored[0], "--proof", proof, "--genesis", node.genesis, "--json",
                      env={"CHAINNODE_NODE": "http://127.0.0.1:1"})
    assert offline.returncode == 0, offline.stderr
    record = json.loads(offline.stdout)["anchors"][0]
    assert (record["department"], record["kind"], record["metadata"]) == ("PSB", "decision", {"case": "2024-17"})
    assert record["time"].endswith("Z")


def test_verify_of_another_file_fails(node: RunningNode, tmp_path: Path) -> None:
    other = tmp_path / "other.txt"
    other.write_text("never anchored\n")
    result = run_cli("anchor", "verify", other, "--node", node.url, "--genesis", node.genesis)
    assert result.returncode == 1
    assert "is not anchored" in assert_one_error_line(result, "not_anchored")


def tampered_proof(path: Path, out: Path) -> None:
    document = json.loads(path.read_text())
    bundle = light.decode_bundle(base64.b64decode(document["bundles"][0]))
    assert isinstance(bundle, light.StateValueBundle) and bundle.proof.value is not None
    record = codec.decode(bundle.proof.value, max_size=1 << 16)
    record["signer_name"] = "someone else"
    value = codec.encode(record)
    proof = dataclasses.replace(bundle.proof, value=value,
                                leaf=compute_key_hash(bundle.proof.key) + compute_value_hash(value))
    last = dataclasses.replace(bundle.links[-1], payload=(proof,))
    forged = dataclasses.replace(bundle, links=(*bundle.links[:-1], last))
    document["bundles"] = [base64.b64encode(forged.encode()).decode()]
    out.write_text(json.dumps(document))


def test_tampered_proof_fails_offline(node: RunningNode, anchored: tuple[Path, object], tmp_path: Path) -> None:
    proof, forged = tmp_path / "proof.json", tmp_path / "forged.json"
    saved = run_cli("anchor", "verify", anchored[0], "--node", node.url, "--genesis", node.genesis,
                    "--proof-out", proof)
    assert saved.returncode == 0, saved.stderr
    tampered_proof(proof, forged)
    result = run_cli("anchor", "verify", anchored[0], "--proof", forged, "--genesis", node.genesis)
    assert result.returncode == 1
    assert "state proof check failed" in assert_one_error_line(result, "invalid_proof")


def test_wrong_genesis_fails(node: RunningNode, anchored: tuple[Path, object], tmp_path: Path) -> None:
    init_home(tmp_path / "elsewhere", chain_id="itest")
    other_genesis = tmp_path / "elsewhere" / "genesis.json"
    result = run_cli("anchor", "verify", anchored[0], "--node", node.url, "--genesis", other_genesis)
    assert result.returncode == 1
    assert "block and commit check failed" in assert_one_error_line(result, "invalid_proof")


def test_bad_key_file_is_a_usage_error(node: RunningNode, anchored: tuple[Path, object], tmp_path: Path) -> None:
    key = tmp_path / "broken.key"
    key.write_text("{not json")
    key.chmod(0o600)
    result = run_cli("anchor", "put", anchored[0], "--node", node.url, "--key", key)
    assert result.returncode == 2
    assert_one_error_line(result, "key_file_malformed")
    assert len(result.stderr.strip().splitlines()) == 1


def test_node_that_is_down_is_one_line(anchored: tuple[Path, object]) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    for result in (run_cli("status", "--node", down), run_cli("block", "show", "latest", env={"CHAINNODE_NODE": down})):
        assert result.returncode in (1, 2)
        assert "connection refused" in assert_one_error_line(result, "node_unreachable")
        assert len(result.stderr.strip().splitlines()) == 1


def test_block_show_latest(node: RunningNode, anchored: tuple[Path, dict[str, object]]) -> None:
    result = run_cli("block", "show", "latest", "--node", node.url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("block ")
    first = run_cli("block", "show", str(anchored[1]["height"]), "--node", node.url, "--json")
    assert json.loads(first.stdout)["txs"][0]["tx_id"] == anchored[1]["tx_id"]


def test_status_json_parses(node: RunningNode) -> None:
    result = run_cli("status", "--json", env={"CHAINNODE_NODE": node.url})
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["chain_id"] == "itest" and status["node"] == node.url


def test_tx_status_and_proof(node: RunningNode, anchored: tuple[Path, dict[str, object]]) -> None:
    tx_id = str(anchored[1]["tx_id"])
    status = run_cli("tx", "status", tx_id, "--node", node.url, "--wait", "1")
    assert status.returncode == 0 and "committed" in status.stdout
    unsigned = run_cli("tx", "proof", tx_id, "--node", node.url, "--genesis", node.genesis)
    assert "--key" in assert_one_error_line(unsigned, "signature_required")  # a proof carries the arguments
    proof = run_cli("tx", "proof", tx_id, "--node", node.url, "--genesis", node.genesis, "--json",
                    "--key", node.officer_key)
    assert proof.returncode == 0, proof.stderr
    assert json.loads(proof.stdout)["result"]["code"] == "ok"
    bad = run_cli("tx", "status", "not-hex", "--node", node.url)
    assert bad.returncode == 2
    assert_one_error_line(bad, "usage")


def test_second_node_on_a_busy_api_port_fails_clearly(node: RunningNode, tmp_path: Path) -> None:
    port = int(node.url.rsplit(":", 1)[1])
    init_home(tmp_path / "second", api_port=port)
    result = run_cli("start", "--home", tmp_path / "second", timeout=START_TIMEOUT_S)
    assert result.returncode != 0
    assert "already in use" in assert_one_error_line(result)


def test_sigterm_check_and_restart_keep_the_chain(tmp_path: Path) -> None:
    home = tmp_path / "node"
    url = init_home(home)
    running = start_node(home, url)
    document = tmp_path / "kept.txt"
    document.write_text("kept across restarts\n")
    put = run_cli("anchor", "put", document, "--node", url, "--key", running.officer_key, "--wait", "--json")
    assert put.returncode == 0, put.stderr
    height = json.loads(put.stdout)["height"]
    assert stop_node(running) == 0, running.log.read_text()
    assert "Traceback" not in running.log.read_text()
    try:
        import chainnode.check  # noqa: F401
    except ImportError:
        pass
    else:
        check = run_cli("check", "--home", home)
        assert check.returncode == 0, check.stdout + check.stderr
        assert f"checking blocks: {height} of {height} (100%)" in check.stderr  # not a terminal: plain lines
        assert "\r" not in check.stderr
    again = start_node(home, url)
    try:
        status = run_cli("status", "--node", url, "--json")
        assert json.loads(status.stdout)["height"] == height
        verify = run_cli("anchor", "verify", document, "--node", url, "--genesis", again.genesis)
        assert verify.returncode == 0, verify.stderr
    finally:
        assert stop_node(again) == 0


def test_check_reports_a_damaged_store_and_usage_errors(tmp_path: Path) -> None:
    pytest.importorskip("chainnode.check")
    from chainnode import crypto
    from chainnode.home import init_home as make_home
    from chainnode.node import Node
    from chainnode.store import COL_COMMIT, h8
    from chainnode.tx import TxBody, sign_transaction

    _, created = make_home(tmp_path / "home", chain_id="itest", department="PSB", name="Public Security Bureau")
    officer = crypto.load_key_file(created.officer_key).key
    body = TxBody(chain_id="itest", contract="anchor", method="put",
                  args={"content_hash": crypto.sha256(b"x"), "kind": "file"},
                  signer=officer.public_key, nonce=bytes(16), expiry_height=100)
    node = Node.from_home(created.home)
    try:
        async def produce() -> None:
            await node.submit([sign_transaction(officer, body).raw])
            await node.produce_block()

        asyncio.run(produce())
        assert node.head_height() == 1
        node.store._db.put(COL_COMMIT + h8(1), b"not a commit")
    finally:
        node.close()
    result = run_cli("check", "--home", created.home)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "DAMAGED" in result.stdout and "first bad height: 1" in result.stdout
    as_json = json.loads(run_cli("check", "--home", created.home, "--json").stdout)
    assert as_json["ok"] is False and as_json["first_bad_height"] == 1
    missing = run_cli("check", "--home", tmp_path / "nowhere")
    assert missing.returncode == 2
    assert_one_error_line(missing, "usage")


def test_a_key_off_the_roster_is_refused_with_its_code(node: RunningNode, tmp_path: Path) -> None:
    from chainnode import crypto

    stranger = tmp_path / "stranger.key"
    crypto.write_key_file(stranger, crypto.PrivateKey.generate())
    document = tmp_path / "spam.txt"
    document.write_text("spam")
    result = run_cli("anchor", "put", document, "--node", node.url, "--key", stranger, "--kind", "spam")
    assert result.returncode == 1
    assert "registered" in assert_one_error_line(result, "not_a_member")


def test_a_unicode_digit_height_is_a_usage_error() -> None:
    result = run_cli("block", "show", "²", "--node", "http://127.0.0.1:1")
    assert result.returncode == 2
    assert_one_error_line(result, "usage")
