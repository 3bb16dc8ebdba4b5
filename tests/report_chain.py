"""A small in-process chain for the supervision, verification and report tests: one department (PSB) whose node
runs in the test's event loop with its API on an ephemeral port, a clock the test moves by whole days, and
the registries, item and staff a case needs.

The CLI runs against it in a worker thread (`Chain.cli`): the blocking client's HTTP requests are served by
the event loop while the test awaits the thread.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest.mock import patch

from aiohttp.test_utils import TestClient, TestServer

from chainnode import crypto
from chainnode.api import create_app
from chainnode.cli import main
from chainnode.codec import Value
from chainnode.home import init_home
from chainnode.node import Node
from chainnode.tx import TxBody, sign_transaction
from contracts.calendar import date_of, format_date
from contracts.case_queries import compute_case_id
from contracts.materials import compute_material_id
from tests.kit import signed_headers

CHAIN = "reports-test"
DAY_MS = 86_400_000
HOLDER = crypto.sha256(b"salt|applicant-1")
ITEM_CODE = "PSB-001"


READ_COMMANDS = frozenset({("case", "show"), ("case", "status"), ("case", "list"), ("case", "overdue"),
                           ("material", "show"), ("holder", "show"), ("history",), ("report",), ("tx", "status"),
                           ("tx", "proof")})
"""The commands that read internal records, which `Chain.cli` signs with the officer's key."""


class FakeClock:
    def __init__(self, now_ms: int) -> None:
        self.now = now_ms

    def now_ms(self) -> int:
        return self.now


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Chain:
    def __init__(self, client: TestClient[Any, Any], node: Node, key: crypto.PrivateKey, clock: FakeClock,
                 home: Path) -> None:
        self.client, self.node, self.key, self.clock, self.home = client, node, key, clock, home
        self.url = str(client.make_url("")).rstrip("/")

    @property
    def genesis_path(self) -> Path:
        return self.home / "genesis.json"

    def date(self, time_ms: int | None = None) -> str:
        """The civil date (UTC+8, the genesis default) of a time, by default of the clock's now."""
        return format_date(date_of(self.clock.now if time_ms is None else time_ms, 480))

    async def call(self, contract: str, method: str, args: Value, *, key: crypto.PrivateKey | None = None,
                   expect: str = "ok") -> tuple[bytes, dict[str, Any]]:
        """Submit one call, produce its block (one minute after the last), return (tx_id, committed status)."""
        signer = key or self.key
        body = TxBody(chain_id=CHAIN, contract=contract, method=method, args=args, signer=signer.public_key,
                      nonce=os.urandom(16), expiry_height=self.node.head_height() + 100)
        tx = sign_transaction(signer, body)
        admission = (await self.node.submit([tx.raw]))[0]
        assert admission.error is None, admission.error
        self.clock.now += 60_000
        await self.node.produce_block()
        status = self.node.reader.tx_status(tx.tx_id).to_json()
        assert status["result"]["code"] == expect, status
        return tx.tx_id, status

    async def block(self) -> None:
        """One more block (holding an anchor: a node makes no empty blocks)."""
        await self.call("anchor", "put", {"content_hash": os.urandom(32), "kind": "note"})

    async def get(self, path: str, expect: int = 200, *, key: crypto.PrivateKey | None = None) -> dict[str, Any]:
        """GET `path` signed by `key` (default: the PSB officer's, who holds every role, auditor included)."""
        response = await self.client.get(path, headers=signed_headers(self.node, key or self.key, path))
        document = await response.json(content_type=None)
        assert response.status == expect, document
        return dict(document)

    async def cli(self, *argv: object, key: Path | None = None, sign: bool = True) -> CliResult:
        """Run `chainnode ARGV --node URL` (the node option after the first two words) in a worker thread. A
        command that reads internal records signs with `key` (default: the PSB officer's key file) unless ARGV
        names a `--key` itself."""
        args = [str(a) for a in argv]
        full = [*args[:2], "--node", self.url, *args[2:]] if len(args) >= 2 else args
        is_read = tuple(args[:1]) in READ_COMMANDS or tuple(args[:2]) in READ_COMMANDS
        if sign and is_read and "--key" not in args:
            full += ["--key", str(key or self.home / "keys" / "officer.key")]
        out, err = io.StringIO(), io.StringIO()

        def run() -> int:  # redirect_stdout is process-wide: the test awaits one command at a time
            # the CLI signs its reads with the machine's clock; the node here runs on the test's clock
            with redirect_stdout(out), redirect_stderr(err), patch("chainnode.client.wall_clock_ms", self.clock.now_ms):
                return main(full)

        code = await asyncio.to_thread(run)
        return CliResult(code, out.getvalue(), err.getvalue())

    async def pass_proposal(self, kind: str, payload: dict[str, Any], voters: tuple[crypto.PrivateKey, ...] = ()
                            ) -> None:
        """Propose and vote as PSB; `voters`: the admins of the other departments, who vote too."""
        height = self.node.head_height()
        await self.call("governance", "propose", {"kind": kind, "payload": payload, "deadline_height": height + 50,
                                                   "effective_height": height + 2})
        proposal_id = len((await self.get("/v1/proposals"))["proposals"])
        for voter in (self.key, *voters):
            await self.call("governance", "vote", {"proposal_id": proposal_id, "approve": True}, key=voter)

    async def register(self, name: str, roles: list[str], key: crypto.PrivateKey | None = None) -> crypto.PrivateKey:
        """A new staff key of PSB (`key`, or a fresh one), signing from the next block on."""
        key = key or crypto.PrivateKey.generate()
        await self.call("governance", "register_member", {"public_key": key.public_key, "name": name,
                                                          "roles": roles})
        return key

    async def setup_item(self, voters: tuple[crypto.PrivateKey, ...] = ()) -> None:
        """An identity material type, a permit PSB issues, and item PSB-001 (5 working days promised) needing it.
        `voters`: the other departments' admins, whose votes the proposals need."""
        await self.pass_proposal("register_material_type", {"code": "id_card", "name": "Identity card"}, voters)
        await self.pass_proposal("register_cert_type", {"code": "permit", "name": "Permit", "issuers": ["PSB"],
                                                        "validity_days": 365}, voters)
        await self.block()  # a passed proposal applies at the start of the next block
        await self.call("items", "publish", {
            "code": ITEM_CODE, "name": "Residence permit", "legal_basis": "Residence Regulation art. 3",
            "kind": "licensing", "conditions": [], "legal_limit_days": 20, "promised_limit_days": 5,
            "materials": [{"material_type": "id_card", "issuers": ["PSB"], "form": "original", "optional": False}],
            "cert_type": "permit", "parallel_departments": [],
        })

    async def file_case(self, *, key: crypto.PrivateKey | None = None, holder: bytes = HOLDER) -> str:
        tx_id, _ = await self.call("materials", "attest", {"material_type": "id_card", "holder_ref": holder,
                                                           "content_hash": os.urandom(32)})
        tx_id, _ = await self.call("cases", "file", {"item_code": ITEM_CODE, "holder_ref": holder,
                                                     "materials": [compute_material_id(tx_id)]}, key=key)
        return compute_case_id(tx_id)


