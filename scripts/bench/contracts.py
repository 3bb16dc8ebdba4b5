#!/usr/bin/env python3
"""Contracts benchmark: one node, the case workflow (file, decide, issue, verify) through the HTTP API.

Each run makes a fresh single-validator home whose genesis preloads 5 material types and one certificate
type, starts the node as a process, and then, with transactions signed beforehand by the department's
officer (who holds every role):

  setup    items.publish one item requiring the 5 material types (timed apart, not a result), then
           materials.attest 5 materials for each of H holders (reported: materials are attested once and
           cited by every later case);
  phase A  cases.file N cases, each citing its holder's 5 materials (the contract checks every one);
  phase B  cases.decide approve for each of those cases, with a certificate content hash (the decision
           issues the certificate in the same transaction);
  phase C  certificates.issue N certificates directly;
  verify   GET /v1/state?key=<cert state key> for V certificates (records with their state proofs), then
           verify each bundle offline against genesis alone (chainnode.light: header, commit quorum,
           state path), decode the proven record and check its ID, content hash and status.

Transactions go in msgpack batches through POST /v1/txs from concurrent clients; each one's commit and
result code are read from the WebSocket event stream, and a phase fails loudly if any result is not ok.
Per method it prints committed tx/s (first submission to last commit), node CPU microseconds per
transaction (from /proc, until the node is idle again after the phase, so the LevelDB compaction of the
phase's writes is charged to it) and that CPU over the floor measured in the same run (Ed25519 verify +
SHA-256 + LevelDB batched write per transaction, the function of scripts/bench/ledger.py). Each figure
is the median over --runs runs. `--spy cases.file` (any phase, or fetch) samples the node with py-spy
during that phase and prints where its time goes, by stage, function and thread (its figures are slowed
by the sampling); `--profile` instead runs the executor in-process on one 1,000-transaction block per
method and prints its cost and cProfiles of the filing and decision blocks.

    .venv/bin/python scripts/bench/contracts.py --cases 10000 --holders 1000 --runs 3   (or --quick, --profile)
"""

from __future__ import annotations

import sys
from pathlib import Path

# The repository root goes first: this file is itself named contracts.py, and `contracts` is the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import argparse
import asyncio
import base64
import contextlib
import cProfile
import io
import json
import multiprocessing
import os
import pstats
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import aiohttp
import msgpack
from ledger import cpu_seconds, free_port, measure_floor, wait_ready

from chainnode import codec, crypto, light
from chainnode.errors import InvalidProof
from chainnode.execution import BlockContext, compute_genesis_changes, execute_block
from chainnode.genesis import Genesis, load_genesis, parse_genesis, write_genesis
from chainnode.home import DEFAULT_OFFICER_ROLES, init_home
from chainnode.read_auth import NONCE_SIZE, sign_read
from chainnode.tx import Transaction, TxBody, sign_transaction
from contracts import certificates
from contracts.case_queries import compute_case_id
from contracts.materials import compute_material_id

DEPARTMENT = "PSB"
ITEM_CODE = "BENCH-001"
CERT_TYPE = "bench-licence"
MATERIAL_TYPES = tuple(f"bench-material-{i}" for i in range(1, 6))
TARGET_FILINGS_PER_S = 3_000
EXPIRY_HEIGHT = 90_000
SIGN_CHUNK = 2_000
PROFILE_START_MS = 1_772_413_200_000
"""--profile's genesis time: 2026-03-02 09:00 at UTC+8, a Monday."""
PHASES = ("materials.attest", "cases.file", "cases.decide", "certificates.issue")
NODE_MAIN = "import sys; from pathlib import Path; from chainnode.service import run_home; run_home(Path(sys.argv[1]))"
Call = tuple[str, str, dict[str, Any]]


# --- what the benchmark submits --------------------------------------------------------------------------


def governance_section() -> dict[str, Any]:
    """The genesis registries: 5 material types and one certificate type that the bench department issues."""
    year = time.gmtime().tm_year
    return {
        "material_types": [{"code": code, "name": f"Bench material {code[-1]}"} for code in MATERIAL_TYPES],
        "cert_types": [{"code": CERT_TYPE, "name": "Bench licence", "issuers": [DEPARTMENT], "validity_days": 365}],
        "calendars": [{"year": y, "holidays": [], "workdays": []} for y in (year, year + 1)],
    }


