"""Every module imports on its own in a fresh interpreter (no import cycles, no hidden order)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import chainnode
import contracts
import network

MODULES = sorted(
    name
    for package in (chainnode, contracts, network)
    for name in [package.__name__, *(f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__))]
)


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_alone(module: str) -> None:
    result = subprocess.run([sys.executable, "-W", "error", "-c", f"import {module}"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_offline_commands_do_not_load_the_http_stack() -> None:
    """A verifier at a service window runs `cert verify --proof` many times: the CLI and its parser load
    without aiohttp, which only commands that talk to a node import (about a tenth of a second each)."""
    code = ("import sys; from chainnode.cli import build_parser; build_parser(); "
            "import chainnode.cert_verify, chainnode.doc_verify; "
            "sys.exit('aiohttp' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr or "aiohttp was imported"
