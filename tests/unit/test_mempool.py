"""Mempool admission checks, bounds and the proposer's side."""

from __future__ import annotations

import pytest

from chainnode import crypto, mempool
from chainnode.errors import (
    InvalidArguments,
    MempoolFull,
    TxAlreadyCommitted,
    TxAlreadyPending,
    TxExpired,
    TxExpiryTooFar,
    UnknownContract,
    WrongChain,
)
from chainnode.mempool import Mempool
from chainnode.tx import TxBody, sign_transaction

KEY = crypto.PrivateKey(b"\x01" * 32)


def tx(label: str, *, chain_id: str = "c", expiry: int = 50, contract: str = "anchor", args: object = None) -> bytes:
    body = TxBody(
        chain_id=chain_id, contract=contract, method="put",
        args=args if args is not None else {"content_hash": crypto.sha256(label.encode()), "kind": "k"},
        signer=KEY.public_key, nonce=crypto.sha256(label.encode())[:16], expiry_height=expiry,
    )
    return sign_transaction(KEY, body).raw


def make_pool(committed: set[bytes] | None = None, **limits: int) -> Mempool:
    done = committed if committed is not None else set()
    return Mempool(chain_id="c", max_txs=limits.get("max_txs", 100), max_bytes=limits.get("max_bytes", 10**6),
                   max_tx_bytes=4096, max_ttl=100, is_committed=lambda tx: tx.tx_id in done)


def test_screen_then_admit_and_take_in_arrival_order() -> None:
    pool = make_pool()
    txs = [pool.screen(tx(f"t{i}"), next_height=1) for i in range(3)]
    for t in txs:
        pool.admit(t)
    assert len(pool) == 3 and pool.size_bytes == sum(len(t.raw) for t in txs)
    assert [t.tx_id for t in pool.take(max_txs=2, max_bytes=10**6, next_height=1)] == [t.tx_id for t in txs[:2]]
    pool.remove([txs[0].tx_id])
    assert not pool.is_pending(txs[0].tx_id) and pool.is_pending(txs[1].tx_id)


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (tx("a", chain_id="other"), WrongChain),
        (tx("b", expiry=4), TxExpired),
        (tx("c", expiry=500), TxExpiryTooFar),
        (tx("d", contract="nosuch"), UnknownContract),
        (tx("e", args={"kind": "x"}), InvalidArguments),
    ],
)
def test_screen_rejects_and_remembers_why(raw: bytes, error: type[Exception]) -> None:
    pool = make_pool()
    with pytest.raises(error) as caught:
        pool.screen(raw, next_height=5)
    assert len(pool) == 0
    from chainnode.tx import decode_transaction

    rejection = pool.get_rejection(decode_transaction(raw).tx_id)
    assert rejection is not None and rejection.code == caught.value.code  # type: ignore[attr-defined]


def test_duplicates_pending_and_committed() -> None:
    committed: set[bytes] = set()
    pool = make_pool(committed)
    first = pool.screen(tx("x"), next_height=1)
    pool.admit(first)
    with pytest.raises(TxAlreadyPending):
        pool.screen(tx("x"), next_height=1)
    pool.remove([first.tx_id])
    committed.add(first.tx_id)
    with pytest.raises(TxAlreadyCommitted):
        pool.screen(tx("x"), next_height=1)
    with pytest.raises(TxAlreadyCommitted):
        pool.admit(first)


def test_bounded_by_count_and_bytes() -> None:
    pool = make_pool(max_txs=2)
    pool.admit(pool.screen(tx("1"), next_height=1))
    pool.admit(pool.screen(tx("2"), next_height=1))
    third = pool.screen(tx("3"), next_height=1)
    with pytest.raises(MempoolFull) as caught:
        pool.admit(third)
    assert "full" in caught.value.message and len(pool) == 2
    small = make_pool(max_bytes=len(tx("1")) + 10)
    small.admit(small.screen(tx("1"), next_height=1))
    with pytest.raises(MempoolFull):
        small.admit(small.screen(tx("2"), next_height=1))


def test_take_drops_expired_and_records_the_reason() -> None:
    pool = make_pool()
    old = pool.screen(tx("old", expiry=3), next_height=1)
    new = pool.screen(tx("new", expiry=90), next_height=1)
    pool.admit(old)
    pool.admit(new)
    assert pool.take(max_txs=10, max_bytes=10**6, next_height=5) == [new]
    assert not pool.is_pending(old.tx_id)
    rejection = pool.get_rejection(old.tx_id)
    assert rejection is not None and rejection.code == "tx_expired"


def test_signature_verdicts_are_cached() -> None:
    pool = make_pool()
    t = pool.screen(tx("s"), next_height=1)
    assert pool.cached_signature_verdict(t) is None
    pool.record_signature_verdict(t, True)
    assert pool.cached_signature_verdict(t) is True


