"""The certificates contract: issue by an authorised department only, then amend, suspend, reinstate, renew
and revoke by the issuing department, with the status as of any time replayed from the record."""

from __future__ import annotations

from typing import Any

import pytest

from chainnode import crypto, records
from chainnode.errors import NotFound
from contracts import certificates, governance
from contracts.base import CallContext, ContractError, StateOverlay
from tests.contract_kit import DAY_MS, Chain, key_for

GOVERNANCE: dict[str, Any] = {
    "cert_types": [
        {"code": "business_licence", "name": "Business licence", "issuers": ["SAMR"], "validity_days": 365},
        {"code": "permanent_permit", "name": "Permanent permit", "issuers": ["SAMR", "CAB"]},
    ],
    "material_types": [{"code": "id_card", "name": "Identity card"}],
}
HOLDER = crypto.sha256(b"salt|holder-a")
OTHER_HOLDER = crypto.sha256(b"salt|holder-b")
CONTENT = crypto.sha256(b"licence v1")
CONTENT_2 = crypto.sha256(b"licence v2")
UNKNOWN_ID = "00" * 16


@pytest.fixture
def chain() -> Chain:
    return Chain(governance=GOVERNANCE)


def issue(chain: Chain, dept: str = "SAMR", **changes: Any) -> str:
    args: dict[str, Any] = {"cert_type": "business_licence", "holder_ref": HOLDER, "content_hash": CONTENT}
    args.update(changes)
    result = chain.ok(chain.staff[dept, "issuer"], "certificates", "issue", args)
    return str(chain.event_attrs(result, "cert.issued")["cert_id"])


def record(chain: Chain, cert_id: str) -> dict[str, Any]:
    found = certificates.get_certificate(chain.state, cert_id)
    assert found is not None
    return found


def history(reader: Any, cert_id: str) -> list[dict[str, Any]]:
    """Every action recorded for the certificate, from its own keys."""
    found = certificates.get_certificate(reader, cert_id)
    assert found is not None
    return certificates.get_certificate_history(reader, cert_id, found["actions"])


def status(chain: Chain, cert_id: str, time_ms: int | None = None) -> str:
    return certificates.status_at(record(chain, cert_id), chain.time_ms if time_ms is None else time_ms)


def attest(chain: Chain, holder: bytes = HOLDER, **changes: Any) -> str:
    args: dict[str, Any] = {"material_type": "id_card", "holder_ref": holder, "content_hash": crypto.sha256(holder)}
    args.update(changes)
    result = chain.ok(chain.staff["PSB", "clerk"], "materials", "attest", args)
    return str(chain.event_attrs(result, "material.attested")["material_id"])


def act(chain: Chain, method: str, cert_id: str, dept: str = "SAMR", **args: Any) -> None:
    chain.ok(chain.staff[dept, "issuer"], "certificates", method, {"cert_id": cert_id, "reason": "r", **args})


# --- issue -------------------------------------------------------------------------------------------


def test_issue_records_what_a_verifier_needs(chain: Chain) -> None:
    result = chain.ok(chain.staff["SAMR", "issuer"], "certificates", "issue", {
        "cert_type": "business_licence", "holder_ref": HOLDER, "content_hash": CONTENT,
        "metadata": {"name": "Wang's noodle shop"},
    })
    cert_id = certificates.compute_cert_id(result.tx_id)
    assert cert_id == crypto.sha256(b"chainnode/v1/certificate\x00" + result.tx_id)[:16].hex()
    rec = record(chain, cert_id)
    assert rec["cert_type"] == "business_licence" and rec["holder_ref"] == HOLDER and rec["content_hash"] == CONTENT
    assert rec["issuer"] == "SAMR" and rec["issuer_officer"] == chain.staff["SAMR", "issuer"].public_key
    assert rec["issuer_officer_name"] == "SAMR issuer" and rec["case_id"] is None and rec["materials"] == []
    assert rec["valid_from_ms"] == chain.time_ms and rec["valid_until_ms"] == chain.time_ms + 365 * DAY_MS
    assert rec["version"] == 1 and rec["previous_version"] is None and rec["metadata"] == {"name": "Wang's noodle shop"}
    assert rec["issued_height"] == chain.height and rec["tx_id"] == result.tx_id
    assert [h["action"] for h in history(chain.state, cert_id)] == ["issued"] and rec["actions"] == 1
    entry = history(chain.state, cert_id)[0]
    assert entry["signer"] == chain.staff["SAMR", "issuer"].public_key and entry["department"] == "SAMR"
    assert entry["height"] == chain.height and entry["time_ms"] == chain.time_ms and entry["tx_id"] == result.tx_id
    assert status(chain, cert_id) == "valid"
    event = chain.event_attrs(result, "cert.issued")
    assert event["cert_id"] == cert_id and event["issuer"] == "SAMR" and event["holder_ref"] == HOLDER
    assert set(chain.last_entities[0]) >= {f"cert:{cert_id}", f"holder:{HOLDER.hex()}", "department:SAMR"}


