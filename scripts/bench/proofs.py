#!/usr/bin/env python3
"""Proofs benchmark: how large a certificate proof is and how long it takes to check, how long a 1,000-event
trace takes from the HTTP request to its verdict, and the wall time of `chainnode cert verify`.

Each network is four validators (PSB, SAMR, CAB, TAX) in a temporary directory, driven in this process: one
node builds each block and every validator signs its commit (a proof carries the minimal quorum, 3 of 4).

1. Certificate: a certificate is issued, then K validator-set changes (four departments join, then powers
   change), then S anchors (big batches, one block each). The proof of the certificate with its officer's
   roster record, one skip from genesis, is timed through `verify_certificate`. With `--big-state`, the
   state grows to that size and the proof is measured again if the measured build rate says it fits in
   `--budget` seconds; otherwise its size is computed from the siblings counted (each doubling of the state
   adds 32 bytes per proven key).
2. Trace: 1,000 anchors of PSB (a) in 4 blocks, (b) one per block over 1,000 consecutive blocks (one commit
   proves the run: each block below the top is proven by the prev_hash above it), and (c) one per block
   with an empty block between (every block needs its own commit). End to end is
   `GET /v1/history/department:PSB?limit=1000&proof=1` on an in-process server on 127.0.0.1 through
   `verify_trace`; offline is `verify_trace` alone on the page already fetched.
3. `chainnode cert verify ID --proof F --genesis G` as a subprocess, interpreter start included, beside
   `python -c pass`.

Floors measured in the same run: Ed25519 verifications/s on one core (chainnode.crypto.verify_signature) and
SHA-256 MB/s (hashlib, 1 MiB inputs). Every figure is the median of --runs runs (the commands: --cli-runs).

    .venv/bin/python scripts/bench/proofs.py                          # K=100, S=100,000, 5 runs
    .venv/bin/python scripts/bench/proofs.py --big-state 1000000      # also the proof at a 1M-key state
    .venv/bin/python scripts/bench/proofs.py --changes 4 --state 200 --events 20 --runs 1 --cli-runs 1
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

# Python puts this script's directory first on the path; its contracts.py would shadow the package.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import aiohttp
from aiohttp.test_utils import TestServer
from yarl import URL

from chainnode import codec, crypto, light
from chainnode.api import create_app
from chainnode.block import VOTE_PRECOMMIT, Commit, CommitSignature, Vote
from chainnode.cert_verify import verify_certificate
from chainnode.codec import Value
from chainnode.faults import ENV_VAR as FAULTS_ENV
from chainnode.home import DepartmentSpec, init_network
from chainnode.node import Node
from chainnode.read_auth import NONCE_SIZE, sign_read
from chainnode.trace_verify import verify_trace
from chainnode.tx import TxBody, decode_transaction, sign_transaction
from contracts import certificates, governance
from contracts.certificates import compute_cert_id

DEPARTMENTS = ("PSB", "SAMR", "CAB", "TAX")
BATCH = 5_000  # transactions per block while building the state (the genesis limit)
SIBLING_BYTES = 32


# --- floors ------------------------------------------------------------------------------------------------


def median_of(runs: int, work: Callable[[], object]) -> float:
    """Median wall seconds of `runs` calls of `work`."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def ed25519_floor(runs: int, n: int = 2_000) -> float:
    """Ed25519 verifications per second on one core, of vote-sized messages."""
    key = crypto.PrivateKey.generate()
    message = os.urandom(120)
    signature = key.sign(message)
    verify, public = crypto.verify_signature, key.public_key

    def work() -> None:
        for _ in range(n):
            verify(public, message, signature)

    return n / median_of(runs, work)


def sha256_floor(runs: int, megabytes: int = 64) -> float:
    """hashlib SHA-256 MB/s over 1 MiB inputs on one core."""
    chunk = os.urandom(1 << 20)

    def work() -> None:
        for _ in range(megabytes):
            hashlib.sha256(chunk).digest()

    return megabytes * (1 << 20) / 1e6 / median_of(runs, work)


