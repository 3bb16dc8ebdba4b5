// The documents page (documents.html, 收发文): send a document encrypted in this browser, list the department's
// inbox and outbox, show a record with its history, and open, sign for, return, withdraw or forward it. The steps
// with the node are documents-flow.js's; the envelope is documents-crypto.js's; this module draws the page and
// shows every outcome with its code, a sentence in the page's language, and the node's own message.

import { el, clear, shortHex, formatTime, formatShortTime, readFileBytes } from "./dom.js";
import { initLanguage } from "./i18n.js";
import { toHex } from "./msgpack.js";
import { currentMember, onMemberChange } from "./session.js";
import { mountMemberPanel } from "./member/panel.js";
import { dt, codeSentence, applyDocumentTexts } from "./documents-texts.js";
import { currentEncryptionKey, mountEncryptionPanel, onEncryptionKeyChange } from "./documents-keypanel.js";
import { BOXES, CLASSIFICATIONS, Refusal, departments, sendDocument, documentRecord, listDocuments, openDocument,
  receipt, withReason, forwardDocument } from "./documents-flow.js";

const MAX_FILE_BYTES = 256 * 1024 * 1024;
const ID = /^[0-9a-f]{32}$/;
const CODE = /^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$/;
let panel = null;
let encPanel = null;
let depts = null; // Map code -> department entry of GET /v1/departments
let busy = false;
let action = ""; // what the result card reports on: send, open, receipt, return, withdraw, forward
let shown = null; // the record on display: {document, height, time_ms, access_count}
const opened = new Map(); // doc_id -> {plaintextSha256, url}

// --- results ----------------------------------------------------------------------------------------------

function showResult(nodes, state) {
  const card = document.getElementById("result-card");
  card.hidden = false;
  for (const name of Object.keys(card.dataset)) delete card.dataset[name];
  for (const [name, value] of Object.entries({ ...state, action })) card.dataset[name] = value ?? "";
  clear(document.getElementById("result-body")).append(...nodes.filter((node) => node !== null && node !== undefined));
}

function waiting(stepKey, txId = null) {
  showResult([
    el("div", { class: "verdict wait" }, el("span", { class: "mark", "aria-hidden": "true" }, "…"),
      el("div", {}, el("strong", {}, dt(`step_${stepKey}`)))),
    txId ? el("dl", { class: "pairs" }, el("dt", {}, dt("r_tx")), el("dd", { class: "mono", id: "result-tx" }, txId)) : null,
  ], { status: "waiting", code: "", txId: txId ?? "" });
}

function codeLine(code, message) {
  const sentence = codeSentence(code);
  return [el("span", { class: "code mono", id: "result-code" }, code),
    sentence ? el("p", { id: "result-sentence" }, sentence) : null,
    message ? el("p", { id: "result-message", class: "node-message" }, message) : null];
}

/** A transaction's outcome (submitTx's, with ok and maybe docId): verdict, code, sentence, IDs. */
function renderOutcome(outcome, extra = []) {
  const ok = outcome.ok;
  const pending = outcome.status === "pending";
  const title = ok ? "r_ok" : pending ? "r_pending" : "r_refused";
  const pairs = el("dl", { class: "pairs" },
    el("dt", {}, dt("r_tx")), el("dd", { class: "mono", id: "result-tx" }, outcome.txId),
    outcome.height !== null ? [el("dt", {}, dt("r_height")), el("dd", {}, String(outcome.height))] : null);
  if (outcome.docId) {
    const show = el("button", { type: "button", class: "link", id: "result-show-doc" }, dt("r_open_doc"));
    show.addEventListener("click", () => showDocument(outcome.docId));
    pairs.append(el("dt", {}, dt("r_doc_id")), el("dd", {}, el("span", { class: "mono", id: "result-doc-id" }, outcome.docId), " ", show));
  }
  showResult([
    el("div", { class: `verdict ${ok ? "ok" : pending ? "wait" : "bad"}`, id: "result-verdict" },
      el("span", { class: "mark", "aria-hidden": "true" }, ok ? "✓" : pending ? "…" : "✗"),
      el("div", {}, el("strong", {}, dt(title)), ...codeLine(outcome.code, ok ? "" : outcome.message))),
    pairs, ...extra,
  ], { status: ok ? "ok" : pending ? "pending" : "refused", code: outcome.code, txId: outcome.txId, docId: outcome.docId ?? "" });
}

