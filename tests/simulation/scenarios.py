"""The simulator's scenarios: network faults, crashes, Byzantine behaviours and membership changes.

A scenario names its validators' powers (one node per entry, indexed by the sorted public keys of fixed
seeds), which of them are Byzantine and how, and the faults of the network before the heal. Byzantine
power stays below one third of every validator set the run uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from chainnode.consensus.events import Timeouts

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
"""The status interval: status to every peer, then `engine.tick()`."""
TIME_PRECISION_MS: Final = 500
MESSAGE_DELAY_MS: Final = 500
EPOCH_MS: Final = 1_700_000_000_000
"""Simulated time 0 on the nodes' wall clocks."""
SKEW_MS: Final = 30_000

SILENT: Final = "silent"
"""Never runs."""
EQUIVOCATE: Final = "equivocate"
"""As proposer, sends one block to some peers and another to the rest."""
DOUBLE_VOTE: Final = "double_vote"
"""Every vote is followed by a second one for another value."""
INVALID: Final = "invalid"
"""Proposes invalid blocks and finds every block valid."""
WRONG_PROPOSER: Final = "wrong_proposer"
"""Signs and sends proposals for rounds it is not the proposer of."""
PROPOSAL_FLOOD: Final = "proposal_flood"
"""Many distinct proposals for the rounds it proposes, and one for every round it does not."""
VOTE_FLOOD: Final = "vote_flood"
"""Votes for near and far future rounds and for the next height, for random values."""
FAKE_POL: Final = "fake_pol"
"""Its proposals after round 0 claim a proof-of-lock round (pol_round >= 0) for a new block."""
LOCK_BREAK: Final = "lock_break"
"""Precommits a value (instead of nil: the round's proposal or any value), then votes in later rounds of
the height for other values, where a validator locked on the first would vote it or nil."""
SKEW: Final = "skew"
"""Its clock, and so its block times, are 30 s off."""
BEHAVIOURS: Final = frozenset(
    {SILENT, EQUIVOCATE, DOUBLE_VOTE, INVALID, WRONG_PROPOSER, PROPOSAL_FLOOD, VOTE_FLOOD, FAKE_POL, LOCK_BREAK, SKEW}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    name: str
    powers: tuple[int, ...] = (1, 1, 1, 1)
    """Voting power of each node at genesis; 0 for a node that is not (yet) a validator."""
    membership: tuple[tuple[int, tuple[int, ...]], ...] = ()
    """(height H, powers): a change decided at H; the powers apply from height H + 2 (as governance's)."""
    byzantine: tuple[tuple[int, str], ...] = ()
    """(node, behaviour) pairs; their total power must stay below 1/3 of every set."""
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
    """Before the heal: probability that an honest node crashes right after its WAL record is persisted,
    before the signed message leaves."""
    heal_ms: tuple[int, int] = (1000, 3000)
    target_height: int = 3

    def powers_at(self, height: int) -> tuple[int, ...]:
        """The powers of `height`: the genesis ones, or those of the last change decided at or below
        height - 2."""
        powers = self.powers
        for decided, changed in self.membership:
            if decided + 2 <= height:
                powers = changed
        return powers


SCENARIOS: Final[dict[str, Scenario]] = {
    s.name: s
    for s in (
        Scenario(name="calm", heal_ms=(0, 0)),
        Scenario(name="lossy", drop_rate=0.25, duplicate_rate=0.1, spike_rate=0.1),
        Scenario(name="partition", powers=(1, 1, 1, 1, 1), partitions=1, drop_rate=0.05, spike_rate=0.05),
        Scenario(name="crash", drop_rate=0.1, crashes=3, sign_crash_rate=0.05, spike_rate=0.05),
        Scenario(name="equivocate", byzantine=((0, EQUIVOCATE),), drop_rate=0.1, spike_rate=0.05),
        Scenario(name="double-vote", byzantine=((1, DOUBLE_VOTE),), drop_rate=0.1, spike_rate=0.05),
        Scenario(name="invalid", byzantine=((2, INVALID),), drop_rate=0.1, spike_rate=0.05),
        Scenario(name="silent", byzantine=((3, SILENT),), drop_rate=0.1, crashes=1, spike_rate=0.05),
        Scenario(
            name="weighted", powers=(5, 3, 2, 1, 1), byzantine=((1, DOUBLE_VOTE),), drop_rate=0.15, crashes=2,
            spike_rate=0.05,
        ),
        Scenario(
            name="mixed7", powers=(1,) * 7, byzantine=((0, EQUIVOCATE), (4, DOUBLE_VOTE)), drop_rate=0.15,
            partitions=1, crashes=2, spike_rate=0.05, target_height=2,
        ),
        Scenario(
            name="flapping", byzantine=((1, DOUBLE_VOTE),), drop_rate=0.2, partitions=10, spike_rate=0.1,
            heal_ms=(5000, 8000),
        ),
        Scenario(
            name="flapping-crash", powers=(2, 1, 1, 1, 1), byzantine=((3, EQUIVOCATE),), drop_rate=0.15,
            partitions=8, crashes=3, sign_crash_rate=0.03, spike_rate=0.1, heal_ms=(4000, 7000),
        ),
        Scenario(
            name="chaos7", powers=(1,) * 7, byzantine=((2, INVALID), (5, SILENT)), drop_rate=0.3,
            duplicate_rate=0.2, partitions=1, crashes=4, sign_crash_rate=0.02, spike_rate=0.2, target_height=2,
        ),
        Scenario(name="wrong-proposer", byzantine=((0, WRONG_PROPOSER),), drop_rate=0.1, spike_rate=0.05),
        Scenario(name="proposal-flood", byzantine=((1, PROPOSAL_FLOOD),), drop_rate=0.1, spike_rate=0.05),
        Scenario(name="vote-flood", byzantine=((2, VOTE_FLOOD),), drop_rate=0.1, spike_rate=0.05, crashes=1),
        # Seven equal validators: the proposers of positions height + round = 1, 2, 3 are nodes 4, 1, 5.
        # Node 4 is silent, so round 0 of height 1 fails and node 1 proposes round 1 (a fake POL here);
        # in lock-break, node 0 precommits a value in round 0 and votes for another in round 1.
        Scenario(
            name="fake-pol", powers=(1,) * 7, byzantine=((4, SILENT), (1, FAKE_POL)), drop_rate=0.1,
            spike_rate=0.05, target_height=2,
        ),
        Scenario(
            name="lock-break", powers=(1,) * 7, byzantine=((4, SILENT), (0, LOCK_BREAK)), drop_rate=0.15,
            spike_rate=0.1, target_height=2,
        ),
        Scenario(name="skew", byzantine=((1, SKEW),), drop_rate=0.1, spike_rate=0.05),
        Scenario(
            name="membership",
            powers=(1, 1, 1, 1, 0),
            membership=((1, (1, 1, 1, 1, 2)), (3, (0, 1, 1, 1, 2))),
            byzantine=((2, DOUBLE_VOTE),),
            drop_rate=0.1,
            spike_rate=0.05,
            crashes=1,
            target_height=6,
        ),
    )
}
