"""Equivocation evidence is recorded once, only when both votes are really the offender's."""

from __future__ import annotations

from typing import Any

from chainnode import codec, crypto
from chainnode.block import VOTE_PREVOTE, Vote
from chainnode.execution import BlockContext, execute_block
from chainnode.tx import TxBody, sign_transaction
from contracts import evidence, governance
from contracts.base import StateOverlay
from tests.unit.test_anchor import DictState

REPORTER = crypto.PrivateKey(b"\x0a" * 32)
OFFENDER = crypto.PrivateKey(b"\x0b" * 32)
CTX = BlockContext(chain_id="c", height=9, time_ms=1)


def state() -> DictState:
    overlay = StateOverlay(DictState({}))
    for key, dept in ((REPORTER, "PSB"), (OFFENDER, "TAX")):
        governance.put_department(overlay, code=dept, name=dept, node_key=key.public_key, power=10, address="",
                                  height=0)
    return DictState({k: v for k, v in overlay.writes.items() if v is not None})


def args(**overrides: Any) -> dict[str, Any]:
    a, b = b"\x01" * 32, b"\x02" * 32

    def sign(block_hash: bytes) -> bytes:
        vote = Vote(vote_type=VOTE_PREVOTE, height=5, round=1, block_hash=block_hash)
        return OFFENDER.sign(vote.compute_signing_bytes("c"))

    out = {
        "offender": OFFENDER.public_key,
        "vote_type": VOTE_PREVOTE,
        "height": 5,
        "round": 1,
        "block_hash_a": a,
        "signature_a": sign(a),
        "block_hash_b": b,
        "signature_b": sign(b),
    }
    out.update(overrides)
    return out


def run(call: dict[str, Any], nonce: bytes = b"e" * 16, signer: crypto.PrivateKey = REPORTER) -> Any:
    body = TxBody(
        chain_id="c",
        contract="evidence",
        method="report",
        args=call,
        signer=signer.public_key,
        nonce=nonce,
        expiry_height=20,
    )
    return execute_block(state(), [sign_transaction(signer, body)], CTX)


def test_valid_evidence_is_recorded_with_the_offenders_department() -> None:
    result = run(args())
    assert result.results[0].ok
    record = codec.decode(
        result.changes[evidence.evidence_key(OFFENDER.public_key, VOTE_PREVOTE, 5, 1)] or b"", max_size=4096
    )
    assert record["department"] == "TAX" and record["reported_by"] == "PSB"


def test_forged_or_repeated_evidence_is_refused() -> None:
    assert run(args(signature_b=args()["signature_a"])).results[0].code == "invalid_evidence"
    assert run(args(block_hash_b=b"\x01" * 32)).results[0].code == "invalid_arguments"
    stranger = crypto.PrivateKey(b"\x0c" * 32)
    assert run(args(), signer=stranger).results[0].code == "not_authorised"
    body = TxBody(
        chain_id="c",
        contract="evidence",
        method="report",
        args=args(),
        signer=REPORTER.public_key,
        nonce=b"1" * 16,
        expiry_height=20,
    )
    again = TxBody(
        chain_id="c",
        contract="evidence",
        method="report",
        args=args(),
        signer=REPORTER.public_key,
        nonce=b"2" * 16,
        expiry_height=20,
    )
    result = execute_block(state(), [sign_transaction(REPORTER, body), sign_transaction(REPORTER, again)], CTX)
    assert [r.code for r in result.results] == ["ok", "evidence_exists"]
