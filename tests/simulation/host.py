"""A simulated node and its engine host (chainnode.driver.engine.EngineHost) inside a Simulation.

The host forwards what the engine asks for to the simulation: messages to its network (through the
node's adversary if it is Byzantine), timers and worker jobs to its time-ordered queue. One host serves
one incarnation of a node: once the node crashes, everything its old engine asks for is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chainnode import crypto
from chainnode.block import Block
from chainnode.consensus.events import Decide, TimeoutEvent
from chainnode.consensus.messages import DuplicateVoteEvidence
from chainnode.driver.engine import ConsensusEngine
from tests.simulation.world import ChainEntry, MemoryWal

if TYPE_CHECKING:
    from tests.simulation.byzantine import Adversary
    from tests.simulation.sim import Simulation


@dataclass(slots=True)
class SimNode:
    index: int
    key: crypto.PrivateKey
    behaviour: str | None
    # What survives a crash: the WAL and the committed chain.
    wal: MemoryWal = field(default_factory=MemoryWal)
    chain: list[ChainEntry] = field(default_factory=list)
    # Lost in a crash.
    up: bool = False
    incarnation: int = 0
    engine: ConsensusEngine | None = None
    heads: dict[int, int] = field(default_factory=dict)
    sync_asked_ms: int = -(10**9)
    adversary: Adversary | None = None

    @property
    def honest(self) -> bool:
        return self.behaviour is None

    @property
    def head(self) -> int:
        return len(self.chain)




class SimHost:
    """One incarnation of a node's engine host (chainnode.driver.engine.EngineHost): once the node
    crashes, everything its old engine asks for is lost."""

    def __init__(self, sim: Simulation, node: SimNode) -> None:
        self.sim, self.node, self.incarnation = sim, node, node.incarnation

    def is_live(self) -> bool:
        return self.node.up and self.node.incarnation == self.incarnation

    def broadcast(self, kind: str, payload: bytes, *, exclude: bytes | None = None,
                  origin: bytes | None = None) -> None:
        # simulated statuses list no links, so a relay goes to every peer but its sender, whatever `origin`
        if self.is_live():
            skip = None if exclude is None else self.sim.node_of_key[exclude]
            self.sim.send_out(self.node, kind, payload, None, skip)

    def send(self, peer: bytes, kind: str, payload: bytes) -> None:
        if self.is_live():
            self.sim.send_out(self.node, kind, payload, self.sim.node_of_key[peer], None)

    def schedule(self, delay_ms: int, event: TimeoutEvent) -> None:
        if self.is_live():
            self.sim.push(self.sim.now + delay_ms, "timer", (self.node.index, self.incarnation, event))

    def job(self, action: Callable[[], None]) -> None:
        if self.is_live():
            delay = self.sim.rng.randint(1, 8)
            self.sim.push(self.sim.now + delay, "job", (self.node.index, self.incarnation, action))

    def build_block(self, height: int, round_: int) -> None:
        self.job(lambda: self.sim.on_build(self.node, height, round_))

    def validate_block(self, height: int, block_hash: bytes, block: Block) -> None:
        self.job(lambda: self.sim.on_validate(self.node, height, block_hash, block))

    def commit_block(self, decision: Decide, block: Block, executed: Any | None) -> None:
        self.job(lambda: self.sim.on_commit(self.node, decision, block))

    def report_evidence(self, evidence: DuplicateVoteEvidence) -> None:
        if self.is_live():
            self.sim.on_evidence(self.node, evidence)

    def request_sync(self) -> None:
        if self.is_live():
            self.sim.maybe_sync(self.node, force=True)


class ErrorLog(logging.Handler):
    """An error logged by an honest node's engine is a failure of the run."""

    def __init__(self, sim: Simulation) -> None:
        super().__init__(logging.ERROR)
        self.sim = sim

    def emit(self, record: logging.LogRecord) -> None:
        node = self.sim.current
        if node is not None and node.honest:
            self.sim.failures.append(f"node {node.index} logged an error: {record.getMessage()}")
