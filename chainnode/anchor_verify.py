"""Verifying an anchor against genesis alone, and the proof files that carry anchors offline.

A verifier holds a file, the network's genesis.json and either a node's answer or a saved proof file.
`verify_anchor_bundle` checks one state bundle (block, commit, state path) with chainnode.light and then
reads the anchor record from the proven value only, never from anything a node says beside it. This is
what `chainnode anchor verify` runs; other programs can call it the same way.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from chainnode import codec, light
from chainnode.errors import ChainError, InvalidProof
from chainnode.genesis import Genesis
from chainnode.state_tree import verify_state_proof
from contracts import anchor

PROOF_FILE_KIND: Final = "chainnode-proof"
PROOF_FILE_VERSION: Final = 1
MAX_RECORD_BYTES: Final = 64 * 1024


def format_time_ms(time_ms: int) -> str:
    """ISO-8601 UTC with milliseconds, e.g. 2024-05-01T08:30:00.123Z."""
    moment = datetime.fromtimestamp(time_ms // 1000, tz=UTC) + timedelta(milliseconds=time_ms % 1000)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedAnchor:
    """An anchor record as proven against genesis, with where the proof was checked."""

    content_hash: str
    department: str
    department_name: str | None
    signer: str
    signer_name: str
    signer_in_genesis: bool
    height: int
    time: str
    tx_id: str
    kind: str
    metadata: dict[str, str]
    proven_at_height: int
    proven_block_hash: str


def proven_field(record: dict[str, Any], name: str, kind: type, what: str) -> Any:
    """A field of a proven record, of exactly `kind` (a bool is not an int). Raises InvalidProof naming it."""
    value = record.get(name)
    if type(value) is not kind:
        message = f"record check failed: the proven value is not {what} ({name} is not {kind.__name__})"
        raise InvalidProof(message, field=name)
    return value


def _record_field(record: dict[str, Any], name: str, kind: type) -> Any:
    return proven_field(record, name, kind, "an anchor record")


def verify_state_values(genesis: Genesis, data: bytes, trust: light.TrustRoot | None = None
                        ) -> list[light.VerifiedState]:
    """Verify a state bundle against `genesis` (or a saved trust root) alone: format, links, state paths.

    Returns every proven value in the bundle's order; a value may be None (a proof of absence). Raises
    InvalidProof naming the check that failed."""
    # FORMAT
    try:
        bundle = light.decode_bundle(data)
    except InvalidProof as exc:
        raise InvalidProof(f"proof format check failed: {exc.message}", field=exc.field) from exc
    if not isinstance(bundle, light.StateValueBundle):
        raise InvalidProof("proof format check failed: a transaction proof, not a state proof")
    # LINKS (headers and commits), then the STATE PATHS, against genesis only
    try:
        links, after = light.verify_links(genesis, bundle.from_height, bundle.links, trust)
    except InvalidProof as exc:
        raise InvalidProof(f"block and commit check failed: {exc.message}", field=exc.field) from exc
    final = links[-1]
    header = final.link.header
    proven = []
    for proof in bundle.proofs:
        try:
            verify_state_proof(header.state_root, proof)
        except InvalidProof as exc:
            raise InvalidProof(f"state proof check failed: {exc.message}", field=exc.field) from exc
        proven.append(light.VerifiedState(height=header.height, time_ms=header.time_ms, block_hash=final.block_hash,
                                          key=proof.key, value=proof.value, trust=after))
    return proven


def verify_state_value(genesis: Genesis, data: bytes, trust: light.TrustRoot | None = None) -> light.VerifiedState:
    """Verify a state bundle of one value against `genesis` alone. Raises InvalidProof."""
    proven = verify_state_values(genesis, data, trust)
    if len(proven) != 1:
        raise InvalidProof(f"proof format check failed: expected a proof of one value, this one proves {len(proven)}")
    return proven[0]


def decode_proven_record(value: bytes, what: str, max_size: int) -> dict[str, Any]:
    """A record decoded from a proven value only, never from the node's JSON. Raises InvalidProof."""
    try:
        record = codec.decode(value, max_size=max_size)
    except ChainError as exc:
        raise InvalidProof(f"record check failed: the proven value is not canonical: {exc.message}") from exc
    if type(record) is not dict:
        raise InvalidProof(f"record check failed: the proven value is not {what}")
    return record


def verify_anchor_bundle(genesis: Genesis, content_hash: bytes, data: bytes) -> VerifiedAnchor:
    """Verify one state bundle as an anchor of `content_hash` against `genesis` alone.

    Raises InvalidProof naming the check that failed: bundle format, chain, validator set, commit, state
    path, a proof of absence, a key or record for another hash or department, a malformed record.
    """
    verified = verify_state_value(genesis, data)
    if verified.value is None:
        raise InvalidProof("record check failed: the proof shows that no anchor record exists under its key")
    record = decode_proven_record(verified.value, "an anchor record", MAX_RECORD_BYTES)
    proven_hash = _record_field(record, "content_hash", bytes)
    if proven_hash != content_hash:
        message = f"record check failed: the record is for sha256 {proven_hash.hex()}, not this file's"
        raise InvalidProof(message, field="content_hash")
    department = _record_field(record, "department", str)
    if verified.key != anchor.anchor_key(content_hash, department):
        message = "record check failed: the proof is for another key than this hash's anchor by its department"
        raise InvalidProof(message, field="key")
    signer = _record_field(record, "signer", bytes)
    metadata = _record_field(record, "metadata", dict)
    dept = genesis.department(department)
    return VerifiedAnchor(
        content_hash=content_hash.hex(),
        department=department,
        department_name=None if dept is None else dept.name,
        signer=signer.hex(),
        signer_name=_record_field(record, "signer_name", str),
        signer_in_genesis=dept is not None and any(m.public_key == signer for m in dept.members),
        height=_record_field(record, "height", int),
        time=format_time_ms(_record_field(record, "time_ms", int)),
        tx_id=_record_field(record, "tx_id", bytes).hex(),
        kind=_record_field(record, "kind", str),
        metadata={str(k): str(v) for k, v in metadata.items()},
        proven_at_height=verified.height,
        proven_block_hash=verified.block_hash.hex(),
    )


def encode_proof_file(subject: dict[str, str], bundles: Sequence[bytes]) -> bytes:
    """A JSON proof file: kind, version, what it is about, and each bundle in base64."""
    document = {
        "kind": PROOF_FILE_KIND,
        "version": PROOF_FILE_VERSION,
        **subject,
        "bundles": [base64.b64encode(b).decode() for b in bundles],
    }
    return (json.dumps(document, indent=2) + "\n").encode()


def decode_proof_data(data: bytes, name: str) -> list[bytes]:
    """The bundles in a proof file's bytes: our JSON container, or one raw bundle (msgpack bytes).

    Raises InvalidProof if it is neither.
    """
    if not data.lstrip().startswith(b"{"):
        return [data]
    try:
        document = json.loads(data)
        if document.get("kind") != PROOF_FILE_KIND or document.get("version") != PROOF_FILE_VERSION:
            raise InvalidProof(f"{name} is not a {PROOF_FILE_KIND} file of version {PROOF_FILE_VERSION}")
        bundles = [base64.b64decode(b, validate=True) for b in document["bundles"]]
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise InvalidProof(f"proof file {name} is malformed: {exc}") from exc
    if not bundles:
        raise InvalidProof(f"proof file {name} holds no proof")
    return bundles
