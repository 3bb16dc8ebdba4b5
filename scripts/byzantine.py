#!/usr/bin/env python3
"""A Byzantine validator for the fault drill: it holds a real validator's node key (that validator's own
node must be stopped), opens authenticated links to the other nodes like a node would (network.Network,
the same handshake), and floods them with validly signed junk:

- proposals for the next heights, for rounds it is the proposer of and rounds it is not, each with a
  block that decodes but is not a valid successor (random parent, state root and validator hashes);
- prevotes and precommits for future rounds of the next heights, for random block hashes.

It stops nothing itself: the drill stops the real node first. It runs until --seconds pass or until
SIGTERM/SIGINT, then prints one summary line starting "byzantine: sent". Only 127.0.0.1 peers.

    .venv/bin/python -m scripts.byzantine --home NODE_HOME --peers 127.0.0.1:P1,127.0.0.1:P2 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from chainnode import codec, crypto
from chainnode.bft import KIND_PROPOSAL, KIND_STATUS, KIND_VOTE, LIMITS
from chainnode.block import (
    VOTE_PRECOMMIT,
    VOTE_PREVOTE,
    Block,
    BlockHeader,
    Vote,
    compute_results_root,
    compute_tx_root,
)
from chainnode.config import HomeLayout, load_config, parse_listen
from chainnode.consensus.messages import Proposal, sign_proposal, sign_vote
from chainnode.consensus.proposer import compute_proposer
from chainnode.errors import InvalidInput
from chainnode.genesis import load_genesis
from chainnode.validators import ValidatorSet
from network.config import NetworkConfig
from network.network import Network
from network.verdict import Verdict

TICK_S: Final = 0.02
EMPTY_ROOT: Final = compute_tx_root([])
EMPTY_RESULTS: Final = compute_results_root([])


@dataclass(slots=True)
class Watcher:
    """The network side of the attacker: it answers nothing and learns the chain's height from statuses."""

    head: int = 0
    peers: set[bytes] = field(default_factory=set)
    seen_peers: set[bytes] = field(default_factory=set)

    async def on_message(self, peer: bytes, kind: str, payload: bytes) -> Verdict:
        if kind == KIND_STATUS:
            value = codec.decode(payload, max_size=LIMITS[KIND_STATUS])
            if type(value) is list and value and type(value[0]) is int:
                self.head = max(self.head, value[0])
        return Verdict.IGNORE

    async def on_request(self, peer: bytes, kind: str, payload: bytes) -> bytes:
        raise InvalidInput("this node serves nothing")

    def on_peer_connected(self, peer: bytes) -> None:
        self.peers.add(peer)
        self.seen_peers.add(peer)

    def on_peer_disconnected(self, peer: bytes) -> None:
        self.peers.discard(peer)


@dataclass(slots=True)
class Flood:
    """Signs and broadcasts the junk; counts what it sent."""

    network: Network
    key: crypto.PrivateKey
    chain_id: str
    validators: ValidatorSet
    index: int
    proposals_per_tick: int
    votes_per_tick: int
    proposals: int = 0
    votes: int = 0
    queued: int = 0
    cursor: int = 0

    def junk_block(self, height: int) -> Block:
        header = BlockHeader(
            chain_id=self.chain_id, height=height, time_ms=int(time.time() * 1000), prev_hash=os.urandom(32),
            tx_count=0, tx_root=EMPTY_ROOT, results_root=EMPTY_RESULTS, state_root=os.urandom(32),
            last_commit_hash=os.urandom(32), validators_hash=os.urandom(32), next_validators_hash=os.urandom(32),
            proposer=self.key.public_key,
        )
        return Block(header=header, txs=(), last_commit=None)

    def propose(self, height: int, round_: int) -> None:
        block = self.junk_block(height)
        proposal = Proposal(height=height, round=round_, block_hash=block.compute_hash(), pol_round=-1,
                            time_ms=block.header.time_ms)
        signed = sign_proposal(self.key, self.chain_id, proposal, self.index)
        self.queued += self.network.broadcast(KIND_PROPOSAL, codec.encode([signed.encode(), block.encode()]))
        self.proposals += 1

    def vote(self, height: int, round_: int, vote_type: int) -> None:
        vote = Vote(vote_type=vote_type, height=height, round=round_, block_hash=os.urandom(32))
        self.queued += self.network.broadcast(KIND_VOTE, sign_vote(self.key, self.chain_id, vote, self.index).encode())
        self.votes += 1

    def tick(self, head: int) -> None:
        """One burst: proposals for rounds 0..7 of the next two heights (its own turns among them), and
        votes for rounds further ahead."""
        for k in range(self.proposals_per_tick):
            height = head + 1 + (k % 2)
            round_ = (self.cursor + k) % 8
            mine = compute_proposer(self.validators, height, round_) == self.index
            self.propose(height, round_ if mine or k % 3 else (round_ + 1) % 8)
        for k in range(self.votes_per_tick):
            self.vote(head + 1 + (k % 2), 1 + (self.cursor + k) % 1000, VOTE_PREVOTE if k % 2 else VOTE_PRECOMMIT)
        self.cursor += 1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/byzantine.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="the home of the validator to impersonate")
    parser.add_argument("--peers", required=True, help="comma-separated 127.0.0.1:PORT of the other nodes")
    parser.add_argument("--listen", help="address to accept links on (default: the home's p2p listen address)")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--proposals", type=int, default=500, help="junk proposals per second (500)")
    parser.add_argument("--votes", type=int, default=1000, help="junk votes per second (1000)")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> str:
    layout = HomeLayout(args.home)
    genesis = load_genesis(layout.genesis)
    config = load_config(layout.config)
    key = crypto.load_key_file(layout.node_key).key
    validators = genesis.validator_set()
    index = validators.index_of(key.public_key)
    if index is None:
        raise SystemExit("byzantine: the home's node key is not a genesis validator")
    peers = tuple(p for p in args.peers.split(",") if p)
    for peer in peers:
        if parse_listen(peer, field="peers")[0] != "127.0.0.1":
            raise SystemExit(f"byzantine: only 127.0.0.1 peers, not {peer}")
    watcher = Watcher()
    network = Network(NetworkConfig(chain_id=genesis.chain_id, genesis_hash=genesis.hash,
                                    listen=args.listen or config.p2p_listen, peers=peers, limits=LIMITS),
                      key, is_allowed=lambda _key: True, handler=watcher)
    flood = Flood(network, key, genesis.chain_id, validators, index,
                  max(1, round(args.proposals * TICK_S)), max(1, round(args.votes * TICK_S)))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await network.start()
    started = time.monotonic()
    linked = 0
    try:
        while not stop.is_set() and time.monotonic() - started < args.seconds:
            if watcher.peers and watcher.head:
                flood.tick(watcher.head)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), TICK_S)
        linked = len(watcher.peers)
    finally:
        await network.stop()
    return (f"byzantine: sent {flood.proposals} proposals and {flood.votes} votes ({flood.queued} frames queued) "
            f"over {time.monotonic() - started:.0f} s; linked to {len(watcher.seen_peers)} peers, "
            f"{linked} still linked at the end; last head seen {watcher.head}")


def main(argv: list[str] | None = None) -> int:
    summary = asyncio.run(run(parse_args(argv)))
    print(summary, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
