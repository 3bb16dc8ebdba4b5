"""The one canonical msgpack encoding of everything that is hashed, signed or sent.

Values are built from int (signed 64-bit range), bytes, str, bool, None, lists and maps with str keys.
Floats and extension types are refused. Maps are encoded with their keys sorted by UTF-8 bytes; every
integer and length takes msgpack's shortest form. Decoding checks the size first, then refuses unknown
types, trailing bytes and any input that does not re-encode to exactly the same bytes, so one value has
exactly one byte string and one hash. This module alone imports msgpack.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, TypeAlias

import msgpack

from chainnode.errors import (
    InputTooLarge,
    InvalidField,
    MalformedEncoding,
    NonCanonicalEncoding,
    TrailingBytes,
    UnknownTag,
    UnsupportedVersion,
)

Value: TypeAlias = Any
"""A decoded canonical value: int, bytes, str, bool, None, list[Value] or dict[str, Value]."""

INT_MIN: Final = -(2**63)
INT_MAX: Final = 2**64 - 1
MAX_DEPTH: Final = 32
"""The deepest nesting of containers (arrays and maps) inside a value; scalars do not count."""


_SCALARS: Final = frozenset({bytes, str, bool, type(None)})
_DECODED_SCALARS: Final = frozenset({int, bytes, str, bool, type(None)})


def _normalise(value: Value, depth: int = 0) -> Value:
    """Return `value` with maps key-sorted and tuples as lists; refuse what cannot be encoded.

    Scalars inside containers are checked inline: this runs for every hashed object, so it avoids a
    call per element.
    """
    if depth > MAX_DEPTH:
        raise InvalidField(f"value nested deeper than {MAX_DEPTH} levels")
    kind = type(value)
    if kind is list or kind is tuple:
        out = []
        for item in value:
            item_kind = type(item)
            if item_kind in _SCALARS or (item_kind is int and INT_MIN <= item <= INT_MAX):
                out.append(item)
            else:
                out.append(_normalise(item, depth + 1))
        return out
    if kind is dict:
        # UTF-8 preserves code point order, so sorting the str keys sorts their encodings.
        for key in value:
            if type(key) is not str:
                raise InvalidField(f"map key {key!r} is not a string")
        out_map = {}
        for key in sorted(value):
            item = value[key]
            item_kind = type(item)
            if not (item_kind in _SCALARS or (item_kind is int and INT_MIN <= item <= INT_MAX)):
                item = _normalise(item, depth + 1)
            out_map[key] = item
        return out_map
    if kind in _SCALARS:
        return value
    if kind is int:
        if not INT_MIN <= value <= INT_MAX:
            raise InvalidField(f"integer {value} outside the 64-bit range")
        return value
    if kind is bytearray or kind is memoryview:
        return bytes(value)
    raise InvalidField(f"type {kind.__name__} cannot be encoded canonically")


def encode(value: Value) -> bytes:
    """Return the canonical encoding of `value`.

    Raises InvalidField for floats, non-string map keys, out-of-range integers and unknown types.
    """
    normalised = _normalise(value)
    try:
        return msgpack.packb(normalised, use_bin_type=True)  # type: ignore[no-any-return]
    except UnicodeEncodeError as exc:
        raise InvalidField("a string is not valid Unicode (lone surrogate)") from exc


def _reject_ext(code: int, data: bytes) -> None:
    raise MalformedEncoding(f"msgpack extension type {code} is not allowed")


def _check_types(value: Value, depth: int = 0) -> None:
    """Refuse any type but the allowed ones (floats, timestamps, ...), non-string keys, and maps whose
    keys are not strictly sorted by UTF-8 bytes."""
    if depth > MAX_DEPTH:
        raise MalformedEncoding(f"value nested deeper than {MAX_DEPTH} levels")
    kind = type(value)
    if kind is list:
        for item in value:
            item_kind = type(item)
            if item_kind is list or item_kind is dict:
                _check_types(item, depth + 1)
            elif item_kind not in _DECODED_SCALARS:
                raise _refused_type(item_kind)
    elif kind is dict:
        previous = ""
        first = True
        for key, item in value.items():
            if type(key) is not str:
                raise MalformedEncoding("map keys must be strings")
            # str order is code point order, which UTF-8 byte order preserves
            if not first and key <= previous:
                raise NonCanonicalEncoding("map keys are not in canonical (sorted, unique) order")
            previous, first = key, False
            item_kind = type(item)
            if item_kind is list or item_kind is dict:
                _check_types(item, depth + 1)
            elif item_kind not in _DECODED_SCALARS:
                raise _refused_type(item_kind)
    elif kind not in _DECODED_SCALARS:
        raise _refused_type(kind)


def _refused_type(kind: type) -> MalformedEncoding:
    if kind is float:
        return MalformedEncoding("floats are not allowed")
    return MalformedEncoding(f"type {kind.__name__} is not allowed (only int, bytes, str, bool, nil, array, map)")


def decode_trusted(data: bytes) -> Value:
    """Decode bytes this node encoded canonically itself (its own state): no size, type or canonical check.

    Raises MalformedEncoding if they are not msgpack at all (a damaged store).
    """
    try:
        return msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=True, ext_hook=_reject_ext)
    except (ValueError, TypeError, msgpack.UnpackException, RecursionError) as exc:
        raise MalformedEncoding(f"not valid msgpack: {str(exc) or type(exc).__name__}") from exc


def decode(data: bytes, *, max_size: int) -> Value:
    """Decode one canonical value from `data`, which must hold exactly that value.

    Raises InputTooLarge, MalformedEncoding, TrailingBytes or NonCanonicalEncoding.
    """
    if len(data) > max_size:
        raise InputTooLarge(f"{len(data)} bytes exceed the limit of {max_size}")
    if not data:
        raise MalformedEncoding("empty input")
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=True,
            ext_hook=_reject_ext,
        )
    except msgpack.ExtraData as exc:
        raise TrailingBytes(f"{len(exc.extra)} trailing bytes after the value") from exc
    except MalformedEncoding:
        raise
    except (ValueError, TypeError, msgpack.UnpackException, RecursionError) as exc:
        raise MalformedEncoding(f"not valid msgpack: {str(exc) or type(exc).__name__}") from exc
    _check_types(value)
    # Maps are known to be sorted now, so packing the decoded value as it is gives the canonical bytes.
    again = msgpack.packb(value, use_bin_type=True)
    if again != data:
        raise NonCanonicalEncoding("input is not in canonical form (key order, int width or duplicate keys)")
    return value


# --- tagged objects ----------------------------------------------------------------------------------


def encode_object(tag: int, version: int, fields: Sequence[Value]) -> bytes:
    """Encode a tagged, versioned object as the array [tag, version, *fields]."""
    return encode([tag, version, *fields])


def decode_object(data: bytes, *, tag: int, version: int, n_fields: int, max_size: int, what: str) -> list[Value]:
    """Decode a tagged object and return its fields (without tag and version).

    Raises the errors of `decode`, plus UnknownTag, UnsupportedVersion and MalformedEncoding for an array
    of the wrong length.
    """
    value = decode(data, max_size=max_size)
    return check_object(value, tag=tag, version=version, n_fields=n_fields, what=what)


def check_object(value: Value, *, tag: int, version: int, n_fields: int, what: str) -> list[Value]:
    """Check an already decoded [tag, version, *fields] array and return the fields."""
    if type(value) is not list or len(value) < 2:
        raise MalformedEncoding(f"{what}: expected an array [tag, version, ...]")
    if value[0] != tag or type(value[0]) is not int:
        raise UnknownTag(f"{what}: expected tag {tag}, got {value[0]!r}")
    if value[1] != version or type(value[1]) is not int:
        raise UnsupportedVersion(f"{what}: version {value[1]!r} is not supported (expected {version})")
    if len(value) != 2 + n_fields:
        raise MalformedEncoding(f"{what}: expected {n_fields} fields, got {len(value) - 2}")
    return value[2:]


# --- field checks for decoders -----------------------------------------------------------------------


def want_int(value: Value, field: str, *, lo: int = 0, hi: int = INT_MAX) -> int:
    if type(value) is not int or not lo <= value <= hi:
        raise InvalidField(f"{field} must be an integer in [{lo}, {hi}]", field=field)
    return int(value)


def want_bytes(value: Value, field: str, *, size: int | None = None, max_size: int = 1 << 20) -> bytes:
    if type(value) is not bytes:
        raise InvalidField(f"{field} must be bytes", field=field)
    if size is not None and len(value) != size:
        raise InvalidField(f"{field} must be {size} bytes, got {len(value)}", field=field)
    if len(value) > max_size:
        raise InvalidField(f"{field} is longer than {max_size} bytes", field=field)
    return bytes(value)


def want_str(value: Value, field: str, *, max_len: int = 256, min_len: int = 0) -> str:
    if type(value) is not str or not min_len <= len(value) <= max_len:
        raise InvalidField(f"{field} must be a string of {min_len}..{max_len} characters", field=field)
    return str(value)


def want_list(value: Value, field: str, *, max_len: int) -> list[Value]:
    if type(value) is not list or len(value) > max_len:
        raise InvalidField(f"{field} must be an array of at most {max_len} items", field=field)
    return list(value)
