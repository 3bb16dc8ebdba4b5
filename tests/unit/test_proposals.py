"""Governance proposals: propose, vote once per department, pass with > num/den of the active departments,
apply at the effective height (re-checked then), and the registries genesis preloads.

Heights: `chain.height` is the last executed block, so a call made now executes at `chain.height + 1`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from chainnode import crypto
from chainnode.errors import GenesisError
from chainnode.execution import BlockContext, BlockExecution, execute_block
from chainnode.genesis import PROPOSAL_KINDS
from chainnode.validators import Validator
from contracts import calendar, governance, proposals
from contracts.base import ContractError
from contracts.validators import VALIDATOR_UPDATES_KEY
from tests.contract_kit import CHAIN_ID, Chain, key_for

DEPARTMENTS = ("PSB", "SAMR", "CAB", "TAX")
_hashes = itertools.count()


def propose(chain: Chain, kind: str, payload: dict[str, Any], *, by: str = "PSB", deadline: int = 10,
            effective: int = 15) -> int:
    """Propose as `by`'s admin; deadline and effective height are relative to the current height."""
    result = chain.ok(chain.staff[by, "admin"], "governance", "propose", {
        "kind": kind, "payload": payload, "title": f"test {kind}",
        "deadline_height": chain.height + deadline, "effective_height": chain.height + effective,
    })
    return int(chain.event_attrs(result, "proposal.created")["id"])


def vote(chain: Chain, proposal_id: int, department: str, approve: bool = True) -> None:
    chain.ok(chain.staff[department, "admin"], "governance", "vote", {"proposal_id": proposal_id, "approve": approve})


def proposal(chain: Chain, proposal_id: int, height: int | None = None) -> dict[str, Any]:
    record = proposals.get_proposal(chain.state, proposal_id, height)
    assert record is not None
    return record


def next_block(chain: Chain) -> BlockExecution:
    """Execute an empty block through the executor and keep its BlockExecution."""
    chain.height += 1
    chain.time_ms += 1000
    execution = execute_block(chain.state, [], BlockContext(chain_id=CHAIN_ID, height=chain.height,
                                                            time_ms=chain.time_ms))
    chain.state.apply(execution.changes)
    return execution


def advance_to(chain: Chain, height: int) -> None:
    while chain.height < height:
        next_block(chain)


def anything() -> dict[str, Any]:
    return {"content_hash": crypto.sha256(f"proposal test {next(_hashes)}".encode()), "kind": "test"}


# --- every kind passes with 3 of 4 and is applied at its effective height ---------------------------


NEW_ADMIN = key_for("CAC/admin")
NEW_NODE = key_for("CAC/node")


@dataclass(frozen=True)
class KindCase:
    kind: str
    payload: dict[str, Any]
    is_applied: Callable[[Chain], bool]
    updates: tuple[Validator, ...] = ()
    before: Callable[[Chain], None] = lambda chain: chain.advance()
    """Runs exactly one block, at the height just before the effective one."""
    after: Callable[[Chain], None] = lambda chain: None


def _add_department_before(chain: Chain) -> None:
    chain.refused("not_a_member", NEW_ADMIN, "anchor", "put", anything())


def _add_department_after(chain: Chain) -> None:
    clerk = key_for("CAC/clerk")
    chain.ok(NEW_ADMIN, "governance", "register_member",
             {"public_key": clerk.public_key, "name": "CAC clerk", "roles": ["clerk"]})
    chain.ok(clerk, "anchor", "put", anything())
    assert governance.is_node_key(chain.state, NEW_NODE.public_key, chain.height)


def _remove_department_before(chain: Chain) -> None:
    chain.ok(chain.staff["TAX", "clerk"], "anchor", "put", anything())


def _remove_department_after(chain: Chain) -> None:
    chain.refused("department_removed", chain.staff["TAX", "clerk"], "anchor", "put",
                  anything())


def _calendar(chain: Chain) -> calendar.Calendar:
    return calendar.Calendar(chain.state, governance.utc_offset_minutes(chain.state))


MONDAY = calendar.parse_date("2026-03-02")


def _calendar_after(chain: Chain) -> None:
    cal = _calendar(chain)
    assert cal.add_working_days(MONDAY, 1) == calendar.parse_date("2026-03-04")  # Tuesday is a holiday
    assert cal.is_working_day(calendar.parse_date("2026-03-07"))  # a make-up Saturday


