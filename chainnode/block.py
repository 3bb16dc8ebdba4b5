"""Blocks, headers, votes and commits.

A block is a header, its transactions (each as its canonical signed bytes) and the commit of the
previous block. The block hash is the hash of the header alone; the header commits to the
transactions (tx_root), their results (results_root), the state after this block (state_root), the
previous block (prev_hash), the previous commit (last_commit_hash) and the validator sets. A commit is
a set of precommit signatures over the block hash from validators holding more than two thirds of the
voting power. The same format carries one validator's commit and a BFT quorum's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, NewType

from chainnode import codec, crypto, merkle
from chainnode.codec import Value
from chainnode.errors import InvalidBlock, InvalidCommit, InvalidField
from chainnode.validators import ValidatorSet

BlockHash = NewType("BlockHash", bytes)
Height = NewType("Height", int)

TAG_HEADER: Final = 2
TAG_BLOCK: Final = 3
TAG_COMMIT: Final = 4
TAG_VOTE: Final = 5
VERSION: Final = 1

ZERO_HASH: Final = bytes(32)
VOTE_PREVOTE: Final = 1
VOTE_PRECOMMIT: Final = 2

MAX_BLOCK_BYTES_HARD: Final = 64 * 1024 * 1024
MAX_BLOCK_TXS_HARD: Final = 100_000
MAX_COMMIT_BYTES: Final = 64 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockHeader:
    """Metadata and commitments of one block."""

    chain_id: str
    height: int
    time_ms: int
    """Block time in milliseconds since the Unix epoch; strictly later than the parent's."""
    prev_hash: bytes
    """Hash of the previous block's header; the genesis hash at height 1."""
    tx_count: int
    tx_root: bytes
    """RFC 9162 root over the canonical signed transaction bytes."""
    results_root: bytes
    """RFC 9162 root over the canonical result bytes, one per transaction, in order."""
    state_root: bytes
    """Root of the authenticated state after executing this block."""
    last_commit_hash: bytes
    """Hash of the commit of the previous block carried in this block; zeros at height 1."""
    validators_hash: bytes
    next_validators_hash: bytes
    proposer: bytes

    def fields(self) -> list[Value]:
        return [
            self.chain_id,
            self.height,
            self.time_ms,
            self.prev_hash,
            self.tx_count,
            self.tx_root,
            self.results_root,
            self.state_root,
            self.last_commit_hash,
            self.validators_hash,
            self.next_validators_hash,
            self.proposer,
        ]

    def encode(self) -> bytes:
        return codec.encode_object(TAG_HEADER, VERSION, self.fields())

    def compute_hash(self) -> BlockHash:
        return BlockHash(crypto.compute_hash(crypto.DOMAIN_BLOCK, self.encode()))

    def to_json(self) -> dict[str, Value]:
        return {
            "chain_id": self.chain_id,
            "height": self.height,
            "time_ms": self.time_ms,
            "prev_hash": self.prev_hash.hex(),
            "tx_count": self.tx_count,
            "tx_root": self.tx_root.hex(),
            "results_root": self.results_root.hex(),
            "state_root": self.state_root.hex(),
            "last_commit_hash": self.last_commit_hash.hex(),
            "validators_hash": self.validators_hash.hex(),
            "next_validators_hash": self.next_validators_hash.hex(),
            "proposer": self.proposer.hex(),
        }


def header_from_fields(value: Value) -> BlockHeader:
    f = codec.check_object(value, tag=TAG_HEADER, version=VERSION, n_fields=12, what="block header")
    header = BlockHeader(
        chain_id=codec.want_str(f[0], "chain_id", min_len=1, max_len=64),
        height=codec.want_int(f[1], "height", lo=1, hi=2**63 - 1),
        time_ms=codec.want_int(f[2], "time_ms", hi=2**63 - 1),
        prev_hash=codec.want_bytes(f[3], "prev_hash", size=32),
        tx_count=codec.want_int(f[4], "tx_count", hi=MAX_BLOCK_TXS_HARD),
        tx_root=codec.want_bytes(f[5], "tx_root", size=32),
        results_root=codec.want_bytes(f[6], "results_root", size=32),
        state_root=codec.want_bytes(f[7], "state_root", size=32),
        last_commit_hash=codec.want_bytes(f[8], "last_commit_hash", size=32),
        validators_hash=codec.want_bytes(f[9], "validators_hash", size=32),
        next_validators_hash=codec.want_bytes(f[10], "next_validators_hash", size=32),
        proposer=codec.want_bytes(f[11], "proposer", size=32),
    )
    return header


