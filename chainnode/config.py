"""Per-node settings from HOME/config.toml, and the layout of a node home directory.

Network-wide rules live in genesis; this file holds what each operator may tune: addresses, block
production pace, mempool and request limits. Unknown keys are errors, so a typo is never silently
ignored.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from chainnode.errors import ConfigError


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeConfig:
    moniker: str = "node"
    api_listen: str = "127.0.0.1:8700"
    p2p_listen: str = "127.0.0.1:26656"
    peers: tuple[str, ...] = ()
    dial_roster: bool = True
    """Also dial the departments' node addresses on chain (genesis and proposals), so a membership change
    needs no edited `peers`. Off only where nodes must be reached through other addresses than those on
    chain (NAT, tunnels, test proxies): then only `peers` are dialed."""
    block_interval_ms: int = 200
    """How long the producer waits to fill a block after the first pending transaction."""
    max_block_txs: int = 2_000
    max_block_bytes: int = 8 * 1024 * 1024
    create_empty_blocks: bool = False
    empty_block_interval_ms: int = 10_000
    mempool_max_txs: int = 100_000
    mempool_max_bytes: int = 256 * 1024 * 1024
    max_request_bytes: int = 32 * 1024 * 1024
    max_batch_txs: int = 10_000
    verify_threads: int = 2
    admission_processes: int = -1
    """Worker processes that check submitted batches (decoding, shape, signatures: chainnode/admission.py);
    0 checks them in the node's own process; -1 (the default) picks by the cores the node may run on
    (`admission_process_count`)."""
    read_threads: int = 2
    """Threads of the API's read pool (chainnode/read_pool.py): client reads never run on the event loop."""
    read_queue: int = 16
    """Reads that may wait for a read thread; more are refused with 503 `busy`."""
    log_level: str = "info"
    log_format: str = "text"
    """"text" (the default) or "json": one JSON object per line with the consensus height (chainnode/logs.py)."""
    timeout_propose_ms: int = 3000
    timeout_propose_delta_ms: int = 500
    timeout_prevote_ms: int = 1000
    timeout_prevote_delta_ms: int = 500
    timeout_precommit_ms: int = 1000
    timeout_precommit_delta_ms: int = 500
    timeout_max_ms: int = 30_000
    """The cap on every consensus timeout, so a network that healed is back to speed quickly."""
    time_precision_ms: int = 2000
    """Proposer-based timestamps: how far a fresh proposal's block time may be from this node's clock."""
    message_delay_ms: int = 1000
    status_interval_ms: int = 1000
    max_store_bytes: int = 16 * 1024**3
    """The blob store's quota (HOME/blobs): document ciphertexts held and being received, in bytes."""
    misbehave: str = ""
    """Fault injection for tests only: "double-sign" makes this validator equivocate. Never in production."""
    api_tls_cert: str = ""
    """PEM certificate chain the API serves HTTPS with (a path, relative to the home unless absolute)."""
    api_tls_key: str = ""
    """PEM private key of `api_tls_cert`."""
    api_tls_client_ca: str = ""
    """PEM CA file: when set, every API client must present a certificate signed by it (mutual TLS)."""
    sync_mode: str = "auto"
    """How a node with no blocks catches up: "auto" (state sync when a peer is more than `min_blocks` ahead,
    else replay), "state" (always state sync) or "replay" (fetch and re-execute every block). A node
    that has blocks always replays from its head (docs/sync.md)."""
    sync_min_blocks: int = 1000
    storage_compression: str = "none"
    """How LevelDB compresses the blocks of its table files: "none" (the default) or "snappy". Snappy makes a
    store of case records about 40 % smaller, and costs its background compaction about a third of the
    node's CPU under such a load (docs/storage.md, "Compression"). A store written with one setting opens
    with the other."""
    api_plain_http: bool = False
    """Serve the API over plain HTTP. Only when set explicitly (loopback devnets, or behind a TLS proxy);
    a node with neither this nor `api_tls_cert` refuses to start."""


