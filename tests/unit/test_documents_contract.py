"""The documents contract: send, receipt, return, withdraw, forward, delivered and access, every refusal
(each through `Chain.refused`, which also asserts that the state did not change), the indexes and queries
the node and the API read, and the encryption key in force that every sealed key must name.

Departments PSB, SAMR, CAB and TAX start with the encryption keys `encryption_key_for("<DEPT>/encryption")`.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import pytest

from chainnode import crypto
from chainnode.errors import DecryptionFailed
from chainnode.execution import BlockContext, execute_block
from contracts import document_args, document_queries, documents, governance
from contracts.base import ContractError
from contracts.calendar import Calendar
from contracts.registry import REGISTRY
from tests.contract_kit import CHAIN_ID, DAY_MS, START_MS, Chain, encryption_key_for, key_for

GOVERNANCE: dict[str, Any] = {
    "cert_types": [{"code": "permit", "name": "Permit", "issuers": ["SAMR"]}],
}
PLAINTEXT = crypto.sha256(b"the notice")
CIPHERTEXT = crypto.sha256(b"the notice, encrypted")
SEALED = b"\x5a" * document_args.SEALED_SIZE
_numbers = itertools.count(1)


@pytest.fixture
def chain() -> Chain:
    return Chain(governance=GOVERNANCE, encryption_keys=True)


def fingerprint(chain: Chain, code: str) -> bytes:
    key = governance.encryption_key_at(chain.state, code, chain.height + 1)
    assert key is not None
    return crypto.compute_key_fingerprint(key)


def sealed_keys(chain: Chain, codes: Sequence[str]) -> list[dict[str, Any]]:
    return [{"department": code, "fingerprint": fingerprint(chain, code), "sealed": SEALED} for code in codes]


def send_args(chain: Chain, sender: str = "PSB", recipients: Sequence[str] = ("SAMR", "CAB"),
              **changes: Any) -> dict[str, Any]:
    n = next(_numbers)
    args: dict[str, Any] = {
        "number": f"PSB[2026]{n}", "title": "Notice on joint inspection", "classification": "internal",
        "recipients": list(recipients), "plaintext_sha256": PLAINTEXT, "ciphertext_size": 1000,
        # every send encrypts afresh: its own ciphertext (only a forward carries the original's)
        "ciphertext_sha256": crypto.sha256(b"ciphertext %d" % n),
    }
    args.update(changes)
    if "sealed_keys" not in args:
        args["sealed_keys"] = sealed_keys(chain, [sender, *recipients])
    return {k: v for k, v in args.items() if v is not ...}


def send(chain: Chain, sender: str = "PSB", recipients: Sequence[str] = ("SAMR", "CAB"), **changes: Any) -> str:
    result = chain.ok(chain.staff[sender, "document_officer"], "documents", "send",
                      send_args(chain, sender, recipients, **changes))
    doc_id = chain.event_attrs(result, "document.sent")["doc_id"]
    assert isinstance(doc_id, str)
    return doc_id


def get(chain: Chain, doc_id: str) -> dict[str, Any]:
    record = documents.get_document(chain.state, doc_id)
    assert record is not None
    return record


def blob_of(chain: Chain, doc_id: str) -> bytes:
    digest = get(chain, doc_id)["ciphertext_sha256"]
    assert isinstance(digest, bytes)
    return digest


def officer(chain: Chain, code: str) -> crypto.PrivateKey:
    return chain.staff[code, "document_officer"]


def receive(chain: Chain, doc_id: str, code: str) -> None:
    chain.ok(officer(chain, code), "documents", "receipt", {"doc_id": doc_id, "plaintext_sha256": PLAINTEXT})


def node_key(code: str) -> crypto.PrivateKey:
    return key_for(f"{code}/node")


def forward_args(chain: Chain, doc_id: str, forwarder: str, recipients: Sequence[str], **changes: Any
                 ) -> dict[str, Any]:
    return {"doc_id": doc_id, "recipients": list(recipients),
            "sealed_keys": sealed_keys(chain, [forwarder, *recipients]), "note": "for your information", **changes}


# --- send ----------------------------------------------------------------------------------------------


def test_send_records_the_document_its_indexes_and_its_deadline(chain: Chain) -> None:
    args = send_args(chain, recipients=("SAMR", "CAB"), reply_days=5, classification="confidential")
    result = chain.ok(officer(chain, "PSB"), "documents", "send", args)
    doc_id = chain.event_attrs(result, "document.sent")["doc_id"]
    assert isinstance(doc_id, str)
    record = get(chain, doc_id)
    assert doc_id == document_queries.compute_doc_id(record["tx_id"])
    assert record["recipients"] == ["CAB", "SAMR"] and record["sender"] == "PSB" and record["origin_sender"] == "PSB"
    assert [k["department"] for k in record["sealed_keys"]] == ["CAB", "PSB", "SAMR"]
    assert record["sealed_keys"][0]["fingerprint"] == crypto.compute_key_fingerprint(
        encryption_key_for("CAB/encryption").public_key)
    assert record["year"] == 2026 and record["number"] == args["number"]
    assert record["sender_officer"] == officer(chain, "PSB").public_key
    assert record["sender_officer_name"] == "PSB document_officer"
    assert record["sent_height"] == chain.height and record["sent_ms"] == chain.time_ms
    calendar = Calendar(chain.state, 480)
    assert record["reply_days"] == 5 and record["reply_deadline_ms"] == calendar.deadline_ms(chain.time_ms, 5)
    assert record["withdrawn"] is None and record["forwards"] == [] and record["forwarded_from"] is None
    assert record["access_count"] == 0
    assert record["recipient_status"]["SAMR"]["state"] == "pending"
    assert [h["action"] for h in record["history"]] == ["sent"]
    state = chain.state.data
    for key in (document_queries.sent_key("PSB", doc_id), document_queries.inbox_key("SAMR", doc_id),
                document_queries.inbox_key("CAB", doc_id), document_queries.undelivered_key("SAMR", doc_id),
                document_queries.blob_key(args["ciphertext_sha256"], doc_id)):
        assert state[key] == b"\xc0"
    assert chain.state.value(document_queries.number_key("PSB", 2026, args["number"])) == doc_id
    assert set(chain.last_entities[0]) >= {f"document:{doc_id}", "department:PSB", "department:SAMR",
                                           "department:CAB", f"member:{officer(chain, 'PSB').public_key.hex()}"}
    attrs = chain.event_attrs(result, "document.sent")
    assert attrs["recipients"] == ["CAB", "SAMR"] and attrs["ciphertext_sha256"] == args["ciphertext_sha256"]


def test_a_sealed_key_opens_with_the_recipients_key_only(chain: Chain) -> None:
    content_key = b"\x11" * 32
    keys = [{"department": code, "fingerprint": fingerprint(chain, code),
             "sealed": crypto.seal_to(encryption_key_for(f"{code}/encryption").public_key, content_key)}
            for code in ("PSB", "SAMR")]
    doc_id = send(chain, recipients=("SAMR",), sealed_keys=keys)
    sealed = {k["department"]: k["sealed"] for k in get(chain, doc_id)["sealed_keys"]}
    assert crypto.open_sealed(encryption_key_for("SAMR/encryption"), sealed["SAMR"]) == content_key
    with pytest.raises(DecryptionFailed):
        crypto.open_sealed(encryption_key_for("CAB/encryption"), sealed["SAMR"])


def test_a_reused_number_is_refused_naming_the_first_document(chain: Chain) -> None:
    first = send(chain, number="PSB[2026]7")
    message = chain.refused("number_in_use", officer(chain, "PSB"), "documents", "send",
                            send_args(chain, number="PSB[2026]7")).message
    assert first in message and "2026" in message
    send(chain, sender="SAMR", recipients=("PSB",), number="PSB[2026]7")  # another department's numbering
    chain.advance(days=310)  # 2027 in UTC+8
    later = send(chain, number="PSB[2026]7")
    assert get(chain, later)["year"] == 2027


def test_the_year_of_a_number_is_the_civil_year_in_the_network_time_zone() -> None:
    chain = Chain(encryption_keys=True)
    new_year_utc8 = 1_798_732_800_000  # 2027-01-01 00:00 UTC+8, 2026-12-31 16:00 UTC
    chain.advance(ms=new_year_utc8 + 30_000 - 60_000 - chain.time_ms)
    doc_id = send(chain)  # executes 30 seconds into 2027 in UTC+8
    assert get(chain, doc_id)["sent_ms"] == new_year_utc8 + 30_000
    assert get(chain, doc_id)["year"] == 2027
    utc = Chain(encryption_keys=True, utc_offset_minutes=0)
    utc.advance(ms=new_year_utc8 + 30_000 - 60_000 - utc.time_ms)
    assert get(utc, send(utc))["year"] == 2026


def test_send_refusals(chain: Chain) -> None:
    psb = officer(chain, "PSB")
    nope = {"department": "NOPE", "fingerprint": b"\x00" * 32, "sealed": SEALED}
    chain.refused("unknown_department", psb, "documents", "send",
                  send_args(chain, recipients=("SAMR", "NOPE"),
                            sealed_keys=[*sealed_keys(chain, ["PSB", "SAMR"]), nope]))
    chain.refused("self_recipient", psb, "documents", "send",
                  send_args(chain, recipients=("SAMR", "PSB"), sealed_keys=sealed_keys(chain, ["PSB", "SAMR"])))
    message = chain.refused("duplicate_recipient", psb, "documents", "send",
                            send_args(chain, recipients=("SAMR", "SAMR"),
                                      sealed_keys=sealed_keys(chain, ["PSB", "SAMR"]))).message
    assert "SAMR" in message
    message = chain.refused("sealed_keys_mismatch", psb, "documents", "send",
                            send_args(chain, sealed_keys=sealed_keys(chain, ["SAMR", "CAB"]))).message
    assert "missing: PSB" in message
    message = chain.refused("sealed_keys_mismatch", psb, "documents", "send",
                            send_args(chain, sealed_keys=sealed_keys(chain, ["PSB", "SAMR", "CAB", "TAX"]))).message
    assert "not a party: TAX" in message
    chain.refused("sealed_keys_mismatch", psb, "documents", "send",
                  send_args(chain, sealed_keys=sealed_keys(chain, ["PSB", "SAMR", "SAMR", "CAB"])))
    wrong = sealed_keys(chain, ["PSB", "SAMR", "CAB"])
    wrong[1]["fingerprint"] = fingerprint(chain, "CAB")
    chain.refused("stale_key", psb, "documents", "send", send_args(chain, sealed_keys=wrong))
    message = chain.refused("document_too_large", psb, "documents", "send",
                            send_args(chain, ciphertext_size=64 * 1024 * 1024 + 1)).message
    assert "67108864" in message
    chain.refused("case_not_found", psb, "documents", "send", send_args(chain, case_id="ab" * 16))
    chain.refused("certificate_not_found", psb, "documents", "send", send_args(chain, cert_id="cd" * 16))
    message = chain.refused("role_required", chain.staff["PSB", "clerk"], "documents", "send",
                            send_args(chain)).message
    assert "document_officer" in message
    chain.refused("invalid_arguments", psb, "documents", "send",
                  send_args(chain, sealed_keys=[{**k, "sealed": SEALED[:79]} for k in sealed_keys(
                      chain, ["PSB", "SAMR", "CAB"])]))
    chain.refused("invalid_arguments", psb, "documents", "send", send_args(chain, reply_days=366))
    chain.refused("invalid_arguments", psb, "documents", "send", send_args(chain, classification="secret"))
    chain.refused("invalid_arguments", psb, "documents", "send", send_args(chain, ciphertext_size=50))


def test_a_department_without_an_encryption_key_cannot_be_a_party() -> None:
    chain = Chain()
    chain.ok(chain.staff["PSB", "admin"], "governance", "set_encryption_key",
             {"public_key": encryption_key_for("PSB/encryption").public_key})
    chain.ok(chain.staff["SAMR", "admin"], "governance", "set_encryption_key",
             {"public_key": encryption_key_for("SAMR/encryption").public_key})
    keys = [*sealed_keys(chain, ["PSB", "SAMR"]), {"department": "CAB", "fingerprint": b"\x00" * 32, "sealed": SEALED}]
    message = chain.refused("no_encryption_key", officer(chain, "PSB"), "documents", "send",
                            send_args(chain, recipients=("SAMR", "CAB"), sealed_keys=keys)).message
    assert "CAB" in message and "set_encryption_key" in message
    keys = [{"department": "TAX", "fingerprint": b"\x00" * 32, "sealed": SEALED}, *sealed_keys(chain, ["SAMR"])]
    message = chain.refused("no_encryption_key", officer(chain, "TAX"), "documents", "send",
                            send_args(chain, sender="TAX", recipients=("SAMR",), sealed_keys=keys)).message
    assert "TAX" in message
    send(chain, recipients=("SAMR",))


def test_sealing_to_a_rotated_key_is_stale_and_old_documents_keep_their_fingerprint(chain: Chain) -> None:
    old_fingerprint = fingerprint(chain, "SAMR")
    before = send(chain, recipients=("SAMR",))
    new_key = encryption_key_for("SAMR/rotated").public_key
    chain.ok(chain.staff["SAMR", "admin"], "governance", "set_encryption_key", {"public_key": new_key})
    stale = [{"department": "PSB", "fingerprint": fingerprint(chain, "PSB"), "sealed": SEALED},
             {"department": "SAMR", "fingerprint": old_fingerprint, "sealed": SEALED}]
    message = chain.refused("stale_key", officer(chain, "PSB"), "documents", "send",
                            send_args(chain, recipients=("SAMR",), sealed_keys=stale)).message
    assert crypto.compute_key_fingerprint(new_key).hex() in message
    after = send(chain, recipients=("SAMR",))
    fingerprints = {doc: {k["department"]: k["fingerprint"] for k in get(chain, doc)["sealed_keys"]}
                    for doc in (before, after)}
    assert fingerprints[before]["SAMR"] == old_fingerprint
    assert fingerprints[after]["SAMR"] == crypto.compute_key_fingerprint(new_key)
    receive(chain, before, "SAMR")  # the old document stays valid and receivable


def test_send_related_to_a_case_and_a_certificate(chain: Chain) -> None:
    chain.ok(chain.staff["SAMR", "admin"], "items", "publish", {
        "code": "SAMR-009", "name": "Inspection", "legal_basis": "art. 1", "kind": "other", "materials": [],
        "legal_limit_days": 10, "promised_limit_days": 5})
    filed = chain.ok(chain.staff["SAMR", "clerk"], "cases", "file",
                     {"item_code": "SAMR-009", "holder_ref": crypto.sha256(b"holder"), "materials": []})
    case_id = chain.event_attrs(filed, "case.filed")["case_id"]
    issued = chain.ok(chain.staff["SAMR", "issuer"], "certificates", "issue",
                      {"cert_type": "permit", "holder_ref": crypto.sha256(b"holder"),
                       "content_hash": crypto.sha256(b"permit")})
    cert_id = chain.event_attrs(issued, "cert.issued")["cert_id"]
    doc_id = send(chain, case_id=case_id, cert_id=cert_id)
    assert {f"case:{case_id}", f"cert:{cert_id}"} <= set(chain.last_entities[0])
    assert [r["doc_id"] for r in documents.documents_of_case(chain.state, str(case_id))] == [doc_id]
    assert [r["doc_id"] for r in documents.documents_of_certificate(chain.state, str(cert_id))] == [doc_id]
    assert documents.documents_of_case(chain.state, "ab" * 16) == []


def test_the_size_limit_follows_docs_config() -> None:
    chain = Chain(encryption_keys=True, params={"max_document_bytes": 4096})
    send(chain, ciphertext_size=4096)
    chain.refused("document_too_large", officer(chain, "PSB"), "documents", "send",
                  send_args(chain, ciphertext_size=4097))


# --- receipt and return ----------------------------------------------------------------------------------


def test_receipt_and_its_refusals(chain: Chain) -> None:
    doc_id = send(chain)
    message = chain.refused("not_a_recipient", officer(chain, "TAX"), "documents", "receipt",
                            {"doc_id": doc_id, "plaintext_sha256": PLAINTEXT}).message
    assert "CAB, SAMR" in message
    chain.refused("not_a_recipient", officer(chain, "PSB"), "documents", "receipt",
                  {"doc_id": doc_id, "plaintext_sha256": PLAINTEXT})
    chain.refused("hash_mismatch", officer(chain, "SAMR"), "documents", "receipt",
                  {"doc_id": doc_id, "plaintext_sha256": crypto.sha256(b"another text")})
    chain.refused("document_not_found", officer(chain, "SAMR"), "documents", "receipt",
                  {"doc_id": "ef" * 16, "plaintext_sha256": PLAINTEXT})
    chain.refused("role_required", chain.staff["SAMR", "clerk"], "documents", "receipt",
                  {"doc_id": doc_id, "plaintext_sha256": PLAINTEXT})
    result = chain.ok(officer(chain, "SAMR"), "documents", "receipt", {"doc_id": doc_id, "plaintext_sha256": PLAINTEXT})
    assert chain.event_attrs(result, "document.received")["department"] == "SAMR"
    status = get(chain, doc_id)["recipient_status"]["SAMR"]
    assert status["state"] == "received" and status["signer_name"] == "SAMR document_officer"
    assert status["plaintext_sha256"] == PLAINTEXT and status["height"] == chain.height
    message = chain.refused("already_received", officer(chain, "SAMR"), "documents", "receipt",
                            {"doc_id": doc_id, "plaintext_sha256": PLAINTEXT}).message
    assert "SAMR document_officer" in message
    chain.refused("already_received", officer(chain, "SAMR"), "documents", "return",
                  {"doc_id": doc_id, "reason": "changed our mind"})


def test_return_and_its_refusals(chain: Chain) -> None:
    doc_id = send(chain)
    chain.refused("not_a_recipient", officer(chain, "TAX"), "documents", "return",
                  {"doc_id": doc_id, "reason": "not ours"})
    chain.refused("document_not_found", officer(chain, "CAB"), "documents", "return",
                  {"doc_id": "ef" * 16, "reason": "not ours"})
    result = chain.ok(officer(chain, "CAB"), "documents", "return", {"doc_id": doc_id, "reason": "not ours"})
    assert chain.event_attrs(result, "document.returned")["reason"] == "not ours"
    status = get(chain, doc_id)["recipient_status"]["CAB"]
    assert status["state"] == "returned" and status["reason"] == "not ours"
    chain.refused("already_returned", officer(chain, "CAB"), "documents", "return",
                  {"doc_id": doc_id, "reason": "again"})
    chain.refused("already_returned", officer(chain, "CAB"), "documents", "receipt",
                  {"doc_id": doc_id, "plaintext_sha256": PLAINTEXT})
    assert [h["action"] for h in get(chain, doc_id)["history"]] == ["sent", "returned"]


# --- withdraw --------------------------------------------------------------------------------------------


def test_withdraw_before_any_receipt(chain: Chain) -> None:
    doc_id = send(chain)
    chain.ok(officer(chain, "CAB"), "documents", "return", {"doc_id": doc_id, "reason": "not ours"})
    chain.refused("not_the_sender", officer(chain, "SAMR"), "documents", "withdraw",
                  {"doc_id": doc_id, "reason": "no"})
    chain.refused("document_not_found", officer(chain, "PSB"), "documents", "withdraw",
                  {"doc_id": "ef" * 16, "reason": "no"})
    assert documents.blob_parties(chain.state, blob_of(chain, doc_id)) == frozenset({"PSB", "SAMR", "CAB"})
    result = chain.ok(officer(chain, "PSB"), "documents", "withdraw", {"doc_id": doc_id, "reason": "sent in error"})
    assert chain.event_attrs(result, "document.withdrawn")["reason"] == "sent in error"
    record = get(chain, doc_id)
    assert record["withdrawn"]["reason"] == "sent in error" and record["withdrawn"]["height"] == chain.height
    assert document_queries.undelivered_key("SAMR", doc_id) not in chain.state.data
    assert document_queries.inbox_key("SAMR", doc_id) in chain.state.data  # the inbox index stays
    assert documents.blob_parties(chain.state, blob_of(chain, doc_id)) == frozenset({"PSB"})
    assert documents.pending_deliveries(chain.state, "SAMR", 10) == []
    chain.refused("already_withdrawn", officer(chain, "PSB"), "documents", "withdraw",
                  {"doc_id": doc_id, "reason": "again"})
    for method, args in (("receipt", {"doc_id": doc_id, "plaintext_sha256": PLAINTEXT}),
                         ("return", {"doc_id": doc_id, "reason": "x"})):
        chain.refused("document_withdrawn", officer(chain, "SAMR"), "documents", method, args)
    chain.refused("document_withdrawn", node_key("SAMR"), "documents", "delivered", {"doc_id": doc_id})


def test_withdraw_after_a_receipt_is_refused_naming_who(chain: Chain) -> None:
    doc_id = send(chain)
    receive(chain, doc_id, "CAB")
    message = chain.refused("already_received", officer(chain, "PSB"), "documents", "withdraw",
                            {"doc_id": doc_id, "reason": "too late"}).message
    assert "CAB" in message


# --- forward ---------------------------------------------------------------------------------------------


def test_forward_creates_a_linked_record(chain: Chain) -> None:
    doc_id = send(chain, recipients=("SAMR",), classification="confidential", reply_days=3)
    receive(chain, doc_id, "SAMR")
    result = chain.ok(officer(chain, "SAMR"), "documents", "forward", forward_args(chain, doc_id, "SAMR", ["TAX"]))
    new_id = chain.event_attrs(result, "document.forwarded")["doc_id"]
    assert isinstance(new_id, str) and new_id != doc_id
    forwarded, original = get(chain, new_id), get(chain, doc_id)
    for name in ("number", "year", "title", "classification", "plaintext_sha256", "ciphertext_sha256",
                 "ciphertext_size"):
        assert forwarded[name] == original[name], name
    assert forwarded["sender"] == "SAMR" and forwarded["recipients"] == ["TAX"]
    assert forwarded["origin_sender"] == "PSB" and forwarded["forwarded_from"] == doc_id
    assert [k["department"] for k in forwarded["sealed_keys"]] == ["SAMR", "TAX"]
    assert forwarded["reply_deadline_ms"] is None
    assert original["forwards"] == [new_id]
    assert original["history"][-1]["action"] == "forwarded" and original["history"][-1]["detail"] == new_id
    assert {f"document:{new_id}", f"document:{doc_id}", "department:TAX"} <= set(chain.last_entities[0])
    assert chain.state.data[document_queries.sent_key("SAMR", new_id)] == b"\xc0"
    assert chain.state.data[document_queries.inbox_key("TAX", new_id)] == b"\xc0"
    assert documents.blob_parties(chain.state, blob_of(chain, doc_id)) == frozenset({"PSB", "SAMR", "TAX"})
    # the forward's number is not claimed again
    assert chain.state.value(document_queries.number_key("PSB", 2026, original["number"])) == doc_id
    assert chain.state.value(document_queries.number_key("SAMR", 2026, original["number"])) is None
    # TAX receives the forward and may forward it on
    receive(chain, new_id, "TAX")
    chain.ok(officer(chain, "TAX"), "documents", "forward", forward_args(chain, new_id, "TAX", ["CAB"]))


def test_forward_refusals(chain: Chain) -> None:
    doc_id = send(chain, recipients=("SAMR", "CAB"))
    samr = officer(chain, "SAMR")
    chain.refused("not_received", samr, "documents", "forward", forward_args(chain, doc_id, "SAMR", ["TAX"]))
    chain.refused("not_a_recipient", officer(chain, "TAX"), "documents", "forward",
                  forward_args(chain, doc_id, "TAX", ["PSB"]))
    chain.refused("document_not_found", samr, "documents", "forward", forward_args(chain, "ef" * 16, "SAMR", ["TAX"]))
    receive(chain, doc_id, "SAMR")
    chain.refused("already_a_recipient", samr, "documents", "forward", forward_args(chain, doc_id, "SAMR", ["CAB"]))
    chain.refused("already_a_recipient", samr, "documents", "forward", forward_args(chain, doc_id, "SAMR", ["PSB"]))
    chain.refused("self_recipient", samr, "documents", "forward",
                  {**forward_args(chain, doc_id, "SAMR", ["TAX"]), "recipients": ["TAX", "SAMR"]})
    chain.refused("sealed_keys_mismatch", samr, "documents", "forward",
                  {**forward_args(chain, doc_id, "SAMR", ["TAX"]), "sealed_keys": sealed_keys(chain, ["TAX"])})
    stale = forward_args(chain, doc_id, "SAMR", ["TAX"])
    stale["sealed_keys"][1]["fingerprint"] = b"\x01" * 32
    chain.refused("stale_key", samr, "documents", "forward", stale)
    chain.refused("role_required", chain.staff["SAMR", "clerk"], "documents", "forward",
                  forward_args(chain, doc_id, "SAMR", ["TAX"]))


def test_a_withdrawn_document_cannot_be_forwarded(chain: Chain) -> None:
    doc_id = send(chain, recipients=("SAMR",))
    # a returned recipient has not received it
    chain.ok(officer(chain, "SAMR"), "documents", "return", {"doc_id": doc_id, "reason": "wrong office"})
    chain.refused("not_received", officer(chain, "SAMR"), "documents", "forward",
                  forward_args(chain, doc_id, "SAMR", ["TAX"]))
    other = send(chain, recipients=("SAMR", "CAB"))
    chain.ok(officer(chain, "PSB"), "documents", "withdraw", {"doc_id": other, "reason": "error"})
    chain.refused("document_withdrawn", officer(chain, "SAMR"), "documents", "forward",
                  forward_args(chain, other, "SAMR", ["TAX"]))


def test_forwards_are_bounded(chain: Chain, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(document_queries, "MAX_FORWARDS", 1)
    doc_id = send(chain, recipients=("SAMR",))
    receive(chain, doc_id, "SAMR")
    chain.ok(officer(chain, "SAMR"), "documents", "forward", forward_args(chain, doc_id, "SAMR", ["TAX"]))
    chain.refused("too_many_forwards", officer(chain, "SAMR"), "documents", "forward",
                  forward_args(chain, doc_id, "SAMR", ["CAB"]))


# --- delivered ---------------------------------------------------------------------------------------------


def test_delivered_by_a_recipients_node_only(chain: Chain) -> None:
    doc_id = send(chain, recipients=("SAMR", "CAB"), ciphertext_size=4321)
    assert documents.pending_deliveries(chain.state, "SAMR", 10) == [(doc_id, blob_of(chain, doc_id), 4321)]
    chain.refused("not_a_recipient", node_key("TAX"), "documents", "delivered", {"doc_id": doc_id})
    chain.refused("not_a_recipient", node_key("PSB"), "documents", "delivered", {"doc_id": doc_id})
    chain.refused("role_required", officer(chain, "SAMR"), "documents", "delivered", {"doc_id": doc_id})
    chain.refused("document_not_found", node_key("SAMR"), "documents", "delivered", {"doc_id": "ef" * 16})
    result = chain.ok(node_key("SAMR"), "documents", "delivered", {"doc_id": doc_id})
    assert chain.event_attrs(result, "document.delivered")["department"] == "SAMR"
    status = get(chain, doc_id)["recipient_status"]["SAMR"]
    assert status["delivered_height"] == chain.height and status["state"] == "pending"
    assert documents.pending_deliveries(chain.state, "SAMR", 10) == []
    assert documents.pending_deliveries(chain.state, "CAB", 10) == [(doc_id, blob_of(chain, doc_id), 4321)]
    chain.refused("already_delivered", node_key("SAMR"), "documents", "delivered", {"doc_id": doc_id})


# --- access ----------------------------------------------------------------------------------------------


def test_access_is_recorded_and_flagged_for_confidential_without_a_reason(chain: Chain) -> None:
    doc_id = send(chain, recipients=("SAMR",), classification="confidential")
    reply = b"\x33" * 32
    result = chain.ok(chain.staff["SAMR", "clerk"], "documents", "access", {"doc_id": doc_id, "reply_key": reply})
    attrs = chain.event_attrs(result, "document.opened")
    assert attrs["flagged"] is True and attrs["seq"] == 0 and attrs["reply_key"] == reply
    chain.ok(chain.staff["PSB", "reviewer"], "documents", "access",
             {"doc_id": doc_id, "reply_key": reply, "purpose": "drafting the reply"})
    records = documents.access_records(chain.state, doc_id)
    assert [(r["seq"], r["department"], r["flagged"]) for r in records] == [(0, "SAMR", True), (1, "PSB", False)]
    assert records[0]["signer_name"] == "SAMR clerk" and records[0]["roles"] == ["clerk"]
    assert records[1]["purpose"] == "drafting the reply" and records[1]["height"] == chain.height
    assert get(chain, doc_id)["access_count"] == 2
    assert chain.state.value(document_queries.access_key(doc_id, 1)) is not None
    message = chain.refused("no_access", chain.staff["TAX", "auditor"], "documents", "access",
                            {"doc_id": doc_id, "reply_key": reply}).message
    assert "PSB, SAMR" in message
    chain.refused("document_not_found", chain.staff["SAMR", "clerk"], "documents", "access",
                  {"doc_id": "ef" * 16, "reply_key": reply})
    internal = send(chain, recipients=("SAMR",))
    chain.ok(chain.staff["SAMR", "clerk"], "documents", "access", {"doc_id": internal, "reply_key": reply})
    assert documents.access_records(chain.state, internal)[0]["flagged"] is False


def test_access_to_a_withdrawn_document_stays_with_the_sender(chain: Chain) -> None:
    doc_id = send(chain, recipients=("SAMR",))
    chain.ok(officer(chain, "PSB"), "documents", "withdraw", {"doc_id": doc_id, "reason": "error"})
    reply = b"\x44" * 32
    chain.refused("document_withdrawn", chain.staff["SAMR", "clerk"], "documents", "access",
                  {"doc_id": doc_id, "reply_key": reply})
    chain.ok(chain.staff["PSB", "clerk"], "documents", "access", {"doc_id": doc_id, "reply_key": reply})


def test_a_forwarders_department_may_open_its_forward(chain: Chain) -> None:
    doc_id = send(chain, recipients=("SAMR",))
    receive(chain, doc_id, "SAMR")
    result = chain.ok(officer(chain, "SAMR"), "documents", "forward", forward_args(chain, doc_id, "SAMR", ["TAX"]))
    new_id = str(chain.event_attrs(result, "document.forwarded")["doc_id"])
    reply = b"\x55" * 32
    chain.ok(chain.staff["TAX", "clerk"], "documents", "access", {"doc_id": new_id, "reply_key": reply})
    chain.refused("no_access", chain.staff["TAX", "clerk"], "documents", "access", {"doc_id": doc_id,
                                                                                   "reply_key": reply})


# --- queries ---------------------------------------------------------------------------------------------


def test_boxes_may_read_and_overdue(chain: Chain) -> None:
    first = send(chain, recipients=("SAMR",), reply_days=2)
    second = send(chain, recipients=("SAMR", "CAB"))
    third = send(chain, recipients=("SAMR",), reply_days=10)
    receive(chain, third, "SAMR")
    ids = lambda records: [r["doc_id"] for r in records]  # noqa: E731
    assert ids(documents.documents_of(chain.state, "PSB", "sent")) == [third, second, first]
    assert ids(documents.documents_of(chain.state, "PSB", "sent", limit=2)) == [third, second]
    assert ids(documents.documents_of(chain.state, "SAMR", "inbox")) == [third, second, first]
    assert ids(documents.documents_of(chain.state, "SAMR", "pending_receipt")) == [second, first]
    deadline = get(chain, first)["reply_deadline_ms"]
    assert ids(documents.documents_of(chain.state, "SAMR", "overdue", now_ms=deadline)) == []
    assert ids(documents.documents_of(chain.state, "SAMR", "overdue", now_ms=deadline + 1)) == [first]
    assert ids(documents.documents_of(chain.state, "SAMR", "overdue", now_ms=START_MS + 400 * DAY_MS)) == [first]
    assert documents.documents_of(chain.state, "TAX", "inbox") == []
    with pytest.raises(ValueError):
        documents.documents_of(chain.state, "SAMR", "overdue")
    with pytest.raises(ValueError):
        documents.documents_of(chain.state, "SAMR", "archive")
    assert documents.may_read(chain.state, second, "CAB", ("clerk",))
    assert documents.may_read(chain.state, second, "PSB", ("clerk",))
    assert not documents.may_read(chain.state, second, "TAX", ("clerk",))
    assert documents.may_read(chain.state, second, "TAX", ("auditor",))
    assert not documents.may_read(chain.state, "ef" * 16, "PSB", ("auditor",))
    assert documents.get_document(chain.state, "not an id") is None
    assert documents.access_records(chain.state, "not an id") == []
    assert documents.blob_parties(chain.state, b"\x00" * 32) == frozenset()
    assert documents.document_json(get(chain, first))["ciphertext_sha256"] == blob_of(chain, first).hex()


def test_history_is_bounded_by_construction() -> None:
    most = 1 + 2 * document_args.MAX_RECIPIENTS + 1 + document_queries.MAX_FORWARDS
    assert most <= document_queries.MAX_HISTORY


# --- determinism, registry and arguments ---------------------------------------------------------------


def test_the_same_calls_give_the_same_writes_and_records() -> None:
    def run() -> list[dict[bytes, bytes | None]]:
        chain = Chain(encryption_keys=True)
        writes = []
        for key, method, args in _script(chain):
            chain.height += 1
            chain.time_ms += 60_000
            execution = execute_block(chain.state, [chain.tx(key, "documents", method, args(chain))],
                                      BlockContext(chain_id=CHAIN_ID, height=chain.height, time_ms=chain.time_ms))
            assert all(r.code == "ok" for r in execution.results), [r.message for r in execution.results]
            chain.state.apply(execution.changes)
            writes.append(dict(execution.changes))
        return writes

    assert run() == run()


def _script(chain: Chain) -> list[tuple[crypto.PrivateKey, str, Any]]:
    def doc(c: Chain) -> str:
        return str(documents.documents_of(c.state, "PSB", "sent")[0]["doc_id"])

    fixed = {"number": "PSB[2026]1", "title": "T", "classification": "confidential", "recipients": ["SAMR"],
             "plaintext_sha256": PLAINTEXT, "ciphertext_sha256": CIPHERTEXT, "ciphertext_size": 999, "reply_days": 3}
    return [
        (officer(chain, "PSB"), "send", lambda c: {**fixed, "sealed_keys": sealed_keys(c, ["PSB", "SAMR"])}),
        (node_key("SAMR"), "delivered", lambda c: {"doc_id": doc(c)}),
        (officer(chain, "SAMR"), "receipt", lambda c: {"doc_id": doc(c), "plaintext_sha256": PLAINTEXT}),
        (chain.staff["SAMR", "clerk"], "access", lambda c: {"doc_id": doc(c), "reply_key": b"\x01" * 32}),
        (officer(chain, "SAMR"), "forward", lambda c: forward_args(c, doc(c), "SAMR", ["TAX"])),
    ]


def test_every_method_is_registered_with_a_description_and_an_example() -> None:
    methods = REGISTRY["documents"]
    assert sorted(methods) == ["access", "delivered", "forward", "receipt", "return", "send", "withdraw"]
    assert methods["return"].handler is documents.return_document
    for name, method in methods.items():
        assert method.description and method.example, name
    assert "set_encryption_key" in REGISTRY["governance"]


@pytest.mark.parametrize(
    ("parse", "args", "field"),
    [
        (document_args.parse_send, {"number": "x"}, "args"),
        (document_args.parse_receipt, {"doc_id": "XYZ", "plaintext_sha256": PLAINTEXT}, "doc_id"),
        (document_args.parse_receipt, {"doc_id": "ab" * 16, "plaintext_sha256": PLAINTEXT[:31]}, "plaintext_sha256"),
        (document_args.parse_reason, {"doc_id": "ab" * 16, "reason": ""}, "reason"),
        (document_args.parse_forward, {"doc_id": "ab" * 16, "recipients": [], "sealed_keys": []}, "recipients"),
        (document_args.parse_delivered, {"doc_id": "ab" * 16, "extra": 1}, "args"),
        (document_args.parse_access, {"doc_id": "ab" * 16, "reply_key": b"\x01" * 31}, "reply_key"),
        (document_args.parse_access, {"doc_id": "ab" * 16, "reply_key": b"\x01" * 32, "purpose": "x" * 513},
         "purpose"),
    ],
)
def test_malformed_arguments_name_the_field(parse: Any, args: Any, field: str) -> None:
    with pytest.raises(ContractError) as excinfo:
        parse(args)
    assert excinfo.value.code == "invalid_arguments" and excinfo.value.field == field


def test_too_many_recipients_is_refused_by_the_parser(chain: Chain) -> None:
    codes = [f"D{i:02d}" for i in range(document_args.MAX_RECIPIENTS + 1)]
    with pytest.raises(ContractError) as excinfo:
        document_args.parse_send({**send_args(chain), "recipients": codes})
    assert excinfo.value.field == "recipients"


def test_a_withdrawal_deletes_only_the_undelivered_entries_still_there(chain: Chain) -> None:
    doc_id = send(chain, recipients=("SAMR", "CAB"))
    chain.ok(node_key("SAMR"), "documents", "delivered", {"doc_id": doc_id})
    chain.height += 1
    chain.time_ms += 60_000
    execution = execute_block(chain.state, [chain.tx(officer(chain, "PSB"), "documents", "withdraw",
                                                     {"doc_id": doc_id, "reason": "error"})],
                              BlockContext(chain_id=CHAIN_ID, height=chain.height, time_ms=chain.time_ms))
    assert execution.results[0].code == "ok"
    deleted = {key for key, value in execution.changes.items() if value is None}
    assert deleted == {document_queries.undelivered_key("CAB", doc_id)}


def test_a_send_cannot_claim_another_documents_ciphertext(chain: Chain) -> None:
    """Who may fetch a ciphertext follows the documents that carry it: a second send naming the same hash
    would make its recipients parties to someone else's document (or revive a withdrawn one's)."""
    first = send(chain, recipients=("SAMR",))
    stolen = blob_of(chain, first)
    args = send_args(chain, "TAX", ("CAB",), ciphertext_sha256=stolen)
    message = chain.refused("ciphertext_in_use", officer(chain, "TAX"), "documents", "send", args).message
    assert first in message
    assert documents.blob_parties(chain.state, stolen) == frozenset({"PSB", "SAMR"})


def test_a_return_leaves_nothing_to_deliver(chain: Chain) -> None:
    doc_id = send(chain, recipients=("SAMR",))
    chain.ok(officer(chain, "SAMR"), "documents", "return", {"doc_id": doc_id, "reason": "not ours"})
    assert document_queries.undelivered_key("SAMR", doc_id) not in chain.state.data
    assert documents.pending_deliveries(chain.state, "SAMR", 10) == []


def test_an_opening_names_a_real_case_a_real_purpose_and_a_usable_reply_key(chain: Chain) -> None:
    doc_id = send(chain, recipients=("SAMR",), classification="confidential")
    clerk = chain.staff["SAMR", "clerk"]
    reply = b"\x33" * 32
    chain.refused("case_not_found", clerk, "documents", "access",
                  {"doc_id": doc_id, "reply_key": reply, "case_id": "ab" * 16})
    chain.refused("invalid_arguments", clerk, "documents", "access",
                  {"doc_id": doc_id, "reply_key": reply, "purpose": "   "})
    for weak in (bytes(32), b"\x01" + bytes(31)):  # low-order points: nothing can be sealed to them
        chain.refused("invalid_arguments", clerk, "documents", "access", {"doc_id": doc_id, "reply_key": weak})
    assert get(chain, doc_id)["access_count"] == 0


def test_pending_deliveries_pages_by_document_id(chain: Chain) -> None:
    ids = sorted(send(chain, recipients=("SAMR",)) for _ in range(5))
    first = documents.pending_deliveries(chain.state, "SAMR", 2)
    assert [d for d, _, _ in first] == ids[:2]
    rest = documents.pending_deliveries(chain.state, "SAMR", 10, after=first[-1][0])
    assert [d for d, _, _ in rest] == ids[2:]
    assert documents.pending_deliveries(chain.state, "SAMR", 10, after=ids[-1]) == []