KIND_CASES = [
    KindCase(
        "add_department",
        {"code": "CAC", "name": "Civil Affairs", "node_key": NEW_NODE.public_key, "power": 7,
         "address": "cac.example:26656", "admins": [{"public_key": NEW_ADMIN.public_key, "name": "CAC admin"}]},
        lambda chain: governance.get_department(chain.state, "CAC") is not None,
        (),  # observer first: its power is queued JOIN_DELAY_BLOCKS later (see the test below)
        _add_department_before, _add_department_after,
    ),
    KindCase(
        "remove_department", {"code": "TAX"},
        lambda chain: governance.get_department(chain.state, "TAX").removed_height is not None,  # type: ignore[union-attr]
        (Validator(department="TAX", public_key=key_for("TAX/node").public_key, power=0),),
        _remove_department_before, _remove_department_after,
    ),
    KindCase(
        "set_power", {"code": "SAMR", "power": 25},
        lambda chain: governance.get_department(chain.state, "SAMR").power == 25,  # type: ignore[union-attr]
        (Validator(department="SAMR", public_key=key_for("SAMR/node").public_key, power=25),),
    ),
    KindCase(
        "set_consensus_limits", {"max_block_txs": 500, "max_tx_bytes": 65536},
        lambda chain: proposals.consensus_limits(chain.state) == {"max_block_txs": 500, "max_tx_bytes": 65536},
    ),
    KindCase(
        "publish_calendar", {"year": 2026, "holidays": ["2026-03-03"], "workdays": ["2026-03-07"]},
        lambda chain: _calendar(chain).year(2026) is not None,
        after=_calendar_after,
    ),
    KindCase(
        "register_cert_type", {"code": "business_licence", "name": "Business licence", "issuers": ["SAMR"],
                               "validity_days": 3650},
        lambda chain: proposals.get_cert_type(chain.state, "business_licence") is not None,
    ),
    KindCase(
        "register_material_type", {"code": "id_card", "name": "Identity card"},
        lambda chain: proposals.get_material_type(chain.state, "id_card") is not None,
    ),
    KindCase(
        "set_document_limits", {"max_document_bytes": 1 << 20},
        lambda chain: proposals.max_document_bytes(chain.state) == 1 << 20,
    ),
]


def test_every_kind_has_a_case() -> None:
    assert tuple(case.kind for case in KIND_CASES) == PROPOSAL_KINDS


@pytest.mark.parametrize("case", KIND_CASES, ids=[case.kind for case in KIND_CASES])
def test_three_of_four_pass_and_apply_at_the_effective_height(case: KindCase) -> None:
    chain = Chain()
    proposal_id = propose(chain, case.kind, case.payload, deadline=10, effective=12)
    effective = chain.height - 1 + 12
    record = proposal(chain, proposal_id)
    assert record["status"] == "open" and record["threshold"] == [2, 3] and record["department"] == "PSB"
    assert f"proposal:{proposal_id}" in chain.last_entities[0]
    vote(chain, proposal_id, "PSB")
    vote(chain, proposal_id, "SAMR")
    assert proposal(chain, proposal_id)["status"] == "open"
    result = chain.ok(chain.staff["CAB", "admin"], "governance", "vote", {"proposal_id": proposal_id,
                                                                           "approve": True})
    assert chain.event_attrs(result, "proposal.passed") == {"id": proposal_id, "apply_height": effective}
    record = proposal(chain, proposal_id)
    assert record["status"] == "passed" and record["apply_height"] == effective
    assert record["decided_height"] == chain.height and sorted(record["votes"]) == ["CAB", "PSB", "SAMR"]

    advance_to(chain, effective - 2)
    case.before(chain)
    assert chain.height == effective - 1
    assert not case.is_applied(chain), "applied before its effective height"
    assert proposal(chain, proposal_id)["status"] == "passed"

    execution = next_block(chain)
    assert case.is_applied(chain), "not applied at its effective height"
    record = proposal(chain, proposal_id)
    assert record["status"] == "applied" and record["apply_height"] == effective and record["failure"] is None
    assert execution.validator_updates == case.updates
    if case.updates:
        written = chain.state.value(VALIDATOR_UPDATES_KEY)
        assert written is not None and written["height"] == effective
    else:
        assert VALIDATOR_UPDATES_KEY not in execution.changes
    case.after(chain)
    # The TAX vote can no longer change anything.
    if case.kind != "remove_department":
        chain.refused("proposal_closed", chain.staff["TAX", "admin"], "governance", "vote",
                      {"proposal_id": proposal_id, "approve": False})


def test_registries_record_their_shape_and_height() -> None:
    chain = Chain()
    case = KIND_CASES[5]
    proposal_id = propose(chain, case.kind, case.payload, effective=2)
    for department in ("PSB", "SAMR", "CAB"):
        vote(chain, proposal_id, department)
    next_block(chain)
    assert proposals.get_cert_type(chain.state, "business_licence") == {
        "code": "business_licence", "name": "Business licence", "issuers": ["SAMR"], "validity_days": 3650,
        "registered_height": chain.height,
    }


def test_passing_after_the_effective_height_applies_in_the_next_block() -> None:
    chain = Chain()
    proposal_id = propose(chain, "register_material_type", {"code": "deed", "name": "Property deed"},
                          deadline=20, effective=2)
    for department in ("PSB", "SAMR", "CAB"):
        vote(chain, proposal_id, department)
    assert proposal(chain, proposal_id)["apply_height"] == chain.height + 1
    assert proposals.get_material_type(chain.state, "deed") is None
    next_block(chain)
    assert proposals.get_material_type(chain.state, "deed") is not None


