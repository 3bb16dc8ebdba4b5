"""The staff desk in a real Chromium against a real 4-node cluster, with the member key loaded in the page: a
plain and an encrypted key file open (a wrong passphrase is one clear error); a case filed from the page is
signed in the browser and commits, and the Python client finds it with the browser's key as its officer and
signer; a call the contract refuses shows the contract's code and message; an internal read without a key
shows "requires a member key", and with the key the department's cases and a case are read signed. Screenshots
at 1280x800 and 390x844 go to test-screenshots/."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chainnode import crypto
from chainnode.client import Client
from chainnode.demo import Office, Story
from tests.browser.conftest import DESKTOP, PHONE, shoot
from tests.browser.test_console import PageErrors
from tests.cluster import DEPARTMENTS, Cluster

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
    return Desk(cluster=cluster, url=cluster.urls[1], key=key, plain_key=plain, encrypted_key=encrypted,
                item_code=result.item_code, holder_ref=result.holder_ref, identity_id=result.identity_id)


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
