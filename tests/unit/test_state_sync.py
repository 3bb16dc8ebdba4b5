"""State sync in-process: a fresh node joins a chain of real blocks from peers served by `SyncServer`, checks
every block, commit, manifest and chunk, skips a peer that lies (scoring it down) and then executes new blocks
to the same roots as the chain. An unfinished sync is cleared at the next start."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from chainnode import codec, crypto, state_sync, sync_server
from chainnode.check import check_home
from chainnode.errors import ChainError, InvalidBlock, InvalidCommit, StateNotKept
from chainnode.home import DepartmentSpec, init_home, init_network
from chainnode.node import Node
from chainnode.snapshot import decode_chunk_page
from chainnode.state_sync import ChainPosition, StateSync, StateSyncFailed, verify_synced_blocks
from chainnode.sync import KIND_BLOCK, BlockSync, serve_blocks
from chainnode.sync_server import (
    KIND_SYNC_BLOCKS,
    KIND_SYNC_CHUNK,
    KIND_SYNC_MANIFEST,
    SyncServer,
    decode_blocks_answer,
)
from network.errors import RemoteError
from network.scoring import Offence
from tests.nodeproc import anchor_tx

Tamper = Callable[[str, bytes], bytes]


@dataclass
class FakeNetwork:
    """Peers that are `SyncServer`s in this process; `tamper` changes one peer's answers."""

    servers: dict[bytes, SyncServer]
    tamper: dict[bytes, Tamper] = field(default_factory=dict)
    reports: list[tuple[bytes, Offence, str]] = field(default_factory=list)
    asked: list[tuple[bytes, str]] = field(default_factory=list)

    async def request(self, peer: bytes, kind: str, payload: bytes, *, timeout: float) -> bytes:
        self.asked.append((peer, kind))
        try:
            server = self.servers[peer]
            answer = serve_blocks(server.node, payload) if kind == KIND_BLOCK else await server.serve(kind, payload)
        except ChainError as exc:
            raise RemoteError(exc.message, remote_code=exc.code) from exc
        change = self.tamper.get(peer)
        return answer if change is None else change(kind, answer)

    def report_peer(self, peer: bytes, offence: Offence, reason: str) -> None:
        self.reports.append((peer, offence, reason))

    def peers(self) -> list[bytes]:
        return list(self.servers)


@dataclass
class Chain:
    source: Node
    joiner_home: Path
    key: crypto.PrivateKey
    tx_ids: list[bytes]


@pytest.fixture
async def chain(tmp_path: Path) -> Chain:
    _, created = init_home(tmp_path / "source", chain_id="s", department="PSB", name="Police")
    joiner_home = tmp_path / "joiner"
    shutil.copytree(created.home, joiner_home)
    shutil.copytree(created.home, tmp_path / "second")
    key = crypto.load_key_file(created.officer_key).key
    source = Node.from_home(created.home)
    tx_ids: list[bytes] = []
    for i in range(12):
        admissions = await source.submit([anchor_tx(key, "s", f"doc-{i}-{j}") for j in range(40)])
        tx_ids += [a.tx_id for a in admissions if a.tx_id]
        await source.produce_block()
    return Chain(source, joiner_home, key, tx_ids)


PEERS = [bytes([n]) * 32 for n in (1, 2, 3)]


def sync_of(joiner: Node, network: FakeNetwork, heads: dict[bytes, int]) -> StateSync:
    """`heads` is read at each use, as BlockSync's peer heights are."""
    return StateSync(joiner, network, peer_heights=lambda: dict(heads))  # type: ignore[arg-type]


