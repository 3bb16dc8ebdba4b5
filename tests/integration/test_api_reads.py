"""The API's reads on a real node (in-process, real LevelDB): a read beyond the read pool's threads and queue
is refused at once with 503 `busy`, while the status page, which reads only memory, still answers."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from chainnode import crypto
from chainnode.api import PROBLEM, create_app
from chainnode.history import HistoryPage
from chainnode.home import init_home
from chainnode.node import Node
from tests.kit import signed_headers
from tests.nodeproc import anchor_tx

CHAIN = "reads-api"


async def test_a_read_beyond_the_pool_gets_busy_and_the_status_still_answers(tmp_path: Path) -> None:
    _, created = init_home(tmp_path / "home", chain_id=CHAIN, department="PSB", name="Police",
                           config_overrides={"read_threads": 1, "read_queue": 0})
    node = Node.from_home(created.home)
    key = crypto.load_key_file(created.officer_key).key
    await node.submit([anchor_tx(key, CHAIN, f"doc-{i}") for i in range(3)])
    await node.produce_block()
    entered, gate = threading.Event(), threading.Event()
    history = node.reader.entity_history

    def held_history(entity: str, **bounds: Any) -> HistoryPage:
        entered.set()
        gate.wait(30)
        return history(entity, **bounds)

    node.reader.entity_history = held_history  # type: ignore[method-assign]
    client = TestClient(TestServer(create_app(node), host="127.0.0.1"))
    await client.start_server()
    try:
        target = "/v1/history/department:PSB?limit=100000"
        held = asyncio.ensure_future(client.get(target, headers=signed_headers(node, key, target)))
        assert await asyncio.to_thread(entered.wait, 10)
        state = f"/v1/state?key={b'x'.hex()}&height=1"  # an index key: auditors' (the officer holds every role)
        refused = await client.get(state, headers=signed_headers(node, key, state))
        assert refused.status == 503 and refused.content_type == PROBLEM
        assert (await refused.json(content_type=None))["code"] == "busy"
        assert refused.headers["Retry-After"] == "1"  # a client knows to come back
        status = await client.get("/v1/status")
        assert status.status == 200 and (await status.json())["height"] == 1
        gate.set()
        answer = await held
        assert answer.status == 200
        events = (await answer.json())["events"]
        assert [e["height"] for e in events] == [1, 1, 1]  # limit above the bound is capped, not an error
        served = await client.get(state, headers=signed_headers(node, key, state))
        assert served.status == 200
    finally:
        gate.set()
        await client.close()
        node.close()
