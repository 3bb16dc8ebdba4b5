"""The demo story (`./scripts/demo`, `chainnode.demo`) on a real four-department cluster started from Python.

The cluster's homes are laid out like the devnet's (ROOT/node0..3 with keys/officer.key), so `demo.main`
runs on it unchanged with `--devnet ROOT`.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from chainnode.demo import Office, main, run_story
from tests.cluster import DEPARTMENTS, Cluster


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path)
    cluster.start_all()
    try:
        yield cluster
    finally:
        cluster.stop_all()


def run_main(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_the_story_on_four_departments(cluster: Cluster) -> None:
    departments = [code for code, _ in DEPARTMENTS[: cluster.n]]
    offices = {code: Office(code, url, key)
               for code, url, key in zip(departments, cluster.urls, cluster.keys, strict=True)}
    lines: list[str] = []
    try:
        result = run_story(offices, say=lines.append, suffix="first")
        again = run_story(offices, say=lines.append, suffix="again")
    finally:
        for office in offices.values():
            office.client.close()
    assert len(result.proposals) == 4  # identity, address proof, business licence, this year's calendar
    assert result.first_status == "returned"
    assert result.first_problems == [{"material_type": "address_proof", "reason": "missing"}]
    assert result.refiled_status == "accepted" and result.deadline_date is not None
    assert result.status_at_issue == "valid"
    assert result.revoked_height > result.issued_height
    assert (result.status_before, result.status_after) == ("valid", "revoked")
    documents = result.documents
    assert documents is not None and documents.states == {"TAX": "received", "PSB": "returned"}
    assert documents.openings == 4  # TAX, PSB, TAX again to forward, CAB the forward
    trail = " | ".join(documents.history)
    for shown in ("sent by SAMR officer", "delivered by TAX node", "opened by TAX officer", "received by TAX",
                  "returned by PSB officer (PSB): not within PSB's remit", "forwarded by TAX officer",
                  "opened [forward] by CAB officer"):
        assert shown in trail, shown
    # A second run finds the registries in place and tells a new applicant's story.
    assert again.proposals == [] and again.case_id != result.case_id and again.holder_ref != result.holder_ref
    assert (again.first_status, again.refiled_status, again.status_before, again.status_after) == (
        "returned", "accepted", "valid", "revoked")
    text = "\n".join(lines)
    for shown in (result.case_id, result.cert_id, result.holder_ref, "SAMR, PSB, CAB voted yes -> passed",
                  "address_proof: missing", f"deadline {result.deadline_date}", "already registered"):
        assert shown in text, shown

    code, out, err = run_main("--devnet", str(cluster.root))
    assert code == 0, err
    assert "status now: revoked" in out and "chainnode cert show" in out and "chainnode case show" in out


def test_the_demo_says_when_no_devnet_runs(tmp_path: Path) -> None:
    code, out, err = run_main("--devnet", str(tmp_path / "none"))
    assert code == 2 and out == ""
    assert err.strip() == f"demo: there is no devnet in {tmp_path / 'none'}; start one with ./scripts/devnet up"
    Cluster(tmp_path)  # homes, but no node started
    code, _, err = run_main("--devnet", str(tmp_path))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("demo: the devnet is not running (PSB's node at http://127.0.0.1:")
