"""The documents page (收发文) in a real Chromium against a real 4-node cluster: the envelope the page writes opens
with chainnode.envelope and the one Python writes opens in the page, byte for byte, and an altered byte is refused
on both sides; a document sent from the page (PSB's member key and its encryption key, encrypted with a
passphrase, loaded) commits, and SAMR opens it with the Python client and gets the same bytes; a document sent by
Python is opened in the page by SAMR (after another department's encryption key was refused, naming the
fingerprints), saved, and signed for in the page, and the receipt commits. Screenshots at 1280x800 and 390x844
go to test-screenshots/."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from chainnode import crypto, doc_client, envelope
from chainnode.client import Client
from chainnode.config import HomeLayout
from chainnode.console import WEB_DIR
from chainnode.errors import DecryptionFailed
from tests.browser.conftest import DESKTOP, PHONE, ROOT, shoot
from tests.browser.test_console import PageErrors
from tests.cluster import Cluster

PSB, SAMR = 0, 1
PASSPHRASE = "公文 encryption key passphrase"
T = TypeVar("T")


@dataclass
class Exchange:
    cluster: Cluster
    root: Path
    member_keys: list[Path]
    encryption_keys: list[Path]
    encrypted_psb_key: Path


@pytest.fixture(scope="module")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exchange]:
    root = tmp_path_factory.mktemp("documents")
    cluster = Cluster(root / "c")
    cluster.start_all()
    try:
        members, encryption = [], []
        for i, home in enumerate(cluster.homes[:2]):
            path = root / f"member-{i}.key"
            crypto.write_key_file(path, cluster.keys[i], label=f"document officer {i}")
            members.append(path)
            encryption.append(HomeLayout(home.home).encryption_key)
        encrypted = root / "psb-encryption-encrypted.key"
        document = crypto.encrypt_key_document(crypto.read_key_document(encryption[PSB]), PASSPHRASE.encode(),
                                               crypto.KDF_PROFILES["interactive"])
        crypto.write_key_document(encrypted, document)
        yield Exchange(cluster, root, members, encryption, encrypted)
    finally:
        cluster.stop_all()


def in_thread(fn: Callable[..., T], *args: Any) -> T:
    """The Python client runs its own event loop: off Playwright's thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args).result()


def open_documents(browser: Any, url: str, viewport: dict[str, int],
                   locale: str = "zh-CN") -> tuple[Any, Any, PageErrors]:
    context = browser.new_context(viewport=viewport, locale=locale, accept_downloads=True)
    page = context.new_page()
    errors = PageErrors(page)
    started = time.perf_counter()
    page.goto(f"{url}/console/documents.html")
    page.wait_for_selector("html[data-ready='1']")
    print(f"documents page load at {viewport['width']} px: {(time.perf_counter() - started) * 1000:.0f} ms")
    return context, page, errors


def load_member(page: Any, path: Path, department: str) -> None:
    page.set_input_files("#member-file", str(path))
    page.wait_for_selector(f"#member-info[data-department='{department}']")


def load_encryption_key(page: Any, path: Path, passphrase: str | None = None) -> None:
    page.set_input_files("#enc-file", str(path))
    if passphrase is not None:
        page.wait_for_selector("#enc-passphrase")
        page.fill("#enc-passphrase", passphrase)
        page.click("#enc-open")
    page.wait_for_selector("#enc-info", timeout=30_000)


def fingerprint_of(path: Path) -> str:
    return crypto.compute_key_fingerprint(crypto.load_encryption_key_file(path).public_key).hex()


def wait_delivered(url: str, key: crypto.PrivateKey, doc_id: str, department: str) -> None:
    with Client(url, timeout=30) as client:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status = doc_client.record(client, key, doc_id)["document"]["recipient_status"][department]
            if status["delivered_height"] is not None:
                return
            time.sleep(0.1)
    raise AssertionError(f"{department}'s node never reported {doc_id} delivered")


# --- the envelope, byte for byte ------------------------------------------------------------------------------

CROSS_CHECK = (ROOT / "tests" / "js" / "documents_envelope_check.js").read_text(encoding="utf-8")


