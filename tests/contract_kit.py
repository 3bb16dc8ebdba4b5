"""A small in-memory chain for contract tests: genesis departments and members, blocks executed through the
real executor, and helpers that assert a refused call left the state exactly as it was."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from chainnode import codec, crypto
from chainnode.codec import Value
from chainnode.execution import BlockContext, compute_genesis_changes, execute_block, get_method
from chainnode.genesis import Genesis, parse_genesis
from chainnode.results import TxResult
from chainnode.tx import Transaction, TxBody, sign_transaction

CHAIN_ID = "contracts-test"
DAY_MS = 86_400_000
# 2026-03-02 09:00 at UTC+8 (a Monday), 01:00 UTC.
START_MS = 1_772_413_200_000
ALL_ROLES = ["admin", "approver", "auditor", "clerk", "document_officer", "issuer", "reviewer"]


class DictState:
    """A committed state: the executor's StateReader over a plain dict."""

    def __init__(self, data: dict[bytes, bytes] | None = None) -> None:
        self.data: dict[bytes, bytes] = dict(data or {})

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def iter_prefix(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        return iter(sorted((k, v) for k, v in self.data.items() if k.startswith(prefix)))

    def apply(self, changes: dict[bytes, bytes | None]) -> None:
        for key, value in changes.items():
            if value is None:
                self.data.pop(key, None)
            else:
                self.data[key] = value

    def value(self, key: bytes) -> Value | None:
        raw = self.data.get(key)
        return None if raw is None else codec.decode(raw, max_size=1 << 20)


@dataclass
class _LatestStore:
    """The store interface of `chainnode.records.View` over a DictState: every height reads today's value."""

    state: DictState

    def value_at(self, key: bytes, height: int) -> bytes | None:
        return self.state.get(key)

    def iter_prefix(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        return self.state.iter_prefix(prefix)


def key_for(label: str) -> crypto.PrivateKey:
    return crypto.PrivateKey(crypto.sha256(label.encode()))


def encryption_key_for(label: str) -> crypto.EncryptionKey:
    """A fixed X25519 key pair from a label ("<DEPT>/encryption" is a department's genesis key)."""
    return crypto.EncryptionKey(crypto.sha256(f"encryption {label}".encode()))


@dataclass
class Staff:
    """Keys by (department, role): `staff["SAMR", "clerk"]`; each holds only that role."""

    keys: dict[tuple[str, str], crypto.PrivateKey] = field(default_factory=dict)

    def __getitem__(self, where: tuple[str, str]) -> crypto.PrivateKey:
        return self.keys[where]


DEFAULT_DEPARTMENTS = ("PSB", "SAMR", "CAB", "TAX")


def make_genesis(departments: Sequence[str] = DEFAULT_DEPARTMENTS, *, governance: dict[str, Any] | None = None,
                 utc_offset_minutes: int = 480, encryption_keys: bool = False,
                 params: dict[str, Any] | None = None) -> tuple[Genesis, Staff]:
    """A genesis where every department has one key per role (named "<DEPT> <role>") and power 10, and with
    `encryption_keys` the encryption key `encryption_key_for("<DEPT>/encryption")`."""
    staff = Staff()
    docs = []
    for code in departments:
        members = []
        for role in ALL_ROLES:
            key = key_for(f"{code}/{role}")
            staff.keys[(code, role)] = key
            members.append({"public_key": key.public_key.hex(), "name": f"{code} {role}", "roles": [role]})
        docs.append({"code": code, "name": f"Department {code}", "node_key": key_for(f"{code}/node").public_key.hex(),
                     "power": 10, "members": members})
        if encryption_keys:
            docs[-1]["encryption_key"] = encryption_key_for(f"{code}/encryption").public_key.hex()
    document: dict[str, Any] = {
        "chain_id": CHAIN_ID,
        "genesis_time_ms": START_MS,
        "params": {"utc_offset_minutes": utc_offset_minutes, **(params or {})},
        "departments": docs,
    }
    if governance:
        document["governance"] = governance
    return parse_genesis(document), staff


class Chain:
    """Executes one transaction per block (or several with `block`), advancing height and block time."""

    def __init__(self, departments: Sequence[str] = DEFAULT_DEPARTMENTS, *,
                 governance: dict[str, Any] | None = None, utc_offset_minutes: int = 480,
                 encryption_keys: bool = False, params: dict[str, Any] | None = None) -> None:
        self.genesis, self.staff = make_genesis(departments, governance=governance,
                                                utc_offset_minutes=utc_offset_minutes,
                                                encryption_keys=encryption_keys, params=params)
        self.state = DictState()
        self.state.apply(compute_genesis_changes(self.state, self.genesis))
        self.height = 0
        self.time_ms = START_MS
        self._nonce = itertools.count()
        self.last_entities: tuple[tuple[str, ...], ...] = ()

    def tx(self, key: crypto.PrivateKey, contract: str, method: str, args: Value) -> Transaction:
        body = TxBody(chain_id=CHAIN_ID, contract=contract, method=method, args=args, signer=key.public_key,
                      nonce=next(self._nonce).to_bytes(16, "big"), expiry_height=self.height + 1000)
        return sign_transaction(key, body)

    def block(self, txs: Sequence[Transaction], *, advance_ms: int = 60_000) -> list[TxResult]:
        self.height += 1
        self.time_ms += advance_ms
        execution = execute_block(self.state, txs, BlockContext(chain_id=CHAIN_ID, height=self.height,
                                                                time_ms=self.time_ms))
        self.state.apply(execution.changes)
        self.last_entities = execution.entities
        for tx in txs:  # execution reuses a transaction's parsed arguments: no handler may change them
            if tx.parsed_args is not None:
                assert tx.parsed_args == get_method(tx.body.contract, tx.body.method).parse(tx.body.args), (
                    f"{tx.body.contract}.{tx.body.method} changed its parsed arguments")
        return list(execution.results)

    def call(self, key: crypto.PrivateKey, contract: str, method: str, args: Value, **kw: Any) -> TxResult:
        return self.block([self.tx(key, contract, method, args)], **kw)[0]

    def ok(self, key: crypto.PrivateKey, contract: str, method: str, args: Value, **kw: Any) -> TxResult:
        result = self.call(key, contract, method, args, **kw)
        assert result.code == "ok", f"{contract}.{method} refused: {result.code}: {result.message}"
        return result

    def refused(self, code: str, key: crypto.PrivateKey, contract: str, method: str, args: Value,
                **kw: Any) -> TxResult:
        """Assert the call is refused with `code` and that no state changed (beyond what begin-block does)."""
        before = dict(self.state.data)
        result = self.call(key, contract, method, args, **kw)
        assert result.code == code, f"expected {code}, got {result.code}: {result.message}"
        assert result.message, "a refusal must say why"
        changed = {k for k in set(before) | set(self.state.data) if before.get(k) != self.state.data.get(k)}
        assert not changed, f"a refused call changed state: {sorted(changed)[:5]}"
        return result

    def advance(self, *, days: int = 0, ms: int = 0, heights: int = 1) -> None:
        """Let time pass with empty blocks (the last one carries the time step)."""
        for i in range(heights):
            self.block([], advance_ms=(days * DAY_MS + ms) if i == heights - 1 else 1000)

    def view(self) -> Any:
        """The API's read view (`chainnode.records.View`) of the current state, at the current height and time."""
        from chainnode import records

        return records.View(store=_LatestStore(self.state), height=self.height, time_ms=self.time_ms)  # type: ignore[arg-type]

    def event_attrs(self, result: TxResult, kind: str) -> dict[str, Value]:
        for event in result.events:
            if event.kind == kind:
                return dict(event.attributes)
        raise AssertionError(f"no {kind} event in {[e.kind for e in result.events]}")
