"""The mempool: admission of submitted transactions, and the pending queue the proposer draws from.

Admission runs in two halves around the signature check, which the node runs on a thread pool:
`screen` decodes and checks everything that needs no signature (size, canonical form, chain ID, expiry,
known contract and method, argument shapes, the signer on the roster of the next height, already
committed or pending); `admit` inserts the
candidates whose signatures held. Before both, `refuse_known` answers bytes already pending or recently
committed without decoding them (gossip brings each transaction once per link). Every verdict is cached by
transaction ID, so no signature is checked twice and a client can ask why a transaction was rejected.

The roster check makes the API no open door: a key that was never registered, or is revoked, cannot fill
blocks with failed transactions. Execution still checks the roster itself (a key revoked between
admission and its block is refused there), and after every block `drop_unauthorised` removes the pending
transactions of keys that the new head no longer lists.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from chainnode.admission import ScreenRules, check_stateless, decode_for_admission
from chainnode.errors import (
    ChainError,
    InvalidInput,
    InvalidSignature,
    MempoolFull,
    SignerNotAuthorised,
    TxAlreadyCommitted,
    TxAlreadyPending,
    TxExpired,
)
from chainnode.tx import Transaction
from contracts import governance
from contracts.base import ContractError, StateReader

REJECTED_CACHE: Final = 100_000
VERIFIED_CACHE: Final = 200_000
SIGNER_CACHE: Final = 4096
RECENT_COMMITTED: Final = 50_000
"""Signed bytes of the last committed transactions kept, so gossip's late copies are refused undecoded."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Admission:
    """The verdict on one submitted transaction."""

    tx_id: bytes | None
    error: ChainError | None = None

    @property
    def accepted(self) -> bool:
        return self.error is None


COPY_PENDING: Final = Admission(tx_id=None, error=TxAlreadyPending("these bytes are already pending", field="tx"))
"""The verdict on a peer's copy of pending bytes (`refuse_known`); returned, never raised."""
COPY_COMMITTED: Final = Admission(
    tx_id=None, error=TxAlreadyCommitted("these bytes are already committed", field="tx"))
"""The verdict on a peer's copy of recently committed bytes (`refuse_known`); returned, never raised."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejection:
    code: str
    message: str


_ROSTER_HINTS: Final = {
    "not_a_member": "; ask an admin of your department to register this key (chainnode member register)",
    "key_not_yet_effective": "; submit again once the chain reaches the height its registration takes effect",
    "key_revoked": "; sign with a key your department admin has registered",
    "department_removed": "; the department was removed from the network by proposal",
}
"""What the refused signer can do, added to the roster's message (the code is unchanged)."""


class RosterCheck:
    """Admission's roster check over the committed state: the key holds a role at the height (node keys
    hold the role "node", so the nodes' own evidence reports pass).

    Raises SignerNotAuthorised with the code execution would record; execution checks again against the
    state of the block. Verdicts are cached for one height at a time (the state changes only with the
    height), so a batch from one key reads the roster once.
    """

    def __init__(self, state: StateReader) -> None:
        self._state = state
        self._height = -1
        self._verdicts: dict[bytes, SignerNotAuthorised | None] = {}

    def __call__(self, public_key: bytes, height: int) -> None:
        if height != self._height:
            self._height, self._verdicts = height, {}
        if public_key not in self._verdicts:
            if len(self._verdicts) >= SIGNER_CACHE:
                self._verdicts.pop(next(iter(self._verdicts)))
            try:
                governance.require_member(self._state, public_key, height)
                self._verdicts[public_key] = None
            except ContractError as exc:
                hint = _ROSTER_HINTS.get(exc.code, "")
                self._verdicts[public_key] = SignerNotAuthorised(f"{exc.message}{hint}", code=exc.code)
        refusal = self._verdicts[public_key]
        if refusal is not None:
            raise SignerNotAuthorised(refusal.message, code=refusal.code)


