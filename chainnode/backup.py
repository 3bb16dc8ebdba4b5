"""Backups of a node's store and document blobs, taken while the node runs, and restoring them.

A backup is one file: the store as of one committed height (a LevelDB snapshot, so blocks keep committing
while it is written) and every complete blob under HOME/blobs. Keys, config.toml and the consensus WAL are
not in it: keys are secrets the operator keeps apart (docs/operations.md), and the WAL belongs to the
machine that signed. The layout (docs/storage.md, "Backups"):

    "CHAINNODE-BACKUP\\n"                          17 bytes
    frame*                                          each: length (4 bytes, big-endian) || canonical array
      [40, 1, chain_id, genesis_hash, height, created_ms, store_format]     first
      [41, 1, [[key, value], ...]]                  store rows in key order, at most CHUNK_BYTES a frame
      [42, 1, blob_hash, offset, data]              a blob's bytes from offset, in order, blob by blob
      [43, 1, rows, blobs, sha256]                  last: counts, and SHA-256 of every byte before it

A running node serves `GET /backup` on HOME/admin.sock (a Unix socket only its own user can open), so
`chainnode backup --home HOME` needs no key and no network access; with the node stopped it reads the store
directly. `restore` checks the whole file before it moves the restored store into place.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

import plyvel

from chainnode import codec
from chainnode.errors import ChainError, InvalidInput
from chainnode.store import FORMAT_VERSION, SYNCED_FORMAT, StoreView

MAGIC: Final = b"CHAINNODE-BACKUP\n"
TAG_HEADER: Final = 40
TAG_ROWS: Final = 41
TAG_BLOB: Final = 42
TAG_TRAILER: Final = 43
VERSION: Final = 1
CHUNK_BYTES: Final = 4 * 1024 * 1024
MAX_FRAME: Final = 2 * CHUNK_BYTES
FRAME: Final = struct.Struct(">I")
ADMIN_SOCKET: Final = "admin.sock"

Progress = Callable[[str, int, int], None]
"""(what, done, total): called now and then while a backup is written or restored."""


class BackupError(ChainError):
    """A backup file that is not one, is damaged, or is of another chain; or a restore that cannot go on."""

    code = "backup_error"


@dataclass(frozen=True, slots=True, kw_only=True)
class BackupHeader:
    chain_id: str
    genesis_hash: bytes
    height: int
    created_ms: int
    store_format: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RestoreReport:
    header: BackupHeader
    rows: int
    blobs: int
    bytes: int


def _frame(tag: int, *fields: codec.Value) -> bytes:
    payload = codec.encode([tag, VERSION, *fields])
    return FRAME.pack(len(payload)) + payload


def _blob_files(root: Path) -> list[tuple[bytes, Path]]:
    """Complete blobs: files named by their SHA-256 in hex (partial uploads live in subdirectories)."""
    if not root.is_dir():
        return []
    out = []
    for path in sorted(root.iterdir()):
        if path.is_file() and len(path.name) == 64:
            try:
                out.append((bytes.fromhex(path.name), path))
            except ValueError:
                continue
    return out


READABLE_FORMATS: Final = (FORMAT_VERSION.decode(), SYNCED_FORMAT.decode())
"""Store formats a backup may hold: a replayed store, or a state-synced one (docs/sync.md)."""


def estimate_backup_bytes(data_dir: Path, blobs_root: Path) -> int:
    """About how many bytes a backup of this home will be, for progress: the store's files on disk plus the
    blobs. The store is compressed on disk and holds superseded rows, so this is an estimate either way."""
    total = 0
    for root in (data_dir, blobs_root):
        if root.is_dir():
            for path in root.iterdir():
                try:
                    total += path.stat().st_size if path.is_file() else 0
                except FileNotFoundError:
                    continue  # compacted away meanwhile
    return total


def backup_frames(view: StoreView, blobs_root: Path, *, chain_id: str, genesis_hash: bytes) -> Iterator[bytes]:
    """The backup's bytes, a few megabytes at a time: `view` should be a snapshot (StoreView.snapshot) so
    that the rows are of one height however long the caller takes."""
    digest = hashlib.sha256(MAGIC)
    height = view.head_height()
    yield MAGIC
    store_format = (view.format_marker() or FORMAT_VERSION).decode()  # /5 for a state-synced store
    head = _frame(TAG_HEADER, chain_id, genesis_hash, height, int(time.time() * 1000), store_format)
    digest.update(head)
    yield head
    rows = 0
    chunk: list[list[codec.Value]] = []
    size = 0
    for key, value in view.iter_all():
        chunk.append([key, value])
        size += len(key) + len(value) + 8
        rows += 1
        if size >= CHUNK_BYTES:
            frame = _frame(TAG_ROWS, chunk)
            digest.update(frame)
            yield frame
            chunk, size = [], 0
    if chunk:
        frame = _frame(TAG_ROWS, chunk)
        digest.update(frame)
        yield frame
    blobs = _blob_files(blobs_root)
    for blob_hash, path in blobs:
        try:
            with path.open("rb") as file:
                offset = 0
                while data := file.read(CHUNK_BYTES):
                    frame = _frame(TAG_BLOB, blob_hash, offset, data)
                    digest.update(frame)
                    yield frame
                    offset += len(data)
        except FileNotFoundError:
            continue  # deleted meanwhile (an expired document): the restored node fetches or forgets it
    yield _frame(TAG_TRAILER, rows, len(blobs), digest.digest())


def write_backup_file(frames: Iterator[bytes], out: Path) -> int:
    """Write the frames to `out` through a temporary file, fsynced and renamed, so a backup cut short
    never looks complete. Returns the bytes written."""
    partial = out.with_name(out.name + ".partial")
    written = 0
    try:
        with partial.open("wb") as file:
            os.chmod(partial, 0o600)
            for frame in frames:
                file.write(frame)
                written += len(frame)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return written


def _read_frames(file: BinaryIO) -> Iterator[tuple[int, list[codec.Value], bytes]]:
    """(tag, fields, the frame's bytes) for each frame; the caller hashes the bytes it accepts."""
    while True:
        prefix = file.read(FRAME.size)
        if not prefix:
            raise BackupError("the backup ends before its last frame: it is cut short (copied while written?)")
        if len(prefix) < FRAME.size:
            raise BackupError("the backup is cut short inside a frame")
        (length,) = FRAME.unpack(prefix)
        if not 0 < length <= MAX_FRAME:
            raise BackupError(f"a frame of the backup claims {length} bytes; the file is damaged")
        payload = file.read(length)
        if len(payload) != length:
            raise BackupError("the backup is cut short inside a frame")
        try:
            value = codec.decode(payload, max_size=MAX_FRAME)
        except InvalidInput as exc:
            raise BackupError(f"a frame of the backup is malformed ({exc.message}); the file is damaged") from exc
        if type(value) is not list or len(value) < 2 or value[1] != VERSION or type(value[0]) is not int:
            raise BackupError("a frame of the backup is not of backup version 1; the file is damaged or newer")
        yield value[0], value[2:], prefix + payload


def _want(condition: bool, what: str) -> None:
    if not condition:
        raise BackupError(f"the backup's {what} is malformed; the file is damaged")


def read_header(path: Path) -> BackupHeader:
    """The header of a backup file, checked for form only."""
    with _open(path) as file:
        return _header(file, hashlib.sha256(MAGIC))


def _open(path: Path) -> BinaryIO:
    try:
        file = path.open("rb")
    except FileNotFoundError:
        raise BackupError(f"no backup file {path}") from None
    except OSError as exc:
        raise BackupError(f"cannot read the backup {path}: {exc.strerror}") from exc
    if file.read(len(MAGIC)) != MAGIC:
        file.close()
        raise BackupError(f"{path} is not a chainnode backup (it does not start with {MAGIC!r})")
    return file


def _header(file: BinaryIO, digest: hashlib._Hash) -> BackupHeader:
    tag, fields, raw = next(_read_frames(file))
    _want(tag == TAG_HEADER and len(fields) == 5, "header")
    chain_id, genesis_hash, height, created_ms, store_format = fields
    _want(type(chain_id) is str and type(genesis_hash) is bytes and len(genesis_hash) == 32
          and type(height) is int and type(created_ms) is int and type(store_format) is str, "header")
    digest.update(raw)
    return BackupHeader(chain_id=chain_id, genesis_hash=genesis_hash, height=height,
                        created_ms=created_ms, store_format=store_format)


def restore(path: Path, *, data_dir: Path, blobs_dir: Path, genesis_hash: bytes,
            progress: Progress | None = None) -> RestoreReport:
    """Restore the backup at `path` into `data_dir` (which must not hold a store) and `blobs_dir`.

    The rows go to a new LevelDB beside `data_dir`, renamed into place only after the trailer's counts and
    SHA-256 match; a blob is written under a temporary name and moved into `blobs_dir` only when its bytes
    hash to its name (content-addressed, so a blob placed before a later failure is still a good blob).
    Raises BackupError naming the problem; no store is left half-restored."""
    if data_dir.exists() and any(data_dir.iterdir()):
        raise BackupError(f"{data_dir} already holds a store; move it away first (for example "
                          f"`mv {data_dir} {data_dir}.old`), then restore")
    digest = hashlib.sha256(MAGIC)
    staging = data_dir.with_name(data_dir.name + ".restoring")
    blob_staging = blobs_dir / "restoring"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(blob_staging, ignore_errors=True)
    if not path.is_file():
        raise BackupError(f"no backup file {path}")
    total = path.stat().st_size
    try:
        with _open(path) as file:
            header = _header(file, digest)
            if header.genesis_hash != genesis_hash:
                raise BackupError(f"the backup is of chain {header.chain_id!r} with genesis "
                                  f"{header.genesis_hash.hex()[:16]}…, not this home's genesis "
                                  f"{genesis_hash.hex()[:16]}…")
            if header.store_format not in READABLE_FORMATS:
                raise BackupError(f"the backup holds a store of format {header.store_format}; this release reads "
                                  f"{' and '.join(READABLE_FORMATS)}: restore it with the release that wrote it")
            rows, blobs = _restore_body(file, digest, staging, blob_staging, blobs_dir, total, progress)
        if data_dir.exists():
            data_dir.rmdir()  # empty, checked above
        os.replace(staging, data_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(blob_staging, ignore_errors=True)
    return RestoreReport(header=header, rows=rows, blobs=blobs, bytes=total)


def _restore_body(file: BinaryIO, digest: hashlib._Hash, staging: Path, blob_staging: Path, blobs_dir: Path,
                  total: int, progress: Progress | None) -> tuple[int, int]:
    rows = 0
    blobs_done: list[bytes] = []
    current: tuple[bytes, hashlib._Hash, BinaryIO, Path] | None = None
    db = plyvel.DB(str(staging), create_if_missing=True, error_if_exists=True)
    try:
        for tag, fields, raw in _read_frames(file):
            if tag == TAG_TRAILER:
                _want(len(fields) == 3, "trailer")
                if current is not None:
                    blobs_done.append(_finish_blob(current, blobs_dir))
                    current = None
                if fields[2] != digest.digest():
                    raise BackupError("the backup's checksum does not match its contents; the file is damaged")
                if fields[0] != rows or fields[1] != len(blobs_done):
                    raise BackupError(f"the backup says {fields[0]} rows and {fields[1]} blobs, it holds {rows} "
                                      f"and {len(blobs_done)}; the file is damaged")
                if file.read(1):
                    raise BackupError("the backup has bytes after its last frame; the file is damaged")
                db.close()
                return rows, len(blobs_done)
            digest.update(raw)
            if tag == TAG_ROWS:
                _want(len(fields) == 1 and type(fields[0]) is list, "rows")
                with db.write_batch() as batch:
                    for pair in fields[0]:
                        _want(type(pair) is list and len(pair) == 2 and type(pair[0]) is bytes
                              and type(pair[1]) is bytes, "rows")
                        batch.put(pair[0], pair[1])
                        rows += 1
            elif tag == TAG_BLOB:
                _want(len(fields) == 3 and type(fields[0]) is bytes and len(fields[0]) == 32
                      and type(fields[1]) is int and type(fields[2]) is bytes, "blob")
                blob_hash, offset, data = fields
                if current is None or current[0] != blob_hash:
                    if current is not None:
                        blobs_done.append(_finish_blob(current, blobs_dir))
                    _want(offset == 0 and blob_hash not in blobs_done, "blob")
                    blob_staging.mkdir(parents=True, exist_ok=True)
                    part = blob_staging / blob_hash.hex()
                    current = (blob_hash, hashlib.sha256(), part.open("wb"), part)
                assert current is not None
                _want(offset == current[2].tell(), "blob")
                current[1].update(data)
                current[2].write(data)
            else:
                raise BackupError(f"the backup has a frame of unknown kind {tag}; the file is damaged or newer")
            if progress is not None:
                progress("bytes", file.tell(), total)
        raise AssertionError("unreachable: _read_frames raises at the end of the file")
    except BaseException:
        if current is not None:
            current[2].close()
        if not db.closed:
            db.close()
        raise


def _finish_blob(current: tuple[bytes, hashlib._Hash, BinaryIO, Path], blobs_dir: Path) -> bytes:
    blob_hash, digest, file, part = current
    file.flush()
    os.fsync(file.fileno())
    file.close()
    if digest.digest() != blob_hash:
        raise BackupError(f"blob {blob_hash.hex()} in the backup does not hash to its name; the file is damaged")
    os.replace(part, blobs_dir / blob_hash.hex())
    return blob_hash
