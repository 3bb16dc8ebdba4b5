// The audit timeline page (审计): every event of an entity in chain order, each marked verified in this
// browser from its history page's proof against the genesis file (pinned as on the certificate page), or a
// trust file loaded beside it for pages the node proves from its height. The
// pages come from the node (a signed read, through audit-fetch.js) or from an export file that needs no node.

import { AccessError, getJson } from "./audit-fetch.js";
import { genesisCard } from "./audit-genesis.js";
import { rootText, trustCard } from "./trust-root.js";
import {
  ENTITY_FORM, MAX_EXPORT_BYTES, MAX_PAGES, NOT_PROVEN, buildReport, checkNodePage, filterRows, localTime,
  parseExport, verifyPages,
} from "./audit-model.js";
import { clear, el, readFileBytes, shortHex } from "./dom.js";
import { initLanguage, t } from "./i18n.js";
import { mountMemberPanel } from "./member/panel.js";

const $ = (id) => document.getElementById(id);
const state = {
  entity: "", source: "", pages: [], rows: [], truncated: false, error: null, access: false, busy: false, ms: 0,
};
let card;
let trust = null; // the trust file loaded beside genesis (trust-root.js), or null

const offset = () => card.current()?.utcOffsetMinutes ?? 480;

function showError(exc) {
  state.error = exc instanceof Error ? exc.message : String(exc);
  state.access = exc instanceof AccessError;
  render();
}

async function verifyAll() {
  const g = card.current();
  if (g === null || state.pages.length === 0) {
    state.rows = state.pages.flatMap((p) => p.events.map((event) => ({
      event, verified: false, stage: "genesis", reason: t("err_no_genesis") })));
    render();
    return;
  }
  const started = performance.now();
  state.rows = await verifyPages(g.genesis, state.pages, trust?.current() ?? null);
  state.ms = performance.now() - started;
  render();
}

async function loadFromNode(event) {
  event.preventDefault();
  const entity = $("entity").value.trim();
  $("entity-error").textContent = "";
  if (!ENTITY_FORM.test(entity)) {
    $("entity-error").textContent = t("err_entity");
    return;
  }
  Object.assign(state, { entity, source: t("audit_from_node"), pages: [], rows: [], truncated: false, error: null,
    access: false, busy: true });
  render();
  try {
    let cursor = null;
    do {
      const query = new URLSearchParams({ limit: "1000", proof: "1" });
      if (trust.current() !== null) query.set("trusted_height", String(trust.current().height));
      if (cursor !== null) query.set("cursor", cursor);
      const page = checkNodePage(await getJson(`/v1/history/${entity}?${query}`));
      state.pages.push(page);
      cursor = typeof page.next_cursor === "string" && page.next_cursor.length <= 256 ? page.next_cursor : null;
      $("source-info").textContent = t("audit_loaded_pages", { pages: state.pages.length });
    } while (cursor !== null && state.pages.length < MAX_PAGES);
    state.truncated = cursor !== null;
    history.replaceState(null, "", `#entity=${entity}`);
  } catch (exc) {
    state.busy = false;
    showError(exc);
    return;
  }
  state.busy = false;
  await verifyAll();
}

async function loadExport(file) {
  Object.assign(state, { pages: [], rows: [], error: null, access: false, truncated: false });
  try {
    const doc = parseExport(await readFileBytes(file, MAX_EXPORT_BYTES));
    Object.assign(state, { entity: doc.entity, source: `${t("audit_from_file")} ${file.name.slice(0, 120)}`,
      pages: doc.pages });
    $("entity").value = doc.entity;
  } catch (exc) {
    showError(exc instanceof RangeError ? new Error(t("err_too_large")) : exc);
    return;
  }
  await verifyAll();
}

// --- rendering ----------------------------------------------------------------------------------------

function shownRows() {
  return filterRows(state.rows, $("from-date").value, $("to-date").value, offset());
}

function summary(rows) {
  const bad = rows.filter((r) => !r.verified);
  const g = card.current();
  if (rows.length === 0) {
    return el("div", { class: "verdict", id: "verdict", "data-verdict": "empty", role: "status" },
      el("strong", {}, t("audit_no_events")));
  }
  if (bad.length === 0) {
    return el("div", { class: "verdict ok", id: "verdict", "data-verdict": "verified", role: "status" },
      el("span", { class: "mark", "aria-hidden": "true" }, "✓"),
      el("strong", {}, t("audit_all_verified", { n: rows.length })),
      el("p", {}, t("audit_verified_note", { chain: g?.genesis.chainId ?? "" })),
      el("p", { id: "proof-root" }, `${t("root_heading")}: ${rootsText(rows, g)}`));
  }
  const reasons = [...new Set(bad.map((r) => r.reason))].slice(0, 5);
  return el("div", { class: "verdict invalid", id: "verdict", "data-verdict": "not-verified", role: "status" },
    el("span", { class: "mark", "aria-hidden": "true" }, "✗"),
    el("strong", {}, t("audit_not_verified", { bad: bad.length, n: rows.length })),
    el("ul", { class: "reasons", id: "reasons" }, reasons.map((r) => el("li", {}, r))));
}

