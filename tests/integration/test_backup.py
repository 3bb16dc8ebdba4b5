"""Backups of a running node under load, restored into its home: the restored store passes `chainnode check`
and the node catches up with the others; damaged or foreign backup files are refused by name."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chainnode import backup
from chainnode.check import check_home
from chainnode.config import HomeLayout
from tests.cluster import Cluster, Load


def chainnode(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chainnode.cli", *args], capture_output=True, text=True,
                          timeout=300, check=False)


def test_a_backup_taken_under_load_restores_passes_check_and_catches_up(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path / "c")
    cluster.start_all()
    home = cluster.homes[1].home
    out = tmp_path / "node1.backup"
    try:
        with Load(cluster):
            cluster.wait_height(4)
            assert (home / "admin.sock").exists()
            done = chainnode("backup", "--home", str(home), "--out", str(out))
            assert done.returncode == 0, done.stderr
            assert "from the running node" in done.stdout and "restore it with" in done.stdout
            taken = backup.read_header(out).height
            cluster.wait_height(taken + 3)  # the network committed on while the backup was written
        cluster.kill(1)
        layout = HomeLayout(home)
        shutil.move(layout.data, tmp_path / "lost-data")
        done = chainnode("restore", "--home", str(home), "--from", str(out))
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"at height {taken}" in done.stdout and "chainnode check: OK" in done.stdout
        assert check_home(home).ok
        cluster.start(1)
        cluster.wait_height(max(cluster.height(i) for i in (0, 2, 3)), [1], timeout=90)
        tx_ids = cluster.submit(1, ["after the restore"])  # it takes part again: its transaction commits
        for i in range(4):
            cluster.wait_committed(i, tx_ids)
        cluster.assert_consistent()
    finally:
        cluster.stop_all()
    cluster.check_stores()


def test_a_stopped_node_backs_up_and_a_wrong_file_is_named(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path / "c", n=1)
    cluster.start_all()
    try:
        with Load(cluster):
            cluster.wait_height(2)
    finally:
        cluster.stop_all()
    home = cluster.homes[0].home
    out = tmp_path / "stopped.backup"
    done = chainnode("backup", "--home", str(home), "--out", str(out))
    assert done.returncode == 0 and "the stopped node's store" in done.stdout, done.stderr
    again = chainnode("backup", "--home", str(home), "--out", str(out))
    assert again.returncode == 2 and "exists" in again.stderr

    def restore_into(data: bytes, name: str) -> subprocess.CompletedProcess[str]:
        target = tmp_path / name
        shutil.copytree(home, target, ignore=shutil.ignore_patterns("data", "wal", "admin.sock"))
        source = tmp_path / f"{name}.backup"
        source.write_bytes(data)
        return chainnode("restore", "--home", str(target), "--from", str(source))

    good = out.read_bytes()
    assert restore_into(good, "fine").returncode == 0
    cut = restore_into(good[:-40], "cut")
    assert cut.returncode == 1 and "cut short" in cut.stderr, cut.stderr
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 1
    damaged = restore_into(bytes(flipped), "flipped")
    assert damaged.returncode == 1 and "damaged" in damaged.stderr, damaged.stderr
    assert not (tmp_path / "flipped" / "data").exists()  # nothing half-restored
    not_backup = restore_into(b"hello", "notbackup")
    assert not_backup.returncode == 1 and "is not a chainnode backup" in not_backup.stderr
    occupied = chainnode("restore", "--home", str(home), "--from", str(out))
    assert occupied.returncode == 1 and "already holds a store" in occupied.stderr

    other = Cluster(tmp_path / "other", n=1)
    foreign = tmp_path / "foreign"
    shutil.copytree(other.homes[0].home, foreign)
    wrong_chain = chainnode("restore", "--home", str(foreign), "--from", str(out))
    assert wrong_chain.returncode == 1 and "not this home's genesis" in wrong_chain.stderr, wrong_chain.stderr


@pytest.mark.parametrize("missing", ["backup file", "home"])
def test_missing_inputs_are_named(tmp_path: Path, missing: str) -> None:
    cluster = Cluster(tmp_path / "c", n=1)
    home = cluster.homes[0].home
    if missing == "backup file":
        done = chainnode("restore", "--home", str(home), "--from", str(tmp_path / "nope.backup"))
        assert done.returncode == 1 and "no backup file" in done.stderr, done.stderr
    else:
        done = chainnode("backup", "--home", str(tmp_path / "nohome"), "--out", str(tmp_path / "x"))
        assert done.returncode == 2 and "is not a node home" in done.stderr, done.stderr
