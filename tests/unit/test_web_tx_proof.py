"""The explorer's check of one transaction's proof (verifyTxProof, chainnode/web/js/trace-verifier.js) against
chainnode.light.verify_tx_bundle, as `chainnode tx proof` uses it: run in node (whose WebCrypto is the
browser's API), the JavaScript gives the Python verdict on genuine bundles, on each with one byte altered, on a
bundle asked for another transaction's ID and on a history page's bundle of many transactions. And the trust
file as the root (parseTrust of verifier.js against chainnode.light.load_trust): a bundle from the trusted
height verifies with the trust file and not without it, and every altered trust file gets the Python verdict."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from chainnode import crypto, light
from chainnode.errors import ChainError
from chainnode.genesis import Genesis
from chainnode.node import Node
from tests.kit import serve_node, signed_headers
from tests.unit.test_web_trace import CHAIN, altered, make_history

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "tests" / "js" / "check_tx_proof.mjs"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed: the JS verifier is not cross-checked")


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[TestClient[Any, Any], Node, crypto.PrivateKey]]:
    async with serve_node(tmp_path / "home", chain_id=CHAIN) as served:
        yield served


def python_verdict(genesis: Genesis, proof: bytes, tx_id: str, trust: str | None = None) -> bool:
    """`chainnode tx proof`'s verdict (chainnode.cli.cmd_tx_proof): one transaction, the one asked for."""
    try:
        root = None if trust is None else light.read_trust_file(trust, genesis)
        bundle = light.decode_bundle(proof)
        if not isinstance(bundle, light.TxBundle):
            return False
        return light.verify_tx_bundle(genesis, bundle, root).tx.tx_id.hex() == tx_id
    except ChainError:
        return False


