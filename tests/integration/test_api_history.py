"""An entity's history on a real node (in-process, real LevelDB, 127.0.0.1): pages that follow a cursor across
thousands of events, height bounds, refused cursors, the signer's roles as they stood at each height, the
client's iterator and the `chainnode history` command; refused calls in the history of the case or certificate
they aimed at, the upgrade of a chainnode-store/3 index and the check finding a missing row of a refused call."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
from collections.abc import AsyncIterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import plyvel
import pytest
from aiohttp.test_utils import TestClient
from yarl import URL

from chainnode import crypto, history
from chainnode.check import check_home
from chainnode.cli import main
from chainnode.cli_records import format_local_ms
from chainnode.client import AsyncClient, Client
from chainnode.codec import Value
from chainnode.errors import StoreError
from chainnode.node import Node
from chainnode.store import COL_ENTITY, FORMAT_VERSION, META_FORMAT, UPGRADABLE_FORMAT, Store, entity_prefix
from chainnode.tx import TxBody, sign_transaction
from contracts.case_queries import compute_case_id
from contracts.certificates import compute_cert_id
from contracts.materials import compute_material_id
from tests.kit import serve_node, signed_headers
from tests.nodeproc import anchor_tx

CHAIN = "history-test"
EVENTS = 2_500
PER_BLOCK = 500


@dataclass
class Env:
    client: TestClient[Any, Any]
    node: Node
    key: crypto.PrivateKey

    @property
    def url(self) -> str:
        return str(self.client.make_url("")).rstrip("/")

    async def get(self, path: str, expect: int = 200, **params: object) -> dict[str, Any]:
        """GET `path?params`, signed by the officer's key (every role: histories are internal)."""
        target = str(URL(path).with_query({k: str(v) for k, v in params.items()})) if params else path
        response = await self.client.get(target, headers=signed_headers(self.node, self.key, target))
        document = await response.json(content_type=None)
        assert response.status == expect, document
        return dict(document)

    async def call(self, key: crypto.PrivateKey, contract: str, method: str, args: Value) -> str:
        """Submit one call signed by `key`, commit its block, return its tx_id (whatever its outcome)."""
        body = TxBody(chain_id=CHAIN, contract=contract, method=method, args=args, signer=key.public_key,
                      nonce=os.urandom(16), expiry_height=self.node.head_height() + 100)
        tx = sign_transaction(key, body)
        admission = (await self.node.submit([tx.raw]))[0]
        assert admission.error is None, admission.error
        await self.node.produce_block()
        return tx.tx_id.hex()


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with serve_node(tmp_path / "home", chain_id=CHAIN) as (client, node, key):
        yield Env(client, node, key)


async def anchor_blocks(env: Env, total: int, per_block: int) -> None:
    """`total` anchors by the officer, `per_block` to a block (each block one batch submission)."""
    for start in range(0, total, per_block):
        raws = [anchor_tx(env.key, CHAIN, f"doc-{i}") for i in range(start, min(start + per_block, total))]
        admissions = await env.node.submit(raws)
        assert all(a.error is None for a in admissions)
        proposed = await env.node.produce_block()
        assert proposed is not None and len(proposed.block.txs) == len(raws)


