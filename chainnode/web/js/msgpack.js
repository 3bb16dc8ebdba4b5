// The canonical msgpack of docs/wire-format.md, for the browser: a strict decoder that refuses every
// form but the one a node writes (shortest ints and lengths, map keys sorted by UTF-8 bytes and unique,
// no floats, no extension types, no trailing bytes), and the small encoder the verifier needs to
// rebuild what is hashed and signed. Values: integers as Number (BigInt beyond 2^53), byte strings as
// Uint8Array, strings, null, booleans, arrays, and maps as Map with string keys.

export const MAX_DEPTH = 32;
const INT_MIN = -(2n ** 63n);
const INT_MAX = 2n ** 64n - 1n;
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export class DecodeError extends Error {
  constructor(message) {
    super(message);
    this.name = "DecodeError";
  }
}

function toInt(big) {
  return big >= -9007199254740991n && big <= 9007199254740991n ? Number(big) : big;
}

export function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

export function equalBytes(a, b) {
  return a instanceof Uint8Array && b instanceof Uint8Array && a.length === b.length && compareBytes(a, b) === 0;
}

class Reader {
  constructor(data) {
    this.data = data;
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.at = 0;
  }

  need(n) {
    if (n > this.data.length - this.at) throw new DecodeError("the value ends early (truncated input)");
  }

  uint(size) {
    this.need(size);
    const at = this.at;
    this.at += size;
    if (size === 1) return this.view.getUint8(at);
    if (size === 2) return this.view.getUint16(at);
    if (size === 4) return this.view.getUint32(at);
    return toInt(this.view.getBigUint64(at));
  }

  bytes(n) {
    this.need(n);
    const out = this.data.slice(this.at, this.at + n);
    this.at += n;
    return out;
  }
}

function shortest(ok, what) {
  if (!ok) throw new DecodeError(`not canonical: ${what} is not in its shortest form`);
}

/** The length after a str8/bin8-style opcode: `base` takes 1 byte, `base + 1` two, `base + 2` four. */
function readLength(r, b, base) {
  return r.uint(1 << (b - base));
}

function decodeValue(r, depth) {
  r.need(1);
  const b = r.data[r.at++];
  if (b <= 0x7f) return b;
  if (b >= 0xe0) return b - 0x100;
  if (b === 0xc0) return null;
  if (b === 0xc2) return false;
  if (b === 0xc3) return true;
  if ((b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb)) {
    const n = b <= 0xbf ? b & 0x1f : readLength(r, b, 0xd9);
    if (b === 0xd9) shortest(n >= 32, "a string length");
    if (b === 0xda) shortest(n >= 256, "a string length");
    if (b === 0xdb) shortest(n >= 65536, "a string length");
    const raw = r.bytes(n);
    try {
      return strictUtf8.decode(raw);
    } catch {
      throw new DecodeError("a string is not valid UTF-8");
    }
  }
  if (b >= 0xc4 && b <= 0xc6) {
    const n = readLength(r, b, 0xc4);
    if (b === 0xc5) shortest(n >= 256, "a byte-string length");
    if (b === 0xc6) shortest(n >= 65536, "a byte-string length");
    return r.bytes(n);
  }
  if (b >= 0xcc && b <= 0xcf) {
    const size = 1 << (b - 0xcc);
    const v = r.uint(size);
    const limit = [128, 256, 65536, 4294967296][b - 0xcc];
    shortest(BigInt(v) >= BigInt(limit), "an integer");
    return v;
  }
  if (b >= 0xd0 && b <= 0xd3) {
    const size = 1 << (b - 0xd0);
    r.need(size);
    const at = r.at;
    r.at += size;
    const big = size === 1 ? BigInt(r.view.getInt8(at)) : size === 2 ? BigInt(r.view.getInt16(at))
      : size === 4 ? BigInt(r.view.getInt32(at)) : r.view.getBigInt64(at);
    const below = [-32n, -128n, -32768n, -2147483648n][b - 0xd0];
    shortest(big < below, "an integer");
    return toInt(big);
  }
  if ((b >= 0x90 && b <= 0x9f) || b === 0xdc || b === 0xdd) {
    if (depth > MAX_DEPTH) throw new DecodeError(`nested deeper than ${MAX_DEPTH} levels`);
    const n = b <= 0x9f ? b & 0x0f : r.uint(b === 0xdc ? 2 : 4);
    if (b === 0xdc) shortest(n >= 16, "an array length");
    if (b === 0xdd) shortest(n >= 65536, "an array length");
    r.need(n); // every item takes at least one byte: no huge allocation from a forged length
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = decodeValue(r, depth + 1);
    return out;
  }
  if ((b >= 0x80 && b <= 0x8f) || b === 0xde || b === 0xdf) {
    if (depth > MAX_DEPTH) throw new DecodeError(`nested deeper than ${MAX_DEPTH} levels`);
    const n = b <= 0x8f ? b & 0x0f : r.uint(b === 0xde ? 2 : 4);
    if (b === 0xde) shortest(n >= 16, "a map length");
    if (b === 0xdf) shortest(n >= 65536, "a map length");
    r.need(2 * n);
    const out = new Map();
    let previous = null;
    for (let i = 0; i < n; i++) {
      const key = decodeValue(r, depth + 1);
      if (typeof key !== "string") throw new DecodeError("map keys must be strings");
      const keyBytes = utf8.encode(key);
      if (previous !== null && compareBytes(keyBytes, previous) <= 0) {
        throw new DecodeError("not canonical: map keys are not sorted and unique");
      }
      previous = keyBytes;
      out.set(key, decodeValue(r, depth + 1));
    }
    return out;
  }
  if (b === 0xca || b === 0xcb) throw new DecodeError("floats are not allowed");
  throw new DecodeError(`type byte 0x${b.toString(16)} is not allowed (extension or reserved)`);
}

