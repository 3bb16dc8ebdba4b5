"""`chainnode case status`: a case's standing read from a proof checked against genesis only, online and
offline, with the exits a script relies on (0 verified, 1 no such case, 2 a bad proof)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from chainnode import light
from chainnode.case_verify import CaseNotFound, verify_case
from chainnode.errors import InvalidProof
from chainnode.genesis import load_genesis
from chainnode.home import init_home
from tests.report_chain import DAY_MS, open_chain


async def test_case_status_trusts_only_genesis(tmp_path: Path) -> None:
    async with open_chain(tmp_path) as chain:
        await chain.setup_item()
        case_id = await chain.file_case()
        genesis = chain.genesis_path
        accepted_at = chain.node.head_height()
        deadline = (await chain.get(f"/v1/cases/{case_id}"))["case"]["deadline_date"]
        proof = tmp_path / "case.proof"
        online = await chain.cli("case", "status", case_id, "--genesis", genesis, "--proof-out", proof)
        assert online.code == 0, online.err
        assert f"ACCEPTED: case {case_id}, item PSB-001 (Residence permit)" in online.out
        assert "held by:     PSB (Police), officer PSB officer" in online.out
        assert f"deadline:    {deadline} (not overdue" in online.out

        chain.clock.now += 30 * DAY_MS
        await chain.block()
        late = await chain.cli("case", "status", case_id, "--genesis", genesis, "--json")
        assert late.code == 0 and late.json()["verdict"] == "ACCEPTED (OVERDUE)" and late.json()["overdue"] is True
        assert late.json()["proven_at_height"] == chain.node.head_height()
        offline = await chain.cli("case", "status", case_id, "--genesis", genesis, "--proof", proof, "--json")
        assert offline.code == 0 and offline.json()["overdue"] is False  # as of the proven block, not today
        assert offline.json()["proven_at_height"] == accepted_at
        then = await chain.cli("case", "status", case_id, "--genesis", genesis, "--height", accepted_at - 1)
        assert then.code == 1 and then.err.startswith("error: case_not_found: no such case")  # not filed yet

        raw = bytearray(proof.read_bytes())  # the bundle's own bytes
        raw[len(raw) // 2] ^= 1
        altered = tmp_path / "altered.proof"
        altered.write_bytes(bytes(raw))
        bad = await chain.cli("case", "status", case_id, "--genesis", genesis, "--proof", altered)
        assert bad.code == 2 and bad.err.startswith("error: invalid_proof: ") and bad.out == ""
        absent = await chain.cli("case", "status", "0" * 32, "--genesis", genesis)
        assert absent.code == 1 and "no such case" in absent.err and "proof of absence" in absent.err


async def test_case_status_starts_from_a_saved_trust_file(tmp_path: Path) -> None:
    async with open_chain(tmp_path) as chain:
        await chain.setup_item()
        case_id = await chain.file_case()
        genesis, trust = chain.genesis_path, tmp_path / "trust.json"
        first = await chain.cli("case", "status", case_id, "--genesis", genesis, "--trust-out", trust)
        assert first.code == 0, first.err
        saved_at = chain.node.head_height()
        assert f"saved:       trust in the validator set of height {saved_at} to {trust}" in first.out
        root = light.read_trust_file(trust.read_text(), load_genesis(genesis))
        assert root.height == saved_at

        await chain.block()
        await chain.block()
        proof, newer = tmp_path / "trusted.proof", tmp_path / "newer.json"
        later = await chain.cli("case", "status", case_id, "--genesis", genesis, "--trust", trust, "--proof-out",
                                proof, "--trust-out", newer, "--json")
        assert later.code == 0, later.err
        assert later.json()["verdict"] == "ACCEPTED" and later.json()["proven_at_height"] == saved_at + 2
        assert "trust" not in later.json()  # the trust root goes to the file, not into the document
        bundle = light.decode_bundle(proof.read_bytes())
        assert bundle.from_height == saved_at  # the node started the bundle from the trusted height
        assert light.read_trust_file(newer.read_text(), load_genesis(genesis)).height == saved_at + 2
        text = await chain.cli("case", "status", case_id, "--genesis", genesis, "--trust", trust)
        assert f"against genesis {genesis} and trust file {trust} (height {saved_at})" in text.out

        offline = await chain.cli("case", "status", case_id, "--genesis", genesis, "--trust", trust, "--proof", proof)
        assert offline.code == 0 and f"ACCEPTED: case {case_id}" in offline.out
        untrusted = await chain.cli("case", "status", case_id, "--genesis", genesis, "--proof", proof)
        assert untrusted.code == 2 and untrusted.err.startswith("error: invalid_proof: ")
        assert f"starts from a trust root at height {saved_at}" in untrusted.err and untrusted.out == ""

        _, created = init_home(tmp_path / "other", chain_id="elsewhere", department="PSB", name="Police")
        foreign = await chain.cli("case", "status", case_id, "--genesis", created.home / "genesis.json",
                                  "--trust", trust)
        assert foreign.code == 2 and "error: invalid_proof: the trust file is for chain" in foreign.err
        missing = await chain.cli("case", "status", case_id, "--genesis", genesis, "--trust", tmp_path / "none")
        assert missing.code == 2 and missing.err.startswith("error: file_unreadable: ")
        too_high = await chain.get(f"/v1/cases/{case_id}/proof?trusted_height=999999", expect=400)
        assert too_high["field"] == "trusted_height"


async def test_a_proof_of_another_record_is_not_a_case(tmp_path: Path) -> None:
    async with open_chain(tmp_path) as chain:
        await chain.setup_item()
        case_id = await chain.file_case()
        other = await chain.file_case()
        genesis = load_genesis(chain.genesis_path)
        answer = await chain.get(f"/v1/cases/{other}/proof")
        bundle = base64.b64decode(answer["proof"])
        assert answer["bytes"] == len(bundle) and answer["height"] == chain.node.head_height()
        with pytest.raises(InvalidProof) as refused:
            verify_case(genesis, case_id, bundle)
        assert refused.value.field == "key"
        assert verify_case(genesis, other, bundle).status == "accepted"
        with pytest.raises(CaseNotFound):
            absent = await chain.get(f"/v1/cases/{'f' * 32}/proof")
            verify_case(genesis, "f" * 32, base64.b64decode(absent["proof"]))
        assert (await chain.get("/v1/cases/xyz/proof", expect=400))["field"] == "case_id"
        paths = (await chain.get("/v1/openapi.json"))["paths"]
        assert "/v1/cases/{case_id}/proof" in paths and "/v1/reports/authority" in paths
        assert [p["name"] for p in paths["/v1/reports/authority"]["get"]["parameters"]] == ["from_height", "to_height"]
        _, created = init_home(tmp_path / "other", chain_id="elsewhere", department="PSB", name="Police")
        with pytest.raises(InvalidProof) as foreign:  # the genesis of another network proves nothing here
            verify_case(load_genesis(created.home / "genesis.json"), other, bundle)
        assert "block and commit check failed" in foreign.value.message