/** A refusal before or outside a transaction (Refusal, DocumentError, KeyError, or a network error). */
function renderProblem(error) {
  const code = typeof error?.code === "string" ? error.code : (error?.name ?? "error");
  const outcome = error?.outcome;
  const pairs = outcome ? el("dl", { class: "pairs" }, el("dt", {}, dt("r_access_tx")), el("dd", { class: "mono" }, outcome.txId)) : null;
  showResult([
    el("div", { class: "verdict bad", id: "result-verdict" }, el("span", { class: "mark", "aria-hidden": "true" }, "✗"),
      el("div", {}, el("strong", {}, dt(error instanceof Refusal ? "r_refused" : "r_error")),
        ...codeLine(code, String(error?.message ?? error)))),
    pairs,
  ], { status: "refused", code, txId: outcome?.txId ?? "", docId: "" });
  if (code === "wrong_encryption_key") {
    document.getElementById("result-card").dataset.expected = error.expected ?? "";
    document.getElementById("result-card").dataset.loaded = error.loaded ?? "";
  }
}

async function run(name, task) {
  if (busy) return;
  busy = true;
  action = name;
  for (const button of document.querySelectorAll("button[data-busy]")) button.disabled = true;
  try {
    await task();
  } catch (error) {
    renderProblem(error);
  } finally {
    busy = false;
    for (const button of document.querySelectorAll("button[data-busy]")) button.disabled = false;
    document.getElementById("result-card").focus({ preventScroll: false });
  }
}

// --- departments ---------------------------------------------------------------------------------------------

async function loadDepartments() {
  const message = document.getElementById("depts-message");
  try {
    const answer = await departments();
    depts = new Map(answer.departments.filter((d) => typeof d?.code === "string").slice(0, 512).map((d) => [d.code, d]));
    message.hidden = true;
  } catch (error) {
    message.hidden = false;
    message.textContent = `${error.code ?? "error"}: ${error.message}`;
  }
  renderDepartments();
  renderRecipients();
  encPanel?.render();
}

function renderDepartments() {
  const list = clear(document.getElementById("depts-list"));
  if (!depts) return;
  const rows = [...depts.values()].map((d) => {
    const fingerprint = typeof d.encryption_key_fingerprint === "string" ? d.encryption_key_fingerprint : null;
    const usable = fingerprint !== null && d.active !== false;
    return el("tr", { "data-code": d.code },
      el("td", { class: "mono" }, d.code), el("td", { class: "hide-narrow" }, String(d.name ?? "")),
      el("td", { class: "mono", title: fingerprint ?? "" }, fingerprint ? shortHex(fingerprint, 16) : "–"),
      el("td", { class: usable ? "ok-text" : "bad-text" }, dt(usable ? "key_yes" : "key_no")));
  });
  list.append(el("table", { id: "depts-table" },
    el("thead", {}, el("tr", {}, el("th", {}, dt("col_code")), el("th", { class: "hide-narrow" }, dt("col_name")),
      el("th", {}, dt("col_fingerprint")), el("th", {}, dt("col_key_state")))),
    el("tbody", {}, rows)));
}

// --- send ----------------------------------------------------------------------------------------------------

function field(id, labelKey, control, note = null) {
  return el("div", { class: "field" }, el("label", { for: id, "data-dt": labelKey }, dt(labelKey)), control, note,
    el("p", { id: `${id}-error`, class: "field-error", "aria-live": "polite" }));
}