# --- votes that do not pass --------------------------------------------------------------------------


def test_two_of_four_do_not_pass_and_late_votes_are_refused() -> None:
    """Attack-table row: a proposal applied after its deadline."""
    chain = Chain()
    proposal_id = propose(chain, "set_power", {"code": "PSB", "power": 99}, deadline=5, effective=8)
    deadline = chain.height - 1 + 5
    vote(chain, proposal_id, "PSB")
    vote(chain, proposal_id, "SAMR")
    assert proposal(chain, proposal_id)["status"] == "open"
    advance_to(chain, deadline)
    assert proposal(chain, proposal_id, chain.height)["status"] == "open"
    message = chain.refused("proposal_expired", chain.staff["CAB", "admin"], "governance", "vote",
                            {"proposal_id": proposal_id, "approve": True}).message
    assert f"height {deadline}" in message
    assert proposal(chain, proposal_id, chain.height)["status"] == "expired"
    advance_to(chain, deadline + 10)
    assert governance.get_department(chain.state, "PSB").power == 10  # type: ignore[union-attr]
    assert proposal(chain, proposal_id)["apply_height"] is None


def test_a_vote_on_the_deadline_height_still_counts() -> None:
    chain = Chain()
    proposal_id = propose(chain, "register_material_type", {"code": "m", "name": "M"}, deadline=4, effective=6)
    vote(chain, proposal_id, "PSB")
    vote(chain, proposal_id, "SAMR")
    vote(chain, proposal_id, "CAB")  # executes at the deadline height
    assert proposal(chain, proposal_id)["status"] == "passed"


def test_a_department_votes_once() -> None:
    """Attack-table row: a department voting twice (also with a second admin key)."""
    chain = Chain()
    proposal_id = propose(chain, "register_material_type", {"code": "m", "name": "M"})
    vote(chain, proposal_id, "PSB")
    args = {"proposal_id": proposal_id, "approve": True}
    assert "PSB already voted" in chain.refused("already_voted", chain.staff["PSB", "admin"], "governance", "vote",
                                                args).message
    deputy = key_for("PSB/deputy admin")
    chain.ok(chain.staff["PSB", "admin"], "governance", "register_member",
             {"public_key": deputy.public_key, "name": "Deputy", "roles": ["admin"]})
    chain.refused("already_voted", deputy, "governance", "vote", args)
    chain.refused("already_voted", deputy, "governance", "vote", {"proposal_id": proposal_id, "approve": False})
    vote(chain, proposal_id, "SAMR")
    assert proposal(chain, proposal_id)["status"] == "open"


def test_a_proposal_that_can_no_longer_pass_is_rejected() -> None:
    chain = Chain()
    proposal_id = propose(chain, "remove_department", {"code": "CAB"})
    vote(chain, proposal_id, "PSB")
    vote(chain, proposal_id, "CAB", approve=False)
    assert proposal(chain, proposal_id)["status"] == "open"
    result = chain.ok(chain.staff["TAX", "admin"], "governance", "vote", {"proposal_id": proposal_id,
                                                                           "approve": False})
    assert chain.event_attrs(result, "proposal.rejected") == {"id": proposal_id}
    record = proposal(chain, proposal_id)
    assert record["status"] == "rejected" and record["decided_height"] == chain.height
    assert "already rejected" in chain.refused("proposal_closed", chain.staff["SAMR", "admin"], "governance",
                                               "vote", {"proposal_id": proposal_id, "approve": True}).message
    advance_to(chain, chain.height + 20)
    assert governance.get_department(chain.state, "CAB").removed_height is None  # type: ignore[union-attr]


def test_only_admins_propose_and_vote() -> None:
    chain = Chain()
    for role in ("clerk", "approver", "auditor"):
        chain.refused("role_required", chain.staff["SAMR", role], "governance", "propose",
                      {"kind": "register_material_type", "payload": {"code": "m", "name": "M"},
                       "deadline_height": 10, "effective_height": 12})
    proposal_id = propose(chain, "register_material_type", {"code": "m", "name": "M"})
    chain.refused("role_required", chain.staff["SAMR", "issuer"], "governance", "vote",
                  {"proposal_id": proposal_id, "approve": True})
    chain.refused("not_a_member", key_for("outsider"), "governance", "vote",
                  {"proposal_id": proposal_id, "approve": True})
    chain.refused("role_required", key_for("PSB/node"), "governance", "vote",
                  {"proposal_id": proposal_id, "approve": True})


