"""Validator sets: who votes, with what power, and what a quorum is.

A validator set is ordered by public key, so its hash and each validator's index are the same on every
node. A commit names its signers by index into the set of its height.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from chainnode import codec, crypto
from chainnode.errors import InvalidField

TAG_VALIDATOR_SET: Final = 8
VALIDATOR_SET_VERSION: Final = 1
MAX_VALIDATORS: Final = 256
MAX_POWER: Final = 2**40


@dataclass(frozen=True, slots=True, kw_only=True)
class Validator:
    department: str
    public_key: bytes
    power: int

    def fields(self) -> list[codec.Value]:
        return [self.department, self.public_key, self.power]


@dataclass(frozen=True, slots=True)
class ValidatorSet:
    validators: tuple[Validator, ...]
    total_power: int = field(init=False)
    _index: dict[bytes, int] = field(init=False, repr=False, compare=False)
    _hash: bytes = field(init=False, repr=False, compare=False, default=b"")

    def __post_init__(self) -> None:
        validate_validators(self.validators)
        object.__setattr__(self, "total_power", sum(v.power for v in self.validators))
        object.__setattr__(self, "_index", {v.public_key: i for i, v in enumerate(self.validators)})

    @classmethod
    def of(cls, validators: Iterable[Validator]) -> ValidatorSet:
        return cls(tuple(sorted(validators, key=lambda v: v.public_key)))

    def compute_hash(self) -> bytes:
        if not self._hash:  # the set is immutable: encode and hash it once
            object.__setattr__(self, "_hash", crypto.compute_hash(crypto.DOMAIN_VALSET, self.encode()))
        return self._hash

    def encode(self) -> bytes:
        return codec.encode_object(TAG_VALIDATOR_SET, VALIDATOR_SET_VERSION, [[v.fields() for v in self.validators]])

    def index_of(self, public_key: bytes) -> int | None:
        return self._index.get(public_key)

    def __len__(self) -> int:
        return len(self.validators)

    def is_quorum(self, power: int) -> bool:
        """More than two thirds of the total voting power."""
        return 3 * power > 2 * self.total_power


def validate_validators(validators: Sequence[Validator]) -> None:
    """Raises InvalidField unless the set is non-empty, sorted by key, unique, with positive powers."""
    if not 1 <= len(validators) <= MAX_VALIDATORS:
        raise InvalidField(f"a validator set has 1 to {MAX_VALIDATORS} validators", field="validators")
    previous = b""
    for v in validators:
        codec.want_bytes(v.public_key, "validator.public_key", size=crypto.PUBLIC_KEY_SIZE)
        codec.want_int(v.power, "validator.power", lo=1, hi=MAX_POWER)
        codec.want_str(v.department, "validator.department", min_len=1, max_len=64)
        if v.public_key <= previous:
            raise InvalidField("validators must be sorted by public key and unique", field="validators")
        previous = v.public_key


def decode_validator_set(value: codec.Value) -> ValidatorSet:
    """Decode the tag-8 array [8, 1, [[department, public_key, power], ...]]. Raises InvalidInput."""
    (inner,) = codec.check_object(
        value, tag=TAG_VALIDATOR_SET, version=VALIDATOR_SET_VERSION, n_fields=1, what="validator set"
    )
    items = codec.want_list(inner, "validators", max_len=MAX_VALIDATORS)
    validators = []
    for item in items:
        entry = codec.want_list(item, "validator", max_len=3)
        if len(entry) != 3:
            raise InvalidField("a validator is [department, public_key, power]", field="validator")
        validators.append(Validator(department=entry[0], public_key=entry[1], power=entry[2]))
    return ValidatorSet(tuple(validators))


def apply_validator_updates(current: ValidatorSet, updates: list[Validator]) -> ValidatorSet:
    """The set after `updates` (power 0 removes a key, a new key joins, an existing key changes power).

    Deterministic on every node. If the result would be invalid (empty, too large), the updates are
    ignored and `current` is returned: a contract queued them, but the network cannot run without
    validators.
    """
    by_key = {v.public_key: v for v in current.validators}
    for update in updates:
        if update.power == 0:
            by_key.pop(update.public_key, None)
        else:
            by_key[update.public_key] = update
    try:
        return ValidatorSet.of(by_key.values())
    except InvalidField:
        return current
