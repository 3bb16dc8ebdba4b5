"""The `blob` request (chainnode/blob_transfer.py): who is served, what is answered, and malformed requests
refused as the peer's fault; the documents queries are fakes over a real genesis roster."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from chainnode import codec
from chainnode.blob_transfer import (
    BlobRequest,
    BlobResponse,
    BlobServer,
    NoDocuments,
    decode_blob_request,
    decode_blob_response,
    encode_blob_request,
    encode_blob_response,
    get_max_document_bytes,
    get_node_department,
    get_pending_page,
)
from chainnode.blobs import BlobStore
from chainnode.driver.gossip import LIMITS
from chainnode.errors import InvalidInput
from chainnode.limits import BLOB_CHUNK_MAX
from network.scoring import Offence
from tests.contract_kit import Chain, key_for
from tests.kit import FakeDocuments, new_store, put_blob

PSB, CAB, SAMR = (key_for(f"{code}/node").public_key for code in ("PSB", "CAB", "SAMR"))
CLERK = key_for("PSB/clerk").public_key
DATA = bytes(range(256)) * 5000  # 1.28 MB: more than one chunk
HASH = hashlib.sha256(DATA).digest()
UNKNOWN = hashlib.sha256(b"no document carries this").digest()
NOT_HELD = hashlib.sha256(b"a document this node lacks").digest()


@dataclass
class Fixture:
    server: BlobServer
    store: BlobStore
    reports: list[tuple[bytes, Offence, str]]

    async def ask(self, peer: bytes, blob_hash: bytes, offset: int = 0, length: int = BLOB_CHUNK_MAX) -> BlobResponse:
        request = BlobRequest(blob_hash, offset, length)
        answer = await self.server.serve(peer, encode_blob_request(request))
        assert len(answer) <= LIMITS["blob"]
        return decode_blob_response(answer, request)


@pytest.fixture
def fixture(tmp_path: Path) -> Fixture:
    chain = Chain()
    store = new_store(tmp_path / "blobs")
    put_blob(store, HASH, DATA)
    documents = FakeDocuments({HASH: frozenset({"PSB", "CAB"}), NOT_HELD: frozenset({"PSB", "CAB"})})
    reports: list[tuple[bytes, Offence, str]] = []
    server = BlobServer(store, chain.state, documents, head_height=lambda: chain.height,
                        report=lambda peer, offence, reason: reports.append((peer, offence, reason)))
    return Fixture(server, store, reports)


async def test_a_party_node_is_served_in_chunks(fixture: Fixture) -> None:
    first = await fixture.ask(CAB, HASH)
    assert first == BlobResponse("ok", len(DATA), DATA[:BLOB_CHUNK_MAX])
    rest = await fixture.ask(CAB, HASH, BLOB_CHUNK_MAX)
    assert rest.data == DATA[BLOB_CHUNK_MAX:] and rest.total == len(DATA)
    assert (await fixture.ask(PSB, HASH, 10, 5)).data == DATA[10:15]
    assert await fixture.ask(CAB, HASH, len(DATA)) == BlobResponse("ok", len(DATA), b"")  # at the end
    assert fixture.reports == []


async def test_a_non_party_node_is_refused_and_scored_down(fixture: Fixture) -> None:
    assert await fixture.ask(SAMR, HASH) == BlobResponse("refused", 0, b"")
    [(peer, offence, reason)] = fixture.reports
    assert peer == SAMR and offence is Offence.REJECTED_MESSAGE
    assert "the node of SAMR" in reason and "CAB, PSB" in reason


async def test_a_key_that_is_no_node_key_is_refused(fixture: Fixture) -> None:
    assert await fixture.ask(CLERK, HASH) == BlobResponse("refused", 0, b"")
    assert await fixture.ask(b"\x07" * 32, HASH) == BlobResponse("refused", 0, b"")
    assert [r[0] for r in fixture.reports] == [CLERK, b"\x07" * 32]
    assert "not a department's node key" in fixture.reports[0][2]


async def test_a_blob_no_document_carries_is_refused_without_penalty(fixture: Fixture) -> None:
    # the asker may be ahead of this node, whose chain does not know the document yet
    assert await fixture.ask(CAB, UNKNOWN) == BlobResponse("refused", 0, b"")
    assert fixture.reports == []


async def test_a_blob_not_held_is_missing(fixture: Fixture) -> None:
    assert await fixture.ask(CAB, NOT_HELD) == BlobResponse("missing", 0, b"")
    assert fixture.reports == []


async def test_an_offset_past_the_end_is_the_askers_fault(fixture: Fixture) -> None:
    with pytest.raises(InvalidInput, match="past the blob's end"):
        await fixture.server.serve(CAB, encode_blob_request(BlobRequest(HASH, len(DATA) + 1, 10)))


MALFORMED = [
    b"",
    b"\xc1",
    codec.encode("hello"),
    codec.encode([HASH, 0]),
    codec.encode([HASH, 0, 1, 2]),
    codec.encode([HASH[:31], 0, 1]),
    codec.encode([HASH + b"\x00", 0, 1]),
    codec.encode([HASH.hex(), 0, 1]),
    codec.encode([HASH, -1, 1]),
    codec.encode([HASH, True, 1]),
    codec.encode([HASH, 0, 0]),
    codec.encode([HASH, 0, BLOB_CHUNK_MAX + 1]),
    codec.encode([HASH, 0, "1"]),
    codec.encode([HASH, None, 1]),
    codec.encode({"hash": HASH, "offset": 0, "length": 1}),
    codec.encode([HASH, 0, 1]) + b"\x00",
    codec.encode([HASH, 0, b"x" * 100]),
]


@pytest.mark.parametrize("payload", MALFORMED, ids=range(len(MALFORMED)))
async def test_malformed_requests_are_refused_and_change_nothing(fixture: Fixture, payload: bytes) -> None:
    with pytest.raises(InvalidInput):
        await fixture.server.serve(CAB, payload)
    assert fixture.store.size(HASH) == len(DATA) and fixture.store.used_bytes() == len(DATA)


def test_request_round_trip_and_limits() -> None:
    request = BlobRequest(HASH, 2**63 - 1, BLOB_CHUNK_MAX)
    assert decode_blob_request(encode_blob_request(request)) == request
    full = encode_blob_response(BlobResponse("ok", 2**63 - 1, b"x" * BLOB_CHUNK_MAX))
    assert len(full) <= LIMITS["blob"]


@pytest.mark.parametrize(
    "answer",
    [
        ["ok", 100, b"x" * 11],  # more than asked
        ["ok", 5, b"x" * 10],  # past the total
        ["ok", 100, b""],  # nothing, though the blob goes on
        ["missing", 5, b""],
        ["refused", 0, b"x"],
        ["maybe", 0, b""],
        ["ok", -1, b""],
        ["ok", 100],
    ],
)
def test_unusable_responses_are_refused(answer: list[object]) -> None:
    with pytest.raises(InvalidInput):
        decode_blob_response(codec.encode(answer), BlobRequest(HASH, 0, 10))


def test_node_departments_come_from_the_roster() -> None:
    chain = Chain()
    assert get_node_department(chain.state, PSB, 1) == "PSB"
    assert get_node_department(chain.state, CLERK, 1) is None  # a member, but not the node key
    assert get_node_department(chain.state, b"\x01" * 32, 1) is None
    assert get_max_document_bytes(chain.state) == 64 * 1024 * 1024


async def test_more_than_two_requests_at_once_are_refused_unread_and_scored(tmp_path: Path) -> None:
    chain = Chain()
    store = new_store(tmp_path / "blobs")
    put_blob(store, HASH, DATA)
    reads: list[int] = []
    read_range = store.read_range

    def counting_read(blob_hash: bytes, offset: int, length: int) -> bytes:
        reads.append(offset)
        return read_range(blob_hash, offset, length)

    store.read_range = counting_read  # type: ignore[method-assign]
    reports: list[tuple[bytes, Offence, str]] = []
    server = BlobServer(store, chain.state, FakeDocuments({HASH: frozenset({"PSB", "CAB"})}),
                        head_height=lambda: chain.height, delay_s=0.2,
                        report=lambda peer, offence, reason: reports.append((peer, offence, reason)))
    fixture = Fixture(server, store, reports)
    asks = [asyncio.create_task(fixture.ask(CAB, HASH, offset)) for offset in (0, 1, 2)]
    other = asyncio.create_task(fixture.ask(PSB, HASH, 3))  # another peer has its own allowance
    third = await asyncio.wait_for(asks[2], 0.1)  # answered at once, before the two in flight
    assert third == BlobResponse("refused", 0, b"") and reads == []
    [(peer, offence, reason)] = reports
    assert peer == CAB and offence is Offence.REJECTED_MESSAGE and "more than 2 blob requests at once" in reason
    first, second = await asks[0], await asks[1]
    assert first.data == DATA[:BLOB_CHUNK_MAX] and second.data == DATA[1 : 1 + BLOB_CHUNK_MAX]
    assert (await other).status == "ok"
    assert (await fixture.ask(CAB, HASH, 4)).status == "ok"  # the allowance comes back
    assert sorted(reads) == [0, 1, 3, 4] and len(reports) == 1


def test_pending_pages_follow_the_cursor() -> None:
    chain = Chain()
    entries = [(f"doc-{n:02}", HASH, n) for n in range(7)]
    queries = FakeDocuments(pending={"CAB": list(entries)})
    pages, after = [], None
    while True:
        page, is_last = get_pending_page(queries, chain.state, "CAB", 3, after=after)
        pages.append(page)
        if is_last:
            break
        after = page[-1][0]
    assert pages == [entries[:3], entries[3:6], entries[6:]]
    assert queries.pages == [None, "doc-02", "doc-05"]
    # entries added before the cursor do not shift the next page
    queries.pending["CAB"] += [("doc-00a", HASH, 1), ("doc-00b", HASH, 1), ("doc-00c", HASH, 1)]
    page, is_last = get_pending_page(queries, chain.state, "CAB", 3, after="doc-02")
    assert page == entries[3:6] and not is_last
    page, is_last = get_pending_page(queries, chain.state, "CAB", 3, after="doc-05")
    assert page == entries[6:] and is_last
    assert get_pending_page(NoDocuments(), chain.state, "CAB", 3, after=None) == ([], True)
