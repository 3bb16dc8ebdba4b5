// The supervision dashboard (电子监察): for one department and a period of dates, the node's deadline
// supervision (GET /v1/supervision/{dept}, a signed read through audit-fetch.js): open, overdue and
// near-deadline cases, the on-time rate overall and per day, week or month, time per step and per officer.
// These are the node's figures from its state, not proven in the browser; the page says so.

import { AccessError, getJson } from "./audit-fetch.js";
import { barChart, columnChart } from "./charts.js";
import { clear, el, shortHex } from "./dom.js";
import { initLanguage, t } from "./i18n.js";
import { mountMemberPanel } from "./member/panel.js";

const $ = (id) => document.getElementById(id);
const MAX_PERIODS = 31;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DEPARTMENT = /^[A-Z][A-Z0-9_]{1,31}$/;
const state = { report: null, periods: [], error: null, access: false, busy: false, query: null };

const day = (s) => new Date(`${s}T00:00:00Z`);
const iso = (d) => d.toISOString().slice(0, 10);
const addDays = (d, n) => new Date(d.getTime() + n * 86400000);

/** The periods [from, to] (inclusive dates) that split the range by day, week (7 days from `from`) or month. */
export function splitPeriods(from, to, granularity) {
  const out = [];
  let start = day(from);
  const end = day(to);
  while (start <= end && out.length <= MAX_PERIODS) {
    let stop;
    if (granularity === "day") stop = start;
    else if (granularity === "week") stop = addDays(start, 6);
    else stop = addDays(new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1)), -1);
    if (stop > end) stop = end;
    out.push([iso(start), iso(stop)]);
    start = addDays(stop, 1);
  }
  return out;
}

const num = (v) => (Number.isSafeInteger(v) && v >= 0 ? v : null);
const rate = (v) => (typeof v === "string" && /^\d{1,3}\.\d$/.test(v) ? v : null);

function url(dept, from, to, within, perOfficer) {
  const q = new URLSearchParams({ from_date: from, to_date: to, within_days: String(within) });
  if (perOfficer) q.set("per_officer", "1");
  return `/v1/supervision/${dept}?${q}`;
}

async function load(event) {
  event.preventDefault();
  const dept = $("department").value;
  const from = $("from-date").value;
  const to = $("to-date").value;
  const within = Number($("within-days").value);
  const granularity = $("granularity").value;
  $("form-error").textContent = "";
  if (!DEPARTMENT.test(dept) || !DATE.test(from) || !DATE.test(to) || !Number.isInteger(within) || within < 0
    || within > 60 || !["day", "week", "month"].includes(granularity)) {
    $("form-error").textContent = t("sup_err_form");
    return;
  }
  if (to < from) {
    $("form-error").textContent = t("sup_err_order");
    return;
  }
  const periods = splitPeriods(from, to, granularity);
  if (periods.length > MAX_PERIODS) {
    $("form-error").textContent = t("sup_err_periods", { n: MAX_PERIODS });
    return;
  }
  Object.assign(state, { report: null, periods: [], error: null, access: false, busy: true,
    query: { dept, from, to, within, granularity } });
  render();
  try {
    state.report = await getJson(url(dept, from, to, within, true));
    for (const [a, b] of periods) {
      const answer = await getJson(url(dept, a, b, within, false));
      state.periods.push({ from: a, to: b, decided: num(answer.decided), onTime: num(answer.decided_on_time),
        rate: rate(answer.on_time_rate) });
    }
    history.replaceState(null, "", `#${new URLSearchParams({ department: dept, from, to, granularity })}`);
  } catch (exc) {
    state.error = exc instanceof Error ? exc.message : String(exc);
    state.access = exc instanceof AccessError;
  }
  state.busy = false;
  render();
}

// --- rendering ----------------------------------------------------------------------------------------

function stat(id, label, value) {
  return el("div", { class: "stat" }, el("div", { class: "muted" }, label),
    el("div", { class: "value", id }, value === null || value === undefined ? "—" : String(value)));
}

function stepName(kind) {
  const key = `step_${String(kind).slice(0, 40)}`;
  const text = t(key);
  return text === key ? String(kind).slice(0, 40) : text;
}

/** The width to draw a chart at: the result area's, so that its text keeps the page's size. */
const chartWidth = () => Math.round(Math.min(760, Math.max(280, $("result").clientWidth - 48)));

