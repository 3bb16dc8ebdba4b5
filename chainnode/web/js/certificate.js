// A certificate check in the browser (docs/proofs.md, "A certificate"): the state bundle proves, under one
// block, the certificate's record (`cert/<id>`), the issuing officer's roster record (`gov/member/<key>`)
// and, for a superseded file, that version's record. Everything reported is read from the proven values.
// The verdicts and their order are chainnode.cert_verify's.

import { DecodeError, concatBytes, decode, equalBytes, toHex } from "./msgpack.js";
import { ProofError, verifyStateBundle } from "./verifier.js";

const MAX_RECORD_BYTES = 1 << 20;
const CERT_ID = /^[0-9a-f]{32}$/;
const utf8 = new TextEncoder();
const asciiKey = new TextDecoder("utf-8", { fatal: false });

export const VERDICTS = ["VALID", "NOT AUTHORISED", "SUPERSEDED VERSION", "CONTENT DIFFERS", "REVOKED", "SUSPENDED",
  "EXPIRED", "NOT YET VALID", "NOT FOUND", "INVALID PROOF"];

export function isCertId(text) {
  return typeof text === "string" && CERT_ID.test(text);
}

const certKey = (id) => utf8.encode(`cert/${id}`);
const memberKey = (publicKey) => concatBytes(utf8.encode("gov/member/"), publicKey);

function versionKey(id, version) {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, version);
  return concatBytes(utf8.encode(`cert/${id}/v/`), out);
}

function decodeRecord(value, what) {
  let record;
  try {
    record = decode(value, MAX_RECORD_BYTES);
  } catch (exc) {
    if (exc instanceof DecodeError) {
      throw new ProofError("record", `the proven value is not canonical: ${exc.message}`);
    }
    throw exc;
  }
  if (!(record instanceof Map)) throw new ProofError("record", `the proven value is not ${what}`);
  return record;
}

const KINDS = {
  str: (v) => typeof v === "string",
  int: (v) => typeof v === "number" || typeof v === "bigint",
  bytes: (v) => v instanceof Uint8Array,
  list: (v) => Array.isArray(v),
};

function field(record, name, kind, what) {
  const value = record.get(name);
  if (!KINDS[kind](value)) {
    throw new ProofError("record", `the proven value is not ${what} (${name} is not ${kind})`);
  }
  return value;
}

/** Python's truth value of a decoded field (the contract's status rule reads `if record["revoked"]`). */
function isTruthy(v) {
  if (v === null || v === undefined || v === false || v === 0 || v === 0n || v === "") return false;
  if (v instanceof Uint8Array || Array.isArray(v)) return v.length > 0;
  if (v instanceof Map) return v.size > 0;
  return true;
}

const lessThan = (a, b) => BigInt(a) < BigInt(b);

function statusAt(record, timeMs) {
  if (isTruthy(record.get("revoked"))) return "revoked";
  if (isTruthy(record.get("suspended"))) return "suspended";
  const from = field(record, "valid_from_ms", "int", "a certificate record");
  if (lessThan(timeMs, from)) return "not_yet_valid";
  const until = record.get("valid_until_ms");
  if (until !== null && until !== undefined) {
    if (!KINDS.int(until)) throw new ProofError("record", "the proven value is not a certificate record "
      + "(valid_until_ms is not int)");
    if (!lessThan(timeMs, until)) return "expired";
  }
  return "valid";
}

function rolesAt(periods, height) {
  let current = null;
  for (const period of periods) {
    if (!Array.isArray(period) || period.length !== 2 || !KINDS.int(period[0]) || !Array.isArray(period[1])
        || !period[1].every((r) => typeof r === "string")) {
      throw new ProofError("record", "the proven roster record's role periods are malformed");
    }
    if (lessThan(height, period[0])) break;
    current = period[1];
  }
  return current ?? [];
}

function fileVersion(extra, id, version, content, fileHash) {
  if (fileHash === null) return null;
  if (equalBytes(fileHash, content)) return version;
  if (extra.length > 1) throw new ProofError("record", "the proof carries more values than a certificate check uses");
  if (extra.length === 0) return null;
  const old = extra[0];
  if (old.value === null) throw new ProofError("record", "version check failed: the proof shows no record of the "
    + "version it names");
  const older = decodeRecord(old.value, "a certificate record");
  const number = field(older, "version", "int", "a certificate record");
  if (typeof number !== "number" || number < 1 || number >= version || number > 0xffffffff
      || !equalBytes(old.key, versionKey(id, number))) {
    throw new ProofError("record", "version check failed: the third value is not a superseded version of this "
      + "certificate");
  }
  return equalBytes(field(older, "content_hash", "bytes", "a certificate record"), fileHash) ? number : null;
}

/** The certificate ID a bundle is about, read from its first key (or null): for a proof file or QR code
 * given without the ID. The check below still requires the key to be that ID's. */
export function certIdOfKey(key) {
  const text = asciiKey.decode(key);
  return text.startsWith("cert/") && isCertId(text.slice(5)) ? text.slice(5) : null;
}

