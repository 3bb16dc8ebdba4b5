"""Official documents across four real node processes: PSB sends through its node to TAX and SAMR; the
recipients' nodes fetch the ciphertext over the peer network (TAX's node is killed in the middle of its
transfer and finishes after a restart), their staff open it through their own node, CAB (not a recipient)
never holds a copy and is refused everywhere, and the history of send, delivery, opening and receipt
verifies against genesis alone."""

from __future__ import annotations

import base64
import io
import json
import os
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any, TypeVar

import pytest

from chainnode import cli_documents, crypto, doc_client
from chainnode.cli import main
from chainnode.cli_documents import verify_document_history
from chainnode.client import Client, RemoteError
from chainnode.config import HomeLayout
from chainnode.doc_verify import verify_document_bundle
from chainnode.errors import InvalidProof
from chainnode.genesis import Genesis, load_genesis
from chainnode.read_auth import NONCE_SIZE, sign_read
from tests import kit
from tests.cluster import Cluster
from tests.nodeproc import http_json

PSB, SAMR, CAB, TAX = 0, 1, 2, 3
SIZE = 6 * 1024 * 1024 + 12345
T = TypeVar("T")


def wait_for(what: str, check: Callable[[], T]) -> T:
    """A transfer of 6 MiB between processes: up to 90 s, checked every 20 ms."""
    return kit.wait_for(what, check, timeout=90, interval=0.02)


def blob_files(cluster: Cluster, i: int) -> list[Path]:
    root = HomeLayout(cluster.homes[i].home).root / "blobs"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def delivered(client: Client, key: crypto.PrivateKey, doc_id: str, department: str) -> bool:
    status = doc_client.record(client, key, doc_id)["document"]["recipient_status"][department]
    return status["delivered_height"] is not None