const days = (n) => (n === null || n === undefined ? "—" : t("sup_wd", { n }));
/** A duration as the page shows it: seconds, minutes or hours. */
function duration(ms) {
  if (num(ms) === null) return "—";
  if (ms < 1000) return t("sup_ms", { n: ms });
  if (ms < 60000) return t("sup_seconds", { n: Math.round(ms / 1000) });
  if (ms < 3600000) return t("sup_minutes", { n: Math.round(ms / 60000) });
  return t("sup_hours", { n: (ms / 3600000).toFixed(1) });
}

function caseTable(id, cases) {
  const list = Array.isArray(cases) ? cases.slice(0, 500) : [];
  if (list.length === 0) return el("p", { class: "muted", id }, t("sup_none"));
  return el("div", { class: "scroll" }, el("table", { id },
    el("thead", {}, el("tr", {}, [t("sup_case"), t("sup_item"), t("sup_officer"), t("sup_deadline"),
      t("sup_days_left")].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, list.map((c) => el("tr", {},
      el("td", { class: "mono" }, el("a", { href: `audit.html#entity=case:${String(c.case_id).replace(/[^0-9a-f]/g, "")}` },
        shortHex(String(c.case_id ?? ""), 12))),
      el("td", { class: "mono" }, String(c.item_code ?? "").slice(0, 64)),
      el("td", {}, String(c.officer_name ?? "").slice(0, 120)),
      el("td", { class: "nowrap" }, String(c.deadline_date ?? "").slice(0, 10)),
      el("td", { class: "num" }, String(c.working_days_left ?? "—")))))));
}

function stepSection(r) {
  const steps = Array.isArray(r.time_per_step) ? r.time_per_step.slice(0, 32) : [];
  const timed = steps.filter((s) => num(s.median_ms) !== null);
  return [el("h3", {}, t("sup_time_per_step")),
    timed.length === 0 ? el("p", { class: "muted" }, t("sup_none")) : barChart({
      title: t("sup_time_per_step"), description: t("sup_step_desc"), width: chartWidth(),
      items: timed.map((s) => ({ label: stepName(s.kind), value: s.median_ms,
        text: chartWidth() < 520 ? duration(s.median_ms) : `${days(s.median_working_days)} · ${duration(s.median_ms)}`,
      })) }),
    el("div", { class: "scroll" }, el("table", { id: "steps" },
      el("thead", {}, el("tr", {}, [t("sup_step"), t("sup_count"), t("sup_median"), t("sup_median_duration")]
        .map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, steps.map((s) => el("tr", { "data-kind": String(s.kind) },
        el("td", {}, stepName(s.kind)), el("td", { class: "num" }, String(num(s.count) ?? "—")),
        el("td", { class: "num" }, days(s.median_working_days)), el("td", { class: "num" }, duration(s.median_ms)))))))];
}

function officerTable(r) {
  const officers = Array.isArray(r.officers) ? r.officers.slice(0, 500) : [];
  if (officers.length === 0) return el("p", { class: "muted" }, t("sup_none"));
  return el("div", { class: "scroll" }, el("table", { id: "officers" },
    el("thead", {}, el("tr", {}, [t("sup_officer"), t("col_department"), t("sup_cases"), t("sup_on_time"),
      t("sup_overdue"), t("sup_steps"), t("sup_median")].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, officers.map((o) => el("tr", {},
      el("td", {}, String(o.name ?? shortHex(String(o.signer ?? ""))).slice(0, 120)),
      el("td", {}, String(o.department ?? "—").slice(0, 64)),
      ...[o.cases, o.on_time, o.overdue, o.steps].map((v) => el("td", { class: "num" }, String(num(v) ?? "—"))),
      el("td", { class: "num" }, days(o.median_step_working_days)))))));
}

function render() {
  const box = clear($("result"));
  if (state.busy) box.append(el("p", { class: "info" }, t("loading")));
  if (state.error !== null) {
    box.append(el("div", { class: "verdict invalid", id: "verdict", "data-verdict": state.access ? "access" : "error",
      role: "status" }, el("span", { class: "mark", "aria-hidden": "true" }, "✗"),
    el("strong", {}, state.access ? t("needs_auditor_key") : t("load_failed")), el("p", {}, state.error)));
  }
  const r = state.report;
  if (r === null || state.busy) return;
  const q = state.query;
  const overdue = Array.isArray(r.overdue) ? r.overdue : [];
  const dueSoon = Array.isArray(r.due_soon) ? r.due_soon : [];
  box.append(
    el("section", { class: "card" },
      el("h2", {}, `${String(r.department ?? q.dept).slice(0, 32)} · ${q.from} – ${q.to}`),
      el("p", { class: "info" }, t("sup_as_of", { height: num(r.to_height) ?? num(r.height) ?? "—",
        from: num(r.from_height) ?? "—" })),
      el("div", { class: "stats", id: "stats" },
        stat("sup-open", t("sup_open"), num(r.open)), stat("sup-overdue", t("sup_overdue"), overdue.length),
        stat("sup-due-soon", t("sup_due_soon", { n: q.within }), dueSoon.length),
        stat("sup-returned", t("sup_returned"), num(r.returned)), stat("sup-decided", t("sup_decided"), num(r.decided)),
        stat("sup-decided-on-time", t("sup_decided_on_time"), num(r.decided_on_time)),
        stat("sup-rate", t("sup_rate"), rate(r.on_time_rate) === null ? null : `${r.on_time_rate}%`)),
      el("p", { class: "note" }, t("sup_not_proven"))),
    el("section", { class: "card" }, el("h3", {}, t("sup_rate_per_period")),
      columnChart({ title: t("sup_rate_per_period"), description: t("sup_rate_desc"), max: 100, unit: "%",
        width: chartWidth(),
        items: state.periods.map((p) => ({ label: p.from === p.to ? p.from.slice(5) : `${p.from.slice(5)}…`,
          value: p.rate === null ? null : Number(p.rate), note: `${p.onTime}/${p.decided}` })) }),
      el("div", { class: "scroll" }, el("table", { id: "periods" },
        el("thead", {}, el("tr", {}, [t("sup_period"), t("sup_decided"), t("sup_decided_on_time"), t("sup_rate")]
          .map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, state.periods.map((p) => el("tr", {},
          el("td", { class: "nowrap" }, p.from === p.to ? p.from : `${p.from} – ${p.to}`),
          el("td", { class: "num" }, String(p.decided ?? "—")), el("td", { class: "num" }, String(p.onTime ?? "—")),
          el("td", { class: "num" }, p.rate === null ? "—" : `${p.rate}%`))))))),
    el("section", { class: "card" }, el("h3", {}, t("sup_overdue_list")), caseTable("overdue", overdue),
      el("h3", {}, t("sup_due_soon_list", { n: q.within })), caseTable("due-soon", dueSoon)),
    el("section", { class: "card" }, ...stepSection(r)),
    el("section", { class: "card" }, el("h3", {}, t("sup_officers")), officerTable(r)));
}

// --- start --------------------------------------------------------------------------------------------

async function loadDepartments() {
  const select = $("department");
  try {
    const answer = await getJson("/v1/departments");
    const codes = (Array.isArray(answer.departments) ? answer.departments : [])
      .filter((d) => typeof d?.code === "string" && DEPARTMENT.test(d.code)).slice(0, 1024);
    clear(select).append(...codes.map((d) => el("option", { value: d.code },
      `${d.code} ${String(d.name ?? "").slice(0, 60)}`)));
  } catch (exc) {
    state.error = exc instanceof Error ? exc.message : String(exc);
    render();
  }
}

async function start() {
  const panel = mountMemberPanel($("member-panel"));  // the department's or an auditor's key signs the reads
  initLanguage(() => {
    render();
    panel.render();
  });
  const params = new URLSearchParams(location.hash.slice(1));
  const today = iso(new Date());
  $("to-date").value = DATE.test(params.get("to") ?? "") ? params.get("to") : today;
  $("from-date").value = DATE.test(params.get("from") ?? "") ? params.get("from") : iso(addDays(day(today), -6));
  if (["day", "week", "month"].includes(params.get("granularity"))) $("granularity").value = params.get("granularity");
  await loadDepartments();
  const dept = params.get("department");
  if (dept && DEPARTMENT.test(dept)) $("department").value = dept;
  $("sup-form").addEventListener("submit", load);
  render();
  document.documentElement.dataset.ready = "1";
}

start();