/** The roots the shown events' pages were checked against, each once. */
function rootsText(rows, g) {
  const heights = [...new Set(rows.map((r) => r.fromHeight).filter((h) => h !== null && h !== undefined))];
  return heights.map((h) => rootText(h, g?.hash ?? "", trust.current())).join("; ") || "—";
}

function signerCell(e) {
  if (e?.signer_name === null || e?.signer_name === undefined) {
    return [el("span", { class: "muted" }, t("audit_unregistered")), " ",
      el("span", { class: "mono", title: String(e?.signer ?? "") }, shortHex(String(e?.signer ?? ""), 12))];
  }
  return [String(e.signer_name).slice(0, 120), el("sup", { class: "muted", title: t("not_proven_roster") }, "†"),
    el("br"), el("span", { class: "mono muted", title: String(e.signer ?? "") }, shortHex(String(e.signer ?? ""), 12))];
}

/** "2026-12-06 15:03:12 UTC+8" as two lines (date; time and zone), so the column stays narrow. */
function timeLines(text) {
  const at = text.indexOf(" ");
  return at < 0 ? [text, el("br")] : [text.slice(0, at), el("br"), text.slice(at + 1), el("br")];
}

function row(r, i) {
  const e = r.event ?? {};
  const roles = Array.isArray(e.signer_roles) ? e.signer_roles.slice(0, 16).map(String).join(", ") : "—";
  const mark = r.verified
    ? el("span", { class: "badge ok", "data-verified": "1" }, `✓ ${t("audit_verified")}`)
    : el("span", { class: "badge bad", "data-verified": "0", title: r.reason ?? "" }, `✗ ${t("audit_unverified")}`);
  const outcome = String(e.code ?? "").slice(0, 64);
  // each cell's content in one block, named by data-label: at phone width a row shows as a card
  const cell = (label, attrs, ...children) => el("td", { ...attrs, "data-label": label }, el("div", {}, ...children));
  return el("tr", { "data-height": String(e.height ?? ""), class: r.verified ? null : "failed" },
    cell("#", { class: "num" }, String(i + 1)),
    cell(t("col_time"), {}, ...timeLines(localTime(e.time_ms, offset())),
      el("span", { class: "muted" }, `${t("at_height")} ${String(e.height ?? "")} #${String(e.index ?? "")}`)),
    cell(t("col_call"), { class: "mono" }, `${String(e.contract ?? "").slice(0, 64)}.${String(e.method ?? "").slice(0, 64)}`),
    cell(t("col_outcome"), {}, el("span", { class: outcome === "ok" ? "badge ok" : "badge bad" }, outcome),
      e.message ? el("div", { class: "muted" }, String(e.message).slice(0, 300)) : null),
    cell(t("col_signer"), {}, signerCell(e)),
    cell(t("col_department"), {}, String(e.signer_department ?? "—").slice(0, 64)),
    cell(t("col_roles"), {}, roles),
    cell(t("col_tx"), { class: "mono", title: String(e.tx_id ?? "") }, shortHex(String(e.tx_id ?? ""), 10)),
    cell(t("audit_check"), {}, mark, r.verified ? null : el("div", { class: "reason" }, r.reason ?? "")));
}

