// Paging back beyond the live blocks: "older" asks for the PAGE heights below the lowest one shown, one
// GET /v1/blocks/{h} each, at most CONCURRENCY at a time, so a reader paging back never floods the node.

import { el, formatShortTime, formatTime, shortHex } from "./dom.js";
import { t } from "./i18n.js";

export const PAGE = 20;
const CONCURRENCY = 2;
const MAX_ROWS = 1000;
const FETCH_TIMEOUT_MS = 10000;

async function getBlock(height) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), FETCH_TIMEOUT_MS);
  try {
    const answer = await fetch(`/v1/blocks/${height}`, { signal: controller.signal, cache: "no-store",
      headers: { Accept: "application/json" } });
    if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
    const body = await answer.json();
    const h = body?.header ?? {};
    if (body?.height !== height || typeof body.hash !== "string" || !Number.isSafeInteger(h.time_ms)) {
      throw new Error(t("load_failed_not_json"));
    }
    return { height, hash: body.hash, time_ms: h.time_ms, tx_count: Number.isSafeInteger(h.tx_count) ? h.tx_count : 0 };
  } finally {
    clearTimeout(timer);
  }
}

/** The blocks at `heights`, in that order, fetched at most CONCURRENCY at a time; a failed one is an Error. */
export async function fetchBlocks(heights) {
  const out = new Array(heights.length);
  let next = 0;
  const worker = async () => {
    while (next < heights.length) {
      const i = next++;
      try {
        out[i] = await getBlock(heights[i]);
      } catch (exc) {
        out[i] = exc instanceof Error ? exc : new Error(String(exc));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, heights.length) }, worker));
  return out;
}

/** The "older blocks" table: `lowestLive()` is the lowest height of the live table (null before any). */
export function olderBlocks({ table, button, note, lowestLive }) {
  const rows = new Map(); // height -> block or Error
  let busy = false;

  const floor = () => (rows.size > 0 ? Math.min(...rows.keys()) : lowestLive());

  function render() {
    const body = table.tBodies[0];
    body.replaceChildren(...[...rows.keys()].sort((a, b) => b - a).map((h) => {
      const b = rows.get(h);
      const link = el("a", { href: `#block=${h}` }, String(h));
      if (b instanceof Error) {
        return el("tr", { "data-height": h }, el("td", { class: "num" }, link),
          el("td", { colspan: 3, class: "muted" }, `${t("load_failed")}${b.message}`));
      }
      return el("tr", { "data-height": h }, el("td", { class: "num" }, link),
        el("td", { class: "nowrap", title: formatTime(b.time_ms) }, formatShortTime(b.time_ms)),
        el("td", { class: "num" }, String(b.tx_count)),
        el("td", { class: "mono hide-narrow", title: b.hash }, shortHex(b.hash, 14)));
    }));
    table.hidden = rows.size === 0;
    const low = floor();
    const done = low !== null && low <= 1;
    button.disabled = busy || done || low === null || rows.size >= MAX_ROWS;
    note.textContent = busy ? t("loading") : done ? t("older_none") : rows.size >= MAX_ROWS ? t("older_limit", { n: MAX_ROWS }) : "";
  }

  async function more() {
    const low = floor();
    if (busy || low === null || low <= 1 || rows.size >= MAX_ROWS) return;
    busy = true;
    render();
    const heights = [];
    for (let h = low - 1; h >= 1 && heights.length < PAGE; h--) heights.push(h);
    const got = await fetchBlocks(heights);
    heights.forEach((h, i) => rows.set(h, got[i]));
    busy = false;
    render();
  }

  button.addEventListener("click", more);
  return { render, more };
}
