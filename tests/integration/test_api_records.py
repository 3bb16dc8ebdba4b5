"""The record routes on a real node: the government story through the API, answers as of any height, and a
certificate whose 50 actions leave its record and proof small."""

from __future__ import annotations

import asyncio
import base64
import io
import os
from collections.abc import AsyncIterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from chainnode import crypto
from chainnode.cli import main
from chainnode.codec import Value
from chainnode.node import Node
from chainnode.tx import TxBody, sign_transaction
from contracts import certificates
from contracts.case_queries import compute_case_id
from contracts.certificates import compute_cert_id
from contracts.materials import compute_material_id
from tests.kit import serve_node, signed_headers

CHAIN = "records-test"
HOLDER = crypto.sha256(b"salt|applicant-1")


class Env:
    def __init__(self, client: TestClient[Any, Any], node: Node, key: crypto.PrivateKey) -> None:
        self.client, self.node, self.key = client, node, key

    @property
    def url(self) -> str:
        return str(self.client.make_url("")).rstrip("/")

    async def call(self, contract: str, method: str, args: Value) -> tuple[bytes, dict[str, Any]]:
        """Submit one call, produce its block, return (tx_id, committed status)."""
        body = TxBody(chain_id=CHAIN, contract=contract, method=method, args=args, signer=self.key.public_key,
                      nonce=os.urandom(16), expiry_height=self.node.head_height() + 100)
        tx = sign_transaction(self.key, body)
        admission = (await self.node.submit([tx.raw]))[0]
        assert admission.error is None, admission.error
        await self.node.produce_block()
        status = self.node.reader.tx_status(tx.tx_id).to_json()
        assert status["result"]["code"] == "ok", status
        return tx.tx_id, status

    async def get(self, path: str, expect: int = 200, *, key: crypto.PrivateKey | None = None) -> dict[str, Any]:
        """GET `path`, signed by `key` (default: the officer's, who holds every role)."""
        response = await self.client.get(path, headers=signed_headers(self.node, key or self.key, path))
        document = await response.json(content_type=None)
        assert response.status == expect, document
        return dict(document)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with serve_node(tmp_path / "home", chain_id=CHAIN) as (client, node, key):
        yield Env(client, node, key)


async def pass_proposal(env: Env, kind: str, payload: dict[str, Any]) -> None:
    height = env.node.head_height()
    await env.call("governance", "propose", {"kind": kind, "payload": payload, "deadline_height": height + 50,
                                              "effective_height": height + 2})
    proposal_id = len((await env.get("/v1/proposals"))["proposals"])
    await env.call("governance", "vote", {"proposal_id": proposal_id, "approve": True})


