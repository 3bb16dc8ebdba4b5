"""Tamper drills for `chainnode check`: every single-byte change to any stored key or value is found.

One real home with a few blocks (anchors, and one refused duplicate anchor) is built once. Each case
mutates the LevelDB with plyvel, runs `check_home`, and restores the exact original content before the
next case, so every case starts from the same clean store.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import plyvel
import pytest

from chainnode import crypto
from chainnode.check import CheckReport, check_home
from chainnode.errors import CorruptStore, StoreError
from chainnode.home import init_home
from chainnode.node import Node
from chainnode.tx import TxBody, sign_transaction

CHAIN = "check-tamper"
BLOCKS = 4
SEED = 20261125


def anchor_tx(key: crypto.PrivateKey, label: str) -> bytes:
    body = TxBody(
        chain_id=CHAIN, contract="anchor", method="put",
        args={"content_hash": crypto.sha256(label.encode()), "kind": "file"},
        signer=key.public_key, nonce=os.urandom(16), expiry_height=1_000,
    )
    return sign_transaction(key, body).raw


async def fill_home(home: Path) -> None:
    _, created = init_home(home, chain_id=CHAIN, department="PSB", name="Police")
    key = crypto.load_key_file(created.officer_key).key
    node = Node.from_home(home)
    try:
        for height in range(1, BLOCKS + 1):
            raws = [anchor_tx(key, f"doc-{height}-{i}") for i in range(3)]
            if height == 2:
                raws.append(anchor_tx(key, "doc-1-0"))  # refused: anchor_exists
            assert all(a.accepted for a in await node.submit(raws))
            await node.produce_block()
    finally:
        node.close()


def read_all(data: Path) -> list[tuple[bytes, bytes]]:
    db = plyvel.DB(str(data), paranoid_checks=True)
    try:
        return list(db)
    finally:
        db.close()


def height_of(key: bytes, value: bytes) -> int | None:
    """The height a per-height record belongs to, from the layout in docs/storage.md; None otherwise."""
    column = key[:1]
    if column in (b"b", b"c", b"r"):
        return int.from_bytes(key[1:9], "big")
    if column == b"H":
        return int.from_bytes(value, "big")
    if column == b"t":
        return int.from_bytes(value[:8], "big")
    if column == b"e":
        return int.from_bytes(key[-12:-4], "big")
    if column == b"y":
        return int.from_bytes(key[33:41], "big")
    if column in (b"n", b"R"):
        return int.from_bytes(key[1:9], "big")
    return None


class Drill:
    """A home whose store is mutated and restored around each check."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.data = home / "data"
        self.original = read_all(self.data)
        self.checks = 0

    @contextmanager
    def mutated(self, *, delete: tuple[bytes, ...] = (), put: tuple[tuple[bytes, bytes], ...] = ()) -> Iterator[None]:
        db = plyvel.DB(str(self.data))
        saved = {k: db.get(k) for k in (*delete, *(k for k, _ in put))}
        try:
            for key in delete:
                db.delete(key)
            for key, value in put:
                db.put(key, value)
        finally:
            db.close()
        try:
            yield
        finally:
            db = plyvel.DB(str(self.data))
            try:
                for key, value in saved.items():
                    if value is None:
                        db.delete(key)
                    else:
                        db.put(key, value)
                restored = list(db)
            finally:
                db.close()
            assert restored == self.original, "the drill did not restore the store"

    def check(self) -> CheckReport:
        self.checks += 1
        return check_home(self.home)


@pytest.fixture(scope="module")
def drill(tmp_path_factory: pytest.TempPathFactory) -> Drill:
    home = tmp_path_factory.mktemp("tamper") / "home"
    asyncio.run(fill_home(home))
    made = Drill(home)
    assert check_home(home).ok
    return made


def assert_found(report: CheckReport, height: int | None, what: str) -> None:
    assert not report.ok, f"{what}: not found"
    if height is not None:
        heights = {p.height for p in report.problems}
        assert height in heights, f"{what}: height {height} not named in {report.problems}"


def flip(data: bytes, position: int, mask: int) -> bytes:
    changed = bytearray(data)
    changed[position] ^= mask
    return bytes(changed)


def test_every_flipped_value_byte_is_found(drill: Drill) -> None:
    rng = random.Random(SEED)
    started = time.perf_counter()
    for key, value in drill.original:
        positions = {0, len(value) - 1, rng.randrange(len(value))}
        for position in sorted(positions):
            changed = flip(value, position, rng.randrange(1, 256))
            what = f"value byte {position} of {key!r}"
            with drill.mutated(put=((key, changed),)):
                if key == b"m/format":
                    with pytest.raises(StoreError, match="format"):  # Store() refuses an unknown format
                        drill.check()
                    continue
                assert_found(drill.check(), height_of(key, value), what)
    print(f"\n{drill.checks} checks in {time.perf_counter() - started:.1f} s")


def test_every_deleted_key_is_found(drill: Drill) -> None:
    for key, value in drill.original:
        with drill.mutated(delete=(key,)):
            assert_found(drill.check(), height_of(key, value), f"deletion of {key!r}")


def test_altered_keys_are_found(drill: Drill) -> None:
    """A value moved to a key with one byte changed: the original key is missing, and named."""
    rng = random.Random(SEED + 1)
    for key, value in drill.original[::3]:
        for position in sorted({0, len(key) - 1, rng.randrange(len(key))}):
            moved = flip(key, position, rng.randrange(1, 256))
            with drill.mutated(delete=(key,), put=((moved, value),)):
                assert_found(drill.check(), height_of(key, value), f"{key!r} moved to {moved!r}")


def test_extra_keys_in_every_column_are_found(drill: Drill) -> None:
    for key, value in drill.original:
        extra = key + b"\x00"
        with drill.mutated(put=((extra, value),)):
            assert not drill.check().ok, f"extra key {extra!r} not found"


def test_damaged_table_files_give_corrupt_store_or_a_finding(tmp_path: Path, drill: Drill) -> None:
    """Bytes flipped inside the LevelDB files: never a traceback, and any change of content is found."""
    home = tmp_path / "home"
    shutil.copytree(drill.home, home)
    tables = sorted((home / "data").glob("*.ldb")) + sorted((home / "data").glob("*.sst"))
    assert tables, "the template store has no table file"
    rng = random.Random(SEED + 2)
    outcomes = {"corrupt": 0, "found": 0, "unchanged": 0}
    for table in tables:
        original = (drill.home / "data" / table.name).read_bytes()
        for position in sorted(rng.sample(range(len(original)), min(40, len(original)))):
            if not table.exists():
                # reading a damaged store may let LevelDB compact it (seek compaction replaces table files):
                # start again from the untouched store, so every flip damages the same file
                shutil.rmtree(home)
                shutil.copytree(drill.home, home)
            table.write_bytes(flip(original, position, 0xFF))
            try:
                report = check_home(home)
            except CorruptStore:
                outcomes["corrupt"] += 1
                continue
            finally:
                table.write_bytes(original)
            table.write_bytes(flip(original, position, 0xFF))
            try:
                content = read_all(home / "data")
            except plyvel.Error:
                content = None
            finally:
                table.write_bytes(original)
            if content == drill.original:
                assert report.ok, f"offset {position}: content unchanged, yet {report.problems}"
                outcomes["unchanged"] += 1
            else:
                assert not report.ok, f"offset {position}: the content changed and the check passed"
                outcomes["found"] += 1
    print(f"\ndamaged table files: {outcomes}")
    assert outcomes["corrupt"] + outcomes["found"] > 0
    assert check_home(home).ok
