"""Verifying a certificate against genesis alone: who issued it, whether its officer held `issuer` then,
whether a file is its content (or an older version's), and its status at the proven height.

A verifier holds the certificate ID, the network's genesis.json (or a trust file it saved) and one state
bundle: a block and, under its state root, the certificate's record (`cert/<id>`), the issuing officer's
roster record (`gov/member/<key>`), whose role periods give the roles the officer held at the issue height,
and, when the presented file is an older version's content, that version's record (`cert/<id>/v/<n>`).
Everything reported is read from the proven values; a node's JSON is never trusted. A proof that
`cert/<id>` is absent is a proven "no such certificate". This is what `chainnode cert verify` runs
(docs/proofs.md, "A certificate").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from chainnode.anchor_verify import decode_proven_record, format_time_ms, proven_field, verify_state_values
from chainnode.errors import ChainError, InvalidProof
from chainnode.genesis import Genesis
from chainnode.light import TrustRoot, VerifiedState
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
    file_version: int | None = None
    """The version whose content the presented file is (None: no file, or none the proof shows)."""
    valid_from: str = ""
    valid_until: str | None = None
    proven_at_height: int = 0
    proven_time: str = ""
    proven_block_hash: str = ""
    trust: TrustRoot | None = None
    """The trust root after this proof: save it (`--trust-out`) and the next proofs need no older hops."""

    @property
    def verdict(self) -> str:
        """VALID only for a valid certificate, issued by an officer holding `issuer`, with the file's content
        (if a file was given); otherwise what is wrong, most serious first."""
        if not self.officer_held_issuer:
            return "NOT AUTHORISED"
        if self.content_matches is False:
            return "SUPERSEDED VERSION" if self.file_version is not None else "CONTENT DIFFERS"
        return self.status.upper().replace("_", " ")

    @property
    def ok(self) -> bool:
        return self.verdict == "VALID"


def verify_certificate(genesis: Genesis, cert_id: str, bundle: bytes, file_sha256: bytes | None = None,
                       trust: TrustRoot | None = None) -> VerifiedCertificate:
    """Verify a certificate bundle against `genesis` (or a saved trust root): one block, and under its state
    root the certificate's record, its issuing officer's roster record and, when a file of an older version
    was presented, that version's record.

    Raises InvalidProof naming the failed check, or CertificateNotFound for a genuine proof of absence."""
    values = verify_state_values(genesis, bundle, trust)
    proven = values[0]
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
    if len(values) < 2:
        raise InvalidProof("the proof lacks the issuing officer's roster record")
    roster = values[1]
    if roster.key != governance.member_key(officer):
        raise InvalidProof("roster check failed: the second value is not the issuing officer's record", field="key")
    if roster.value is None:
        raise InvalidProof("roster check failed: the issuing officer's key was never registered")
    member = decode_proven_record(roster.value, ROSTER, MAX_RECORD_BYTES)
    periods = proven_field(member, "periods", list, ROSTER)
    roles = list(governance.roles_at(periods, issued_height) or ())
    department = proven_field(member, "department", str, ROSTER)
    issuer = proven_field(record, "issuer", str, CERT)
    version = proven_field(record, "version", int, CERT)
    content = proven_field(record, "content_hash", bytes, CERT)
    file_version = _file_version(values[2:], cert_id, version, content, file_sha256)
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
    if file_version is not None and file_version < version:
        reasons.append(f"the file is version {file_version}, superseded: the certificate is at version {version}")
    until = record.get("valid_until_ms")
    dept = genesis.department(issuer)
    return VerifiedCertificate(
        cert_id=cert_id, cert_type=proven_field(record, "cert_type", str, CERT), issuer=issuer,
        issuer_name=None if dept is None else dept.name, officer=officer.hex(),
        officer_name=proven_field(member, "name", str, ROSTER), officer_department=department,
        officer_roles_at_issue=roles, officer_held_issuer=ROLE_ISSUER in roles and department == issuer,
        issued_height=issued_height, issued_time=format_time_ms(proven_field(record, "issued_ms", int, CERT)),
        version=version, status=status, reasons=reasons, content_hash=content.hex(),
        content_matches=None if file_sha256 is None else file_sha256 == content, file_version=file_version,
        valid_from=format_time_ms(proven_field(record, "valid_from_ms", int, CERT)),
        valid_until=None if type(until) is not int else format_time_ms(until),
        proven_at_height=proven.height, proven_time=format_time_ms(proven.time_ms),
        proven_block_hash=proven.block_hash.hex(), trust=proven.trust,
    )


def _file_version(extra: list[VerifiedState], cert_id: str, version: int, content: bytes,
                  file_sha256: bytes | None) -> int | None:
    """Which version the presented file is: the current one, an older one proven by the bundle's third value
    (the superseded version's record), or None (no file, or not a version the proof shows)."""
    if file_sha256 is None:
        return None
    if file_sha256 == content:
        return version
    if len(extra) > 1:
        raise InvalidProof("the proof carries more values than a certificate check uses")
    if not extra:
        return None
    old = extra[0]
    older = decode_proven_record(old.value, CERT, MAX_RECORD_BYTES) if old.value is not None else None
    if older is None:
        raise InvalidProof("version check failed: the proof shows no record of the version it names")
    number = proven_field(older, "version", int, CERT)
    if old.key != certificates.version_key(cert_id, number) or not 1 <= number < version:
        raise InvalidProof("version check failed: the third value is not a superseded version of this certificate",
                           field="key")
    return number if proven_field(older, "content_hash", bytes, CERT) == file_sha256 else None
