"""The HTTP API on a real node (in-process, real LevelDB, 127.0.0.1): every bad input gets its own code."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chainnode import codec, crypto, light
from chainnode.api import create_app
from chainnode.genesis import Genesis
from chainnode.home import init_home
from chainnode.node import Node
from chainnode.tx import TxBody, decode_transaction
from tests.kit import signed_headers

CHAIN = "api-test"


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[tuple[TestClient[Any, Any], Node, crypto.PrivateKey, Genesis]]:
    genesis, created = init_home(tmp_path / "home", chain_id=CHAIN, department="PSB", name="Police")
    node = Node.from_home(created.home)
    client = TestClient(TestServer(create_app(node), host="127.0.0.1"))
    await client.start_server()
    try:
        yield client, node, crypto.load_key_file(created.officer_key).key, genesis
    finally:
        await client.close()
        node.close()


def make_tx(key: crypto.PrivateKey, label: str, **overrides: Any) -> bytes:
    fields: dict[str, Any] = dict(
        chain_id=CHAIN,
        contract="anchor",
        method="put",
        args={"content_hash": crypto.sha256(label.encode()), "kind": "file"},
        signer=key.public_key,
        nonce=os.urandom(16),
        expiry_height=100,
    )
    fields.update(overrides)
    body = TxBody(**fields)
    return codec.encode_object(
        1, 1, [*body.fields(), key.sign(crypto.compute_signing_bytes(crypto.SIGN_TX, body.chain_id, body.encode()))]
    )


async def post_one(client: TestClient[Any, Any], raw: bytes) -> tuple[int, dict[str, Any]]:
    response = await client.post("/v1/txs", data=raw, headers={"Content-Type": "application/msgpack"})
    return response.status, await response.json(content_type=None)


async def test_submit_commit_status_and_proofs(env: Any) -> None:
    client, node, key, genesis = env
    raw = make_tx(key, "contract.pdf")
    status, body = await post_one(client, raw)
    assert status == 202 and body["status"] == "pending"
    tx_id = body["tx_id"]
    assert (await (await client.get(f"/v1/txs/{tx_id}")).json())["status"] == "pending"
    await node.produce_block()
    answer = await (await client.get(f"/v1/txs/{tx_id}")).json()
    assert answer["status"] == "committed" and answer["height"] == 1 and answer["result"]["code"] == "ok"
    proof_path = f"/v1/txs/{tx_id}/proof"
    proof = await (await client.get(proof_path, headers=signed_headers(node, key, proof_path))).json()
    verified = light.verify_tx_bundle(genesis, light.decode_bundle(base64.b64decode(proof["proof"])))
    assert verified.tx.tx_id.hex() == tx_id and verified.result.code == "ok"
    anchors = await (await client.get(f"/v1/anchors/{crypto.sha256(b'contract.pdf').hex()}")).json()
    bundle = light.decode_bundle(base64.b64decode(anchors["anchors"][0]["proof"]))
    assert isinstance(bundle, light.StateValueBundle)
    state = light.verify_state_bundle(genesis, bundle)
    assert state.value is not None and codec.decode(state.value, max_size=4096)["department"] == "PSB"
    latest = await (await client.get("/v1/blocks/latest")).json()
    assert latest["height"] == 1 and latest["txs"][0]["tx_id"] == tx_id
    history = await (await client.get(f"/v1/history/anchor:{crypto.sha256(b'contract.pdf').hex()}")).json()
    assert [e["tx_id"] for e in history["events"]] == [tx_id]


async def test_absent_key_has_a_proof_of_absence(env: Any) -> None:
    client, node, key, genesis = env
    await post_one(client, make_tx(key, "a"))
    await node.produce_block()
    answer = await (await client.get("/v1/state", params={"key": b"anchor/nothing-here".hex()})).json()
    assert answer["value"] is None
    verified = light.verify_state_bundle(genesis, light.decode_bundle(base64.b64decode(answer["proof"])))
    assert verified.value is None


async def test_each_bad_input_has_its_own_code_and_nothing_is_lost(env: Any) -> None:
    client, node, key, _ = env
    good = make_tx(key, "kept")
    assert (await post_one(client, good))[0] == 202
    other = crypto.PrivateKey(b"\x05" * 32)
    tampered = bytearray(make_tx(key, "x"))
    tampered[-1] ^= 1
    wrong_signer = make_tx(key, "y")
    wrong_signer = wrong_signer.replace(key.public_key, other.public_key)
    cases = {
        "malformed_encoding": b"\xc1",
        "trailing_bytes": good + b"\x00",
        "non_canonical_encoding": b"\x9a\xcc\x01" + good[2:],
        "unknown_tag": codec.encode([77, 1]),
        "invalid_signature": bytes(tampered),
        "wrong_chain_id": make_tx(key, "c", chain_id="other-chain"),
        "tx_expiry_too_far": make_tx(key, "f", expiry_height=10**9),
        "unknown_contract": make_tx(key, "g", contract="nosuch"),
        "unknown_method": make_tx(key, "h", method="nosuch"),
        "invalid_arguments": make_tx(key, "i", args={"content_hash": "not bytes", "kind": "file"}),
        "tx_already_pending": good,
        "invalid_field": make_tx(key, "j", nonce=b"short"),
    }
    for code, raw in [*cases.items(), ("not_a_member", wrong_signer)]:
        status, body = await post_one(client, raw)
        assert status >= 400 and body["code"] == code, (code, body)
        assert body["detail"]
    too_big = make_tx(
        key, "k", args={"content_hash": crypto.sha256(b"k"), "kind": "file", "metadata": {"x": "y" * 70_000}}
    )
    status, body = await post_one(client, too_big)
    assert status == 413 and body["code"] == "too_large"
    await node.produce_block()
    # expired: valid when submitted at height 1? expiry 1 < next height 2
    status, body = await post_one(client, make_tx(key, "late", expiry_height=1))
    assert body["code"] == "tx_expired"
    status, body = await post_one(client, good)
    assert body["code"] == "tx_already_committed"
    good_id = decode_transaction(good).tx_id.hex()
    answer = await (await client.get(f"/v1/txs/{good_id}")).json()
    assert answer["status"] == "committed"
    assert node.head_height() == 1


async def test_json_and_batch_submission(env: Any) -> None:
    client, node, key, _ = env
    raws = [make_tx(key, f"b{i}") for i in range(5)] + [b"\xc1"]
    response = await client.post("/v1/txs", json={"txs": [base64.b64encode(r).decode() for r in raws]})
    body = await response.json()
    assert response.status == 200 and body["accepted"] == 5 and body["rejected"] == 1
    assert body["results"][5]["code"] == "malformed_encoding"
    packed = msgpack.packb([make_tx(key, f"m{i}") for i in range(3)], use_bin_type=True)
    response = await client.post("/v1/txs", data=packed, headers={"Content-Type": "application/msgpack"})
    assert (await response.json())["accepted"] == 3
    for bad, code in [
        (b"{", "malformed_json"),
        (json.dumps({"tx": "!!"}).encode(), "invalid_field"),
        (json.dumps([1]).encode(), "invalid_field"),
    ]:
        response = await client.post("/v1/txs", data=bad, headers={"Content-Type": "application/json"})
        assert response.status == 400 and (await response.json(content_type=None))["code"] == code
    await node.produce_block()
    assert node.head_height() == 1 and node.store.get_header(1) is not None
    assert node.store.get_header(1).tx_count == 8  # type: ignore[union-attr]


async def test_errors_are_problem_json(env: Any) -> None:
    client, *_ = env
    for path, status in [
        ("/v1/nope", 404),
        ("/v1/blocks/abc", 400),
        ("/v1/blocks/99", 404),
        ("/v1/txs/zz", 400),
        ("/v1/state?key=zz", 400),
        ("/v1/anchors/00", 400),
    ]:
        response = await client.get(path)
        assert response.status == status, path
        assert response.content_type == "application/problem+json"
        assert (await response.json(content_type=None))["code"]
    spec = await (await client.get("/v1/openapi.json")).json()
    assert "/v1/txs" in spec["paths"]


async def test_event_stream_resumes_from_a_height(env: Any) -> None:
    client, node, key, _ = env
    for i in range(3):
        await post_one(client, make_tx(key, f"ev{i}"))
        await node.produce_block()
    ws = await client.ws_connect("/v1/events?from_height=2")
    first = await ws.receive_json(timeout=10)
    second = await ws.receive_json(timeout=10)
    assert (first["height"], second["height"]) == (2, 3)
    assert second["results"][0]["code"] == "ok"
    await post_one(client, make_tx(key, "live"))
    await node.produce_block()
    assert (await ws.receive_json(timeout=10))["height"] == 4
    await ws.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.binary(max_size=600),
    content_type=st.sampled_from(["application/msgpack", "application/json", "text/plain"]),
)
async def test_fuzzed_bodies_never_give_500(env: Any, body: bytes, content_type: str) -> None:
    client, node, *_ = env
    response = await client.post("/v1/txs", data=body, headers={"Content-Type": content_type})
    assert response.status < 500
    assert node.head_height() == 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_mutated_transactions_never_give_500(env: Any, data: st.DataObject) -> None:
    client, _, key, _ = env
    original = make_tx(key, "mutate")
    raw = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] = data.draw(st.integers(0, 255))
    status, body = await post_one(client, bytes(raw))
    if bytes(raw) == original:
        assert status == 202
    else:  # every real change breaks the encoding, a field rule or the signature
        assert 400 <= status < 500 and body["code"], body


async def test_a_key_off_the_roster_is_refused_and_fills_no_block(env: Any) -> None:
    client, node, _, _ = env
    stranger = crypto.PrivateKey(b"\x33" * 32)
    status, body = await post_one(client, make_tx(stranger, "spam"))
    assert status == 403 and body["code"] == "not_a_member" and body["field"] == "signer", body
    batch = msgpack.packb([make_tx(stranger, f"spam-{i}") for i in range(3)])
    answer = await client.post("/v1/txs", data=batch, headers={"Content-Type": "application/msgpack"})
    results = (await answer.json())["results"]
    assert [r["code"] for r in results] == ["not_a_member"] * 3
    assert len(node.mempool) == 0
    assert await node.produce_block() is None and node.head_height() == 0
