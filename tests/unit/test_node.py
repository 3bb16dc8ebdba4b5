"""The node in-process: restart keeps everything, a wrong genesis or a second process is refused."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import nacl.bindings
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
        assert all(again.reader.tx_status(tx_id).status == "committed" for tx_id in ids)
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


async def test_admission_checks_the_roster_and_drops_a_revoked_keys_pending_transactions(tmp_path: Path) -> None:
    from chainnode.producer import commit_alone
    from chainnode.tx import TxBody, sign_transaction

    _, created = init_home(tmp_path / "home", chain_id="n", department="PSB", name="Police")
    admin = crypto.load_key_file(created.officer_key).key
    clerk = crypto.PrivateKey(b"\x21" * 32)
    node = Node.from_home(created.home)

    def call(method: str, args: dict[str, object]) -> bytes:
        body = TxBody(chain_id="n", contract="governance", method=method, args=args, signer=admin.public_key,
                      nonce=crypto.sha256(method.encode())[:16], expiry_height=100)
        return sign_transaction(admin, body).raw

    try:
        [stranger] = await node.submit([anchor_tx(clerk, "n", "before-registration")])
        assert stranger.error is not None and stranger.error.code == "not_a_member"
        assert stranger.error.field == "signer" and len(node.mempool) == 0
        assert await node.produce_block() is None and node.head_height() == 0  # nothing to fill a block with

        await node.submit([call("register_member", {"public_key": clerk.public_key, "name": "Clerk Li",
                                                    "roles": ["clerk"]})])
        await node.produce_block()
        pending = await node.submit([anchor_tx(clerk, "n", f"doc-{i}") for i in range(3)])
        assert all(a.accepted for a in pending) and len(node.mempool) == 3

        # Block 2 (as another proposer might build it) holds only the revocation, effective at height 3.
        [revoke] = await node.submit([call("revoke_member", {"public_key": clerk.public_key, "reason": "left"})])
        revocation = node.mempool.get_by_raw(call("revoke_member", {"public_key": clerk.public_key,
                                                                     "reason": "left"}))
        assert revoke.accepted and revocation is not None
        proposed = node.build_proposal([revocation], node.clock.now_ms())
        node.commit_decided(proposed, commit_alone(node.node_key, proposed, node.validators_at(2)))
        await node.announce_commit(proposed)

        assert len(node.mempool) == 0
        for admission in pending:
            assert admission.tx_id is not None
            status = node.mempool_status(admission.tx_id)
            assert status is not None and status.status == "rejected" and status.code == "key_revoked"
        [late] = await node.submit([anchor_tx(clerk, "n", "after-revocation")])
        assert late.error is not None and late.error.code == "key_revoked"
        [own] = await node.submit([anchor_tx(admin, "n", "admin-still-registered")])
        assert own.accepted
    finally:
        node.close()


def newest_leveldb_log(data: Path) -> Path:
    return max(data.glob("*.log"), key=lambda p: int(p.stem))


async def test_a_store_that_lost_fsynced_blocks_is_reported_loudly_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from chainnode.wal import KIND_PRECOMMIT, KIND_PREVOTE, SignLog, SignRecord

    _, created = init_home(tmp_path / "home", chain_id="n", department="PSB", name="Police")
    key = crypto.load_key_file(created.officer_key).key
    node = Node.from_home(created.home)
    wal = SignLog(node.layout.wal)
    try:
        for height in range(1, 11):  # the WAL records what a validator signs for each height it decides
            if height == 3:
                log_file = newest_leveldb_log(node.layout.data)
                kept = log_file.stat().st_size
            wal.append(SignRecord(height=height, round=0, kind=KIND_PREVOTE, signing_bytes=b"p%d" % height))
            wal.append(SignRecord(height=height, round=0, kind=KIND_PRECOMMIT, signing_bytes=b"c%d" % height))
            await node.submit([anchor_tx(key, "n", f"doc-{height}")])
            await node.produce_block()
        wal.append(SignRecord(height=11, round=0, kind=KIND_PREVOTE, signing_bytes=b"p11"))
    finally:
        wal.close()
        node.close()
    assert node.head_height() == 10
    with log_file.open("r+b") as handle:  # the disk drops the newest writes of LevelDB's log
        handle.truncate(kept)

    with caplog.at_level("ERROR", logger="chainnode.node"):
        reopened = Node.from_home(created.home)
    try:
        assert reopened.head_height() == 2
        errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
        assert len(errors) == 1, errors
        assert "height 2" in errors[0] and "height 11" in errors[0] and "lost at least 8" in errors[0]
        assert "re-sync" in errors[0] and "double-signing" in errors[0]
        assert reopened.local_status()["store_rollback"] == {
            "store_height_at_start": 2, "wal_signed_height": 11, "lost_blocks": 8, "resynced": False,
        }
        from chainnode.cli import _rollback_lines

        [line] = _rollback_lines(reopened.local_status()["store_rollback"])  # what `chainnode status` prints
        assert "STORE ROLLBACK" in line and "height 2" in line and "height 11" in line
    finally:
        reopened.close()


async def test_a_store_in_step_with_its_wal_starts_quietly(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from chainnode.wal import KIND_PREVOTE, SignLog, SignRecord

    _, created = init_home(tmp_path / "home", chain_id="n", department="PSB", name="Police")
    node = Node.from_home(created.home)
    wal = SignLog(node.layout.wal)
    wal.append(SignRecord(height=1, round=0, kind=KIND_PREVOTE, signing_bytes=b"p"))  # signed, not yet committed
    wal.close()
    node.close()
    with caplog.at_level("ERROR", logger="chainnode.node"):
        again = Node.from_home(created.home)
    try:
        errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
        assert again.local_status()["store_rollback"] is None and not errors  # plain keys only warn
    finally:
        again.close()


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
                    bundle = node.reader.state_bundle(state_key, height)
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
        data = node.reader.state_bundle(keys[0]).encode()
        assert data[:3] == bytes([0x94, 10, 4])  # state bundles are version 4: [10, 4, from_height, links]
        for old_version in (1, 2, 3):  # the bucket proofs of chainnode-store/2, then the replay of every change
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


def _table_bytes(data: Path) -> int:
    return sum(p.stat().st_size for p in data.glob("*.ldb"))


def test_storage_compression_reaches_leveldb_and_a_store_opens_under_either(tmp_path: Path) -> None:
    """The setting is what LevelDB writes tables with (compressible values take far less room with snappy),
    and a store written under one setting keeps every value when opened under the other."""
    from chainnode.store import Store

    value = b"department record " * 200
    sizes = {}
    for compression in ("none", "snappy"):
        store = Store(tmp_path / compression, compression=compression)
        for i in range(200):
            store._db.put(b"x/%04d" % i, value)
        store._db.compact_range()
        sizes[compression] = _table_bytes(tmp_path / compression)
        store.close()
    assert sizes["snappy"] * 5 < sizes["none"]
    for written, reopened in (("none", "snappy"), ("snappy", "none")):
        store = Store(tmp_path / written, compression=reopened)
        try:
            assert all(store._db.get(b"x/%04d" % i) == value for i in range(200))
        finally:
            store.close()
    with pytest.raises(ValueError, match="unknown store compression 'lz4'"):
        Store(tmp_path / "other", compression="lz4")


async def test_a_node_keeps_its_chain_when_its_compression_setting_changes(tmp_path: Path) -> None:
    _, created = init_home(tmp_path / "home", chain_id="n", department="PSB", name="Police")
    key = crypto.load_key_file(created.officer_key).key
    config = created.home / "config.toml"
    roots = []
    for round_, compression in enumerate(("snappy", "none", "snappy")):
        text = config.read_text(encoding="utf-8")
        config.write_text(text.replace('compression = "none"', f'compression = "{compression}"')
                          .replace('compression = "snappy"', f'compression = "{compression}"'), encoding="utf-8")
        node = Node.from_home(created.home)
        try:
            assert node.config.storage_compression == node.store.compression == compression
            assert node.head_height() == round_ and [node.store.get_header(h).state_root  # type: ignore[union-attr]
                                                     for h in range(1, round_ + 1)] == roots
            await node.submit([anchor_tx(key, "n", f"doc-{round_}")])
            proposed = await node.produce_block()
            assert proposed is not None
            roots.append(proposed.block.header.state_root)
        finally:
            node.close()


async def test_a_precommit_checked_as_a_vote_is_not_checked_again_in_the_commits_that_carry_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chainnode.block import VOTE_PRECOMMIT, Vote
    from chainnode.errors import InvalidCommit
    from chainnode.producer import commit_alone

    _, created = init_home(tmp_path / "home", chain_id="n", department="PSB", name="Police")
    key = crypto.load_key_file(created.officer_key).key
    node = Node.from_home(created.home)
    real, calls = nacl.bindings.crypto_sign_open, []

    def counting(signed: bytes, public_key: bytes) -> bytes:  # every Ed25519 check of the node ends here
        calls.append(signed[64:])
        return real(signed, public_key)

    monkeypatch.setattr(nacl.bindings, "crypto_sign_open", counting)
    try:
        await node.submit([anchor_tx(key, "n", "doc-1")])
        calls.clear()  # the transaction's own check
        first = node.build_proposal(node.mempool.take(max_txs=10, max_bytes=1 << 20, next_height=1), 0)
        commit = commit_alone(node.node_key, first, node.validators_at(1))
        precommit = Vote(vote_type=VOTE_PRECOMMIT, height=1, round=0, block_hash=first.block_hash)
        signing_bytes = precommit.compute_signing_bytes("n")
        # the precommit arrives as a vote: the vote screen checks it through the node's cache
        assert node.consensus_signatures.verify(node.node_key.public_key, signing_bytes, commit.signatures[0].signature)
        assert calls == [signing_bytes]
        node.commit_decided(first, commit)  # the commit that decides block 1: the same signature
        second = node.build_proposal([], node.clock.now_ms())
        assert second.block.last_commit == commit
        node.validate_block(second.block)  # block 2 carries it again as its last commit
        assert calls == [signing_bytes]

        # a commit signature never seen as a vote is checked, and a forged one still refused
        node.consensus_signatures = crypto.VerifiedSignatures()
        node.validate_block(second.block)
        assert calls == [signing_bytes, signing_bytes]
        honest = commit_alone(node.node_key, second, node.validators_at(2))
        forged = replace(honest, signatures=(replace(honest.signatures[0], signature=bytes(64)),))
        with pytest.raises(InvalidCommit, match="does not verify"):
            node.commit_decided(second, forged)
        assert node.head_height() == 1
    finally:
        node.close()
