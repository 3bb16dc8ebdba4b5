"""Execution: apply a block's transactions to the state through the contract registry, deterministically.

Each transaction runs in its own child overlay: a refused call leaves no write behind, and its error
code and message become its result. The whole block's writes are returned as one change set, which the
store writes in the same atomic batch as the block.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from chainnode import codec
from chainnode.codec import Value
from chainnode.errors import GenesisError, InvalidArguments, UnknownContract, UnknownMethod
from chainnode.genesis import Genesis
from chainnode.results import CODE_OK, TxResult
from chainnode.tx import Transaction
from chainnode.validators import Validator
from contracts import governance, proposals
from contracts.base import CallContext, ContractError, Method, Outcome, StateOverlay, StateReader
from contracts.registry import REGISTRY
from contracts.validators import VALIDATOR_UPDATES_KEY

log = logging.getLogger(__name__)

Registry = Mapping[str, Mapping[str, Method]]


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockContext:
    chain_id: str
    height: int
    time_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockExecution:
    results: tuple[TxResult, ...]
    result_bytes: tuple[bytes, ...]
    entities: tuple[tuple[str, ...], ...]
    """Per transaction, the entity IDs it touched (always including its signer)."""
    changes: dict[bytes, bytes | None]
    """Every state write of the block: key -> new value, or None for a deletion."""
    validator_updates: tuple[Validator, ...] = ()
    """Validator changes queued by this block; they take effect two heights later."""


def get_method(tx_contract: str, tx_method: str, registry: Registry = REGISTRY) -> Method:
    """Raises UnknownContract or UnknownMethod naming what exists."""
    contract = registry.get(tx_contract)
    if contract is None:
        raise UnknownContract(
            f"unknown contract {tx_contract!r}; known: {', '.join(sorted(registry))}", field="contract"
        )
    method = contract.get(tx_method)
    if method is None:
        raise UnknownMethod(
            f"contract {tx_contract!r} has no method {tx_method!r}; known: {', '.join(sorted(contract))}",
            field="method",
        )
    return method


def parse_call(tx: Transaction, registry: Registry = REGISTRY) -> tuple[Method, Value]:
    """The method a transaction calls and its parsed arguments, parsed once per Transaction object: the
    parse is kept on the transaction (`parsed_args`) when the registry is the chain's own.

    Raises UnknownContract, UnknownMethod, or the parser's ContractError.
    """
    method = get_method(tx.body.contract, tx.body.method, registry)
    if registry is REGISTRY and tx.parsed_args is not None:
        return method, tx.parsed_args
    args: Value = method.parse(tx.body.args)
    if registry is REGISTRY:
        object.__setattr__(tx, "parsed_args", args)
    return method, args


def validate_call(tx: Transaction, registry: Registry = REGISTRY) -> None:
    """The stateless admission check of a call: known contract and method, well-formed arguments.

    Raises UnknownContract, UnknownMethod or InvalidArguments.
    """
    try:
        parse_call(tx, registry)
    except ContractError as exc:
        raise InvalidArguments(exc.message, field=exc.field or "args") from exc


def compute_targets(method: Method, args: Value) -> tuple[str, ...]:
    """The entities a call's parsed arguments name (`Method.targets`), for the history index.

    The index is local, not consensus state: a fault here is logged and indexes the call under its signer
    only; it never changes the call's result.
    """
    if method.targets is None:
        return ()
    try:
        return tuple(method.targets(args))
    except Exception:
        log.exception("the targets of a %s call could not be computed", type(args).__name__)
        return ()


def compute_call_entities(tx: Transaction, registry: Registry = REGISTRY) -> tuple[str, ...]:
    """The entities a transaction is indexed under whatever its result: its signer, and the targets its
    arguments name when the contract and method exist and the arguments parse."""
    signer_entity = f"signer:{tx.signer.hex()}"
    try:
        method, args = parse_call(tx, registry)
    except (ContractError, UnknownContract, UnknownMethod):
        return (signer_entity,)
    return _entities(signer_entity, compute_targets(method, args))


def _entities(signer_entity: str, *groups: Sequence[str]) -> tuple[str, ...]:
    """The signer's entity, then each group's, each once, in that order."""
    seen = {signer_entity: None}
    for group in groups:
        seen.update(dict.fromkeys(group))
    return tuple(seen)


def execute_transaction(
    block_overlay: StateOverlay, tx: Transaction, ctx: BlockContext, registry: Registry = REGISTRY
) -> tuple[TxResult, tuple[str, ...]]:
    """Run one call; returns its result and the entities it is indexed under: the signer always; the
    targets of its arguments once they parse, even if the contract refuses the call; and, if it succeeds,
    the entities its outcome names."""
    signer_entity = f"signer:{tx.signer.hex()}"
    call = CallContext(
        chain_id=ctx.chain_id, height=ctx.height, block_time_ms=ctx.time_ms, signer=tx.signer, tx_id=tx.tx_id
    )
    overlay = block_overlay.child()
    targets: tuple[str, ...] = ()
    try:
        method, args = parse_call(tx, registry)
        targets = compute_targets(method, args)
        outcome: Outcome = method.handler(overlay, args, call)
    except (ContractError, UnknownContract, UnknownMethod) as exc:
        return TxResult(tx_id=tx.tx_id, code=exc.code, message=exc.message), _entities(signer_entity, targets)
    except Exception:  # a contract bug: the same on every node, so record it rather than halt the chain
        log.exception("contract %s.%s failed on tx %s", tx.body.contract, tx.body.method, tx.tx_id.hex())
        return TxResult(tx_id=tx.tx_id, code="contract_fault", message="the contract failed; see node logs"), (
            _entities(signer_entity, targets)
        )
    overlay.merge_into_parent()
    entities = _entities(signer_entity, outcome.entities, targets)
    return TxResult(tx_id=tx.tx_id, code=CODE_OK, message="", events=outcome.events), entities


_UNREAD: Final = object()
"""CachedReader's mark of a key not read yet (None is a read that found nothing)."""


