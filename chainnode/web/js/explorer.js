// The explorer page: chain status, the latest blocks and transactions live from the /v1/events WebSocket,
// a block with its commit signatures and the departments that signed, validators, departments and their
// members' roles. It reads the public /v1 routes; where a route asks for a member's signed read (401/403)
// the page says so instead of failing.

import { clear, el, formatShortTime, formatTime, shortHex } from "./dom.js";
import { initLanguage, t } from "./i18n.js";

const MAX_ROWS = 12;
const MAX_TX_ROWS = 15;
const FETCH_TIMEOUT_MS = 10000;
const MAX_MESSAGE_CHARS = 1 << 20;
const $ = (id) => document.getElementById(id);
const blocks = new Map(); // height -> event
let socket = null;
let nextHeight = null;
let reconnectTimer = null;

class NeedsMemberKey extends Error {}

async function getJson(path) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), FETCH_TIMEOUT_MS);
  try {
    const answer = await fetch(path, { signal: controller.signal, cache: "no-store",
      headers: { Accept: "application/json" } });
    if (answer.status === 401 || answer.status === 403) throw new NeedsMemberKey(t("needs_member_key"));
    const body = await answer.json();
    if (!answer.ok) throw new Error(body?.detail ?? `HTTP ${answer.status}`);
    return body;
  } finally {
    clearTimeout(timer);
  }
}

function failure(exc) {
  return el("p", { class: "muted" }, exc instanceof NeedsMemberKey ? t("needs_member_key")
    : `${t("load_failed")}${exc.message}`);
}

// --- status -------------------------------------------------------------------------------------------

let status = null;

async function loadStatus() {
  try {
    status = await getJson("/v1/status");
  } catch (exc) {
    clear($("stats")).append(failure(exc));
    return null;
  }
  renderStatus();
  return status;
}

function renderStatus() {
  if (status === null) return;
  const head = Math.max(status.height ?? 0, ...blocks.keys());
  const stat = (label, value, attrs = {}) => el("div", {}, el("div", { class: "muted" }, label),
    el("div", { class: "value", ...attrs }, value));
  clear($("stats")).append(
    stat(t("chain_id"), status.chain_id),
    stat(t("head_height"), String(head), { id: "head-height" }),
    stat(t("col_time"), blocks.get(head) ? formatTime(blocks.get(head).time_ms) : formatTime(status.block_time_ms)),
  );
}

// --- live blocks and transactions ---------------------------------------------------------------------

function isBlockEvent(e) {
  return e && e.type === "block" && Number.isSafeInteger(e.height) && e.height >= 1 && typeof e.hash === "string"
    && Number.isSafeInteger(e.time_ms) && Number.isSafeInteger(e.tx_count);
}

function onEvent(message) {
  if (typeof message.data !== "string" || message.data.length > MAX_MESSAGE_CHARS) return;
  let event;
  try {
    event = JSON.parse(message.data);
  } catch {
    return;
  }
  if (!isBlockEvent(event)) return;
  blocks.set(event.height, event);
  nextHeight = Math.max(nextHeight ?? 0, event.height + 1);
  const heights = [...blocks.keys()].sort((a, b) => b - a);
  for (const old of heights.slice(MAX_ROWS * 4)) blocks.delete(old);
  renderBlocks(event.height);
  renderStatus();
}

function renderBlocks(fresh = null) {
  const body = clear($("blocks").tBodies[0]);
  const heights = [...blocks.keys()].sort((a, b) => b - a).slice(0, MAX_ROWS);
  for (const h of heights) {
    const e = blocks.get(h);
    const link = el("a", { href: `#block=${h}` }, String(h));
    body.append(el("tr", { "data-height": h, class: h === fresh ? "fresh" : null },
      el("td", { class: "num" }, link), el("td", { class: "nowrap", title: formatTime(e.time_ms) }, formatShortTime(e.time_ms)), el("td", { class: "num" }, String(e.tx_count)),
      el("td", { class: "mono hide-narrow", title: e.hash }, shortHex(e.hash, 14))));
  }
  renderTxs(heights);
}