def edit_genesis(home: Path, **fields: Any) -> None:
    """Change a freshly created home's genesis before its node first starts (the store is not yet made)."""
    path = home / "genesis.json"
    document = json.loads(path.read_text())
    for name, value in fields.items():
        if isinstance(value, dict) and isinstance(document.get(name), dict):
            document[name].update(value)
        else:
            document[name] = value
    path.write_text(json.dumps(document, indent=2))


def add_department(home: Path, code: str, name: str, members: list[tuple[crypto.PrivateKey, str, list[str]]]) -> None:
    """Add a department without voting power to a fresh home's genesis, with these (key, name, roles) members."""
    path = home / "genesis.json"
    document = json.loads(path.read_text())
    document["departments"].append({
        "code": code, "name": name, "node_key": crypto.PrivateKey.generate().public_key.hex(), "power": 0,
        "members": [{"public_key": key.public_key.hex(), "name": member, "roles": roles}
                    for key, member, roles in members],
    })
    path.write_text(json.dumps(document, indent=2))


@asynccontextmanager
async def open_chain(tmp_path: Path, *, departments: tuple[tuple[str, str, list[Any]], ...] = (),
                     **genesis_fields: Any) -> AsyncIterator[Chain]:
    """The chain; `departments` adds (code, name, members) departments without voting power to genesis."""
    _, created = init_home(tmp_path / "home", chain_id=CHAIN, department="PSB", name="Police")
    for code, name, members in departments:
        add_department(created.home, code, name, members)
    if genesis_fields:
        edit_genesis(created.home, **genesis_fields)
    genesis_time = json.loads((created.home / "genesis.json").read_text())["genesis_time_ms"]
    clock = FakeClock(genesis_time + 1000)
    node = Node.from_home(created.home, clock=clock)
    client = TestClient(TestServer(create_app(node), host="127.0.0.1"))
    await client.start_server()
    try:
        yield Chain(client, node, crypto.load_key_file(created.officer_key).key, clock, created.home)
    finally:
        await client.close()
        node.close()
