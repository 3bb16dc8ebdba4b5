"""The consensus write-ahead log: what this node is about to sign, on disk before it signs.

Before the node signs a proposal or a vote it appends a record (height, round, kind, the signing bytes)
and fsyncs. After a crash the records are replayed, so the node never signs two different things for one
height, round and kind, even if it crashed between signing and sending. Each record is framed as
`length (4 bytes, big-endian) || SHA-256(payload)[:4] || payload` with the payload a canonical array; a
torn record at the end (a crash mid-append) is dropped on replay, damage anywhere else is an error that
names the offset.
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


def _frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload), hashlib.sha256(payload).digest()[:4]) + payload


class SignLog:
    """The append-only WAL file of one node. Not thread-safe: the consensus task alone uses it."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "consensus.wal"
        self.records: list[SignRecord] = self._replay()
        self._file = self.path.open("ab")

    def _replay(self) -> list[SignRecord]:
        """Read every complete record; drop a torn tail. Raises CorruptStore for damage before the end."""
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        records = []
        offset = 0
        while offset < len(data):
            if len(data) - offset < HEADER.size:
                break  # torn header at the end
            length, check = HEADER.unpack_from(data, offset)
            end = offset + HEADER.size + length
            if length > MAX_RECORD:
                raise CorruptStore(f"WAL {self.path}: record at offset {offset} claims {length} bytes")
            if end > len(data):
                break  # torn payload at the end
            payload = data[offset + HEADER.size : end]
            if hashlib.sha256(payload).digest()[:4] != check:
                if end == len(data):
                    break  # the last record was being written
                raise CorruptStore(f"WAL {self.path}: record at offset {offset} is damaged")
            try:
                records.append(decode_record(payload))
            except InvalidInput as exc:
                raise CorruptStore(f"WAL {self.path}: record at offset {offset}: {exc.message}") from exc
            offset = end
        if offset < len(data):
            with self.path.open("r+b") as handle:
                handle.truncate(offset)
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
        self._file = self.path.open("ab")
        self.records = kept

    def save_block(self, block_hash: bytes, block_bytes: bytes) -> None:
        """Keep the block of a proposal this node is about to sign, so it can propose it again after a
        crash (a proposer must not propose a different block for the same round)."""
        directory = self.path.parent / "blocks"
        directory.mkdir(exist_ok=True)
        target = directory / block_hash.hex()
        if target.exists():
            return
        temporary = target.with_suffix(".tmp")
        with temporary.open("wb") as handle:
            handle.write(block_bytes)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)

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
