// The member session of a console page: the member's key, loaded by the user from a key file, held in this
// page's memory only (a non-extractable WebCrypto key; the seed and passphrase are never stored, sent or
// logged), and the requests it signs. Other pages import this interface:
//   currentMember()            null, or {publicKey (hex), label, department, roles}
//   fetchSigned(path, init)    a fetch Response: the request signed with the loaded key (docs/api.md "Signed
//                              requests"), or a plain fetch when none is loaded
//   onMemberChange(callback)   called with currentMember() whenever a key is loaded or unloaded
//   submitTx(contract, method, args, options)   sign, submit and wait for commit (see below)
// Nothing that signs leaves the page unsigned: a transaction is built, signed and encoded here, and the node
// gets its bytes only. A signed read carries a time that the node holds to its own clock (60 s): when the node
// answers read_request_expired, the offset of its clock is learnt from its answer's Date header (or its
// status's time) and the read is signed once more with the corrected time; an offset above 60 s is said in the
// page (a notice at the top of its main part), so the user can fix the computer's clock.

import { toHex, fromHex } from "./msgpack.js";
import { readFileBytes } from "./dom.js";
import { t } from "./i18n.js";
import { parseKeyFile, openEnvelope, importKeyFile, MAX_KEY_FILE_BYTES } from "./member/keyfile.js";
import { KeyError } from "./member/ed25519.js";
import { signReadHeader } from "./member/read-auth.js";
import { newTxBody, signTx } from "./member/tx.js";

export { KeyError };

const MAX_ANSWER_BYTES = 8 * 1024 * 1024;
const WAIT_STEP_S = 10;
const STORAGE_KEY = "chainnode.console.member";
let key = null; // {privateKey, publicKey, publicKeyHex, label}
let member = null; // what currentMember() answers
let identity = null; // {chainId, nodeKey} from GET /v1/status
let clockOffsetMs = 0; // the node's clock minus this browser's, learnt from a read_request_expired answer
const SKEW_NOTICE_MS = 60 * 1000;
const listeners = new Set();

/** The member whose key is loaded, or null. */
export function currentMember() {
  if (member === null) return null;
  return { publicKey: member.publicKey, label: member.label, department: member.department, roles: [...member.roles] };
}

/** The roster's name of the loaded key and whether it holds a role at the head (for the panel), or null. */
export function memberProfile() {
  return member === null ? null : { name: member.name, active: member.active };
}

/** Call `callback(currentMember())` on every load and unload; returns a function that stops it. */
export function onMemberChange(callback) {
  listeners.add(callback);
  return () => listeners.delete(callback);
}

function changed() {
  const now = currentMember();
  for (const listener of [...listeners]) {
    try {
      listener(now);
    } catch (error) {
      console.error(error);
    }
  }
}

/** The public key of the key last loaded in this tab (sessionStorage holds that, never the secret), or null. */
export function rememberedKey() {
  try {
    const text = globalThis.sessionStorage?.getItem(STORAGE_KEY);
    const saved = text ? JSON.parse(text) : null;
    return saved && /^[0-9a-f]{64}$/.test(saved.publicKey) ? { publicKey: saved.publicKey, label: String(saved.label ?? "").slice(0, 256) } : null;
  } catch {
    return null;
  }
}

function remember(value) {
  try {
    if (value === null) globalThis.sessionStorage?.removeItem(STORAGE_KEY);
    else globalThis.sessionStorage?.setItem(STORAGE_KEY, JSON.stringify(value));
  } catch {
    // not remembered: nothing depends on it
  }
}

/**
 * Read a key file the user chose: `{encrypted, label, publicKeyHex, open(passphrase)}`; `open` loads the key
 * (the passphrase is ignored for a plain file). Throws KeyError (code key_file_malformed, key_file_kind).
 */
export async function readKeyFile(file) {
  let bytes;
  try {
    bytes = await readFileBytes(file, MAX_KEY_FILE_BYTES);
  } catch {
    throw new KeyError(`a key file is at most ${MAX_KEY_FILE_BYTES} bytes; this is not one`);
  }
  const parsed = parseKeyFile(bytes);
  bytes.fill(0);
  return {
    encrypted: parsed.encrypted,
    label: parsed.label,
    publicKeyHex: toHex(parsed.publicKey),
    open: async (passphrase) => {
      const plain = parsed.encrypted ? await openEnvelope(parsed, passphrase) : parsed;
      return loadKey(await importKeyFile(plain));
    },
  };
}

