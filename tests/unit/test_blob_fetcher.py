"""The delivery fetcher (chainnode/blob_fetcher.py) against fake peers that run the real `blob` server:
chunked fetch and verification, one delivered report per document, rotation on missing and lost peers,
resume from the partial (after a lost peer and after a restart), and bytes that do not hash to the name."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest

from chainnode.blob_fetcher import DeliveryFetcher, FetcherSettings, compute_delivered_tx
from chainnode.blob_transfer import BlobServer
from chainnode.blobs import BlobStore
from chainnode.errors import ChainError
from chainnode.limits import BLOB_CHUNK_MAX
from chainnode.tx import decode_transaction
from contracts.base import StateReader
from network.errors import PeerDisconnected
from network.scoring import Offence
from tests.contract_kit import CHAIN_ID, Chain, key_for
from tests.integration.test_network_support import wait_until
from tests.kit import FakeDocuments, new_store, put_blob

PSB, CAB, TAX = (key_for(f"{code}/node").public_key for code in ("PSB", "CAB", "TAX"))
DATA = bytes(range(251)) * 12_000  # 3,012,000 bytes: three chunks
HASH = hashlib.sha256(DATA).digest()
FAST = FetcherSettings(backoff_base_s=0.01, backoff_max_s=0.05, request_timeout_s=2.0)


@dataclass
class Peer:
    key: bytes
    department: str
    server: BlobServer
    store: BlobStore
    connected: bool = True
    limit: int | None = None
    """After this many answers the peer answers nothing more until `release` is set."""
    release: asyncio.Event = field(default_factory=asyncio.Event)
    served: list[int] = field(default_factory=list)
    waiting: int = 0
    asked: int = 0


@dataclass
class FakeHost:
    chain: Chain
    documents: FakeDocuments
    peers: dict[bytes, Peer] = field(default_factory=dict)
    submitted: list[tuple[str, bytes]] = field(default_factory=list)
    committed: set[bytes] = field(default_factory=set)
    reports: list[tuple[bytes, Offence, str]] = field(default_factory=list)
    own: str = "CAB"
    loop_reads: list[str] = field(default_factory=list)
    """State reads made on the event loop (they belong in worker threads)."""

    def _note_read(self, what: str) -> None:
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop()
            self.loop_reads.append(what)

    @property
    def reader(self) -> StateReader:
        return self.chain.state

    def head_height(self) -> int:
        return self.chain.height

    def own_department(self) -> str | None:
        self._note_read("own_department")
        return self.own

    def connected_peers(self) -> list[bytes]:
        return [key for key, peer in self.peers.items() if peer.connected]

    def peer_departments(self, peers: Sequence[bytes] | None = None) -> dict[bytes, str | None]:
        self._note_read("peer_departments")
        keys = self.connected_peers() if peers is None else peers
        return {key: self.peers[key].department for key in keys}

    async def request(self, peer: bytes, kind: str, payload: bytes, *, timeout: float) -> bytes:
        server = self.peers[peer]
        if not server.connected:
            raise PeerDisconnected("gone")
        server.asked += 1
        if server.limit is not None and len(server.served) >= server.limit:
            server.waiting += 1
            try:
                await asyncio.wait_for(server.release.wait(), timeout)
            finally:
                server.waiting -= 1
            if not server.connected:
                raise PeerDisconnected("gone")
        server.served.append(len(server.served))
        return await server.server.serve(CAB, payload)

    def report_peer(self, peer: bytes, offence: Offence, reason: str) -> None:
        self.reports.append((peer, offence, reason))

    async def submit_delivered(self, doc_id: str) -> tuple[bytes, int] | None:
        _raw, tx_id = compute_delivered_tx(doc_id, chain_id=CHAIN_ID, key=key_for("CAB/node"), head=self.chain.height)
        self.submitted.append((doc_id, tx_id))
        return tx_id, self.chain.height + 100

    def is_committed(self, tx_id: bytes) -> bool:
        self._note_read("is_committed")
        return tx_id in self.committed


@dataclass
class World:
    host: FakeHost
    store: BlobStore
    root: Path

    def add_peer(self, key: bytes, department: str, *, holds: bytes | None = DATA) -> Peer:
        store = new_store(self.root / department)
        if holds is not None:
            upload = store.begin_upload(HASH, len(holds))
            upload.write(holds)
            with contextlib.suppress(ChainError):
                upload.finish()
            if not store.has(HASH):  # bytes that are not the blob: planted as if a peer were lying
                (self.root / department / HASH.hex()).write_bytes(holds)
                store.scan()
        server = BlobServer(store, self.host.chain.state, self.host.documents, head_height=lambda: 0,
                            report=lambda *_: None)
        peer = Peer(key, department, server, store)
        self.host.peers[key] = peer
        return peer

    @contextlib.asynccontextmanager
    async def running(
        self, store: BlobStore | None = None, *, settings: FetcherSettings = FAST, queries: object = None
    ) -> AsyncIterator[DeliveryFetcher]:
        fetcher = DeliveryFetcher(store or self.store, self.host, queries or self.host.documents,  # type: ignore[arg-type]
                                  settings=settings)
        task = asyncio.create_task(fetcher.run())
        try:
            yield fetcher
        finally:
            fetcher.stop()
            await asyncio.wait_for(task, 5)


@pytest.fixture
def world(tmp_path: Path) -> World:
    documents = FakeDocuments(
        parties={HASH: frozenset({"PSB", "CAB"})}, pending={"CAB": [("doc-1", HASH, len(DATA))]}
    )
    host = FakeHost(Chain(), documents)
    return World(host, new_store(tmp_path / "own"), tmp_path)


async def test_fetches_verifies_and_reports_delivered_once(world: World) -> None:
    world.add_peer(TAX, "TAX", holds=None)  # not a party: asked only if the party fails
    psb = world.add_peer(PSB, "PSB")
    async with world.running() as fetcher:
        await wait_until(lambda: len(world.host.submitted) == 1, "the delivered report")
        assert world.store.read_range(HASH, 0, len(DATA)) == DATA
        assert len(psb.served) == 3 and world.host.peers[TAX].served == []
        [(doc_id, tx_id)] = world.host.submitted
        assert doc_id == "doc-1" and fetcher.in_flight() == {"doc-1": tx_id}
        # more blocks while the report is pending: no second report
        for _ in range(3):
            fetcher.notify()
            await asyncio.sleep(0)
        await wait_until(lambda: not fetcher._wanted.is_set(), "the passes")
        assert len(world.host.submitted) == 1
        # the state shows the delivery: the document leaves the list and the in-flight entry goes
        world.host.documents.pending["CAB"] = []
        world.host.committed.add(tx_id)
        fetcher.notify()
        await wait_until(lambda: fetcher.in_flight() == {}, "the report to settle")
    assert len(world.host.submitted) == 1
    assert world.host.loop_reads == []  # every state read ran in a worker thread


async def test_a_held_ciphertext_is_only_reported(world: World) -> None:
    put_blob(world.store, HASH, DATA)
    psb = world.add_peer(PSB, "PSB")
    async with world.running():
        await wait_until(lambda: len(world.host.submitted) == 1, "the delivered report")
    assert psb.served == []


async def test_a_refused_report_is_sent_again(world: World) -> None:
    world.add_peer(PSB, "PSB")
    async with world.running() as fetcher:
        await wait_until(lambda: len(world.host.submitted) == 1, "the first report")
        world.host.committed.add(world.host.submitted[0][1])  # committed, yet the document is still listed
        fetcher.notify()
        await wait_until(lambda: len(world.host.submitted) == 2, "a second report")


async def test_resumes_from_the_partial_when_the_peer_is_lost(world: World) -> None:
    psb = world.add_peer(PSB, "PSB")
    tax = world.add_peer(TAX, "TAX", holds=None)
    psb.limit = 1
    async with world.running() as fetcher:
        await wait_until(lambda: fetcher.stats.bytes_fetched == BLOB_CHUNK_MAX and len(psb.served) == 1,
                         "the first chunk")
        psb.connected = False  # lost mid-transfer; the other peer does not hold the blob
        psb.release.set()
        await wait_until(lambda: len(tax.served) >= 2, "the other peer to be asked (and retried)")
        assert not world.store.has(HASH)
        psb.connected = True
        await wait_until(lambda: len(world.host.submitted) == 1, "the delivered report")
    assert world.store.read_range(HASH, 0, len(DATA)) == DATA
    assert fetcher.stats.bytes_fetched == len(DATA)  # nothing fetched twice


async def test_resumes_from_the_partial_after_a_restart(world: World) -> None:
    psb = world.add_peer(PSB, "PSB")
    psb.limit = 2
    async with world.running() as fetcher:
        await wait_until(lambda: fetcher.stats.bytes_fetched == 2 * BLOB_CHUNK_MAX, "two chunks")
        # the node stops while its third request waits
    assert not world.store.has(HASH)
    restarted = new_store(world.root / "own")
    assert restarted.used_bytes() == 2 * BLOB_CHUNK_MAX
    psb.release.set()
    async with world.running(restarted) as second:
        await wait_until(lambda: len(world.host.submitted) == 1, "the delivered report")
    assert second.stats.bytes_fetched == len(DATA) - fetcher.stats.bytes_fetched
    assert restarted.read_range(HASH, 0, len(DATA)) == DATA


async def test_bytes_that_do_not_hash_to_the_name_are_discarded(world: World) -> None:
    wrong = bytes(len(DATA))
    world.add_peer(PSB, "PSB", holds=wrong)
    async with world.running() as fetcher:
        await wait_until(lambda: fetcher.stats.hash_mismatches >= 2, "two failed attempts")
        assert not world.store.has(HASH) and world.host.submitted == []
        # an honest holder turns up: the transfer starts over and succeeds
        world.add_peer(world.host.peers.pop(PSB).key, "PSB")
        await wait_until(lambda: len(world.host.submitted) == 1, "the delivered report")
    assert world.store.read_range(HASH, 0, len(DATA)) == DATA


async def test_at_most_two_transfers_run_at_once(world: World) -> None:
    blobs = [bytes([n]) * (1000 + n) for n in range(3)]
    hashes = [hashlib.sha256(b).digest() for b in blobs]
    world.host.documents.pending["CAB"] = [(f"doc-{n}", hashes[n], len(blobs[n])) for n in range(3)]
    psb = world.add_peer(PSB, "PSB", holds=None)
    for h, b in zip(hashes, blobs, strict=True):
        world.host.documents.parties[h] = frozenset({"PSB", "CAB"})
        put_blob(psb.store, h, b)
    psb.limit = 0
    async with world.running() as fetcher:
        await wait_until(lambda: psb.waiting == 2, "two transfers waiting for the peer")
        for _ in range(3):  # more passes change nothing: the third waits for a free slot
            fetcher.notify()
            await wait_until(lambda: not fetcher._wanted.is_set(), "a pass")
        assert psb.waiting == 2
        psb.release.set()
        await wait_until(lambda: len(world.host.submitted) == 3, "three delivered reports")
    assert all(world.store.has(h) for h in hashes)


async def test_a_lying_peer_is_scored_down_and_the_next_attempt_asks_another(world: World) -> None:
    world.host.documents.parties[HASH] = frozenset({"PSB", "CAB", "TAX"})
    liar_key, honest_key = sorted([PSB, TAX])  # the liar comes first in key order
    liar = world.add_peer(liar_key, "PSB" if liar_key == PSB else "TAX", holds=bytes(len(DATA)))
    honest = world.add_peer(honest_key, "TAX" if liar_key == PSB else "PSB")
    async with world.running() as fetcher:
        await wait_until(lambda: len(world.host.submitted) == 1, "the delivered report")
    assert world.store.read_range(HASH, 0, len(DATA)) == DATA
    assert fetcher.stats.hash_mismatches == 1 and len(liar.served) == 3 and len(honest.served) == 3
    [(peer, offence, reason)] = world.host.reports
    assert peer == liar_key and offence is Offence.INVALID_SYNC_DATA and "another SHA-256" in reason


async def test_a_failed_attempt_starts_the_next_from_another_peer(world: World) -> None:
    world.host.documents.parties[HASH] = frozenset({"PSB", "CAB", "TAX"})
    slow_key, other_key = sorted([PSB, TAX])
    slow = world.add_peer(slow_key, "PSB" if slow_key == PSB else "TAX")
    other = world.add_peer(other_key, "TAX" if slow_key == PSB else "PSB", holds=None)
    slow.limit = 0  # never answers in time
    settings = FetcherSettings(backoff_base_s=0.5, backoff_max_s=0.5, request_timeout_s=0.2)
    async with world.running(settings=settings) as fetcher:
        await wait_until(lambda: fetcher.stats.last_error != "", "the first attempt to fail")
        assert (slow.asked, other.asked) == (1, 1)  # the slow one first (key order), then `missing`
        put_blob(other.store, HASH, DATA)
        await wait_until(lambda: len(world.host.submitted) == 1, "the delivered report")
    assert slow.asked == 1 and other.asked == 4  # the second attempt started with the other peer


async def test_a_forged_size_does_not_block_the_real_document(world: World) -> None:
    world.host.documents.pending["CAB"] = [("doc-0", HASH, len(DATA) + 1), ("doc-1", HASH, len(DATA))]
    world.add_peer(PSB, "PSB")
    async with world.running() as fetcher:
        await wait_until(lambda: [d for d, _ in world.host.submitted] == ["doc-1"], "the real document's report")
        for _ in range(3):
            fetcher.notify()
            await wait_until(lambda: not fetcher._wanted.is_set(), "a pass")
    assert [d for d, _ in world.host.submitted] == ["doc-1"]  # the forged size is never reported


def plant_unheld(documents: FakeDocuments, count: int) -> None:
    """`count` inbox entries, before doc-1 in ID order, whose ciphertext no peer holds."""
    for n in range(count):
        blob_hash = hashlib.sha256(b"nobody holds %d" % n).digest()
        documents.pending.setdefault("CAB", []).append((f"doc-0{n:03}", blob_hash, 100))
        documents.parties[blob_hash] = frozenset({"PSB", "CAB"})


async def test_entries_nobody_holds_do_not_starve_later_documents(world: World) -> None:
    queries = world.host.documents
    plant_unheld(queries, 12)
    world.add_peer(PSB, "PSB")
    settings = FetcherSettings(backoff_base_s=5, backoff_max_s=5, request_timeout_s=2.0, pending_limit=4)
    async with world.running(settings=settings):
        await wait_until(lambda: [d for d, _ in world.host.submitted] == ["doc-1"], "the delivered report")
    assert queries.pages[:4] == [None, "doc-0003", "doc-0007", "doc-0011"]


async def test_a_partial_no_longer_pending_is_dropped(world: World) -> None:
    world.store.open_partial(HASH, len(DATA))
    world.store.append_partial(HASH, 0, DATA[:1000])
    world.store.close_partial(HASH)
    restarted = new_store(world.root / "own")  # the claim survives a restart
    assert restarted.partial_hashes() == {HASH} and restarted.used_bytes() == 1000
    world.host.documents.pending["CAB"] = []  # withdrawn: no longer pending, and CAB no longer a party
    world.host.documents.parties[HASH] = frozenset({"PSB"})
    async with world.running(restarted) as fetcher:
        await wait_until(lambda: restarted.used_bytes() == 0, "the partial to be dropped")
    assert restarted.partial_hashes() == frozenset() and fetcher.stats.partials_dropped == 1
    assert not (world.root / "own" / "partial" / f"{HASH.hex()}.part").exists()


@pytest.mark.parametrize("listed", [True, False], ids=["pending", "party"])
async def test_a_partial_still_wanted_is_kept(world: World, listed: bool) -> None:
    world.store.open_partial(HASH, len(DATA))
    world.store.append_partial(HASH, 0, DATA[:1000])
    world.store.close_partial(HASH)
    if not listed:  # not in the list read, but CAB is a party of the hash (a document sent meanwhile)
        world.host.documents.pending["CAB"] = []
    documents = world.host.documents
    async with world.running() as fetcher:  # no peer: the transfer fails and waits
        if listed:
            await wait_until(lambda: fetcher.stats.last_error != "", "the transfer to fail")
        for _ in range(3):  # passes with no transfer running: each may drop the partial, none does
            passes = len(documents.pages)
            fetcher.notify()
            await wait_until(lambda n=passes: len(documents.pages) > n, "a pass")  # the one before it ended
    # the partial's bytes are kept (the store's claim is not asserted: a retry in progress claims the full size)
    assert world.store.partial_hashes() == {HASH}
    assert (world.root / "own" / "partial" / f"{HASH.hex()}.part").stat().st_size == 1000
    assert fetcher.stats.partials_dropped == 0


async def test_a_report_committed_while_the_list_is_read_is_not_sent_again(world: World) -> None:
    world.add_peer(PSB, "PSB")
    documents = world.host.documents
    read = documents.pending_deliveries

    def commit_after_the_read(*args: object, **kwargs: object) -> list[tuple[str, bytes, int]]:
        entries = read(*args, **kwargs)  # type: ignore[arg-type]
        if world.host.submitted and not world.host.committed:  # the block delivering it lands right now
            world.host.committed.add(world.host.submitted[0][1])
            documents.pending["CAB"] = []
        return entries

    async with world.running(queries=SimpleNamespace(blob_parties=documents.blob_parties,
                                                    pending_deliveries=commit_after_the_read)) as fetcher:
        await wait_until(lambda: len(world.host.submitted) == 1, "the delivered report")
        fetcher.notify()
        await wait_until(lambda: bool(world.host.committed), "the commit")
        for _ in range(3):
            fetcher.notify()
            await wait_until(lambda: not fetcher._wanted.is_set(), "a pass")
        await wait_until(lambda: fetcher.in_flight() == {}, "the report to settle")
    assert len(world.host.submitted) == 1


def test_the_delivered_transaction() -> None:
    key = key_for("CAB/node")
    raw, tx_id = compute_delivered_tx("doc-1", chain_id=CHAIN_ID, key=key, head=41)
    tx = decode_transaction(raw)
    assert tx.tx_id == tx_id and tx.is_signature_valid() and tx.signer == key.public_key
    assert (tx.body.contract, tx.body.method, tx.body.args) == ("documents", "delivered", {"doc_id": "doc-1"})
    assert tx.body.expiry_height == 141


def test_old_blobs_no_document_carries_are_swept_and_the_others_kept(world: World) -> None:
    """An upload whose send never came is deleted after the grace; a carried or a young blob stays."""
    orphan, young = b"an upload never sent", b"an upload just made"
    for data in (DATA, orphan, young):
        upload = world.store.begin_upload(hashlib.sha256(data).digest(), len(data))
        upload.write(data)
        upload.finish()
    old = time.time() - 7200
    for data in (DATA, orphan):
        os.utime(world.root / "own" / hashlib.sha256(data).hexdigest(), (old, old))
    fetcher = DeliveryFetcher(world.store, world.host, world.host.documents, settings=FAST)
    assert fetcher.sweep_orphans() == 1
    assert not world.store.has(hashlib.sha256(orphan).digest())
    assert world.store.has(HASH) and world.store.has(hashlib.sha256(young).digest())  # carried; young
    assert world.store.used_bytes() == len(DATA) + len(young)
