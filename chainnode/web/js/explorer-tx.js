// The explorer's transaction and member views. A transaction's status, place, block time and result code are
// public (GET /v1/txs/{id}, GET /v1/blocks/{h}); its events and arguments are read with the member key loaded
// in the page (session.js fetchSigned): the events from the signed GET /v1/txs/{id}, the arguments from the
// transaction itself, carried by its proof bundle (GET /v1/txs/{id}/proof?format=msgpack). The node answers
// both to its signer's department's staff and to auditors; a 401 or 403 is said in place. The proof bundle is
// verified in full against the genesis pinned in this browser (trace-verifier.js verifyTxProof: the links from
// genesis, the transaction and its result under the block's roots, its signature), and the proven place and
// result must be the ones the node listed; the page says against which genesis, or why it does not verify.

import { clear, el, formatTime } from "./dom.js";
import { t } from "./i18n.js";
import { DecodeError, decode, toHex } from "./msgpack.js";
import { pinnedGenesis } from "./audit-genesis.js";
import { currentMember, fetchSigned, readJson } from "./session.js";
import { decodeTxBundle, verifyTxProof } from "./trace-verifier.js";
import { ProofError, computeHash } from "./verifier.js";

const FETCH_TIMEOUT_MS = 15000;
const MAX_PROOF_BYTES = 32 * 1024 * 1024;
const MAX_TX_BYTES = 64 * 1024;
const MAX_ITEMS = 200; // per list or map shown
const MAX_DEPTH = 6;
const MAX_TEXT = 2000;
export const HEX64 = /^[0-9a-f]{64}$/;

/** A refusal for want of a key (401) or of the right key (403): the page names the key that is needed. */
export class AccessRefused extends Error {
  constructor(status) {
    super(`HTTP ${status}`);
    this.status = status;
  }
}

async function withTimeout(run) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), FETCH_TIMEOUT_MS);
  try {
    return await run(controller.signal);
  } finally {
    clearTimeout(timer);
  }
}

/** GET `path` (signed when a key is loaded) as JSON; throws AccessRefused on 401/403, Error otherwise. */
export async function getSignedJson(path) {
  return withTimeout(async (signal) => {
    const answer = await fetchSigned(path, { signal, cache: "no-store", headers: { Accept: "application/json" } });
    const body = await readJson(answer);
    if (answer.status === 401 || answer.status === 403) throw new AccessRefused(answer.status);
    if (!answer.ok) throw new Error(typeof body?.detail === "string" ? body.detail.slice(0, 500) : `HTTP ${answer.status}`);
    if (body === null || typeof body !== "object") throw new Error(t("load_failed_not_json"));
    return body;
  });
}

async function getSignedBytes(path) {
  return withTimeout(async (signal) => {
    const answer = await fetchSigned(path, { signal, cache: "no-store", headers: { Accept: "application/msgpack" } });
    if (answer.status === 401 || answer.status === 403) throw new AccessRefused(answer.status);
    if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
    if (Number(answer.headers.get("Content-Length") ?? "0") > MAX_PROOF_BYTES) {
      await answer.body?.cancel();
      throw new Error(t("tx_proof_too_large"));
    }
    return readBounded(answer, MAX_PROOF_BYTES);
  });
}

/** The answer's bytes, read as they arrive and given up past `max` (a missing or false length is no help). */
async function readBounded(answer, max) {
  const reader = answer.body.getReader();
  const parts = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel();
      throw new Error(t("tx_proof_too_large"));
    }
    parts.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** What a refusal means in this place: no key loaded, or a key the node does not accept for this record (not
 * on the roster, or neither of the signer's department nor an auditor's). */
export function accessText(exc) {
  if (!(exc instanceof AccessRefused)) return `${t("load_failed")}${exc.message}`;
  return currentMember() === null ? t("tx_needs_key") : t("tx_wrong_key");
}

// --- values -------------------------------------------------------------------------------------------

