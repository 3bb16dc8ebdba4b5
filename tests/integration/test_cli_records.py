"""The contract command groups of the CLI (member, proposal, item, material, case, cert, holder) against one
real node started from a `chainnode init` home (department PSB, one officer with every role).

Commands run in-process through `chainnode.cli.main` (the same code as the installed `chainnode`), with
stdout and stderr captured; one test also runs the real command line in a subprocess.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chainnode import crypto
from chainnode.cli import main
from chainnode.cli_records import compute_holder_ref
from tests.nodeproc import free_port, kill, log_tail, start_node, wait_ready
from tests.report_chain import READ_COMMANDS

HOLDER = compute_holder_ref(b"s" * 32, "110101199003071234").hex()
OTHER_HOLDER = compute_holder_ref(b"s" * 32, "110101199003075678").hex()


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Node:
    home: Path
    url: str
    files: Path

    @property
    def key(self) -> Path:
        return self.home / "keys" / "officer.key"

    def run(self, *argv: object) -> Result:
        """Run one command against this node (`--node` added after the action); a command that reads internal
        records signs with the officer's key unless it names a `--key`."""
        args = [str(a) for a in argv]
        is_read = tuple(args[:1]) in READ_COMMANDS or tuple(args[:2]) in READ_COMMANDS
        signer = ["--key", str(self.key)] if is_read and "--key" not in args else []
        return run(*args[:2], "--node", self.url, *args[2:], *signer)

    def ok(self, *argv: object) -> Result:
        result = self.run(*argv)
        assert result.code == 0, result.err
        assert result.err == ""
        return result

    def write(self, *argv: object) -> Any:
        """A write command signed by the officer; returns its JSON document."""
        return self.ok(*argv, "--key", self.key, "--json").json()

    def file(self, name: str, content: str | bytes) -> Path:
        path = self.files / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path


def run(*argv: str) -> Result:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return Result(code, out.getvalue(), err.getvalue())