@pytest.mark.parametrize("size", [0, 1000, envelope.CHUNK_SIZE, envelope.CHUNK_SIZE + 3])
def test_the_browsers_envelope_and_pythons_open_each_other(exchange: Exchange, browser: Any, size: int) -> None:
    context, page, errors = open_documents(browser, exchange.cluster.urls[SAMR], DESKTOP)
    try:
        plaintext = os.urandom(size)
        key = crypto.EncryptionKey.generate()
        content_key = crypto.new_content_key()
        python_cipher = io.BytesIO()
        envelope.encrypt_stream(io.BytesIO(plaintext), python_cipher, content_key, max_plaintext=1 << 30)
        python_sealed = envelope.seal_content_key(content_key, {"SAMR": key.public_key})["SAMR"].sealed
        out = page.evaluate(CROSS_CHECK, [base64.b64encode(plaintext).decode(), key.secret.hex(),
                                          base64.b64encode(python_cipher.getvalue()).decode(), python_sealed.hex()])
        # the page's envelope: the layout and size of docs/documents.md, opened by chainnode.envelope
        cipher = base64.b64decode(out["cipher"])
        assert cipher[:6] == b"CNDOC\x01" and len(cipher) == out["size"] == envelope.compute_ciphertext_size(size)
        assert out["cipherSha"] == hashlib.sha256(cipher).hexdigest()
        assert out["plainSha"] == hashlib.sha256(plaintext).hexdigest()
        assert out["fingerprint"] == crypto.compute_key_fingerprint(key.public_key).hex()
        sealed = envelope.SealedKey(bytes.fromhex(out["fingerprint"]), bytes.fromhex(out["sealed"]))
        assert len(sealed.sealed) == 80
        opened_key = envelope.open_content_key(sealed, key)
        sink = io.BytesIO()
        assert envelope.decrypt_stream(io.BytesIO(cipher), sink, opened_key) == hashlib.sha256(plaintext).digest()
        assert sink.getvalue() == plaintext
        with pytest.raises(DecryptionFailed):
            envelope.open_content_key(sealed, crypto.EncryptionKey.generate())
        altered = bytearray(cipher)
        altered[-1] ^= 1
        with pytest.raises(DecryptionFailed):
            envelope.decrypt_stream(io.BytesIO(bytes(altered)), io.BytesIO(), opened_key)
        # Python's envelope, opened in the page; altered bytes (magic, header, length, chunk, tag) and a
        # truncation refused
        assert base64.b64decode(out["opened"]) == plaintext
        assert out["openedSha"] == hashlib.sha256(plaintext).hexdigest()
        assert out["refusals"] == ["document_not_envelope", "document_decrypt_failed", "document_decrypt_failed",
                                   "document_decrypt_failed", "document_decrypt_failed", "document_decrypt_failed",
                                   "document_decrypt_failed"]
        assert out["wrongKey"] == "wrong_encryption_key"
        assert errors.errors == []
    finally:
        context.close()


def test_the_vendored_libsodium_is_the_pinned_one() -> None:
    build = (ROOT / "scripts" / "build-web").read_text(encoding="utf-8")
    for variable, file in (("LIBSODIUM_SHA256", "libsodium.js"),
                           ("LIBSODIUM_WRAPPERS_SHA256", "libsodium-wrappers.js")):
        match = re.search(rf'^{variable}="([0-9a-f]{{64}})"$', build, re.M)
        assert match, variable
        assert hashlib.sha256((WEB_DIR / "vendor" / file).read_bytes()).hexdigest() == match.group(1)
    for licence in ("libsodium.LICENSE.txt", "libsodium-wrappers.LICENSE.txt"):
        assert "Permission to use, copy, modify" in (WEB_DIR / "vendor" / licence).read_text(encoding="utf-8")


# --- the exchange through the page -----------------------------------------------------------------------------


