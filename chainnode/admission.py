"""Admission checks that need no state, run in worker processes: bytes in, verdicts out.

The stateless half of admitting a transaction (size, canonical decoding, shape, chain ID, expiry window,
known contract and method, well-formed arguments) and its Ed25519 signature depend on nothing but the
bytes and four numbers, so a batch can be checked in another interpreter. `screen_batch` does it; the node
runs it in a pool of worker processes (`AdmissionPool`) so that the Python part of admission scales with
cores instead of holding the node's interpreter. The worker sends back, per transaction, its ID and body
bytes (so the node does not hash it again) or the refusal's code, message and field; nothing is shared but
bytes. The node then rebuilds the transaction from bytes it knows to be canonical (`trusted_transaction`)
and does the stateful half itself: roster, already pending or committed, mempool room.

`screen_batch` is also the in-process path (`processes = 0`), so both give the same verdicts by
construction; tests/property/test_admission_pool.py checks that on random valid and invalid transactions.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Final

from chainnode import codec
from chainnode.errors import (
    InputTooLarge,
    InvalidArguments,
    InvalidField,
    InvalidInput,
    InvalidSignature,
    MalformedEncoding,
    NonCanonicalEncoding,
    TrailingBytes,
    TxExpired,
    TxExpiryTooFar,
    UnknownContract,
    UnknownMethod,
    UnknownTag,
    UnsupportedVersion,
    WrongChain,
)
from chainnode.execution import validate_call
from chainnode.tx import TAG_TX, TX_VERSION, Transaction, TxBody, TxId, decode_transaction

log = logging.getLogger(__name__)

_ERRORS: Final[dict[str, type[InvalidInput]]] = {
    cls.code: cls
    for cls in (InputTooLarge, InvalidArguments, InvalidField, InvalidInput, InvalidSignature, MalformedEncoding,
                NonCanonicalEncoding, TrailingBytes, TxExpired, TxExpiryTooFar, UnknownContract, UnknownMethod,
                UnknownTag, UnsupportedVersion, WrongChain)
}
"""The refusals the stateless checks raise, by code, to rebuild a worker's verdict as the same error."""

CHUNK: Final = 256
"""Transactions per task sent to a worker: large enough that the hand-over costs little per transaction."""


@dataclass(frozen=True, slots=True)
class ScreenRules:
    """What the stateless checks depend on, besides the bytes."""

    chain_id: str
    next_height: int
    max_ttl: int
    max_tx_bytes: int


@dataclass(frozen=True, slots=True)
class Passed:
    """A transaction that passed every stateless check and whose signature holds."""

    tx_id: bytes


@dataclass(frozen=True, slots=True)
class Refused:
    """A transaction refused by a stateless check or its signature. `tx_id` when it decoded."""

    tx_id: bytes | None
    code: str
    message: str
    field: str | None

    def error(self) -> InvalidInput:
        cls = _ERRORS.get(self.code, InvalidInput)
        return cls(self.message, field=self.field)


Verdict = Passed | Refused

WireVerdict = bytes | tuple[bytes | None, str, str, str | None]
"""A verdict as a worker sends it: the ID of a transaction that passed, or a refusal's fields. Plain bytes and
tuples pickle some twenty times faster than the classes."""


def to_wire(verdict: Verdict) -> WireVerdict:
    if isinstance(verdict, Passed):
        return verdict.tx_id
    return (verdict.tx_id, verdict.code, verdict.message, verdict.field)


def from_wire(item: WireVerdict) -> Verdict:
    if isinstance(item, bytes):
        return Passed(item)
    tx_id, code, message, field = item
    return Refused(tx_id, code, message, field)


def check_stateless(tx: Transaction, rules: ScreenRules) -> None:
    """Chain ID, expiry window and call shape. Raises WrongChain, TxExpired, TxExpiryTooFar, UnknownContract,
    UnknownMethod or InvalidArguments."""
    body = tx.body
    if body.chain_id != rules.chain_id:
        raise WrongChain(f"transaction is for chain {body.chain_id!r}, this is {rules.chain_id!r}", field="chain_id")
    if body.expiry_height < rules.next_height:
        raise TxExpired(
            f"transaction expired at height {body.expiry_height}; the next block is {rules.next_height}",
            field="expiry_height",
        )
    if body.expiry_height > rules.next_height + rules.max_ttl:
        raise TxExpiryTooFar(
            f"expiry height {body.expiry_height} is more than {rules.max_ttl} blocks ahead of {rules.next_height}",
            field="expiry_height",
        )
    validate_call(tx)


def decode_for_admission(raw: bytes, rules: ScreenRules) -> Transaction:
    """Size, canonical decoding and shape. Raises the InvalidInput subclass that applies."""
    if len(raw) > rules.max_tx_bytes:
        raise InputTooLarge(f"transaction of {len(raw)} bytes exceeds the limit of {rules.max_tx_bytes}")
    return decode_transaction(raw, max_size=rules.max_tx_bytes)


