"""The `chainnode` command line: create keys and homes, run a node, anchor and verify files, inspect blocks.

Every command prints human text by default and one JSON document with `--json`. Any error this package
raises on purpose ends the command with ONE line `error: <code>: <message>` on stderr, never a traceback.
Exit codes: 0 success; 1 a failure (node down, refused, proof does not verify, store damaged); 2 a usage
or local-file problem (bad arguments, key file, genesis, config, input file). Verification trusts only
the genesis file: a record is decoded from the proven state value, never from the node's JSON fields.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import importlib
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn

from chainnode import crypto, keyfile, light
from chainnode.anchor_verify import (
    VerifiedAnchor,
    decode_proof_data,
    encode_proof_file,
    format_time_ms,
    verify_anchor_bundle,
)
from chainnode.client_settings import (
    CA_ENV,
    CLIENT_CERT_ENV,
    CLIENT_KEY_ENV,
    DEFAULT_NODE_URL,
    DEFAULT_TIMEOUT_S,
    MAX_SERVER_WAIT_S,
    NODE_URL_ENV,
    ClientTls,
    InvalidNodeUrl,
    WaitTimeout,
    get_default_node_url,
)
from chainnode.config import HomeLayout, load_config, parse_listen
from chainnode.errors import ChainError, ConfigError, InvalidProof, KeyFileError, NotFound, StoreLocked
from chainnode.genesis import DEPARTMENT_CODE, load_genesis
from chainnode.interpreter import tune_collector
from chainnode.progress import ProgressLine
from chainnode.results import jsonable
from chainnode.version import VersionAction

if TYPE_CHECKING:
    from chainnode.client import Client

MAX_INPUT_FILE: Final = 1 << 30
DEFAULT_KIND: Final = "file"


class UsageError(ChainError):
    """The command line itself is wrong: a bad argument or a combination that makes no sense."""

    code = "usage"


class InputFileError(ChainError):
    """A file named on the command line is missing or cannot be read."""

    code = "file_unreadable"


class NotAnchored(ChainError):
    code = "not_anchored"


class TxFailed(ChainError):
    """A committed or rejected transaction did not succeed; `code` is the chain's result code."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code  # type: ignore[misc]


LOCAL_ERRORS: Final = (UsageError, InputFileError, KeyFileError, ConfigError, InvalidNodeUrl, StoreLocked)
"""Errors that exit 2: the caller's command line or local files, not the network."""


# --- output helpers ------------------------------------------------------------------------------------


def emit(args: argparse.Namespace, document: dict[str, Any], lines: Sequence[str]) -> None:
    """Print the command's answer: `lines` as text, or `document` as JSON with --json."""
    args.emitted = True
    if args.json:
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        print("\n".join(lines))


def read_input_file(path: Path, what: str = "file") -> bytes:
    """Raises InputFileError naming the file and the reason."""
    try:
        if path.stat().st_size > MAX_INPUT_FILE:
            raise InputFileError(f"{what} {path} is larger than {MAX_INPUT_FILE} bytes")
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise InputFileError(f"{what} {path} does not exist") from exc
    except IsADirectoryError as exc:
        raise InputFileError(f"{what} {path} is a directory") from exc
    except OSError as exc:
        raise InputFileError(f"{what} {path} cannot be read: {exc.strerror or exc}") from exc


