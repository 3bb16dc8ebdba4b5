"""The single-file certificate check (`scripts/build-web`, chainnode.console.build_standalone) opened from
file:// with no node running anywhere: the proofs come from an in-process store that serves nothing. It
verifies a genuine QR proof and a proof file, refuses one altered byte, and loads nothing from the network."""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from chainnode import crypto, records
from chainnode.console import build_standalone
from chainnode.home import DepartmentSpec, init_network
from chainnode.node import Node
from chainnode.qr import write_qr
from chainnode.tx import decode_transaction
from contracts.certificates import compute_cert_id
from tests.browser.conftest import DESKTOP, PHONE, shoot
from tests.unit.test_light_client import CHAIN, Chain, ManualClock


def issue_offline(root: Path) -> tuple[dict[str, Any], str, bytes]:
    """A certificate issued on a store no server exposes: (genesis document, certificate ID, its proof). Runs
    its own event loop, in a thread of its own (Playwright's loop holds the test's)."""
    codes = ["PSB", "SAMR", "CAB", "TAX"]
    _, homes = init_network([root / c for c in codes], chain_id=CHAIN,
                            departments=[DepartmentSpec(code=c, name=c) for c in codes],
                            api_ports=[1, 2, 3, 4], p2p_ports=[5, 6, 7, 8], params={"test_hooks": 1})
    node = Node.from_home(homes[0].home, clock=ManualClock())
    chain = Chain(node, [crypto.load_key_file(h.node_key).key for h in homes],
                  [crypto.load_key_file(h.officer_key).key for h in homes])

    async def issue() -> str:
        await chain.register_permit()
        raw = chain.tx("certificates", "issue", {"cert_type": "permit", "holder_ref": crypto.sha256(b"h"),
                                                 "content_hash": crypto.sha256(b"permit")})
        await chain.block(raw)
        return compute_cert_id(decode_transaction(raw).tx_id)

    try:
        cert_id = asyncio.run(issue())
        reader = node.reader
        keys = records.certificate_proof_keys(records.view(reader), cert_id, None)
        return node.genesis.document, cert_id, reader.state_values_bundle(keys).encode()
    finally:
        node.close()


def test_the_single_file_verifies_from_disk_with_no_node(browser: Any, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAINNODE_TEST_FAULTS", "test-hooks")
    with ThreadPoolExecutor(1) as pool:
        document, cert_id, proof = pool.submit(issue_offline, tmp_path / "net").result()
    genesis_file = tmp_path / "genesis.json"
    genesis_file.write_text(json.dumps(document))
    qr, proof_file, altered = tmp_path / "qr.png", tmp_path / "cert.proof", tmp_path / "altered.proof"
    write_qr(qr, proof)
    proof_file.write_bytes(proof)
    altered.write_bytes(proof[:-50] + bytes([proof[-50] ^ 0x04]) + proof[-49:])
    page_file = tmp_path / "verify-standalone.html"
    page_file.write_text(build_standalone()[0], encoding="utf-8")

    requests: list[str] = []
    for viewport, name in ((DESKTOP, "desktop"), (PHONE, "phone")):
        context = browser.new_context(viewport=viewport, locale="en-US")
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m, errors=errors: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url) if not r.url.startswith(("file:", "data:", "blob:"))
                else None)
        try:
            started = time.perf_counter()
            page.goto(page_file.as_uri())
            page.wait_for_selector("html[data-ready='1']")
            print(f"single file from file:// at {viewport['width']} px: loaded in "
                  f"{(time.perf_counter() - started) * 1000:.0f} ms")
            assert page.is_hidden("#fetch-button") and page.is_visible("#standalone-note")
            page.set_input_files("#genesis-input", str(genesis_file))
            page.wait_for_selector("#genesis-chain")
            page.set_input_files("#qr-input", str(qr))
            page.wait_for_selector("#proof-info:has-text('QR')")
            page.click("#verify-button")
            verdict = page.wait_for_selector("#verdict")
            assert verdict.get_attribute("data-verdict") == "VALID"
            print(f"single file: QR proof verified in {page.get_attribute('#result', 'data-verify-ms')} ms")
            assert cert_id in page.inner_text("#result")
            shoot(page, f"standalone-valid-{name}")
            page.set_input_files("#proof-input", str(altered))
            page.wait_for_selector("#proof-info:has-text('altered.proof')")
            page.click("#verify-button")
            page.wait_for_selector("#verdict[data-verdict='INVALID PROOF']")
            shoot(page, f"standalone-altered-{name}")
            page.set_input_files("#proof-input", str(proof_file))
            page.wait_for_selector("#proof-info:has-text('cert.proof')")
            page.fill("#cert-id", cert_id)
            page.click("#verify-button")
            page.wait_for_selector("#verdict[data-verdict='VALID']")
            assert not errors, errors
        finally:
            context.close()
    assert requests == [], requests
