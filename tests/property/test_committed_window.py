"""The committed-transaction window answers exactly as the store's own index for every transaction that
could still be admitted (expiry height at least the next height), over random chains of blocks with random
expiries, a capacity small enough to force forgetting, restarts and repeats of committed transactions."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from chainnode import crypto
from chainnode.committed import CommittedWindow
from chainnode.tx import Transaction, TxBody, sign_transaction

KEY = crypto.PrivateKey(b"\x11" * 32)
MAX_TTL = 40


def _tx(expiry: int) -> Transaction:
    body = TxBody(chain_id="w", contract="anchor", method="put", args={"n": os.urandom(4)}, signer=KEY.public_key,
                  nonce=os.urandom(16), expiry_height=expiry)
    return sign_transaction(KEY, body)


STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("block"), st.lists(st.integers(min_value=0, max_value=MAX_TTL), max_size=12)),
        st.tuples(st.just("restart"), st.just([])),
    ),
    min_size=1, max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(steps=STEPS, capacity=st.integers(min_value=1, max_value=30))
def test_the_window_agrees_with_the_store(steps: list[tuple[str, list[int]]], capacity: int) -> None:
    store: dict[bytes, int] = {}  # the index: tx_id -> height committed
    window = CommittedWindow(store.__contains__, head=0, max_ttl=MAX_TTL, capacity=capacity)
    head = 0
    seen: list[Transaction] = []
    for kind, ttls in steps:
        if kind == "restart":
            window = CommittedWindow(store.__contains__, head=head, max_ttl=MAX_TTL, capacity=capacity)
            continue
        head += 1
        txs = [_tx(head + ttl) for ttl in ttls]
        for tx in txs:
            store[tx.tx_id] = head
        window.add_block(head, txs)
        seen.extend(txs)
        assert len(window) <= max(capacity, 12 + capacity)
        fresh = [_tx(head + 1 + ttl) for ttl in range(0, MAX_TTL, 7)]
        for tx in [*seen, *fresh]:
            if tx.body.expiry_height >= head + 1:  # could be admitted for the next block
                assert window.contains(tx) == (tx.tx_id in store), (tx.body.expiry_height, head)
