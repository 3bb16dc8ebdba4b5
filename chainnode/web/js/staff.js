// The staff desk (staff.html): the forms that sign contract calls with the member key loaded in this page,
// grouped as a department's staff take them (cases, materials, certificates, items, roster); the
// transaction's fate (its ID at once, then the commit's result code, a sentence saying what it means, and the
// node's message: a contract's refusal is shown as the node states it); and the department's cases read with
// signed requests (staff-cases.js), each offering the steps its state takes.

import { el, clear, readFileBytes } from "./dom.js";
import { initLanguage } from "./i18n.js";
import { toHex } from "./msgpack.js";
import { currentMember, fetchSigned, onMemberChange, readJson, submitTx } from "./session.js";
import { mountMemberPanel } from "./member/panel.js";
import { sha256 } from "./member/ed25519.js";
import { mt, applyMemberTexts, errorText, codeText } from "./member/texts.js";
import { TASKS, GROUPS, buildCall, definitionValues, groupOf } from "./staff-forms.js";
import { CODE, MULTILINE } from "./staff-fields.js";
import { createCaseView } from "./staff-cases.js";

const MAX_HASHED_FILE = 256 * 1024 * 1024;
const MONO_KINDS = new Set(["code", "department", "hex64", "hash", "id", "ids", "departments", "int", "requirements"]);
let task = "file";
let busy = false;
let panel = null;
let cases = null;

function hashPicker(id, control) {
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
  return el("div", {}, el("label", { class: "file-button" }, el("span", {}, mt("f_content_file")), picker));
}

/** "Load the definition in force": fills an amendment's form from GET /v1/items/{code}. */
function itemLoader(id, control) {
  const button = el("button", { type: "button", id: "item-load", class: "quiet" }, mt("item_load"));
  button.addEventListener("click", async () => {
    const error = document.getElementById(`${id}-error`);
    const code = control.value.trim();
    if (!CODE.test(code)) {
      error.textContent = mt("v_code");
      return;
    }
    const response = await fetchSigned(`/v1/items/${encodeURIComponent(code)}`, { headers: { Accept: "application/json" } });
    const body = await readJson(response);
    if (!response.ok || !body?.item) {
      error.textContent = `${body?.code ?? `http_${response.status}`}: ${body?.detail ?? response.statusText}`;
      return;
    }
    const form = document.getElementById("task-form");
    for (const [name, value] of Object.entries(definitionValues(body.item))) {
      const input = form.elements.namedItem(name);
      if (input instanceof RadioNodeList) {
        for (const radio of input) radio.checked = radio.value === value;
      } else if (input) input.value = value;
    }
    error.textContent = "";
    const note = document.getElementById("task-prefilled");
    note.textContent = mt("item_loaded", { code, version: String(body.item.version ?? "") });
    note.hidden = false;
  });
  return el("div", {}, button);
}

function choiceInput(field, id) {
  const multiple = field.kind === "multi";
  return el("fieldset", { id, class: multiple ? "choices" : null, "aria-describedby": `${id}-error` },
    el("legend", {}, mt(field.label)),
    field.choices.map((choice, i) => {
      const input = el("input", { type: multiple ? "checkbox" : "radio", name: field.name, value: choice });
      input.checked = !multiple && i === 0;
      return el("label", {}, input, mt(`${field.texts}${choice}`));
    }),
    el("p", { id: `${id}-error`, class: "field-error", "aria-live": "polite" }));
}

function fieldInput(field) {
  const id = `f-${field.name}`;
  if (field.kind === "choice" || field.kind === "multi") return choiceInput(field, id);
  const described = [field.hint ? `${id}-hint` : null, `${id}-error`].filter(Boolean).join(" ");
  const common = { id, name: field.name, spellcheck: ["text", "longtext", "lines", "problems", "metadata"].includes(field.kind) ? null : "false",
    class: MONO_KINDS.has(field.kind) ? "mono" : null, "aria-describedby": described, "aria-required": field.required ? "true" : null };
  const control = MULTILINE.has(field.kind)
    ? el("textarea", { ...common, rows: field.kind === "longtext" ? "4" : "3" })
    : el("input", { ...common, autocomplete: "off", type: field.kind === "date" ? "date" : "text",
      inputmode: field.kind === "int" ? "numeric" : null, list: field.roster ? "roster-keys" : null,
      maxlength: { text: "512", date: null, int: "16", departments: "600" }[field.kind] ?? "64" });
  const parts = [el("label", { for: id }, mt(field.label)),
    field.hint ? el("p", { id: `${id}-hint`, class: "hint" }, mt(field.hint)) : null, control];
  if (field.kind === "hash") parts.push(hashPicker(id, control));
  if (field.loader === "item") parts.push(itemLoader(id, control));
  parts.push(el("p", { id: `${id}-error`, class: "field-error", "aria-live": "polite" }));
  return el("div", { class: "field" }, ...parts);
}