def write_output_file(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise InputFileError(f"cannot write {path}: {exc.strerror or exc}") from exc


def load_args_key(args: argparse.Namespace) -> crypto.PrivateKey | None:
    """The member key of `--key KEYFILE`, opened once per command (an encrypted file asks once), or None."""
    loaded: crypto.PrivateKey | None = getattr(args, "loaded_key", None)
    path: Path | None = getattr(args, "key", None)
    if loaded is None and path is not None:
        loaded = crypto.load_key_file(path, passphrase=keyfile.get_passphrase_source().get).key
        args.loaded_key = loaded
    return loaded


def require_args_key(args: argparse.Namespace) -> crypto.PrivateKey:
    """The key of a command whose `--key` is required. Raises UsageError if it was not given."""
    key = load_args_key(args)
    if key is None:
        raise UsageError("this command needs --key KEYFILE (a registered member's key)")
    return key


def add_read_key(p: argparse.ArgumentParser) -> None:
    """`--key` for a command that reads internal records: they answer only a request signed by a member."""
    p.add_argument("--key", type=_path, metavar="KEYFILE",
                   help="your member key: signs the reads of internal records (cases, materials, holders, "
                        "supervision, history, transaction detail), which the node answers only to its staff")


def open_client(args: argparse.Namespace) -> Client:
    """The client of `--node`; with `--key`, every read is signed by that member key (docs/api.md)."""
    from chainnode.client import Client  # the HTTP stack loads only for commands that talk to a node

    tls = ClientTls.from_environment(
        os.environ, ca_file=getattr(args, "ca", None), cert_file=getattr(args, "client_cert", None),
        key_file=getattr(args, "client_key", None),
    )
    return Client(args.node or get_default_node_url(), timeout=args.timeout, tls=tls, key=load_args_key(args))


# --- proofs ----------------------------------------------------------------------------------------------


def _unb64(value: object) -> bytes:
    """Base64 from the node, or b"" (which then fails as a malformed proof) if it is not base64."""
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        return b""


def decode_proof_file(path: Path) -> list[bytes]:
    """The bundles in a proof file. Raises InputFileError (cannot read) or InvalidProof (not a proof file)."""
    return decode_proof_data(read_input_file(path, "proof file"), str(path))


# --- commands --------------------------------------------------------------------------------------------


def cmd_keygen(args: argparse.Namespace) -> int:
    from chainnode import cli_keys

    if args.out.exists() and not args.force:
        raise UsageError(f"{args.out} already exists; use --force to overwrite it")
    protect = cli_keys.get_protector(args, args.out)
    key = crypto.PrivateKey.generate()
    try:
        crypto.write_key_file(args.out, key, label=args.label, overwrite=args.force, protect=protect)
    except FileExistsError as exc:
        raise UsageError(f"{args.out} already exists; use --force to overwrite it") from exc
    except OSError as exc:
        raise InputFileError(f"cannot write {args.out}: {exc.strerror or exc}") from exc
    emit(args, {"key_file": str(args.out), "public_key": key.public_key.hex(), "label": args.label}, [
        f"wrote {args.out} (mode 0600{', encrypted' if protect else ''})", f"public key: {key.public_key.hex()}",
        "register it with a department before signing with it; an unregistered key gets not_a_member",
    ])
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from chainnode import cli_keys
    from chainnode.home import check_fresh_home, init_home

    check_fresh_home(args.home)
    protect = cli_keys.get_protector(args, args.home / "keys")
    try:
        genesis, created = init_home(
            args.home, chain_id=args.chain_id, department=args.department, name=args.name,
            api_port=args.api_port, p2p_port=args.p2p_port, protect=protect,
        )
    except FileExistsError as exc:
        raise UsageError(f"{args.home} already holds key files ({exc.filename}); choose an empty directory") from exc
    except OSError as exc:
        raise InputFileError(f"cannot create the home {args.home}: {exc.strerror or exc}") from exc
    layout = HomeLayout(created.home)
    emit(args, {
        "home": str(created.home), "chain_id": genesis.chain_id, "genesis_hash": genesis.hash.hex(),
        "department": created.department, "api_url": created.api_url, "config": str(layout.config),
        "genesis": str(layout.genesis), "node_key": str(created.node_key),
        "officer_key": str(created.officer_key), "encryption_key": str(layout.encryption_key),
    }, [
        f"created node home {created.home} for {created.department} ({args.name}), chain {genesis.chain_id}",
        f"  {layout.config}   node settings: API {created.api_url}, P2P 127.0.0.1:{args.p2p_port}",
        f"  {layout.genesis}  the network (hash {genesis.hash.hex()[:16]}…); verifiers need this file",
        f"  {created.node_key}  the node's signing key (keep private)",
        f"  {created.officer_key}  an officer of {created.department} with every role: signs transactions",
        f"  {layout.encryption_key}  opens documents sent to {created.department} (keep private; never on chain)",
        f"  {layout.data}/  the block store, created on first start",
        cli_keys.describe_protection(args),
        f"officer key: {created.officer_key}",
        f"next: chainnode start --home {created.home}",
    ])
    return 0


def _address(value: str) -> str:
    """A HOST:PORT argument, checked as the node checks its listen addresses."""
    from chainnode.errors import ConfigError

    try:
        parse_listen(value, field="--address")
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(exc.message) from exc
    return value


def cmd_join(args: argparse.Namespace) -> int:
    from chainnode import cli_keys
    from chainnode.home import check_fresh_home, join_home
    from contracts.proposals import JOIN_DELAY_BLOCKS

    if not DEPARTMENT_CODE.match(args.department):
        raise UsageError(f"--department {args.department!r} must be 2-32 uppercase letters, digits or '_'")
    check_fresh_home(args.home)
    protect = cli_keys.get_protector(args, args.home / "keys")
    try:
        joining = join_home(
            args.home, genesis_path=args.genesis, department=args.department, peers=tuple(args.peer),
            api_port=args.api_port, p2p_port=args.p2p_port, protect=protect,
        )
    except FileExistsError as exc:
        raise UsageError(f"{args.home} already holds key files ({exc.filename}); choose an empty directory") from exc
    except OSError as exc:
        raise InputFileError(f"cannot create the home {args.home}: {exc.strerror or exc}") from exc
    address = args.address or f"127.0.0.1:{args.p2p_port}"
    payload = joining.proposal_payload(name=args.name, power=args.power, address=address)
    payload_path = joining.home / "add_department.json"
    payload_path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    emit(args, {"home": str(joining.home), "department": joining.department, "payload": payload,
                "payload_file": str(payload_path), "admin_key": str(joining.admin_key_path)}, [
        f"created node home {joining.home} for {joining.department} ({args.name}), joining chain "
        f"{joining.genesis.chain_id}",
        f"  node key {joining.node_key.public_key.hex()}",
        f"  admin key {joining.admin_key_path} (public {joining.admin_key.public_key.hex()})",
        f"  encryption key {HomeLayout(joining.home).encryption_key} (public "
        f"{joining.encryption_key.public_key.hex()}): documents to {joining.department} are sealed to it",
        cli_keys.describe_protection(args),
        f"the network admits {joining.department} only by proposal; an admin of a member department runs:",
        f"  chainnode proposal create --kind add_department --payload {payload_path} --deadline-in 100 "
        "--effective-in 2 --key ADMIN.key",
        "and more than two thirds of the departments vote yes. Start the node now or later:",
        f"  chainnode start --home {joining.home}",
        "Until the proposal applies, the members refuse its links and it retries. From the block that applies "
        "it, the members dial it at the proposal's address (and it dials them at theirs, from genesis): it "
        f"links and syncs as an observer. Its voting power is queued {JOIN_DELAY_BLOCKS} blocks later and counts "
        "for the quorum 2 blocks after that; no one edits a peer list.",
    ])
    return 0


DEVNET_DEPARTMENTS: list[tuple[str, str]] = [
    ("PSB", "Public Security Bureau"),
    ("SAMR", "Market Regulation Administration"),
    ("CAB", "Civil Affairs Bureau"),
    ("TAX", "Tax Bureau"),
    ("HRSS", "Human Resources and Social Security Bureau"),
    ("NRB", "Natural Resources Bureau"),
    ("HCB", "Housing and Construction Bureau"),
]


def cmd_testnet(args: argparse.Namespace) -> int:
    from chainnode.home import DepartmentSpec, init_network

    if not 1 <= args.nodes <= len(DEVNET_DEPARTMENTS):
        raise UsageError(f"--nodes must be 1 to {len(DEVNET_DEPARTMENTS)}")
    if args.test_hooks:
        from chainnode import faults

        faults.require_fault(faults.TEST_HOOKS, asked_by="--test-hooks", environ=os.environ)
    homes = [args.out / f"node{i}" for i in range(args.nodes)]
    departments = [DepartmentSpec(code=code, name=name) for code, name in DEVNET_DEPARTMENTS[: args.nodes]]
    try:
        genesis, created = init_network(
            homes, chain_id=args.chain_id, departments=departments,
            api_ports=[args.api_base_port + i for i in range(args.nodes)],
            p2p_ports=[args.p2p_base_port + i for i in range(args.nodes)],
            params={"test_hooks": 1} if args.test_hooks else None,
        )
    except OSError as exc:
        raise InputFileError(f"cannot create the homes in {args.out}: {exc.strerror or exc}") from exc
    emit(args, {
        "chain_id": genesis.chain_id, "genesis_hash": genesis.hash.hex(),
        "nodes": [{"home": str(c.home), "department": c.department, "api_url": c.api_url,
                   "officer_key": str(c.officer_key)} for c in created],
    }, [
        f"created {len(created)} node homes for chain {genesis.chain_id} (genesis {genesis.hash.hex()[:16]}…):",
        *(f"  {c.home}  {c.department}  API {c.api_url}  officer key {c.officer_key}" for c in created),
        f"start each with: chainnode start --home {created[0].home}",
    ])
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    from chainnode.logs import configure_logging
    from chainnode.service import run_home

    config = load_config(HomeLayout(args.home).config)
    log_format = args.log_format or ("json" if args.json else config.log_format)
    configure_logging(level=args.log_level or config.log_level, log_format=log_format)
    run_home(args.home, passphrase=keyfile.get_passphrase_source(fd=args.passphrase_fd).get, sync_mode=args.sync)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        status = client.status()
    height = status.get("height")
    block = "no block yet" if not height else (
        f"block {status.get('block_hash')}, {format_time_ms(int(status.get('block_time_ms') or 0))}"
    )
    mempool = status.get("mempool") or {}
    emit(args, {"node": client.base_url, **status}, [
        f"node {client.base_url} ({status.get('moniker')}), chain {status.get('chain_id')}",
        f"  height:     {height} ({block})",
        f"  genesis:    {status.get('genesis_hash')}",
        f"  state root: {status.get('state_root')}",
        f"  mempool:    {mempool.get('txs')} txs, {mempool.get('bytes')} bytes",
        f"  validator:  {'yes' if status.get('validator') else 'no'} (of {status.get('validators')})",
        *_consensus_lines(status.get("consensus")),
        *_rollback_lines(status.get("store_rollback")),
        *([f"  joined at:  height {status['state_sync_base']} by state sync (no state before it is kept here)"]
          if status.get("state_sync_base") else []),
    ])
    return 0


def _rollback_lines(rollback: Any) -> list[str]:
    if not isinstance(rollback, dict):
        return []
    state = "re-synced since" if rollback.get("resynced") else "re-syncing from peers"
    return [f"  STORE ROLLBACK at start: the store opened at height {rollback.get('store_height_at_start')} but "
            f"the WAL holds signatures for height {rollback.get('wal_signed_height')} (at least "
            f"{rollback.get('lost_blocks')} fsynced blocks lost; {state}; the sign guard still prevents "
            f"double-signing). Check the disk."]


def _consensus_lines(consensus: Any) -> list[str]:
    if not isinstance(consensus, dict):
        return ["  consensus:  single validator (no peers)"]
    at = consensus.get("consensus_height")
    where = f"height {at} round {consensus.get('round')} ({consensus.get('step')})" if at else "idle, waiting for work"
    peers = consensus.get("peers") or []
    lines = [f"  consensus:  {where}"]
    votes = consensus.get("votes")
    if at and isinstance(votes, dict):
        lines.append(f"  votes:      round {votes.get('round')}: prevotes {votes.get('prevote_power')}, precommits "
                     f"{votes.get('precommit_power')} of power {votes.get('total_power')} (a decision needs "
                     f"{votes.get('quorum_power')})")
        silent = votes.get("not_heard_from") or []
        if silent:
            lines.append(f"              no vote yet this round from {', '.join(map(str, silent))}")
    lines.append(f"  peers:      {len(peers)}")
    lines += [f"    {p.get('key', '')[:16]}  {p.get('address')}  {p.get('direction')}  score {p.get('score')}"
              for p in peers]
    return lines


def parse_metadata(pairs: Sequence[str]) -> dict[str, str]:
    metadata: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--meta {pair!r}: expected KEY=VALUE")
        metadata[name] = value
    return metadata


def cmd_anchor_put(args: argparse.Namespace) -> int:
    content_hash = crypto.compute_content_hash(read_input_file(args.file))
    metadata = parse_metadata(args.meta)
    key = require_args_key(args)
    call = {"content_hash": content_hash, "kind": args.kind, "metadata": metadata}
    with open_client(args) as client:
        tx = client.build_tx(key, "anchor", "put", call)
        tx_id = client.submit(tx.raw)
        out: dict[str, Any] = {"tx_id": tx_id, "content_hash": content_hash.hex(), "file": str(args.file),
                               "status": "pending"}
        lines = [f"submitted {tx_id}: anchor of {args.file} (sha256 {content_hash.hex()})"]
        failure: TxFailed | None = None
        if args.wait:
            status = client.wait_committed(tx_id, args.wait_timeout)
            out["status"] = status["status"]
            if status["status"] == "rejected":
                failure = TxFailed(str(status.get("message")), code=str(status.get("code")))
                out.update(code=failure.code, message=failure.message)
            else:
                result = status.get("result") or {}
                out.update(height=status.get("height"), code=result.get("code"),
                           message=result.get("message", ""))
                if result.get("code") != "ok":
                    failure = TxFailed(str(result.get("message")), code=str(result.get("code")))
                lines.append(f"committed at height {out['height']}: {out['code']}")
    emit(args, out, lines)
    if failure is not None:
        raise failure
    return 0


def cmd_anchor_verify(args: argparse.Namespace) -> int:
    data = read_input_file(args.file)
    content_hash = crypto.compute_content_hash(data)
    genesis = load_genesis(args.genesis)
    if args.proof is not None:
        bundles = decode_proof_file(args.proof)
        source = f"proof file {args.proof}"
    else:
        with open_client(args) as client:
            try:
                answer = client.anchors(content_hash)
            except NotFound as exc:
                message = f"{args.file} (sha256 {content_hash.hex()}) is not anchored on this chain"
                raise NotAnchored(message) from exc
        items = answer.get("anchors")
        if not isinstance(items, list):
            raise InvalidProof("the node's answer holds no anchor proofs")
        bundles = [_unb64(item.get("proof") if isinstance(item, dict) else None) for item in items]
        source = f"node {client.base_url}"
    verified: list[tuple[bytes, VerifiedAnchor]] = []
    failures: list[str] = []
    for i, bundle in enumerate(bundles):
        try:
            verified.append((bundle, verify_anchor_bundle(genesis, content_hash, bundle)))
        except InvalidProof as exc:
            failures.append(f"proof {i + 1} of {len(bundles)}: {exc.message}")
    if verified and args.proof_out is not None:
        proof_file = encode_proof_file({"content_hash": content_hash.hex()}, [b for b, _ in verified])
        write_output_file(args.proof_out, proof_file)
    document = {"file": str(args.file), "content_hash": content_hash.hex(), "chain_id": genesis.chain_id,
                "verified": bool(verified), "anchors": [asdict(v) for _, v in verified], "failures": failures}
    lines = [f"file {args.file}: sha256 {content_hash.hex()}",
             f"checked {len(bundles)} proof(s) from {source}",
             f"against genesis {args.genesis} (chain {genesis.chain_id}) only"]
    for _, v in verified:
        name = f" ({v.department_name})" if v.department_name else ""
        listed = ", listed in genesis" if v.signer_in_genesis else ""
        lines += [
            f"VERIFIED: anchored by {v.department}{name}",
            f"  signer:      {v.signer_name} (key {v.signer}{listed})",
            f"  anchored at: height {v.height}, {v.time}",
            f"  transaction: {v.tx_id}",
            f"  kind:        {v.kind}",
            f"  metadata:    {', '.join(f'{k}={val}' for k, val in v.metadata.items()) or '(none)'}",
            f"  proof:       state at height {v.proven_at_height}, block {v.proven_block_hash}",
        ]
    lines += [f"FAILED {f}" for f in failures]
    if not verified:
        if args.json:
            emit(args, document, [])
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        raise InvalidProof(f"{args.file} is NOT verified: {failures[0] if failures else 'no proof'}{more}")
    emit(args, document, lines)
    return 0


def cmd_block_show(args: argparse.Namespace) -> int:
    which = args.height
    if which != "latest" and not (which.isascii() and which.isdigit() and len(which) <= 19 and int(which) >= 1):
        raise UsageError(f"HEIGHT must be a positive integer or 'latest', got {which!r}")
    with open_client(args) as client:
        block = client.block(which)
    header, commit = block.get("header") or {}, block.get("commit") or {}
    lines = [
        f"block {block.get('height')}  hash {block.get('hash')}",
        f"  time:        {format_time_ms(int(header.get('time_ms') or 0))}",
        f"  chain:       {header.get('chain_id')}",
        f"  prev hash:   {header.get('prev_hash')}",
        f"  tx root:     {header.get('tx_root')}",
        f"  state root:  {header.get('state_root')}",
        f"  proposer:    {header.get('proposer')}",
        f"  commit:      round {commit.get('round')}, {len(commit.get('signatures') or [])} signature(s)",
        f"  txs:         {len(block.get('txs') or [])}",
    ]
    for i, tx in enumerate(block.get("txs") or []):
        message = f" ({tx.get('message')})" if tx.get("message") else ""
        call = f"{tx.get('contract')}.{tx.get('method')}"
        lines.append(f"    {i} {tx.get('tx_id')} {call}: {tx.get('code')}{message}")
    lines.append("(as reported by the node; `chainnode tx proof` verifies a transaction against genesis)")
    emit(args, block, lines)
    return 0


def cmd_tx_status(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        if args.wait <= MAX_SERVER_WAIT_S:
            status = client.tx_status(args.tx_id, wait_s=args.wait)
        else:
            try:
                status = client.wait_committed(args.tx_id, args.wait)
            except WaitTimeout:
                status = client.tx_status(args.tx_id)
    state = status.get("status")
    if state == "committed":
        result = status.get("result") or {}
        code, message = str(result.get("code")), str(result.get("message") or "")
        where = f"height {status.get('height')} (index {status.get('index')})"
        line = f"tx {args.tx_id}: committed at {where}: {code}"
    else:
        code, message = str(status.get("code") or ""), str(status.get("message") or "")
        line = f"tx {args.tx_id}: {state}" + (f": {code}: {message}" if code else "")
    emit(args, status, [line + (f" ({message})" if state == "committed" and message else "")])
    return 0 if state == "pending" or code == "ok" else 1


def cmd_tx_proof(args: argparse.Namespace) -> int:
    genesis = load_genesis(args.genesis)
    if args.proof is not None:
        data = decode_proof_file(args.proof)[0]
    else:
        with open_client(args) as client:
            data = client.tx_proof(args.tx_id)
    bundle = light.decode_bundle(data)
    if not isinstance(bundle, light.TxBundle):
        raise InvalidProof("expected a transaction proof bundle, got a state proof")
    verified = light.verify_tx_bundle(genesis, bundle)
    tx_id = verified.tx.tx_id.hex()
    if args.tx_id is not None and args.tx_id != tx_id:
        raise InvalidProof(f"the proof is for transaction {tx_id}, not {args.tx_id}")
    if args.proof_out is not None:
        write_output_file(args.proof_out, encode_proof_file({"tx_id": tx_id}, [data]))
    body, result = verified.tx.body, verified.result
    document = {
        "verified": True, "tx_id": tx_id, "height": verified.height, "time": format_time_ms(verified.time_ms),
        "index": verified.index, "block_hash": verified.block_hash.hex(), "signer": body.signer.hex(),
        "contract": body.contract, "method": body.method, "args": jsonable(body.args),
        "result": result.to_json(),
    }
    emit(args, document, [
        f"VERIFIED against genesis {args.genesis} (chain {genesis.chain_id})",
        f"  transaction: {tx_id}",
        f"  call:        {body.contract}.{body.method} {json.dumps(jsonable(body.args), ensure_ascii=False)}",
        f"  signer:      {body.signer.hex()}",
        f"  committed:   height {verified.height} index {verified.index}, {document['time']}",
        f"  block:       {verified.block_hash.hex()}",
        f"  result:      {result.code}" + (f" ({result.message})" if result.message else ""),
    ])
    return 0


def print_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_check(args: argparse.Namespace) -> int:
    layout = HomeLayout(args.home)
    if not layout.data.is_dir():
        raise UsageError(f"{args.home} holds no store ({layout.data} is missing); is it a node home?")
    try:
        check = importlib.import_module("chainnode.check")
    except ImportError as exc:
        raise UsageError("this build has no integrity checker (chainnode.check is missing)") from exc
    line = ProgressLine.for_stream(sys.stderr)  # in place on a terminal, plain lines in a log or a pipe
    tune_collector()  # the replay holds the whole state: fewer scans of it (chainnode/interpreter.py)
    try:
        report = check.check_home(args.home, progress=line.note, count=line.update)
    finally:
        line.close()
    problems = [{"height": getattr(p, "height", None), "column": getattr(p, "column", None),
                 "message": getattr(p, "message", str(p))} for p in report.problems]
    document = {"home": str(args.home), "ok": bool(report.ok), "head": report.head,
                "blocks_checked": report.blocks_checked, "txs_checked": report.txs_checked,
                "first_bad_height": report.first_bad_height, "problems": problems,
                "truncated": bool(getattr(report, "truncated", False))}
    summary = f"{report.blocks_checked} blocks, {report.txs_checked} transactions checked, head {report.head}"
    if report.ok:
        lines = [f"store {layout.data}: OK ({summary})"]
    else:
        lines = [f"store {layout.data}: DAMAGED ({summary}); {len(problems)} problem(s)",
                 f"first bad height: {report.first_bad_height}"]
        lines += [f"  height {p['height']} [{p['column']}]: {p['message']}" for p in problems]
        if document["truncated"]:
            lines.append(f"  (stopped after {len(problems)} problems; fix these and run the check again)")
    emit(args, document, lines)
    return 0 if report.ok else 1


# --- argument parsing ------------------------------------------------------------------------------------


class Parser(argparse.ArgumentParser):
    """An argparse parser whose usage errors are one `error: usage: ...` line, exit 2."""

    def error(self, message: str) -> NoReturn:
        print(f"error: usage: {self.prog}: {message} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(2)


def _path(text: str) -> Path:
    return Path(text).expanduser()


def _tx_id(text: str) -> str:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) != 32:
        raise argparse.ArgumentTypeError(f"{text!r} is not a transaction ID (64 hex digits)")
    return value.hex()


def build_parser() -> Parser:
    common = Parser(add_help=False)
    common.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    remote = Parser(add_help=False)
    node_help = f"node API URL (default: ${NODE_URL_ENV}, else {DEFAULT_NODE_URL})"
    remote.add_argument("--node", metavar="URL", help=node_help)
    remote.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S", help="HTTP timeout")
    remote.add_argument("--ca", type=_path, metavar="FILE",
                        help=f"PEM CA to trust for an https node (default: ${CA_ENV}, else the system's CAs)")
    remote.add_argument("--client-cert", type=_path, metavar="FILE",
                        help=f"PEM client certificate, for nodes that require one (default: ${CLIENT_CERT_ENV})")
    remote.add_argument("--client-key", type=_path, metavar="FILE",
                        help=f"PEM key of --client-cert (default: ${CLIENT_KEY_ENV})")
    both = [common, remote]

    parser = Parser(prog="chainnode", description="A permissioned BFT ledger node for government records.")
    parser.add_argument("--version", action=VersionAction, help="print the version and format versions, then exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)

    from chainnode import cli_keys

    p = sub.add_parser("keygen", parents=[common], help="create an Ed25519 key file")
    p.add_argument("--out", type=_path, required=True, metavar="FILE")
    p.add_argument("--label", default="", help="a note stored beside the key")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    cli_keys.add_encrypt_keys_options(p)
    p.set_defaults(run=cmd_keygen)

    p = sub.add_parser("init", parents=[common], help="create a single-validator node home")
    p.add_argument("--home", type=_path, required=True, metavar="DIR")
    p.add_argument("--chain-id", required=True, metavar="ID")
    p.add_argument("--department", required=True, metavar="CODE", help="department code, e.g. PSB")
    p.add_argument("--name", required=True, help="department name, e.g. 'Public Security Bureau'")
    p.add_argument("--api-port", type=int, default=8700, metavar="N")
    p.add_argument("--p2p-port", type=int, default=26656, metavar="N")
    cli_keys.add_encrypt_keys_options(p)
    p.set_defaults(run=cmd_init)

    p = sub.add_parser("testnet", parents=[common], help="create the homes of a local multi-department network")
    p.add_argument("--out", type=_path, required=True, metavar="DIR", help="homes go to DIR/node0, DIR/node1, ...")
    p.add_argument("--nodes", type=int, default=4, metavar="N", help="number of departments (default 4)")
    p.add_argument("--chain-id", default="devnet", metavar="ID")
    p.add_argument("--api-base-port", type=int, default=8700, metavar="N", help="node i serves its API on N+i")
    p.add_argument("--p2p-base-port", type=int, default=26656, metavar="N", help="node i listens for peers on N+i")
    p.add_argument("--test-hooks", action="store_true", help="enable test-only contract methods (never in production)")
    p.set_defaults(run=cmd_testnet)

    p = sub.add_parser("join", parents=[common], help="create the home of a department joining a running network")
    p.add_argument("--home", type=_path, required=True, metavar="DIR")
    p.add_argument("--genesis", type=_path, required=True, metavar="GENESIS", help="the network's genesis.json")
    p.add_argument("--department", required=True, metavar="CODE", help="the new department's code, e.g. HRSS")
    p.add_argument("--name", required=True, help="the department's name")
    p.add_argument("--power", type=int, default=10, metavar="N", help="voting power to propose (0: observer)")
    p.add_argument("--peer", action="append", required=True, metavar="HOST:PORT", help="a member node; repeatable")
    p.add_argument("--api-port", type=int, default=8700, metavar="N")
    p.add_argument("--p2p-port", type=int, default=26656, metavar="N")
    p.add_argument("--address", metavar="HOST:PORT", type=_address,
                   help="where the members reach this node's P2P port (default 127.0.0.1:P2P-PORT); goes on chain")
    cli_keys.add_encrypt_keys_options(p)
    p.set_defaults(run=cmd_join)

    p = sub.add_parser("start", parents=[common], help="run a node until SIGTERM or Ctrl-C (--json: JSON logs)")
    p.add_argument("--home", type=_path, required=True, metavar="DIR")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="overrides config.toml")
    p.add_argument("--log-format", choices=["text", "json"],
                   help="overrides config.toml: json writes one object per line, with the consensus height")
    p.add_argument("--sync", choices=["auto", "state", "replay"],
                   help="how a node with no blocks catches up (overrides [sync] mode of config.toml): state "
                        "sync from a recent height, replay from genesis, or auto (docs/sync.md)")
    cli_keys.add_passphrase_fd(p)
    p.set_defaults(run=cmd_start)

    p = sub.add_parser("status", parents=both, help="show a node's chain, height and mempool")
    p.set_defaults(run=cmd_status)

    anchor_parser = sub.add_parser("anchor", help="anchor files on chain and verify them")
    anchor_sub = anchor_parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = anchor_sub.add_parser("put", parents=both, help="anchor a file's SHA-256 for your department")
    p.add_argument("file", type=_path, metavar="FILE")
    p.add_argument("--key", type=_path, required=True, metavar="KEYFILE", help="a registered officer's key")
    p.add_argument("--kind", default=DEFAULT_KIND, help=f"what the file is (default: {DEFAULT_KIND})")
    p.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE", help="metadata; repeatable")
    p.add_argument("--wait", action="store_true", help="wait until committed and show the result")
    p.add_argument("--wait-timeout", type=float, default=60.0, metavar="S")
    p.set_defaults(run=cmd_anchor_put)
    p = anchor_sub.add_parser("verify", parents=both, help="prove who anchored a file, trusting only genesis")
    p.add_argument("file", type=_path, metavar="FILE")
    p.add_argument("--genesis", type=_path, required=True, metavar="GENESIS")
    p.add_argument("--proof", type=_path, metavar="P", help="verify offline from a saved proof file")
    p.add_argument("--proof-out", type=_path, metavar="P", help="save the verified proofs for offline use")
    p.set_defaults(run=cmd_anchor_verify)

    block_parser = sub.add_parser("block", help="inspect blocks")
    block_sub = block_parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = block_sub.add_parser("show", parents=both, help="show a block's header, transactions and commit")
    p.add_argument("height", metavar="HEIGHT|latest")
    p.set_defaults(run=cmd_block_show)

    tx_parser = sub.add_parser("tx", help="inspect transactions")
    tx_sub = tx_parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = tx_sub.add_parser("status", parents=both, help="pending, committed (with result) or rejected")
    p.add_argument("tx_id", type=_tx_id, metavar="TXID")
    p.add_argument("--wait", type=float, default=0.0, metavar="S", help="wait up to S seconds for a commit")
    add_read_key(p)
    p.set_defaults(run=cmd_tx_status)
    p = tx_sub.add_parser("proof", parents=both, help="verify a transaction's proof against genesis")
    p.add_argument("tx_id", nargs="?", type=_tx_id, metavar="TXID", help="required unless --proof is given")
    p.add_argument("--genesis", type=_path, required=True, metavar="GENESIS")
    p.add_argument("--proof", type=_path, metavar="P", help="verify offline from a saved proof file")
    p.add_argument("--proof-out", type=_path, metavar="P", help="save the verified proof")
    add_read_key(p)
    p.set_defaults(run=cmd_tx_proof)

    p = sub.add_parser("check", parents=[common], help="offline integrity check of a stopped node's store")
    p.add_argument("--home", type=_path, required=True, metavar="DIR")
    p.set_defaults(run=cmd_check)

    from chainnode import cli_backup, cli_documents, cli_history, cli_records, cli_reports  # command groups

    cli_keys.add_commands(sub, common)

    cli_records.add_commands(sub, both)
    cli_documents.add_commands(sub, both)
    cli_history.add_commands(sub, both)
    cli_reports.add_commands(sub, both)
    cli_backup.add_commands(sub, both)
    return parser


def report_error(error: ChainError, args: argparse.Namespace) -> int:
    """Print the one error line (and with --json, an error document if nothing was printed); return 1 or 2."""
    status = 2 if isinstance(error, LOCAL_ERRORS) else 1
    message = " ".join(error.message.split())
    print(f"error: {error.code}: {message}", file=sys.stderr)
    if getattr(args, "json", False) and not getattr(args, "emitted", False):
        print(json.dumps({"error": {"code": error.code, "message": message, "field": error.field}}))
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit status."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    try:
        if getattr(args, "command", None) == "tx" and args.action == "proof" and args.tx_id is None \
                and args.proof is None:
            raise UsageError("give a TXID to fetch from the node, or --proof P to verify offline")
        return int(args.run(args))
    except ChainError as exc:
        return report_error(exc, args)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # stdout closed early (`| head`): stop quietly, without a second error at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    from chainnode.cli import main as _main  # one module object, so the command groups raise the same errors

    sys.exit(_main())
