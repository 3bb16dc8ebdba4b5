"""The delivery fetcher: brings the ciphertexts of this department's inbox to the node, then reports them
delivered on chain.

Theory of operation. On start and after each committed block (`notify`), the fetcher pages through the
whole of `pending_deliveries` for its own department, `pending_limit` documents at a time (by a doc_id
cursor, chainnode/blob_transfer.py `get_pending_page`). For a document whose
ciphertext the store holds at the document's size, it submits `documents.delivered {"doc_id"}` signed by
the node key, once: the document stays in flight until the state no longer lists it (delivered or
withdrawn), the transaction is committed and the document is still listed (the contract refused it), or
the transaction expired; only then may it be sent again. Each page is read in one worker-thread call that
takes the head, then the committed status of the reports in flight, then the page, so a report committed
while the page is read is never mistaken for a refused one.

For a ciphertext not held, it starts a transfer for `(hash, size)` (at most `max_transfers` at once, one
per hash): chunk after chunk of at most 1 MiB (`blob` requests) appended to the store's partial, from the
connected peers, those of a party department first and, within that order, peers that never failed this
transfer before those that did (the least recently failed first). The same peer is asked while it
answers; `missing`, `refused`, an error, a malformed answer or nothing in time moves to the next peer and
puts this one last for the next attempt. When every peer was tried, the transfer waits (exponential
backoff) and a later pass starts a new attempt; a document whose transfer waits is skipped, so later
documents are not starved. Because the partial is on disk, a transfer resumes where it stopped after a
lost peer or a restart. At the end the store checks the size and SHA-256; on a mismatch the partial is
discarded, the peers that served it go last, and if one peer served all of it (as far as this process
knows) it is scored down (`INVALID_SYNC_DATA`). A malformed answer is scored down the same way.

After a pass that reached the end of the list, transfers and partials of hashes no longer listed are
forgotten: a partial is deleted (releasing its quota) unless own department is still a party of the hash.

All file and state reads run in worker threads; the event loop only sends requests and keeps the books.
Every transfer task is owned by the TaskGroup of `run`; a failure of one (even a bug) is logged and
retried later, never allowed to stop consensus.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from chainnode import crypto
from chainnode.blob_transfer import (
    KIND_BLOB,
    STATUS_OK,
    BlobRequest,
    DocumentQueries,
    decode_blob_response,
    encode_blob_request,
    get_node_department,
    get_pending_page,
)
from chainnode.blobs import BlobError, BlobStore, BlobStoreFull
from chainnode.errors import ChainError, InvalidInput
from chainnode.limits import BLOB_CHUNK_MAX
from chainnode.node import Node
from chainnode.tx import TxBody, sign_transaction
from contracts.base import StateReader
from network.network import Network
from network.scoring import Offence

log = logging.getLogger("chainnode.blobs")

DELIVERED_EXPIRY_HEIGHTS: Final = 100
"""A delivered report expires this many heights after the head it was signed at (then it may be resent)."""


def compute_delivered_tx(
    doc_id: str, *, chain_id: str, key: crypto.PrivateKey, head: int, expiry_heights: int = DELIVERED_EXPIRY_HEIGHTS
) -> tuple[bytes, bytes]:
    """The `documents.delivered {"doc_id"}` transaction signed by the node key, valid up to `head +
    expiry_heights`: `(raw, tx_id)`."""
    body = TxBody(
        chain_id=chain_id, contract="documents", method="delivered", args={"doc_id": doc_id},
        signer=key.public_key, nonce=os.urandom(16), expiry_height=head + expiry_heights,
    )
    tx = sign_transaction(key, body)
    return tx.raw, tx.tx_id


class DeliveryHost(Protocol):
    """What the fetcher needs of the node and the network (chainnode/bft.py adapts them). The methods marked
    blocking read the state: the fetcher calls them in a worker thread."""

    reader: StateReader

    def head_height(self) -> int:
        """The committed head (blocking: called in a worker thread)."""
        ...

    def own_department(self) -> str | None:
        """This node's department at the head (None if its key is not a department's node key). Blocking."""
        ...

    def connected_peers(self) -> list[bytes]:
        """The keys of the connected peers (on the event loop)."""
        ...

    def peer_departments(self, peers: Sequence[bytes]) -> dict[bytes, str | None]:
        """The department each of `peers` is the node of at the head (None if none). Blocking."""
        ...

    async def request(self, peer: bytes, kind: str, payload: bytes, *, timeout: float) -> bytes: ...

    def report_peer(self, peer: bytes, offence: Offence, reason: str) -> None: ...

    async def submit_delivered(self, doc_id: str) -> tuple[bytes, int] | None:
        """Sign and submit the delivered report: `(tx_id, expiry_height)`, or None if it was not admitted."""
        ...

    def is_committed(self, tx_id: bytes) -> bool:
        """Whether the transaction is in a committed block. Blocking."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class FetcherSettings:
    max_transfers: int = 2
    """Transfers running at once (never two of one hash)."""
    request_timeout_s: float = 30.0
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    pending_limit: int = 256
    """Documents read from `pending_deliveries` per page; a pass reads every page."""
    max_tracked: int = 4096
    """Transfers whose backoff is remembered; past it the one due soonest is forgotten."""
    orphan_grace_s: float = 3600.0
    """A complete blob that no document carries is deleted once it is older than this (an upload whose send
    never came, or was refused); the grace leaves a client the time to submit its send."""
    sweep_interval_s: float = 600.0
    """How often (at most) the store is swept for such blobs."""


