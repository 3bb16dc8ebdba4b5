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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from chainnode import codec, merkle
from chainnode.block import Block, BlockHeader, Commit
from chainnode.errors import CorruptStore, InvalidField, InvalidInput, NotFound
from chainnode.genesis import Genesis
from chainnode.history import HistoryPage, get_entity_history
from chainnode.light import Link, StateValueBundle, TxBundle, TxEntry, TxPayload, plan_links
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

    def state_bundle(self, key: bytes, height: int | None = None, *, trusted_height: int = 0) -> StateValueBundle:
        """Value of `key` after block `height` (default: the head) with its proof. Raises NotFound."""
        return self.state_values_bundle([key], height, trusted_height=trusted_height)

    def state_values_bundle(self, keys: Sequence[bytes], height: int | None = None, *, trusted_height: int = 0
                            ) -> StateValueBundle:
        """Values of `keys` after block `height` (default: the head), proven under one header and commit, with
        the hops from the verifier's trust root at `trusted_height` (0: genesis). Raises NotFound.

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
        root = self.store.root_at(at)
        proofs = tuple(compute_state_proof(root, key, self.store.value_at(key, at), self.store.load_node)
                       for key in keys)
        start = self._trust_start(trusted_height, at)
        return StateValueBundle(from_height=start, links=tuple(self.links_for([(at, proofs)], start)))

    def _trust_start(self, trusted_height: int, target: int) -> int:
        """The height a bundle starts from: the verifier's trusted height, or genesis (0) when it trusts a
        height above the block proven (a walk goes forward only)."""
        if trusted_height < 0 or trusted_height > self.head_height():
            raise InvalidField(f"trusted_height {trusted_height} is not between 0 and the head {self.head_height()}; "
                               "pass the height of your trust file, or 0 for genesis", field="trusted_height")
        return trusted_height if trusted_height <= target else 0

    def change_heights(self) -> tuple[int, ...]:
        """The heights at which a new validator set took effect (or will, up to head + 2), ascending."""
        head = self.head_height()
        known = self._change_heights
        if known[0] != head:
            known = self._change_heights = (head, tuple(self.store.validator_change_heights(head + 2)))
        return known[1]

    def links_for(self, targets: Sequence[tuple[int, Any]], from_height: int = 0) -> list[Link]:
        """The links of a bundle proving `targets` ([(height, payload)], increasing) to a verifier that
        trusts the set of block `from_height` (0: genesis): chainnode.light.plan_links over the store."""
        if from_height == 0:
            root_set, root_header = self.genesis.validator_set(), None
        else:
            root_set, root_header = self.validators_at(from_height), self.get_header_commit(from_height)[0]
        return plan_links(targets, from_height=from_height, root_set=root_set, root_header=root_header,
                          change_heights=self.change_heights(), block_at=self.get_header_commit,
                          set_at=self.validators_at)

    def tx_bundle(self, tx_id: bytes, *, trusted_height: int = 0) -> TxBundle:
        """Inclusion and result proof of a committed transaction. Raises NotFound."""
        location = self.store.get_tx_location(tx_id)
        if location is None or location.height > self.head_height():
            raise NotFound(f"transaction {tx_id.hex()} is not committed")
        return self.txs_bundle([(location.height, location.index)], trusted_height=trusted_height)

    def txs_bundle(self, locations: Sequence[tuple[int, int]], *, trusted_height: int = 0) -> TxBundle:
        """One proof of the committed transactions at `locations` ((height, index) pairs, any order): each
        block's header and commit once, a multiproof per block. Raises NotFound."""
        by_height: dict[int, set[int]] = {}
        for height, index in locations:
            by_height.setdefault(height, set()).add(index)
        if not by_height:
            raise NotFound("a transaction proof names at least one transaction")
        targets = []
        for height in sorted(by_height):
            block, _ = self.get_block(height)
            results = self.get_results(height)
            indexes = sorted(by_height[height])
            if indexes[-1] >= len(block.txs):
                raise NotFound(f"block {height} has no transaction at index {indexes[-1]}")
            targets.append((height, TxPayload(
                entries=tuple(TxEntry(index=i, tx_bytes=block.txs[i], result_bytes=results[i]) for i in indexes),
                tx_proof=tuple(merkle.compute_multiproof([merkle.leaf_hash(t) for t in block.txs], indexes)),
                result_proof=tuple(merkle.compute_multiproof([merkle.leaf_hash(r) for r in results], indexes)),
            )))
        start = self._trust_start(trusted_height, targets[0][0])
        return TxBundle(from_height=start, links=tuple(self.links_for(targets, start)))

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
