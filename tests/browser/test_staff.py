"""The staff desk in a real Chromium against a real 4-node cluster, with the member key loaded in the page: a
plain and an encrypted key file open (a wrong passphrase is one clear error); a case filed from the page is
signed in the browser and commits, and the Python client finds it with the browser's key as its officer and
signer; a call the contract refuses shows the contract's code and message; an internal read without a key
shows "requires a member key", and with the key the department's cases and a case are read signed. A case is
taken from the case view through correction requested, resubmitted, reviewed and approved with the
certificate's validity, entries and issuing officer, each step offered by the case's state and committed; an
admin registers a member on the roster and that member's key, which is no admin, is refused the same form
with the contract's code. Screenshots at 1280x800 and 390x844 go to test-screenshots/."""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chainnode import codec, crypto
from chainnode.client import Client
from chainnode.demo import ADDRESS_PROOF, Office, Story, attribute
from tests.browser.conftest import DESKTOP, PHONE, shoot
from tests.browser.test_console import PageErrors
from tests.cluster import DEPARTMENTS, Cluster
from tests.unit.test_web_member import NODE, run_js

PASSPHRASE = "correct horse battery staple 办件"


@dataclass
class Desk:
    cluster: Cluster
    url: str
    key: crypto.PrivateKey
    plain_key: Path
    encrypted_key: Path
    item_code: str
    holder_ref: str
    identity_id: str
    address_ids: tuple[str, str]
    accepted_case: str
    new_member: crypto.PrivateKey
    new_member_key: Path


def prepare(cluster: Cluster, root: Path) -> Desk:
    """Registries by proposal, SAMR's approval item and a PSB identity material; SAMR's officer key written as a
    plain and as an encrypted key file."""
    offices = {code: Office(code, url, key) for (code, _), url, key in
               zip(DEPARTMENTS[:4], cluster.urls, cluster.keys, strict=True)}
    try:
        story = Story(offices, lambda line: None, "staff")
        story.governance()
        story.publish_item()
        story.applicant()
        result = story.result
        # Two address proofs from CAB: one for an accepted case, one to answer its correction request.
        addresses = (story.attest("CAB", ADDRESS_PROOF, "original", "lease of the premises"),
                     story.attest("CAB", ADDRESS_PROOF, "original", "lease of the premises, signed on every page"))
        filed = offices["SAMR"].call("cases", "file", {
            "item_code": result.item_code, "holder_ref": bytes.fromhex(result.holder_ref),
            "materials": [result.identity_id, addresses[0]], "note": "complete at the counter"})
        accepted_case = str(attribute(filed, "case_id"))
    finally:
        for office in offices.values():
            office.client.close()
    key = offices["SAMR"].key
    plain = root / "samr-officer.key"
    crypto.write_key_file(plain, key, label="SAMR clerk (browser)")
    encrypted = root / "samr-officer-encrypted.key"
    document = crypto.encrypt_key_document(crypto.read_key_document(plain), PASSPHRASE.encode(),
                                           crypto.KDF_PROFILES["interactive"])
    crypto.write_key_document(encrypted, document)
    new_member = crypto.PrivateKey(bytes(range(32)))
    new_member_key = root / "samr-new-clerk.key"
    crypto.write_key_file(new_member_key, new_member, label="SAMR new clerk")
    return Desk(cluster=cluster, url=cluster.urls[1], key=key, plain_key=plain, encrypted_key=encrypted,
                item_code=result.item_code, holder_ref=result.holder_ref, identity_id=result.identity_id,
                address_ids=addresses, accepted_case=accepted_case, new_member=new_member,
                new_member_key=new_member_key)


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    root = tmp_path_factory.mktemp("staff")
    cluster = Cluster(root / "c")
    cluster.start_all()
    try:
        with ThreadPoolExecutor(1) as pool:
            yield pool.submit(prepare, cluster, root).result()
    finally:
        cluster.stop_all()


def open_desk(browser: Any, desk: Desk, viewport: dict[str, int], locale: str = "zh-CN") -> tuple[Any, Any, PageErrors]:
    context = browser.new_context(viewport=viewport, locale=locale)
    page = context.new_page()
    errors = PageErrors(page)
    started = time.perf_counter()
    page.goto(f"{desk.url}/console/staff.html")
    page.wait_for_selector("html[data-ready='1']")
    print(f"staff page load at {viewport['width']} px: {(time.perf_counter() - started) * 1000:.0f} ms")
    return context, page, errors


