"""The API client against a real in-process node: aiohttp test server on 127.0.0.1, LevelDB in tmp_path.

Blocks are produced by calling `node.produce_block()` directly, so no test depends on timing.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from chainnode import crypto, light
from chainnode.api import create_app
from chainnode.client import AsyncClient, Client, InvalidNodeUrl, RemoteError, WaitTimeout, normalise_node_url
from chainnode.errors import ClientError, InvalidField, NotFound, TxAlreadyPending
from chainnode.home import init_home
from chainnode.node import Node
from chainnode.tx import Transaction, TxBody, sign_transaction
from contracts import anchor


@dataclass
class Env:
    node: Node
    officer: crypto.PrivateKey
    url: str


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[Node, crypto.PrivateKey]]:
    _, created = init_home(tmp_path / "home", chain_id="test", department="PSB", name="Public Security Bureau")
    node = Node.from_home(created.home)
    try:
        yield node, crypto.load_key_file(created.officer_key).key
    finally:
        node.close()


@pytest.fixture
async def env(node: tuple[Node, crypto.PrivateKey]) -> AsyncIterator[Env]:
    async with TestServer(create_app(node[0]), host="127.0.0.1") as server:
        yield Env(node=node[0], officer=node[1], url=str(server.make_url("")).rstrip("/"))


def anchor_args(data: bytes, kind: str = "file") -> dict[str, object]:
    return {"content_hash": crypto.compute_content_hash(data), "kind": kind, "metadata": {"title": "t"}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- the async client ----------------------------------------------------------------------------------


async def test_status_names_the_chain(env: Env) -> None:
    async with AsyncClient(env.url) as client:
        status = await client.status()
    assert status["chain_id"] == "test"
    assert status["height"] == 0
    assert status["genesis_hash"] == env.node.genesis.hash.hex()


async def test_submit_produce_and_wait_committed(env: Env) -> None:
    async with AsyncClient(env.url) as client:
        tx = await client.build_tx(env.officer, "anchor", "put", anchor_args(b"hello"))
        tx_id = await client.submit(tx.raw)
        assert tx_id == tx.tx_id.hex()
        assert (await client.tx_status(tx_id))["status"] == "pending"
        waited, _ = await asyncio.gather(client.wait_committed(tx_id, timeout_s=10), env.node.produce_block())
        assert waited["status"] == "committed"
        assert waited["height"] == 1
        assert waited["result"]["code"] == "ok"
        assert (await client.tx_status(bytes.fromhex(tx_id)))["status"] == "committed"


async def test_build_tx_uses_chain_id_head_and_a_fresh_nonce(env: Env) -> None:
    async with AsyncClient(env.url) as client:
        first = await client.build_tx(env.officer, "anchor", "put", anchor_args(b"x"), expiry_blocks=5)
        second = await client.build_tx(env.officer, "anchor", "put", anchor_args(b"x"), expiry_blocks=5)
    assert first.body.chain_id == "test"
    assert first.body.expiry_height == 5
    assert len(first.body.nonce) == 16
    assert first.tx_id != second.tx_id
    assert first.is_signature_valid()


async def test_wait_committed_times_out_while_pending(env: Env) -> None:
    async with AsyncClient(env.url) as client:
        tx = await client.build_tx(env.officer, "anchor", "put", anchor_args(b"never produced"))
        await client.submit(tx.raw)
        with pytest.raises(WaitTimeout) as caught:
            await client.wait_committed(tx.tx_id, timeout_s=0.3)
    assert caught.value.code == "wait_timeout"
    assert env.node.head_height() == 0


async def test_tx_proof_verifies_against_genesis(env: Env) -> None:
    async with AsyncClient(env.url, key=env.officer) as client:
        tx = await client.build_tx(env.officer, "anchor", "put", anchor_args(b"proof me"))
        await client.submit(tx.raw)
        await env.node.produce_block()
        data = await client.tx_proof(tx.tx_id.hex())
    bundle = light.decode_bundle(data)
    assert isinstance(bundle, light.TxBundle)
    verified = light.verify_tx_bundle(env.node.genesis, bundle)
    assert verified.tx.tx_id == tx.tx_id
    assert verified.result.ok


async def test_anchors_carry_state_proofs(env: Env) -> None:
    content_hash = crypto.compute_content_hash(b"anchored")
    async with AsyncClient(env.url) as client:
        with pytest.raises(NotFound):
            await client.anchors(content_hash)
        tx = await client.build_tx(env.officer, "anchor", "put", anchor_args(b"anchored"))
        await client.submit(tx.raw)
        await env.node.produce_block()
        answer = await client.anchors(content_hash.hex())
        state = await client.state(anchor.anchor_key(content_hash, "PSB"), height=1)
    assert len(answer["anchors"]) == 1
    assert state["height"] == 1 and state["value"] is not None


async def test_block_and_history(env: Env) -> None:
    async with AsyncClient(env.url, key=env.officer) as client:
        tx = await client.build_tx(env.officer, "anchor", "put", anchor_args(b"history"))
        await client.submit(tx.raw)
        await env.node.produce_block()
        block = await client.block("latest")
        same = await client.block(1)
        events = await client.history(f"anchor:{crypto.compute_content_hash(b'history').hex()}", limit=10)
    assert block["height"] == 1 == same["height"]
    assert [t["tx_id"] for t in block["txs"]] == [tx.tx_id.hex()]
    assert [e["tx_id"] for e in events] == [tx.tx_id.hex()]


async def test_submit_batch_gives_one_verdict_per_tx(env: Env) -> None:
    async with AsyncClient(env.url) as client:
        good = await client.build_tx(env.officer, "anchor", "put", anchor_args(b"batch"))
        other = await client.build_tx(env.officer, "anchor", "put", anchor_args(b"batch 2"))
        forged = Transaction(other.body, bytes(64))
        verdicts = await client.submit_batch([good.raw, b"\xc1", forged.raw])
        assert await client.submit_batch([]) == []
        assert [v["status"] for v in verdicts] == ["pending", "rejected", "rejected"]
        assert verdicts[1]["code"] == "malformed_encoding"
        assert (verdicts[2]["code"], verdicts[2]["tx_id"]) == ("invalid_signature", forged.tx_id.hex())
        rejected = await client.wait_committed(forged.tx_id, timeout_s=5)
    assert (rejected["status"], rejected["code"]) == ("rejected", "invalid_signature")
    assert len(env.node.mempool) == 1


async def test_remote_errors_keep_code_status_and_field(env: Env) -> None:
    async with AsyncClient(env.url) as client:
        with pytest.raises(RemoteError) as unknown:
            await client.tx_status(bytes(32))
        with pytest.raises(RemoteError) as garbage:
            await client.submit(b"\x93\x01\x02")
        body = TxBody(chain_id="other-chain", contract="anchor", method="put", args=anchor_args(b"w"),
                      signer=env.officer.public_key, nonce=bytes(16), expiry_height=10)
        with pytest.raises(RemoteError) as wrong_chain:
            await client.submit(sign_transaction(env.officer, body).raw)
        tx = await client.build_tx(env.officer, "anchor", "put", anchor_args(b"twice"))
        await client.submit(tx.raw)
        with pytest.raises(TxAlreadyPending) as twice:
            await client.submit(tx.raw)
    assert (unknown.value.code, unknown.value.status, unknown.value.field) == ("not_found", 404, "tx_id")
    assert isinstance(unknown.value, NotFound)
    assert garbage.value.status == 400 and garbage.value.code in ("unknown_tag", "malformed_encoding")
    assert (wrong_chain.value.code, wrong_chain.value.field) == ("wrong_chain_id", "chain_id")
    assert "other-chain" in wrong_chain.value.message
    assert isinstance(twice.value, RemoteError) and twice.value.status == 409
    assert len(env.node.mempool) == 1


async def test_unknown_remote_code_is_a_plain_remote_error(env: Env) -> None:
    async with AsyncClient(env.url) as client:
        with pytest.raises(RemoteError) as caught:
            await client._json("DELETE", "/v1/status")
    assert caught.value.code == "method_not_allowed"
    assert type(caught.value) is RemoteError


async def test_local_bad_id_is_refused_before_sending(env: Env) -> None:
    async with AsyncClient(env.url) as client:
        with pytest.raises(InvalidField):
            await client.tx_status("../status")


async def test_connection_refused_is_one_clear_client_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with AsyncClient(url, timeout=5) as client:
        with pytest.raises(ClientError) as caught:
            await client.status()
    assert caught.value.code == "node_unreachable"
    assert caught.value.message.startswith(f"cannot reach node at {url}: connection refused")
    assert "\n" not in caught.value.message


async def test_a_server_that_is_not_a_node_is_a_client_error() -> None:
    async def html(request: web.Request) -> web.Response:
        return web.Response(text="<html>hello</html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/v1/status", html)
    async with TestServer(app, host="127.0.0.1") as server, AsyncClient(str(server.make_url(""))) as client:
        with pytest.raises(ClientError) as not_json:
            await client.status()
        with pytest.raises(ClientError) as missing:
            await client.block(1)
    assert "not JSON" in not_json.value.message
    assert "HTTP 404" in missing.value.message


async def test_slow_node_is_a_timeout_client_error() -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/v1/status", slow)
    async with TestServer(app, host="127.0.0.1") as server, AsyncClient(str(server.make_url("")), timeout=0.2) as c:
        with pytest.raises(ClientError) as caught:
            await c.status()
    assert "did not answer" in caught.value.message


@pytest.mark.parametrize("url", ["nonsense", "ftp://host:1", "http://", "http://host:99999", "http://h:1/?q=1"])
def test_invalid_node_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidNodeUrl):
        normalise_node_url(url)


def test_node_url_keeps_host_and_port() -> None:
    assert normalise_node_url(" http://127.0.0.1:8700/ ") == "http://127.0.0.1:8700"


# --- the blocking client -------------------------------------------------------------------------------


@pytest.fixture
def threaded_node(node: tuple[Node, crypto.PrivateKey]) -> Iterator[tuple[Env, asyncio.AbstractEventLoop]]:
    """The node's API served from a background thread, so that blocking code can call it."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    runner = web.AppRunner(create_app(node[0]))
    ports: list[int] = []

    async def start() -> None:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        ports.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield Env(node=node[0], officer=node[1], url=f"http://127.0.0.1:{ports[0]}"), loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def test_blocking_client_submits_and_waits(threaded_node: tuple[Env, asyncio.AbstractEventLoop]) -> None:
    env, loop = threaded_node
    with Client(env.url, key=env.officer) as client:
        tx = client.build_tx(env.officer, "anchor", "put", anchor_args(b"sync"))
        assert client.submit(tx.raw) == tx.tx_id.hex()
        asyncio.run_coroutine_threadsafe(env.node.produce_block(), loop).result(10)
        status = client.wait_committed(tx.tx_id, timeout_s=10)
        assert status["status"] == "committed"
        assert client.status()["height"] == 1
        assert client.block("latest")["height"] == 1
        assert light.decode_bundle(client.tx_proof(tx.tx_id))
        assert client.anchors(crypto.compute_content_hash(b"sync"))["anchors"]
        assert client.history(f"signer:{env.officer.public_key.hex()}", 5)
        assert client.submit_batch([]) == []
        assert client.tx_status(tx.tx_id)["height"] == 1
        assert client.state(anchor.anchor_key(crypto.compute_content_hash(b"sync"), "PSB"))["value"]


def test_blocking_client_maps_connection_refused() -> None:
    with Client(f"http://127.0.0.1:{free_port()}") as client, pytest.raises(ClientError) as caught:
        client.status()
    assert "connection refused" in caught.value.message
