// The canonical msgpack encoding (docs/wire-format.md) of what a member signs, held to chainnode.codec's
// `encode`: ints in the signed 64-bit range up to 2^64 - 1 (Number when safe, else BigInt), byte strings as
// Uint8Array, valid Unicode strings (a lone surrogate is refused, as Python refuses it), null, booleans,
// arrays, and maps (Map or a plain object) with string keys sorted by UTF-8 bytes; nesting at most 32 levels
// below the outer container. Anything else (a float, undefined, a Date, a typed array other than Uint8Array)
// is refused before a byte is written, so what is signed is exactly what the node will re-encode.

import { encode } from "../msgpack.js";

export const MAX_DEPTH = 32;
const INT_MIN = -(2n ** 63n);
const INT_MAX = 2n ** 64n - 1n;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export class EncodeError extends Error {
  constructor(message) {
    super(message);
    this.name = "EncodeError";
  }
}

function isPlainObject(value) {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function checkString(value) {
  if (LONE_SURROGATE.test(value)) throw new EncodeError("a string is not valid Unicode (lone surrogate)");
  return value;
}

function checkInt(value) {
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) {
      throw new EncodeError(Number.isInteger(value) ? "an integer beyond 2^53 must be given as a BigInt"
        : "floats cannot be encoded canonically");
    }
    return value;
  }
  if (value < INT_MIN || value > INT_MAX) throw new EncodeError(`integer ${value} outside the 64-bit range`);
  return value;
}

/** `value` with plain objects as Maps, every scalar checked; throws EncodeError naming what cannot be encoded. */
export function normalise(value, depth = 0) {
  if (value === null || value === true || value === false) return value;
  const kind = typeof value;
  if (kind === "number" || kind === "bigint") return checkInt(value);
  if (kind === "string") return checkString(value);
  if (value instanceof Uint8Array) return value;
  // Only containers count towards the depth, as in chainnode.codec.
  const container = Array.isArray(value) || value instanceof Map || isPlainObject(value);
  if (container && depth > MAX_DEPTH) throw new EncodeError(`value nested deeper than ${MAX_DEPTH} levels`);
  if (Array.isArray(value)) return value.map((item) => normalise(item, depth + 1));
  if (value instanceof Map || isPlainObject(value)) {
    const entries = value instanceof Map ? [...value.entries()] : Object.entries(value);
    const out = new Map();
    for (const [key, item] of entries) {
      if (typeof key !== "string") throw new EncodeError(`map key ${String(key)} is not a string`);
      out.set(checkString(key), normalise(item, depth + 1));
    }
    return out;
  }
  throw new EncodeError(`a ${kind === "object" ? value.constructor?.name ?? "object" : kind} cannot be encoded canonically`);
}

/** The canonical bytes of `value`, exactly as chainnode.codec.encode gives them. */
export function encodeCanonical(value) {
  return encode(normalise(value));
}