async def test_the_story_through_the_record_routes(env: Env) -> None:
    await pass_proposal(env, "register_material_type", {"code": "id_card", "name": "Identity card"})
    await pass_proposal(env, "register_cert_type", {"code": "permit", "name": "Permit", "issuers": ["PSB"],
                                                    "validity_days": 365})
    await pass_proposal(env, "publish_calendar", {"year": 2026, "holidays": ["2026-10-01"], "workdays": []})
    # A passed proposal is applied at the start of the next block: the last one waits for one.
    assert (await env.get("/v1/proposals/3"))["proposal"]["status"] == "passed"
    assert (await env.get("/v1/proposals/1"))["proposal"]["status"] == "applied"
    await env.call("anchor", "put", {"content_hash": crypto.sha256(b"next block"), "kind": "note"})
    assert (await env.get("/v1/proposals/3"))["proposal"]["status"] == "applied"
    registries = await env.get("/v1/registries")
    assert [t["code"] for t in registries["material_types"]] == ["id_card"]
    assert registries["cert_types"][0]["issuers"] == ["PSB"] and registries["calendar_years"] == [2026]
    assert (await env.get("/v1/calendar/2026"))["holidays"] == ["2026-10-01"]

    await env.call("items", "publish", {
        "code": "PSB-001", "name": "Residence permit", "legal_basis": "Residence Regulation art. 3",
        "kind": "licensing", "conditions": [], "legal_limit_days": 20, "promised_limit_days": 5,
        "materials": [{"material_type": "id_card", "issuers": ["PSB"], "form": "original", "optional": False}],
        "cert_type": "permit", "parallel_departments": [],
    })
    tx_id, _ = await env.call("materials", "attest", {"material_type": "id_card", "holder_ref": HOLDER,
                                                      "content_hash": crypto.sha256(b"id scan")})
    material_id = compute_material_id(tx_id)
    tx_id, _ = await env.call("cases", "file", {"item_code": "PSB-001", "holder_ref": HOLDER,
                                                "materials": [material_id]})
    case_id = compute_case_id(tx_id)
    case = (await env.get(f"/v1/cases/{case_id}"))["case"]
    assert case["status"] == "accepted" and case["deadline_ms"] is not None
    listed = await env.get("/v1/cases?department=PSB&status=accepted")
    assert [c["case_id"] for c in listed["cases"]] == [case_id]
    tx_id, _ = await env.call("cases", "decide", {"case_id": case_id, "decision": "approve", "reason": "complete",
                                                  "certificate": {"content_hash": crypto.sha256(b"permit")}})
    cert_id = compute_cert_id(tx_id)
    issued_at = env.node.head_height()
    cert = (await env.get(f"/v1/certs/{cert_id}"))["certificate"]
    assert cert["status"] == "valid" and cert["case_id"] == case_id and cert["materials"] == [material_id]

    await env.call("certificates", "amend", {"cert_id": cert_id, "content_hash": crypto.sha256(b"permit 2"),
                                             "reason": "address changed"})
    amended_at = env.node.head_height()
    await env.call("certificates", "revoke", {"cert_id": cert_id, "reason": "obtained by fraud"})
    assert (await env.get(f"/v1/certs/{cert_id}"))["certificate"]["status"] == "revoked"
    first = (await env.get(f"/v1/certs/{cert_id}?version=1"))["certificate"]
    assert first["version"] == 1 and first["status"] == "revoked" and first["latest_version"] == 2
    assert first["superseded"] is True and first["superseded_height"] == amended_at
    before = await env.get(f"/v1/certs/{cert_id}?height={issued_at}")
    assert before["height"] == issued_at and before["certificate"]["status"] == "valid"
    await env.get(f"/v1/certs/{cert_id}?height={issued_at - 1}", expect=404)  # not issued yet then

    holder = await env.get(f"/v1/holders/{HOLDER.hex()}")
    assert [m["material_id"] for m in holder["materials"]] == [material_id]
    assert [c["case_id"] for c in holder["cases"]] == [case_id]
    assert [c["cert_id"] for c in holder["certificates"]] == [cert_id]
    supervision = await env.get("/v1/supervision/PSB?within_days=5")
    assert supervision["overdue"] == [] and supervision["decided"] == 1
    for path in ("/v1/supervision/PSX", "/v1/cases?department=PSX"):
        missing = await env.get(path, expect=404)
        assert missing["code"] == "not_found" and "PSX" in missing["detail"] and missing["field"] == "department"
    history = await env.get(f"/v1/history/case:{case_id}")
    assert len(history["events"]) == 2  # filed, decided


async def test_governance_routes_answer_as_of_a_height(env: Env) -> None:
    officer = env.key.public_key.hex()
    clerk = crypto.PrivateKey.generate().public_key
    await env.call("governance", "register_member", {"public_key": clerk, "name": "Clerk Wang", "roles": ["clerk"]})
    registered = env.node.head_height()
    member = await env.get(f"/v1/members/{clerk.hex()}")  # registered now, signing from the next height
    assert not member["active"] and member["scheduled"] == [{"from_height": registered + 1, "roles": ["clerk"]}]
    await env.call("governance", "revoke_member", {"public_key": clerk, "reason": "left"})
    member = await env.get(f"/v1/members/{clerk.hex()}")
    assert member["active"] and member["roles"] == ["clerk"] and member["member"]["department"] == "PSB"
    assert member["scheduled"] == [{"from_height": registered + 2, "roles": []}]
    await env.call("anchor", "put", {"content_hash": crypto.sha256(b"next block"), "kind": "note"})
    assert (await env.get(f"/v1/members/{clerk.hex()}"))["active"] is False
    assert (await env.get(f"/v1/members/{clerk.hex()}?height={registered + 1}"))["roles"] == ["clerk"]
    roster = await env.get(f"/v1/departments/PSB/members?height={registered + 1}")
    assert clerk.hex() in [m["public_key"] for m in roster["members"]]
    assert officer in [m["public_key"] for m in roster["members"]]
    departments = await env.get("/v1/departments")
    assert [d["code"] for d in departments["departments"]] == ["PSB"]


