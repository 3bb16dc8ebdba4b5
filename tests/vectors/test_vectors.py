"""Golden vectors: the bytes and hashes of every message kind must stay exactly those in vectors.json.

A failure here means an encoding, tag, field order, hash domain or signature changed. If that was not
meant, fix the code; if it was, bump the version concerned and regenerate with tests/vectors/generate.py.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from chainnode import block, codec, crypto, merkle, results, tx, validators
from tests.vectors import generate

STORED: dict[str, dict[str, str]] = json.loads(generate.VECTORS_PATH.read_text(encoding="utf-8"))
REBUILT = generate.build_vectors()


def stored(name: str, label: str) -> bytes:
    return bytes.fromhex(STORED[name][label])


def test_the_same_vectors_exist() -> None:
    assert sorted(REBUILT) == sorted(STORED)


@pytest.mark.parametrize("name", sorted(STORED))
def test_rebuilt_bytes_equal_the_stored_ones(name: str) -> None:
    assert REBUILT.get(name) == STORED[name]


def test_vectors_json_is_exactly_what_generate_writes() -> None:
    assert generate.VECTORS_PATH.read_text(encoding="utf-8") == generate.render(STORED)
    for vector in STORED.values():
        for value in vector.values():
            assert value == bytes.fromhex(value).hex()  # lowercase hex, nothing else


def test_every_domain_constant_has_a_vector() -> None:
    constants = {name for name in dir(crypto) if name.startswith(("DOMAIN_", "SIGN_"))}
    assert constants == set(generate.HASH_DOMAINS) | set(generate.SIGN_DOMAINS)
    for name, domain in generate.HASH_DOMAINS.items():
        assert getattr(crypto, name) == domain


# --- independent checks on the stored bytes, without the builders --------------------------------------


@pytest.mark.parametrize("name", sorted(generate.HASH_DOMAINS))
def test_stored_domain_hashes_are_sha256_of_domain_nul_data(name: str) -> None:
    vector = f"hash/{name}"
    domain, data = stored(vector, "domain"), stored(vector, "data")
    assert domain == getattr(crypto, name)
    assert stored(vector, "hash") == hashlib.sha256(domain + b"\x00" + data).digest()
    assert stored(vector, "hash_of_empty") == hashlib.sha256(domain + b"\x00").digest()


@pytest.mark.parametrize("name", sorted(generate.SIGN_DOMAINS))
def test_stored_signing_bytes_are_the_canonical_triple(name: str) -> None:
    vector = f"signing_bytes/{name}"
    decoded = codec.decode(stored(vector, "signing_bytes"), max_size=1024)
    assert decoded == [getattr(crypto, name), generate.CHAIN_ID, stored(vector, "payload")]


@pytest.mark.parametrize("index", [1, 2, 3, 4])
def test_stored_keys_and_signatures(index: int) -> None:
    vector = f"key/{index}"
    key = crypto.PrivateKey(stored(vector, "seed"))
    assert key.public_key == stored(vector, "public_key")
    signature = stored(vector, "signature_of_payload")
    assert crypto.verify_signature(key.public_key, generate.SIGNING_PAYLOAD, signature)


def test_stored_transactions_decode_verify_and_re_encode() -> None:
    for name in ("transaction/anchor", "transaction/certificate"):
        data = stored(name, "encoding")
        decoded = tx.decode_transaction(data)
        assert decoded.raw == data
        assert tx.Transaction(decoded.body, decoded.signature).raw == data
        assert decoded.tx_id == stored(name, "tx_id")
        assert decoded.tx_id == crypto.compute_hash(crypto.DOMAIN_TX, decoded.body.encode())
        assert decoded.signature == stored(name, "signature")
        assert decoded.is_signature_valid()
    anchor = tx.decode_transaction(stored("transaction/anchor", "encoding"))
    assert anchor.body.encode() == stored("tx_body", "encoding")
    assert anchor.tx_id == stored("tx_body", "tx_id")
    assert anchor.body.compute_signing_bytes() == stored("tx_body", "signing_bytes")


def test_stored_vote_signature_verifies() -> None:
    vote_bytes = stored("vote/precommit", "encoding")
    _, _, vote_type, height, round_, block_hash = codec.decode(vote_bytes, max_size=1024)
    vote = block.Vote(vote_type=vote_type, height=height, round=round_, block_hash=block_hash)
    assert vote.encode() == vote_bytes
    assert vote.compute_signing_bytes(generate.CHAIN_ID) == stored("vote/precommit", "signing_bytes")
    assert crypto.verify_signature(
        stored("vote/precommit", "signer_public_key"),
        stored("vote/precommit", "signing_bytes"),
        stored("vote/precommit", "signature"),
    )


def test_stored_chain_of_header_commits_and_block_is_valid() -> None:
    validator_set = validators.decode_validator_set(codec.decode(stored("validator_set", "encoding"), max_size=4096))
    assert validator_set.encode() == stored("validator_set", "encoding")
    assert validator_set.compute_hash() == stored("validator_set", "hash")

    header_1 = block.decode_header(stored("header/1", "encoding"))
    assert header_1.encode() == stored("header/1", "encoding")
    assert header_1.compute_hash() == stored("header/1", "block_hash")
    assert header_1.validators_hash == validator_set.compute_hash()

    commit_3 = block.decode_commit(stored("commit/3_signatures", "encoding"))
    assert commit_3.encode() == stored("commit/3_signatures", "encoding")
    assert commit_3.compute_hash() == stored("commit/3_signatures", "hash")
    block.validate_commit(
        commit_3,
        chain_id=generate.CHAIN_ID,
        height=1,
        block_hash=header_1.compute_hash(),
        validators=validator_set,
    )
    commit_1 = block.decode_commit(stored("commit/1_signature", "encoding"))
    assert commit_1.encode() == stored("commit/1_signature", "encoding")
    assert commit_1.compute_hash() == stored("commit/1_signature", "hash")
    assert len(commit_1.signatures) == 1

    block_2 = block.decode_block(stored("block/2", "encoding"))
    assert block_2.encode() == stored("block/2", "encoding")
    assert block_2.header.encode() == stored("block/2", "header_encoding")
    assert block_2.compute_hash() == stored("block/2", "block_hash")
    assert block_2.header.prev_hash == header_1.compute_hash()
    assert block_2.last_commit == commit_3
    assert block_2.header.last_commit_hash == stored("block/2", "last_commit_hash")
    assert block_2.header.tx_root == stored("block/2", "tx_root") == merkle.compute_root(block_2.txs)
    block.validate_block_shape(block_2)
    assert block_2.txs == (
        stored("transaction/anchor", "encoding"),
        stored("transaction/certificate", "encoding"),
    )

    leaves = [stored("result/ok", "encoding"), stored("result/error", "encoding")]
    assert block_2.header.results_root == stored("block/2", "results_root") == merkle.compute_root(leaves)


@pytest.mark.parametrize("name", ["result/ok", "result/error"])
def test_stored_results_decode_and_re_encode(name: str) -> None:
    data = stored(name, "encoding")
    decoded = results.decode_result(data)
    assert decoded.encode() == data
    assert merkle.leaf_hash(data) == stored(name, "leaf_hash")
    expected: dict[str, Any] = {
        "result/ok": {"ok": True, "events": 1},
        "result/error": {"ok": False, "events": 0},
    }
    assert decoded.ok is expected[name]["ok"]
    assert len(decoded.events) == expected[name]["events"]


def test_stored_state_proofs_verify_by_the_steps_of_state_md() -> None:
    """docs/state.md's verification, written again with hashlib alone, accepts both stored proofs."""

    def h(domain: bytes, data: bytes) -> bytes:
        return hashlib.sha256(domain + b"\x00" + data).digest()

    root = stored("state/three_keys", "root")
    assert stored("state/three_keys", "empty_root") == bytes(32)
    for label in ("proof_alice", "proof_dave_absent"):
        tag, version, key, value, leaf, siblings = codec.decode(stored("state/three_keys", label), max_size=1 << 16)
        assert (tag, version) == (7, 2)
        key_hash = h(b"chainnode/v1/state-key", key)
        if value is not None:
            assert leaf == key_hash + h(b"chainnode/v1/state-value", value)
        else:
            assert leaf[:32] != key_hash
        node = h(b"chainnode/v1/state-leaf", leaf)
        for i, sibling in enumerate(siblings):
            depth = len(siblings) - 1 - i
            if (key_hash[depth // 8] >> (7 - depth % 8)) & 1:
                node = h(b"chainnode/v1/state-node", sibling + node)
            else:
                node = h(b"chainnode/v1/state-node", node + sibling)
        assert node == root
