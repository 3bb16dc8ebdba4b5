"""`chainnode history --verify --export FILE` and the console's history-page verifier
(chainnode/web/js/trace-verifier.js) against chainnode.trace_verify: the export holds every page with its
proof; the JavaScript (run in node, whose WebCrypto is the browser's API) gives the Python verdict on every
genuine page, on the pages with one proof byte altered and on events the node altered, dropped or added."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from chainnode import crypto
from chainnode.errors import InvalidProof
from chainnode.genesis import Genesis
from chainnode.node import Node
from chainnode.trace_verify import verify_trace
from chainnode.tx import TxBody, sign_transaction
from tests.integration.test_api_history import run_cli
from tests.kit import serve_node
from tests.nodeproc import anchor_tx

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "tests" / "js" / "check_trace.mjs"
EXPORT_HARNESS = ROOT / "tests" / "js" / "check_audit_export.mjs"
NODE = shutil.which("node")
CHAIN = "trace-web-test"


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[TestClient[Any, Any], Node, crypto.PrivateKey]]:
    async with serve_node(tmp_path / "home", chain_id=CHAIN) as served:
        yield served


async def make_history(node: Node, key: crypto.PrivateKey) -> None:
    """Anchors over four blocks, then a refused call (a role for an unregistered key) in a fifth."""
    for block in range(4):
        admissions = await node.submit([anchor_tx(key, CHAIN, f"doc-{block}-{i}") for i in range(3 + block)])
        assert all(a.error is None for a in admissions)
        await node.produce_block()
    body = TxBody(chain_id=CHAIN, contract="governance", method="set_roles",
                  args={"public_key": bytes(32), "roles": ["clerk"]}, signer=key.public_key, nonce=os.urandom(16),
                  expiry_height=node.head_height() + 100)
    assert (await node.submit([sign_transaction(key, body).raw]))[0].error is None
    await node.produce_block()


def python_verdict(genesis: Genesis, events: list[dict[str, Any]], proof: bytes) -> bool:
    try:
        verify_trace(genesis, events, proof)
    except InvalidProof:
        return False
    return True


def run_js(genesis: Genesis, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    assert NODE is not None
    document = {"genesis": json.dumps(genesis.document), "cases": cases}
    done = subprocess.run([NODE, "--experimental-detect-module", "--no-warnings", str(HARNESS)],
                          input=json.dumps(document).encode(), capture_output=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr.decode()
    answer = json.loads(done.stdout)
    print(f"JS trace verifier: {len(cases)} pages in {answer['ms']:.0f} ms")
    verdicts: list[dict[str, Any]] = answer["verdicts"]
    return verdicts


def check_export_in_js(genesis: Genesis, document: dict[str, Any]) -> None:
    """The audit page's reading of the export: every event verified; one altered proof byte marks its page's
    events (only) not verified; a file that is not an export, or a malformed page, is refused whole."""
    assert NODE is not None
    proof = base64.b64decode(document["pages"][1]["proof"])
    one_byte = json.loads(json.dumps(document))
    one_byte["pages"][1]["proof"] = base64.b64encode(altered(proof, len(proof) // 3)).decode()
    renamed = json.loads(json.dumps(document))
    renamed["pages"][0]["events"][0]["signer_name"] = "someone else"  # not proven: still verified
    files = [json.dumps(document), json.dumps(one_byte), json.dumps(renamed), "not json", json.dumps([]),
             json.dumps({**document, "kind": "chainnode-trust"}), json.dumps({**document, "version": 2}),
             json.dumps({**document, "entity": "case id"}), json.dumps({**document, "pages": {}}),
             json.dumps({**document, "pages": [{"events": [{}] * 1001, "proof": ""}]}),
             json.dumps({**document, "pages": [{**document["pages"][0], "proof": "not base64!"}]})]
    done = subprocess.run([NODE, "--experimental-detect-module", "--no-warnings", str(EXPORT_HARNESS)],
                          input=json.dumps({"genesis": json.dumps(genesis.document), "files": files}).encode(),
                          capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()
    results = json.loads(done.stdout)["results"]
    sizes = [len(p["events"]) for p in document["pages"]]
    assert results[0] == {"error": None, "marks": [True] * 19, "reasons": [None] * 19}
    first, second = sizes[0], sizes[1]
    assert results[1]["marks"] == [True] * first + [False] * second + [True] * (19 - first - second)
    assert all(r for r in results[1]["reasons"][first:first + second])
    assert results[2]["marks"] == [True] * 19
    assert [r["error"]["stage"] for r in results[3:10]] == ["input"] * 7
    assert results[10]["error"] is None and results[10]["marks"] == [False] * first
    assert "base64" in results[10]["reasons"][0]


def altered(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ (0x20 if position % 2 else 0x01)]) + data[position + 1:]


async def test_export_writes_every_page_with_its_proof(served: tuple[TestClient[Any, Any], Node, crypto.PrivateKey],
                                                       tmp_path: Path) -> None:
    client, node, key = served
    await make_history(node, key)
    url = str(client.make_url("")).rstrip("/")
    genesis_file, export = tmp_path / "genesis.json", tmp_path / "trace.json"
    genesis_file.write_text(json.dumps(node.genesis.document))
    entity = f"signer:{key.public_key.hex()}"
    base = ("history", entity, "--node", url, "--key", str(node.layout.keys / "officer.key"))
    code, out, err = await asyncio.to_thread(run_cli, *base, "--limit", "5", "--verify", "--genesis",
                                             str(genesis_file), "--export", str(export))
    assert code == 0 and err == "", err
    lines = out.splitlines()
    assert lines[-1] == f"exported 19 events in 4 pages with their proofs to {export}"
    assert sum(line.startswith("✓ ") for line in lines) == 19 + 1  # every event, and the summary line
    document = json.loads(export.read_text())
    assert {k: document[k] for k in ("kind", "version", "entity", "chain_id", "genesis_hash", "events")} == {
        "kind": "chainnode-history", "version": 1, "entity": entity, "chain_id": CHAIN,
        "genesis_hash": node.genesis.hash.hex(), "events": 19}
    assert [len(p["events"]) for p in document["pages"]] == [5, 5, 5, 4]
    assert not any("verified" in e for p in document["pages"] for e in p["events"])  # the node's answer, as given
    for page in document["pages"]:
        verify_trace(node.genesis, page["events"], base64.b64decode(page["proof"]))
    assert document["pages"][-1]["events"][-1]["code"] != "ok"  # a refused call is exported and proven too
    assert not export.with_name("trace.json.partial").exists()

    if NODE is not None:
        check_export_in_js(node.genesis, document)

    code, _, err = await asyncio.to_thread(run_cli, *base, "--export", str(tmp_path / "x.json"))
    assert code == 2 and "--verify" in err and not (tmp_path / "x.json").exists()
    code, _, err = await asyncio.to_thread(run_cli, *base, "--verify", "--genesis", str(genesis_file), "--trust",
                                           str(genesis_file), "--export", str(tmp_path / "x.json"))
    assert code == 2 and "--trust" in err


@pytest.mark.skipif(NODE is None, reason="node is not installed: the JS verifier is not cross-checked")
async def test_the_browser_trace_verifier_agrees_with_verify_trace(
        served: tuple[TestClient[Any, Any], Node, crypto.PrivateKey], tmp_path: Path) -> None:
    client, node, key = served
    await make_history(node, key)
    genesis = node.genesis
    pages: list[tuple[list[dict[str, Any]], bytes]] = []
    async with asyncio.timeout(30):
        from tests.kit import signed_headers

        for limit in (1000, 4):  # one page of every block, and pages that cut blocks
            target = f"/v1/history/signer:{key.public_key.hex()}?limit={limit}&proof=1"
            response = await client.get(target, headers=signed_headers(node, key, target))
            page = await response.json()
            pages.append((page["events"], base64.b64decode(page["proof"])))
    events, proof = pages[0]
    cases: list[tuple[list[dict[str, Any]], bytes]] = list(pages)
    cases += [(events, altered(proof, i)) for i in range(0, len(proof), 7)]
    changes: list[dict[str, Any]] = [
        {"height": events[0]["height"] + 1}, {"code": "refused"}, {"signer": "00" * 32}, {"index": 99},
        {"time_ms": 1}, {"tx_id": "00" * 32}, {"method": "get"}, {"contract": "cases"}, {"message": "x"},
        {"events": []}, {"events": [{"kind": "anchor.other"}]}]
    for change in changes:
        cases.append(([dict(events[0], **change), *events[1:]], proof))
    cases += [(events[1:], proof), ([events[1], *events[1:]], proof), ([*events, events[0]], proof), ([], proof)]
    cases.append((events, pages[1][1]))  # another page's proof
    expected = [python_verdict(genesis, e, p) for e, p in cases]
    got = run_js(genesis, [{"events": e, "proof": p.hex()} for e, p in cases])
    mismatches = [(i, got[i]) for i, want in enumerate(expected) if got[i]["ok"] != want]
    assert not mismatches, mismatches[:5]
    assert expected[:2] == [True, True] and not any(expected[2:])  # only the genuine pages verify
    assert all(v["stage"] for v in got[2:] if not v["ok"]) and got[0]["events"] == len(events)
