"""The read side: a read never waits for the commit lock, and a read during a commit answers one committed
height, the old one or the new one, never a mix of the two (checked with the verifier's own proof check)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chainnode import crypto, light, records
from chainnode.genesis import Genesis
from chainnode.home import init_home
from chainnode.node import Node
from chainnode.store import BlockWrite
from contracts import anchor
from tests.nodeproc import anchor_tx

CHAIN = "reads"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[Node, crypto.PrivateKey, Genesis]]:
    genesis, created = init_home(tmp_path / "home", chain_id=CHAIN, department="PSB", name="Police")
    node = Node.from_home(created.home)
    try:
        yield node, crypto.load_key_file(created.officer_key).key, genesis
    finally:
        node.close()


def key_of(label: str) -> bytes:
    return anchor.anchor_key(crypto.sha256(label.encode()), "PSB")


async def commit(node: Node, key: crypto.PrivateKey, *labels: str) -> None:
    admissions = await node.submit([anchor_tx(key, CHAIN, label) for label in labels])
    assert all(a.accepted for a in admissions), admissions
    assert await node.produce_block() is not None


async def test_old_state_trees_match_every_block_state_root(env: tuple[Node, crypto.PrivateKey, Genesis]) -> None:
    node, key, _ = env
    for height in range(1, 7):
        await commit(node, key, *[f"tree-{height}-{i}" for i in range(height * 5)])
    for height in range(1, 7):
        header = node.store.get_header(height)
        assert header is not None and node.store.root_at(height).root() == header.state_root


async def test_a_snapshot_keeps_its_height_while_a_block_commits(env: tuple[Node, crypto.PrivateKey, Genesis]) -> None:
    node, key, _ = env
    await commit(node, key, "one")
    with node.store.snapshot() as snap:
        await commit(node, key, "two")
        assert snap.head_height() == 1 and node.store.head_height() == 2
        assert snap.get(key_of("two")) is None and node.store.get(key_of("two")) is not None
        assert snap.get_block(2) is None


async def test_a_read_during_a_commit_sees_the_old_height_then_the_new(
    env: tuple[Node, crypto.PrivateKey, Genesis],
) -> None:
    node, key, genesis = env
    await commit(node, key, "before")
    seen: list[Any] = []
    write_block = node.store.commit_block

    def write_then_read(write: BlockWrite) -> None:
        write_block(write)  # block 2 is in LevelDB; the node has not published its head yet
        reader = node.reader
        seen.append((reader.state_bundle(key_of("during")), records.view(reader).height, reader.status()["height"],
                     reader.anchor_bundles(crypto.sha256(b"during"))))

    node.store.commit_block = write_then_read  # type: ignore[method-assign]
    await commit(node, key, "during")
    during, view_height, status_height, anchors = seen[0]
    old = light.verify_state_bundle(genesis, during)
    assert (old.height, old.value, view_height, status_height, anchors) == (1, None, 1, 1, [])
    assert len(node.reader.anchor_bundles(crypto.sha256(b"during"))) == 1
    new = light.verify_state_bundle(genesis, node.reader.state_bundle(key_of("during")))
    assert new.height == 2 and new.value == node.store.get(key_of("during")) is not None


async def test_reads_racing_commits_always_verify(env: tuple[Node, crypto.PrivateKey, Genesis]) -> None:
    """A reader thread proves keys at the head while blocks commit; every answer is one height's state."""
    node, key, genesis = env
    await commit(node, key, "label-0")
    stop = threading.Event()
    answers: list[light.VerifiedState] = []
    failures: list[BaseException] = []

    def read() -> None:
        turn = 0
        while not stop.is_set():
            try:
                bundle = node.reader.state_bundle(key_of(f"label-{turn % 12}"))
                answers.append(light.verify_state_bundle(genesis, bundle))
            except BaseException as exc:
                failures.append(exc)
                return
            turn += 1

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for height in range(1, 12):
            await commit(node, key, f"label-{height}", *[f"filler-{height}-{i}" for i in range(20)])
    finally:
        stop.set()
        thread.join(30)
    assert not failures, failures[:1]
    assert len({a.height for a in answers}) > 1  # the reads really raced the commits
    for answer in answers:  # the value proven is the value of the height the answer names
        assert answer.value == node.store.value_at(answer.key, answer.height)


async def test_reads_never_wait_for_the_commit_lock(env: tuple[Node, crypto.PrivateKey, Genesis]) -> None:
    node, key, genesis = env
    for height in range(3):
        await commit(node, key, f"lock-{height}")
    done = threading.Event()
    answers: list[Any] = []

    def read() -> None:
        reader = node.reader
        answers.append(light.verify_state_bundle(genesis, reader.state_bundle(key_of("lock-0"), 1)))
        answers.append(reader.state_bundle(key_of("lock-2")).header.height)
        first_tx = bytes.fromhex(reader.entity_history("department:PSB", limit=1).events[0]["tx_id"])
        answers.append(reader.tx_bundle(first_tx).header.height)
        answers.append(reader.get_block(2)[0].header.height)
        answers.append(records.view(reader, 2).height)
        done.set()

    with node._commit_lock:  # as a long block validation or commit would hold it
        thread = threading.Thread(target=read)
        thread.start()
        assert done.wait(30), "a read waited for the commit lock"
    thread.join()
    assert answers[0].height == 1 and answers[1:] == [3, 1, 2, 2]