async function loadKey(loaded) {
  key = loaded;
  member = { publicKey: loaded.publicKeyHex, label: loaded.label, department: null, roles: [], name: null, active: false };
  remember({ publicKey: loaded.publicKeyHex, label: loaded.label });
  try {
    const answer = await fetch(`/v1/members/${loaded.publicKeyHex}`, { headers: { Accept: "application/json" } });
    if (answer.ok && key === loaded) {
      const body = await readJson(answer);
      const record = body?.member ?? {};
      member = {
        ...member,
        department: typeof record.department === "string" ? record.department : null,
        name: typeof record.name === "string" ? record.name : null,
        roles: Array.isArray(body?.roles) ? body.roles.filter((r) => typeof r === "string") : [],
        active: body?.active === true,
      };
    }
  } catch {
    // the roster is public and only shown; the key still signs, and the node judges it
  }
  changed();
  return currentMember();
}

/** Forget the key: the CryptoKey is dropped and this page signs nothing more. */
export function unloadMember() {
  key = null;
  member = null;
  remember(null);
  changed();
}

/** An answer's JSON, refusing one above MAX_ANSWER_BYTES; null if it is not JSON. */
export async function readJson(response) {
  const declared = Number(response.headers.get("Content-Length") ?? "0");
  if (declared > MAX_ANSWER_BYTES) {
    await response.body?.cancel();
    return null;
  }
  const text = await response.text();
  if (text.length > MAX_ANSWER_BYTES) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

async function nodeIdentity(refresh = false) {
  if (identity === null || refresh) {
    const answer = await fetch("/v1/status", { headers: { Accept: "application/json" } });
    const status = answer.ok ? await readJson(answer) : null;
    if (typeof status?.chain_id !== "string" || !/^[0-9a-f]{64}$/.test(status?.node_key ?? "")) {
      throw new KeyError("the node's status names no chain or node key", "node_unreachable");
    }
    identity = { chainId: status.chain_id, nodeKey: fromHex(status.node_key), height: status.height };
  }
  return identity;
}

function sameOriginTarget(path) {
  const url = new URL(String(path), globalThis.location?.href ?? "http://localhost/");
  if (globalThis.location && url.origin !== globalThis.location.origin) {
    throw new TypeError("fetchSigned signs requests to this node only");
  }
  return url.pathname + url.search;
}

function bodyBytes(body) {
  if (body === undefined || body === null) return new Uint8Array(0);
  if (typeof body === "string") return new TextEncoder().encode(body);
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  throw new TypeError("fetchSigned signs a string, Uint8Array or ArrayBuffer body only");
}

/** The node's clock minus this browser's in ms, as last learnt (0 until a node refused a read's time). */
export function clockOffset() {
  return clockOffsetMs;
}

/** The node's time from an answer's Date header (whole seconds: the middle of that second), else from the
 * Date of a fresh GET /v1/status (the head block's time is no clock: blocks are made only for transactions),
 * or null. */
async function nodeTimeOf(response) {
  const dateOf = (answer) => Date.parse(answer.headers.get("Date") ?? "");
  let date = dateOf(response);
  if (!Number.isFinite(date)) {
    const answer = await fetch("/v1/status", { cache: "no-store", headers: { Accept: "application/json" } });
    await answer.body?.cancel();
    date = dateOf(answer);
  }
  return Number.isFinite(date) ? date + 500 : null;
}

/** Say in the page (once, kept up to date) that this computer's clock is off by more than 60 s. */
function showSkew() {
  const doc = globalThis.document;
  if (!doc) return;
  let notice = doc.getElementById("clock-skew");
  if (Math.abs(clockOffsetMs) <= SKEW_NOTICE_MS) {
    notice?.remove();
    return;
  }
  if (!notice) {
    notice = doc.createElement("p");
    notice.id = "clock-skew";
    notice.className = "note";
    notice.setAttribute("role", "status");
    const main = doc.querySelector("main") ?? doc.body;
    main.prepend(notice);
  }
  const seconds = Math.round(clockOffsetMs / 1000);
  notice.dataset.offsetS = String(seconds);
  notice.textContent = t(seconds > 0 ? "clock_behind" : "clock_ahead", { s: Math.abs(seconds),
    m: Math.round(Math.abs(seconds) / 60) });
}

/**
 * `fetch(path, init)` to this node, with `Authorization: Chainnode-Signed ...` over the method, path and query,
 * body, chain and node when a key is loaded; a plain fetch when none is. A 401 `wrong_node` (the node was
 * replaced behind the same address) refreshes the node's key and signs once more; a 401
 * `read_request_expired` (this browser's clock is off) learns the node's clock and signs once more.
 */
export async function fetchSigned(path, init = {}) {
  const target = sameOriginTarget(path);
  if (key === null) return fetch(target, init);
  const method = (init.method ?? "GET").toUpperCase();
  const body = bodyBytes(init.body);
  const retried = new Set();
  for (let refresh = false; ; ) {
    const { chainId, nodeKey } = await nodeIdentity(refresh);
    const headers = new Headers(init.headers ?? {});
    headers.set("Authorization", await signReadHeader(key.privateKey, key.publicKeyHex,
      { chainId, method, target, nodeKey, body, timeMs: Date.now() + clockOffsetMs }));
    const response = await fetch(target, { ...init, method, headers });
    if (response.status !== 401) return response;
    const code = (await readJson(response.clone()))?.code;
    if ((code !== "wrong_node" && code !== "read_request_expired") || retried.has(code)) return response;
    retried.add(code);
    refresh = code === "wrong_node";
    if (code === "read_request_expired") {
      const nodeMs = await nodeTimeOf(response);
      if (nodeMs === null) return response;
      clockOffsetMs = Math.round(nodeMs - Date.now());
      showSkew();
    }
  }
}

/** A problem document's code, message and field, or a generic one naming the HTTP status. */
function problemOf(response, body) {
  return {
    code: typeof body?.code === "string" ? body.code : `http_${response.status}`,
    message: typeof body?.detail === "string" ? body.detail : (typeof body?.title === "string" ? body.title : response.statusText),
    field: typeof body?.field === "string" ? body.field : null,
  };
}

/**
 * Sign `contract.method(args)` with the loaded key, submit it to this node and wait until it is committed or
 * rejected (at most `waitS` seconds). `onSubmitted(txIdHex)` is called once the node admitted it. Resolves to
 * `{txId, status, code, message, field, height, events}`: status "committed" (code "ok", or the contract's
 * refusal code with its message), "rejected" (dropped after admission), "refused" (not admitted: the node's
 * code), or "pending" (still waiting after `waitS`). Throws KeyError when no key is loaded, EncodeError when
 * the arguments cannot be encoded.
 */
export async function submitTx(contract, method, args, { onSubmitted = null, waitS = 60 } = {}) {
  if (key === null) throw new KeyError("load a member key first", "no_member_key");
  const signer = key;
  const { chainId } = await nodeIdentity();
  const status = await readJson(await fetch("/v1/status", { headers: { Accept: "application/json" } }));
  const body = newTxBody({ chainId, height: status?.height, contract, method, args, signer: signer.publicKey });
  const signed = await signTx(signer.privateKey, body);
  const answer = await fetch("/v1/txs", { method: "POST", headers: { "Content-Type": "application/msgpack" }, body: signed.raw });
  const admitted = await readJson(answer);
  if (answer.status !== 202) {
    return { txId: signed.txIdHex, status: "refused", ...problemOf(answer, admitted), height: null, events: [] };
  }
  if (onSubmitted) onSubmitted(signed.txIdHex);
  const deadline = Date.now() + waitS * 1000;
  for (;;) {
    const wait = Math.max(0, Math.min(WAIT_STEP_S, Math.floor((deadline - Date.now()) / 1000)));
    const response = await fetchSigned(`/v1/txs/${signed.txIdHex}?wait=${wait}`, { headers: { Accept: "application/json" } });
    const state = await readJson(response);
    if (response.ok && (state?.status === "committed" || state?.status === "rejected")) {
      const result = state.result ?? state;
      return {
        txId: signed.txIdHex, status: state.status,
        code: typeof result.code === "string" ? result.code : "unknown",
        message: typeof result.message === "string" ? result.message : "",
        field: null, height: Number.isSafeInteger(state.height) ? state.height : null,
        events: Array.isArray(result.events) ? result.events : [],
      };
    }
    if (Date.now() >= deadline) {
      return { txId: signed.txIdHex, status: "pending", code: "pending", message: "", field: null, height: null, events: [] };
    }
    if (!response.ok && response.status !== 404) await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
