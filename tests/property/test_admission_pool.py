"""Admission through worker processes gives the same verdicts as admission in the node's process.

Two nodes of one chain, one checking submitted batches in its own process (`admission_processes = 0`) and
one in two worker processes, receive the same random batches: valid transactions, and ones with a flipped
byte, a bad signature, another chain, an expiry too far ahead, an unknown method, bad arguments, a
non-canonical encoding, a signer off the roster, garbage, oversize bytes, repeats within the batch and
repeats of what is already pending. Every verdict (accepted or not, the code, the ID) and the pending
set must be the same on both.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chainnode import crypto, mempool
from chainnode.home import init_home
from chainnode.mempool import Admission
from chainnode.node import MIN_POOL_BATCH, Node
from chainnode.tx import TxBody, sign_transaction

KINDS = ("valid", "flip", "bad_signature", "wrong_chain", "too_far", "unknown_method", "bad_args",
         "non_canonical", "stranger", "garbage", "oversize", "repeat", "repeat_pending")


@dataclass(repr=False)
class Pair:
    inline: Node
    workers: Node
    key: crypto.PrivateKey
    chain_id: str
    submitted: list[bytes]


@pytest.fixture(scope="module")
def homes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, crypto.PrivateKey]]:
    root = tmp_path_factory.mktemp("admission")
    _, created = init_home(root / "inline", chain_id="adm", department="PSB", name="Admission", api_port=1,
                           p2p_port=2, config_overrides={"admission_processes": 0})
    shutil.copytree(root / "inline", root / "workers")
    config = root / "workers" / "config.toml"
    config.write_text(config.read_text().replace("admission_processes = 0", "admission_processes = 2"))
    yield root / "inline", root / "workers", crypto.load_key_file(created.officer_key).key


@pytest.fixture
async def pair(homes: tuple[Path, Path, crypto.PrivateKey]) -> AsyncIterator[Pair]:
    inline_home, workers_home, key = homes
    inline, workers = Node.from_home(inline_home), Node.from_home(workers_home)
    assert inline.admission.processes == 0 and workers.admission.processes == 2
    await asyncio.to_thread(workers.admission.start)
    try:
        yield Pair(inline, workers, key, inline.genesis.chain_id, [])
    finally:
        inline.close()
        workers.close()


def _body(pair: Pair, seed: int, **changes: Any) -> TxBody:
    fields: dict[str, Any] = {
        "chain_id": pair.chain_id, "contract": "anchor", "method": "put",
        "args": {"content_hash": crypto.sha256(seed.to_bytes(8, "big") + os.urandom(8)), "kind": "prop"},
        "signer": pair.key.public_key, "nonce": os.urandom(16), "expiry_height": 50,
    }
    fields.update(changes)
    return TxBody(**fields)


def make_raw(pair: Pair, kind: str, seed: int, batch: list[bytes]) -> bytes:
    if kind == "repeat" and batch:
        return batch[seed % len(batch)]
    if kind == "repeat_pending" and pair.submitted:
        return pair.submitted[seed % len(pair.submitted)]
    if kind == "garbage":
        return seed.to_bytes(8, "big") * (1 + seed % 7)
    if kind == "oversize":
        return b"\x93" + bytes(70_000)
    if kind == "stranger":
        stranger = crypto.PrivateKey(crypto.sha256(b"stranger"))
        return sign_transaction(stranger, _body(pair, seed, signer=stranger.public_key)).raw
    changes: dict[str, Any] = {
        "wrong_chain": {"chain_id": "another"},
        "too_far": {"expiry_height": 10**9},
        "unknown_method": {"method": "take"},
        "bad_args": {"args": {"content_hash": b"short", "kind": "prop"}},
    }.get(kind, {})
    tx = sign_transaction(pair.key, _body(pair, seed, **changes))
    raw = tx.raw
    if kind == "flip":
        index = seed % len(raw)
        return raw[:index] + bytes([raw[index] ^ (1 << (seed % 8))]) + raw[index + 1:]
    if kind == "bad_signature":
        return raw[:-1] + bytes([raw[-1] ^ 1])
    if kind == "non_canonical":  # the same fields with the args map's keys out of order
        items = msgpack.unpackb(raw, raw=False)
        items[5] = dict(sorted(items[5].items(), reverse=True))
        return bytes(msgpack.packb(items, use_bin_type=True))
    return raw


def summary(admissions: list[Admission]) -> list[tuple[bool, str | None, bytes | None]]:
    return [(a.accepted, a.error.code if a.error else None, a.tx_id) for a in admissions]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=st.lists(st.tuples(st.sampled_from(KINDS), st.integers(min_value=0, max_value=2**31)),
                     min_size=1, max_size=80))
async def test_worker_processes_give_the_in_process_verdicts(pair: Pair, plan: list[tuple[str, int]]) -> None:
    batch: list[bytes] = []
    for kind, seed in plan:
        batch.append(make_raw(pair, kind, seed, batch))
    seed = 2**31
    # fewer than MIN_POOL_BATCH new distinct bytes never reach the workers (repeats and known bytes do not count)
    while len({raw for raw in batch if pair.workers.mempool.refuse_known(raw) is None}) < MIN_POOL_BATCH:
        seed += 1
        batch.append(make_raw(pair, "valid", seed, batch))
    inline = await pair.inline.submit(batch)
    sent = pair.workers.admission.chunks_sent
    through_workers = await pair.workers.submit(batch)
    assert pair.workers.admission.chunks_sent > sent  # the workers checked it, not the node
    assert summary(through_workers) == summary(inline)
    assert [tx.tx_id for tx in pair.workers.mempool.pending()] == [tx.tx_id for tx in pair.inline.mempool.pending()]
    for admission in inline:
        if admission.tx_id is not None:
            assert pair.workers.mempool.get_rejection(admission.tx_id) == pair.inline.mempool.get_rejection(
                admission.tx_id)
    pair.submitted.extend(raw for raw, a in zip(batch, inline, strict=True) if a.accepted)


async def test_a_killed_worker_costs_no_verdict(pair: Pair) -> None:
    # killed while a batch is handed over: the batch's futures break
    pids = pair.workers.admission.worker_pids()
    assert len(pids) == 2
    os.kill(pids[0], 9)
    admissions = await pair.workers.submit([make_raw(pair, "valid", i, []) for i in range(300)])
    assert all(a.accepted for a in admissions)
    again = await pair.workers.submit([make_raw(pair, "valid", 1000 + i, []) for i in range(100)])
    assert all(a.accepted for a in again)  # a new pool took over
    fresh = pair.workers.admission.worker_pids()
    assert len(fresh) == 2 and set(fresh).isdisjoint(pids)

    # killed between batches, the pool already known broken: handing over fails at once, new workers start
    pids = pair.workers.admission.worker_pids()
    os.kill(pids[0], 9)
    deadline = time.monotonic() + 30
    while not pair.workers.admission.is_broken() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert pair.workers.admission.is_broken()
    admissions = await pair.workers.submit([make_raw(pair, "valid", 2000 + i, []) for i in range(300)])
    assert all(a.accepted for a in admissions)
    fresh = pair.workers.admission.worker_pids()
    assert len(fresh) == 2 and set(fresh).isdisjoint(pids) and not pair.workers.admission.is_broken()


@pytest.mark.parametrize("node", ["inline", "workers"])
async def test_copies_arriving_together_are_checked_once(pair: Pair, node: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Gossip brings a transaction once per link, often at the same moment: a copy that arrives while another
    batch checks the same bytes gets that batch's verdict instead of a second decode and signature check."""
    import chainnode.node as node_module

    target: Node = getattr(pair, node)
    verified: list[int] = []
    real_verify = node_module._verify_chunk

    def counting_verify(txs: Any) -> list[bool]:
        verified.append(len(txs))
        return real_verify(txs)

    monkeypatch.setattr(node_module, "_verify_chunk", counting_verify)
    good = [make_raw(pair, "valid", seed, []) for seed in range(MIN_POOL_BATCH)]
    bad = make_raw(pair, "bad_signature", 1, [])
    batch = [*good, bad]
    sent = target.admission.chunks_sent
    first, second = await asyncio.gather(target.submit(batch, relay=False), target.submit(batch, relay=False))
    assert [a.error.code if a.error else None for a in first] == [None] * len(good) + ["invalid_signature"]
    assert [a.error.code if a.error else None for a in second] == ["tx_already_pending"] * len(good) + [
        "invalid_signature"]
    assert [a.tx_id for a in second] == [a.tx_id for a in first]  # a repeat's verdict names the transaction
    if node == "inline":
        assert sum(verified) == len(batch)  # each signature checked once, not once per copy
    else:
        assert target.admission.chunks_sent - sent == 1 and verified == []


