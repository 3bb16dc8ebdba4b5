"""README: regenerate only on a deliberate format change, with `.venv/bin/python -m tests.vectors.generate`.

This builds a fixed set of protocol objects from fixed seeds (no randomness, no clock) and records the
hex of every byte string and hash they produce. test_vectors.py rebuilds the same objects and requires
the same bytes, so an accidental change of an encoding, a tag, a field order, a hash domain or the
signature scheme fails a test. If such a test fails and the change was not meant, fix the code, not the
vectors. If it was meant, bump the affected version, regenerate, and say so in the change description.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

from chainnode import block, codec, crypto, merkle, results, state, state_tree, tx, validators

VECTORS_PATH: Final = Path(__file__).with_name("vectors.json")

CHAIN_ID: Final = "gov-test-1"
DEPARTMENTS: Final = ("finance", "health", "interior", "justice")
SEEDS: Final = tuple(bytes([i]) * 32 for i in range(1, 5))
HASH_SAMPLE: Final = b"chainnode golden vector"
SIGNING_PAYLOAD: Final = b"payload"
TIME_MS: Final = 1_700_000_000_000

HASH_DOMAINS: Final = {
    "DOMAIN_TX": crypto.DOMAIN_TX,
    "DOMAIN_BLOCK": crypto.DOMAIN_BLOCK,
    "DOMAIN_COMMIT": crypto.DOMAIN_COMMIT,
    "DOMAIN_VALSET": crypto.DOMAIN_VALSET,
    "DOMAIN_GENESIS": crypto.DOMAIN_GENESIS,
    "DOMAIN_STATE_KEY": crypto.DOMAIN_STATE_KEY,
    "DOMAIN_STATE_VALUE": crypto.DOMAIN_STATE_VALUE,
    "DOMAIN_STATE_LEAF": crypto.DOMAIN_STATE_LEAF,
    "DOMAIN_STATE_NODE": crypto.DOMAIN_STATE_NODE,
    "DOMAIN_CONTENT": crypto.DOMAIN_CONTENT,
    "DOMAIN_ENCRYPTION_KEY": crypto.DOMAIN_ENCRYPTION_KEY,
}
SIGN_DOMAINS: Final = {
    "SIGN_TX": crypto.SIGN_TX,
    "SIGN_VOTE": crypto.SIGN_VOTE,
    "SIGN_PROPOSAL": crypto.SIGN_PROPOSAL,
    "SIGN_HANDSHAKE": crypto.SIGN_HANDSHAKE,
}

Vector = dict[str, str]


# --- the fixed objects -------------------------------------------------------------------------------


def build_keys() -> tuple[crypto.PrivateKey, ...]:
    return tuple(crypto.PrivateKey(seed) for seed in SEEDS)


def build_validator_set() -> validators.ValidatorSet:
    """Four departments; any three hold more than 2/3 of the power (at least 25 of 35)."""
    return validators.ValidatorSet.of(
        validators.Validator(department=department, public_key=key.public_key, power=power)
        for department, key, power in zip(DEPARTMENTS, build_keys(), (10, 10, 10, 5), strict=True)
    )


def key_of(validator_set: validators.ValidatorSet, index: int) -> crypto.PrivateKey:
    public_key = validator_set.validators[index].public_key
    return next(key for key in build_keys() if key.public_key == public_key)


def build_tx_bodies() -> tuple[tx.TxBody, tx.TxBody]:
    keys = build_keys()
    anchor = tx.TxBody(
        chain_id=CHAIN_ID,
        contract="anchor",
        method="record",
        args={"content_hash": crypto.sha256(b"deed 42"), "label": "deed 42", "pages": 3, "public": True},
        signer=keys[0].public_key,
        nonce=bytes(range(16)),
        expiry_height=100,
    )
    certificate = tx.TxBody(
        chain_id=CHAIN_ID,
        contract="certificate",
        method="issue",
        args={
            "holder": "Ada Lovelace",
            "kind": "birth",
            "serial": 2**40,
            "valid_from_ms": TIME_MS,
            "note": None,
        },
        signer=keys[1].public_key,
        nonce=bytes([0xC0]) * 8,
        expiry_height=2**32,
    )
    return anchor, certificate


def build_transactions() -> tuple[tx.Transaction, tx.Transaction]:
    keys = build_keys()
    anchor, certificate = build_tx_bodies()
    return tx.sign_transaction(keys[0], anchor), tx.sign_transaction(keys[1], certificate)


def build_results() -> tuple[results.TxResult, results.TxResult]:
    first, second = build_transactions()
    ok = results.TxResult(
        tx_id=first.tx_id,
        code=results.CODE_OK,
        message="",
        events=(
            results.Event(
                kind="anchor.recorded",
                attributes={"content_hash": first.body.args["content_hash"], "height": 2, "label": "deed 42"},
            ),
        ),
    )
    failed = results.TxResult(tx_id=second.tx_id, code="unknown_contract", message="no contract 'certificate'")
    return ok, failed


def build_header_1() -> block.BlockHeader:
    valset_hash = build_validator_set().compute_hash()
    return block.BlockHeader(
        chain_id=CHAIN_ID,
        height=1,
        time_ms=TIME_MS,
        prev_hash=crypto.compute_hash(crypto.DOMAIN_GENESIS, codec.encode({"chain_id": CHAIN_ID})),
        tx_count=0,
        tx_root=block.compute_tx_root(()),
        results_root=block.compute_results_root(()),
        state_root=crypto.compute_hash(crypto.DOMAIN_STATE_VALUE, b"state at height 1"),
        last_commit_hash=block.ZERO_HASH,
        validators_hash=valset_hash,
        next_validators_hash=valset_hash,
        proposer=build_validator_set().validators[0].public_key,
    )


def build_precommit() -> block.Vote:
    return block.Vote(vote_type=block.VOTE_PRECOMMIT, height=1, round=0, block_hash=build_header_1().compute_hash())


def build_commit(indices: tuple[int, ...]) -> block.Commit:
    validator_set = build_validator_set()
    vote = build_precommit()
    signatures = tuple(
        block.CommitSignature(
            validator_index=i, signature=block.sign_commit_vote(key_of(validator_set, i), CHAIN_ID, vote)
        )
        for i in indices
    )
    return block.Commit(height=vote.height, round=vote.round, block_hash=vote.block_hash, signatures=signatures)


def build_block_2() -> block.Block:
    """Block 2: two transactions, their results, and the 3-signature commit of block 1."""
    txs = tuple(t.raw for t in build_transactions())
    last_commit = build_commit((0, 1, 3))
    validator_set = build_validator_set()
    header = block.BlockHeader(
        chain_id=CHAIN_ID,
        height=2,
        time_ms=TIME_MS + 1000,
        prev_hash=build_header_1().compute_hash(),
        tx_count=len(txs),
        tx_root=block.compute_tx_root(txs),
        results_root=block.compute_results_root([r.encode() for r in build_results()]),
        state_root=crypto.compute_hash(crypto.DOMAIN_STATE_VALUE, b"state at height 2"),
        last_commit_hash=last_commit.compute_hash(),
        validators_hash=validator_set.compute_hash(),
        next_validators_hash=validator_set.compute_hash(),
        proposer=validator_set.validators[1].public_key,
    )
    return block.Block(header=header, txs=txs, last_commit=last_commit)


# --- the vectors -------------------------------------------------------------------------------------


def build_vectors() -> dict[str, Vector]:
    """Return every vector by name; each maps a label to the lowercase hex of a byte string or hash."""
    vectors: dict[str, Vector] = {}

    for name, domain in HASH_DOMAINS.items():
        vectors[f"hash/{name}"] = {
            "domain": domain.hex(),
            "data": HASH_SAMPLE.hex(),
            "hash": crypto.compute_hash(domain, HASH_SAMPLE).hex(),
            "hash_of_empty": crypto.compute_hash(domain, b"").hex(),
        }
    for name, domain in SIGN_DOMAINS.items():
        vectors[f"signing_bytes/{name}"] = {
            "domain": domain.hex(),
            "payload": SIGNING_PAYLOAD.hex(),
            "signing_bytes": crypto.compute_signing_bytes(domain, CHAIN_ID, SIGNING_PAYLOAD).hex(),
        }
    for i, key in enumerate(build_keys(), start=1):
        vectors[f"key/{i}"] = {
            "seed": key.seed.hex(),
            "public_key": key.public_key.hex(),
            "signature_of_payload": key.sign(SIGNING_PAYLOAD).hex(),
        }

    body, _ = build_tx_bodies()
    vectors["tx_body"] = {
        "encoding": body.encode().hex(),
        "tx_id": body.compute_tx_id().hex(),
        "signing_bytes": body.compute_signing_bytes().hex(),
    }
    for name, transaction in zip(("transaction/anchor", "transaction/certificate"), build_transactions(), strict=True):
        vectors[name] = {
            "encoding": transaction.raw.hex(),
            "tx_id": transaction.tx_id.hex(),
            "signature": transaction.signature.hex(),
        }

    vote = build_precommit()
    key = key_of(build_validator_set(), 0)
    vectors["vote/precommit"] = {
        "encoding": vote.encode().hex(),
        "signing_bytes": vote.compute_signing_bytes(CHAIN_ID).hex(),
        "signer_public_key": key.public_key.hex(),
        "signature": block.sign_commit_vote(key, CHAIN_ID, vote).hex(),
    }
    for name, indices in (("commit/1_signature", (0,)), ("commit/3_signatures", (0, 1, 3))):
        commit = build_commit(indices)
        vectors[name] = {"encoding": commit.encode().hex(), "hash": commit.compute_hash().hex()}

    header = build_header_1()
    vectors["header/1"] = {"encoding": header.encode().hex(), "block_hash": header.compute_hash().hex()}
    block_2 = build_block_2()
    vectors["block/2"] = {
        "encoding": block_2.encode().hex(),
        "header_encoding": block_2.header.encode().hex(),
        "block_hash": block_2.compute_hash().hex(),
        "tx_root": block_2.header.tx_root.hex(),
        "results_root": block_2.header.results_root.hex(),
        "last_commit_hash": block_2.header.last_commit_hash.hex(),
    }

    ok, failed = build_results()
    vectors["result/ok"] = {"encoding": ok.encode().hex(), "leaf_hash": merkle.leaf_hash(ok.encode()).hex()}
    vectors["result/error"] = {
        "encoding": failed.encode().hex(),
        "leaf_hash": merkle.leaf_hash(failed.encode()).hex(),
    }

    validator_set = build_validator_set()
    vectors["validator_set"] = {
        "encoding": validator_set.encode().hex(),
        "hash": validator_set.compute_hash().hex(),
    }
    vectors["state/three_keys"] = build_state_vector()
    return vectors


def build_state_vector() -> Vector:
    """The worked example of docs/state.md: a three-key state, its root, a proof of presence and one of
    absence that ends at another key's leaf."""
    nodes: dict[bytes, bytes] = {}
    update = state.compute_state_update(
        state_tree.StateTree.empty(), {b"alice": b"1", b"bob": b"2", b"carol": b"3"}, nodes.__getitem__
    )
    nodes.update(update.nodes)
    present = state_tree.compute_state_proof(update.tree, b"alice", b"1", nodes.__getitem__)
    absent = state_tree.compute_state_proof(update.tree, b"dave", None, nodes.__getitem__)
    return {
        "empty_root": state_tree.StateTree.empty().root().hex(),
        "root": update.root.hex(),
        "proof_alice": present.encode().hex(),
        "proof_dave_absent": absent.encode().hex(),
    }


def render(vectors: dict[str, Vector]) -> str:
    return json.dumps(vectors, indent=2, sort_keys=True) + "\n"


def main() -> None:
    VECTORS_PATH.write_text(render(build_vectors()), encoding="utf-8")
    print(f"wrote {VECTORS_PATH}")


if __name__ == "__main__":
    main()
