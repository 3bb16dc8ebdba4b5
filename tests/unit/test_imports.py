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
