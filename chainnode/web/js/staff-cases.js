// The staff desk's case view: the department's cases and one case, read with signed requests, and the steps
// that apply to the case's current state offered right there (a button per step, which opens that task's form
// with the case's or its certificate's ID filled in).

import { el, clear, shortHex, formatTime, formatShortTime } from "./dom.js";
import { fetchSigned, readJson } from "./session.js";
import { mt } from "./member/texts.js";

const CASE_FIELDS = ["case_id", "item_code", "department", "status", "officer_name", "holder_ref", "filed_height",
  "deadline_date", "legal_deadline_date", "working_days_left", "overdue", "decision", "decision_reason", "certificate_id"];
/** The tasks a case in each status takes (contracts/cases.py, "Theory of operation"). */
const CASE_ACTIONS = {
  accepted: ["request_correction", "review", "opinion", "hand_over", "decide"],
  returned: ["resubmit", "hand_over"],
};
const CERTIFICATE_ACTIONS = ["status", "cert_amend", "cert_renew"];
const MAX_STEPS_SHOWN = 256;

function readMessage(text, code) {
  const node = document.getElementById("cases-message");
  node.hidden = !text;
  node.textContent = text;
  node.dataset.code = code ?? "";
}

/** The answer's JSON, or null after showing why there is none (a 401 says a member key is needed). */
async function signedJson(path) {
  const response = await fetchSigned(path, { headers: { Accept: "application/json" } });
  const body = await readJson(response);
  if (response.ok && body) return body;
  const code = typeof body?.code === "string" ? body.code : `http_${response.status}`;
  const detail = typeof body?.detail === "string" ? body.detail : response.statusText;
  if (response.status === 401) readMessage(`${mt("requires_member_key")} (${code})`, code);
  else if (response.status === 403) readMessage(mt("not_authorised_read", { message: detail }), code);
  else readMessage(`${code}: ${detail}`, code);
  return null;
}

