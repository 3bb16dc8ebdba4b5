"""The genesis document: the departments, their keys and voting power, and the network's parameters.

Genesis is a JSON file shared by all nodes. Its hash (over the canonical encoding of the parsed JSON)
pins the network: it is the `prev_hash` of block 1 and is checked in every node-to-node handshake, and a
verifier trusts nothing else.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from chainnode import codec, crypto
from chainnode.errors import GenesisError, InvalidField
from chainnode.limits import MAX_BLOCK_BYTES_CEILING, MAX_BLOCK_TXS_CEILING, MAX_TX_BYTES_CEILING
from chainnode.validators import Validator, ValidatorSet

DEPARTMENT_CODE: Final = re.compile(r"^[A-Z][A-Z0-9_]{1,31}\Z")
MAX_DOCUMENT_BYTES_CEILING: Final = 1 << 30
"""The most `max_document_bytes` may be set to, at genesis or by proposal (1 GiB)."""
KNOWN_ROLES: Final = frozenset({"admin", "clerk", "reviewer", "approver", "issuer", "document_officer", "auditor"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Params:
    """Consensus-relevant limits, the same on every node."""

    max_tx_bytes: int = 64 * 1024
    max_block_txs: int = 5_000
    max_block_bytes: int = 8 * 1024 * 1024
    max_tx_ttl: int = 100_000
    """How far ahead of the current height a transaction's expiry may lie."""
    test_hooks: int = 0
    """1 enables test-only contract methods (validator updates without governance). Never in production."""
    utc_offset_minutes: int = 480
    """The network's civil time zone, for working days and deadlines (480: UTC+8)."""
    max_document_bytes: int = 64 * 1024 * 1024
    """The largest ciphertext an official document may have (docs/documents.md); proposal
    `set_document_limits` changes it."""


PARAM_RANGES: Final = {
    "test_hooks": (0, 1),
    "utc_offset_minutes": (-720, 840),
    # the protocol ceilings (chainnode/limits.py): every transport limit is derived from them
    "max_tx_bytes": (1024, MAX_TX_BYTES_CEILING),
    "max_block_txs": (1, MAX_BLOCK_TXS_CEILING),
    "max_block_bytes": (4096, MAX_BLOCK_BYTES_CEILING),
    "max_document_bytes": (1024, MAX_DOCUMENT_BYTES_CEILING),
}
PROPOSAL_KINDS: Final = (
    "add_department",
    "remove_department",
    "set_power",
    "set_consensus_limits",
    "publish_calendar",
    "register_cert_type",
    "register_material_type",
    "set_document_limits",
)
DEFAULT_THRESHOLD: Final = (2, 3)


