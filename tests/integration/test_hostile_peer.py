"""A peer holding a validator's node key sends what no honest node would: block-sync requests for heights
the store cannot encode, empty and absurd batches, unknown request kinds, malformed gossip. The node under
attack is a real `chainnode start` process; it must answer each with an error, stay up and keep committing.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from chainnode import codec, crypto
from chainnode.bft import LIMITS
from chainnode.config import HomeLayout, load_config
from network.config import NetworkConfig
from network.errors import RemoteError
from network.network import Network
from network.verdict import Verdict
from tests.cluster import Cluster

HOSTILE_REQUESTS: list[tuple[str, bytes]] = [
    ("block", codec.encode([-1, 10])),  # reached store.h8(-1) and killed the node
    ("block", codec.encode([0, 10])),
    ("block", codec.encode([2**64 - 1, 1])),
    ("block", codec.encode([1, 0])),
    ("block", codec.encode([1, -5])),
    ("block", codec.encode([1, 2**63])),
    ("block", b"\xc1"),
    ("vote", codec.encode([1, 2])),  # a request kind the node does not serve
]
HOSTILE_MESSAGES: list[tuple[str, bytes]] = [
    ("status", codec.encode([-1, -1])),
    ("status", codec.encode(["high", 1])),
    ("vote", b"\x00" * 64),
    ("proposal", codec.encode([b"", b""])),
    ("txs", codec.encode([b"\x01\x02"])),
]


@dataclass
class Quiet:
    """A handler that accepts everything and serves nothing."""

    connected: list[bytes] = field(default_factory=list)

    async def on_message(self, peer: bytes, kind: str, payload: bytes) -> Verdict:
        return Verdict.IGNORE

    async def on_request(self, peer: bytes, kind: str, payload: bytes) -> bytes:
        raise RemoteError("not serving", remote_code="not_found")

    def on_peer_connected(self, peer: bytes) -> None:
        self.connected.append(peer)

    def on_peer_disconnected(self, peer: bytes) -> None: ...


async def attack(cluster: Cluster, key: crypto.PrivateKey, target: int) -> list[str]:
    """Link to node `target` with `key`, send every hostile request and message; return the answer codes."""
    address = load_config(HomeLayout(cluster.homes[target].home).config).p2p_listen
    target_key = crypto.load_key_file(HomeLayout(cluster.homes[target].home).node_key).key.public_key
    handler = Quiet()
    network = Network(
        NetworkConfig(chain_id="cluster", genesis_hash=cluster.genesis.hash, listen="127.0.0.1:0", peers=(address,),
                      limits=LIMITS, backoff_base_ms=20, backoff_max_ms=200),
        key, is_allowed=lambda _: True, handler=handler, rng=random.Random(1),
    )
    await network.start()
    try:
        async with asyncio.timeout(20):
            while target_key not in handler.connected:
                await asyncio.sleep(0.05)
        codes = []
        for kind, payload in HOSTILE_REQUESTS:
            with pytest.raises(RemoteError) as answer:
                await network.request(target_key, kind, payload, timeout=5)
            codes.append(answer.value.remote_code)
        for kind, payload in HOSTILE_MESSAGES:
            network.send(target_key, kind, payload)
        # the link still answers after all of it (a request is answered in order, after the messages)
        with pytest.raises(RemoteError) as last:
            await network.request(target_key, "block", codec.encode([10**9, 1]), timeout=5)
        codes.append(last.value.remote_code)
        return codes
    finally:
        await network.stop()


def test_a_validator_key_cannot_kill_a_node_with_hostile_requests(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path)
    cluster.start_all()
    try:
        cluster.wait_committed(0, cluster.submit(0, ["before"]))
        # node3's key in the attacker's hands: node3 itself is stopped, so its key is free to link with
        cluster.kill(3)
        key = crypto.load_key_file(HomeLayout(cluster.homes[3].home).node_key).key
        codes = asyncio.run(attack(cluster, key, target=0))
        assert codes == ["invalid_input"] * 6 + ["malformed_encoding", "invalid_input", "not_found"], codes
        proc = cluster.procs[0]
        assert proc is not None and proc.poll() is None, "node0 exited"
        # three of four validators still commit, node0 among them
        cluster.wait_committed(0, cluster.submit(0, ["after"]), timeout=30)
        cluster.wait_committed(1, cluster.submit(1, ["after-1"]), timeout=30)
        cluster.assert_consistent()
    finally:
        cluster.stop_all()
