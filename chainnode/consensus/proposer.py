"""Proposer selection: a deterministic, power-weighted round robin over (height, round).

Theory: lay the validators' powers end to end on a ring of `T = total_power` slots, validator i owning
the slots `[p_0 + ... + p_(i-1), p_0 + ... + p_i)` (validator-set order, i.e. by public key). Position
`k = height + round` picks slot `(k * s) mod T`, where the stride `s` is the integer nearest below
`T * (sqrt(5) - 1) / 2` that is coprime with `T` (the golden-ratio stride of Fibonacci hashing). Because
`s` is coprime with `T`, any `T` consecutive positions visit every slot exactly once, so each validator
proposes exactly `p_i` times in every window of `T` consecutive rounds; the golden-ratio stride spreads a
validator's slots evenly through the window instead of in one run, so the next round almost always has
another proposer. Unlike CometBFT's proposer priorities this needs no state carried between heights:
it is a pure function of the validator set, the height and the round, and costs O(n) integer work.
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate
from math import gcd, isqrt

from chainnode.validators import ValidatorSet


def compute_stride(total_power: int) -> int:
    """The golden-ratio stride for `total_power` slots: floor(T * (sqrt(5) - 1) / 2), raised until coprime."""
    stride = max(1, (isqrt(5 * total_power * total_power) - total_power) // 2)
    while gcd(stride, total_power) != 1:
        stride += 1
    return stride


def compute_proposer(validators: ValidatorSet, height: int, round_: int) -> int:
    """Return the index in `validators` of the proposer of `height` and `round_`."""
    total = validators.total_power
    slot = ((height + round_) * compute_stride(total)) % total
    return bisect_right(list(accumulate(v.power for v in validators.validators)), slot)
