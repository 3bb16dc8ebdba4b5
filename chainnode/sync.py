"""Block sync: serve committed blocks to peers, and fetch the ones this node lacks.

A node learns from peers' status messages that it is behind (it restarted, was partitioned, or joined
late). It then asks the highest peer for `[block, commit]` pairs from its next height on, in batches of
at most SYNC_BATCH_BLOCKS blocks or SYNC_BATCH_BYTES, and applies each through
`Node.apply_synced_block`: the commit is checked against the validator set of its height and the block against
every validity rule, with re-execution, before it is written (a block this node's consensus already validated
as a proposal is not executed again: its executed form is committed once the commit checks). A peer that
answers with anything invalid is dropped as a sync source and scored down (`Offence.INVALID_SYNC_DATA`); one
that announced a height and then answers an error (`not_found`, ...) for it lied in its status
(`Offence.FALSE_STATUS`); so a repeat offender gets banned by the network's scoring. A timeout or a lost link
only drops the peer as a source.
Progress goes to the log with the percentage, the time left, and blocks and transactions per second.
A node whose store holds only the genesis state may first join by state sync (chainnode/state_sync.py,
docs/sync.md) and replay only from there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Final

from chainnode import codec
from chainnode.errors import ChainError, InvalidInput, NotFound, StoreError
from chainnode.limits import BLOCK_SYNC_LIMIT
from chainnode.node import Node
from chainnode.producer import ProposedBlock
from chainnode.progress import format_progress
from chainnode.state_sync import StateSync, StateSyncFailed
from network.errors import RemoteError
from network.network import Network
from network.scoring import Offence

log = logging.getLogger("chainnode.sync")

KIND_BLOCK: Final = "block"
SYNC_BATCH_BYTES: Final = 8 * 1024 * 1024
SYNC_BATCH_BLOCKS: Final = 200
MAX_ANSWER_BYTES: Final = BLOCK_SYNC_LIMIT
"""The first block of an answer is always sent, whatever its size; the protocol ceilings bound it."""
REQUEST_TIMEOUT_S: Final = 30.0
MAX_HEIGHT: Final = 2**63 - 1
"""The largest height a request may name (heights are stored as 8-byte unsigned integers)."""
LAG_GRACE_S: Final = 2.0
"""How long a node one block behind its peers, and executing that block, leaves it to its own consensus
before fetching it. Under load a validator is often one block behind: the others decided while it was still
executing the block, which it holds and will commit as soon as it has the precommits. Fetching the block
then would execute it a second time. A node not executing it, a peer two or more blocks ahead, or consensus
asking (a decided block not at hand) fetches at once."""
EXECUTION_POLL_S: Final = 0.05
"""How often a node waiting out LAG_GRACE_S looks whether its execution of the block has ended."""
AFTER_EXECUTION_S: Final = 0.2
"""After this node's execution of the block ends, how long its consensus has to apply the precommits it holds."""
MAX_REQUEST_BLOCKS: Final = 1 << 20
"""The largest batch a request may ask for; answers are capped at SYNC_BATCH_BLOCKS whatever it asks."""


def validate_block_request(value: object) -> tuple[int, int]:
    """The `(from_height, max_blocks)` of a decoded block request; the batch is capped at SYNC_BATCH_BLOCKS.

    Raises InvalidInput unless it is `[from_height, max_blocks]` with `1 <= from_height <= MAX_HEIGHT`
    and `1 <= max_blocks <= MAX_REQUEST_BLOCKS`: a height the store cannot even encode must never
    reach it.
    """
    # [REJECT] anything but two integers
    if type(value) is not list or len(value) != 2 or not all(type(v) is int for v in value):
        raise InvalidInput("a block request is [from_height, max_blocks]")
    from_height, max_blocks = value
    # [REJECT] a height below 1 (genesis has no block) or past what a height can be
    if not 1 <= from_height <= MAX_HEIGHT:
        raise InvalidInput(f"from_height must be 1 to {MAX_HEIGHT}", field="from_height")
    # [REJECT] an empty or absurd batch
    if not 1 <= max_blocks <= MAX_REQUEST_BLOCKS:
        raise InvalidInput(f"max_blocks must be 1 to {MAX_REQUEST_BLOCKS}", field="max_blocks")
    return from_height, min(max_blocks, SYNC_BATCH_BLOCKS)