async def test_pages_follow_the_cursor_across_thousands_of_events(env: Env) -> None:
    await anchor_blocks(env, EVENTS, PER_BLOCK)
    head = env.node.head_height()
    entity = "department:PSB"
    pages: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, object] = {"limit": 1000} if cursor is None else {"limit": 1000, "cursor": cursor}
        pages.append(await env.get(f"/v1/history/{entity}", **params))
        cursor = pages[-1]["next_cursor"]
        if cursor is None:
            break
    assert [len(p["events"]) for p in pages] == [1000, 1000, 500]
    events = [e for p in pages for e in p["events"]]
    positions = [(e["height"], e["index"]) for e in events]
    assert positions == sorted(set(positions)) and len(positions) == EVENTS  # chain order, nothing twice
    assert {e["height"] for e in events} == set(range(1, head + 1))
    assert all(p["head"] == head and p["to_height"] == head and p["entity"] == entity for p in pages)

    first = events[0]
    header = env.node.store.get_header(1)
    assert header is not None
    assert first["time_ms"] == header.time_ms and first["time"].endswith("Z") and first["time"][:4].isdigit()
    assert (first["contract"], first["method"], first["code"], first["message"]) == ("anchor", "put", "ok", "")
    assert first["signer"] == env.key.public_key.hex()
    assert first["signer_department"] == "PSB" and isinstance(first["signer_name"], str) and first["signer_name"]
    assert "admin" in first["signer_roles"]
    assert [e["kind"] for e in first["events"]] == ["anchor.recorded"]
    assert first["events"][0]["attributes"]["department"] == "PSB"
    tx = env.node.reader.tx_status(bytes.fromhex(first["tx_id"]))
    assert (tx.height, tx.index) == (first["height"], first["index"])

    default = await env.get(f"/v1/history/{entity}")
    assert len(default["events"]) == 100 and default["limit"] == 100 and default["next_cursor"]
    assert default["events"] == events[:100]
    capped = await env.get(f"/v1/history/{entity}", limit=50_000)
    assert capped["limit"] == 1000 and capped["events"] == events[:1000]

    # the client: the old call, one page with its cursor, and the iterator over every page
    async with AsyncClient(env.url, key=env.key) as client:
        assert await client.history(entity, 10) == events[:10]
        page = await client.history_page(entity, limit=700, cursor=default["next_cursor"])
        assert page["events"] == events[100:800]
        assert [e async for e in client.iter_history(entity, page_size=900)] == events


async def test_height_bounds_and_refused_cursors(env: Env) -> None:
    await anchor_blocks(env, 1200, 300)  # heights 1-4, 300 events each
    entity = "department:PSB"
    bounded = await env.get(f"/v1/history/{entity}", from_height=2, to_height=3, limit=1000)
    assert {e["height"] for e in bounded["events"]} == {2, 3} and len(bounded["events"]) == 600
    assert bounded["next_cursor"] is None  # exactly the events in bounds: no empty page to fetch
    exact = await env.get(f"/v1/history/{entity}", from_height=2, to_height=3, limit=600)
    assert exact["events"] == bounded["events"] and exact["next_cursor"] is None
    paged = await env.get(f"/v1/history/{entity}", from_height=2, to_height=3, limit=599)
    assert paged["next_cursor"] is not None
    rest = await env.get(f"/v1/history/{entity}", from_height=2, to_height=3, limit=599, cursor=paged["next_cursor"])
    assert paged["events"] + rest["events"] == bounded["events"] and rest["next_cursor"] is None

    beyond = await env.get(f"/v1/history/{entity}", from_height=4, to_height=1_000_000)
    assert beyond["to_height"] == 4 and {e["height"] for e in beyond["events"]} == {4}
    assert (await env.get(f"/v1/history/{entity}", from_height=5))["events"] == []
    unknown = await env.get("/v1/history/case:00000000000000000000000000000000")
    assert unknown["events"] == [] and unknown["next_cursor"] is None

    cursor = paged["next_cursor"]
    other_entity = f"signer:{env.key.public_key.hex()}"
    raw = bytearray(base64.urlsafe_b64decode(cursor))
    raw[0] = 9  # another version
    for bad in ("abc", cursor[:-1], cursor + "A", "!" * 28, base64.urlsafe_b64encode(bytes(raw)).decode()):
        problem = await env.get(f"/v1/history/{entity}", 400, cursor=bad)
        assert problem["code"] == "invalid_field" and problem["field"] == "cursor", bad
    foreign = await env.get(f"/v1/history/{other_entity}", 400, cursor=cursor)
    assert foreign["field"] == "cursor" and "another entity" in foreign["detail"]
    elsewhere = history.encode_cursor("another-chain", entity, (2, 5))
    assert (await env.get(f"/v1/history/{entity}", 400, cursor=elsewhere))["field"] == "cursor"
    inverted = await env.get(f"/v1/history/{entity}", 400, from_height=3, to_height=2)
    assert inverted["field"] == "to_height"


