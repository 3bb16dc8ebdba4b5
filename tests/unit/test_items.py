"""The items contract: publish, amend (new version, old one kept) and retire, by the owner department only."""

from __future__ import annotations

from typing import Any

import pytest

from chainnode import codec
from contracts import args as A
from contracts import governance, items
from contracts.base import ContractError
from tests.contract_kit import Chain, key_for

GOVERNANCE: dict[str, Any] = {
    "material_types": [
        {"code": "id_card", "name": "Identity card"},
        {"code": "lease", "name": "Lease contract"},
        {"code": "hukou", "name": "Household registration extract"},
    ],
    "cert_types": [
        {"code": "business_licence", "name": "Business licence", "issuers": ["SAMR"]},
        {"code": "marriage", "name": "Marriage certificate", "issuers": ["CAB"]},
    ],
}


@pytest.fixture
def chain() -> Chain:
    return Chain(governance=GOVERNANCE)


def definition(code: str = "SAMR-001", **changes: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "code": code,
        "name": "Business licence for a sole proprietor",
        "legal_basis": "Regulation on Individual Industrial and Commercial Households, art. 8",
        "kind": "licensing",
        "conditions": ["applicant is an adult resident"],
        "materials": [
            {"material_type": "id_card", "issuers": ["PSB"], "form": "original", "optional": False},
            {"material_type": "lease", "form": "copy", "optional": True},
        ],
        "legal_limit_days": 15,
        "promised_limit_days": 5,
        "cert_type": "business_licence",
        "parallel_departments": ["TAX"],
    }
    args.update(changes)
    return {k: v for k, v in args.items() if v is not ...}


def admin(chain: Chain, department: str = "SAMR") -> Any:
    return chain.staff[department, "admin"]


# --- publish ------------------------------------------------------------------------------------------


def test_publish_records_version_one(chain: Chain) -> None:
    result = chain.ok(admin(chain), "items", "publish", definition())
    item = items.get_item(chain.state, "SAMR-001")
    assert item is not None
    assert (item.code, item.version, item.owner, item.department, item.status) == (
        "SAMR-001", 1, "SAMR", "SAMR", "active")
    assert item.kind == "licensing" and item.cert_type == "business_licence"
    assert item.conditions == ("applicant is an adult resident",)
    assert item.materials == (
        items.RequiredMaterial("id_card", ("PSB",), "original", False),
        items.RequiredMaterial("lease", (), "copy", True),
    )
    assert (item.legal_limit_days, item.promised_limit_days) == (15, 5)
    assert item.parallel_departments == ("TAX",) and item.published_height == chain.height
    record = chain.state.value(items.version_key("SAMR-001", 1))
    assert record["tx_id"] == result.tx_id and record["signer"] == admin(chain).public_key
    assert record["published_ms"] == chain.time_ms and record["reason"] is None
    header = chain.state.value(items.item_key("SAMR-001"))
    assert header == {"code": "SAMR-001", "owner": "SAMR", "department": "SAMR", "status": "active", "version": 1,
                      "retired_height": None, "retired_reason": None}
    assert chain.event_attrs(result, "item.published")["version"] == 1
    assert "item:SAMR-001" in chain.last_entities[0] and "department:SAMR" in chain.last_entities[0]


def test_publish_defaults_and_item_json(chain: Chain) -> None:
    args = definition(conditions=..., parallel_departments=..., cert_type=...,
                      materials=[{"material_type": "hukou"}], kind="other")
    chain.ok(admin(chain), "items", "publish", args)
    item = items.get_item(chain.state, "SAMR-001")
    assert item is not None
    assert item.materials == (items.RequiredMaterial("hukou", (), "original", False),)
    assert item.conditions == () and item.parallel_departments == () and item.cert_type is None
    doc = items.item_json(item)
    assert doc["materials"] == [{"material_type": "hukou", "issuers": [], "form": "original", "optional": False}]
    assert doc["status"] == "active" and doc["version"] == 1 and doc["cert_type"] is None
    codec.encode(doc)  # plain values only


def test_publish_for_another_implementing_department(chain: Chain) -> None:
    args = definition("CAB-SAMR-1", department="CAB", cert_type="marriage", parallel_departments=["SAMR"])
    chain.ok(admin(chain), "items", "publish", args)
    item = items.get_item(chain.state, "CAB-SAMR-1")
    assert item is not None and item.owner == "SAMR" and item.department == "CAB"
    assert {"department:SAMR", "department:CAB"} <= set(chain.last_entities[0])
    assert [i.code for i in items.list_items(chain.state, "CAB")] == ["CAB-SAMR-1"]
    assert [i.code for i in items.list_items(chain.state, "SAMR")] == ["CAB-SAMR-1"]
    assert items.list_items(chain.state, "PSB") == []