def serve_blocks(node: Node, payload: bytes) -> bytes:
    """Answer a peer's `[from_height, max_blocks]` request. Raises InvalidInput or NotFound."""
    from_height, max_blocks = validate_block_request(codec.decode(payload, max_size=64))
    blocks = node.blocks_for_sync(from_height, max_blocks=max_blocks, max_bytes=SYNC_BATCH_BYTES)
    if not blocks:
        raise NotFound(f"no blocks from height {from_height}")
    return codec.encode([list(pair) for pair in blocks])


def decode_answer(answer: bytes) -> list[tuple[bytes, bytes]]:
    """The `[block, commit]` pairs of a peer's answer. Raises InvalidInput if it is not that shape."""
    value = codec.decode(answer, max_size=MAX_ANSWER_BYTES)
    if type(value) is not list or not all(
        type(pair) is list and len(pair) == 2 and all(type(item) is bytes for item in pair) for pair in value
    ):
        raise InvalidInput("a block answer is an array of [block bytes, commit bytes]")
    return [(pair[0], pair[1]) for pair in value]


class BlockSync:
    """Tracks peers' heights and catches this node up when one is ahead."""

    def __init__(self, node: Node, network: Network, *, lock: asyncio.Lock, on_advanced: Callable[[], None],
                 is_executing: Callable[[int], bool] = lambda height: False,
                 executed: Callable[[int, bytes], ProposedBlock | None] = lambda height, block_hash: None) -> None:
        self.node = node
        self.network = network
        self.lock = lock
        """Held while a block is applied, so consensus never commits the same height at once."""
        self.on_advanced = on_advanced
        self.is_executing = is_executing
        """Whether this node's consensus is executing the block of a height right now (LAG_GRACE_S)."""
        self.executed = executed
        """This node's consensus's executed form of a block (height, hash), if it validated it as a proposal:
        a fetched block it names is committed without executing it again (`Node.apply_synced_block`). Called
        from a worker thread; a dictionary read."""
        self.peer_heights: dict[bytes, int] = {}
        self.wanted = asyncio.Event()
        self.urgent = False
        """Set by `request`: fetch without leaving a block's lag to consensus (LAG_GRACE_S)."""
        self.stopping = False
        self.fetching = False
        """True while `catch_up` is fetching blocks (readiness and the `chainnode_syncing` metric)."""
        self.state_sync: StateSync | None = None
        """Set by the driver: joins at a recent height instead of replaying, when `[sync] mode` says so."""

    def note_peer_height(self, peer: bytes, height: int) -> None:
        self.peer_heights[peer] = height
        if height > self.node.head_height():
            self.wanted.set()

    def request(self) -> None:
        """Fetch what peers have beyond this node's head now (consensus cannot finish the height itself)."""
        self.urgent = True
        self.wanted.set()

    def target_height(self) -> int | None:
        """The highest head a linked peer announced (None before any did); safe from another thread."""
        return max(list(self.peer_heights.values()), default=None)

    def forget_peer(self, peer: bytes) -> None:
        self.peer_heights.pop(peer, None)

    def stop(self) -> None:
        self.stopping = True
        if self.state_sync is not None:
            self.state_sync.stopping = True
        self.wanted.set()

    async def run(self) -> None:
        while not self.stopping:
            await self.wanted.wait()
            self.wanted.clear()
            if not self.urgent and await self._consensus_catches_up():
                continue
            self.urgent = False
            if not self.stopping:
                self.fetching = True
                try:
                    await self.catch_up()
                finally:
                    self.fetching = False

    async def _consensus_catches_up(self) -> bool:
        """True if no peer is more than one block ahead, this node is executing that block, and its own consensus
        commits it within LAG_GRACE_S (so there is nothing to fetch). A node that is not executing it (it missed
        the end of the height, and the peers have moved on) fetches at once."""
        head = self.node.head_height()
        if self.stopping or self.target_height() != head + 1 or not self.is_executing(head + 1):
            return False
        log.debug("one block behind the peers: leaving block %d to consensus for %.0f s", head + 1, LAG_GRACE_S)
        deadline = asyncio.get_running_loop().time() + LAG_GRACE_S
        while self.is_executing(head + 1):  # then a little longer: the precommits may wait in the engine
            if await self.node.wait_for_height(head + 1, EXECUTION_POLL_S):
                return True
            if asyncio.get_running_loop().time() >= deadline:
                return False
        return await self.node.wait_for_height(head + 1, AFTER_EXECUTION_S)

    async def catch_up(self) -> None:
        """Fetch and apply blocks from the highest peer while one is ahead of this node (after a state sync,
        when the store holds genesis only and the mode asks for one)."""
        if self.state_sync is not None and self.state_sync.is_wanted() and not await self._state_sync(self.state_sync):
            return
        started = self.node.clock.now_ms()
        applied = txs = 0
        while not self.stopping:
            head = self.node.head_height()
            ahead = [(h, p) for p, h in self.peer_heights.items() if h > head]
            if not ahead:
                break
            target, peer = max(ahead)
            try:
                answer = await self.network.request(
                    peer, KIND_BLOCK, codec.encode([head + 1, SYNC_BATCH_BLOCKS]), timeout=REQUEST_TIMEOUT_S
                )
                pairs = decode_answer(answer)
            except (ChainError, OSError, TimeoutError) as exc:
                log.info("block sync from %s failed: %s", peer.hex()[:16], exc)
                self._charge_failed_request(peer, head + 1, target, exc)
                self.forget_peer(peer)
                continue
            for block_bytes, commit_bytes in pairs:
                async with self.lock:
                    if self.node.head_height() != head:
                        break  # consensus committed meanwhile: ask again from the new head
                    try:
                        proposed = await asyncio.to_thread(self.node.apply_synced_block, block_bytes, commit_bytes,
                                                           self.executed)
                    except ChainError as exc:
                        log.warning("peer %s sent an invalid block %d: %s", peer.hex()[:16], head + 1, exc)
                        self.network.report_peer(peer, Offence.INVALID_SYNC_DATA, f"invalid block {head + 1}: {exc}")
                        self.forget_peer(peer)
                        break
                    await self.node.announce_commit(proposed)
                head += 1
                applied += 1
                txs += len(proposed.txs)
            elapsed = max(1, self.node.clock.now_ms() - started) / 1000
            log.info(
                "block sync: at height %d of %d; %s; %.1f blocks/s, %.0f txs/s",
                self.node.head_height(),
                target,
                format_progress("replaying blocks", applied, applied + max(0, target - self.node.head_height()),
                                elapsed),
                applied / elapsed,
                txs / elapsed,
            )
        if applied:
            self.on_advanced()

    async def _state_sync(self, state_sync: StateSync) -> bool:
        """Run a state sync under the block lock; after a failure reset the store to genesis, and in mode
        "auto" replay instead (mode "state" tries again at the next peer status). Returns whether block
        sync may go on now."""
        await state_sync.wait_for_peers()
        async with self.lock:
            if not state_sync.is_wanted():  # consensus or a peer's status changed things meanwhile
                return True
            try:
                await state_sync.run()
            except Exception as exc:  # whatever a peer's data made fail, the node keeps running
                failed = isinstance(exc, (StateSyncFailed, StoreError))
                log.warning("state sync failed: %s; %s", exc,
                            "replaying from genesis" if self.node.config.sync_mode == "auto" else "retrying",
                            exc_info=None if failed else exc)
                if self.stopping:
                    return False  # the next start clears an unfinished sync (node.open_store)
                if self.node.store.syncing_height() is not None:
                    await asyncio.to_thread(self.node.reset_after_failed_state_sync)
                state_sync.excluded.clear()
                state_sync.failures.clear()
                if self.node.config.sync_mode == "auto":
                    self.state_sync = None
                    return True
                return False
        await self.node.announce_state_sync()
        self.on_advanced()
        return True

    def _charge_failed_request(self, peer: bytes, height: int, claimed: int, exc: Exception) -> None:
        """Score a peer whose answer was unusable: `not_found` for a height it claimed to have is a false
        status, an answer that does not decode is invalid sync data; another error answer (the peer's own
        failure), a timeout or a lost link is no offence: the peer is only dropped as a sync source."""
        if isinstance(exc, RemoteError) and exc.remote_code == "not_found":
            self.network.report_peer(peer, Offence.FALSE_STATUS,
                                     f"announced height {claimed} but answered {exc.remote_code} for block {height}")
        elif isinstance(exc, InvalidInput):
            self.network.report_peer(peer, Offence.INVALID_SYNC_DATA, f"unusable block answer: {exc}")