# --- a network driven in this process -----------------------------------------------------------------------


class Quorum:
    """One node of a four-validator network whose validator keys this process holds: it builds each block
    and every validator of that height signs the commit."""

    def __init__(self, root: Path, chain_id: str, params: dict[str, int] | None = None) -> None:
        _, homes = init_network([root / code for code in DEPARTMENTS], chain_id=chain_id,
                                departments=[DepartmentSpec(code=c, name=c) for c in DEPARTMENTS],
                                api_ports=[1, 2, 3, 4], p2p_ports=[5, 6, 7, 8], params=params,
                                config_overrides={"max_block_txs": BATCH})
        self.chain_id = chain_id
        self.node = Node.from_home(homes[0].home)
        self.officers = [crypto.load_key_file(h.officer_key).key for h in homes]
        self.signers = {key.public_key: key for key in (crypto.load_key_file(h.node_key).key for h in homes)}

    def new_validator(self) -> crypto.PrivateKey:
        key = crypto.PrivateKey.generate()
        self.signers[key.public_key] = key
        return key

    def tx(self, contract: str, method: str, args: Value, signer: crypto.PrivateKey | None = None) -> bytes:
        key = signer or self.officers[0]
        body = TxBody(chain_id=self.chain_id, contract=contract, method=method, args=args, signer=key.public_key,
                      nonce=os.urandom(16), expiry_height=self.node.head_height() + 1_000)
        return sign_transaction(key, body).raw

    def anchors(self, count: int) -> list[bytes]:
        return [self.tx("anchor", "put", {"content_hash": os.urandom(32), "kind": "bench"}) for _ in range(count)]

    async def block(self, raws: list[bytes]) -> int:
        """Commit one block holding exactly `raws`; return its height."""
        node = self.node
        if raws:
            refused = [a.error for a in await node.submit(raws) if a.error is not None]
            if refused:
                raise SystemExit(f"{len(refused)} transactions refused, the first: {refused[0]}")
        proposed = node.build_proposal(node.take_proposal_txs(), now_ms=node.clock.now_ms())
        if len(proposed.block.txs) != len(raws):
            raise SystemExit(f"block of {len(proposed.block.txs)} transactions, expected {len(raws)}")
        bad = [r.code for r in proposed.execution.results if r.code != "ok"]
        if bad:
            raise SystemExit(f"{len(bad)} transactions failed, the first: {bad[0]}")
        height = proposed.block.height
        message = Vote(vote_type=VOTE_PRECOMMIT, height=height, round=0,
                       block_hash=proposed.block_hash).compute_signing_bytes(self.chain_id)
        signatures = tuple(CommitSignature(validator_index=i, signature=self.signers[v.public_key].sign(message))
                           for i, v in enumerate(node.validators_at(height).validators))
        node.commit_decided(proposed, Commit(height=height, round=0, block_hash=proposed.block_hash,
                                             signatures=signatures))
        await node.announce_commit(proposed)
        return height

    async def fill(self, count: int, per_block: int = BATCH, gap: int = 0) -> None:
        """`count` anchors, `per_block` to a block, each block followed by `gap` empty blocks."""
        for start in range(0, count, per_block):
            await self.block(self.anchors(min(per_block, count - start)))
            for _ in range(gap):
                await self.block([])


# --- 1. a certificate proof after K validator-set changes -------------------------------------------------------


async def issue_certificate(q: Quorum) -> str:
    head = q.node.head_height()
    await q.block([q.tx("governance", "propose", {
        "kind": "register_cert_type", "payload": {"code": "permit", "name": "Permit", "issuers": ["PSB"],
                                                  "validity_days": 3650},
        "deadline_height": head + 50, "effective_height": head + 2})])
    await q.block([q.tx("governance", "vote", {"proposal_id": 1, "approve": True}, officer)
                   for officer in q.officers[:3]])  # more than two thirds of the departments
    await q.block([])
    issue = q.tx("certificates", "issue", {"cert_type": "permit", "holder_ref": crypto.sha256(b"holder"),
                                           "content_hash": crypto.sha256(b"permit v1")})
    await q.block([issue])
    return compute_cert_id(decode_transaction(issue).tx_id)


