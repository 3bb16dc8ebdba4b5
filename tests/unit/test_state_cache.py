"""The state cache execution reads through: always what the store holds, within its memory bound."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from chainnode import crypto
from chainnode.home import init_home
from chainnode.node import Node
from chainnode.state_cache import ENTRY_OVERHEAD, StateCache
from chainnode.tx import decode_transaction
from contracts import anchor
from tests.nodeproc import anchor_tx


class DictState:
    """A current state in a dict, counting the reads that reach it."""

    def __init__(self) -> None:
        self.values: dict[bytes, bytes] = {}
        self.reads = 0

    def get(self, key: bytes) -> bytes | None:
        self.reads += 1
        return self.values.get(key)

    def iter_prefix(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        return iter(sorted((k, v) for k, v in self.values.items() if k.startswith(prefix)))


def test_a_read_reaches_the_store_once_present_or_absent() -> None:
    state = DictState()
    state.values[b"a"] = b"1"
    cache = StateCache(state)
    assert [cache.get(b"a"), cache.get(b"a"), cache.get(b"b"), cache.get(b"b")] == [b"1", b"1", None, None]
    assert state.reads == 2
    assert list(cache.iter_prefix(b"a")) == [(b"a", b"1")]


def test_committed_changes_replace_what_was_read() -> None:
    state = DictState()
    state.values |= {b"a": b"1", b"b": b"2"}
    cache = StateCache(state)
    assert cache.get(b"a") == b"1" and cache.get(b"c") is None
    changes: dict[bytes, bytes | None] = {b"a": None, b"c": b"3", b"d": b"4"}
    state.values = {b"b": b"2", b"c": b"3", b"d": b"4"}  # the store wrote the block's batch
    cache.apply(changes)
    reads = state.reads
    assert [cache.get(b"a"), cache.get(b"c"), cache.get(b"d")] == [None, b"3", b"4"]
    assert state.reads == reads  # all three known from the commit
    cache.clear()
    assert cache.get(b"c") == b"3" and state.reads == reads + 1


operations = st.lists(
    st.one_of(
        st.tuples(st.just("get"), st.integers(0, 30)),
        st.tuples(st.just("commit"), st.dictionaries(st.integers(0, 30), st.one_of(st.none(), st.binary(max_size=40)),
                                                      max_size=6)),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(operations, st.integers(2 * (ENTRY_OVERHEAD + 8), 4_000))
def test_any_sequence_of_reads_and_commits_reads_what_the_store_holds(ops: list[tuple[str, object]],
                                                                      max_bytes: int) -> None:
    state = DictState()
    cache = StateCache(state, max_bytes=max_bytes)
    for op, arg in ops:
        if op == "get":
            key = b"k%d" % arg  # type: ignore[str-bytes-safe]
            assert cache.get(key) == state.values.get(key)
        else:
            changes = {b"k%d" % k: v for k, v in arg.items()}  # type: ignore[attr-defined]
            for key, value in changes.items():
                if value is None:
                    state.values.pop(key, None)
                else:
                    state.values[key] = value
            cache.apply(changes)
        young = sum(len(k) + len(v or b"") + ENTRY_OVERHEAD for k, v in cache._young.items())
        old = sum(len(k) + len(v or b"") + ENTRY_OVERHEAD for k, v in cache._old.items())
        largest = ENTRY_OVERHEAD + len(b"k30") + 40
        assert young <= max_bytes // 2 and old <= max_bytes // 2 + largest

async def test_a_node_executes_on_the_cache_and_keeps_it_equal_to_its_store(tmp_path: Path) -> None:
    _, created = init_home(tmp_path / "home", chain_id="c", department="PSB", name="Police")
    key = crypto.load_key_file(created.officer_key).key
    node = Node.from_home(tmp_path / "home")
    try:
        for height in range(1, 4):
            raws = [anchor_tx(key, "c", f"doc-{height}-{i}") for i in range(5)]
            raws.append(anchor_tx(key, "c", "doc-1-0"))  # refused: anchor_exists, read from the cache
            assert all(a.accepted for a in await node.submit(raws))
            await node.produce_block()
        last = node.store.get_block(3)
        assert last is not None
        written = anchor.anchor_key(decode_transaction(last.txs[0]).body.args["content_hash"], "PSB")
        assert node.state._young.get(written) == node.store.get(written) is not None  # from the commit, kept
        for key_, value in node.store.iter_prefix(b""):
            assert node.state.get(key_) == value
        assert node.state.get(os.urandom(20)) is None
        node.reload_after_state_sync()  # as after a state sync: the cache starts again
        assert node.state._young == {} and node.state._old == {}
    finally:
        node.close()