async def test_a_fresh_node_joins_at_the_head_and_executes_on(chain: Chain) -> None:
    source = chain.source
    joiner = Node.from_home(chain.joiner_home, sync_mode="state")
    try:
        server = SyncServer(source)
        network = FakeNetwork({peer: server for peer in PEERS})
        heads = {peer: source.head_height() for peer in PEERS}
        sync = sync_of(joiner, network, heads)
        assert sync.is_wanted()
        await sync.run()
        assert network.reports == []
        assert joiner.head_height() == 12 and joiner.store.base_height() == 12
        assert joiner.tree.root() == source.tree.root() and joiner.tip == source.tip
        assert {p for p, kind in network.asked if kind == KIND_SYNC_CHUNK} <= set(PEERS)
        # replay protection and the tx index are complete; state below the base is refused by name
        assert all(joiner.reader.tx_status(tx_id).status == "committed" for tx_id in chain.tx_ids)
        with pytest.raises(StateNotKept, match="state-synced at height 12"):
            joiner.reader.state_bundle(b"anything", 11)
        joiner.reader.state_bundle(b"anything", 12)
        # it executes the next block to the chain's roots
        raws = [anchor_tx(chain.key, "s", f"after-{j}") for j in range(30)]
        await source.submit(raws)
        proposed = await source.produce_block()
        assert proposed is not None
        commit = source.store.get_commit_bytes(13)
        assert commit is not None
        joiner.apply_synced_block(proposed.block_bytes, commit)
        assert joiner.tree.root() == source.tree.root()
    finally:
        joiner.close()
        source.close()
    report = check_home(chain.joiner_home)
    assert report.ok, report.problems


def _flip_chunk_value(kind: str, answer: bytes) -> bytes:
    if kind != KIND_SYNC_CHUNK:
        return answer
    page = decode_chunk_page(answer)
    key, value = page.pairs[0]
    pairs = [[key, value[:-1] + bytes([value[-1] ^ 1])], *[list(p) for p in page.pairs[1:]]]
    return codec.encode_object(51, 1, [page.height, page.bits, page.index, pairs, page.next_cursor])


def _flip_commit(kind: str, answer: bytes) -> bytes:
    if kind != KIND_SYNC_BLOCKS:
        return answer
    entries = [[e.block, e.commit, e.results, e.next_set] for e in decode_blocks_answer(answer)]
    commit = bytearray(entries[-1][1] or b"")
    commit[-1] ^= 1
    entries[-1][1] = bytes(commit)
    return codec.encode(entries)


@pytest.mark.parametrize("tamper", [_flip_chunk_value, _flip_commit])
async def test_a_lying_peer_is_scored_down_and_another_serves(chain: Chain, tamper: Tamper) -> None:
    source = chain.source
    joiner = Node.from_home(chain.joiner_home, sync_mode="state")
    try:
        server = SyncServer(source)
        liar = PEERS[0]
        network = FakeNetwork({peer: server for peer in PEERS}, tamper={liar: tamper})
        await sync_of(joiner, network, {peer: 12 for peer in PEERS}).run()
        assert [(p, o) for p, o, _ in network.reports] == [(liar, Offence.INVALID_SYNC_DATA)]
        assert joiner.tree.root() == source.tree.root()
    finally:
        joiner.close()
        source.close()


async def test_when_every_peer_lies_the_sync_fails_and_the_store_is_reset(chain: Chain) -> None:
    source = chain.source
    joiner = Node.from_home(chain.joiner_home, sync_mode="state")
    try:
        server = SyncServer(source)
        network = FakeNetwork({peer: server for peer in PEERS}, tamper=dict.fromkeys(PEERS, _flip_chunk_value))
        with pytest.raises(StateSyncFailed):
            await sync_of(joiner, network, {peer: 12 for peer in PEERS}).run()
        assert joiner.store.syncing_height() == 12
        joiner.reset_after_failed_state_sync()
        assert joiner.head_height() == 0 and joiner.store.syncing_height() is None
        assert joiner.store.get_block_bytes(1) is None
    finally:
        joiner.close()
        source.close()
    assert check_home(chain.joiner_home).ok


async def test_an_unfinished_sync_is_cleared_at_the_next_start(chain: Chain) -> None:
    joiner = Node.from_home(chain.joiner_home)
    genesis_root = joiner.tree.root()
    joiner.store.begin_state_sync(12)
    joiner.store.clear_current_state()
    joiner.close()  # a crash here leaves m/syncing and a store without its genesis state
    assert not check_home(chain.joiner_home).ok
    again = Node.from_home(chain.joiner_home)
    try:
        assert again.head_height() == 0 and again.tree.root() == genesis_root
        assert again.store.syncing_height() is None
    finally:
        again.close()
        chain.source.close()