def test_validity_runs_on_block_time(chain: Chain) -> None:
    cert_id = issue(chain)
    issued = chain.time_ms
    assert status(chain, cert_id, issued - 1) == "not_yet_valid"
    chain.advance(days=364)
    assert status(chain, cert_id) == "valid"
    chain.advance(days=2)
    assert status(chain, cert_id) == "expired"
    assert status(chain, cert_id, issued + 365 * DAY_MS) == "expired"
    assert status(chain, cert_id, issued + 365 * DAY_MS - 1) == "valid"


def test_future_start_and_explicit_end(chain: Chain) -> None:
    start = chain.time_ms + 10 * DAY_MS
    cert_id = issue(chain, valid_from_ms=start, valid_until_ms=start + 30 * DAY_MS)
    assert status(chain, cert_id) == "not_yet_valid"
    chain.advance(days=11)
    assert status(chain, cert_id) == "valid"
    chain.advance(days=30)
    assert status(chain, cert_id) == "expired"


def test_type_without_validity_days_never_expires(chain: Chain) -> None:
    cert_id = issue(chain, cert_type="permanent_permit")
    assert record(chain, cert_id)["valid_until_ms"] is None
    chain.advance(days=3650)
    assert status(chain, cert_id) == "valid"


def test_department_not_authorised_for_the_type_is_refused(chain: Chain) -> None:
    """Attack table: a department issuing a certificate type it is not authorised for."""
    result = chain.refused("cert_type_not_authorised", chain.staff["PSB", "issuer"], "certificates", "issue",
                           {"cert_type": "business_licence", "holder_ref": HOLDER, "content_hash": CONTENT})
    assert "PSB" in result.message and "SAMR" in result.message


@pytest.mark.parametrize(("code", "dept", "role", "changes"), [
    ("unknown_cert_type", "SAMR", "issuer", {"cert_type": "fishing_licence"}),
    ("role_required", "SAMR", "clerk", {}),
    ("role_required", "SAMR", "admin", {}),
    ("invalid_arguments", "SAMR", "issuer", {"holder_ref": b"short"}),
    ("invalid_arguments", "SAMR", "issuer", {"content_hash": "not bytes"}),
    ("invalid_arguments", "SAMR", "issuer", {"materials": [UNKNOWN_ID] * 2}),
    ("invalid_arguments", "SAMR", "issuer", {"materials": [f"{i:032x}" for i in range(33)]}),
    ("invalid_arguments", "SAMR", "issuer", {"metadata": {f"k{i}": "v" for i in range(17)}}),
    ("invalid_arguments", "SAMR", "issuer", {"metadata": {"k": "v" * 513}}),
    ("invalid_arguments", "SAMR", "issuer", {"surprise": 1}),
    ("material_not_found", "SAMR", "issuer", {"materials": [UNKNOWN_ID]}),
])
def test_issue_refusals(chain: Chain, code: str, dept: str, role: str, changes: dict[str, Any]) -> None:
    args: dict[str, Any] = {"cert_type": "business_licence", "holder_ref": HOLDER, "content_hash": CONTENT}
    args.update(changes)
    chain.refused(code, chain.staff[dept, role], "certificates", "issue", args)


def test_unregistered_key_cannot_issue(chain: Chain) -> None:
    chain.refused("not_a_member", key_for("stranger"), "certificates", "issue",
                  {"cert_type": "business_licence", "holder_ref": HOLDER, "content_hash": CONTENT})


