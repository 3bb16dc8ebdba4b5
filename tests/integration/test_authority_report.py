"""The authority report: empty on a healthy chain, and it finds an unauthorised action planted through the
genesis test hook that lets one key skip the role check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chainnode import crypto
from chainnode.errors import GenesisError
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
