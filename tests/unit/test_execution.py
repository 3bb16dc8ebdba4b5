"""The entities a call is indexed under: the signer always; the targets its arguments name once they parse,
whatever the contract answers; and, for a call that succeeds, what its outcome names."""

from __future__ import annotations

from typing import Any

from chainnode import crypto
from chainnode.execution import compute_call_entities, validate_call
from chainnode.tx import Transaction
from contracts.registry import REGISTRY
from tests.contract_kit import Chain

GOVERNANCE: dict[str, Any] = {
    "cert_types": [{"code": "business_licence", "name": "Business licence", "issuers": ["SAMR"],
                    "validity_days": 365}],
}
HOLDER = crypto.sha256(b"salt|holder-a")
CASE_ID = "ab" * 16


def signer(key: crypto.PrivateKey) -> str:
    return f"signer:{key.public_key.hex()}"


def test_a_refused_call_is_indexed_under_its_targets() -> None:
    chain = Chain(governance=GOVERNANCE)
    issuer = chain.staff["SAMR", "issuer"]
    result = chain.ok(issuer, "certificates", "issue", {"cert_type": "business_licence", "holder_ref": HOLDER,
                                                        "content_hash": crypto.sha256(b"licence")})
    cert_id = str(chain.event_attrs(result, "cert.issued")["cert_id"])
    other = chain.staff["CAB", "issuer"]
    chain.refused("wrong_department", other, "certificates", "revoke", {"cert_id": cert_id, "reason": "r"})
    assert chain.last_entities == ((signer(other), f"cert:{cert_id}"),)
    clerk = chain.staff["SAMR", "clerk"]
    chain.refused("case_not_found", clerk, "cases", "decide", {"case_id": CASE_ID, "decision": "deny", "reason": "r"})
    assert chain.last_entities == ((signer(clerk), f"case:{CASE_ID}"),)


def test_a_call_that_does_not_parse_is_indexed_under_its_signer_only() -> None:
    chain = Chain(governance=GOVERNANCE)
    clerk = chain.staff["SAMR", "clerk"]
    chain.refused("invalid_arguments", clerk, "cases", "decide", {"case_id": CASE_ID, "decision": "maybe",
                                                                   "reason": "r"})
    assert chain.last_entities == ((signer(clerk),),)
    chain.refused("unknown_method", clerk, "cases", "undo", {"case_id": CASE_ID})
    assert chain.last_entities == ((signer(clerk),),)
    chain.refused("unknown_contract", clerk, "nothing", "undo", {"case_id": CASE_ID})
    assert chain.last_entities == ((signer(clerk),),)


def test_a_successful_call_keeps_its_outcome_entities_first() -> None:
    chain = Chain(governance=GOVERNANCE)
    issuer = chain.staff["SAMR", "issuer"]
    result = chain.ok(issuer, "certificates", "issue", {"cert_type": "business_licence", "holder_ref": HOLDER,
                                                        "content_hash": crypto.sha256(b"licence")})
    cert_id = chain.event_attrs(result, "cert.issued")["cert_id"]
    assert chain.last_entities == ((signer(issuer), f"cert:{cert_id}", f"holder:{HOLDER.hex()}", "department:SAMR"),)


def test_the_entities_of_a_call_follow_from_the_transaction_alone() -> None:
    chain = Chain(governance=GOVERNANCE)
    clerk = chain.staff["SAMR", "clerk"]
    tx = chain.tx(clerk, "cases", "review", {"case_id": CASE_ID, "opinion": "agree", "comment": "fine"})
    assert compute_call_entities(tx) == (signer(clerk), f"case:{CASE_ID}")
    tx = chain.tx(clerk, "cases", "review", {"case_id": "not an id", "opinion": "agree", "comment": "fine"})
    assert compute_call_entities(tx) == (signer(clerk),)


def test_every_method_on_a_record_names_its_targets() -> None:
    """Only calls whose record does not exist before them, or that name no record, have no targets."""
    untargeted = {("governance", "propose"), ("governance", "set_encryption_key")}
    for contract, methods in REGISTRY.items():
        for name, method in methods.items():
            assert (method.targets is None) == ((contract, name) in untargeted), f"{contract}.{name}"


def test_a_call_is_parsed_once_and_execution_reuses_the_parse() -> None:
    chain = Chain()
    tx = chain.tx(chain.staff["PSB", "clerk"], "anchor", "put", {"content_hash": b"\x01" * 32, "kind": "doc"})
    assert tx.parsed_args is None
    validate_call(tx)  # admission
    parsed = tx.parsed_args
    assert parsed is not None
    assert chain.block([tx])[0].code == "ok"
    assert tx.parsed_args is parsed  # execution did not parse again
    other = Transaction(tx.body, tx.signature)  # the same bytes decoded anew: parsed on its own
    assert other.parsed_args is None and other == tx
