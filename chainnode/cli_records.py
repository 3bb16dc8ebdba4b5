"""The contract command groups of the CLI: item, material and holder here; member and proposal in
`chainnode.cli_governance`; case and cert in `chainnode.cli_cases`. Shared here too: signing and submitting
a call, hex/date/file arguments, and the holder reference rule (`compute_holder_ref`).

Every write command takes `--key KEYFILE`, checks its arguments with the contract's own parser before
sending (a bad argument exits 2 without touching the network), waits for the commit (unless `--no-wait`)
and prints one or two lines naming the new record. A refusal by the contract prints one
`error: <code>: <message>` line and exits 1.
"""

from __future__ import annotations

import argparse
import json
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from chainnode import crypto, keyfile
from chainnode.cli import InputFileError, UsageError, add_read_key, emit, open_client, read_input_file, require_args_key
from chainnode.client_records import ContractRefused
from chainnode.codec import Value
from chainnode.errors import ChainError
from chainnode.genesis import KNOWN_ROLES
from contracts import calendar, materials
from contracts.base import ContractError
from contracts.registry import REGISTRY

if TYPE_CHECKING:
    from chainnode.client import Client

DOMAIN_HOLDER_REF: Final = b"chainnode/v1/holder-ref"
MIN_SALT: Final = 16
MAX_SALT: Final = 1024
MAX_JSON_FILE: Final = 1 << 20
STAFF_ROLES: Final = tuple(sorted(KNOWN_ROLES))


class InvalidArgumentsLocal(UsageError):
    """The contract's own argument check refused the call before it was sent (exit 2)."""

    code = "invalid_arguments"


class InputFileInvalid(InputFileError):
    """An input file was read but its content is not what the command needs (e.g. not JSON)."""

    code = "file_invalid"


class Refused(ChainError):
    """The contract refused a committed call; `code` is the contract's code (exit 1)."""

    def __init__(self, message: str, *, code: str, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.code = code  # type: ignore[misc]


# --- argument types ----------------------------------------------------------------------------------


def hex32(text: str) -> bytes:
    """argparse type: 64 hex digits (a public key, holder reference or content hash)."""
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) != 32:
        raise argparse.ArgumentTypeError(f"{text!r} is not 64 hex digits (32 bytes)")
    return value


def record_id(text: str) -> str:
    """argparse type: a record ID (material, case, certificate) of 32 hex digits."""
    lowered = text.lower()
    if len(lowered) != 32 or any(c not in "0123456789abcdef" for c in lowered):
        raise argparse.ArgumentTypeError(f"{text!r} is not a record ID (32 hex digits)")
    return lowered


def date_arg(text: str) -> int:
    """argparse type: a YYYY-MM-DD date, as a proleptic Gregorian ordinal."""
    try:
        return calendar.parse_date(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a YYYY-MM-DD date") from None


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return int(text)


def roles_arg(text: str) -> list[str]:
    """argparse type: a comma-separated list of staff roles."""
    roles = [r.strip() for r in text.split(",") if r.strip()]
    unknown = [r for r in roles if r not in STAFF_ROLES]
    if not roles or unknown:
        raise argparse.ArgumentTypeError(f"roles must be a comma-separated list of {', '.join(STAFF_ROLES)}")
    return sorted(set(roles))


# --- dates and times in the network's time zone --------------------------------------------------------


def start_of_day_ms(ordinal: int, utc_offset_minutes: int) -> int:
    """The block time at which a civil date begins (local midnight)."""
    return calendar.end_of_day_ms(ordinal - 1, utc_offset_minutes)


def end_of_day_ms(ordinal: int, utc_offset_minutes: int) -> int:
    """The block time at which a civil date ends (the local midnight after it): "valid until" that date."""
    return calendar.end_of_day_ms(ordinal, utc_offset_minutes)


def format_date_ms(time_ms: int, utc_offset_minutes: int, *, last_day: bool = False) -> str:
    """The civil date of a block time; with `last_day`, the date an exclusive end time closes."""
    return calendar.format_date(calendar.date_of(time_ms - (1 if last_day else 0), utc_offset_minutes))


def format_local_ms(time_ms: int, utc_offset_minutes: int) -> str:
    """A block time as local date and time in the network's zone, e.g. 2026-03-02 09:00 UTC+08:00."""
    moment = datetime.fromtimestamp(time_ms / 1000, tz=UTC) + timedelta(minutes=utc_offset_minutes)
    sign = "+" if utc_offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(utc_offset_minutes), 60)
    return f"{moment:%Y-%m-%d %H:%M} UTC{sign}{hours:02d}:{minutes:02d}"


