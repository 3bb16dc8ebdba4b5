"""Who may read which internal record (docs/api.md, "Public and internal routes").

Every rule here takes the reader's registration at the head (`governance.MemberRecord`) and the record as it
stands, and either returns or raises `ReadForbidden` naming who may read it. Each is decided from the record
itself or one more record it names, never by scanning the chain, so a refusal costs what the answer would.

- Auditors (the role `auditor`, of any department) read everything.
- A department's staff read what their department takes part in:
  - a case: its handling department, its parallel departments, the issuers of the materials it cites and
    the departments that signed one of its steps (`compute_case_parties`);
  - a material: its issuing department;
  - a certificate's history: its issuing department, and the parties of the case it was issued for;
  - a department's case list and supervision: that department;
  - a transaction's detail, proof and arguments: the signer's department;
  - an entity's history: `department:<own>`, `member:` or `signer:` keys of their own department, the
    cases, certificates, materials and documents above, and the public registries (`item:`, `proposal:`,
    `validator:`, `anchor:`, which anyone may read unsigned); a holder's history (`holder:`), which spans
    departments, auditors only.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Final

from chainnode.read_auth import ReadForbidden
from contracts import args as contract_args
from contracts import case_queries, certificates, document_queries, governance, materials
from contracts.base import StateReader

ROLE_AUDITOR: Final = "auditor"
PUBLIC_HISTORY_KINDS: Final = frozenset({"item", "proposal", "validator", "anchor"})
"""History kinds whose records are public (the catalogue, governance, validators and their evidence,
anchors): anyone may trace them, without a signed request."""
PUBLIC_STATE_PREFIXES: Final = (b"gov/", b"anchor/", b"cert/", b"item/", b"items/", b"evidence/", b"consensus/")
"""Raw state anyone may read with its proof: the roster, registries, anchors, certificates, the catalogue."""


def is_auditor(member: governance.MemberRecord) -> bool:
    return ROLE_AUDITOR in member.roles


def _who(member: governance.MemberRecord) -> str:
    return f"{member.name} ({member.department})"


def _refuse(member: governance.MemberRecord, what: str, departments: Collection[str]) -> ReadForbidden:
    staff = f"the staff of {', '.join(sorted(departments))} and " if departments else ""
    return ReadForbidden(f"{_who(member)} may not read {what}: it is readable by {staff}auditors")


def validate_department_reader(member: governance.MemberRecord, department: str, what: str) -> None:
    """A department's own records (case list, supervision): its staff and auditors."""
    if member.department != department and not is_auditor(member):
        raise _refuse(member, f"{what} of {department}", (department,))


def validate_auditor(member: governance.MemberRecord, what: str) -> None:
    if not is_auditor(member):
        raise ReadForbidden(f"{_who(member)} may not read {what}: it is readable by auditors only "
                            f"({_who(member)} holds {', '.join(member.roles)})", code="role_required")


def compute_case_parties(record: dict[str, Any]) -> frozenset[str]:
    """The departments that take part in a case: handling, parallel, issuers of its materials, signers of its
    steps."""
    parties = {str(record["department"])}
    parties.update(str(d) for d in record.get("parallel_departments") or ())
    parties.update(str(m["issuer"]) for m in record.get("materials") or ())
    parties.update(str(s["department"]) for s in record.get("steps") or () if s.get("department"))
    return frozenset(parties)


def may_read_case(member: governance.MemberRecord, record: dict[str, Any]) -> bool:
    return is_auditor(member) or member.department in compute_case_parties(record)


def validate_case_reader(member: governance.MemberRecord, record: dict[str, Any]) -> None:
    if not may_read_case(member, record):
        raise _refuse(member, f"case {record['case_id']}", compute_case_parties(record))


def validate_material_reader(member: governance.MemberRecord, material_id: str, issuer: str) -> None:
    """A material record: its issuing department's staff and auditors (a case citing it names its type,
    issuer and form to the case's parties)."""
    if issuer != member.department and not is_auditor(member):
        raise _refuse(member, f"material {material_id}", (issuer,))


