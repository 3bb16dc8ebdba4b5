// A light client for the browser: verifies a state proof bundle (tag 10) against genesis, or a trust file
// checked against that genesis, exactly as docs/proofs.md says (steps 0, 1 and 2a), with WebCrypto's SHA-256
// and Ed25519. It trusts nothing but the genesis document (and trust file) it is given; every failure is a
// ProofError naming the stage and the check.
//
// Stages: "format" (the bundle's encoding), "links" (headers, validator sets, commits), "state" (the
// state paths under the last header's state_root). The certificate rules on top live in certificate.js.

import {
  DecodeError, compareBytes, concatBytes, decode, encode, encodeStr, equalBytes, fromHex, itemEnd, toHex,
} from "./msgpack.js";

export const MAX_BUNDLE_BYTES = 32 * 1024 * 1024;
const MAX_LINKS = 20000;
const MAX_VALIDATORS = 256;
const MAX_POWER = 2 ** 40;
const MAX_STATE_PROOFS = 16;
const MAX_KEY_BYTES = 1024;
const MAX_VALUE_BYTES = 1 << 20;
const KEY_BITS = 256;
const TAG_STATE_BUNDLE = 10;
const STATE_BUNDLE_VERSION = 4;
const TAG_TX_BUNDLE = 11;
const utf8 = new TextEncoder();

export class ProofError extends Error {
  constructor(stage, message) {
    super(message);
    this.name = "ProofError";
    this.stage = stage;
  }
}

export function need(condition, stage, message) {
  if (!condition) throw new ProofError(stage, message);
}

// --- hashing and signatures ---------------------------------------------------------------------------

function subtle() {
  const c = globalThis.crypto;
  if (!c || !c.subtle) throw new ProofError("crypto", "this browser offers no WebCrypto (open the page over https, "
    + "from 127.0.0.1 or as a local file)");
  return c.subtle;
}

export async function sha256(data) {
  return new Uint8Array(await subtle().digest("SHA-256", data));
}

const DOMAIN_SEPARATOR = Uint8Array.of(0);

/** compute_hash(domain, data) = SHA-256(domain || 0x00 || data) */
export async function computeHash(domain, data) {
  return sha256(concatBytes(utf8.encode(domain), DOMAIN_SEPARATOR, data));
}

// Ed25519 as libsodium checks it (PyNaCl, the nodes' verifier): besides the WebCrypto check, S must be
// below the group order, and neither the key nor R may be a point of small order, nor the key non-canonical.
const GROUP_ORDER = fromHex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
const SMALL_ORDER = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
].map(fromHex);

function isSmallOrder(point) {
  return SMALL_ORDER.some((bad) => {
    for (let i = 0; i < 31; i++) if (point[i] !== bad[i]) return false;
    return (point[31] & 0x7f) === bad[31];
  });
}

function isCanonicalPoint(point) {
  if ((point[31] & 0x7f) !== 0x7f) return true;
  for (let i = 30; i >= 1; i--) if (point[i] !== 0xff) return true;
  return point[0] < 0xed;
}

function isCanonicalScalar(s) {
  for (let i = 31; i >= 0; i--) {
    if (s[i] < GROUP_ORDER[i]) return true;
    if (s[i] > GROUP_ORDER[i]) return false;
  }
  return false;
}

const importedKeys = new Map();

async function importKey(publicKey) {
  const id = toHex(publicKey);
  let key = importedKeys.get(id);
  if (key === undefined) {
    key = await subtle().importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
    if (importedKeys.size > 1024) importedKeys.clear();
    importedKeys.set(id, key);
  }
  return key;
}

/** A strict Ed25519 check (libsodium's rules); false for any bad input, never an exception. */
export async function verifyEd25519(publicKey, message, signature) {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  if (!isCanonicalScalar(signature.subarray(32)) || isSmallOrder(signature.subarray(0, 32))) return false;
  if (!isCanonicalPoint(publicKey) || isSmallOrder(publicKey)) return false;
  let key;
  try {
    key = await importKey(publicKey);
  } catch {
    return false;
  }
  try {
    return await subtle().verify({ name: "Ed25519" }, key, signature, message);
  } catch {
    return false;
  }
}