def utc_offset(client: Client) -> int:
    return int(client.registries().get("utc_offset_minutes") or 0)


# --- holder references -------------------------------------------------------------------------------


def compute_holder_ref(salt: bytes, holder_id: str) -> bytes:
    """SHA-256(b"chainnode/v1/holder-ref" || 0x00 || len(salt) as 4 bytes big-endian || salt ||
    UTF-8 of the ID after stripping surrounding whitespace and Unicode NFC normalisation).

    Raises UsageError for an empty ID or a salt outside 16..1024 bytes.
    """
    normalised = unicodedata.normalize("NFC", holder_id.strip())
    if not normalised:
        raise UsageError("the holder ID is empty")
    if not MIN_SALT <= len(salt) <= MAX_SALT:
        raise UsageError(f"the salt must be {MIN_SALT} to {MAX_SALT} bytes, got {len(salt)}")
    return crypto.compute_hash(DOMAIN_HOLDER_REF, len(salt).to_bytes(4, "big") + salt + normalised.encode())


# --- files and keys ----------------------------------------------------------------------------------


def read_json_file(path: Path, what: str) -> Any:
    """Raises InputFileError (cannot read) or InputFileInvalid (not JSON)."""
    data = read_input_file(path, what)
    if len(data) > MAX_JSON_FILE:
        raise InputFileInvalid(f"{what} {path} is larger than {MAX_JSON_FILE} bytes")
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputFileInvalid(f"{what} {path} is not valid JSON: {exc}") from exc


def load_key(path: Path) -> crypto.PrivateKey:
    """Raises KeyFileError (exit 2) naming the file and the problem."""
    return crypto.load_key_file(path, passphrase=keyfile.get_passphrase_source().get).key


def content_hash(args: argparse.Namespace, file_attr: str = "content", hash_attr: str = "content_hash") -> bytes | None:
    """The SHA-256 of `--content FILE`, or `--content-hash HEX`, or None if neither was given."""
    path: Path | None = getattr(args, file_attr, None)
    if path is not None:
        return crypto.compute_content_hash(read_input_file(path, "content file"))
    given: bytes | None = getattr(args, hash_attr, None)
    return given


def public_key(args: argparse.Namespace, hex_attr: str, file_attr: str) -> bytes:
    """A public key from `--X HEX`, or the public key of a key file (argparse makes the two exclusive)."""
    given: bytes | None = getattr(args, hex_attr, None)
    if given is not None:
        return given
    return load_key(getattr(args, file_attr)).public_key


def add_key_choice(p: argparse.ArgumentParser, hex_flag: str, file_flag: str, what: str) -> None:
    """`--HEX_FLAG HEX | --FILE_FLAG FILE`, one of them required."""
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument(f"--{hex_flag}", type=hex32, metavar="HEX", help=f"{what} (64 hex digits)")
    group.add_argument(f"--{file_flag}", type=Path, metavar="FILE", help=f"{what}: the public key of this key file")


def add_content_choice(p: argparse.ArgumentParser, prefix: str = "content", *, required: bool = True) -> None:
    group = p.add_mutually_exclusive_group(required=required)
    group.add_argument(f"--{prefix}", type=Path, metavar="FILE", help="the document; its SHA-256 goes on chain")
    group.add_argument(f"--{prefix}-hash", type=hex32, metavar="HEX", help="the document's SHA-256 (64 hex digits)")


# --- submitting a call -------------------------------------------------------------------------------


@dataclass
class Committed:
    """A committed, successful call (or a submitted one with `--no-wait`: height None)."""

    tx_id: str
    height: int | None
    events: list[dict[str, Any]] = field(default_factory=list)

    def attribute(self, name: str) -> Any:
        """The first event attribute called `name`, or None."""
        for event in self.events:
            attributes = event.get("attributes") or {}
            if name in attributes:
                return attributes[name]
        return None

    def kinds(self) -> list[str]:
        return [str(e.get("kind")) for e in self.events]

    def document(self, **fields: Any) -> dict[str, Any]:
        status = "pending" if self.height is None else "committed"
        return {"tx_id": self.tx_id, "status": status, "height": self.height, "events": self.events, **fields}

    def record_id(self, name: str, compute: Callable[[bytes], str]) -> str:
        """The new record's ID from the events, or (not yet committed) derived from the transaction ID."""
        found = self.attribute(name)
        return str(found) if found is not None else compute(bytes.fromhex(self.tx_id))

    def where(self) -> str:
        return f"tx {self.tx_id}" + ("" if self.height is None else f", height {self.height}")


