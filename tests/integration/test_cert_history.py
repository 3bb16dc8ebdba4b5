"""A certificate's actions live under their own keys, not in its record: on a real node (in-process, real
LevelDB), the record and a verifier's proof of it stay small after 50 actions, and `chainnode cert show`
still lists all 50 in order, as of any height."""

from __future__ import annotations

import asyncio
import base64
import io
import os
from collections.abc import AsyncIterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from chainnode import crypto
from chainnode.api import create_app
from chainnode.cli import main
from chainnode.codec import Value
from chainnode.home import init_home
from chainnode.node import Node
from chainnode.tx import TxBody, sign_transaction
from contracts import certificates

CHAIN = "cert-history-test"
ACTIONS = 50


@dataclass
class Env:
    client: TestClient[Any, Any]
    node: Node
    key: crypto.PrivateKey

    @property
    def url(self) -> str:
        return str(self.client.make_url("")).rstrip("/")

    async def call(self, contract: str, method: str, args: Value) -> bytes:
        body = TxBody(chain_id=CHAIN, contract=contract, method=method, args=args, signer=self.key.public_key,
                      nonce=os.urandom(16), expiry_height=self.node.head_height() + 100)
        tx = sign_transaction(self.key, body)
        admission = (await self.node.submit([tx.raw]))[0]
        assert admission.error is None, admission.error
        await self.node.produce_block()
        result = self.node.reader.tx_status(tx.tx_id).to_json()["result"]
        assert result["code"] == "ok", result
        return tx.tx_id

    async def get(self, path: str) -> dict[str, Any]:
        response = await self.client.get(path)
        document = await response.json(content_type=None)
        assert response.status == 200, document
        return dict(document)

    def record_bytes(self, cert_id: str) -> bytes:
        raw = self.node.store.get(certificates.cert_key(cert_id))
        assert raw is not None
        return raw


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    _, created = init_home(tmp_path / "home", chain_id=CHAIN, department="PSB", name="Police")
    node = Node.from_home(created.home)
    client = TestClient(TestServer(create_app(node), host="127.0.0.1"))
    await client.start_server()
    try:
        yield Env(client, node, crypto.load_key_file(created.officer_key).key)
    finally:
        await client.close()
        node.close()


def cert_show(url: str, *argv: object) -> str:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["cert", "show", *(str(a) for a in argv), "--node", url])
    assert code == 0 and err.getvalue() == "", err.getvalue()
    return out.getvalue()


async def test_fifty_actions_keep_the_record_small_and_all_show(env: Env) -> None:
    height = env.node.head_height()
    await env.call("governance", "propose", {
        "kind": "register_cert_type", "payload": {"code": "permit", "name": "Permit", "issuers": ["PSB"]},
        "deadline_height": height + 50, "effective_height": height + 2})
    await env.call("governance", "vote", {"proposal_id": 1, "approve": True})
    await env.call("anchor", "put", {"content_hash": crypto.sha256(b"apply"), "kind": "note"})
    tx_id = await env.call("certificates", "issue", {"cert_type": "permit", "holder_ref": crypto.sha256(b"holder"),
                                                     "content_hash": crypto.sha256(b"permit")})
    cert_id = certificates.compute_cert_id(tx_id)
    after_one = env.record_bytes(cert_id)
    issued_height = env.node.head_height()
    actions = ["issued"]
    for i in range(1, ACTIONS):
        method = "suspend" if i % 2 else "reinstate"
        await env.call("certificates", method, {"cert_id": cert_id, "reason": f"action {i}"})
        actions.append(f"{method}d" if method.endswith("e") else f"{method}ed")

    after_fifty = env.record_bytes(cert_id)
    assert len(after_fifty) < 1024 and abs(len(after_fifty) - len(after_one)) < 64, (len(after_one), len(after_fifty))
    proof = await env.get(f"/v1/certs/{cert_id}/proof")
    proof_bytes = sum(len(base64.b64decode(b)) for b in proof["bundles"])
    assert proof_bytes < 2900, proof_bytes

    shown = await asyncio.to_thread(cert_show, env.url, cert_id)
    listed = [line.split()[5] for line in shown.splitlines() if line.startswith("    height ")]
    assert listed == actions and len(listed) == ACTIONS
    assert "[SUSPENDED as of height" in shown  # the 49th change is a suspension
    reasons = [line.rsplit(": ", 1)[1] for line in shown.splitlines() if ": action " in line]
    assert reasons == [f"action {i}" for i in range(1, ACTIONS)]
    then = await asyncio.to_thread(cert_show, env.url, cert_id, "--height", issued_height)
    assert [line.split()[5] for line in then.splitlines() if line.startswith("    height ")] == ["issued"]