SECTIONS: dict[str, tuple[str, ...]] = {
    "node": ("moniker", "log_level", "log_format"),
    "api": ("api_listen", "max_request_bytes", "max_batch_txs", "read_threads", "read_queue", "api_tls_cert",
            "api_tls_key", "api_tls_client_ca", "api_plain_http"),
    "p2p": ("p2p_listen", "peers", "dial_roster"),
    "producer": (
        "block_interval_ms",
        "max_block_txs",
        "max_block_bytes",
        "create_empty_blocks",
        "empty_block_interval_ms",
    ),
    "mempool": ("mempool_max_txs", "mempool_max_bytes", "verify_threads", "admission_processes"),
    "consensus": (
        "timeout_propose_ms", "timeout_propose_delta_ms", "timeout_prevote_ms", "timeout_prevote_delta_ms",
        "timeout_precommit_ms", "timeout_precommit_delta_ms", "timeout_max_ms", "time_precision_ms",
        "message_delay_ms", "status_interval_ms", "misbehave",
    ),
    "documents": ("max_store_bytes",),
    "sync": ("sync_mode", "sync_min_blocks"),
    "storage": ("storage_compression",),
}
TOML_NAMES = {
    "api_listen": "listen",
    "p2p_listen": "listen",
    "mempool_max_txs": "max_txs",
    "mempool_max_bytes": "max_bytes",
    "api_tls_cert": "tls_cert",
    "api_tls_key": "tls_key",
    "api_tls_client_ca": "tls_client_ca",
    "api_plain_http": "plain_http",
    "sync_mode": "mode",
    "storage_compression": "compression",
    "sync_min_blocks": "min_blocks",
}
COMMENTS = {
    "api_tls_cert": "HTTPS for the API: a PEM certificate chain and its key (paths relative to this home).",
    "api_tls_client_ca": "Mutual TLS: when set, API clients must present a certificate signed by this CA.",
    "api_plain_http": "Plain HTTP instead of HTTPS: for a node whose API listens on loopback only (devnets).",
    "storage_compression": "LevelDB block compression: \"none\" (less CPU) or \"snappy\" (a smaller store).",
    "admission_processes": "Processes that check submitted transactions: -1 = by cores (none on one core, one on "
                           "two, one per core beyond two, at most 4), 0 = none (in the node's process).",
}
"""Comments `render_config` writes above a setting."""


SYNC_MODES = ("auto", "state", "replay")
STORAGE_COMPRESSIONS = ("none", "snappy")
"""`[storage] compression`: "none", or the name of a compression LevelDB (plyvel) knows."""

AUTOMATIC_INTS = frozenset({"admission_processes"})
"""Integer settings where -1 asks the node to choose."""

MIN_STORE_BYTES = 1024 * 1024
"""The smallest `[documents] max_store_bytes`: room for at least one 1 MiB chunk."""


def admission_process_count(config: NodeConfig, cores: int | None) -> int:
    """How many admission worker processes `config` asks for on a machine with `cores` cores.

    Automatic (-1): none on one core; otherwise one per core beyond two, at least one and at most 4. On two
    cores one worker takes decoding and signatures off the node's interpreter, which then runs consensus,
    the API and execution with less contention for its lock (docs/admission.md has the figures).
    """
    if config.admission_processes >= 0:
        return config.admission_processes
    cores = cores or 1
    return 0 if cores < 2 else min(4, max(1, cores - 2))