def test_a_signer_off_the_roster_is_refused_at_screening_and_dropped_when_revoked() -> None:
    from chainnode.errors import SignerNotAuthorised

    revoked_from: dict[bytes, int] = {}

    def validate_signer(public_key: bytes, height: int) -> None:
        if public_key != KEY.public_key:
            raise SignerNotAuthorised("the signing key is not registered to any department", code="not_a_member")
        if height >= revoked_from.get(public_key, height + 1):
            raise SignerNotAuthorised("the signing key is revoked", code="key_revoked")

    pool = Mempool(chain_id="c", max_txs=100, max_bytes=10**6, max_tx_bytes=4096, max_ttl=100,
                   is_committed=lambda _: False, validate_signer=validate_signer)
    stranger = crypto.PrivateKey(b"\x02" * 32)
    body = TxBody(chain_id="c", contract="anchor", method="put",
                  args={"content_hash": crypto.sha256(b"s"), "kind": "k"}, signer=stranger.public_key,
                  nonce=b"n" * 16, expiry_height=50)
    foreign = sign_transaction(stranger, body)
    with pytest.raises(SignerNotAuthorised) as caught:
        pool.screen(foreign.raw, next_height=1)
    assert caught.value.code == "not_a_member" and caught.value.field == "signer" and len(pool) == 0
    rejection = pool.get_rejection(foreign.tx_id)
    assert rejection is not None and rejection.code == "not_a_member"

    pending = [pool.screen(tx(f"p{i}"), next_height=1) for i in range(3)]
    for t in pending:
        pool.admit(t)
    assert pool.drop_unauthorised(next_height=2) == 0 and len(pool) == 3
    revoked_from[KEY.public_key] = 2
    assert pool.drop_unauthorised(next_height=2) == 3
    assert len(pool) == 0 and pool.size_bytes == 0
    assert all(pool.get_rejection(t.tx_id) == pool.get_rejection(pending[0].tx_id) for t in pending)
    dropped = pool.get_rejection(pending[0].tx_id)
    assert dropped is not None and dropped.code == "key_revoked"


def test_known_bytes_are_refused_without_decoding() -> None:
    pool = make_pool()
    fresh = tx("k")
    assert pool.refuse_known(fresh) is None  # unknown: it must be decoded and screened
    first = pool.screen(fresh, next_height=1)
    pool.admit(first)
    pending = pool.refuse_known(fresh)
    assert pending is not None and isinstance(pending.error, TxAlreadyPending)
    assert first.tx_id.hex() in pending.error.message  # a client is told which transaction
    copy = pool.refuse_known(fresh, name_id=False)  # a peer's copy: the shared refusal
    assert copy is mempool.COPY_PENDING and copy.error is not None and copy.error.code == "tx_already_pending"
    pool.note_committed([first])
    assert not pool.is_pending(first.tx_id) and len(pool) == 0 and pool.size_bytes == 0
    committed = pool.refuse_known(fresh)
    assert committed is not None and isinstance(committed.error, TxAlreadyCommitted)
    assert first.tx_id.hex() in committed.error.message
    copy = pool.refuse_known(fresh, name_id=False)
    assert copy is mempool.COPY_COMMITTED and copy.error is not None and copy.error.code == "tx_already_committed"
    assert pool.refuse_known(tx("other")) is None
    assert pool.refuse_known(fresh[:-1] + bytes([fresh[-1] ^ 1])) is None  # other bytes: screened in full


def test_remembered_committed_bytes_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:

    monkeypatch.setattr(mempool, "RECENT_COMMITTED", 3)
    pool = make_pool()
    txs = [pool.screen(tx(f"r{i}"), next_height=1) for i in range(5)]
    pool.note_committed(txs)
    assert [pool.refuse_known(t.raw) is None for t in txs] == [True, True, False, False, False]


def test_drop_unauthorised_keeps_each_signers_count() -> None:
    from chainnode.errors import SignerNotAuthorised

    other = crypto.PrivateKey(b"\x03" * 32)
    revoked: set[bytes] = set()
    asked: list[bytes] = []

    def validate_signer(public_key: bytes, height: int) -> None:
        asked.append(public_key)
        if public_key in revoked:
            raise SignerNotAuthorised("the signing key is revoked", code="key_revoked")

    pool = Mempool(chain_id="c", max_txs=100, max_bytes=10**6, max_tx_bytes=4096, max_ttl=100,
                   is_committed=lambda _: False, validate_signer=validate_signer)
    mine = [pool.screen(tx(f"m{i}"), next_height=1) for i in range(3)]
    body = TxBody(chain_id="c", contract="anchor", method="put",
                  args={"content_hash": crypto.sha256(b"o"), "kind": "k"}, signer=other.public_key,
                  nonce=b"o" * 16, expiry_height=50)
    theirs = pool.screen(sign_transaction(other, body).raw, next_height=1)
    for t in [*mine, theirs]:
        pool.admit(t)
    asked.clear()
    assert pool.drop_unauthorised(next_height=2) == 0
    assert sorted(asked) == sorted([KEY.public_key, other.public_key])  # once per signer, not per transaction
    pool.note_committed(mine)
    asked.clear()
    pool.drop_unauthorised(next_height=2)
    assert asked == [other.public_key]  # a signer with nothing pending is not asked about
    revoked.add(other.public_key)
    assert pool.drop_unauthorised(next_height=2) == 1 and len(pool) == 0