def load_plain_key(page: Any, desk: Desk) -> None:
    page.set_input_files("#member-file", str(desk.plain_key))
    page.wait_for_selector("#member-info[data-department='SAMR']")


def in_thread(fn: Any, *args: Any) -> Any:
    """The Python client runs its own event loop: off Playwright's thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args).result()


def test_an_unsigned_internal_read_shows_that_it_requires_a_member_key(desk: Desk, browser: Any) -> None:
    context, page, errors = open_desk(browser, desk, DESKTOP)
    try:
        assert page.is_visible("#need-key")
        page.fill("#cases-department", "SAMR")
        page.click("#cases-load")
        message = page.wait_for_selector("#cases-message[data-code='signature_required']")
        assert "需要成员密钥" in message.inner_text()
        page.click("#lang-switch")
        page.click("#cases-load")
        page.wait_for_selector("#cases-message[data-code='signature_required']")
        assert "Requires a member key" in page.inner_text("#cases-message")
        shoot(page, "staff-no-key-desktop")
        assert errors.errors == [] or all("401" in e for e in errors.errors)
    finally:
        context.close()


def test_a_wrong_passphrase_is_a_clear_error_and_the_right_one_opens_the_key(desk: Desk, browser: Any) -> None:
    context, page, errors = open_desk(browser, desk, DESKTOP)
    try:
        page.set_input_files("#member-file", str(desk.encrypted_key))
        page.wait_for_selector("#member-passphrase")
        page.fill("#member-passphrase", "not the passphrase")
        page.click("#member-open")
        error = page.wait_for_selector("#member-error:not([hidden])", timeout=30_000)
        assert "口令错误" in error.inner_text()
        assert page.input_value("#member-passphrase") == ""
        shoot(page, "staff-wrong-passphrase-desktop")
        page.fill("#member-passphrase", PASSPHRASE)
        started = time.perf_counter()
        page.click("#member-open")
        page.wait_for_selector("#member-info[data-department='SAMR']", timeout=30_000)
        took_ms = (time.perf_counter() - started) * 1000
        print(f"encrypted key (Argon2id 2 x 64 MiB) opened in Chromium in {took_ms:.0f} ms")
        assert page.get_attribute("#member-info", "data-public-key") == desk.key.public_key.hex()
        assert "clerk" in page.inner_text("#member-detail")
        # nothing of the secret is kept in the page's storage
        storage = page.evaluate("() => JSON.stringify({...sessionStorage, ...localStorage})")
        assert desk.key.seed.hex() not in storage and PASSPHRASE not in storage
        page.click("#member-unload")
        page.wait_for_selector("#member-file")
        assert page.is_visible("#need-key")
        assert errors.errors == []
    finally:
        context.close()


def test_a_case_filed_in_the_page_is_signed_in_the_browser_and_commits(desk: Desk, browser: Any) -> None:
    context, page, errors = open_desk(browser, desk, DESKTOP)
    try:
        load_plain_key(page, desk)
        page.click("#task-file")
        page.fill("#f-item_code", desk.item_code)
        page.fill("#f-holder_ref", desk.holder_ref)
        page.fill("#f-materials", desk.identity_id)
        page.fill("#f-note", "walk-in application, filed in the web console")
        requests: list[Any] = []
        sent: list[Any] = []
        page.on("request", lambda r: requests.append(r) if r.url.endswith("/v1/txs") else None)
        page.on("request", lambda r: sent.append(r))
        page.click("#sign-submit")
        page.wait_for_selector("#tx-result[data-status='committed']", timeout=60_000)
        assert page.get_attribute("#tx-result", "data-code") == "ok"
        tx_id = page.get_attribute("#tx-result", "data-tx-id")
        assert tx_id and len(tx_id) == 64
        # what left the browser is the signed transaction's bytes, nothing else
        [posted] = requests
        assert posted.headers["content-type"] == "application/msgpack"
        case_id = page.inner_text("[data-record='case_id']").split()[1]
        shoot(page, "staff-filed-desktop")

        def check() -> None:
            with Client(desk.url, timeout=30, key=desk.key) as client:
                status = client.tx_status(tx_id)
                assert status["status"] == "committed" and status["result"]["code"] == "ok"
                block = client.block(int(status["height"]))
                [listed] = [t for t in block["txs"] if t["tx_id"] == tx_id]
                assert listed["signer"] == desk.key.public_key.hex()
                case = client.case(case_id)["case"]
                assert case["officer"] == desk.key.public_key.hex()
                assert case["item_code"] == desk.item_code and case["holder_ref"] == desk.holder_ref

        in_thread(check)
        # the department's cases and the case, read with signed requests
        page.click("#open-filed-case")
        page.wait_for_selector(f"#case-detail[data-case-id='{case_id}']")
        page.click("#cases-load")
        page.wait_for_selector(f"#cases-table tr[data-case-id='{case_id}']")
        shoot(page, "staff-cases-desktop")
        # the reads were signed by the browser's key; nothing sent carries the seed
        signed = [r for r in sent if r.url.split("/v1/")[-1].startswith("cases")]
        assert signed and all(r.headers.get("authorization", "").startswith(
            f"Chainnode-Signed key={desk.key.public_key.hex()}, ") for r in signed)
        assert all(desk.key.seed.hex() not in (r.post_data or "") + r.url + json.dumps(r.headers) for r in sent)
        # the key lives in the page only: a reload forgets it and names the file to choose again
        page.reload()
        page.wait_for_selector("html[data-ready='1']")
        assert page.is_visible("#member-file") and page.is_visible("#need-key")
        assert desk.key.public_key.hex()[:8] in page.inner_text("#member-panel")
        assert errors.errors == []
    finally:
        context.close()


def test_a_refused_call_shows_the_contracts_code_and_forms_check_before_signing(desk: Desk, browser: Any) -> None:
    context, page, errors = open_desk(browser, desk, PHONE)
    try:
        load_plain_key(page, desk)
        page.click("#task-decide")
        page.fill("#f-case_id", "not a case")
        page.click("#sign-submit")
        assert page.inner_text("#f-case_id-error") != ""
        assert page.inner_text("#f-reason-error") != ""
        assert page.is_hidden("#tx-result")
        page.fill("#f-case_id", "0123456789abcdef0123456789abcdef")
        page.fill("#f-reason", "all conditions met")
        page.click("#sign-submit")
        page.wait_for_selector("#tx-result[data-status='committed']", timeout=60_000)
        code = page.get_attribute("#tx-result", "data-code")
        assert code not in (None, "", "ok")
        assert page.inner_text("#tx-code") == code
        assert page.inner_text("#tx-message") != ""
        shoot(page, "staff-refused-phone")
        page.click("#task-file")
        shoot(page, "staff-file-phone")
        assert errors.errors == []
    finally:
        context.close()


def test_the_key_file_is_refused_when_it_is_not_a_key(desk: Desk, browser: Any, tmp_path: Path) -> None:
    context, page, _ = open_desk(browser, desk, PHONE, locale="en-US")
    try:
        other = tmp_path / "not-a-key.json"
        other.write_text(json.dumps({"kind": "chainnode-encryption-key", "public_key": "00" * 32}))
        page.set_input_files("#member-file", str(other))
        assert "Not a member's signing key" in page.wait_for_selector("#member-error:not([hidden])").inner_text()
        load_plain_key(page, desk)
        shoot(page, "staff-key-loaded-phone")
    finally:
        context.close()


FINAL = "['committed', 'refused', 'rejected', 'pending'].includes(r.dataset.status)"


def sign_and_wait(page: Any) -> tuple[str, str]:
    """Submit the open form and wait for this call's fate (a new transaction ID, or an error): (status, code)."""
    before = page.get_attribute("#tx-result", "data-tx-id") or ""
    page.click("#sign-submit")
    page.wait_for_function(
        "(before) => { const r = document.getElementById('tx-result'); return !r.hidden && (r.dataset.status === "
        f"'error' || (r.dataset.txId && r.dataset.txId !== before && {FINAL})); }}",
        arg=before, timeout=60_000)
    return page.get_attribute("#tx-result", "data-status") or "", page.get_attribute("#tx-result", "data-code") or ""


