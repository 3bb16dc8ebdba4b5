"""Validator-set updates: how a block's execution changes who validates two heights later.

A contract that changes voting power writes the update list under VALIDATOR_UPDATES_KEY; the executor
takes the updates written in block H and the node applies them to the set of height H+1 to get the set
of height H+2 (as in CometBFT), so every header names its own and the next set in advance. Governance
proposals (a later contract) drive this; until then `testhook.set_validator` does, and only on networks
whose genesis enables test hooks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from chainnode.codec import Value
from chainnode.results import Event
from contracts import governance
from contracts.base import CallContext, ContractError, Outcome, StateOverlay, want_args_map

VALIDATOR_UPDATES_KEY: Final = b"consensus/validator_updates"
TEST_HOOKS_KEY: Final = b"consensus/test_hooks"
MAX_UPDATES_PER_BLOCK: Final = 64


@dataclass(frozen=True, slots=True)
class SetValidatorArgs:
    department: str
    public_key: bytes
    power: int


def parse_set_validator(args: Value) -> SetValidatorArgs:
    fields = want_args_map(args, {"department", "public_key", "power"}, {"department", "public_key", "power"})
    department, public_key, power = fields["department"], fields["public_key"], fields["power"]
    if type(department) is not str or not 2 <= len(department) <= 32:
        raise ContractError("invalid_arguments", "department must be a department code", field="department")
    if type(public_key) is not bytes or len(public_key) != 32:
        raise ContractError("invalid_arguments", "public_key must be 32 bytes", field="public_key")
    if type(power) is not int or not 0 <= power <= 2**40:
        raise ContractError("invalid_arguments", "power must be an integer in [0, 2^40]; 0 removes", field="power")
    return SetValidatorArgs(department, public_key, power)


def set_validator(overlay: StateOverlay, args: SetValidatorArgs, ctx: CallContext) -> Outcome:
    """Test hook: queue a validator update. Needs test hooks enabled in genesis and an admin signer."""
    # AUTHORISE
    if overlay.get(TEST_HOOKS_KEY) is None:
        raise ContractError("test_hooks_disabled", "this network's genesis does not enable test hooks")
    governance.require_member(overlay, ctx.signer, ctx.height, ("admin",))
    # CHECK
    queued = overlay.get_value(VALIDATOR_UPDATES_KEY)
    updates = list(queued["updates"]) if queued is not None and queued["height"] == ctx.height else []
    if len(updates) >= MAX_UPDATES_PER_BLOCK:
        raise ContractError("too_many_updates", f"at most {MAX_UPDATES_PER_BLOCK} validator updates per block")
    # EFFECT
    updates.append([args.department, args.public_key, args.power])
    overlay.put_value(VALIDATOR_UPDATES_KEY, {"height": ctx.height, "updates": updates})
    event = Event(
        kind="validator.update_queued",
        attributes={
            "department": args.department,
            "public_key": args.public_key,
            "power": args.power,
            "effective_height": ctx.height + 2,
        },
    )
    return Outcome((event,), (f"department:{args.department}",))


def compute_set_validator_targets(args: SetValidatorArgs) -> tuple[str, ...]:
    return (f"department:{args.department}",)
