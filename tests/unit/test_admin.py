"""The admin socket's backup: one at a time, streamed from a snapshot, readable back as a backup file."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from chainnode import backup
from chainnode.admin import create_admin_app
from chainnode.home import DepartmentSpec, init_network
from chainnode.node import Node


async def test_a_second_backup_while_one_streams_is_refused_and_the_first_completes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    real = backup.backup_frames

    def held_before_the_trailer(*args: Any, **kwargs: Any) -> Iterator[bytes]:
        frames = list(real(*args, **kwargs))
        yield from frames[:-1]
        release.wait(timeout=30)  # the first backup is still being written until the test says so
        yield frames[-1]

    monkeypatch.setattr(backup, "backup_frames", held_before_the_trailer)
    _, homes = init_network([tmp_path / "a"], chain_id="adm", departments=[DepartmentSpec(code="PSB", name="P")],
                            api_ports=[1], p2p_ports=[2])
    node = Node.from_home(homes[0].home)
    try:
        async with TestClient(TestServer(create_admin_app(node))) as client:
            first = await client.get("/backup")
            assert first.status == 200 and first.headers["X-Chainnode-Height"] == "0"
            head = await first.content.read(len(backup.MAGIC))
            second = await client.get("/backup")
            assert second.status == 409 and "already being written" in await second.text()
            release.set()
            rest = await first.read()
            out = tmp_path / "b.backup"
            out.write_bytes(head + rest)
            assert backup.read_header(out).genesis_hash == node.genesis.hash
            third = await client.get("/backup")  # the first one ended: the next may run
            assert third.status == 200
            # the size the client shows progress against: the store's files on disk (there is one store)
            assert 0 < int(third.headers["X-Chainnode-Estimated-Bytes"]) <= 2 * len(head + rest) + (1 << 20)
            await third.read()
    finally:
        node.close()


def test_backup_progress_says_about_and_never_shows_done_before_the_end(capsys: pytest.CaptureFixture[str]) -> None:
    from chainnode.cli_backup import _Progress

    progress = _Progress("backup", estimated=True)
    progress.last = -10.0
    progress("bytes", 5_000_000, 10_000_000)
    progress.last = -10.0
    progress("bytes", 12_000_000, 10_000_000)  # the estimate was low: no percentage past it
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("backup: 5.0 of about 10.0 MB (50%), about ") and lines[0].endswith(" s left")
    assert lines[1] == "backup: 12.0 MB so far"
