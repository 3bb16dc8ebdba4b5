"""The materials contract: attest once, reuse everywhere; revoke by the issuing department only."""

from __future__ import annotations

from typing import Any

import pytest

from chainnode import codec, crypto
from contracts import governance, materials
from contracts.materials import MaterialRecord
from tests.contract_kit import DAY_MS, Chain, key_for

GOVERNANCE: dict[str, Any] = {
    "material_types": [
        {"code": "id_card", "name": "Identity card"},
        {"code": "hukou", "name": "Household registration extract"},
    ],
}
HOLDER = crypto.sha256(b"salt|citizen-1")
OTHER_HOLDER = crypto.sha256(b"salt|citizen-2")
CONTENT = crypto.sha256(b"id card scan")


@pytest.fixture
def chain() -> Chain:
    return Chain(governance=GOVERNANCE)


def attest_args(**changes: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"material_type": "id_card", "holder_ref": HOLDER, "content_hash": CONTENT}
    args.update(changes)
    return {k: v for k, v in args.items() if v is not ...}


def attest(chain: Chain, department: str = "PSB", role: str = "clerk", **changes: Any) -> str:
    result = chain.ok(chain.staff[department, role], "materials", "attest", attest_args(**changes))
    material_id = chain.event_attrs(result, "material.attested")["material_id"]
    assert isinstance(material_id, str)
    return material_id


def get(chain: Chain, material_id: str) -> MaterialRecord:
    record = materials.get_material(chain.state, material_id)
    assert record is not None
    return record


# --- attest -------------------------------------------------------------------------------------------


def test_attest_records_the_material(chain: Chain) -> None:
    clerk = chain.staff["PSB", "clerk"]
    result = chain.ok(clerk, "materials", "attest", attest_args())
    material_id = chain.event_attrs(result, "material.attested")["material_id"]
    assert material_id == crypto.sha256(b"chainnode/v1/material\x00" + result.tx_id)[:16].hex()
    assert material_id == materials.compute_material_id(result.tx_id)
    record = get(chain, material_id)
    assert record == MaterialRecord(
        material_id=material_id, material_type="id_card", holder_ref=HOLDER, content_hash=CONTENT, form="original",
        issuer="PSB", issuer_officer=clerk.public_key, valid_from_ms=chain.time_ms, valid_until_ms=None,
        revoked=False, revoked_reason=None, revoked_height=None, attested_height=chain.height,
        attested_ms=chain.time_ms, tx_id=result.tx_id, revoked_by=None,
    )
    assert chain.last_entities[0][1:] == (f"material:{material_id}", f"holder:{HOLDER.hex()}", "department:PSB")
    assert chain.state.get(materials.holder_key(HOLDER, material_id)) is not None
    assert materials.materials_of_holder(chain.state, HOLDER) == [record]
    assert materials.materials_of_holder(chain.state, OTHER_HOLDER) == []


def test_attest_with_form_and_validity(chain: Chain) -> None:
    start = chain.time_ms + DAY_MS
    material_id = attest(chain, "CAB", "issuer", material_type="hukou", form="copy", valid_from_ms=start,
                         valid_until_ms=start + 365 * DAY_MS)
    record = get(chain, material_id)
    assert (record.form, record.issuer, record.valid_from_ms, record.valid_until_ms) == (
        "copy", "CAB", start, start + 365 * DAY_MS)
    doc = materials.material_json(record)
    assert doc["holder_ref"] == HOLDER.hex() and doc["content_hash"] == CONTENT.hex()
    assert doc["tx_id"] == record.tx_id.hex() and doc["revoked_by"] is None
    codec.encode(doc)


def test_same_material_twice_names_the_first(chain: Chain) -> None:
    first = attest(chain)
    result = chain.refused("material_exists", chain.staff["PSB", "issuer"], "materials", "attest",
                           attest_args(form="copy"))
    assert first in result.message
    # another department, holder, content or type is another material
    attest(chain, "CAB")
    attest(chain, holder_ref=OTHER_HOLDER)
    attest(chain, content_hash=crypto.sha256(b"renewed card"))
    attest(chain, material_type="hukou")
    assert len(materials.materials_of_holder(chain.state, HOLDER)) == 4


def test_attest_errors(chain: Chain) -> None:
    chain.refused("role_required", chain.staff["PSB", "reviewer"], "materials", "attest", attest_args())
    chain.refused("role_required", chain.staff["PSB", "admin"], "materials", "attest", attest_args())
    chain.refused("not_a_member", key_for("stranger"), "materials", "attest", attest_args())
    result = chain.refused("unknown_material_type", chain.staff["PSB", "clerk"], "materials", "attest",
                           attest_args(material_type="passport"))
    assert "passport" in result.message


@pytest.mark.parametrize(("changes", "field"), [
    ({"holder_ref": b"short"}, "holder_ref"),
    ({"content_hash": "ab" * 32}, "content_hash"),
    ({"material_type": "a/b"}, "material_type"),
    ({"form": "scan"}, "form"),
    ({"valid_from_ms": -1}, "valid_from_ms"),
    ({"valid_until_ms": 2**53 + 1}, "valid_until_ms"),
    ({"valid_from_ms": 1000, "valid_until_ms": 1000}, "valid_until_ms"),
    ({"name": "Zhang San"}, "name"),
    ({"holder_ref": ...}, "holder_ref"),
])
def test_attest_rejects_malformed_arguments(chain: Chain, changes: dict[str, Any], field: str) -> None:
    result = chain.refused("invalid_arguments", chain.staff["PSB", "clerk"], "materials", "attest",
                           attest_args(**changes))
    assert field in result.message