class Mempool:
    """Pending transactions in arrival order, bounded by count and bytes."""

    def __init__(
        self,
        *,
        chain_id: str,
        max_txs: int,
        max_bytes: int,
        max_tx_bytes: int,
        max_ttl: int,
        is_committed: Callable[[Transaction], bool],
        validate_signer: Callable[[bytes, int], None] | None = None,
    ) -> None:
        """`validate_signer(public_key, height)` raises SignerNotAuthorised unless the key may sign a
        transaction for block `height`; None admits every signer (tests of the codec-level checks only)."""
        self.chain_id = chain_id
        self.max_txs = max_txs
        self.max_bytes = max_bytes
        self.max_tx_bytes = max_tx_bytes
        self.max_ttl = max_ttl
        self._is_committed = is_committed
        self._validate_signer = validate_signer
        self._pending: OrderedDict[bytes, Transaction] = OrderedDict()
        self._by_raw: dict[bytes, Transaction] = {}
        """Pending transactions by their signed bytes, so a proposed block's copy is not decoded again."""
        self._recent: OrderedDict[bytes, bytes] = OrderedDict()
        """The signed bytes of recently committed transactions, with their IDs (`note_committed`)."""
        self._signers: dict[bytes, int] = {}
        """How many pending transactions each signer has (`drop_unauthorised` asks once per signer)."""
        self._bytes = 0
        self._rejected: OrderedDict[bytes, Rejection] = OrderedDict()
        self._verified: OrderedDict[bytes, bool] = OrderedDict()
        self._rules: ScreenRules | None = None

    def __len__(self) -> int:
        return len(self._pending)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def is_pending(self, tx_id: bytes) -> bool:
        return tx_id in self._pending

    def get_rejection(self, tx_id: bytes) -> Rejection | None:
        return self._rejected.get(tx_id)

    # --- admission ---------------------------------------------------------------------------------

    def rules(self, next_height: int) -> ScreenRules:
        """What the stateless checks of a transaction for block `next_height` depend on (made once a height)."""
        rules = self._rules
        if rules is None or rules.next_height != next_height or rules.max_tx_bytes != self.max_tx_bytes:
            rules = self._rules = ScreenRules(chain_id=self.chain_id, next_height=next_height,
                                              max_ttl=self.max_ttl, max_tx_bytes=self.max_tx_bytes)
        return rules

    def refuse_known(self, raw: bytes, *, name_id: bool = True) -> Admission | None:
        """The refusal of bytes already pending or recently committed, found without decoding them; None if
        they are not known. Each transaction reaches a node once per link it has (gossip relays every new
        one), so most copies are known ones: this keeps them from costing a decode each.

        `name_id` False (a peer's copy, whose verdict only metrics and the relay read): one shared refusal
        per kind, which names no transaction, so a copy costs two lookups and allocates nothing."""
        known = self._by_raw.get(raw)
        if known is not None:
            if not name_id:
                return COPY_PENDING
            return Admission(tx_id=None, error=TxAlreadyPending(
                f"transaction {known.tx_id.hex()} is already pending", field="tx"))
        tx_id = self._recent.get(raw)
        if tx_id is not None:
            if not name_id:
                return COPY_COMMITTED
            return Admission(tx_id=None, error=TxAlreadyCommitted(
                f"transaction {tx_id.hex()} is already committed", field="tx"))
        return None

    def note_committed(self, txs: Iterable[Transaction]) -> None:
        """A block committed `txs`: drop them from the pending queue and remember their bytes (bounded). A
        commit is final, so nothing here is ever forgotten for any reason but room (a state sync that fails
        and replays from genesis commits the same transactions again)."""
        recent = self._recent
        for tx in txs:
            self._drop(tx.tx_id)
            recent[tx.raw] = tx.tx_id
        while len(recent) > RECENT_COMMITTED:
            recent.popitem(last=False)

    def screen(self, raw: bytes, *, next_height: int) -> Transaction:
        """Every admission check except the signature. Raises the InvalidInput subclass that applies."""
        rules = self.rules(next_height)
        tx = decode_for_admission(raw, rules)
        try:
            check_stateless(tx, rules)
        except InvalidInput as exc:
            self._remember_rejection(tx.tx_id, exc)
            raise
        self.screen_stateful(tx, next_height=next_height)
        return tx

    def screen_stateful(self, tx: Transaction, *, next_height: int) -> None:
        """The checks that need the node's state, for a transaction that passed the stateless ones (here or in
        an admission worker): the signer's roster entry, already pending or committed. Raises
        SignerNotAuthorised, TxAlreadyPending or TxAlreadyCommitted."""
        if self._validate_signer is not None:
            try:
                self._validate_signer(tx.signer, next_height)
            except InvalidInput as exc:
                self._remember_rejection(tx.tx_id, exc)
                raise
        if tx.tx_id in self._pending:
            raise TxAlreadyPending(f"transaction {tx.tx_id.hex()} is already pending", field="tx")
        if self._is_committed(tx):
            raise TxAlreadyCommitted(f"transaction {tx.tx_id.hex()} is already committed", field="tx")

    def remember_refusal(self, tx_id: bytes, error: ChainError) -> None:
        """Keep why a transaction was refused (an admission worker's verdict), for GET /v1/txs/{id}."""
        self._remember_rejection(tx_id, error)

    def cached_signature_verdict(self, tx: Transaction) -> bool | None:
        return self._verified.get(self._verdict_key(tx))

    def record_signature_verdict(self, tx: Transaction, valid: bool) -> None:
        self._verified[self._verdict_key(tx)] = valid
        if len(self._verified) > VERIFIED_CACHE:
            self._verified.popitem(last=False)
        if not valid:
            self._remember_rejection(tx.tx_id, InvalidSignature("signature does not verify", field="signature"))

    @staticmethod
    def _verdict_key(tx: Transaction) -> bytes:
        return tx.tx_id + tx.signature

    def admit(self, tx: Transaction) -> None:
        """Add a screened transaction whose signature held. Raises MempoolFull, TxAlreadyPending/Committed."""
        if tx.tx_id in self._pending:
            raise TxAlreadyPending(f"transaction {tx.tx_id.hex()} is already pending", field="tx")
        if self._is_committed(tx):
            raise TxAlreadyCommitted(f"transaction {tx.tx_id.hex()} is already committed", field="tx")
        if len(self._pending) >= self.max_txs or self._bytes + len(tx.raw) > self.max_bytes:
            raise MempoolFull(
                f"the mempool is full ({len(self._pending)} transactions, {self._bytes} bytes); retry later"
            )
        self._pending[tx.tx_id] = tx
        self._by_raw[tx.raw] = tx
        self._bytes += len(tx.raw)
        self._signers[tx.signer] = self._signers.get(tx.signer, 0) + 1
        self._rejected.pop(tx.tx_id, None)

    def _remember_rejection(self, tx_id: bytes, error: ChainError) -> None:
        self._rejected[tx_id] = Rejection(code=error.code, message=error.message)
        if len(self._rejected) > REJECTED_CACHE:
            self._rejected.popitem(last=False)

    # --- the proposer's side -------------------------------------------------------------------------

    def take(self, *, max_txs: int, max_bytes: int, next_height: int) -> list[Transaction]:
        """Up to `max_txs` / `max_bytes` of the oldest pending transactions, dropping expired ones.

        The transactions stay pending until `remove` is called after their block commits.
        """
        chosen: list[Transaction] = []
        size = 0
        expired: list[Transaction] = []
        for tx in self._pending.values():
            if tx.body.expiry_height < next_height:
                expired.append(tx)
                continue
            if len(chosen) >= max_txs or size + len(tx.raw) > max_bytes:
                break
            chosen.append(tx)
            size += len(tx.raw)
        for tx in expired:
            self._drop(tx.tx_id)
            self._remember_rejection(
                tx.tx_id, TxExpired(f"transaction expired at height {tx.body.expiry_height} before inclusion")
            )
        return chosen

    def drop_unauthorised(self, *, next_height: int) -> int:
        """Drop the pending transactions whose signer may not sign for `next_height` (revoked, or its
        department removed), remembering why; returns how many. Each signer is looked up once."""
        validate = self._validate_signer
        if validate is None:
            return 0
        verdicts: dict[bytes, SignerNotAuthorised | None] = {}
        for signer in self._signers:
            try:
                validate(signer, next_height)
                verdicts[signer] = None
            except SignerNotAuthorised as exc:
                verdicts[signer] = exc
        if not any(verdicts.values()):
            return 0
        dropped = 0
        for tx in list(self._pending.values()):
            error = verdicts[tx.signer]
            if error is not None:
                self._drop(tx.tx_id)
                self._remember_rejection(tx.tx_id, error)
                dropped += 1
        return dropped

    def remove(self, tx_ids: Iterable[bytes]) -> None:
        for tx_id in tx_ids:
            self._drop(tx_id)

    def _drop(self, tx_id: bytes) -> None:
        tx = self._pending.pop(tx_id, None)
        if tx is not None:
            self._by_raw.pop(tx.raw, None)
            self._bytes -= len(tx.raw)
            left = self._signers[tx.signer] - 1
            if left:
                self._signers[tx.signer] = left
            else:
                del self._signers[tx.signer]

    def get_by_raw(self, raw: bytes) -> Transaction | None:
        """The pending transaction with exactly these signed bytes (already decoded and screened)."""
        return self._by_raw.get(raw)

    def pending(self) -> Sequence[Transaction]:
        return list(self._pending.values())
