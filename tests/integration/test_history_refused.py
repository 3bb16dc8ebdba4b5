"""Refused calls in the history of the record they aimed at, on a real node (in-process, real LevelDB): a
decision by a key without the role and a revocation by another department show in the case's and the
certificate's history with their codes; a chainnode-store/3 store is upgraded to the same index a fresh
node writes; `chainnode check` finds a missing row of a refused call."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import plyvel
import pytest
from aiohttp.test_utils import TestClient, TestServer

from chainnode import crypto
from chainnode.api import create_app
from chainnode.check import check_home
from chainnode.codec import Value
from chainnode.errors import StoreError
from chainnode.home import init_home
from chainnode.node import Node
from chainnode.store import COL_ENTITY, FORMAT_VERSION, META_FORMAT, UPGRADABLE_FORMAT, Store, entity_prefix
from chainnode.tx import TxBody, sign_transaction
from contracts.case_queries import compute_case_id
from contracts.certificates import compute_cert_id
from contracts.materials import compute_material_id

CHAIN = "refused-test"
HOLDER = crypto.sha256(b"salt|applicant-1")


@dataclass
class Env:
    client: TestClient[Any, Any]
    node: Node
    key: crypto.PrivateKey
    home: Path
    refused: set[bytes] = field(default_factory=set)
    """The tx_ids of the calls refused so far."""

    async def call(self, key: crypto.PrivateKey, contract: str, method: str, args: Value,
                   code: str = "ok") -> bytes:
        """Submit one call, commit its block, check its result code, return its tx_id."""
        body = TxBody(chain_id=CHAIN, contract=contract, method=method, args=args, signer=key.public_key,
                      nonce=os.urandom(16), expiry_height=self.node.head_height() + 100)
        tx = sign_transaction(key, body)
        admission = (await self.node.submit([tx.raw]))[0]
        assert admission.error is None, admission.error
        await self.node.produce_block()
        result = self.node.reader.tx_status(tx.tx_id).to_json()["result"]
        assert result["code"] == code, result
        if code != "ok":
            self.refused.add(tx.tx_id)
        return tx.tx_id

    async def history(self, entity: str) -> list[dict[str, Any]]:
        response = await self.client.get(f"/v1/history/{entity}", params={"limit": "100"})
        document = await response.json(content_type=None)
        assert response.status == 200, document
        return list(document["events"])


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    _, created = init_home(tmp_path / "home", chain_id=CHAIN, department="PSB", name="Police")
    node = Node.from_home(created.home)
    client = TestClient(TestServer(create_app(node), host="127.0.0.1"))
    await client.start_server()
    try:
        yield Env(client, node, crypto.load_key_file(created.officer_key).key, created.home)
    finally:
        await client.close()
        node.close()


async def pass_proposal(env: Env, kind: str, payload: dict[str, Any]) -> None:
    height = env.node.head_height()
    await env.call(env.key, "governance", "propose", {"kind": kind, "payload": payload,
                                                       "deadline_height": height + 50, "effective_height": height + 2})
    response = await env.client.get("/v1/proposals")
    proposal_id = len((await response.json())["proposals"])
    await env.call(env.key, "governance", "vote", {"proposal_id": proposal_id, "approve": True})


async def tick(env: Env) -> None:
    await env.call(env.key, "anchor", "put", {"content_hash": os.urandom(32), "kind": "note"})


async def story(env: Env) -> tuple[str, str, bytes, bytes]:
    """A case approved with its certificate, a refused decision on it by a clerk and a refused revocation of
    the certificate by an issuer of another department; returns (case, cert, the two refused tx_ids)."""
    clerk, samr_admin, samr_issuer = (crypto.PrivateKey(crypto.sha256(label.encode()))
                                      for label in ("psb-clerk", "samr-admin", "samr-issuer"))
    await pass_proposal(env, "register_material_type", {"code": "id_card", "name": "Identity card"})
    await pass_proposal(env, "register_cert_type", {"code": "permit", "name": "Permit", "issuers": ["PSB"],
                                                    "validity_days": 365})
    await pass_proposal(env, "add_department", {
        "code": "SAMR", "name": "Market regulation", "node_key": crypto.sha256(b"samr-node"), "power": 0,
        "admins": [{"public_key": samr_admin.public_key, "name": "SAMR admin"}]})
    await tick(env)
    await env.call(env.key, "governance", "register_member", {"public_key": clerk.public_key, "name": "Clerk",
                                                               "roles": ["clerk"]})
    await env.call(samr_admin, "governance", "register_member", {"public_key": samr_issuer.public_key,
                                                                  "name": "SAMR issuer", "roles": ["issuer"]})
    await tick(env)
    await env.call(env.key, "items", "publish", {
        "code": "PSB-001", "name": "Residence permit", "legal_basis": "Residence Regulation art. 3",
        "kind": "licensing", "conditions": [], "legal_limit_days": 20, "promised_limit_days": 5,
        "materials": [{"material_type": "id_card", "issuers": ["PSB"], "form": "original", "optional": False}],
        "cert_type": "permit", "parallel_departments": [],
    })
    material_id = compute_material_id(await env.call(env.key, "materials", "attest", {
        "material_type": "id_card", "holder_ref": HOLDER, "content_hash": crypto.sha256(b"id scan")}))
    case_id = compute_case_id(await env.call(env.key, "cases", "file", {
        "item_code": "PSB-001", "holder_ref": HOLDER, "materials": [material_id]}))
    decide = {"case_id": case_id, "decision": "approve", "reason": "complete",
              "certificate": {"content_hash": crypto.sha256(b"permit")}}
    refused_decision = await env.call(clerk, "cases", "decide", decide, code="role_required")
    cert_id = compute_cert_id(await env.call(env.key, "cases", "decide", decide))
    refused_revocation = await env.call(samr_issuer, "certificates", "revoke",
                                        {"cert_id": cert_id, "reason": "not ours"}, code="wrong_department")
    return case_id, cert_id, refused_decision, refused_revocation


def entity_rows(home: Path) -> dict[bytes, bytes]:
    db = plyvel.DB(str(home / "data"))
    try:
        return dict(db.iterator(prefix=COL_ENTITY))
    finally:
        db.close()


async def test_refused_calls_show_in_the_history_of_their_target(env: Env) -> None:
    case_id, cert_id, refused_decision, refused_revocation = await story(env)
    case_events = await env.history(f"case:{case_id}")
    assert [(e["tx_id"], e["code"]) for e in case_events if e["code"] != "ok"] == \
        [(refused_decision.hex(), "role_required")]
    assert [e["method"] for e in case_events if e["code"] == "ok"] == ["file", "decide"]
    cert_events = await env.history(f"cert:{cert_id}")
    assert [(e["tx_id"], e["code"]) for e in cert_events] == [
        (cert_events[0]["tx_id"], "ok"), (refused_revocation.hex(), "wrong_department")]
    paged = env.node.reader.entity_history(f"cert:{cert_id}", limit=10)
    assert [e["code"] for e in paged.events] == ["ok", "wrong_department"]


async def test_an_upgraded_store_holds_the_index_a_fresh_node_writes(env: Env) -> None:
    _, cert_id, _, refused_revocation = await story(env)
    await env.client.close()
    env.node.close()
    fresh = entity_rows(env.home)
    refused_rows = [key for key, tx_id in fresh.items() if tx_id == refused_revocation]
    assert entity_prefix(f"cert:{cert_id}") in {key[:-12] for key in refused_rows}

    # What a chainnode-store/3 node wrote: a refused call under its signer only.
    db = plyvel.DB(str(env.home / "data"))
    signer_prefix = entity_prefix("signer:")[:-1]
    for key, _ in list(db.iterator(prefix=COL_ENTITY)):
        if not key.startswith(signer_prefix) and fresh[key] in env.refused:
            db.delete(key)
    db.put(META_FORMAT, UPGRADABLE_FORMAT)
    db.close()
    assert entity_rows(env.home) != fresh

    with pytest.raises(StoreError, match="chainnode start"):  # the check never writes, so it does not upgrade
        check_home(env.home)
    Store(env.home / "data").close()
    assert entity_rows(env.home) == fresh
    db = plyvel.DB(str(env.home / "data"))
    assert db.get(META_FORMAT) == FORMAT_VERSION
    db.close()
    assert check_home(env.home).ok


async def test_the_check_finds_a_missing_row_of_a_refused_call(env: Env) -> None:
    case_id, _, refused_decision, _ = await story(env)
    height = env.node.reader.tx_status(refused_decision).to_json()["height"]
    await env.client.close()
    env.node.close()
    assert check_home(env.home).ok
    db = plyvel.DB(str(env.home / "data"))
    rows = [key for key, tx_id in db.iterator(prefix=entity_prefix(f"case:{case_id}")) if tx_id == refused_decision]
    assert len(rows) == 1
    db.delete(rows[0])
    db.close()
    report = check_home(env.home)
    assert not report.ok
    assert [(p.height, p.column) for p in report.problems if p.column == "e"] == [(height, "e")]