def holder_ref(holder: int) -> bytes:
    return crypto.sha256(f"bench holder {holder}".encode())


def publish_call() -> Call:
    return ("items", "publish", {
        "code": ITEM_CODE,
        "name": "Bench licence",
        "legal_basis": "Benchmark regulation, art. 1",
        "kind": "licensing",
        "conditions": ["the applicant holds all five materials"],
        "materials": [
            {"material_type": code, "issuers": [DEPARTMENT], "form": "original", "optional": False}
            for code in MATERIAL_TYPES
        ],
        "legal_limit_days": 20,
        "promised_limit_days": 10,
        "cert_type": CERT_TYPE,
        "parallel_departments": [],
    })


def attest_calls(holders: int, run: int) -> list[Call]:
    return [
        ("materials", "attest", {
            "material_type": code,
            "holder_ref": holder_ref(h),
            "content_hash": crypto.sha256(f"run {run} holder {h} {code}".encode()),
        })
        for h in range(holders)
        for code in MATERIAL_TYPES
    ]


def file_calls(n: int, holders: int, material_ids: Sequence[str]) -> list[Call]:
    """Case i is for holder i % holders, citing that holder's 5 materials (attested in holder order)."""
    per = len(MATERIAL_TYPES)
    return [
        ("cases", "file", {
            "item_code": ITEM_CODE,
            "holder_ref": holder_ref(i % holders),
            "materials": list(material_ids[(i % holders) * per : (i % holders + 1) * per]),
        })
        for i in range(n)
    ]


def decide_calls(case_ids: Sequence[str], run: int) -> list[Call]:
    return [
        ("cases", "decide", {
            "case_id": case_id,
            "decision": "approve",
            "reason": "all conditions met",
            "certificate": {"content_hash": crypto.sha256(f"run {run} licence {i}".encode())},
        })
        for i, case_id in enumerate(case_ids)
    ]


def issue_calls(n: int, holders: int, run: int) -> list[Call]:
    return [
        ("certificates", "issue", {
            "cert_type": CERT_TYPE,
            "holder_ref": holder_ref(i % holders),
            "content_hash": crypto.sha256(f"run {run} direct {i}".encode()),
        })
        for i in range(n)
    ]


def _sign_chunk(seed: bytes, chain_id: str, calls: list[Call]) -> list[tuple[bytes, bytes]]:
    key = crypto.PrivateKey(seed)
    out: list[tuple[bytes, bytes]] = []
    for contract, method, args in calls:
        body = TxBody(chain_id=chain_id, contract=contract, method=method, args=args, signer=key.public_key,
                      nonce=os.urandom(16), expiry_height=EXPIRY_HEIGHT)
        tx = sign_transaction(key, body)
        out.append((tx.raw, tx.tx_id))
    return out


@dataclass(frozen=True, slots=True)
class Signed:
    raws: list[bytes]
    tx_ids: list[bytes]


def sign_all(pool: ProcessPoolExecutor, key: crypto.PrivateKey, chain_id: str, calls: list[Call]) -> Signed:
    """Sign `calls` on the worker processes; the order is kept."""
    chunks = [calls[i : i + SIGN_CHUNK] for i in range(0, len(calls), SIGN_CHUNK)]
    signed = [pair for part in pool.map(_sign_chunk, [key.seed] * len(chunks), [chain_id] * len(chunks), chunks)
              for pair in part]
    return Signed([raw for raw, _ in signed], [tx_id for _, tx_id in signed])


# --- driving a node -------------------------------------------------------------------------------------


def filed_accepted(result: dict[str, Any]) -> str | None:
    """A filing must be accepted (its materials complete), or the decisions that follow are refused."""
    status = result["events"][0]["attributes"]["status"]
    return None if status == "accepted" else f"case filed as {status}: {result['events'][0]['attributes']}"


