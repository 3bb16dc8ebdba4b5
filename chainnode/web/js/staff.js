// The staff desk (staff.html): the forms that sign contract calls with the member key loaded in this page
// (file a case, attest a material, decide a case, issue a certificate, change a certificate's status), the
// transaction's fate (its ID at once, then the commit's result code and message: a contract's refusal is
// shown as the node states it), and the department's cases read with signed requests.

import { el, clear, shortHex, formatTime, readFileBytes } from "./dom.js";
import { initLanguage } from "./i18n.js";
import { toHex } from "./msgpack.js";
import { currentMember, fetchSigned, onMemberChange, readJson, submitTx } from "./session.js";
import { mountMemberPanel } from "./member/panel.js";
import { sha256 } from "./member/ed25519.js";
import { mt, applyMemberTexts, errorText } from "./member/texts.js";
import { TASKS, buildCall } from "./staff-forms.js";

const MAX_HASHED_FILE = 256 * 1024 * 1024;
const CASE_FIELDS = ["case_id", "item_code", "department", "status", "officer_name", "holder_ref", "filed_height",
  "deadline_date", "legal_deadline_date", "working_days_left", "overdue", "decision", "decision_reason"];
let task = "file";
let busy = false;
let panel = null;

function fieldInput(field) {
  const id = `f-${field.name}`;
  if (field.kind === "choice") {
    return el("fieldset", { id },
      el("legend", {}, mt(field.label)),
      field.choices.map((choice, i) => {
        const radio = el("input", { type: "radio", name: field.name, value: choice });
        radio.checked = i === 0;
        return el("label", {}, radio, mt(`${field.texts}${choice}`));
      }));
  }
  const multi = field.kind === "ids";
  const control = multi
    ? el("textarea", { id, name: field.name, spellcheck: "false", rows: "3" })
    : el("input", { id, name: field.name, autocomplete: "off", spellcheck: field.kind === "text" ? null : "false",
      type: field.kind === "date" ? "date" : "text",
      class: ["code", "hex64", "hash", "id"].includes(field.kind) ? "mono" : null,
      maxlength: field.kind === "text" ? "512" : field.kind === "date" ? null : "64" });
  const parts = [el("label", { for: id }, mt(field.label)), control];
  if (field.kind === "hash") {
    const picker = el("input", { type: "file", id: `${id}-file` });
    picker.addEventListener("change", async () => {
      const file = picker.files?.[0];
      if (!file) return;
      try {
        control.value = toHex(await sha256(await readFileBytes(file, MAX_HASHED_FILE)));
      } catch (e) {
        document.getElementById(`${id}-error`).textContent = errorText(e);
      }
    });
    parts.push(el("div", {}, el("label", { class: "file-button" }, el("span", {}, mt("f_content_file")), picker)));
  }
  parts.push(el("p", { id: `${id}-error`, class: "field-error", "aria-live": "polite" }));
  return el("div", { class: "field" }, ...parts);
}

function renderTasks() {
  const nav = clear(document.getElementById("tasks"));
  for (const [name, spec] of Object.entries(TASKS)) {
    const button = el("button", { type: "button", id: `task-${name}`, "aria-pressed": String(name === task) }, mt(spec.title));
    button.addEventListener("click", () => {
      task = name;
      renderTasks();
      renderForm();
    });
    nav.append(button);
  }
}

function renderForm() {
  const spec = TASKS[task];
  document.getElementById("task-h").textContent = mt(spec.title);
  const form = clear(document.getElementById("task-form"));
  form.dataset.task = task;
  for (const field of spec.fields) form.append(fieldInput(field));
  const submit = el("button", { type: "submit", id: "sign-submit", class: "primary" }, busy ? mt("signing") : mt("sign_submit"));
  submit.disabled = busy;
  form.append(el("div", { class: "actions" }, submit), el("p", { id: "task-error", class: "field-error", role: "alert" }));
}

function formValues(form) {
  const values = {};
  for (const field of TASKS[task].fields) {
    if (field.kind === "choice") values[field.name] = form.querySelector(`input[name="${field.name}"]:checked`)?.value ?? "";
    else values[field.name] = form.elements.namedItem(field.name)?.value ?? "";
  }
  return values;
}

function showResult(nodes, state) {
  const card = document.getElementById("tx-result");
  card.hidden = false;
  for (const [name, value] of Object.entries(state)) card.dataset[name] = value ?? "";
  clear(document.getElementById("tx-result-body")).append(...nodes);
}

function recordsOf(events) {
  const found = [];
  for (const event of events.slice(0, 64)) {
    const attributes = event?.attributes;
    if (!attributes || typeof attributes !== "object") continue;
    for (const name of ["case_id", "material_id", "cert_id"]) {
      const value = attributes[name];
      if (typeof value === "string" && /^[0-9a-f]{32}$/.test(value) && !found.some((f) => f.value === value)) {
        found.push({ name, value });
      }
    }
  }
  return found;
}

