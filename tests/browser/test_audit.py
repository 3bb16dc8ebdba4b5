"""The audit timeline and the supervision dashboard in a real Chromium against a real 4-node cluster that ran
the demo story (a case filed, returned, refiled, reviewed and decided, its certificate issued and revoked,
and a second case returned). History and supervision are internal routes: the signed reads are made by the
Python client with SAMR's officer key and handed to the page by route interception, as a member key loaded
in the console would sign them. The timeline of the case shows every event verified in the browser; an
exported file (`chainnode history --verify --export`) verifies with no request to any node, and one altered
byte in it shows red with the reason; the dashboard shows the API's figures."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from chainnode import light
from chainnode.client import Client
from chainnode.demo import Office, Story
from chainnode.genesis import load_genesis
from tests.browser.conftest import DESKTOP, PHONE, shoot
from tests.browser.test_console import PageErrors
from tests.cluster import DEPARTMENTS, Cluster
from tests.integration.test_api_history import run_cli

MISSING_SESSION = "session.js"
"""The console's member-key module (js/session.js) may not be there: the pages then read unsigned, and
Chromium logs the failed import's 404 as a console error, which these tests accept and nothing else."""


@dataclass
class Story4:
    cluster: Cluster
    pool: ThreadPoolExecutor
    client: Client
    genesis_file: Path
    key_file: Path
    case_id: str
    export: Path
    altered: Path
    today: str


def run_story(cluster: Cluster, root: Path) -> tuple[str, Path, Path]:
    offices = {code: Office(code, url, key) for (code, _), url, key in
               zip(DEPARTMENTS[:4], cluster.urls, cluster.keys, strict=True)}
    try:
        story = Story(offices, lambda line: None, "audit")
        for step in (story.governance, story.publish_item, story.applicant, story.file_case, story.refile,
                     story.decide, story.certificate, story.revoke):
            step()
        case_id = story.result.case_id
        story.file_case()  # a second case, returned for its missing materials
    finally:
        for office in offices.values():
            office.client.close()
    cluster.wait_height(max(cluster.height(i) for i in range(4)))  # steps committed at every node's own pace
    export = root / "case-trace.json"
    genesis_file = cluster.homes[1].home / "genesis.json"
    code, _, err = run_cli("history", f"case:{case_id}", "--node", cluster.urls[1], "--key",
                             str(cluster.homes[1].officer_key), "--limit", "3", "--verify", "--genesis",
                             str(genesis_file), "--export", str(export))
    assert code == 0, err
    document = json.loads(export.read_text())
    proof = bytearray(base64.b64decode(document["pages"][0]["proof"]))
    proof[len(proof) // 2] ^= 0x01
    document["pages"][0]["proof"] = base64.b64encode(bytes(proof)).decode()
    altered = root / "case-trace-altered.json"
    altered.write_text(json.dumps(document))
    return case_id, export, altered


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story4]:
    """Four departments that ran the demo story. The Python client runs its own event loop, so it runs in a
    thread of its own: Playwright's loop holds this one."""
    root = tmp_path_factory.mktemp("audit")
    cluster = Cluster(root / "c")
    cluster.start_all()
    pool = ThreadPoolExecutor(1)
    try:
        case_id, export, altered = pool.submit(run_story, cluster, root).result()
        client = pool.submit(Client, cluster.urls[1], timeout=30, key=cluster.keys[1]).result()
        today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))  # the network's zone, UTC+8
        yield Story4(cluster=cluster, pool=pool, client=client, genesis_file=cluster.homes[1].home / "genesis.json",
                     key_file=cluster.homes[1].officer_key, case_id=case_id, export=export, altered=altered,
                     today=today)
        pool.submit(client.close).result()
    finally:
        pool.shutdown()
        cluster.stop_all()