async def test_roles_are_those_held_at_each_height(env: Env) -> None:
    clerk = crypto.PrivateKey.generate()
    member = clerk.public_key.hex()
    await env.call(env.key, "governance", "register_member",
                   {"public_key": clerk.public_key, "name": "Clerk Wang", "roles": ["clerk"]})
    as_clerk = await env.call(clerk, "anchor", "put", {"content_hash": crypto.sha256(b"one"), "kind": "note"})
    await env.call(env.key, "governance", "set_roles", {"public_key": clerk.public_key, "roles": ["reviewer"]})
    as_reviewer = await env.call(clerk, "anchor", "put", {"content_hash": crypto.sha256(b"two"), "kind": "note"})
    refused = await env.call(env.key, "anchor", "put", {"content_hash": crypto.sha256(b"one"), "kind": "note"})

    signed = (await env.get(f"/v1/history/signer:{member}"))["events"]
    assert [e["tx_id"] for e in signed] == [as_clerk, as_reviewer]
    assert [e["signer_roles"] for e in signed] == [["clerk"], ["reviewer"]]  # not today's roles for both
    assert {(e["signer_name"], e["signer_department"]) for e in signed} == {("Clerk Wang", "PSB")}
    changes = (await env.get(f"/v1/history/member:{member}"))["events"]
    assert [e["method"] for e in changes] == ["register_member", "set_roles"]
    assert all(e["signer"] == env.key.public_key.hex() and "admin" in e["signer_roles"] for e in changes)
    assert changes[1]["events"][0]["attributes"]["roles"] == ["reviewer"]

    # a refused call is on chain with its code, under its signer and the anchor its arguments name
    mine = (await env.get(f"/v1/history/signer:{env.key.public_key.hex()}"))["events"]
    assert mine[-1]["tx_id"] == refused and mine[-1]["code"] == "anchor_exists" and "already" in mine[-1]["message"]
    assert mine[-1]["events"] == []
    anchored = (await env.get(f"/v1/history/anchor:{crypto.sha256(b'one').hex()}"))["events"]
    assert [(e["tx_id"], e["code"]) for e in anchored] == [(as_clerk, "ok"), (refused, "anchor_exists")]


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