async def test_blocks_are_verified_without_execution(chain: Chain) -> None:
    source = chain.source
    try:
        server = SyncServer(source)
        answer = decode_blocks_answer(server.serve_blocks(codec.encode([1, 200])))
        position = ChainPosition.genesis(source.genesis)
        writes, after = verify_synced_blocks(answer, position, chain_id="s")
        assert len(writes) == 12 and after.height == 12 and after.state_root == source.tree.root()
        _, first = verify_synced_blocks(answer[:1], position, chain_id="s")
        with pytest.raises(InvalidBlock, match="expected block 2"):
            verify_synced_blocks(answer[2:], first, chain_id="s")
        with pytest.raises(InvalidBlock, match="does not link"):
            verify_synced_blocks(answer[1:], dataclasses.replace(first, block_hash=bytes(32)), chain_id="s")
        with pytest.raises(InvalidBlock, match="chain"):
            verify_synced_blocks(answer, position, chain_id="other")
        bad_results = [answer[0].__class__(answer[0].block, answer[0].commit, codec.encode([]), None)]
        with pytest.raises(InvalidBlock, match="results"):
            verify_synced_blocks(bad_results, position, chain_id="s")
        swapped = [answer[0].__class__(answer[0].block, answer[1].commit, answer[0].results, None)]
        with pytest.raises(InvalidCommit):
            verify_synced_blocks(swapped, position, chain_id="s")
    finally:
        source.close()


async def test_in_auto_mode_a_failed_state_sync_falls_back_to_replay(chain: Chain) -> None:
    source = chain.source
    joiner = Node.from_home(chain.joiner_home, sync_mode="auto")
    joiner.config = dataclasses.replace(joiner.config, sync_min_blocks=5)
    try:
        network = FakeNetwork({peer: SyncServer(source) for peer in PEERS},
                              tamper=dict.fromkeys(PEERS, _flip_chunk_value))
        sync = BlockSync(joiner, network, lock=asyncio.Lock(), on_advanced=lambda: None)  # type: ignore[arg-type]
        sync.state_sync = sync_of(joiner, network, sync.peer_heights)
        for peer in PEERS:
            sync.note_peer_height(peer, 12)
        await sync.catch_up()
        assert sync.state_sync is None and len(network.reports) == 3
        assert joiner.head_height() == 12 and joiner.store.base_height() == 0
        assert joiner.tree.root() == source.tree.root()
    finally:
        joiner.close()
        source.close()
    assert check_home(chain.joiner_home).ok


def _short_answers(kind: str, answer: bytes) -> bytes:
    if kind != KIND_SYNC_BLOCKS:
        return answer
    entries = decode_blocks_answer(answer)[:2]
    return codec.encode([[e.block, e.commit, e.results, e.next_set] for e in entries])


async def test_batches_in_flight_and_short_answers_still_give_every_block_once(
        chain: Chain, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state_sync, "BATCH_BLOCKS", 3)
    monkeypatch.setattr(sync_server, "BATCH_BLOCKS", 3)
    source = chain.source
    joiner = Node.from_home(chain.joiner_home, sync_mode="state")
    try:
        network = FakeNetwork({peer: SyncServer(source) for peer in PEERS}, tamper={PEERS[1]: _short_answers})
        await sync_of(joiner, network, {peer: 12 for peer in PEERS}).run()
        assert network.reports == [] and joiner.tree.root() == source.tree.root()
        asked = [kind for _, kind in network.asked].count(KIND_SYNC_BLOCKS)
        assert 4 <= asked <= 12
    finally:
        joiner.close()
        source.close()
    assert check_home(chain.joiner_home).ok


