"""Who may read which internal record: each rule decided from the record itself, auditors reading all."""

from __future__ import annotations

from typing import Any

import pytest

from chainnode.read_auth import ReadForbidden
from chainnode.read_scope import (
    compute_case_parties,
    filter_holder_records,
    is_public_history,
    validate_auditor,
    validate_case_reader,
    validate_department_reader,
    validate_history_reader,
    validate_material_reader,
    validate_state_reader,
)
from contracts import governance
from contracts.base import StateOverlay
from tests.contract_kit import DictState

CASE: dict[str, Any] = {
    "case_id": "ab" * 16, "department": "PSB", "parallel_departments": ["TAX"],
    "materials": [{"material_id": "cd" * 16, "issuer": "CAB"}],
    "steps": [{"kind": "file", "department": "PSB"}, {"kind": "opinion", "department": "SAMR"}],
}


def member(department: str, *roles: str) -> governance.MemberRecord:
    return governance.MemberRecord(public_key=bytes(32), department=department, roles=tuple(roles) or ("clerk",),
                                   name=f"{department} staff")


def test_a_cases_parties_are_its_handling_parallel_issuing_and_signing_departments() -> None:
    assert compute_case_parties(CASE) == {"PSB", "TAX", "CAB", "SAMR"}
    for department in ("PSB", "TAX", "CAB", "SAMR"):
        validate_case_reader(member(department), CASE)
    validate_case_reader(member("MOF", "auditor"), CASE)
    with pytest.raises(ReadForbidden) as refused:
        validate_case_reader(member("MOF", "clerk", "approver"), CASE)
    assert refused.value.code == "not_authorised" and refused.value.http_status == 403
    assert "CAB, PSB, SAMR, TAX" in refused.value.message and "auditors" in refused.value.message


def test_department_records_materials_and_auditor_routes() -> None:
    validate_department_reader(member("PSB"), "PSB", "the cases")
    validate_department_reader(member("TAX", "auditor"), "PSB", "the cases")
    with pytest.raises(ReadForbidden):
        validate_department_reader(member("TAX"), "PSB", "the cases")
    validate_material_reader(member("CAB"), "cd" * 16, "CAB")
    with pytest.raises(ReadForbidden):
        validate_material_reader(member("PSB"), "cd" * 16, "CAB")
    with pytest.raises(ReadForbidden) as refused:
        validate_auditor(member("PSB", "admin"), "the authority report")
    assert refused.value.code == "role_required"


def test_a_holders_records_are_filtered_to_the_readers_department() -> None:
    answer = {"holder_ref": "00" * 32, "materials": [{"issuer": "CAB"}, {"issuer": "PSB"}],
              "cases": [CASE, {**CASE, "case_id": "ef" * 16, "department": "MOF", "parallel_departments": [],
                                "materials": [], "steps": []}],
              "certificates": [{"issuer": "PSB", "case_id": None}, {"issuer": "MOF", "case_id": None}]}
    state = StateOverlay(DictState())
    scoped = filter_holder_records(state, member("CAB"), answer)
    assert scoped["materials"] == [{"issuer": "CAB"}] and scoped["cases"] == [CASE]
    assert scoped["certificates"] == [] and scoped["scoped_to"] == "CAB"
    assert filter_holder_records(state, member("MOF", "auditor"), answer) is answer


def test_history_rules_by_entity_kind() -> None:
    state = StateOverlay(DictState())
    staff = member("PSB")
    assert is_public_history("item:PSB-001") and is_public_history("validator:00") and not is_public_history("case:x")
    validate_history_reader(state, staff, "department:PSB")
    for entity in ("department:TAX", "holder:" + "00" * 32, "case:" + "ab" * 16, "member:" + "00" * 32, "nonsense"):
        with pytest.raises(ReadForbidden):
            validate_history_reader(state, staff, entity)
        validate_history_reader(state, member("TAX", "auditor"), entity)


def test_raw_state_of_an_unknown_case_or_an_index_is_for_auditors() -> None:
    state = StateOverlay(DictState())
    for key in (b"case/" + b"ab" * 16, b"cases/dept/PSB/x", b"material/holder/x"):
        with pytest.raises(ReadForbidden) as refused:
            validate_state_reader(state, member("PSB"), key)
        assert refused.value.code == "role_required"
        validate_state_reader(state, member("PSB", "auditor"), key)
