// Signed reads for the audit and supervision pages. History and supervision are internal routes: a node
// answers them only to a request signed by a registered member's key (docs/api.md, "Public and internal
// routes"). The member key lives in session.js when the console has it; this adapter uses its
// `fetchSigned(path, init)` when that module is present, else a plain fetch (which the node answers 401).

const TIMEOUT_MS = 20000;
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

let session;

async function loadSession() {
  if (session === undefined) {
    const mod = await import("./session.js").catch(() => null);
    session = mod !== null && typeof mod.fetchSigned === "function" ? mod : null;
  }
  return session;
}

/** An answer the node refused for want of a member key (401) or of the right role (403). */
export class AccessError extends Error {
  constructor(status, detail) {
    super(detail);
    this.name = "AccessError";
    this.status = status;
  }
}

/** Any other failure: the network, a timeout, a non-JSON or oversized answer, or a problem document. */
export class FetchError extends Error {
  constructor(message) {
    super(message);
    this.name = "FetchError";
  }
}

/** The member key's description, or null when no key is loaded (or the console has no key support). */
export async function currentMember() {
  const mod = await loadSession();
  if (mod === null || typeof mod.currentMember !== "function") return null;
  try {
    return (await mod.currentMember()) ?? null;
  } catch {
    return null;
  }
}

async function readJson(answer) {
  const length = Number(answer.headers.get("Content-Length") ?? "0");
  if (length > MAX_ANSWER_BYTES) throw new FetchError(`the answer is ${length} bytes; at most ${MAX_ANSWER_BYTES}`);
  const text = await answer.text();
  if (text.length > MAX_ANSWER_BYTES) throw new FetchError(`the answer is larger than ${MAX_ANSWER_BYTES} bytes`);
  try {
    return JSON.parse(text);
  } catch {
    throw new FetchError(`HTTP ${answer.status}: the answer is not JSON`);
  }
}

/**
 * GET `path` (under /v1) signed with the member key when one is loaded, and its JSON. Throws AccessError on
 * 401/403, FetchError on anything else that is not a 200 JSON answer.
 */
export async function getJson(path) {
  const mod = await loadSession();
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  const init = { signal: controller.signal, cache: "no-store", headers: { Accept: "application/json" } };
  let answer;
  try {
    answer = mod !== null ? await mod.fetchSigned(path, init) : await fetch(path, init);
  } catch (exc) {
    throw new FetchError(exc?.name === "AbortError" ? `no answer within ${TIMEOUT_MS / 1000} s` : String(exc?.message ?? exc));
  } finally {
    clearTimeout(timer);
  }
  if (answer.status === 401 || answer.status === 403) {
    let detail = `HTTP ${answer.status}`;
    try {
      const doc = await readJson(answer);
      if (doc && typeof doc.detail === "string") detail = doc.detail.slice(0, 300);
    } catch {
      // not a problem document: keep the status
    }
    throw new AccessError(answer.status, detail);
  }
  const doc = await readJson(answer);
  if (!answer.ok) {
    const detail = doc && typeof doc.detail === "string" ? doc.detail.slice(0, 300) : "";
    const field = doc && typeof doc.field === "string" ? ` (${doc.field.slice(0, 64)})` : "";
    throw new FetchError(`HTTP ${answer.status}${field}${detail ? `: ${detail}` : ""}`);
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) throw new FetchError("the answer is not an object");
  return doc;
}