/** The send form, built once (its labels follow the language through data-dt; typed values stay). */
function buildSendForm() {
  const form = clear(document.getElementById("send-form"));
  const file = el("input", { type: "file", id: "send-file", name: "file" });
  const classification = el("fieldset", { id: "send-classification" }, el("legend", { "data-dt": "f_classification" }, dt("f_classification")),
    CLASSIFICATIONS.map((c, i) => {
      const radio = el("input", { type: "radio", name: "classification", value: c, id: `send-cls-${c}` });
      radio.checked = i === 1;
      return el("label", { for: `send-cls-${c}` }, radio, el("span", { "data-dt": `cls_${c}` }, dt(`cls_${c}`)));
    }));
  const recipients = el("fieldset", { id: "send-recipients" }, el("legend", { "data-dt": "f_recipients" }, dt("f_recipients")),
    el("div", { id: "send-recipient-boxes", class: "checks" }),
    el("p", { id: "send-recipients-error", class: "field-error", "aria-live": "polite" }));
  const submit = el("button", { type: "submit", id: "send-submit", class: "primary", "data-busy": "1", "data-dt": "send_submit" }, dt("send_submit"));
  form.append(
    field("send-file", "f_file", file),
    el("div", { class: "two" },
      field("send-number", "f_number", el("input", { id: "send-number", name: "number", maxlength: "64", autocomplete: "off" })),
      field("send-reply-days", "f_reply_days", el("input", { id: "send-reply-days", name: "reply_days", inputmode: "numeric", maxlength: "3", autocomplete: "off" }))),
    field("send-title", "f_title", el("input", { id: "send-title", name: "title", maxlength: "512", autocomplete: "off" })),
    classification, recipients,
    el("div", { class: "two" },
      field("send-case-id", "f_case_id", el("input", { id: "send-case-id", name: "case_id", class: "mono", maxlength: "32", spellcheck: "false", autocomplete: "off" })),
      field("send-cert-id", "f_cert_id", el("input", { id: "send-cert-id", name: "cert_id", class: "mono", maxlength: "32", spellcheck: "false", autocomplete: "off" }))),
    el("div", { class: "actions" }, submit));
}

/** The recipient choices: every department but the member's own; one without a key in force cannot be ticked. */
function renderRecipients() {
  const holder = document.getElementById("send-recipient-boxes");
  const ticked = new Set([...holder.querySelectorAll("input:checked")].map((box) => box.value));
  const own = currentMember()?.department ?? null;
  clear(holder).append(...[...(depts?.values() ?? [])].filter((d) => d.code !== own).map((d) => {
    const box = el("input", { type: "checkbox", name: "recipients", value: d.code, id: `send-to-${d.code}` });
    box.disabled = typeof d.encryption_key_fingerprint !== "string";
    box.checked = ticked.has(d.code) && !box.disabled;
    return el("label", { for: `send-to-${d.code}` }, box, el("span", { class: "mono" }, d.code), ` ${d.name ?? ""}`);
  }));
}

/** The send form's fields, checked as the contract checks them; `{fields}` or `{errors: {id: text}}`. */
function sendFields(form) {
  const errors = {};
  const value = (name) => String(form.elements.namedItem(name)?.value ?? "").trim();
  const text = (name, id, max) => {
    const v = value(name);
    if (!v || [...v].length > max) errors[id] = dt("v_text", { max });
    return v;
  };
  const number = text("number", "send-number", 64);
  const title = text("title", "send-title", 512);
  const classification = form.querySelector("input[name='classification']:checked")?.value ?? "";
  const recipients = [...form.querySelectorAll("input[name='recipients']:checked")].map((box) => box.value);
  if (!recipients.length) errors["send-recipients"] = dt("v_recipients");
  const days = value("reply_days");
  let replyDays = null;
  if (days) {
    replyDays = /^\d{1,3}$/.test(days) ? Number(days) : NaN;
    if (!(replyDays >= 1 && replyDays <= 365)) errors["send-reply-days"] = dt("v_days");
  }
  const caseId = value("case_id").toLowerCase();
  if (caseId && !ID.test(caseId)) errors["send-case-id"] = dt("v_hex32");
  const certId = value("cert_id").toLowerCase();
  if (certId && !ID.test(certId)) errors["send-cert-id"] = dt("v_hex32");
  const file = form.querySelector("#send-file").files?.[0] ?? null;
  if (!file) errors["send-file"] = dt("v_file");
  else if (file.size > MAX_FILE_BYTES) errors["send-file"] = dt("v_file_large", { max: MAX_FILE_BYTES });
  return Object.keys(errors).length ? { errors }
    : { file, fields: { number, title, classification, recipients, replyDays, caseId: caseId || null, certId: certId || null } };
}