def test_validity_must_end_after_the_default_start(chain: Chain) -> None:
    """valid_from_ms defaults to the block time, so an end before the next block's time is refused."""
    result = chain.refused("invalid_arguments", chain.staff["PSB", "clerk"], "materials", "attest",
                           attest_args(valid_until_ms=chain.time_ms))
    assert "valid_until_ms" in result.message


def test_a_revoked_key_cannot_attest(chain: Chain) -> None:
    clerk = chain.staff["PSB", "clerk"]
    chain.ok(chain.staff["PSB", "admin"], "governance", "revoke_member",
             {"public_key": clerk.public_key, "reason": "left the department"})
    chain.advance()
    chain.refused("key_revoked", clerk, "materials", "attest", attest_args())


def test_a_removed_department_cannot_attest(chain: Chain) -> None:
    key = governance.department_key("CAB")
    record = dict(chain.state.value(key))
    record["removed_height"] = chain.height + 1
    chain.state.data[key] = codec.encode(record)
    chain.refused("department_removed", chain.staff["CAB", "clerk"], "materials", "attest", attest_args())


# --- revoke -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["clerk", "issuer", "admin"])
def test_issuing_department_revokes(chain: Chain, role: str) -> None:
    material_id = attest(chain)
    signer = chain.staff["PSB", role]
    result = chain.ok(signer, "materials", "revoke", {"material_id": material_id, "reason": "forged"})
    record = get(chain, material_id)
    assert record.revoked and record.revoked_reason == "forged" and record.revoked_height == chain.height
    assert record.revoked_by == signer.public_key
    assert chain.event_attrs(result, "material.revoked")["reason"] == "forged"
    assert chain.last_entities[0][1:] == (f"material:{material_id}", f"holder:{HOLDER.hex()}", "department:PSB")
    assert materials.materials_of_holder(chain.state, HOLDER) == [record]


def test_revoke_errors(chain: Chain) -> None:
    material_id = attest(chain)
    args = {"material_id": material_id, "reason": "forged"}
    result = chain.refused("wrong_department", chain.staff["CAB", "clerk"], "materials", "revoke", args)
    assert "PSB" in result.message and "CAB" in result.message
    chain.refused("role_required", chain.staff["PSB", "reviewer"], "materials", "revoke", args)
    chain.refused("material_not_found", chain.staff["PSB", "clerk"], "materials", "revoke",
                  {"material_id": "0" * 32, "reason": "forged"})
    chain.refused("invalid_arguments", chain.staff["PSB", "clerk"], "materials", "revoke",
                  {"material_id": "XYZ", "reason": "forged"})
    chain.refused("invalid_arguments", chain.staff["PSB", "clerk"], "materials", "revoke", {"material_id": material_id})
    chain.ok(chain.staff["PSB", "clerk"], "materials", "revoke", args)
    result = chain.refused("material_revoked", chain.staff["PSB", "issuer"], "materials", "revoke",
                           {"material_id": material_id, "reason": "again"})
    assert "forged" in result.message


def test_a_revoked_material_may_be_attested_afresh(chain: Chain) -> None:
    first = attest(chain)
    chain.ok(chain.staff["PSB", "clerk"], "materials", "revoke", {"material_id": first, "reason": "in error"})
    second = attest(chain)
    assert second != first and not get(chain, second).revoked and get(chain, first).revoked
    result = chain.refused("material_exists", chain.staff["PSB", "clerk"], "materials", "attest", attest_args())
    assert second in result.message
    assert [m.material_id for m in materials.materials_of_holder(chain.state, HOLDER)] == [first, second]


# --- reading ------------------------------------------------------------------------------------------


def test_defect_reasons_in_order(chain: Chain) -> None:
    start = chain.time_ms + 10 * DAY_MS
    end = start + DAY_MS
    record = get(chain, attest(chain, valid_from_ms=start, valid_until_ms=end))
    assert materials.defect(record, holder_ref=HOLDER, time_ms=start) is None
    assert materials.defect(record, holder_ref=HOLDER, time_ms=end - 1) is None
    assert materials.defect(record, holder_ref=HOLDER, time_ms=start - 1) == "material_not_yet_valid"
    assert materials.defect(record, holder_ref=HOLDER, time_ms=end) == "material_expired"
    assert materials.defect(record, holder_ref=OTHER_HOLDER, time_ms=end) == "material_other_holder"
    chain.ok(chain.staff["PSB", "clerk"], "materials", "revoke", {"material_id": record.material_id, "reason": "x"})
    revoked = get(chain, record.material_id)
    assert materials.defect(revoked, holder_ref=OTHER_HOLDER, time_ms=end) == "material_revoked"


def test_no_expiry_means_usable_forever(chain: Chain) -> None:
    record = get(chain, attest(chain))
    assert materials.defect(record, holder_ref=HOLDER, time_ms=2**53) is None


def test_lookups_of_malformed_or_unknown_ids(chain: Chain) -> None:
    attest(chain)
    assert materials.get_material(chain.state, "0" * 32) is None
    assert materials.get_material(chain.state, "holder/x") is None
    assert materials.get_material(chain.state, "") is None
    assert materials.materials_of_holder(chain.state, b"short") == []


def test_methods_parse_their_examples() -> None:
    for name, method in materials.METHODS.items():
        assert method.description, name
        example = {k: (HOLDER if v == "<32 bytes>" else v) for k, v in method.example.items()}
        if "material_id" in example:
            example["material_id"] = "0" * 32
        method.parse(example)