@dataclass(frozen=True, slots=True, kw_only=True)
class GovernanceConfig:
    """Per-kind pass thresholds (a proposal passes with yes-votes > num/den of departments) and the
    registries the network starts with (certificate types, material types, calendars), as proposal payloads."""

    thresholds: dict[str, tuple[int, int]]
    cert_types: tuple[dict[str, Any], ...] = ()
    material_types: tuple[dict[str, Any], ...] = ()
    calendars: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    public_key: bytes
    name: str
    roles: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Department:
    code: str
    name: str
    node_key: bytes
    power: int
    address: str
    members: tuple[Member, ...]
    encryption_key: bytes | None = None
    """The department's X25519 public key for official documents, in force from height 0 (optional)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Genesis:
    chain_id: str
    genesis_time_ms: int
    params: Params
    departments: tuple[Department, ...]
    document: dict[str, Any]
    hash: bytes
    governance: GovernanceConfig = GovernanceConfig(thresholds={})
    skip_role_check: tuple[bytes, ...] = ()
    """Test hook (`test_hook_skip_role_check`, only with `params.test_hooks = 1`): keys whose missing role a
    contract does not refuse, so a test can commit an unauthorised action and find it in the authority
    report. Never in production."""
    skip_department_check: tuple[bytes, ...] = ()
    """Test hook (`test_hook_skip_department_check`, only with `params.test_hooks = 1`): keys whose department
    a contract does not check against what they act on (a certificate type their department is not an
    issuer of, another department's case or certificate), for the authority report's tests. Never in
    production."""

    def validator_set(self) -> ValidatorSet:
        return ValidatorSet.of(
            Validator(department=d.code, public_key=d.node_key, power=d.power) for d in self.departments if d.power > 0
        )

    def department(self, code: str) -> Department | None:
        return next((d for d in self.departments if d.code == code), None)


def compute_genesis_hash(document: dict[str, Any]) -> bytes:
    return crypto.compute_hash(crypto.DOMAIN_GENESIS, codec.encode(document))


def _hex_key(value: object, where: str) -> bytes:
    try:
        key = bytes.fromhex(str(value))
    except ValueError as exc:
        raise GenesisError(f"{where} is not hex", field=where) from exc
    if len(key) != crypto.PUBLIC_KEY_SIZE:
        raise GenesisError(f"{where} must be a 32-byte Ed25519 public key in hex", field=where)
    return key


def _encryption_key(value: object, where: str) -> bytes | None:
    """An optional X25519 public key: 64 hex digits, or absent / null."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) != 64:
        raise GenesisError(f"{where} must be a 32-byte X25519 public key as 64 hex digits", field=where)
    try:
        key = bytes.fromhex(value)
    except ValueError as exc:
        raise GenesisError(f"{where} must be a 32-byte X25519 public key as 64 hex digits", field=where) from exc
    if len(key) != 32:
        raise GenesisError(f"{where} must be a 32-byte X25519 public key as 64 hex digits", field=where)
    if not crypto.is_usable_encryption_key(key):
        raise GenesisError(f"{where} is a low-order X25519 point (such as all zeros): nothing can be sealed to it",
                           field=where)
    return key


def _want(doc: dict[str, Any], name: str, kind: type, where: str) -> Any:
    if name not in doc:
        raise GenesisError(f"{where}.{name} is missing", field=f"{where}.{name}")
    value = doc[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise GenesisError(f"{where}.{name} must be {kind.__name__}", field=f"{where}.{name}")
    return value


def parse_genesis(document: Any) -> Genesis:
    """Check a parsed genesis JSON document. Raises GenesisError naming the field at fault."""
    if not isinstance(document, dict):
        raise GenesisError("genesis must be a JSON object")
    chain_id = _want(document, "chain_id", str, "genesis")
    if not 1 <= len(chain_id) <= 64:
        raise GenesisError("genesis.chain_id must be 1 to 64 characters", field="genesis.chain_id")
    time_ms = _want(document, "genesis_time_ms", int, "genesis")
    raw_params = document.get("params", {})
    if not isinstance(raw_params, dict):
        raise GenesisError("genesis.params must be an object", field="genesis.params")
    defaults = Params()
    values = {}
    for name in Params.__dataclass_fields__:
        value = raw_params.get(name, getattr(defaults, name))
        low, high = PARAM_RANGES.get(name, (1, 2**53))
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise GenesisError(
                f"genesis.params.{name} must be an integer in [{low}, {high}]", field=f"genesis.params.{name}"
            )
        values[name] = value
    unknown = set(raw_params) - set(Params.__dataclass_fields__)
    if unknown:
        raise GenesisError(f"genesis.params has unknown fields: {', '.join(sorted(unknown))}", field="genesis.params")
    departments = []
    seen_codes: set[str] = set()
    seen_keys: set[bytes] = set()
    for i, raw in enumerate(_want(document, "departments", list, "genesis")):
        where = f"genesis.departments[{i}]"
        if not isinstance(raw, dict):
            raise GenesisError(f"{where} must be an object", field=where)
        code = _want(raw, "code", str, where)
        if not DEPARTMENT_CODE.match(code):
            raise GenesisError(f"{where}.code {code!r} must be 2-32 uppercase letters, digits or '_'", field=where)
        if code in seen_codes:
            raise GenesisError(f"department code {code} appears twice", field=where)
        seen_codes.add(code)
        node_key = _hex_key(_want(raw, "node_key", str, where), f"{where}.node_key")
        power = _want(raw, "power", int, where)
        if power < 0:
            raise GenesisError(f"{where}.power must be >= 0", field=f"{where}.power")
        members = []
        for j, m in enumerate(raw.get("members", [])):
            mwhere = f"{where}.members[{j}]"
            if not isinstance(m, dict):
                raise GenesisError(f"{mwhere} must be an object", field=mwhere)
            public_key = _hex_key(_want(m, "public_key", str, mwhere), f"{mwhere}.public_key")
            if public_key in seen_keys:
                raise GenesisError(f"{mwhere}.public_key is registered twice", field=mwhere)
            seen_keys.add(public_key)
            roles = _want(m, "roles", list, mwhere)
            bad = [r for r in roles if r not in KNOWN_ROLES]
            if bad or not roles:
                raise GenesisError(
                    f"{mwhere}.roles must be a non-empty list of {sorted(KNOWN_ROLES)}; unknown: {bad}", field=mwhere
                )
            members.append(Member(public_key=public_key, name=str(m.get("name", "")), roles=tuple(sorted(set(roles)))))
        departments.append(
            Department(
                code=code,
                name=_want(raw, "name", str, where),
                node_key=node_key,
                power=power,
                address=str(raw.get("address", "")),
                members=tuple(members),
                encryption_key=_encryption_key(raw.get("encryption_key"), f"{where}.encryption_key"),
            )
        )
    if not any(d.power > 0 for d in departments):
        raise GenesisError("genesis needs at least one department with voting power > 0", field="genesis.departments")
    try:
        digest = compute_genesis_hash(document)
    except InvalidField as exc:
        raise GenesisError(f"genesis cannot be encoded canonically: {exc.message}") from exc
    genesis = Genesis(
        skip_role_check=parse_hook_keys(document, "test_hook_skip_role_check", values["test_hooks"]),
        skip_department_check=parse_hook_keys(document, "test_hook_skip_department_check", values["test_hooks"]),
        chain_id=chain_id,
        genesis_time_ms=time_ms,
        params=Params(**values),
        departments=tuple(departments),
        document=document,
        hash=digest,
        governance=parse_governance(document.get("governance", {})),
    )
    try:
        genesis.validator_set()
    except InvalidField as exc:
        raise GenesisError(f"genesis validator set is invalid: {exc.message}") from exc
    return genesis


def parse_hook_keys(document: dict[str, Any], name: str, test_hooks: int) -> tuple[bytes, ...]:
    """An optional test hook naming member keys (hex): `test_hook_skip_role_check` or
    `test_hook_skip_department_check`. Refused unless `params.test_hooks` is 1, so a production genesis cannot
    carry one by accident (and a node with test hooks starts only when CHAINNODE_TEST_FAULTS names them).

    Raises GenesisError naming the field."""
    where = f"genesis.{name}"
    raw = document.get(name)
    if raw is None:
        return ()
    if not test_hooks:
        raise GenesisError(f"{where} is a test hook: it needs genesis.params.test_hooks = 1", field=where)
    if not isinstance(raw, list):
        raise GenesisError(f"{where} must be a list of public keys in hex", field=where)
    return tuple(_hex_key(value, f"{where}[{i}]") for i, value in enumerate(raw))


def parse_governance(raw: Any) -> GovernanceConfig:
    """The optional `governance` section: thresholds per proposal kind and the starting registries."""
    where = "genesis.governance"
    if not isinstance(raw, dict):
        raise GenesisError(f"{where} must be an object", field=where)
    unknown = set(raw) - {"thresholds", "cert_types", "material_types", "calendars"}
    if unknown:
        raise GenesisError(f"{where} has unknown fields: {', '.join(sorted(unknown))}", field=where)
    thresholds = {kind: DEFAULT_THRESHOLD for kind in PROPOSAL_KINDS}
    raw_thresholds = raw.get("thresholds", {})
    if not isinstance(raw_thresholds, dict):
        raise GenesisError(f"{where}.thresholds must be an object", field=f"{where}.thresholds")
    for kind, pair in raw_thresholds.items():
        field = f"{where}.thresholds.{kind}"
        if kind not in PROPOSAL_KINDS:
            raise GenesisError(f"{field}: unknown proposal kind; known: {', '.join(PROPOSAL_KINDS)}", field=field)
        valid = (
            isinstance(pair, list) and len(pair) == 2 and all(type(x) is int for x in pair) and 1 <= pair[0] < pair[1]
        )
        if not valid:
            raise GenesisError(f"{field} must be [num, den] with 1 <= num < den (pass with > num/den)", field=field)
        thresholds[kind] = (pair[0], pair[1])
    lists = {}
    for name in ("cert_types", "material_types", "calendars"):
        entries = raw.get(name, [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise GenesisError(f"{where}.{name} must be a list of objects", field=f"{where}.{name}")
        lists[name] = tuple(entries)
    return GovernanceConfig(thresholds=thresholds, **lists)


def load_genesis(path: Path) -> Genesis:
    """Read and check a genesis file. Raises GenesisError (missing, unreadable, not JSON, invalid)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise GenesisError(f"genesis file {path} does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise GenesisError(f"genesis file {path} cannot be read: {exc}") from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GenesisError(f"genesis file {path} is not JSON: {exc.msg} at line {exc.lineno}") from exc
    try:
        return parse_genesis(document)
    except GenesisError as exc:
        raise GenesisError(f"genesis file {path}: {exc.message}", field=exc.field) from exc


def write_genesis(path: Path, document: dict[str, Any]) -> Genesis:
    genesis = parse_genesis(document)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return genesis