async def test_the_history_command(env: Env) -> None:
    clerk = crypto.PrivateKey.generate()
    await env.call(env.key, "governance", "register_member",
                   {"public_key": clerk.public_key, "name": "Clerk Wang", "roles": ["clerk"]})
    for label in ("a", "b", "c"):
        await env.call(clerk, "anchor", "put", {"content_hash": crypto.sha256(label.encode()), "kind": "note"})
    await env.call(env.key, "governance", "set_roles", {"public_key": clerk.public_key, "roles": ["reviewer"]})
    await env.call(clerk, "anchor", "put", {"content_hash": crypto.sha256(b"d"), "kind": "note"})
    entity = f"signer:{clerk.public_key.hex()}"
    everything = (await env.get(f"/v1/history/{entity}"))["events"]
    assert len(everything) == 4

    def cli(*argv: str) -> tuple[int, str, str]:
        return run_cli("history", *argv, "--node", env.url, "--key", str(env.node.layout.keys / "officer.key"))

    def iterate(page_size: int) -> list[dict[str, Any]]:
        with Client(env.url, key=env.key) as client:
            return list(client.iter_history(entity, page_size=page_size))

    assert await asyncio.to_thread(iterate, 1) == everything  # the blocking client's iterator, page by page

    # the CLI's blocking client runs its own loop: off this one, which serves the node
    code, out, err = await asyncio.to_thread(cli, entity, "--limit", "2")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert len(lines) == 3 and lines[-1].startswith("(more events follow: add --all, or --cursor ")
    first = everything[0]
    assert lines[0].split()[0] == str(first["height"])
    assert format_local_ms(first["time_ms"], 480) in lines[0]  # the network's zone (genesis: UTC+08:00)
    assert "anchor.put" in lines[0] and " ok " in lines[0] and "Clerk Wang (PSB; clerk)" in lines[0]
    assert lines[0].endswith(f"tx {first['tx_id']}")

    code, out, err = await asyncio.to_thread(cli, entity, "--limit", "1", "--all")
    lines = out.splitlines()
    assert code == 0 and err == "" and len(lines) == 4
    assert [line.rsplit(" ", 1)[1] for line in lines] == [e["tx_id"] for e in everything]
    assert "Clerk Wang (PSB; clerk)" in lines[2] and "Clerk Wang (PSB; reviewer)" in lines[3]

    code, out, _ = await asyncio.to_thread(cli, entity, "--limit", "3", "--all", "--json")
    document = json.loads(out)
    assert code == 0 and document["events"] == everything and document["next_cursor"] is None
    last = everything[-1]["height"]
    code, out, _ = await asyncio.to_thread(cli, entity, "--from", str(last), "--to", str(last), "--json")
    assert code == 0 and json.loads(out)["events"] == everything[-1:]

    code, out, err = await asyncio.to_thread(cli, "case:00000000000000000000000000000000")
    assert (code, out, err) == (0, "no events\n", "")
    code, out, err = await asyncio.to_thread(cli, "PSB")
    assert code == 2 and out == "" and err.startswith("error: usage: ") and "KIND:ID" in err
    code, _, err = await asyncio.to_thread(cli, entity, "--cursor", "not-a-cursor")
    assert code == 1 and err.startswith("error: invalid_field: ") and "cursor" in err


async def test_a_page_is_proven_by_one_bundle(env: Env, tmp_path: Path) -> None:
    """1,000 events over several blocks: one bundle proves them all (each block's header and commit once); an
    event the node altered, dropped or added is refused; `history --verify` marks each line verified."""
    from chainnode import light
    from chainnode.errors import InvalidProof
    from chainnode.trace_verify import verify_trace

    await anchor_blocks(env, 1000, 250)
    refused = await env.call(env.key, "governance", "set_roles", {"public_key": bytes(32), "roles": ["clerk"]})
    entity = "department:PSB"
    page = await env.get(f"/v1/history/{entity}", limit=1000, proof=1)
    assert len(page["events"]) == 1000
    genesis, data = env.node.genesis, base64.b64decode(page["proof"])
    bundle = light.decode_bundle(data)
    assert isinstance(bundle, light.TxBundle) and len(bundle.links) == 4  # one link per block, no hop
    checked = verify_trace(genesis, page["events"], data)
    assert (checked.events, checked.blocks) == (1000, 4)
    for change in ({"code": "refused"}, {"signer": "00" * 32}, {"index": 999}, {"time_ms": 1}):
        altered = [dict(page["events"][0], **change), *page["events"][1:]]
        with pytest.raises(InvalidProof):
            verify_trace(genesis, altered, data)
    with pytest.raises(InvalidProof, match="holds 1000 transactions and the page lists 999"):
        verify_trace(genesis, page["events"][1:], data)
    with pytest.raises(InvalidProof, match="lists an event twice"):  # one listed twice, a proven one left out
        verify_trace(genesis, [page["events"][1], *page["events"][1:]], data)
    beyond = await env.get(f"/v1/history/{entity}", 400, proof=1, trusted_height=10**6)
    assert beyond["field"] == "trusted_height" and "trust file" in beyond["detail"]
    last = await env.get(f"/v1/history/signer:{env.key.public_key.hex()}", from_height=env.node.head_height(),
                         proof=1)
    assert [e["tx_id"] for e in last["events"]] == [refused] and last["events"][0]["code"] != "ok"
    verify_trace(genesis, last["events"], base64.b64decode(last["proof"]))  # a refused call is proven too

    def cli(*argv: str) -> tuple[int, str, str]:
        return run_cli("history", *argv, "--node", env.url, "--key", str(env.node.layout.keys / "officer.key"))

    genesis_file = str(tmp_path / "genesis.json")
    Path(genesis_file).write_text(json.dumps(genesis.document))
    code, out, err = await asyncio.to_thread(cli, entity, "--limit", "400", "--all", "--verify", "--genesis",
                                             genesis_file)
    lines = out.splitlines()
    assert code == 0 and err == "", err
    assert len(lines) == 1001 and all(line.startswith("✓ ") for line in lines)
    assert lines[-1].startswith("✓ 1000 events verified against genesis")
    code, _, err = await asyncio.to_thread(cli, entity, "--verify")
    assert code == 2 and "--genesis" in err


