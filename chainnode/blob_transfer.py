"""The `blob` request: how one node serves document ciphertexts to another over the peer network.

Wire format (docs/documents.md, "Blob store and transfer"; canonical msgpack arrays like every request):

    request   [hash (bin, 32 bytes), offset (int >= 0), length (int, 1 .. 1 MiB)]
    response  [status ("ok" | "missing" | "refused"), total (int >= 0), data (bin, at most `length` bytes)]

A node answers only a peer whose node key is, at its head, the node key of a department that may fetch the
ciphertext (`blob_parties`: the sender and the recipients of a document carrying it). Anything else is
`refused`; when the chain knows the ciphertext, a refusal also scores the asker down (`REJECTED_MESSAGE`):
it asked for what its department may not read. A blob this node does not hold is `missing` (total 0).
A request that is not the shape above is the peer's fault: `decode_blob_request` raises InvalidInput, which
the link answers `invalid_input` and charges to the peer. A peer with `MAX_REQUESTS_IN_FLIGHT` requests
being answered already gets `refused` for a further one, without a state or disk read, and is scored down
(`REJECTED_MESSAGE`): an honest fetcher never asks more at once. State and disk reads run in a worker
thread.

The documents contract's queries are injected (`DocumentQueries`), so this module does not depend on it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal, Protocol

from chainnode import codec
from chainnode.blobs import HASH_SIZE, BlobNotFound, BlobStore
from chainnode.errors import InvalidInput
from chainnode.limits import BLOB_CHUNK_MAX, BLOB_MESSAGE_LIMIT
from contracts import governance, proposals
from contracts.base import StateReader
from network.scoring import Offence

log = logging.getLogger("chainnode.blobs")

KIND_BLOB: Final = "blob"
STATUS_OK: Final = "ok"
STATUS_MISSING: Final = "missing"
STATUS_REFUSED: Final = "refused"
STATUSES: Final = (STATUS_OK, STATUS_MISSING, STATUS_REFUSED)
MAX_OFFSET: Final = 2**63 - 1
REQUEST_LIMIT: Final = 64
"""A request is at most 49 bytes."""
MAX_REQUESTS_IN_FLIGHT: Final = 2
"""`blob` requests of one peer answered at once; the fetcher runs at most 2 transfers, one request each."""

Status = Literal["ok", "missing", "refused"]


class DocumentQueries(Protocol):
    """What the transfer needs of the documents contract (contracts/documents.py provides these functions;
    a module with them satisfies this Protocol, whatever it names the parameters)."""

    def blob_parties(self, reader: StateReader, ciphertext_sha256: bytes, /) -> frozenset[str]:
        """The department codes allowed to fetch that ciphertext (empty if no document carries it)."""
        ...

    def pending_deliveries(
        self, reader: StateReader, department: str, limit: int, /, *, after: str | None = None
    ) -> list[tuple[str, bytes, int]]:
        """`(doc_id, ciphertext_sha256, ciphertext_size)` of up to `limit` inbox documents of `department`
        whose ciphertext its node has not reported delivered, in doc_id order, those with a doc_id greater
        than `after` (all of them when `after` is None)."""
        ...


def get_pending_page(
    queries: DocumentQueries, reader: StateReader, department: str, limit: int, *, after: str | None
) -> tuple[list[tuple[str, bytes, int]], bool]:
    """Up to `limit` pending deliveries of `department` whose doc_id is greater than `after`, and whether
    they are the last. Blocking (state reads)."""
    entries = queries.pending_deliveries(reader, department, limit, after=after)
    return entries, len(entries) < limit


class NoDocuments:
    """The queries before the documents contract is wired in: no document, so nothing to serve or fetch."""

    def blob_parties(self, reader: StateReader, ciphertext_sha256: bytes) -> frozenset[str]:
        return frozenset()

    def pending_deliveries(
        self, reader: StateReader, department: str, limit: int, *, after: str | None = None
    ) -> list[tuple[str, bytes, int]]:
        return []


@dataclass(frozen=True, slots=True)
class BlobRequest:
    blob_hash: bytes
    offset: int
    length: int


@dataclass(frozen=True, slots=True)
class BlobResponse:
    status: Status
    total: int
    """The blob's size when `status` is "ok", else 0."""
    data: bytes


def encode_blob_request(request: BlobRequest) -> bytes:
    return codec.encode([request.blob_hash, request.offset, request.length])


def decode_blob_request(payload: bytes) -> BlobRequest:
    """Raises InvalidInput unless `payload` is `[hash (32 bytes), offset (0 .. 2^63-1), length (1 .. 1 MiB)]`."""
    value = codec.decode(payload, max_size=REQUEST_LIMIT)
    # [REJECT] anything but a 3-element array
    if type(value) is not list or len(value) != 3:
        raise InvalidInput("a blob request is [hash, offset, length]")
    blob_hash, offset, length = value
    # [REJECT] a hash that is not 32 bytes
    if type(blob_hash) is not bytes or len(blob_hash) != HASH_SIZE:
        raise InvalidInput("a blob request's hash is 32 bytes", field="hash")
    # [REJECT] an offset or length that is not an integer in range
    if type(offset) is not int or not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput(f"a blob request's offset is 0 to {MAX_OFFSET}", field="offset")
    if type(length) is not int or not 1 <= length <= BLOB_CHUNK_MAX:
        raise InvalidInput(f"a blob request's length is 1 to {BLOB_CHUNK_MAX}", field="length")
    return BlobRequest(blob_hash, offset, length)


