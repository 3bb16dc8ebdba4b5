"""A deterministic, seeded multi-node simulator of the node's consensus driver (chainnode.driver).

Each simulated node runs the real `ConsensusEngine` with the real `WalSigner` over an in-memory WAL that
survives crashes; the simulator is its app (head and chain, the validator set of every height from a
schedule known to all, a clock, `decode_block`) and its host: messages go through a simulated network
that delays, reorders, drops and duplicates them and partitions the nodes until a heal time; timers go
into one time-ordered queue; build, validate and commit jobs answer after a simulated worker delay
(`on_built`, `on_verdict`, `prepare_height` + `start`); every status interval a node sends its status and
calls `engine.tick()`, and a node that learns of peers ahead (or is asked by `request_sync`) fetches
their blocks and commits, checked with `chainnode.block.validate_commit`. Blocks are real
`chainnode.block.Block` values and signatures real Ed25519 from fixed seeds, so every check the engine
makes on a peer's message runs. Honest nodes crash and restart (a new engine over the same WAL and
chain), also right after a WAL record is persisted; up to f of the power is Byzantine (byzantine.py).
One queue of (time, sequence) events: one seed replays one run exactly.

Checked after every run: agreement, validity, no honest double signing (across restarts), every
decision's commit is valid, no decided block timed in the future (a skewed proposer's), no honest
node's message rejected by another and no error logged by an honest engine, progress after the heal
within a bound, and that every double vote an honest engine took both halves of became evidence.
`run_simulation(name, seed)` replays a run; a failure names both.
"""

from __future__ import annotations

import heapq
import logging
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Final, TypeAlias

from chainnode.block import Block, Commit, Vote
from chainnode.consensus import MAX_ROUNDS_AHEAD, core
from chainnode.consensus.events import Decide
from chainnode.consensus.messages import (
    DuplicateVoteEvidence,
    SignedVote,
    decode_signed_vote,
    validate_evidence,
)
from chainnode.driver import engine as engine_module
from chainnode.driver.engine import ConsensusEngine, EngineSettings
from chainnode.driver.gossip import KIND_STATUS, KIND_VOTE
from chainnode.driver.signer import WalSigner
from chainnode.errors import ChainError, InvalidInput
from chainnode.wal import SignRecord
from tests.simulation.byzantine import Adversary
from tests.simulation.host import ErrorLog, SimHost, SimNode
from tests.simulation.scenarios import (
    BEHAVIOURS,
    CHAIN_ID,
    DOUBLE_VOTE,
    EPOCH_MS,
    GOSSIP_MS,
    MESSAGE_DELAY_MS,
    SCENARIOS,
    SILENT,
    SKEW_MS,
    TIME_PRECISION_MS,
    TIMEOUTS,
    Scenario,
)
from tests.simulation.world import (
    ChainEntry,
    CommitChecker,
    Membership,
    MemoryWal,
    SimApp,
    build_block,
    is_valid_block,
    make_keys,
)

__all__ = ["DOUBLE_VOTE", "SCENARIOS", "Scenario", "SimResult", "Simulation", "run_simulation"]

MAX_EVENTS: Final = 400_000
KIND_SYNC_REQUEST: Final = "sync-request"
KIND_SYNC_BLOCK: Final = "sync-block"
SETTINGS: Final = EngineSettings(
    chain_id=CHAIN_ID, timeouts=TIMEOUTS, time_precision_ms=TIME_PRECISION_MS, message_delay_ms=MESSAGE_DELAY_MS
)

StepFn: TypeAlias = Callable[..., core.Step]


@dataclass
class SimResult:
    scenario: Scenario
    seed: int
    failures: list[str]
    heal_at: int
    end_ms: int
    events: int
    finished_at: int | None
    decisions: dict[int, bytes]
    max_round: int
    evidence: int
    rejected: int
    lock_breaks: int
    fake_pols: int

    def describe(self) -> str:
        return f"scenario={self.scenario.name} seed={self.seed}"

    def check(self) -> None:
        if self.failures:
            lines = "\n  ".join(self.failures[:20])
            raise AssertionError(
                f"simulation failed: {self.describe()}\n  {lines}\n"
                f"replay: SEED={self.seed} SCENARIO={self.scenario.name} "
                f".venv/bin/python -m pytest tests/simulation/test_simulation.py -k replay, "
                f"or run_simulation({self.scenario.name!r}, {self.seed}) in tests/simulation/sim.py"
            )