// --- genesis ------------------------------------------------------------------------------------------

/**
 * The verifier's trust root from a genesis.json text: chain ID, the genesis validator set (departments
 * with power > 0, sorted by node key) and department names. Throws ProofError("genesis", ...).
 */
export function parseGenesis(text) {
  let doc;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new ProofError("genesis", "the genesis file is not JSON");
  }
  need(doc !== null && typeof doc === "object" && !Array.isArray(doc), "genesis", "the genesis file is not an object");
  const chainId = doc.chain_id;
  need(typeof chainId === "string" && chainId.length >= 1 && chainId.length <= 64, "genesis",
    "the genesis file has no chain_id");
  need(Array.isArray(doc.departments) && doc.departments.length >= 1 && doc.departments.length <= 1024, "genesis",
    "the genesis file lists no departments");
  const names = new Map();
  const validators = [];
  for (const d of doc.departments) {
    need(d !== null && typeof d === "object", "genesis", "a department of genesis is not an object");
    need(typeof d.code === "string" && /^[A-Z][A-Z0-9_]{1,31}$/.test(d.code), "genesis",
      "a department of genesis has no valid code");
    need(Number.isSafeInteger(d.power) && d.power >= 0 && d.power <= MAX_POWER, "genesis",
      `department ${d.code} has no valid power`);
    names.set(d.code, typeof d.name === "string" ? d.name : "");
    if (d.power > 0) {
      let key;
      try {
        key = fromHex(d.node_key);
      } catch {
        key = null;
      }
      need(key !== null && key.length === 32, "genesis", `department ${d.code} has no valid node_key`);
      validators.push([d.code, key, d.power]);
    }
  }
  need(validators.length >= 1 && validators.length <= MAX_VALIDATORS, "genesis",
    "genesis needs 1 to 256 departments with voting power");
  validators.sort((a, b) => compareBytes(a[1], b[1]));
  for (let i = 1; i < validators.length; i++) {
    need(compareBytes(validators[i - 1][1], validators[i][1]) < 0, "genesis", "two departments share a node key");
  }
  return { chainId, validators, names };
}

/** The network's genesis hash (chainnode.genesis.compute_genesis_hash): the canonical msgpack of the parsed
 * genesis.json under the genesis domain. A trust file names it. Throws ProofError("genesis", ...). */
export async function computeGenesisHash(text) {
  const canonical = (v) => {
    if (v === null || typeof v === "string" || typeof v === "boolean") return v;
    if (typeof v === "number") {
      need(Number.isSafeInteger(v), "genesis", "the genesis file holds a number that is not a whole number of at "
        + "most 2^53");
      return v;
    }
    if (Array.isArray(v)) return v.map(canonical);
    return new Map(Object.entries(v).map(([k, item]) => [k, canonical(item)]));
  };
  let doc;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new ProofError("genesis", "the genesis file is not JSON");
  }
  return computeHash("chainnode/v1/genesis", encode(canonical(doc)));
}

const TRUST_FILE_KIND = "chainnode-trust";
const TRUST_FILE_VERSION = 1;

function trustBytes(text, field, maxSize) {
  let value;
  try {
    value = decode(fromHex(String(text).toLowerCase()), maxSize);
  } catch (exc) {
    // not hex, or not canonical msgpack (DecodeError)
    throw new ProofError("trust", `the trust file's ${field} is malformed: ${exc.message}`);
  }
  return value;
}

/**
 * A trust root from a trust file's text (`chainnode cert verify --trust-out`; chainnode.light.load_trust):
 * `{kind, version, chain_id, genesis_hash, height, block_hash, header, validators}`, accepted only for this
 * `genesis` (from parseGenesis) whose hash is `genesisHash` (computeGenesisHash), when its validator set is the
 * one its header names and the height is the header's. Returns `{height, header, validators, blockHash}`.
 * Throws ProofError("trust", ...) naming the problem.
 */
