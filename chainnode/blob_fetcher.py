"""The delivery fetcher: brings the ciphertexts of this department's inbox to the node, then reports them
delivered on chain.

Theory of operation. On start and after each committed block (`notify`), the fetcher reads
`pending_deliveries` for its own department at the head. For a document whose ciphertext the store holds,
it submits `documents.delivered {"doc_id"}` signed by the node key, once: the document stays in flight
until the state no longer lists it (delivered or withdrawn), the transaction is committed and the document
is still listed (the contract refused it), or the transaction expired; only then may it be sent again.
For a ciphertext not held, it starts a transfer (at most `max_transfers` at once): chunk after chunk of
at most 1 MiB (`blob` requests, chainnode/blob_transfer.py) appended to the store's partial, from the
connected peers, those of a party department first. A peer that answers `missing`, `refused`, an error or
nothing in time is skipped for the rest of the round; when every peer was tried, the transfer waits
(exponential backoff) and starts a new round. Because the partial is on disk, a transfer resumes where it
stopped after a lost peer or a restart. At the end the store checks the size and SHA-256; a mismatch
discards the partial and the transfer starts over after a backoff. A peer whose answer is malformed is
scored down (`INVALID_SYNC_DATA`).

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
    """What the fetcher needs of the node and the network (chainnode/bft.py adapts them)."""

    reader: StateReader

    def head_height(self) -> int: ...

    def own_department(self) -> str | None:
        """This node's department at the head (None if its key is not a department's node key)."""
        ...

    def peer_departments(self) -> dict[bytes, str | None]:
        """The connected peers and the department each is the node of at the head (None if none)."""
        ...

    async def request(self, peer: bytes, kind: str, payload: bytes, *, timeout: float) -> bytes: ...

    def report_peer(self, peer: bytes, offence: Offence, reason: str) -> None: ...

    async def submit_delivered(self, doc_id: str) -> tuple[bytes, int] | None:
        """Sign and submit the delivered report: `(tx_id, expiry_height)`, or None if it was not admitted."""
        ...

    def is_committed(self, tx_id: bytes) -> bool: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class FetcherSettings:
    max_transfers: int = 2
    """Transfers running at once."""
    request_timeout_s: float = 30.0
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    pending_limit: int = 256
    """Documents read from `pending_deliveries` per pass."""


@dataclass(slots=True)
class _Transfer:
    blob_hash: bytes
    size: int
    failures: int = 0
    retry_at: float = 0.0
    running: bool = False


@dataclass(slots=True)
class _InFlight:
    tx_id: bytes
    expiry_height: int


@dataclass(slots=True)
class FetcherStats:
    fetched: int = 0
    bytes_fetched: int = 0
    reported: int = 0
    hash_mismatches: int = 0
    last_error: str = ""
    peers_used: list[bytes] = field(default_factory=list)


class _NoSource(Exception):
    """Every connected peer was tried in this round."""


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
        self._transfers: dict[bytes, _Transfer] = {}
        self._in_flight: dict[str, _InFlight] = {}
        self._tasks: set[asyncio.Task[None]] = set()
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
        """Seconds until the next backoff ends; None if none is running (a transfer that only waits for a
        free slot is started when a running one ends, which notifies)."""
        now = self._now()
        waiting = [t.retry_at for t in self._transfers.values() if not t.running and t.retry_at > now]
        return None if not waiting else max(0.0, min(waiting) - now)

    async def _pass(self, group: asyncio.TaskGroup) -> None:
        department = self.host.own_department()
        if department is None:
            return
        limit = self.settings.pending_limit
        pending = await asyncio.to_thread(self.queries.pending_deliveries, self.host.reader, department, limit)
        self._settle_in_flight(pending, complete=len(pending) < limit)
        listed = {blob_hash for _, blob_hash, _ in pending}
        for blob_hash in [h for h, t in self._transfers.items() if h not in listed and not t.running]:
            del self._transfers[blob_hash]  # no longer wanted (delivered by another path, or withdrawn)
        for doc_id, blob_hash, size in pending:
            if self.store.has(blob_hash):
                if doc_id not in self._in_flight:
                    await self._report(doc_id)
                continue
            transfer = self._transfers.setdefault(blob_hash, _Transfer(blob_hash, size))
            running = sum(t.running for t in self._transfers.values())
            if transfer.running or transfer.retry_at > self._now() or running >= self.settings.max_transfers:
                continue
            transfer.running = True
            task = group.create_task(self._run_transfer(transfer), name=f"blob {blob_hash.hex()[:16]}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _settle_in_flight(self, pending: Sequence[tuple[str, bytes, int]], *, complete: bool) -> None:
        """Forget reports whose outcome is known: the document left the list (delivered or withdrawn), or
        the transaction was committed without delivering it, or expired."""
        listed = {doc_id for doc_id, _, _ in pending}
        head = self.host.head_height()
        for doc_id, entry in list(self._in_flight.items()):
            if doc_id not in listed:
                if complete:
                    del self._in_flight[doc_id]
            elif self.host.is_committed(entry.tx_id):
                log.warning("the delivered report of document %s was committed but refused; sending it again",
                            doc_id)
                del self._in_flight[doc_id]
            elif head >= entry.expiry_height:
                del self._in_flight[doc_id]

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
            await self.fetch(transfer.blob_hash, transfer.size)
            transfer.failures = 0
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
            self._wanted.set()

    def _back_off(self, transfer: _Transfer, reason: str, *, long: bool = False) -> None:
        transfer.failures += 1
        exponent = transfer.failures + (4 if long else 0) - 1
        delay = min(self.settings.backoff_max_s, self.settings.backoff_base_s * 2 ** min(exponent, 20))
        transfer.retry_at = self._now() + delay
        self.stats.last_error = reason
        log.info("blob %s not fetched (%s); retrying in %.1f s", transfer.blob_hash.hex()[:16], reason, delay)

    def _candidates(self, parties: frozenset[str]) -> list[bytes]:
        """Connected peers: the nodes of party departments (which hold or fetch the blob) first."""
        departments = self.host.peer_departments()
        return sorted(departments, key=lambda key: (departments[key] not in parties, key))

    async def fetch(self, blob_hash: bytes, size: int) -> None:
        """Fetch one blob into the store, resuming from its partial. Raises _NoSource when every connected
        peer failed in this round, BlobError when the bytes are not the blob (the partial is discarded),
        BlobStoreFull or BlobTooLarge."""
        parties = await asyncio.to_thread(self.queries.blob_parties, self.host.reader, blob_hash)
        offset = await asyncio.to_thread(self.store.open_partial, blob_hash, size)
        finished = False
        try:
            tried: set[bytes] = set()
            peer: bytes | None = None
            while offset < size:
                if peer is None:
                    peer = next((p for p in self._candidates(parties) if p not in tried), None)
                    if peer is None:
                        raise _NoSource
                request = BlobRequest(blob_hash, offset, min(BLOB_CHUNK_MAX, size - offset))
                chunk = await self._fetch_chunk(peer, request, size)
                if chunk is None:
                    tried.add(peer)
                    peer = None
                    continue
                offset = await asyncio.to_thread(self.store.append_partial, blob_hash, offset, chunk)
                self.stats.bytes_fetched += len(chunk)
                if peer not in self.stats.peers_used:
                    self.stats.peers_used.append(peer)
            try:
                await asyncio.to_thread(self.store.finish_partial, blob_hash)
            except BlobError:
                self.stats.hash_mismatches += 1
                raise
            finished = True
            self.stats.fetched += 1
            log.info("blob %s fetched (%d bytes)", blob_hash.hex()[:16], size)
        finally:
            if not finished:
                await asyncio.to_thread(self.store.close_partial, blob_hash)

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
            # the hash names the content, so a blob of another size is not the one on chain: its holder
            # (or the document's record) is wrong, and no byte from it can verify
            log.warning("peer %s holds blob %s as %d bytes, the chain says %d", peer.hex()[:16],
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

    def peer_departments(self) -> dict[bytes, str | None]:
        height = self.node.head_height() + 1
        return {info.key: get_node_department(self.node.store, info.key, height) for info in self.network.peers()}

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