async def submit_and_wait(url: str, signed: Signed, batch: int, clients: int, what: str,
                          check: Callable[[dict[str, Any]], str | None] | None = None,
                          sign: Callable[[str], str] | None = None) -> float:
    """Submit every transaction and wait until all are committed; seconds from first submit to last commit.
    With `check`, the event stream carries each result's events (`detail=events`, a request signed by
    `sign(target)`, which returns the Authorization header); otherwise codes only, as most subscribers ask.

    Raises SystemExit if a submission is rejected, a result is not ok (or fails `check`), or commits stop
    for 60 s.
    """
    wanted = {tx_id.hex() for tx_id in signed.tx_ids}
    committed: dict[str, float] = {}
    failed: list[str] = []
    done = asyncio.Event()
    async with aiohttp.ClientSession() as session:
        if check is None or sign is None:
            ws = await session.ws_connect(url + "/v1/events", max_msg_size=0)
        else:
            target = "/v1/events?detail=events"
            ws = await session.ws_connect(url + target, max_msg_size=0, headers={"Authorization": sign(target)})

        async def listen() -> None:
            async for message in ws:
                event = message.json()
                now = time.perf_counter()
                for result in event.get("results", []):
                    tx_id = result["tx_id"]
                    if tx_id in wanted:
                        committed[tx_id] = now
                        if result["code"] != "ok":
                            failed.append(f"{result['code']}: {result['message']}")
                        elif check is not None and (problem := check(result)) is not None:
                            failed.append(problem)
                if len(committed) >= len(wanted) or failed:
                    done.set()
                    return

        listener = asyncio.create_task(listen())
        starts = list(range(0, len(signed.raws), batch))

        async def client() -> None:
            while starts:
                start = starts.pop(0)
                body = msgpack.packb(signed.raws[start : start + batch], use_bin_type=True)
                async with session.post(url + "/v1/txs", data=body,
                                        headers={"Content-Type": "application/msgpack"}) as r:
                    answer = await r.json()
                    if r.status != 200 or answer["rejected"]:
                        refused = [x for x in answer.get("results", []) if x.get("status") == "rejected"][:3]
                        raise SystemExit(f"{what}: submission rejected: {refused or str(answer)[:300]}")

        t0 = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        seen = -1
        while not done.is_set():
            if len(committed) == seen:
                raise SystemExit(f"{what}: no commit for 60 s; {len(committed)} of {len(wanted)} committed")
            seen = len(committed)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), 60)
        listener.cancel()
        await ws.close()
    if failed:
        raise SystemExit(f"{what}: {len(failed)} transaction(s) failed, first: {failed[0]}")
    return max(committed.values()) - t0


async def fetch_proofs(url: str, keys: Sequence[bytes], concurrency: int) -> tuple[float, list[bytes]]:
    """GET /v1/state for every key; seconds taken and the proof bundles, in order."""
    bundles: list[bytes] = [b""] * len(keys)
    queue = list(range(len(keys)))
    async with aiohttp.ClientSession() as session:

        async def client() -> None:
            while queue:
                i = queue.pop()
                async with session.get(url + "/v1/state", params={"key": keys[i].hex()}) as r:
                    answer = await r.json()
                    if r.status != 200:
                        raise SystemExit(f"GET /v1/state failed: {str(answer)[:300]}")
                    bundles[i] = base64.b64decode(answer["proof"])

        t0 = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        return time.perf_counter() - t0, bundles


def verify_certificate(genesis: Genesis, cert_id: str, content_hash: bytes, data: bytes) -> None:
    """What a verifier does with a certificate ID, the presented file's hash and a state bundle.

    Raises InvalidProof (bundle, chain, commit, state path) or SystemExit (the proven record is not this
    valid certificate).
    """
    bundle = light.decode_bundle(data)
    if not isinstance(bundle, light.StateValueBundle):
        raise SystemExit(f"certificate {cert_id}: a transaction proof, not a state proof")
    proven = light.verify_state_bundle(genesis, bundle)
    if proven.key != certificates.cert_key(cert_id) or proven.value is None:
        raise SystemExit(f"certificate {cert_id}: the proof is for another key or shows no record")
    record = codec.decode(proven.value, max_size=1 << 20)
    if type(record) is not dict or record.get("cert_id") != cert_id or record.get("content_hash") != content_hash:
        raise SystemExit(f"certificate {cert_id}: the proven record does not match")
    status = certificates.status_at(record, proven.time_ms)
    if status != certificates.VALID:
        raise SystemExit(f"certificate {cert_id}: status {status}, expected valid")


def start_node(home: Path, log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-c", NODE_MAIN, str(home)],
            stdout=log, stderr=subprocess.STDOUT,
        )