function selectTask(name) {
  task = name;
  renderTasks();
  renderForm();
}

function renderTasks() {
  const group = GROUPS.find((g) => g.name === groupOf(task));
  const groups = clear(document.getElementById("task-groups"));
  groups.setAttribute("aria-label", mt("task_groups"));
  for (const g of GROUPS) {
    const button = el("button", { type: "button", id: `group-${g.name}`, "aria-pressed": String(g === group) }, mt(g.title));
    button.addEventListener("click", () => selectTask(g.tasks[0]));
    groups.append(button);
  }
  const nav = clear(document.getElementById("tasks"));
  nav.setAttribute("aria-label", `${mt(group.title)}: ${mt("task_list")}`);
  for (const name of group.tasks) {
    const button = el("button", { type: "button", id: `task-${name}`, "aria-pressed": String(name === task) }, mt(TASKS[name].title));
    button.addEventListener("click", () => selectTask(name));
    nav.append(button);
  }
  document.getElementById("group-note").textContent = mt(group.note);
}

function renderForm() {
  const spec = TASKS[task];
  document.getElementById("task-h").textContent = mt(spec.title);
  const form = clear(document.getElementById("task-form"));
  form.dataset.task = task;
  form.dataset.method = `${spec.contract}.${spec.method ?? "…"}`;
  form.append(el("p", { id: "task-prefilled", class: "info", "aria-live": "polite", hidden: "" }));
  for (const field of spec.fields) form.append(fieldInput(field));
  const submit = el("button", { type: "submit", id: "sign-submit", class: "primary" }, busy ? mt("signing") : mt("sign_submit"));
  submit.disabled = busy;
  form.append(el("div", { class: "actions" }, submit, el("span", { class: "muted mono method" }, form.dataset.method)),
    el("p", { id: "task-error", class: "field-error", role: "alert" }));
}

/** Open `name`'s form with `values` filled in (from the case view), and bring it into view. */
function startTask(name, values) {
  selectTask(name);
  const form = document.getElementById("task-form");
  for (const [field, value] of Object.entries(values)) {
    const input = form.elements.namedItem(field);
    if (input) input.value = value;
  }
  const note = document.getElementById("task-prefilled");
  note.textContent = mt("prefilled", { id: Object.values(values).join(", ") });
  note.hidden = false;
  document.getElementById("task-card").scrollIntoView({ block: "start" });
  const next = TASKS[name].fields.find((f) => !(f.name in values) && f.kind !== "choice");
  (next ? form.querySelector(`#f-${next.name}`) : document.getElementById("sign-submit"))?.focus({ preventScroll: true });
}

function formValues(form) {
  const values = {};
  for (const field of TASKS[task].fields) {
    if (field.kind === "choice") values[field.name] = form.querySelector(`input[name="${field.name}"]:checked`)?.value ?? "";
    else if (field.kind === "multi") values[field.name] = [...form.querySelectorAll(`input[name="${field.name}"]:checked`)].map((i) => i.value);
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
    for (const name of ["case_id", "material_id", "cert_id", "certificate_id"]) {
      const value = attributes[name];
      if (typeof value === "string" && /^[0-9a-f]{32}$/.test(value) && !found.some((f) => f.value === value)) {
        found.push({ name: name === "certificate_id" ? "cert_id" : name, value });
      }
    }
  }
  return found;
}

function explanation(outcome, ok) {
  const known = codeText(outcome.code);
  if (known) return known;
  if (ok || outcome.status === "pending") return null;
  return mt(outcome.status === "committed" ? "explain_contract" : "explain_node");
}

function renderOutcome(outcome) {
  const ok = outcome.status === "committed" && outcome.code === "ok";
  const title = outcome.status === "committed" ? (ok ? "r_committed_ok" : "r_committed_refused")
    : outcome.status === "refused" ? "r_refused" : outcome.status === "rejected" ? "r_rejected" : "r_pending";
  const sentence = explanation(outcome, ok);
  const verdict = el("div", { class: `verdict ${ok ? "ok" : outcome.status === "pending" ? "wait" : "bad"}`, id: "tx-verdict" },
    el("span", { class: "mark", "aria-hidden": "true" }, ok ? "✓" : outcome.status === "pending" ? "…" : "✗"),
    el("div", {}, el("strong", {}, mt(title)), el("span", { class: "code mono", id: "tx-code" }, outcome.code),
      sentence ? el("p", { id: "tx-explain", class: "explain" }, sentence) : null,
      outcome.message ? el("p", { id: "tx-message" }, outcome.message) : null));
  const pairs = el("dl", { class: "pairs" },
    el("dt", {}, mt("r_tx")), el("dd", { class: "mono", id: "tx-id" }, outcome.txId),
    outcome.height !== null ? [el("dt", {}, mt("r_height")), el("dd", { id: "tx-height" }, String(outcome.height))] : null,
    outcome.field ? [el("dt", {}, "field"), el("dd", { class: "mono" }, outcome.field)] : null);
  const records = recordsOf(outcome.events);
  if (records.length) {
    pairs.append(el("dt", {}, mt("r_records")), el("dd", {}, records.map((r) => {
      const line = el("div", { class: "mono", "data-record": r.name }, `${r.name}: ${r.value} `);
      if (r.name === "case_id") {
        const open = el("button", { type: "button", class: "link", id: "open-filed-case" }, mt("r_open_case"));
        open.addEventListener("click", () => cases.openCase(r.value));
        line.append(open);
      }
      return line;
    })));
  }
  showResult([verdict, pairs], { status: outcome.status, code: outcome.code, txId: outcome.txId });
}

