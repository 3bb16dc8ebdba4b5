"""Hostile client input against a real node's API (in-process aiohttp app, real LevelDB): every odd integer,
height, wait, department or JSON body is a 4xx problem+json that names the field, never a 500."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient, TestServer

from chainnode import api_records, crypto
from chainnode.api import NODE, create_app
from chainnode.home import init_home
from chainnode.node import Node
from tests.kit import signed_headers
from tests.nodeproc import anchor_tx

CHAIN = "hostile"
ID = "0" * 32
HEX32 = "00" * 32

HOSTILE_INTEGERS = {
    "superscript two": "²",
    "arabic-indic digits": "١٢",
    "fullwidth digits": "１２",
    "4,301 digits": "1" * 4301,
    "2^64": str(2**64),
    "19 nines": "9" * 19,
    "negative": "-1",
    "plus sign": "+1",
    "fraction": "1.5",
    "exponent": "1e3",
    "hex": "0x10",
    "leading space": " 1",
    "final newline": "1\n",
    "nul": "1\x00",
}
HOSTILE_CODES = {
    "final newline": "PSB\n",
    "newline inside": "PS\nB",
    "lower case": "psb",
    "too long": "P" * 40,
    "nul": "PSB\x00",
}

# Valid values for the path parameters of the record routes, so each request reaches the parameter under test.
PATH_VALUES = {"department": "PSB", "public_key": HEX32, "holder_ref": HEX32, "proposal_id": "1", "year": "2024",
               "code": "X1", "material_id": ID, "case_id": ID, "cert_id": ID}
REQUIRED_QUERY = {"/v1/cases": {"department": "PSB"}}

# (path template, parameter name, "path" or "query", other query parameters)
INTEGER_PARAMS: list[tuple[str, str, str, dict[str, str]]] = [
    ("/v1/txs/" + HEX32, "wait", "query", {}),
    ("/v1/blocks/{}", "height", "path", {}),
    ("/v1/state", "height", "query", {"key": "00"}),
    ("/v1/history/department:PSB", "limit", "query", {}),
    ("/v1/history/department:PSB", "from_height", "query", {}),
    ("/v1/history/department:PSB", "to_height", "query", {}),
    ("/v1/events", "from_height", "query", {}),
    ("/v1/validators", "height", "query", {}),
    ("/v1/proposals/{}", "proposal_id", "path", {}),
    ("/v1/calendar/{}", "year", "path", {}),
    *[  # every record route takes ?height=, and some an integer of their own
        (route.path.format_map(PATH_VALUES), name, "query", REQUIRED_QUERY.get(route.path, {}))
        for route in api_records.ROUTES
        for name in ("height", *(p[0] for p in route.params if p[1] == "query" and p[2].get("type") == "integer"))
    ],
]
DEPARTMENT_PARAMS: list[tuple[str, str]] = [
    ("/v1/items?department={}", "department"),
    ("/v1/cases?department={}", "department"),
    ("/v1/departments/{}/members", "department"),
    ("/v1/supervision/{}", "department"),
    ("/v1/items/{}", "code"),
]


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    _, created = init_home(tmp_path / "home", chain_id=CHAIN, department="PSB", name="Police")
    node = Node.from_home(created.home)
    client = TestClient(TestServer(create_app(node), host="127.0.0.1"))
    await client.start_server()
    try:
        await node.submit([anchor_tx(crypto.load_key_file(created.officer_key).key, CHAIN, "first")])
        await node.produce_block()  # a head to read, so every route reaches its own parameter checks
        yield client
    finally:
        await client.close()
        node.close()


def build_url(template: str, name: str, where: str, value: str, others: dict[str, str]) -> str:
    encoded = quote(value, safe="")
    if where == "path":
        path, query = template.format(encoded), dict(others)
    else:
        path, query = template, {**others, name: value}
    pairs = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query.items())
    return path + ("?" + pairs if pairs else "")


def officer_headers(client: TestClient[Any, Any], url: str) -> dict[str, str]:
    """A signed read of `url` by the node's officer (every role), so internal routes reach their parameter checks."""
    node = client.server.app[NODE]
    return signed_headers(node, crypto.load_key_file(node.layout.keys / "officer.key").key, url)


async def assert_problem(client: TestClient[Any, Any], method: str, url: str, field: str, **kwargs: Any) -> None:
    if method == "GET":
        kwargs = {"headers": officer_headers(client, url), **kwargs}
    response = await client.request(method, url, **kwargs)
    text = await response.text()
    assert 400 <= response.status < 500, (url, response.status, text)
    assert response.content_type == "application/problem+json", (url, text)
    problem = json.loads(text)
    assert problem["field"] == field and problem["code"] != "internal", (url, problem)


async def test_every_hostile_integer_parameter_is_a_4xx_naming_the_field(api: TestClient[Any, Any]) -> None:
    for template, name, where, others in INTEGER_PARAMS:
        for value in HOSTILE_INTEGERS.values():
            await assert_problem(api, "GET", build_url(template, name, where, value, others), name)


async def test_a_huge_wait_is_refused_and_a_bounded_one_served(api: TestClient[Any, Any]) -> None:
    await assert_problem(api, "GET", f"/v1/txs/{HEX32}?wait=61", "wait")
    await assert_problem(api, "GET", f"/v1/txs/{HEX32}?wait={10**30}", "wait")
    response = await api.get(f"/v1/txs/{HEX32}?wait=60")
    assert response.status == 404  # unknown transaction: answered at once, the wait only holds a pending one


async def test_every_code_parameter_is_matched_whole(api: TestClient[Any, Any]) -> None:
    for template, name in DEPARTMENT_PARAMS:
        for value in HOSTILE_CODES.values():
            if name == "code" and value in ("psb", "P" * 40):
                continue  # item codes may be lower case and up to 64 characters
            await assert_problem(api, "GET", template.format(quote(value, safe="")), name)
    assert (await api.get("/v1/items?department=PSB")).status == 200


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="deeply nested"),
        pytest.param(b'{"txs": [' + b"[" * 50 + b"]" * 50 + b"]}", id="nested beyond the bound"),
        pytest.param(b'{"tx": ' + b"7" * 5000 + b"}", id="5,000-digit integer"),
        pytest.param(b'{"tx": 1e999999}', id="huge float"),
        pytest.param(b'{"tx": NaN}', id="NaN"),
        pytest.param(b'{"tx": "\xff"}', id="not UTF-8"),
        pytest.param(b'{"txs": [' + b"0," * 600_000 + b"0]}", id="a million values"),
        pytest.param(b'{"tx": "unterminated', id="unterminated string"),
        pytest.param(b'{"txs": [' + b'"",' * 600_000 + b'""]}', id="600,000 strings"),
        pytest.param(b'{"tx": "' + b"\\\"[" * 1000 + b'"} ' + b"[" * 40, id="brackets after escaped quotes"),
        pytest.param(b'{"txs": [' + b"[]," * 300_000 + b"[]]}", id="300,000 empty arrays"),
    ],
)
async def test_hostile_json_bodies_are_refused(api: TestClient[Any, Any], body: bytes) -> None:
    headers = {"Content-Type": "application/json"}
    await assert_problem(api, "POST", "/v1/txs", "body", data=io.BytesIO(body), headers=headers)


async def test_a_405_names_the_allowed_methods(api: TestClient[Any, Any]) -> None:
    response = await api.post("/v1/status", data=b"")
    assert response.status == 405 and response.content_type == "application/problem+json"
    assert "GET" in response.headers["Allow"].split(",")
    response = await api.get("/v1/txs")
    assert response.status == 405 and response.headers["Allow"] == "POST"