def stop_node(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def settle(pid: int, *, idle_share: float = 0.05, timeout_s: float = 30.0) -> None:
    """Wait until the node is idle (LevelDB's background compaction of the last phase's writes is done), so
    that work is charged to the phase that caused it and not to the next one."""
    deadline = time.monotonic() + timeout_s
    quiet = 0
    while quiet < 2 and time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(0.25)
        quiet = quiet + 1 if cpu_seconds(pid) - before < 0.25 * idle_share else 0


def start_spy(pid: int, phase: str) -> tuple[subprocess.Popen[bytes], Path]:
    """Sample the node's Python stacks (all threads) with py-spy during one phase."""
    out = Path(tempfile.gettempdir()) / f"bench-contracts-spy-{phase}.txt"
    spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "-o", str(out), "-f", "raw",
                            "-p", str(pid), "-t", "-r", "200"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    return spy, out


SPY_STAGES = (
    ("admission: decode, screen (Node.submit)", "Node.submit"),
    ("admission: signature checks (thread pool)", "_verify_chunk"),
    ("block execution (execute_block)", "execute_block"),
    ("  of which the contract method (or Reader.state_bundle)", ""),
    ("state tree update", "compute_state_update"),
    ("store write (Store.commit_block)", "Store.commit_block"),
    ("event stream JSON (EventCache.get)", "EventCache.get"),
)


def _is_idle(leaf: str) -> bool:
    """Frames where a thread waits: a pool worker on its queue, the event loop in select, threading waits."""
    return leaf.startswith(("_worker (concurrent/futures/thread.py", "select (")) or "(threading.py" in leaf \
        or "(selectors.py" in leaf


def stop_spy(spy: tuple[subprocess.Popen[bytes], Path], phase: str, lines: int) -> str:
    """Stop py-spy and summarise its busy samples: share by stage, and own time by function."""
    proc, path = spy
    proc.send_signal(2)
    proc.wait(30)
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not count.isdigit() or _is_idle(frames[-1]):
            continue
        total += int(count)
        own[frames[-1]] = own.get(frames[-1], 0) + int(count)
        for name in {frame.split(" (")[0] for frame in frames}:
            inclusive[name] = inclusive.get(name, 0) + int(count)
    if not total:
        return f"py-spy {phase}: no samples (is ptrace allowed?)"
    handler = phase.split(".")[-1] if phase in PHASES else "Reader.state_bundle"
    out = [f"py-spy of the node during {phase}: {total} busy samples (all threads; raw stacks in {path})"]
    out += [f"  {inclusive.get(name or handler, 0) / total:6.1%}  {label}" for label, name in SPY_STAGES]
    out.append("  own time by function:")
    out += [f"  {n / total:6.1%}  {name}" for name, n in sorted(own.items(), key=lambda kv: -kv[1])[:lines]]
    return "\n".join(out)


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds so far of each thread of a process, by thread ID."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            out[int(task.name)] = _task_cpu(task)
    return out


def _task_cpu(task: Path) -> float:
    fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


THREAD_ROLES = {
    "MainThread": "event loop: HTTP, admission screening, event stream",
    "asyncio": "default pool: block building (execute, state tree, commit), state proofs",
    "verify": "Ed25519 signature checks",
}


def thread_report(pid: int, before: dict[int, float], n: int) -> str:
    """Node CPU per transaction by thread since `before`; Python thread names come from `py-spy dump`, and
    a thread py-spy does not know is native (LevelDB's background compaction)."""
    dump = subprocess.run([str(Path(sys.executable).parent / "py-spy"), "dump", "-p", str(pid)],
                          capture_output=True, text=True, timeout=30).stdout
    names = {int(m[0]): m[1] for m in re.findall(r'^Thread (\d+) \([a-z]+\): "([^"]+)"', dump, re.MULTILINE)}
    after = thread_cpu(pid)
    out = ["  node CPU by thread, us per transaction (or request):"]
    for tid, spent in sorted(((t, after[t] - before.get(t, 0.0)) for t in after), key=lambda kv: -kv[1]):
        if spent <= 0:
            continue
        name = names.get(tid, "native")
        role = next((r for k, r in THREAD_ROLES.items() if name.startswith(k)), "LevelDB compaction")
        out.append(f"  {spent / n * 1e6:8.0f}  {name} ({role})")
    return "\n".join(out)


def make_home(work: Path, args: argparse.Namespace) -> tuple[Path, int, crypto.PrivateKey, Genesis]:
    """A single-validator home whose genesis preloads the bench registries."""
    home = work / "node"
    port = free_port()
    _, created = init_home(
        home, chain_id="bench-contracts", department=DEPARTMENT, name="Bench", api_port=port, p2p_port=free_port(),
        config_overrides={"block_interval_ms": args.interval_ms, "max_block_txs": args.block_txs,
                          "admission_processes": args.admission_processes},
    )
    genesis_path = home / "genesis.json"
    document = json.loads(genesis_path.read_text(encoding="utf-8"))
    document["governance"] = governance_section()
    write_genesis(genesis_path, document)
    return home, port, crypto.load_key_file(created.officer_key).key, load_genesis(genesis_path)


def one_run(args: argparse.Namespace, run: int, pool: ProcessPoolExecutor) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="bench-contracts-"))
    home, port, key, genesis = make_home(work, args)
    chain_id = genesis.chain_id
    t_sign = time.perf_counter()
    publish = sign_all(pool, key, chain_id, [publish_call()])
    attests = sign_all(pool, key, chain_id, attest_calls(args.holders, run))
    material_ids = [compute_material_id(t) for t in attests.tx_ids]
    files = sign_all(pool, key, chain_id, file_calls(args.cases, args.holders, material_ids))
    case_ids = [compute_case_id(t) for t in files.tx_ids]
    decide_args = decide_calls(case_ids, run)
    decides = sign_all(pool, key, chain_id, decide_args)
    issue_args = issue_calls(args.cases, args.holders, run)
    issues = sign_all(pool, key, chain_id, issue_args)
    sign_s = time.perf_counter() - t_sign

    # Certificates to verify: alternately one from a decision and one issued directly.
    checks: list[tuple[str, bytes]] = []
    for i in range(min(args.verify, 2 * args.cases)):
        j = i // 2
        if i % 2 == 0:
            checks.append((certificates.compute_cert_id(decides.tx_ids[j]),
                           decide_args[j][2]["certificate"]["content_hash"]))
        else:
            checks.append((certificates.compute_cert_id(issues.tx_ids[j]), issue_args[j][2]["content_hash"]))

    url = f"http://127.0.0.1:{port}"
    node_key = crypto.load_key_file(home / "keys" / "node.key").key.public_key

    def sign(target: str) -> str:
        return sign_read(key, chain_id, "GET", target, int(time.time() * 1000), os.urandom(NONCE_SIZE), node_key)

    proc = start_node(home, work / "node.log")
    out: dict[str, float] = {}
    try:
        asyncio.run(wait_ready(url, proc))
        asyncio.run(submit_and_wait(url, publish, args.batch, 1, "items.publish"))
        for name, signed in zip(PHASES, (attests, files, decides, issues), strict=True):
            spy = start_spy(proc.pid, name) if name in args.spy else None
            threads0 = thread_cpu(proc.pid)
            cpu0 = cpu_seconds(proc.pid)
            check = filed_accepted if name == "cases.file" else None
            elapsed = asyncio.run(submit_and_wait(url, signed, args.batch, args.clients, name, check, sign))
            if spy is not None:
                print(stop_spy(spy, name, args.profile_lines), flush=True)
            settle(proc.pid)
            cpu = cpu_seconds(proc.pid) - cpu0
            if spy is not None:
                print(thread_report(proc.pid, threads0, len(signed.raws)), flush=True)
            out[f"{name}/tps"] = len(signed.raws) / elapsed
            out[f"{name}/cpu_us"] = cpu / len(signed.raws) * 1e6
        spy = start_spy(proc.pid, "fetch") if "fetch" in args.spy else None
        threads0 = thread_cpu(proc.pid)
        cpu0 = cpu_seconds(proc.pid)
        fetch_s, bundles = asyncio.run(
            fetch_proofs(url, [certificates.cert_key(cert_id) for cert_id, _ in checks], args.clients * 2))
        if spy is not None:
            print(stop_spy(spy, "fetch", args.profile_lines), flush=True)
            print(thread_report(proc.pid, threads0, len(checks)), flush=True)
        out["fetch/per_s"] = len(checks) / fetch_s
        out["fetch/cpu_us"] = (cpu_seconds(proc.pid) - cpu0) / len(checks) * 1e6
    except BaseException:
        stop_node(proc)
        tail = (work / "node.log").read_text(errors="replace").splitlines()[-20:]
        print("node log, last lines:\n  " + "\n  ".join(tail), file=sys.stderr)
        raise
    finally:
        stop_node(proc)
        shutil.rmtree(work, ignore_errors=True)
    t0 = time.process_time()
    for (cert_id, content_hash), data in zip(checks, bundles, strict=True):
        try:
            verify_certificate(genesis, cert_id, content_hash, data)
        except InvalidProof as exc:
            raise SystemExit(f"certificate {cert_id}: the proof does not verify: {exc.message}") from exc
    out["verify/us"] = (time.process_time() - t0) / len(checks) * 1e6
    out["verify/per_s"] = 1e6 / out["verify/us"]
    out["sign_s"] = sign_s
    return out