/** A decoded msgpack or JSON value as nodes: text only, bounded in depth, items and length. */
export function valueNode(value, depth = 0) {
  if (value instanceof Uint8Array) return el("span", { class: "mono hash" }, bounded(toHex(value)));
  if (value === null || value === undefined) return el("span", { class: "muted" }, "null");
  if (typeof value !== "object") return el("span", { class: typeof value === "string" ? "" : "mono" }, bounded(String(value)));
  if (depth >= MAX_DEPTH) return el("span", { class: "muted" }, "…");
  const entries = value instanceof Map ? [...value.entries()]
    : Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
  if (entries.length === 0) return el("span", { class: "muted" }, Array.isArray(value) ? "[]" : "{}");
  const list = el("dl", { class: "pairs value-tree" });
  for (const [k, v] of entries.slice(0, MAX_ITEMS)) {
    list.append(el("dt", {}, bounded(String(k))), el("dd", {}, valueNode(v, depth + 1)));
  }
  if (entries.length > MAX_ITEMS) list.append(el("dt", {}, "…"), el("dd", { class: "muted" }, t("more_items", { n: entries.length - MAX_ITEMS })));
  return list;
}

function bounded(text) {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text;
}

// --- the arguments, from the transaction's proof bundle ----------------------------------------------------

/** The arguments of the transaction `txIdHex` committed at (height, index), from its tag-11 bundle's bytes. The
 * transaction is found by its place and must hash to the ID asked for. Throws Error or ProofError. */
export async function argumentsFromBundle(data, txIdHex, height, index) {
  const bundle = decodeTxBundle(data);
  const link = bundle.links.find((l) => l.payload !== null && l.header.height === height);
  const entry = link?.payload.entries.find((e) => e.index === index);
  if (!entry) throw new Error(t("tx_not_in_proof"));
  const raw = entry.txBytes;
  let value;
  try {
    value = decode(raw, MAX_TX_BYTES);
  } catch (exc) {
    if (exc instanceof DecodeError) throw new Error(`${t("tx_not_in_proof")} (${exc.message})`);
    throw exc;
  }
  if (!Array.isArray(value) || value.length !== 10 || value[0] !== 1 || value[1] !== 1) throw new Error(t("tx_not_in_proof"));
  // the ID hashes the body: the same field bytes under [9, 1, ...] without the signature (chainnode.tx)
  const body = new Uint8Array(raw.length - 66);
  body.set([0x99, 0x09]);
  body.set(raw.subarray(2, raw.length - 66), 2);
  if (toHex(await computeHash("chainnode/v1/tx", body)) !== txIdHex) throw new Error(t("tx_not_in_proof"));
  return { contract: value[3], method: value[4], args: value[5], signer: toHex(value[6]), expiry: value[8] };
}

// --- the transaction view -----------------------------------------------------------------------------

const pair = (label, value, attrs = {}) => [el("dt", {}, label), el("dd", attrs, value)];