def screen_one(raw: bytes, rules: ScreenRules) -> Verdict:
    """Every stateless check and the signature of one transaction."""
    tx_id: bytes | None = None
    try:
        tx = decode_for_admission(raw, rules)
        tx_id = tx.tx_id
        check_stateless(tx, rules)
    except InvalidInput as exc:
        return Refused(tx_id, exc.code, exc.message, exc.field)
    if not tx.is_signature_valid():
        return Refused(tx.tx_id, InvalidSignature.code, "signature does not verify", "signature")
    return Passed(tx.tx_id)


def screen_batch(raws: Sequence[bytes], rules: ScreenRules) -> list[Verdict]:
    """`screen_one` for each."""
    return [screen_one(raw, rules) for raw in raws]


def screen_batch_wire(raws: Sequence[bytes], rules: ScreenRules) -> list[WireVerdict]:
    """`screen_batch` as a worker process runs it."""
    return [to_wire(screen_one(raw, rules)) for raw in raws]


def trusted_transaction(raw: bytes, passed: Passed) -> Transaction:
    """The transaction of bytes that `screen_one` passed: decoded without the canonical and shape checks it
    already made, and with the ID it computed. Raises MalformedEncoding if `raw` is not the bytes that passed
    (a bug in the caller)."""
    fields = codec.decode_trusted(raw)
    if type(fields) is not list or len(fields) != 10 or fields[:2] != [TAG_TX, TX_VERSION]:
        raise MalformedEncoding("not the transaction the admission worker passed")
    chain_id, contract, method, args, signer, nonce, expiry_height, signature = fields[2:]
    body = TxBody(chain_id=chain_id, contract=contract, method=method, args=args, signer=signer, nonce=nonce,
                  expiry_height=expiry_height)
    return Transaction(body, signature, raw, TxId(passed.tx_id))


def _warm_up() -> bool:
    return True


def _watch_parent(parent: int) -> None:
    """In a worker: exit as soon as the node that started it is gone (killed with no chance to stop us)."""
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="watch-node", daemon=True).start()


class AdmissionPool:
    """Worker processes that run `screen_batch`. `processes = 0` runs it in the calling thread instead.

    Workers are started with `spawn` (a fresh interpreter: the node has threads, which `fork` would copy in
    whatever state they hold). A worker that dies breaks the pool: the batch in hand is screened in-process
    and a new pool is started, so a crash costs time, never a verdict.
    """

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None
        self._closed = False
        self._lock = threading.Lock()
        self.chunks_sent = 0
        """Chunks handed to workers so far (for tests and operators)."""

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            return self._executor_locked()

    def _executor_locked(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.processes, mp_context=multiprocessing.get_context("spawn"),
                initializer=_watch_parent, initargs=(os.getpid(),))
        return self._pool

    def start(self) -> None:
        """Start the workers now rather than on the first batch (each imports the contracts). If they cannot
        be started, says so and checks in the node's process from then on."""
        if not self.processes or self._closed:
            return
        try:
            pool = self._executor()
            for future in [pool.submit(_warm_up) for _ in range(self.processes)]:
                future.result(timeout=120)
        except (OSError, BrokenProcessPool, TimeoutError) as exc:
            log.error("admission worker processes could not start (%s); checking transactions in the node's "
                      "process", exc)
            with self._lock:
                failed, self._pool = self._pool, None
            if failed is not None:
                failed.shutdown(wait=False, cancel_futures=True)
            self.processes = 0

    def is_broken(self) -> bool:
        """Whether a worker of the current pool died (the next hand-over starts new workers)."""
        return bool(getattr(self._pool, "_broken", False))

    def worker_pids(self) -> list[int]:
        """The process IDs of the running workers (for operators and tests)."""
        processes = getattr(self._pool, "_processes", None) or {}
        return sorted(processes)

    def submit_chunks(self, raws: Sequence[bytes], rules: ScreenRules) -> list[Future[list[WireVerdict]]]:
        """Futures (concurrent.futures) of the verdicts of `raws` (`from_wire` reads them), one per chunk of
        CHUNK, in order."""
        pool = self._executor()
        futures = []
        for i in range(0, len(raws), CHUNK):
            try:
                futures.append(pool.submit(screen_batch_wire, raws[i : i + CHUNK], rules))
            except BrokenProcessPool:  # a worker died between batches: start new ones (raises if they cannot)
                log.error("an admission worker process died; starting new workers")
                self.replace_broken()
                pool = self._executor()
                futures.append(pool.submit(screen_batch_wire, raws[i : i + CHUNK], rules))
        self.chunks_sent += len(futures)
        return futures

    def replace_broken(self) -> None:
        """Drop the pool if a worker of it died; the next batch starts a new one. Several batches may see one
        pool break: only the first replaces it, and never a healthy successor."""
        with self._lock:
            broken = self._pool
            if broken is None or not self.is_broken():
                return
            self._pool = None
        broken.shutdown(wait=False)

    def close(self) -> None:
        self._closed = True
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


__all__ = [
    "CHUNK",
    "AdmissionPool",
    "BrokenProcessPool",
    "Passed",
    "Refused",
    "ScreenRules",
    "Verdict",
    "WireVerdict",
    "check_stateless",
    "decode_for_admission",
    "from_wire",
    "screen_batch",
    "screen_batch_wire",
    "screen_one",
    "to_wire",
    "trusted_transaction",
]
