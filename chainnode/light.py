"""What a verifier runs offline: check headers, commits and Merkle proofs against genesis alone.

A proof bundle carries one block header, the commit that finalised it, and a Merkle path from a header
root to the fact: a state value (or its absence) under `state_root`, or a transaction and its result
under `tx_root` and `results_root`. The verifier trusts only the genesis file: it recomputes the block
hash, checks the commit's signatures and quorum against the validator set, then the path. The exact
bytes are described in docs/proofs.md.

Version 1 bundles carry no validator-set transitions: the header's validator set must be the genesis
set. When validator-set changes exist, a later version adds the chain of signed transitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from chainnode import codec, merkle
from chainnode.block import BlockHeader, Commit, commit_from_fields, header_from_fields, validate_commit
from chainnode.codec import Value
from chainnode.errors import InvalidCommit, InvalidField, InvalidInput, InvalidProof
from chainnode.genesis import Genesis
from chainnode.results import TxResult, decode_result
from chainnode.state_tree import StateProof, verify_state_proof
from chainnode.tx import Transaction, decode_transaction

TAG_STATE_BUNDLE: Final = 10
TAG_TX_BUNDLE: Final = 11
BUNDLE_VERSION: Final = 1
MAX_BUNDLE_BYTES: Final = 256 * 1024
MAX_PATH: Final = 40


@dataclass(frozen=True, slots=True, kw_only=True)
class StateValueBundle:
    """Proof that a state key held a value (or was absent) after block `header.height`."""

    header: BlockHeader
    commit: Commit
    proof: StateProof

    def encode(self) -> bytes:
        return codec.encode_object(
            TAG_STATE_BUNDLE,
            BUNDLE_VERSION,
            [
                [2, 1, *self.header.fields()],
                [4, 1, *self.commit.fields()],
                codec.decode(self.proof.encode(), max_size=MAX_BUNDLE_BYTES),
            ],
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class TxBundle:
    """Proof that a transaction was committed at `header.height`, at `index`, with `result`."""

    header: BlockHeader
    commit: Commit
    index: int
    tx_bytes: bytes
    tx_path: tuple[bytes, ...]
    result_bytes: bytes
    result_path: tuple[bytes, ...]

    def encode(self) -> bytes:
        return codec.encode_object(
            TAG_TX_BUNDLE,
            BUNDLE_VERSION,
            [
                [2, 1, *self.header.fields()],
                [4, 1, *self.commit.fields()],
                self.index,
                self.tx_bytes,
                list(self.tx_path),
                self.result_bytes,
                list(self.result_path),
            ],
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedState:
    height: int
    time_ms: int
    block_hash: bytes
    key: bytes
    value: bytes | None


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedTx:
    height: int
    time_ms: int
    block_hash: bytes
    index: int
    tx: Transaction
    result: TxResult


def _hashes(value: Value, field: str) -> tuple[bytes, ...]:
    return tuple(codec.want_bytes(h, field, size=32) for h in codec.want_list(value, field, max_len=MAX_PATH))


def decode_bundle(data: bytes) -> StateValueBundle | TxBundle:
    """Decode either kind of bundle. Raises InvalidProof for anything malformed."""
    try:
        value = codec.decode(data, max_size=MAX_BUNDLE_BYTES)
        if type(value) is not list or len(value) < 2:
            raise InvalidField("a proof bundle is an array [tag, version, ...]")
        if value[0] == TAG_STATE_BUNDLE:
            header, commit, proof = codec.check_object(
                value, tag=TAG_STATE_BUNDLE, version=BUNDLE_VERSION, n_fields=3, what="state proof bundle"
            )
            return StateValueBundle(
                header=header_from_fields(header),
                commit=commit_from_fields(commit),
                proof=StateProof.decode(codec.encode(proof), max_size=MAX_BUNDLE_BYTES),
            )
        fields = codec.check_object(
            value, tag=TAG_TX_BUNDLE, version=BUNDLE_VERSION, n_fields=7, what="transaction proof bundle"
        )
        return TxBundle(
            header=header_from_fields(fields[0]),
            commit=commit_from_fields(fields[1]),
            index=codec.want_int(fields[2], "index", hi=10**6),
            tx_bytes=codec.want_bytes(fields[3], "tx_bytes"),
            tx_path=_hashes(fields[4], "tx_path"),
            result_bytes=codec.want_bytes(fields[5], "result_bytes"),
            result_path=_hashes(fields[6], "result_path"),
        )
    except InvalidProof:
        raise
    except InvalidInput as exc:
        raise InvalidProof(f"malformed proof: {exc.message}", field=exc.field) from exc


def verify_header(genesis: Genesis, header: BlockHeader, commit: Commit) -> bytes:
    """Check that `header` was finalised by the network of `genesis`; return its block hash.

    Raises InvalidProof: another chain, a validator set other than genesis's, or a commit that is not a
    quorum of valid signatures for this header.
    """
    if header.chain_id != genesis.chain_id:
        raise InvalidProof(f"the proof is for chain {header.chain_id!r}, genesis is {genesis.chain_id!r}")
    validators = genesis.validator_set()
    if header.validators_hash != validators.compute_hash():
        raise InvalidProof(
            f"block {header.height} was signed by a validator set other than genesis's; "
            "this proof version cannot show the transition"
        )
    block_hash = header.compute_hash()
    try:
        validate_commit(
            commit, chain_id=header.chain_id, height=header.height, block_hash=block_hash, validators=validators
        )
    except InvalidCommit as exc:
        raise InvalidProof(f"the commit does not finalise this block: {exc.message}") from exc
    return block_hash


def verify_state_bundle(genesis: Genesis, bundle: StateValueBundle) -> VerifiedState:
    """Raises InvalidProof naming the first check that fails."""
    block_hash = verify_header(genesis, bundle.header, bundle.commit)
    verify_state_proof(bundle.header.state_root, bundle.proof)
    return VerifiedState(
        height=bundle.header.height,
        time_ms=bundle.header.time_ms,
        block_hash=block_hash,
        key=bundle.proof.key,
        value=bundle.proof.value,
    )


def verify_tx_bundle(genesis: Genesis, bundle: TxBundle) -> VerifiedTx:
    """Raises InvalidProof naming the first check that fails."""
    header = bundle.header
    block_hash = verify_header(genesis, header, bundle.commit)
    if bundle.index >= header.tx_count:
        raise InvalidProof(f"index {bundle.index} is outside block {header.height}'s {header.tx_count} transactions")
    try:
        tx = decode_transaction(bundle.tx_bytes)
        result = decode_result(bundle.result_bytes)
    except InvalidInput as exc:
        raise InvalidProof(f"malformed transaction or result: {exc.message}") from exc
    if not tx.is_signature_valid():
        raise InvalidProof("the transaction's signature does not verify")
    if not merkle.verify_inclusion(
        merkle.leaf_hash(bundle.tx_bytes), bundle.index, header.tx_count, bundle.tx_path, header.tx_root
    ):
        raise InvalidProof("the transaction is not in the block's tx_root at that index", field="tx_path")
    if result.tx_id != tx.tx_id:
        raise InvalidProof("the result belongs to another transaction", field="result_bytes")
    if not merkle.verify_inclusion(
        merkle.leaf_hash(bundle.result_bytes), bundle.index, header.tx_count, bundle.result_path, header.results_root
    ):
        raise InvalidProof("the result is not in the block's results_root at that index", field="result_path")
    return VerifiedTx(
        height=header.height, time_ms=header.time_ms, block_hash=block_hash, index=bundle.index, tx=tx, result=result
    )
