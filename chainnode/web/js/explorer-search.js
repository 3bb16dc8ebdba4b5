// The explorer's search box: what a typed text names, and where it leads. A height opens the block; 64 hex
// digits are a transaction ID or a member key (asked of the node in that order, both public routes); 32 hex
// digits are a certificate ID (public: GET /v1/certs/{id}, then the certificate check page) or else a case ID
// (the audit timeline, which reads it with a member key); anything else is refused with what the box takes.

const HEIGHT = /^[0-9]{1,15}$/;
const HEX64 = /^[0-9a-f]{64}$/;
const HEX32 = /^[0-9a-f]{32}$/;
const CASE = /^case:([0-9a-f]{32})$/;

/** What `text` can name: {kind: "height", height} | {kind: "hex64", id} | {kind: "hex32", id} |
 * {kind: "case", id} | {kind: "invalid"} | {kind: "empty"}. Case-insensitive hex, spaces around ignored. */
export function classifySearch(text) {
  const s = String(text ?? "").trim();
  if (s === "") return { kind: "empty" };
  if (HEIGHT.test(s)) {
    const height = Number(s);
    return height >= 1 && Number.isSafeInteger(height) ? { kind: "height", height } : { kind: "invalid" };
  }
  const lower = s.toLowerCase();
  if (HEX64.test(lower)) return { kind: "hex64", id: lower };
  if (HEX32.test(lower)) return { kind: "hex32", id: lower };
  const isCase = CASE.exec(lower);
  if (isCase) return { kind: "case", id: isCase[1] };
  return { kind: "invalid" };
}

/** Whether the public route `path` answers 200 (a 404 is "no"; any other failure is thrown). */
async function exists(path, signal) {
  const answer = await fetch(path, { signal, cache: "no-store", headers: { Accept: "application/json" } });
  await answer.body?.cancel();
  if (answer.ok) return true;
  if (answer.status === 404 || answer.status === 400) return false;
  throw new Error(`HTTP ${answer.status}`);
}

/**
 * Where `text` leads: {href} to follow, or {error} naming why not ("search_invalid", "search_no_height",
 * "search_not_found"). `head` is the chain's head height, or null when not known.
 */
export async function resolveSearch(text, head, signal) {
  const q = classifySearch(text);
  switch (q.kind) {
    case "height":
      if (head !== null && q.height > head) return { error: "search_no_height" };
      return { href: `#block=${q.height}` };
    case "hex64":
      if (await exists(`/v1/txs/${q.id}`, signal)) return { href: `#tx=${q.id}` };
      if (await exists(`/v1/members/${q.id}`, signal)) return { href: `#member=${q.id}` };
      return { error: "search_not_found" };
    case "hex32":
      if (await exists(`/v1/certs/${q.id}`, signal)) return { href: `verify.html#cert=${q.id}` };
      return { href: `audit.html#entity=case:${q.id}` };
    case "case":
      return { href: `audit.html#entity=case:${q.id}` };
    default:
      return { error: "search_invalid" };
  }
}
