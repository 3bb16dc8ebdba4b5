// The explorer page: chain status, the latest blocks and transactions live from the /v1/events WebSocket,
// a block with its commit signatures and the departments that signed, a transaction with its result (and,
// with a member key loaded in the page, its events and arguments), validators, departments and their members'
// roles as of any height, and older blocks paged back by height. It reads the public /v1 routes; where a route
// asks for a member's signed read (401/403) the page says so instead of failing.

import { clear, el, formatShortTime, formatTime, shortHex } from "./dom.js";
import { initLanguage, t } from "./i18n.js";
import { HEX64, renderMember, renderTx } from "./explorer-tx.js";
import { olderBlocks } from "./explorer-older.js";
import { resolveSearch } from "./explorer-search.js";
import { mountMemberPanel } from "./member/panel.js";
import { onMemberChange } from "./session.js";

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
  older?.render();
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
      const txLink = HEX64.test(r.tx_id) ? el("a", { href: `#tx=${r.tx_id}` }, shortHex(r.tx_id, 16)) : shortHex(r.tx_id, 16);
      body.append(el("tr", {}, el("td", { class: "mono", title: r.tx_id }, txLink),
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
  if (location.hash !== `#block=${height}` && location.hash !== "") return; // another view was asked for meanwhile
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
  body.append(el("p", {}, el("a", { href: `#asof=${height}`, id: "block-validators-link" }, t("validators_at_height"))));
  body.append(el("h3", {}, `${t("commit")} (${t("round")} ${commit.round ?? "?"})`),
    el("p", { id: "block-signers" }, `${t("signed_by")}: ${signers.join(", ") || "—"}`),
    el("div", { class: "scroll" }, el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, t("col_department")),
      el("th", {}, t("col_key")), el("th", { class: "num" }, t("col_power")), el("th", {}, t("signatures")))),
    el("tbody", {}, rows))));
  if (Array.isArray(block.txs)) {
    body.append(el("h3", {}, t("block_txs")), block.txs.length === 0 ? el("p", { class: "muted" }, t("no_txs"))
      : el("div", { class: "scroll" }, el("table", {}, el("tbody", {}, block.txs.map((tx) => el("tr", {},
        el("td", { class: "mono", title: tx.tx_id }, HEX64.test(tx.tx_id ?? "")
          ? el("a", { href: `#tx=${tx.tx_id}` }, shortHex(tx.tx_id, 16)) : shortHex(tx.tx_id, 16)),
        el("td", {}, `${tx.contract}.${tx.method}`),
        el("td", {}, el("span", { class: `badge ${tx.code === "ok" ? "ok" : "bad"}` }, String(tx.code)))))))));
  } else if ((h.tx_count ?? 0) > 0) {
    body.append(el("p", { class: "muted" }, t("needs_member_key")));
  }
  section.focus();
}

let shown = ""; // the hash the detail section answers

function showDetail(heading) {
  const section = $("block-detail");
  section.hidden = false;
  $("block-h").textContent = heading;
  section.focus();
  const current = location.hash;
  shown = current;
  return { body: $("block-body"), isCurrent: () => shown === current && location.hash === current };
}

function onHash() {
  const hash = location.hash;
  const block = /^#block=(\d{1,15})$/.exec(hash);
  const tx = /^#tx=([0-9a-f]{64})$/.exec(hash);
  const member = /^#member=([0-9a-f]{64})$/.exec(hash);
  const asof = /^#asof=(\d{1,15})$/.exec(hash);
  if (block) {
    shown = hash;
    showBlock(Number(block[1]));
  } else if (tx) {
    const view = showDetail(`${t("tx_detail")} ${shortHex(tx[1], 16)}`);
    renderTx(view.body, tx[1], view.isCurrent);
  } else if (member) {
    const view = showDetail(`${t("member_detail")} ${shortHex(member[1], 16)}`);
    renderMember(view.body, member[1], view.isCurrent);
  } else {
    shown = "";
    $("block-detail").hidden = true;
    if (asof) {
      setAsOf(Number(asof[1]));
      $("asof-card").scrollIntoView();
    }
  }
}

// --- validators and departments -----------------------------------------------------------------------

let asOf = null; // null: the head

function heightQuery(prefix = "?") {
  return asOf === null ? "" : `${prefix}height=${asOf}`;
}

