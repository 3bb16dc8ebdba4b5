"""The `member` and `proposal` command groups of the CLI: a department's staff keys and roles as of any
height, and governance proposals with their votes.

Shared helpers (submitting a call, argument types, key files) are in `chainnode.cli_records`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from chainnode.cli import UsageError, emit, open_client
from chainnode.cli_records import (
    STAFF_ROLES,
    InvalidArgumentsLocal,
    add_action,
    add_height,
    add_key_choice,
    emit_write,
    hex32,
    positive_int,
    public_key,
    read_json_file,
    roles_arg,
    submit,
)
from chainnode.codec import Value
from chainnode.genesis import PROPOSAL_KINDS

# --- member ------------------------------------------------------------------------------------------

_MEMBER_METHODS: Final = {"register": ("register_member", "registered"), "set-roles": ("set_roles", "given roles"),
                          "rotate": ("rotate_key", "rotated"), "revoke": ("revoke_member", "revoked")}


def cmd_member_write(args: argparse.Namespace) -> int:
    key = public_key(args, "public_key", "member_key")
    method, what = _MEMBER_METHODS[args.action]
    call: dict[str, Value] = {"public_key": key, "effective_height": args.effective_height}
    new_key: bytes | None = None
    if args.action == "register":
        call.update(name=args.name, roles=args.roles)
    elif args.action == "set-roles":
        call["roles"] = args.roles
    elif args.action == "rotate":
        new_key = public_key(args, "new_public_key", "new_member_key")
        call.update(new_public_key=new_key, reason=args.reason)
    else:
        call["reason"] = args.reason
    with open_client(args) as client:
        done = submit(args, client, "governance", method, call)
    roles = done.attribute("roles") or []
    effective = done.attribute("effective_height")
    first = f"member {key.hex()} of {done.attribute('department')} {what}"
    if args.action in ("register", "set-roles"):
        first += f" {', '.join(roles)}"
    first += f", effective from height {effective}"
    second = f"  {done.where()}"
    if new_key is not None:
        second += f"; the new key {new_key.hex()} holds {', '.join(roles)}"
    return emit_write(args, done, [first, second], public_key=key.hex(), roles=roles, effective_height=effective)


def cmd_member_show(args: argparse.Namespace) -> int:
    key = public_key(args, "public_key", "member_key")
    with open_client(args) as client:
        answer = client.member(key, height=args.height)
    record = answer.get("member") or {}
    periods = record.get("periods") or []
    lines = [
        f"member {key.hex()} at height {answer.get('height')}",
        f"  name:        {record.get('name')}",
        f"  department:  {record.get('department')}",
        f"  roles now:   {', '.join(answer.get('roles') or []) or 'none (not active at this height)'}",
        *(f"  from height {p[0]}: {', '.join(p[1]) or 'revoked'}" for p in periods),
    ]
    if record.get("rotated_to"):
        lines.append(f"  rotated to:  {record['rotated_to']}")
    if record.get("rotated_from"):
        lines.append(f"  rotated from: {record['rotated_from']}")
    if record.get("revoked_reason"):
        lines.append(f"  revoked:     {record['revoked_reason']}")
    emit(args, answer, lines)
    return 0


def cmd_member_list(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        answer = client.roster(args.department, height=args.height)
    members = answer.get("members") or []
    lines = [f"{args.department}: {len(members)} key(s) holding a role at height {answer.get('height')}"]
    lines += [f"  {m.get('public_key')}  {m.get('name')}  [{', '.join(m.get('roles') or [])}]" for m in members]
    emit(args, answer, lines)
    return 0


def add_member(sub: Any, both: Sequence[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("member", help="register and manage a department's staff keys")
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, help_text in (("register", "register a staff key with roles (admin of the department)"),
                            ("set-roles", "change a staff key's roles"),
                            ("rotate", "replace a staff key by a new one with the same roles"),
                            ("revoke", "revoke a staff key; what it signed before stays checkable")):
        p = add_action(actions, name, both, cmd_member_write, help_text, write=True)
        add_key_choice(p, "public-key", "member-key", "the member's key")
        p.add_argument("--effective-height", type=positive_int, metavar="H", help="default: the next height")
        if name == "register":
            p.add_argument("--name", required=True, help="the member's name, e.g. 'Clerk Wang'")
        if name in ("register", "set-roles"):
            p.add_argument("--roles", type=roles_arg, required=True, metavar="R[,R...]",
                           help=f"roles: {', '.join(STAFF_ROLES)}")
        if name == "rotate":
            add_key_choice(p, "new-public-key", "new-member-key", "the new key")
            p.add_argument("--reason", default=None)
        if name == "revoke":
            p.add_argument("--reason", required=True)
    for name, run, help_text in (("show", cmd_member_show, "a key's registration and roles at a height"),
                                 ("list", cmd_member_list, "a department's roster at a height")):
        p = add_action(actions, name, both, run, help_text)
        add_height(p)
        if name == "show":
            add_key_choice(p, "public-key", "member-key", "the member's key")
        else:
            p.add_argument("--department", required=True, metavar="CODE")


# --- proposal ----------------------------------------------------------------------------------------


def _payload_bytes(kind: str, payload: Any) -> Any:
    """Turn the hex fields of a payload (add_department: node_key, encryption_key, admins[].public_key) into
    bytes."""
    if kind != "add_department" or not isinstance(payload, dict):
        return payload
    converted = dict(payload)

    def unhex(value: Any, where: str) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return hex32(value)
        except argparse.ArgumentTypeError as exc:
            raise InvalidArgumentsLocal(f"{where}: {exc}", field=where) from exc

    converted["node_key"] = unhex(payload.get("node_key"), "payload.node_key")
    if "encryption_key" in payload:
        converted["encryption_key"] = unhex(payload["encryption_key"], "payload.encryption_key")
    if isinstance(payload.get("admins"), list):
        converted["admins"] = [
            {**a, "public_key": unhex(a.get("public_key"), f"payload.admins[{i}].public_key")} if isinstance(a, dict)
            else a for i, a in enumerate(payload["admins"])
        ]
    return converted


def cmd_proposal_create(args: argparse.Namespace) -> int:
    if args.payload is not None:
        payload = read_json_file(args.payload, "payload file")
    else:
        try:
            payload = json.loads(args.payload_json)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--payload-json is not valid JSON: {exc}") from exc
    with open_client(args) as client:
        head = int(client.status().get("height") or 0)
        deadline = args.deadline_height or head + args.deadline_in
        effective = args.effective_height or head + args.effective_in
        call: dict[str, Value] = {"kind": args.kind, "payload": _payload_bytes(args.kind, payload),
                                  "title": args.title, "deadline_height": deadline, "effective_height": effective}
        done = submit(args, client, "governance", "propose", call)
    proposal_id = done.attribute("id")
    return emit_write(args, done, [
        f"proposal {proposal_id} ({args.kind}) created; votes close at height {deadline}, "
        f"it takes effect from height {effective} once passed",
        f"  {done.where()}; vote: chainnode proposal vote {proposal_id} --yes --key KEYFILE",
    ], proposal_id=proposal_id, deadline_height=deadline, effective_height=effective)


def cmd_proposal_vote(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        done = submit(args, client, "governance", "vote", {"proposal_id": args.id, "approve": args.approve})
    kinds = done.kinds()
    outcome = "passed" if "proposal.passed" in kinds else "rejected" if "proposal.rejected" in kinds else "still open"
    apply_height = next((e["attributes"].get("apply_height") for e in done.events
                         if e.get("kind") == "proposal.passed"), None)
    line = f"{done.attribute('department')} voted {'yes' if args.approve else 'no'} on proposal {args.id}: {outcome}"
    if apply_height is not None:
        line += f"; it takes effect at the start of block {apply_height}"
    return emit_write(args, done, [line, f"  {done.where()}"], proposal_id=args.id, outcome=outcome,
                      apply_height=apply_height)


def _proposal_lines(p: dict[str, Any]) -> list[str]:
    votes = p.get("votes") or {}
    num, den = (p.get("threshold") or [2, 3])[:2]
    cast = ", ".join(f"{d} {'yes' if v.get('approve') else 'no'}" for d, v in votes.items()) or "none"
    lines = [
        f"proposal {p.get('id')}: {p.get('title') or p.get('kind')}  [{p.get('status')}]",
        f"  kind:       {p.get('kind')}, proposed by {p.get('department')} at height {p.get('proposed_height')}",
        f"  votes:      {cast} (passes with more than {num}/{den} of the departments)",
        f"  deadline:   height {p.get('deadline_height')}; effective from height {p.get('effective_height')}",
    ]
    if p.get("apply_height") is not None:
        lines.append(f"  applied at: height {p.get('apply_height')}")
    if p.get("failure"):
        lines.append(f"  failure:    {p['failure']}")
    lines.append(f"  payload:    {json.dumps(p.get('payload'), ensure_ascii=False)}")
    return lines


def cmd_proposal_show(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        answer = client.proposal(args.id, height=args.height)
    emit(args, answer, _proposal_lines(answer.get("proposal") or {}))
    return 0


def cmd_proposal_list(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        answer = client.proposals(height=args.height)
    found = answer.get("proposals") or []
    lines = [f"{len(found)} proposal(s) at height {answer.get('height')}"]
    lines += [f"  {p.get('id'):>4}  {p.get('status'):<8}  {p.get('kind'):<22}  {p.get('department'):<6}  "
              f"{p.get('title') or ''}" for p in found]
    emit(args, answer, lines)
    return 0


def add_proposal(sub: Any, both: Sequence[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("proposal", help="governance proposals and votes")
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = add_action(actions, "create", both, cmd_proposal_create, "propose a change (admin)", write=True)
    p.add_argument("--kind", required=True, choices=PROPOSAL_KINDS)
    payload = p.add_mutually_exclusive_group(required=True)
    payload.add_argument("--payload", type=Path, metavar="FILE.json", help="the payload as a JSON file")
    payload.add_argument("--payload-json", metavar="JSON", help="the payload inline")
    p.add_argument("--title", default=None)
    for what in ("deadline", "effective"):
        group_h = p.add_mutually_exclusive_group(required=True)
        group_h.add_argument(f"--{what}-in", type=positive_int, metavar="N", help=f"{what} height: head + N")
        group_h.add_argument(f"--{what}-height", type=positive_int, metavar="H", help=f"{what} height")
    p = add_action(actions, "vote", both, cmd_proposal_vote, "cast your department's vote (admin)", write=True)
    p.add_argument("id", type=positive_int, metavar="ID")
    choice = p.add_mutually_exclusive_group(required=True)
    choice.add_argument("--yes", dest="approve", action="store_true", default=None)
    choice.add_argument("--no", dest="approve", action="store_false")
    p = add_action(actions, "show", both, cmd_proposal_show, "one proposal with its votes and status")
    p.add_argument("id", type=positive_int, metavar="ID")
    add_height(p)
    p = add_action(actions, "list", both, cmd_proposal_list, "every proposal")
    add_height(p)


def add_commands(sub: Any, both: Sequence[argparse.ArgumentParser]) -> None:
    add_member(sub, both)
    add_proposal(sub, both)