def add_write_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--key", type=Path, required=True, metavar="KEYFILE", help="the signing officer's key file")
    p.add_argument("--no-wait", action="store_true", help="submit and print the transaction ID without waiting")
    p.add_argument("--wait-timeout", type=float, default=60.0, metavar="S", help="wait up to S s for the commit")


def validate_call(contract: str, method: str, call_args: dict[str, Value]) -> None:
    """Run the contract's own (stateless) argument check. Raises InvalidArgumentsLocal naming the field."""
    registered = REGISTRY.get(contract, {}).get(method)
    if registered is None:
        return
    try:
        registered.parse(call_args)
    except ContractError as exc:
        raise InvalidArgumentsLocal(exc.message, field=exc.field) from exc


def refused(exc: ContractRefused) -> Refused:
    """The CLI's one-line error for a contract's refusal: its message, then the transaction and height."""
    message = exc.message.removeprefix(f"{exc.code}: ")
    where = f" (tx {exc.tx_id}" + ("" if exc.height is None else f", height {exc.height}") + ")"
    return Refused(message + where, code=exc.code)


def submit(args: argparse.Namespace, client: Client, contract: str, method: str, call_args: dict[str, Value]
           ) -> Committed:
    """Check, sign, submit and (unless --no-wait) wait for a call. Raises Refused, RemoteError, WaitTimeout."""
    call = {k: v for k, v in call_args.items() if v is not None}
    validate_call(contract, method, call)
    key = require_args_key(args)
    if args.no_wait:
        tx = client.build_tx(key, contract, method, call)
        return Committed(client.submit(tx.raw), None)
    try:
        status = client.call(key, contract, method, call, wait_s=args.wait_timeout)
    except ContractRefused as exc:
        raise refused(exc) from exc
    result = status.get("result") or {}
    return Committed(str(status.get("tx_id")), status.get("height"), list(result.get("events") or []))


def emit_write(args: argparse.Namespace, done: Committed, lines: Sequence[str], *, new_id: str | None = None,
               **fields: Any) -> int:
    """Print a write command's outcome (or, with --no-wait, that it was submitted and the ID it will create)."""
    if done.height is None:
        created = "" if new_id is None else f"; if it succeeds, the new record is {new_id}"
        emit(args, done.document(**fields), [
            f"submitted tx {done.tx_id} (not waiting){created}",
            f"  see `chainnode tx status {done.tx_id} --wait 30`",
        ])
    else:
        emit(args, done.document(**fields), lines)
    return 0


Runner = Callable[[argparse.Namespace], int]


def add_action(group: Any, name: str, parents: Sequence[argparse.ArgumentParser], run: Runner, help_text: str,
               *, write: bool = False) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = group.add_parser(name, parents=parents, help=help_text, description=help_text)
    if write:
        add_write_options(p)
    p.set_defaults(run=run)
    return p


def add_height(p: argparse.ArgumentParser) -> None:
    p.add_argument("--height", type=positive_int, metavar="H", help="answer as of block H (default: the head)")


# --- item --------------------------------------------------------------------------------------------


def _item_call(args: argparse.Namespace) -> dict[str, Value]:
    definition = read_json_file(args.file, "item file")
    if not isinstance(definition, dict):
        raise InputFileInvalid(f"item file {args.file} must hold a JSON object (the item's definition)")
    if getattr(args, "reason", None):
        definition["reason"] = args.reason
    return definition


def cmd_item_write(args: argparse.Namespace) -> int:
    if args.action == "retire":
        call: dict[str, Value] = {"code": args.code, "reason": args.reason}
    else:
        call = _item_call(args)
    method = {"publish": "publish", "amend": "amend", "retire": "retire"}[args.action]
    with open_client(args) as client:
        done = submit(args, client, "items", method, call)
    code, version = done.attribute("code"), done.attribute("version")
    what = {"publish": "published", "amend": "amended", "retire": "retired"}[args.action]
    where = f"implemented by {done.attribute('department')}" if args.action != "retire" else f"({args.reason})"
    return emit_write(args, done, [f"item {code} version {version} {what} {where}",
                                   f"  {done.where()}; show it: chainnode item show {code}"],
                      code=code, version=version)