def test_backdated_or_empty_validity_is_refused(chain: Chain) -> None:
    key = chain.staff["SAMR", "issuer"]
    base = {"cert_type": "business_licence", "holder_ref": HOLDER, "content_hash": CONTENT}
    chain.refused("invalid_validity", key, "certificates", "issue", {**base, "valid_from_ms": chain.time_ms - DAY_MS})
    start = chain.time_ms + DAY_MS
    chain.refused("invalid_validity", key, "certificates", "issue",
                  {**base, "valid_from_ms": start, "valid_until_ms": start})


def test_issue_cites_usable_materials_of_the_same_holder(chain: Chain) -> None:
    material_id = attest(chain)
    result = chain.ok(chain.staff["SAMR", "issuer"], "certificates", "issue", {
        "cert_type": "business_licence", "holder_ref": HOLDER, "content_hash": CONTENT, "materials": [material_id]})
    cert_id = str(chain.event_attrs(result, "cert.issued")["cert_id"])
    assert record(chain, cert_id)["materials"] == [material_id]
    assert f"material:{material_id}" in chain.last_entities[0]


def test_defective_materials_are_refused_with_their_defect(chain: Chain) -> None:
    key = chain.staff["SAMR", "issuer"]
    base = {"cert_type": "business_licence", "holder_ref": HOLDER, "content_hash": CONTENT}
    other = attest(chain, OTHER_HOLDER)
    chain.refused("material_other_holder", key, "certificates", "issue", {**base, "materials": [other]})
    later = attest(chain, valid_from_ms=chain.time_ms + 5 * DAY_MS)
    chain.refused("material_not_yet_valid", key, "certificates", "issue", {**base, "materials": [later]})
    short = attest(chain, content_hash=CONTENT, valid_until_ms=chain.time_ms + DAY_MS)
    revoked = attest(chain, content_hash=CONTENT_2)
    chain.ok(chain.staff["PSB", "clerk"], "materials", "revoke", {"material_id": revoked, "reason": "forged"})
    chain.refused("material_revoked", key, "certificates", "issue", {**base, "materials": [revoked]})
    chain.advance(days=2)
    result = chain.refused("material_expired", key, "certificates", "issue", {**base, "materials": [short]})
    assert short in result.message


# --- actions on an issued certificate ------------------------------------------------------------------


def test_amend_keeps_the_old_version_and_links_it(chain: Chain) -> None:
    cert_id = issue(chain)
    first = record(chain, cert_id)
    result = chain.ok(chain.staff["SAMR", "issuer"], "certificates", "amend",
                      {"cert_id": cert_id, "content_hash": CONTENT_2, "reason": "address changed"})
    current = record(chain, cert_id)
    assert current["version"] == 2 and current["previous_version"] == 1 and current["content_hash"] == CONTENT_2
    assert current["valid_until_ms"] == first["valid_until_ms"]
    assert certificates.get_certificate_version(chain.state, cert_id, 1) == first
    assert certificates.get_certificate_version(chain.state, cert_id, 2) == current
    assert certificates.get_certificate_version(chain.state, cert_id, 3) is None
    assert chain.state.value(certificates.version_key(cert_id, 1)) == first
    entry = history(chain.state, cert_id)[-1]
    assert entry["action"] == "amended" and entry["reason"] == "address changed" and entry["version"] == 2
    assert entry["tx_id"] == result.tx_id and entry["signer_name"] == "SAMR issuer"
    assert chain.event_attrs(result, "cert.amended")["version"] == 2
    assert status(chain, cert_id) == "valid"
    new_end = chain.time_ms + 100 * DAY_MS
    act(chain, "amend", cert_id, content_hash=CONTENT, valid_until_ms=new_end)
    assert record(chain, cert_id)["version"] == 3 and record(chain, cert_id)["valid_until_ms"] == new_end
    assert certificates.get_certificate_version(chain.state, cert_id, 2) == current


def test_amend_refusals(chain: Chain) -> None:
    cert_id = issue(chain)
    key = chain.staff["SAMR", "issuer"]
    chain.refused("no_change", key, "certificates", "amend",
                  {"cert_id": cert_id, "content_hash": CONTENT, "reason": "nothing"})
    chain.refused("invalid_validity", key, "certificates", "amend",
                  {"cert_id": cert_id, "content_hash": CONTENT_2, "reason": "r", "valid_until_ms": chain.time_ms})
    chain.refused("cert_not_found", key, "certificates", "amend",
                  {"cert_id": UNKNOWN_ID, "content_hash": CONTENT_2, "reason": "r"})
    chain.refused("wrong_department", chain.staff["CAB", "issuer"], "certificates", "amend",
                  {"cert_id": cert_id, "content_hash": CONTENT_2, "reason": "r"})
    chain.refused("role_required", chain.staff["SAMR", "approver"], "certificates", "amend",
                  {"cert_id": cert_id, "content_hash": CONTENT_2, "reason": "r"})
    chain.refused("invalid_arguments", key, "certificates", "amend", {"cert_id": cert_id, "content_hash": CONTENT_2,
                                                                      "reason": ""})
    act(chain, "revoke", cert_id)
    chain.refused("cert_revoked", key, "certificates", "amend",
                  {"cert_id": cert_id, "content_hash": CONTENT_2, "reason": "r"})