export function createCaseView({ onAction }) {
  async function listCases(department) {
    readMessage("", "");
    const list = clear(document.getElementById("cases-list"));
    if (!/^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$/.test(department)) {
      readMessage(`${mt("cases_department")}: ${mt("v_code")}`, "invalid_field");
      return;
    }
    const body = await signedJson(`/v1/cases?department=${encodeURIComponent(department)}&limit=50`);
    if (!body) return;
    const cases = Array.isArray(body.cases) ? body.cases.slice(0, 1000) : [];
    if (!cases.length) {
      list.append(el("p", { class: "muted" }, mt("cases_empty")));
      return;
    }
    const rows = cases.map((c) => {
      const id = String(c.case_id ?? "");
      const open = el("button", { type: "button", class: "link mono", "data-case": id }, shortHex(id, 12));
      open.addEventListener("click", () => openCase(id));
      return el("tr", { "data-case-id": id }, el("td", {}, open), el("td", { class: "mono" }, String(c.item_code ?? "")),
        el("td", {}, String(c.status ?? ""), c.overdue === true ? el("span", { class: "badge bad" }, ` ${mt("overdue")}`) : null),
        el("td", { class: "hide-narrow" }, String(c.officer_name ?? "")), el("td", { class: "nowrap" }, String(c.deadline_date ?? "")),
        el("td", { class: "num hide-narrow" }, c.working_days_left ?? ""));
    });
    list.append(el("table", { id: "cases-table" },
      el("thead", {}, el("tr", {}, el("th", {}, mt("col_case")), el("th", {}, mt("col_item")), el("th", {}, mt("col_status")),
        el("th", { class: "hide-narrow" }, mt("col_officer")), el("th", {}, mt("col_deadline")),
        el("th", { class: "num hide-narrow" }, mt("col_days_left")))),
      el("tbody", {}, rows)));
  }

  function actionButton(task, prefill) {
    const button = el("button", { type: "button", id: `case-act-${task}`, "data-task": task }, mt(`task_${task}`));
    button.addEventListener("click", () => onAction(task, prefill));
    return button;
  }

  function actionsOf(id, record) {
    const status = String(record.status ?? "");
    const buttons = (CASE_ACTIONS[status] ?? []).map((task) => actionButton(task, { case_id: id }));
    const certId = typeof record.certificate_id === "string" && /^[0-9a-f]{32}$/.test(record.certificate_id)
      ? record.certificate_id : null;
    if (certId) buttons.push(...CERTIFICATE_ACTIONS.map((task) => actionButton(task, { cert_id: certId })));
    return el("div", { class: "case-actions", id: "case-actions", role: "group", "aria-label": mt("case_actions") },
      el("h4", {}, mt("case_actions")),
      buttons.length ? el("div", { class: "tasks" }, buttons) : el("p", { class: "muted" }, mt("case_no_actions")));
  }

  function problemsOf(record) {
    const problems = Array.isArray(record.problems) ? record.problems.slice(0, 64) : [];
    if (!problems.length) return null;
    return el("div", { id: "case-problems" }, el("h4", {}, mt("case_problems")),
      el("ul", {}, problems.map((p) => el("li", {}, el("span", { class: "mono" }, String(p?.material_type ?? "")),
        `: ${String(p?.reason ?? "")}`))));
  }

  function stepsOf(record) {
    const steps = Array.isArray(record.steps) ? record.steps.slice(-MAX_STEPS_SHOWN) : [];
    if (!steps.length) return null;
    const label = (kind) => (mt(`step_${kind}`) === `step_${kind}` ? String(kind) : mt(`step_${kind}`));
    return el("div", { class: "scroll" }, el("h4", {}, mt("case_steps")),
      el("table", { id: "case-steps" },
        el("thead", {}, el("tr", {}, el("th", {}, mt("col_step")), el("th", {}, mt("col_by")),
          el("th", { class: "hide-narrow" }, mt("col_role")), el("th", { class: "num" }, mt("col_height")),
          el("th", { class: "hide-narrow" }, mt("col_time")))),
        el("tbody", {}, steps.map((s) => el("tr", { "data-step": String(s?.kind ?? "") },
          el("td", {}, label(s?.kind), s?.opinion ? ` (${mt(`opinion_${s.opinion}`)})` : null,
            s?.decision ? ` (${mt(`decision_${s.decision}`)})` : null),
          el("td", {}, String(s?.name ?? "")), el("td", { class: "hide-narrow" }, String(s?.role ?? "")),
          el("td", { class: "num" }, String(s?.height ?? "")),
          el("td", { class: "hide-narrow nowrap", title: formatTime(s?.time_ms) }, formatShortTime(s?.time_ms)))))));
  }

  /** Read case `caseId` and show it with the steps it takes; `focus` moves the keyboard focus to it. */
  async function openCase(caseId, { focus = true } = {}) {
    readMessage("", "");
    const detail = document.getElementById("case-detail");
    const id = String(caseId).trim().toLowerCase();
    if (!/^[0-9a-f]{32}$/.test(id)) {
      detail.hidden = true;
      readMessage(`${mt("f_case_id")}: ${mt("v_hex32")}`, "invalid_field");
      return;
    }
    const body = await signedJson(`/v1/cases/${id}`);
    if (!body) {
      detail.hidden = true;
      return;
    }
    const record = body.case && typeof body.case === "object" ? body.case : body;
    const pairs = el("dl", { class: "pairs" });
    for (const name of CASE_FIELDS) {
      const value = name === "decision" && record.decision && typeof record.decision === "object" ? record.decision.decision
        : name === "decision_reason" && record.decision && typeof record.decision === "object" ? record.decision.reason : record[name];
      if (value === null || value === undefined || typeof value === "object") continue;
      const label = mt(`case_${name}`) === `case_${name}` ? name : mt(`case_${name}`);
      pairs.append(el("dt", {}, label), el("dd", { class: name.endsWith("_id") || name === "holder_ref" ? "mono" : null,
        "data-field": name }, typeof value === "boolean" ? mt(value ? "yes" : "no") : String(value)));
    }
    if (Number.isSafeInteger(body.time_ms)) pairs.append(el("dt", {}, mt("case_time")), el("dd", {}, formatTime(body.time_ms)));
    const rest = Object.fromEntries(Object.entries(record).filter(([k]) => !CASE_FIELDS.includes(k) && k !== "steps"));
    const parts = [el("h3", {}, `${mt("case_detail")} `, el("span", { class: "mono" }, id)), pairs,
      actionsOf(id, record), problemsOf(record), stepsOf(record),
      el("details", {}, el("summary", {}, mt("case_all_fields")),
        el("pre", { class: "mono" }, JSON.stringify(rest, null, 1).slice(0, 20000)))];
    clear(detail).append(...parts.filter(Boolean));
    detail.dataset.caseId = id;
    detail.dataset.status = String(record.status ?? "");
    detail.dataset.steps = String(Array.isArray(record.steps) ? record.steps.length : 0);
    detail.hidden = false;
    if (focus) detail.focus();
  }

  function openCaseId() {
    const detail = document.getElementById("case-detail");
    return detail.hidden ? null : detail.dataset.caseId ?? null;
  }

  return { listCases, openCase, openCaseId };
}
