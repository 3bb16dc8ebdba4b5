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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_node(home: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as handle:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([sys.executable, "-c", START_NODE, str(home)], stdout=handle, stderr=subprocess.STDOUT)


def http_json(
    url: str, *, data: bytes | None = None, content_type: str = "application/json", timeout: float = 10
) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> dict[str, Any]:
    """Poll /v1/status until it answers; fail if the process exits or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"node exited with code {proc.returncode} before it was ready")
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