def open_page(browser: Any, url: str, viewport: dict[str, int]) -> tuple[Any, Any, PageErrors]:
    context = browser.new_context(viewport=viewport, locale="en-US", accept_downloads=True)
    page = context.new_page()
    errors = PageErrors(page)
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_selector("html[data-ready='1']")
    print(f"page load {url.split('/')[-1]} at {viewport['width']} px: {(time.perf_counter() - started) * 1000:.0f} ms")
    return context, page, errors


def real_errors(errors: PageErrors) -> list[str]:
    return [e for e in errors.errors if "404" not in e and MISSING_SESSION not in e]


def sign_reads(page: Any, story: Story4, served: list[dict[str, Any]]) -> None:
    """Answer the page's history and supervision reads with the ones the Python client signs."""
    def history(route: Any) -> None:
        parts = urlsplit(route.request.url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        entity = parts.path.removeprefix("/v1/history/")
        trusted = int(query["trusted_height"]) if "trusted_height" in query else None
        answer = story.pool.submit(story.client.history_page, entity, limit=int(query["limit"]),
                                   cursor=query.get("cursor"), proof=query.get("proof") == "1",
                                   trusted_height=trusted).result()
        served.append(answer)
        route.fulfill(status=200, content_type="application/json", body=json.dumps(answer))

    def supervision(route: Any) -> None:
        parts = urlsplit(route.request.url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        answer = story.pool.submit(lambda: story.client.supervision(
            parts.path.removeprefix("/v1/supervision/"), int(query["within_days"]), from_date=query["from_date"],
            to_date=query["to_date"], per_officer=query.get("per_officer") == "1")).result()
        served.append(answer)
        route.fulfill(status=200, content_type="application/json", body=json.dumps(answer))

    page.route("**/v1/history/**", history)
    page.route("**/v1/supervision/**", supervision)


def timeline_marks(page: Any) -> list[str]:
    return [str(m) for m in page.eval_on_selector_all("#timeline tbody tr td:last-child .badge",
                                                       "nodes => nodes.map(n => n.dataset.verified)")]


def test_the_timeline_of_the_case_shows_every_event_verified(browser: Any, story: Story4) -> None:
    for viewport, name in ((DESKTOP, "desktop"), (PHONE, "phone")):
        context, page, errors = open_page(browser, story.cluster.urls[1] + "/console/audit.html", viewport)
        try:
            served: list[dict[str, Any]] = []
            sign_reads(page, story, served)
            page.set_input_files("#genesis-input", str(story.genesis_file))
            page.wait_for_selector("#genesis-info-chain")
            page.fill("#entity", f"case:{story.case_id}")
            page.click("#load-button")
            page.wait_for_selector("#verdict[data-verdict='verified']", timeout=20000)
            events = [e for answer in served for e in answer["events"]]
            methods = [f"{e['contract']}.{e['method']}" for e in events]
            assert methods[:1] == ["cases.file"] and "cases.decide" in methods and len(events) >= 4
            assert timeline_marks(page) == ["1"] * len(events)
            shown = page.eval_on_selector_all("#timeline tbody tr td:nth-child(3)", "n => n.map(c => c.textContent)")
            assert shown == methods
            assert "not cover" in page.inner_text("#not-proven")
            with page.expect_download() as download:
                page.click("#export-json")
            report = json.loads(Path(download.value.path()).read_text())
            assert report["events_shown"] == report["events_verified"] == len(events)
            assert [e["tx_id"] for e in report["events"]] == [e["tx_id"] for e in events]
            shoot(page, f"audit-{name}")
            assert real_errors(errors) == []
        finally:
            context.close()


def test_an_auditor_key_loaded_in_the_page_signs_its_live_reads(browser: Any, story: Story4) -> None:
    """No interception: the page's own member key panel loads the officer's key (an auditor), the history is
    read from the node with the page's signed requests, and every event is verified."""
    context, page, errors = open_page(browser, story.cluster.urls[1] + "/console/audit.html", DESKTOP)
    try:
        signed: list[str] = []
        page.on("request", lambda request: signed.append(request.url) if "/v1/history/" in request.url
                and (request.headers.get("authorization") or "").startswith("Chainnode-Signed ") else None)
        page.set_input_files("#member-file", str(story.key_file))
        page.wait_for_selector("#member-info[data-department='SAMR']")
        page.set_input_files("#genesis-input", str(story.genesis_file))
        page.wait_for_selector("#genesis-info-chain")
        page.fill("#entity", f"case:{story.case_id}")
        page.click("#load-button")
        page.wait_for_selector("#verdict[data-verdict='verified']", timeout=20000)
        assert signed and len(timeline_marks(page)) >= 4 and set(timeline_marks(page)) == {"1"}
        assert real_errors(errors) == []
    finally:
        context.close()


def test_without_a_member_key_the_page_says_which_key_it_needs(browser: Any, story: Story4) -> None:
    context, page, errors = open_page(browser, story.cluster.urls[1] + "/console/audit.html", DESKTOP)
    try:
        page.fill("#entity", f"case:{story.case_id}")
        page.click("#load-button")
        page.wait_for_selector("#verdict[data-verdict='access']")
        assert "auditor's (or the department's) member key" in page.inner_text("#verdict")
        page.fill("#entity", "case id with spaces")
        page.click("#load-button")
        assert "KIND:ID" in page.inner_text("#entity-error")
        assert [e for e in real_errors(errors) if "401" not in e] == []  # the refused read, and nothing else
    finally:
        context.close()


def test_an_exported_file_verifies_with_no_node_and_an_altered_byte_shows_red(browser: Any, story: Story4) -> None:
    context, page, errors = open_page(browser, story.cluster.urls[1] + "/console/audit.html", DESKTOP)
    try:
        asked: list[str] = []

        def refuse(route: Any) -> None:
            asked.append(route.request.url)
            route.abort()

        page.route("**/v1/**", refuse)
        page.set_input_files("#genesis-input", str(story.genesis_file))
        page.wait_for_selector("#genesis-info-chain")
        page.set_input_files("#export-input", str(story.export))
        page.wait_for_selector("#verdict[data-verdict='verified']")
        document = json.loads(story.export.read_text())
        total = sum(len(p["events"]) for p in document["pages"])
        assert len(document["pages"]) > 1 and timeline_marks(page) == ["1"] * total
        # the period filter: a day before the case shows nothing, its day shows every event
        page.fill("#to-date", "2000-01-01")
        page.dispatch_event("#to-date", "change")
        page.wait_for_selector("#verdict[data-verdict='empty']")
        page.fill("#to-date", story.today)
        page.dispatch_event("#to-date", "change")
        page.wait_for_selector("#verdict[data-verdict='verified']")

        page.set_input_files("#export-input", str(story.altered))
        page.wait_for_selector("#verdict[data-verdict='not-verified']")
        first = len(document["pages"][0]["events"])
        assert timeline_marks(page) == ["0"] * first + ["1"] * (total - first)  # only the altered page is red
        assert page.inner_text("#reasons").strip() != ""
        shoot(page, "audit-altered-desktop")
        assert asked == [] and real_errors(errors) == []
    finally:
        context.close()


def test_the_dashboard_shows_the_figures_the_api_gives(browser: Any, story: Story4) -> None:
    from_date = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600 - 2 * 86400))
    for viewport, name in ((DESKTOP, "desktop"), (PHONE, "phone")):
        context, page, errors = open_page(browser, story.cluster.urls[1] + "/console/supervision.html", viewport)
        try:
            served: list[dict[str, Any]] = []
            sign_reads(page, story, served)
            page.select_option("#department", "SAMR")
            page.fill("#from-date", from_date)
            page.fill("#to-date", story.today)
            page.select_option("#granularity", "day")
            page.click("#load-button")
            page.wait_for_selector("#sup-open", timeout=20000)
            api = story.pool.submit(lambda: story.client.supervision("SAMR", 3, from_date=from_date,
                                                                     to_date=story.today, per_officer=True)).result()
            assert served[0] == api and api["decided"] >= 1 and api["returned"] >= 1
            figures = {k: page.inner_text(f"#sup-{k.replace('_', '-')}") for k in (
                "open", "overdue", "due_soon", "returned", "decided", "decided_on_time", "rate")}
            assert figures == {"open": str(api["open"]), "overdue": str(len(api["overdue"])),
                               "due_soon": str(len(api["due_soon"])), "returned": str(api["returned"]),
                               "decided": str(api["decided"]), "decided_on_time": str(api["decided_on_time"]),
                               "rate": f"{api['on_time_rate']}%"}
            periods = page.eval_on_selector_all("#periods tbody tr", "rows => rows.map(r => [...r.cells].map("
                                                "c => c.textContent))")
            assert len(periods) == 3 and len(served) == 4
            for row, answer in zip(periods, served[1:], strict=True):
                rate = "—" if answer["on_time_rate"] is None else f"{answer['on_time_rate']}%"
                assert row == [answer["from_date"], str(answer["decided"]), str(answer["decided_on_time"]), rate]
            steps = page.eval_on_selector_all("#steps tbody tr", "rows => rows.map(r => r.dataset.kind)")
            assert steps == [s["kind"] for s in api["time_per_step"]] and "decide" in steps
            assert page.locator("svg.chart").count() == 2
            shoot(page, f"supervision-{name}")
            assert real_errors(errors) == []
        finally:
            context.close()