function onSend(event) {
  event.preventDefault();
  const form = event.currentTarget;
  for (const node of form.querySelectorAll(".field-error")) node.textContent = "";
  const checked = sendFields(form);
  if (checked.errors) {
    for (const [id, text] of Object.entries(checked.errors)) document.getElementById(`${id}-error`).textContent = `✗ ${text}`;
    return;
  }
  run("send", async () => {
    const plaintext = await readFileBytes(checked.file, MAX_FILE_BYTES);
    const outcome = await sendDocument(plaintext, checked.fields, (step, detail) => {
      waiting(step, step === "submitted" ? detail : null);
    });
    plaintext.fill(0);
    renderOutcome(outcome);
  });
}

// --- boxes and records -----------------------------------------------------------------------------------------

function boxMessage(text, code = "") {
  const node = document.getElementById("box-message");
  node.hidden = !text;
  node.textContent = text;
  node.dataset.code = code;
}

function readProblem(error) {
  const code = error?.code ?? "error";
  if (code === "signature_required" || String(code) === "http_401") return `${dt("requires_member_key")} (${code})`;
  const sentence = codeSentence(code);
  return `${sentence ? `${sentence} ` : ""}(${code}) ${error?.message ?? ""}`;
}

async function listBox() {
  boxMessage("");
  const list = clear(document.getElementById("box-list"));
  const department = document.getElementById("box-department").value.trim();
  const box = document.getElementById("box-select").value;
  if (!CODE.test(department)) {
    boxMessage(`${dt("f_department")}: ✗ ${dt("v_required")}`, "invalid_field");
    return;
  }
  let answer;
  try {
    answer = await listDocuments(department, box);
  } catch (error) {
    boxMessage(readProblem(error), error?.code ?? "error");
    return;
  }
  const documents = Array.isArray(answer.documents) ? answer.documents.slice(0, 500) : [];
  if (!documents.length) {
    list.append(el("p", { class: "muted", id: "box-empty" }, dt("box_empty")));
    return;
  }
  const rows = documents.map((d) => {
    const id = String(d.doc_id ?? "");
    const show = el("button", { type: "button", class: "link mono", "data-doc": id }, shortHex(id, 12));
    show.addEventListener("click", () => showDocument(id));
    const state = box === "sent" ? summaryOfRecipients(d) : stateText(d.recipient_status?.[department]);
    return el("tr", { "data-doc-id": id }, el("td", {}, show), el("td", {}, String(d.number ?? "")),
      el("td", { class: "wrap" }, String(d.title ?? "")),
      el("td", { class: "mono" }, box === "sent" ? (d.recipients ?? []).join(", ") : String(d.sender ?? "")),
      el("td", {}, d.withdrawn ? `✗ ${dt("doc_withdrawn")}` : state),
      el("td", { class: "nowrap hide-narrow", title: formatTime(d.sent_ms) }, Number.isSafeInteger(d.sent_ms) ? formatShortTime(d.sent_ms) : ""));
  });
  list.append(el("table", { id: "box-table", "data-box": box },
    el("thead", {}, el("tr", {}, el("th", {}, dt("col_doc")), el("th", {}, dt("col_number")), el("th", {}, dt("col_title")),
      el("th", {}, dt(box === "sent" ? "col_recipients" : "col_sender")), el("th", {}, dt("col_state")),
      el("th", { class: "hide-narrow" }, dt("col_sent")))),
    el("tbody", {}, rows)));
}

