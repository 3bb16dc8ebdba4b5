"""The end-to-end story of an enterprise registration, run on a live network through the Python client.

Four departments take part: public security (PSB), market regulation (SAMR), civil affairs (CAB) and tax
(TAX). Governance registers the material types and the business-licence type by proposals that three of
the four departments approve, and publishes this year's working-day calendar; SAMR publishes the approval
item; PSB attests the applicant's identity; a first filing is returned listing the missing address
proof; CAB attests it; the refiled case is accepted with its deadline, reviewed and approved, which
issues a business licence; the licence is later revoked, and its status is read before and after. Then
official documents (chainnode.demo_documents): sent, delivered, opened, signed for, returned, withdrawn and
forwarded, and an auditor's trace with every opening.

`./scripts/demo` runs it on the devnet (`./scripts/devnet up`); `run_story` runs it on any network whose
officers' keys are given (the integration test uses a cluster started from Python). Each run uses a fresh
item code and applicant, and registers only what the network lacks, so it can be run again and again.
"""

from __future__ import annotations

import argparse
import datetime
import os
import secrets
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from chainnode import crypto
from chainnode.cli_records import compute_holder_ref, format_date_ms
from chainnode.client import Client
from chainnode.client_records import check_committed
from chainnode.codec import Value
from chainnode.config import HomeLayout, load_config
from chainnode.demo_documents import DocumentsResult, DocumentStory
from chainnode.errors import ChainError, ClientError
from chainnode.genesis import load_genesis
from contracts import calendar

DEPARTMENTS: Final = ("PSB", "SAMR", "CAB", "TAX")
VOTERS: Final = ("SAMR", "PSB", "CAB")
"""Three of four departments vote for each proposal: more than 2/3, so it passes; TAX does not vote."""
WAIT_S: Final = 60.0
CERT_TYPE: Final = "business_licence"
IDENTITY: Final = "identity"
ADDRESS_PROOF: Final = "address_proof"
EXIT_NOT_RUNNING: Final = 2


@dataclass
class Office:
    """One department's officer (every role) and the node it talks to."""

    department: str
    url: str
    key: crypto.PrivateKey
    client: Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = Client(self.url, timeout=30, key=self.key)  # an officer with every role signs its reads

    def call(self, contract: str, method: str, args: dict[str, Value]) -> dict[str, Any]:
        return self.client.call(self.key, contract, method, args, wait_s=WAIT_S)


@dataclass
class StoryResult:
    """What happened, for a test to check and a user to look up."""

    item_code: str = ""
    holder_ref: str = ""
    identity_id: str = ""
    address_id: str = ""
    case_id: str = ""
    first_status: str = ""
    first_problems: list[dict[str, Any]] = field(default_factory=list)
    refiled_status: str = ""
    deadline_date: str | None = None
    cert_id: str = ""
    issued_height: int = 0
    status_at_issue: str = ""
    revoked_height: int = 0
    status_before: str = ""
    status_after: str = ""
    proposals: list[int] = field(default_factory=list)
    documents: DocumentsResult | None = None


