"""The explorer's transaction page, heights and paging back, in a real Chromium against a real 4-node cluster:
a transaction shows its result code without a key and its arguments and events only with a member key loaded
in the page (the reads carry the signed header; a key the node refuses is told which key it needs); the
validators as of height 1 are the genesis set; "older blocks" pages back to block 1. Screenshots at 1280x800
and 390x844 go to test-screenshots/."""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chainnode import crypto
from tests.browser.conftest import DESKTOP, PHONE, shoot
from tests.browser.test_console import PageErrors
from tests.cluster import DEPARTMENTS, Cluster
from tests.nodeproc import http_json

LABEL = "explorer-tx-page"


@dataclass
class Chain:
    cluster: Cluster
    tx_id: str
    height: int
    signer_key: Path
    other_key: Path


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    """Four departments; an anchor signed by node 1's officer, committed; that officer's key file and a key on
    no roster; the chain grown to 36 blocks, so paging back takes two pages of 20."""
    root = tmp_path_factory.mktemp("explorer")
    cluster = Cluster(root / "c")
    cluster.start_all()
    try:
        tx_ids = cluster.submit(1, [LABEL])
        cluster.wait_committed(1, tx_ids)
        _, answer = http_json(f"{cluster.urls[1]}/v1/txs/{tx_ids[0]}", timeout=5)
        # blocks are made only for transactions: one at a time, until paging back needs two pages
        for n in range(60):
            if cluster.height(0) >= 36:
                break
            cluster.wait_committed(0, cluster.submit(0, [f"{LABEL}-{n}"]))
        signer_key, other_key = root / "signer.key", root / "other.key"
        crypto.write_key_file(signer_key, cluster.keys[1], label="officer of node 1")
        crypto.write_key_file(other_key, crypto.PrivateKey.generate(), label="a key on no roster")
        yield Chain(cluster=cluster, tx_id=tx_ids[0], height=int(answer["height"]), signer_key=signer_key,
                    other_key=other_key)
    finally:
        cluster.stop_all()


def open_explorer(browser: Any, url: str, viewport: dict[str, int],
                  locale: str = "en-US") -> tuple[Any, Any, PageErrors]:
    context = browser.new_context(viewport=viewport, locale=locale)
    page = context.new_page()
    errors = PageErrors(page)
    page.goto(url)
    page.wait_for_selector("html[data-ready='1']")
    return context, page, errors


def test_a_transaction_shows_its_result_without_a_key_and_its_arguments_only_with_one(chain: Chain,
                                                                                     browser: Any) -> None:
    base = chain.cluster.urls[1] + "/console/"
    context, page, errors = open_explorer(browser, base, DESKTOP)
    signed: list[str] = []
    page.on("request", lambda r: signed.append(r.url) if (r.headers.get("authorization") or "").startswith(
        "Chainnode-Signed") else None)
    try:
        # reached by a click, from the block's list of transactions
        page.goto(f"{base}#block={chain.height}")
        page.click(f"#block-body a[href='#tx={chain.tx_id}']")
        page.wait_for_selector("#tx-code")
        assert "ok" in page.inner_text("#tx-code")
        assert page.inner_text("#tx-status") == "committed"
        assert page.inner_text("#tx-height") == str(chain.height)
        assert "anchor.put" in page.inner_text("#tx-call")
        assert page.get_attribute("#tx-signer", "href") == f"#member={chain.cluster.keys[1].public_key.hex()}"
        page.wait_for_selector("#tx-needs-key")
        assert page.locator("#tx-args").count() == 0 and page.locator("#tx-events").count() == 0
        assert signed == []
        shoot(page, "explorer-tx-no-key-desktop")

        # a key on no roster: the node refuses the detail, the page says which key it needs
        page.set_input_files("#member-file", str(chain.other_key))
        page.wait_for_selector("#member-info")
        page.wait_for_selector("#tx-detail-signed[data-refused='1']")
        assert "signer's department" in page.inner_text("#tx-needs-key")
        assert page.locator("#tx-args").count() == 0 and page.locator("#tx-events").count() == 0
        shoot(page, "explorer-tx-wrong-key-desktop")
        # the roster has no such key (404) and the node refuses its signed read (401 or 403): nothing else
        assert all("status of 40" in e for e in errors.errors), errors.errors
        errors.errors.clear()
        page.click("#member-unload")

        # the signer's department's key: events and arguments, read signed
        page.set_input_files("#member-file", str(chain.signer_key))
        page.wait_for_selector("#member-info")
        page.wait_for_selector("#tx-args[data-loaded='1']")
        args = page.inner_text("#tx-args")
        assert crypto.sha256(LABEL.encode()).hex() in args and "test" in args, args
        assert "anchor" in page.inner_text("#tx-events")
        assert any(f"/v1/txs/{chain.tx_id}/proof" in u for u in signed), signed
        assert any(u.endswith(f"/v1/txs/{chain.tx_id}") for u in signed), signed
        shoot(page, "explorer-tx-key-desktop")

        # the signer links to their roster record
        page.click("#tx-signer")
        page.wait_for_selector("#member-record")
        assert page.inner_text("#member-record-department") == DEPARTMENTS[1][0]
        assert not errors.errors, errors.errors
    finally:
        context.close()
    context, page, errors = open_explorer(browser, f"{base}#tx={chain.tx_id}", PHONE, locale="zh-CN")
    try:
        page.wait_for_selector("#tx-code")
        page.set_input_files("#member-file", str(chain.signer_key))
        page.wait_for_selector("#tx-args[data-loaded='1']")
        shoot(page, "explorer-tx-key-phone")
        assert not errors.errors, errors.errors
    finally:
        context.close()


