// Transaction bundles (tag 11) and history pages, verified in the browser against genesis (or a trust file), as
// docs/proofs.md says (steps 1 and 2b, "A history page") and as chainnode.light.verify_txs and
// chainnode.trace_verify.verify_trace do: the links, then per block its transactions and results under the
// header's tx_root and results_root (multiproofs), each transaction's own signature, and last that every
// event a node listed is exactly a proven transaction. Every failure is a ProofError naming the check.

import { DecodeError, concatBytes, decode, encode, toHex } from "./msgpack.js";
import {
  MAX_BUNDLE_BYTES, ProofError, computeHash, decodeLink, isBytes, isUint, need, sha256, verifyEd25519, verifyLinks,
} from "./verifier.js";

const TAG_TX_BUNDLE = 11;
const TX_BUNDLE_VERSION = 3;
const MAX_LINKS = 20000;
const MAX_TXS_PER_LINK = 100000;
const MAX_ENTRY_BYTES = 1 << 20;
const MAX_TX_BYTES = 64 * 1024;
const MAX_RESULT_BYTES = 64 * 1024;
const HASH = 32;
const NAME = /^[a-z][a-z0-9_]*$/;
const MAX_INT64 = 2n ** 63n - 1n;
const utf8 = new TextEncoder();

const codePoints = (s) => [...s].length;
const isStr = (v, lo, hi) => typeof v === "string" && codePoints(v) >= lo && codePoints(v) <= hi;

function decodeStrict(data, maxSize, stage, what) {
  try {
    return decode(data, maxSize);
  } catch (exc) {
    if (exc instanceof DecodeError) throw new ProofError(stage, `malformed ${what}: ${exc.message}`);
    throw exc;
  }
}

function hashes(run, field, maxCount) {
  need(isBytes(run) && run.length % HASH === 0 && run.length <= maxCount * HASH, "format",
    `${field} is a run of at most ${maxCount} hashes of ${HASH} bytes`);
  const out = [];
  for (let i = 0; i < run.length; i += HASH) out.push(run.subarray(i, i + HASH));
  return out;
}

function decodeTxPayload(value) {
  need(Array.isArray(value) && value.length === 3, "format", "a block's transactions are [entries, tx_proof, "
    + "result_proof]");
  need(Array.isArray(value[0]) && value[0].length <= MAX_TXS_PER_LINK, "format", "a block's entries");
  const entries = value[0].map((entry) => {
    need(Array.isArray(entry) && entry.length === 3, "format", "a transaction entry is [index, tx, result]");
    need(isUint(entry[0], MAX_TXS_PER_LINK), "format", "a transaction entry's index");
    need(isBytes(entry[1]) && entry[1].length <= MAX_ENTRY_BYTES, "format", "a transaction entry's tx");
    need(isBytes(entry[2]) && entry[2].length <= MAX_ENTRY_BYTES, "format", "a transaction entry's result");
    return { index: entry[0], txBytes: entry[1], resultBytes: entry[2] };
  });
  need(entries.length >= 1, "format", "a block's transaction payload names at least one transaction");
  const bound = 2 * 17 * entries.length + 34;
  return { entries, txProof: hashes(value[1], "tx_proof", bound), resultProof: hashes(value[2], "result_proof", bound) };
}

/** Decode a transaction bundle (tag 11, version 3). Throws ProofError("format", ...). */
export function decodeTxBundle(data) {
  const value = decodeStrict(data, MAX_BUNDLE_BYTES, "format", "proof");
  need(Array.isArray(value) && value.length >= 2, "format", "a proof bundle is an array [tag, version, ...]");
  const [tag, version] = value;
  need(tag !== 10, "format", "a state proof, not a transaction proof");
  need(tag === TAG_TX_BUNDLE, "format", `tag ${String(tag)} is not a proof bundle (11: transactions)`);
  need(version !== 1 && version !== 2, "format",
    `proof bundle version ${version} is of an older release; ask a node for a new proof`);
  need(version === TX_BUNDLE_VERSION && value.length === 4, "format", "a transaction bundle is [11, 3, from_height, "
    + "links]");
  need(isUint(value[2]) || (typeof value[2] === "bigint" && value[2] >= 0n && value[2] <= MAX_INT64), "format",
    "the bundle's from_height");
  need(Array.isArray(value[3]) && value[3].length <= MAX_LINKS, "format", "the bundle's links");
  const links = value[3].map((item) => decodeLink(item, decodeTxPayload));
  need(links.length >= 1 && links[links.length - 1].payload !== null, "format",
    "a bundle ends with the link whose block holds what it proves");
  return { fromHeight: value[2], links };
}

// --- transactions and results -------------------------------------------------------------------------