async def test_check_finds_damage_to_a_state_synced_store(chain: Chain) -> None:
    import plyvel

    source = chain.source
    joiner = Node.from_home(chain.joiner_home, sync_mode="state")
    try:
        await sync_of(joiner, FakeNetwork({peer: SyncServer(source) for peer in PEERS}), {PEERS[0]: 12}).run()
    finally:
        joiner.close()
        source.close()
    assert check_home(chain.joiner_home).ok
    data = str(chain.joiner_home / "data")

    def damaged(change: Callable[[plyvel.DB], tuple[bytes, bytes | None]]) -> list[tuple[int | None, str]]:
        db = plyvel.DB(data)
        key, value = change(db)
        db.close()
        try:
            return [(p.height, p.column) for p in check_home(chain.joiner_home).problems]
        finally:
            db = plyvel.DB(data)
            if value is None:
                db.delete(key)
            else:
                db.put(key, value)
            db.close()

    def flip_base_row(db: plyvel.DB) -> tuple[bytes, bytes | None]:
        key, value = next((k, v) for k, v in db.iterator(prefix=b"y") if k[33:] == (12).to_bytes(8, "big"))
        db.put(key, value[:-1] + bytes([value[-1] ^ 1]))
        return key, value

    def drop_entity_row(db: plyvel.DB) -> tuple[bytes, bytes | None]:
        key, value = next((k, v) for k, v in db.iterator(prefix=b"e") if k[-12:-4] == (3).to_bytes(8, "big"))
        db.delete(key)
        return key, value

    def drop_base(db: plyvel.DB) -> tuple[bytes, bytes | None]:
        value = db.get(b"m/base")
        db.delete(b"m/base")
        return b"m/base", value

    assert (12, "y") in damaged(flip_base_row)
    assert (3, "e") in damaged(drop_entity_row)
    assert (None, "m/format") in damaged(drop_base)
    assert check_home(chain.joiner_home).ok


async def test_a_state_synced_node_serves_the_next_joiner(chain: Chain) -> None:
    source = chain.source
    first = Node.from_home(chain.joiner_home, sync_mode="state")
    second = Node.from_home(chain.joiner_home.parent / "second", sync_mode="state")
    try:
        await sync_of(first, FakeNetwork({PEERS[0]: SyncServer(source)}), {PEERS[0]: 12}).run()
        await source.submit([anchor_tx(chain.key, "s", f"after-{j}") for j in range(20)])
        proposed = await source.produce_block()
        assert proposed is not None
        first.apply_synced_block(proposed.block_bytes, source.store.get_commit_bytes(13) or b"")
        network = FakeNetwork({PEERS[1]: SyncServer(first)})
        await sync_of(second, network, {PEERS[1]: 13}).run()
        assert network.reports == [] and second.tree.root() == source.tree.root() == first.tree.root()
        assert second.store.base_height() == 13
        with pytest.raises(RemoteError, match="heights 12 to 13"):
            await network.request(PEERS[1], KIND_SYNC_MANIFEST, codec.encode([11]), timeout=1)
    finally:
        second.close()
        first.close()
        source.close()


async def test_a_node_stopped_during_a_sync_leaves_it_for_the_next_start_to_clear(chain: Chain) -> None:
    source = chain.source
    joiner = Node.from_home(chain.joiner_home, sync_mode="state")
    try:
        network = FakeNetwork({peer: SyncServer(source) for peer in PEERS})
        sync = BlockSync(joiner, network, lock=asyncio.Lock(), on_advanced=lambda: None)  # type: ignore[arg-type]
        sync.state_sync = sync_of(joiner, network, sync.peer_heights)

        def stop_at_the_manifest(kind: str, answer: bytes) -> bytes:
            if kind == KIND_SYNC_MANIFEST:
                sync.stop()
            return answer

        network.tamper = dict.fromkeys(PEERS, stop_at_the_manifest)
        for peer in PEERS:
            sync.note_peer_height(peer, 12)
        await sync.catch_up()
        assert joiner.head_height() == 0 and joiner.store.syncing_height() == 12  # not reset at shutdown
    finally:
        joiner.close()
        source.close()
    again = Node.from_home(chain.joiner_home)
    try:
        assert again.head_height() == 0 and again.store.syncing_height() is None
        assert again.store.get_block_bytes(1) is None
    finally:
        again.close()


