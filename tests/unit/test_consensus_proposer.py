"""Proposer selection: deterministic, exactly proportional to power per window, rotating per round."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise
from math import gcd

import pytest

from chainnode import crypto
from chainnode.consensus.proposer import compute_proposer, compute_stride
from chainnode.validators import MAX_POWER, Validator, ValidatorSet


def make_set(powers: tuple[int, ...]) -> ValidatorSet:
    keys = [crypto.sha256(b"proposer test %d" % i) for i in range(len(powers))]
    pairs = enumerate(zip(keys, powers, strict=True))
    validators = sorted(
        (Validator(department=f"d{i}", public_key=key, power=p) for i, (key, p) in pairs), key=lambda v: v.public_key
    )
    return ValidatorSet(tuple(validators))


POWERS = [(1,), (1, 1, 1, 1), (5, 3, 2, 1, 1), (10, 1), (1,) * 7, (7, 11, 13, 17, 19, 23), (100, 1, 1, 1)]


@pytest.mark.parametrize("powers", POWERS)
def test_every_window_of_total_power_rounds_is_exactly_proportional(powers: tuple[int, ...]) -> None:
    validators = make_set(powers)
    total = validators.total_power
    for height, first_round in ((1, 0), (5, 3), (1000, 17)):
        counts = Counter(compute_proposer(validators, height, first_round + k) for k in range(total))
        assert counts == Counter({i: v.power for i, v in enumerate(validators.validators)})


@pytest.mark.parametrize("powers", POWERS)
def test_the_choice_is_a_pure_function_of_set_height_and_round(powers: tuple[int, ...]) -> None:
    validators = make_set(powers)
    first = [compute_proposer(validators, h, r) for h in range(1, 20) for r in range(5)]
    again = [compute_proposer(make_set(powers), h, r) for h in range(1, 20) for r in range(5)]
    assert first == again
    assert all(0 <= i < len(validators) for i in first)


def test_equal_powers_rotate_through_everyone_every_n_rounds() -> None:
    validators = make_set((1,) * 7)
    for height in (1, 2, 99):
        window = [compute_proposer(validators, height, r) for r in range(7)]
        assert sorted(window) == list(range(7))
        assert all(a != b for a, b in pairwise(window))


def test_heavy_validators_are_spread_not_bunched() -> None:
    """(5, 3, 2, 1, 1): the 5-power validator never proposes more than twice in a row."""
    validators = make_set((5, 3, 2, 1, 1))
    heavy = max(range(5), key=lambda i: validators.validators[i].power)
    sequence = [compute_proposer(validators, 1, r) for r in range(120)]
    runs = max(len(run) for run in "".join("x" if i == heavy else "." for i in sequence).split(".") if run)
    assert runs <= 2
    # and short windows stay close to proportional: 5/12 of any 24 consecutive rounds, give or take 2
    for start in range(0, 96):
        assert abs(sequence[start : start + 24].count(heavy) - 10) <= 2


def test_the_next_height_continues_the_rotation() -> None:
    validators = make_set((1, 2, 3))
    for h in (1, 9):
        for r in (0, 4):
            assert compute_proposer(validators, h + 1, r) == compute_proposer(validators, h, r + 1)


@pytest.mark.parametrize("total", [1, 2, 3, 4, 12, 97, 2**20, 256 * MAX_POWER])
def test_the_stride_is_coprime_with_the_total_and_near_the_golden_ratio(total: int) -> None:
    stride = compute_stride(total)
    assert gcd(stride, total) == 1 and 1 <= stride <= max(1, total)
    if total > 100:
        assert abs(stride / total - 0.6180339887) < 1e-3


def test_large_powers_work() -> None:
    validators = make_set((MAX_POWER, MAX_POWER - 1, 3))
    picks = Counter(compute_proposer(validators, 1, r) for r in range(1000))
    assert set(picks) <= {0, 1, 2} and len(picks) >= 2