function renderTxs(heights) {
  const body = clear($("txs").tBodies[0]);
  let shown = 0;
  let hidden = false;
  for (const h of heights) {
    const e = blocks.get(h);
    if (e.tx_count > 0 && !Array.isArray(e.results)) hidden = true;
    for (const r of Array.isArray(e.results) ? e.results : []) {
      if (shown >= MAX_TX_ROWS || typeof r?.tx_id !== "string") continue;
      const ok = r.code === "ok";
      body.append(el("tr", {}, el("td", { class: "mono", title: r.tx_id }, shortHex(r.tx_id, 16)),
        el("td", { class: "num" }, el("a", { href: `#block=${h}` }, String(h))),
        el("td", {}, el("span", { class: `badge ${ok ? "ok" : "bad"}` }, String(r.code)))));
      shown += 1;
    }
  }
  $("txs-note").textContent = hidden ? t("needs_member_key") : shown === 0 ? t("no_txs") : "";
}

function setLive(on) {
  const badge = $("live");
  badge.className = `live ${on ? "on" : "off"}`;
  badge.dataset.i18n = on ? "live" : "offline";
  badge.textContent = t(on ? "live" : "offline");
}

/** The height to stream from: the next one unseen, but never more than a screenful below the head (after a
 * long disconnection the page jumps ahead instead of replaying every block it missed). */
function streamFrom() {
  const head = status?.height;
  if (!Number.isSafeInteger(head)) return nextHeight; // unknown head: resume, or the node's default (new blocks)
  const recent = Math.max(1, head - MAX_ROWS + 1);
  return nextHeight === null ? recent : Math.max(nextHeight, recent);
}

function connect() {
  clearTimeout(reconnectTimer);
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const from = streamFrom();
  const query = from === null ? "" : `?from_height=${from}`;
  socket = new WebSocket(`${scheme}://${location.host}/v1/events${query}`);
  socket.addEventListener("open", () => setLive(true));
  socket.addEventListener("message", onEvent);
  socket.addEventListener("close", () => {
    setLive(false);
    reconnectTimer = setTimeout(async () => {
      await loadStatus();
      connect();
    }, 2000);
  });
}

// --- one block ----------------------------------------------------------------------------------------

async function showBlock(height) {
  const section = $("block-detail");
  section.hidden = false;
  $("block-h").textContent = `${t("block_detail")} ${height}`;
  const body = clear($("block-body"));
  body.append(el("p", { class: "muted" }, t("loading")));
  let block = null;
  let validators = null;
  let error = null;
  try {
    [block, validators] = await Promise.all([getJson(`/v1/blocks/${height}`), getJson(`/v1/validators?height=${height}`)]);
  } catch (exc) {
    error = exc;
  }
  clear(body);
  const event = blocks.get(height);
  if (block === null) {
    if (event) {
      body.append(el("dl", { class: "pairs" }, el("dt", {}, t("col_hash")), el("dd", { class: "mono hash" }, event.hash),
        el("dt", {}, t("col_time")), el("dd", {}, formatTime(event.time_ms)),
        el("dt", {}, t("col_txs")), el("dd", {}, String(event.tx_count))));
    }
    body.append(failure(error));
    section.focus();
    return;
  }
  const h = block.header ?? {};
  const byKey = new Map((validators?.validators ?? []).map((v) => [v.public_key, v.department]));
  const pair = (label, value, mono = true) => [el("dt", {}, label), el("dd", { class: mono ? "mono hash" : "" }, value)];
  body.append(el("h3", {}, t("header")), el("dl", { class: "pairs" },
    ...pair(t("col_hash"), block.hash), ...pair(t("col_time"), formatTime(h.time_ms), false),
    ...pair(t("col_txs"), String(h.tx_count), false),
    ...pair(t("proposer"), `${byKey.get(h.proposer) ?? "?"} · ${h.proposer}`),
    ...pair(t("prev_hash"), h.prev_hash), ...pair(t("tx_root"), h.tx_root), ...pair(t("state_root"), h.state_root)));
  const commit = block.commit ?? { signatures: [] };
  const signedIndexes = new Set((commit.signatures ?? []).map((s) => s.validator_index));
  const rows = (validators?.validators ?? []).map((v) => el("tr", { "data-signed": signedIndexes.has(v.index) ? "1" : "0" },
    el("td", {}, v.department), el("td", { class: "mono", title: v.public_key }, shortHex(v.public_key, 16)),
    el("td", { class: "num" }, String(v.power)),
    el("td", {}, el("span", { class: `badge ${signedIndexes.has(v.index) ? "ok" : "bad"}` },
      signedIndexes.has(v.index) ? `✓ ${t("signed")}` : `– ${t("not_signed")}`))));
  const signers = (validators?.validators ?? []).filter((v) => signedIndexes.has(v.index)).map((v) => v.department);
  body.append(el("h3", {}, `${t("commit")} (${t("round")} ${commit.round ?? "?"})`),
    el("p", { id: "block-signers" }, `${t("signed_by")}: ${signers.join(", ") || "—"}`),
    el("div", { class: "scroll" }, el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, t("col_department")),
      el("th", {}, t("col_key")), el("th", { class: "num" }, t("col_power")), el("th", {}, t("signatures")))),
    el("tbody", {}, rows))));
  if (Array.isArray(block.txs)) {
    body.append(el("h3", {}, t("block_txs")), block.txs.length === 0 ? el("p", { class: "muted" }, t("no_txs"))
      : el("div", { class: "scroll" }, el("table", {}, el("tbody", {}, block.txs.map((tx) => el("tr", {},
        el("td", { class: "mono", title: tx.tx_id }, shortHex(tx.tx_id, 16)), el("td", {}, `${tx.contract}.${tx.method}`),
        el("td", {}, el("span", { class: `badge ${tx.code === "ok" ? "ok" : "bad"}` }, String(tx.code)))))))));
  } else if ((h.tx_count ?? 0) > 0) {
    body.append(el("p", { class: "muted" }, t("needs_member_key")));
  }
  section.focus();
}