TransferKey = tuple[bytes, int]
"""A transfer is of `(ciphertext_sha256, ciphertext_size)`: a document naming a hash with a wrong size must
not stand in the way of one naming it with the right size."""


@dataclass(slots=True)
class _Transfer:
    blob_hash: bytes
    size: int
    failures: int = 0
    retry_at: float = 0.0
    running: bool = False
    rotation: int = 0
    """Failed attempts so far: the next attempt starts this many peers further down the list."""
    known_from: int | None = None
    """The partial's bytes before this offset came from an earlier run or attempt: their source is unknown."""
    sources: list[tuple[int, int, bytes]] = field(default_factory=list)
    """`(start, end, peer)` of the partial's bytes from `known_from` on, in order."""

    @property
    def key(self) -> TransferKey:
        return self.blob_hash, self.size


@dataclass(slots=True)
class _InFlight:
    tx_id: bytes
    expiry_height: int


@dataclass(frozen=True, slots=True)
class _Page:
    head: int
    committed: frozenset[str]
    """In-flight documents whose report was committed, read before `entries`."""
    entries: list[tuple[str, bytes, int]]
    is_last: bool


@dataclass(slots=True)
class FetcherStats:
    fetched: int = 0
    bytes_fetched: int = 0
    reported: int = 0
    hash_mismatches: int = 0
    partials_dropped: int = 0
    orphans_dropped: int = 0
    last_error: str = ""
    peers_used: list[bytes] = field(default_factory=list)


class _NoSource(Exception):
    """Every connected peer was tried in this attempt."""


