"""The blob store: document ciphertexts kept off chain, in the node home, by their SHA-256.

Layout under `HOME/blobs/` (docs/documents.md, "Blob store and transfer"):

    <sha256 hex>                 a complete, verified blob (mode 0600)
    partial/<sha256 hex>.part    a peer transfer in progress; its size is the offset to resume from
    tmp/<sha256 hex>.<n>.tmp     a client upload in progress; removed at startup (it cannot be resumed)

Theory of operation. A blob reaches its final name only by `os.replace` of a file that was written to the
end, checked (size and SHA-256 against the name) and fsynced, followed by an fsync of the directory: a
crash leaves a temporary file or a partial, never a short or wrong blob under a final name. Bytes are
streamed: nothing here holds a whole blob in memory. Space is bounded per blob (`max_blob_bytes`, the
governance `max_document_bytes`, asked at each new write) and in total (`max_store_bytes`, config
`[documents] max_store_bytes`): a write claims its declared size up front, so concurrent writes can never
overshoot the quota together.

Threads. Every method of `BlobStore` and `BlobUpload` except `has`, `size`, `used_bytes` and
`partial_hashes` does blocking file I/O: async callers run them with `asyncio.to_thread` (the peer server
and the fetcher do; `receive_upload` does it for a client's upload). The bookkeeping is guarded by one
lock, so any number of threads may use one store.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import os
import re
import threading
import time
from collections.abc import AsyncIterable, Callable, Iterator
from pathlib import Path
from typing import BinaryIO, Final

from chainnode.errors import ChainError, InvalidInput, NotFound

log = logging.getLogger("chainnode.blobs")

HASH_SIZE: Final = 32
FILE_MODE: Final = 0o600
READ_CHUNK: Final = 1024 * 1024
DEFAULT_MAX_STORE_BYTES: Final = 16 * 1024**3
_HEX_NAME: Final = re.compile(r"[0-9a-f]{64}")


class BlobError(InvalidInput):
    """A blob write was refused: the bytes are not what was declared (the writer's fault)."""

    code = "blob_invalid"


class InvalidBlobHash(BlobError):
    code = "invalid_blob_hash"


class BlobHashMismatch(BlobError):
    code = "blob_hash_mismatch"


class BlobSizeMismatch(BlobError):
    code = "blob_size_mismatch"


class BlobTooLarge(BlobError):
    code = "blob_too_large"
    http_status = 413


class BlobStoreFull(ChainError):
    """The store's quota (`[documents] max_store_bytes`) has no room for the blob: the node's limit."""

    code = "blob_store_full"
    http_status = 507


class BlobNotFound(NotFound):
    code = "blob_not_found"


def validate_blob_hash(value: object) -> bytes:
    """Return `value` if it is a 32-byte SHA-256. Raises InvalidBlobHash otherwise.

    Blob file names are derived from the checked bytes only (their hex), so no caller-given text ever
    becomes part of a path.
    """
    if type(value) is not bytes or len(value) != HASH_SIZE:
        raise InvalidBlobHash("a blob hash is 32 bytes (a SHA-256)", field="hash")
    return value


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


class BlobStore:
    """Content-addressed blobs under `root` (HOME/blobs). `scan` runs in the constructor."""

    def __init__(self, root: Path, *, max_store_bytes: int, max_blob_bytes: Callable[[], int]) -> None:
        self.root = root
        self.partial_dir = root / "partial"
        self.tmp_dir = root / "tmp"
        self.max_store_bytes = max_store_bytes
        self._max_blob_bytes = max_blob_bytes
        self._lock = threading.Lock()
        self._complete: dict[bytes, int] = {}
        self._claims: dict[object, int] = {}
        """Declared sizes of writes in progress (upload tokens, partial hashes): counted against the quota."""
        self._partials: dict[bytes, int] = {}
        """Declared total size of each partial being fetched (known once `open_partial` is called)."""
        self._tokens = itertools.count(1)
        self.scan()

    # --- paths -----------------------------------------------------------------------------------

    def _blob_path(self, blob_hash: bytes) -> Path:
        return self.root / validate_blob_hash(blob_hash).hex()

    def _partial_path(self, blob_hash: bytes) -> Path:
        return self.partial_dir / f"{validate_blob_hash(blob_hash).hex()}.part"

    # --- startup ---------------------------------------------------------------------------------

    def scan(self) -> None:
        """Create the directories, remove stale temporary files, and index complete blobs and partials.

        Partials are kept (a fetch resumes from them) and counted against the quota at their current size
        until a fetch declares their full size. Files with other names are left alone and not counted.
        """
        for directory in (self.root, self.partial_dir, self.tmp_dir):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        removed = 0
        for entry in self.tmp_dir.iterdir():
            if entry.is_file():
                _remove(entry)
                removed += 1
        complete: dict[bytes, int] = {}
        for entry in self.root.iterdir():
            if entry.is_file() and _HEX_NAME.fullmatch(entry.name):
                complete[bytes.fromhex(entry.name)] = entry.stat().st_size
        claims: dict[object, int] = {}
        for entry in self.partial_dir.iterdir():
            stem = entry.name.removesuffix(".part")
            if entry.is_file() and entry.name.endswith(".part") and _HEX_NAME.fullmatch(stem):
                blob_hash = bytes.fromhex(stem)
                if blob_hash in complete:
                    _remove(entry)  # the blob was completed before a crash removed its partial
                else:
                    claims[("partial", blob_hash)] = entry.stat().st_size
        with self._lock:
            self._complete, self._claims, self._partials = complete, claims, {}
        if removed:
            log.info("blob store: removed %d unfinished uploads left by an earlier run", removed)

    # --- queries (no I/O) ------------------------------------------------------------------------

    def has(self, blob_hash: bytes) -> bool:
        with self._lock:
            return validate_blob_hash(blob_hash) in self._complete

    def size(self, blob_hash: bytes) -> int | None:
        """The size of a complete blob, or None if the store does not hold it."""
        with self._lock:
            return self._complete.get(validate_blob_hash(blob_hash))

    def used_bytes(self) -> int:
        """Complete blobs plus the declared sizes of writes in progress."""
        with self._lock:
            return sum(self._complete.values()) + sum(self._claims.values())

    def partial_hashes(self) -> frozenset[bytes]:
        """The hashes with a partial: on disk (found by `scan` or kept by `close_partial`) or open."""
        with self._lock:
            on_disk = {token[1] for token in self._claims if isinstance(token, tuple) and token[0] == "partial"}
            return frozenset(on_disk | self._partials.keys())

    # --- reading ---------------------------------------------------------------------------------

    def read_range(self, blob_hash: bytes, offset: int, length: int) -> bytes:
        """Up to `length` bytes of a complete blob from `offset` (fewer at its end, none past it).

        Raises BlobNotFound, InvalidBlobHash, or InvalidInput for a negative offset or length.
        """
        if offset < 0 or length < 0:
            raise InvalidInput("offset and length must not be negative")
        path = self._blob_path(blob_hash)
        if not self.has(blob_hash):
            raise BlobNotFound(f"no blob {blob_hash.hex()}")
        try:
            with path.open("rb") as file:
                file.seek(offset)
                return file.read(length)
        except FileNotFoundError:
            raise BlobNotFound(f"no blob {blob_hash.hex()}") from None

    def iter_range(self, blob_hash: bytes, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Chunks of at most 1 MiB of a complete blob from `offset` (to its end when `length` is None)."""
        total = self.size(blob_hash)
        if total is None:
            raise BlobNotFound(f"no blob {blob_hash.hex()}")
        end = total if length is None else min(total, offset + length)
        while offset < end:
            chunk = self.read_range(blob_hash, offset, min(READ_CHUNK, end - offset))
            if not chunk:
                return
            yield chunk
            offset += len(chunk)

    # --- quota -----------------------------------------------------------------------------------

    def _claim(self, token: object, blob_hash: bytes, size: int) -> None:
        """Count `size` bytes against the quota for a write; raises BlobTooLarge or BlobStoreFull."""
        if type(size) is not int or size < 0:
            raise BlobSizeMismatch("a blob size is a non-negative integer", field="size")
        max_blob = self._max_blob_bytes()
        if size > max_blob:
            raise BlobTooLarge(f"a blob of {size} bytes exceeds max_document_bytes ({max_blob})", field="size")
        with self._lock:
            held = self._claims.pop(token, 0)
            used = sum(self._complete.values()) + sum(self._claims.values())
            if used + size > self.max_store_bytes:
                self._claims[token] = held
                raise BlobStoreFull(
                    f"the blob store has no room for {size} more bytes of blob {blob_hash.hex()[:16]}: "
                    f"{used} of [documents] max_store_bytes = {self.max_store_bytes} are used"
                )
            self._claims[token] = size

    def _release(self, token: object) -> None:
        with self._lock:
            self._claims.pop(token, None)

    def _install(self, token: object, source: Path, blob_hash: bytes, size: int) -> None:
        """Rename a written, verified and fsynced file to the blob's final name."""
        os.chmod(source, FILE_MODE)
        os.replace(source, self._blob_path(blob_hash))
        _fsync_dir(self.root)
        with self._lock:
            self._claims.pop(token, None)
            self._complete[blob_hash] = size

    # --- client uploads --------------------------------------------------------------------------

    def begin_upload(self, blob_hash: bytes, size: int) -> BlobUpload:
        """Start writing a blob a client sends; see BlobUpload. Creates a file: run it off the event loop.

        Raises InvalidBlobHash, BlobSizeMismatch (a negative size), BlobTooLarge or BlobStoreFull.
        """
        validate_blob_hash(blob_hash)
        token = ("upload", next(self._tokens))
        self._claim(token, blob_hash, size)
        path = self.tmp_dir / f"{blob_hash.hex()}.{token[1]}.tmp"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except BaseException:
            self._release(token)
            raise
        return BlobUpload(self, token, blob_hash, size, path, os.fdopen(fd, "wb"))

    # --- peer fetches (resumable) ----------------------------------------------------------------

    def open_partial(self, blob_hash: bytes, size: int) -> int:
        """Claim room for a fetch of a `size`-byte blob and return the offset to resume from (the size of
        its partial, 0 if none). A partial larger than `size` is deleted (0 is returned).

        Raises InvalidBlobHash, BlobSizeMismatch, BlobTooLarge or BlobStoreFull.
        """
        token = ("partial", validate_blob_hash(blob_hash))
        self._claim(token, blob_hash, size)
        path = self._partial_path(blob_hash)
        try:
            offset = path.stat().st_size
        except FileNotFoundError:
            offset = 0
        if offset > size:
            log.warning("blob %s: partial of %d bytes is longer than the declared %d; starting over",
                        blob_hash.hex()[:16], offset, size)
            _remove(path)
            offset = 0
        with self._lock:
            self._partials[blob_hash] = size
        return offset

    def append_partial(self, blob_hash: bytes, offset: int, data: bytes) -> int:
        """Append `data` at `offset` (which must be the partial's size) and fsync; return the new size.

        Raises InvalidInput if the partial was not opened or `offset` is not its end, BlobSizeMismatch
        (and deletes the partial) if the data goes past the declared size.
        """
        with self._lock:
            size = self._partials.get(validate_blob_hash(blob_hash))
        if size is None:
            raise InvalidInput(f"no open partial for blob {blob_hash.hex()}")
        path = self._partial_path(blob_hash)
        if offset + len(data) > size:
            self.drop_partial(blob_hash)
            raise BlobSizeMismatch(
                f"blob {blob_hash.hex()[:16]}: {offset + len(data)} bytes is more than the declared {size}"
            )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
        try:
            current = os.fstat(fd).st_size
            if current != offset:
                raise InvalidInput(f"blob {blob_hash.hex()[:16]}: append at {offset}, but the partial holds {current}")
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        return offset + len(data)

    def finish_partial(self, blob_hash: bytes) -> None:
        """Check the partial (declared size, SHA-256 against the name) and make it the blob.

        Raises BlobSizeMismatch or BlobHashMismatch, and deletes the partial, if it is not the blob.
        """
        with self._lock:
            size = self._partials.get(validate_blob_hash(blob_hash))
        if size is None:
            raise InvalidInput(f"no open partial for blob {blob_hash.hex()}")
        path = self._partial_path(blob_hash)
        digest = hashlib.sha256()
        length = 0
        with path.open("rb") as file:
            while chunk := file.read(READ_CHUNK):
                digest.update(chunk)
                length += len(chunk)
            os.fsync(file.fileno())
        if length != size:
            self.drop_partial(blob_hash)
            raise BlobSizeMismatch(f"blob {blob_hash.hex()[:16]}: received {length} bytes, declared {size}")
        if digest.digest() != blob_hash:
            self.drop_partial(blob_hash)
            raise BlobHashMismatch(
                f"the bytes received for blob {blob_hash.hex()} hash to {digest.hexdigest()}; they were discarded"
            )
        self._install(("partial", blob_hash), path, blob_hash, size)
        with self._lock:
            self._partials.pop(blob_hash, None)

    def blobs_older_than(self, age_s: float) -> list[bytes]:
        """Complete blobs last written more than `age_s` seconds ago (wall clock), in hash order. Blocking."""
        with self._lock:
            hashes = sorted(self._complete)
        now = time.time()
        old = []
        for blob_hash in hashes:
            try:
                written = self._blob_path(blob_hash).stat().st_mtime
            except FileNotFoundError:
                continue
            if now - written > age_s:
                old.append(blob_hash)
        return old

    def drop_blob(self, blob_hash: bytes) -> None:
        """Delete a complete blob and release its bytes (a no-op if the store does not hold it). Blocking."""
        with self._lock:
            size = self._complete.pop(validate_blob_hash(blob_hash), None)
        if size is not None:
            _remove(self._blob_path(blob_hash))

    def drop_partial(self, blob_hash: bytes) -> None:
        """Delete a partial and release its claim (a no-op without one)."""
        _remove(self._partial_path(blob_hash))
        with self._lock:
            self._partials.pop(blob_hash, None)
            self._claims.pop(("partial", blob_hash), None)

    def close_partial(self, blob_hash: bytes) -> None:
        """Stop a fetch without deleting its partial (the claim drops to the bytes on disk)."""
        path = self._partial_path(blob_hash)
        try:
            on_disk = path.stat().st_size
        except FileNotFoundError:
            on_disk = 0
        with self._lock:
            self._partials.pop(validate_blob_hash(blob_hash), None)
            token = ("partial", blob_hash)
            if on_disk:
                self._claims[token] = on_disk
            else:
                self._claims.pop(token, None)


class BlobUpload:
    """One client upload: `write` chunks in order, then `finish` (or `abort`).

    Each method does blocking file I/O; an async caller awaits `asyncio.to_thread(upload.write, chunk)`.
    The upload refuses as soon as more bytes than declared arrive, and `finish` refuses a short or wrong
    blob; either way the temporary file is deleted and the claim on the quota released.
    """

    def __init__(
        self, store: BlobStore, token: object, blob_hash: bytes, size: int, path: Path, file: BinaryIO
    ) -> None:
        self._store, self._token, self.blob_hash, self.size, self._path = store, token, blob_hash, size, path
        self._file = file
        self._digest = hashlib.sha256()
        self.received = 0
        self._done = False

    def write(self, chunk: bytes) -> None:
        """Append `chunk`. Raises BlobSizeMismatch (and aborts) past the declared size."""
        if self._done:
            raise InvalidInput("the upload is finished or aborted")
        if self.received + len(chunk) > self.size:
            self.abort()
            raise BlobSizeMismatch(f"more than the declared {self.size} bytes of blob {self.blob_hash.hex()[:16]}",
                                   field="size")
        self._file.write(chunk)
        self._digest.update(chunk)
        self.received += len(chunk)

    def finish(self) -> None:
        """Check size and SHA-256, fsync, and install the blob. Raises BlobSizeMismatch or BlobHashMismatch
        (and aborts) if the bytes are not the declared blob."""
        if self._done:
            raise InvalidInput("the upload is finished or aborted")
        if self.received != self.size:
            self.abort()
            raise BlobSizeMismatch(f"received {self.received} bytes of the declared {self.size}", field="size")
        if self._digest.digest() != self.blob_hash:
            self.abort()
            raise BlobHashMismatch(
                f"the uploaded bytes hash to {self._digest.hexdigest()}, not {self.blob_hash.hex()}", field="hash"
            )
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._done = True
        try:
            self._store._install(self._token, self._path, self.blob_hash, self.size)
        except BaseException:
            _remove(self._path)
            self._store._release(self._token)
            raise

    def abort(self) -> None:
        """Delete the temporary file and release the quota (a no-op once finished or aborted)."""
        if self._done:
            return
        self._done = True
        self._file.close()
        _remove(self._path)
        self._store._release(self._token)


async def receive_upload(store: BlobStore, blob_hash: bytes, size: int, chunks: AsyncIterable[bytes]) -> None:
    """Store a blob a client streams (e.g. an HTTP body's chunks), every file operation in a worker thread.

    Stops reading as soon as more than `size` bytes arrived. Raises what `begin_upload`, `BlobUpload.write`
    and `BlobUpload.finish` raise; on any error or cancellation nothing of the upload is left.
    """
    upload = await asyncio.to_thread(store.begin_upload, blob_hash, size)
    try:
        async for chunk in chunks:
            await asyncio.to_thread(upload.write, chunk)
        await asyncio.to_thread(upload.finish)
    except BaseException:
        await asyncio.shield(asyncio.to_thread(upload.abort))
        raise
