"""Seeded multi-node runs of the node's consensus engine, and proof that the checks catch a broken core.

Fast tier: FAST_SEEDS seeds per scenario. Slow tier (`./scripts/test --long`): SLOW_SEEDS more per
scenario, over 10,000 runs in all. The test id names the scenario and the seed; a failure prints both and
how to replay it: `SEED=<n> SCENARIO=<name> .venv/bin/python -m pytest tests/simulation/test_simulation.py
-k replay`, or `run_simulation(name, seed)`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from chainnode.block import Commit
from chainnode.consensus import core
from chainnode.consensus.events import BlockVerdict, Decide, ProposalEvent, ReportEvidence, TimeoutEvent
from chainnode.consensus.state import ConsensusState
from chainnode.errors import InvariantViolation
from tests.simulation.sim import DOUBLE_VOTE, SCENARIOS, Scenario, SimResult, Simulation, run_simulation

FAST_SEEDS = 25
SLOW_SEEDS = 520
SLOW_FIRST_SEED = 1000


def test_the_slow_tier_holds_over_ten_thousand_runs() -> None:
    assert len(SCENARIOS) * SLOW_SEEDS > 10_000


KNOWN_FAILURES: dict[tuple[str, int], str] = {}
"""Seeds that show a known bug outside the engine; strict, so a fix makes them fail until removed."""


def cases(first: int, count: int) -> list[Any]:
    seeds = range(first, first + count)
    return [
        pytest.param(
            name, seed, id=f"{name}-seed{seed}",
            marks=[pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[(name, seed)])]
            if (name, seed) in KNOWN_FAILURES else [],
        )
        for name in SCENARIOS
        for seed in seeds
    ]


@pytest.mark.parametrize(("scenario", "seed"), cases(0, FAST_SEEDS))
def test_simulation(scenario: str, seed: int) -> None:
    run_simulation(scenario, seed).check()


@pytest.mark.slow
@pytest.mark.parametrize(("scenario", "seed"), cases(SLOW_FIRST_SEED, SLOW_SEEDS))
def test_simulation_long(scenario: str, seed: int) -> None:
    run_simulation(scenario, seed).check()


def test_replay() -> None:
    """SEED=<n> [SCENARIO=<name>] replays one seed of one (or every) scenario."""
    if "SEED" not in os.environ:
        pytest.skip("set SEED=<n> (and SCENARIO=<name>) to replay a run")
    seed = int(os.environ["SEED"])
    for name in [os.environ["SCENARIO"]] if "SCENARIO" in os.environ else list(SCENARIOS):
        result = run_simulation(name, seed)
        print(f"{result.describe()}: {result.events} events, finished at {result.finished_at} ms, "
              f"heal at {result.heal_at} ms, max round {result.max_round}, evidence {result.evidence}")
        result.check()


def test_a_seed_replays_exactly() -> None:
    first, again = run_simulation("chaos7", 3), run_simulation("chaos7", 3)
    assert (first.events, first.end_ms, first.decisions, first.evidence) == (
        again.events, again.end_ms, again.decisions, again.evidence
    )
    assert run_simulation("chaos7", 4).decisions != first.decisions


def test_double_votes_become_evidence_in_almost_every_run() -> None:
    """Per run, the simulator demands evidence from every honest node that received both halves of a
    double vote; across runs, that must actually happen (a double vote can miss every honest node
    that is still at its height, so not in every run)."""
    names = [name for name, s in SCENARIOS.items() if any(b == DOUBLE_VOTE for _, b in s.byzantine)]
    results = [run_simulation(name, seed) for name in names for seed in range(12)]
    assert len(names) >= 3
    assert sum(r.evidence > 0 for r in results) >= 0.9 * len(results)


def test_the_byzantine_behaviours_happen() -> None:
    """The attacks are not vacuous: proposals out of turn and floods are rejected by honest engines,
    lock-breaking votes and fake proof-of-lock proposals are sent, and vote floods become evidence."""
    seeds = range(4)
    for name in ("wrong-proposer", "proposal-flood"):
        assert all(run_simulation(name, seed).rejected > 0 for seed in seeds), name
    assert all(run_simulation("lock-break", seed).lock_breaks > 0 for seed in seeds)
    assert all(run_simulation("fake-pol", seed).fake_pols > 0 for seed in seeds)
    assert sum(run_simulation("vote-flood", seed).evidence > 0 for seed in seeds) >= 3


# --- the checks are not vacuous: a broken core or driver fails them -------------------------------------

StepFn = Callable[..., core.Step]


def broken(transform: Callable[[ConsensusState, Any, core.Step], core.Step]) -> StepFn:
    def step_fn(state: ConsensusState, event: Any, *, now_ms: int) -> core.Step:
        return transform(state, event, core.step(state, event, now_ms=now_ms))

    return step_fn


def first_failure(scenario: str | Scenario, seeds: range, what: str, **options: Any) -> SimResult:
    for seed in seeds:
        result = run_simulation(scenario, seed, **options)
        if any(failure.startswith(what) for failure in result.failures):
            with pytest.raises(AssertionError) as caught:
                result.check()
            name = scenario if isinstance(scenario, str) else scenario.name
            assert f"seed={seed}" in str(caught.value) and f"scenario={name}" in str(caught.value)
            assert f"SEED={seed}" in str(caught.value)
            return result
    raise AssertionError(f"no {what} failure in seeds {seeds.start}..{seeds.stop - 1}")


AMNESIA = Scenario(name="amnesia", drop_rate=0.3, partitions=20, spike_rate=0.2, heal_ms=(8000, 8000), target_height=6)


def test_a_core_that_forgets_its_lock_breaks_agreement() -> None:
    """Skip locking (lines 38-39, 42-43 undone after every step). Block sync is off, so lagging nodes
    must decide through their own core instead of being handed the decided block."""
    forgetful = broken(
        lambda s, e, out: replace(
            out, state=replace(out.state, locked_value=None, locked_round=-1, valid_value=None, valid_round=-1)
        )
    )
    first_failure(AMNESIA, range(150), "agreement", step_fn=forgetful, block_sync=False, run_for_ms=8000)


def test_the_same_scenario_keeps_agreement_with_the_real_core() -> None:
    for seed in range(10):
        result = run_simulation(AMNESIA, seed, block_sync=False, run_for_ms=8000)
        assert not [f for f in result.failures if not f.startswith("progress")], result.failures


def test_a_core_that_trusts_every_block_breaks_validity() -> None:
    gullible = broken(lambda s, e, out: out)

    def step_fn(state: ConsensusState, event: Any, *, now_ms: int) -> core.Step:
        if isinstance(event, BlockVerdict):
            event = BlockVerdict(event.block_hash, True)
        return gullible(state, event, now_ms=now_ms)

    first_failure("invalid", range(20), "validity", step_fn=step_fn)


def test_a_driver_without_the_sign_guard_double_signs_after_a_crash() -> None:
    result = first_failure("crash", range(200), "double signing", sign_guard=False)
    assert any("double signing" in f for f in result.failures)


def test_a_core_that_swallows_evidence_is_caught() -> None:
    silent = broken(
        lambda s, e, out: replace(out, effects=tuple(x for x in out.effects if not isinstance(x, ReportEvidence)))
    )
    first_failure("double-vote", range(20), "evidence", step_fn=silent)


def test_a_core_that_builds_a_short_commit_is_caught() -> None:
    def shorten(effect: Any) -> Any:
        if isinstance(effect, Decide):
            commit = effect.commit
            short = Commit(height=commit.height, round=commit.round, block_hash=commit.block_hash,
                           signatures=commit.signatures[:2])
            return replace(effect, commit=short)
        return effect

    short = broken(lambda s, e, out: replace(out, effects=tuple(shorten(x) for x in out.effects)))
    first_failure("calm", range(5), "commit", step_fn=short)


def test_a_core_that_ignores_timeouts_stalls_and_is_caught() -> None:
    def deaf(state: ConsensusState, event: Any, *, now_ms: int) -> core.Step:
        if isinstance(event, TimeoutEvent):
            return core.Step(state)
        return core.step(state, event, now_ms=now_ms)

    first_failure("silent", range(30), "progress", step_fn=deaf)


def test_an_exception_inside_a_run_names_the_run() -> None:
    def boom(state: ConsensusState, event: Any, *, now_ms: int) -> core.Step:
        raise InvariantViolation("boom")

    with pytest.raises(AssertionError, match=r"(?s)InvariantViolation: scenario=calm seed=7 .*SEED=7 SCENARIO=calm"):
        run_simulation("calm", 7, step_fn=boom)


def test_a_core_that_ignores_block_times_lets_a_skewed_proposer_through_and_is_caught() -> None:
    def step_fn(state: ConsensusState, event: Any, *, now_ms: int) -> core.Step:
        if isinstance(event, ProposalEvent):
            event = replace(event, timely=True)
        return core.step(state, event, now_ms=now_ms)

    first_failure("skew", range(40), "block time", step_fn=step_fn)


def test_after_the_membership_change_the_new_set_signs_the_commits() -> None:
    """The engines follow the schedule: from height 3 node 4 (joined with power 2) signs commits, from
    height 5 node 0 (left) is in no set, and every commit verified against its height's set."""
    simulation = Simulation(SCENARIOS["membership"], 0)
    result = simulation.run()
    assert not result.failures, result.failures
    chain = simulation.nodes[1].chain
    keys = [node.key.public_key for node in simulation.nodes]

    def signers(height: int) -> set[bytes]:
        validators = simulation.membership.validators_at(height)
        return {validators.validators[s.validator_index].public_key for s in chain[height - 1].commit.signatures}

    assert keys[4] not in signers(2)
    assert keys[4] in signers(3) or keys[4] in signers(4)
    assert simulation.membership.validators_at(5).index_of(keys[0]) is None
    assert all(keys[0] not in signers(h) for h in range(5, len(chain) + 1))