def utc_date(days_from_today: int) -> str:
    return (datetime.datetime.now(datetime.UTC).date() + datetime.timedelta(days=days_from_today)).isoformat()


def test_a_case_goes_from_correction_to_a_certificate_with_the_steps_its_state_offers(desk: Desk, browser: Any) -> None:
    context, page, errors = open_desk(browser, desk, DESKTOP)
    case_id = desk.accepted_case
    try:
        load_plain_key(page, desk)
        page.fill("#case-id-input", case_id)
        page.click("#case-open")
        page.wait_for_selector(f"#case-detail[data-case-id='{case_id}'][data-status='accepted']")
        # an accepted case offers correction, review, opinion, hand-over and decision; not resubmission
        offered = page.eval_on_selector_all("#case-actions button", "bs => bs.map(b => b.dataset.task)")
        assert offered == ["request_correction", "review", "opinion", "hand_over", "decide"]
        shoot(page, "staff-case-actions-desktop")
        # 1. correction requested: the form opens with the case's ID filled in
        page.click("#case-act-request_correction")
        assert page.input_value("#f-case_id") == case_id
        page.fill("#f-problems", "address_proof：租赁合同缺签字页")
        page.click("#sign-submit")
        assert page.inner_text("#f-note-error") != "" and page.is_visible("#tx-result") is False
        page.fill("#f-note", "请补交每页均已签字的租赁合同")
        assert sign_and_wait(page) == ("committed", "ok")
        assert page.inner_text("#tx-explain") != ""
        page.wait_for_selector("#case-detail[data-status='returned'] #case-act-resubmit")
        assert "租赁合同缺签字页" in page.inner_text("#case-problems")
        shoot(page, "staff-correction-requested-desktop")
        # 2. resubmitted with the signed lease: accepted again
        page.click("#case-act-resubmit")
        page.fill("#f-materials", desk.address_ids[1])
        assert sign_and_wait(page) == ("committed", "ok")
        page.wait_for_selector("#case-detail[data-status='accepted'] #case-act-review")
        # 3. reviewed
        page.click("#case-act-review")
        page.check("#f-opinion input[value='agree']")
        page.fill("#f-comment", "材料齐全，内容一致")
        assert sign_and_wait(page) == ("committed", "ok")
        page.wait_for_selector("#case-detail[data-steps='4']")
        # 4. decided, the certificate with its validity, entries and issuing officer
        page.click("#case-act-decide")
        page.fill("#f-reason", "符合登记条件")
        page.fill("#f-certificate_hash", "5a" * 32)
        page.fill("#f-cert_valid_from_ms", utc_date(0))
        page.fill("#f-cert_valid_until_ms", utc_date(3 * 365))
        page.fill("#f-cert_metadata", "企业名称 = 示例商贸有限公司\nlegal_representative = Wang Fang")
        # the department's keys are suggested where a member is named
        assert page.get_attribute("#f-issuer_officer", "list") == "roster-keys"
        suggested = page.eval_on_selector_all("#roster-keys option", "os => os.map(o => o.value)")
        assert desk.key.public_key.hex() in suggested
        page.fill("#f-issuer_officer", desk.key.public_key.hex())
        page.click("#sign-submit")
        assert page.inner_text("#f-cert_valid_from_ms-error") != ""  # a start already begun: refused before signing
        page.fill("#f-cert_valid_from_ms", utc_date(1))
        shoot(page, "staff-decide-certificate-desktop")
        assert sign_and_wait(page) == ("committed", "ok")
        page.wait_for_selector("#case-detail[data-status='approved'] #case-act-status")
        cert_id = page.inner_text("#case-detail dd[data-field='certificate_id']")
        assert cert_id == page.inner_text("[data-record='cert_id']").split()[1]
        shoot(page, "staff-case-approved-desktop")

        def check() -> None:
            with Client(desk.url, timeout=30, key=desk.key) as client:
                case = client.case(case_id)["case"]
                assert case["status"] == "approved" and case["certificate_id"] == cert_id
                kinds = ["file", "request_correction", "resubmit", "review", "decide"]
                assert [s["kind"] for s in case["steps"]] == kinds
                assert all(s["signer"] == desk.key.public_key.hex() for s in case["steps"])
                problem = {"material_type": "address_proof", "reason": "租赁合同缺签字页"}
                assert case["steps"][1]["problems"] == [problem]
                cert = client.certificate(cert_id)["certificate"]
                start = datetime.datetime.fromisoformat(utc_date(1)).replace(tzinfo=datetime.UTC)
                end = datetime.datetime.fromisoformat(utc_date(3 * 365)).replace(tzinfo=datetime.UTC)
                assert cert["valid_from_ms"] == int(start.timestamp() * 1000)
                assert cert["valid_until_ms"] == int(end.timestamp() * 1000)
                assert cert["metadata"] == {"legal_representative": "Wang Fang", "企业名称": "示例商贸有限公司"}
                assert cert["content_hash"] == "5a" * 32 and cert["case_id"] == case_id
                assert cert["issuer_officer"] == desk.key.public_key.hex()

        in_thread(check)
        assert errors.errors == []
    finally:
        context.close()