def assert_error(result: Result, status: int, code: str) -> str:
    """Exactly one `error: <code>: ...` line on stderr, the exit status, and no traceback."""
    assert "Traceback" not in result.err + result.out
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith(f"error: {code}: "), lines[0]
    assert result.code == status, (result.code, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    root = tmp_path_factory.mktemp("cli-records")
    home, port = root / "node0", free_port()
    created = run("init", "--home", str(home), "--chain-id", "records", "--department", "PSB", "--name",
                  "Public Security Bureau", "--api-port", str(port), "--p2p-port", str(free_port()))
    assert created.code == 0, created.err
    files = root / "files"
    files.mkdir()
    url = f"http://127.0.0.1:{port}"
    proc = start_node(home, root / "node.log")
    try:
        wait_ready(url, proc, log=root / "node.log")
        yield Node(home, url, files)
    finally:
        assert kill(proc, 15) == 0, log_tail(root / "node.log")


def propose(node: Node, kind: str, payload: dict[str, Any]) -> int:
    created = node.write("proposal", "create", "--kind", kind, "--payload-json", json.dumps(payload),
                         "--deadline-in", 50, "--effective-in", 2, "--title", f"{kind} {payload.get('code', '')}")
    proposal_id = int(created["proposal_id"])
    voted = node.write("proposal", "vote", proposal_id, "--yes")
    assert voted["outcome"] == "passed", voted
    return proposal_id


@pytest.fixture(scope="module")
def registries(node: Node) -> list[int]:
    """Material types, a certificate type PSB issues and a calendar, each by a proposal PSB passes alone."""
    ids = [propose(node, "register_material_type", {"code": "identity", "name": "Identity document"}),
           propose(node, "register_material_type", {"code": "address_proof", "name": "Proof of address"}),
           propose(node, "register_cert_type", {"code": "residence_permit", "name": "Residence permit",
                                                "issuers": ["PSB"], "validity_days": 365})]
    payload = node.file("calendar.json", json.dumps({"year": 2030, "holidays": ["2030-10-01"], "workdays": []}))
    created = node.write("proposal", "create", "--kind", "publish_calendar", "--payload", payload,
                         "--deadline-height", 10_000, "--effective-in", 2)
    node.write("proposal", "vote", created["proposal_id"], "--yes")
    return [*ids, int(created["proposal_id"])]


ITEM = {
    "code": "PSB-RES-001", "name": "Residence permit", "legal_basis": "Interim Regulation on Residence Permits, art. 9",
    "kind": "licensing", "conditions": ["lived in the city for six months"],
    "materials": [{"material_type": "identity", "issuers": ["PSB"], "form": "original", "optional": False},
                  {"material_type": "address_proof", "issuers": [], "form": "copy", "optional": False}],
    "legal_limit_days": 15, "promised_limit_days": 5, "cert_type": "residence_permit", "parallel_departments": [],
}


@pytest.fixture(scope="module")
def item(node: Node, registries: list[int]) -> str:
    node.write("item", "publish", node.file("item.json", json.dumps(ITEM)))
    return str(ITEM["code"])


def attest(node: Node, material_type: str, text: str, holder: str = HOLDER, *extra: object) -> str:
    done = node.write("material", "attest", "--type", material_type, "--holder", holder, "--content",
                      node.file(f"{text}.txt", text), *extra)
    return str(done["material_id"])


# --- happy paths -------------------------------------------------------------------------------------


def test_proposal_group(node: Node, registries: list[int]) -> None:
    listed = node.ok("proposal", "list")
    assert all(f" {i} " in listed.out for i in registries)
    shown = node.ok("proposal", "show", registries[2], "--json").json()["proposal"]
    assert shown["kind"] == "register_cert_type" and shown["status"] in ("passed", "applied")
    assert shown["votes"]["PSB"]["approve"] is True
    assert "PSB yes" in node.ok("proposal", "show", registries[2]).out
    joining = {"code": "HRSS", "name": "Human Resources", "node_key": "11" * 32, "power": 10,
               "encryption_key": "33" * 32, "admins": [{"public_key": "22" * 32, "name": "HRSS admin"}]}
    created = node.write("proposal", "create", "--kind", "add_department", "--payload",
                         node.file("join.json", json.dumps(joining)), "--deadline-in", 5, "--effective-in", 6)
    proposal = node.ok("proposal", "show", created["proposal_id"], "--json").json()["proposal"]
    assert proposal["status"] == "open" and proposal["payload"]["admins"][0]["public_key"] == "22" * 32
    assert proposal["payload"]["encryption_key"] == "33" * 32  # as `chainnode join` writes it: hex


def test_member_group(node: Node) -> None:
    clerk, successor = node.files / "clerk.key", node.files / "successor.key"
    crypto.write_key_file(clerk, crypto.PrivateKey.generate())
    crypto.write_key_file(successor, crypto.PrivateKey.generate())
    public = crypto.load_key_file(clerk).key.public_key.hex()
    done = node.write("member", "register", "--member-key", clerk, "--name", "Clerk Li", "--roles", "clerk,reviewer")
    assert done["roles"] == ["clerk", "reviewer"] and done["effective_height"] == done["height"] + 1
    line = node.ok("member", "set-roles", "--public-key", public, "--roles", "clerk", "--key", node.key).out
    assert line.startswith(f"member {public} of PSB given roles clerk, effective from height ")
    shown = node.ok("member", "show", "--member-key", clerk, "--json").json()
    assert shown["member"]["department"] == "PSB" and shown["member"]["name"] == "Clerk Li"
    assert [p[1] for p in shown["member"]["periods"]] == [["clerk", "reviewer"], ["clerk"]]
    roster = node.ok("member", "list", "--department", "PSB")
    assert "PSB officer" in roster.out
    rotated = node.write("member", "rotate", "--member-key", clerk, "--new-member-key", successor,
                         "--reason", "new card")
    assert rotated["roles"] == ["clerk"]
    revoked = node.ok("member", "revoke", "--member-key", successor, "--reason", "left", "--key", node.key)
    assert "revoked" in revoked.out
    later = node.ok("member", "show", "--member-key", clerk).out
    assert "rotated to" in later


def test_item_group(node: Node, item: str) -> None:
    shown = node.ok("item", "show", item)
    assert "identity (original) issued by PSB" in shown.out and "5 working days promised" in shown.out
    amended = node.write("item", "amend", node.file("item2.json", json.dumps({**ITEM, "promised_limit_days": 4})),
                         "--reason", "faster service")
    assert amended["version"] == 2
    assert node.ok("item", "show", item, "--version", 1, "--json").json()["item"]["promised_limit_days"] == 5
    assert node.ok("item", "show", item, "--json").json()["item"]["promised_limit_days"] == 4
    other = {**ITEM, "code": "PSB-OLD-001"}
    node.write("item", "publish", node.file("old.json", json.dumps(other)))
    retired = node.ok("item", "retire", "PSB-OLD-001", "--reason", "merged", "--key", node.key)
    assert retired.out.startswith("item PSB-OLD-001 version 1 retired (merged)")
    listed = node.ok("item", "list", "--department", "PSB").out
    assert item in listed and "retired" in listed


def test_material_group(node: Node, registries: list[int]) -> None:
    material_id = attest(node, "identity", "id card scan", HOLDER, "--valid-until", "2040-12-31")
    shown = node.ok("material", "show", material_id)
    assert f"material {material_id}: identity (original)  [valid as of height" in shown.out
    assert "to 2040-12-31 inclusive" in shown.out
    wrong = attest(node, "identity", "mistake", OTHER_HOLDER, "--form", "copy", "--valid-from", "2020-01-01")
    node.ok("material", "revoke", wrong, "--reason", "attested in error", "--key", node.key)
    again = node.ok("material", "show", wrong, "--json").json()
    assert again["status"] == "revoked" and again["material"]["revoked_reason"] == "attested in error"
    pending = node.ok("material", "attest", "--type", "address_proof", "--holder", OTHER_HOLDER, "--content-hash",
                      "cd" * 32, "--no-wait", "--key", node.key).out
    tx_id, new_id = pending.split()[2], pending.split("the new record is ")[1].split()[0]
    node.ok("tx", "status", tx_id, "--wait", 30)
    assert node.ok("material", "show", new_id, "--json").json()["material"]["material_type"] == "address_proof"


def test_case_and_cert_groups(node: Node, item: str) -> None:
    identity = attest(node, "identity", "case identity")
    filed = node.ok("case", "file", "--item", item, "--holder", HOLDER, "--material", identity, "--key", node.key)
    assert "RETURNED for correction" in filed.out and "address_proof (missing)" in filed.out
    case_id = filed.out.split()[1]
    address = attest(node, "address_proof", "lease")
    refiled = node.write("case", "resubmit", case_id, "--material", address)
    assert refiled["case"]["status"] == "accepted" and refiled["case"]["deadline_date"]
    node.ok("case", "review", case_id, "--opinion", "agree", "--comment", "complete", "--key", node.key)
    node.ok("case", "request-correction", case_id, "--problem", "address_proof:not signed", "--note", "sign it",
            "--key", node.key)
    lease = attest(node, "address_proof", "signed lease")
    assert node.write("case", "resubmit", case_id, "--material", lease)["case"]["status"] == "accepted"
    assert node.ok("case", "list", "--department", "PSB", "--status", "accepted").out.count(case_id) == 1
    supervision = node.ok("case", "overdue", "--department", "PSB", "--within-days", 30)
    assert case_id in supervision.out and "overdue (0)" in supervision.out
    head = int(node.ok("status", "--json").json()["height"])
    later = node.ok("case", "overdue", "--department", "PSB", "--within-days", 30, "--from-height", head, "--json")
    assert later.json()["open"] == 0 and later.json()["from_height"] == head  # the case was filed before
    period = node.ok("case", "overdue", "--department", "PSB", "--within-days", 30, "--from-height", 1)
    assert case_id in period.out and "cases filed from height 1" in period.out
    too_late = node.run("case", "overdue", "--department", "PSB", "--from-height", head + 1000, "--height", head)
    assert too_late.code == 1 and "from_height" in too_late.err
    officer = crypto.load_key_file(Path(node.key)).key.public_key.hex()  # holds approver and issuer
    decided = node.write("case", "decide", case_id, "--approve", "--reason", "conditions met",
                         "--cert-content", node.file("permit.pdf", b"%PDF permit"), "--valid-until", "2031-06-30",
                         "--issuer-officer", officer)
    cert_id = decided["cert_id"]
    shown = node.ok("case", "show", case_id)
    for text in ("[APPROVED as of height", "decision:     approve by PSB officer", f"certificate:  {cert_id}",
                 "request_correction", "time spent:"):
        assert text in shown.out, text
    cert = node.ok("cert", "show", cert_id)
    assert "[VALID as of height" in cert.out and "to 2031-06-30 inclusive" in cert.out
    assert f"from case {case_id}" in cert.out and "issued by:    PSB, officer PSB officer" in cert.out
    valid_height = decided["height"]
    node.ok("cert", "suspend", cert_id, "--reason", "inspection", "--key", node.key)
    assert node.ok("cert", "show", cert_id, "--json").json()["certificate"]["status"] == "suspended"
    node.ok("cert", "reinstate", cert_id, "--reason", "cleared", "--key", node.key)
    node.ok("cert", "renew", cert_id, "--valid-until", "2032-06-30", "--reason", "renewal", "--key", node.key)
    amended = node.write("cert", "amend", cert_id, "--content", node.file("permit2.pdf", b"%PDF v2"), "--reason", "fix")
    assert amended["events"][0]["attributes"]["version"] == 2
    node.ok("cert", "revoke", cert_id, "--reason", "fraud", "--key", node.key)
    assert "[REVOKED as of height" in node.ok("cert", "show", cert_id).out
    assert "[VALID as of height" in node.ok("cert", "show", cert_id, "--height", valid_height).out
    genesis = node.home / "genesis.json"  # a verifier's only trust: the verdicts, online and offline
    permit = node.file("permit-presented.pdf", b"%PDF v2")
    revoked = node.run("cert", "verify", cert_id, "--genesis", genesis, "--file", permit)
    assert revoked.code == 1 and "REVOKED: certificate" in revoked.out and "revoked: fraud" in revoked.out
    proof = node.files / "permit.proof"
    then = node.ok("cert", "verify", cert_id, "--genesis", genesis, "--height", valid_height, "--proof-out", proof)
    assert "VALID: certificate" in then.out and "roles at that height:" in then.out and "issuer" in then.out
    offline = node.run("cert", "verify", cert_id, "--genesis", genesis, "--proof", proof, "--file", permit)
    assert offline.code == 1 and "CONTENT DIFFERS" in offline.out  # v1's content, not the amended file
    assert node.ok("cert", "verify", cert_id, "--genesis", genesis, "--proof", proof, "--file",
                   node.file("permit-v1.pdf", b"%PDF permit")).out.count("the file IS this content") == 1
    raw = bytearray(proof.read_bytes())  # the compact binary bundle, as a QR code holds it
    raw[len(raw) // 2] ^= 1
    (node.files / "altered.proof").write_bytes(bytes(raw))
    altered = node.run("cert", "verify", cert_id, "--genesis", genesis, "--proof", node.files / "altered.proof")
    assert altered.code == 1 and "error: invalid_proof" in altered.err
    old_file = node.file("permit-v1.pdf", b"%PDF permit")
    superseded = node.run("cert", "verify", cert_id, "--genesis", genesis, "--file", old_file)
    assert superseded.code == 1 and "SUPERSEDED VERSION: certificate" in superseded.out, superseded.out
    assert "the file is version 1, superseded" in superseded.out and "revoked: fraud" in superseded.out
    qr, trust = node.files / "permit.png", node.files / "trust.json"
    node.ok("cert", "verify", cert_id, "--genesis", genesis, "--height", valid_height, "--qr", qr,
            "--trust-out", trust)
    scanned = node.ok("cert", "verify", cert_id, "--genesis", genesis, "--qr-image", qr, "--json").json()
    assert scanned["verdict"] == "VALID" and scanned["proof_bytes"] == len(proof.read_bytes())
    trusted = node.run("cert", "verify", cert_id, "--genesis", genesis, "--trust", trust)  # now, from that trust
    assert trusted.code == 1 and "REVOKED: certificate" in trusted.out
    assert f"against genesis {genesis} and trust file {trust} (height {valid_height})" in trusted.out
    absent = node.run("cert", "verify", "0" * 32, "--genesis", genesis)
    assert absent.code == 1 and "certificate_not_found" in absent.err and "proof of absence" in absent.err
    first = node.ok("cert", "show", cert_id, "--version", 1)
    assert "version 1 of 2, superseded at height" in first.out and "[REVOKED as of height" in first.out, first.out
    assert node.ok("cert", "show", cert_id, "--version", 1, "--json").json()["certificate"]["version"] == 1
    issued = node.write("cert", "issue", "--type", "residence_permit", "--holder", HOLDER, "--content-hash",
                        "ab" * 32, "--material", identity)
    assert node.ok("cert", "show", issued["cert_id"], "--json").json()["certificate"]["status"] == "valid"
    holder = node.ok("holder", "show", HOLDER).out
    assert case_id in holder and cert_id in holder and issued["cert_id"] in holder and identity in holder


def test_case_hand_over(node: Node, item: str) -> None:
    colleague = node.files / "colleague.key"
    crypto.write_key_file(colleague, crypto.PrivateKey.generate())
    node.write("member", "register", "--member-key", colleague, "--name", "Clerk Zhao", "--roles", "clerk")
    filed = node.write("case", "file", "--item", item, "--holder", OTHER_HOLDER)
    assert filed["case"]["status"] == "returned"
    handed = node.ok("case", "hand-over", filed["case_id"], "--to-key", colleague, "--reason", "shift change",
                     "--key", node.key)
    assert "handed over to" in handed.out
    assert "first-contact officer Clerk Zhao" in node.ok("case", "show", filed["case_id"]).out


def test_holder_ref_is_the_documented_rule(node: Node) -> None:
    salt = node.file("salt.bin", b"\x01" * 32)
    shown = run("holder", "ref", "--id", " 110101199003071234 ", "--salt-file", str(salt))
    expected = crypto.sha256(b"chainnode/v1/holder-ref\x00" + (32).to_bytes(4, "big") + b"\x01" * 32
                             + b"110101199003071234").hex()
    assert shown.code == 0 and shown.out.strip() == expected


# --- errors: one line, exit 2 for the caller's mistakes, exit 1 for a refusal -------------------------


def test_a_wrong_file_exits_2(node: Node, registries: list[int]) -> None:
    assert_error(node.run("item", "publish", node.files / "missing.json", "--key", node.key), 2, "file_unreadable")
    not_json = node.file("bad.json", "{not json")
    assert_error(node.run("item", "publish", not_json, "--key", node.key), 2, "file_invalid")
    assert_error(node.run("material", "attest", "--type", "identity", "--holder", HOLDER, "--content",
                          node.files / "nope.txt", "--key", node.key), 2, "file_unreadable")
    item = node.file("item-ok.json", json.dumps(ITEM))
    assert_error(node.run("item", "publish", item, "--key", node.files / "no.key"), 2, "key_file_missing")
    assert_error(run("holder", "ref", "--id", "x", "--salt-file", str(node.file("short", b"abc"))), 2, "usage")


def test_a_bad_argument_exits_2(node: Node) -> None:
    line = assert_error(node.run("material", "attest", "--type", "identity", "--holder", "xyz", "--content-hash",
                                 "00" * 32, "--key", node.key), 2, "usage")
    assert "64 hex digits" in line
    assert_error(node.run("case", "show", "not-an-id"), 2, "usage")
    assert_error(node.run("case", "overdue", "--department", "PSB", "--within-days", "-1"), 2, "usage")
    assert_error(node.run("case", "request-correction", "ab" * 16, "--problem", "no-colon", "--note", "n",
                          "--key", node.key), 2, "usage")
    assert_error(node.run("material", "attest", "--type", "identity", "--holder", HOLDER, "--content-hash", "00" * 32,
                          "--valid-until", "2030-02-30", "--key", node.key), 2, "usage")
    line = assert_error(node.run("proposal", "create", "--kind", "add_department", "--payload-json",
                                 '{"code": "HRSS", "node_key": "zz"}', "--deadline-in", 5, "--effective-in", 6,
                                 "--key", node.key), 2, "invalid_arguments")
    assert "payload.node_key" in line
    incomplete = node.file("incomplete.json", json.dumps({"code": "X-1", "name": "no materials"}))
    line = assert_error(node.run("item", "publish", incomplete, "--key", node.key), 2, "invalid_arguments")
    assert "missing" in line
    assert_error(node.run("case", "decide", "ab" * 16, "--approve", "--reason", "r", "--valid-until", "2031-01-01",
                          "--key", node.key), 2, "usage")
    assert_error(node.run("case", "decide", "ab" * 16, "--approve", "--reason", "r", "--issuer-officer", "ab" * 32,
                          "--key", node.key), 2, "usage")


def test_a_refused_call_exits_1(node: Node, item: str) -> None:
    line = assert_error(node.run("item", "retire", "NO-SUCH-ITEM", "--reason", "x", "--key", node.key), 1,
                        "item_not_found")
    assert "NO-SUCH-ITEM" in line and "height" in line
    assert_error(node.run("item", "publish", node.file("dup.json", json.dumps(ITEM)), "--key", node.key), 1,
                 "item_exists")
    assert_error(node.run("case", "show", "ab" * 16), 1, "not_found")
    assert "PSX" in assert_error(node.run("case", "overdue", "--department", "PSX"), 1, "not_found")
    assert "PSX" in assert_error(node.run("case", "list", "--department", "PSX"), 1, "not_found")
    assert_error(node.run("case", "review", "ab" * 16, "--opinion", "agree", "--comment", "c", "--key", node.key), 1,
                 "case_not_found")


def test_the_real_command_prints_one_error_line(node: Node, item: str) -> None:
    command = "import sys; from chainnode.cli import main; sys.exit(main())"
    result = subprocess.run([sys.executable, "-c", command, "cert", "revoke", "cd" * 16, "--reason", "x",
                             "--key", str(node.key), "--node", node.url], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: cert_not_found: there is no certificate cdcd"), result.stderr
