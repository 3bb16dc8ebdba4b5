"""Test-only faults, and the gate that keeps them out of a normal install.

Two switches exist only so tests can exercise what the node must survive: `[consensus] misbehave =
"double-sign"` in config.toml makes a validator equivocate, and genesis `params.test_hooks = 1` enables
the `testhook` contract (validator updates without governance). Either in a production network would
be a disaster that one edited file could cause, so a node starts with one only if its process
environment also names it:

    CHAINNODE_TEST_FAULTS=double-sign,test-hooks chainnode start --home HOME

A switch set without its name in the variable stops the start with ConfigError `test_fault_refused`,
naming the switch and the variable. The variable alone enables nothing. `chainnode testnet --test-hooks`
is gated the same way. The gate is node-local and changes no consensus rule: the `testhook` contract
still refuses on every node unless genesis enables it, so nodes of one network cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from chainnode.errors import ConfigError

ENV_VAR: Final = "CHAINNODE_TEST_FAULTS"
DOUBLE_SIGN: Final = "double-sign"
TEST_HOOKS: Final = "test-hooks"
SLOW_BLOBS: Final = "slow-blobs"
"""Named in the variable alone (no config switch): the node answers each peer's `blob` request 0.1 s late,
so a test can interrupt a transfer. It only slows this node's serving; nothing else changes."""
KNOWN: Final = frozenset({DOUBLE_SIGN, TEST_HOOKS, SLOW_BLOBS})


class FaultRefused(ConfigError):
    code = "test_fault_refused"


def enabled_faults(environ: Mapping[str, str]) -> frozenset[str]:
    """The fault names listed (comma-separated) in CHAINNODE_TEST_FAULTS."""
    return frozenset(part.strip() for part in environ.get(ENV_VAR, "").split(",") if part.strip())


def is_enabled(fault: str, environ: Mapping[str, str]) -> bool:
    return fault in enabled_faults(environ)


def require_fault(fault: str, *, asked_by: str, environ: Mapping[str, str]) -> None:
    """Raise FaultRefused unless `fault` is named in CHAINNODE_TEST_FAULTS."""
    if not is_enabled(fault, environ):
        raise FaultRefused(
            f"{asked_by} turns on the test-only fault {fault!r}, which must never run in a real network; "
            f"it is refused unless the environment names it: {ENV_VAR}={fault}",
            field=asked_by,
        )


def validate_test_faults(*, misbehave: str, test_hooks: int, environ: Mapping[str, str]) -> None:
    """Refuse to start a node whose config or genesis asks for a test fault its environment does not name.

    Raises FaultRefused."""
    if misbehave:
        require_fault(misbehave, asked_by="consensus.misbehave", environ=environ)
    if test_hooks:
        require_fault(TEST_HOOKS, asked_by="genesis params.test_hooks", environ=environ)
