"""Genesis and config files: every mistake is named."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest

from chainnode import home as home_module
from chainnode.config import (
    HomeLayout,
    NodeConfig,
    admission_process_count,
    available_cores,
    load_config,
    render_config,
)
from chainnode.errors import ConfigError, GenesisError
from chainnode.genesis import compute_genesis_hash, load_genesis, parse_genesis
from chainnode.home import DepartmentSpec, init_network

KEY = "11" * 32
DOC: dict[str, Any] = {
    "chain_id": "g", "genesis_time_ms": 1,
    "departments": [{"code": "PSB", "name": "Police", "node_key": KEY, "power": 10,
                     "members": [{"public_key": "22" * 32, "roles": ["clerk"], "name": "Li"}]}],
}


def test_valid_genesis_and_its_hash() -> None:
    genesis = parse_genesis(copy.deepcopy(DOC))
    assert genesis.chain_id == "g" and genesis.hash == compute_genesis_hash(DOC)
    assert len(genesis.validator_set()) == 1 and genesis.params.max_tx_bytes == 64 * 1024


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d.pop("chain_id"), "chain_id is missing"),
        (lambda d: d["departments"][0].update(code="bad code"), "code"),
        (lambda d: d["departments"][0].update(node_key="zz"), "node_key is not hex"),
        (lambda d: d["departments"][0].update(node_key="11"), "32-byte"),
        (lambda d: d["departments"][0].update(power=0), "at least one department with voting power"),
        (lambda d: d["departments"].append(copy.deepcopy(d["departments"][0])), "appears twice"),
        (lambda d: d["departments"][0]["members"][0].update(roles=["king"]), "unknown: ['king']"),
        (lambda d: d.update(params={"max_tx_bytes": -1}), "must be an integer in"),
        (lambda d: d.update(params={"nonsense": 1}), "unknown fields"),
        (lambda d: d.update(extra=1.5), "cannot be encoded"),
        (lambda d: d["departments"][0].update(encryption_key="zz" * 32), "departments[0].encryption_key"),
        (lambda d: d["departments"][0].update(encryption_key="11" * 31), "64 hex digits"),
        (lambda d: d["departments"][0].update(encryption_key=7), "X25519"),
        (lambda d: d.update(params={"max_document_bytes": 1023}), "max_document_bytes must be an integer in"),
        (lambda d: d.update(params={"max_document_bytes": (1 << 30) + 1}), "[1024, 1073741824]"),
    ],
)
def test_genesis_mistakes_are_named(change: Any, words: str) -> None:
    doc = copy.deepcopy(DOC)
    change(doc)
    with pytest.raises(GenesisError) as caught:
        parse_genesis(doc)
    assert words in caught.value.message


def test_genesis_encryption_key_and_document_limit() -> None:
    doc = copy.deepcopy(DOC)
    assert parse_genesis(doc).departments[0].encryption_key is None
    assert parse_genesis(doc).params.max_document_bytes == 64 * 1024 * 1024
    doc["departments"][0]["encryption_key"] = "ab" * 32
    doc["params"] = {"max_document_bytes": 4096}
    genesis = parse_genesis(doc)
    assert genesis.departments[0].encryption_key == b"\xab" * 32 and genesis.params.max_document_bytes == 4096
    doc["departments"][0]["encryption_key"] = "ab" * 31
    with pytest.raises(GenesisError) as caught:
        parse_genesis(doc)
    assert caught.value.field == "genesis.departments[0].encryption_key"


def test_genesis_file_errors(tmp_path: Path) -> None:
    with pytest.raises(GenesisError, match="does not exist"):
        load_genesis(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(GenesisError, match="not JSON"):
        load_genesis(bad)
    good = tmp_path / "genesis.json"
    good.write_text(json.dumps(DOC))
    assert load_genesis(good).chain_id == "g"


def test_config_round_trip_and_mistakes(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    config = NodeConfig(moniker="x", peers=("127.0.0.1:1",), block_interval_ms=7)
    path.write_text(render_config(config))
    assert load_config(path) == config
    for text, words in [
        ("[api]\nlisten = 5\n", "must be a string"),
        ("[api]\nlisten = \"nohost\"\n", "HOST:PORT"),
        ("[api]\nlsten = \"a:1\"\n", "unknown key 'lsten'"),
        ("[wat]\n", "unknown section"),
        ("[producer]\nblock_interval_ms = -1\n", "non-negative"),
        ("[producer\n", "not valid TOML"),
    ]:
        path.write_text(text)
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        assert words in caught.value.message, text
    with pytest.raises(ConfigError, match="chainnode init"):
        load_config(tmp_path / "none.toml")


def test_blob_store_quota_setting(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    assert NodeConfig().max_store_bytes == 16 * 1024**3
    config = NodeConfig(max_store_bytes=5 * 1024 * 1024)
    path.write_text(render_config(config))
    assert "[documents]\nmax_store_bytes = 5242880" in path.read_text()
    assert load_config(path) == config
    for text, words in [
        ("[documents]\nmax_store_bytes = 1000\n", "documents.max_store_bytes must be at least 1048576"),
        ("[documents]\nmax_store_bytes = -5\n", "non-negative"),
        ("[documents]\nmax_store_bytes = \"16G\"\n", "non-negative integer"),
        ("[documents]\nmax_bytes = 5\n", "unknown key 'max_bytes'"),
    ]:
        path.write_text(text)
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        assert words in caught.value.message, text


@pytest.mark.parametrize(("cores", "expected"), [(None, 0), (1, 0), (2, 1), (3, 1), (4, 2), (5, 3), (6, 4), (64, 4)])
def test_automatic_admission_processes_by_cores(cores: int | None, expected: int) -> None:
    assert admission_process_count(NodeConfig(), cores) == expected
    assert admission_process_count(NodeConfig(admission_processes=0), cores) == 0
    assert admission_process_count(NodeConfig(admission_processes=3), cores) == 3


def test_available_cores_follow_the_affinity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert available_cores() == 1

    def unsupported(pid: int) -> set[int]:
        raise OSError("not supported")

    monkeypatch.setattr(os, "sched_getaffinity", unsupported, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert available_cores() == 6


@pytest.mark.parametrize(("cores", "expected"), [(2, 0), (8, 1), (16, 2)])
def test_a_local_network_shares_the_cores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cores: int,
                                          expected: int) -> None:
    """Four nodes on loopback get the admission workers of a quarter of the machine each, written out; nodes
    on a real address keep the automatic choice, which their own machines make."""
    monkeypatch.setattr(home_module, "available_cores", lambda: cores)
    specs = [DepartmentSpec(code=c, name=c) for c in ("PSB", "SAMR", "CAB", "TAX")]
    _, local = init_network([tmp_path / "local" / str(i) for i in range(4)], chain_id="c", departments=specs,
                            api_ports=[1, 2, 3, 4], p2p_ports=[5, 6, 7, 8])
    assert {load_config(HomeLayout(h.home).config).admission_processes for h in local} == {expected}
    _, spread = init_network([tmp_path / "spread" / str(i) for i in range(4)], chain_id="c", departments=specs,
                             api_ports=[1, 2, 3, 4], p2p_ports=[5, 6, 7, 8], host="10.0.0.1")
    assert {load_config(HomeLayout(h.home).config).admission_processes for h in spread} == {-1}


def test_storage_compression_setting(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[storage]\ncompression = "snappy"\n', encoding="utf-8")
    assert load_config(path).storage_compression == "snappy"
    assert "compression = \"none\"" in render_config(NodeConfig())
    path.write_text('[storage]\ncompression = "zstd"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.message == 'storage.compression must be "none" or "snappy", got \'zstd\''
    assert caught.value.field == "storage.compression"