# --- the executor in-process (--profile) ----------------------------------------------------------------


class DictState:
    """A committed state as a plain dict: the executor's StateReader."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def iter_prefix(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        return iter(sorted((k, v) for k, v in self.data.items() if k.startswith(prefix)))

    def apply(self, changes: dict[bytes, bytes | None]) -> None:
        for k, v in changes.items():
            if v is None:
                self.data.pop(k, None)
            else:
                self.data[k] = v


def profile_executor(args: argparse.Namespace) -> None:
    """Run the executor in-process on one block per method; print µs/tx, and cProfiles of the
    filing and decision blocks. The state is a dict, so LevelDB reads are not in these figures."""
    key = crypto.PrivateKey(crypto.sha256(b"bench officer"))
    document: dict[str, Any] = {
        "chain_id": "bench-contracts",
        "genesis_time_ms": PROFILE_START_MS,
        "departments": [{
            "code": DEPARTMENT, "name": "Bench", "power": 10,
            "node_key": crypto.PrivateKey(crypto.sha256(b"bench node")).public_key.hex(),
            "members": [{"public_key": key.public_key.hex(), "name": "officer", "roles": list(DEFAULT_OFFICER_ROLES)}],
        }],
        "governance": governance_section(),
    }
    genesis = parse_genesis(document)
    state = DictState()
    state.apply(compute_genesis_changes(state, genesis))
    n = args.block
    holders = min(args.holders, n)
    height = 0
    time_ms = PROFILE_START_MS

    def sign(calls: list[Call]) -> list[Transaction]:
        out = []
        for contract, method, call_args in calls:
            body = TxBody(chain_id=genesis.chain_id, contract=contract, method=method, args=call_args,
                          signer=key.public_key, nonce=os.urandom(16), expiry_height=EXPIRY_HEIGHT)
            out.append(sign_transaction(key, body))
        return out

    def block(txs: list[Transaction], label: str, profile: bool = False) -> None:
        nonlocal height, time_ms
        height += 1
        time_ms += 1_000
        ctx = BlockContext(chain_id=genesis.chain_id, height=height, time_ms=time_ms)
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            result = execute_block(state, txs, ctx)
            best = min(best, time.perf_counter() - t0)
        bad = [r for r in result.results if not r.ok]
        if bad:
            raise SystemExit(f"{label}: {len(bad)} failed, first: {bad[0].code}: {bad[0].message}")
        print(f"  {label:20s} {best / len(txs) * 1e6:8.0f} us/tx executor only (best of 3, block of {len(txs)})")
        if profile:
            profiler = cProfile.Profile()
            profiler.enable()
            execute_block(state, txs, ctx)
            profiler.disable()
            profiled.append(summarise_profile(profiler, f"{label}, one block of {len(txs)}", args.profile_lines))
        state.apply(result.changes)

    profiled: list[str] = []
    print(f"executor in-process over a dict state (no LevelDB), {holders} holders:")
    block(sign([publish_call()]), "items.publish")
    attests = sign(attest_calls(holders, 0))
    block(attests, "materials.attest")
    material_ids = [compute_material_id(t.tx_id) for t in attests]
    files = sign(file_calls(n, holders, material_ids))
    block(files, "cases.file", profile=True)
    block(sign(decide_calls([compute_case_id(t.tx_id) for t in files], 0)), "cases.decide", profile=True)
    block(sign(issue_calls(n, holders, 0)), "certificates.issue")
    for text in profiled:
        print(text)


def summarise_profile(profiler: cProfile.Profile, what: str, lines: int) -> str:
    """Own time by source file, then the functions with the most own time."""
    stats = pstats.Stats(profiler)
    total = sum(entry[2] for entry in stats.stats.values())  # type: ignore[attr-defined]
    by_file: dict[str, float] = {}
    for (path, _, _), entry in stats.stats.items():  # type: ignore[attr-defined]
        source = "C builtins" if path == "~" else "/".join(Path(path).parts[-2:])
        by_file[source] = by_file.get(source, 0.0) + entry[2]
    out = [f"\ncProfile of {what}: {total * 1e3:.0f} ms profiled; own time by file:"]
    out += [f"  {t / total:6.1%}  {name}" for name, t in sorted(by_file.items(), key=lambda kv: -kv[1])[:12]]
    text = io.StringIO()
    stats.stream = text  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(lines)
    out.append(text.getvalue().split("\n\n", 1)[-1].rstrip())
    return "\n".join(out)


# --- main -----------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=10_000, help="N: filings, decisions and direct issues")
    parser.add_argument("--holders", type=int, default=1_000, help="H: holders, 5 materials each")
    parser.add_argument("--verify", type=int, default=2_000, help="certificates fetched with proofs and verified")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--interval-ms", type=int, default=100)
    parser.add_argument("--block-txs", type=int, default=5_000)
    parser.add_argument("--admission-processes", type=int, default=-1,
                        help="the node's [mempool] admission_processes (-1: its automatic choice; 0: none)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 3,000 cases, 300 holders, one run")
    parser.add_argument("--profile", action="store_true", help="profile the executor in-process and exit")
    parser.add_argument("--block", type=int, default=1_000, help="--profile: transactions per block")
    parser.add_argument("--profile-lines", type=int, default=25)
    parser.add_argument("--spy", nargs="*", default=[], choices=(*PHASES, "fetch"), metavar="PHASE",
                        help="sample the node with py-spy during these phases (cases.file, ..., fetch) and print "
                             "where its time goes")
    args = parser.parse_args()
    if args.profile:
        profile_executor(args)
        return
    if args.quick:
        args.cases, args.holders, args.verify, args.runs = 3_000, 300, 1_000, 1
    runs: list[dict[str, float]] = []
    floors: list[float] = []
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
        for run in range(args.runs):
            floors.append(measure_floor())
            result = one_run(args, run, pool)
            runs.append(result)
            per_method = ", ".join(f"{name} {result[f'{name}/tps']:,.0f} tx/s {result[f'{name}/cpu_us']:,.0f} us"
                                   for name in PHASES)
            print(f"run {run + 1}: {per_method}; fetch {result['fetch/per_s']:,.0f}/s, verify "
                  f"{result['verify/per_s']:,.0f}/s; floor {floors[-1]:.0f} us/tx (signing took "
                  f"{result['sign_s']:.1f} s)", flush=True)
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    floor = statistics.median(floors)
    print(f"\nmedian of {args.runs} run(s): {args.cases:,} cases for {args.holders:,} holders "
          f"({args.holders * len(MATERIAL_TYPES):,} materials), batches of {args.batch} from {args.clients} clients")
    print(f"  {'method':20s} {'tx/s':>9s} {'CPU us/tx':>10s} {'/ floor':>8s}")
    for name in PHASES:
        line = (f"  {name:20s} {med[f'{name}/tps']:9,.0f} {med[f'{name}/cpu_us']:10,.0f} "
                f"{med[f'{name}/cpu_us'] / floor:7.1f}x")
        if name == "cases.file":
            met = "met" if med[f"{name}/tps"] >= TARGET_FILINGS_PER_S else "NOT MET"
            line += f"   target >= {TARGET_FILINGS_PER_S:,} filings/s: {met}"
        print(line)
    verified = min(args.verify, 2 * args.cases)
    print(f"  certificate records with state proofs, GET /v1/state ({verified:,}, {args.clients * 2} clients): "
          f"{med['fetch/per_s']:,.0f}/s, node CPU {med['fetch/cpu_us']:,.0f} us each")
    print(f"  offline verification against genesis (one core): {med['verify/per_s']:,.0f}/s, "
          f"{med['verify/us']:,.0f} us each")
    print(f"  floor (verify+sha256+leveldb write) {floor:.0f} us/tx = {1e6 / floor:,.0f} tx/s on one core")


if __name__ == "__main__":
    main()
