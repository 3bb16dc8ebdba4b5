"""What the simulated nodes stand on: keys and validator sets, an in-memory WAL, real blocks, the app.

Blocks are real `chainnode.block.Block` values (cheap headers, a few fake transaction bytes), so the
proposal messages the engine checks are the real wire bytes. A block is "executed" by the checks a node
can make without contracts: its shape, its place on this node's chain (height, parent hash, later time),
the validator-set hashes of the schedule, its last commit (a quorum of the parent's validators) and no
transaction marked invalid.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from chainnode import crypto
from chainnode.block import (
    ZERO_HASH,
    Block,
    BlockHeader,
    Commit,
    compute_tx_root,
    decode_block,
    validate_block_shape,
    validate_commit,
)
from chainnode.errors import ChainError, InvalidBlock
from chainnode.validators import Validator, ValidatorSet
from chainnode.wal import SignRecord
from tests.simulation.scenarios import CHAIN_ID, EPOCH_MS, Scenario

INVALID_TX: Final = b"invalid transaction"
"""A transaction that fails execution: a block holding it is invalid."""
GENESIS_HASH: Final = crypto.compute_hash(crypto.DOMAIN_GENESIS, CHAIN_ID.encode())


def make_keys(n: int) -> list[crypto.PrivateKey]:
    """The nodes' keys from fixed seeds, sorted by public key (node i has the i-th key)."""
    keys = [crypto.PrivateKey(crypto.sha256(b"sim validator %d" % i)) for i in range(n)]
    return sorted(keys, key=lambda k: k.public_key)


class Membership:
    """The validator set of every height, from the scenario's schedule (known to every node)."""

    def __init__(self, scenario: Scenario, keys: Sequence[crypto.PrivateKey]) -> None:
        self.scenario = scenario
        self.keys = keys
        self._sets: dict[tuple[int, ...], tuple[ValidatorSet, bytes]] = {}

    def _get(self, height: int) -> tuple[ValidatorSet, bytes]:
        powers = self.scenario.powers_at(height)
        known = self._sets.get(powers)
        if known is None:
            validators = ValidatorSet(
                tuple(
                    Validator(department=f"dept-{i}", public_key=key.public_key, power=power)
                    for i, (key, power) in enumerate(zip(self.keys, powers, strict=True))
                    if power > 0
                )
            )
            known = self._sets[powers] = (validators, validators.compute_hash())
        return known

    def validators_at(self, height: int) -> ValidatorSet:
        return self._get(height)[0]

    def hash_at(self, height: int) -> bytes:
        return self._get(height)[1]

    def node_of(self, height: int, validator_index: int) -> int:
        """The node holding validator #validator_index of `height`'s set."""
        key = self.validators_at(height).validators[validator_index].public_key
        return next(i for i, k in enumerate(self.keys) if k.public_key == key)

    def sets(self) -> list[ValidatorSet]:
        heights = [1] + [decided + 2 for decided, _ in self.scenario.membership]
        return [self.validators_at(h) for h in heights]


@dataclass
class MemoryWal:
    """The signer's WAL in memory (chainnode.driver.signer.SignWal). It survives a simulated crash, as the
    file does; `on_append` lets the simulator watch what is persisted and crash right after it."""

    records: list[SignRecord] = field(default_factory=list)
    blocks: dict[bytes, bytes] = field(default_factory=dict)
    on_append: Callable[[SignRecord], None] | None = None

    def append(self, record: SignRecord) -> None:
        self.records.append(record)
        if self.on_append is not None:
            self.on_append(record)

    def save_block(self, block_hash: bytes, block_bytes: bytes) -> None:
        self.blocks.setdefault(block_hash, block_bytes)

    def load_block(self, block_hash: bytes) -> bytes | None:
        return self.blocks.get(block_hash)


@dataclass(frozen=True, slots=True)
class ChainEntry:
    block: Block
    raw: bytes
    commit: Commit