export async function parseTrust(text, genesis, genesisHash) {
  let doc;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new ProofError("trust", "the trust file is not JSON");
  }
  need(doc !== null && typeof doc === "object" && !Array.isArray(doc) && doc.kind === TRUST_FILE_KIND, "trust",
    `not a trust file (expected kind "${TRUST_FILE_KIND}")`);
  need(doc.version === TRUST_FILE_VERSION, "trust", `trust file version ${JSON.stringify(doc.version)} is not `
    + `${TRUST_FILE_VERSION}`);
  need(doc.chain_id === genesis.chainId && doc.genesis_hash === toHex(genesisHash), "trust", `the trust file is for `
    + `chain ${JSON.stringify(doc.chain_id)} with another genesis, not ${JSON.stringify(genesis.chainId)} of this `
    + "genesis file");
  let header;
  let validators;
  try {
    const h = trustBytes(doc.header, "header", 4096);
    need(Array.isArray(h) && h.length === 14 && h[0] === 2 && h[1] === 1, "trust", "the trust file's header is "
      + "not a block header");
    // a trusted header's time is not used, and Python takes any up to 2^63 - 1: so does this reader
    const fields = h.slice(2);
    const bigTime = typeof fields[2] === "bigint" && fields[2] >= 0n && fields[2] <= 2n ** 63n - 1n;
    header = checkHeader(bigTime ? [...fields.slice(0, 2), 0, ...fields.slice(3)] : fields);
    if (bigTime) Object.assign(header, { fields, timeMs: fields[2] });
    const v = trustBytes(doc.validators, "validator set", 1 << 20);
    need(Array.isArray(v) && v.length === 3 && v[0] === 8 && v[1] === 1, "trust", "the trust file's validator set "
      + "is not a validator set");
    validators = checkValidators(v[2]);
  } catch (exc) {
    if (exc instanceof ProofError && exc.stage !== "trust") {
      throw new ProofError("trust", `the trust file's header or validator set is malformed: ${exc.message}`);
    }
    throw exc;
  }
  need(header.chainId === genesis.chainId && header.height === doc.height
    && equalBytes(await setHash(validators), header.validatorsHash), "trust", "the trust file's validator set did "
    + "not sign its header, or its height is not the header's");
  return { height: header.height, header, validators, blockHash: await blockHash(header) };
}

// --- decoding the bundle ------------------------------------------------------------------------------

export const isBytes = (v, size) => v instanceof Uint8Array && (size === undefined || v.length === size);
export const isUint = (v, hi) => typeof v === "number" && Number.isInteger(v) && v >= 0 && (hi === undefined || v <= hi);

export function checkHeader(h) {
  need(Array.isArray(h) && h.length === 12, "format", "a header has 12 fields");
  need(typeof h[0] === "string" && h[0].length >= 1 && h[0].length <= 64, "format", "the header's chain_id");
  // heights and times up to 2^63 - 1 may exceed 2^53: such a header is malformed for this verifier too
  need(isUint(h[1]) && h[1] >= 1, "format", "the header's height");
  need(isUint(h[2]), "format", "the header's time_ms");
  need(isUint(h[4], 100000), "format", "the header's tx_count");
  for (const i of [3, 5, 6, 7, 8, 9, 10, 11]) need(isBytes(h[i], 32), "format", "a header hash is not 32 bytes");
  return {
    fields: h, chainId: h[0], height: h[1], timeMs: h[2], prevHash: h[3], txCount: h[4], stateRoot: h[7],
    validatorsHash: h[9], nextValidatorsHash: h[10], proposer: h[11],
  };
}

export function checkValidators(vals) {
  need(Array.isArray(vals) && vals.length >= 1 && vals.length <= MAX_VALIDATORS, "format",
    "a validator set has 1 to 256 validators");
  let previous = new Uint8Array(0);
  for (const v of vals) {
    need(Array.isArray(v) && v.length === 3, "format", "a validator is [department, public_key, power]");
    need(typeof v[0] === "string" && v[0].length >= 1 && v[0].length <= 64, "format", "a validator's department");
    need(isBytes(v[1], 32), "format", "a validator's public key");
    need(isUint(v[2]) && v[2] >= 1 && v[2] <= MAX_POWER, "format", "a validator's power");
    need(compareBytes(v[1], previous) > 0, "format", "validators must be sorted by public key and unique");
    previous = v[1];
  }
  return vals;
}

