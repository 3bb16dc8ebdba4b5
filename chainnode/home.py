"""Creating node homes: keys, genesis and config for a new network or a new node.

`init_home` makes a single-validator home (one department that runs the node, with an officer key);
`init_network` makes several homes that share one genesis, for a local multi-department network;
`join_home` makes the home of a department joining an existing network (its node key and first admin key,
to be named in an `add_department` proposal).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chainnode import crypto
from chainnode.config import HomeLayout, NodeConfig, admission_process_count, available_cores, render_config
from chainnode.errors import ConfigError
from chainnode.genesis import Genesis, load_genesis, write_genesis

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
"""Homes whose API listens here are written with plain HTTP (`[api] plain_http = true`): a local network
needs no certificate. Any other host must configure `[api] tls_cert` and `tls_key` before it starts."""

DEFAULT_OFFICER_ROLES = ("admin", "clerk", "reviewer", "approver", "issuer", "document_officer", "auditor")


@dataclass(frozen=True, slots=True, kw_only=True)
class DepartmentSpec:
    code: str
    name: str
    power: int = 10


@dataclass(frozen=True, slots=True, kw_only=True)
class CreatedHome:
    home: Path
    department: str
    node_key: Path
    officer_key: Path
    api_url: str


def check_fresh_home(home: Path) -> HomeLayout:
    """Raises ConfigError if `home` already holds a node home (checked before any passphrase is asked)."""
    layout = HomeLayout(home)
    if layout.config.exists() or layout.genesis.exists() or layout.data.exists():
        raise ConfigError(f"{home} already holds a node home; choose another directory or remove it first")
    return layout


def _fresh_home(home: Path) -> HomeLayout:
    layout = check_fresh_home(home)
    layout.keys.mkdir(parents=True, exist_ok=True, mode=0o700)
    return layout


def init_network(
    homes: list[Path],
    *,
    chain_id: str,
    departments: list[DepartmentSpec],
    api_ports: list[int],
    p2p_ports: list[int],
    config_overrides: dict[str, Any] | None = None,
    host: str = "127.0.0.1",
    params: dict[str, int] | None = None,
    protect: crypto.KeyProtector | None = None,
) -> tuple[Genesis, list[CreatedHome]]:
    """Create one home per department, all with the same genesis. Raises ConfigError if a home exists.

    `protect` (keyfile.get_protector) encrypts every key file as it is written."""
    if not (len(homes) == len(departments) == len(api_ports) == len(p2p_ports)):
        raise ConfigError("one home, API port and P2P port per department")
    layouts = [_fresh_home(h) for h in homes]
    node_keys = [crypto.PrivateKey.generate() for _ in departments]
    officer_keys = [crypto.PrivateKey.generate() for _ in departments]
    encryption_keys = [crypto.EncryptionKey.generate() for _ in departments]
    document: dict[str, Any] = {
        "chain_id": chain_id,
        "genesis_time_ms": time.time_ns() // 1_000_000,
        "params": dict(params or {}),
        "departments": [
            {
                "code": spec.code,
                "name": spec.name,
                "node_key": nk.public_key.hex(),
                "power": spec.power,
                "address": f"{host}:{p2p}",
                "encryption_key": ek.public_key.hex(),
                "members": [
                    {
                        "public_key": ok.public_key.hex(),
                        "name": f"{spec.code} officer",
                        "roles": list(DEFAULT_OFFICER_ROLES),
                    }
                ],
            }
            for spec, nk, ok, ek, p2p in zip(
                departments, node_keys, officer_keys, encryption_keys, p2p_ports, strict=True
            )
        ],
    }
    # Nodes on loopback share this machine's cores: each gets the worker processes of its share of them (none
    # for 4 nodes on 2 cores, where a worker would only compete with the other nodes).
    shared_admission_processes = (
        admission_process_count(NodeConfig(), available_cores() // len(homes))
        if host in LOOPBACK_HOSTS and len(homes) > 1 else NodeConfig().admission_processes
    )
    created = []
    genesis: Genesis | None = None
    for layout, spec, nk, ok, ek, api, p2p in zip(
        layouts, departments, node_keys, officer_keys, encryption_keys, api_ports, p2p_ports, strict=True
    ):
        genesis = write_genesis(layout.genesis, document)
        crypto.write_key_file(layout.node_key, nk, label=f"{spec.code} node", protect=protect)
        crypto.write_encryption_key_file(layout.encryption_key, ek, label=f"{spec.code} documents", protect=protect)
        officer_path = layout.keys / "officer.key"
        crypto.write_key_file(officer_path, ok, label=f"{spec.code} officer", protect=protect)
        peers = tuple(f"{host}:{p}" for p in p2p_ports if p != p2p)
        config = NodeConfig(
            moniker=spec.code.lower(), api_listen=f"{host}:{api}", p2p_listen=f"{host}:{p2p}", peers=peers,
            api_plain_http=host in LOOPBACK_HOSTS, admission_processes=shared_admission_processes,
        )
        if config_overrides:
            config = dataclasses.replace(config, **config_overrides)
        layout.config.write_text(render_config(config), encoding="utf-8")
        created.append(
            CreatedHome(
                home=layout.root,
                department=spec.code,
                node_key=layout.node_key,
                officer_key=officer_path,
                api_url=f"{'http' if config.api_plain_http else 'https'}://{host}:{api}",
            )
        )
    if genesis is None:
        raise ConfigError("a network needs at least one department")
    return genesis, created


def init_home(
    home: Path,
    *,
    chain_id: str,
    department: str,
    name: str,
    api_port: int = 8700,
    p2p_port: int = 26656,
    config_overrides: dict[str, Any] | None = None,
    protect: crypto.KeyProtector | None = None,
) -> tuple[Genesis, CreatedHome]:
    genesis, created = init_network(
        [home],
        chain_id=chain_id,
        departments=[DepartmentSpec(code=department, name=name)],
        api_ports=[api_port],
        p2p_ports=[p2p_port],
        config_overrides=config_overrides,
        protect=protect,
    )
    return genesis, created[0]


@dataclass(frozen=True, slots=True, kw_only=True)
class JoiningHome:
    home: Path
    department: str
    node_key: crypto.PrivateKey
    admin_key: crypto.PrivateKey
    admin_key_path: Path
    encryption_key: crypto.EncryptionKey
    genesis: Genesis

    def proposal_payload(self, *, name: str, power: int, address: str) -> dict[str, Any]:
        """The `add_department` payload (JSON: keys in hex) the existing departments vote on."""
        return {
            "code": self.department,
            "name": name,
            "node_key": self.node_key.public_key.hex(),
            "power": power,
            "address": address,
            "encryption_key": self.encryption_key.public_key.hex(),
            "admins": [{"public_key": self.admin_key.public_key.hex(), "name": f"{self.department} admin"}],
        }


def join_home(
    home: Path,
    *,
    genesis_path: Path,
    department: str,
    peers: tuple[str, ...],
    api_port: int,
    p2p_port: int,
    host: str = "127.0.0.1",
    config_overrides: dict[str, Any] | None = None,
    protect: crypto.KeyProtector | None = None,
) -> JoiningHome:
    """A home for a department that joins a running network. Raises ConfigError or GenesisError.

    The node syncs from genesis once its key is admitted by proposal; until then the network refuses its
    links (and the node retries with backoff).
    """
    genesis = load_genesis(genesis_path)
    if genesis.department(department) is not None:
        raise ConfigError(f"{department} is already a department in {genesis_path}; choose a new code")
    layout = _fresh_home(home)
    write_genesis(layout.genesis, genesis.document)
    node_key, admin_key = crypto.PrivateKey.generate(), crypto.PrivateKey.generate()
    crypto.write_key_file(layout.node_key, node_key, label=f"{department} node", protect=protect)
    admin_path = layout.keys / "admin.key"
    crypto.write_key_file(admin_path, admin_key, label=f"{department} admin", protect=protect)
    encryption_key = crypto.EncryptionKey.generate()
    crypto.write_encryption_key_file(layout.encryption_key, encryption_key, label=f"{department} documents",
                                     protect=protect)
    config = NodeConfig(
        moniker=department.lower(), api_listen=f"{host}:{api_port}", p2p_listen=f"{host}:{p2p_port}", peers=peers,
        api_plain_http=host in LOOPBACK_HOSTS,
    )
    if config_overrides:
        config = dataclasses.replace(config, **config_overrides)
    layout.config.write_text(render_config(config), encoding="utf-8")
    return JoiningHome(home=layout.root, department=department, node_key=node_key, admin_key=admin_key,
                       admin_key_path=admin_path, encryption_key=encryption_key, genesis=genesis)