async def test_a_copy_whose_first_batch_failed_is_checked_by_its_own(pair: Pair,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    node = pair.inline
    release = asyncio.Event()
    real_check = node._check_here
    calls = 0

    async def failing_first(*args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            await release.wait()
            raise RuntimeError("the first batch failed")
        await real_check(*args, **kwargs)

    monkeypatch.setattr(node, "_check_here", failing_first)
    batch = [make_raw(pair, "valid", seed, []) for seed in range(3)]
    first = asyncio.create_task(node.submit(batch, relay=False))
    await asyncio.sleep(0)  # the first batch now holds the bytes
    second = asyncio.create_task(node.submit(batch, relay=False))
    await asyncio.sleep(0)
    release.set()
    with pytest.raises(RuntimeError):
        await first
    assert all(a.accepted for a in await second)  # no verdict lost: checked again, and admitted
    assert node._admitting == {}


async def test_a_known_copy_names_its_transaction_to_a_client_only(pair: Pair) -> None:
    """A peer's copy of pending or committed bytes gets one shared refusal (its verdict feeds only metrics
    and the relay); a client submitting the same bytes is told which transaction they are."""
    node = pair.inline
    raw = make_raw(pair, "valid", 4242, [])
    [first] = await node.submit([raw], relay=False)
    assert first.accepted and first.tx_id is not None
    [from_peer] = await node.submit([raw], relay=False)
    [from_client] = await node.submit([raw], relay=True)
    assert from_peer is mempool.COPY_PENDING
    assert from_client.error is not None and from_client.error.code == "tx_already_pending"
    assert first.tx_id.hex() in from_client.error.message