const SHAPES = [
  ["actions", "case_id", "cert_id", "cert_type", "content_hash", "holder_ref", "issued_height", "issued_ms",
    "issuer", "issuer_officer", "issuer_officer_name", "materials", "metadata", "previous_version", "revoked",
    "revoked_height", "revoked_ms", "revoked_reason", "suspended", "suspended_reason", "tx_id", "updated_height",
    "updated_ms", "valid_from_ms", "valid_until_ms", "version"],
  ["department", "name", "periods", "public_key", "revoked_reason", "rotated_from", "rotated_to"],
];

/** The key set of a value's top-level map, or null if it is not a map of string keys. */
function mapKeys(value) {
  try {
    const b = value[0];
    let n;
    let at;
    if (b >= 0x80 && b <= 0x8f) { n = b & 0x0f; at = 1; }
    else if (b === 0xde && value.length >= 3) { n = (value[1] << 8) | value[2]; at = 3; }
    else if (b === 0xdf && value.length >= 5) {
      n = ((value[1] << 24) >>> 0) + (value[2] << 16) + (value[3] << 8) + value[4]; at = 5;
    } else return null;
    if (n > 64) return null;
    const keys = [];
    for (let i = 0; i < n; i++) {
      const end = itemEnd(value, at);
      const key = decode(value.slice(at, end), MAX_KEY_BYTES);
      if (typeof key !== "string") return null;
      keys.push(key);
      at = itemEnd(value, end);
    }
    return at === value.length ? keys : null;
  } catch {
    return null;
  }
}

function sameKeys(keys, shape) {
  if (keys.length !== shape.length) return false;
  const sorted = [...keys].sort();
  return sorted.every((k, i) => k === shape[i]);
}

/** A carried value's bytes: plain bytes, or rebuilt from its shape (docs/proofs.md, "Shaped values"). */
export function unshapeValue(carried) {
  if (carried instanceof Uint8Array) {
    need(carried.length <= MAX_VALUE_BYTES, "format", `a proven value is at most ${MAX_VALUE_BYTES} bytes`);
    const keys = mapKeys(carried);
    need(keys === null || !SHAPES.some((shape) => sameKeys(keys, shape)), "format",
      "a value with the keys of a shape is carried as that shape; its one encoding");
    return carried;
  }
  need(Array.isArray(carried) && carried.length === 2 && isUint(carried[0]) && isBytes(carried[1]), "format",
    "a shaped value is [shape, values]");
  need(carried[0] < SHAPES.length, "format", `shape ${carried[0]} is unknown`);
  const names = SHAPES[carried[0]];
  const packed = carried[1];
  need(packed.length <= MAX_VALUE_BYTES, "format", `a proven value is at most ${MAX_VALUE_BYTES} bytes`);
  const parts = [names.length < 16 ? Uint8Array.of(0x80 | names.length)
    : Uint8Array.of(0xde, names.length >> 8, names.length & 0xff)];
  let at = 0;
  for (const name of names) {
    let end;
    try {
      end = itemEnd(packed, at);
    } catch {
      throw new ProofError("format", `the values of shape ${carried[0]} are not ${names.length} encoded items`);
    }
    parts.push(encodeStr(name), packed.subarray(at, end));
    at = end;
  }
  need(at === packed.length, "format", `the values of shape ${carried[0]} hold more than ${names.length} items`);
  return concatBytes(...parts);
}

function decodeStateProof(item) {
  need(Array.isArray(item) && item.length === 4, "format", "a state proof is [key, value, leaf, siblings]");
  const [key, carried, leaf, run] = item;
  need(isBytes(key) && key.length <= MAX_KEY_BYTES, "format", "a state proof's key");
  const value = carried === null ? null : unshapeValue(carried);
  if (value !== null) need(leaf === null, "format", "a proof of a present key carries no leaf");
  else need(leaf === null || isBytes(leaf, 64), "format", "an absent key's leaf is nil or 64 bytes");
  need(isBytes(run) && run.length % 32 === 0 && run.length <= KEY_BITS * 32, "format",
    "siblings is a run of at most 256 hashes of 32 bytes");
  const siblings = [];
  for (let i = 0; i < run.length; i += 32) siblings.push(run.subarray(i, i + 32));
  return { key, value, leaf, siblings };
}