def test_validators_as_of_height_one_are_the_genesis_set(chain: Chain, browser: Any) -> None:
    genesis = chain.cluster.genesis
    expected = sorted(d.node_key.hex() for d in genesis.departments if d.power > 0)
    context, page, errors = open_explorer(browser, chain.cluster.urls[0] + "/console/", DESKTOP)
    try:
        # from a block page's link
        page.goto(chain.cluster.urls[0] + "/console/#block=1")
        page.click("#block-validators-link")
        page.wait_for_selector("#validators[data-height='1']")
        page.wait_for_selector("#departments[data-height='1']")
        titles = page.eval_on_selector_all("#validators td.mono", "cells => cells.map(c => c.title)")
        keys = sorted(str(k) for k in titles)
        assert keys == expected
        assert "block 1" in page.inner_text("#validators-answered")
        assert "block 1" in page.inner_text("#departments-answered")
        page.click("#departments tr:has-text('SAMR') button")
        page.wait_for_selector("#departments tr[data-members-of='SAMR'] td:has-text('issuer')")
        shoot(page, "explorer-asof-desktop")
        # typed heights: a hostile one is refused in place, the head comes back
        page.fill("#asof-height", "1e3<script>")
        page.click("#asof-show")
        page.wait_for_selector("#asof-error:has-text('whole number')")
        page.fill("#asof-height", "999999999")
        page.click("#asof-show")
        page.wait_for_selector("#asof-error:has-text('from 1 to')")
        page.click("#asof-head")
        page.wait_for_selector("#validators:not([data-height='1'])")
        assert not errors.errors, errors.errors
    finally:
        context.close()


def test_paging_back_reaches_block_one(chain: Chain, browser: Any) -> None:
    context, page, errors = open_explorer(browser, chain.cluster.urls[2] + "/console/", DESKTOP)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/v1/blocks/" in r.url else None)
    try:
        page.wait_for_selector("#blocks tbody tr")
        clicks = 0
        for _ in range(10):
            if page.locator("#older-blocks tr[data-height='1']").count():
                break
            page.click("#older-button")
            clicks += 1
            page.wait_for_selector("#older-button:enabled, #older-blocks tr[data-height='1']")
        page.wait_for_selector("#older-blocks tr[data-height='1']")
        assert page.is_disabled("#older-button") and clicks >= 2
        assert "block 1 reached" in page.inner_text("#older-note")
        rows = page.eval_on_selector_all("#older-blocks tbody tr", "rows => rows.map(r => r.dataset.height)")
        heights = [int(h) for h in rows]
        assert heights == sorted(heights, reverse=True) and len(heights) == len(set(heights))
        assert 1 < len(requests) <= heights[0] + 5
        shoot(page, "explorer-older-desktop")
        page.click("#older-blocks tr[data-height='1'] a")
        page.wait_for_selector("#block-signers")
        assert not errors.errors, errors.errors
    finally:
        context.close()
    context, page, errors = open_explorer(browser, chain.cluster.urls[2] + "/console/", PHONE, locale="zh-CN")
    try:
        page.wait_for_selector("#blocks tbody tr")
        page.click("#older-button")
        page.wait_for_selector("#older-blocks tbody tr")
        shoot(page, "explorer-older-phone")
        assert not errors.errors, errors.errors
    finally:
        context.close()


