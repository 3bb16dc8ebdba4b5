"""A deterministic, seeded multi-node simulator of the Tendermint core (chainnode.consensus).

Each node runs the real pure core (`start_height`, `step`) under a small simulated driver: a sign guard
persisted across crashes, a stash for the next height, periodic gossip, and block sync from peers that
are ahead. Time is simulated: one priority queue of (time, sequence) events, so one seed replays one run
exactly. The network delays, reorders, drops and duplicates messages and partitions the nodes until a
heal time; honest nodes crash and restart (fresh core state, persisted WAL records, blocks and
decisions); up to f of the voting power is Byzantine: equivocating proposer, double voter, proposer of
invalid blocks (and voter for them), or silent. Votes and proposals are really signed with Ed25519 keys
from fixed seeds (each signature verified once per run, then cached), so every commit is checked with
`chainnode.block.validate_commit`.

Checked after every run: agreement, validity, no honest double signing (across restarts), every
Decide's commit is valid, progress after the heal within a bound, and that every double vote an honest
node saw both halves of became evidence. `run_simulation(name, seed)` replays a run; every failure names
the seed and the scenario.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Final, TypeAlias

from chainnode import codec, crypto
from chainnode.block import Commit, validate_commit
from chainnode.consensus import core
from chainnode.consensus.events import (
    BlockVerdict,
    Decide,
    Effect,
    Event,
    ProposalEvent,
    ProposalReady,
    ReportEvidence,
    RequestProposal,
    RequestVerdict,
    ScheduleTimeout,
    SendProposal,
    SendVote,
    TimeoutEvent,
    Timeouts,
    VoteEvent,
)
from chainnode.consensus.guard import (
    KIND_PROPOSAL,
    GuardDecision,
    SignGuard,
    SignIntent,
    compute_proposal_intent,
    compute_resume,
    compute_vote_intent,
)
from chainnode.consensus.messages import (
    NIL,
    DuplicateVoteEvidence,
    Proposal,
    SignedProposal,
    SignedVote,
    decode_proposal_signing_bytes,
    decode_vote_signing_bytes,
    sign_proposal,
    sign_vote,
    validate_evidence,
    verify_signed_proposal,
    verify_signed_vote,
)
from chainnode.consensus.state import ConsensusState, Resume
from chainnode.errors import ChainError, InvalidInput
from chainnode.validators import Validator, ValidatorSet

CHAIN_ID: Final = "sim-chain"
TIMEOUTS: Final = Timeouts(
    propose_ms=300,
    propose_delta_ms=100,
    prevote_ms=150,
    prevote_delta_ms=50,
    precommit_ms=150,
    precommit_delta_ms=50,
    max_ms=1500,
)
GOSSIP_MS: Final = 250
MAX_EVENTS: Final = 400_000
MAX_STASH: Final = 2000

SILENT: Final = "silent"
EQUIVOCATE: Final = "equivocate"
DOUBLE_VOTE: Final = "double_vote"
INVALID: Final = "invalid"
BEHAVIOURS: Final = frozenset({SILENT, EQUIVOCATE, DOUBLE_VOTE, INVALID})

StepFn: TypeAlias = Callable[..., core.Step]


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    name: str
    powers: tuple[int, ...] = (1, 1, 1, 1)
    byzantine: tuple[tuple[int, str], ...] = ()
    """(validator index, behaviour) pairs; their total power must stay below 1/3."""
    drop_rate: float = 0.0
    """Before the heal: probability that a message is lost."""
    duplicate_rate: float = 0.05
    max_delay_ms: int = 40
    spike_rate: float = 0.0
    """Before the heal: probability that a message takes up to `spike_ms` longer."""
    spike_ms: int = 800
    partitions: int = 0
    """Before the heal, the time is cut in this many periods; in each the nodes are split in two random
    groups that cannot talk (a partition that moves: flapping links)."""
    crashes: int = 0
    """Crash-and-restart events of honest nodes, all before the heal."""
    sign_crash_rate: float = 0.0
    """Before the heal: probability that an honest node crashes right after persisting what it is
    about to sign, before it sends it."""
    heal_ms: tuple[int, int] = (1000, 3000)
    target_height: int = 4


SCENARIOS: Final[dict[str, Scenario]] = {
    s.name: s
    for s in (
        Scenario(name="calm", drop_rate=0.0, heal_ms=(0, 0)),
        Scenario(name="lossy", drop_rate=0.25, duplicate_rate=0.1, spike_rate=0.1),
        Scenario(name="partition", powers=(1, 1, 1, 1, 1), partitions=1, drop_rate=0.05, spike_rate=0.05),
        Scenario(name="crash", drop_rate=0.1, crashes=3, sign_crash_rate=0.05, spike_rate=0.05),
        Scenario(name="equivocate", byzantine=((0, EQUIVOCATE),), drop_rate=0.1, spike_rate=0.05),
        Scenario(name="double-vote", byzantine=((1, DOUBLE_VOTE),), drop_rate=0.1, spike_rate=0.05),
        Scenario(name="invalid", byzantine=((2, INVALID),), drop_rate=0.1, spike_rate=0.05),
        Scenario(name="silent", byzantine=((3, SILENT),), drop_rate=0.1, crashes=1, spike_rate=0.05),
        Scenario(
            name="weighted",
            powers=(5, 3, 2, 1, 1),
            byzantine=((1, DOUBLE_VOTE),),
            drop_rate=0.15,
            crashes=2,
            spike_rate=0.05,
        ),
        Scenario(
            name="mixed7",
            powers=(1,) * 7,
            byzantine=((0, EQUIVOCATE), (4, DOUBLE_VOTE)),
            drop_rate=0.15,
            partitions=1,
            crashes=2,
            spike_rate=0.05,
            target_height=3,
        ),
        Scenario(
            name="flapping",
            byzantine=((1, DOUBLE_VOTE),),
            drop_rate=0.2,
            partitions=10,
            spike_rate=0.1,
            heal_ms=(5000, 8000),
        ),
        Scenario(
            name="flapping-crash",
            powers=(2, 1, 1, 1, 1),
            byzantine=((3, EQUIVOCATE),),
            drop_rate=0.15,
            partitions=8,
            crashes=3,
            sign_crash_rate=0.03,
            spike_rate=0.1,
            heal_ms=(4000, 7000),
        ),
        Scenario(
            name="chaos7",
            powers=(1,) * 7,
            byzantine=((2, INVALID), (5, SILENT)),
            drop_rate=0.3,
            duplicate_rate=0.2,
            partitions=1,
            crashes=4,
            sign_crash_rate=0.02,
            spike_rate=0.2,
            target_height=3,
        ),
    )
}


# --- blocks and network messages ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SimBlock:
    """A block value: its hash commits to height, round, proposer, payload and its validity."""

    height: int
    round: int
    proposer: int
    payload: bytes
    valid: bool
    hash: bytes = field(init=False)

    def __post_init__(self) -> None:
        data = codec.encode([self.height, self.round, self.proposer, self.payload, self.valid])
        object.__setattr__(self, "hash", crypto.compute_hash(b"sim/block", data))


@dataclass(frozen=True, slots=True)
class SimProposal:
    signed: SignedProposal
    block: SimBlock


@dataclass(frozen=True, slots=True)
class SimVote:
    signed: SignedVote


@dataclass(frozen=True, slots=True)
class Status:
    height: int


@dataclass(frozen=True, slots=True)
class SyncReply:
    block: SimBlock
    commit: Commit


Message: TypeAlias = SimProposal | SimVote | Status | SyncReply


def make_keys(n: int) -> list[crypto.PrivateKey]:
    return [crypto.PrivateKey(crypto.sha256(b"sim validator %d" % i)) for i in range(n)]


def make_validators(powers: tuple[int, ...]) -> tuple[ValidatorSet, list[crypto.PrivateKey]]:
    """The set and each index's key (indices follow the set's public-key order)."""
    keys = make_keys(len(powers))
    keys.sort(key=lambda k: k.public_key)
    validators = ValidatorSet(
        tuple(
            Validator(department=f"dept-{i}", public_key=key.public_key, power=power)
            for i, (key, power) in enumerate(zip(keys, powers, strict=True))
        )
    )
    return validators, keys


# --- nodes ----------------------------------------------------------------------------------------------


@dataclass(slots=True)
class SimNode:
    index: int
    key: crypto.PrivateKey
    behaviour: str | None
    up: bool = False
    incarnation: int = 0
    state: ConsensusState | None = None
    height: int = 1
    # What survives a crash: the WAL (sign records and the signed messages), blocks seen, decisions.
    wal: list[SignIntent] = field(default_factory=list)
    own: dict[tuple[int, int, str], Message] = field(default_factory=dict)
    blocks: dict[bytes, SimBlock] = field(default_factory=dict)
    decided: dict[int, tuple[SimBlock, Commit]] = field(default_factory=dict)
    guard: SignGuard = field(default_factory=SignGuard)
    # Lost in a crash.
    stash: list[Message] = field(default_factory=list)
    relayed: dict[bytes, SimProposal] = field(default_factory=dict)
    gossiped_height: int = 0
    sync_sent: dict[tuple[int, int], int] = field(default_factory=dict)

    @property
    def honest(self) -> bool:
        return self.behaviour is None


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
    refused: int

    def describe(self) -> str:
        return f"scenario={self.scenario.name} seed={self.seed}"

    def check(self) -> None:
        if self.failures:
            lines = "\n  ".join(self.failures)
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
        step_fn: StepFn = core.step,
        start_fn: StepFn = core.start_height,
        sign_guard: bool = True,
        block_sync: bool = True,
        run_for_ms: int | None = None,
    ) -> None:
        self.scenario, self.seed = scenario, seed
        self.block_sync, self.run_for_ms = block_sync, run_for_ms
        self.step_fn, self.start_fn, self.sign_guard = step_fn, start_fn, sign_guard
        self.rng = random.Random(f"{scenario.name}/{seed}")
        self.validators, keys = make_validators(scenario.powers)
        behaviours = dict(scenario.byzantine)
        byzantine_power = sum(self.validators.validators[i].power for i in behaviours)
        if 3 * byzantine_power >= self.validators.total_power or not set(behaviours.values()) <= BEHAVIOURS:
            raise ValueError(f"scenario {scenario.name}: Byzantine power must stay below 1/3")
        self.nodes = [SimNode(i, key, behaviours.get(i)) for i, key in enumerate(keys)]
        self.now = 0
        self.queue: list[tuple[int, int, str, Any]] = []
        self.sequence = 0
        self.events = 0
        self.heal_at = self.rng.randint(*scenario.heal_ms)
        self.partitions = [self.make_groups() for _ in range(scenario.partitions)]
        # Observations for the checks.
        self.failures: list[str] = []
        self.verified: dict[object, bool] = {}
        self.valid_commits: set[bytes] = set()
        self.decisions: dict[int, tuple[bytes, int, str]] = {}
        self.signed_by_honest: dict[tuple[int, int, int, str], set[bytes]] = {}
        self.double_votes: dict[tuple[int, int, int, int], set[bytes]] = {}
        self.seen_both: dict[tuple[int, int, tuple[int, int, int, int]], set[bytes]] = {}
        self.reported: set[tuple[int, int, int, int, int, int]] = set()
        self.evidence_count = 0
        self.refused = 0
        self.max_round = 0
        self.finished_at: int | None = None

    # --- the event queue ---

    def push(self, at_ms: int, kind: str, payload: Any) -> None:
        self.sequence += 1
        heapq.heappush(self.queue, (at_ms, self.sequence, kind, payload))

    def run(self) -> SimResult:
        self.plan()
        deadline = self.heal_at + self.progress_bound_ms() if self.run_for_ms is None else self.run_for_ms
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
            behind = {n.index: n.height for n in self.honest_nodes() if n.height <= self.scenario.target_height}
            self.failures.append(
                f"progress: honest nodes at heights {behind} did not decide height {self.scenario.target_height} "
                f"by {deadline} ms (heal at {self.heal_at} ms, {self.events} events)"
            )
        self.check_evidence()
        return SimResult(
            scenario=self.scenario,
            seed=self.seed,
            failures=self.failures,
            heal_at=self.heal_at,
            end_ms=self.now,
            events=self.events,
            finished_at=self.finished_at,
            decisions={h: d[0] for h, d in self.decisions.items()},
            max_round=self.max_round,
            evidence=self.evidence_count,
            refused=self.refused,
        )

    def progress_bound_ms(self) -> int:
        """After the heal, each height takes at most f+2 rounds of at most three capped timeouts plus
        message delays and a gossip period: generous, but it rules out livelock and lost progress."""
        f = sum(1 for _ in self.scenario.byzantine)
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
        if all(target in n.decided for n in self.honest_nodes()):
            self.finished_at = self.now
            return True
        return False

    def dispatch(self, kind: str, payload: Any) -> None:
        if kind == "deliver":
            destination, source, message = payload
            node = self.nodes[destination]
            if node.up:
                self.receive(node, source, message)
        elif kind == "local":
            index, incarnation, event = payload
            node = self.nodes[index]
            if node.up and node.incarnation == incarnation:
                self.feed(node, event)
        elif kind == "gossip":
            index, incarnation = payload
            node = self.nodes[index]
            if node.up and node.incarnation == incarnation:
                self.gossip(node)
                self.push(self.now + GOSSIP_MS, "gossip", payload)
        elif kind == "crash":
            self.crash(self.nodes[payload])
        elif kind == "restart":
            self.restart(self.nodes[payload])

    # --- network ---

    def send(self, source: int, destination: int, message: Message) -> None:
        rng, scenario = self.rng, self.scenario
        before_heal = self.now < self.heal_at
        if before_heal and (self.is_cut(source, destination) or rng.random() < scenario.drop_rate):
            return
        copies = 2 if rng.random() < scenario.duplicate_rate else 1
        for _ in range(copies):
            delay = rng.randint(1, scenario.max_delay_ms)
            if before_heal and rng.random() < scenario.spike_rate:
                delay += rng.randint(0, scenario.spike_ms)
            self.push(self.now + delay, "deliver", (destination, source, message))

    def broadcast(self, source: int, message: Message) -> None:
        for node in self.nodes:
            if node.index != source:
                self.send(source, node.index, message)

    # --- one node's driver ---

    def restart(self, node: SimNode) -> None:
        """Start (or restart after a crash) with what was persisted: WAL, blocks, decisions."""
        node.up = True
        node.incarnation += 1
        node.stash, node.relayed, node.sync_sent = [], {}, {}
        node.guard = SignGuard.from_records(node.wal) if self.sign_guard else SignGuard()
        height = max(node.decided, default=0) + 1
        resume = compute_resume(CHAIN_ID, node.wal, height) if self.sign_guard else None
        self.start(node, height, resume)
        self.push(self.now + self.rng.randint(1, GOSSIP_MS), "gossip", (node.index, node.incarnation))

    def crash(self, node: SimNode) -> None:
        if node.up:
            node.up = False
            node.incarnation += 1
            node.state = None

    def start(self, node: SimNode, height: int, resume: Resume | None) -> None:
        node.height = height
        node.relayed = {}
        begun = self.start_fn(
            height=height,
            validators=self.validators,
            my_index=node.index,
            timeouts=TIMEOUTS,
            now_ms=self.now,
            resume=resume,
        )
        node.state = begun.state
        pending: list[Event] = []
        self.perform(node, begun.effects, pending)
        if resume is not None:  # what the WAL says we signed (or were about to): sign it again, send it
            for record in node.wal:
                if record.height == height:
                    self.resend(node, record, pending)
        stash, node.stash = node.stash, []
        for message in stash:
            if isinstance(message, SimProposal):
                node.blocks[message.block.hash] = message.block
                node.relayed.setdefault(message.block.hash, message)
            if self.height_of(message) == height:
                pending.append(self.event_of(message))
        self.run_events(node, pending)

    def resend(self, node: SimNode, record: SignIntent, pending: list[Event]) -> None:
        signature = node.key.sign(record.signing_bytes)
        if record.kind == KIND_PROPOSAL:
            proposal = decode_proposal_signing_bytes(CHAIN_ID, record.signing_bytes)
            signed = SignedProposal(proposal=proposal, validator_index=node.index, signature=signature)
            message: Message = SimProposal(signed, node.blocks[proposal.block_hash])
        else:
            vote = decode_vote_signing_bytes(CHAIN_ID, record.signing_bytes)
            message = SimVote(SignedVote(vote=vote, validator_index=node.index, signature=signature))
        node.own[(record.height, record.round, record.kind)] = message
        self.broadcast(node.index, message)
        pending.append(self.event_of(message))

    @staticmethod
    def height_of(message: SimProposal | SimVote | Message) -> int:
        if isinstance(message, SimProposal):
            return message.signed.proposal.height
        if isinstance(message, SimVote):
            return message.signed.vote.height
        return -1

    @staticmethod
    def event_of(message: Message) -> Event:
        if isinstance(message, SimProposal):
            return ProposalEvent(message.signed)
        if isinstance(message, SimVote):
            return VoteEvent(message.signed)
        raise AssertionError(f"no event for {message!r}")

    def is_verified(self, message: SimProposal | SimVote) -> bool:
        signed = message.signed
        known = self.verified.get(signed)
        if known is None:
            if isinstance(signed, SignedProposal):
                known = verify_signed_proposal(CHAIN_ID, signed, self.validators)
            else:
                known = verify_signed_vote(CHAIN_ID, signed, self.validators)
            self.verified[signed] = known
        return known

    def receive(self, node: SimNode, source: int, message: Message) -> None:
        if isinstance(message, Status):
            self.on_status(node, source, message.height)
            return
        if isinstance(message, SyncReply):
            self.on_sync(node, message)
            return
        if not self.is_verified(message):
            self.failures.append(f"node {node.index} received a message whose signature does not verify")
            return
        height = self.height_of(message)
        if isinstance(message, SimProposal):
            node.blocks[message.block.hash] = message.block
        if height == node.height + 1 and len(node.stash) < MAX_STASH:
            node.stash.append(message)
        if height != node.height:
            return
        if isinstance(message, SimProposal) and node.honest and message.block.hash not in node.relayed:
            node.relayed[message.block.hash] = message
            self.broadcast(node.index, message)  # gossip: a proposal reaches everyone its peers reach
        self.feed(node, self.event_of(message))

    def feed(self, node: SimNode, event: Event) -> None:
        self.run_events(node, [event])

    def run_events(self, node: SimNode, pending: list[Event]) -> None:
        """Step the core through `pending`; our own signed messages come back through it too."""
        while pending:
            event = pending.pop(0)
            state = node.state
            if state is None:
                return
            if isinstance(event, VoteEvent):
                self.observe_vote(node, state, event.signed)
            try:
                result = self.step_fn(state, event, now_ms=self.now)
            except InvalidInput as exc:
                if node.honest:
                    self.failures.append(f"node {node.index} rejected {type(event).__name__}: {exc.message}")
                continue
            node.state = result.state
            self.max_round = max(self.max_round, result.state.round)
            self.perform(node, result.effects, pending)

    def perform(self, node: SimNode, effects: tuple[Effect, ...], pending: list[Event]) -> None:
        for effect in effects:
            if not node.up:
                return
            if isinstance(effect, ScheduleTimeout):
                event = TimeoutEvent(effect.kind, effect.height, effect.round)
                self.push(effect.at_ms, "local", (node.index, node.incarnation, event))
            elif isinstance(effect, SendVote):
                self.sign_vote(node, effect, pending)
            elif isinstance(effect, SendProposal):
                self.sign_proposal(node, effect, pending)
            elif isinstance(effect, RequestProposal):
                self.build_block(node, effect, pending)
            elif isinstance(effect, RequestVerdict):
                block = node.blocks[effect.block_hash]
                verdict = BlockVerdict(block.hash, block.valid or node.behaviour == INVALID)
                self.push(self.now + self.rng.randint(0, 3), "local", (node.index, node.incarnation, verdict))
            elif isinstance(effect, Decide):
                self.on_decide(node, effect)
                return  # the height is over; the rest of the queue belongs to the old state
            elif isinstance(effect, ReportEvidence):
                self.on_evidence(node, effect.evidence)

    def build_block(self, node: SimNode, effect: RequestProposal, pending: list[Event]) -> None:
        recorded = node.guard.get_signed(effect.height, effect.round, KIND_PROPOSAL)
        if recorded is not None and self.sign_guard:  # proposed before a crash: propose exactly that again
            self.send_proposal(node, decode_proposal_signing_bytes(CHAIN_ID, recorded), recorded, pending)
            return
        block = SimBlock(effect.height, effect.round, node.index, self.rng.randbytes(8), node.behaviour != INVALID)
        node.blocks[block.hash] = block
        ready = ProposalReady(effect.height, effect.round, block.hash)
        self.push(self.now + self.rng.randint(0, 5), "local", (node.index, node.incarnation, ready))

    def authorise(self, node: SimNode, intent: SignIntent) -> bytes | None:
        """The driver's persist-then-sign rule: the bytes to sign now, or None.

        SIGN: append the record to the WAL (fsync in a real node), then sign. REPEAT: the same bytes
        again. REFUSE (the core wants something that contradicts an earlier signature, possible only
        after a restart): say again what the WAL says we signed at that height, round and kind, if any.
        """
        if not node.honest:
            return intent.signing_bytes
        decision = node.guard.check(intent) if self.sign_guard else GuardDecision.SIGN
        if decision is GuardDecision.SIGN:
            if self.sign_guard:
                node.guard = node.guard.record(intent)
            node.wal.append(intent)
            key = (node.index, intent.height, intent.round, intent.kind)
            self.signed_by_honest.setdefault(key, set()).add(intent.signing_bytes)
            return intent.signing_bytes
        if decision is GuardDecision.REPEAT:
            return intent.signing_bytes
        self.refused += 1
        return node.guard.get_signed(intent.height, intent.round, intent.kind)

    def crash_while_signing(self, node: SimNode) -> bool:
        """Now and then, crash between persisting the record and sending the signed message."""
        rate = self.scenario.sign_crash_rate
        if not rate or not node.honest or self.now >= self.heal_at - 300 or self.rng.random() >= rate:
            return False
        self.crash(node)
        self.push(min(self.now + self.rng.randint(50, 1000), self.heal_at - 1), "restart", node.index)
        return True

    def sign_vote(self, node: SimNode, effect: SendVote, pending: list[Event]) -> None:
        intent = compute_vote_intent(CHAIN_ID, effect.vote)
        data = self.authorise(node, intent)
        if data is None or self.crash_while_signing(node):
            return
        vote = effect.vote if data == intent.signing_bytes else decode_vote_signing_bytes(CHAIN_ID, data)
        message = SimVote(SignedVote(vote=vote, validator_index=node.index, signature=node.key.sign(data)))
        node.own[(vote.height, vote.round, intent.kind)] = message
        self.broadcast(node.index, message)
        pending.append(VoteEvent(message.signed))
        if node.behaviour == DOUBLE_VOTE:  # a second vote for another value, to everyone
            other = NIL if vote.block_hash != NIL and self.rng.random() < 0.5 else self.rng.randbytes(32)
            twin = SimVote(sign_vote(node.key, CHAIN_ID, replace(vote, block_hash=other), node.index))
            key = (node.index, vote.height, vote.round, vote.vote_type)
            self.double_votes.setdefault(key, set()).update({vote.block_hash, other})
            self.broadcast(node.index, twin)

    def sign_proposal(self, node: SimNode, effect: SendProposal, pending: list[Event]) -> None:
        intent = compute_proposal_intent(CHAIN_ID, effect.proposal)
        data = self.authorise(node, intent)
        if data is None or self.crash_while_signing(node):
            return
        proposal = effect.proposal if data == intent.signing_bytes else decode_proposal_signing_bytes(CHAIN_ID, data)
        self.send_proposal(node, proposal, data, pending)

    def send_proposal(self, node: SimNode, proposal: Proposal, data: bytes, pending: list[Event]) -> None:
        block = node.blocks[proposal.block_hash]
        signed = SignedProposal(proposal=proposal, validator_index=node.index, signature=node.key.sign(data))
        message = SimProposal(signed, block)
        node.own[(proposal.height, proposal.round, KIND_PROPOSAL)] = message
        node.relayed[block.hash] = message
        pending.append(ProposalEvent(message.signed))
        if node.behaviour != EQUIVOCATE:
            self.broadcast(node.index, message)
            return
        twin_block = SimBlock(block.height, block.round, node.index, self.rng.randbytes(8), True)
        twin_proposal = replace(proposal, block_hash=twin_block.hash)
        twin = SimProposal(sign_proposal(node.key, CHAIN_ID, twin_proposal, node.index), twin_block)
        for other in self.nodes:
            if other.index != node.index:
                self.send(node.index, other.index, message if self.rng.random() < 0.5 else twin)

    def on_decide(self, node: SimNode, effect: Decide) -> None:
        block = node.blocks.get(effect.block_hash)
        if block is None:
            self.failures.append(f"node {node.index} decided height {effect.height} without the block")
            return
        if node.honest:
            self.check_commit(node, effect.commit, effect.height, effect.block_hash, "Decide")
        self.commit(node, block, effect.commit, "core", effect.round)

    def check_commit(self, node: SimNode, commit: Commit, height: int, block_hash: bytes, what: str) -> bool:
        encoded = commit.encode()
        if encoded in self.valid_commits:
            return True
        try:
            validate_commit(commit, chain_id=CHAIN_ID, height=height, block_hash=block_hash, validators=self.validators)
        except ChainError as exc:
            self.failures.append(f"commit: node {node.index}'s {what} at height {height}: {exc.message}")
            return False
        self.valid_commits.add(encoded)
        return True

    def commit(self, node: SimNode, block: SimBlock, commit: Commit, how: str, round_: int) -> None:
        node.decided[block.height] = (block, commit)
        if node.honest:
            self.check_decision(node, block, how, round_)
        self.start(node, block.height + 1, None)

    def check_decision(self, node: SimNode, block: SimBlock, how: str, round_: int) -> None:
        if not block.valid:
            self.failures.append(
                f"validity: honest node {node.index} decided invalid block {block.hash.hex()[:12]} at height "
                f"{block.height} ({how})"
            )
        earlier = self.decisions.setdefault(block.height, (block.hash, node.index, how))
        if earlier[0] != block.hash:
            self.failures.append(
                f"agreement: at height {block.height} node {earlier[1]} decided {earlier[0].hex()[:12]} "
                f"({earlier[2]}) but node {node.index} decided {block.hash.hex()[:12]} ({how}, round {round_})"
            )

    def on_status(self, node: SimNode, source: int, height: int) -> None:
        """Block sync: a peer behind us gets the block and commit of the height it is at."""
        if height >= node.height or height not in node.decided or not self.block_sync:
            return
        last = node.sync_sent.get((source, height))
        if last is not None and self.now - last < GOSSIP_MS:
            return
        node.sync_sent[(source, height)] = self.now
        block, commit = node.decided[height]
        self.send(node.index, source, SyncReply(block, commit))

    def on_sync(self, node: SimNode, message: SyncReply) -> None:
        block, commit = message.block, message.commit
        if block.height != node.height or not block.valid:
            return
        if not self.check_commit(node, commit, block.height, block.hash, "synced commit"):
            return
        node.blocks[block.hash] = block
        self.commit(node, block, commit, "sync", commit.round)

    def gossip(self, node: SimNode) -> None:
        """What a peer may have missed: our status, and (while stuck) our messages and known proposals."""
        self.broadcast(node.index, Status(node.height))
        if node.gossiped_height != node.height:
            node.gossiped_height = node.height
            return
        for (h, _, _), message in sorted(node.own.items(), key=lambda item: item[0]):
            if h == node.height:
                self.broadcast(node.index, message)
        if node.honest and node.state is not None:
            for proposal in list(node.relayed.values()):
                self.broadcast(node.index, proposal)
            self.relay_votes(node, node.state)

    def relay_votes(self, node: SimNode, state: ConsensusState) -> None:
        """Gossip others' votes a peer may lack: this round's, the last round's, and those of the proof-
        of-lock rounds of this round's proposals (as CometBFT's vote gossip does)."""
        rounds = {state.round, state.round - 1} | {p.proposal.pol_round for p in state.get_proposals(state.round)}
        for (round_, _), votes in sorted(state.votes.items()):
            if round_ in rounds:
                for index, signed_votes in sorted(votes.votes.items()):
                    if index != node.index:
                        for signed in signed_votes:
                            self.broadcast(node.index, SimVote(signed))

    def on_evidence(self, node: SimNode, evidence: DuplicateVoteEvidence) -> None:
        try:
            validate_evidence(CHAIN_ID, evidence, self.validators)
        except ChainError as exc:
            self.failures.append(f"evidence: node {node.index} reported invalid evidence: {exc.message}")
            return
        vote = evidence.vote_a.vote
        key = (evidence.validator_index, vote.height, vote.round, vote.vote_type)
        if self.nodes[evidence.validator_index].honest:
            self.failures.append(f"evidence: node {node.index} reported honest validator {key[0]} at {key[1:]}")
        if node.honest:
            self.evidence_count += 1
            self.reported.add((node.index, node.incarnation, *key))

    def observe_vote(self, node: SimNode, state: ConsensusState, signed: SignedVote) -> None:
        """Note double votes this honest node's core gets both halves of, while they are current."""
        vote = signed.vote
        if not node.honest or self.nodes[signed.validator_index].honest or state.decision is not None:
            return
        if vote.height != state.height or vote.round > state.round + core.MAX_ROUNDS_AHEAD:
            return
        key = (signed.validator_index, vote.height, vote.round, vote.vote_type)
        self.seen_both.setdefault((node.index, node.incarnation, key), set()).add(vote.block_hash)

    # --- the checks that need the whole run ---

    def check_evidence(self) -> None:
        for (index, incarnation, key), hashes in sorted(self.seen_both.items()):
            if len(hashes) > 1 and (index, incarnation, *key) not in self.reported:
                self.failures.append(
                    f"evidence: honest node {index} received both votes of validator {key[0]} for height "
                    f"{key[1]} round {key[2]} type {key[3]} but reported no evidence"
                )
        for (index, height, round_, kind), signed in sorted(self.signed_by_honest.items()):
            if len(signed) > 1:
                self.failures.append(
                    f"double signing: honest node {index} signed {len(signed)} different {kind} messages "
                    f"for height {height} round {round_}"
                )


def run_simulation(
    scenario: str | Scenario,
    seed: int,
    *,
    step_fn: StepFn = core.step,
    start_fn: StepFn = core.start_height,
    sign_guard: bool = True,
    block_sync: bool = True,
    run_for_ms: int | None = None,
) -> SimResult:
    """Run one scenario (by name or given) with one seed; the same arguments give the same run."""
    chosen = SCENARIOS[scenario] if isinstance(scenario, str) else scenario
    simulation = Simulation(
        chosen,
        seed,
        step_fn=step_fn,
        start_fn=start_fn,
        sign_guard=sign_guard,
        block_sync=block_sync,
        run_for_ms=run_for_ms,
    )
    try:
        return simulation.run()
    except Exception as exc:  # a crash of the core or the simulator: name the run that shows it
        raise AssertionError(
            f"simulation raised {type(exc).__name__}: scenario={chosen.name} seed={seed} "
            f"at {simulation.now} ms: {exc}\nreplay: SEED={seed} SCENARIO={chosen.name} "
            f".venv/bin/python -m pytest tests/simulation/test_simulation.py -k replay"
        ) from exc