def test_publish_twice_is_refused(chain: Chain) -> None:
    chain.ok(admin(chain), "items", "publish", definition())
    result = chain.refused("item_exists", admin(chain, "PSB"), "items", "publish",
                           definition(cert_type=..., parallel_departments=...))
    assert "SAMR-001" in result.message and "SAMR" in result.message


def test_publish_needs_an_admin(chain: Chain) -> None:
    chain.refused("role_required", chain.staff["SAMR", "clerk"], "items", "publish", definition())
    chain.refused("not_a_member", key_for("stranger"), "items", "publish", definition())


@pytest.mark.parametrize(("code", "changes", "field"), [
    ("unknown_material_type", {"materials": [{"material_type": "passport"}]}, "passport"),
    ("unknown_cert_type", {"cert_type": "fishing_permit"}, "fishing_permit"),
    ("cert_type_not_authorised", {"cert_type": "marriage"}, "marriage"),
    ("unknown_department", {"department": "NOPE"}, "NOPE"),
    ("unknown_department", {"parallel_departments": ["NOPE"]}, "NOPE"),
    ("unknown_department", {"materials": [{"material_type": "id_card", "issuers": ["NOPE"]}]}, "NOPE"),
    ("invalid_arguments", {"parallel_departments": ["SAMR"]}, "SAMR"),
    ("invalid_arguments", {"department": "TAX", "cert_type": ..., "parallel_departments": ["TAX"]}, "TAX"),
])
def test_publish_checks_the_definition_against_the_state(chain: Chain, code: str, changes: dict[str, Any],
                                                         field: str) -> None:
    result = chain.refused(code, admin(chain), "items", "publish", definition(**changes))
    assert field in result.message


@pytest.mark.parametrize(("changes", "field"), [
    ({"promised_limit_days": 16}, "promised_limit_days"),
    ({"promised_limit_days": 0}, "promised_limit_days"),
    ({"legal_limit_days": 3651, "promised_limit_days": 5}, "legal_limit_days"),
    ({"kind": "permit"}, "kind"),
    ({"code": "bad/code"}, "code"),
    ({"name": ""}, "name"),
    ({"legal_basis": "x" * 4097}, "legal_basis"),
    ({"materials": [{"material_type": "id_card"}] * 2}, "materials"),
    ({"materials": [{"material_type": "id_card"}, {"material_type": "id_card", "form": "copy"}]}, "materials"),
    ({"materials": [{"material_type": f"m{i}"} for i in range(33)]}, "materials"),
    ({"materials": [{"material_type": "id_card", "form": "scan"}]}, "materials[0].form"),
    ({"materials": [{"material_type": "id_card", "issuers": ["PSB"] * 2}]}, "materials[0].issuers"),
    ({"materials": [{"material_type": "id_card", "issuers": [f"D{i:02d}" for i in range(33)]}]},
     "materials[0].issuers"),
    ({"materials": [{"material_type": "id_card", "colour": "red"}]}, "colour"),
    ({"conditions": [f"c{i}" for i in range(17)]}, "conditions"),
    ({"conditions": ["x" * 513]}, "conditions[0]"),
    ({"parallel_departments": [f"D{i:02d}" for i in range(17)]}, "parallel_departments"),
    ({"reason": "amend-only argument"}, "reason"),
])
def test_publish_rejects_malformed_arguments(chain: Chain, changes: dict[str, Any], field: str) -> None:
    result = chain.refused("invalid_arguments", admin(chain), "items", "publish", definition(**changes))
    assert field in result.message


def test_missing_argument_is_named(chain: Chain) -> None:
    result = chain.refused("invalid_arguments", admin(chain), "items", "publish", definition(legal_basis=...))
    assert "legal_basis" in result.message


# --- amend --------------------------------------------------------------------------------------------