def events_of(status: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list((status.get("result") or {}).get("events") or [])


def attribute(status: Mapping[str, Any], name: str) -> Any:
    """The first event attribute called `name` in a committed call's result."""
    for event in events_of(status):
        if name in (event.get("attributes") or {}):
            return event["attributes"][name]
    raise ChainError(f"the committed call has no event attribute {name!r}")


def call_together(calls: Sequence[tuple[Office, str, str, dict[str, Value]]]) -> list[dict[str, Any]]:
    """Submit several calls at once (each to its office's node), then wait for each; raise on a refusal."""
    submitted = []
    for office, contract, method, args in calls:
        tx = office.client.build_tx(office.key, contract, method, args)
        submitted.append((office, office.client.submit(tx.raw)))
    return [check_committed(office.client.wait_committed(tx_id, WAIT_S), tx_id) for office, tx_id in submitted]


def _fixed_holidays(year: int) -> list[str]:
    """New Year's Day, Labour Day (1-3 May) and National Day (1-7 October): holidays on fixed dates."""
    dates = [(1, 1), (5, 1), (5, 2), (5, 3), *((10, d) for d in range(1, 8))]
    return [f"{year:04d}-{m:02d}-{d:02d}" for m, d in dates]


class Story:
    """The steps of the story, printing each through `say`."""

    def __init__(self, offices: Mapping[str, Office], say: Callable[[str], None], suffix: str) -> None:
        missing = [d for d in VOTERS if d not in offices]
        if missing:
            raise ChainError(f"the network has no officer for {', '.join(missing)}; the story needs "
                             f"{', '.join(DEPARTMENTS)} (TAX may be absent)")
        self.offices = offices
        self.say = say
        self.suffix = suffix
        self.samr = offices["SAMR"]
        self.result = StoryResult()
        self.offset = 0
        self.year = 0

    def step(self, title: str) -> None:
        self.say("")
        self.say(f"== {title}")

    # --- governance --------------------------------------------------------------------------------

    def missing_registries(self) -> list[tuple[str, dict[str, Value], str]]:
        """The proposals (kind, payload, title) this network still needs."""
        registries = self.samr.client.registries()
        self.offset = int(registries.get("utc_offset_minutes") or 0)
        # Before the first block there is no block time yet; the next block's time is about now.
        head_ms = int(self.samr.client.status().get("block_time_ms") or time.time() * 1000)
        year = self.year = datetime.date.fromordinal(calendar.date_of(head_ms, self.offset)).year
        material_types = {t.get("code") for t in registries.get("material_types") or []}
        cert_types = {t.get("code"): t for t in registries.get("cert_types") or []}
        needed: list[tuple[str, dict[str, Value], str]] = []
        for code, name in ((IDENTITY, "Identity document"), (ADDRESS_PROOF, "Proof of business address")):
            if code in material_types:
                self.say(f"  material type {code!r} is already registered")
            else:
                needed.append(("register_material_type", {"code": code, "name": name}, f"Material type {code}"))
        if "SAMR" in (cert_types.get(CERT_TYPE) or {}).get("issuers", []):
            self.say(f"  certificate type {CERT_TYPE!r} is already registered (issuers SAMR)")
        else:
            needed.append(("register_cert_type", {"code": CERT_TYPE, "name": "Business licence", "issuers": ["SAMR"],
                                                  "validity_days": 3650}, "Business licence, issued by SAMR"))
        if year in (registries.get("calendar_years") or []):
            self.say(f"  the {year} working-day calendar is already published")
        else:
            needed.append(("publish_calendar", {"year": year, "holidays": list(_fixed_holidays(year)),
                                                "workdays": []}, f"Working-day calendar {year}"))
        return needed

    def governance(self) -> None:
        self.step("1. Governance: registries by proposal (3 of 4 departments vote yes; TAX abstains)")
        needed = self.missing_registries()
        if not needed:
            return
        head = int(self.samr.client.status().get("height") or 0)
        # Votes commit at least two blocks after `head`, so a passed proposal applies in the block after its
        # passing vote, before the next step's transactions.
        created = call_together([(self.samr, "governance", "propose", {
            "kind": kind, "payload": payload, "title": title, "deadline_height": head + 1000,
            "effective_height": head + 3}) for kind, payload, title in needed])
        ids = [int(attribute(status, "id")) for status in created]
        for (kind, _, title), proposal_id, status in zip(needed, ids, created, strict=True):
            self.say(f"  SAMR proposed #{proposal_id} {kind}: {title} (height {status.get('height')})")
        votes = call_together([(self.offices[d], "governance", "vote", {"proposal_id": i, "approve": True})
                               for i in ids for d in VOTERS])
        passed = {int(e["attributes"]["id"]): e["attributes"]["apply_height"]
                  for status in votes for e in events_of(status) if e.get("kind") == "proposal.passed"}
        for proposal_id in ids:
            if proposal_id not in passed:
                raise ChainError(f"proposal {proposal_id} did not pass after the votes of {', '.join(VOTERS)}")
            self.say(f"  #{proposal_id}: {', '.join(VOTERS)} voted yes -> passed; in force from height "
                     f"{passed[proposal_id]}")
        self.result.proposals = ids

    # --- the catalogue, materials and the case -------------------------------------------------------

    def publish_item(self) -> None:
        self.step("2. SAMR publishes the approval item")
        code = f"SAMR-EST-{self.suffix}"
        status = self.samr.call("items", "publish", {
            "code": code, "name": "Enterprise establishment registration",
            "legal_basis": "Regulations on the Registration and Administration of Market Entities, art. 21",
            "kind": "licensing", "conditions": ["the legal representative is an adult with full civil capacity"],
            "materials": [
                {"material_type": IDENTITY, "issuers": ["PSB"], "form": "original", "optional": False},
                {"material_type": ADDRESS_PROOF, "issuers": ["CAB"], "form": "copy", "optional": False},
            ],
            "legal_limit_days": 15, "promised_limit_days": 3, "cert_type": CERT_TYPE, "parallel_departments": [],
        })
        self.result.item_code = code
        self.say(f"  item {code} 'Enterprise establishment registration' v1 at height {status.get('height')}")
        self.say("  requires: identity (issued by PSB, original), address proof (issued by CAB, copy); "
                 "produces a business licence; promised in 3 working days (legal limit 15)")

    def attest(self, department: str, material_type: str, form: str, text: str) -> str:
        office = self.offices[department]
        status = office.call("materials", "attest", {
            "material_type": material_type, "holder_ref": bytes.fromhex(self.result.holder_ref),
            "content_hash": crypto.compute_content_hash(text.encode()), "form": form})
        material_id = str(attribute(status, "material_id"))
        self.say(f"  {department} attested {material_type} ({form}): material {material_id} at height "
                 f"{status.get('height')}")
        return material_id

    def applicant(self) -> None:
        self.step("3. The applicant; PSB attests the identity material")
        applicant_id = f"110101{secrets.randbelow(10**12):012d}"
        salt = os.urandom(32)
        self.result.holder_ref = compute_holder_ref(salt, applicant_id).hex()
        self.say(f"  applicant ID {applicant_id} stays off chain; with the departments' salt it gives the "
                 f"holder reference {self.result.holder_ref}")
        self.result.identity_id = self.attest("PSB", IDENTITY, "original", f"identity card {applicant_id}")

    def case(self, step: str, status: dict[str, Any]) -> dict[str, Any]:
        case: dict[str, Any] = self.samr.client.case(self.result.case_id, height=status.get("height")).get("case") or {}
        self.say(f"  {step} at height {status.get('height')}: case {self.result.case_id} is {case.get('status')}")
        return case

    def file_case(self) -> None:
        self.step("4. SAMR files the case with the identity only")
        status = self.samr.call("cases", "file", {"item_code": self.result.item_code,
                                                  "holder_ref": bytes.fromhex(self.result.holder_ref),
                                                  "materials": [self.result.identity_id],
                                                  "note": "walk-in application at the service hall"})
        self.result.case_id = str(attribute(status, "case_id"))
        case = self.case("filed", status)
        self.result.first_status = str(case.get("status"))
        self.result.first_problems = list(case.get("problems") or [])
        for problem in self.result.first_problems:
            self.say(f"  one-time correction notice (补正): {problem.get('material_type')}: {problem.get('reason')}")

    def refile(self) -> None:
        self.step("5. CAB attests the address proof; SAMR refiles the case")
        self.result.address_id = self.attest("CAB", ADDRESS_PROOF, "original", f"lease of {self.suffix} premises")
        status = self.samr.call("cases", "resubmit", {"case_id": self.result.case_id,
                                                      "materials": [self.result.address_id]})
        case = self.case("resubmitted", status)
        self.result.refiled_status = str(case.get("status"))
        self.result.deadline_date = case.get("deadline_date")
        self.say(f"  first-contact officer: {case.get('officer_name')}; deadline {case.get('deadline_date')} "
                 f"(end of day, {case.get('working_days_left')} working day(s) left; legal deadline "
                 f"{case.get('legal_deadline_date')})")

    def decide(self) -> None:
        self.step("6. Review and decision: a business licence is issued")
        status = self.samr.call("cases", "review", {"case_id": self.result.case_id, "opinion": "agree",
                                                    "comment": "materials complete and consistent"})
        self.say(f"  reviewed (agree) at height {status.get('height')}")
        licence = f"Business licence: demo enterprise {self.suffix}, holder {self.result.holder_ref}"
        status = self.samr.call("cases", "decide", {
            "case_id": self.result.case_id, "decision": "approve", "reason": "all conditions met",
            "certificate": {"content_hash": crypto.compute_content_hash(licence.encode())}})
        self.result.cert_id = str(attribute(status, "certificate_id"))
        self.result.issued_height = int(status.get("height") or 0)
        self.say(f"  approved at height {self.result.issued_height}; certificate {self.result.cert_id} issued")

    def certificate_status(self, height: int | None = None) -> tuple[str, dict[str, Any]]:
        answer = self.samr.client.certificate(self.result.cert_id, height=height)
        cert: dict[str, Any] = answer.get("certificate") or {}
        return str(cert.get("status")), cert

    def certificate(self) -> None:
        self.step("7. The certificate")
        status, cert = self.certificate_status()
        self.result.status_at_issue = status
        until = cert.get("valid_until_ms")
        validity = "no end" if until is None else format_date_ms(int(until), self.offset, last_day=True)
        self.say(f"  {cert.get('cert_type')} {cert.get('cert_id')} issued by {cert.get('issuer')} "
                 f"({cert.get('issuer_officer_name')}) from case {cert.get('case_id')}")
        self.say(f"  valid until {validity}; status now: {status}")

    def revoke(self) -> None:
        self.step("8. Later, SAMR revokes the licence")
        status = self.samr.call("certificates", "revoke", {"cert_id": self.result.cert_id,
                                                           "reason": "registered with a false address (demo)"})
        self.result.revoked_height = int(status.get("height") or 0)
        self.say(f"  revoked at height {self.result.revoked_height}")
        self.result.status_before, _ = self.certificate_status(self.result.issued_height)
        self.result.status_after, _ = self.certificate_status()
        self.say(f"  status as of height {self.result.issued_height}: {self.result.status_before}")
        self.say(f"  status now: {self.result.status_after}")

    def run(self) -> StoryResult:
        self.governance()
        self.publish_item()
        self.applicant()
        self.file_case()
        self.refile()
        self.decide()
        self.certificate()
        self.revoke()
        if "TAX" in self.offices:
            self.result.documents = DocumentStory(self.offices, self.say, self.suffix, self.year).run()
        else:
            self.say("")
            self.say("== 9. (the documents story needs TAX's node; skipped)")
        return self.result


def run_story(offices: Mapping[str, Office], say: Callable[[str], None] = print,
              suffix: str | None = None) -> StoryResult:
    """Run the whole story; return what happened. Raises ChainError (ContractRefused, ClientError, ...)."""
    return Story(offices, say, suffix or secrets.token_hex(3)).run()


# --- the devnet ----------------------------------------------------------------------------------------


class NotRunning(ChainError):
    code = "devnet_not_running"


def load_devnet(root: Path) -> dict[str, Office]:
    """The officers of a devnet directory (node homes node0, node1, ...), by department.

    Raises NotRunning when there is no devnet there.
    """
    homes = sorted((p for p in root.glob("node*") if (p / "config.toml").is_file()), key=lambda p: p.name)
    if not homes:
        raise NotRunning(f"there is no devnet in {root}; start one with ./scripts/devnet up")
    genesis = load_genesis(HomeLayout(homes[0]).genesis)
    department_of = {m.public_key: d.code for d in genesis.departments for m in d.members}
    offices: dict[str, Office] = {}
    for home in homes:
        key = crypto.load_key_file(home / "keys" / "officer.key").key
        department = department_of.get(key.public_key)
        if department is not None:
            url = "http://" + load_config(HomeLayout(home).config).api_listen
            offices[department] = Office(department, url, key)
    return offices


def check_running(offices: Mapping[str, Office]) -> None:
    """Raises NotRunning naming the first node of PSB, SAMR or CAB that does not answer."""
    for office in (o for d, o in offices.items() if d in VOTERS):
        try:
            office.client.status()
        except ClientError as exc:
            raise NotRunning(f"the devnet is not running ({office.department}'s node at {office.url} does not "
                             f"answer); start it with ./scripts/devnet up") from exc


def print_epilogue(result: StoryResult, url: str, devnet: Path = Path(".devnet")) -> None:
    key, genesis = devnet / "node1" / "keys" / "officer.key", devnet / "node1" / "genesis.json"
    print("")
    print("== Look it up with the CLI (cases and holders are internal records: --key signs the read):")
    print(f"  .venv/bin/chainnode case show {result.case_id} --key {key} --node {url}")
    print(f"  .venv/bin/chainnode cert show {result.cert_id} --height {result.issued_height} --node {url}"
          f"   # {result.status_before} then")
    print(f"  .venv/bin/chainnode cert show {result.cert_id} --node {url}   # {result.status_after} now")
    print(f"  .venv/bin/chainnode holder show {result.holder_ref} --key {key} --node {url}")
    if result.documents is not None:
        notice = result.documents.notice_id
        print(f"  .venv/bin/chainnode doc show {notice} --key {key} --node {url}")
        print(f"  .venv/bin/chainnode doc history {notice} --genesis {genesis} --key {key} --node {url}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="demo", description="Run the enterprise-registration story on the devnet.")
    parser.add_argument("--devnet", type=Path, default=Path(os.environ.get("DEVNET_DIR", ".devnet")), metavar="DIR",
                        help="the devnet directory (default: .devnet)")
    args = parser.parse_args(argv)
    offices: dict[str, Office] = {}
    try:
        offices = load_devnet(args.devnet)
        check_running(offices)
        nodes = ", ".join(f"{d} {o.url}" for d, o in offices.items())
        print(f"demo: the story on the devnet in {args.devnet} ({nodes})")
        result = run_story(offices)
        print_epilogue(result, offices["SAMR"].url, args.devnet)
        return 0
    except NotRunning as exc:
        print(f"demo: {exc.message}", file=sys.stderr)
        return EXIT_NOT_RUNNING
    except ChainError as exc:
        print(f"demo: error: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    finally:
        for office in offices.values():
            office.client.close()


if __name__ == "__main__":
    sys.exit(main())