/** Decode exactly one canonical value from `data` (at most `maxSize` bytes). Throws DecodeError. */
export function decode(data, maxSize) {
  if (!(data instanceof Uint8Array)) throw new DecodeError("input is not bytes");
  if (data.length > maxSize) throw new DecodeError(`${data.length} bytes exceed the limit of ${maxSize}`);
  if (data.length === 0) throw new DecodeError("empty input");
  const r = new Reader(data);
  const value = decodeValue(r, 0);
  if (r.at !== data.length) throw new DecodeError(`${data.length - r.at} trailing bytes after the value`);
  return value;
}

/** Where the msgpack object starting at `at` ends (lengths only, no canonical check). Throws DecodeError. */
export function itemEnd(data, at, depth = 0) {
  if (at >= data.length || depth > 64) throw new DecodeError("the value ends early (truncated input)");
  const b = data[at];
  const num = (size) => {
    if (at + 1 + size > data.length) throw new DecodeError("the value ends early (truncated input)");
    let n = 0;
    for (let i = 0; i < size; i++) n = n * 256 + data[at + 1 + i];
    return n;
  };
  const items = (count, start) => {
    if (count > data.length - start) throw new DecodeError("the value ends early (truncated input)");
    for (let i = 0; i < count; i++) start = itemEnd(data, start, depth + 1);
    return start;
  };
  let end;
  if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) end = at + 1;
  else if (b >= 0xa0 && b <= 0xbf) end = at + 1 + (b & 0x1f);
  else if (b >= 0x90 && b <= 0x9f) end = items(b & 0x0f, at + 1);
  else if (b >= 0x80 && b <= 0x8f) end = items(2 * (b & 0x0f), at + 1);
  else if (b >= 0xcc && b <= 0xd3) end = at + 1 + (1 << ((b - 0xcc) & 3));
  else if (b >= 0xc4 && b <= 0xc6) { const s = 1 << (b - 0xc4); end = at + 1 + s + num(s); }
  else if (b >= 0xd9 && b <= 0xdb) { const s = 1 << (b - 0xd9); end = at + 1 + s + num(s); }
  else if (b === 0xdc || b === 0xdd) { const s = b === 0xdc ? 2 : 4; end = items(num(s), at + 1 + s); }
  else if (b === 0xde || b === 0xdf) { const s = b === 0xde ? 2 : 4; end = items(2 * num(s), at + 1 + s); }
  else throw new DecodeError(`type byte 0x${b.toString(16)} is not allowed`);
  if (end > data.length) throw new DecodeError("the value ends early (truncated input)");
  return end;
}

// --- encoding ---------------------------------------------------------------------------------------

class Writer {
  constructor() {
    this.parts = [];
    this.size = 0;
  }