def test_amend_makes_a_new_version_and_keeps_the_old(chain: Chain) -> None:
    chain.ok(admin(chain), "items", "publish", definition())
    first_height = chain.height
    result = chain.ok(admin(chain), "items", "amend",
                      definition(promised_limit_days=3, materials=[{"material_type": "id_card"}],
                                 reason="faster processing"))
    current = items.get_item(chain.state, "SAMR-001")
    old = items.get_item(chain.state, "SAMR-001", 1)
    assert current is not None and old is not None
    assert current.version == 2 and current.promised_limit_days == 3 and len(current.materials) == 1
    assert current.published_height == chain.height
    assert old.version == 1 and old.promised_limit_days == 5 and len(old.materials) == 2
    assert old.published_height == first_height
    assert items.get_item(chain.state, "SAMR-001", 2) == current
    assert items.get_item(chain.state, "SAMR-001", 3) is None
    assert items.get_item(chain.state, "SAMR-001", 0) is None
    assert chain.state.value(items.version_key("SAMR-001", 2))["reason"] == "faster processing"
    assert chain.event_attrs(result, "item.amended")["version"] == 2
    assert [i.version for i in items.list_items(chain.state)] == [2]


def test_amend_can_move_the_implementing_department(chain: Chain) -> None:
    chain.ok(admin(chain), "items", "publish", definition(cert_type=...))
    chain.ok(admin(chain), "items", "amend", definition(cert_type=..., department="PSB"))
    item = items.get_item(chain.state, "SAMR-001")
    assert item is not None and item.owner == "SAMR" and item.department == "PSB"
    assert chain.state.value(items.item_key("SAMR-001"))["department"] == "PSB"
    assert {"department:SAMR", "department:PSB"} <= set(chain.last_entities[0])


def test_amend_by_another_department_is_refused(chain: Chain) -> None:
    chain.ok(admin(chain), "items", "publish", definition())
    result = chain.refused("not_owner", admin(chain, "PSB"), "items", "amend", definition(promised_limit_days=1))
    assert "SAMR" in result.message and "PSB" in result.message


def test_amend_errors(chain: Chain) -> None:
    chain.refused("item_not_found", admin(chain), "items", "amend", definition())
    chain.ok(admin(chain), "items", "publish", definition())
    chain.refused("role_required", chain.staff["SAMR", "approver"], "items", "amend", definition())
    chain.refused("unknown_material_type", admin(chain), "items", "amend",
                  definition(materials=[{"material_type": "passport"}]))
    chain.refused("cert_type_not_authorised", admin(chain), "items", "amend", definition(cert_type="marriage"))
    chain.refused("invalid_arguments", admin(chain), "items", "amend", definition(promised_limit_days=99))


def test_amending_a_retired_item_is_refused(chain: Chain) -> None:
    """Attack table: a retired item cannot be brought back by amending it."""
    chain.ok(admin(chain), "items", "publish", definition())
    chain.ok(admin(chain), "items", "retire", {"code": "SAMR-001", "reason": "merged into SAMR-002"})
    result = chain.refused("item_retired", admin(chain), "items", "amend", definition())
    assert "merged into SAMR-002" in result.message
    chain.refused("not_owner", admin(chain, "PSB"), "items", "amend", definition())


# --- retire -------------------------------------------------------------------------------------------


def test_retire_keeps_the_versions_readable(chain: Chain) -> None:
    chain.ok(admin(chain), "items", "publish", definition())
    result = chain.ok(admin(chain), "items", "retire", {"code": "SAMR-001", "reason": "obsolete"})
    item = items.get_item(chain.state, "SAMR-001")
    assert item is not None and item.status == "retired" and item.version == 1
    header = chain.state.value(items.item_key("SAMR-001"))
    assert header["retired_height"] == chain.height and header["retired_reason"] == "obsolete"
    assert chain.event_attrs(result, "item.retired")["reason"] == "obsolete"
    assert [i.status for i in items.list_items(chain.state)] == ["retired"]
    assert "item:SAMR-001" in chain.last_entities[0]


def test_retire_errors(chain: Chain) -> None:
    chain.refused("item_not_found", admin(chain), "items", "retire", {"code": "SAMR-001", "reason": "x"})
    chain.ok(admin(chain), "items", "publish", definition())
    chain.refused("not_owner", admin(chain, "TAX"), "items", "retire", {"code": "SAMR-001", "reason": "x"})
    chain.refused("role_required", chain.staff["SAMR", "clerk"], "items", "retire", {"code": "SAMR-001",
                                                                                     "reason": "x"})
    chain.refused("invalid_arguments", admin(chain), "items", "retire", {"code": "SAMR-001"})
    chain.ok(admin(chain), "items", "retire", {"code": "SAMR-001", "reason": "obsolete"})
    chain.refused("item_retired", admin(chain), "items", "retire", {"code": "SAMR-001", "reason": "again"})