def test_deadline_and_effective_height_must_be_later() -> None:
    chain = Chain()
    chain.advance(heights=5)
    admin = chain.staff["PSB", "admin"]
    base = {"kind": "register_material_type", "payload": {"code": "m", "name": "M"}}
    for ahead in (1 - chain.height, 1, 2 + proposals.MAX_DEADLINE_DELAY):  # the call executes at height + 1
        chain.refused("invalid_deadline", admin, "governance", "propose",
                      {**base, "deadline_height": chain.height + ahead, "effective_height": chain.height + 20})
    chain.refused("invalid_effective_height", admin, "governance", "propose",
                  {**base, "deadline_height": chain.height + 5, "effective_height": chain.height + 1})
    chain.refused("proposal_not_found", admin, "governance", "vote", {"proposal_id": 77, "approve": True})


# --- thresholds from genesis -------------------------------------------------------------------------


def test_thresholds_per_kind_come_from_genesis() -> None:
    chain = Chain(("PSB", "SAMR", "CAB"), governance={"thresholds": {"set_power": [1, 2]}})
    simple = propose(chain, "set_power", {"code": "CAB", "power": 5})
    default = propose(chain, "register_material_type", {"code": "m", "name": "M"})
    assert proposal(chain, simple)["threshold"] == [1, 2]
    assert proposal(chain, default)["threshold"] == [2, 3]
    for proposal_id in (simple, default):
        vote(chain, proposal_id, "PSB")
        vote(chain, proposal_id, "SAMR")
    assert proposal(chain, simple)["status"] == "passed"  # 2 of 3 > 1/2
    assert proposal(chain, default)["status"] == "open"  # 2 of 3 is not > 2/3


def test_a_stricter_threshold_needs_every_department() -> None:
    chain = Chain(governance={"thresholds": {"remove_department": [3, 4]}})
    proposal_id = propose(chain, "remove_department", {"code": "TAX"})
    for department in ("PSB", "SAMR", "CAB"):
        vote(chain, proposal_id, department)
    assert proposal(chain, proposal_id)["status"] == "open"
    vote(chain, proposal_id, "TAX")
    assert proposal(chain, proposal_id)["status"] == "passed"


def test_a_rejection_under_a_strict_threshold_comes_with_the_first_no() -> None:
    chain = Chain(governance={"thresholds": {"remove_department": [3, 4]}})
    proposal_id = propose(chain, "remove_department", {"code": "TAX"})
    vote(chain, proposal_id, "TAX", approve=False)
    assert proposal(chain, proposal_id)["status"] == "rejected"


# --- removed departments -----------------------------------------------------------------------------


def remove_tax(chain: Chain, effective: int = 8) -> int:
    """Pass a proposal removing TAX; returns its removal height."""
    proposal_id = propose(chain, "remove_department", {"code": "TAX"}, effective=effective)
    for department in ("PSB", "SAMR", "CAB"):
        vote(chain, proposal_id, department)
    return int(proposal(chain, proposal_id)["apply_height"])


def test_a_removed_department_can_no_longer_sign_but_its_past_stays_checkable() -> None:
    """Attack-table row: a removed department still signing."""
    chain = Chain()
    clerk = chain.staff["TAX", "clerk"]
    content = anything()
    chain.ok(clerk, "anchor", "put", content)
    signed_height = chain.height
    removal = remove_tax(chain)
    advance_to(chain, removal - 2)
    chain.ok(clerk, "anchor", "put", anything())  # at removal - 1: still a member
    next_block(chain)
    assert chain.height == removal
    for role in ("clerk", "admin", "issuer"):
        message = chain.refused("department_removed", chain.staff["TAX", role], "anchor", "put",
                                anything()).message
        assert "TAX" in message
    chain.refused("department_removed", chain.staff["TAX", "admin"], "governance", "register_member",
                  {"public_key": key_for("TAX/late").public_key, "name": "Late", "roles": ["clerk"]})
    chain.refused("department_removed", chain.staff["TAX", "admin"], "governance", "propose",
                  {"kind": "register_material_type", "payload": {"code": "m", "name": "M"},
                   "deadline_height": chain.height + 5, "effective_height": chain.height + 6})

    department = governance.get_department(chain.state, "TAX")
    assert department is not None and department.removed_height == removal and department.power == 0
    assert [d.code for d in governance.active_departments(chain.state, removal)] == ["CAB", "PSB", "SAMR"]
    assert [d.code for d in governance.active_departments(chain.state, removal - 1)] == [
        "CAB", "PSB", "SAMR", "TAX"]
    anchored = chain.state.value(b"anchor/" + content["content_hash"] + b"/TAX")
    assert anchored is not None and anchored["height"] == signed_height
    then = governance.member_at(chain.state, anchored["signer"], anchored["height"])
    assert then is not None and then.department == "TAX" and then.roles == ("clerk",)
    assert governance.member_at(chain.state, clerk.public_key, removal - 1) is not None
    assert governance.member_at(chain.state, clerk.public_key, removal) is None
    assert len(governance.roster(chain.state, "TAX", removal - 1)) == 8
    assert governance.roster(chain.state, "TAX", removal) == []
    assert not governance.is_node_key(chain.state, key_for("TAX/node").public_key, removal)
    assert governance.is_node_key(chain.state, key_for("TAX/node").public_key, removal - 1)


