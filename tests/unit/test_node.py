"""The node in-process: restart keeps everything, a wrong genesis or a second process is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chainnode import crypto
from chainnode.errors import InvalidProof, StoreError, StoreLocked
from chainnode.home import init_home
from chainnode.node import Node
from tests.nodeproc import anchor_tx


async def test_restart_keeps_blocks_state_and_index(tmp_path: Path) -> None:
    _, created = init_home(tmp_path / "home", chain_id="n", department="PSB", name="Police")
    key = crypto.load_key_file(created.officer_key).key
    node = Node.from_home(created.home)
    ids = []
    for i in range(3):
        admissions = await node.submit([anchor_tx(key, "n", f"doc-{i}-{j}") for j in range(10)])
        ids += [a.tx_id for a in admissions if a.tx_id]
        await node.produce_block()
    root, head = node.tree.root(), node.head_height()
    node.close()
    again = Node.from_home(created.home)
    try:
        assert again.head_height() == head == 3 and again.tree.root() == root
        assert all(again.tx_status(tx_id).status == "committed" for tx_id in ids)
        header = again.store.get_header(3)
        assert header is not None and header.state_root == root
        admissions = await again.submit([anchor_tx(key, "n", "after-restart")])
        proposed = await again.produce_block()
        assert proposed is not None and proposed.block.header.prev_hash == header.compute_hash()
        assert proposed.block.last_commit is not None and proposed.block.last_commit.height == 3
    finally:
        again.close()


def test_a_second_node_on_the_same_home_is_refused(tmp_path: Path) -> None:
    _, created = init_home(tmp_path / "home", chain_id="n", department="PSB", name="Police")
    node = Node.from_home(created.home)
    try:
        with pytest.raises(StoreLocked) as caught:
            Node.from_home(created.home)
        assert "already running" in caught.value.message
    finally:
        node.close()


def test_a_store_of_another_network_is_refused(tmp_path: Path) -> None:
    _, created = init_home(tmp_path / "home", chain_id="n", department="PSB", name="Police")
    Node.from_home(created.home).close()
    genesis = json.loads((created.home / "genesis.json").read_text())
    genesis["chain_id"] = "another"
    (created.home / "genesis.json").write_text(json.dumps(genesis))
    with pytest.raises(StoreError) as caught:
        Node.from_home(created.home)
    assert "another network" in caught.value.message


async def test_empty_blocks_only_when_configured(tmp_path: Path) -> None:
    _, created = init_home(tmp_path / "home", chain_id="n", department="PSB", name="Police")
    node = Node.from_home(created.home)
    try:
        assert await node.produce_block() is None and node.head_height() == 0
    finally:
        node.close()


async def test_consensus_limits_changed_by_proposal_bound_later_blocks(tmp_path: Path) -> None:
    from chainnode.errors import InvalidBlock
    from chainnode.tx import TxBody, sign_transaction

    _, created = init_home(tmp_path / "home", chain_id="n", department="PSB", name="Police")
    key = crypto.load_key_file(created.officer_key).key
    node = Node.from_home(created.home)

    async def call(method: str, args: dict[str, object], nonce: bytes) -> None:
        body = TxBody(chain_id="n", contract="governance", method=method, args=args, signer=key.public_key,
                      nonce=nonce, expiry_height=100)
        await node.submit([sign_transaction(key, body).raw])
        await node.produce_block()

    try:
        await call("propose", {"kind": "set_consensus_limits", "payload": {"max_block_txs": 2},
                               "deadline_height": 50, "effective_height": 3}, b"p" * 16)
        await call("vote", {"proposal_id": 1, "approve": True}, b"v" * 16)  # height 2: passed, applied at 3
        await node.submit([anchor_tx(key, "n", f"doc-{i}") for i in range(5)])
        first = await node.produce_block()  # height 3 applies the limit at its start; it binds from height 4
        assert first is not None and len(first.block.txs) == 5 and node.limits().max_block_txs == 2
        await node.submit([anchor_tx(key, "n", f"later-{i}") for i in range(5)])
        second = await node.produce_block()
        assert second is not None and len(second.block.txs) == 2
        oversized = node.build_proposal(node.mempool.take(max_txs=10, max_bytes=1 << 20, next_height=5), 0)
        with pytest.raises(InvalidBlock, match="the limits are 2"):
            node.validate_block(oversized.block)
    finally:
        node.close()


async def test_old_height_state_proofs_read_the_stored_versions_without_the_commit_lock(tmp_path: Path) -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from chainnode import light
    from contracts.anchor import anchor_key

    _, created = init_home(tmp_path / "home", chain_id="n", department="PSB", name="Police")
    key = crypto.load_key_file(created.officer_key).key
    node = Node.from_home(created.home)
    keys = [anchor_key(crypto.sha256(f"doc-{i}".encode()), "PSB") for i in range(3)]
    try:
        for i in range(3):
            await node.submit([anchor_tx(key, "n", f"doc-{i}")])
            await node.produce_block()
        held, release = threading.Event(), threading.Event()

        def hold_the_lock() -> None:
            with node._commit_lock:
                held.set()
                release.wait(60)

        holder = threading.Thread(target=hold_the_lock)
        holder.start()
        held.wait(10)

        def prove_every_height() -> None:
            for height in (1, 2, 3):
                for index, state_key in enumerate(keys):
                    bundle = node.state_bundle(state_key, height)
                    decoded = light.decode_bundle(bundle.encode())
                    assert isinstance(decoded, light.StateValueBundle)
                    verified = light.verify_state_bundle(node.genesis, decoded)
                    assert verified.height == height
                    assert (verified.value is not None) == (index < height)  # doc-i is anchored by block i + 1

        pool = ThreadPoolExecutor(1)
        try:
            pool.submit(prove_every_height).result(timeout=10)  # a committer holds the lock meanwhile
        finally:
            release.set()
            holder.join()
            pool.shutdown()
        data = node.state_bundle(keys[0]).encode()
        assert data[:3] == bytes([0x96, 10, 3])  # state bundles are version 3, transitions always present
        for old_version in (1, 2):  # the bucket proofs of chainnode-store/2
            with pytest.raises(InvalidProof, match="older release"):
                light.decode_bundle(data[:2] + bytes([old_version]) + data[3:])
    finally:
        node.close()


def test_a_store_of_the_bucket_format_is_refused(tmp_path: Path) -> None:
    import plyvel

    _, created = init_home(tmp_path / "home", chain_id="n", department="PSB", name="Police")
    Node.from_home(created.home).close()
    db = plyvel.DB(str(created.home / "data"))
    db.put(b"m/format", b"chainnode-store/2")
    db.close()
    with pytest.raises(StoreError) as caught:
        Node.from_home(created.home)
    assert "chainnode-store/2" in caught.value.message and "Re-create the node home" in caught.value.message
