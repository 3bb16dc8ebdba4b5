"""What every contract handler works with: the state overlay, the call context and the error type."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from chainnode import codec, crypto
from chainnode.codec import Value
from chainnode.errors import ChainError
from chainnode.results import Event

MAX_STATE_VALUE: int = 1 << 20


def derive_record_id(domain: bytes, tx_id: bytes) -> str:
    """The ID of a record a transaction creates: SHA-256(domain || 0x00 || tx_id), first 16 bytes, as hex.
    Unique because a transaction is committed once; one record of each kind per transaction."""
    return crypto.compute_hash(domain, tx_id)[:16].hex()


def decode_state(raw: bytes) -> Value:
    """Decode a state value. State is written only by execution, always canonically encoded, and covered by
    the state root (and `chainnode check`), so reading it skips the canonical re-check that untrusted input
    gets (`codec.decode`): the same bytes give the same value on every node."""
    return codec.decode_trusted(raw)


class StateReader(Protocol):
    """Read access to the committed state a block executes on."""

    def get(self, key: bytes) -> bytes | None: ...

    def iter_prefix(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]: ...


class ContractError(ChainError):
    """A call was refused by a contract rule. Recorded in the block's results with its `code`."""

    code = "contract_error"

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.code = code  # type: ignore[misc]


class StateOverlay:
    """Buffered writes over a reader; a failed call's overlay is dropped, a successful one merged.

    Iteration (`iter_prefix`) merges buffered writes with the base in key order, so contracts see their
    own writes and never depend on dict order.
    """

    def __init__(self, base: StateReader) -> None:
        self._base = base
        self._writes: dict[bytes, bytes | None] = {}

    def get(self, key: bytes) -> bytes | None:
        if key in self._writes:
            return self._writes[key]
        return self._base.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        if len(value) > MAX_STATE_VALUE:
            raise ContractError("value_too_large", f"state value of {len(value)} bytes exceeds {MAX_STATE_VALUE}")
        self._writes[key] = value

    def delete(self, key: bytes) -> None:
        self._writes[key] = None

    def iter_prefix(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        own = {k: v for k, v in self._writes.items() if k.startswith(prefix)}
        merged: dict[bytes, bytes | None] = dict(self._base.iter_prefix(prefix))
        merged.update(own)
        for key in sorted(merged):
            value = merged[key]
            if value is not None:
                yield key, value

    def get_value(self, key: bytes) -> Value | None:
        raw = self.get(key)
        return None if raw is None else decode_state(raw)

    def put_value(self, key: bytes, value: Value) -> None:
        self.put(key, codec.encode(value))

    def child(self) -> StateOverlay:
        return StateOverlay(self)

    def merge_into_parent(self) -> None:
        parent = self._base
        if not isinstance(parent, StateOverlay):
            raise TypeError("merge_into_parent needs an overlay as base")
        parent._writes.update(self._writes)

    @property
    def writes(self) -> Mapping[bytes, bytes | None]:
        return self._writes


@dataclass(frozen=True, slots=True, kw_only=True)
class CallContext:
    chain_id: str
    height: int
    block_time_ms: int
    signer: bytes
    tx_id: bytes


@dataclass(frozen=True, slots=True)
class Outcome:
    events: tuple[Event, ...] = ()
    entities: tuple[str, ...] = ()
    """Entity IDs this call touched, for the history index ("anchor:<hex>", "department:<code>")."""


@dataclass(frozen=True, slots=True)
class Method:
    """A contract method: a stateless argument parser (run at admission too) and the handler."""

    parse: Callable[[Value], Any]
    handler: Callable[[StateOverlay, Any, CallContext], Outcome]
    description: str = ""
    example: dict[str, Any] = field(default_factory=dict)
    targets: Callable[[Any], tuple[str, ...]] | None = None
    """The entity IDs the parsed arguments name (`case:<id>`, `cert:<id>`, ...), from the arguments alone:
    no state, no context. A call the contract refuses is indexed under these as well as its signer, so an
    auditor's trace of a record shows the refused attempts on it (docs/contracts.md, "Entities")."""


def want_args_map(args: Value, allowed: set[str], required: set[str]) -> dict[str, Value]:
    """Check that args is a map with the required keys and no others. Raises ContractError."""
    if type(args) is not dict:
        raise ContractError("invalid_arguments", "arguments must be a map", field="args")
    unknown = set(args) - allowed
    if unknown:
        raise ContractError("invalid_arguments", f"unknown argument(s): {', '.join(sorted(unknown))}", field="args")
    missing = required - set(args)
    if missing:
        raise ContractError("invalid_arguments", f"missing argument(s): {', '.join(sorted(missing))}", field="args")
    return dict(args)