def test_an_admin_changes_the_roster_and_a_key_without_the_role_is_refused_by_the_contract(desk: Desk,
                                                                                          browser: Any) -> None:
    context, page, errors = open_desk(browser, desk, PHONE)
    new_key = desk.new_member.public_key.hex()
    try:
        load_plain_key(page, desk)
        page.click("#group-roster")
        page.click("#task-member_register")
        page.fill("#f-public_key", new_key)
        page.fill("#f-name", "窗口 李明")
        page.click("#sign-submit")
        assert page.inner_text("#f-roles-error") != ""  # no role ticked: said in place, nothing signed
        page.check("#f-roles input[value='clerk']")
        shoot(page, "staff-roster-phone")
        assert sign_and_wait(page) == ("committed", "ok")
        registered_at = int(page.inner_text("#tx-height"))
        # a second change, to take effect after the registration: clerk and reviewer
        page.click("#task-member_roles")
        page.fill("#f-public_key", new_key)
        page.check("#f-roles input[value='clerk']")
        page.check("#f-roles input[value='reviewer']")
        assert sign_and_wait(page) == ("committed", "ok")
        changed_at = int(page.inner_text("#tx-height"))
        assert changed_at > registered_at

        def registered() -> None:
            with Client(desk.url, timeout=30, key=desk.key) as client:
                answer = client.member(new_key, height=changed_at)
                assert answer["member"]["department"] == "SAMR" and answer["member"]["name"] == "窗口 李明"
                periods = [[registered_at + 1, ["clerk"]], [changed_at + 1, ["clerk", "reviewer"]]]
                assert answer["member"]["periods"] == periods
                assert answer["roles"] == ["clerk"]

        in_thread(registered)
        # the new clerk's key, in the same page: the same form is refused by the contract, with its code
        page.click("#member-unload")
        page.set_input_files("#member-file", str(desk.new_member_key))
        page.wait_for_selector("#member-info[data-department='SAMR']")
        page.click("#group-roster")
        page.click("#task-member_register")
        page.fill("#f-public_key", "7e" * 32)
        page.fill("#f-name", "someone")
        page.check("#f-roles input[value='admin']")
        assert sign_and_wait(page) == ("committed", "role_required")
        assert page.inner_text("#tx-code") == "role_required"
        assert "角色" in page.inner_text("#tx-explain") and page.inner_text("#tx-message") != ""
        assert "✗" in page.inner_text("#tx-verdict")
        shoot(page, "staff-roster-refused-phone")
        # the other groups, as a phone shows them
        page.click("#group-items")
        assert page.eval_on_selector_all("#tasks button", "bs => bs.length") == 3
        shoot(page, "staff-items-phone")
        page.click("#group-certificates")
        shoot(page, "staff-certificates-phone")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], width
        assert errors.errors == []
    finally:
        context.close()