/** Decode one link `[header, round, signatures, validators, payload]`; `decodePayload` reads the payload kind
 * of its bundle (state proofs here, transactions in trace-verifier.js). Throws ProofError("format", ...). */
export function decodeLink(item, decodePayload) {
  need(Array.isArray(item) && item.length === 5, "format", "a link is [header, round, signatures, validators, payload]");
  const header = checkHeader(item[0]);
  need(isUint(item[1], 2 ** 31), "format", "a link's round");
  need(Array.isArray(item[2]) && item[2].length <= MAX_VALIDATORS, "format", "a link's signatures");
  const signatures = item[2].map((pair) => {
    need(Array.isArray(pair) && pair.length === 2 && isUint(pair[0], 1023) && isBytes(pair[1], 64), "format",
      "a commit signature is [validator_index, signature]");
    return { index: pair[0], signature: pair[1] };
  });
  const validators = item[3] === null ? null : checkValidators(item[3]);
  if (signatures.length === 0) {
    need(item[1] === 0 && validators === null && item[4] !== null, "format",
      `block ${header.height} carries no commit; such a link is [header, 0, [], nil, payload]`);
  }
  const payload = item[4] === null ? null : decodePayload(item[4]);
  return { header, round: item[1], signatures, validators, payload };
}

function decodeStatePayload(value) {
  need(Array.isArray(value) && value.length <= MAX_STATE_PROOFS, "format", "a state payload holds 1 to 16 keys");
  need(value.length >= 1, "format", "a state payload proves at least one key");
  return value.map(decodeStateProof);
}

/** Decode a state bundle (tag 10, version 4). Throws ProofError("format", ...). */
export function decodeStateBundle(data) {
  let value;
  try {
    value = decode(data, MAX_BUNDLE_BYTES);
  } catch (exc) {
    if (exc instanceof DecodeError) throw new ProofError("format", `malformed proof: ${exc.message}`);
    throw exc;
  }
  need(Array.isArray(value) && value.length >= 2, "format", "a proof bundle is an array [tag, version, ...]");
  const [tag, version] = value;
  if (tag === TAG_TX_BUNDLE) throw new ProofError("format", "a transaction proof, not a state proof");
  need(tag === TAG_STATE_BUNDLE, "format", `tag ${String(tag)} is not a proof bundle (10: state values)`);
  need(version !== 1 && version !== 2 && version !== 3, "format",
    `proof bundle version ${version} is of an older release; ask a node for a new proof`);
  need(version === STATE_BUNDLE_VERSION && value.length === 4, "format", "a state bundle is [10, 4, from_height, links]");
  need(isUint(value[2]), "format", "the bundle's from_height");
  need(Array.isArray(value[3]) && value[3].length <= MAX_LINKS, "format", "the bundle's links");
  const links = value[3].map((item) => decodeLink(item, decodeStatePayload));
  need(links.length >= 1 && links[links.length - 1].payload !== null, "format",
    "a bundle ends with the link whose block holds what it proves");
  need(links.slice(0, -1).every((l) => l.payload === null), "format",
    "a state bundle proves values of one block: only its last link has a payload");
  return { fromHeight: value[2], links };
}

// --- the links ----------------------------------------------------------------------------------------

async function setHash(validators) {
  return computeHash("chainnode/v1/validator-set", encode([8, 1, validators]));
}

async function blockHash(header) {
  return computeHash("chainnode/v1/block", encode([2, 1, ...header.fields]));
}

const totalPower = (set) => set.reduce((sum, v) => sum + v[2], 0);
const isQuorum = (power, total) => 3 * power > 2 * total;
const isTrusting = (power, total) => 3 * power > total;