# --- listing ------------------------------------------------------------------------------------------


def test_list_items_is_in_code_order_and_not_confused_by_prefixes(chain: Chain) -> None:
    for code in ("AB.C", "AB", "A", "ABC"):
        chain.ok(admin(chain), "items", "publish", definition(code))
    chain.ok(admin(chain), "items", "amend", definition("AB", name="Amended"))
    listed = items.list_items(chain.state)
    assert [(i.code, i.version) for i in listed] == [("A", 1), ("AB", 2), ("AB.C", 1), ("ABC", 1)]
    assert listed[1].name == "Amended"
    assert items.get_item(chain.state, "AB/v/\x00\x00\x00\x01") is None
    assert items.get_item(chain.state, "nothing") is None


# --- who may sign -------------------------------------------------------------------------------------


def test_a_revoked_key_cannot_publish(chain: Chain) -> None:
    second = key_for("SAMR/second-admin")
    chain.ok(admin(chain), "governance", "register_member",
             {"public_key": second.public_key, "name": "SAMR admin 2", "roles": ["admin"]})
    chain.advance()
    chain.ok(second, "items", "publish", definition("SAMR-A"))
    chain.ok(admin(chain), "governance", "revoke_member", {"public_key": second.public_key, "reason": "left"})
    chain.advance()
    result = chain.refused("key_revoked", second, "items", "publish", definition("SAMR-B"))
    assert "left" in result.message
    assert items.get_item(chain.state, "SAMR-A") is not None


def remove_department(chain: Chain, code: str) -> None:
    key = governance.department_key(code)
    record = dict(chain.state.value(key))
    record["removed_height"] = chain.height + 1
    chain.state.data[key] = codec.encode(record)


def test_a_removed_department_cannot_publish_nor_be_named(chain: Chain) -> None:
    remove_department(chain, "CAB")
    chain.refused("department_removed", admin(chain, "CAB"), "items", "publish", definition(cert_type=...))
    chain.refused("unknown_department", admin(chain), "items", "publish",
                  definition(parallel_departments=["CAB"]))
    chain.refused("unknown_department", admin(chain), "items", "publish",
                  definition(materials=[{"material_type": "hukou", "issuers": ["CAB"]}]))


def test_methods_parse_their_examples() -> None:
    for name, method in items.METHODS.items():
        assert method.description, name
        method.parse(method.example)


@pytest.mark.parametrize(("entry", "words"), [
    ("id_card", ("materials[0]", "map")),
    ({"issuers": ["PSB"]}, ("materials[0]", "material_type")),
    ({"material_type": "id_card", "colour": "red"}, ("materials[0]", "colour")),
    ({"material_type": None}, ("materials[0].material_type",)),
])
def test_a_malformed_material_entry_is_named(chain: Chain, entry: Any, words: tuple[str, ...]) -> None:
    result = chain.refused("invalid_arguments", admin(chain), "items", "publish", definition(materials=[entry]))
    assert all(w in result.message for w in words), result.message


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"code": "X\n"}, "code"),
        ({"code": "SAMR-001\n"}, "code"),
        ({"parallel_departments": ["TAX\n"]}, "parallel_departments[0]"),
        ({"cert_type": "business_licence\n"}, "cert_type"),
    ],
)
def test_a_code_with_a_final_newline_is_refused_by_every_node(
    chain: Chain, changes: dict[str, Any], field: str
) -> None:
    # `$` matches before a final newline; the parsers match the whole string, so "X\n" is refused at
    # admission and at execution alike, on every node.
    result = chain.refused("invalid_arguments", admin(chain), "items", "publish", definition(**changes))
    assert field in result.message or field.split("[")[0] in result.message
    with pytest.raises(ContractError) as caught:
        items.METHODS["publish"].parse(definition(**changes))
    assert caught.value.field == field
    assert items.get_item(chain.state, "X") is None and items.get_item(chain.state, "SAMR-001") is None


@pytest.mark.parametrize("parse", [A.department_code, A.code, A.record_id])
@pytest.mark.parametrize("suffix", ["\n", "\r\n", "\x00"])
def test_the_shared_code_parsers_match_the_whole_string(parse: Any, suffix: str) -> None:
    good = {A.department_code: "PSB", A.code: "X1", A.record_id: "0" * 32}[parse]
    assert parse(good, "f") == good
    with pytest.raises(ContractError):
        parse(good + suffix, "f")