async def test_bad_queries_name_the_problem(env: Env) -> None:
    assert (await env.get("/v1/cases/not-an-id", expect=400))["field"] == "case_id"
    assert (await env.get(f"/v1/cases/{'0' * 32}", expect=404))["code"] == "not_found"
    assert (await env.get("/v1/cases", expect=400))["field"] == "department"
    assert (await env.get("/v1/cases?department=PSB&status=lost", expect=400))["field"] == "status"
    assert (await env.get("/v1/departments?height=99", expect=404))["field"] == "height"
    assert (await env.get("/v1/members/abcd", expect=400))["field"] == "public_key"
    assert (await env.get("/v1/calendar/12", expect=400))["field"] == "year"


async def test_openapi_and_contract_list_cover_every_route_and_method(env: Env) -> None:
    document = await env.get("/v1/openapi.json")
    for path in ("/v1/cases/{case_id}", "/v1/certs/{cert_id}", "/v1/supervision/{department}", "/v1/contracts",
                 "/v1/items/{code}", "/v1/members/{public_key}", "/v1/proposals/{proposal_id}",
                 "/v1/blobs/{sha256}", "/v1/documents", "/v1/documents/{doc_id}",
                 "/v1/documents/{doc_id}/ciphertext", "/v1/documents/{doc_id}/open"):
        assert path in document["paths"]
    assert document["paths"]["/v1/documents/{doc_id}"]["get"]["security"] == [{"SignedRead": []}]
    assert "SignedRead" in document["components"]["securitySchemes"]
    contracts = (await env.get("/v1/contracts"))["contracts"]
    assert {"governance", "items", "materials", "cases", "certificates", "anchor", "documents"} <= set(contracts)
    assert "decide" in contracts["cases"] and contracts["cases"]["decide"]["description"]


def cert_show(url: str, *argv: object) -> str:
    """`chainnode cert show` against the node; off the loop that serves it (the CLI's client runs its own)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["cert", "show", *(str(a) for a in argv), "--node", url])
    assert code == 0 and err.getvalue() == "", err.getvalue()
    return out.getvalue()


def shown_actions(text: str) -> list[str]:
    return [line.split()[5] for line in text.splitlines() if line.startswith("    height ")]


async def test_fifty_certificate_actions_keep_the_record_small_and_all_show(env: Env) -> None:
    """A certificate's actions live under their own keys: its record and a verifier's proof stay small after 50
    actions, and `chainnode cert show` still lists all 50 in order, as of any height."""
    await pass_proposal(env, "register_cert_type", {"code": "permit", "name": "Permit", "issuers": ["PSB"]})
    await env.call("anchor", "put", {"content_hash": crypto.sha256(b"apply"), "kind": "note"})
    tx_id, _ = await env.call("certificates", "issue", {"cert_type": "permit", "holder_ref": HOLDER,
                                                        "content_hash": crypto.sha256(b"permit")})
    cert_id = compute_cert_id(tx_id)
    after_one = env.node.store.get(certificates.cert_key(cert_id)) or b""
    issued_at = env.node.head_height()
    actions = ["issued"]
    for i in range(1, 50):
        method, done = ("suspend", "suspended") if i % 2 else ("reinstate", "reinstated")
        await env.call("certificates", method, {"cert_id": cert_id, "reason": f"action {i}"})
        actions.append(done)

    after_fifty = env.node.store.get(certificates.cert_key(cert_id)) or b""
    assert len(after_fifty) < 1024 and abs(len(after_fifty) - len(after_one)) < 64, (len(after_one), len(after_fifty))
    proof = await env.get(f"/v1/certs/{cert_id}/proof")
    assert len(base64.b64decode(proof["proof"])) == proof["bytes"] <= 2953  # one binary QR code

    shown = await asyncio.to_thread(cert_show, env.url, cert_id)
    assert shown_actions(shown) == actions
    assert "[SUSPENDED as of height" in shown  # the 49th change is a suspension
    reasons = [line.rsplit(": ", 1)[1] for line in shown.splitlines() if ": action " in line]
    assert reasons == [f"action {i}" for i in range(1, 50)]
    then = await asyncio.to_thread(cert_show, env.url, cert_id, "--height", issued_at)
    assert shown_actions(then) == ["issued"]
