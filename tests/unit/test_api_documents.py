"""The document routes' local checks: what an open request's body must be, and the admission rule that a
client's send names a ciphertext this node holds."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from chainnode import codec, crypto
from chainnode.api_documents import CiphertextMissing, _access_tx, check_client_tx
from chainnode.errors import ChainError, InvalidInput
from chainnode.tx import Transaction, TxBody, sign_transaction
from contracts.document_queries import doc_key
from tests.contract_kit import DictState

KEY = crypto.PrivateKey(bytes(range(32)))
DOC = "0123456789abcdef0123456789abcdef"


def tx(contract: str, method: str, args: object) -> Transaction:
    body = TxBody(chain_id="t", contract=contract, method=method, args=args, signer=KEY.public_key,
                  nonce=os.urandom(16), expiry_height=100)
    return sign_transaction(KEY, body)


def test_an_open_request_must_be_an_access_to_the_document_in_the_path() -> None:
    good = tx("documents", "access", {"doc_id": DOC, "reply_key": crypto.EncryptionKey.generate().public_key})
    assert _access_tx(good.raw, DOC, 65536).tx_id == good.tx_id
    with pytest.raises(InvalidInput, match=r"must be a signed documents\.access"):
        _access_tx(b"", DOC, 65536)
    with pytest.raises(InvalidInput, match=r"must be a documents\.access transaction"):
        _access_tx(tx("anchor", "put", {"content_hash": bytes(32), "kind": "x"}).raw, DOC, 65536)
    with pytest.raises(InvalidInput, match="names document"):
        _access_tx(good.raw, "f" * 32, 65536)
    with pytest.raises(ChainError, match=r"missing argument.*reply_key") as refused:
        _access_tx(tx("documents", "access", {"doc_id": DOC}).raw, DOC, 65536)
    assert (refused.value.code, refused.value.http_status) == ("invalid_arguments", 400)
    with pytest.raises(InvalidInput):
        _access_tx(b"\x93garbage", DOC, 65536)


class Blobs:
    def __init__(self, held: set[bytes]) -> None:
        self.held = held

    def has(self, digest: bytes) -> bool:
        return digest in self.held


def test_a_send_is_admitted_only_by_a_node_holding_its_ciphertext() -> None:
    digest = crypto.sha256(b"ciphertext")
    node = SimpleNamespace(blobs=Blobs(set()), store=DictState())
    send = tx("documents", "send", {"ciphertext_sha256": digest})
    with pytest.raises(CiphertextMissing, match=f"PUT /v1/blobs/{digest.hex()}") as refused:
        check_client_tx(node, send)
    assert refused.value.http_status == 409
    node.blobs.held.add(digest)
    check_client_tx(node, send)
    check_client_tx(SimpleNamespace(blobs=Blobs(set()), store=DictState()), tx("anchor", "put", {}))


def test_a_forward_is_admitted_only_by_a_node_holding_the_forwarded_ciphertext() -> None:
    digest = crypto.sha256(b"forwarded ciphertext")
    state = DictState({doc_key(DOC): codec.encode({"doc_id": DOC, "ciphertext_sha256": digest})})
    node = SimpleNamespace(blobs=Blobs(set()), store=state)
    forward = tx("documents", "forward", {"doc_id": DOC, "recipients": ["TAX"]})
    with pytest.raises(CiphertextMissing, match=f"ciphertext {digest.hex()} of the document to forward") as refused:
        check_client_tx(node, forward)
    assert (refused.value.field, refused.value.http_status) == ("args.doc_id", 409)
    check_client_tx(node, tx("documents", "forward", {"doc_id": "f" * 32}))  # no such document: the contract says
    node.blobs.held.add(digest)
    check_client_tx(node, forward)


def test_an_open_request_with_an_unusable_reply_key_is_refused_before_anything_is_recorded() -> None:
    weak = tx("documents", "access", {"doc_id": DOC, "reply_key": bytes(32)})
    with pytest.raises(ChainError, match="not a usable X25519") as refused:
        _access_tx(weak.raw, DOC, 65536)
    assert refused.value.http_status == 400