def test_suspend_and_reinstate(chain: Chain) -> None:
    cert_id = issue(chain)
    key = chain.staff["SAMR", "issuer"]
    chain.refused("cert_not_suspended", key, "certificates", "reinstate", {"cert_id": cert_id, "reason": "r"})
    before = record(chain, cert_id)
    result = chain.ok(key, "certificates", "suspend", {"cert_id": cert_id, "reason": "under investigation"})
    suspended_at = chain.time_ms
    during = record(chain, cert_id)
    assert chain.event_attrs(result, "cert.suspended")["reason"] == "under investigation"
    assert status(chain, cert_id) == "suspended" and record(chain, cert_id)["suspended_reason"] == "under investigation"
    chain.refused("cert_suspended", key, "certificates", "suspend", {"cert_id": cert_id, "reason": "again"})
    chain.advance(days=3)
    chain.ok(key, "certificates", "reinstate", {"cert_id": cert_id, "reason": "investigation closed"})
    assert status(chain, cert_id) == "valid"
    assert [h["action"] for h in history(chain.state, cert_id)] == ["issued", "suspended", "reinstated"]
    assert certificates.status_at(before, suspended_at - 1) == "valid"  # the records as they stood then
    assert certificates.status_at(during, suspended_at + DAY_MS) == "suspended"


def test_suspended_certificate_can_be_reinstated_after_expiry(chain: Chain) -> None:
    cert_id = issue(chain)
    act(chain, "suspend", cert_id)
    chain.advance(days=400)
    assert status(chain, cert_id) == "suspended"
    act(chain, "reinstate", cert_id)
    assert status(chain, cert_id) == "expired"


def test_expired_or_revoked_certificates_cannot_be_suspended(chain: Chain) -> None:
    key = chain.staff["SAMR", "issuer"]
    expiring = issue(chain)
    revoked = issue(chain, holder_ref=OTHER_HOLDER)
    act(chain, "revoke", revoked)
    chain.refused("cert_revoked", key, "certificates", "suspend", {"cert_id": revoked, "reason": "r"})
    chain.refused("cert_revoked", key, "certificates", "reinstate", {"cert_id": revoked, "reason": "r"})
    chain.advance(days=366)
    chain.refused("cert_expired", key, "certificates", "suspend", {"cert_id": expiring, "reason": "r"})
    chain.refused("cert_not_found", key, "certificates", "suspend", {"cert_id": UNKNOWN_ID, "reason": "r"})
    chain.refused("wrong_department", chain.staff["TAX", "issuer"], "certificates", "suspend",
                  {"cert_id": expiring, "reason": "r"})


def test_renew_brings_an_expired_certificate_back(chain: Chain) -> None:
    cert_id = issue(chain)
    before = record(chain, cert_id)
    old_end = before["valid_until_ms"]
    chain.advance(days=366)
    assert status(chain, cert_id) == "expired"
    new_end = chain.time_ms + 365 * DAY_MS
    result = chain.ok(chain.staff["SAMR", "issuer"], "certificates", "renew",
                      {"cert_id": cert_id, "valid_until_ms": new_end, "reason": "annual renewal"})
    assert chain.event_attrs(result, "cert.renewed")["valid_until_ms"] == new_end
    rec = record(chain, cert_id)
    assert status(chain, cert_id) == "valid" and rec["valid_until_ms"] == new_end and rec["version"] == 1
    assert certificates.status_at(before, old_end) == "expired"  # the gap before the renewal stays expired
    last = history(chain.state, cert_id)[-1]
    assert last["action"] == "renewed" and last["valid_until_ms"] == new_end