def test_the_task_groups_at_desktop_width(desk: Desk, browser: Any) -> None:
    context, page, errors = open_desk(browser, desk, DESKTOP, locale="en-US")
    try:
        load_plain_key(page, desk)
        counts = {}
        for group in ("cases", "materials", "certificates", "items", "roster"):
            page.click(f"#group-{group}")
            counts[group] = page.eval_on_selector_all("#tasks button", "bs => bs.length")
        assert counts == {"cases": 7, "materials": 2, "certificates": 4, "items": 3, "roster": 5}
        page.click("#group-items")
        page.click("#task-item_publish")
        page.fill("#f-materials", "identity original PSB\nlease photocopy")
        page.fill("#f-legal_limit_days", "10")
        page.fill("#f-promised_limit_days", "12")
        page.click("#sign-submit")
        assert "line 2" in page.inner_text("#f-materials-error")
        assert page.inner_text("#f-promised_limit_days-error") != ""
        shoot(page, "staff-items-desktop")
        # switching the language redraws the form with what was typed
        page.click("#lang-switch")
        assert page.inner_text("#task-item_publish") == "发布事项"
        assert page.input_value("#f-legal_limit_days") == "10"
        assert page.is_checked("#f-kind input[value='licensing']")
        # an amendment starts from the definition in force, read from the node
        page.click("#task-item_amend")
        page.fill("#f-code", desk.item_code)
        page.click("#item-load")
        page.wait_for_function("() => document.getElementById('f-promised_limit_days').value === '3'")
        assert page.input_value("#f-materials").splitlines() == ["identity original PSB", "address_proof copy CAB"]
        page.fill("#f-promised_limit_days", "2")
        page.fill("#f-reason", "faster processing")
        assert sign_and_wait(page) == ("committed", "ok")

        def amended() -> None:
            with Client(desk.url, timeout=30) as client:
                item = client.item(desk.item_code)["item"]
                assert item["version"] == 2 and item["promised_limit_days"] == 2 and item["legal_limit_days"] == 15

        in_thread(amended)
        page.click("#group-roster")
        shoot(page, "staff-roster-desktop")
        assert errors.errors == []
    finally:
        context.close()