def test_votes_count_over_the_departments_active_at_the_vote() -> None:
    chain = Chain()
    pending = propose(chain, "register_material_type", {"code": "m", "name": "M"}, deadline=40, effective=41)
    vote(chain, pending, "TAX")
    vote(chain, pending, "PSB")
    removal = remove_tax(chain)
    advance_to(chain, removal)
    vote(chain, pending, "SAMR")
    assert proposal(chain, pending)["status"] == "open"  # PSB and SAMR: 2 of 3 active, TAX's yes no longer counts
    vote(chain, pending, "CAB")
    assert proposal(chain, pending)["status"] == "passed"


def test_a_new_department_votes_and_raises_the_count() -> None:
    chain = Chain()
    case = KIND_CASES[0]
    added = propose(chain, case.kind, case.payload, effective=5)
    for department in ("PSB", "SAMR", "CAB"):
        vote(chain, added, department)
    advance_to(chain, int(proposal(chain, added)["apply_height"]))
    proposal_id = propose(chain, "register_material_type", {"code": "m", "name": "M"})
    for department in ("PSB", "SAMR", "CAB"):
        vote(chain, proposal_id, department)
    assert proposal(chain, proposal_id)["status"] == "open"  # 3 of 5 is not > 2/3
    chain.ok(NEW_ADMIN, "governance", "vote", {"proposal_id": proposal_id, "approve": True})
    assert proposal(chain, proposal_id)["status"] == "passed"


def test_a_new_department_is_an_observer_before_its_power_is_queued() -> None:
    chain = Chain()
    added = pass_proposal(chain, "add_department", KIND_CASES[0].payload, effective=5)
    applied = int(proposal(chain, added)["apply_height"])
    advance_to(chain, applied)
    # its node may link from the admission on (peers accept registered node keys) ...
    assert governance.is_node_key(chain.state, NEW_NODE.public_key, applied)
    # ... but its power is queued only JOIN_DELAY_BLOCKS later, effective two heights after that
    due = applied + proposals.JOIN_DELAY_BLOCKS
    while chain.height < due - 1:
        assert next_block(chain).validator_updates == ()
    execution = next_block(chain)
    assert chain.height == due
    assert execution.validator_updates == (Validator(department="CAC", public_key=NEW_NODE.public_key, power=7),)
    assert next_block(chain).validator_updates == ()


def test_a_joiner_removed_while_an_observer_never_gets_power() -> None:
    chain = Chain()
    added = pass_proposal(chain, "add_department", KIND_CASES[0].payload, effective=5)
    advance_to(chain, int(proposal(chain, added)["apply_height"]))
    removed = pass_proposal(chain, "remove_department", {"code": "CAC"}, effective=6)
    vote(chain, removed, "TAX")  # 4 of the 5 active departments
    advance_to(chain, int(proposal(chain, removed)["apply_height"]))
    assert proposal(chain, removed)["status"] == "applied"
    updates = []
    for _ in range(proposals.JOIN_DELAY_BLOCKS):
        updates.extend(next_block(chain).validator_updates)
    assert all(v.power == 0 for v in updates if v.department == "CAC")


def test_a_power_change_while_an_observer_waits_for_the_observer_period() -> None:
    chain = Chain()
    added = pass_proposal(chain, "add_department", KIND_CASES[0].payload, effective=5)
    applied = int(proposal(chain, added)["apply_height"])
    advance_to(chain, applied)
    changed = pass_proposal(chain, "set_power", {"code": "CAC", "power": 3}, effective=applied + 2)
    vote(chain, changed, "TAX")
    updates = []
    due = applied + proposals.JOIN_DELAY_BLOCKS
    while chain.height < due:
        updates.append((chain.height + 1, next_block(chain).validator_updates))
    assert proposal(chain, changed)["status"] == "applied"
    # no power before the period ends, however the proposal was timed; then the changed power, once
    assert [(h, u) for h, u in updates if u] == [(due, (Validator(department="CAC", public_key=NEW_NODE.public_key,
                                                                   power=3),))]


# --- application that no longer fits -----------------------------------------------------------------


def pass_proposal(chain: Chain, kind: str, payload: dict[str, Any], effective: int) -> int:
    proposal_id = propose(chain, kind, payload, deadline=effective - 1, effective=effective)
    for department in ("PSB", "SAMR", "CAB"):
        vote(chain, proposal_id, department)
    return proposal_id