function render() {
  const box = clear($("result"));
  $("zone-info").textContent = t("audit_zone", { zone: localTime(0, offset()).split(" ").pop() });
  if (state.busy) box.append(el("p", { class: "info" }, t("loading")));
  if (state.error !== null) {
    box.append(el("div", { class: "verdict invalid", id: "verdict", "data-verdict": state.access ? "access" : "error",
      role: "status" }, el("span", { class: "mark", "aria-hidden": "true" }, "✗"),
    el("strong", {}, state.access ? t("needs_auditor_key") : t("load_failed")), el("p", {}, state.error)));
  }
  $("report-actions").hidden = state.rows.length === 0;
  if (state.rows.length === 0) {
    $("source-info").textContent = state.source ? `${state.source}: ${t("audit_no_events")}` : "";
    return;
  }
  const rows = shownRows();
  $("source-info").textContent = `${state.source}: ${state.entity}, ${t("audit_counts", {
    shown: rows.length, total: state.rows.length, pages: state.pages.length })}`;
  box.append(el("h2", { id: "report-title" }, `${t("audit_timeline")}: ${state.entity}`), summary(rows));
  if (state.truncated) box.append(el("p", { class: "note" }, t("audit_truncated", { pages: MAX_PAGES })));
  box.append(el("div", { class: "scroll" }, el("table", { id: "timeline" },
    el("thead", {}, el("tr", {}, ["#", t("col_time"), t("col_call"), t("col_outcome"), t("col_signer"),
      t("col_department"), t("col_roles"), t("col_tx"), t("audit_check")].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows.map(row)))));
  box.append(el("div", { class: "details", id: "not-proven" }, el("dt", {}, t("audit_not_covered")),
    el("dd", {}, el("ul", { class: "reasons" }, NOT_PROVEN.map((k) => el("li", {}, `† ${t(k)}`))))),
  el("p", { class: "timing" }, t("timing", { ms: state.ms.toFixed(0) })));
}

// --- report -------------------------------------------------------------------------------------------

function report() {
  const g = card.current();
  return buildReport({ entity: state.entity, source: state.source, chainId: g?.genesis.chainId ?? null,
    genesisHash: g?.hash ?? null, fromDate: $("from-date").value, toDate: $("to-date").value, rows: shownRows(),
    notProven: NOT_PROVEN.map((k) => t(k)) });
}

function download(name, type, body) {
  const url = URL.createObjectURL(new Blob([body], { type }));
  const a = el("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

const fileStem = () => `audit-${state.entity.replace(/[^A-Za-z0-9_-]+/g, "_").slice(0, 80)}`;

/** A printable HTML report of what is shown: built as a document, never from strings of markup. */
function reportHtml(doc) {
  const page = document.implementation.createHTMLDocument(`${t("audit_timeline")}: ${doc.entity}`);
  const meta = page.createElement("meta");
  meta.setAttribute("charset", "utf-8");
  page.head.prepend(meta);
  const style = page.createElement("style");
  style.textContent = "body{font-family:sans-serif;margin:2rem}table{border-collapse:collapse;width:100%}"
    + "td,th{border:1px solid #999;padding:4px;font-size:12px;text-align:left;vertical-align:top}"
    + ".bad{color:#a00;font-weight:bold}.ok{color:#060}";
  page.head.append(style);
  const add = (tag, textContent, parent = page.body) => {
    const node = page.createElement(tag);
    if (textContent !== null) node.textContent = textContent;
    parent.append(node);
    return node;
  };
  add("h1", `${t("audit_timeline")}: ${doc.entity}`);
  add("p", `${t("genesis_chain")}: ${doc.chain_id ?? "—"} · ${t("genesis_fingerprint")}: ${doc.genesis_sha256 ?? "—"}`);
  add("p", `${t("audit_period")}: ${doc.period.from_date ?? "…"} – ${doc.period.to_date ?? "…"} · ${doc.source} · `
    + `${doc.generated_at}`);
  add("p", t("audit_report_counts", { verified: doc.events_verified, n: doc.events_shown }))
    .className = doc.events_verified === doc.events_shown ? "ok" : "bad";
  const table = add("table", null);
  const head = add("tr", null, add("thead", null, table));
  for (const h of ["#", t("col_time"), t("col_call"), t("col_outcome"), t("col_signer"), t("col_department"),
    t("col_roles"), t("col_tx"), t("audit_check")]) add("th", h, head);
  const body = add("tbody", null, table);
  doc.events.forEach((e, i) => {
    const tr = add("tr", null, body);
    for (const cell of [String(i + 1), `${localTime(e.time_ms, offset())} (${t("at_height")} ${e.height})`,
      `${e.contract}.${e.method}`, `${e.code}${e.message ? `: ${e.message}` : ""}`, `${e.signer_name ?? "—"} ${e.signer}`,
      e.signer_department ?? "—", (e.signer_roles ?? []).join(", "), e.tx_id ?? ""]) add("td", cell, tr);
    add("td", e.verified ? `✓ ${t("audit_verified")}` : `✗ ${t("audit_unverified")}: ${e.reason}`, tr)
      .className = e.verified ? "ok" : "bad";
  });
  add("h2", t("audit_not_covered"));
  const list = add("ul", null);
  for (const line of doc.not_proven) add("li", line, list);
  return `<!doctype html>\n${page.documentElement.outerHTML}\n`;
}

// --- start --------------------------------------------------------------------------------------------

async function start() {
  card = genesisCard({ info: "genesis-info", input: "genesis-input", pin: "genesis-pin", forget: "genesis-forget" },
    async () => {
      await trust?.genesisChanged();
      await verifyAll();
    });
  trust = trustCard({ info: "trust-info", input: "trust-input", forget: "trust-forget" },
    () => card.current(), () => verifyAll(), showError);
  const panel = mountMemberPanel($("member-panel"));  // an auditor's key signs the reads of the history
  initLanguage(() => {
    card.render();
    trust.render();
    render();
    panel.render();
  });
  await card.start(showError);
  trust.start();
  $("entity-form").addEventListener("submit", loadFromNode);
  $("export-input").addEventListener("change", (e) => {
    const file = e.target.files?.[0];
    e.target.value = "";
    if (file) loadExport(file);
  });
  for (const id of ["from-date", "to-date"]) $(id).addEventListener("change", render);
  $("clear-dates").addEventListener("click", () => {
    $("from-date").value = "";
    $("to-date").value = "";
    render();
  });
  $("export-json").addEventListener("click", () => download(`${fileStem()}.json`, "application/json",
    `${JSON.stringify(report(), null, 2)}\n`));
  $("export-html").addEventListener("click", () => download(`${fileStem()}.html`, "text/html", reportHtml(report())));
  $("print-button").addEventListener("click", () => globalThis.print());
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("entity");
  if (fromHash && ENTITY_FORM.test(fromHash)) $("entity").value = fromHash;
  render();
  document.documentElement.dataset.ready = "1";
}

start();
