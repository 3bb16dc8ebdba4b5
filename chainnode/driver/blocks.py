"""The blocks of received and built proposals, keyed by (height, round, block hash).

A proposal's block is stored here only after the proposal passed every check (its signer is the round's
proposer, its signature verifies, the block hashes to the proposed value), and at most
MAX_PROPOSALS_PER_ROUND blocks are kept per height and round, so no peer can evict an honest block by
sending others. Blocks of heights above the one being decided stay (a proposal for H+1 that arrives
while H is written is not lost); `prune` drops finished heights and rounds that can no longer matter.

An absent block is "unknown", never "invalid": only a validation that ran says a block is invalid.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from chainnode.block import Block
from chainnode.consensus import MAX_PROPOSALS_PER_ROUND


@dataclass(frozen=True, slots=True)
class HeldBlock:
    block: Block
    raw: bytes
    """The block's canonical bytes, as sent in a proposal message."""


class ProposalBlocks:
    """Proposal blocks by (height, round, hash), and the executed form of validated ones by (height, hash)."""

    def __init__(self, *, max_per_round: int = MAX_PROPOSALS_PER_ROUND) -> None:
        self.max_per_round = max_per_round
        self._rounds: dict[tuple[int, int], dict[bytes, HeldBlock]] = {}
        self._executed: dict[tuple[int, bytes], Any] = {}

    def count(self, height: int, round_: int) -> int:
        return len(self._rounds.get((height, round_), {}))

    def has(self, height: int, round_: int, block_hash: bytes) -> bool:
        return block_hash in self._rounds.get((height, round_), {})

    def is_full(self, height: int, round_: int, block_hash: bytes) -> bool:
        """True if a new block for (height, round) would exceed the per-round cap."""
        held = self._rounds.get((height, round_), {})
        return block_hash not in held and len(held) >= self.max_per_round

    def add(self, height: int, round_: int, block_hash: bytes, held: HeldBlock, *, force: bool = False) -> bool:
        """Keep `held` for (height, round); False (nothing kept) if the round's cap is reached. `force`
        keeps this node's own blocks whatever peers sent."""
        if not force and self.is_full(height, round_, block_hash):
            return False
        self._rounds.setdefault((height, round_), {})[block_hash] = held
        return True

    def get(self, height: int, block_hash: bytes) -> HeldBlock | None:
        """The block `block_hash` of `height`, from whichever round brought it."""
        for (h, _), held in self._rounds.items():
            if h == height and block_hash in held:
                return held[block_hash]
        return None

    def set_executed(self, height: int, block_hash: bytes, executed: Any) -> None:
        self._executed[(height, block_hash)] = executed

    def get_executed(self, height: int, block_hash: bytes) -> Any | None:
        return self._executed.get((height, block_hash))

    def prune(self, *, height: int, keep_from_round: int = 0, keep_hashes: Iterable[bytes] = ()) -> None:
        """Forget heights below `height`, and rounds of `height` below `keep_from_round` except blocks in
        `keep_hashes` (the locked and valid values, which may be proposed again)."""
        keep = set(keep_hashes)
        for key in list(self._rounds):
            h, r = key
            if h < height:
                del self._rounds[key]
            elif h == height and r < keep_from_round:
                kept = {k: v for k, v in self._rounds[key].items() if k in keep}
                if kept:
                    self._rounds[key] = kept
                else:
                    del self._rounds[key]
        held = {(h, block_hash) for (h, _), blocks in self._rounds.items() for block_hash in blocks}
        for done in [k for k in self._executed if k[0] < height or (k[0] == height and k not in held)]:
            del self._executed[done]

    def rounds(self, height: int) -> list[int]:
        """The rounds of `height` whose blocks are kept, in order."""
        return sorted(r for h, r in self._rounds if h == height)

    def __len__(self) -> int:
        return sum(len(held) for held in self._rounds.values())
