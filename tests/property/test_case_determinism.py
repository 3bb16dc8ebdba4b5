"""Determinism of the cases contract: one random sequence of case transactions, replayed on two fresh
chains, leaves byte-identical state and identical results."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chainnode import crypto
from contracts import cases
from tests.contract_kit import Chain

GOVERNANCE: dict[str, Any] = {
    "material_types": [{"code": "id_card", "name": "Identity card"}, {"code": "address_proof", "name": "Address"}],
    "cert_types": [{"code": "business_licence", "name": "Business licence", "issuers": ["SAMR"]}],
    "calendars": [{"year": 2026, "holidays": ["2026-03-05", "2026-03-06"], "workdays": []}],
}
HOLDERS = (crypto.sha256(b"holder-a"), crypto.sha256(b"holder-b"))
ITEM = {
    "code": "SAMR-001", "name": "Business licence", "legal_basis": "art. 8", "kind": "licensing",
    "materials": [{"material_type": "id_card", "issuers": ["PSB"], "form": "original"},
                  {"material_type": "address_proof", "issuers": ["CAB"], "form": "copy"}],
    "legal_limit_days": 10, "promised_limit_days": 3, "cert_type": "business_licence",
    "parallel_departments": ["TAX"],
}
OFFICERS = (("SAMR", "clerk"), ("SAMR", "reviewer"), ("SAMR", "approver"), ("SAMR", "auditor"), ("PSB", "clerk"))

# An operation: (kind, small ints that pick a case, a material, a signer or an option).
operation = st.tuples(
    st.sampled_from(["file", "attest", "revoke", "resubmit", "correct", "review", "opinion", "hand_over",
                     "decide", "advance"]),
    st.integers(0, 7), st.integers(0, 7), st.integers(0, 4),
)


def replay(ops: list[tuple[str, int, int, int]]) -> tuple[Chain, list[tuple[str, str]]]:
    """Run the operations on a fresh chain; return it and every call's (code, message)."""
    chain = Chain(governance=GOVERNANCE)
    chain.ok(chain.staff["SAMR", "admin"], "items", "publish", ITEM)
    material_ids: list[str] = []
    issuers: dict[str, str] = {}
    case_ids: list[str] = []
    outcomes: list[tuple[str, str]] = []

    def pick(ids: list[str], n: int) -> str:
        return ids[n % len(ids)] if ids else "00" * 16

    def call(dept: str, role: str, method: str, args: dict[str, Any], contract: str = "cases") -> None:
        result = chain.call(chain.staff[dept, role], contract, method, args)
        outcomes.append((result.code, result.message))
        for event in result.events:
            if event.kind == "material.attested":
                material_ids.append(str(event.attributes["material_id"]))
                issuers[material_ids[-1]] = str(event.attributes["issuer"])
            if event.kind == "case.filed":
                case_ids.append(str(event.attributes["case_id"]))

    for holder in HOLDERS:
        for material_type, dept in (("id_card", "PSB"), ("address_proof", "CAB")):
            call(dept, "clerk", "attest", {"material_type": material_type, "holder_ref": holder,
                                           "content_hash": crypto.sha256(holder + material_type.encode())},
                 contract="materials")
    for kind, a, b, c in ops:
        if not case_ids and kind not in ("attest", "revoke", "advance"):
            kind = "file"
        case_id = pick(case_ids, a)
        if kind == "attest":
            material_type, dept = (("id_card", "PSB"), ("address_proof", "CAB"), ("id_card", "TAX"))[c % 3]
            call(dept, "clerk", "attest", {"material_type": material_type, "holder_ref": HOLDERS[b % 2],
                                           "content_hash": crypto.sha256(bytes([a, b, c, len(outcomes)]))},
                 contract="materials")
        elif kind == "revoke":
            material_id = pick(material_ids, a)
            call(issuers[material_id], "clerk", "revoke", {"material_id": material_id, "reason": "r"},
                 contract="materials")
        elif kind == "file":
            cited = sorted({pick(material_ids, b + 2 * i) for i in range(c)})
            call("SAMR", "clerk", "file", {"item_code": "SAMR-001", "holder_ref": HOLDERS[a % 2], "materials": cited})
        elif kind == "resubmit":
            call("SAMR", "clerk", "resubmit", {"case_id": case_id, "materials": [pick(material_ids, b)]})
        elif kind == "correct":
            call("SAMR", "reviewer", "request_correction",
                 {"case_id": case_id, "problems": [{"material_type": "id_card", "reason": "blurred"}], "note": "n"})
        elif kind == "review":
            call("SAMR", ("reviewer", "approver")[c % 2], "review",
                 {"case_id": case_id, "opinion": "note", "comment": "c"})
        elif kind == "opinion":
            call("TAX", "reviewer", "opinion",
                 {"case_id": case_id, "opinion": ("agree", "disagree")[int(c == 4)], "comment": "c"})
        elif kind == "hand_over":
            dept, role = OFFICERS[c]
            call("SAMR", ("admin", "clerk")[b % 2], "hand_over",
                 {"case_id": case_id, "to": chain.staff[dept, role].public_key, "reason": "r"})
        elif kind == "decide":
            args: dict[str, Any] = {"case_id": case_id, "decision": ("approve", "deny")[int(b == 7)], "reason": "r"}
            if c:
                args["certificate"] = {"content_hash": crypto.sha256(bytes([a, b, c])),
                                       "issuer_officer": chain.staff["SAMR", "issuer"].public_key}
            call("SAMR", "approver", "decide", args)
        else:
            chain.advance(days=c)
    return chain, outcomes


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(operation, min_size=1, max_size=25))
def test_replaying_the_same_transactions_gives_the_same_state(ops: list[tuple[str, int, int, int]]) -> None:
    first, first_outcomes = replay(ops)
    second, second_outcomes = replay(ops)
    assert first_outcomes == second_outcomes
    assert first.state.data == second.state.data
    assert all(code != "contract_fault" for code, _ in first_outcomes)


def test_a_typical_sequence_reaches_every_status() -> None:
    ops = [("file", 0, 0, 1), ("resubmit", 0, 1, 0), ("opinion", 0, 0, 0), ("decide", 0, 0, 1),
           ("file", 0, 0, 0), ("decide", 1, 7, 0)]
    chain, outcomes = replay(ops)
    statuses = sorted(c["status"] for c in cases.cases_by_department(chain.state, "SAMR"))
    assert statuses == ["approved", "returned"], outcomes
