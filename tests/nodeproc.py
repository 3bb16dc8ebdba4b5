"""Helpers for tests that run real node processes on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from chainnode import crypto
from chainnode.tx import TxBody, sign_transaction

START_NODE = "import sys; from chainnode.cli import main; sys.exit(main(['start', '--home', sys.argv[1]]))"


# Listening ports for test nodes come from below the kernel's ephemeral range (32768-60999 on Linux), so no
# outgoing connection or port-0 listener (a TCP proxy, a client) can take one between the moment a test picks
# it and the moment the node binds it. A per-process cursor keeps the ports of one run distinct.
_PORT_LOW, _PORT_HIGH = 20_000, 32_000
_port_cursor = _PORT_LOW + (os.getpid() * 7919) % (_PORT_HIGH - _PORT_LOW)


def free_port() -> int:
    """A loopback port that is free now, outside the ephemeral range, and not handed out before in this run."""
    global _port_cursor
    for _ in range(_PORT_HIGH - _PORT_LOW):
        port = _port_cursor
        _port_cursor = _PORT_LOW + (_port_cursor + 1 - _PORT_LOW) % (_PORT_HIGH - _PORT_LOW)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free loopback port in {_PORT_LOW}-{_PORT_HIGH}")


def log_tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start_node(home: Path, log: Path, *, test_faults: str = "") -> subprocess.Popen[bytes]:
    """Start `chainnode start --home HOME`; `test_faults` is what CHAINNODE_TEST_FAULTS names for this node
    only (chainnode.faults), so no other node of a test network can turn a fault on."""
    env = {k: v for k, v in os.environ.items() if k != "CHAINNODE_TEST_FAULTS"}
    if test_faults:
        env["CHAINNODE_TEST_FAULTS"] = test_faults
    with log.open("ab") as handle:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([sys.executable, "-c", START_NODE, str(home)], stdout=handle,
                                stderr=subprocess.STDOUT, env=env)


def http_json(
    url: str, *, data: bytes | None = None, content_type: str = "application/json", timeout: float = 10,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": content_type, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait_ready(
    url: str, proc: subprocess.Popen[bytes], timeout: float = 60, *, log: Path | None = None
) -> dict[str, Any]:
    """Poll /v1/status until it answers; fail if the process exits or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = f"; its log ends:\n{log_tail(log)}" if log is not None else ""
            raise AssertionError(f"node exited with code {proc.returncode} before it was ready{tail}")
        try:
            status, body = http_json(url + "/v1/status", timeout=2)
            if status == 200:
                return dict(body)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"node at {url} not ready within {timeout}s")


def kill(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL, timeout: float = 30) -> int:
    if proc.poll() is None:
        os.kill(proc.pid, sig)
    return proc.wait(timeout)


def anchor_tx(key: crypto.PrivateKey, chain_id: str, label: str, *, expiry: int = 10_000) -> bytes:
    body = TxBody(
        chain_id=chain_id,
        contract="anchor",
        method="put",
        args={"content_hash": crypto.sha256(label.encode()), "kind": "test"},
        signer=key.public_key,
        nonce=os.urandom(16),
        expiry_height=expiry,
    )
    return sign_transaction(key, body).raw