async def test_a_peer_that_announced_blocks_it_cannot_serve_is_scored_for_a_false_status(chain: Chain) -> None:
    source = chain.source
    joiner = Node.from_home(chain.joiner_home, sync_mode="state")
    try:
        network = FakeNetwork({PEERS[0]: SyncServer(source)})
        with pytest.raises(StateSyncFailed):
            await sync_of(joiner, network, {PEERS[0]: 20}).run()
        assert [(p, o) for p, o, _ in network.reports] == [(PEERS[0], Offence.FALSE_STATUS)]
    finally:
        joiner.close()
        source.close()


async def test_state_sync_across_validator_set_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """New sets come from the headers' hashes and the sets the server sends; the set two heights past the
    base from the updates the base block queued. The joiner then verifies commits of the new sets."""
    from tests.unit.test_light_client import CHAIN, ManualClock
    from tests.unit.test_light_client import Chain as SignedChain

    monkeypatch.setenv("CHAINNODE_TEST_FAULTS", "test-hooks")
    codes = ["PSB", "SAMR", "CAB", "TAX"]
    _, homes = init_network([tmp_path / c for c in codes], chain_id=CHAIN,
                            departments=[DepartmentSpec(code=c, name=c) for c in codes],
                            api_ports=[1, 2, 3, 4], p2p_ports=[5, 6, 7, 8], params={"test_hooks": 1})
    source = Node.from_home(homes[0].home, clock=ManualClock())
    joiner = Node.from_home(homes[1].home, sync_mode="state")
    try:
        chain = SignedChain(source, [crypto.load_key_file(h.node_key).key for h in homes],
                            [crypto.load_key_file(h.officer_key).key for h in homes])
        await chain.set_validator("N0", chain.add_key().public_key, 10)
        await chain.block()
        await chain.block()
        tax = next(v for v in source.genesis.validator_set().validators if v.department == "TAX")
        await chain.set_validator("TAX", tax.public_key, 0)  # not PSB: its node proposes every block
        await chain.block()
        base = await chain.set_validator("N1", chain.add_key().public_key, 10)  # effective at base + 2
        assert len(source.validators_at(base + 2)) != len(source.validators_at(base + 1))
        network = FakeNetwork({PEERS[0]: SyncServer(source)})
        await sync_of(joiner, network, {PEERS[0]: base}).run()
        assert network.reports == [] and joiner.tree.root() == source.tree.root()
        for height in range(1, base + 3):
            assert joiner.validators_at(height) == source.validators_at(height), height
        for step in range(3):
            height = await chain.block(anchor_tx(chain.admin, CHAIN, f"after-{step}"))
            joiner.apply_synced_block(source.store.get_block_bytes(height) or b"",
                                      source.store.get_commit_bytes(height) or b"")
        assert joiner.tree.root() == source.tree.root()
    finally:
        joiner.close()
        source.close()
    assert check_home(homes[1].home).ok


async def test_a_backup_of_a_state_synced_store_restores_as_one(chain: Chain) -> None:
    from chainnode import backup
    from chainnode.config import HomeLayout
    from chainnode.store import SYNCED_FORMAT

    source = chain.source
    joiner = Node.from_home(chain.joiner_home, sync_mode="state")
    try:
        await sync_of(joiner, FakeNetwork({PEERS[0]: SyncServer(source)}), {PEERS[0]: 12}).run()
        out = chain.joiner_home.parent / "joiner.backup"
        with joiner.store.snapshot() as snapshot:
            backup.write_backup_file(backup.backup_frames(snapshot, joiner.layout.blobs, chain_id="s",
                                                          genesis_hash=joiner.genesis.hash), out)
    finally:
        joiner.close()
        source.close()
    assert backup.read_header(out).store_format == SYNCED_FORMAT.decode()
    restored = chain.joiner_home.parent / "restored"
    shutil.copytree(chain.joiner_home, restored, ignore=shutil.ignore_patterns("data", "wal"))
    layout = HomeLayout(restored)
    backup.restore(out, data_dir=layout.data, blobs_dir=layout.blobs, genesis_hash=backup.read_header(out).genesis_hash)
    assert check_home(restored).ok
    node = Node.from_home(restored)
    try:
        assert node.store.base_height() == 12 and node.head_height() == 12
        with pytest.raises(StateNotKept):
            node.reader.state_bundle(b"anything", 11)
    finally:
        node.close()