class DeliveryFetcher:
    """Fetches this department's pending ciphertexts and reports them delivered. `run` until `stop`."""

    def __init__(
        self, store: BlobStore, host: DeliveryHost, queries: DocumentQueries, *,
        settings: FetcherSettings | None = None, monotonic: Callable[[], float] | None = None,
    ) -> None:
        self.store, self.host, self.queries = store, host, queries
        self.settings = settings or FetcherSettings()
        self._monotonic = monotonic
        self._wanted = asyncio.Event()
        self._stopping = False
        self._transfers: dict[TransferKey, _Transfer] = {}
        self._fetching: dict[bytes, TransferKey] = {}
        """Hash -> the transfer running for it."""
        self._in_flight: dict[str, _InFlight] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_sweep: float | None = None
        self.stats = FetcherStats()

    def notify(self) -> None:
        """The head moved (or a transfer ended): look at the pending deliveries again."""
        self._wanted.set()

    def stop(self) -> None:
        self._stopping = True
        self._wanted.set()

    def in_flight(self) -> dict[str, bytes]:
        """Documents whose delivered report is pending: doc_id -> tx_id."""
        return {doc_id: entry.tx_id for doc_id, entry in self._in_flight.items()}

    def _now(self) -> float:
        return self._monotonic() if self._monotonic is not None else asyncio.get_running_loop().time()

    async def run(self) -> None:
        """Pass over the pending deliveries on start and at each `notify` (or when a retry is due)."""
        async with asyncio.TaskGroup() as group:
            self._wanted.set()
            while not self._stopping:
                timeout = self._next_retry_in()
                try:
                    async with asyncio.timeout(timeout):
                        await self._wanted.wait()
                except TimeoutError:
                    pass
                self._wanted.clear()
                if self._stopping:
                    break
                try:
                    await self._pass(group)
                except ChainError as exc:  # e.g. a state read failed: try again at the next block
                    log.warning("delivery pass failed: %s", exc)
                except Exception:  # a bug in a query: logged loudly, but deliveries never stop consensus
                    log.exception("delivery pass failed")
            for task in self._tasks:
                task.cancel()  # the group waits for them to end

    def _next_retry_in(self) -> float | None:
        """Seconds until the next backoff ends, but at least `backoff_base_s` (each wake-up is a pass over the
        whole list); None if none is running (a transfer that only waits for a free slot is started when a
        running one ends, which notifies)."""
        now = self._now()
        waiting = [t.retry_at for t in self._transfers.values() if not t.running and t.retry_at > now]
        return None if not waiting else max(self.settings.backoff_base_s, min(waiting) - now)

    async def _pass(self, group: asyncio.TaskGroup) -> None:
        """Read every page of the pending list; report, start transfers; then forget what is not listed."""
        department = await asyncio.to_thread(self.host.own_department)
        if department is None:
            return
        partials = self.store.partial_hashes()
        seen_partials: set[bytes] = set()
        seen_transfers: set[TransferKey] = set()
        after: str | None = None
        while True:
            in_flight = dict(self._in_flight)
            page = await asyncio.to_thread(self._read_page, department, after, in_flight)
            self._settle_in_flight(page, after)
            for doc_id, blob_hash, size in page.entries:
                await self._visit(group, doc_id, blob_hash, size)
                if blob_hash in partials:
                    seen_partials.add(blob_hash)
                if (blob_hash, size) in self._transfers:
                    seen_transfers.add((blob_hash, size))
            if page.is_last or self._stopping:
                break
            after = page.entries[-1][0]
        if self._stopping:
            return
        for key in [k for k, t in self._transfers.items() if k not in seen_transfers and not t.running]:
            del self._transfers[key]  # no longer wanted (delivered by another path, or withdrawn)
        stale = [h for h in partials - seen_partials if h not in self._fetching]
        if stale:
            await asyncio.to_thread(self._drop_partials, department, stale)
        if self._last_sweep is None or self._now() - self._last_sweep >= self.settings.sweep_interval_s:
            self._last_sweep = self._now()
            await asyncio.to_thread(self.sweep_orphans)

    def sweep_orphans(self) -> int:
        """Delete complete blobs older than the grace that no document carries (`blob_parties` is empty at
        the head, checked again just before each deletion); return how many. Blocking."""
        dropped = 0
        for blob_hash in self.store.blobs_older_than(self.settings.orphan_grace_s):
            if blob_hash in self._fetching or self.queries.blob_parties(self.host.reader, blob_hash):
                continue
            self.store.drop_blob(blob_hash)
            dropped += 1
            log.info("blob %s: no document carries it; deleted after %g s", blob_hash.hex()[:16],
                     self.settings.orphan_grace_s)
        self.stats.orphans_dropped += dropped
        return dropped

    def _read_page(self, department: str, after: str | None, in_flight: dict[str, _InFlight]) -> _Page:
        """One page of the pending list, with the head and the committed reports read before it (so a
        report committed meanwhile shows as unlisted, not as refused). Blocking: run it in a worker thread."""
        head = self.host.head_height()
        committed = frozenset(doc_id for doc_id, entry in in_flight.items() if self.host.is_committed(entry.tx_id))
        entries, is_last = get_pending_page(self.queries, self.host.reader, department, self.settings.pending_limit,
                                            after=after)
        return _Page(head, committed, entries, is_last)

    def _drop_partials(self, department: str, hashes: Sequence[bytes]) -> None:
        """Delete the partials of hashes no longer pending here, unless own department is (again) a party of
        the hash: a document sent during the pass may have been listed before the cursor. Blocking."""
        for blob_hash in hashes:
            if department in self.queries.blob_parties(self.host.reader, blob_hash):
                continue
            self.store.drop_partial(blob_hash)
            self.stats.partials_dropped += 1
            log.info("blob %s: no document of %s waits for it; its partial was deleted", blob_hash.hex()[:16],
                     department)

    def _settle_in_flight(self, page: _Page, after: str | None) -> None:
        """Forget the reports, of documents in this page's range, whose outcome is known: the document left
        the list (delivered or withdrawn), or the transaction was committed without delivering it, or
        expired."""
        listed = {doc_id for doc_id, _, _ in page.entries}
        upper = None if page.is_last else page.entries[-1][0]
        for doc_id, entry in list(self._in_flight.items()):
            if (after is not None and doc_id <= after) or (upper is not None and doc_id > upper):
                continue
            if doc_id not in listed:
                del self._in_flight[doc_id]
            elif doc_id in page.committed:
                log.warning("the delivered report of document %s was committed but refused; sending it again",
                            doc_id)
                del self._in_flight[doc_id]
            elif page.head >= entry.expiry_height:
                del self._in_flight[doc_id]

    async def _visit(self, group: asyncio.TaskGroup, doc_id: str, blob_hash: bytes, size: int) -> None:
        held = self.store.size(blob_hash)
        if held is not None:
            if held == size and doc_id not in self._in_flight:
                await self._report(doc_id)
            return  # held at another size: the document's size is not the ciphertext's, nothing to fetch
        transfer = self._transfers.get((blob_hash, size))
        if transfer is not None and (transfer.running or transfer.retry_at > self._now()):
            return  # running, or in backoff: skipped, so the documents after it get their turn
        if len(self._fetching) >= self.settings.max_transfers or blob_hash in self._fetching:
            return
        if transfer is None:
            transfer = self._track(_Transfer(blob_hash, size))
        transfer.running = True
        self._fetching[blob_hash] = transfer.key
        task = group.create_task(self._run_transfer(transfer), name=f"blob {blob_hash.hex()[:16]}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _track(self, transfer: _Transfer) -> _Transfer:
        if len(self._transfers) >= self.settings.max_tracked:
            idle = [t for t in self._transfers.values() if not t.running]
            if idle:
                del self._transfers[min(idle, key=lambda t: t.retry_at).key]
        self._transfers[transfer.key] = transfer
        return transfer

    async def _report(self, doc_id: str) -> None:
        ticket = await self.host.submit_delivered(doc_id)
        if ticket is None:
            return  # not admitted (mempool full, ...): the next pass tries again
        self._in_flight[doc_id] = _InFlight(*ticket)
        self.stats.reported += 1
        log.info("document %s: ciphertext held, delivered report %s submitted", doc_id, ticket[0].hex()[:16])

    async def _run_transfer(self, transfer: _Transfer) -> None:
        """Fetch one blob; on failure schedule a retry. Never raises (but for cancellation)."""
        try:
            await self._fetch(transfer)
            self._transfers.pop(transfer.key, None)
        except _NoSource:
            self._back_off(transfer, "no connected peer has it")
        except BlobStoreFull as exc:
            self._back_off(transfer, exc.message, long=True)
        except ChainError as exc:
            self._back_off(transfer, f"{exc.code}: {exc.message}")
        except OSError as exc:
            self._back_off(transfer, f"disk error: {exc}", long=True)
        except Exception as exc:  # a bug: keep consensus running, log it loudly, retry later
            log.exception("blob transfer %s failed", transfer.blob_hash.hex()[:16])
            self._back_off(transfer, f"{type(exc).__name__}: {exc}", long=True)
        finally:
            transfer.running = False
            if self._fetching.get(transfer.blob_hash) == transfer.key:
                del self._fetching[transfer.blob_hash]
            self._wanted.set()

    def _back_off(self, transfer: _Transfer, reason: str, *, long: bool = False) -> None:
        transfer.failures += 1
        transfer.rotation += 1
        exponent = transfer.failures + (4 if long else 0) - 1
        delay = min(self.settings.backoff_max_s, self.settings.backoff_base_s * 2 ** min(exponent, 20))
        transfer.retry_at = self._now() + delay
        self.stats.last_error = reason
        log.info("blob %s not fetched (%s); retrying in %.1f s", transfer.blob_hash.hex()[:16], reason, delay)

    @staticmethod
    def _candidates(transfer: _Transfer, departments: dict[bytes, str | None], parties: frozenset[str]) -> list[bytes]:
        """Connected peers: the nodes of party departments (which hold or fetch the blob) first, then the
        others; each group in key order, rotated by the transfer's failed attempts, so that every attempt
        after a failure starts from another peer."""
        ordered: list[bytes] = []
        for group in ([k for k in departments if departments[k] in parties],
                      [k for k in departments if departments[k] not in parties]):
            group.sort()
            turn = transfer.rotation % len(group) if group else 0
            ordered += group[turn:] + group[:turn]
        return ordered

    async def _fetch(self, transfer: _Transfer) -> None:
        """One attempt: fetch the blob into the store, resuming from its partial. Raises _NoSource when every
        connected peer failed, BlobError when the bytes are not the blob (the partial is discarded, and the
        peer that served all of it scored down), BlobStoreFull or BlobTooLarge."""
        blob_hash, size = transfer.key
        parties = await asyncio.to_thread(self.queries.blob_parties, self.host.reader, blob_hash)
        departments = await asyncio.to_thread(self.host.peer_departments, self.host.connected_peers())
        offset = await asyncio.to_thread(self.store.open_partial, blob_hash, size)
        expected = transfer.sources[-1][1] if transfer.sources else transfer.known_from
        if expected != offset:
            transfer.known_from, transfer.sources = offset, []
        finished = False
        try:
            tried: set[bytes] = set()
            peer: bytes | None = None
            while offset < size:
                if peer is None:
                    peer = next((p for p in self._candidates(transfer, departments, parties) if p not in tried), None)
                    if peer is None:
                        raise _NoSource
                request = BlobRequest(blob_hash, offset, min(BLOB_CHUNK_MAX, size - offset))
                chunk = await self._fetch_chunk(peer, request, size)
                if chunk is None:
                    tried.add(peer)
                    peer = None
                    continue
                end = await asyncio.to_thread(self.store.append_partial, blob_hash, offset, chunk)
                transfer.sources.append((offset, end, peer))
                offset = end
                self.stats.bytes_fetched += len(chunk)
                if peer not in self.stats.peers_used:
                    self.stats.peers_used.append(peer)
            try:
                await asyncio.to_thread(self.store.finish_partial, blob_hash)
            except BlobError:
                self.stats.hash_mismatches += 1
                self._blame(transfer)
                raise
            finished = True
            self.stats.fetched += 1
            log.info("blob %s fetched (%d bytes)", blob_hash.hex()[:16], size)
        finally:
            if not finished:
                await asyncio.to_thread(self.store.close_partial, blob_hash)

    def _blame(self, transfer: _Transfer) -> None:
        """The finished partial was not the blob (and is gone): a peer that served every byte of it is
        scored down. With several sources, or bytes from before this process, no one is."""
        peers = {peer for _, _, peer in transfer.sources}
        if transfer.known_from == 0 and len(peers) == 1:
            [peer] = peers
            self.host.report_peer(peer, Offence.INVALID_SYNC_DATA,
                                  f"served blob {transfer.blob_hash.hex()[:16]} with bytes of another SHA-256")
        transfer.known_from, transfer.sources = None, []

    async def _fetch_chunk(self, peer: bytes, request: BlobRequest, size: int) -> bytes | None:
        """One chunk from `peer`, or None if it does not serve it now (the caller rotates)."""
        try:
            answer = await self.host.request(
                peer, KIND_BLOB, encode_blob_request(request), timeout=self.settings.request_timeout_s
            )
            response = decode_blob_response(answer, request)
        except InvalidInput as exc:
            self.host.report_peer(peer, Offence.INVALID_SYNC_DATA, f"unusable blob answer: {exc.message}")
            return None
        except (ChainError, OSError, TimeoutError) as exc:
            log.debug("blob request to %s failed: %s", peer.hex()[:16], exc)
            return None
        if response.status != STATUS_OK:
            return None
        if response.total != size:
            # the hash names the content, so a blob of another size is not the one this document names: its
            # holder (or the document's record) is wrong, and no byte from it can verify
            log.warning("peer %s holds blob %s as %d bytes, the document says %d", peer.hex()[:16],
                        request.blob_hash.hex()[:16], response.total, size)
            return None
        return response.data or None


class NodeDeliveryHost:
    """The fetcher's view of a node and its network (DeliveryHost)."""

    def __init__(self, node: Node, network: Network) -> None:
        self.node, self.network = node, network
        self.reader: StateReader = node.store

    def head_height(self) -> int:
        return self.node.head_height()

    def own_department(self) -> str | None:
        return get_node_department(self.node.store, self.node.node_key.public_key, self.node.head_height() + 1)

    def connected_peers(self) -> list[bytes]:
        return [info.key for info in self.network.peers()]

    def peer_departments(self, peers: Sequence[bytes]) -> dict[bytes, str | None]:
        height = self.node.head_height() + 1
        return {key: get_node_department(self.node.store, key, height) for key in peers}

    async def request(self, peer: bytes, kind: str, payload: bytes, *, timeout: float) -> bytes:
        return await self.network.request(peer, kind, payload, timeout=timeout)

    def report_peer(self, peer: bytes, offence: Offence, reason: str) -> None:
        self.network.report_peer(peer, offence, reason)

    async def submit_delivered(self, doc_id: str) -> tuple[bytes, int] | None:
        head = self.node.head_height()
        expiry = max(1, min(DELIVERED_EXPIRY_HEIGHTS, self.node.genesis.params.max_tx_ttl))
        raw, tx_id = compute_delivered_tx(doc_id, chain_id=self.node.genesis.chain_id, key=self.node.node_key,
                                          head=head, expiry_heights=expiry)
        [admission] = await self.node.submit([raw])
        if not admission.accepted:
            log.warning("the delivered report of document %s was not admitted: %s", doc_id, admission.error)
            return None
        return tx_id, head + expiry

    def is_committed(self, tx_id: bytes) -> bool:
        return self.node.store.has_tx(tx_id)
