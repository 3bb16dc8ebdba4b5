"""The consensus WAL survives crashes: torn tails are dropped, damage elsewhere is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainnode.errors import CorruptStore
from chainnode.wal import KIND_PRECOMMIT, KIND_PREVOTE, SignLog, SignRecord


def record(height: int, round_: int, kind: str = KIND_PREVOTE, value: bytes = b"v") -> SignRecord:
    return SignRecord(height=height, round=round_, kind=kind, signing_bytes=value)


def test_records_survive_reopen(tmp_path: Path) -> None:
    log = SignLog(tmp_path)
    log.append(record(1, 0))
    log.append(record(1, 0, KIND_PRECOMMIT, b"w"))
    log.close()
    again = SignLog(tmp_path)
    assert again.records == [record(1, 0), record(1, 0, KIND_PRECOMMIT, b"w")]
    assert again.signed_for(1, 0, KIND_PRECOMMIT) == b"w" and again.signed_for(1, 1, KIND_PREVOTE) is None
    again.close()


@pytest.mark.parametrize("cut", [1, 3, 8, 12])
def test_a_torn_last_record_is_dropped(tmp_path: Path, cut: int) -> None:
    log = SignLog(tmp_path)
    log.append(record(1, 0))
    log.append(record(2, 0))
    log.close()
    data = log.path.read_bytes()
    log.path.write_bytes(data[:-cut])
    again = SignLog(tmp_path)
    assert again.records == [record(1, 0)]
    again.append(record(2, 1))
    again.close()
    third = SignLog(tmp_path)
    assert third.records == [record(1, 0), record(2, 1)]
    third.close()


def test_damage_before_the_end_is_an_error(tmp_path: Path) -> None:
    log = SignLog(tmp_path)
    log.append(record(1, 0))
    log.append(record(2, 0))
    log.close()
    data = bytearray(log.path.read_bytes())
    data[10] ^= 0xFF
    log.path.write_bytes(bytes(data))
    with pytest.raises(CorruptStore, match="offset 0"):
        SignLog(tmp_path)


def test_compaction_keeps_recent_heights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("chainnode.wal.COMPACT_BYTES", 1)
    log = SignLog(tmp_path)
    for height in range(1, 6):
        log.append(record(height, 0))
    log.compact(4)
    log.close()
    again = SignLog(tmp_path)
    assert [r.height for r in again.records] == [4, 5]
    again.close()


def test_the_directory_is_fsynced_after_creating_the_log_and_after_each_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file's fsync does not make its directory entry durable: without an fsync of the directory a crash
    can lose a just-created log, or the compacted file a rename put in place."""
    import os
    import stat

    from chainnode import wal

    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            events.append(("fsync-dir", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src: object, dst: object) -> None:
        real_replace(src, dst)  # type: ignore[arg-type]
        events.append(("rename", str(dst)))

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(wal, "COMPACT_BYTES", 1)
    directory = tmp_path / "wal"
    log = SignLog(directory)
    try:
        assert ("fsync-dir", str(directory)) in events and ("fsync-dir", str(tmp_path)) in events
        log.append(record(1, 0))
        events.clear()
        log.compact(keep_from_height=1)
        assert events[-2:] == [("rename", str(log.path)), ("fsync-dir", str(directory))]
        events.clear()
        log.save_block(b"\x01" * 32, b"block")
        blocks = directory / "blocks"
        assert events[-2:] == [("rename", str(blocks / ("01" * 32))), ("fsync-dir", str(blocks))]
    finally:
        log.close()


def test_last_signed_height_reads_without_changing_the_log(tmp_path: Path) -> None:
    from chainnode.wal import last_signed_height

    assert last_signed_height(tmp_path) is None
    log = SignLog(tmp_path)
    for height in (3, 4, 5):
        log.append(record(height, 0))
    log.close()
    data = log.path.read_bytes()
    log.path.write_bytes(data[:-2])  # a torn tail
    assert last_signed_height(tmp_path) == 4
    assert log.path.read_bytes() == data[:-2]