/** Render transaction `txIdHex` into `body` (cleared). `isCurrent()` says whether the page still shows it. */
export async function renderTx(body, txIdHex, isCurrent) {
  clear(body).append(el("p", { class: "muted" }, t("loading")));
  let status;
  try {
    status = await getSignedJson(`/v1/txs/${txIdHex}`);
  } catch (exc) {
    if (!isCurrent()) return;
    // a signed read the node refuses (403): the public answer still has the status and result code
    if (exc instanceof AccessRefused) {
      try {
        status = await publicJson(`/v1/txs/${txIdHex}`);
        status.refused = exc;
      } catch (inner) {
        clear(body).append(el("p", { class: "muted", id: "tx-error" }, accessText(inner)));
        return;
      }
    } else {
      clear(body).append(el("p", { class: "muted", id: "tx-error" }, `${t("load_failed")}${exc.message}`));
      return;
    }
  }
  if (!isCurrent()) return;
  const height = Number.isSafeInteger(status.height) ? status.height : null;
  const index = Number.isSafeInteger(status.index) ? status.index : null;
  let block = null;
  if (height !== null) {
    try {
      block = await publicJson(`/v1/blocks/${height}`);
    } catch {
      block = null;
    }
  }
  if (!isCurrent()) return;
  const result = status.result && typeof status.result === "object" ? status.result : {};
  const code = typeof result.code === "string" ? result.code : typeof status.code === "string" ? status.code : "";
  const message = typeof result.message === "string" ? result.message : typeof status.message === "string" ? status.message : "";
  const listed = index !== null && Array.isArray(block?.txs) ? block.txs[index] : null;
  const call = listed && listed.tx_id === txIdHex ? listed : null;
  clear(body);
  body.append(el("dl", { class: "pairs", id: "tx-public" },
    ...pair(t("tx_id"), txIdHex, { class: "mono hash" }),
    ...pair(t("tx_status"), String(status.status ?? "?"), { id: "tx-status" }),
    ...pair(t("col_height"), height === null ? "—" : el("a", { href: `#block=${height}` }, String(height)), { id: "tx-height" }),
    ...pair(t("tx_index"), index === null ? "—" : String(index)),
    ...pair(t("col_time"), Number.isSafeInteger(block?.header?.time_ms) ? formatTime(block.header.time_ms) : "—"),
    ...pair(t("col_result"), code ? el("span", { class: `badge ${code === "ok" ? "ok" : "bad"}`, id: "tx-code" },
      `${code === "ok" ? "✓" : "✗"} ${code}`) : "—"),
    ...pair(t("tx_message"), message || "—", { id: "tx-message" })));
  if (call) {
    body.append(el("h3", {}, t("tx_call")), el("dl", { class: "pairs", id: "tx-call" },
      ...pair(t("tx_contract"), `${call.contract}.${call.method}`, { class: "mono" }),
      ...pair(t("tx_signer"), HEX64.test(call.signer ?? "")
        ? el("a", { href: `#member=${call.signer}`, class: "mono hash", id: "tx-signer" }, call.signer) : "—")));
  }
  if (status.status !== "committed" || height === null || index === null) return;
  const member = currentMember();
  const detail = el("section", { id: "tx-detail-signed", "aria-live": "polite" });
  body.append(detail);
  if (member === null) {
    detail.append(el("p", { class: "note", id: "tx-needs-key" }, t("tx_needs_key")));
    return;
  }
  if (status.refused) {
    detail.dataset.refused = "1";
    detail.append(el("p", { class: "note", id: "tx-needs-key" }, accessText(status.refused)));
    return;
  }
  const events = Array.isArray(result.events) ? result.events : [];
  detail.append(el("h3", {}, t("tx_events")), events.length === 0 ? el("p", { class: "muted", id: "tx-events" }, t("tx_no_events"))
    : el("ol", { class: "events", id: "tx-events" }, events.slice(0, MAX_ITEMS).map((e) => el("li", {},
      el("strong", { class: "mono" }, bounded(String(e?.kind ?? "?"))), valueNode(e?.attributes ?? {})))));
  const argsBox = el("div", { id: "tx-args" }, el("p", { class: "muted" }, t("loading")));
  const proofBox = el("div", { id: "tx-proof", "aria-live": "polite" });
  detail.append(el("h3", {}, t("tx_arguments")), argsBox, el("h3", {}, t("tx_proof_heading")), proofBox);
  let data;
  try {
    data = await getSignedBytes(`/v1/txs/${txIdHex}/proof?format=msgpack`);
    const call2 = await argumentsFromBundle(data, txIdHex, height, index);
    if (!isCurrent()) return;
    clear(argsBox).append(valueNode(call2.args));
    argsBox.dataset.loaded = "1";
  } catch (exc) {
    if (!isCurrent()) return;
    clear(argsBox).append(el("p", { class: "note" }, exc instanceof AccessRefused ? accessText(exc) : `${t("load_failed")}${exc.message}`));
    clear(proofBox).append(el("p", { class: "note", id: "tx-proof-none" }, t("tx_proof_not_read")));
    return;
  }
  await renderTxProof(proofBox, data, { txIdHex, height, index, code, message }, isCurrent);
}

/** Verify the bundle `data` of the transaction the node listed as `listed` ({txIdHex, height, index, code,
 * message}) against the pinned genesis and say the verdict in `box`: green only when every link held. */