def test_renew_refusals(chain: Chain) -> None:
    key = chain.staff["SAMR", "issuer"]
    cert_id = issue(chain)
    end = record(chain, cert_id)["valid_until_ms"]
    chain.refused("invalid_validity", key, "certificates", "renew",
                  {"cert_id": cert_id, "valid_until_ms": end, "reason": "r"})
    permanent = issue(chain, cert_type="permanent_permit")
    chain.refused("invalid_validity", key, "certificates", "renew",
                  {"cert_id": permanent, "valid_until_ms": end + DAY_MS, "reason": "r"})
    chain.refused("invalid_arguments", key, "certificates", "renew", {"cert_id": cert_id, "reason": "r"})
    chain.refused("wrong_department", chain.staff["PSB", "issuer"], "certificates", "renew",
                  {"cert_id": cert_id, "valid_until_ms": end + DAY_MS, "reason": "r"})
    act(chain, "revoke", cert_id)
    chain.refused("cert_revoked", key, "certificates", "renew",
                  {"cert_id": cert_id, "valid_until_ms": end + DAY_MS, "reason": "r"})


def test_revoke_is_final(chain: Chain) -> None:
    """Attack table: revoking an already revoked certificate."""
    cert_id = issue(chain)
    key = chain.staff["SAMR", "issuer"]
    issued_at = chain.time_ms
    before = record(chain, cert_id)
    result = chain.ok(key, "certificates", "revoke", {"cert_id": cert_id, "reason": "obtained by fraud"})
    rec = record(chain, cert_id)
    assert rec["revoked"] and rec["revoked_reason"] == "obtained by fraud" and rec["revoked_height"] == chain.height
    assert status(chain, cert_id) == "revoked" and certificates.status_at(before, issued_at) == "valid"
    assert chain.event_attrs(result, "cert.revoked")["reason"] == "obtained by fraud"
    refused = chain.refused("cert_revoked", key, "certificates", "revoke", {"cert_id": cert_id, "reason": "again"})
    assert "obtained by fraud" in refused.message
    chain.advance(days=400)
    assert status(chain, cert_id) == "revoked"


def test_revoked_key_cannot_sign(chain: Chain) -> None:
    """Attack table: a key revoked by its department admin signs afterwards."""
    cert_id = issue(chain)
    issuer = chain.staff["SAMR", "issuer"]
    chain.ok(chain.staff["SAMR", "admin"], "governance", "revoke_member",
             {"public_key": issuer.public_key, "reason": "left the department"})
    chain.advance()
    chain.refused("key_revoked", issuer, "certificates", "issue",
                  {"cert_type": "business_licence", "holder_ref": HOLDER, "content_hash": CONTENT_2})
    chain.refused("key_revoked", issuer, "certificates", "revoke", {"cert_id": cert_id, "reason": "r"})
    assert history(chain.state, cert_id)[0]["signer"] == issuer.public_key
    assert status(chain, cert_id) == "valid"


def test_key_before_its_effective_height_cannot_sign(chain: Chain) -> None:
    """Attack table: a key used before its effective height."""
    newcomer = key_for("SAMR/new issuer")
    chain.ok(chain.staff["SAMR", "admin"], "governance", "register_member",
             {"public_key": newcomer.public_key, "name": "Issuer Zhao", "roles": ["issuer"],
              "effective_height": chain.height + 5})
    args = {"cert_type": "business_licence", "holder_ref": HOLDER, "content_hash": CONTENT}
    chain.refused("key_not_yet_effective", newcomer, "certificates", "issue", args)
    chain.advance(heights=5)
    cert_id = str(chain.event_attrs(chain.ok(newcomer, "certificates", "issue", args), "cert.issued")["cert_id"])
    assert record(chain, cert_id)["issuer_officer_name"] == "Issuer Zhao"