function stateText(status) {
  return status && typeof status.state === "string" ? dt(`st_${status.state}`) : "–";
}

function summaryOfRecipients(record) {
  const statuses = Object.entries(record.recipient_status ?? {});
  return statuses.map(([code, s]) => `${code} ${stateText(s)}`).join("; ");
}

async function showDocument(docId) {
  const id = String(docId).trim().toLowerCase();
  boxMessage("");
  if (!ID.test(id)) {
    boxMessage(`${dt("f_doc_id")}: ✗ ${dt("v_hex32")}`, "invalid_field");
    return;
  }
  let answer;
  try {
    answer = await documentRecord(id);
  } catch (error) {
    boxMessage(readProblem(error), error?.code ?? "error");
    return;
  }
  shown = answer;
  renderDocument();
  const card = document.getElementById("doc-card");
  card.hidden = false;
  card.focus();
}

function pair(labelKey, value, attrs = {}) {
  return value === null || value === undefined || value === "" ? null
    : [el("dt", {}, dt(labelKey)), el("dd", attrs, value)];
}

function renderDocument() {
  if (!shown) return;
  const d = shown.document;
  const card = document.getElementById("doc-card");
  card.dataset.docId = d.doc_id;
  const recipients = el("ul", { class: "plain", id: "doc-recipients" }, Object.entries(d.recipient_status ?? {}).map(([code, s]) =>
    el("li", { "data-code": code, "data-state": s.state },
      el("span", { class: "mono" }, code), ` ${stateText(s)}`,
      el("span", { class: "muted" }, ` · ${dt(s.delivered_height === null ? "st_not_delivered" : "st_delivered")}`),
      s.reason ? el("span", {}, ` · ${s.reason}`) : null)));
  const details = el("dl", { class: "pairs", id: "doc-pairs" },
    pair("d_doc_id", d.doc_id, { class: "mono" }), pair("d_number", d.number), pair("d_title", d.title),
    pair("d_classification", dt(`cls_${d.classification}`)), pair("d_sender", d.sender, { class: "mono" }),
    pair("d_officer", d.sender_officer_name), [el("dt", {}, dt("d_recipients")), el("dd", {}, recipients)],
    pair("d_sent", `${formatTime(d.sent_ms)} · ${dt("col_height")} ${d.sent_height}`),
    pair("d_reply", d.reply_deadline_ms ? formatTime(d.reply_deadline_ms) : null),
    pair("d_plaintext", d.plaintext_sha256, { class: "mono hash" }), pair("d_ciphertext", d.ciphertext_sha256, { class: "mono hash" }),
    pair("d_size", String(d.ciphertext_size)), pair("d_case", d.case_id, { class: "mono" }), pair("d_cert", d.cert_id, { class: "mono" }),
    pair("d_forwarded_from", d.forwarded_from, { class: "mono" }),
    pair("d_forwards", (d.forwards ?? []).length ? d.forwards.join(", ") : null, { class: "mono" }),
    pair("doc_withdrawn", d.withdrawn ? `✗ ${d.withdrawn.reason} (${dt("col_height")} ${d.withdrawn.height})` : null),
    pair("doc_access_count", String(shown.access_count ?? d.access_count ?? 0)),
    pair("d_as_of", `${dt("col_height")} ${shown.height} · ${formatTime(shown.time_ms)}`));
  const history = el("table", { id: "doc-history" },
    el("thead", {}, el("tr", {}, el("th", {}, dt("col_action")), el("th", {}, dt("col_dept")), el("th", { class: "hide-narrow" }, dt("col_signer")),
      el("th", {}, dt("col_time_utc")), el("th", {}, dt("col_detail")))),
    el("tbody", {}, (d.history ?? []).slice(0, 256).map((h) => el("tr", { "data-action": h.action },
      el("td", {}, dt(`h_${h.action}`)), el("td", { class: "mono" }, h.department), el("td", { class: "hide-narrow" }, h.signer_name ?? ""),
      el("td", { class: "nowrap", title: formatTime(h.time_ms) }, formatShortTime(h.time_ms)), el("td", { class: "wrap" }, h.detail ?? "")))));
  clear(document.getElementById("doc-detail")).append(el("h3", {}, dt("doc_record")), details,
    el("h3", {}, dt("doc_history")), el("div", { class: "scroll" }, history));
  renderActions(d);
}

