"""A document ciphertext crosses real `Network` links on 127.0.0.1: the recipient department's fetcher asks
the sender's node in `blob` requests; the sender's node goes away mid-transfer and comes back (a restart on
the same address, over the same store), and the transfer resumes from the partial, with nothing fetched
twice. A node of a department that may not read the blob is refused and scored down."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chainnode.blob_fetcher import DeliveryFetcher, FetcherSettings
from chainnode.blob_transfer import (
    KIND_BLOB,
    BlobRequest,
    BlobServer,
    decode_blob_response,
    encode_blob_request,
    get_node_department,
)
from chainnode.blobs import BlobStore
from chainnode.limits import BLOB_CHUNK_MAX, BLOB_MESSAGE_LIMIT
from contracts.base import StateReader
from network.network import Network
from network.scoring import Offence
from tests.contract_kit import Chain, key_for
from tests.integration.test_network_support import LIMITS, Cluster, RecordingHandler, free_port, wait_until
from tests.kit import FakeDocuments, new_store, put_blob

BLOB_LIMITS = {**LIMITS, KIND_BLOB: BLOB_MESSAGE_LIMIT}
PSB_KEY, CAB_KEY, SAMR_KEY = (key_for(f"{code}/node") for code in ("PSB", "CAB", "SAMR"))
DATA = bytes(range(253)) * 17_000  # 4,301,000 bytes: five chunks
HASH = hashlib.sha256(DATA).digest()


@dataclass
class BlobHandler(RecordingHandler):
    """Serves `blob` requests; after `limit` answers it holds the next one until `release` is set."""

    server: BlobServer | None = None
    limit: int | None = None
    release: asyncio.Event = field(default_factory=asyncio.Event)
    answered: int = 0

    async def on_request(self, peer: bytes, kind: str, payload: bytes) -> bytes:
        if kind != KIND_BLOB or self.server is None:
            return await super().on_request(peer, kind, payload)
        if self.limit is not None and self.answered >= self.limit:
            await self.release.wait()
        self.answered += 1
        return await self.server.serve(peer, payload)


@dataclass
class NetworkHost:
    """The fetcher's host over a real Network and a contract-test chain."""

    network: Network
    chain: Chain
    submitted: list[str] = field(default_factory=list)

    @property
    def reader(self) -> StateReader:
        return self.chain.state

    def head_height(self) -> int:
        return self.chain.height

    def own_department(self) -> str | None:
        return get_node_department(self.chain.state, self.network.public_key, self.chain.height + 1)

    def connected_peers(self) -> list[bytes]:
        return [p.key for p in self.network.peers()]

    def peer_departments(self, peers: Sequence[bytes]) -> dict[bytes, str | None]:
        return {key: get_node_department(self.chain.state, key, self.chain.height + 1) for key in peers}

    async def request(self, peer: bytes, kind: str, payload: bytes, *, timeout: float) -> bytes:
        return await self.network.request(peer, kind, payload, timeout=timeout)

    def report_peer(self, peer: bytes, offence: Offence, reason: str) -> None:
        self.network.report_peer(peer, offence, reason)

    async def submit_delivered(self, doc_id: str) -> tuple[bytes, int] | None:
        self.submitted.append(doc_id)
        return doc_id.encode().ljust(32, b"\x00"), self.chain.height + 100

    def is_committed(self, tx_id: bytes) -> bool:
        return False


def sender_store(root: Path) -> BlobStore:
    store = new_store(root)
    if not store.has(HASH):
        put_blob(store, HASH, DATA)
    return store


async def test_a_transfer_resumes_after_the_serving_node_restarts(tmp_path: Path) -> None:
    chain = Chain()
    documents = FakeDocuments(parties={HASH: frozenset({"PSB", "CAB"})}, pending={"CAB": [("doc-1", HASH, len(DATA))]})
    port = free_port()
    async with Cluster() as cluster:
        first = BlobHandler(limit=2)
        first.server = BlobServer(sender_store(tmp_path / "psb"), chain.state, documents, head_height=lambda: 0,
                                  report=lambda *_: None)
        psb = await cluster.add(PSB_KEY, handler=first, allowed=lambda _: True, limits=BLOB_LIMITS,
                                listen=f"127.0.0.1:{port}")
        cab = await cluster.add(CAB_KEY, peers=[psb.address], allowed=lambda _: True, limits=BLOB_LIMITS)
        own = new_store(tmp_path / "cab")
        host = NetworkHost(cab.network, chain)
        fetcher = DeliveryFetcher(own, host, documents,
                                  settings=FetcherSettings(backoff_base_s=0.02, backoff_max_s=0.2, request_timeout_s=5))
        task = asyncio.create_task(fetcher.run())
        try:
            await wait_until(lambda: fetcher.stats.bytes_fetched == 2 * BLOB_CHUNK_MAX and first.answered == 2,
                             "two chunks")
            await psb.network.stop()  # the sender's node goes away while the third request waits
            await wait_until(lambda: fetcher.stats.last_error != "", "the transfer to stall")
            assert not own.has(HASH) and host.submitted == []
            second = BlobHandler()
            second.server = BlobServer(sender_store(tmp_path / "psb"), chain.state, documents,
                                       head_height=lambda: 0, report=lambda *_: None)
            await cluster.add(PSB_KEY, handler=second, allowed=lambda _: True, limits=BLOB_LIMITS,
                              listen=f"127.0.0.1:{port}")
            await wait_until(lambda: host.submitted == ["doc-1"], "the delivered report", timeout=10)
        finally:
            fetcher.stop()
            await asyncio.wait_for(task, 5)
    assert own.read_range(HASH, 0, len(DATA)) == DATA
    assert fetcher.stats.bytes_fetched == len(DATA) and second.answered == 3  # resumed at the third chunk


async def test_a_node_of_another_department_is_refused_and_scored_down(tmp_path: Path) -> None:
    chain = Chain()
    documents = FakeDocuments(parties={HASH: frozenset({"PSB", "CAB"})})
    async with Cluster() as cluster:
        handler = BlobHandler()
        psb = await cluster.add(PSB_KEY, handler=handler, allowed=lambda _: True, limits=BLOB_LIMITS)
        handler.server = BlobServer(sender_store(tmp_path / "psb"), chain.state, documents, head_height=lambda: 0,
                                    report=psb.network.report_peer)
        samr = await cluster.add(SAMR_KEY, peers=[psb.address], allowed=lambda _: True, limits=BLOB_LIMITS)
        await wait_until(lambda: len(samr.network.peers()) == 1, "the link")
        request = BlobRequest(HASH, 0, 1024)
        answer = await samr.network.request(PSB_KEY.public_key, KIND_BLOB, encode_blob_request(request), timeout=5)
        assert decode_blob_response(answer, request).status == "refused"
        assert psb.network.get_score(SAMR_KEY.public_key) == -10
