"""Scoped reads on a real served node: internal records (cases, materials, holders, supervision, history,
transaction detail) answer only a signed request of a member who may read them; public routes answer anyone.

PSB handles the case; CAB is another department with a clerk and an auditor; CAB's node key is the "other
node" a header can be signed for.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from chainnode import crypto
from chainnode.api_auth import REPLAYS
from chainnode.read_auth import NONCE_SIZE, WINDOW_MS, sign_read
from contracts import case_queries
from tests.kit import signed_headers
from tests.report_chain import HOLDER, Chain, open_chain

CAB_CLERK = crypto.PrivateKey(b"\x31" * 32)
CAB_AUDITOR = crypto.PrivateKey(b"\x32" * 32)
CAB_ADMIN = crypto.PrivateKey(b"\x33" * 32)


@pytest.fixture
async def chain(tmp_path: Path) -> AsyncIterator[Chain]:
    members = [(CAB_CLERK, "CAB clerk", ["clerk"]), (CAB_AUDITOR, "CAB auditor", ["auditor"]),
               (CAB_ADMIN, "CAB admin", ["admin"])]
    async with open_chain(tmp_path, departments=(("CAB", "Civil affairs", members),)) as opened:
        await opened.setup_item(voters=(CAB_ADMIN,))
        yield opened


async def _status(chain: Chain, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    response = await chain.client.get(path, headers=headers)
    return response.status, dict(json.loads(await response.read()))


def _problem(status: int, document: dict[str, Any], want_status: int, code: str) -> None:
    assert (status, document.get("code")) == (want_status, code), document


async def test_a_case_answers_its_departments_staff_and_auditors_only(chain: Chain) -> None:
    clerk = await chain.register("PSB clerk", ["clerk"])
    case_id = await chain.file_case(key=clerk)
    path = f"/v1/cases/{case_id}"

    status, document = await _status(chain, path)
    _problem(status, document, 401, "signature_required")
    assert "--key" in document["detail"]
    assert (await chain.get(path, key=clerk))["case"]["case_id"] == case_id  # the handling department's staff
    assert (await chain.get(path, key=CAB_AUDITOR))["case"]["case_id"] == case_id  # an auditor of any department
    refused = await chain.get(path, 403, key=CAB_CLERK)
    assert refused["code"] == "not_authorised" and "PSB" in refused["detail"] and "auditors" in refused["detail"]
    state = f"/v1/state?key={case_queries.case_key(case_id).hex()}"
    for route in (f"{path}/proof", f"/v1/history/case:{case_id}", state):
        assert (await chain.get(route, 403, key=CAB_CLERK))["code"] == "not_authorised", route
        await chain.get(route, key=clerk)
        _problem(*await _status(chain, route), 401, "signature_required")


async def test_a_header_is_good_once_at_its_own_node_within_its_window(chain: Chain) -> None:
    case_id = await chain.file_case()
    path = f"/v1/cases/{case_id}"
    headers = signed_headers(chain.node, chain.key, path)
    assert (await _status(chain, path, headers))[0] == 200
    _problem(*await _status(chain, path, headers), 401, "read_replayed")

    cab_node = bytes.fromhex(next(d for d in (await chain.get("/v1/departments"))["departments"]
                                  if d["code"] == "CAB")["node_key"])
    for_cab = sign_read(chain.key, chain.node.genesis.chain_id, "GET", path, chain.clock.now, os.urandom(NONCE_SIZE),
                        cab_node)
    _problem(*await _status(chain, path, {"Authorization": for_cab}), 401, "wrong_node")

    stale = sign_read(chain.key, chain.node.genesis.chain_id, "GET", path, chain.clock.now - WINDOW_MS - 1,
                      os.urandom(NONCE_SIZE), chain.node.node_key.public_key)
    _problem(*await _status(chain, path, {"Authorization": stale}), 401, "read_request_expired")

    other_path = f"/v1/cases/{case_id}/proof"  # a fresh header for one path serves no other
    moved = signed_headers(chain.node, chain.key, path)
    _problem(*await _status(chain, other_path, moved), 401, "bad_signature")

    old_form = f"Chainnode-Signed key={chain.key.public_key.hex()}, time={chain.clock.now}, signature={'0' * 128}"
    status, document = await _status(chain, path, {"Authorization": old_form})
    _problem(status, document, 401, "malformed_signature")
    assert "nonce=" in document["detail"]


async def test_a_revoked_key_reads_nothing(chain: Chain) -> None:
    clerk = await chain.register("PSB clerk", ["clerk"])
    case_id = await chain.file_case(key=clerk)
    await chain.get(f"/v1/cases/{case_id}", key=clerk)
    await chain.call("governance", "revoke_member", {"public_key": clerk.public_key, "reason": "left the office"})
    await chain.block()
    refused = await chain.get(f"/v1/cases/{case_id}", 403, key=clerk)
    assert refused["code"] == "key_revoked"
    stranger = crypto.PrivateKey.generate()
    replays = chain.client.server.app[REPLAYS]
    held = len(replays)
    assert (await chain.get(f"/v1/cases/{case_id}", 403, key=stranger))["code"] == "not_a_member"
    # a key off the roster (anyone can make one) takes no place in the replay cache: it cannot fill it
    assert len(replays) == held


async def test_department_records_and_holders_are_scoped_by_department(chain: Chain) -> None:
    case_id = await chain.file_case()
    for route in ("/v1/cases?department=PSB", "/v1/supervision/PSB", "/v1/history/department:PSB"):
        assert (await chain.get(route, 403, key=CAB_CLERK))["code"] == "not_authorised", route
        await chain.get(route, key=CAB_AUDITOR)
    assert (await chain.get("/v1/cases?department=CAB", key=CAB_CLERK))["cases"] == []
    await chain.get("/v1/history/department:CAB", key=CAB_CLERK)
    assert (await chain.get("/v1/reports/authority", 403, key=CAB_CLERK))["code"] == "role_required"
    await chain.get("/v1/reports/authority", key=CAB_AUDITOR)

    # a holder spans departments: each department's staff see what their department takes part in
    full = await chain.get(f"/v1/holders/{HOLDER.hex()}", key=CAB_AUDITOR)
    assert [c["case_id"] for c in full["cases"]] == [case_id] and len(full["materials"]) == 1
    scoped = await chain.get(f"/v1/holders/{HOLDER.hex()}", key=CAB_CLERK)
    assert (scoped["cases"], scoped["materials"], scoped["scoped_to"]) == ([], [], "CAB")
    assert (await chain.get(f"/v1/history/holder:{HOLDER.hex()}", 403, key=CAB_CLERK))["code"] == "not_authorised"

    material_id = full["materials"][0]["material_id"]
    assert (await chain.get(f"/v1/materials/{material_id}", 403, key=CAB_CLERK))["code"] == "not_authorised"
    assert (await chain.get(f"/v1/materials/{material_id}"))["material"]["issuer"] == "PSB"


async def test_transaction_detail_is_the_signers_departments(chain: Chain) -> None:
    tx_id, _ = await chain.call("anchor", "put", {"content_hash": os.urandom(32), "kind": "note"})
    path = f"/v1/txs/{tx_id.hex()}"
    public = await _status(chain, path)
    assert public[0] == 200 and public[1]["result"]["code"] == "ok" and "events" not in public[1]["result"]
    assert (await chain.get(path))["result"]["events"]  # the signer's department
    assert (await chain.get(path, key=CAB_AUDITOR))["result"]["events"]
    assert (await chain.get(path, 403, key=CAB_CLERK))["code"] == "not_authorised"
    _problem(*await _status(chain, f"{path}/proof"), 401, "signature_required")
    assert (await chain.get(f"{path}/proof", 403, key=CAB_CLERK))["code"] == "not_authorised"
    assert (await chain.get(f"{path}/proof"))["proof"]

    height = chain.node.head_height()
    block = await _status(chain, f"/v1/blocks/{height}")  # headers, commits and tx IDs: public
    assert block[0] == 200 and block[1]["txs"][0]["tx_id"] == tx_id.hex()
    raw = await chain.client.get(f"/v1/blocks/{height}?format=msgpack")
    assert raw.status == 401
    raw = await chain.client.get(f"/v1/blocks/{height}?format=msgpack",
                                 headers=signed_headers(chain.node, CAB_CLERK, f"/v1/blocks/{height}?format=msgpack"))
    assert raw.status == 403
    raw = await chain.client.get(f"/v1/blocks/{height}?format=msgpack",
                                 headers=signed_headers(chain.node, CAB_AUDITOR, f"/v1/blocks/{height}?format=msgpack"))
    assert raw.status == 200 and raw.content_type == "application/msgpack"


async def test_the_event_stream_gives_tx_detail_only_on_a_signed_upgrade(chain: Chain) -> None:
    height = chain.node.head_height()
    target = f"/v1/events?from_height={height}"
    anonymous = await chain.client.ws_connect(target)
    event = json.loads((await anonymous.receive()).data)
    await anonymous.close()
    assert event["height"] == height and event["results"] and all("events" not in r for r in event["results"])
    signed = await chain.client.ws_connect(target, headers=signed_headers(chain.node, CAB_AUDITOR, target))
    event = json.loads((await signed.receive()).data)
    await signed.close()
    assert all("events" not in r for r in event["results"])  # detail is opt-in, signed or not
    detailed = f"{target}&detail=events"
    signed = await chain.client.ws_connect(detailed, headers=signed_headers(chain.node, CAB_AUDITOR, detailed))
    event = json.loads((await signed.receive()).data)
    await signed.close()
    assert event["results"] and all("events" in r for r in event["results"])
    refused = await chain.client.get(target, headers=signed_headers(chain.node, crypto.PrivateKey.generate(), target))
    assert refused.status == 403
    _problem(*await _status(chain, detailed), 401, "signature_required")
    _problem(*await _status(chain, f"{target}&detail=all"), 400, "invalid_input")


async def test_public_routes_answer_without_a_key(chain: Chain) -> None:
    case_id = await chain.file_case()
    cert_id = "0" * 32
    for route in ("/v1/status", "/v1/openapi.json", "/health", "/v1/validators", "/v1/contracts", "/v1/departments",
                  "/v1/departments/PSB/members", f"/v1/members/{chain.key.public_key.hex()}", "/v1/proposals",
                  "/v1/proposals/1", "/v1/registries", "/v1/items", "/v1/items/PSB-001", "/v1/blocks/latest",
                  f"/v1/certs/{cert_id}/proof", "/v1/history/item:PSB-001",
                  f"/v1/state?key={b'gov/config'.hex()}"):
        response = await chain.client.get(route, headers=None)
        assert response.status == 200, (route, await response.text())
    assert (await chain.client.get("/metrics")).status == 200
    _problem(*await _status(chain, f"/v1/cases/{case_id}"), 401, "signature_required")


async def test_the_cli_signs_with_key_and_names_it_when_missing(chain: Chain) -> None:
    case_id = await chain.file_case()
    result = await chain.cli("case", "show", case_id)  # signed with the officer's key by Chain.cli
    assert result.code == 0 and case_id in result.out
    missing = await chain.cli("case", "show", case_id, sign=False)
    assert missing.code == 1 and "--key" in missing.err and "signature_required" in missing.err
