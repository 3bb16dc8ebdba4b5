"""The blob store (chainnode/blobs.py): streamed uploads checked against their name and size, resumable
partials, the quota and per-blob limit, leftovers of a crash, range reads, and hostile hashes."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chainnode.blobs import (
    BlobHashMismatch,
    BlobNotFound,
    BlobSizeMismatch,
    BlobStore,
    BlobStoreFull,
    BlobTooLarge,
    InvalidBlobHash,
    receive_upload,
)
from chainnode.errors import InvalidInput

MiB = 1024 * 1024


def blob(size: int, seed: int = 1) -> tuple[bytes, bytes]:
    data = (bytes([seed]) * 7 + bytes(range(256)))[: max(1, size)] * (size // 263 + 1)
    data = data[:size]
    return data, hashlib.sha256(data).digest()


def make_store(root: Path, *, quota: int = 64 * MiB, max_blob: int = 8 * MiB) -> BlobStore:
    return BlobStore(root / "blobs", max_store_bytes=quota, max_blob_bytes=lambda: max_blob)


def upload(store: BlobStore, data: bytes, blob_hash: bytes, chunk: int = 100_000) -> None:
    writer = store.begin_upload(blob_hash, len(data))
    for start in range(0, len(data), chunk):
        writer.write(data[start : start + chunk])
    writer.finish()


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_streamed_upload_lands_under_its_hash_with_mode_0600(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    data, blob_hash = blob(3 * MiB + 17)
    upload(store, data, blob_hash)
    path = tmp_path / "blobs" / blob_hash.hex()
    assert path.read_bytes() == data
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.has(blob_hash) and store.size(blob_hash) == len(data)
    assert store.used_bytes() == len(data)
    assert files(tmp_path / "blobs") == [blob_hash.hex()]  # no temporary file left


def test_empty_blob(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    data, blob_hash = blob(0)
    upload(store, data, blob_hash)
    assert store.size(blob_hash) == 0 and store.read_range(blob_hash, 0, 10) == b""


def test_hash_mismatch_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    data, _ = blob(1000)
    _, other = blob(1000, seed=2)
    writer = store.begin_upload(other, len(data))
    writer.write(data)
    with pytest.raises(BlobHashMismatch, match=other.hex()):
        writer.finish()
    assert not store.has(other) and store.used_bytes() == 0
    assert files(tmp_path / "blobs") == []


def test_more_bytes_than_declared_stop_the_upload_at_once(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    data, blob_hash = blob(1000)
    writer = store.begin_upload(blob_hash, 999)
    writer.write(data[:900])
    with pytest.raises(BlobSizeMismatch, match="999"):
        writer.write(data[900:])
    assert files(tmp_path / "blobs") == [] and store.used_bytes() == 0
    with pytest.raises(InvalidInput):
        writer.write(b"x")  # the upload is over


def test_short_upload_is_refused(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    data, blob_hash = blob(1000)
    writer = store.begin_upload(blob_hash, 1000)
    writer.write(data[:10])
    with pytest.raises(BlobSizeMismatch, match="received 10 bytes"):
        writer.finish()
    assert files(tmp_path / "blobs") == [] and not store.has(blob_hash)


def test_abort_removes_the_temporary_file(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    data, blob_hash = blob(1000)
    writer = store.begin_upload(blob_hash, 1000)
    writer.write(data[:500])
    writer.abort()
    writer.abort()  # idempotent
    assert files(tmp_path / "blobs") == [] and store.used_bytes() == 0


def test_per_blob_maximum(tmp_path: Path) -> None:
    store = make_store(tmp_path, max_blob=1000)
    _, blob_hash = blob(1001)
    with pytest.raises(BlobTooLarge, match="max_document_bytes"):
        store.begin_upload(blob_hash, 1001)
    with pytest.raises(BlobTooLarge):
        store.open_partial(blob_hash, 1001)
    assert store.used_bytes() == 0


def test_quota_counts_complete_blobs_and_writes_in_progress(tmp_path: Path) -> None:
    store = make_store(tmp_path, quota=2 * MiB, max_blob=2 * MiB)
    data, blob_hash = blob(MiB)
    upload(store, data, blob_hash)
    _, second = blob(MiB // 2, seed=3)
    writer = store.begin_upload(second, MiB // 2)  # claims its size now
    _, third = blob(MiB // 2 + 1, seed=4)
    with pytest.raises(BlobStoreFull, match=r"max_store_bytes = 2097152"):
        store.begin_upload(third, MiB // 2 + 1)
    with pytest.raises(BlobStoreFull):
        store.open_partial(third, MiB // 2 + 1)
    writer.abort()  # releases its claim
    store.begin_upload(third, MiB // 2 + 1).abort()
    assert store.used_bytes() == MiB


def test_partial_resumes_from_its_size_across_restarts(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    data, blob_hash = blob(2 * MiB + 5)
    assert store.open_partial(blob_hash, len(data)) == 0
    assert store.append_partial(blob_hash, 0, data[:MiB]) == MiB
    # a crash: a new store over the same directory keeps the partial and counts it
    store = make_store(tmp_path)
    assert store.used_bytes() == MiB and not store.has(blob_hash)
    offset = store.open_partial(blob_hash, len(data))
    assert offset == MiB and store.used_bytes() == len(data)
    with pytest.raises(InvalidInput, match="holds 1048576"):
        store.append_partial(blob_hash, 0, data[:10])  # not at the end
    offset = store.append_partial(blob_hash, offset, data[offset:])
    store.finish_partial(blob_hash)
    assert store.read_range(blob_hash, 0, len(data)) == data
    assert files(tmp_path / "blobs") == [blob_hash.hex()]
    assert store.used_bytes() == len(data)


def test_partial_with_wrong_bytes_is_discarded(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    data, blob_hash = blob(5000)
    store.open_partial(blob_hash, len(data))
    store.append_partial(blob_hash, 0, data[:4000] + b"\x00" * 1000)
    with pytest.raises(BlobHashMismatch, match="discarded"):
        store.finish_partial(blob_hash)
    assert files(tmp_path / "blobs") == [] and store.used_bytes() == 0
    assert store.open_partial(blob_hash, len(data)) == 0  # starts over


def test_partial_past_its_declared_size_is_discarded(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    data, blob_hash = blob(5000)
    store.open_partial(blob_hash, 4000)
    with pytest.raises(BlobSizeMismatch):
        store.append_partial(blob_hash, 0, data)
    assert files(tmp_path / "blobs") == []
    # a partial longer than a later declared size is dropped when opened
    store.open_partial(blob_hash, 5000)
    store.append_partial(blob_hash, 0, data)
    store.close_partial(blob_hash)
    assert store.open_partial(blob_hash, 4000) == 0
    assert files(tmp_path / "blobs") == []


def test_short_partial_is_not_installed(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    data, blob_hash = blob(5000)
    store.open_partial(blob_hash, len(data))
    store.append_partial(blob_hash, 0, data[:100])
    with pytest.raises(BlobSizeMismatch, match="received 100 bytes"):
        store.finish_partial(blob_hash)
    assert not store.has(blob_hash)


def test_startup_removes_stale_uploads_and_keeps_partials(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    data, blob_hash = blob(3000)
    writer = store.begin_upload(blob_hash, len(data))
    writer.write(data[:1000])  # the process dies here: a temporary file is left
    writer._file.close()
    store.open_partial(blob_hash, len(data))
    store.append_partial(blob_hash, 0, data[:2000])
    _, done = blob(10, seed=9)
    upload(store, blob(10, seed=9)[0], done)
    # a partial of a blob that was completed (the crash came between rename and cleanup)
    (tmp_path / "blobs" / "partial" / f"{done.hex()}.part").write_bytes(b"x")
    (tmp_path / "blobs" / "README").write_text("not a blob")
    store = make_store(tmp_path)
    assert files(tmp_path / "blobs") == sorted(["README", done.hex(), f"partial/{blob_hash.hex()}.part"])
    assert store.has(done) and not store.has(blob_hash)
    assert store.used_bytes() == 10 + 2000
    assert store.open_partial(blob_hash, len(data)) == 2000


def test_range_reads(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    data, blob_hash = blob(3 * MiB + 3)
    upload(store, data, blob_hash)
    assert store.read_range(blob_hash, 10, 100) == data[10:110]
    assert store.read_range(blob_hash, len(data) - 5, 100) == data[-5:]
    assert store.read_range(blob_hash, len(data) + 5, 100) == b""
    assert b"".join(store.iter_range(blob_hash)) == data
    assert b"".join(store.iter_range(blob_hash, MiB - 1, MiB + 2)) == data[MiB - 1 : 2 * MiB + 1]
    with pytest.raises(InvalidInput):
        store.read_range(blob_hash, -1, 10)
    with pytest.raises(BlobNotFound):
        store.read_range(blob(5, seed=7)[1], 0, 10)


@pytest.mark.parametrize(
    "hostile",
    [b"", b"\x00" * 31, b"\x00" * 33, "ab" * 32, b"../../etc/passwd".ljust(33, b"\x00"), None, 7],
)
def test_hostile_hashes_are_refused_before_any_path(tmp_path: Path, hostile: object) -> None:
    store = make_store(tmp_path)
    for call in (
        lambda: store.has(hostile),  # type: ignore[arg-type]
        lambda: store.size(hostile),  # type: ignore[arg-type]
        lambda: store.read_range(hostile, 0, 1),  # type: ignore[arg-type]
        lambda: store.begin_upload(hostile, 1),  # type: ignore[arg-type]
        lambda: store.open_partial(hostile, 1),  # type: ignore[arg-type]
    ):
        with pytest.raises(InvalidBlobHash):
            call()
    assert files(tmp_path / "blobs") == [] and store.used_bytes() == 0


def test_a_hash_with_path_bytes_only_ever_names_its_hex(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    hostile = b"../../" + b"\x00" * 26
    with pytest.raises(BlobHashMismatch):
        upload(store, b"abc", hostile)
    assert os.listdir(tmp_path) == ["blobs"] and files(tmp_path / "blobs") == []


def test_negative_size_is_refused(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    with pytest.raises(BlobSizeMismatch):
        store.begin_upload(blob(1)[1], -1)


async def chunks_of(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_receive_upload_streams_off_the_loop(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    data, blob_hash = blob(2 * MiB + 1)
    await receive_upload(store, blob_hash, len(data), chunks_of(data, 65536))
    assert store.read_range(blob_hash, 0, len(data)) == data
    other, other_hash = blob(1000, seed=5)
    with pytest.raises(BlobSizeMismatch):
        await receive_upload(store, other_hash, 999, chunks_of(other, 100))
    with pytest.raises(BlobHashMismatch):
        await receive_upload(store, other_hash, 1000, chunks_of(bytes(1000), 100))
    assert files(tmp_path / "blobs") == [blob_hash.hex()] and store.used_bytes() == len(data)


def test_partial_hashes_lists_open_and_closed_partials_and_drop_releases_them(tmp_path: Path) -> None:
    data, blob_hash = blob(3000)
    other_data, other_hash = blob(2000, seed=2)
    store = make_store(tmp_path)
    assert store.partial_hashes() == frozenset()
    store.open_partial(blob_hash, len(data))
    assert store.partial_hashes() == {blob_hash}  # open, nothing written yet
    store.append_partial(blob_hash, 0, data[:1000])
    store.close_partial(blob_hash)
    store.open_partial(other_hash, len(other_data))
    store.close_partial(other_hash)  # nothing on disk: no partial left
    assert store.partial_hashes() == {blob_hash}
    restarted = make_store(tmp_path)
    assert restarted.partial_hashes() == {blob_hash} and restarted.used_bytes() == 1000
    restarted.drop_partial(blob_hash)
    assert restarted.partial_hashes() == frozenset() and restarted.used_bytes() == 0
    assert make_store(tmp_path).partial_hashes() == frozenset()