def test_a_transaction_proof_is_verified_against_the_pinned_genesis(chain: Chain, browser: Any) -> None:
    """With the signer's key loaded: no pinned genesis, no verdict; the pinned genesis verifies the node's
    bundle (links, inclusion, signature, result) and names its fingerprint; one altered byte of the bundle, or
    another chain's genesis, is never green and says why."""
    base = chain.cluster.urls[1] + "/console/"
    text = json.dumps(chain.cluster.genesis.document)
    fingerprint = hashlib.sha256(text.encode()).hexdigest()
    context, page, errors = open_explorer(browser, f"{base}#tx={chain.tx_id}", DESKTOP)
    try:
        page.set_input_files("#member-file", str(chain.signer_key))
        page.wait_for_selector("#tx-proof-none")
        assert "pin" in page.inner_text("#tx-proof-none")

        page.evaluate("text => localStorage.setItem('chainnode.console.genesis', text)", text)
        page.reload()
        page.wait_for_selector("html[data-ready='1']")
        page.set_input_files("#member-file", str(chain.signer_key))
        page.wait_for_selector("#tx-proof[data-verified='1']")
        verdict = page.inner_text("#tx-proof-verdict")
        assert f"verified against genesis {fingerprint[:16]}" in verdict, verdict
        assert "ok" in page.inner_text("#tx-proof")
        shoot(page, "explorer-tx-proof-verified-desktop")

        def alter(route: Any) -> None:
            answer = route.fetch()
            body = bytearray(answer.body())
            body[len(body) // 2] ^= 0x01
            route.fulfill(response=answer, body=bytes(body))

        page.route("**/v1/txs/*/proof*", alter)
        page.reload()
        page.wait_for_selector("html[data-ready='1']")
        page.set_input_files("#member-file", str(chain.signer_key))
        page.wait_for_selector("#tx-proof[data-verified='0']")
        assert "not verified" in page.inner_text("#tx-proof-verdict")
        assert page.inner_text("#tx-proof-reason").strip()
        assert page.locator("#tx-proof .badge.ok").count() == 0
        shoot(page, "explorer-tx-proof-altered-desktop")
        page.unroute("**/v1/txs/*/proof*")

        other = dict(chain.cluster.genesis.document, chain_id="another-chain")
        page.evaluate("text => localStorage.setItem('chainnode.console.genesis', text)", json.dumps(other))
        page.reload()
        page.wait_for_selector("html[data-ready='1']")
        page.set_input_files("#member-file", str(chain.signer_key))
        page.wait_for_selector("#tx-proof[data-verified='0']")
        assert "another-chain" in page.inner_text("#tx-proof-reason")
        assert not errors.errors, errors.errors
    finally:
        context.close()


def test_the_search_box_opens_what_it_is_given(chain: Chain, browser: Any) -> None:
    """A height, a transaction ID and a member key open their views here; a certificate ID (the node knows it)
    opens the certificate check with the ID filled in; another record ID opens the case's audit timeline;
    anything else, an unknown ID or a height above the head is refused in place."""
    base = chain.cluster.urls[1] + "/console/"
    member = chain.cluster.keys[1].public_key.hex()
    cert_id, case_id = "ab" * 16, "cd" * 16

    def search(page: Any, text: str) -> None:
        page.fill("#search-text", text)
        page.click("#search-go")

    context, page, errors = open_explorer(browser, base, DESKTOP)
    try:
        search(page, str(chain.height))
        # the pages' policy forbids evaluating strings (wait_for_function): wait on elements instead
        page.wait_for_selector(f"#block-body a[href='#tx={chain.tx_id}']")
        assert page.evaluate("location.hash") == f"#block={chain.height}"
        search(page, f"  {chain.tx_id.upper()} ")
        page.wait_for_selector("#tx-code")
        assert page.evaluate("location.hash") == f"#tx={chain.tx_id}"
        search(page, member)
        page.wait_for_selector("#member-record")
        assert page.inner_text("#member-record-department") == DEPARTMENTS[1][0]
        for text, needle in [("block 7", "Not recognised"), ("12ab", "Not recognised"), ("99999999", "no block"),
                             ("ef" * 32, "knows no transaction or member")]:
            search(page, text)
            page.wait_for_selector("#search-error:not(:empty)")
            assert needle in page.inner_text("#search-error"), (text, page.inner_text("#search-error"))
            page.fill("#search-text", "")
            page.evaluate("document.getElementById('search-error').textContent = ''")
        shoot(page, "explorer-search-refused-desktop")
        # the node's answer for a certificate is stood in for: this chain issued none
        page.route(f"**/v1/certs/{cert_id}", lambda route: route.fulfill(status=200, json={"cert_id": cert_id}))
        search(page, cert_id)
        page.wait_for_url(f"**/verify.html#cert={cert_id}")
        page.wait_for_selector("html[data-ready='1']")
        assert page.input_value("#cert-id") == cert_id
        page.goto(base)
        page.wait_for_selector("html[data-ready='1']")
        search(page, case_id)
        page.wait_for_url(f"**/audit.html#entity=case:{case_id}")
        page.wait_for_selector("#entity")
        assert page.input_value("#entity") == f"case:{case_id}"
        # unknown IDs answer 404: nothing else may fail
        assert all("status of 404" in e for e in errors.errors), errors.errors
    finally:
        context.close()


def test_an_encrypted_key_opens_in_a_worker_and_the_page_keeps_running(chain: Chain, browser: Any,
                                                                      tmp_path: Path) -> None:
    """Argon2id runs in the console's worker: the page shows that it is opening the key and keeps painting
    (its timers run) meanwhile, the worker is the only place WebAssembly compiles, and the key it opens is
    the one a plain file gives (the signed reads then show the arguments)."""
    encrypted = tmp_path / "signer-encrypted.key"
    document = crypto.encrypt_key_document(crypto.read_key_document(chain.signer_key), b"correct horse",
                                           crypto.KDF_PROFILES["moderate"])
    crypto.write_key_document(encrypted, document)
    base = chain.cluster.urls[1] + "/console/"
    context, page, errors = open_explorer(browser, f"{base}#tx={chain.tx_id}", DESKTOP)
    workers: list[str] = []
    page.on("worker", lambda w: workers.append(w.url))
    try:
        page.set_input_files("#member-file", str(encrypted))
        page.wait_for_selector("#member-passphrase")
        page.fill("#member-passphrase", "correct horse")
        page.evaluate("""() => {
            window.ticks = [];
            const tick = () => {
                window.ticks.push(performance.now());
                if (window.ticks.length < 2000) setTimeout(tick, 20);
            };
            tick();
        }""")
        started = time.perf_counter()
        page.click("#member-open")
        page.wait_for_selector("#member-open:has-text('Argon2id')")
        shoot(page, "explorer-key-opening-desktop")
        page.wait_for_selector("#member-info", timeout=60_000)
        took_ms = (time.perf_counter() - started) * 1000
        ticks = page.evaluate("window.ticks")
        longest = max(b - a for a, b in itertools.pairwise(ticks))
        print(f"encrypted key (Argon2id 3 x 256 MiB) opened in a worker in {took_ms:.0f} ms; longest pause of the "
              f"page's timer {longest:.0f} ms")
        assert any(u.endswith("/console/js/member/argon2-worker.js") for u in workers), workers
        assert longest < max(250.0, took_ms / 3), (longest, took_ms)
        page.wait_for_selector("#tx-args[data-loaded='1']")
        assert not errors.errors, errors.errors
    finally:
        context.close()


SKEWED_CLOCK = """(() => {
  const skew = %d;
  const RealDate = Date;
  class SkewedDate extends RealDate {
    constructor(...args) { if (args.length === 0) super(RealDate.now() + skew); else super(...args); }
    static now() { return RealDate.now() + skew; }
  }
  globalThis.Date = SkewedDate;
})();"""


def test_a_browser_clock_ten_minutes_off_is_corrected_and_said(chain: Chain, browser: Any) -> None:
    """The page's clock is ten minutes behind: the node refuses the first signed read (read_request_expired),
    the page learns the node's time from the answer and signs again, the signed reads then succeed at once, and
    the page says that the computer's clock is off. A clock a few seconds off is left as it is and not said."""
    base = chain.cluster.urls[1] + "/console/"
    for skew_ms, noticed in ((-600_000, True), (-5_000, False)):
        context = browser.new_context(viewport=DESKTOP, locale="en-US")
        context.add_init_script(SKEWED_CLOCK % skew_ms)
        page = context.new_page()
        errors = PageErrors(page)
        statuses: list[int] = []
        page.on("response", lambda r, statuses=statuses: statuses.append(r.status) if "/v1/txs/" in r.url else None)
        try:
            page.goto(f"{base}#tx={chain.tx_id}")
            page.wait_for_selector("html[data-ready='1']")
            assert page.evaluate("Math.round((Date.now() - performance.timeOrigin - performance.now()) / 1000)") \
                == round(skew_ms / 1000)
            page.set_input_files("#member-file", str(chain.signer_key))
            page.wait_for_selector("#tx-args[data-loaded='1']")
            assert crypto.sha256(LABEL.encode()).hex() in page.inner_text("#tx-args")
            if noticed:
                notice = page.wait_for_selector("#clock-skew")
                assert "behind" in notice.inner_text() and "10 min" in notice.inner_text()
                assert abs(int(notice.get_attribute("data-offset-s") or "0") - 600) <= 3
                assert statuses.count(401) == 1, statuses  # refused once, then every read passes
                shoot(page, "explorer-clock-skew-desktop")
                # the refusal the page recovered from is the only console error
                assert [e for e in errors.errors if "401" not in e] == [], errors.errors
            else:
                assert page.locator("#clock-skew").count() == 0
                assert 401 not in statuses and not errors.errors, (statuses, errors.errors)
        finally:
            context.close()