# --- refused calls in the history of the record they aimed at -------------------------------------------


async def expect(env: Env, code: str, key: crypto.PrivateKey, contract: str, method: str, args: Value) -> bytes:
    """A call committed with result `code`; its tx_id."""
    tx_id = bytes.fromhex(await env.call(key, contract, method, args))
    result = env.node.reader.tx_status(tx_id).to_json()["result"]
    assert result["code"] == code, result
    return tx_id


async def pass_proposal(env: Env, kind: str, payload: dict[str, Any]) -> None:
    height = env.node.head_height()
    await expect(env, "ok", env.key, "governance", "propose", {
        "kind": kind, "payload": payload, "deadline_height": height + 50, "effective_height": height + 2})
    proposal_id = len((await env.get("/v1/proposals"))["proposals"])
    await expect(env, "ok", env.key, "governance", "vote", {"proposal_id": proposal_id, "approve": True})


async def refused_story(env: Env) -> tuple[str, str, bytes, bytes]:
    """A case approved with its certificate, a refused decision on it by a clerk and a refused revocation of
    the certificate by an issuer of another department; returns (case, cert, the two refused tx_ids)."""
    clerk, samr_admin, samr_issuer = (crypto.PrivateKey(crypto.sha256(label.encode()))
                                      for label in ("psb-clerk", "samr-admin", "samr-issuer"))
    await pass_proposal(env, "register_material_type", {"code": "id_card", "name": "Identity card"})
    await pass_proposal(env, "register_cert_type", {"code": "permit", "name": "Permit", "issuers": ["PSB"]})
    await pass_proposal(env, "add_department", {
        "code": "SAMR", "name": "Market regulation", "node_key": crypto.sha256(b"samr-node"), "power": 0,
        "admins": [{"public_key": samr_admin.public_key, "name": "SAMR admin"}]})
    await env.call(env.key, "anchor", "put", {"content_hash": crypto.sha256(b"apply"), "kind": "note"})
    await expect(env, "ok", env.key, "governance", "register_member", {
        "public_key": clerk.public_key, "name": "Clerk", "roles": ["clerk"]})
    await expect(env, "ok", samr_admin, "governance", "register_member", {
        "public_key": samr_issuer.public_key, "name": "SAMR issuer", "roles": ["issuer"]})
    await expect(env, "ok", env.key, "items", "publish", {
        "code": "PSB-001", "name": "Residence permit", "legal_basis": "Residence Regulation art. 3",
        "kind": "licensing", "conditions": [], "legal_limit_days": 20, "promised_limit_days": 5,
        "materials": [{"material_type": "id_card", "issuers": ["PSB"], "form": "original", "optional": False}],
        "cert_type": "permit", "parallel_departments": [],
    })
    material_id = compute_material_id(await expect(env, "ok", env.key, "materials", "attest", {
        "material_type": "id_card", "holder_ref": crypto.sha256(b"holder"), "content_hash": crypto.sha256(b"id")}))
    case_id = compute_case_id(await expect(env, "ok", env.key, "cases", "file", {
        "item_code": "PSB-001", "holder_ref": crypto.sha256(b"holder"), "materials": [material_id]}))
    decide = {"case_id": case_id, "decision": "approve", "reason": "complete",
              "certificate": {"content_hash": crypto.sha256(b"permit")}}
    refused_decision = await expect(env, "role_required", clerk, "cases", "decide", decide)
    cert_id = compute_cert_id(await expect(env, "ok", env.key, "cases", "decide", decide))
    refused_revocation = await expect(env, "wrong_department", samr_issuer, "certificates", "revoke",
                                      {"cert_id": cert_id, "reason": "not ours"})
    return case_id, cert_id, refused_decision, refused_revocation