async function checkLink(trusted, previous, link, chainId) {
  const h = link.header;
  const where = `block ${h.height}`;
  need(h.chainId === chainId, "links", `${where} is of chain ${JSON.stringify(h.chainId)}, genesis is `
    + `${JSON.stringify(chainId)}`);
  const trustedHash = await setHash(trusted);
  let signers;
  if (link.validators === null) {
    need(equalBytes(h.validatorsHash, trustedHash), "links", `${where} was signed by a validator set other than `
      + "the trusted one, and the proof does not carry that set");
    signers = trusted;
  } else {
    signers = link.validators;
    need(equalBytes(await setHash(signers), h.validatorsHash), "links",
      `the validator set carried for ${where} is not the one its header names`);
    need(!equalBytes(h.validatorsHash, trustedHash), "links",
      `${where} carries the validator set it is trusted for; its one encoding omits it`);
  }
  const hash = await blockHash(h);
  const vote = encode([5, 1, 2, h.height, link.round, hash]);
  const message = encode([utf8.encode("chainnode/v1/sign/vote"), chainId, vote]);
  const trustedPower = new Map(trusted.map((v) => [toHex(v[1]), v[2]]));
  let power = 0;
  let overlap = 0;
  let previousIndex = -1;
  const each = [];
  const signed = [];
  for (const sig of link.signatures) {
    need(sig.index > previousIndex, "links", `the commit of ${where}: signers not sorted or repeated`);
    previousIndex = sig.index;
    need(sig.index < signers.length, "links", `the commit of ${where}: no validator #${sig.index}`);
    const validator = signers[sig.index];
    if (!(await verifyEd25519(validator[1], message, sig.signature))) {
      throw new ProofError("links", `the commit of ${where}: the signature of validator #${sig.index} `
        + `(${validator[0]}) does not verify`);
    }
    signed.push(validator[0]);
    const theirs = trustedPower.get(toHex(validator[1])) ?? 0;
    power += validator[2];
    overlap += theirs;
    each.push([validator[2], theirs]);
  }
  const total = totalPower(signers);
  need(isQuorum(power, total), "links", `the commit of ${where} has ${power} of ${total} voting power; more than `
    + "2/3 needed");
  const adjacent = previous !== null && h.height === previous.height + 1
    && equalBytes(previous.nextValidatorsHash, h.validatorsHash);
  const skipping = signers !== trusted && !adjacent;
  const trustedTotal = totalPower(trusted);
  need(!skipping || isTrusting(overlap, trustedTotal), "links", `${where} is signed by a new validator set in which `
    + `the trusted validators hold ${overlap} of ${trustedTotal} power, not more than a third`);
  for (const [own, theirs] of each) {
    need(!(isQuorum(power - own, total) && (!skipping || isTrusting(overlap - theirs, trustedTotal))), "links",
      `the commit of ${where} carries a signature it does not need; a proof's commit is minimal`);
  }
  return { hash, signers, signed };
}

function isChained(links, i) {
  const link = links[i];
  const after = i + 1 < links.length ? links[i + 1] : null;
  return link.payload !== null && link.validators === null && after !== null
    && after.header.height === link.header.height + 1 && after.validators === null;
}

/**
 * Step 1 over a decoded bundle (either tag), from genesis (from_height 0) or from `trust` (parseTrust) when the
 * bundle starts at its height (chainnode.light.trust_root). Returns the last link's header, hash and signers,
 * and `fromHeight`, the root it was checked from.
 */