def _item_lines(item: dict[str, Any]) -> list[str]:
    lines = [
        f"item {item.get('code')} version {item.get('version')}: {item.get('name')}  [{item.get('status')}]",
        f"  owner:        {item.get('owner')}, implemented by {item.get('department')}",
        f"  kind:         {item.get('kind')}; legal basis: {item.get('legal_basis')}",
        f"  time limits:  {item.get('promised_limit_days')} working days promised, "
        f"{item.get('legal_limit_days')} legal",
        f"  produces:     {item.get('cert_type') or 'no certificate'}",
    ]
    if item.get("parallel_departments"):
        lines.append(f"  parallel:     opinions of {', '.join(item['parallel_departments'])}")
    for condition in item.get("conditions") or []:
        lines.append(f"  condition:    {condition}")
    for m in item.get("materials") or []:
        issuers = ", ".join(m.get("issuers") or []) or "any department"
        optional = ", optional" if m.get("optional") else ""
        lines.append(f"  material:     {m.get('material_type')} ({m.get('form')}{optional}) issued by {issuers}")
    lines.append(f"  published at: height {item.get('published_height')}")
    return lines


def cmd_item_show(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        answer = client.item(args.code, version=args.version, height=args.height)
    emit(args, answer, _item_lines(answer.get("item") or {}))
    return 0


def cmd_item_list(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        answer = client.items(args.department, height=args.height)
    found = answer.get("items") or []
    lines = [f"{len(found)} item(s) at height {answer.get('height')}"]
    lines += [f"  {i.get('code')}  v{i.get('version')}  {i.get('status'):<7}  {i.get('department'):<6}  {i.get('name')}"
              for i in found]
    emit(args, answer, lines)
    return 0


def add_item(sub: Any, both: Sequence[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("item", help="the approval-item catalogue")
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = add_action(actions, "publish", both, cmd_item_write, "publish an item from a JSON definition (admin)",
                   write=True)
    p.add_argument("file", type=Path, metavar="FILE.json")
    p = add_action(actions, "amend", both, cmd_item_write, "publish a new version of an item (admin)", write=True)
    p.add_argument("file", type=Path, metavar="FILE.json")
    p.add_argument("--reason", default=None, help="why it changed (also accepted as \"reason\" in the file)")
    p = add_action(actions, "retire", both, cmd_item_write, "retire an item: no new cases (admin)", write=True)
    p.add_argument("code", metavar="CODE")
    p.add_argument("--reason", required=True)
    p = add_action(actions, "show", both, cmd_item_show, "an item, its current or a given version")
    p.add_argument("code", metavar="CODE")
    p.add_argument("--version", type=positive_int, metavar="N")
    add_height(p)
    p = add_action(actions, "list", both, cmd_item_list, "the catalogue")
    p.add_argument("--department", metavar="CODE", help="only items this department owns or implements")
    add_height(p)


# --- material ----------------------------------------------------------------------------------------


def cmd_material_attest(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        offset = utc_offset(client) if args.valid_from or args.valid_until else 0
        call: dict[str, Value] = {
            "material_type": args.type, "holder_ref": args.holder, "content_hash": content_hash(args),
            "form": args.form,
            "valid_from_ms": None if args.valid_from is None else start_of_day_ms(args.valid_from, offset),
            "valid_until_ms": None if args.valid_until is None else end_of_day_ms(args.valid_until, offset),
        }
        done = submit(args, client, "materials", "attest", call)
    material_id = done.record_id("material_id", materials.compute_material_id)
    return emit_write(args, done, [
        f"material {material_id} attested by {done.attribute('issuer')}: {args.type} ({args.form}) for holder "
        f"{args.holder.hex()}",
        f"  {done.where()}; cite it in a case with --material {material_id}",
    ], new_id=material_id, material_id=material_id)


def cmd_material_revoke(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        done = submit(args, client, "materials", "revoke", {"material_id": args.id, "reason": args.reason})
    return emit_write(args, done, [f"material {args.id} revoked by {done.attribute('issuer')}: {args.reason}",
                                   f"  {done.where()}"], material_id=args.id)


def material_status(m: dict[str, Any], time_ms: int) -> str:
    if m.get("revoked"):
        return "revoked"
    if time_ms < int(m.get("valid_from_ms") or 0):
        return "not_yet_valid"
    until = m.get("valid_until_ms")
    return "expired" if until is not None and time_ms >= until else "valid"


def cmd_material_show(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        answer = client.material(args.id, height=args.height)
        offset = utc_offset(client)
    m = answer.get("material") or {}
    until = m.get("valid_until_ms")
    status = material_status(m, int(answer.get("time_ms") or 0))
    lines = [
        f"material {m.get('material_id')}: {m.get('material_type')} ({m.get('form')})  "
        f"[{status} as of height {answer.get('height')}]",
        f"  holder:       {m.get('holder_ref')}",
        f"  content hash: {m.get('content_hash')}",
        f"  attested by:  {m.get('issuer')}, officer {m.get('issuer_officer')}",
        f"  attested at:  height {m.get('attested_height')}, {format_local_ms(int(m.get('attested_ms') or 0), offset)}",
        f"  valid:        from {format_date_ms(int(m.get('valid_from_ms') or 0), offset)}"
        + (" with no end" if until is None else f" to {format_date_ms(until, offset, last_day=True)} inclusive"),
    ]
    if m.get("revoked"):
        lines.append(f"  revoked:      at height {m.get('revoked_height')}: {m.get('revoked_reason')}")
    emit(args, {**answer, "status": status}, lines)
    return 0


def add_material(sub: Any, both: Sequence[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("material", help="attest, revoke and show supporting materials")
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = add_action(actions, "attest", both, cmd_material_attest, "attest a material for a holder (clerk or issuer)",
                   write=True)
    p.add_argument("--type", required=True, metavar="T", help="a registered material type")
    p.add_argument("--holder", type=hex32, required=True, metavar="HEX", help="the holder reference")
    add_content_choice(p)
    p.add_argument("--form", choices=("original", "copy"), default="original")
    p.add_argument("--valid-from", type=date_arg, metavar="YYYY-MM-DD", help="first valid day (default: now)")
    p.add_argument("--valid-until", type=date_arg, metavar="YYYY-MM-DD", help="last valid day, inclusive")
    p = add_action(actions, "revoke", both, cmd_material_revoke, "revoke a material your department attested",
                   write=True)
    p.add_argument("id", type=record_id, metavar="ID")
    p.add_argument("--reason", required=True)
    p = add_action(actions, "show", both, cmd_material_show, "a material record and its status")
    add_read_key(p)
    p.add_argument("id", type=record_id, metavar="ID")
    add_height(p)


# --- holder ------------------------------------------------------------------------------------------


def cmd_holder_ref(args: argparse.Namespace) -> int:
    salt = read_input_file(args.salt_file, "salt file")
    ref = compute_holder_ref(salt, args.id).hex()
    emit(args, {"holder_ref": ref}, [ref])
    return 0


def cmd_holder_show(args: argparse.Namespace) -> int:
    from chainnode.cli_cases import certificate_line

    with open_client(args) as client:
        answer = client.holder(args.holder_ref, height=args.height)
    materials = answer.get("materials") or []
    cases = answer.get("cases") or []
    certs = answer.get("certificates") or []
    lines = [f"holder {args.holder_ref.hex()} at height {answer.get('height')}",
             f"  materials ({len(materials)}):"]
    lines += [f"    {m.get('material_id')}  {m.get('material_type')}  by {m.get('issuer')}  "
              f"{material_status(m, int(answer.get('time_ms') or 0))}" for m in materials]
    lines.append(f"  cases ({len(cases)}):")
    lines += [f"    {c.get('case_id')}  {c.get('item_code')}  {c.get('status')}" for c in cases]
    lines.append(f"  certificates ({len(certs)}):")
    lines += [f"    {certificate_line(c)}" for c in certs]
    emit(args, answer, lines)
    return 0


def add_holder(sub: Any, both: Sequence[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("holder", help="holder references and a holder's records")
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = add_action(actions, "ref", both[:1], cmd_holder_ref, "compute a holder reference from an ID and a salt")
    p.add_argument("--id", required=True, metavar="TEXT", help="the person's or company's ID (never goes on chain)")
    p.add_argument("--salt-file", type=Path, required=True, metavar="FILE", help="the departments' secret salt")
    p = add_action(actions, "show", both, cmd_holder_show, "a holder's materials, cases and certificates")
    add_read_key(p)
    p.add_argument("holder_ref", type=hex32, metavar="HEX")
    add_height(p)


def add_commands(sub: Any, parents: Sequence[argparse.ArgumentParser]) -> None:
    """Add the contract command groups to the `chainnode` parser."""
    from chainnode import cli_cases, cli_governance

    cli_governance.add_commands(sub, parents)
    add_item(sub, parents)
    add_material(sub, parents)
    cli_cases.add_commands(sub, parents)
    add_holder(sub, parents)