function showFieldErrors(form, errors) {
  for (const [name, [key, params]] of Object.entries(errors)) {
    const node = document.getElementById(`f-${name}-error`);
    if (node) node.textContent = mt(key, params);
  }
  const first = form.querySelector(`#f-${Object.keys(errors)[0]}`);
  (first?.tagName === "FIELDSET" ? first.querySelector("input") : first)?.focus();
}

async function onSubmit(event) {
  event.preventDefault();
  if (busy) return;
  const form = event.currentTarget;
  const taskError = document.getElementById("task-error");
  taskError.textContent = "";
  for (const node of form.querySelectorAll(".field-error")) node.textContent = "";
  const values = formValues(form);
  const call = buildCall(task, values, { nowMs: Date.now() });
  if (call.errors) {
    showFieldErrors(form, call.errors);
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
    // The open case changed: show its new state and the steps that now apply.
    const open = cases.openCaseId();
    if (outcome.status === "committed" && open && (call.args.case_id === open)) await cases.openCase(open, { focus: false });
    if (outcome.code === "ok" && spec.contract === "governance") await loadRosterKeys(currentMember()?.department ?? null);
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

/** Suggest the department's keys (the public roster) in the fields that name a member, so none is retyped. */
async function loadRosterKeys(department) {
  const list = clear(document.getElementById("roster-keys"));
  if (!department) return;
  try {
    const response = await fetch(`/v1/departments/${encodeURIComponent(department)}/members`, { headers: { Accept: "application/json" } });
    const body = response.ok ? await readJson(response) : null;
    const members = Array.isArray(body?.members) ? body.members.slice(0, 1000) : [];
    for (const m of members) {
      if (typeof m?.public_key !== "string" || !/^[0-9a-f]{64}$/.test(m.public_key)) continue;
      const roles = Array.isArray(m.roles) ? m.roles.map(String).join(", ") : "";
      list.append(el("option", { value: m.public_key, label: `${String(m.name ?? "")} · ${roles}` }));
    }
  } catch {
    // only suggestions: the fields still take a typed key
  }
}

function onMember(member) {
  document.getElementById("need-key").hidden = member !== null;
  const department = document.getElementById("cases-department");
  if (member?.department && !department.value) department.value = member.department;
  loadRosterKeys(member?.department ?? null);
}

/** Put typed values back into the open form (after the language changed, which redraws it). */
function restoreValues(form, values) {
  for (const field of TASKS[task].fields) {
    const value = values[field.name];
    if (field.kind === "choice" || field.kind === "multi") {
      const picked = Array.isArray(value) ? value : [value];
      for (const input of form.querySelectorAll(`input[name="${field.name}"]`)) input.checked = picked.includes(input.value);
    } else if (typeof value === "string") {
      const input = form.elements.namedItem(field.name);
      if (input) input.value = value;
    }
  }
}

function rerender() {
  applyMemberTexts();
  document.title = `${mt("staff_title")} · ${document.querySelector(".brand span:last-child")?.textContent ?? ""}`;
  const form = document.getElementById("task-form");
  const typed = form.dataset.task === task ? formValues(form) : null;
  renderTasks();
  renderForm();
  if (typed) restoreValues(form, typed);
  panel?.render();
  const open = cases.openCaseId();
  if (open) cases.openCase(open, { focus: false });
}

function start() {
  panel = mountMemberPanel(document.getElementById("member-panel"));
  cases = createCaseView({ onAction: startTask });
  const form = document.getElementById("task-form");
  form.addEventListener("submit", onSubmit);
  // An error said in place goes once its field is edited.
  form.addEventListener("input", (event) => {
    const field = event.target.closest(".field, fieldset");
    const error = field?.querySelector(".field-error");
    if (error) error.textContent = "";
  });
  document.getElementById("cases-form").addEventListener("submit", (event) => {
    event.preventDefault();
    cases.listCases(document.getElementById("cases-department").value.trim());
  });
  document.getElementById("case-form").addEventListener("submit", (event) => {
    event.preventDefault();
    cases.openCase(document.getElementById("case-id-input").value);
  });
  onMemberChange(onMember);
  initLanguage(rerender);
  rerender();
  onMember(currentMember());
  document.documentElement.dataset.ready = "1";
}

start();