class CommitChecker:
    """validate_commit with a per-run cache (commits are checked by many nodes, many times)."""

    def __init__(self, membership: Membership) -> None:
        self.membership = membership
        self._valid: set[bytes] = set()

    def validate(self, commit: Commit, height: int, block_hash: bytes) -> None:
        """Raises InvalidCommit."""
        encoded = commit.encode()
        if encoded + block_hash in self._valid:
            return
        validate_commit(
            commit, chain_id=CHAIN_ID, height=height, block_hash=block_hash,
            validators=self.membership.validators_at(height),
        )
        self._valid.add(encoded + block_hash)


def build_block(
    chain: Sequence[ChainEntry], *, height: int, time_ms: int, txs: tuple[bytes, ...], proposer: bytes,
    membership: Membership,
) -> tuple[Block, bytes]:
    """A block on top of `chain` (or, for a height beyond it, on top of nothing in particular)."""
    parent = chain[height - 2] if 2 <= height <= len(chain) + 1 else None
    last_commit = None if parent is None else parent.commit
    header = BlockHeader(
        chain_id=CHAIN_ID,
        height=height,
        time_ms=time_ms,
        prev_hash=GENESIS_HASH if height == 1 else ZERO_HASH if parent is None else parent.block.compute_hash(),
        tx_count=len(txs),
        tx_root=compute_tx_root(txs),
        results_root=ZERO_HASH,
        state_root=ZERO_HASH,
        last_commit_hash=ZERO_HASH if last_commit is None else last_commit.compute_hash(),
        validators_hash=membership.hash_at(height),
        next_validators_hash=membership.hash_at(height + 1),
        proposer=proposer,
    )
    block = Block(header=header, txs=txs, last_commit=last_commit)
    return block, block.encode()


def validate_block(
    chain: Sequence[ChainEntry], block: Block, *, membership: Membership, commits: CommitChecker
) -> None:
    """The simulated execution of `block` on top of `chain`. Raises InvalidBlock or InvalidCommit."""
    header = block.header
    validate_block_shape(block)
    if header.height != len(chain) + 1:
        raise InvalidBlock(f"block {header.height} does not follow head {len(chain)}")
    parent = chain[-1].block if chain else None
    if header.prev_hash != (GENESIS_HASH if parent is None else parent.compute_hash()):
        raise InvalidBlock(f"block {header.height} does not link to its parent")
    if parent is not None and header.time_ms <= parent.header.time_ms:
        raise InvalidBlock(f"block {header.height} is not later than its parent")
    if header.validators_hash != membership.hash_at(header.height) or (
        header.next_validators_hash != membership.hash_at(header.height + 1)
    ):
        raise InvalidBlock(f"block {header.height} names the wrong validator sets")
    if block.last_commit is not None and parent is not None:
        commits.validate(block.last_commit, parent.header.height, parent.compute_hash())
    if INVALID_TX in block.txs:
        raise InvalidBlock(f"block {header.height} holds a transaction that fails")


def is_valid_block(
    chain: Sequence[ChainEntry], block: Block, *, membership: Membership, commits: CommitChecker
) -> bool:
    try:
        validate_block(chain, block, membership=membership, commits=commits)
    except ChainError:
        return False
    return True


class SimApp:
    """The engine's view of one simulated node (chainnode.driver.engine.EngineApp)."""

    def __init__(self, chain: list[ChainEntry], membership: Membership, clock: Callable[[], int]) -> None:
        self.chain = chain
        self.membership = membership
        self.clock = clock

    def head_height(self) -> int:
        return len(self.chain)

    def validators_at(self, height: int) -> ValidatorSet:
        return self.membership.validators_at(height)

    def now_ms(self) -> int:
        return EPOCH_MS + self.clock()

    def decode_block(self, raw: bytes) -> Block:
        return decode_block(raw, max_size=64 * 1024)

    def verify_signature(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        return crypto.verify_signature(public_key, message, signature)