def test_history_is_bounded(chain: Chain, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(certificates, "MAX_HISTORY", 4)
    cert_id = issue(chain)
    act(chain, "suspend", cert_id)
    act(chain, "reinstate", cert_id)
    act(chain, "suspend", cert_id)
    chain.refused("too_many_changes", chain.staff["SAMR", "issuer"], "certificates", "revoke",
                  {"cert_id": cert_id, "reason": "r"})


# --- reading -----------------------------------------------------------------------------------------


def test_certificates_of_holder_lists_only_that_holder(chain: Chain) -> None:
    first = issue(chain)
    second = issue(chain, cert_type="permanent_permit")
    other = issue(chain, holder_ref=OTHER_HOLDER)
    act(chain, "amend", first, content_hash=CONTENT_2)
    listed = certificates.certificates_of_holder(chain.state, HOLDER)
    assert sorted(r["cert_id"] for r in listed) == sorted([first, second])
    assert [r["version"] for r in listed if r["cert_id"] == first] == [2]
    assert [r["cert_id"] for r in certificates.certificates_of_holder(chain.state, OTHER_HOLDER)] == [other]
    assert certificates.certificates_of_holder(chain.state, b"\x00" * 32) == []
    assert certificates.get_certificate(chain.state, UNKNOWN_ID) is None
    assert certificates.get_certificate_version(chain.state, first, 0) is None


def test_certificate_json_is_json_friendly(chain: Chain) -> None:
    cert_id = issue(chain)
    out = certificates.certificate_json(record(chain, cert_id), chain.time_ms)
    assert out["status"] == "valid" and out["holder_ref"] == HOLDER.hex() and out["content_hash"] == CONTENT.hex()
    assert out["actions"] == 1 and "history" not in out  # the actions are under their own keys
    assert certificates.certificate_json(record(chain, cert_id), chain.time_ms + 400 * DAY_MS)["status"] == "expired"


def test_a_superseded_version_has_the_certificates_status(chain: Chain) -> None:
    """GET /v1/certs/{id}?version=1 once reported a revoked certificate's first version as valid: the
    snapshot kept for version 1 stops at the amendment, so its own history never saw the revocation."""
    cert_id = issue(chain)
    act(chain, "amend", cert_id, content_hash=CONTENT_2)
    amended_at = chain.height
    act(chain, "suspend", cert_id)
    first = records.certificate(chain.view(), cert_id, 1)["certificate"]
    assert first["version"] == 1 and first["content_hash"] == CONTENT.hex() and first["status"] == "suspended"
    act(chain, "revoke", cert_id)
    first = records.certificate(chain.view(), cert_id, 1)["certificate"]
    assert first["status"] == "revoked" and first["version"] == 1 and first["latest_version"] == 2
    assert first["superseded"] is True and first["superseded_height"] == amended_at
    latest = records.certificate(chain.view(), cert_id, None)["certificate"]
    assert latest == records.certificate(chain.view(), cert_id, 2)["certificate"]
    assert latest["status"] == "revoked" and latest["version"] == latest["latest_version"] == 2
    assert latest["superseded"] is False and latest["superseded_height"] is None
    with pytest.raises(NotFound, match="version 3"):
        records.certificate(chain.view(), cert_id, 3)


def test_a_superseded_version_expires_with_the_certificate(chain: Chain) -> None:
    cert_id = issue(chain)
    act(chain, "amend", cert_id, content_hash=CONTENT_2, valid_until_ms=chain.time_ms + 10 * DAY_MS)
    chain.advance(days=11)
    assert records.certificate(chain.view(), cert_id, 1)["certificate"]["status"] == "expired"


# --- issue from a case ---------------------------------------------------------------------------------


def case_context(chain: Chain, signer: bytes, tx_id: bytes) -> CallContext:
    return CallContext(chain_id="contracts-test", height=chain.height + 1, block_time_ms=chain.time_ms + 1000,
                       signer=signer, tx_id=tx_id)


def test_issue_for_case_records_an_officer_holding_issuer(chain: Chain) -> None:
    """The approver signs; the issuing officer recorded is the one the decision names, who holds issuer."""
    material_id = attest(chain)
    approver = chain.staff["SAMR", "approver"].public_key
    issuer = chain.staff["SAMR", "issuer"].public_key
    overlay = StateOverlay(chain.state)
    ctx = case_context(chain, approver, b"\x07" * 32)
    officer = governance.require_member(overlay, approver, ctx.height, ("approver",))
    cert_id, event = certificates.issue_for_case(
        overlay, ctx, approver=officer, issuer_officer=issuer, cert_type="business_licence", holder_ref=HOLDER,
        content_hash=CONTENT, case_id="ab" * 16, materials=[material_id], valid_from_ms=None, valid_until_ms=None,
        metadata={"name": "shop"},
    )
    assert cert_id == certificates.compute_cert_id(ctx.tx_id)
    assert event.kind == "cert.issued" and event.attributes["case_id"] == "ab" * 16
    assert event.attributes["signer"] == approver
    rec = certificates.get_certificate(overlay, cert_id)
    assert rec is not None and rec["case_id"] == "ab" * 16 and rec["materials"] == [material_id]
    assert rec["issuer"] == "SAMR" and rec["issuer_officer"] == issuer
    assert rec["issuer_officer_name"] == "SAMR issuer"
    first = history(overlay, cert_id)[0]
    assert first["signer"] == approver and first["signer_name"] == "SAMR approver"
    assert rec["valid_until_ms"] == ctx.block_time_ms + 365 * DAY_MS
    assert first["reason"] == f"approved case {'ab' * 16}"
    assert [r["cert_id"] for r in certificates.certificates_of_holder(overlay, HOLDER)] == [cert_id]


def test_issue_for_case_by_an_approver_who_is_also_an_issuer(chain: Chain) -> None:
    both = key_for("SAMR approver and issuer")
    chain.ok(chain.staff["SAMR", "admin"], "governance", "register_member",
             {"public_key": both.public_key, "name": "SAMR chief", "roles": ["approver", "issuer"]})
    overlay = StateOverlay(chain.state)
    ctx = case_context(chain, both.public_key, b"\x09" * 32)
    officer = governance.require_member(overlay, both.public_key, ctx.height, ("approver",))
    cert_id, _ = certificates.issue_for_case(
        overlay, ctx, approver=officer, issuer_officer=None, cert_type="business_licence", holder_ref=HOLDER,
        content_hash=CONTENT, case_id="ab" * 16, materials=[], valid_from_ms=None, valid_until_ms=None)
    rec = certificates.get_certificate(overlay, cert_id)
    assert rec is not None and rec["issuer_officer"] == both.public_key and rec["issuer_officer_name"] == "SAMR chief"


@pytest.mark.parametrize(("named", "held"), [
    (None, "holds approver"),
    (("SAMR", "clerk"), "SAMR clerk of SAMR with role(s) clerk"),
    (("CAB", "issuer"), "CAB issuer of CAB"),
    ("unregistered", "not a current member"),
])
def test_issue_for_case_without_an_issuer_is_refused(chain: Chain, named: Any, held: str) -> None:
    """An approver holding no issuer role is not recorded as the issuing officer: issuer_required."""
    approver = chain.staff["SAMR", "approver"].public_key
    overlay = StateOverlay(chain.state)
    ctx = case_context(chain, approver, b"\x0a" * 32)
    officer = governance.require_member(overlay, approver, ctx.height, ("approver",))
    issuer_officer = None if named is None else \
        key_for("nobody").public_key if named == "unregistered" else chain.staff[named].public_key
    with pytest.raises(ContractError) as caught:
        certificates.issue_for_case(
            overlay, ctx, approver=officer, issuer_officer=issuer_officer, cert_type="business_licence",
            holder_ref=HOLDER, content_hash=CONTENT, case_id="ab" * 16, materials=[], valid_from_ms=None,
            valid_until_ms=None)
    assert caught.value.code == "issuer_required" and held in caught.value.message
    assert "issuer" in caught.value.message and caught.value.field == "certificate.issuer_officer"
    assert not overlay.writes


@pytest.mark.parametrize(("dept", "cert_type", "holder", "code"), [
    ("PSB", "business_licence", HOLDER, "cert_type_not_authorised"),
    ("SAMR", "fishing_licence", HOLDER, "unknown_cert_type"),
    ("SAMR", "business_licence", OTHER_HOLDER, "material_other_holder"),
])
def test_issue_for_case_refusals(chain: Chain, dept: str, cert_type: str, holder: bytes, code: str) -> None:
    material_id = attest(chain)
    approver = chain.staff[dept, "approver"].public_key
    overlay = StateOverlay(chain.state)
    ctx = case_context(chain, approver, b"\x08" * 32)
    officer = governance.require_member(overlay, approver, ctx.height, ("approver",))
    with pytest.raises(ContractError) as caught:
        certificates.issue_for_case(
            overlay, ctx, approver=officer, issuer_officer=chain.staff[dept, "issuer"].public_key,
            cert_type=cert_type, holder_ref=holder, content_hash=CONTENT, case_id="cd" * 16,
            materials=[material_id], valid_from_ms=None, valid_until_ms=None,
        )
    assert caught.value.code == code and caught.value.message
    assert not overlay.writes
