"""The offline store check (chainnode.check): a clean store passes, the report is right, faults are named."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import plyvel
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainnode import codec, crypto
from chainnode.block import decode_block
from chainnode.check import (
    MAX_PROBLEMS,
    VERIFY_CHUNK,
    CheckReport,
    MemoryState,
    Problem,
    check_home,
    compute_entry_digest,
    compute_entry_height,
    compute_index_digest,
    compute_run_digest,
    show_key,
)
from chainnode.errors import CorruptStore, GenesisError, StoreError, StoreLocked
from chainnode.home import init_home
from chainnode.node import Node
from chainnode.producer import commit_alone
from chainnode.state_tree import compute_key_hash
from chainnode.tx import Transaction, TxBody, decode_transaction, sign_transaction
from contracts import anchor

CHAIN = "check-unit"
BLOCKS = 4
PER_BLOCK = 3


def anchor_tx(key: crypto.PrivateKey, label: str) -> bytes:
    body = TxBody(
        chain_id=CHAIN, contract="anchor", method="put",
        args={"content_hash": crypto.sha256(label.encode()), "kind": "file"},
        signer=key.public_key, nonce=os.urandom(16), expiry_height=1_000,
    )
    return sign_transaction(key, body).raw


async def fill_home(home: Path, *, blocks: int) -> None:
    """A single-validator home with `blocks` blocks of PER_BLOCK anchors; block 2 adds a failing one."""
    _, created = init_home(home, chain_id=CHAIN, department="PSB", name="Police")
    key = crypto.load_key_file(created.officer_key).key
    node = Node.from_home(home)
    try:
        for height in range(1, blocks + 1):
            raws = [anchor_tx(key, f"doc-{height}-{i}") for i in range(PER_BLOCK)]
            if height == 2:
                raws.append(anchor_tx(key, "doc-1-0"))  # the same hash again: refused with anchor_exists
            admissions = await node.submit(raws)
            assert all(a.accepted for a in admissions), admissions
            await node.produce_block()
        if blocks >= 2:
            block = node.store.get_block(2)
            assert block is not None
            status = node.reader.tx_status(decode_transaction(block.txs[-1]).tx_id)
            assert status.result is not None and status.result["code"] == "anchor_exists"
    finally:
        node.close()


def items(home: Path) -> list[tuple[bytes, bytes]]:
    db = plyvel.DB(str(home / "data"))
    try:
        return list(db)
    finally:
        db.close()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("check") / "home"
    asyncio.run(fill_home(home, blocks=BLOCKS))
    return home


@pytest.fixture
def home(template: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(template, copy)
    return copy


def mutate(home: Path, *, put: dict[bytes, bytes] | None = None, delete: tuple[bytes, ...] = ()) -> None:
    db = plyvel.DB(str(home / "data"))
    try:
        for key in delete:
            db.delete(key)
        for key, value in (put or {}).items():
            db.put(key, value)
    finally:
        db.close()


# --- a clean store ---------------------------------------------------------------------------------------


def test_clean_store_passes_with_the_right_counts(home: Path) -> None:
    report = check_home(home)
    assert report == CheckReport(
        ok=True, head=BLOCKS, blocks_checked=BLOCKS, txs_checked=BLOCKS * PER_BLOCK + 1, problems=[],
    )
    assert report.first_bad_height is None
    assert not report.truncated


def test_check_never_changes_the_store(home: Path) -> None:
    before = items(home)
    check_home(home)
    assert items(home) == before


def test_store_with_only_the_genesis_state_passes(tmp_path: Path) -> None:
    asyncio.run(fill_home(tmp_path / "home", blocks=0))
    report = check_home(tmp_path / "home")
    assert report.ok and report.head == 0 and report.blocks_checked == 0 and report.txs_checked == 0


def test_progress_is_reported(home: Path) -> None:
    messages: list[str] = []
    check_home(home, progress=messages.append)
    assert any("scanned" in m for m in messages)
    assert any(f"checked {BLOCKS} blocks" in m for m in messages)


# --- homes that cannot be checked ------------------------------------------------------------------------


def test_home_without_a_store_is_refused_and_left_alone(tmp_path: Path) -> None:
    init_home(tmp_path / "home", chain_id=CHAIN, department="PSB", name="Police")
    with pytest.raises(StoreError, match="no store"):
        check_home(tmp_path / "home")
    assert not (tmp_path / "home" / "data").exists()


def test_missing_genesis_is_refused(home: Path) -> None:
    (home / "genesis.json").unlink()
    with pytest.raises(GenesisError):
        check_home(home)


def test_a_running_node_is_refused_with_store_locked(home: Path) -> None:
    node = Node.from_home(home)
    try:
        with pytest.raises(StoreLocked):
            check_home(home)
    finally:
        node.close()
    assert check_home(home).ok


@pytest.mark.parametrize("damage", ["garbage CURRENT", "no CURRENT"])
def test_a_database_that_cannot_be_opened_gives_corrupt_store(home: Path, damage: str) -> None:
    current = home / "data" / "CURRENT"
    if damage == "no CURRENT":
        current.unlink()
    else:
        current.write_text("MANIFEST-999999\n")
    with pytest.raises(CorruptStore, match="data"):
        check_home(home)


def test_another_networks_genesis_is_reported(home: Path) -> None:
    genesis = home / "genesis.json"
    genesis.write_text(genesis.read_text().replace(CHAIN, "other-chain"))
    report = check_home(home)
    assert not report.ok
    assert report.problems[0] == Problem(None, "m/genesis", report.problems[0].message)
    assert any(p.height == 1 and "prev_hash" in p.message for p in report.problems)


# --- faults are named --------------------------------------------------------------------------------------


def test_a_block_with_a_transaction_removed_is_named(home: Path) -> None:
    raw = dict(items(home))[b"b" + (3).to_bytes(8, "big")]
    block = decode_block(raw)
    fields = codec.decode(raw, max_size=len(raw))
    fields[3] = fields[3][:-1]  # [tag, version, header, txs, last_commit]: drop the last transaction
    mutate(home, put={b"b" + (3).to_bytes(8, "big"): codec.encode(fields)})
    report = check_home(home)
    assert not report.ok and report.first_bad_height == 3
    message = f"block 3: header counts {len(block.txs)} txs, block has {len(block.txs) - 1}"
    assert Problem(3, "b", message) in report.problems


def test_a_changed_state_history_value_is_named_with_its_key(home: Path) -> None:
    content_hash = crypto.sha256(b"doc-2-1")
    state_key = anchor.anchor_key(content_hash, "PSB")
    history_key = b"y" + compute_key_hash(state_key) + (2).to_bytes(8, "big")
    key, value = codec.decode(dict(items(home))[history_key], max_size=1 << 20)
    record = codec.decode(value, max_size=1 << 20)
    record["kind"] = "forged"
    mutate(home, put={history_key: codec.encode([key, codec.encode(record)])})
    report = check_home(home)
    message = f"state history at height 2: value of key {show_key(state_key)} differs"
    assert report.problems == [Problem(2, "y", message)]
    assert report.first_bad_height == 2


def test_stored_results_that_differ_from_re_execution_are_named(home: Path) -> None:
    results_key = b"r" + (2).to_bytes(8, "big")
    stored = codec.decode(dict(items(home))[results_key], max_size=1 << 20)
    mutate(home, put={results_key: codec.encode([stored[1], stored[0], *stored[2:]])})  # two results swapped
    report = check_home(home)
    assert Problem(2, "r", "the results of block 2 are wrong: they do not match the header's results_root") \
        in report.problems


def test_stored_results_that_are_not_a_list_of_results_are_named(home: Path) -> None:
    mutate(home, put={b"r" + (3).to_bytes(8, "big"): codec.encode(7)})
    report = check_home(home)
    message = "the results of block 3 are wrong: they are not a list of encoded results"
    assert report.problems == [Problem(3, "r", message)]


def test_missing_stored_results_are_named(home: Path) -> None:
    mutate(home, delete=(b"r" + (1).to_bytes(8, "big"),))
    report = check_home(home)
    assert report.problems == [Problem(1, "r", "the results of block 1 are missing")]


def test_a_changed_or_extra_state_tree_node_is_named(home: Path) -> None:
    stored = dict(items(home))
    height3 = b"n" + (3).to_bytes(8, "big")
    node_key = next(key for key in sorted(stored) if key.startswith(height3))
    extra = height3 + bytes([40]) + bytes(5)  # a node at depth 40 that no block wrote
    mutate(home, put={node_key: bytes(reversed(stored[node_key])), extra: stored[node_key]})
    report = check_home(home)
    where = f"depth {node_key[9]} path {node_key[10:].hex() or '(root)'}"
    assert report.problems == [
        Problem(3, "n", f"state tree nodes at height 3: value of the tree node at {where} differs"),
        Problem(3, "n", f"state tree nodes at height 3: unexpected entry for the tree node at depth 40 path "
                f"{bytes(5).hex()}"),
    ]


def test_the_scan_names_misplaced_entries_in_every_column_and_keys_of_no_column(home: Path) -> None:
    """Malformed and out-of-range entries of each per-height column, unknown meta keys, and keys before,
    between and after the known columns: each is named, in key order, and nothing else is."""
    beyond = (BLOCKS + 5).to_bytes(8, "big")
    mutate(home, put={
        b"!first": b"x",                                  # before every column
        b"H" + bytes(32): beyond,                         # block hash index: a height beyond the head
        b"e" + b"doc" + bytes(3): bytes(32),              # entity index: too short
        b"m/unknown": b"x",
        b"n" + beyond + bytes([1, 0x80]): bytes(8),       # a tree node beyond the head
        b"n" + bytes(5): b"x",                            # a tree node key too short
        b"p-between": b"x",                               # between n and r
        b"t" + bytes(32): bytes(3),                       # tx index: a value too short
        b"y" + bytes(10): b"x",                           # history: a key too short
        b"~last": b"x",                                   # after every column
    })
    report = check_home(home)
    assert report.problems == [
        Problem(None, "?", "key !first belongs to no known column"),
        Problem(None, "e", f"entity index: malformed entry {show_key(b'e' + b'doc' + bytes(3))}"),
        Problem(None, "m", "unknown meta key m/unknown"),
        Problem(None, "n", f"state tree nodes: malformed entry {show_key(b'n' + bytes(5))}"),
        Problem(None, "?", "key p-between belongs to no known column"),
        Problem(None, "t", f"transaction index: malformed entry {show_key(b't' + bytes(32))}"),
        Problem(None, "y", f"state history: malformed entry {show_key(b'y' + bytes(10))}"),
        Problem(None, "?", "key ~last belongs to no known column"),
        Problem(BLOCKS + 5, "H", f"block hash index: 1 entry at height {BLOCKS + 5}, outside the stored heights "
                f"1..{BLOCKS}"),
        Problem(BLOCKS + 5, "n", f"state tree nodes: 1 entry at height {BLOCKS + 5}, outside the stored heights "
                f"0..{BLOCKS}"),
    ]


def commit_unverified(home: Path, blocks: list[list[bytes]]) -> None:
    """Commit each list of raw transactions as one block, their signatures taken on trust (as a node whose
    verification was bypassed would), so the store is consistent but for the signatures."""
    node = Node.from_home(home)
    try:
        for raws in blocks:
            height = node.tip.height + 1
            for raw in raws:
                tx = node.mempool.screen(raw, next_height=height)
                node.mempool.record_signature_verdict(tx, True)
                node.mempool.admit(tx)
            taken = node.mempool.take(max_txs=len(raws), max_bytes=1 << 30, next_height=height)
            proposed = node.build_proposal(taken, node.clock.now_ms())
            node._commit(proposed, commit_alone(node.node_key, proposed, node.validators_at(height)))
            node.mempool.note_committed(taken)
    finally:
        node.close()


def test_bad_transaction_signatures_are_named_in_small_and_large_blocks(tmp_path: Path) -> None:
    """Small blocks' signatures are checked in chunks gathered across blocks, a large block's in its own
    chunks: each bad one is named with its height and position, whichever chunk it was in."""
    home = tmp_path / "home"
    _, created = init_home(home, chain_id=CHAIN, department="PSB", name="Police",
                           config_overrides={"max_block_txs": 2 * VERIFY_CHUNK})
    key = crypto.load_key_file(created.officer_key).key

    def forged(label: str) -> bytes:
        body = decode_transaction(anchor_tx(key, label)).body
        return Transaction(body, bytes(crypto.SIGNATURE_SIZE)).raw

    small = [[anchor_tx(key, f"small-{b}-{i}") for i in range(7)] for b in range(90)]  # 630: 3 chunks
    small[3][2] = forged("small-3-2")
    small[60][6] = forged("small-60-6")
    large = [anchor_tx(key, f"large-{i}") for i in range(VERIFY_CHUNK + 10)]
    large[VERIFY_CHUNK + 4] = forged("large")
    commit_unverified(home, [*small[:50], large, *small[50:]])
    report = check_home(home)
    named = sorted((p.height, p.message) for p in report.problems)

    def bad(height: int, index: int, raw: bytes) -> tuple[int, str]:
        tx_id = decode_transaction(raw).tx_id.hex()[:16]
        return height, f"block {height}: transaction #{index} ({tx_id}…): the signature does not verify"

    assert named == [bad(4, 2, small[3][2]), bad(51, VERIFY_CHUNK + 4, large[VERIFY_CHUNK + 4]),
                     bad(62, 6, small[60][6])]
    assert report.txs_checked == 90 * 7 + VERIFY_CHUNK + 10


def test_a_changed_current_state_value_is_named(home: Path) -> None:
    state_key = anchor.anchor_key(crypto.sha256(b"doc-4-0"), "PSB")
    mutate(home, put={b"s" + state_key: b"\x01"})
    report = check_home(home)
    assert report.problems == [Problem(None, "s", f"current state: value of key {show_key(state_key)} differs")]


def test_an_unknown_key_is_reported(home: Path) -> None:
    mutate(home, put={b"zz-left-behind": b"1"})
    report = check_home(home)
    assert report.problems == [Problem(None, "?", "key zz-left-behind belongs to no known column")]


def test_a_missing_head_marker_is_reported_and_the_blocks_still_checked(home: Path) -> None:
    mutate(home, delete=(b"m/head",))
    report = check_home(home)
    assert report.problems == [Problem(None, "m/head", "the head marker is missing")]
    assert report.head == BLOCKS and report.blocks_checked == BLOCKS


def test_a_head_marker_beyond_the_blocks_is_reported(home: Path) -> None:
    mutate(home, put={b"m/head": (1 << 40).to_bytes(8, "big")})
    report = check_home(home)
    assert report.problems == [
        Problem(None, "m/head", f"the head marker says {1 << 40}, but the stored blocks end at {BLOCKS}")
    ]
    assert report.blocks_checked == BLOCKS


def test_a_block_beyond_the_head_is_reported(home: Path) -> None:
    raw = dict(items(home))[b"b" + (4).to_bytes(8, "big")]
    mutate(home, put={b"b" + (9).to_bytes(8, "big"): raw})
    report = check_home(home)
    assert report.problems == [Problem(9, "b", f"block: 1 entry at height 9, outside the stored heights 1..{BLOCKS}")]


def test_a_head_marker_behind_the_blocks_is_reported(home: Path) -> None:
    mutate(home, put={b"m/head": (BLOCKS - 1).to_bytes(8, "big")})
    report = check_home(home)
    assert report.problems[0] == Problem(None, "m/head", f"block {BLOCKS} is stored, beyond the head {BLOCKS - 1}")
    assert report.first_bad_height == BLOCKS and report.head == BLOCKS - 1


def test_collection_stops_after_max_problems(home: Path) -> None:
    mutate(home, delete=tuple(key for key, _ in items(home) if key[:1] in (b"e", b"n")))
    report = check_home(home)
    assert not report.ok and report.truncated
    assert len(report.problems) == MAX_PROBLEMS


# --- helpers -----------------------------------------------------------------------------------------------


def test_index_digest_ignores_insertion_order_but_not_one_byte() -> None:
    entries = {b"t" + bytes([i]) * 32: bytes(12) for i in range(5)}
    reordered = dict(reversed(list(entries.items())))
    assert compute_index_digest(entries) == compute_index_digest(reordered)
    changed = dict(entries)
    changed[b"t" + bytes(32)] = b"\x01" + bytes(11)
    assert compute_index_digest(changed) != compute_index_digest(entries)
    assert compute_index_digest({}) == bytes(32)


def test_index_digest_folds_each_entry_in_key_order_and_the_tree_nodes_as_one() -> None:
    entries = {b"y" + bytes([i]) * 40: bytes([i]) * (i + 1) for i in (3, 1, 2)}
    entries |= {b"e" + bytes([i]) * 20: bytes(32) for i in (5, 4)}
    nodes = {b"n" + bytes(8) + bytes([i]) * 2: bytes([i]) * 82 for i in (9, 7, 8)}
    digest = bytes(32)
    for key in sorted(entries):
        if key.startswith(b"y"):
            break
        digest = compute_entry_digest(digest, key, entries[key])
    digest = compute_entry_digest(digest, b"n", compute_run_digest(sorted(nodes.items())))
    for key in sorted(entries):
        if key.startswith(b"y"):
            digest = compute_entry_digest(digest, key, entries[key])
    assert compute_index_digest(entries | nodes) == digest
    run = b"".join(len(k).to_bytes(4, "big") + k + len(v).to_bytes(4, "big") + v for k, v in sorted(nodes.items()))
    assert compute_run_digest(sorted(nodes.items())) == crypto.sha256(run)


def test_entry_heights_are_read_from_key_or_value() -> None:
    h8 = (7).to_bytes(8, "big")
    assert compute_entry_height(b"b", b"b" + h8, b"x") == 7
    assert compute_entry_height(b"H", b"H" + bytes(32), h8) == 7
    assert compute_entry_height(b"t", b"t" + bytes(32), h8 + bytes(4)) == 7
    assert compute_entry_height(b"e", b"eanchor:ab\x00" + h8 + bytes(4), bytes(32)) == 7
    assert compute_entry_height(b"y", b"y" + bytes(32) + h8, b"x") == 7
    assert compute_entry_height(b"n", b"n" + h8 + bytes([9]) + b"\x80\x00", bytes(82)) == 7
    assert compute_entry_height(b"n", b"n" + h8, bytes(82)) is None
    assert compute_entry_height(b"R", b"R" + h8, b"\x00") == 7
    assert compute_entry_height(b"t", b"t" + bytes(31), h8 + bytes(4)) is None
    assert compute_entry_height(b"e", b"eanchor:ab" + h8 + bytes(4), bytes(32)) is None


def test_memory_state_iterates_a_prefix_in_key_order() -> None:
    state = MemoryState()
    state.apply({b"a/2": b"2", b"a/1": b"1", b"b/1": b"x", b"a/3": b"3"})
    state.apply({b"a/3": None, b"a/0": b"0"})
    assert list(state.iter_prefix(b"a/")) == [(b"a/0", b"0"), (b"a/1", b"1"), (b"a/2", b"2")]
    assert state.get(b"a/3") is None and state.get(b"b/1") == b"x"


_KEYS = st.builds(bytes.__add__, st.sampled_from([b"", b"a", b"a/", b"ab/", b"a/b/", b"gov/", b"gov/p/"]),
                  st.binary(max_size=3))


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(st.dictionaries(_KEYS, st.one_of(st.none(), st.binary(min_size=1, max_size=2)), max_size=6),
                      max_size=8),
       prefixes=st.lists(_KEYS, min_size=1, max_size=4))
def test_memory_state_iterates_every_prefix_like_a_sorted_dict(steps: list[dict[bytes, bytes | None]],
                                                               prefixes: list[bytes]) -> None:
    """Sorted per namespace and only when changed: the same answers as sorting everything, after any mix of
    additions, deletions, re-additions and iterations, for prefixes with and without a "/"."""
    state, reference = MemoryState(), {}
    for changes in steps:
        state.apply(changes)
        for key, value in changes.items():
            if value is None:
                reference.pop(key, None)
            else:
                reference[key] = value
        for prefix in prefixes:
            assert list(state.iter_prefix(prefix)) == [(k, reference[k]) for k in sorted(reference)
                                                       if k.startswith(prefix)]


def test_show_key_keeps_text_and_shows_binary_as_hex() -> None:
    assert show_key(b"gov/department/PSB") == "gov/department/PSB"
    assert show_key(b"anchor/" + b"\xff" * 2 + b"/PSB") == "anchor/ffff/PSB"
    assert show_key(b"danchor:ab\x00\x01") == "danchor:ab<0001>"
    assert show_key(b"x" * 200).endswith("…") and len(show_key(b"x" * 200)) == 96


def test_first_bad_height_is_the_lowest_height_named() -> None:
    report = CheckReport(ok=False, head=5, blocks_checked=5, txs_checked=0, problems=[
        Problem(None, "m/head", "x"), Problem(4, "b", "y"), Problem(2, "t", "z"),
    ])
    assert report.first_bad_height == 2
