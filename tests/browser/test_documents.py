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


def open_documents(browser: Any, url: str, viewport: dict[str, int], locale: str = "zh-CN") -> tuple[Any, Any, PageErrors]:
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

CROSS_CHECK = """async ([plainB64, secretHex, pythonCipherB64, pythonSealedHex]) => {
  const m = await import(new URL("js/documents-crypto.js", location.href).href);
  const { toHex, fromHex } = await import(new URL("js/msgpack.js", location.href).href);
  const b64 = (bytes) => { let s = ""; for (let i = 0; i < bytes.length; i += 32768) s += String.fromCharCode(...bytes.subarray(i, i + 32768)); return btoa(s); };
  const unb64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const sodium = await m.sodiumLib();
  const secret = fromHex(secretHex);
  const publicKey = sodium.crypto_scalarmult_base(secret);
  const key = { publicKey, secret, fingerprint: await m.computeFingerprint(publicKey) };
  // the page encrypts and seals; Python opens
  const contentKey = await m.newContentKey();
  const sent = await m.encryptDocument(unb64(plainB64), contentKey);
  const [sealed] = await m.sealContentKey(contentKey, { SAMR: publicKey });
  // Python's envelope opens in the page; one altered byte is refused
  const pythonKey = await m.openContentKey({ fingerprint: key.fingerprint, sealed: fromHex(pythonSealedHex) }, key);
  const cipher = unb64(pythonCipherB64);
  const opened = await m.decryptDocument(cipher, pythonKey);
  const refusals = [];
  for (const at of [0, 7, 29, 31, 40, cipher.length - 1]) {
    const altered = cipher.slice();
    altered[at] ^= 0x01;
    try { await m.decryptDocument(altered, pythonKey); refusals.push("accepted"); } catch (e) { refusals.push(e.code); }
  }
  try { await m.decryptDocument(cipher.subarray(0, cipher.length - 1), pythonKey); refusals.push("accepted"); } catch (e) { refusals.push(e.code); }
  const wrong = { ...key, fingerprint: new Uint8Array(32) };
  let wrongKey = "accepted";
  try { await m.openContentKey({ fingerprint: key.fingerprint, sealed: fromHex(pythonSealedHex) }, wrong); } catch (e) { wrongKey = e.code; }
  return { cipher: b64(sent.ciphertext), size: sent.ciphertextSize, plainSha: toHex(sent.plaintextSha256), cipherSha: toHex(sent.ciphertextSha256),
    fingerprint: toHex(sealed.fingerprint), sealed: toHex(sealed.sealed), opened: b64(opened.plaintext), openedSha: toHex(opened.plaintextSha256),
    refusals, wrongKey };
}"""


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
    for variable, file in (("LIBSODIUM_SHA256", "libsodium.js"), ("LIBSODIUM_WRAPPERS_SHA256", "libsodium-wrappers.js")):
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
        assert errors.errors == []
    finally:
        context.close()


def test_a_document_from_python_is_opened_and_signed_for_in_the_page(exchange: Exchange, browser: Any) -> None:
    cluster = exchange.cluster
    plaintext = os.urandom(300_000)
    source = exchange.root / "notice-from-python.bin"
    source.write_bytes(plaintext)

    def send() -> str:
        with Client(cluster.urls[PSB], timeout=30) as client:
            sent = doc_client.send(client, cluster.keys[PSB], source, recipients=["SAMR"], number="PSB-2026-PY-1",
                                   title="Sent by the Python client", classification="internal", max_bytes=64 << 20)
        wait_delivered(cluster.urls[PSB], cluster.keys[PSB], sent.doc_id, "SAMR")
        return sent.doc_id

    doc_id = in_thread(send)
    context, page, errors = open_documents(browser, cluster.urls[SAMR], PHONE)
    try:
        load_member(page, exchange.member_keys[SAMR], "SAMR")
        # the inbox lists it
        page.click("#box-load")
        page.wait_for_selector(f"#box-table tr[data-doc-id='{doc_id}']")
        page.click(f"#box-table button[data-doc='{doc_id}']")
        page.wait_for_selector(f"#doc-card[data-doc-id='{doc_id}']")
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
                return doc_client.record(client, cluster.keys[SAMR], doc_id)["document"]["recipient_status"]["SAMR"]

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
        assert errors.errors == []
    finally:
        context.close()


def access_count(cluster: Cluster, doc_id: str) -> int:
    with Client(cluster.urls[SAMR], timeout=30) as client:
        return int(doc_client.record(client, cluster.keys[SAMR], doc_id)["access_count"])
