// The audit timeline's data, with no page in it: reading an export file (`chainnode history --verify
// --export`), verifying each page of events against genesis (trace-verifier.js), the period filter in the
// network's time zone, and the report of what is shown with each event's verification result.

import { verifyHistoryPage } from "./trace-verifier.js";
import { ProofError } from "./verifier.js";

export const ENTITY_FORM = /^[a-z][a-z_]{0,31}:[A-Za-z0-9_.:-]{1,160}$/;
export const MAX_EXPORT_BYTES = 64 * 1024 * 1024;
export const MAX_PAGES = 200;
const MAX_PAGE_EVENTS = 1000;
const MAX_PROOF_CHARS = 44 * 1024 * 1024;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** What a history proof does not cover (docs/proofs.md, "A history page"): shown with every report. */
export const NOT_PROVEN = ["not_proven_roster", "not_proven_completeness"];

export function decodeBase64(text) {
  if (typeof text !== "string" || text.length > MAX_PROOF_CHARS || text.length % 4 !== 0 || !BASE64.test(text)) {
    throw new ProofError("format", "the page's proof is not base64");
  }
  const raw = atob(text);
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

function checkPage(page, where) {
  if (page === null || typeof page !== "object" || Array.isArray(page)) {
    throw new ProofError("input", `${where} is not an object`);
  }
  if (!Array.isArray(page.events) || page.events.length > MAX_PAGE_EVENTS) {
    throw new ProofError("input", `${where} has no list of at most ${MAX_PAGE_EVENTS} events`);
  }
  return page;
}

/**
 * An export file's document: {entity, chainId, pages: [{events, proof}]}. The proofs are decoded when the
 * pages are verified, so that one altered page shows red and the others keep their marks. Throws
 * ProofError("input", ...) for a file that is not an export.
 */
export function parseExport(bytes) {
  if (bytes.length > MAX_EXPORT_BYTES) throw new ProofError("input", `the file is larger than ${MAX_EXPORT_BYTES} bytes`);
  let doc;
  try {
    doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new ProofError("input", "the file is not JSON text");
  }
  if (doc === null || typeof doc !== "object" || doc.kind !== "chainnode-history") {
    throw new ProofError("input", "the file is not a history export (chainnode history --verify --export)");
  }
  if (doc.version !== 1) throw new ProofError("input", `export version ${String(doc.version)} is not known here`);
  if (typeof doc.entity !== "string" || !ENTITY_FORM.test(doc.entity)) {
    throw new ProofError("input", "the export names no entity of the form KIND:ID");
  }
  if (!Array.isArray(doc.pages) || doc.pages.length > MAX_PAGES) {
    throw new ProofError("input", `the export holds no list of at most ${MAX_PAGES} pages`);
  }
  const pages = doc.pages.map((p, i) => checkPage(p, `page ${i + 1}`));
  return { entity: doc.entity, chainId: typeof doc.chain_id === "string" ? doc.chain_id.slice(0, 64) : "", pages };
}

/** A node's answer to GET /v1/history/{entity}?proof=1, checked the same way as an exported page. */
export function checkNodePage(answer) {
  return checkPage(answer, "the node's answer");
}

/**
 * Verify every page against `genesis`, or against `trust` (a trust root, parseTrust) for a page whose proof
 * starts at its height, and mark its events: returns [{event, verified, stage, reason, fromHeight}] in page
 * order (`fromHeight`: the root a verified page was checked from, 0 for genesis). A page whose proof fails
 * marks each of its events not verified, with the reason.
 */
export async function verifyPages(genesis, pages, trust = null) {
  const rows = [];
  for (const page of pages) {
    let verdict = { verified: true, stage: null, reason: null, fromHeight: null };
    if (page.events.length > 0) {
      try {
        const checked = await verifyHistoryPage(genesis, page.events, decodeBase64(page.proof), trust);
        verdict.fromHeight = checked.fromHeight;
      } catch (exc) {
        if (!(exc instanceof ProofError)) throw exc;
        verdict = { verified: false, stage: exc.stage, reason: exc.message, fromHeight: null };
      }
    }
    for (const event of page.events) rows.push({ event, ...verdict });
  }
  return rows;
}

/** YYYY-MM-DD of block time `ms` in the zone `offsetMinutes` east of UTC. */
export function localDate(ms, offsetMinutes) {
  const n = Number(ms);
  if (!Number.isFinite(n) || Math.abs(n) > 8.64e15) return "";
  return new Date(n + offsetMinutes * 60000).toISOString().slice(0, 10);
}

/** "2026-12-06 10:30:00 UTC+8" */
export function localTime(ms, offsetMinutes) {
  const n = Number(ms);
  if (!Number.isFinite(n) || Math.abs(n) > 8.64e15) return String(ms);
  const zone = `UTC${offsetMinutes >= 0 ? "+" : "-"}${Math.floor(Math.abs(offsetMinutes) / 60)}`
    + (Math.abs(offsetMinutes) % 60 ? `:${String(Math.abs(offsetMinutes) % 60).padStart(2, "0")}` : "");
  return `${new Date(n + offsetMinutes * 60000).toISOString().slice(0, 19).replace("T", " ")} ${zone}`;
}

/** The rows whose block time falls in [fromDate, toDate] (YYYY-MM-DD, either may be empty). */
export function filterRows(rows, fromDate, toDate, offsetMinutes) {
  return rows.filter((row) => {
    const day = localDate(row.event?.time_ms, offsetMinutes);
    return (!fromDate || day >= fromDate) && (!toDate || day <= toDate);
  });
}

const text = (v, n = 300) => (v === null || v === undefined ? null : String(v).slice(0, n));

/** The report of what is shown: every event with its verification result, and what the proof does not cover. */
export function buildReport({ entity, source, chainId, genesisHash, fromDate, toDate, rows, notProven }) {
  const events = rows.map(({ event: e, verified, stage, reason }) => ({
    height: Number.isInteger(e?.height) ? e.height : null, index: Number.isInteger(e?.index) ? e.index : null,
    time_ms: Number.isInteger(e?.time_ms) ? e.time_ms : null, time: text(e?.time, 40), tx_id: text(e?.tx_id, 64),
    contract: text(e?.contract, 64), method: text(e?.method, 64), code: text(e?.code, 64), message: text(e?.message),
    signer: text(e?.signer, 64), signer_name: text(e?.signer_name), signer_department: text(e?.signer_department, 64),
    signer_roles: Array.isArray(e?.signer_roles) ? e.signer_roles.slice(0, 32).map((r) => text(r, 64)) : null,
    verified, failed_check: stage, reason,
  }));
  return {
    kind: "chainnode-audit-report", version: 1, entity, source, chain_id: chainId, genesis_sha256: genesisHash,
    period: { from_date: fromDate || null, to_date: toDate || null }, generated_at: new Date().toISOString(),
    events_shown: events.length, events_verified: events.filter((e) => e.verified).length,
    not_proven: notProven, events,
  };
}
