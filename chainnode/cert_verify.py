"""Verifying a certificate against genesis alone: who issued it, whether its officer held `issuer` then,
whether a file is its content, and its status at the proven height.

A verifier holds the certificate ID, the network's genesis.json and two state proofs of one height: the
certificate's record (`cert/<id>`), and the issuing officer's roster record (`gov/member/<key>`), whose role
periods give the roles the officer held at the issue height. Everything reported is read from the two
proven values; a node's JSON is never trusted. A proof that `cert/<id>` is absent is a proven "no such
certificate". This is what `chainnode cert verify` runs (docs/proofs.md, "Certificates").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from chainnode.anchor_verify import decode_proven_record, format_time_ms, proven_field, verify_state_value
from chainnode.errors import ChainError, InvalidProof
from chainnode.genesis import Genesis
from contracts import certificates, governance

MAX_RECORD_BYTES: Final = 1 << 20
ROLE_ISSUER: Final = "issuer"
CERT: Final = "a certificate record"
ROSTER: Final = "a roster record"


class CertificateNotFound(ChainError):
    """A genuine proof shows that no certificate has this ID at the proven height."""

    code = "certificate_not_found"


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedCertificate:
    cert_id: str
    cert_type: str
    issuer: str
    issuer_name: str | None
    officer: str
    officer_name: str
    officer_department: str
    officer_roles_at_issue: list[str]
    officer_held_issuer: bool
    issued_height: int
    issued_time: str
    version: int
    status: str
    """valid, suspended, revoked, expired or not_yet_valid, at the proven block's time."""
    reasons: list[str] = field(default_factory=list)
    content_hash: str = ""
    content_matches: bool | None = None
    valid_from: str = ""
    valid_until: str | None = None
    proven_at_height: int = 0
    proven_time: str = ""
    proven_block_hash: str = ""

    @property
    def verdict(self) -> str:
        """VALID only for a valid certificate, issued by an officer holding `issuer`, with the file's content
        (if a file was given); otherwise what is wrong, most serious first."""
        if not self.officer_held_issuer:
            return "NOT AUTHORISED"
        if self.content_matches is False:
            return "CONTENT DIFFERS"
        return self.status.upper().replace("_", " ")

    @property
    def ok(self) -> bool:
        return self.verdict == "VALID"


def verify_certificate(genesis: Genesis, cert_id: str, bundles: list[bytes], file_sha256: bytes | None = None
                       ) -> VerifiedCertificate:
    """Verify the certificate's bundle and its officer's roster bundle (same height) against `genesis`.

    Raises InvalidProof naming the failed check, or CertificateNotFound for a genuine proof of absence."""
    if not bundles:
        raise InvalidProof("no proof given")
    proven = verify_state_value(genesis, bundles[0])
    if proven.key != certificates.cert_key(cert_id):
        raise InvalidProof("record check failed: the proof is for another key than this certificate's record",
                           field="key")
    if proven.value is None:
        raise CertificateNotFound(f"no certificate {cert_id} exists at height {proven.height} (a proof of "
                                  "absence, checked against genesis)")
    record = decode_proven_record(proven.value, CERT, MAX_RECORD_BYTES)
    if proven_field(record, "cert_id", str, CERT) != cert_id:
        raise InvalidProof("record check failed: the proven record is of another certificate", field="cert_id")
    officer = proven_field(record, "issuer_officer", bytes, CERT)
    issued_height = proven_field(record, "issued_height", int, CERT)
    if len(bundles) < 2:
        raise InvalidProof("the proof lacks the issuing officer's roster record")
    roster = verify_state_value(genesis, bundles[1])
    if roster.key != governance.member_key(officer):
        raise InvalidProof("roster check failed: the second proof is not of the issuing officer's record",
                           field="key")
    if roster.height != proven.height:
        raise InvalidProof(f"roster check failed: the roster proof is of height {roster.height}, the certificate's "
                           f"of {proven.height}; both must be of one height")
    if roster.value is None:
        raise InvalidProof("roster check failed: the issuing officer's key was never registered")
    member = decode_proven_record(roster.value, ROSTER, MAX_RECORD_BYTES)
    periods = proven_field(member, "periods", list, ROSTER)
    roles = list(governance.roles_at(periods, issued_height) or ())
    department = proven_field(member, "department", str, ROSTER)
    issuer = proven_field(record, "issuer", str, CERT)
    status = certificates.status_at(record, proven.time_ms)
    reasons = []
    if status == "revoked":
        reasons.append(f"revoked: {record.get('revoked_reason')}")
    elif status == "suspended":
        reasons.append(f"suspended: {record.get('suspended_reason')}")
    if department != issuer:
        reasons.append(f"the officer belongs to {department}, not to the issuing department {issuer}")
    if ROLE_ISSUER not in roles:
        reasons.append(f"the officer held {', '.join(roles) or 'no role'} at height {issued_height}, not issuer")
    content = proven_field(record, "content_hash", bytes, CERT)
    until = record.get("valid_until_ms")
    dept = genesis.department(issuer)
    return VerifiedCertificate(
        cert_id=cert_id, cert_type=proven_field(record, "cert_type", str, CERT), issuer=issuer,
        issuer_name=None if dept is None else dept.name, officer=officer.hex(),
        officer_name=proven_field(member, "name", str, ROSTER), officer_department=department,
        officer_roles_at_issue=roles, officer_held_issuer=ROLE_ISSUER in roles and department == issuer,
        issued_height=issued_height, issued_time=format_time_ms(proven_field(record, "issued_ms", int, CERT)),
        version=proven_field(record, "version", int, CERT), status=status, reasons=reasons,
        content_hash=content.hex(), content_matches=None if file_sha256 is None else file_sha256 == content,
        valid_from=format_time_ms(proven_field(record, "valid_from_ms", int, CERT)),
        valid_until=None if type(until) is not int else format_time_ms(until),
        proven_at_height=proven.height, proven_time=format_time_ms(proven.time_ms),
        proven_block_hash=proven.block_hash.hex(),
    )
