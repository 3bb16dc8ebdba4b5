"""The anchor contract and block execution: all-or-nothing calls, stable error codes."""

from __future__ import annotations

from typing import Any

from chainnode import codec, crypto
from chainnode.execution import BlockContext, execute_block
from chainnode.tx import Transaction, TxBody, sign_transaction
from contracts import anchor, governance
from contracts.base import StateOverlay

OFFICER = crypto.PrivateKey(b"\x02" * 32)
STRANGER = crypto.PrivateKey(b"\x03" * 32)


class DictState:
    def __init__(self, data: dict[bytes, bytes]) -> None:
        self.data = data

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def iter_prefix(self, prefix: bytes) -> Any:
        return iter(sorted((k, v) for k, v in self.data.items() if k.startswith(prefix)))


def base_state() -> DictState:
    overlay = StateOverlay(DictState({}))
    governance.put_department(overlay, code="PSB", name="Police", node_key=b"\x09" * 32, power=10, address="",
                              height=0)
    governance.put_member(overlay, governance.new_member(OFFICER.public_key, "PSB", "Officer Li", ["clerk"], 0))
    return DictState({k: v for k, v in overlay.writes.items() if v is not None})


def put_tx(key: crypto.PrivateKey, content: bytes, nonce: bytes = b"n" * 16, **args: Any) -> Transaction:
    call = {"content_hash": crypto.sha256(content), "kind": "contract", **args}
    body = TxBody(chain_id="c", contract="anchor", method="put", args=call, signer=key.public_key, nonce=nonce,
                  expiry_height=10)
    return sign_transaction(key, body)


CTX = BlockContext(chain_id="c", height=3, time_ms=1_700_000_000_000)


def test_anchor_records_who_and_when() -> None:
    state = base_state()
    t = put_tx(OFFICER, b"file", metadata={"title": "Lease"})
    result = execute_block(state, [t], CTX)
    assert result.results[0].ok
    record = codec.decode(result.changes[anchor.anchor_key(crypto.sha256(b"file"), "PSB")] or b"", max_size=4096)
    assert record["department"] == "PSB" and record["signer_name"] == "Officer Li"
    assert record["height"] == 3 and record["time_ms"] == CTX.time_ms and record["tx_id"] == t.tx_id
    assert record["metadata"] == {"title": "Lease"}
    assert result.entities[0] == (f"signer:{OFFICER.public_key.hex()}", f"anchor:{crypto.sha256(b'file').hex()}",
                                  "department:PSB")


def test_second_anchor_by_same_department_names_the_first() -> None:
    state = base_state()
    first = put_tx(OFFICER, b"file", nonce=b"a" * 16)
    second = put_tx(OFFICER, b"file", nonce=b"b" * 16)
    result = execute_block(state, [first, second], CTX)
    assert result.results[0].ok
    assert result.results[1].code == "anchor_exists"
    assert first.tx_id.hex() in result.results[1].message and "height 3" in result.results[1].message
    assert len(result.changes) == 1  # the refused call wrote nothing


def test_unregistered_signer_is_refused_and_writes_nothing() -> None:
    state = base_state()
    before = dict(state.data)
    result = execute_block(state, [put_tx(STRANGER, b"x")], CTX)
    assert result.results[0].code == "not_a_member" and result.changes == {}
    assert state.data == before


def test_bad_arguments_at_execution_are_recorded_not_raised() -> None:
    state = base_state()
    body = TxBody(chain_id="c", contract="anchor", method="put", args={"content_hash": b"short", "kind": "k"},
                  signer=OFFICER.public_key, nonce=b"n" * 16, expiry_height=10)
    result = execute_block(state, [sign_transaction(OFFICER, body)], CTX)
    assert result.results[0].code == "invalid_arguments" and "content_hash" in result.results[0].message


def test_execution_is_deterministic() -> None:
    txs = [put_tx(OFFICER, bytes([i]), nonce=bytes([i]) * 16) for i in range(20)]
    one = execute_block(base_state(), txs, CTX)
    two = execute_block(base_state(), txs, CTX)
    assert one.result_bytes == two.result_bytes and one.changes == two.changes