function decodeTransaction(raw, where) {
  const v = decodeStrict(raw, MAX_TX_BYTES, "transactions", `transaction in ${where}`);
  need(Array.isArray(v) && v.length >= 2 && v[0] === 1 && v[1] === 1 && v.length === 10, "transactions",
    `malformed transaction in ${where}: not [1, 1, ...8 fields]`);
  const [, , chainId, contract, method, args, signer, nonce, expiry, signature] = v;
  need(isStr(chainId, 1, 64), "transactions", `malformed transaction in ${where}: chain_id`);
  need(isStr(contract, 1, 64) && NAME.test(contract), "transactions", `malformed transaction in ${where}: contract`);
  need(isStr(method, 1, 64) && NAME.test(method), "transactions", `malformed transaction in ${where}: method`);
  need(isBytes(signer, 32), "transactions", `malformed transaction in ${where}: signer`);
  need(isBytes(nonce) && nonce.length >= 8 && nonce.length <= 32, "transactions",
    `malformed transaction in ${where}: nonce`);
  need((isUint(expiry) && expiry >= 1) || (typeof expiry === "bigint" && expiry >= 1n && expiry <= MAX_INT64),
    "transactions", `malformed transaction in ${where}: expiry_height`);
  need(isBytes(signature, 64), "transactions", `malformed transaction in ${where}: signature`);
  // the body is the same field bytes under [9, 1, ...] (chainnode.tx.compute_body_bytes)
  const body = concatBytes(Uint8Array.of(0x99, 0x09), raw.subarray(2, raw.length - 66));
  return { chainId, contract, method, args, signer, signature, body };
}

function decodeResult(raw, where) {
  const v = decodeStrict(raw, MAX_RESULT_BYTES, "transactions", `result in ${where}`);
  need(Array.isArray(v) && v.length >= 2 && v[0] === 6 && v[1] === 1 && v.length === 6, "transactions",
    `malformed result in ${where}: not [6, 1, ...4 fields]`);
  const [, , txId, code, message, events] = v;
  need(isBytes(txId, 32), "transactions", `malformed result in ${where}: tx_id`);
  need(isStr(code, 1, 64), "transactions", `malformed result in ${where}: code`);
  need(isStr(message, 0, 4096), "transactions", `malformed result in ${where}: message`);
  need(Array.isArray(events) && events.length <= 256, "transactions", `malformed result in ${where}: events`);
  const kinds = events.map((e) => {
    need(Array.isArray(e) && e.length === 2 && e[1] instanceof Map, "transactions",
      `malformed result in ${where}: an event is [kind, attributes]`);
    need(isStr(e[0], 0, 64), "transactions", `malformed result in ${where}: an event's kind`);
    return e[0];
  });
  return { txId, code, message, kinds };
}

const LEAF = Uint8Array.of(0);
const NODE = Uint8Array.of(1);

function split(n) {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * The root a multiproof gives for leaf hashes `leaves` (Map index -> hash) in a tree of `size` leaves, or
 * null when they do not fit together (docs/proofs.md, "Multiproof"; chainnode.merkle.compute_multiproof_root).
 */
export async function computeMultiproofRoot(leaves, size, proof) {
  const chosen = [...leaves.keys()].sort((a, b) => a - b);
  if (chosen.length === 0 || chosen[0] < 0 || chosen[chosen.length - 1] >= size) return null;
  let position = 0;
  const lowerBound = (value, first, last) => {
    let lo = first;
    let hi = last;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (chosen[mid] < value) lo = mid + 1; else hi = mid;
    }
    return lo;
  };
  const walk = async (lo, hi, first, last) => {
    if (first === last) {
      if (position >= proof.length) return null;
      position += 1;
      return proof[position - 1];
    }
    if (hi - lo === 1) return leaves.get(lo);
    const mid = lo + split(hi - lo);
    const at = lowerBound(mid, first, last);
    const left = await walk(lo, mid, first, at);
    if (left === null) return null;
    const right = await walk(mid, hi, at, last);
    if (right === null) return null;
    return sha256(concatBytes(NODE, left, right));
  };
  const root = await walk(0, size, 0, chosen.length);
  return root !== null && position === proof.length ? root : null;
}

async function checkPayload(header, payload) {
  const h = header;
  let previous = -1;
  const out = [];
  const txLeaves = new Map();
  const resultLeaves = new Map();
  for (const entry of payload.entries) {
    need(previous < entry.index && entry.index < h.txCount, "transactions", `block ${h.height}'s transaction `
      + `indexes are not increasing within its ${h.txCount} transactions`);
    previous = entry.index;
    const where = `block ${h.height}`;
    const tx = decodeTransaction(entry.txBytes, where);
    const result = decodeResult(entry.resultBytes, where);
    const txId = await computeHash("chainnode/v1/tx", tx.body);
    need(toHex(result.txId) === toHex(txId), "transactions",
      `the result at index ${entry.index} belongs to another transaction`);
    txLeaves.set(entry.index, await sha256(concatBytes(LEAF, entry.txBytes)));
    resultLeaves.set(entry.index, await sha256(concatBytes(LEAF, entry.resultBytes)));
    out.push({ height: h.height, timeMs: h.timeMs, index: entry.index, tx, txId: toHex(txId), result });
  }
  const txRoot = await computeMultiproofRoot(txLeaves, h.txCount, payload.txProof);
  need(txRoot !== null && toHex(txRoot) === toHex(h.fields[5]), "transactions",
    `the transactions are not in block ${h.height}'s tx_root at their indexes`);
  const resultsRoot = await computeMultiproofRoot(resultLeaves, h.txCount, payload.resultProof);
  need(resultsRoot !== null && toHex(resultsRoot) === toHex(h.fields[6]), "transactions",
    `the results are not in block ${h.height}'s results_root at their indexes`);
  return out;
}