class CachedReader:
    """Remembers what a block read from the committed state, which does not change during the block."""

    def __init__(self, base: StateReader) -> None:
        self._base = base
        self._cache: dict[bytes, bytes | None] = {}

    def get(self, key: bytes) -> bytes | None:
        value = self._cache.get(key, _UNREAD)
        if value is _UNREAD:  # a sentinel, not KeyError: most keys a block writes were never there to read
            value = self._cache[key] = self._base.get(key)
        return value  # type: ignore[return-value]

    def iter_prefix(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        return self._base.iter_prefix(prefix)


def execute_block(
    base: StateReader, txs: Sequence[Transaction], ctx: BlockContext, registry: Registry = REGISTRY
) -> BlockExecution:
    """Run every transaction of a block in order on top of `base`; `base` is not changed."""
    overlay = StateOverlay(CachedReader(base))
    proposals.begin_block(overlay, ctx.height)
    results = []
    entities = []
    for tx in txs:
        result, touched = execute_transaction(overlay, tx, ctx, registry)
        results.append(result)
        entities.append(touched)
    changes = dict(overlay.writes)
    return BlockExecution(
        results=tuple(results),
        result_bytes=tuple(r.encode() for r in results),
        entities=tuple(entities),
        changes=changes,
        validator_updates=compute_validator_updates(changes),
    )


def compute_validator_updates(changes: Mapping[bytes, bytes | None]) -> tuple[Validator, ...]:
    """The validator updates a block wrote (under contracts.validators.VALIDATOR_UPDATES_KEY)."""
    raw = changes.get(VALIDATOR_UPDATES_KEY)
    if raw is None:
        return ()
    value = codec.decode(raw, max_size=1 << 20)
    return tuple(Validator(department=d, public_key=k, power=p) for d, k, p in value["updates"])


def compute_genesis_changes(base: StateReader, genesis: Genesis) -> dict[bytes, bytes | None]:
    """The state the network starts from: the departments and members listed in genesis."""
    overlay = StateOverlay(base)
    governance.apply_genesis(overlay, genesis)
    try:
        proposals.apply_genesis(overlay, genesis)
    except ContractError as exc:
        raise GenesisError(exc.message, field="genesis.governance") from exc
    return dict(overlay.writes)


def is_ok(result: TxResult) -> bool:
    return result.code == CODE_OK
