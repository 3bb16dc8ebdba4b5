"""The consensus write-ahead log: what this node is about to sign, on disk before it signs.

Before the node signs a proposal or a vote it appends a record (height, round, kind, the signing bytes)
and fsyncs. After a crash the records are replayed, so the node never signs two different things for one
height, round and kind, even if it crashed between signing and sending. Each record is framed as
`length (4 bytes, big-endian) || SHA-256(payload)[:4] || payload` with the payload a canonical array; a
torn record at the end (a crash mid-append) is dropped on replay, damage anywhere else is an error that
names the offset.

The directory is fsynced after the file is created and after compaction's rename (and after a saved
proposal block's rename): without it a crash can lose the new directory entry, i.e. the whole log or the
compacted file, even though the file's own contents were fsynced.

`last_signed_height` reads the log without changing it, so the node can compare it with the store's
head at start (a store below what this node already signed means the disk lost fsynced writes).
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from chainnode import codec
from chainnode.errors import CorruptStore, InvalidInput

TAG_WAL_RECORD: Final = 30
WAL_VERSION: Final = 1
MAX_RECORD: Final = 64 * 1024
COMPACT_BYTES: Final = 1 << 20
HEADER: Final = struct.Struct(">I4s")

KIND_PROPOSAL: Final = "proposal"
KIND_PREVOTE: Final = "prevote"
KIND_PRECOMMIT: Final = "precommit"
KINDS: Final = frozenset({KIND_PROPOSAL, KIND_PREVOTE, KIND_PRECOMMIT})


@dataclass(frozen=True, slots=True, kw_only=True)
class SignRecord:
    """This node decided to sign `signing_bytes` as its `kind` for `height` and `round`."""

    height: int
    round: int
    kind: str
    signing_bytes: bytes

    def encode(self) -> bytes:
        return codec.encode_object(
            TAG_WAL_RECORD, WAL_VERSION, [self.height, self.round, self.kind, self.signing_bytes]
        )


def decode_record(payload: bytes) -> SignRecord:
    height, round_, kind, signing_bytes = codec.decode_object(
        payload, tag=TAG_WAL_RECORD, version=WAL_VERSION, n_fields=4, max_size=MAX_RECORD, what="WAL record"
    )
    if kind not in KINDS:
        raise CorruptStore(f"WAL record of unknown kind {kind!r}")
    return SignRecord(
        height=codec.want_int(height, "height"),
        round=codec.want_int(round_, "round"),
        kind=kind,
        signing_bytes=codec.want_bytes(signing_bytes, "signing_bytes", max_size=MAX_RECORD),
    )


def fsync_directory(directory: Path) -> None:
    """Make the directory's entries (a created or renamed file) durable: fsync on the directory itself."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_records(path: Path) -> tuple[list[SignRecord], int]:
    """Every complete record of the log at `path` and the offset where they end (a torn tail, from a
    crash mid-append, lies past it). Changes nothing. Raises CorruptStore for damage before the end."""
    data = path.read_bytes()
    records = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < HEADER.size:
            break  # torn header at the end
        length, check = HEADER.unpack_from(data, offset)
        end = offset + HEADER.size + length
        if length > MAX_RECORD:
            raise CorruptStore(f"WAL {path}: record at offset {offset} claims {length} bytes")
        if end > len(data):
            break  # torn payload at the end
        payload = data[offset + HEADER.size : end]
        if hashlib.sha256(payload).digest()[:4] != check:
            if end == len(data):
                break  # the last record was being written
            raise CorruptStore(f"WAL {path}: record at offset {offset} is damaged")
        try:
            records.append(decode_record(payload))
        except InvalidInput as exc:
            raise CorruptStore(f"WAL {path}: record at offset {offset}: {exc.message}") from exc
        offset = end
    return records, offset


def last_signed_height(directory: Path) -> int | None:
    """The highest height this node's WAL in `directory` holds a signature decision for, or None if it
    holds none (no log yet, or a single-validator node, which keeps none). Reads only.

    Raises CorruptStore for a damaged log."""
    path = directory / "consensus.wal"
    if not path.exists():
        return None
    records, _ = read_records(path)
    return max((r.height for r in records), default=None)


def _frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload), hashlib.sha256(payload).digest()[:4]) + payload


class SignLog:
    """The append-only WAL file of one node. Not thread-safe: the consensus task alone uses it."""

    def __init__(self, directory: Path) -> None:
        if not directory.is_dir():
            directory.mkdir(parents=True)
            fsync_directory(directory.parent)
        self.path = directory / "consensus.wal"
        self.records: list[SignRecord] = self._replay()
        created = not self.path.exists()
        self._file = self.path.open("ab")
        if created:
            fsync_directory(directory)

    def _replay(self) -> list[SignRecord]:
        """Read every complete record; cut a torn tail. Raises CorruptStore for damage before the end."""
        if not self.path.exists():
            return []
        records, end = read_records(self.path)
        if end < self.path.stat().st_size:
            with self.path.open("r+b") as handle:
                handle.truncate(end)
                os.fsync(handle.fileno())
        return records

    def append(self, record: SignRecord) -> None:
        """Persist `record` durably (fsync) before the caller signs."""
        self._file.write(_frame(record.encode()))
        self._file.flush()
        os.fsync(self._file.fileno())
        self.records.append(record)

    def compact(self, keep_from_height: int) -> None:
        """Drop records below `keep_from_height` once the file is large (atomic rewrite)."""
        if self._file.tell() < COMPACT_BYTES:
            return
        kept = [r for r in self.records if r.height >= keep_from_height]
        temporary = self.path.with_suffix(".tmp")
        with temporary.open("wb") as handle:
            for record in kept:
                handle.write(_frame(record.encode()))
            handle.flush()
            os.fsync(handle.fileno())
        self._file.close()
        os.replace(temporary, self.path)
        fsync_directory(self.path.parent)
        self._file = self.path.open("ab")
        self.records = kept

    def save_block(self, block_hash: bytes, block_bytes: bytes) -> None:
        """Keep the block of a proposal this node is about to sign, so it can propose it again after a
        crash (a proposer must not propose a different block for the same round)."""
        directory = self.path.parent / "blocks"
        if not directory.is_dir():
            directory.mkdir()
            fsync_directory(self.path.parent)
        target = directory / block_hash.hex()
        if target.exists():
            return
        temporary = target.with_suffix(".tmp")
        with temporary.open("wb") as handle:
            handle.write(block_bytes)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
        fsync_directory(directory)

    def load_block(self, block_hash: bytes) -> bytes | None:
        try:
            return (self.path.parent / "blocks" / block_hash.hex()).read_bytes()
        except OSError:
            return None

    def drop_blocks(self) -> None:
        """Forget saved proposal blocks once their height is committed."""
        directory = self.path.parent / "blocks"
        if directory.is_dir():
            for item in directory.iterdir():
                item.unlink(missing_ok=True)

    def signed_for(self, height: int, round_: int, kind: str) -> bytes | None:
        """The signing bytes already committed to for (height, round, kind), if any."""
        for record in reversed(self.records):
            if record.height == height and record.round == round_ and record.kind == kind:
                return record.signing_bytes
        return None

    def close(self) -> None:
        self._file.close()
