"""The authority report: empty on a healthy chain, and it finds the unauthorised actions planted through the
genesis test hooks that let one key skip the role check, or the check of its department's authority."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chainnode import crypto
from chainnode.errors import ConfigError, GenesisError
from chainnode.genesis import parse_genesis
from tests.report_chain import HOLDER, Chain, open_chain

ISSUE = {"cert_type": "permit", "holder_ref": HOLDER, "content_hash": crypto.sha256(b"permit")}


async def work_a_case(chain: Chain) -> None:
    await chain.setup_item()
    case_id = await chain.file_case()
    await chain.call("cases", "review", {"case_id": case_id, "opinion": "agree", "comment": "complete"})
    await chain.call("cases", "decide", {"case_id": case_id, "decision": "approve", "reason": "complete",
                                         "certificate": {"content_hash": crypto.sha256(b"permit A")}})
    await chain.call("certificates", "issue", ISSUE)


async def test_a_healthy_chain_has_no_findings(tmp_path: Path) -> None:
    async with open_chain(tmp_path) as chain:
        await work_a_case(chain)
        clerk = await chain.register("Clerk Zhao", ["clerk"])
        await chain.call("certificates", "issue", ISSUE, key=clerk, expect="role_required")  # refused, not flagged
        report = await chain.get("/v1/reports/authority")
        assert report["findings"] == [] and report["checked"] == 4  # file, review, decide, issue
        assert (report["from_height"], report["to_height"]) == (1, chain.node.head_height())
        printed = await chain.cli("report", "authority")
        assert printed.code == 0 and "4 decision(s), certificate and document action(s) checked, 0 finding(s)" \
            in printed.out
        too_long = await chain.get("/v1/reports/authority?from_height=1&to_height=10001", expect=400)
        assert too_long["code"] == "invalid_field" and too_long["field"] == "to_height"
        assert "at most 10000 blocks" in too_long["detail"]
        reversed_range = await chain.get("/v1/reports/authority?from_height=5&to_height=4", expect=400)
        assert reversed_range["field"] == "to_height"
        assert (await chain.cli("report", "authority", "--from", 1, "--to", 10_001)).code == 2


async def test_a_planted_unauthorised_action_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAINNODE_TEST_FAULTS", "test-hooks")  # a genesis with test hooks starts only so
    clerk = crypto.PrivateKey.generate()
    async with open_chain(tmp_path, params={"test_hooks": 1},
                          test_hook_skip_role_check=[clerk.public_key.hex()]) as chain:
        await work_a_case(chain)
        await chain.register("Clerk Zhao", ["clerk"], clerk)
        tx_id, status = await chain.call("certificates", "issue", ISSUE, key=clerk)  # the hook lets it through
        planted_at = status["height"]
        report = await chain.get("/v1/reports/authority")
        assert report["checked"] == 5
        [finding] = report["findings"]
        assert finding["height"] == planted_at and finding["tx_id"] == tx_id.hex()
        assert (finding["contract"], finding["method"], finding["problem"]) == ("certificates", "issue",
                                                                                "role_not_held")
        assert finding["signer"] == clerk.public_key.hex() and finding["signer_name"] == "Clerk Zhao"
        assert finding["signer_roles"] == ["clerk"] and "needs issuer" in finding["detail"]
        before = await chain.get(f"/v1/reports/authority?to_height={planted_at - 1}")
        assert before["findings"] == [] and before["to_height"] == planted_at - 1
        printed = await chain.cli("report", "authority", "--from", planted_at, "--to", planted_at)
        assert printed.code == 1, printed.err
        assert "certificates.issue  ROLE_NOT_HELD  by Clerk Zhao (PSB; clerk)" in printed.out
        assert tx_id.hex() in printed.out


async def test_a_department_acting_outside_its_authority_is_found(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAINNODE_TEST_FAULTS", "test-hooks")
    samr_issuer, cab_issuer = crypto.PrivateKey.generate(), crypto.PrivateKey.generate()
    async with open_chain(tmp_path, params={"test_hooks": 1},
                          departments=(("SAMR", "Market regulation", [(samr_issuer, "SAMR issuer", ["issuer"])]),
                                       ("CAB", "Civil affairs", [(cab_issuer, "CAB issuer", ["issuer"])])),
                          test_hook_skip_department_check=[cab_issuer.public_key.hex()],
                          governance={"thresholds": {kind: [1, 4] for kind in ("register_material_type",
                                                                               "register_cert_type")}}) as chain:
        await work_a_case(chain)  # registers the permit, issued by PSB alone
        # without the hook, the contract refuses a department that is not the permit's competent authority
        await chain.call("certificates", "issue", ISSUE, key=samr_issuer, expect="cert_type_not_authorised")
        tx_id, status = await chain.call("certificates", "issue", ISSUE, key=cab_issuer)  # the hook lets it through
        planted_at = status["height"]
        _, psb = await chain.call("certificates", "issue", ISSUE)
        psb_cert = psb["result"]["events"][0]["attributes"]["cert_id"]
        revoked_id, _ = await chain.call("certificates", "revoke", {"cert_id": psb_cert, "reason": "not ours"},
                                         key=cab_issuer)  # another department's certificate
        report = await chain.get("/v1/reports/authority")
        assert report["checked"] == 7  # file, review, decide, three issues and the revocation; not the refusal
        issued, revoked = report["findings"]
        assert (issued["height"], issued["tx_id"]) == (planted_at, tx_id.hex())
        assert (issued["contract"], issued["method"], issued["problem"]) == ("certificates", "issue",
                                                                             "department_not_authorised")
        assert (issued["signer_name"], issued["signer_department"], issued["signer_roles"]) == (
            "CAB issuer", "CAB", ["issuer"])  # it held the role: only its department was not authorised
        assert issued["detail"] == ("certificates.issue by CAB issuer of CAB, which is not an issuer of certificate "
                                    "type permit (the competent authority for it); only PSB may do this")
        assert (revoked["tx_id"], revoked["problem"]) == (revoked_id.hex(), "department_not_authorised")
        assert revoked["detail"] == (f"certificates.revoke by CAB issuer of CAB, which is not the department that "
                                     f"issued certificate {psb_cert}; only PSB may do this")
        printed = await chain.cli("report", "authority")
        assert printed.code == 1, printed.err
        assert "certificates.issue  DEPARTMENT_NOT_AUTHORISED  by CAB issuer (CAB; issuer)" in printed.out
        assert "which is not an issuer of certificate type permit" in printed.out and tx_id.hex() in printed.out


def test_the_department_hook_starts_only_with_test_hooks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from chainnode.home import init_home
    from chainnode.node import Node

    _, created = init_home(tmp_path / "home", chain_id="hooks", department="PSB", name="Police")
    path = created.home / "genesis.json"
    document = json.loads(path.read_text())
    document["test_hook_skip_department_check"] = [crypto.PrivateKey.generate().public_key.hex()]
    with pytest.raises(GenesisError) as refused:
        parse_genesis(document)
    assert refused.value.field == "genesis.test_hook_skip_department_check"
    assert "test_hooks = 1" in refused.value.message
    document["params"] = {"test_hooks": 1}
    assert len(parse_genesis(document).skip_department_check) == 1
    path.write_text(json.dumps(document))
    monkeypatch.delenv("CHAINNODE_TEST_FAULTS", raising=False)
    with pytest.raises(ConfigError) as caught:  # and such a genesis starts a node only when the environment says so
        Node.from_home(created.home)
    assert caught.value.code == "test_fault_refused" and "CHAINNODE_TEST_FAULTS=test-hooks" in caught.value.message
    document["test_hook_skip_department_check"] = "not a list"
    with pytest.raises(GenesisError):
        parse_genesis(document)


def test_the_hook_needs_test_hooks_in_genesis(tmp_path: Path) -> None:
    from chainnode.home import init_home

    _, created = init_home(tmp_path / "home", chain_id="hooks", department="PSB", name="Police")
    document = json.loads((created.home / "genesis.json").read_text())
    document["test_hook_skip_role_check"] = [crypto.PrivateKey.generate().public_key.hex()]
    with pytest.raises(GenesisError) as refused:
        parse_genesis(document)
    assert refused.value.field == "genesis.test_hook_skip_role_check" and "test_hooks = 1" in refused.value.message
    document["params"] = {"test_hooks": 1}
    assert len(parse_genesis(document).skip_role_check) == 1
    document["test_hook_skip_role_check"] = ["not hex"]
    with pytest.raises(GenesisError):
        parse_genesis(document)