def test_a_second_removal_of_the_same_department_fails_without_change() -> None:
    chain = Chain()
    first = pass_proposal(chain, "remove_department", {"code": "TAX"}, effective=10)
    second = pass_proposal(chain, "remove_department", {"code": "TAX"}, effective=12)
    first_height = int(proposal(chain, first)["apply_height"])
    second_height = int(proposal(chain, second)["apply_height"])
    assert first_height < second_height
    advance_to(chain, second_height - 1)
    assert proposal(chain, first)["status"] == "applied"
    department_before = chain.state.value(governance.department_key("TAX"))
    execution = next_block(chain)
    record = proposal(chain, second)
    assert record["status"] == "failed" and record["apply_height"] == second_height
    assert record["failure"].startswith("unknown_department:") and "TAX" in record["failure"]
    assert chain.state.value(governance.department_key("TAX")) == department_before
    assert set(execution.changes) == {proposals.proposal_key(second), proposals.scheduled_key(second_height, second)}
    assert execution.validator_updates == ()


def test_two_conflicting_proposals_applied_in_one_block() -> None:
    chain = Chain()
    case = KIND_CASES[0]
    first = propose(chain, case.kind, case.payload, deadline=8, effective=10)
    second = propose(chain, case.kind, {**case.payload, "name": "Another"}, deadline=8, effective=9)
    for proposal_id in (first, second):
        for department in ("PSB", "SAMR", "CAB"):
            vote(chain, proposal_id, department)
    apply_height = int(proposal(chain, first)["apply_height"])
    assert proposal(chain, second)["apply_height"] == apply_height
    advance_to(chain, apply_height - 1)
    execution = next_block(chain)
    assert proposal(chain, first)["status"] == "applied"
    failed = proposal(chain, second)
    assert failed["status"] == "failed" and failed["failure"].startswith("department_exists:")
    assert governance.get_department(chain.state, "CAC").name == "Civil Affairs"  # type: ignore[union-attr]
    assert execution.validator_updates == case.updates


# --- stateful checks at propose time ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "payload", "code"),
    [
        ("remove_department", {"code": "NOPE"}, "unknown_department"),
        ("set_power", {"code": "NOPE", "power": 3}, "unknown_department"),
        ("add_department", {"code": "PSB", "name": "Again", "node_key": b"\x01" * 32, "power": 1,
                            "admins": [{"public_key": b"\x02" * 32, "name": "A"}]}, "department_exists"),
        ("add_department", {"code": "NEW", "name": "New", "node_key": key_for("PSB/clerk").public_key, "power": 1,
                            "admins": [{"public_key": b"\x02" * 32, "name": "A"}]}, "member_exists"),
        ("register_cert_type", {"code": "c", "name": "C", "issuers": ["SAMR", "NOPE"]}, "unknown_department"),
    ],
)
def test_a_payload_that_does_not_fit_the_state_is_refused(kind: str, payload: dict[str, Any], code: str) -> None:
    chain = Chain()
    chain.refused(code, chain.staff["PSB", "admin"], "governance", "propose",
                  {"kind": kind, "payload": payload, "deadline_height": 10, "effective_height": 12})


def test_the_last_department_and_the_last_power_stay() -> None:
    chain = Chain(("PSB",))
    admin = chain.staff["PSB", "admin"]
    chain.refused("last_department", admin, "governance", "propose",
                  {"kind": "remove_department", "payload": {"code": "PSB"}, "deadline_height": 10,
                   "effective_height": 12})
    chain.refused("no_voting_power", admin, "governance", "propose",
                  {"kind": "set_power", "payload": {"code": "PSB", "power": 0}, "deadline_height": 10,
                   "effective_height": 12})


# --- malformed payloads: a clear error, never a crash ---------------------------------------------------


def calendar_payload(**changes: Any) -> dict[str, Any]:
    return {"year": 2026, "holidays": ["2026-10-01"], "workdays": ["2026-10-10"], **changes}


ADD = {"code": "NEW", "name": "New", "node_key": b"\x01" * 32, "power": 1,
       "admins": [{"public_key": b"\x02" * 32, "name": "A"}]}

