"""`chainnode report case | cert | department`: single-file HTML and JSON reports of every event, with the chain's
genesis hash and what was verified, on an in-process chain; hostile text stays text."""

from __future__ import annotations

import base64
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from chainnode import crypto
from chainnode.genesis import load_genesis
from chainnode.home import init_home
from chainnode.reports import (
    is_event_proven,
    verify_trace_by_page_proof,
    verify_trace_by_proofs,
    verify_trace_by_tx_proofs,
)
from contracts.certificates import compute_cert_id
from tests.report_chain import Chain, open_chain

HOSTILE = '<script>alert("x")</script></td></table><img src=x onerror=alert(1)> & "quoted"'
VOID = {"meta", "br", "img", "link", "hr", "input"}


class TagChecker(HTMLParser):
    """Collects the structure: every element opened is closed in order, and no script element exists."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.seen: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.append(tag)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(document: str) -> TagChecker:
    checker = TagChecker()
    checker.feed(document)
    checker.close()
    assert checker.errors == [] and checker.stack == [], (checker.errors, checker.stack)
    for tag in ("html", "head", "body", "main", "table", "thead", "tbody"):
        assert tag in checker.seen, tag
    assert "script" not in checker.seen and "img" not in checker.seen  # the hostile markup stayed text
    assert "<link" not in document and "src=" not in document.replace("src=x", "")  # no external assets
    return checker


async def worked_case(chain: Chain) -> tuple[str, str]:
    """A case reviewed by a reviewer with a hostile name and approved; returns (case ID, certificate ID)."""
    await chain.setup_item()
    reviewer = await chain.register(HOSTILE, ["reviewer"])
    case_id = await chain.file_case()
    await chain.call("cases", "review", {"case_id": case_id, "opinion": "agree", "comment": HOSTILE}, key=reviewer)
    tx_id, _ = await chain.call("cases", "decide", {
        "case_id": case_id, "decision": "approve", "reason": "complete",
        "certificate": {"content_hash": crypto.sha256(b"permit"), "metadata": {"note": HOSTILE}}})
    return case_id, compute_cert_id(tx_id)


async def test_a_case_report_holds_every_event_and_the_genesis_hash(tmp_path: Path) -> None:
    async with open_chain(tmp_path) as chain:
        case_id, _ = await worked_case(chain)
        genesis = load_genesis(chain.genesis_path)
        history = (await chain.get(f"/v1/history/case:{case_id}"))["events"]
        assert [e["method"] for e in history] == ["file", "review", "decide"]
        out = tmp_path / "case.html"
        written = await chain.cli("report", "case", case_id, "--genesis", chain.genesis_path, "--verify", "--out", out)
        assert written.code == 0, written.err
        assert f"3 event(s) as of height {chain.node.head_height()}, verification: verified" in written.out
        document = out.read_text()
        checker = parse(document)
        text = "".join(checker.text)
        assert genesis.hash.hex() in text and "reports-test" in text
        for event in history:
            assert event["tx_id"] in text
        assert text.count("verified") >= 3 and "FAILED" not in text and "not verified" not in text
        assert HOSTILE in text  # shown as text, exactly
        assert "Verification" in text and "case record: proven at height" in text and "APPROVED" in text
        assert "@page" in document and "@media print" in document

        exported = await chain.cli("report", "case", case_id, "--genesis", chain.genesis_path, "--verify", "--json")
        report = exported.json()
        assert report["genesis_hash"] == genesis.hash.hex() and report["chain_id"] == "reports-test"
        assert [e["tx_id"] for e in report["events"]] == [e["tx_id"] for e in history]
        assert [e["method"] for e in report["events"]] == ["cases.file", "cases.review", "cases.decide"]
        assert all(e["verified"] is True for e in report["events"])
        assert report["events"][1]["signer_name"] == HOSTILE and report["events"][1]["roles"] == ["reviewer"]
        assert report["verification"]["status"] == "verified"

        plain = await chain.cli("report", "case", case_id)  # HTML on stdout, nothing checked
        assert plain.code == 0
        plain_text = "".join(parse(plain.out).text)
        assert "not verified" in plain_text and "as the node reported it" in plain_text
        assert genesis.hash.hex() in plain_text
        assert (await chain.cli("report", "case", case_id, "--verify")).code == 2  # --verify needs --genesis


async def test_certificate_and_department_reports(tmp_path: Path) -> None:
    async with open_chain(tmp_path) as chain:
        first_day = chain.date()  # each call's block is a minute later: near midnight (UTC+8) the case spans two days
        case_id, cert_id = await worked_case(chain)
        await chain.call("certificates", "suspend", {"cert_id": cert_id, "reason": HOSTILE})
        out = tmp_path / "cert.html"
        written = await chain.cli("report", "cert", cert_id, "--genesis", chain.genesis_path, "--out", out)
        assert written.code == 0, written.err
        text = "".join(parse(out.read_text()).text)
        assert "SUSPENDED" in text and "certificate record: proven at height" in text and HOSTILE in text
        assert "not verified" in text  # the events, without --verify
        report = (await chain.cli("report", "cert", cert_id, "--json")).json()
        assert [e["method"] for e in report["events"]] == ["cases.decide", "certificates.suspend"]
        assert {"name": "Metadata: note", "value": HOSTILE} in report["facts"]

        today = chain.date()
        department = await chain.cli("report", "department", "PSB", "--from-date", first_day, "--to-date", today,
                                     "--json", "--genesis", chain.genesis_path, "--verify")
        assert department.code == 0, department.err
        document = department.json()
        methods = [e["method"] for e in document["events"]]
        assert "cases.file" in methods and "items.publish" in methods and all(e["verified"] for e in document["events"])
        assert {"name": "Decided", "value": "1"} in document["facts"]
        assert case_id not in str(document["facts"])  # nothing overdue
        parse((await chain.cli("report", "department", "PSB", "--from", 1)).out)
        backwards = await chain.cli("report", "department", "PSB", "--from-date", today, "--to-date", "2000-01-01")
        assert backwards.code == 2


async def test_a_report_checked_against_another_genesis_fails(tmp_path: Path) -> None:
    async with open_chain(tmp_path) as chain:
        case_id, _ = await worked_case(chain)
        _, created = init_home(tmp_path / "other", chain_id="elsewhere", department="PSB", name="Police")
        other = created.home / "genesis.json"
        result = await chain.cli("report", "case", case_id, "--genesis", other, "--verify", "--json")
        assert result.code == 1
        report = result.json()
        assert report["verification"]["status"] == "failed"
        assert all(e["verified"] is False for e in report["events"])
        assert any("serves another network" in line for line in report["verification"]["lines"])


async def test_an_event_is_proven_only_by_its_own_transaction(tmp_path: Path) -> None:
    async with open_chain(tmp_path) as chain:
        case_id, _ = await worked_case(chain)
        genesis = load_genesis(chain.genesis_path)
        page: dict[str, Any] = await chain.get(f"/v1/history/case:{case_id}?proof=1")
        events = page["events"]
        assert verify_trace_by_page_proof(genesis, page) == [True, True, True]
        altered = bytearray(base64.b64decode(page["proof"]))
        altered[len(altered) // 2] ^= 1
        assert verify_trace_by_page_proof(genesis, {**page, "proof": base64.b64encode(altered).decode()}) == \
            [False, False, False]
        relabelled = [events[0], {**events[1], "code": "role_required"}, events[2]]
        assert verify_trace_by_page_proof(genesis, {**page, "events": relabelled}) == [False, False, False]

        proofs = {e["tx_id"]: chain.node.reader.tx_bundle(bytes.fromhex(e["tx_id"])).encode() for e in events}
        without = {"events": events}  # a node that sends no page proof: each event's own
        assert verify_trace_by_proofs(proofs.__getitem__)(genesis, without) == [True, True, True]
        swapped = {e["tx_id"]: proofs[events[0]["tx_id"]] for e in events}  # the filing's proof for every event
        assert verify_trace_by_tx_proofs(swapped.__getitem__)(genesis, without) == [True, False, False]
        one = bytearray(proofs[events[1]["tx_id"]])
        one[len(one) // 2] ^= 1
        assert not is_event_proven(genesis, events[1], bytes(one))
        assert not is_event_proven(genesis, {**events[1], "code": "role_required"}, proofs[events[1]["tx_id"]])