export async function verifyLinks(genesis, bundle, trust = null) {
  const fromTrust = bundle.fromHeight !== 0 && trust !== null && trust.height === bundle.fromHeight;
  need(bundle.fromHeight === 0 || fromTrust, "links", `the proof starts from a trust root at height `
    + `${bundle.fromHeight}, and this verifier holds ${trust === null ? "genesis only" : `a trust root at height `
    + `${trust.height}`}; ask for a proof from genesis or from the height you trust (trusted_height)`);
  const links = bundle.links;
  let trusted = fromTrust ? trust.validators : genesis.validators;
  let previous = fromTrust ? trust.header : null;
  let last = fromTrust ? trust.height : 0;
  let chained = [];
  let final = null;
  for (let i = 0; i < links.length; i++) {
    const link = links[i];
    const h = link.header;
    need(h.height > last, "links", `the links are not in increasing height order after ${last}`);
    if (isChained(links, i)) {
      need(link.signatures.length === 0, "links", `block ${h.height} is followed by block ${h.height + 1} of the `
        + "same validator set; its one encoding carries no commit");
      need(h.chainId === genesis.chainId, "links", `block ${h.height} is of chain ${JSON.stringify(h.chainId)}, `
        + `genesis is ${JSON.stringify(genesis.chainId)}`);
      need(equalBytes(h.validatorsHash, await setHash(trusted)), "links", `block ${h.height} was signed by a `
        + "validator set other than the trusted one, and the proof does not carry that set");
      chained.push(link);
      last = h.height;
      continue;
    }
    need(link.signatures.length > 0, "links", `block ${h.height} carries no commit, and the next link is not the `
      + "block above it signed by the same validator set");
    if (link.payload === null) {
      const after = i + 1 < links.length ? links[i + 1] : null;
      const changes = link.validators !== null || (after !== null && after.validators !== null
        && after.header.height === h.height + 1);
      need(changes, "links", `the hop at block ${h.height} moves no trust: a hop carries a new validator set or `
        + "precedes the block that does");
    }
    const checked = await checkLink(trusted, previous, link, genesis.chainId);
    let expected = h.prevHash;
    for (let j = chained.length - 1; j >= 0; j--) {
      need(equalBytes(await blockHash(chained[j].header), expected), "links", `block ${chained[j].header.height} is `
        + `not the block that block ${chained[j].header.height + 1} follows (its prev_hash)`);
      expected = chained[j].header.prevHash;
    }
    chained = [];
    trusted = checked.signers;
    previous = h;
    last = h.height;
    final = { header: h, hash: checked.hash, signers: checked.signers, signed: checked.signed,
      fromHeight: bundle.fromHeight };
  }
  return final;
}

// --- state paths (docs/state.md, "Verification") ------------------------------------------------------

const bit = (hash, depth) => (hash[depth >> 3] >> (7 - (depth & 7))) & 1;

async function checkStateProof(root, proof) {
  const keyHash = await computeHash("chainnode/v1/state-key", proof.key);
  let leaf = proof.leaf;
  if (proof.value !== null) leaf = concatBytes(keyHash, await computeHash("chainnode/v1/state-value", proof.value));
  const depth = proof.siblings.length;
  if (proof.value === null && leaf !== null) {
    need(!equalBytes(leaf.subarray(0, 32), keyHash), "state", "the leaf of an absent key holds that key");
    for (let j = 0; j < depth; j++) {
      need(bit(leaf, j) === bit(keyHash, j), "state", "the leaf of an absent key is off its path");
    }
  }
  let node = leaf === null ? new Uint8Array(32) : await computeHash("chainnode/v1/state-leaf", leaf);
  for (let i = 0; i < depth; i++) {
    const sibling = proof.siblings[i];
    const pair = bit(keyHash, depth - 1 - i) ? concatBytes(sibling, node) : concatBytes(node, sibling);
    node = await computeHash("chainnode/v1/state-node", pair);
  }
  need(equalBytes(node, root), "state", "the state path does not lead to the block's state_root");
}

/**
 * Verify a state bundle against `genesis` (from parseGenesis), or against `trust` (parseTrust) when the bundle
 * starts at its height. Returns `{height, timeMs, blockHash, links, signedBy, fromHeight, values: [{key,
 * value}]}`; `value` is null for a proven absence; `fromHeight` is the root's height (0: genesis). Throws
 * ProofError naming the stage and the check that failed.
 */
export async function verifyStateBundle(genesis, data, trust = null) {
  const bundle = decodeStateBundle(data);
  const final = await verifyLinks(genesis, bundle, trust);
  const last = bundle.links[bundle.links.length - 1];
  const values = [];
  for (const proof of last.payload) {
    await checkStateProof(final.header.stateRoot, proof);
    values.push({ key: proof.key, value: proof.value });
  }
  return {
    height: final.header.height, timeMs: final.header.timeMs, blockHash: final.hash, links: bundle.links.length,
    signedBy: final.signed, fromHeight: bundle.fromHeight, values,
  };
}