def decode_header(data: bytes) -> BlockHeader:
    return header_from_fields(codec.decode(data, max_size=4096))


@dataclass(frozen=True, slots=True, kw_only=True)
class Vote:
    """A prevote or precommit for a block hash (or nil: empty bytes) at a height and round."""

    vote_type: int
    height: int
    round: int
    block_hash: bytes

    def encode(self) -> bytes:
        return codec.encode_object(TAG_VOTE, VERSION, [self.vote_type, self.height, self.round, self.block_hash])

    def compute_signing_bytes(self, chain_id: str) -> bytes:
        return crypto.compute_signing_bytes(crypto.SIGN_VOTE, chain_id, self.encode())


@dataclass(frozen=True, slots=True, kw_only=True)
class CommitSignature:
    validator_index: int
    signature: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Commit:
    """Precommit signatures for `block_hash` at `height` and `round`, sorted by validator index."""

    height: int
    round: int
    block_hash: bytes
    signatures: tuple[CommitSignature, ...]

    def fields(self) -> list[Value]:
        return [self.height, self.round, self.block_hash, [[s.validator_index, s.signature] for s in self.signatures]]

    def encode(self) -> bytes:
        return codec.encode_object(TAG_COMMIT, VERSION, self.fields())

    def compute_hash(self) -> bytes:
        return crypto.compute_hash(crypto.DOMAIN_COMMIT, self.encode())

    def precommit(self) -> Vote:
        return Vote(vote_type=VOTE_PRECOMMIT, height=self.height, round=self.round, block_hash=self.block_hash)

    def to_json(self) -> dict[str, Value]:
        return {
            "height": self.height,
            "round": self.round,
            "block_hash": self.block_hash.hex(),
            "signatures": [
                {"validator_index": s.validator_index, "signature": s.signature.hex()} for s in self.signatures
            ],
        }


def commit_from_fields(value: Value) -> Commit:
    f = codec.check_object(value, tag=TAG_COMMIT, version=VERSION, n_fields=4, what="commit")
    signatures = []
    for item in codec.want_list(f[3], "signatures", max_len=1024):
        pair = codec.want_list(item, "signature", max_len=2)
        if len(pair) != 2:
            raise InvalidField("a commit signature is [validator_index, signature]", field="signatures")
        signatures.append(
            CommitSignature(
                validator_index=codec.want_int(pair[0], "validator_index", hi=1023),
                signature=codec.want_bytes(pair[1], "signature", size=crypto.SIGNATURE_SIZE),
            )
        )
    return Commit(
        height=codec.want_int(f[0], "height", lo=1, hi=2**63 - 1),
        round=codec.want_int(f[1], "round", hi=2**31),
        block_hash=codec.want_bytes(f[2], "block_hash", size=32),
        signatures=tuple(signatures),
    )


def decode_commit(data: bytes) -> Commit:
    return commit_from_fields(codec.decode(data, max_size=MAX_COMMIT_BYTES))


def sign_commit_vote(key: crypto.PrivateKey, chain_id: str, vote: Vote) -> bytes:
    return key.sign(vote.compute_signing_bytes(chain_id))