function verdictOf(result) {
  if (!result.officerHeldIssuer) return "NOT AUTHORISED";
  if (result.contentMatches === false) return result.fileVersion !== null ? "SUPERSEDED VERSION" : "CONTENT DIFFERS";
  return result.status.toUpperCase().replace(/_/g, " ");
}

/**
 * Check a certificate bundle against `genesis` (from parseGenesis). `certId` is the ID asked about (32 hex
 * digits) or null to take it from the proof's first key; `fileHash` the SHA-256 of a presented file, or null.
 * `trust` is a trust root (parseTrust of verifier.js) for a bundle that starts at its height, or null.
 * Returns {ok, verdict, ...details}; `ok` is true only for VALID; `fromHeight` says which root the proof was
 * checked from (0: genesis). A proof that fails gives verdict "INVALID PROOF" with `stage` and `reason`;
 * nothing in such a result comes from the proof.
 */
export async function checkCertificate(genesis, certId, data, fileHash = null, trust = null) {
  try {
    return await checkCertificateOrThrow(genesis, certId, data, fileHash, trust);
  } catch (exc) {
    if (exc instanceof ProofError) {
      return { ok: false, verdict: "INVALID PROOF", stage: exc.stage, reason: exc.message, proofBytes: data.length };
    }
    throw exc;
  }
}

async function checkCertificateOrThrow(genesis, askedId, data, fileHash, trust) {
  const proven = await verifyStateBundle(genesis, data, trust);
  const first = proven.values[0];
  const id = askedId ?? certIdOfKey(first.key);
  if (id === null || !equalBytes(first.key, certKey(id))) {
    throw new ProofError("record", "the proof is for another key than this certificate's record");
  }
  const base = {
    certId: id, provenHeight: proven.height, provenTimeMs: proven.timeMs, blockHash: toHex(proven.blockHash),
    signedBy: proven.signedBy, links: proven.links, proofBytes: data.length, fromHeight: proven.fromHeight,
  };
  if (first.value === null) {
    return { ...base, ok: false, verdict: "NOT FOUND", reasons: [] };
  }
  const what = "a certificate record";
  const record = decodeRecord(first.value, what);
  if (field(record, "cert_id", "str", what) !== id) {
    throw new ProofError("record", "the proven record is of another certificate");
  }
  const officer = field(record, "issuer_officer", "bytes", what);
  const issuedHeight = field(record, "issued_height", "int", what);
  if (proven.values.length < 2) throw new ProofError("record", "the proof lacks the issuing officer's roster record");
  const roster = proven.values[1];
  if (!equalBytes(roster.key, memberKey(officer))) {
    throw new ProofError("record", "the second value is not the issuing officer's roster record");
  }
  if (roster.value === null) throw new ProofError("record", "the issuing officer's key was never registered");
  const member = decodeRecord(roster.value, "a roster record");
  const periods = field(member, "periods", "list", "a roster record");
  const roles = rolesAt(periods, issuedHeight);
  const department = field(member, "department", "str", "a roster record");
  const issuer = field(record, "issuer", "str", what);
  const version = field(record, "version", "int", what);
  const content = field(record, "content_hash", "bytes", what);
  const fileVer = fileVersion(proven.values.slice(2), id, version, content, fileHash);
  const status = statusAt(record, proven.timeMs);
  const reasons = [];
  if (status === "revoked") reasons.push({ key: "reason_revoked", text: String(record.get("revoked_reason") ?? "") });
  if (status === "suspended") {
    reasons.push({ key: "reason_suspended", text: String(record.get("suspended_reason") ?? "") });
  }
  if (department !== issuer) reasons.push({ key: "reason_other_department", text: `${department} ≠ ${issuer}` });
  if (!roles.includes("issuer")) {
    reasons.push({ key: "reason_not_issuer", text: `${roles.join(", ") || "-"} @ ${issuedHeight}` });
  }
  if (fileVer !== null && fileVer < version) reasons.push({ key: "reason_superseded", text: `${fileVer} < ${version}` });
  const until = record.get("valid_until_ms");
  const result = {
    ...base,
    certType: field(record, "cert_type", "str", what),
    issuer,
    issuerName: genesis.names.get(issuer) ?? null,
    officer: toHex(officer),
    officerName: field(member, "name", "str", "a roster record"),
    officerDepartment: department,
    officerRoles: roles,
    officerHeldIssuer: roles.includes("issuer") && department === issuer,
    issuedHeight,
    issuedMs: field(record, "issued_ms", "int", what),
    version,
    status,
    contentHash: toHex(content),
    contentMatches: fileHash === null ? null : equalBytes(fileHash, content),
    fileVersion: fileVer,
    validFromMs: field(record, "valid_from_ms", "int", what),
    validUntilMs: KINDS.int(until) ? until : null,
    reasons,
  };
  result.verdict = verdictOf(result);
  result.ok = result.verdict === "VALID";
  return result;
}
