"""Strict parsing of what a client puts in a request: integer parameters, hex, codes and JSON bodies.

Every value here comes from anyone who can reach the API, so each parser accepts one narrow form, bounds
its size before any conversion, and raises an `InvalidInput` naming the field; nothing a client sends can
reach `int()`, `float()` or `json.loads` unbounded (Python's `int()` takes Unicode digits such as "²"
or "١", refuses more than 4,300 digits with a ValueError, and `json.loads` recurses once per nesting
level). The rules are listed in docs/api.md ("Parameters").
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from chainnode.errors import InputTooLarge, InvalidField, InvalidJson

MAX_INT_DIGITS: Final = 19
"""An integer parameter has at most this many ASCII digits (enough for any value below 2^63)."""
MAX_HEIGHT: Final = 2**62
"""The largest height a parameter may name; heights are stored as 8-byte keys."""
MAX_WAIT_S: Final = 60
"""`?wait=` long-polls at most this many seconds."""
MAX_JSON_DEPTH: Final = 16
MAX_JSON_CONTAINERS: Final = 1024
"""Arrays and objects in one body (a submission has two)."""
"""Nesting of arrays and objects in a JSON body (a submission needs 2)."""
MAX_JSON_STRUCTURE: Final = 1 << 20
"""Bytes of a JSON body outside its strings (brackets, commas, numbers, keywords): a submission of
10,000 transactions needs ~30 kB; this bounds how many values a body can make the node allocate."""
MAX_JSON_STRINGS: Final = 1 << 19
"""Strings in a JSON body (keys included): a submission of 10,000 transactions needs 10,001."""
MAX_JSON_INT_DIGITS: Final = 19

_INT_TEXT: Final = re.compile(rf"[0-9]{{1,{MAX_INT_DIGITS}}}\Z")
_HEX_TEXT: Final = re.compile(r"(?:[0-9a-fA-F]{2})*\Z")
_JSON_STRING: Final = re.compile(r'"[^"]*"')
_JSON_NESTING: Final = re.compile(r"[\[\]{}]")


def parse_int(
    text: str | None, field: str, *, default: int | None = None, lo: int = 0, hi: int = MAX_HEIGHT
) -> int | None:
    """An integer parameter: 1 to 19 ASCII digits with a value in [lo, hi], or `default` when absent or
    empty. Raises InvalidField naming `field`."""
    if text is None or text == "":
        return default
    if not _INT_TEXT.match(text):
        raise InvalidField(f"{field} must be a decimal integer in [{lo}, {hi}] (ASCII digits only)", field=field)
    value = int(text)
    if not lo <= value <= hi:
        raise InvalidField(f"{field} must be an integer in [{lo}, {hi}], got {value}", field=field)
    return value


def param_int(
    query: Mapping[str, str], match_info: Mapping[str, str], name: str, *,
    default: int | None = None, lo: int = 0, hi: int = MAX_HEIGHT,
) -> int | None:
    """`name` from the query string, else from the path; see `parse_int`."""
    text = query.get(name) if name in query else match_info.get(name)
    return parse_int(text, name, default=default, lo=lo, hi=hi)


def parse_wait(text: str | None) -> int:
    """`?wait=S`: whole seconds in [0, 60]. Raises InvalidField(field="wait")."""
    return parse_int(text, "wait", default=0, lo=0, hi=MAX_WAIT_S) or 0


def parse_hex(text: str, field: str, *, size: int | None = None, max_size: int = 4096) -> bytes:
    """Hex digits only (no spaces, which `bytes.fromhex` would skip), `size` bytes or at most `max_size`.
    Raises InvalidField."""
    if len(text) > 2 * max_size or not _HEX_TEXT.match(text):
        raise InvalidField(f"{field} must be hex of at most {max_size} bytes", field=field)
    value = bytes.fromhex(text)
    if size is not None and len(value) != size:
        raise InvalidField(f"{field} must be {size} bytes of hex", field=field)
    return value


def is_code(text: str, pattern: re.Pattern[str]) -> bool:
    """Whether the whole of `text` matches `pattern` (never a prefix, never before a final newline)."""
    return pattern.fullmatch(text) is not None


def _refuse_float(text: str) -> Any:
    raise InvalidJson(f"numbers with a fraction or exponent are not accepted ({text[:20]})", field="body")


def _refuse_constant(text: str) -> Any:
    raise InvalidJson(f"{text} is not JSON", field="body")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_JSON_INT_DIGITS:
        raise InvalidJson(f"integers have at most {MAX_JSON_INT_DIGITS} digits", field="body")
    return int(text)


def validate_json_shape(text: str) -> None:
    """Refuse a body with more than MAX_JSON_STRINGS strings, more than MAX_JSON_STRUCTURE bytes outside
    its strings, or nesting deeper than MAX_JSON_DEPTH. Raises InputTooLarge or InvalidJson.

    Linear time at C speed: escaped backslashes and quotes are removed first (left to right, as JSON
    reads them), so every remaining quote opens or closes a string and `"[^"]*"` finds them without
    backtracking. On invalid JSON the figures are only a bound; the parser then refuses the body.
    """
    plain = text.replace("\\\\", "").replace('\\"', "")
    if plain.count('"') > 2 * MAX_JSON_STRINGS:
        raise InputTooLarge(f"a JSON body holds at most {MAX_JSON_STRINGS} strings", field="body")
    structure = _JSON_STRING.sub("", plain)
    if len(structure) > MAX_JSON_STRUCTURE:
        raise InputTooLarge(
            f"a JSON body has at most {MAX_JSON_STRUCTURE} bytes outside its strings", field="body"
        )
    if structure.count("[") + structure.count("{") > MAX_JSON_CONTAINERS:  # C speed, before the loop below
        raise InputTooLarge(f"a JSON body holds at most {MAX_JSON_CONTAINERS} arrays and objects", field="body")
    depth = 0
    for bracket in _JSON_NESTING.findall(structure):
        depth += 1 if bracket in "[{" else -1
        if depth > MAX_JSON_DEPTH:
            raise InvalidJson(f"a JSON body nests at most {MAX_JSON_DEPTH} levels", field="body")


def parse_json_body(body: bytes) -> Any:
    """A JSON request body, bounded in structure, depth and integer size; no floats, NaN or Infinity.

    Raises InvalidJson (code malformed_json, field "body") or InputTooLarge. The size of the body itself
    is bounded by the app's `client_max_size`.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidJson(f"request body is not UTF-8: {exc}", field="body") from exc
    validate_json_shape(text)
    try:
        return json.loads(
            text, parse_int=_bounded_int, parse_float=_refuse_float, parse_constant=_refuse_constant
        )
    except json.JSONDecodeError as exc:
        raise InvalidJson(f"request body is not JSON: {exc}", field="body") from exc
    except RecursionError as exc:  # not reachable past validate_json_shape; kept as a last line
        raise InvalidJson("request body nests too deeply", field="body") from exc