MALFORMED = [
    ("publish_calendar", calendar_payload(holidays=["2026-02-30"]), "payload.holidays[0]", "2026-02-30"),
    ("publish_calendar", calendar_payload(holidays=["2026-13-01"]), "payload.holidays[0]", "2026-13-01"),
    ("publish_calendar", calendar_payload(holidays=["not a date"]), "payload.holidays[0]", "not a date"),
    ("publish_calendar", calendar_payload(holidays=["2026/10/01"]), "payload.holidays[0]", "2026/10/01"),
    ("publish_calendar", calendar_payload(holidays=["2026-1-01"]), "payload.holidays[0]", "2026-1-01"),
    ("publish_calendar", calendar_payload(holidays=["20261001"]), "payload.holidays[0]", "20261001"),
    ("publish_calendar", calendar_payload(holidays=["2026-W01-1"]), "payload.holidays[0]", "2026-W01-1"),
    ("publish_calendar", calendar_payload(holidays=[20261001]), "payload.holidays[0]", "date"),
    ("publish_calendar", calendar_payload(workdays=[None]), "payload.workdays[0]", "date"),
    ("publish_calendar", calendar_payload(holidays="2026-10-01"), "payload.holidays", "list"),
    ("publish_calendar", calendar_payload(holidays=["2027-01-01"]), "payload.holidays", "2027-01-01"),
    ("publish_calendar", calendar_payload(workdays=["2025-12-31"]), "payload.workdays", "outside 2026"),
    ("publish_calendar", calendar_payload(workdays=["2026-10-01"]), "payload", "both"),
    ("publish_calendar", calendar_payload(holidays=["2026-10-01", "2026-10-01"]), "payload.holidays", "twice"),
    ("publish_calendar", calendar_payload(year=1970), "payload.year", "year"),
    ("publish_calendar", calendar_payload(year="2026"), "payload.year", "year"),
    ("publish_calendar", calendar_payload(extra=1), "payload", "extra"),
    ("publish_calendar", {"year": 2026, "holidays": []}, "payload", "workdays"),
    ("publish_calendar", ["2026"], "payload", "map"),
    ("publish_calendar", calendar_payload(holidays=[f"2026-01-{d:02d}" for d in range(1, 32)] * 12),
     "payload.holidays", "list"),
    ("register_material_type", {"code": "m", "name": "M", "issuers": []}, "payload", "issuers"),
    ("register_material_type", {"code": "bad code", "name": "M"}, "payload.code", "code"),
    ("register_cert_type", {"code": "c", "name": "C", "issuers": []}, "payload.issuers", "list"),
    ("register_cert_type", {"code": "c", "name": "C", "issuers": ["SAMR", "SAMR"]}, "payload.issuers", "twice"),
    ("register_cert_type", {"code": "c", "name": "C", "issuers": ["SAMR"], "validity_days": 0},
     "payload.validity_days", "validity_days"),
    ("set_document_limits", {}, "payload", "max_document_bytes"),
    ("set_document_limits", {"max_document_bytes": 1023}, "payload.max_document_bytes", "1024"),
    ("set_document_limits", {"max_document_bytes": (1 << 30) + 1}, "payload.max_document_bytes", "1073741824"),
    ("add_department", {**ADD, "encryption_key": b"\x05" * 31}, "payload.encryption_key", "32 bytes"),
    ("set_consensus_limits", {}, "payload", "at least one"),
    ("set_consensus_limits", {"max_block_txs": 0}, "payload.max_block_txs", "max_block_txs"),
    ("set_consensus_limits", {"max_gas": 5}, "payload", "max_gas"),
    ("set_power", {"code": "PSB", "power": -1}, "payload.power", "power"),
    ("set_power", {"code": "psb", "power": 1}, "payload.code", "department code"),
    ("remove_department", {"code": "TAX", "why": "x"}, "payload", "why"),
    ("add_department", {**ADD, "admins": []}, "payload.admins", "list"),
    ("add_department", {**ADD, "admins": [{"public_key": b"\x02" * 32, "name": "A", "roles": ["admin"]}]},
     "payload.admins[0]", "roles"),
    ("add_department", {**ADD, "admins": [{"public_key": b"\x02" * 31, "name": "A"}]},
     "payload.admins[0].public_key", "32 bytes"),
    ("add_department", {**ADD, "admins": [{"public_key": b"\x01" * 32, "name": "A"}]}, "payload.admins", "differ"),
    ("add_department", {**ADD, "admins": [{"public_key": b"\x02" * 32, "name": "A"},
                                          {"public_key": b"\x02" * 32, "name": "B"}]}, "payload.admins", "differ"),
]


@pytest.mark.parametrize(("kind", "payload", "field", "named"), MALFORMED,
                         ids=[f"{i}-{m[0]}" for i, m in enumerate(MALFORMED)])
def test_malformed_payloads_get_a_clear_error(kind: str, payload: Any, field: str, named: str) -> None:
    with pytest.raises(ContractError) as excinfo:
        proposals.parse_propose({"kind": kind, "payload": payload, "deadline_height": 10, "effective_height": 12})
    error = excinfo.value
    assert error.code == "invalid_arguments"
    assert error.field == field, error.message
    assert named in error.message, error.message


def test_malformed_proposal_arguments() -> None:
    good = {"kind": "register_material_type", "payload": {"code": "m", "name": "M"}, "deadline_height": 10,
            "effective_height": 12}
    for args, field in [
        ({**good, "kind": "change_everything"}, "kind"),
        ({**good, "deadline_height": 0}, "deadline_height"),
        ({**good, "effective_height": "12"}, "effective_height"),
        ({**good, "title": ""}, "title"),
        ({**good, "extra": 1}, "args"),
        ({k: v for k, v in good.items() if k != "payload"}, "args"),
    ]:
        with pytest.raises(ContractError) as excinfo:
            proposals.parse_propose(args)
        assert excinfo.value.code == "invalid_arguments" and excinfo.value.field == field
    votes: list[tuple[dict[str, Any], str]] = [({"proposal_id": 0, "approve": True}, "proposal_id"),
                                               ({"proposal_id": 1, "approve": 1}, "approve")]
    for args, field in votes:
        with pytest.raises(ContractError) as excinfo:
            proposals.parse_vote(args)
        assert excinfo.value.field == field