def run_js(genesis: Genesis, cases: list[tuple[bytes, str]], trusts: list[str | None] | None = None
           ) -> list[dict[str, Any]]:
    assert NODE is not None
    roots = trusts if trusts is not None else [None] * len(cases)
    document = {"genesis": json.dumps(genesis.document),
                "cases": [{"proof": proof.hex(), "tx_id": tx_id, "trust": trust}
                          for (proof, tx_id), trust in zip(cases, roots, strict=True)]}
    done = subprocess.run([NODE, "--experimental-detect-module", "--no-warnings", str(HARNESS)],
                          input=json.dumps(document).encode(), capture_output=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr.decode()
    answer = json.loads(done.stdout)
    assert answer["genesis_hash"] == genesis.hash.hex()
    print(f"JS transaction proof check: {len(cases)} bundles in {answer['ms']:.0f} ms")
    verdicts: list[dict[str, Any]] = answer["verdicts"]
    return verdicts


async def get_signed(client: TestClient[Any, Any], node: Node, key: crypto.PrivateKey, target: str) -> Any:
    response = await client.get(target, headers=signed_headers(node, key, target))
    assert response.status == 200, await response.text()
    return response


async def test_the_explorer_tx_proof_check_agrees_with_verify_tx_bundle(
        served: tuple[TestClient[Any, Any], Node, crypto.PrivateKey]) -> None:
    client, node, key = served
    await make_history(node, key)
    target = f"/v1/history/signer:{key.public_key.hex()}?limit=1000&proof=1"
    page = await (await get_signed(client, node, key, target)).json()
    events = page["events"]
    first, refused = events[0]["tx_id"], events[-1]["tx_id"]
    proofs = {}
    for tx_id in (first, refused):
        proofs[tx_id] = await (await get_signed(client, node, key, f"/v1/txs/{tx_id}/proof?format=msgpack")).read()
    genuine = proofs[first]
    cases: list[tuple[bytes, str]] = [(genuine, first), (proofs[refused], refused)]
    cases += [(altered(genuine, i), first) for i in range(0, len(genuine), 3)]
    cases += [(genuine, refused), (genuine, "00" * 32), (base64.b64decode(page["proof"]), first), (b"", first)]
    expected = [python_verdict(node.genesis, proof, tx_id) for proof, tx_id in cases]
    got = run_js(node.genesis, cases)
    mismatches = [(i, got[i]) for i, want in enumerate(expected) if got[i]["ok"] != want]
    assert not mismatches, mismatches[:5]
    assert expected[:2] == [True, True] and not any(expected[2:])  # only the genuine bundles verify
    assert got[1]["code"] == events[-1]["code"] != "ok" and got[0]["height"] == events[0]["height"]
    assert all(v["stage"] and v["reason"] for v in got[2:])


def altered_trust(document: dict[str, Any], field: str, position: int) -> str:
    """The trust file with one byte of its hex `field` (header or validators) flipped."""
    raw = bytes.fromhex(document[field])
    return json.dumps({**document, field: altered(raw, position % len(raw)).hex()})


async def test_a_trust_file_as_the_root_agrees_with_load_trust(
        served: tuple[TestClient[Any, Any], Node, crypto.PrivateKey]) -> None:
    client, node, key = served
    await make_history(node, key)
    target = f"/v1/history/signer:{key.public_key.hex()}?limit=1000&proof=1"
    events = (await (await get_signed(client, node, key, target)).json())["events"]
    early, late = events[0], events[-1]
    proof = await (await get_signed(client, node, key, f"/v1/txs/{early['tx_id']}/proof?format=msgpack")).read()
    bundle = light.decode_bundle(proof)
    assert isinstance(bundle, light.TxBundle)
    _, after = light.verify_txs(node.genesis, bundle)
    document = after.to_json()
    trust = json.dumps(document)
    path = f"/v1/txs/{late['tx_id']}/proof?format=msgpack&trusted_height={after.height}"
    from_trust = await (await get_signed(client, node, key, path)).read()
    from_genesis = await (await get_signed(client, node, key, f"/v1/txs/{late['tx_id']}/proof?format=msgpack")).read()
    assert light.decode_bundle(from_trust).from_height == after.height > 0

    late_id = late["tx_id"]
    trusts: list[str | None] = [trust, trust, None, trust]
    cases = [(from_trust, late_id), (from_genesis, late_id), (from_trust, late_id), (proof, early["tx_id"])]
    cases += [(altered(from_trust, i), late_id) for i in range(0, len(from_trust), 5)]
    trusts += [trust] * (len(cases) - len(trusts))
    changes: list[dict[str, Any]] = [
        {"kind": "chainnode-history"}, {"version": 2}, {"chain_id": "other"}, {"genesis_hash": "00" * 32},
        {"height": after.height + 1}, {"height": str(after.height)}, {"header": "zz"}, {"validators": ""},
        {"header": document["validators"]}, {"block_hash": "00" * 32}]
    bad_trusts = [json.dumps({**document, **change}) for change in changes]
    bad_trusts += [altered_trust(document, "header", i) for i in range(0, 300, 7)]
    bad_trusts += [altered_trust(document, "validators", i) for i in range(0, 80, 3)]
    bad_trusts += ["not json", json.dumps([document]), json.dumps(document).upper()]
    for text in bad_trusts:
        cases.append((from_trust, late_id))
        trusts.append(text)
    expected = [python_verdict(node.genesis, p, tx_id, t) for (p, tx_id), t in zip(cases, trusts, strict=True)]
    got = run_js(node.genesis, cases, trusts)
    mismatches = [(i, trusts[i], got[i]) for i, want in enumerate(expected) if got[i]["ok"] != want]
    assert not mismatches, mismatches[:5]
    assert expected[:4] == [True, True, False, True]
    assert got[0]["from"] == after.height and got[0]["height"] == late["height"]
    assert "trust root at height" in got[2]["reason"]
    # the block hash is not read (the header is), so that one change verifies; a header whose bytes were
    # altered in a field the proof does not use may too: both as Python says
    assert expected[4 + len(range(0, len(from_trust), 5)) + 9] is True