def test_a_trust_file_below_the_case_is_the_root_of_its_pages(browser: Any, story: Story4, tmp_path: Path) -> None:
    """A trust file of a block before the case was filed (saved from a verified transaction proof, as
    `--trust-out` saves one): the page asks for proofs from its height, every event verifies from it and the
    summary says so; a trust file of another genesis is refused with the reason."""
    first = story.pool.submit(story.client.history_page, f"case:{story.case_id}", limit=1).result()["events"][0]
    below = story.pool.submit(story.client.block, first["height"] - 1).result()
    proof = story.pool.submit(story.client.tx_proof, below["txs"][0]["tx_id"]).result()
    genesis = load_genesis(story.genesis_file)
    bundle = light.decode_bundle(proof)
    assert isinstance(bundle, light.TxBundle)
    _, trust = light.verify_txs(genesis, bundle)
    trust_file, other = tmp_path / "trust.json", tmp_path / "other-trust.json"
    trust_file.write_text(json.dumps(trust.to_json()))
    other.write_text(json.dumps({**trust.to_json(), "genesis_hash": "00" * 32}))
    context, page, errors = open_page(browser, story.cluster.urls[1] + "/console/audit.html", DESKTOP)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/v1/history/" in r.url else None)
    try:
        served: list[dict[str, Any]] = []
        sign_reads(page, story, served)
        page.set_input_files("#genesis-input", str(story.genesis_file))
        page.wait_for_selector("#genesis-info-chain")
        page.set_input_files("#trust-input", str(other))
        page.wait_for_selector("#verdict[data-verdict='error']")
        assert "another genesis" in page.inner_text("#verdict")
        page.set_input_files("#trust-input", str(trust_file))
        page.wait_for_selector("#trust-info-loaded")
        page.fill("#entity", f"case:{story.case_id}")
        page.click("#load-button")
        page.wait_for_selector("#verdict[data-verdict='verified']", timeout=20000)
        assert asked and all(f"trusted_height={trust.height}" in u for u in asked), asked
        assert all(light.decode_bundle(base64.b64decode(a["proof"])).from_height == trust.height for a in served)
        events = [e for answer in served for e in answer["events"]]
        assert timeline_marks(page) == ["1"] * len(events)
        assert f"trust file of height {trust.height}" in page.inner_text("#proof-root")
        shoot(page, "audit-trust-root-desktop")
        assert real_errors(errors) == []
    finally:
        context.close()