function onHash() {
  const match = /^#block=(\d{1,15})$/.exec(location.hash);
  if (match) showBlock(Number(match[1]));
  else $("block-detail").hidden = true;
}

// --- validators and departments -----------------------------------------------------------------------

async function loadValidators() {
  const box = $("validators");
  try {
    const answer = await getJson("/v1/validators");
    clear(box).append(el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, t("col_department")),
      el("th", {}, t("col_key")), el("th", { class: "num" }, t("col_power")))),
    el("tbody", {}, (answer.validators ?? []).map((v) => el("tr", {}, el("td", {}, v.department),
      el("td", { class: "mono", title: v.public_key }, shortHex(v.public_key, 16)), el("td", { class: "num" }, String(v.power)))))));
  } catch (exc) {
    clear(box).append(failure(exc));
  }
}

async function toggleMembers(code, button, row) {
  const existing = row.nextElementSibling;
  if (existing && existing.dataset.membersOf === code) {
    existing.remove();
    button.setAttribute("aria-expanded", "false");
    return;
  }
  button.setAttribute("aria-expanded", "true");
  const cell = el("td", { colspan: 4 }, t("loading"));
  row.after(el("tr", { "data-members-of": code }, cell));
  try {
    const answer = await getJson(`/v1/departments/${encodeURIComponent(code)}/members`);
    const members = answer.members ?? [];
    clear(cell).append(el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, t("col_member")), el("th", {}, t("col_key")),
      el("th", {}, t("col_roles")))), el("tbody", {}, members.map((m) => el("tr", {}, el("td", {}, m.name),
      el("td", { class: "mono", title: m.public_key }, shortHex(m.public_key, 16)), el("td", {}, (m.roles ?? []).join(", ")))))));
  } catch (exc) {
    clear(cell).append(failure(exc));
  }
}

async function loadDepartments() {
  const box = $("departments");
  try {
    const answer = await getJson("/v1/departments");
    const rows = (answer.departments ?? []).map((d) => {
      const button = el("button", { type: "button", class: "quiet", "aria-expanded": "false" }, t("show_members"));
      const row = el("tr", {}, el("td", {}, d.code), el("td", {}, d.name),
        el("td", {}, d.active ? t("active") : t("inactive")), el("td", {}, button));
      button.addEventListener("click", () => toggleMembers(d.code, button, row));
      return row;
    });
    clear(box).append(el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, t("col_code")), el("th", {}, t("col_name")),
      el("th", {}, t("col_active")), el("th", {}, t("members")))), el("tbody", {}, rows)));
  } catch (exc) {
    clear(box).append(failure(exc));
  }
}

// --- start --------------------------------------------------------------------------------------------

async function start() {
  initLanguage(() => {
    renderStatus();
    renderBlocks();
    loadValidators();
    loadDepartments();
    onHash();
  });
  $("close-block").addEventListener("click", () => {
    history.replaceState(null, "", location.pathname);
    $("block-detail").hidden = true;
  });
  window.addEventListener("hashchange", onHash);
  await loadStatus();
  connect();
  loadValidators();
  loadDepartments();
  onHash();
  document.documentElement.dataset.ready = "1";
}

start();
