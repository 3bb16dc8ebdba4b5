"""The web console in a real Chromium against a real 4-node cluster: the explorer shows a new block within 2 s
of its commit and a block's signers; the certificate page says VALID for a genuine proof (fetched by ID or
read from the QR code the CLI writes), and INVALID PROOF for one altered byte and for a proof from another
chain; the verifier gives cert_verify's verdict on genuine and altered bundles inside Chromium. Page-load and
verify timings are printed, never asserted."""

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
from chainnode.cert_verify import CertificateNotFound, verify_certificate
from chainnode.console import build_standalone
from chainnode.demo import Office, Story
from chainnode.errors import InvalidProof
from chainnode.genesis import Genesis, load_genesis
from chainnode.home import DepartmentSpec, init_network
from chainnode.qr import write_qr
from contracts.certificates import compute_cert_id
from tests.browser.conftest import DESKTOP, PHONE, shoot
from tests.cluster import DEPARTMENTS, Cluster
from tests.nodeproc import http_json


@dataclass
class Network:
    cluster: Cluster
    genesis_file: Path
    other_genesis_file: Path
    cert_id: str
    content: Path
    proof: bytes
    qr: Path
    altered: Path


def fetch_proof(url: str, cert_id: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(f"{url}/v1/certs/{cert_id}/proof?format=binary", timeout=10) as answer:
        return bytes(answer.read())


def issue_certificate(cluster: Cluster, root: Path) -> Network:
    """Register the business licence by proposal and have SAMR issue one; write its proof, QR code and an
    altered copy, and another chain's genesis."""
    offices = {code: Office(code, url, key) for (code, _), url, key in
               zip(DEPARTMENTS[:4], cluster.urls, cluster.keys, strict=True)}
    try:
        Story(offices, lambda line: None, "web").governance()
        content = root / "licence.pdf"
        content.write_bytes(b"%PDF-1.4 business licence of Example Trading Co.\n")
        status = offices["SAMR"].call("certificates", "issue", {
            "cert_type": "business_licence", "holder_ref": crypto.sha256(b"holder-web"),
            "content_hash": crypto.sha256(content.read_bytes())})
    finally:
        for office in offices.values():
            office.client.close()
    cert_id = compute_cert_id(bytes.fromhex(status["tx_id"]))
    cluster.wait_height(int(status["height"]), nodes=[0])  # committed at SAMR's node; the pages ask node0
    proof = fetch_proof(cluster.urls[0], cert_id)
    qr = root / "licence-qr.png"
    write_qr(qr, proof)
    position = len(proof) // 2
    altered = root / "altered.proof"
    altered.write_bytes(proof[:position] + bytes([proof[position] ^ 0x01]) + proof[position + 1:])
    _, others = init_network([root / "other"], chain_id="cluster", departments=[DepartmentSpec(code="SAMR", name="M")],
                             api_ports=[1], p2p_ports=[5])
    return Network(cluster=cluster, genesis_file=cluster.homes[0].home / "genesis.json",
                   other_genesis_file=others[0].home / "genesis.json", cert_id=cert_id, content=content,
                   proof=proof, qr=qr, altered=altered)


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    """Four departments; a business licence registered by proposal and issued by SAMR. The Python client runs
    its own event loop, so it runs in a thread of its own: Playwright's loop holds this one."""
    root = tmp_path_factory.mktemp("console")
    cluster = Cluster(root / "c")
    cluster.start_all()
    try:
        with ThreadPoolExecutor(1) as pool:
            yield pool.submit(issue_certificate, cluster, root).result()
    finally:
        cluster.stop_all()


class PageErrors:
    """Console errors and uncaught exceptions of a page (a CSP violation is one): a test ends with none."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))


def open_page(browser: Any, url: str, viewport: dict[str, int], **options: Any) -> tuple[Any, Any, PageErrors]:
    context = browser.new_context(viewport=viewport, locale="zh-CN", **options)
    page = context.new_page()
    errors = PageErrors(page)
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_selector("html[data-ready='1']")
    print(f"page load {url.split('/')[-1] or 'explorer'} at {viewport['width']} px: "
          f"{(time.perf_counter() - started) * 1000:.0f} ms")
    return context, page, errors


def load_genesis_file(page: Any, path: Path) -> None:
    page.set_input_files("#genesis-input", str(path))
    page.wait_for_selector("#genesis-chain")


def run_verify(page: Any) -> tuple[str, float]:
    page.click("#verify-button")
    verdict = page.wait_for_selector("#verdict")
    ms = float(page.get_attribute("#result", "data-verify-ms") or "nan")
    return str(verdict.get_attribute("data-verdict")), ms


def test_explorer_shows_a_new_block_within_two_seconds_and_its_signers(network: Network, browser: Any) -> None:
    cluster = network.cluster
    url = cluster.urls[0] + "/"
    context, page, errors = open_page(browser, url, DESKTOP)
    try:
        assert page.url.endswith("/console/")
        page.wait_for_selector("#live.on")
        page.wait_for_selector("#blocks tbody tr")
        tx_ids = cluster.submit(1, ["web-explorer"])
        cluster.wait_committed(1, tx_ids)
        committed_at = time.perf_counter()
        _, answer = http_json(f"{cluster.urls[1]}/v1/txs/{tx_ids[0]}", timeout=5)
        height = int(answer["height"])
        page.wait_for_selector(f"#blocks tr[data-height='{height}']", timeout=2000)
        print(f"explorer: block {height} shown {(time.perf_counter() - committed_at) * 1000:.0f} ms after its commit "
              "was seen by the test")
        page.wait_for_selector(f"#txs td[title='{tx_ids[0]}']", timeout=2000)
        # the sidebars from the public routes
        page.wait_for_selector("#validators td:has-text('SAMR')")
        page.click("#departments tr:has-text('SAMR') button")
        page.wait_for_selector("#departments tr[data-members-of='SAMR'] td:has-text('issuer')")
        shoot(page, "explorer-desktop")
        page.click(f"#blocks tr[data-height='{height}'] a")
        page.wait_for_selector("#block-signers")
        signers = page.inner_text("#block-signers")
        assert sum(code in signers for code in ("PSB", "SAMR", "CAB", "TAX")) >= 3, signers
        assert page.locator("#block-detail tr[data-signed='1']").count() >= 3
        shoot(page, "explorer-block-desktop")
        page.click("#lang-switch")
        assert page.inner_text("#blocks-h") == "Latest blocks"
        page.reload()
        page.wait_for_selector("html[data-ready='1']")
        assert page.inner_text("#blocks-h") == "Latest blocks"  # the choice is remembered
        page.click("#lang-switch")
        assert not errors.errors, errors.errors
    finally:
        context.close()
    context, page, errors = open_page(browser, url, PHONE)
    try:
        page.wait_for_selector("#blocks tbody tr")
        page.wait_for_selector("#departments table")
        shoot(page, "explorer-phone")
        assert not errors.errors, errors.errors
    finally:
        context.close()


def test_certificate_page_verdicts(network: Network, browser: Any) -> None:
    cluster = network.cluster
    context, page, errors = open_page(browser, cluster.urls[2] + "/console/verify.html", DESKTOP)
    try:
        # by ID from the node, with the certificate's file
        load_genesis_file(page, network.genesis_file)
        page.set_input_files("#cert-file-input", str(network.content))
        page.wait_for_selector("#file-info:has-text('SHA-256')")
        page.fill("#cert-id", network.cert_id)
        page.click("#fetch-button")
        page.wait_for_selector("#proof-info:has-text('/v1/certs/')")
        verdict, ms = run_verify(page)
        print(f"certificate page: VALID by ID verified in {ms:.1f} ms")
        assert verdict == "VALID"
        text = page.inner_text("#result")
        assert "SAMR" in text and "issuer" in text and network.cert_id in text
        shoot(page, "verify-valid-desktop")

        # the QR code the CLI writes, decoded in the browser
        page.click("#clear-button")
        page.set_input_files("#qr-input", str(network.qr))
        page.wait_for_selector("#proof-info:has-text('QR')")
        verdict, ms = run_verify(page)
        print(f"certificate page: QR proof verified in {ms:.1f} ms")
        assert verdict == "VALID"
        assert page.inner_text("#status") == "有效"

        # one altered byte
        page.set_input_files("#proof-input", str(network.altered))
        page.wait_for_selector("#proof-info:has-text('altered.proof')")
        verdict, ms = run_verify(page)
        assert verdict == "INVALID PROOF", verdict
        assert page.inner_text("#invalid-reason")
        shoot(page, "verify-altered-desktop")

        # a genuine proof checked against another chain's genesis
        page.set_input_files("#qr-input", str(network.qr))
        page.wait_for_selector("#proof-info:has-text('QR')")
        load_genesis_file(page, network.other_genesis_file)
        verdict, _ = run_verify(page)
        assert verdict == "INVALID PROOF"
        reason = page.inner_text("#invalid-reason")
        assert "signature" in reason or "validator set" in reason, reason
        assert not errors.errors, errors.errors
    finally:
        context.close()
    context, page, errors = open_page(browser, cluster.urls[0] + "/console/verify.html", PHONE)
    try:
        load_genesis_file(page, network.genesis_file)
        page.set_input_files("#qr-input", str(network.qr))
        page.wait_for_selector("#proof-info:has-text('QR')")
        assert run_verify(page)[0] == "VALID"
        shoot(page, "verify-valid-phone")
        assert not errors.errors, errors.errors
    finally:
        context.close()


def _python_verdict(genesis: Genesis, cert_id: str, data: bytes) -> str:
    try:
        return verify_certificate(genesis, cert_id, data).verdict
    except CertificateNotFound:
        return "NOT FOUND"
    except InvalidProof:
        return "INVALID PROOF"


def test_the_verifier_in_chromium_agrees_with_cert_verify(network: Network, browser: Any) -> None:
    """The same verdict as chainnode.cert_verify on the genuine proof and on it with each byte altered in turn
    (every third position), computed by Chromium's WebCrypto."""
    genesis = load_genesis(network.genesis_file)
    data = network.proof
    bundles = [data] + [data[:p] + bytes([data[p] ^ 0x10]) + data[p + 1:] for p in range(0, len(data), 3)]
    expected = [_python_verdict(genesis, network.cert_id, b) for b in bundles]
    context, page, errors = open_page(browser, network.cluster.urls[0] + "/console/verify.html", DESKTOP)
    try:
        started = time.perf_counter()
        got = page.evaluate("""async ([genesisText, certId, bundles]) => {
            const { checkCertificate } = await import("./js/certificate.js");
            const { parseGenesis } = await import("./js/verifier.js");
            const { fromHex } = await import("./js/msgpack.js");
            const genesis = parseGenesis(genesisText);
            const out = [];
            for (const hex of bundles) out.push((await checkCertificate(genesis, certId, fromHex(hex))).verdict);
            return out;
        }""", [network.genesis_file.read_text(), network.cert_id, [b.hex() for b in bundles]])
        print(f"Chromium verified {len(bundles)} bundles in {(time.perf_counter() - started) * 1000:.0f} ms")
        assert got == expected
        assert expected[0] == "VALID" and expected.count("INVALID PROOF") == len(bundles) - 1
        assert not errors.errors, errors.errors
    finally:
        context.close()


def test_console_answers_carry_a_content_security_policy(network: Network) -> None:
    import urllib.request

    url = network.cluster.urls[0]
    for path in ("/console/", "/console/verify.html", "/console/js/verifier.js", "/console/verify-standalone.html"):
        with urllib.request.urlopen(url + path, timeout=5) as answer:
            policy = answer.headers["Content-Security-Policy"]
            assert "default-src 'none'" in policy and "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
            assert answer.headers["X-Content-Type-Options"] == "nosniff"
    status, body = http_json(url + "/console/../genesis.json", timeout=5)
    assert status == 404
    status, body = http_json(url + "/console/nothing.js", timeout=5)
    assert status == 404 and json.dumps(body)


def test_explorer_says_when_a_route_needs_a_member_key(network: Network, browser: Any) -> None:
    """Where a route answers 401 (transaction details as signed member reads), the page says so and keeps the
    header-level data; events without transaction results leave the transactions list to say it too."""
    problem = json.dumps({"type": "urn:chainnode:error:unauthorized", "status": 401, "code": "unauthorized",
                          "title": "unauthorized", "detail": "a signed member read is required"})
    context = browser.new_context(viewport=DESKTOP, locale="en-US")
    page = context.new_page()
    page.route("**/v1/blocks/**", lambda route: route.fulfill(status=401, body=problem,
                                                               content_type="application/problem+json"))
    page.route("**/v1/departments/*/members", lambda route: route.fulfill(status=401, body=problem,
                                                                         content_type="application/problem+json"))
    try:
        page.goto(network.cluster.urls[3] + "/console/#block=1")
        page.wait_for_selector("html[data-ready='1']")
        page.wait_for_selector("#block-body:has-text('requires a member key')")
        page.wait_for_selector("#blocks tr[data-height='1']")
        page.click("#departments tr:has-text('CAB') button")
        page.wait_for_selector("#departments tr[data-members-of='CAB']:has-text('requires a member key')")
        shoot(page, "explorer-member-key-desktop")
    finally:
        context.close()


def test_a_trust_file_is_a_root_beside_genesis(network: Network, browser: Any, tmp_path: Path) -> None:
    """The trust file `cert verify --trust-out` writes: with it loaded, a proof fetched by ID starts at its height
    and verifies from it, and the page says so; the QR proof (from genesis) is still checked from genesis; a
    trust file of another height is refused, and a proof from the trusted height without the trust file is
    INVALID PROOF. The single file takes the same trust file from disk."""
    cluster = network.cluster
    genesis = load_genesis(network.genesis_file)
    checked = verify_certificate(genesis, network.cert_id, network.proof)
    assert checked.trust is not None and checked.trust.height > 0
    document = checked.trust.to_json()
    trust_file, bad_trust = tmp_path / "trust.json", tmp_path / "bad-trust.json"
    trust_file.write_text(json.dumps(document, indent=2))
    bad_trust.write_text(json.dumps({**document, "height": document["height"] + 1}))
    while cluster.height(0) <= checked.trust.height + 1:  # the next proofs are of later blocks
        cluster.wait_committed(0, cluster.submit(0, [f"after-trust-{cluster.height(0)}"]))
    import urllib.request

    target = f"{cluster.urls[0]}/v1/certs/{network.cert_id}/proof?format=binary&trusted_height={checked.trust.height}"
    with urllib.request.urlopen(target, timeout=10) as answer:
        from_trust = bytes(answer.read())
    proof_file = tmp_path / "from-trust.proof"
    proof_file.write_bytes(from_trust)
    verify_certificate(genesis, network.cert_id, from_trust, trust=checked.trust)
    trust_root = f"trust file of height {checked.trust.height}"

    context, page, errors = open_page(browser, cluster.urls[1] + "/console/verify.html", DESKTOP)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/proof" in r.url else None)
    try:
        page.click("#lang-switch")  # English
        page.set_input_files("#trust-input", str(trust_file))
        page.wait_for_selector("#input-error")
        assert "genesis" in page.inner_text("#input-error")  # a trust file needs its genesis first
        load_genesis_file(page, network.genesis_file)
        page.set_input_files("#trust-input", str(trust_file))
        page.wait_for_selector("#trust-info-loaded")
        assert f"height {checked.trust.height}" in page.inner_text("#trust-info")
        page.fill("#cert-id", network.cert_id)
        page.click("#fetch-button")
        page.wait_for_selector("#proof-info:has-text('/v1/certs/')")
        assert any(f"trusted_height={checked.trust.height}" in u for u in asked), asked
        assert run_verify(page)[0] == "VALID"
        assert trust_root in page.inner_text("#proof-root")
        shoot(page, "verify-trust-root-desktop")

        page.set_input_files("#qr-input", str(network.qr))
        page.wait_for_selector("#proof-info:has-text('QR')")
        assert run_verify(page)[0] == "VALID"
        assert page.inner_text("#proof-root").startswith("genesis ")

        page.click("#trust-forget")
        page.wait_for_selector("#trust-info-none")
        page.set_input_files("#proof-input", str(proof_file))
        page.wait_for_selector("#proof-info:has-text('from-trust.proof')")
        assert run_verify(page)[0] == "INVALID PROOF"
        assert "trust root at height" in page.inner_text("#invalid-reason")

        page.set_input_files("#trust-input", str(bad_trust))
        page.wait_for_selector("#input-error")
        assert "did not sign its header" in page.inner_text("#input-error")
        assert page.locator("#trust-info-none").count() == 1
        assert not errors.errors, errors.errors
    finally:
        context.close()

    page_file = tmp_path / "verify-standalone.html"
    page_file.write_text(build_standalone()[0], encoding="utf-8")
    context = browser.new_context(viewport=PHONE, locale="en-US")
    page = context.new_page()
    errors = PageErrors(page)
    try:
        page.goto(page_file.as_uri())
        page.wait_for_selector("html[data-ready='1']")
        load_genesis_file(page, network.genesis_file)
        page.set_input_files("#trust-input", str(trust_file))
        page.wait_for_selector("#trust-info-loaded")
        page.set_input_files("#proof-input", str(proof_file))
        page.wait_for_selector("#proof-info:has-text('from-trust.proof')")
        assert run_verify(page)[0] == "VALID"
        assert trust_root in page.inner_text("#proof-root")
        shoot(page, "verify-standalone-trust-root-phone")
        assert not errors.errors, errors.errors
    finally:
        context.close()


def write_y4m(path: Path, png: Path, side: int = 800) -> None:
    """A camera's video of the QR image: `png` centred on a white square, as raw 4:2:0 frames (Y4M), the
    format Chromium's fake capture device plays in a loop."""
    from PIL import Image

    with Image.open(png) as image:
        code = image.convert("L")
        frame = Image.new("L", (side, side), 255)
        frame.paste(code, ((side - code.width) // 2, (side - code.height) // 2))
    luma = bytes(16 + value * 219 // 255 for value in frame.tobytes())  # video range
    chroma = bytes([128]) * (side // 2) * (side // 2)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{side} H{side} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(2):
            out.write(b"FRAME\n" + luma + chroma + chroma)


def test_the_camera_reads_the_qr_proof_or_says_why_it_cannot(network: Network, browser: Any, tmp_path: Path) -> None:
    """A genuine QR code shown to Chromium's fake camera is read in the page and verifies; a refused permission
    and a page with no camera are each said in place, and the photo upload is still there."""
    from tests.browser.conftest import find_chromium

    url = network.cluster.urls[0] + "/console/verify.html"
    video = tmp_path / "qr.y4m"
    write_y4m(video, network.qr)
    camera = browser.browser_type.launch(
        executable_path=find_chromium(), headless=True,
        args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--use-fake-device-for-media-stream",
              "--use-fake-ui-for-media-stream", f"--use-file-for-fake-video-capture={video}"])
    try:
        context, page, errors = open_page(camera, url, PHONE, permissions=["camera"])
        try:
            load_genesis_file(page, network.genesis_file)
            started = time.perf_counter()
            page.click("#camera-button")
            verdict = page.wait_for_selector("#verdict", timeout=30000)
            print(f"camera: QR read and verified in {(time.perf_counter() - started) * 1000:.0f} ms")
            assert verdict.get_attribute("data-verdict") == "VALID"
            assert page.is_hidden("#camera-video") and page.is_visible("#camera-button")
            assert "摄像头" in page.inner_text("#proof-info")
            shoot(page, "verify-camera-phone")
            assert not errors.errors, errors.errors
        finally:
            context.close()
    finally:
        camera.close()

    refuse = ("navigator.mediaDevices.getUserMedia = () => "
              "Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));")
    absent = "Object.defineProperty(Navigator.prototype, 'mediaDevices', { get: () => undefined });"
    for script, needle in ((refuse, "refused"), (absent, "cannot use a camera")):
        context = browser.new_context(viewport=DESKTOP, locale="en-US")
        context.add_init_script(script)
        page = context.new_page()
        errors = PageErrors(page)
        try:
            page.goto(url)
            page.wait_for_selector("html[data-ready='1']")
            page.click("#camera-button")
            page.wait_for_selector(f"#camera-info:has-text('{needle}')")
            assert page.is_visible("#camera-button") and page.is_hidden("#camera-video")
            assert page.is_visible("label:has(#qr-input)")
            if needle == "refused":
                shoot(page, "verify-camera-refused-desktop")
            assert not errors.errors, errors.errors
        finally:
            context.close()
