"""Governance members: staff keys with roles as of a height, managed by their own department's admin.

Every refusal goes through `Chain.refused`, which also asserts that the state did not change. The anchor
contract (`anchor.put`) stands for "anything a key signs".
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from chainnode import crypto, records
from contracts import anchor, governance, proposals
from contracts.base import ContractError
from tests.contract_kit import Chain, encryption_key_for, key_for

_hashes = itertools.count()


def sign_anything() -> dict[str, Any]:
    """Arguments for an `anchor.put` of a fresh content hash."""
    return {"content_hash": crypto.sha256(f"doc {next(_hashes)}".encode()), "kind": "test"}


def anchor_ok(chain: Chain, key: crypto.PrivateKey) -> bytes:
    args = sign_anything()
    chain.ok(key, "anchor", "put", args)
    return bytes(args["content_hash"])


def anchor_refused(chain: Chain, code: str, key: crypto.PrivateKey) -> str:
    return chain.refused(code, key, "anchor", "put", sign_anything()).message


def gov(chain: Chain, key: crypto.PrivateKey, method: str, args: dict[str, Any]) -> None:
    chain.ok(key, "governance", method, args)


def roles_at(chain: Chain, key: crypto.PrivateKey, height: int) -> tuple[str, ...] | None:
    member = governance.member_at(chain.state, key.public_key, height)
    return None if member is None else member.roles


def roster_keys(chain: Chain, department: str, height: int) -> set[bytes]:
    return {m.public_key for m in governance.roster(chain.state, department, height)}


@pytest.fixture
def chain() -> Chain:
    return Chain()


# --- registration and effective heights --------------------------------------------------------------


def test_registered_key_signs_only_from_its_effective_height(chain: Chain) -> None:
    admin, clerk = chain.staff["SAMR", "admin"], key_for("SAMR/new clerk")
    result = chain.ok(admin, "governance", "register_member",
                      {"public_key": clerk.public_key, "name": "Clerk Wang", "roles": ["clerk"], "effective_height": 5})
    assert chain.event_attrs(result, "member.registered") == {
        "public_key": clerk.public_key, "department": "SAMR", "roles": ["clerk"], "effective_height": 5,
        "by": admin.public_key,
    }
    assert f"member:{clerk.public_key.hex()}" in chain.last_entities[0]
    assert "department:SAMR" in chain.last_entities[0]
    while chain.height + 1 < 5:
        message = anchor_refused(chain, "key_not_yet_effective", clerk)
        assert "SAMR from height 5" in message and f"height {chain.height}" in message
    assert chain.height == 4
    content = anchor_ok(chain, clerk)  # executes at height 5
    assert chain.height == 5
    record = chain.state.value(anchor.anchor_key(content, "SAMR"))
    assert record is not None and record["signer_name"] == "Clerk Wang"
    for height in range(0, 8):
        expected = ("clerk",) if height >= 5 else None
        assert roles_at(chain, clerk, height) == expected, height
        assert (clerk.public_key in roster_keys(chain, "SAMR", height)) == (height >= 5), height
    member = governance.member_at(chain.state, clerk.public_key, 5)
    assert member is not None and member.department == "SAMR" and member.name == "Clerk Wang"


def test_default_effective_height_is_the_next_block(chain: Chain) -> None:
    admin, clerk = chain.staff["PSB", "admin"], key_for("PSB/new clerk")
    gov(chain, admin, "register_member", {"public_key": clerk.public_key, "name": "Clerk Li", "roles": ["clerk"]})
    assert roles_at(chain, clerk, chain.height) is None
    assert roles_at(chain, clerk, chain.height + 1) == ("clerk",)
    anchor_ok(chain, clerk)


def test_signatures_are_checked_against_the_roster_of_their_time(chain: Chain) -> None:
    admin, key = chain.staff["CAB", "admin"], key_for("CAB/officer")
    gov(chain, admin, "register_member", {"public_key": key.public_key, "name": "Officer Zhao", "roles": ["clerk"]})
    signed = anchor_ok(chain, key)
    signed_height = chain.height
    gov(chain, admin, "set_roles", {"public_key": key.public_key, "roles": ["reviewer", "approver"]})
    reviewer_from = chain.height + 1
    gov(chain, admin, "revoke_member", {"public_key": key.public_key, "reason": "left the department"})
    revoked_from = chain.height + 1
    chain.advance()
    message = anchor_refused(chain, "key_revoked", key)
    assert "left the department" in message and "CAB" in message

    # The anchor made at `signed_height` still checks against the roster of that height.
    record = chain.state.value(anchor.anchor_key(signed, "CAB"))
    assert record is not None and record["height"] == signed_height
    then = governance.member_at(chain.state, record["signer"], record["height"])
    assert then is not None and then.department == "CAB" and then.roles == ("clerk",)
    assert governance.require_member(chain.state, key.public_key, signed_height, ("clerk",)).name == "Officer Zhao"
    for height in range(0, chain.height + 2):
        if height < signed_height:
            expected: tuple[str, ...] | None = None
        elif height < reviewer_from:
            expected = ("clerk",)
        elif height < revoked_from:
            expected = ("approver", "reviewer")
        else:
            expected = None
        assert roles_at(chain, key, height) == expected, height
        assert (key.public_key in roster_keys(chain, "CAB", height)) == (expected is not None), height
    with pytest.raises(ContractError) as excinfo:
        governance.require_member(chain.state, key.public_key, revoked_from)
    assert excinfo.value.code == "key_revoked"
    with pytest.raises(ContractError) as excinfo:
        governance.require_member(chain.state, key.public_key, reviewer_from, ("clerk",))
    assert excinfo.value.code == "role_required" and "reviewer" in excinfo.value.message


def test_genesis_roster_lists_every_role_and_the_node_key(chain: Chain) -> None:
    members = governance.roster(chain.state, "TAX", 0)
    assert len(members) == 8
    assert governance.is_node_key(chain.state, key_for("TAX/node").public_key, 0)
    assert not governance.is_node_key(chain.state, chain.staff["TAX", "admin"].public_key, 0)


# --- rotate and revoke -------------------------------------------------------------------------------


def test_rotation_moves_the_roles_to_the_new_key(chain: Chain) -> None:
    admin, old, new = chain.staff["SAMR", "admin"], chain.staff["SAMR", "issuer"], key_for("SAMR/issuer v2")
    result = chain.ok(admin, "governance", "rotate_key",
                      {"public_key": old.public_key, "new_public_key": new.public_key, "reason": "device replaced"})
    rotated_from = chain.height + 1
    attrs = chain.event_attrs(result, "member.rotated")
    assert attrs["public_key"] == new.public_key and attrs["roles"] == ["issuer"]
    assert attrs["effective_height"] == rotated_from
    assert f"member:{old.public_key.hex()}" in chain.last_entities[0]
    assert f"member:{new.public_key.hex()}" in chain.last_entities[0]
    assert "device replaced" in anchor_refused(chain, "key_revoked", old)
    anchor_ok(chain, new)
    assert roles_at(chain, new, rotated_from) == ("issuer",)
    assert roles_at(chain, new, rotated_from - 1) is None
    assert roles_at(chain, old, rotated_from - 1) == ("issuer",)
    assert roles_at(chain, old, rotated_from) is None
    old_record = governance.member_record(chain.state, old.public_key)
    new_record = governance.member_record(chain.state, new.public_key)
    assert old_record is not None and new_record is not None
    assert old_record["rotated_to"] == new.public_key and new_record["rotated_from"] == old.public_key
    assert new_record["name"] == "SAMR issuer" and new_record["department"] == "SAMR"
    # The old key is gone for good: it cannot be re-roled, rotated again or revoked again.
    chain.refused("key_revoked", admin, "governance", "set_roles", {"public_key": old.public_key, "roles": ["clerk"]})
    chain.refused("key_revoked", admin, "governance", "rotate_key",
                  {"public_key": old.public_key, "new_public_key": key_for("other").public_key})
    chain.refused("key_revoked", admin, "governance", "revoke_member", {"public_key": old.public_key, "reason": "x"})


def test_rotation_at_a_later_height_keeps_the_old_key_until_then(chain: Chain) -> None:
    admin, old, new = chain.staff["PSB", "admin"], chain.staff["PSB", "clerk"], key_for("PSB/clerk v2")
    gov(chain, admin, "rotate_key", {"public_key": old.public_key, "new_public_key": new.public_key,
                                     "effective_height": chain.height + 4})
    anchor_ok(chain, old)
    anchor_refused(chain, "key_not_yet_effective", new)
    chain.advance(heights=2)
    anchor_refused(chain, "key_revoked", old)
    anchor_ok(chain, new)


def test_rotation_to_a_registered_key_is_refused(chain: Chain) -> None:
    admin = chain.staff["PSB", "admin"]
    chain.refused("member_exists", admin, "governance", "rotate_key",
                  {"public_key": chain.staff["PSB", "clerk"].public_key,
                   "new_public_key": chain.staff["TAX", "clerk"].public_key})


def test_revoked_key_signing_anything_is_refused(chain: Chain) -> None:
    """Attack-table row: a revoked key signing anything."""
    admin, key = chain.staff["TAX", "admin"], chain.staff["TAX", "document_officer"]
    result = chain.ok(admin, "governance", "revoke_member", {"public_key": key.public_key, "reason": "key leaked"})
    assert chain.event_attrs(result, "member.revoked")["roles"] == []
    revoked_from = chain.height + 1
    for contract, method, args in [
        ("anchor", "put", sign_anything()),
        ("governance", "register_member", {"public_key": key_for("x").public_key, "name": "X", "roles": ["clerk"]}),
        ("governance", "vote", {"proposal_id": 1, "approve": True}),
    ]:
        assert "key leaked" in chain.refused("key_revoked", key, contract, method, args).message
    assert roles_at(chain, key, revoked_from - 1) == ("document_officer",)
    assert roles_at(chain, key, revoked_from) is None


def test_revocation_at_a_later_height(chain: Chain) -> None:
    admin, key = chain.staff["CAB", "admin"], chain.staff["CAB", "reviewer"]
    gov(chain, admin, "revoke_member", {"public_key": key.public_key, "reason": "retires",
                                        "effective_height": chain.height + 4})
    anchor_ok(chain, key)
    anchor_ok(chain, key)
    anchor_refused(chain, "key_revoked", key)


def test_an_admin_can_revoke_a_fellow_admin(chain: Chain) -> None:
    admin, second = chain.staff["SAMR", "admin"], key_for("SAMR/second admin")
    gov(chain, admin, "register_member", {"public_key": second.public_key, "name": "Deputy", "roles": ["admin"]})
    gov(chain, second, "revoke_member", {"public_key": admin.public_key, "reason": "moved on"})
    chain.refused("key_revoked", admin, "governance", "register_member",
                  {"public_key": key_for("y").public_key, "name": "Y", "roles": ["clerk"]})


# --- who may manage which key ------------------------------------------------------------------------


MANAGEMENT_CALLS = [
    ("register_member", lambda k: {"public_key": k, "name": "Someone", "roles": ["clerk"]}),
    ("set_roles", lambda k: {"public_key": k, "roles": ["reviewer"]}),
    ("rotate_key", lambda k: {"public_key": k, "new_public_key": key_for("fresh").public_key}),
    ("revoke_member", lambda k: {"public_key": k, "reason": "test"}),
]


@pytest.mark.parametrize(("method", "make_args"), MANAGEMENT_CALLS, ids=[m for m, _ in MANAGEMENT_CALLS])
def test_non_admin_is_refused(chain: Chain, method: str, make_args: Any) -> None:
    target = key_for("brand new") if method == "register_member" else chain.staff["SAMR", "reviewer"]
    for role in ("clerk", "approver", "auditor"):
        message = chain.refused("role_required", chain.staff["SAMR", role], "governance", method,
                                make_args(target.public_key)).message
        assert "admin" in message and role in message


@pytest.mark.parametrize(("method", "make_args"), MANAGEMENT_CALLS[1:], ids=[m for m, _ in MANAGEMENT_CALLS[1:]])
def test_admin_acting_on_another_departments_key_is_refused(chain: Chain, method: str, make_args: Any) -> None:
    target = chain.staff["SAMR", "clerk"]
    message = chain.refused("wrong_department", chain.staff["PSB", "admin"], "governance", method,
                            make_args(target.public_key)).message
    assert "SAMR" in message and "PSB" in message
    assert roles_at(chain, target, chain.height + 1) == ("clerk",)


def test_registering_an_existing_key_is_refused(chain: Chain) -> None:
    admin = chain.staff["PSB", "admin"]
    for existing in (chain.staff["PSB", "clerk"], chain.staff["TAX", "clerk"], key_for("TAX/node")):
        chain.refused("member_exists", admin, "governance", "register_member",
                      {"public_key": existing.public_key, "name": "Again", "roles": ["clerk"]})
    revoked = chain.staff["PSB", "auditor"]
    gov(chain, admin, "revoke_member", {"public_key": revoked.public_key, "reason": "gone"})
    chain.refused("member_exists", admin, "governance", "register_member",
                  {"public_key": revoked.public_key, "name": "Back", "roles": ["auditor"]})


def test_effective_height_must_be_in_the_future_and_bounded(chain: Chain) -> None:
    admin, key = chain.staff["PSB", "admin"], key_for("PSB/late")
    chain.advance(heights=3)
    # Each call executes at chain.height + 1: its own height is not "later".
    for ahead in (-chain.height, 1 - chain.height, 0, 1, 2 + governance.MAX_EFFECTIVE_DELAY):
        effective = chain.height + ahead
        chain.refused("invalid_effective_height", admin, "governance", "register_member",
                      {"public_key": key.public_key, "name": "Late", "roles": ["clerk"], "effective_height": effective})
    chain.refused("invalid_effective_height", admin, "governance", "set_roles",
                  {"public_key": chain.staff["PSB", "clerk"].public_key, "roles": ["reviewer"], "effective_height": 1})


def test_a_change_cannot_jump_ahead_of_a_pending_one(chain: Chain) -> None:
    admin, key = chain.staff["PSB", "admin"], key_for("PSB/pending")
    gov(chain, admin, "register_member",
        {"public_key": key.public_key, "name": "Pending", "roles": ["clerk"], "effective_height": 20})
    chain.refused("change_pending", admin, "governance", "set_roles", {"public_key": key.public_key,
                                                                       "roles": ["reviewer"]})
    gov(chain, admin, "set_roles", {"public_key": key.public_key, "roles": ["reviewer"], "effective_height": 20})
    record = governance.member_record(chain.state, key.public_key)
    assert record is not None and record["periods"] == [[20, ["reviewer"]]]


def test_node_keys_and_unknown_keys_cannot_be_managed(chain: Chain) -> None:
    admin = chain.staff["CAB", "admin"]
    chain.refused("node_key", admin, "governance", "revoke_member",
                  {"public_key": key_for("CAB/node").public_key, "reason": "x"})
    chain.refused("member_not_found", admin, "governance", "set_roles",
                  {"public_key": key_for("nobody").public_key, "roles": ["clerk"]})
    anchor_refused(chain, "not_a_member", key_for("nobody"))


# --- arguments ----------------------------------------------------------------------------------------


KEY = b"\x07" * 32


@pytest.mark.parametrize(
    ("parse", "args", "field"),
    [
        (governance.parse_register, {"public_key": KEY, "name": "A", "roles": None}, "roles"),
        (governance.parse_register, {"public_key": KEY, "name": None, "roles": ["clerk"]}, "name"),
        (governance.parse_register, {"public_key": KEY, "name": "A", "roles": []}, "roles"),
        (governance.parse_register, {"public_key": KEY, "name": "A", "roles": ["node"]}, "roles[0]"),
        (governance.parse_register, {"public_key": KEY, "name": "A", "roles": ["clerk", "clerk"]}, "roles"),
        (governance.parse_register, {"public_key": KEY, "name": "A", "roles": ["clerk"], "x": 1}, "args"),
        (governance.parse_register, {"public_key": KEY[:31], "name": "A", "roles": ["clerk"]}, "public_key"),
        (governance.parse_register, {"public_key": KEY, "name": "A", "roles": ["clerk"], "effective_height": -1},
         "effective_height"),
        (governance.parse_set_roles, {"public_key": KEY, "roles": None}, "roles"),
        (governance.parse_set_roles, {"public_key": KEY, "roles": ["clerk"], "name": "A"}, "args"),
        (governance.parse_rotate, {"public_key": KEY, "new_public_key": None}, "new_public_key"),
        (governance.parse_rotate, {"public_key": KEY, "new_public_key": KEY}, "new_public_key"),
        (governance.parse_revoke, {"public_key": KEY, "reason": None}, "reason"),
        (governance.parse_revoke, {"public_key": KEY}, "args"),
        (governance.parse_revoke, [KEY, "reason"], "args"),
    ],
)
def test_malformed_arguments_are_refused_with_the_field(parse: Any, args: Any, field: str) -> None:
    with pytest.raises(ContractError) as excinfo:
        parse(args)
    assert excinfo.value.code == "invalid_arguments"
    assert excinfo.value.field == field and excinfo.value.message


def test_malformed_arguments_are_refused_at_execution(chain: Chain) -> None:
    admin = chain.staff["SAMR", "admin"]
    chain.refused("invalid_arguments", admin, "governance", "rotate_key",
                  {"public_key": chain.staff["SAMR", "clerk"].public_key, "new_public_key": None})
    chain.refused("invalid_arguments", admin, "governance", "set_roles",
                  {"public_key": chain.staff["SAMR", "clerk"].public_key, "roles": None})
    chain.refused("invalid_arguments", admin, "governance", "register_member",
                  {"public_key": key_for("z").public_key, "name": "Z", "roles": None})


# --- department encryption keys ----------------------------------------------------------------------


def enc(label: str) -> bytes:
    return encryption_key_for(label).public_key


def test_genesis_encryption_keys_start_at_height_zero() -> None:
    keyed = Chain(encryption_keys=True)
    for code in ("PSB", "SAMR", "CAB", "TAX"):
        assert governance.encryption_key_periods(keyed.state, code) == [(0, enc(f"{code}/encryption"))]
        assert governance.encryption_key_at(keyed.state, code, 0) == enc(f"{code}/encryption")
    plain = Chain()
    assert governance.encryption_key_periods(plain.state, "PSB") == []
    assert governance.encryption_key_at(plain.state, "PSB", 5) is None


def test_set_encryption_key_adds_periods_like_member_roles(chain: Chain) -> None:
    admin = chain.staff["SAMR", "admin"]
    first, second, third = enc("SAMR/1"), enc("SAMR/2"), enc("SAMR/3")
    result = chain.ok(admin, "governance", "set_encryption_key", {"public_key": first})
    assert chain.event_attrs(result, "department.encryption_key_set") == {
        "department": "SAMR", "public_key": first, "fingerprint": crypto.compute_key_fingerprint(first),
        "effective_height": 2, "by": admin.public_key,
    }
    assert "department:SAMR" in chain.last_entities[0]
    assert governance.encryption_key_at(chain.state, "SAMR", 1) is None  # from the next height by default
    assert governance.encryption_key_at(chain.state, "SAMR", 2) == first
    chain.ok(admin, "governance", "set_encryption_key", {"public_key": second, "effective_height": 10})
    # a change at the same height as the pending one replaces it
    chain.ok(admin, "governance", "set_encryption_key", {"public_key": third, "effective_height": 10})
    assert governance.encryption_key_periods(chain.state, "SAMR") == [(2, first), (10, third)]
    assert [governance.encryption_key_at(chain.state, "SAMR", h) for h in (1, 2, 9, 10, 50)] == [
        None, first, first, third, third]
    chain.refused("change_pending", admin, "governance", "set_encryption_key",
                  {"public_key": second, "effective_height": 8})
    message = chain.refused("same_key", admin, "governance", "set_encryption_key",
                            {"public_key": third, "effective_height": 12}).message
    assert "pending from height 10" in message
    message = chain.refused("same_key", admin, "governance", "set_encryption_key", {"public_key": first}).message
    assert "in force" in message
    chain.refused("invalid_effective_height", admin, "governance", "set_encryption_key",
                  {"public_key": second, "effective_height": chain.height})
    assert governance.encryption_key_periods(chain.state, "PSB") == []  # only the admin's own department


def test_set_encryption_key_needs_an_admin_and_keeps_at_most_64_periods(chain: Chain) -> None:
    chain.refused("role_required", chain.staff["SAMR", "document_officer"], "governance", "set_encryption_key",
                  {"public_key": enc("x")})
    admin = chain.staff["PSB", "admin"]
    for i in range(governance.MAX_PERIODS):
        chain.ok(admin, "governance", "set_encryption_key", {"public_key": enc(f"PSB/{i}")})
    assert len(governance.encryption_key_periods(chain.state, "PSB")) == governance.MAX_PERIODS
    chain.refused("too_many_changes", admin, "governance", "set_encryption_key", {"public_key": enc("PSB/last")})


def test_set_encryption_key_arguments() -> None:
    for args, field in (({"public_key": b"\x01" * 31}, "public_key"), ({}, "args"),
                        ({"public_key": b"\x01" * 32, "effective_height": -1}, "effective_height"),
                        ({"public_key": b"\x01" * 32, "department": "PSB"}, "args")):
        with pytest.raises(ContractError) as excinfo:
            governance.parse_set_encryption_key(args)
        assert excinfo.value.code == "invalid_arguments" and excinfo.value.field == field


def test_department_json_shows_the_key_in_force_and_its_fingerprint() -> None:
    keyed = Chain(encryption_keys=True)
    dept = governance.get_department(keyed.state, "PSB")
    assert dept is not None
    key = governance.encryption_key_at(keyed.state, "PSB", 0)
    assert key is not None
    shown = records.department_json(dept, 0, key)
    assert shown["encryption_key"] == key.hex()
    assert shown["encryption_key_fingerprint"] == crypto.compute_key_fingerprint(key).hex()
    assert records.department_json(dept, 0)["encryption_key"] is None


def test_a_low_order_encryption_key_is_refused_everywhere_it_could_enter(chain: Chain) -> None:
    """All zeros (or another low-order point) would make every sender's sealing fail."""
    admin = chain.staff["PSB", "admin"]
    chain.refused("invalid_arguments", admin, "governance", "set_encryption_key", {"public_key": bytes(32)})
    with pytest.raises(ContractError, match="not a usable X25519"):
        proposals.parse_propose({"kind": "add_department", "title": "x", "deadline_height": 50, "effective_height": 60,
                                 "payload": {"code": "HRSS", "name": "HR", "node_key": b"\x11" * 32, "power": 10,
                                             "encryption_key": bytes(32),
                                             "admins": [{"public_key": b"\x22" * 32, "name": "a"}]}})