async def change_validators(q: Quorum, changes: int) -> None:
    """Four departments join (as many as `changes` allows), then the genesis members' powers change in turn."""
    members = list(q.node.genesis.validator_set().validators)
    for done in range(changes):
        if done < 4:
            department, key, power = f"D{done}", q.new_validator().public_key, 10
        else:
            target = members[done % len(members)]
            department, key, power = target.department, target.public_key, 5 + done % 11
        await q.block([q.tx("testhook", "set_validator", {"department": department, "public_key": key,
                                                          "power": power})])


def measure_cert(q: Quorum, cert_id: str, runs: int, reps: int = 20) -> dict[str, Any]:
    keys = [certificates.cert_key(cert_id), governance.member_key(q.officers[0].public_key)]
    bundle = q.node.reader.state_values_bundle(keys)
    data = bundle.encode()
    genesis = q.node.genesis
    verified = verify_certificate(genesis, cert_id, data)
    if not verified.ok:
        raise SystemExit(f"the certificate verifies as {verified.verdict}")
    per_call = median_of(runs, lambda: [verify_certificate(genesis, cert_id, data) for _ in range(reps)]) / reps
    siblings = [len(p.siblings) for p in bundle.proofs]
    parts = {"headers": sum(len(codec.encode(link.header.fields())) for link in bundle.links),
             "signatures": sum(len(codec.encode([[s.validator_index, s.signature] for s in link.commit.signatures]))
                               for link in bundle.links),
             "validator sets": sum(len(codec.encode([v.fields() for v in link.validators.validators]))
                                   for link in bundle.links if link.validators is not None),
             "values": sum(len(p.value or b"") for p in bundle.proofs),
             "siblings": SIBLING_BYTES * sum(siblings)}
    return {"bytes": len(data), "links": len(bundle.links), "siblings": siblings, "parts": parts,
            "signatures": sum(len(link.commit.signatures) for link in bundle.links), "verify_s": per_call,
            "data": data}


# --- 2. a 1,000-event trace ------------------------------------------------------------------------------------


async def measure_trace(q: Quorum, session: aiohttp.ClientSession, url: str, first: int, last: int, runs: int,
                        ed_rate: float) -> dict[str, Any]:
    genesis = q.node.genesis
    params = {"limit": "1000", "proof": "1", "from_height": str(first), "to_height": str(last)}

    target = str(URL("/v1/history/department:PSB").with_query(params))

    async def fetch() -> dict[str, Any]:  # a history is internal: signed by PSB's officer (docs/api.md)
        header = sign_read(q.officers[0], genesis.chain_id, "GET", target, q.node.clock.now_ms(),
                           os.urandom(NONCE_SIZE), q.node.node_key.public_key)
        async with session.get(f"{url}{target}", headers={"Authorization": header}) as response:
            if response.status != 200:
                raise SystemExit(f"history answered {response.status}: {await response.text()}")
            return dict(await response.json())

    end_to_end = []
    for _ in range(runs):
        start = time.perf_counter()
        page = await fetch()
        verify_trace(genesis, page["events"], base64.b64decode(page["proof"]))
        end_to_end.append(time.perf_counter() - start)
    events, data = page["events"], base64.b64decode(page["proof"])
    checked = verify_trace(genesis, events, data)
    bundle = light.decode_bundle(data)
    commit_sigs = sum(len(link.commit.signatures) for link in bundle.links)
    offline = median_of(runs, lambda: verify_trace(genesis, events, data))
    return {"events": checked.events, "blocks": checked.blocks, "bytes": len(data), "commit_sigs": commit_sigs,
            "end_to_end_s": statistics.median(end_to_end), "offline_s": offline,
            "commit_sigs_s": commit_sigs / ed_rate, "tx_sigs_s": checked.events / ed_rate}