// --- actions on the record shown ------------------------------------------------------------------------------

function actionBox(id, titleKey, controls, buttonKey, handler) {
  const button = el("button", { type: "submit", id: `${id}-submit`, "data-busy": "1" }, dt(buttonKey));
  const form = el("form", { id: `${id}-form`, class: "doc-action" }, el("h3", {}, dt(titleKey)), ...controls, button);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    handler(form);
  });
  return form;
}

function textInput(id, labelKey, attrs = {}) {
  return el("div", { class: "field" }, el("label", { for: id }, dt(labelKey)),
    el("input", { id, autocomplete: "off", maxlength: "512", ...attrs }));
}

function refreshAfter(outcome) {
  if (outcome.status === "committed" && shown) showDocument(shown.document.doc_id);
}

/** The actions the member's department may take on the record: the sender opens and withdraws; a recipient
 * opens, signs for, returns and forwards (the contract has the last word: its refusal is shown). */
function renderActions(d) {
  const box = clear(document.getElementById("doc-actions"));
  const docId = d.doc_id;
  const openedHere = opened.get(docId);
  const own = currentMember()?.department ?? null;
  const isSender = own !== null && own === d.sender;
  const isRecipient = own !== null && Object.hasOwn(d.recipient_status ?? {}, own);
  if (!isSender && !isRecipient) return;
  box.append(actionBox("act-open", "act_open", [textInput("act-purpose", "act_purpose")], "act_open", (form) => run("open", async () => {
    const purpose = form.querySelector("#act-purpose").value.trim();
    const result = await openDocument(docId, currentEncryptionKey(), { purpose: purpose || null },
      (step, detail) => waiting(step, step === "access_submitted" ? detail : null));
    const previous = opened.get(docId);
    if (previous) URL.revokeObjectURL(previous.url);
    const url = URL.createObjectURL(new Blob([result.plaintext], { type: "application/octet-stream" }));
    opened.set(docId, { plaintextSha256: result.plaintextSha256, url });
    const save = el("a", { href: url, download: `document-${d.number.replace(/[^\p{L}\p{N}_.-]+/gu, "_").slice(0, 40)}-${docId.slice(0, 8)}`,
      id: "open-save", class: "file-button" }, dt("r_save"));
    renderOutcome({ ...result.access, docId: null }, [
      el("div", { class: "verdict ok", id: "open-verdict" }, el("span", { class: "mark", "aria-hidden": "true" }, "✓"),
        el("div", {}, el("strong", {}, dt("r_opened")))),
      el("dl", { class: "pairs" }, el("dt", {}, dt("r_plain_hash")), el("dd", { class: "mono hash", id: "open-hash" }, toHex(result.plaintextSha256)),
        el("dt", {}, dt("r_access_tx")), el("dd", { class: "mono" }, result.access.txId)),
      el("div", { class: "actions" }, save)]);
    document.getElementById("result-card").dataset.opened = docId;
    showDocument(docId);
  })));
  if (isRecipient) {
    const receiptBox = actionBox("act-receipt", "act_receipt", [el("p", { class: "muted" }, openedHere ? toHex(openedHere.plaintextSha256) : dt("act_need_open"))],
      "act_receipt", () => run("receipt", async () => {
        const hash = opened.get(docId)?.plaintextSha256;
        if (!hash) throw new Refusal("invalid_field", dt("act_need_open"), "fields");
        const outcome = await receipt(docId, hash, (txId) => waiting("submitted", txId));
        renderOutcome(outcome);
        refreshAfter(outcome);
      }));
    box.append(receiptBox);
    box.append(actionBox("act-return", "act_return", [textInput("act-return-reason", "act_reason")], "act_return",
      (form) => reasonAction("return", docId, form.querySelector("#act-return-reason").value.trim(), "act-return-reason")));
    box.append(actionBox("act-forward", "act_forward", [textInput("act-forward-to", "act_forward_to", { class: "mono", maxlength: "1000" }),
      textInput("act-forward-note", "act_note")], "act_forward", (form) => run("forward", async () => {
      const recipients = form.querySelector("#act-forward-to").value.split(/[\s,，]+/).filter(Boolean);
      if (!recipients.length || recipients.some((c) => !CODE.test(c))) throw new Refusal("invalid_field", `${dt("act_forward_to")}: ${dt("v_recipients")}`, "fields");
      const note = form.querySelector("#act-forward-note").value.trim();
      const outcome = await forwardDocument(docId, recipients, note || null, currentEncryptionKey(),
        (step, detail) => waiting(step, step.endsWith("submitted") ? detail : null));
      renderOutcome(outcome);
      refreshAfter(outcome);
    })));
  }
  if (isSender) {
    box.append(actionBox("act-withdraw", "act_withdraw", [textInput("act-withdraw-reason", "act_reason")], "act_withdraw",
      (form) => reasonAction("withdraw", docId, form.querySelector("#act-withdraw-reason").value.trim(), "act-withdraw-reason")));
  }
}