def entity_rows(home: Path) -> dict[bytes, bytes]:
    db = plyvel.DB(str(home / "data"))
    try:
        return dict(db.iterator(prefix=COL_ENTITY))
    finally:
        db.close()


async def test_refused_calls_show_in_the_history_of_their_target(env: Env) -> None:
    case_id, cert_id, refused_decision, refused_revocation = await refused_story(env)
    case_events = (await env.get(f"/v1/history/case:{case_id}"))["events"]
    assert [(e["tx_id"], e["code"]) for e in case_events if e["code"] != "ok"] == \
        [(refused_decision.hex(), "role_required")]
    assert [e["method"] for e in case_events if e["code"] == "ok"] == ["file", "decide"]
    cert_events = (await env.get(f"/v1/history/cert:{cert_id}"))["events"]
    assert [(e["tx_id"], e["code"]) for e in cert_events] == [
        (cert_events[0]["tx_id"], "ok"), (refused_revocation.hex(), "wrong_department")]
    paged = env.node.reader.entity_history(f"cert:{cert_id}", limit=10)
    assert [e["code"] for e in paged.events] == ["ok", "wrong_department"]


async def test_an_upgraded_store_holds_the_index_a_fresh_node_writes(env: Env) -> None:
    _, cert_id, refused_decision, refused_revocation = await refused_story(env)
    home = env.node.store.path.parent
    await env.client.close()
    env.node.close()
    fresh = entity_rows(home)
    assert fresh[entity_prefix(f"cert:{cert_id}") + next(k[-12:] for k, v in fresh.items()
                                                         if v == refused_revocation)] == refused_revocation

    # What a chainnode-store/3 node wrote: a refused call under its signer only.
    db = plyvel.DB(str(home / "data"))
    for key, tx_id in list(db.iterator(prefix=COL_ENTITY)):
        if tx_id in (refused_decision, refused_revocation) and not key.startswith(entity_prefix("signer:")[:-1]):
            db.delete(key)
    db.put(META_FORMAT, UPGRADABLE_FORMAT)
    db.close()
    assert entity_rows(home) != fresh

    with pytest.raises(StoreError, match="chainnode start"):  # the check never writes, so it does not upgrade
        check_home(home)
    Store(home / "data").close()
    assert entity_rows(home) == fresh
    db = plyvel.DB(str(home / "data"))
    assert db.get(META_FORMAT) == FORMAT_VERSION
    db.close()
    assert check_home(home).ok


async def test_the_check_finds_a_missing_row_of_a_refused_call(env: Env) -> None:
    case_id, _, refused_decision, _ = await refused_story(env)
    height = env.node.reader.tx_status(refused_decision).to_json()["height"]
    home = env.node.store.path.parent
    await env.client.close()
    env.node.close()
    assert check_home(home).ok
    db = plyvel.DB(str(home / "data"))
    rows = [key for key, tx_id in db.iterator(prefix=entity_prefix(f"case:{case_id}")) if tx_id == refused_decision]
    assert len(rows) == 1
    db.delete(rows[0])
    db.close()
    report = check_home(home)
    assert not report.ok and [(p.height, p.column) for p in report.problems] == [(height, "e")]