def test_a_document_reaches_only_its_recipients_and_its_history_verifies(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, test_faults={TAX: "slow-blobs", PSB: "slow-blobs", SAMR: "slow-blobs"})
    cluster.start_all()
    clients = [Client(url, timeout=30) for url in cluster.urls]
    try:
        source = tmp_path / "notice.bin"
        source.write_bytes(os.urandom(SIZE))
        sent = doc_client.send(clients[PSB], cluster.keys[PSB], source, recipients=["TAX", "SAMR"],
                               number="PSB-2026-001", title="Request for assistance", classification="confidential",
                               max_bytes=64 << 20, reply_days=5)
        digest = sent.digest.ciphertext_sha256.hex()

        # TAX's node is killed in the middle of its transfer; after a restart it finishes from its partial
        partial = wait_for("TAX's node to start fetching", lambda: [p for p in blob_files(cluster, TAX)
                                                                   if p.stat().st_size > 0])
        assert all(digest in p.name for p in partial)
        cluster.kill(TAX)
        assert not delivered(clients[PSB], cluster.keys[PSB], sent.doc_id, "TAX")
        cluster.start(TAX)
        wait_for("delivery to TAX", lambda: delivered(clients[PSB], cluster.keys[PSB], sent.doc_id, "TAX"))
        wait_for("delivery to SAMR", lambda: delivered(clients[PSB], cluster.keys[PSB], sent.doc_id, "SAMR"))
        record = doc_client.record(clients[PSB], cluster.keys[PSB], sent.doc_id)["document"]
        at = record["recipient_status"]["TAX"]["delivered_height"]
        # PSB's node answered: TAX's own node, which is asked next, may be a block behind it
        wait_for("TAX's node to reach its delivery", lambda: clients[TAX].status()["height"] >= at)

        # TAX's staff open it through TAX's node: the exact content, and the opening is on the ledger
        opened = doc_client.open_to(clients[TAX], cluster.keys[TAX], sent.doc_id, tmp_path / "opened.bin",
                                    purpose="reply to the request")
        assert (tmp_path / "opened.bin").read_bytes() == source.read_bytes()
        doc_client.receipt(clients[TAX], cluster.keys[TAX], sent.doc_id, tmp_path / "opened.bin")

        # CAB is no recipient: its node never held the ciphertext, and its document officer (no auditor) is
        # refused everywhere
        assert not [p for p in blob_files(cluster, CAB) if digest in p.name]
        clerk = crypto.PrivateKey.generate()
        registered = clients[CAB].call(cluster.keys[CAB], "governance", "register_member", {
            "public_key": clerk.public_key, "name": "CAB clerk", "roles": ["clerk", "document_officer"]})
        cluster.wait_committed(CAB, cluster.submit(CAB, ["a block after the registration"]))
        wait_for("the clerk's key to take effect", lambda: clients[CAB].status()["height"] > registered["height"])
        with pytest.raises(RemoteError) as refused:
            doc_client.record(clients[CAB], clerk, sent.doc_id)
        assert (refused.value.status, refused.value.code) == (403, "not_authorised")
        with pytest.raises(RemoteError) as refused:
            doc_client.content_key(clients[CAB], clerk, sent.doc_id, case_id=None, purpose="curious")
        assert (refused.value.status, refused.value.code) == (403, "no_access")
        with pytest.raises(RemoteError) as refused:
            clients[CAB].download_ciphertext(clerk, sent.doc_id, io.BytesIO(), size=SIZE)
        assert refused.value.code == "no_access"

        # hostile or mistaken calls get a clear refusal and change nothing
        status, body = http_json(f"{cluster.urls[TAX]}/v1/documents/{sent.doc_id}")
        assert (status, body["code"]) == (401, "signature_required")
        tax_node = bytes.fromhex(http_json(f"{cluster.urls[TAX]}/v1/status")[1]["node_key"])
        stale = sign_read(cluster.keys[TAX], "cluster", "GET", f"/v1/documents/{sent.doc_id}", 1_000,
                          os.urandom(NONCE_SIZE), tax_node)
        status, body = http_json(f"{cluster.urls[TAX]}/v1/documents/{sent.doc_id}", headers={"Authorization": stale})
        assert (status, body["code"]) == (401, "read_request_expired")
        for key in (b"doc/" + sent.doc_id.encode(), b"docs/access/" + sent.doc_id.encode() + bytes(4)):
            status, body = http_json(f"{cluster.urls[CAB]}/v1/state?key={key.hex()}")  # not around the scope
            assert (status, body["code"]) == (403, "scoped_record")
        with pytest.raises(RemoteError) as refused:  # an upload goes to the uploader's own department's node
            clients[CAB].upload_ciphertext(cluster.keys[TAX], source, crypto.sha256(source.read_bytes()))
        assert (refused.value.status, refused.value.code) == (403, "wrong_node")
        with pytest.raises(RemoteError) as refused:  # a member of TAX opens through PSB's node
            doc_client.content_key(clients[PSB], cluster.keys[TAX], sent.doc_id, case_id=None, purpose=None)
        assert refused.value.code == "wrong_node"
        orphan = dict(_send_args(sent), number="PSB-2026-002", ciphertext_sha256=crypto.sha256(b"never uploaded"))
        with pytest.raises(RemoteError) as refused:  # a send whose ciphertext the node does not hold
            clients[PSB].submit(clients[PSB].build_tx(cluster.keys[PSB], "documents", "send", orphan).raw)
        assert (refused.value.status, refused.value.code) == (409, "ciphertext_missing")
        with pytest.raises(RemoteError) as refused:  # the body is not the ciphertext it claims to be
            bogus = tmp_path / "bogus.bin"
            bogus.write_bytes(b"x" * 1000)
            clients[PSB].upload_ciphertext(cluster.keys[PSB], bogus, crypto.sha256(b"y" * 1000))
        assert refused.value.status == 400

        # the history: send, deliveries, opening, receipt, all proven against genesis alone by one page proof
        genesis_path = HomeLayout(cluster.homes[PSB].home).genesis
        genesis = load_genesis(genesis_path)
        answer = doc_client.record(clients[PSB], cluster.keys[PSB], sent.doc_id)
        actions = [h["action"] for h in answer["document"]["history"]]
        assert actions[0] == "sent" and {"delivered", "received"} <= set(actions), actions
        access = answer["access"]
        assert [(a["department"], a["tx_id"]) for a in access] == [("TAX", opened.access_tx)]
        _check_doc_history(cluster, clients, genesis, answer, sent.doc_id)
        verified = verify_document_bundle(genesis, sent.doc_id, _b64(answer["state_proof"]["proof"]),
                                          crypto.sha256(source.read_bytes()))
        assert verified.content_matches and verified.sender == "PSB"
        assert {r.department: r.state for r in verified.recipients} == {"TAX": "received", "SAMR": "pending"}

        # TAX's admin rotates its encryption key: a document sent at once is sealed to the new key, and the
        # first one (sealed to the old key) still opens
        tax_home = cluster.homes[TAX]
        code = main(["doc", "rotate-key", "--home", str(tax_home.home), "--key", str(tax_home.officer_key),
                     "--node", cluster.urls[TAX]])
        assert code == 0
        note = tmp_path / "after-rotation.txt"
        note.write_text("sealed to the new key")
        fresh = doc_client.send(clients[PSB], cluster.keys[PSB], note, recipients=["TAX"], number="PSB-2026-003",
                                title="After the rotation", classification="internal", max_bytes=64 << 20,
                                genesis=genesis)  # the new key, proven against genesis: no node trusted
        wait_for("delivery of the new document", lambda: delivered(clients[PSB], cluster.keys[PSB], fresh.doc_id,
                                                                    "TAX"))
        doc_client.open_to(clients[TAX], cluster.keys[TAX], fresh.doc_id, tmp_path / "fresh.txt")
        assert (tmp_path / "fresh.txt").read_text() == "sealed to the new key"
        doc_client.open_to(clients[TAX], cluster.keys[TAX], sent.doc_id, tmp_path / "again.bin")
        assert (tmp_path / "again.bin").read_bytes() == source.read_bytes()
        cluster.stop_all()
    finally:
        for client in clients:
            client.close()
        cluster.abort()


