"""What a verifier runs offline: check headers, commits and Merkle proofs against genesis alone.

A proof bundle carries one block header, the commit that finalised it, and a Merkle path from a header
root to the fact: a state value (or its absence) under `state_root`, or a transaction and its result
under `tx_root` and `results_root`. The verifier trusts only the genesis file: it recomputes the block
hash, checks the commit's signatures and quorum against the validator set, then the path. The exact
bytes are described in docs/proofs.md.

When the validator set has changed since genesis (departments joined, left or changed power by
proposal), a version 2 bundle also carries the **transitions**: for each change, the header of the block
before it, that block's commit (signed by the set trusted so far) and the new set, whose hash that header
names as `next_validators_hash`. The verifier walks them from the genesis set to the set of the proven
block. A transaction bundle for a block still signed by the genesis set is version 1, with no transitions;
a version 2 bundle with an empty list is refused, and so is a transition that does not change the set, so
that each proof has exactly one encoding.
A state bundle is version 3 since the state became a sparse Merkle tree (its state proof is tag 7
version 2): it always carries the transitions field, empty when the genesis set signed the block.
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
from chainnode.validators import ValidatorSet, decode_validator_set

TAG_STATE_BUNDLE: Final = 10
TAG_TX_BUNDLE: Final = 11
BUNDLE_VERSION: Final = 1
BUNDLE_VERSION_TRANSITIONS: Final = 2
STATE_BUNDLE_VERSION: Final = 3
"""State bundles 1 and 2 carried the bucket proof of chainnode-store/2 and are refused."""
MAX_BUNDLE_BYTES: Final = 1024 * 1024
MAX_PATH: Final = 40
MAX_TRANSITIONS: Final = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    """A change of validator set: block `header` (final by `commit`) names `next_validators` as the set
    that signs the blocks after it."""

    header: BlockHeader
    commit: Commit
    next_validators: ValidatorSet

    def fields(self) -> list[Value]:
        return [
            [2, 1, *self.header.fields()],
            [4, 1, *self.commit.fields()],
            codec.decode(self.next_validators.encode(), max_size=MAX_BUNDLE_BYTES),
        ]


def _version(transitions: tuple[Transition, ...]) -> int:
    return BUNDLE_VERSION_TRANSITIONS if transitions else BUNDLE_VERSION


def _transitions_fields(transitions: tuple[Transition, ...]) -> list[Value]:
    return [[t.fields() for t in transitions]] if transitions else []


def _decode_transitions(value: Value) -> tuple[Transition, ...]:
    hops = []
    for hop in codec.want_list(value, "transitions", max_len=MAX_TRANSITIONS):
        parts = codec.want_list(hop, "transition", max_len=3)
        if len(parts) != 3:
            raise InvalidField("a transition is [header, commit, validator set]", field="transitions")
        header, commit, validators = parts
        hops.append(Transition(header=header_from_fields(header), commit=commit_from_fields(commit),
                               next_validators=decode_validator_set(validators)))
    return tuple(hops)


@dataclass(frozen=True, slots=True, kw_only=True)
class StateValueBundle:
    """Proof that a state key held a value (or was absent) after block `header.height`."""

    header: BlockHeader
    commit: Commit
    proof: StateProof
    transitions: tuple[Transition, ...] = ()

    def encode(self) -> bytes:
        return codec.encode_object(
            TAG_STATE_BUNDLE,
            STATE_BUNDLE_VERSION,
            [
                [2, 1, *self.header.fields()],
                [4, 1, *self.commit.fields()],
                codec.decode(self.proof.encode(), max_size=MAX_BUNDLE_BYTES),
                [t.fields() for t in self.transitions],
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
    transitions: tuple[Transition, ...] = ()

    def encode(self) -> bytes:
        return codec.encode_object(
            TAG_TX_BUNDLE,
            _version(self.transitions),
            [
                [2, 1, *self.header.fields()],
                [4, 1, *self.commit.fields()],
                self.index,
                self.tx_bytes,
                list(self.tx_path),
                self.result_bytes,
                list(self.result_path),
                *_transitions_fields(self.transitions),
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
    """Decode either kind of bundle. Raises InvalidProof for anything malformed, and for a transaction
    bundle of version 2 whose transitions list is empty (its one encoding is version 1)."""
    try:
        value = codec.decode(data, max_size=MAX_BUNDLE_BYTES)
        if type(value) is not list or len(value) < 2:
            raise InvalidField("a proof bundle is an array [tag, version, ...]")
        if value[0] == TAG_STATE_BUNDLE:
            if value[1] in (BUNDLE_VERSION, BUNDLE_VERSION_TRANSITIONS):
                raise InvalidProof(f"state proof bundle version {value[1]} holds a bucket proof of an older release; "
                                   "ask a node for a new proof")
            fields = codec.check_object(
                value, tag=TAG_STATE_BUNDLE, version=STATE_BUNDLE_VERSION, n_fields=4, what="state proof bundle"
            )
            return StateValueBundle(
                header=header_from_fields(fields[0]),
                commit=commit_from_fields(fields[1]),
                proof=StateProof.decode(codec.encode(fields[2]), max_size=MAX_BUNDLE_BYTES),
                transitions=_decode_transitions(fields[3]),
            )
        version = value[1] if value[1] in (BUNDLE_VERSION, BUNDLE_VERSION_TRANSITIONS) else BUNDLE_VERSION
        extra = 1 if version == BUNDLE_VERSION_TRANSITIONS else 0
        fields = codec.check_object(
            value, tag=TAG_TX_BUNDLE, version=version, n_fields=7 + extra, what="transaction proof bundle"
        )
        if extra and not codec.want_list(fields[7], "transitions", max_len=MAX_TRANSITIONS):
            # One proof, one encoding: a block signed by the genesis set is proven by a version 1 bundle only.
            raise InvalidProof("a version 2 transaction proof bundle carries at least one validator-set "
                               "transition; a block signed by the genesis set is proven by version 1, which has "
                               "no transitions field", field="transitions")
        return TxBundle(
            header=header_from_fields(fields[0]),
            commit=commit_from_fields(fields[1]),
            index=codec.want_int(fields[2], "index", hi=10**6),
            tx_bytes=codec.want_bytes(fields[3], "tx_bytes"),
            tx_path=_hashes(fields[4], "tx_path"),
            result_bytes=codec.want_bytes(fields[5], "result_bytes"),
            result_path=_hashes(fields[6], "result_path"),
            transitions=_decode_transitions(fields[7]) if extra else (),
        )
    except InvalidProof:
        raise
    except InvalidInput as exc:
        raise InvalidProof(f"malformed proof: {exc.message}", field=exc.field) from exc


def _check_commit(header: BlockHeader, commit: Commit, validators: ValidatorSet, what: str) -> bytes:
    block_hash = header.compute_hash()
    try:
        validate_commit(
            commit, chain_id=header.chain_id, height=header.height, block_hash=block_hash, validators=validators
        )
    except InvalidCommit as exc:
        raise InvalidProof(f"the commit does not finalise {what}: {exc.message}") from exc
    return block_hash


def verify_header(
    genesis: Genesis, header: BlockHeader, commit: Commit, transitions: tuple[Transition, ...] = ()
) -> bytes:
    """Check that `header` was finalised by the network of `genesis`; return its block hash.

    The trusted set starts as genesis's and moves along `transitions`, each signed by the set trusted
    before it. Raises InvalidProof: another chain, a transition out of order or not signed by the trusted
    set, a set whose hash the transition's header does not name, a transition that leaves the set as it was,
    a header signed by a set the transitions do not lead to, or a commit that is not a quorum of valid
    signatures.
    """
    if header.chain_id != genesis.chain_id:
        raise InvalidProof(f"the proof is for chain {header.chain_id!r}, genesis is {genesis.chain_id!r}")
    trusted, trusted_from = genesis.validator_set(), 1
    for hop in transitions:
        h = hop.header
        if h.chain_id != genesis.chain_id or not trusted_from <= h.height < header.height:
            raise InvalidProof(f"the validator-set transition at height {h.height} is out of order or for "
                               "another chain", field="transitions")
        if h.validators_hash != trusted.compute_hash():
            raise InvalidProof(f"the transition at height {h.height} is not signed by the validator set trusted "
                               "at that height", field="transitions")
        _check_commit(h, hop.commit, trusted, f"the transition block {h.height}")
        if hop.next_validators.compute_hash() != h.next_validators_hash:
            raise InvalidProof(f"the new validator set does not match block {h.height}'s next_validators_hash",
                               field="transitions")
        if h.next_validators_hash == h.validators_hash:
            # A block that changes nothing would be a hop any bundle could carry or leave out.
            raise InvalidProof(f"the transition at height {h.height} does not change the validator set; a proof "
                               "carries one transition per change and no other", field="transitions")
        trusted, trusted_from = hop.next_validators, h.height + 1
    if header.validators_hash != trusted.compute_hash():
        source = "the proof's transitions lead to" if transitions else "genesis names"
        raise InvalidProof(
            f"block {header.height} was signed by a validator set other than the one {source}; the proof "
            "lacks the validator-set transitions since then",
            field="transitions",
        )
    return _check_commit(header, commit, trusted, f"block {header.height}")


def verify_state_bundle(genesis: Genesis, bundle: StateValueBundle) -> VerifiedState:
    """Raises InvalidProof naming the first check that fails."""
    block_hash = verify_header(genesis, bundle.header, bundle.commit, bundle.transitions)
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
    block_hash = verify_header(genesis, header, bundle.commit, bundle.transitions)
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