  push(bytes) {
    this.parts.push(bytes);
    this.size += bytes.length;
  }

  head(prefix, n, size) {
    const out = new Uint8Array(1 + size);
    out[0] = prefix;
    const view = new DataView(out.buffer);
    if (size === 1) out[1] = n;
    else if (size === 2) view.setUint16(1, n);
    else if (size === 4) view.setUint32(1, n);
    this.push(out);
  }

  result() {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

function encodeInt(w, value) {
  const big = BigInt(value);
  if (big < INT_MIN || big > INT_MAX) throw new RangeError("integer outside the 64-bit range");
  if (big >= 0n) {
    if (big < 128n) w.push(Uint8Array.of(Number(big)));
    else if (big < 256n) w.head(0xcc, Number(big), 1);
    else if (big < 65536n) w.head(0xcd, Number(big), 2);
    else if (big < 4294967296n) w.head(0xce, Number(big), 4);
    else { const o = new Uint8Array(9); o[0] = 0xcf; new DataView(o.buffer).setBigUint64(1, big); w.push(o); }
    return;
  }
  if (big >= -32n) { w.push(Uint8Array.of(Number(big) & 0xff)); return; }
  const o = new Uint8Array(9);
  const view = new DataView(o.buffer);
  if (big >= -128n) { o[0] = 0xd0; view.setInt8(1, Number(big)); w.push(o.subarray(0, 2)); }
  else if (big >= -32768n) { o[0] = 0xd1; view.setInt16(1, Number(big)); w.push(o.subarray(0, 3)); }
  else if (big >= -2147483648n) { o[0] = 0xd2; view.setInt32(1, Number(big)); w.push(o.subarray(0, 5)); }
  else { o[0] = 0xd3; view.setBigInt64(1, big); w.push(o); }
}

function encodeString(w, value) {
  const raw = utf8.encode(value);
  const n = raw.length;
  if (n < 32) w.push(Uint8Array.of(0xa0 | n));
  else if (n < 256) w.head(0xd9, n, 1);
  else if (n < 65536) w.head(0xda, n, 2);
  else w.head(0xdb, n, 4);
  w.push(raw);
}

function encodeInto(w, value) {
  if (value === null) w.push(Uint8Array.of(0xc0));
  else if (value === false) w.push(Uint8Array.of(0xc2));
  else if (value === true) w.push(Uint8Array.of(0xc3));
  else if (typeof value === "number" || typeof value === "bigint") {
    if (typeof value === "number" && !Number.isInteger(value)) throw new TypeError("floats cannot be encoded");
    encodeInt(w, value);
  } else if (typeof value === "string") encodeString(w, value);
  else if (value instanceof Uint8Array) {
    const n = value.length;
    if (n < 256) w.head(0xc4, n, 1);
    else if (n < 65536) w.head(0xc5, n, 2);
    else w.head(0xc6, n, 4);
    w.push(value);
  } else if (Array.isArray(value)) {
    const n = value.length;
    if (n < 16) w.push(Uint8Array.of(0x90 | n));
    else if (n < 65536) w.head(0xdc, n, 2);
    else w.head(0xdd, n, 4);
    for (const item of value) encodeInto(w, item);
  } else if (value instanceof Map) {
    const keys = [...value.keys()].map((k) => [utf8.encode(k), k]).sort((a, b) => compareBytes(a[0], b[0]));
    const n = keys.length;
    if (n < 16) w.push(Uint8Array.of(0x80 | n));
    else if (n < 65536) w.head(0xde, n, 2);
    else w.head(0xdf, n, 4);
    for (const [, k] of keys) {
      encodeString(w, k);
      encodeInto(w, value.get(k));
    }
  } else throw new TypeError("this type cannot be encoded canonically");
}

/** The canonical encoding of `value`. */
export function encode(value) {
  const w = new Writer();
  encodeInto(w, value);
  return w.result();
}

/** The canonical encoding of a string (a map key), as the shaped records need it. */
export function encodeStr(value) {
  const w = new Writer();
  encodeString(w, value);
  return w.result();
}

export function concatBytes(...parts) {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function toHex(bytes) {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

export function fromHex(text) {
  if (typeof text !== "string" || text.length % 2 || !/^[0-9a-fA-F]*$/.test(text)) {
    throw new DecodeError("not a hex string");
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(2 * i, 2), 16);
  return out;
}