function reasonAction(method, docId, reason, inputId) {
  run(method, async () => {
    if (!reason || [...reason].length > 512) {
      document.getElementById(inputId)?.focus();
      throw new Refusal("invalid_field", `${dt("act_reason")}: ${dt("v_text", { max: 512 })}`, "fields");
    }
    const outcome = await withReason(method, docId, reason, (txId) => waiting("submitted", txId));
    renderOutcome(outcome);
    refreshAfter(outcome);
  });
}

// --- the page ------------------------------------------------------------------------------------------------

function renderBoxSelect() {
  const select = document.getElementById("box-select");
  const value = select.value || "inbox";
  clear(select).append(...BOXES.map((b) => el("option", { value: b }, dt(`box_${b}`))));
  select.value = value;
}

/** Forget every plaintext opened in this page (its download link stops working). */
function forgetOpened() {
  for (const entry of opened.values()) URL.revokeObjectURL(entry.url);
  opened.clear();
  document.getElementById("open-save")?.remove();
}

function onMember(member) {
  document.getElementById("need-key").hidden = member !== null && currentEncryptionKey() !== null;
  const department = document.getElementById("box-department");
  if (member?.department && !department.value) department.value = member.department;
  renderRecipients();
  renderDocument();
}

function rerender() {
  applyDocumentTexts();
  document.title = `${dt("docs_title")} · ${document.querySelector(".brand span:last-child")?.textContent ?? ""}`;
  renderBoxSelect();
  renderDepartments();
  renderDocument();
  panel?.render();
  encPanel?.render();
}

function start() {
  panel = mountMemberPanel(document.getElementById("member-panel"));
  encPanel = mountEncryptionPanel(document.getElementById("enc-panel"), () => depts);
  buildSendForm();
  document.getElementById("send-form").addEventListener("submit", onSend);
  document.getElementById("box-form").addEventListener("submit", (event) => {
    event.preventDefault();
    listBox();
  });
  document.getElementById("doc-form").addEventListener("submit", (event) => {
    event.preventDefault();
    showDocument(document.getElementById("doc-id-input").value);
  });
  onMemberChange((member) => {
    forgetOpened();
    onMember(member);
  });
  onEncryptionKeyChange((key) => {
    if (key === null) forgetOpened();
    onMember(currentMember());
  });
  initLanguage(rerender);
  rerender();
  onMember(currentMember());
  loadDepartments().finally(() => {
    document.documentElement.dataset.ready = "1";
  });
}

start();