function setAsOf(height) {
  const head = Math.max(status?.height ?? 0, ...blocks.keys());
  asOf = Number.isSafeInteger(height) && height >= 1 && (head === 0 || height <= head) ? height : null;
  $("asof-height").value = asOf === null ? "" : String(asOf);
  $("asof-error").textContent = Number.isSafeInteger(height) && asOf === null ? t("asof_out_of_range", { head }) : "";
  loadValidators();
  loadDepartments();
}

function answeredText(kind, height, timeMs) {
  if (!Number.isSafeInteger(timeMs)) return t("asof_validators_next", { height: String(height) });
  return t(kind, { height: String(height), time: formatTime(timeMs) });
}

async function loadValidators() {
  const box = $("validators");
  const wanted = asOf;
  try {
    const answer = await getJson(`/v1/validators${heightQuery()}`);
    if (wanted !== asOf) return;
    // the set that signs block H: its time is block H's (none yet for the next block)
    let timeMs = null;
    const head = status?.height ?? 0;
    if (Number.isSafeInteger(answer.height) && answer.height <= Math.max(head, ...blocks.keys())) {
      timeMs = blocks.get(answer.height)?.time_ms ?? (await getJson(`/v1/blocks/${answer.height}`).catch(() => null))?.header?.time_ms;
    }
    if (wanted !== asOf) return;
    $("validators-answered").textContent = answeredText("asof_validators_answered", answer.height, timeMs);
    $("validators").dataset.height = String(answer.height);
    clear(box).append(el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, t("col_department")),
      el("th", {}, t("col_key")), el("th", { class: "num" }, t("col_power")))),
    el("tbody", {}, (answer.validators ?? []).map((v) => el("tr", {}, el("td", {}, v.department),
      el("td", { class: "mono", title: v.public_key }, shortHex(v.public_key, 16)), el("td", { class: "num" }, String(v.power)))))));
  } catch (exc) {
    if (wanted === asOf) clear(box).append(failure(exc));
  }
}

async function toggleMembers(code, button, row) {
  const wanted = asOf;
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
    const answer = await getJson(`/v1/departments/${encodeURIComponent(code)}/members${heightQuery()}`);
    if (wanted !== asOf) return;
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
  const wanted = asOf;
  try {
    const answer = await getJson(`/v1/departments${heightQuery()}`);
    if (wanted !== asOf) return;
    $("departments-answered").textContent = answeredText("asof_departments_answered", answer.height, answer.time_ms);
    box.dataset.height = String(answer.height);
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

// --- search -------------------------------------------------------------------------------------------

async function onSearch(event) {
  event.preventDefault();
  const error = $("search-error");
  error.textContent = "";
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), FETCH_TIMEOUT_MS);
  try {
    const head = status === null ? null : Math.max(status.height ?? 0, ...blocks.keys());
    const found = await resolveSearch($("search-text").value, head, controller.signal);
    if (found.error) error.textContent = t(found.error);
    else if (found.href.startsWith("#")) location.hash = found.href;
    else location.assign(found.href);
  } catch (exc) {
    error.textContent = `${t("load_failed")}${exc.message}`;
  } finally {
    clearTimeout(timer);
  }
}

// --- start --------------------------------------------------------------------------------------------

let older = null;

async function start() {
  const panel = mountMemberPanel($("member-panel")); // a member's key signs the reads of a transaction's detail
  older = olderBlocks({ table: $("older-blocks"), button: $("older-button"), note: $("older-note"),
    lowestLive: () => {
      const heights = [...blocks.keys()].sort((a, b) => b - a).slice(0, MAX_ROWS);
      return heights.length > 0 ? heights[heights.length - 1] : null;
    } });
  initLanguage(() => {
    panel.render();
    renderStatus();
    renderBlocks();
    older.render();
    loadValidators();
    loadDepartments();
    onHash();
  });
  onMemberChange(() => {
    if (/^#tx=/.test(location.hash)) onHash();
  });
  $("asof-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("asof-height").value.trim();
    if (text !== "" && !/^\d{1,15}$/.test(text)) {
      $("asof-error").textContent = t("asof_invalid");
      return;
    }
    setAsOf(text === "" ? null : Number(text));
  });
  $("asof-head").addEventListener("click", () => setAsOf(null));
  $("search-form").addEventListener("submit", onSearch);
  $("close-block").addEventListener("click", () => {
    history.replaceState(null, "", location.pathname);
    shown = "";
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