function renderOutcome(outcome) {
  const ok = outcome.status === "committed" && outcome.code === "ok";
  const title = outcome.status === "committed" ? (ok ? "r_committed_ok" : "r_committed_refused")
    : outcome.status === "refused" ? "r_refused" : outcome.status === "rejected" ? "r_rejected" : "r_pending";
  const verdict = el("div", { class: `verdict ${ok ? "ok" : outcome.status === "pending" ? "wait" : "bad"}`, id: "tx-verdict" },
    el("span", { class: "mark", "aria-hidden": "true" }, ok ? "✓" : outcome.status === "pending" ? "…" : "✗"),
    el("div", {}, el("strong", {}, mt(title)), el("span", { class: "code mono", id: "tx-code" }, outcome.code),
      outcome.message ? el("p", { id: "tx-message" }, outcome.message) : null));
  const pairs = el("dl", { class: "pairs" },
    el("dt", {}, mt("r_tx")), el("dd", { class: "mono", id: "tx-id" }, outcome.txId),
    outcome.height !== null ? [el("dt", {}, mt("r_height")), el("dd", {}, String(outcome.height))] : null,
    outcome.field ? [el("dt", {}, "field"), el("dd", { class: "mono" }, outcome.field)] : null);
  const records = recordsOf(outcome.events);
  if (records.length) {
    pairs.append(el("dt", {}, mt("r_records")), el("dd", {}, records.map((r) => {
      const line = el("div", { class: "mono", "data-record": r.name }, `${r.name}: ${r.value} `);
      if (r.name === "case_id") {
        const open = el("button", { type: "button", class: "link", id: "open-filed-case" }, mt("r_open_case"));
        open.addEventListener("click", () => openCase(r.value));
        line.append(open);
      }
      return line;
    })));
  }
  showResult([verdict, pairs], { status: outcome.status, code: outcome.code, txId: outcome.txId });
}

async function onSubmit(event) {
  event.preventDefault();
  if (busy) return;
  const form = event.currentTarget;
  const taskError = document.getElementById("task-error");
  taskError.textContent = "";
  for (const node of form.querySelectorAll(".field-error")) node.textContent = "";
  const call = buildCall(task, formValues(form));
  if (call.errors) {
    for (const [name, [key, params]] of Object.entries(call.errors)) {
      const node = document.getElementById(`f-${name}-error`);
      if (node) node.textContent = mt(key, params);
    }
    form.querySelector(`#f-${Object.keys(call.errors)[0]}`)?.focus();
    return;
  }
  if (!currentMember()) {
    taskError.textContent = mt("err_no_member_key");
    return;
  }
  busy = true;
  form.querySelector("#sign-submit").disabled = true;
  form.querySelector("#sign-submit").textContent = mt("signing");
  try {
    const spec = TASKS[task];
    const outcome = await submitTx(spec.contract, call.method, call.args, {
      onSubmitted: (txId) => showResult([
        el("div", { class: "verdict wait" }, el("span", { class: "mark", "aria-hidden": "true" }, "…"),
          el("div", {}, el("strong", {}, mt("r_waiting")))),
        el("dl", { class: "pairs" }, el("dt", {}, mt("r_tx")), el("dd", { class: "mono", id: "tx-id" }, txId)),
      ], { status: "waiting", code: "", txId }),
    });
    renderOutcome(outcome);
  } catch (e) {
    showResult([el("div", { class: "verdict bad" }, el("span", { class: "mark", "aria-hidden": "true" }, "✗"),
      el("div", {}, el("strong", {}, mt("r_error")), el("p", { id: "tx-message" }, errorText(e))))],
    { status: "error", code: e?.code ?? e?.name ?? "error", txId: "" });
  } finally {
    busy = false;
    const submit = document.getElementById("sign-submit");
    if (submit) {
      submit.disabled = false;
      submit.textContent = mt("sign_submit");
    }
  }
}

// --- signed reads: the department's cases and one case ------------------------------------------------------

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

async function openCase(caseId) {
  readMessage("", "");
  const detail = document.getElementById("case-detail");
  detail.hidden = true;
  const id = String(caseId).trim().toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(id)) {
    readMessage(`${mt("f_case_id")}: ${mt("v_hex32")}`, "invalid_field");
    return;
  }
  const body = await signedJson(`/v1/cases/${id}`);
  if (!body) return;
  const record = body.case && typeof body.case === "object" ? body.case : body;
  const pairs = el("dl", { class: "pairs" });
  for (const name of CASE_FIELDS) {
    if (!(name in record) || record[name] === null || typeof record[name] === "object") continue;
    pairs.append(el("dt", {}, mt(`case_${name}`) === `case_${name}` ? name : mt(`case_${name}`)), el("dd", { class: name.endsWith("_id") || name === "holder_ref" ? "mono" : null },
      typeof record[name] === "boolean" ? mt(record[name] ? "yes" : "no") : String(record[name])));
  }
  if (Number.isSafeInteger(body.time_ms)) pairs.append(el("dt", {}, mt("case_time")), el("dd", {}, formatTime(body.time_ms)));
  const rest = Object.fromEntries(Object.entries(record).filter(([k]) => !CASE_FIELDS.includes(k)));
  clear(detail).append(el("h3", {}, `${mt("case_detail")} ${id}`), pairs,
    el("pre", { class: "mono" }, JSON.stringify(rest, null, 1).slice(0, 20000)));
  detail.dataset.caseId = id;
  detail.dataset.status = String(record.status ?? "");
  detail.hidden = false;
  detail.focus();
}

function onMember(member) {
  document.getElementById("need-key").hidden = member !== null;
  const department = document.getElementById("cases-department");
  if (member?.department && !department.value) department.value = member.department;
}

function rerender() {
  applyMemberTexts();
  document.title = `${mt("staff_title")} · ${document.querySelector(".brand span:last-child")?.textContent ?? ""}`;
  renderTasks();
  renderForm();
  panel?.render();
}

function start() {
  panel = mountMemberPanel(document.getElementById("member-panel"));
  document.getElementById("task-form").addEventListener("submit", onSubmit);
  document.getElementById("cases-form").addEventListener("submit", (event) => {
    event.preventDefault();
    listCases(document.getElementById("cases-department").value.trim());
  });
  document.getElementById("case-form").addEventListener("submit", (event) => {
    event.preventDefault();
    openCase(document.getElementById("case-id-input").value);
  });
  onMemberChange(onMember);
  initLanguage(rerender);
  rerender();
  onMember(currentMember());
  document.documentElement.dataset.ready = "1";
}

start();