/**
 * Verify a transaction bundle against `genesis` (from parseGenesis), or against `trust` (parseTrust) when the
 * bundle starts at its height. Returns every proven transaction in chain order: `{height, timeMs, index, txId,
 * contract, method, args, signer, code, message, kinds}`, with `blocks`, `links` and `fromHeight` (the root's
 * height, 0 for genesis). Throws ProofError naming the stage and the check that failed.
 */
export async function verifyTxBundle(genesis, data, trust = null) {
  const bundle = decodeTxBundle(data);
  await verifyLinks(genesis, bundle, trust);
  const proven = [];
  for (const link of bundle.links) {
    if (link.payload !== null) proven.push(...await checkPayload(link.header, link.payload));
  }
  for (const p of proven) {
    const message = encode([utf8.encode("chainnode/v1/sign/tx"), p.tx.chainId, p.tx.body]);
    need(await verifyEd25519(p.tx.signer, message, p.tx.signature), "transactions",
      `the signature of transaction ${p.txId} in block ${p.height} does not verify`);
  }
  const txs = proven.map((p) => ({
    height: p.height, timeMs: p.timeMs, index: p.index, txId: p.txId, contract: p.tx.contract,
    method: p.tx.method, args: p.tx.args, signer: toHex(p.tx.signer), code: p.result.code,
    message: p.result.message, kinds: p.result.kinds,
  }));
  return { txs, blocks: bundle.links.filter((l) => l.payload !== null).length, links: bundle.links.length,
    fromHeight: bundle.fromHeight };
}

/**
 * Verify one transaction's bundle (GET /v1/txs/{id}/proof) as `chainnode tx proof` does
 * (chainnode.light.verify_tx_bundle): the bundle, that it proves exactly one transaction, and that this is
 * `txIdHex`. Returns that transaction (as verifyTxBundle lists it). Throws ProofError.
 */
export async function verifyTxProof(genesis, data, txIdHex, trust = null) {
  const checked = await verifyTxBundle(genesis, data, trust);
  need(checked.txs.length === 1, "transactions",
    `expected a proof of one transaction, this one proves ${checked.txs.length}`);
  const [tx] = checked.txs;
  need(tx.txId === txIdHex, "transactions", `the proof is for transaction ${tx.txId}, not ${txIdHex}`);
  return tx;
}

function mismatch(event, what) {
  return new ProofError("events", `event at height ${String(event?.height)} index ${String(event?.index)}: the `
    + `node's ${what} differs from the proven transaction`);
}

const positionKey = (height, index) => `${String(height)}/${String(index)}`;

/**
 * Check that every event of a history page (`events`, as the node listed them) is a proven transaction of
 * `bundleBytes` and that the bundle proves nothing else (chainnode.trace_verify.verify_trace). Returns
 * `{events, blocks, links}`; throws ProofError naming the first event or check that fails.
 */
export async function verifyHistoryPage(genesis, events, bundleBytes, trust = null) {
  need(Array.isArray(events), "events", "the page's events are not a list");
  const checked = await verifyTxBundle(genesis, bundleBytes, trust);
  const byPosition = new Map(checked.txs.map((p) => [positionKey(p.height, p.index), p]));
  need(byPosition.size === events.length, "events",
    `the proof holds ${byPosition.size} transactions and the page lists ${events.length} events`);
  const listed = new Set(events.map((e) => positionKey(e?.height, e?.index)));
  need(listed.size === byPosition.size && [...listed].every((k) => byPosition.has(k)), "events",
    "the page lists an event twice or one the proof does not hold");
  for (const event of events) {
    need(event !== null && typeof event === "object" && Number.isInteger(event.height)
      && Number.isInteger(event.index), "events", "an event has no height and index");
    const p = byPosition.get(positionKey(event.height, event.index));
    if (p === undefined) throw mismatch(event, "position");
    const checks = [["tx_id", p.txId], ["contract", p.contract], ["method", p.method], ["signer", p.signer],
      ["time_ms", p.timeMs], ["code", p.code], ["message", p.message]];
    for (const [name, value] of checks) if (event[name] !== value) throw mismatch(event, name);
    const listedEvents = event.events ?? [];
    if (!Array.isArray(listedEvents)) throw mismatch(event, "events");
    const kinds = listedEvents.map((e) => (e !== null && typeof e === "object" ? e.kind : undefined));
    if (kinds.length !== p.kinds.length || kinds.some((k, i) => k !== p.kinds[i])) throw mismatch(event, "events");
  }
  return { events: events.length, blocks: checked.blocks, links: checked.links, fromHeight: checked.fromHeight };
}