def available_cores() -> int:
    """The cores this process may run on: its CPU affinity (taskset, a service's CPUAffinity) where the
    system has one, else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def parse_listen(value: str, *, field: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not (port.isascii() and port.isdigit() and len(port) <= 5) or int(port) > 65535:
        raise ConfigError(f"{field} must be HOST:PORT, got {value!r}", field=field)
    return host.strip("[]"), int(port)


def _coerce(name: str, value: Any, default: Any, where: str) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false", field=where)
    elif isinstance(default, int):
        lowest = -1 if name in AUTOMATIC_INTS else 0
        if not isinstance(value, int) or isinstance(value, bool) or value < lowest:
            kind = "an integer, -1 for automatic" if lowest < 0 else "a non-negative integer"
            raise ConfigError(f"{where} must be {kind}", field=where)
    elif isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} must be a list of strings", field=where)
        return tuple(value)
    elif not isinstance(value, str):
        raise ConfigError(f"{where} must be a string", field=where)
    return value


def load_config(path: Path) -> NodeConfig:
    """Read config.toml. Raises ConfigError for a missing file, bad TOML, unknown keys or wrong types."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist; create a home with `chainnode init`") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    defaults = NodeConfig()
    values: dict[str, Any] = {}
    for section, table in document.items():
        if section not in SECTIONS or not isinstance(table, dict):
            raise ConfigError(f"{path}: unknown section [{section}]", field=section)
        known = {TOML_NAMES.get(name, name): name for name in SECTIONS[section]}
        for key, value in table.items():
            if key not in known:
                raise ConfigError(f"{path}: unknown key {key!r} in [{section}]", field=f"{section}.{key}")
            name = known[key]
            values[name] = _coerce(name, value, getattr(defaults, name), f"{section}.{key}")
    config = NodeConfig(**values)
    parse_listen(config.api_listen, field="api.listen")
    parse_listen(config.p2p_listen, field="p2p.listen")
    if config.misbehave not in ("", "double-sign"):
        raise ConfigError('consensus.misbehave must be "" or "double-sign" (a test-only fault)', field="misbehave")
    if config.sync_mode not in SYNC_MODES:
        raise ConfigError('sync.mode must be "auto", "state" or "replay"', field="sync.mode")
    if config.storage_compression not in STORAGE_COMPRESSIONS:
        choices = " or ".join(f'"{name}"' for name in STORAGE_COMPRESSIONS)
        raise ConfigError(f"storage.compression must be {choices}, got {config.storage_compression!r}",
                          field="storage.compression")
    if config.log_format not in ("text", "json"):
        raise ConfigError('node.log_format must be "text" or "json"', field="node.log_format")
    if config.verify_threads < 1 or config.max_block_txs < 1 or config.read_threads < 1:
        raise ConfigError("mempool.verify_threads, api.read_threads and producer.max_block_txs must be at least 1")
    if not -1 <= config.admission_processes <= 64:
        raise ConfigError("mempool.admission_processes must be -1 (automatic), 0 (none) or up to 64, "
                          f"got {config.admission_processes}", field="mempool.admission_processes")
    if config.max_store_bytes < MIN_STORE_BYTES:
        raise ConfigError(
            f"documents.max_store_bytes must be at least {MIN_STORE_BYTES} (1 MiB), got {config.max_store_bytes}; "
            "it is the blob store's quota in bytes (default 17179869184, 16 GiB)",
            field="documents.max_store_bytes",
        )
    return config


def render_config(config: NodeConfig) -> str:
    """Return config.toml text for `config`, with every setting written out."""
    lines = ["# chainnode node settings. Network-wide rules are in genesis.json.", ""]
    for section, names in SECTIONS.items():
        lines.append(f"[{section}]")
        for name in names:
            value = getattr(config, name)
            key = TOML_NAMES.get(name, name)
            if name in COMMENTS:
                lines.append(f"# {COMMENTS[name]}")
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, int):
                text = str(value)
            elif isinstance(value, tuple):
                text = "[" + ", ".join(f'"{v}"' for v in value) + "]"
            else:
                text = f'"{value}"'
            lines.append(f"{key} = {text}")
        lines.append("")
    return "\n".join(lines)


def config_fields() -> list[str]:
    return [f.name for f in fields(NodeConfig)]


@dataclass(frozen=True, slots=True)
class HomeLayout:
    """Where things live in a node home."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    @property
    def genesis(self) -> Path:
        return self.root / "genesis.json"

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def node_key(self) -> Path:
        return self.root / "keys" / "node.key"

    @property
    def encryption_key(self) -> Path:
        """The department's X25519 key for opening documents sealed to it (never on chain)."""
        return self.root / "keys" / "encryption.key"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def wal(self) -> Path:
        return self.root / "wal"

    @property
    def blobs(self) -> Path:
        """Document ciphertexts (chainnode/blobs.py)."""
        return self.root / "blobs"