def compute_certificate_parties(state: StateReader, record: dict[str, Any]) -> frozenset[str]:
    """The issuing department and, for a certificate issued on a case, the case's parties."""
    parties = {str(record["issuer"])}
    case_id = record.get("case_id")
    if isinstance(case_id, str):
        case = case_queries.get_case(state, case_id)
        if case is not None:
            parties |= compute_case_parties(case)
    return frozenset(parties)


def validate_signer_reader(state: StateReader, member: governance.MemberRecord, signer: bytes, what: str) -> None:
    """A transaction's detail, or a key's own history: the staff of the key's department and auditors."""
    if is_auditor(member):
        return
    record = governance.member_record(state, signer)
    department = None if record is None else str(record["department"])
    if department != member.department:
        raise _refuse(member, what, () if department is None else (department,))


def filter_holder_records(state: StateReader, member: governance.MemberRecord, answer: dict[str, Any]
                          ) -> dict[str, Any]:
    """A holder's records as a department's staff may see them: the materials it issued, the cases it takes
    part in, the certificates it issued or whose case it takes part in. Auditors see them all."""
    if is_auditor(member):
        return answer
    own = member.department
    cases = [c for c in answer["cases"] if may_read_case(member, c)]
    certs = [c for c in answer["certificates"]
             if own == c["issuer"] or own in compute_certificate_parties(state, c)]
    return {**answer, "materials": [m for m in answer["materials"] if m["issuer"] == own], "cases": cases,
            "certificates": certs, "scoped_to": own}


def is_public_history(entity: str) -> bool:
    return entity.partition(":")[0] in PUBLIC_HISTORY_KINDS


def validate_history_reader(state: StateReader, member: governance.MemberRecord, entity: str) -> None:
    """Raises ReadForbidden unless `member` may read the history of `entity` (module docstring)."""
    if is_auditor(member):
        return
    kind, _, ident = entity.partition(":")
    what = f"the history of {entity}"
    if kind in PUBLIC_HISTORY_KINDS:
        return
    if kind == "department":
        validate_department_reader(member, ident, "the history")
        return
    if kind in ("member", "signer"):
        try:
            key = bytes.fromhex(ident)
        except ValueError:
            key = b""
        validate_signer_reader(state, member, key, what)
        return
    parties: Collection[str] = ()
    if kind == "case" and contract_args.ID_HEX.match(ident):
        case = case_queries.get_case(state, ident)
        parties = () if case is None else compute_case_parties(case)
    elif kind == "material" and contract_args.ID_HEX.match(ident):
        material = materials.get_material(state, ident)
        parties = () if material is None else (material.issuer,)
    elif kind == "cert" and contract_args.ID_HEX.match(ident):
        cert = certificates.get_certificate(state, ident)
        parties = () if cert is None else compute_certificate_parties(state, cert)
    elif kind == "document" and contract_args.ID_HEX.match(ident):
        record = document_queries.get_document(state, ident)
        parties = () if record is None else document_queries.holders(record)
    if member.department not in parties:
        raise _refuse(member, what, parties)


def validate_state_reader(state: StateReader, member: governance.MemberRecord, key: bytes) -> None:
    """Raw state of an internal record: a case or material record to its parties, anything else (the case,
    material and certificate indexes by department and holder) to auditors."""
    if is_auditor(member):
        return
    ident = key.split(b"/", 1)[1].decode("ascii", "replace") if b"/" in key else ""
    if key.startswith(case_queries.PREFIX_CASE) and contract_args.ID_HEX.match(ident):
        case = case_queries.get_case(state, ident)
        if case is not None:
            validate_case_reader(member, case)
            return
    elif key.startswith(materials.PREFIX) and contract_args.ID_HEX.match(ident):
        material = materials.get_material(state, ident)
        if material is not None:
            validate_material_reader(member, material.material_id, material.issuer)
            return
    validate_auditor(member, f"the state key {key[:64]!r}")


def is_public_state_key(key: bytes) -> bool:
    return key.startswith(PUBLIC_STATE_PREFIXES)
