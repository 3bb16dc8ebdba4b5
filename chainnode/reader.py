"""The read side of a node: blocks, proofs, history and chain status, answered without the commit lock.

Theory of operation. What the store holds is either *height-addressed and immutable once written*
(blocks, commits, results, the transaction and entity indexes, validator sets by effective height, state
history rows by (key, height), state tree nodes and root references by version) or *current* (state
values, which follow the head). The committer writes a block in one batch, then
publishes a `Head` (its tip and tree) with a single reference assignment. A reader:

1. takes the published head first; every height it answers is at most that head, so every
   height-addressed row it needs is already written and can no longer change;
2. for the head's *current* columns takes a LevelDB snapshot after that; the snapshot is at the published
   height or later. At the same height, the current columns come from the snapshot. If a commit slipped
   in between, the published height is answered from the height-addressed rows instead. Either way one
   answer describes one committed height, never a mix.

Nothing here takes `Node._commit_lock`, and nothing here runs on the consensus event loop: the API calls
these methods on its read pool (chainnode/read_pool.py). Caches are guarded by their own small locks.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from chainnode import codec, merkle
from chainnode.block import Block, BlockHeader, Commit
from chainnode.errors import CorruptStore, InvalidInput, NotFound
from chainnode.genesis import Genesis
from chainnode.history import HistoryPage, get_entity_history
from chainnode.light import MAX_TRANSITIONS, StateValueBundle, Transition, TxBundle
from chainnode.producer import ChainTip
from chainnode.results import decode_result
from chainnode.state_tree import StateTree, compute_state_proof
from chainnode.store import Store, StoreView
from chainnode.validators import ValidatorSet, decode_validator_set
from contracts import anchor

VALIDATOR_SETS: Final = 64


@dataclass(frozen=True, slots=True)
class Head:
    """What the committer publishes after each block: the tip, the state tree after it, and the number of
    validators of the next block (for the status page)."""

    tip: ChainTip
    tree: StateTree
    next_validators: int


@dataclass(frozen=True, slots=True)
class TxStatus:
    tx_id: bytes
    status: str
    """"pending", "committed", "rejected" or "unknown"."""
    height: int | None = None
    index: int | None = None
    code: str | None = None
    message: str | None = None
    result: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tx_id": self.tx_id.hex(), "status": self.status}
        for name in ("height", "index", "code", "message", "result"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


def load_validator_set(store: StoreView, genesis: Genesis, height: int) -> ValidatorSet:
    """The validator set that signs block `height`, from the store (genesis set if none stored).

    Raises CorruptStore if the stored set cannot be decoded.
    """
    raw = store.get_validator_set_bytes(height)
    if raw is None:
        return genesis.validator_set()
    try:
        return decode_validator_set(codec.decode(raw, max_size=1 << 20))
    except InvalidInput as exc:
        raise CorruptStore(f"the validator set for height {height} is damaged: {exc.message}") from exc


class Reader:
    """Every client read of one node's ledger; safe from any number of threads, never blocks a commit."""

    def __init__(self, store: Store, genesis: Genesis, head: Callable[[], Head]) -> None:
        """`head` returns the last published head; the committer replaces it after each block's write."""
        self.store = store
        self.genesis = genesis
        self._head = head
        self._lock = threading.Lock()
        self._validator_sets: OrderedDict[int, ValidatorSet] = OrderedDict()
        self._change_heights: tuple[int, tuple[int, ...]] = (-1, ())

    # --- the head ------------------------------------------------------------------------------------

    def head(self) -> Head:
        return self._head()

    def head_height(self) -> int:
        return self._head().tip.height

    def status(self) -> dict[str, Any]:
        """The chain facts of the status page, from the published head alone (no store access)."""
        head = self._head()
        tip = head.tip
        return {
            "chain_id": self.genesis.chain_id,
            "genesis_hash": self.genesis.hash.hex(),
            "height": tip.height,
            "block_hash": tip.block_hash.hex() if tip.height else None,
            "block_time_ms": tip.time_ms if tip.height else None,
            "state_root": head.tree.root().hex(),
            "validators": head.next_validators,
        }

    def validators_at(self, height: int) -> ValidatorSet:
        """The validator set that signs block `height`, for heights up to head + 2 (known two ahead).

        Raises NotFound beyond that, CorruptStore if the stored set is damaged.
        """
        head = self.head_height()
        if height > head + 2:
            raise NotFound(f"the validator set of height {height} is not known yet; the head is {head}")
        with self._lock:
            cached = self._validator_sets.get(height)
        if cached is not None:
            return cached
        found = load_validator_set(self.store, self.genesis, height)
        with self._lock:  # only sets at most two ahead of a committed head are cached: they are final
            self._validator_sets[height] = found
            if len(self._validator_sets) > VALIDATOR_SETS:
                self._validator_sets.popitem(last=False)
        return found

    # --- blocks and transactions -----------------------------------------------------------------------

    def tx_status(self, tx_id: bytes) -> TxStatus:
        """Committed status with the result, or "unknown" (the mempool's verdicts are the node's business)."""
        location = self.store.get_tx_location(tx_id)
        if location is None or location.height > self.head_height():  # written, not yet published
            return TxStatus(tx_id, "unknown")
        results = self.store.get_result_bytes(location.height) or []
        result = decode_result(results[location.index]).to_json() if location.index < len(results) else None
        return TxStatus(tx_id, "committed", height=location.height, index=location.index, result=result)

    def get_block(self, height: int) -> tuple[Block, Commit]:
        """Raises NotFound."""
        head = self.head_height()
        block = self.store.get_block(height) if height <= head else None
        commit = self.store.get_commit(height) if block is not None else None
        if block is None or commit is None:
            raise NotFound(f"no block at height {height}; the head is {head}")
        return block, commit

    def get_results(self, height: int) -> list[bytes]:
        """The encoded results of block `height`'s transactions (empty if it has none)."""
        return self.store.get_result_bytes(height) or []

    def get_header_commit(self, height: int) -> tuple[BlockHeader, Commit]:
        """A block's header (from the header cache, without decoding its transactions) and commit.

        Raises NotFound.
        """
        header = self.store.get_header(height)
        commit = self.store.get_commit(height) if header is not None else None
        if header is None or commit is None:
            raise NotFound(f"no block at height {height}; the head is {self.head_height()}")
        return header, commit

    # --- proofs -------------------------------------------------------------------------------------------

    def state_bundle(self, key: bytes, height: int | None = None) -> StateValueBundle:
        """Value of `key` after block `height` (default: the head) with its proof. Raises NotFound.

        Any height, the head included, is answered from the tree nodes stored for that version and the
        state history, which a later commit never changes.
        """
        head = self._head()
        top = head.tip.height
        if top < 1:
            raise NotFound("no block has been committed yet")
        at = top if height is None else height
        if not 1 <= at <= top:
            raise NotFound(f"height {at} is not between 1 and the head {top}")
        # the tree of `at` is read from its stored versioned nodes, which never change once written; the
        # value from the state history at `at`: both are height-addressed, so no lock and no snapshot
        value = self.store.value_at(key, at)
        header, commit = self.get_header_commit(at)
        proof = compute_state_proof(self.store.root_at(at), key, value, self.store.load_node)
        return StateValueBundle(header=header, commit=commit, proof=proof, transitions=self.transitions_to(at))

    def transitions_to(self, height: int) -> tuple[Transition, ...]:
        """The validator-set transitions a verifier needs, from the genesis set to the set of `height`."""
        hops: list[Transition] = []
        trusted = self.genesis.validator_set().compute_hash()
        head = self.head_height()
        known = self._change_heights
        if known[0] != head:
            known = self._change_heights = (head, tuple(self.store.validator_change_heights(head + 2)))
        for change in (h for h in known[1] if h <= height):
            validators = self.validators_at(change)
            if change <= 1 or validators.compute_hash() == trusted:
                continue
            header, commit = self.get_header_commit(change - 1)
            hops.append(Transition(header=header, commit=commit, next_validators=validators))
            trusted = validators.compute_hash()
        if len(hops) > MAX_TRANSITIONS:
            raise NotFound(f"block {height} is {len(hops)} validator-set changes from genesis; a proof carries at "
                           f"most {MAX_TRANSITIONS}")
        return tuple(hops)

    def tx_bundle(self, tx_id: bytes) -> TxBundle:
        """Inclusion and result proof of a committed transaction. Raises NotFound."""
        location = self.store.get_tx_location(tx_id)
        if location is None or location.height > self.head_height():
            raise NotFound(f"transaction {tx_id.hex()} is not committed")
        block, commit = self.get_block(location.height)
        results = self.get_results(location.height)
        tx_leaves = [merkle.leaf_hash(t) for t in block.txs]
        result_leaves = [merkle.leaf_hash(r) for r in results]
        return TxBundle(
            header=block.header,
            commit=commit,
            index=location.index,
            tx_bytes=block.txs[location.index],
            tx_path=tuple(merkle.compute_inclusion_proof(tx_leaves, location.index)),
            result_bytes=results[location.index],
            result_path=tuple(merkle.compute_inclusion_proof(result_leaves, location.index)),
            transitions=self.transitions_to(location.height),
        )

    def anchor_bundles(self, content_hash: bytes) -> list[StateValueBundle]:
        """A proof for every department's anchor of `content_hash` at the head (anchors are never deleted)."""
        height = self.head_height()
        if height < 1:
            return []
        with self.store.snapshot() as snap:  # at `height` or later: every anchor of `height`, maybe newer ones
            keys = [key for key, _ in snap.iter_prefix(anchor.anchors_prefix(content_hash))]
        bundles = [self.state_bundle(key, height) for key in keys]
        return [bundle for bundle in bundles if bundle.proof.value is not None]

    # --- history --------------------------------------------------------------------------------------------

    def entity_history(
        self, entity: str, *, limit: int, from_height: int = 1, to_height: int | None = None,
        after: tuple[int, int] | None = None,
    ) -> HistoryPage:
        """One page of the transactions that touched `entity`, in chain order (chainnode/history.py).

        Only committed heights (up to the published head) are listed; each block decodes once per page.
        Raises CorruptStore if the entity index and the blocks disagree.
        """
        return get_entity_history(self, entity, limit=limit, from_height=from_height, to_height=to_height,
                                  after=after)