def test_malformed_payload_is_refused_at_execution() -> None:
    chain = Chain()
    message = chain.refused("invalid_arguments", chain.staff["PSB", "admin"], "governance", "propose",
                            {"kind": "publish_calendar", "payload": calendar_payload(holidays=["2026-02-29"]),
                             "deadline_height": 10, "effective_height": 12}).message
    assert "2026-02-29" in message


def test_calendar_parse_date_rejects_what_is_not_a_date() -> None:
    assert calendar.format_date(calendar.parse_date("2028-02-29")) == "2028-02-29"
    for text in ("2026-02-29", "2026-00-10", "2026-1-1", "26-01-01", "2026-01-01T00", "", "２０２６-01-01"):
        with pytest.raises(ValueError):
            calendar.parse_date(text)


def test_calendar_exhausted_is_a_contract_error() -> None:
    year = calendar.YearCalendar(2026, frozenset(range(calendar.parse_date("2026-01-01"),
                                                       calendar.parse_date("2027-01-01"))), frozenset())
    cal = calendar.Calendar.of({y: calendar.YearCalendar(y, frozenset(range(calendar.parse_date(f"{y}-01-01"),
                                                                              calendar.parse_date(f"{y + 1}-01-01"))),
                                                         frozenset()) for y in range(2026, 2050)})
    assert year.holidays <= cal.year(2026).holidays  # type: ignore[union-attr]
    with pytest.raises(ContractError) as excinfo:
        cal.add_working_days(calendar.parse_date("2025-12-31"), 1)
    assert excinfo.value.code == "calendar_exhausted" and "2025-12-31" in excinfo.value.message


# --- genesis registries --------------------------------------------------------------------------------


def test_genesis_preloads_the_registries() -> None:
    chain = Chain(governance={
        "material_types": [{"code": "id_card", "name": "Identity card"}],
        "cert_types": [{"code": "licence", "name": "Licence", "issuers": ["SAMR", "CAB"]}],
        "calendars": [{"year": 2026, "holidays": ["2026-03-03"], "workdays": ["2026-03-07"]}],
    })
    assert proposals.get_material_type(chain.state, "id_card") == {"code": "id_card", "name": "Identity card",
                                                                   "registered_height": 0}
    assert proposals.get_cert_type(chain.state, "licence") == {
        "code": "licence", "name": "Licence", "issuers": ["CAB", "SAMR"], "validity_days": None,
        "registered_height": 0,
    }
    _calendar_after(chain)


@pytest.mark.parametrize(
    ("section", "entry", "named"),
    [
        ("calendars", {"year": 2026, "holidays": ["2026-02-30"], "workdays": []}, "2026-02-30"),
        ("calendars", {"year": 2026, "holidays": ["2026-05-01"], "workdays": ["2026-05-01"]}, "both"),
        ("calendars", {"year": 2026, "holidays": [], "workdays": [], "notes": "x"}, "notes"),
        ("cert_types", {"code": "c", "name": "C", "issuers": ["NOPE"]}, "NOPE"),
        ("material_types", {"code": "m"}, "name"),
    ],
)
def test_malformed_genesis_registries_are_refused_clearly(section: str, entry: dict[str, Any], named: str) -> None:
    with pytest.raises(GenesisError) as excinfo:
        Chain(governance={section: [entry]})
    assert "entry 0" in str(excinfo.value) and named in str(excinfo.value)


def test_add_department_carries_its_encryption_key_from_the_apply_height() -> None:
    chain = Chain()
    key = crypto.EncryptionKey(crypto.sha256(b"CAC encryption")).public_key
    added = propose(chain, "add_department", {**KIND_CASES[0].payload, "encryption_key": key}, effective=5)
    for department in ("PSB", "SAMR", "CAB"):
        vote(chain, added, department)
    apply_height = int(proposal(chain, added)["apply_height"])
    advance_to(chain, apply_height)
    assert governance.encryption_key_periods(chain.state, "CAC") == [(apply_height, key)]
    assert governance.encryption_key_at(chain.state, "CAC", apply_height - 1) is None
    plain = propose(chain, "add_department", {**KIND_CASES[0].payload, "code": "CAD", "node_key": b"\x07" * 32,
                                              "admins": [{"public_key": b"\x08" * 32, "name": "CAD admin"}]},
                    effective=5)
    assert "encryption_key" not in proposal(chain, plain)["payload"]


def test_document_limits_start_from_genesis() -> None:
    assert proposals.max_document_bytes(Chain().state) == 64 * 1024 * 1024
    assert proposals.max_document_bytes(Chain(params={"max_document_bytes": 4096}).state) == 4096