async function renderTxProof(box, data, listed, isCurrent) {
  const pinned = await pinnedGenesis();
  if (!isCurrent()) return;
  if (pinned === null) {
    clear(box).append(el("p", { class: "note", id: "tx-proof-none" }, t("tx_proof_no_genesis"), " ",
      el("a", { href: "verify.html" }, t("nav_verify"))));
    return;
  }
  const started = performance.now();
  let proven;
  let failure = null;
  try {
    proven = await verifyTxProof(pinned.genesis, data, listed.txIdHex);
    const checks = [["height", proven.height, listed.height], ["index", proven.index, listed.index],
      ["code", proven.code, listed.code], ["message", proven.message, listed.message]];
    const differs = checks.find(([, p, l]) => p !== l);
    if (differs) failure = t("tx_proof_differs", { what: differs[0] });
  } catch (exc) {
    if (!(exc instanceof ProofError)) throw exc;
    failure = `${exc.stage}: ${exc.message}`;
  }
  if (!isCurrent()) return;
  const root = pinned.hash.slice(0, 16);
  if (failure !== null) {
    box.dataset.verified = "0";
    clear(box).append(el("p", { class: "badge bad", id: "tx-proof-verdict" }, `✗ ${t("tx_proof_failed", { root })}`),
      el("p", { class: "mono", id: "tx-proof-reason" }, bounded(failure)));
    return;
  }
  box.dataset.verified = "1";
  clear(box).append(el("p", { class: "badge ok", id: "tx-proof-verdict" }, `✓ ${t("tx_proof_verified", { root })}`),
    el("dl", { class: "pairs" },
      ...pair(t("col_height"), `${proven.height} · ${formatTime(proven.timeMs)}`),
      ...pair(t("col_result"), `${proven.code}${proven.message ? ` (${bounded(proven.message)})` : ""}`),
      ...pair(t("tx_proof_time"), `${Math.round(performance.now() - started)} ms`)));
}

async function publicJson(path) {
  return withTimeout(async (signal) => {
    const answer = await fetch(path, { signal, cache: "no-store", headers: { Accept: "application/json" } });
    const body = await readJson(answer);
    if (answer.status === 401 || answer.status === 403) throw new AccessRefused(answer.status);
    if (!answer.ok || body === null) throw new Error(typeof body?.detail === "string" ? body.detail.slice(0, 500) : `HTTP ${answer.status}`);
    return body;
  });
}

// --- a member's roster record -------------------------------------------------------------------------

/** Render the public roster record of key `keyHex` (GET /v1/members/{key}) into `body`. */
export async function renderMember(body, keyHex, isCurrent) {
  clear(body).append(el("p", { class: "muted" }, t("loading")));
  let answer;
  try {
    answer = await publicJson(`/v1/members/${keyHex}`);
  } catch (exc) {
    if (isCurrent()) clear(body).append(el("p", { class: "muted", id: "member-record-error" }, `${t("load_failed")}${exc.message}`));
    return;
  }
  if (!isCurrent()) return;
  const record = answer.member && typeof answer.member === "object" ? answer.member : {};
  const roles = Array.isArray(answer.roles) ? answer.roles.filter((r) => typeof r === "string") : [];
  clear(body).append(el("dl", { class: "pairs", id: "member-record" },
    ...pair(t("col_key"), keyHex, { class: "mono hash" }),
    ...pair(t("col_member"), bounded(String(record.name ?? "—"))),
    ...pair(t("col_department"), bounded(String(record.department ?? "—")), { id: "member-record-department" }),
    ...pair(t("col_roles"), roles.join(", ") || "—"),
    ...pair(t("col_active"), answer.active === true ? t("active") : t("inactive")),
    ...pair(t("asof_answered"), `${Number.isSafeInteger(answer.height) ? answer.height : "?"} · ${formatTime(answer.time_ms)}`)),
  el("p", {}, el("a", { href: `audit.html#entity=signer:${keyHex}` }, t("member_audit_link"))));
}
