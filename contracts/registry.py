"""The contract registry: every callable contract method, by contract and method name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from contracts import (
    anchor,
    cases,
    certificates,
    documents,
    evidence,
    governance,
    items,
    materials,
    proposals,
    validators,
)
from contracts.base import Method

REGISTRY: Final[Mapping[str, Mapping[str, Method]]] = {
    "anchor": {
        "put": Method(
            parse=anchor.parse_put,
            handler=anchor.put,
            targets=anchor.compute_put_targets,
            description="Record a SHA-256 content hash with a kind and metadata for the signer's department.",
            example={"content_hash": "<32 bytes>", "kind": "contract", "metadata": {"title": "..."}},
        ),
    },
    "governance": {
        "register_member": Method(
            parse=governance.parse_register, handler=governance.register_member,
            targets=governance.compute_member_targets,
            description="A department admin registers a staff key with roles, effective from a height.",
            example={"public_key": "<32 bytes>", "name": "Clerk Wang", "roles": ["clerk"], "effective_height": 120},
        ),
        "set_roles": Method(
            parse=governance.parse_set_roles, handler=governance.set_roles,
            targets=governance.compute_member_targets,
            description="A department admin changes a staff key's roles, effective from a height.",
            example={"public_key": "<32 bytes>", "roles": ["clerk", "reviewer"]},
        ),
        "rotate_key": Method(
            parse=governance.parse_rotate, handler=governance.rotate_key,
            targets=governance.compute_member_targets,
            description="A department admin replaces a staff key by a new one with the same roles.",
            example={"public_key": "<32 bytes>", "new_public_key": "<32 bytes>", "reason": "device replaced"},
        ),
        "revoke_member": Method(
            parse=governance.parse_revoke, handler=governance.revoke_member,
            targets=governance.compute_member_targets,
            description="A department admin revokes a staff key from a height on; earlier signatures stay valid.",
            example={"public_key": "<32 bytes>", "reason": "left the department"},
        ),
        "set_encryption_key": Method(
            parse=governance.parse_set_encryption_key, handler=governance.set_encryption_key,
            description="A department admin rotates the department's X25519 encryption key for official documents, "
                        "effective from a height; earlier keys stay on record.",
            example={"public_key": "<32 bytes>", "effective_height": 120},
        ),
        "propose": Method(
            parse=proposals.parse_propose, handler=proposals.propose,
            description="A department admin proposes a change that the departments vote on.",
            example={"kind": "register_material_type", "payload": {"code": "id_card", "name": "Identity card"},
                     "title": "Identity card material", "deadline_height": 500, "effective_height": 510},
        ),
        "vote": Method(
            parse=proposals.parse_vote, handler=proposals.vote, targets=proposals.compute_vote_targets,
            description="A department admin casts the department's one vote on an open proposal.",
            example={"proposal_id": 1, "approve": True},
        ),
    },
    "items": items.METHODS,
    "materials": materials.METHODS,
    "certificates": certificates.METHODS,
    "cases": cases.METHODS,
    "documents": documents.METHODS,
    "evidence": {
        "report": Method(
            parse=evidence.parse_report, handler=evidence.report, targets=evidence.compute_report_targets,
            description="Record two conflicting signed votes of one validator (equivocation), reported by a node.",
        ),
    },
    "testhook": {
        "set_validator": Method(
            parse=validators.parse_set_validator, handler=validators.set_validator,
            targets=validators.compute_set_validator_targets,
            description="Test networks only: queue a validator update that takes effect two heights later.",
            example={"department": "PSB", "public_key": "<32 bytes>", "power": 10},
        ),
    },
}
