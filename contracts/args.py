"""Argument checks shared by the contracts: each raises ContractError("invalid_arguments") naming the field.

Parsers run at admission (stateless) and again at execution, so they look only at the arguments. Every
size is bounded here; a handler can rely on what its parser returned.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final, TypeVar

from chainnode import crypto
from chainnode.codec import Value
from contracts.base import ContractError

T = TypeVar("T")

DEPARTMENT_CODE: Final = re.compile(r"^[A-Z][A-Z0-9_]{1,31}\Z")
CODE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}\Z")
"""Item, certificate-type and material-type codes: 1-64 letters, digits, '_', '.', '-'."""
ID_HEX: Final = re.compile(r"^[0-9a-f]{32}\Z")
"""Record IDs the contracts derive (cases, certificates, materials): 16 bytes as 32 lowercase hex digits."""
MAX_TEXT: Final = 512
MAX_LONG_TEXT: Final = 4096
MAX_HEIGHT: Final = 2**62
MAX_TIME_MS: Final = 2**53
MAX_METADATA_ENTRIES: Final = 16
MAX_METADATA_KEY: Final = 64


def bad(field: str, message: str) -> ContractError:
    return ContractError("invalid_arguments", message, field=field)


def text(value: Value, field: str, *, max_len: int = MAX_TEXT, min_len: int = 1) -> str:
    if type(value) is not str or not min_len <= len(value) <= max_len:
        raise bad(field, f"{field} must be a string of {min_len} to {max_len} characters")
    return value


def department_code(value: Value, field: str) -> str:
    if type(value) is not str or not DEPARTMENT_CODE.match(value):
        raise bad(field, f"{field} must be a department code (2-32 uppercase letters, digits or '_')")
    return value


def code(value: Value, field: str) -> str:
    if type(value) is not str or not CODE.match(value):
        raise bad(field, f"{field} must be a code of 1-64 letters, digits, '_', '.' or '-'")
    return value


def record_id(value: Value, field: str) -> str:
    if type(value) is not str or not ID_HEX.match(value):
        raise bad(field, f"{field} must be a record ID (32 lowercase hex digits)")
    return value


def bytes32(value: Value, field: str) -> bytes:
    if type(value) is not bytes or len(value) != 32:
        raise bad(field, f"{field} must be 32 bytes")
    return value


def integer(value: Value, field: str, *, low: int = 0, high: int = MAX_HEIGHT) -> int:
    if type(value) is not int or not low <= value <= high:
        raise bad(field, f"{field} must be an integer in [{low}, {high}]")
    return value


def time_ms(value: Value, field: str) -> int:
    """A block-time instant in milliseconds since 1970 (UTC)."""
    return integer(value, field, high=MAX_TIME_MS)


def metadata(value: Value, field: str) -> dict[str, str]:
    """A small map of free text: at most 16 entries, keys of 1-64 characters, values of at most 512."""
    if type(value) is not dict or len(value) > MAX_METADATA_ENTRIES:
        raise bad(field, f"{field} must be a map of at most {MAX_METADATA_ENTRIES} entries")
    for key, entry in value.items():
        if not 1 <= len(key) <= MAX_METADATA_KEY or type(entry) is not str or len(entry) > MAX_TEXT:
            raise bad(field, f"{field} {key!r}: keys are 1-{MAX_METADATA_KEY} characters, values strings of "
                             f"at most {MAX_TEXT}")
    return {key: value[key] for key in sorted(value)}


def boolean(value: Value, field: str) -> bool:
    if type(value) is not bool:
        raise bad(field, f"{field} must be true or false")
    return value


def choice(value: Value, field: str, allowed: tuple[str, ...]) -> str:
    if type(value) is not str or value not in allowed:
        raise bad(field, f"{field} must be one of {', '.join(allowed)}")
    return value


def items_of(value: Value, field: str, parse: Callable[[Value, str], T], *, max_items: int, min_items: int = 0,
             unique: bool = True) -> tuple[T, ...]:
    """A list of at most `max_items` elements, each checked by `parse(element, "field[i]")`."""
    if type(value) is not list or not min_items <= len(value) <= max_items:
        raise bad(field, f"{field} must be a list of {min_items} to {max_items} entries")
    parsed = tuple(parse(element, f"{field}[{i}]") for i, element in enumerate(value))
    if unique and len(set(map(repr, parsed))) != len(parsed):
        raise bad(field, f"{field} lists an entry twice")
    return parsed


def optional(fields: dict[str, Value], name: str, parse: Callable[[Value, str], T], default: T) -> T:
    return parse(fields[name], name) if name in fields and fields[name] is not None else default


def encryption_key(value: Value, field: str) -> bytes:
    """A department's X25519 public key: 32 bytes that can be sealed to (not a low-order point)."""
    key = bytes32(value, field)
    if not crypto.is_usable_encryption_key(key):
        raise bad(field, f"{field} is not a usable X25519 public key (a low-order point such as all zeros)")
    return key
