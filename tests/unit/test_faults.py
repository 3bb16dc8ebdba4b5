"""Test-only faults (double-signing, the testhook contract) cannot be switched on by a file alone: a node
starts with one only when CHAINNODE_TEST_FAULTS names it too."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from chainnode.cli import main
from chainnode.config import HomeLayout, load_config, render_config
from chainnode.errors import ConfigError
from chainnode.home import DepartmentSpec, init_home, init_network
from chainnode.node import Node


def test_a_genesis_with_test_hooks_starts_only_when_the_environment_names_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, [created] = init_network([tmp_path / "a"], chain_id="f", departments=[DepartmentSpec(code="PSB", name="P")],
                                api_ports=[1], p2p_ports=[2], params={"test_hooks": 1})
    monkeypatch.delenv("CHAINNODE_TEST_FAULTS", raising=False)
    for environment in (None, "double-sign", "test_hooks"):
        if environment is not None:
            monkeypatch.setenv("CHAINNODE_TEST_FAULTS", environment)
        with pytest.raises(ConfigError) as caught:
            Node.from_home(created.home)
        assert caught.value.code == "test_fault_refused"
        assert "CHAINNODE_TEST_FAULTS=test-hooks" in caught.value.message
    monkeypatch.setenv("CHAINNODE_TEST_FAULTS", "double-sign, test-hooks")
    Node.from_home(created.home).close()


def test_a_double_signing_config_starts_only_when_the_environment_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, created = init_home(tmp_path / "home", chain_id="f", department="PSB", name="Police")
    layout = HomeLayout(created.home)
    config = dataclasses.replace(load_config(layout.config), misbehave="double-sign")
    layout.config.write_text(render_config(config))
    monkeypatch.delenv("CHAINNODE_TEST_FAULTS", raising=False)
    with pytest.raises(ConfigError) as caught:
        Node.from_home(created.home)
    assert caught.value.code == "test_fault_refused" and caught.value.field == "consensus.misbehave"
    monkeypatch.setenv("CHAINNODE_TEST_FAULTS", "test-hooks")
    with pytest.raises(ConfigError):
        Node.from_home(created.home)
    monkeypatch.setenv("CHAINNODE_TEST_FAULTS", "double-sign")
    Node.from_home(created.home).close()


def test_testnet_with_test_hooks_is_refused_without_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CHAINNODE_TEST_FAULTS", raising=False)
    assert main(["testnet", "--out", str(tmp_path / "net"), "--nodes", "1", "--test-hooks"]) != 0
    assert "test_fault_refused" in capsys.readouterr().err and not (tmp_path / "net").exists()
    monkeypatch.setenv("CHAINNODE_TEST_FAULTS", "test-hooks")
    assert main(["testnet", "--out", str(tmp_path / "net"), "--nodes", "1", "--test-hooks"]) == 0