HOLDER = "ab" * 32
OTHER_KEY = "cd" * 32
RECORD = "0123456789abcdef0123456789abcdef"
DEFINITION = {"code": "SAMR-9", "name": "n", "legal_basis": "art. 1", "department": "", "kind": "other",
              "conditions": "adult\nresident", "materials": "identity original PSB\nlease copy optional CAB TAX",
              "legal_limit_days": "15", "promised_limit_days": "3", "cert_type": "",
              "parallel_departments": "TAX, HRSS"}
NEW_FORMS: list[tuple[str, dict[str, Any], str]] = [
    ("resubmit", {"case_id": RECORD, "materials": RECORD, "note": ""}, "cases"),
    ("request_correction", {"case_id": RECORD, "problems": "address_proof：缺签字页\nlease: missing", "note": "补正"},
     "cases"),
    ("review", {"case_id": RECORD, "opinion": "note", "comment": "ok"}, "cases"),
    ("opinion", {"case_id": RECORD, "opinion": "disagree", "comment": "tax arrears"}, "cases"),
    ("hand_over", {"case_id": RECORD, "to": HOLDER, "reason": "on leave"}, "cases"),
    ("decide", {"case_id": RECORD, "decision": "approve", "reason": "ok", "certificate_hash": HOLDER,
                "cert_valid_from_ms": "2026-01-01", "cert_valid_until_ms": "2036-01-01",
                "cert_metadata": "企业名称 = 某某公司\nlegal_rep=Wang", "issuer_officer": OTHER_KEY}, "cases"),
    ("material_revoke", {"material_id": RECORD, "reason": "forged"}, "materials"),
    ("cert_amend", {"cert_id": RECORD, "content_hash": HOLDER, "reason": "moved", "valid_until_ms": "2040-01-01"},
     "certificates"),
    ("cert_renew", {"cert_id": RECORD, "valid_until_ms": "2040-01-01", "reason": "renewed"}, "certificates"),
    ("item_publish", DEFINITION, "items"),
    ("item_amend", {**DEFINITION, "department": "SAMR", "materials": "", "parallel_departments": "",
                    "cert_type": "business_licence", "reason": "faster"}, "items"),
    ("item_retire", {"code": "SAMR-9", "reason": "merged"}, "items"),
    ("member_register", {"public_key": HOLDER, "name": "Clerk Li", "roles": ["clerk", "reviewer"]}, "governance"),
    ("member_roles", {"public_key": HOLDER, "roles": ["issuer"], "effective_height": "120"}, "governance"),
    ("member_rotate", {"public_key": HOLDER, "new_public_key": OTHER_KEY, "reason": ""}, "governance"),
    ("member_revoke", {"public_key": HOLDER, "reason": "left"}, "governance"),
    ("encryption_key", {"public_key": HOLDER, "effective_height": ""}, "governance"),
]
BAD_FORMS: list[tuple[str, dict[str, Any], str]] = [
    ("resubmit", {"case_id": RECORD, "materials": ""}, "materials"),
    ("request_correction", {"case_id": RECORD, "problems": "no colon here", "note": "x"}, "problems"),
    ("request_correction", {"case_id": RECORD, "problems": f"a: {'x' * 257}", "note": "x"}, "problems"),
    ("request_correction", {"case_id": RECORD, "problems": "a: b", "note": ""}, "note"),
    ("review", {"case_id": RECORD, "opinion": "maybe", "comment": "x"}, "opinion"),
    ("decide", {"case_id": RECORD, "decision": "approve", "reason": "x", "cert_metadata": "a=b"}, "certificate_hash"),
    ("decide", {"case_id": RECORD, "decision": "deny", "reason": "x", "issuer_officer": HOLDER}, "issuer_officer"),
    ("decide", {"case_id": RECORD, "decision": "approve", "reason": "x", "certificate_hash": HOLDER,
                "cert_metadata": "a=1\na=2"}, "cert_metadata"),
    ("decide", {"case_id": RECORD, "decision": "approve", "reason": "x", "certificate_hash": HOLDER,
                "cert_metadata": "\n".join(f"k{i}=v" for i in range(17))}, "cert_metadata"),
    ("decide", {"case_id": RECORD, "decision": "approve", "reason": "x", "certificate_hash": HOLDER,
                "cert_valid_from_ms": "2030-01-01", "cert_valid_until_ms": "2029-01-01"}, "cert_valid_until_ms"),
    ("item_publish", {**DEFINITION, "materials": "id copy psb"}, "materials"),
    ("item_publish", {**DEFINITION, "materials": "id copy\nid original"}, "materials"),
    ("item_publish", {**DEFINITION, "promised_limit_days": "16"}, "promised_limit_days"),
    ("item_publish", {**DEFINITION, "department": "TAX"}, "parallel_departments"),
    ("item_publish", {**DEFINITION, "legal_limit_days": "0"}, "legal_limit_days"),
    ("item_publish", {**DEFINITION, "parallel_departments": "tax"}, "parallel_departments"),
    ("member_register", {"public_key": HOLDER, "name": "x", "roles": []}, "roles"),
    ("member_register", {"public_key": HOLDER, "name": "x", "roles": ["root"]}, "roles"),
    ("member_rotate", {"public_key": HOLDER, "new_public_key": HOLDER}, "new_public_key"),
    ("member_roles", {"public_key": HOLDER, "roles": ["clerk"], "effective_height": "-1"}, "effective_height"),
    ("cert_renew", {"cert_id": RECORD, "valid_until_ms": "", "reason": "x"}, "valid_until_ms"),
]


@pytest.mark.skipif(NODE is None, reason="node is not installed: the desk's forms are not cross-checked")
def test_the_new_tasks_give_arguments_the_contracts_parse_and_refuse_bad_values_before_signing() -> None:
    from contracts.registry import REGISTRY

    results = run_js([{"op": "call", "task": task, "values": values} for task, values, _ in NEW_FORMS])
    for (task, _, contract), result in zip(NEW_FORMS, results, strict=True):
        assert result["ok"] and "errors" not in result, (task, result)
        REGISTRY[contract][result["method"]].parse(codec.decode(bytes.fromhex(result["args"]), max_size=1 << 16))
    results = run_js([{"op": "call", "task": task, "values": values} for task, values, _ in BAD_FORMS])
    for (task, values, field), result in zip(BAD_FORMS, results, strict=True):
        assert result["ok"] and field in result.get("errors", {}), (task, values, result)