def run_cli(*argv: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def _check_doc_history(cluster: Cluster, clients: list[Client], genesis: Genesis, answer: dict[str, Any],
                       doc_id: str) -> None:
    """`doc history --genesis`: one page of the document's history with one proof, every event verified; and
    the checks that refuse a page or a record that does not match the proven transactions."""
    genesis_path = HomeLayout(cluster.homes[PSB].home).genesis
    key, url = cluster.homes[PSB].officer_key, cluster.urls[PSB]
    code, out, err = run_cli("doc", "history", doc_id, "--genesis", genesis_path, "--key", key, "--node", url,
                             "--json")
    assert code == 0, err
    shown = json.loads(out)
    record_txs = {h["tx_id"] for h in answer["document"]["history"]} | {a["tx_id"] for a in answer["access"]}
    assert shown["verified"] is True and shown["proof_bytes"] > 0
    assert record_txs <= {e["tx_id"] for e in shown["events"]} and all(e["verified"] for e in shown["events"])
    opened = next(e for e in shown["events"] if e["action"] == "opened")
    assert opened["department"] == "TAX" and opened["detail"] == "reply to the request" and opened["roles"]
    code, out, err = run_cli("doc", "history", doc_id, "--genesis", genesis_path, "--key", key, "--node", url)
    assert code == 0, err
    assert f"✓ {len(shown['events'])} events verified against genesis {genesis_path} (one proof" in out
    assert out.count("  ✓ height ") == len(shown["events"]) and "received by" in out
    assert "documents.access REFUSED (no_access) by CAB clerk" in out  # a refused attempt the record does not show
    code, out, err = run_cli("doc", "history", doc_id, "--key", key, "--node", url)
    assert code == 0 and "✓" not in out and "not verified: pass --genesis" in out
    code, _, err = run_cli("doc", "history", doc_id, "--trust", genesis_path, "--key", key, "--node", url)
    assert code == 2 and err.startswith("error: usage: --trust is for a check against genesis")

    clients[CAB].key = cluster.keys[CAB]  # a document's history is internal: CAB's officer is also an auditor
    pages = [clients[CAB].history_page(f"document:{doc_id}", limit=1000, to_height=answer["height"], proof=True)]
    events = cli_documents._events(answer)
    assert verify_document_history(genesis, doc_id, events, pages) == len(base64.b64decode(pages[0]["proof"]))
    forged = [dict(e, action="returned") if e["action"] == "received" else e for e in events]
    with pytest.raises(InvalidProof, match=r"of the returned event is documents\.receipt, not a returned"):
        verify_document_history(genesis, doc_id, forged, pages)
    moved = [dict(e, height=e["height"] + 1) if e["action"] == "opened" else e for e in events]
    with pytest.raises(InvalidProof, match="of the opened event is proven at height"):
        verify_document_history(genesis, doc_id, moved, pages)
    with pytest.raises(InvalidProof, match="is not in the proven history of document"):
        verify_document_history(genesis, doc_id, [*events, dict(events[0], tx_id="ab" * 32)], pages)
    short = [dict(pages[0], events=pages[0]["events"][:-1])]  # the node leaves an event of the page out
    with pytest.raises(InvalidProof, match="the proof holds"):
        verify_document_history(genesis, doc_id, events[:1], short)


def _send_args(sent: doc_client.Sent) -> dict[str, Any]:
    return {"title": "another", "classification": "internal", "recipients": ["TAX"],
            "plaintext_sha256": sent.digest.plaintext_sha256, "ciphertext_size": sent.digest.ciphertext_size,
            "sealed_keys": [{"department": code, "fingerprint": bytes(32), "sealed": bytes(80)}
                            for code in ("PSB", "TAX")]}


def _b64(text: str) -> bytes:
    return base64.b64decode(text)