async def timed(label: str, work: Awaitable[None]) -> float:
    start = time.perf_counter()
    await work
    took = time.perf_counter() - start
    print(f"  built: {label} in {took:.1f} s", flush=True)
    return took


# --- 3. the whole command -----------------------------------------------------------------------------------------


def command_seconds(argv: list[str], runs: int) -> float:
    env = {k: v for k, v in os.environ.items() if k != FAULTS_ENV}
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return statistics.median(times)


def chainnode_argv() -> list[str]:
    script = Path(sys.executable).parent / "chainnode"
    return [str(script)] if script.exists() else [sys.executable, "-m", "chainnode.cli"]


# --- the run ------------------------------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.1f} ms"


def verdict(value: float, target: float) -> str:
    return "met" if value <= target else "NOT met"


async def run(args: argparse.Namespace, root: Path) -> None:
    runs, events = args.runs, args.events
    rows: list[tuple[str, str, str]] = []
    # the chains first, so that the floors are measured next to the figures
    trace_chain = Quorum(root / "trace", "bench-trace")
    await timed(f"{events:,} anchors in 4 blocks", trace_chain.fill(events, math.ceil(events / 4)))
    spread_first = trace_chain.node.head_height() + 1
    await timed(f"{events:,} anchors one per block", trace_chain.fill(events, 1))
    sparse_first = trace_chain.node.head_height() + 1
    await timed(f"{events:,} anchors one per block, an empty block between", trace_chain.fill(events, 1, gap=1))
    os.environ[FAULTS_ENV] = "test-hooks"
    cert_chain = Quorum(root / "cert", "bench-cert", params={"test_hooks": 1})
    cert_id = await issue_certificate(cert_chain)
    await timed(f"{args.changes} validator-set changes", change_validators(cert_chain, args.changes))
    build_s = await timed(f"{args.state:,} anchors in blocks of {BATCH:,}", cert_chain.fill(args.state))
    await cert_chain.block([])
    ed_rate, sha_rate = ed25519_floor(runs), sha256_floor(runs)
    print(f"floor: Ed25519 {ed_rate:,.0f} verifications/s on one core ({1e6 / ed_rate:.0f} µs each); "
          f"SHA-256 {sha_rate:,.0f} MB/s (median of {runs})", flush=True)

    # 1. certificate
    cert = measure_cert(cert_chain, cert_id, runs)
    proven = len(cert["siblings"])
    rows.append((f"certificate proof, S={args.state:,}, K={args.changes}",
                 f"{cert['bytes']:,} B, verify {ms(cert['verify_s'])}",
                 f"{cert['links']} link, {cert['signatures']} commit signatures (at the floor "
                 f"{ms(cert['signatures'] / ed_rate)}), siblings {cert['siblings']}; bytes of "
                 + ", ".join(f"{name} {size:,}" for name, size in cert["parts"].items())))
    if args.big_state > args.state:
        estimate = build_s / max(args.state, 1) * (args.big_state - args.state)
        if estimate <= args.budget:
            await timed(f"{args.big_state - args.state:,} more anchors", cert_chain.fill(args.big_state - args.state))
            await cert_chain.block([])
            big = measure_cert(cert_chain, cert_id, runs)
            rows.append((f"certificate proof, S={args.big_state:,}", f"{big['bytes']:,} B, verify "
                         f"{ms(big['verify_s'])}", f"siblings {big['siblings']} (measured)"))
        else:
            doublings = math.log2(args.big_state / max(args.state, 1))
            size = cert["bytes"] + round(doublings * SIBLING_BYTES * proven)
            rows.append((f"certificate proof, S={args.big_state:,}", f"~{size:,} B (computed)",
                         f"{cert['bytes']:,} B + log2({args.big_state:,}/{args.state:,}) = {doublings:.2f} "
                         f"doublings x {SIBLING_BYTES} B x {proven} proven keys; building it would take "
                         f"~{estimate:.0f} s at the measured rate, over the {args.budget:.0f} s budget"))

    # 3. the whole command (the proof of step 1)
    proof_file, genesis_file = root / "cert.proof", root / "genesis.json"
    proof_file.write_bytes(cert["data"])
    genesis_file.write_text(json.dumps(cert_chain.node.genesis.document))
    command = [*chainnode_argv(), "cert", "verify", cert_id, "--proof", str(proof_file), "--genesis",
               str(genesis_file)]
    cli_s = command_seconds(command, args.cli_runs)
    bare_s = command_seconds([sys.executable, "-c", "pass"], args.cli_runs)
    cert_chain.node.close()

    # 2. traces: (a) in 4 blocks, (b) one event a block
    server = TestServer(create_app(trace_chain.node), host="127.0.0.1")
    await server.start_server()
    try:
        url = str(server.make_url("")).rstrip("/")
        async with aiohttp.ClientSession() as session:
            traces = {
                "4 blocks": await measure_trace(trace_chain, session, url, 1, spread_first - 1, runs, ed_rate),
                f"{events:,} consecutive blocks": await measure_trace(trace_chain, session, url, spread_first,
                                                                      sparse_first - 1, runs, ed_rate),
                f"{events:,} blocks, none adjacent": await measure_trace(trace_chain, session, url, sparse_first,
                                                                         trace_chain.node.head_height(), runs,
                                                                         ed_rate),
            }
    finally:
        await server.close()
        trace_chain.node.close()
    for label, t in traces.items():
        # commit signatures are checked on one core; a page's transaction signatures on every core
        cores = min(os.cpu_count() or 1, 8) if t["events"] >= light.PARALLEL_SIGNATURES else 1
        tx_sigs_s = t["tx_sigs_s"] / cores
        rest = t["offline_s"] - t["commit_sigs_s"] - tx_sigs_s
        rows.append((f"trace of {t['events']:,} events over {label}, end to end",
                     ms(t["end_to_end_s"]), f"target <= 2 s: {verdict(t['end_to_end_s'], 2.0)}; "
                     f"proof {t['bytes']:,} B, {t['blocks']} blocks"))
        rows.append((f"trace of {t['events']:,} events over {label}, offline verify", ms(t["offline_s"]),
                     f"target <= 100 ms: {verdict(t['offline_s'], 0.1)}; at the Ed25519 floor: "
                     f"{t['commit_sigs']:,} commit signatures {ms(t['commit_sigs_s'])} + {t['events']:,} "
                     f"transaction signatures {ms(tx_sigs_s)} on {cores} core(s); the rest {ms(rest)}"))
    rows.append((f"chainnode cert verify (whole command, median of {args.cli_runs})", ms(cli_s),
                 f"target <= 300 ms: {verdict(cli_s, 0.3)}; floor python -c pass {ms(bare_s)}"))
    rows.append(("floor: Ed25519 verify, one core", f"{ed_rate:,.0f} /s", f"{1e6 / ed_rate:.0f} µs each"))
    rows.append(("floor: SHA-256 (1 MiB inputs)", f"{sha_rate:,.0f} MB/s", ""))

    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    print(f"\nmedian of {runs} runs; K={args.changes}, S={args.state:,}, {events:,} events")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>{value_width}}  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cli-runs", type=int, default=10)
    parser.add_argument("--changes", type=int, default=100, help="validator-set changes before the proof (K)")
    parser.add_argument("--state", type=int, default=100_000, help="anchors in the state (S)")
    parser.add_argument("--big-state", type=int, default=1_000_000,
                        help="the larger state to measure the proof at, or to compute it for (0: skip)")
    parser.add_argument("--budget", type=float, default=180, help="seconds the larger state may take to build")
    parser.add_argument("--events", type=int, default=1_000, help="events in a trace (at most 1,000, one page)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-proofs-") as tmp:
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