def validate_commit(commit: Commit, *, chain_id: str, height: int, block_hash: bytes, validators: ValidatorSet,
                    verify: crypto.Verifier = crypto.verify_signature) -> None:
    """Check that `commit` is a quorum of valid precommits for `block_hash` at `height`. `verify` checks
    one signature (public key, message, signature): a caller that checked a batch in parallel passes a
    lookup of the results.

    Raises InvalidCommit naming the fault: wrong height or block, unsorted or repeated signer, unknown
    validator index, a signature that does not verify, or less than two thirds of the voting power.
    """
    if commit.height != height:
        raise InvalidCommit(f"commit is for height {commit.height}, expected {height}", field="height")
    if commit.block_hash != block_hash:
        raise InvalidCommit(f"commit at height {height} is for another block", field="block_hash")
    message = commit.precommit().compute_signing_bytes(chain_id)
    power = 0
    previous = -1
    for sig in commit.signatures:
        if sig.validator_index <= previous:
            raise InvalidCommit(f"commit at height {height}: signers not sorted or repeated", field="signatures")
        previous = sig.validator_index
        if sig.validator_index >= len(validators):
            raise InvalidCommit(f"commit at height {height}: no validator #{sig.validator_index}", field="signatures")
        validator = validators.validators[sig.validator_index]
        if not verify(validator.public_key, message, sig.signature):
            raise InvalidCommit(
                f"commit at height {height}: signature of validator #{sig.validator_index} "
                f"({validator.department}) does not verify",
                field="signatures",
            )
        power += validator.power
    if not validators.is_quorum(power):
        raise InvalidCommit(
            f"commit at height {height} has {power} of {validators.total_power} voting power; more than 2/3 needed",
            field="signatures",
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Block:
    header: BlockHeader
    txs: tuple[bytes, ...]
    """Each transaction's canonical signed bytes, in execution order."""
    last_commit: Commit | None
    """The commit of the previous block; None at height 1."""

    def encode(self) -> bytes:
        last = None if self.last_commit is None else [TAG_COMMIT, VERSION, *self.last_commit.fields()]
        return codec.encode_object(
            TAG_BLOCK, VERSION, [[TAG_HEADER, VERSION, *self.header.fields()], list(self.txs), last]
        )

    @property
    def height(self) -> int:
        return self.header.height

    def compute_hash(self) -> BlockHash:
        return self.header.compute_hash()


def decode_block(data: bytes, *, max_size: int = MAX_BLOCK_BYTES_HARD) -> Block:
    """Decode a block and check its shape (not its contents against the chain)."""
    header_value, txs, last = codec.decode_object(
        data, tag=TAG_BLOCK, version=VERSION, n_fields=3, max_size=max_size, what="block"
    )
    header = header_from_fields(header_value)
    tx_list = codec.want_list(txs, "txs", max_len=MAX_BLOCK_TXS_HARD)
    for item in tx_list:
        if type(item) is not bytes:
            raise InvalidField("each transaction in a block is its canonical bytes", field="txs")
    return Block(header=header, txs=tuple(tx_list), last_commit=None if last is None else commit_from_fields(last))


def compute_tx_root(txs: Sequence[bytes]) -> bytes:
    return merkle.compute_root(txs)


def compute_results_root(results: Sequence[bytes]) -> bytes:
    return merkle.compute_root(results)


def validate_block_shape(block: Block) -> None:
    """Checks a block against itself: tx count and root, and last-commit hash. Raises InvalidBlock."""
    header = block.header
    if header.tx_count != len(block.txs):
        raise InvalidBlock(
            f"block {header.height}: header counts {header.tx_count} txs, block has {len(block.txs)}", field="tx_count"
        )
    if compute_tx_root(block.txs) != header.tx_root:
        raise InvalidBlock(f"block {header.height}: transactions do not match tx_root", field="tx_root")
    expected = ZERO_HASH if block.last_commit is None else block.last_commit.compute_hash()
    if expected != header.last_commit_hash:
        raise InvalidBlock(f"block {header.height}: last commit does not match last_commit_hash", field="last_commit")
    if header.height == 1 and block.last_commit is not None:
        raise InvalidBlock("block 1 carries no last commit", field="last_commit")
    if header.height > 1 and block.last_commit is None:
        raise InvalidBlock(f"block {header.height} lacks the commit of block {header.height - 1}", field="last_commit")