class Simulation:
    """One seeded run of one scenario. `step_fn` / `start_fn` replace the core (to test the checks)."""

    def __init__(
        self,
        scenario: Scenario,
        seed: int,
        *,
        sign_guard: bool = True,
        block_sync: bool = True,
        run_for_ms: int | None = None,
    ) -> None:
        self.scenario, self.seed = scenario, seed
        self.sign_guard, self.block_sync, self.run_for_ms = sign_guard, block_sync, run_for_ms
        self.rng = random.Random(f"{scenario.name}/{seed}")
        self.skew_ms = SKEW_MS
        keys = make_keys(len(scenario.powers))
        self.membership = Membership(scenario, keys)
        self.commits = CommitChecker(self.membership)
        behaviours = dict(scenario.byzantine)
        if not set(behaviours.values()) <= BEHAVIOURS:
            raise ValueError(f"scenario {scenario.name}: unknown behaviour")
        byzantine_keys = {keys[i].public_key for i in behaviours}
        for validators in self.membership.sets():
            bad = sum(v.power for v in validators.validators if v.public_key in byzantine_keys)
            if 3 * bad >= validators.total_power:
                raise ValueError(f"scenario {scenario.name}: Byzantine power must stay below 1/3")
        self.nodes = [SimNode(i, key, behaviours.get(i)) for i, key in enumerate(keys)]
        self.node_of_key = {node.key.public_key: node.index for node in self.nodes}
        self.now = 0
        self.queue: list[tuple[int, int, str, Any]] = []
        self.sequence = 0
        self.events = 0
        self.heal_at = self.rng.randint(*scenario.heal_ms)
        self.partitions = [self.make_groups() for _ in range(scenario.partitions)]
        for node in self.nodes:
            node.wal.on_append = self._watcher(node)
            if node.behaviour is not None and node.behaviour != SILENT:
                node.adversary = Adversary(self, node, node.behaviour)
        self.current: SimNode | None = None
        self._votes: dict[bytes, SignedVote] = {}
        # Observations for the checks.
        self.failures: list[str] = []
        self.decisions: dict[int, tuple[bytes, int, str]] = {}
        self.signed_by_honest: dict[tuple[int, int, int, str], set[bytes]] = {}
        self.double_votes: dict[tuple[int, int, int, int], set[bytes]] = {}
        self.seen_both: dict[tuple[int, int, tuple[int, int, int, int]], set[bytes]] = {}
        self.reported: set[tuple[int, int, int, int, int, int]] = set()
        self.evidence_count = 0
        self.rejected = 0
        self.lock_breaks = 0
        self.fake_pols = 0
        self.max_round = 0
        self.finished_at: int | None = None

    # --- the event queue ---

    def push(self, at_ms: int, kind: str, payload: Any) -> None:
        self.sequence += 1
        heapq.heappush(self.queue, (at_ms, self.sequence, kind, payload))

    def run(self) -> SimResult:
        self.plan()
        deadline = self.heal_at + self.progress_bound_ms() if self.run_for_ms is None else self.run_for_ms
        with self._watch_errors():
            while self.queue and self.events < MAX_EVENTS:
                at_ms, _, kind, payload = heapq.heappop(self.queue)
                if at_ms > deadline:
                    break
                self.now = at_ms
                self.events += 1
                self.dispatch(kind, payload)
                if self.failures or self.is_finished():
                    break
        if self.finished_at is None and not self.failures:
            target = self.scenario.target_height
            behind = {n.index: n.head for n in self.honest_nodes() if n.head < target}
            self.failures.append(
                f"progress: honest nodes at heads {behind} did not commit height {target} by {deadline} ms "
                f"(heal at {self.heal_at} ms, {self.events} events)"
            )
        self.check_evidence()
        return SimResult(
            scenario=self.scenario, seed=self.seed, failures=self.failures, heal_at=self.heal_at, end_ms=self.now,
            events=self.events, finished_at=self.finished_at, decisions={h: d[0] for h, d in self.decisions.items()},
            max_round=self.max_round, evidence=self.evidence_count, rejected=self.rejected,
            lock_breaks=self.lock_breaks, fake_pols=self.fake_pols,
        )

    @contextmanager
    def _watch_errors(self) -> Iterator[None]:
        logger = logging.getLogger("chainnode.bft")
        handler, level = ErrorLog(self), logger.level
        logger.addHandler(handler)
        logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            logger.removeHandler(handler)
            logger.setLevel(level)

    def progress_bound_ms(self) -> int:
        """After the heal, each height takes at most f+2 rounds of at most three capped timeouts plus
        message delays and two status intervals: generous, but it rules out livelock and lost progress."""
        f = len(self.scenario.byzantine)
        round_ms = 3 * TIMEOUTS.max_ms + 6 * self.scenario.max_delay_ms + 2 * GOSSIP_MS
        return self.scenario.target_height * (f + 2) * round_ms

    def plan(self) -> None:
        for node in self.nodes:
            if node.behaviour != SILENT:
                self.push(self.rng.randint(0, 20), "restart", node.index)
        candidates = [n.index for n in self.honest_nodes()]
        for _ in range(self.scenario.crashes):
            if self.heal_at < 600:
                break
            index = self.rng.choice(candidates)
            at = self.rng.randint(100, self.heal_at - 300)
            self.push(at, "crash", index)
            self.push(min(at + self.rng.randint(50, 1500), self.heal_at - 1), "restart", index)

    def make_groups(self) -> list[int]:
        groups = [self.rng.randrange(2) for _ in self.nodes]
        if len(set(groups)) == 1:
            groups[self.rng.randrange(len(groups))] ^= 1
        return groups

    def is_cut(self, source: int, destination: int) -> bool:
        """Whether a partition separates the two nodes now (always false after the heal)."""
        if not self.partitions or self.now >= self.heal_at:
            return False
        groups = self.partitions[self.now * len(self.partitions) // self.heal_at]
        return groups[source] != groups[destination]

    def honest_nodes(self) -> list[SimNode]:
        return [n for n in self.nodes if n.honest]

    def is_finished(self) -> bool:
        target = self.scenario.target_height
        if self.decisions.get(target) is not None and all(n.head >= target for n in self.honest_nodes()):
            self.finished_at = self.now
            return True
        return False

    def dispatch(self, kind: str, payload: Any) -> None:
        if kind == "deliver":
            destination, source, message_kind, message = payload
            node = self.nodes[destination]
            if node.up and node.engine is not None:
                self.in_node(node, lambda: self.receive(node, source, message_kind, message))
        elif kind in ("timer", "job", "tick"):
            index, incarnation, item = payload
            node = self.nodes[index]
            if node.up and node.incarnation == incarnation and node.engine is not None:
                self.in_node(node, lambda: self.run_local(node, kind, item))
        elif kind == "crash":
            self.crash(self.nodes[payload])
        elif kind == "restart":
            self.in_node(self.nodes[payload], lambda: self.restart(self.nodes[payload]))

    def in_node(self, node: SimNode, action: Callable[[], None]) -> None:
        self.current = node
        try:
            action()
        finally:
            self.current = None
            if node.engine is not None and node.engine.state is not None:
                self.max_round = max(self.max_round, node.engine.state.round)

    def run_local(self, node: SimNode, kind: str, item: Any) -> None:
        engine = node.engine
        assert engine is not None
        if kind == "timer":
            engine.on_timeout(item)
        elif kind == "job":
            item()
        else:
            self.broadcast_status(node)
            engine.tick()
            self.maybe_sync(node)
            self.push(self.now + GOSSIP_MS, "tick", (node.index, node.incarnation, None))

    # --- network ---

    def send(self, source: int, destination: int, kind: str, message: Any) -> None:
        rng, scenario = self.rng, self.scenario
        before_heal = self.now < self.heal_at
        if before_heal and (self.is_cut(source, destination) or rng.random() < scenario.drop_rate):
            return
        copies = 2 if rng.random() < scenario.duplicate_rate else 1
        for _ in range(copies):
            delay = rng.randint(1, scenario.max_delay_ms)
            if before_heal and rng.random() < scenario.spike_rate:
                delay += rng.randint(0, scenario.spike_ms)
            self.push(self.now + delay, "deliver", (destination, source, kind, message))

    def send_out(self, node: SimNode, kind: str, payload: bytes, destination: int | None, skip: int | None) -> None:
        """What a node's engine sends: through its adversary if it is Byzantine, then to the network."""
        outgoing = [(destination, kind, payload)]
        if node.adversary is not None:
            outgoing = node.adversary.outgoing(kind, payload, destination)
        for target, message_kind, message in outgoing:
            if target is not None:
                self.send(node.index, target, message_kind, message)
                continue
            for other in self.nodes:
                if other.index not in (node.index, skip):
                    self.send(node.index, other.index, message_kind, message)

    def broadcast_status(self, node: SimNode) -> None:
        assert node.engine is not None
        status = node.engine.status()
        for other in self.nodes:
            if other.index != node.index:
                self.send(node.index, other.index, KIND_STATUS, status)

    def decode_vote(self, payload: bytes) -> SignedVote:
        """decode_signed_vote, once per payload and run (the simulator's own bookkeeping)."""
        signed = self._votes.get(payload)
        if signed is None:
            signed = self._votes[payload] = decode_signed_vote(payload)
        return signed

    def wall_clock(self, node: SimNode) -> int:
        offset = 0 if node.adversary is None else node.adversary.clock_offset_ms
        return SimApp(node.chain, self.membership, lambda: self.now + offset).now_ms()

    # --- one node ---

    def restart(self, node: SimNode) -> None:
        """Start (or restart after a crash) a new engine over what was persisted: the WAL and the chain."""
        node.up = True
        node.incarnation += 1
        node.heads = {}
        node.sync_asked_ms = -(10**9)
        offset = 0 if node.adversary is None else node.adversary.clock_offset_ms
        app = SimApp(node.chain, self.membership, lambda: self.now + offset)
        signer = WalSigner(chain_id=CHAIN_ID, key=node.key, wal=node.wal)
        node.engine = ConsensusEngine(app=app, host=SimHost(self, node), signer=signer, settings=SETTINGS)
        self.enter_height(node)
        self.push(self.now + self.rng.randint(1, GOSSIP_MS), "tick", (node.index, node.incarnation, None))

    def crash(self, node: SimNode) -> None:
        if node.up:
            node.up = False
            node.incarnation += 1
            node.engine = None
            if not self.sign_guard:  # a driver that loses its WAL: the guard forgets what it signed
                node.wal = MemoryWal(on_append=self._watcher(node))

    def enter_height(self, node: SimNode) -> None:
        """The head moved (or the node started): prepare the next height and start it (the simulated
        mempool always holds transactions)."""
        engine = node.engine
        assert engine is not None
        reason = engine.prepare_height()
        engine.start(reason or "transactions are pending")
        self.broadcast_status(node)

    def _watcher(self, node: SimNode) -> Callable[[SignRecord], None]:
        def on_append(record: SignRecord) -> None:
            """A WAL record reached the disk: note what an honest node signs, and now and then crash
            right here, before the signed message leaves."""
            if not node.honest:
                return
            key = (node.index, record.height, record.round, record.kind)
            self.signed_by_honest.setdefault(key, set()).add(record.signing_bytes)
            rate = self.scenario.sign_crash_rate
            if rate and self.now < self.heal_at - 300 and self.rng.random() < rate:
                self.crash(node)
                self.push(min(self.now + self.rng.randint(50, 1000), self.heal_at - 1), "restart", node.index)

        return on_append

    def receive(self, node: SimNode, source: int, kind: str, message: Any) -> None:
        engine = node.engine
        assert engine is not None
        peer = self.nodes[source].key.public_key
        if kind == KIND_STATUS:
            engine.note_status(peer, message)
            node.heads[source] = message.head
            if message.head > node.head:
                self.maybe_sync(node)
        elif kind == KIND_SYNC_REQUEST:
            if 1 <= message <= node.head:
                entry = node.chain[message - 1]
                self.send(node.index, source, KIND_SYNC_BLOCK, entry)
        elif kind == KIND_SYNC_BLOCK:
            self.on_synced(node, message)
        else:
            self.receive_consensus(node, source, kind, message)

    def receive_consensus(self, node: SimNode, source: int, kind: str, payload: bytes) -> None:
        engine = node.engine
        assert engine is not None
        peer = self.nodes[source].key.public_key
        observed = self.observable(node, payload) if kind == KIND_VOTE and node.honest else None
        try:
            if kind == KIND_VOTE:
                verdict = engine.receive_vote(peer, payload)
            else:
                verdict = engine.receive_proposal(peer, payload)
        except InvalidInput as exc:
            self.rejected += 1
            if self.nodes[source].honest and node.honest:
                self.failures.append(f"node {node.index} rejected a {kind} from honest node {source}: {exc}")
            return
        if observed is not None and verdict.value == "accept":
            key, block_hash = observed
            self.seen_both.setdefault((node.index, node.incarnation, key), set()).add(block_hash)

    def observable(self, node: SimNode, payload: bytes) -> tuple[tuple[int, int, int, int], bytes] | None:
        """A Byzantine validator's vote that this honest node's core will take now, while it is current."""
        state = node.engine.state if node.engine is not None else None
        if state is None or node.engine is None or node.engine.deciding is not None:
            return None
        signed = self.decode_vote(payload)
        vote = signed.vote
        if vote.height != state.height or vote.round > state.round + MAX_ROUNDS_AHEAD:
            return None
        if not 0 <= signed.validator_index < len(state.validators):
            return None
        offender = self.membership.node_of(vote.height, signed.validator_index)
        if self.nodes[offender].honest:
            return None
        return (offender, vote.height, vote.round, vote.vote_type), vote.block_hash

    # --- jobs ---

    def on_build(self, node: SimNode, height: int, round_: int) -> None:
        engine = node.engine
        if engine is None or height != node.head + 1:
            return
        txs = (self.rng.randbytes(8),) if node.adversary is None else node.adversary.block_txs()
        parent_time = node.chain[-1].block.header.time_ms if node.chain else 0
        block, raw = build_block(
            node.chain, height=height, time_ms=max(self.wall_clock(node), parent_time + 1), txs=txs,
            proposer=node.key.public_key, membership=self.membership,
        )
        engine.on_built(height, round_, block, raw, "executed")

    def on_validate(self, node: SimNode, height: int, block_hash: bytes, block: Block) -> None:
        engine = node.engine
        if engine is None or height != node.head + 1:
            return
        valid = (node.adversary is not None and node.adversary.finds_every_block_valid()) or is_valid_block(
            node.chain, block, membership=self.membership, commits=self.commits
        )
        engine.on_verdict(height, block_hash, "executed" if valid else None)

    def on_commit(self, node: SimNode, decision: Decide, block: Block) -> None:
        if decision.height != node.head + 1:
            return  # block sync got there first
        if node.honest and not self.is_valid_commit(node, decision.commit, decision.height, decision.block_hash):
            return
        self.apply(node, block, decision.commit, "consensus", decision.round)

    def is_valid_commit(self, node: SimNode, commit: Commit, height: int, block_hash: bytes) -> bool:
        try:
            self.commits.validate(commit, height, block_hash)
        except ChainError as exc:
            self.failures.append(f"commit: node {node.index}'s commit at height {height}: {exc}")
            return False
        return True

    def apply(self, node: SimNode, block: Block, commit: Commit, how: str, round_: int) -> None:
        if node.honest:
            self.check_decision(node, block, how, round_)
        node.chain.append(ChainEntry(block, block.encode(), commit))
        if node.engine is not None:
            self.enter_height(node)

    def check_decision(self, node: SimNode, block: Block, how: str, round_: int) -> None:
        height, block_hash = block.header.height, block.compute_hash()
        if not is_valid_block(node.chain, block, membership=self.membership, commits=self.commits):
            self.failures.append(
                f"validity: honest node {node.index} decided invalid block {block_hash.hex()[:12]} at height "
                f"{height} ({how})"
            )
        if block.header.time_ms > EPOCH_MS + self.now + TIME_PRECISION_MS:
            self.failures.append(
                f"block time: honest node {node.index} decided block {height} timed "
                f"{block.header.time_ms - EPOCH_MS - self.now} ms in the future ({how})"
            )
        earlier = self.decisions.setdefault(height, (block_hash, node.index, how))
        if earlier[0] != block_hash:
            self.failures.append(
                f"agreement: at height {height} node {earlier[1]} decided {earlier[0].hex()[:12]} "
                f"({earlier[2]}) but node {node.index} decided {block_hash.hex()[:12]} ({how}, round {round_})"
            )

    # --- block sync ---

    def maybe_sync(self, node: SimNode, *, force: bool = False) -> None:
        """Ask a peer that announced a higher head for our next block (at most once per status interval
        unless the engine asks)."""
        ahead = sorted(i for i, head in node.heads.items() if head > node.head)
        if not self.block_sync or not ahead or (not force and self.now - node.sync_asked_ms < GOSSIP_MS):
            return
        node.sync_asked_ms = self.now
        self.send(node.index, self.rng.choice(ahead), KIND_SYNC_REQUEST, node.head + 1)

    def on_synced(self, node: SimNode, entry: ChainEntry) -> None:
        height = entry.block.header.height
        if height != node.head + 1:
            return
        block = SimApp(node.chain, self.membership, lambda: self.now).decode_block(entry.raw)
        if not is_valid_block(node.chain, block, membership=self.membership, commits=self.commits):
            return
        if not self.is_valid_commit(node, entry.commit, height, block.compute_hash()):
            return
        self.apply(node, block, entry.commit, "sync", entry.commit.round)
        node.sync_asked_ms = -(10**9)
        self.maybe_sync(node)

    # --- evidence ---

    def note_double_vote(self, index: int, vote: Vote, other: bytes) -> None:
        key = (index, vote.height, vote.round, vote.vote_type)
        self.double_votes.setdefault(key, set()).update({vote.block_hash, other})

    def on_evidence(self, node: SimNode, evidence: DuplicateVoteEvidence) -> None:
        vote = evidence.vote_a.vote
        try:
            validate_evidence(CHAIN_ID, evidence, self.membership.validators_at(vote.height))
        except ChainError as exc:
            self.failures.append(f"evidence: node {node.index} reported invalid evidence: {exc}")
            return
        offender = self.membership.node_of(vote.height, evidence.validator_index)
        key = (offender, vote.height, vote.round, vote.vote_type)
        if self.nodes[offender].honest:
            self.failures.append(f"evidence: node {node.index} reported honest node {offender} at {key[1:]}")
        if node.honest:
            self.evidence_count += 1
            self.reported.add((node.index, node.incarnation, *key))

    # --- the checks that need the whole run ---

    def check_evidence(self) -> None:
        for (index, incarnation, key), hashes in sorted(self.seen_both.items()):
            if len(hashes) > 1 and (index, incarnation, *key) not in self.reported:
                self.failures.append(
                    f"evidence: honest node {index} took both votes of node {key[0]} for height {key[1]} "
                    f"round {key[2]} type {key[3]} but reported no evidence"
                )
        for (index, height, round_, kind), signed in sorted(self.signed_by_honest.items()):
            if len(signed) > 1:
                self.failures.append(
                    f"double signing: honest node {index} signed {len(signed)} different {kind} messages "
                    f"for height {height} round {round_}"
                )


@contextmanager
def _core(step_fn: StepFn | None, start_fn: StepFn | None) -> Iterator[None]:
    """Run the engine over a replaced core (for the tests that prove the checks catch a broken one)."""
    if step_fn is None and start_fn is None:
        yield
        return
    namespace = vars(engine_module)  # the engine calls `core.step` / `core.start_height` through its global
    real = namespace["core"]
    namespace["core"] = SimpleNamespace(
        step=step_fn or core.step, start_height=start_fn or core.start_height, is_proposer=core.is_proposer
    )
    try:
        yield
    finally:
        namespace["core"] = real


def run_simulation(
    scenario: str | Scenario,
    seed: int,
    *,
    step_fn: StepFn | None = None,
    start_fn: StepFn | None = None,
    sign_guard: bool = True,
    block_sync: bool = True,
    run_for_ms: int | None = None,
) -> SimResult:
    """Run one scenario (by name or given) with one seed; the same arguments give the same run."""
    chosen = SCENARIOS[scenario] if isinstance(scenario, str) else scenario
    simulation = Simulation(chosen, seed, sign_guard=sign_guard, block_sync=block_sync, run_for_ms=run_for_ms)
    try:
        with _core(step_fn, start_fn):
            return simulation.run()
    except Exception as exc:  # a crash of the engine or the simulator: name the run that shows it
        raise AssertionError(
            f"simulation raised {type(exc).__name__}: scenario={chosen.name} seed={seed} "
            f"at {simulation.now} ms: {exc}\nreplay: SEED={seed} SCENARIO={chosen.name} "
            f".venv/bin/python -m pytest tests/simulation/test_simulation.py -k replay"
        ) from exc