def encode_blob_response(response: BlobResponse) -> bytes:
    return codec.encode([response.status, response.total, response.data])


def decode_blob_response(payload: bytes, request: BlobRequest) -> BlobResponse:
    """A peer's answer to `request`. Raises InvalidInput unless it is `[status, total, data]` with a known
    status, "ok" carrying `total > offset` (or `== offset` with no data) and at most `length` bytes that
    do not pass `total`, and the other statuses `total` 0 and no data."""
    value = codec.decode(payload, max_size=BLOB_MESSAGE_LIMIT)
    if type(value) is not list or len(value) != 3:
        raise InvalidInput("a blob response is [status, total, data]")
    status, total, data = value
    if type(status) is not str or status not in STATUSES:
        raise InvalidInput(f"a blob response's status is one of {', '.join(STATUSES)}", field="status")
    if type(total) is not int or not 0 <= total <= MAX_OFFSET or type(data) is not bytes:
        raise InvalidInput("a blob response's total is a non-negative integer and its data bytes")
    if status != STATUS_OK:
        if total or data:
            raise InvalidInput(f"a {status} blob response carries no total and no data")
    elif len(data) > request.length or request.offset + len(data) > total or (not data and total != request.offset):
        raise InvalidInput(
            f"a blob response of {len(data)} bytes at {request.offset} does not fit the request or its total {total}"
        )
    return BlobResponse(status, total, data)  # type: ignore[arg-type]


def get_node_department(reader: StateReader, node_key: bytes, height: int) -> str | None:
    """The department whose node key `node_key` is at `height` (holding the role `node`), or None."""
    member = governance.member_at(reader, node_key, height)
    if member is None or governance.ROLE_NODE not in member.roles:
        return None
    return member.department


def get_max_document_bytes(reader: StateReader) -> int:
    """The governance limit on one document's ciphertext: the one the documents contract enforces."""
    return proposals.max_document_bytes(reader)


class BlobServer:
    """Answers `blob` requests from the store, for the departments the chain lets read each blob.

    `report(peer, offence, reason)` scores a peer down (Network.report_peer); `head_height()` is the
    committed head, whose roster and documents decide who is served.
    """

    def __init__(
        self, store: BlobStore, reader: StateReader, queries: DocumentQueries, *, head_height: Callable[[], int],
        report: Callable[[bytes, Offence, str], None], delay_s: float = 0.0,
    ) -> None:
        self._store, self._reader, self._queries = store, reader, queries
        self._head_height, self._report = head_height, report
        self._delay_s = delay_s
        """Test fault `slow-blobs` only: wait this long before each answer, so a transfer can be interrupted."""
        self._in_flight: dict[bytes, int] = {}
        """Peer -> its requests being answered (only peers with one or more)."""

    async def serve(self, peer: bytes, payload: bytes) -> bytes:
        """The answer to one `blob` request from `peer`. Raises InvalidInput for a malformed request."""
        request = decode_blob_request(payload)
        busy = self._in_flight.get(peer, 0)
        # [REJECT] more requests at once than a fetcher makes: refused before any read, and scored down
        if busy >= MAX_REQUESTS_IN_FLIGHT:
            reason = f"more than {MAX_REQUESTS_IN_FLIGHT} blob requests at once"
            log.info("refused blob %s to %s: %s", request.blob_hash.hex()[:16], peer.hex()[:16], reason)
            self._report(peer, Offence.REJECTED_MESSAGE, reason)
            return encode_blob_response(BlobResponse(STATUS_REFUSED, 0, b""))
        self._in_flight[peer] = busy + 1
        try:
            if self._delay_s:
                await asyncio.sleep(self._delay_s)
            response, refusal = await asyncio.to_thread(self.compute_response, peer, request, self._head_height())
        finally:
            left = self._in_flight.pop(peer) - 1
            if left:
                self._in_flight[peer] = left
        if refusal is not None:
            log.info("refused blob %s to %s: %s", request.blob_hash.hex()[:16], peer.hex()[:16], refusal)
            self._report(peer, Offence.REJECTED_MESSAGE, refusal)
        return encode_blob_response(response)

    def compute_response(self, peer: bytes, request: BlobRequest, head: int) -> tuple[BlobResponse, str | None]:
        """The response, and the reason to score the peer down if it asked for what it may not read.
        Blocking (state and file reads): run it in a worker thread."""
        parties = self._queries.blob_parties(self._reader, request.blob_hash)
        department = get_node_department(self._reader, peer, head + 1)
        if department is None or department not in parties:
            if not parties:
                # the chain here does not know the blob yet (this node may lag the asker): no offence
                return BlobResponse(STATUS_REFUSED, 0, b""), None
            who = "not a department's node key" if department is None else f"the node of {department}"
            return BlobResponse(STATUS_REFUSED, 0, b""), f"asked for blob {request.blob_hash.hex()[:16]} as {who}, " \
                f"which is not one of {', '.join(sorted(parties))}"
        total = self._store.size(request.blob_hash)
        if total is None:
            return BlobResponse(STATUS_MISSING, 0, b""), None
        if request.offset > total:
            raise InvalidInput(f"offset {request.offset} is past the blob's end ({total})", field="offset")
        try:
            data = self._store.read_range(request.blob_hash, request.offset, request.length)
        except BlobNotFound:
            return BlobResponse(STATUS_MISSING, 0, b""), None
        return BlobResponse(STATUS_OK, total, data), None