def test_a_document_sent_from_the_page_commits_and_opens_in_python(exchange: Exchange, browser: Any) -> None:
    cluster = exchange.cluster
    context, page, errors = open_documents(browser, cluster.urls[PSB], DESKTOP)
    try:
        assert page.get_attribute("nav a[aria-current='page']", "href") == "documents.html"
        page.wait_for_selector("#depts-table tr[data-code='SAMR']")
        load_member(page, exchange.member_keys[PSB], "PSB")
        sent_requests: list[Any] = []
        page.on("request", lambda r: sent_requests.append(r))
        page.set_input_files("#enc-file", str(exchange.encrypted_psb_key))
        page.fill("#enc-passphrase", "not the passphrase")
        page.click("#enc-open")
        page.wait_for_selector("#enc-error[data-code='key_passphrase_wrong']", timeout=30_000)
        assert "口令错误" in page.inner_text("#enc-error")
        page.click("#enc-cancel")
        load_encryption_key(page, exchange.encrypted_psb_key, PASSPHRASE)
        assert page.get_attribute("#enc-info", "data-fingerprint") == fingerprint_of(exchange.encryption_keys[PSB])
        assert page.get_attribute("#enc-verdict", "data-matches") == "true"
        # the form checks its fields before anything is encrypted
        page.click("#send-submit")
        assert page.inner_text("#send-number-error") and page.inner_text("#send-recipients-error")
        assert page.is_hidden("#result-card")
        plaintext = os.urandom(1024 * 1024 + 4321)
        source = exchange.root / "notice-from-page.bin"
        source.write_bytes(plaintext)
        page.set_input_files("#send-file", str(source))
        page.fill("#send-number", "公安发〔2026〕1号")
        page.fill("#send-title", "关于协查的函 (sent from the console)")
        page.check("#send-to-SAMR")
        page.fill("#send-reply-days", "5")
        uploads: list[Any] = []
        page.on("request", lambda r: uploads.append(r) if "/v1/blobs/" in r.url else None)
        page.click("#send-submit")
        page.wait_for_selector("#result-card[data-action='send'][data-status='ok']", timeout=90_000)
        assert page.get_attribute("#result-card", "data-code") == "ok"
        doc_id = page.get_attribute("#result-card", "data-doc-id")
        tx_id = page.get_attribute("#result-card", "data-tx-id")
        assert doc_id and re.fullmatch(r"[0-9a-f]{32}", doc_id) and tx_id
        assert doc_client.document_id(bytes.fromhex(tx_id)) == doc_id
        [upload] = uploads
        assert upload.method == "PUT" and upload.headers["authorization"].startswith("Chainnode-Signed ")
        shoot(page, "documents-sent-desktop")

        def check() -> bytes:
            wait_delivered(cluster.urls[PSB], cluster.keys[PSB], doc_id, "SAMR")
            with Client(cluster.urls[SAMR], timeout=30) as client:
                out = exchange.root / "opened-by-python.bin"
                opened = doc_client.open_to(client, cluster.keys[SAMR], doc_id, out, purpose="reply")
                assert opened.plaintext_sha256 == hashlib.sha256(plaintext).digest()
                record = doc_client.record(client, cluster.keys[SAMR], doc_id)["document"]
                assert record["sender"] == "PSB" and record["recipients"] == ["SAMR"]
                assert record["sender_officer"] == cluster.keys[PSB].public_key.hex()
                return out.read_bytes()

        assert in_thread(check) == plaintext
        # the sent box lists it, and the record shows its history
        page.fill("#box-department", "PSB")
        page.select_option("#box-select", "sent")
        page.click("#box-load")
        page.wait_for_selector(f"#box-table tr[data-doc-id='{doc_id}']")
        page.click(f"#box-table button[data-doc='{doc_id}']")
        page.wait_for_selector(f"#doc-card[data-doc-id='{doc_id}']")
        assert page.query_selector("#doc-history tr[data-action='sent']")
        shoot(page, "documents-record-desktop")
        # SAMR has not signed for it: PSB withdraws it in the page
        page.fill("#act-withdraw-reason", "sent by mistake")
        page.click("#act-withdraw-submit")
        page.wait_for_selector("#result-card[data-action='withdraw'][data-status='ok']", timeout=60_000)
        page.wait_for_selector("#doc-history tr[data-action='withdrawn']")
        # neither key's secret left the page
        secrets = (crypto.load_encryption_key_file(exchange.encryption_keys[PSB]).secret, cluster.keys[PSB].seed)
        for request in sent_requests:
            carried = (request.post_data_buffer or b"") + request.url.encode() + repr(request.headers).encode()
            assert not any(s in carried or s.hex().encode() in carried for s in secrets), request.url
        assert errors.errors == []
    finally:
        context.close()


