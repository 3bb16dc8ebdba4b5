"""Governance: the departments of the alliance and their registered members (staff keys and roles).

At genesis every department and its listed members are written to state. Later governance methods
(registering staff, proposals) extend this module; the lookups below are what other contracts call.
"""

from __future__ import annotations

from dataclasses import dataclass

from chainnode.genesis import Genesis
from contracts.base import StateOverlay

PREFIX_DEPARTMENT = b"gov/department/"
PREFIX_MEMBER = b"gov/member/"


@dataclass(frozen=True, slots=True)
class MemberRecord:
    public_key: bytes
    department: str
    roles: tuple[str, ...]
    name: str


def department_key(code: str) -> bytes:
    return PREFIX_DEPARTMENT + code.encode()


def member_key(public_key: bytes) -> bytes:
    return PREFIX_MEMBER + public_key


def apply_genesis(overlay: StateOverlay, genesis: Genesis) -> None:
    if genesis.params.test_hooks:
        overlay.put_value(b"consensus/test_hooks", 1)
    for dept in genesis.departments:
        overlay.put_value(
            department_key(dept.code),
            {
                "code": dept.code,
                "name": dept.name,
                "node_key": dept.node_key,
                "power": dept.power,
                "active": True,
            },
        )
        overlay.put_value(
            member_key(dept.node_key),
            {
                "department": dept.code,
                "roles": ["node"],
                "name": f"{dept.code} node",
                "since_height": 0,
            },
        )
        for member in dept.members:
            overlay.put_value(
                member_key(member.public_key),
                {
                    "department": dept.code,
                    "roles": list(member.roles),
                    "name": member.name,
                    "since_height": 0,
                },
            )


def get_member(overlay: StateOverlay, public_key: bytes) -> MemberRecord | None:
    """The current registration of `public_key`, or None if it is not a member of any department."""
    value = overlay.get_value(member_key(public_key))
    if value is None:
        return None
    return MemberRecord(
        public_key=public_key, department=value["department"], roles=tuple(value["roles"]), name=value["name"]
    )
