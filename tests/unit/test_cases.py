"""The cases contract: filing with the automatic materials check, correction, review, parallel opinions,
hand-over, decision with certificate issue, the working-day clock and deadline supervision."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest

from chainnode import crypto, records
from chainnode.errors import NotFound
from contracts import case_queries, cases, certificates, governance
from contracts.calendar import Calendar
from tests.contract_kit import DAY_MS, START_MS, Chain, DictState, key_for

GOVERNANCE: dict[str, Any] = {
    "material_types": [
        {"code": "id_card", "name": "Identity card"},
        {"code": "address_proof", "name": "Proof of address"},
        {"code": "lease", "name": "Lease contract"},
    ],
    "cert_types": [{"code": "business_licence", "name": "Business licence", "issuers": ["SAMR"]}],
    # Thursday 2026-03-05 is a published holiday; Saturday 2026-03-14 a make-up working day.
    "calendars": [{"year": 2026, "holidays": ["2026-03-05"], "workdays": ["2026-03-14"]}],
}
HOLDER = crypto.sha256(b"salt|applicant-1")
OTHER_HOLDER = crypto.sha256(b"salt|applicant-2")
LICENCE = crypto.sha256(b"licence pdf")
UTC8 = datetime.timezone(datetime.timedelta(hours=8))


def end_of(day: str) -> int:
    """The block time at which a civil date (UTC+8) ends: where a deadline on that date falls."""
    date = datetime.date.fromisoformat(day) + datetime.timedelta(days=1)
    return int(datetime.datetime(date.year, date.month, date.day, tzinfo=UTC8).timestamp()) * 1000


@pytest.fixture
def chain() -> Chain:
    return Chain(governance=GOVERNANCE)


def publish(chain: Chain, code: str = "SAMR-001", **changes: Any) -> None:
    args: dict[str, Any] = {
        "code": code,
        "name": "Business licence for a sole proprietor",
        "legal_basis": "Regulation on Individual Industrial and Commercial Households, art. 8",
        "kind": "licensing",
        "materials": [
            {"material_type": "id_card", "issuers": ["PSB"], "form": "original"},
            {"material_type": "address_proof", "issuers": ["CAB"], "form": "copy"},
        ],
        "legal_limit_days": 15,
        "promised_limit_days": 5,
        "cert_type": "business_licence",
        "parallel_departments": ["TAX"],
    }
    args.update(changes)
    chain.ok(chain.staff["SAMR", "admin"], "items", "publish", {k: v for k, v in args.items() if v is not ...})


def attest(chain: Chain, material_type: str, department: str, *, holder: bytes = HOLDER, **extra: Any) -> str:
    content = crypto.sha256(f"{material_type}|{department}|{holder.hex()}|{sorted(extra.items())}".encode())
    result = chain.ok(chain.staff[department, "clerk"], "materials", "attest",
                      {"material_type": material_type, "holder_ref": holder, "content_hash": content, **extra})
    material_id = chain.event_attrs(result, "material.attested")["material_id"]
    assert isinstance(material_id, str)
    return material_id


def file(chain: Chain, cited: list[str], *, code: str = "SAMR-001") -> str:
    result = chain.ok(chain.staff["SAMR", "clerk"], "cases", "file",
                      {"item_code": code, "holder_ref": HOLDER, "materials": cited})
    case_id = chain.event_attrs(result, "case.filed")["case_id"]
    assert isinstance(case_id, str)
    return case_id


def get(chain: Chain, case_id: str) -> dict[str, Any]:
    record = cases.get_case(chain.state, case_id)
    assert record is not None
    return record


def calendar(chain: Chain) -> Calendar:
    return Calendar(chain.state, governance.utc_offset_minutes(chain.state))


def accepted_case(chain: Chain) -> str:
    """A published item and a complete filing on Monday 2026-03-02 (deadline Tuesday 2026-03-10)."""
    publish(chain)
    return file(chain, [attest(chain, "id_card", "PSB"), attest(chain, "address_proof", "CAB")])


def approve(chain: Chain, case_id: str, **extra: Any) -> Any:
    """The SAMR approver (who holds no issuer role) approves, naming the SAMR issuer as issuing officer."""
    certificate = {"content_hash": LICENCE, "issuer_officer": chain.staff["SAMR", "issuer"].public_key}
    return chain.ok(chain.staff["SAMR", "approver"], "cases", "decide",
                    {"case_id": case_id, "decision": "approve", "reason": "conditions met",
                     "certificate": certificate, **extra})


def tax_agrees(chain: Chain, case_id: str) -> None:
    chain.ok(chain.staff["TAX", "reviewer"], "cases", "opinion",
             {"case_id": case_id, "opinion": "agree", "comment": "no tax arrears"})


# --- the whole story ----------------------------------------------------------------------------------


def test_the_whole_story_from_filing_to_certificate(chain: Chain) -> None:
    publish(chain)
    id_card = attest(chain, "id_card", "PSB")

    # A first filing citing only the identity card is returned with the one-time notice.
    case_id = file(chain, [id_card])
    record = get(chain, case_id)
    assert record["status"] == "returned"
    assert record["problems"] == [{"material_type": "address_proof", "reason": "missing"}]
    assert record["deadline_ms"] is None and record["accepted_ms"] is None
    assert record["item_version"] == 1 and record["officer"] == chain.staff["SAMR", "clerk"].public_key
    assert case_id == case_queries.compute_case_id(record["steps"][0]["tx_id"])
    assert set(chain.last_entities[0]) >= {f"case:{case_id}", "item:SAMR-001", "department:SAMR",
                                           f"holder:{HOLDER.hex()}", f"material:{id_card}"}

    # The address proof is attested and cited: the case is accepted, its deadline on the calendar.
    address = attest(chain, "address_proof", "CAB")
    chain.ok(chain.staff["SAMR", "clerk"], "cases", "resubmit", {"case_id": case_id, "materials": [address]})
    record = get(chain, case_id)
    assert record["status"] == "accepted" and record["problems"] == []
    assert [m["material_id"] for m in record["materials"]] == [id_card, address]
    # Filed on Monday 2026-03-02: 5 working days are Mar 3, 4, 6 (the 5th is a holiday), 9 and 10.
    assert record["deadline_ms"] == end_of("2026-03-10")
    # 15 working days: ..., Mar 13, Sat Mar 14 (make-up day), 16, ..., 20, 23 -> Monday Mar 23.
    assert record["legal_deadline_ms"] == end_of("2026-03-23")
    assert record["accepted_ms"] == chain.time_ms

    chain.ok(chain.staff["SAMR", "reviewer"], "cases", "review",
             {"case_id": case_id, "opinion": "agree", "comment": "complete and consistent"})
    tax_agrees(chain, case_id)
    assert get(chain, case_id)["opinions"]["TAX"]["opinion"] == "agree"

    approver = chain.staff["SAMR", "approver"]
    chain.ok(chain.staff["SAMR", "clerk"], "cases", "hand_over",
             {"case_id": case_id, "to": approver.public_key, "reason": "clerk on leave"})
    record = get(chain, case_id)
    assert record["officer"] == approver.public_key and record["officer_name"] == "SAMR approver"
    step = record["steps"][-1]
    assert step["kind"] == "hand_over" and step["from_name"] == "SAMR clerk" and step["to_name"] == "SAMR approver"

    result = approve(chain, case_id)
    record = get(chain, case_id)
    assert record["status"] == "approved" and record["decision"]["on_time"] is True
    cert = certificates.get_certificate(chain.state, record["certificate_id"])
    assert cert is not None and cert["case_id"] == case_id and cert["holder_ref"] == HOLDER
    assert cert["materials"] == [id_card, address] and cert["issuer"] == "SAMR"
    assert cert["issuer_officer"] == chain.staff["SAMR", "issuer"].public_key
    assert certificates.status_at(cert, chain.time_ms) == "valid"
    assert [e.kind for e in result.events] == ["case.decided", "cert.issued"]
    assert f"cert:{record['certificate_id']}" in chain.last_entities[0]
    assert [s["kind"] for s in record["steps"]] == ["file", "resubmit", "review", "opinion", "hand_over", "decide"]
    assert all(s["height"] > 0 and s["tx_id"] for s in record["steps"])
    assert record["steps"][3]["department"] == "TAX" and record["steps"][3]["role"] == "reviewer"


# --- file ---------------------------------------------------------------------------------------------


def test_every_problem_is_listed_at_once(chain: Chain) -> None:
    publish(chain, materials=[
        {"material_type": "id_card", "issuers": ["PSB"], "form": "original"},
        {"material_type": "address_proof", "issuers": ["CAB"], "form": "original"},
        {"material_type": "lease", "optional": True},
    ])
    wrong_issuer = attest(chain, "id_card", "TAX")
    copy = attest(chain, "address_proof", "CAB", form="copy")
    case_id = file(chain, [wrong_issuer, copy])
    assert get(chain, case_id)["problems"] == [
        {"material_type": "id_card", "reason": "issuer_not_accepted"},
        {"material_type": "address_proof", "reason": "form_not_accepted"},
    ]


def test_a_copy_requirement_accepts_an_original_and_extra_materials_are_supplementary(chain: Chain) -> None:
    publish(chain, cert_type=None, parallel_departments=[])
    lease = attest(chain, "lease", "TAX")
    case_id = file(chain, [attest(chain, "id_card", "PSB"), attest(chain, "address_proof", "CAB"), lease])
    record = get(chain, case_id)
    assert record["status"] == "accepted"
    assert [m["supplementary"] for m in record["materials"]] == [False, False, True]


def test_filing_is_refused_for_the_wrong_signer_or_item(chain: Chain) -> None:
    publish(chain)
    args = {"item_code": "SAMR-001", "holder_ref": HOLDER, "materials": []}
    chain.refused("role_required", chain.staff["SAMR", "reviewer"], "cases", "file", args)
    chain.refused("wrong_department", chain.staff["PSB", "clerk"], "cases", "file", args)
    chain.refused("item_not_found", chain.staff["SAMR", "clerk"], "cases", "file", {**args, "item_code": "NOPE"})
    chain.ok(chain.staff["SAMR", "admin"], "items", "retire", {"code": "SAMR-001", "reason": "merged"})
    chain.refused("item_retired", chain.staff["SAMR", "clerk"], "cases", "file", args)


def test_a_material_cited_twice_is_invalid(chain: Chain) -> None:
    publish(chain)
    id_card = attest(chain, "id_card", "PSB")
    result = chain.refused("invalid_arguments", chain.staff["SAMR", "clerk"], "cases", "file",
                           {"item_code": "SAMR-001", "holder_ref": HOLDER, "materials": [id_card, id_card]})
    assert id_card in result.message


@pytest.mark.parametrize("defect", ["material_expired", "material_revoked", "material_other_holder",
                                    "material_not_yet_valid", "material_not_found"])
def test_a_defective_material_refuses_the_filing(chain: Chain, defect: str) -> None:
    publish(chain)
    good = attest(chain, "address_proof", "CAB")
    if defect == "material_expired":
        bad = attest(chain, "id_card", "PSB", valid_from_ms=START_MS, valid_until_ms=START_MS + DAY_MS)
        chain.advance(days=2)
    elif defect == "material_revoked":
        bad = attest(chain, "id_card", "PSB")
        chain.ok(chain.staff["PSB", "clerk"], "materials", "revoke", {"material_id": bad, "reason": "forged"})
    elif defect == "material_other_holder":
        bad = attest(chain, "id_card", "PSB", holder=OTHER_HOLDER)
    elif defect == "material_not_yet_valid":
        bad = attest(chain, "id_card", "PSB", valid_from_ms=START_MS + 30 * DAY_MS)
    else:
        bad = "ab" * 16
    result = chain.refused(defect, chain.staff["SAMR", "clerk"], "cases", "file",
                           {"item_code": "SAMR-001", "holder_ref": HOLDER, "materials": [good, bad]})
    assert bad in result.message and good not in result.message


def test_the_refusal_names_every_defective_material_with_the_first_code(chain: Chain) -> None:
    publish(chain)
    other = attest(chain, "id_card", "PSB", holder=OTHER_HOLDER)
    revoked = attest(chain, "address_proof", "CAB")
    chain.ok(chain.staff["CAB", "clerk"], "materials", "revoke", {"material_id": revoked, "reason": "moved"})
    missing = "cd" * 16
    result = chain.refused("material_other_holder", chain.staff["SAMR", "clerk"], "cases", "file",
                           {"item_code": "SAMR-001", "holder_ref": HOLDER, "materials": [other, revoked, missing]})
    assert "3 cited material(s)" in result.message
    for material_id, words in ((other, "another holder"), (revoked, "revoked"), (missing, "does not exist")):
        assert material_id in result.message
        assert words in result.message.split(material_id)[1].split(";")[0]


# --- resubmit -----------------------------------------------------------------------------------------


def test_resubmission_rules(chain: Chain) -> None:
    publish(chain)
    id_card = attest(chain, "id_card", "PSB")
    case_id = file(chain, [id_card])
    clerk = chain.staff["SAMR", "clerk"]
    chain.refused("invalid_arguments", clerk, "cases", "resubmit", {"case_id": case_id, "materials": [id_card]})
    chain.refused("invalid_arguments", clerk, "cases", "resubmit", {"case_id": case_id, "materials": []})
    chain.refused("case_not_found", clerk, "cases", "resubmit", {"case_id": "00" * 16, "materials": [id_card]})
    lease = attest(chain, "lease", "CAB")
    chain.refused("wrong_department", chain.staff["PSB", "clerk"], "cases", "resubmit",
                  {"case_id": case_id, "materials": [lease]})
    chain.refused("role_required", chain.staff["SAMR", "reviewer"], "cases", "resubmit",
                  {"case_id": case_id, "materials": [lease]})
    foreign = attest(chain, "address_proof", "CAB", holder=OTHER_HOLDER)
    chain.refused("material_other_holder", clerk, "cases", "resubmit", {"case_id": case_id, "materials": [foreign]})

    # Still incomplete: stays returned, the lease kept as supplementary, the notice complete again.
    chain.ok(clerk, "cases", "resubmit", {"case_id": case_id, "materials": [lease]})
    record = get(chain, case_id)
    assert record["status"] == "returned" and record["problems"] == [{"material_type": "address_proof",
                                                                      "reason": "missing"}]
    chain.ok(clerk, "cases", "resubmit", {"case_id": case_id, "materials": [attest(chain, "address_proof", "CAB")]})
    assert get(chain, case_id)["status"] == "accepted"
    chain.refused("case_not_returned", clerk, "cases", "resubmit",
                  {"case_id": case_id, "materials": [attest(chain, "lease", "TAX")]})


def test_a_material_revoked_after_citation_is_set_aside_at_resubmission(chain: Chain) -> None:
    publish(chain)
    id_card = attest(chain, "id_card", "PSB")
    case_id = file(chain, [id_card])
    chain.ok(chain.staff["PSB", "clerk"], "materials", "revoke", {"material_id": id_card, "reason": "lost"})
    chain.ok(chain.staff["SAMR", "clerk"], "cases", "resubmit",
             {"case_id": case_id, "materials": [attest(chain, "address_proof", "CAB")]})
    record = get(chain, case_id)
    assert record["status"] == "returned"
    assert record["problems"] == [{"material_type": "id_card", "reason": "missing"}]
    assert record["materials"][0]["set_aside"] == "material_revoked"
    assert record["steps"][-1]["set_aside"] == [{"material_id": id_card, "defect": "material_revoked"}]
    new_card = attest(chain, "id_card", "PSB", content_hash=crypto.sha256(b"new card"))
    chain.ok(chain.staff["SAMR", "clerk"], "cases", "resubmit", {"case_id": case_id, "materials": [new_card]})
    assert get(chain, case_id)["status"] == "accepted"
    tax_agrees(chain, case_id)
    approve(chain, case_id)
    cert = certificates.get_certificate(chain.state, get(chain, case_id)["certificate_id"])
    assert cert is not None and id_card not in cert["materials"] and new_card in cert["materials"]


# --- request_correction and the suspended clock ---------------------------------------------------------


def test_a_correction_suspends_the_clock_and_extends_the_deadline(chain: Chain) -> None:
    case_id = accepted_case(chain)
    assert get(chain, case_id)["deadline_ms"] == end_of("2026-03-10")
    chain.advance(days=2)  # Wednesday 2026-03-04
    reviewer = chain.staff["SAMR", "reviewer"]
    problems = [{"material_type": "address_proof", "reason": "the stamp is illegible"}]
    chain.refused("role_required", chain.staff["SAMR", "clerk"], "cases", "request_correction",
                  {"case_id": case_id, "problems": problems, "note": "bring a clear copy"})
    chain.refused("unknown_material_type", reviewer, "cases", "request_correction",
                  {"case_id": case_id, "problems": [{"material_type": "nope", "reason": "x"}], "note": "n"})
    chain.ok(reviewer, "cases", "request_correction",
             {"case_id": case_id, "problems": problems, "note": "bring a clear copy"})
    record = get(chain, case_id)
    # Left on Wednesday: Friday 6 (Thursday is a holiday), Monday 9, Tuesday 10.
    assert record["status"] == "returned" and record["suspended_remaining_days"] == 3
    assert record["problems"] == problems and record["deadline_ms"] is None
    view = cases.case_json(record, now_ms=chain.time_ms, calendar=calendar(chain))
    assert view["suspended"] and view["working_days_left"] == 3 and not view["overdue"]
    chain.refused("case_not_accepted", reviewer, "cases", "review",
                  {"case_id": case_id, "opinion": "note", "comment": "waiting"})
    chain.refused("case_not_accepted", chain.staff["SAMR", "approver"], "cases", "decide",
                  {"case_id": case_id, "decision": "deny", "reason": "r"})

    chain.advance(days=5)  # Monday 2026-03-09: Friday 6 and Monday 9 passed while suspended.
    clerk = chain.staff["SAMR", "clerk"]
    # A material of another type does not answer the requested correction.
    chain.ok(clerk, "cases", "resubmit", {"case_id": case_id, "materials": [attest(chain, "lease", "CAB")]})
    assert get(chain, case_id)["problems"] == problems
    fixed = attest(chain, "address_proof", "CAB", content_hash=crypto.sha256(b"clear copy"))
    chain.ok(clerk, "cases", "resubmit", {"case_id": case_id, "materials": [fixed]})
    record = get(chain, case_id)
    # 3 working days from Monday 9: 10, 11, 12 -- the old deadline (10th) plus the 2 suspended working days.
    assert record["status"] == "accepted" and record["deadline_ms"] == end_of("2026-03-12")
    assert record["suspended_ms"] is None and record["suspended_remaining_days"] is None
    assert record["accepted_ms"] < record["steps"][-1]["time_ms"]


def test_a_case_overdue_when_suspended_stays_overdue(chain: Chain) -> None:
    case_id = accepted_case(chain)
    chain.advance(days=10)  # Thursday 2026-03-12, past the deadline of Tuesday the 10th
    chain.ok(chain.staff["SAMR", "approver"], "cases", "request_correction",
             {"case_id": case_id, "problems": [{"material_type": "id_card", "reason": "expired"}], "note": "n"})
    assert get(chain, case_id)["suspended_remaining_days"] == -2
    chain.ok(chain.staff["SAMR", "clerk"], "cases", "resubmit",
             {"case_id": case_id, "materials": [attest(chain, "id_card", "PSB", content_hash=LICENCE)]})
    record = get(chain, case_id)
    assert record["status"] == "accepted" and record["deadline_ms"] == end_of("2026-03-10")
    assert record["legal_deadline_ms"] == end_of("2026-03-23")
    assert cases.case_json(record, now_ms=chain.time_ms, calendar=calendar(chain))["overdue"]


def test_correction_needs_an_accepted_case(chain: Chain) -> None:
    publish(chain)
    case_id = file(chain, [])
    chain.refused("case_not_accepted", chain.staff["SAMR", "reviewer"], "cases", "request_correction",
                  {"case_id": case_id, "problems": [{"material_type": "id_card", "reason": "missing"}], "note": "n"})


# --- review and opinion ---------------------------------------------------------------------------------


def test_review_and_opinion_rules(chain: Chain) -> None:
    case_id = accepted_case(chain)
    review = {"case_id": case_id, "opinion": "note", "comment": "called the applicant"}
    chain.refused("role_required", chain.staff["SAMR", "approver"], "cases", "review", review)
    chain.refused("wrong_department", chain.staff["TAX", "reviewer"], "cases", "review", review)
    chain.refused("invalid_arguments", chain.staff["SAMR", "reviewer"], "cases", "review",
                  {**review, "opinion": "maybe"})
    chain.ok(chain.staff["SAMR", "reviewer"], "cases", "review", review)

    opinion = {"case_id": case_id, "opinion": "disagree", "comment": "tax arrears"}
    chain.refused("not_a_parallel_department", chain.staff["SAMR", "reviewer"], "cases", "opinion", opinion)
    chain.refused("not_a_parallel_department", chain.staff["PSB", "approver"], "cases", "opinion", opinion)
    chain.refused("role_required", chain.staff["TAX", "clerk"], "cases", "opinion", opinion)
    chain.refused("invalid_arguments", chain.staff["TAX", "approver"], "cases", "opinion",
                  {**opinion, "opinion": "note"})
    chain.ok(chain.staff["TAX", "approver"], "cases", "opinion", opinion)
    chain.refused("opinion_exists", chain.staff["TAX", "reviewer"], "cases", "opinion",
                  {**opinion, "opinion": "agree"})
    approver = chain.staff["SAMR", "approver"]
    result = chain.refused("opinion_against", approver, "cases", "decide",
                           {"case_id": case_id, "decision": "approve", "reason": "r",
                            "certificate": {"content_hash": LICENCE}})
    assert "TAX" in result.message
    chain.ok(approver, "cases", "decide", {"case_id": case_id, "decision": "deny", "reason": "tax arrears"})
    assert get(chain, case_id)["status"] == "denied" and get(chain, case_id)["certificate_id"] is None


# --- hand_over ----------------------------------------------------------------------------------------


def test_hand_over_rules(chain: Chain) -> None:
    case_id = accepted_case(chain)
    args = {"case_id": case_id, "to": chain.staff["SAMR", "reviewer"].public_key, "reason": "workload"}
    chain.refused("not_case_officer", chain.staff["SAMR", "approver"], "cases", "hand_over", args)
    chain.refused("wrong_department", chain.staff["PSB", "admin"], "cases", "hand_over", args)
    clerk = chain.staff["SAMR", "clerk"]
    for to in (chain.staff["PSB", "clerk"], chain.staff["SAMR", "auditor"], clerk):
        chain.refused("invalid_officer", clerk, "cases", "hand_over", {**args, "to": to.public_key})
    chain.refused("invalid_officer", clerk, "cases", "hand_over", {**args, "to": b"\x07" * 32})
    # An admin may hand over a case it does not hold.
    chain.ok(chain.staff["SAMR", "admin"], "cases", "hand_over", args)
    step = get(chain, case_id)["steps"][-1]
    assert step["role"] == "admin" and step["from_officer"] == clerk.public_key
    chain.refused("not_case_officer", clerk, "cases", "hand_over",
                  {**args, "to": chain.staff["SAMR", "approver"].public_key})
    tax_agrees(chain, case_id)
    approve(chain, case_id)
    chain.refused("case_closed", chain.staff["SAMR", "admin"], "cases", "hand_over",
                  {**args, "to": clerk.public_key})


# --- decide -------------------------------------------------------------------------------------------


def test_attack_rows_for_decide(chain: Chain) -> None:
    case_id = accepted_case(chain)
    args = {"case_id": case_id, "decision": "approve", "reason": "r", "certificate": {"content_hash": LICENCE}}
    chain.refused("role_required", chain.staff["SAMR", "clerk"], "cases", "decide", args)
    chain.refused("wrong_department", chain.staff["PSB", "approver"], "cases", "decide", args)
    chain.refused("case_not_found", chain.staff["SAMR", "approver"], "cases", "decide",
                  {**args, "case_id": "11" * 16})
    result = chain.refused("opinions_missing", chain.staff["SAMR", "approver"], "cases", "decide", args)
    assert "TAX" in result.message
    tax_agrees(chain, case_id)
    chain.refused("certificate_required", chain.staff["SAMR", "approver"], "cases", "decide",
                  {k: v for k, v in args.items() if k != "certificate"})
    chain.refused("invalid_arguments", chain.staff["SAMR", "approver"], "cases", "decide",
                  {**args, "decision": "deny"})
    approve(chain, case_id)
    chain.refused("case_closed", chain.staff["SAMR", "approver"], "cases", "decide", args)
    chain.refused("case_closed", chain.staff["SAMR", "reviewer"], "cases", "review",
                  {"case_id": case_id, "opinion": "note", "comment": "late"})


def test_a_certificate_is_issued_only_by_an_officer_holding_issuer(chain: Chain) -> None:
    """Attack table: an approver without the issuer role issuing a certificate in its own name."""
    case_id = accepted_case(chain)
    tax_agrees(chain, case_id)
    approver = chain.staff["SAMR", "approver"]
    args = {"case_id": case_id, "decision": "approve", "reason": "r", "certificate": {"content_hash": LICENCE}}
    result = chain.refused("issuer_required", approver, "cases", "decide", args)
    assert "SAMR approver of SAMR holds approver" in result.message and "certificate.issuer_officer" in result.message
    for named in (chain.staff["SAMR", "reviewer"], chain.staff["CAB", "issuer"], key_for("nobody")):
        named_args = {**args, "certificate": {"content_hash": LICENCE, "issuer_officer": named.public_key}}
        chain.refused("issuer_required", approver, "cases", "decide", named_args)
    assert get(chain, case_id)["status"] == "accepted"
    # A key holding both approver and issuer is its own issuing officer.
    chief = key_for("SAMR chief")
    chain.ok(chain.staff["SAMR", "admin"], "governance", "register_member",
             {"public_key": chief.public_key, "name": "SAMR chief", "roles": ["approver", "issuer"]})
    chain.ok(chief, "cases", "decide", args)
    cert = certificates.get_certificate(chain.state, get(chain, case_id)["certificate_id"])
    assert cert is not None and cert["issuer_officer"] == chief.public_key
    assert cert["issuer_officer_name"] == "SAMR chief"


def test_a_named_issuing_officer_is_recorded_as_issuer(chain: Chain) -> None:
    case_id = accepted_case(chain)
    tax_agrees(chain, case_id)
    result = approve(chain, case_id)
    record = get(chain, case_id)
    cert = certificates.get_certificate(chain.state, record["certificate_id"])
    issuer, approver = chain.staff["SAMR", "issuer"], chain.staff["SAMR", "approver"]
    assert cert is not None and cert["issuer_officer"] == issuer.public_key
    assert cert["issuer_officer_name"] == "SAMR issuer"
    first = certificates.get_certificate_history(chain.state, record["certificate_id"], cert["actions"])[0]
    assert first["signer"] == approver.public_key and record["decision"]["signer"] == approver.public_key
    assert chain.event_attrs(result, "cert.issued")["signer"] == approver.public_key
    bad = {"case_id": case_id, "decision": "approve", "reason": "r",
           "certificate": {"content_hash": LICENCE, "issuer_officer": b"short"}}
    chain.refused("invalid_arguments", approver, "cases", "decide", bad)


def test_an_item_without_certificate_type_takes_no_certificate(chain: Chain) -> None:
    publish(chain, "SAMR-002", cert_type=None, parallel_departments=[])
    case_id = file(chain, [attest(chain, "id_card", "PSB"), attest(chain, "address_proof", "CAB")], code="SAMR-002")
    chain.refused("certificate_not_expected", chain.staff["SAMR", "approver"], "cases", "decide",
                  {"case_id": case_id, "decision": "approve", "reason": "r", "certificate": {"content_hash": LICENCE}})
    chain.ok(chain.staff["SAMR", "approver"], "cases", "decide", {"case_id": case_id, "decision": "approve",
                                                                  "reason": "r"})
    assert get(chain, case_id)["status"] == "approved" and get(chain, case_id)["certificate_id"] is None


def test_a_case_keeps_the_item_version_it_was_filed_under(chain: Chain) -> None:
    case_id = accepted_case(chain)
    publish_args = {
        "code": "SAMR-001", "name": "Business licence", "legal_basis": "art. 8", "kind": "licensing",
        "materials": [], "legal_limit_days": 20, "promised_limit_days": 10, "parallel_departments": [],
    }
    chain.ok(chain.staff["SAMR", "admin"], "items", "amend", publish_args)
    # The amended version needs no opinion and no certificate; the case still follows version 1.
    chain.refused("opinions_missing", chain.staff["SAMR", "approver"], "cases", "decide",
                  {"case_id": case_id, "decision": "approve", "reason": "r", "certificate": {"content_hash": LICENCE}})
    assert file(chain, []) and get(chain, case_id)["item_version"] == 1


def test_a_late_decision_is_recorded_as_not_on_time(chain: Chain) -> None:
    case_id = accepted_case(chain)
    chain.advance(days=10)  # Thursday 2026-03-12, past Tuesday the 10th
    chain.ok(chain.staff["SAMR", "approver"], "cases", "decide", {"case_id": case_id, "decision": "deny",
                                                                  "reason": "incomplete"})
    decision = get(chain, case_id)["decision"]
    assert decision["on_time"] is False and decision["legal_on_time"] is True


def test_steps_are_bounded(chain: Chain) -> None:
    case_id = accepted_case(chain)
    reviewer = chain.staff["SAMR", "reviewer"]
    review = {"case_id": case_id, "opinion": "note", "comment": "n"}
    filled = len(get(chain, case_id)["steps"])
    results = chain.block([chain.tx(reviewer, "cases", "review", review) for _ in range(cases.MAX_STEPS - filled)])
    assert all(r.ok for r in results)
    chain.refused("too_many_steps", reviewer, "cases", "review", review)


# --- queries ------------------------------------------------------------------------------------------


def test_supervision_lists_due_and_overdue_cases(chain: Chain) -> None:
    case_id = accepted_case(chain)
    cal = calendar(chain)
    report = cases.supervision(chain.state, "SAMR", now_ms=chain.time_ms, within_days=3, calendar=cal)
    assert report["overdue"] == [] and report["due_soon"] == [] and report["open"] == 1
    assert report["on_time_rate"] is None

    chain.advance(days=7)  # Monday 2026-03-09: the deadline (Tuesday 10th) is 1 working day away
    report = cases.supervision(chain.state, "SAMR", now_ms=chain.time_ms, within_days=3, calendar=cal)
    assert [c["case_id"] for c in report["due_soon"]] == [case_id] and report["overdue"] == []
    assert report["due_soon"][0]["working_days_left"] == 1

    chain.advance(days=2)  # Wednesday 11th
    report = cases.supervision(chain.state, "SAMR", now_ms=chain.time_ms, within_days=3, calendar=cal)
    assert [c["case_id"] for c in report["overdue"]] == [case_id] and report["due_soon"] == []
    view = cases.case_json(get(chain, case_id), now_ms=chain.time_ms, calendar=cal)
    assert view["overdue"] and view["working_days_left"] == -1 and view["deadline_date"] == "2026-03-10"
    assert view["holder_ref"] == HOLDER.hex()

    tax_agrees(chain, case_id)
    approve(chain, case_id)
    report = cases.supervision(chain.state, "SAMR", now_ms=chain.time_ms, within_days=3, calendar=cal)
    assert report["overdue"] == [] and report["decided"] == 1 and report["on_time_rate"] == "0.0"


def test_an_unknown_department_is_not_found(chain: Chain) -> None:
    """Supervision of a mistyped department once answered zeros: it is a not_found naming the department."""
    accepted_case(chain)
    assert records.supervision(chain.view(), "SAMR", 3)["open"] == 1
    assert len(records.list_cases(chain.view(), "SAMR", None, 10)["cases"]) == 1
    with pytest.raises(NotFound, match="no department SAMX") as caught:
        records.supervision(chain.view(), "SAMX", 3)
    assert caught.value.code == "not_found" and caught.value.field == "department"
    with pytest.raises(NotFound, match="no department SAMX"):
        records.list_cases(chain.view(), "SAMX", None, 10)
    # A department with no cases yet is found, with nothing to report.
    assert records.supervision(chain.view(), "CAB", 3)["open"] == 0
    assert records.list_cases(chain.view(), "CAB", "accepted", 10)["cases"] == []


def test_supervision_skips_a_suspended_case(chain: Chain) -> None:
    case_id = accepted_case(chain)
    chain.ok(chain.staff["SAMR", "reviewer"], "cases", "request_correction",
             {"case_id": case_id, "problems": [{"material_type": "id_card", "reason": "expired"}], "note": "n"})
    chain.advance(days=30)
    report = cases.supervision(chain.state, "SAMR", now_ms=chain.time_ms, within_days=3, calendar=calendar(chain))
    assert report["overdue"] == [] and report["returned"] == 1


class PastReader:
    """Today's keys with their values at a past state (as the node's historical view reads them)."""

    def __init__(self, today: DictState, then: DictState) -> None:
        self.today, self.then = today, then

    def get(self, key: bytes) -> bytes | None:
        return self.then.get(key)

    def iter_prefix(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        for key, _ in self.today.iter_prefix(prefix):
            value = self.then.get(key)
            if value is not None:
                yield key, value


def test_listing_by_department_and_holder_now_and_in_the_past(chain: Chain) -> None:
    first = accepted_case(chain)
    height_then = chain.height
    then = DictState(chain.state.data)
    second = file(chain, [])
    tax_agrees(chain, first)
    approve(chain, first)

    assert [c["case_id"] for c in cases.cases_by_department(chain.state, "SAMR")] == [second, first]
    assert [c["case_id"] for c in cases.cases_by_department(chain.state, "SAMR", status="approved")] == [first]
    assert [c["case_id"] for c in cases.cases_by_department(chain.state, "SAMR", limit=1)] == [second]
    assert cases.cases_by_department(chain.state, "PSB") == []
    assert [c["case_id"] for c in cases.cases_of_holder(chain.state, HOLDER)] == [second, first]
    assert cases.cases_of_holder(chain.state, OTHER_HOLDER) == []

    past = PastReader(chain.state, then)
    listed = cases.cases_by_department(past, "SAMR", up_to_height=height_then)
    assert [(c["case_id"], c["status"]) for c in listed] == [(first, "accepted")]
    assert cases.cases_by_department(past, "SAMR", status="approved", up_to_height=height_then) == []
    report = cases.supervision(past, "SAMR", now_ms=START_MS + 9 * DAY_MS, within_days=3,
                               calendar=calendar(chain), up_to_height=height_then)
    assert [c["case_id"] for c in report["overdue"]] == [first] and report["decided"] == 0


def test_time_spent_per_step_and_officer(chain: Chain) -> None:
    case_id = accepted_case(chain)
    chain.advance(days=1)  # Tuesday
    chain.ok(chain.staff["SAMR", "reviewer"], "cases", "review",
             {"case_id": case_id, "opinion": "agree", "comment": "fine"})
    chain.advance(days=3)  # Friday (Thursday a holiday)
    tax_agrees(chain, case_id)
    spent = cases.time_spent(get(chain, case_id), calendar(chain))
    assert [s["kind"] for s in spent["steps"]] == ["file", "review", "opinion"]
    assert [s["working_days"] for s in spent["steps"]] == [0, 1, 2]
    assert spent["steps"][1]["ms"] == DAY_MS + 60_000
    officers = {o["name"]: o for o in spent["officers"]}
    assert officers["TAX reviewer"]["working_days"] == 2 and officers["SAMR clerk"]["ms"] == 0
    assert spent["total_working_days"] == 3