def test_a_document_from_python_is_opened_and_signed_for_in_the_page(exchange: Exchange, browser: Any) -> None:
    cluster = exchange.cluster
    plaintext = os.urandom(300_000)
    source = exchange.root / "notice-from-python.bin"
    source.write_bytes(plaintext)

    def send() -> tuple[str, str]:
        with Client(cluster.urls[PSB], timeout=30) as client:
            sent, other = (doc_client.send(client, cluster.keys[PSB], source, recipients=["SAMR"],
                                           number=f"PSB-2026-PY-{n}", title=f"Sent by the Python client ({n})",
                                           classification="internal", max_bytes=64 << 20) for n in (1, 2))
        for doc in (sent, other):
            wait_delivered(cluster.urls[PSB], cluster.keys[PSB], doc.doc_id, "SAMR")
        return sent.doc_id, other.doc_id

    doc_id, to_return = in_thread(send)
    context, page, errors = open_documents(browser, cluster.urls[SAMR], PHONE)
    try:
        load_member(page, exchange.member_keys[SAMR], "SAMR")
        # the inbox lists it
        page.click("#box-load")
        page.wait_for_selector(f"#box-table tr[data-doc-id='{doc_id}']")
        page.click(f"#box-table button[data-doc='{doc_id}']")
        page.wait_for_selector(f"#doc-card[data-doc-id='{doc_id}']")
        # a member's signing key is no encryption key
        page.set_input_files("#enc-file", str(exchange.member_keys[SAMR]))
        page.wait_for_selector("#enc-error[data-code='encryption_key_file_kind']")
        # another department's encryption key: refused before anything is recorded, naming both fingerprints
        load_encryption_key(page, exchange.encryption_keys[PSB])
        assert page.get_attribute("#enc-verdict", "data-matches") == "false"
        page.click("#act-open-submit")
        page.wait_for_selector("#result-card[data-code='wrong_encryption_key']")
        samr_fingerprint, psb_fingerprint = (fingerprint_of(exchange.encryption_keys[i]) for i in (SAMR, PSB))
        assert page.get_attribute("#result-card", "data-expected") == samr_fingerprint
        assert page.get_attribute("#result-card", "data-loaded") == psb_fingerprint
        message = page.inner_text("#result-body")
        assert "加密密钥不符" in message and samr_fingerprint[:16] in message and psb_fingerprint[:16] in message
        shoot(page, "documents-wrong-key-phone")
        assert in_thread(lambda: access_count(cluster, doc_id)) == 0
        # the right key: the opening is recorded, the content decrypts, and the file saved is the one sent
        page.click("#enc-unload")
        load_encryption_key(page, exchange.encryption_keys[SAMR])
        assert page.get_attribute("#enc-verdict", "data-matches") == "true"
        page.fill("#act-purpose", "handling the request")
        page.click("#act-open-submit")
        page.wait_for_selector(f"#result-card[data-opened='{doc_id}']", timeout=60_000)
        assert page.inner_text("#open-hash") == hashlib.sha256(plaintext).hexdigest()
        with page.expect_download() as download:
            page.click("#open-save")
        assert Path(download.value.path()).read_bytes() == plaintext
        shoot(page, "documents-opened-phone")
        assert in_thread(lambda: access_count(cluster, doc_id)) == 1
        # the receipt, signed in the page with the opened plaintext's hash, commits
        page.wait_for_selector(f"#doc-card[data-doc-id='{doc_id}'] #act-receipt-submit")
        page.click("#act-receipt-submit")
        page.wait_for_selector("#result-card[data-action='receipt'][data-status='ok']", timeout=60_000)

        def received() -> dict[str, Any]:
            with Client(cluster.urls[SAMR], timeout=30) as client:
                record = doc_client.record(client, cluster.keys[SAMR], doc_id)["document"]
                return dict(record["recipient_status"]["SAMR"])

        status = in_thread(received)
        assert status["state"] == "received" and status["plaintext_sha256"] == hashlib.sha256(plaintext).hexdigest()
        # a second receipt is the contract's refusal, shown with its code and sentence
        page.wait_for_selector("#doc-recipients li[data-code='SAMR'][data-state='received']")
        page.click("#lang-switch")
        page.click("#act-receipt-submit")
        page.wait_for_selector("#result-card[data-code='already_received']", timeout=60_000)
        assert "Already received." in page.inner_text("#result-sentence")
        assert page.inner_text("#result-message")
        shoot(page, "documents-refused-phone")
        # received, so SAMR may forward it: to TAX, sealed in the page
        page.fill("#act-forward-to", "TAX")
        page.fill("#act-forward-note", "for your information")
        page.click("#act-forward-submit")
        page.wait_for_selector("#result-card[data-action='forward'][data-status='ok']", timeout=60_000)
        forward_id = page.get_attribute("#result-card", "data-doc-id")

        def forwarded() -> dict[str, Any]:
            with Client(cluster.urls[SAMR], timeout=30) as client:
                return dict(doc_client.record(client, cluster.keys[SAMR], str(forward_id))["document"])

        forward = in_thread(forwarded)
        assert forward["forwarded_from"] == doc_id and forward["recipients"] == ["TAX"]
        assert [k["department"] for k in forward["sealed_keys"]] == ["SAMR", "TAX"]
        # the other one goes back with a reason
        page.fill("#doc-id-input", to_return)
        page.click("#doc-show")
        page.wait_for_selector(f"#doc-card[data-doc-id='{to_return}']")
        page.fill("#act-return-reason", "not our department's matter")
        page.click("#act-return-submit")
        page.wait_for_selector("#result-card[data-action='return'][data-status='ok']", timeout=60_000)
        page.wait_for_selector("#doc-recipients li[data-code='SAMR'][data-state='returned']")
        assert errors.errors == []
    finally:
        context.close()


def access_count(cluster: Cluster, doc_id: str) -> int:
    with Client(cluster.urls[SAMR], timeout=30) as client:
        return int(doc_client.record(client, cluster.keys[SAMR], doc_id)["access_count"])
