// The staff desk's tasks: which contract method each calls, its fields, and how the typed values become the
// method's arguments, checked as the contract checks them (contracts/case_args.py, materials.py,
// certificates.py, items.py, governance.py and args.py) before anything is signed. The tasks are grouped as
// the page shows them. Pure functions of the values: no DOM here.

import { parseField, MAX_TEXT, MAX_LONG_TEXT } from "./staff-fields.js";

export { parseField, MAX_TEXT };
export const MAX_CITED = 32;
const MAX_LIMIT_DAYS = 3650;
const MAX_EFFECTIVE = Number.MAX_SAFE_INTEGER;
export const STAFF_ROLES = ["admin", "approver", "auditor", "clerk", "document_officer", "issuer", "reviewer"];

const caseId = { name: "case_id", kind: "id", label: "f_case_id", required: true };
const certId = { name: "cert_id", kind: "id", label: "f_cert_id", required: true };
const reason = { name: "reason", kind: "text", label: "f_reason", required: true };
const newMemberKey = { name: "public_key", kind: "hex64", label: "f_member_key", required: true };
/** `roster`: the page suggests the keys of the loaded member's department. */
const memberKey = { ...newMemberKey, roster: true };
const roles = { name: "roles", kind: "multi", label: "f_roles", choices: STAFF_ROLES, texts: "role_", required: true };
const effective = { name: "effective_height", kind: "int", label: "f_effective_height", hint: "h_effective_height",
  min: 1, max: MAX_EFFECTIVE };

const definition = [
  { name: "code", kind: "code", label: "f_item_code", required: true },
  { name: "name", kind: "text", label: "f_item_name", required: true },
  { name: "legal_basis", kind: "longtext", label: "f_legal_basis", required: true, max: MAX_LONG_TEXT },
  { name: "department", kind: "department", label: "f_item_department", hint: "h_item_department" },
  { name: "kind", kind: "choice", label: "f_item_kind", choices: ["licensing", "non_licensing", "other"], texts: "kind_" },
  { name: "conditions", kind: "lines", label: "f_conditions", hint: "h_lines", max: 16 },
  { name: "materials", kind: "requirements", label: "f_requirements", hint: "h_requirements", max: 32 },
  { name: "legal_limit_days", kind: "int", label: "f_legal_limit", required: true, min: 1, max: MAX_LIMIT_DAYS },
  { name: "promised_limit_days", kind: "int", label: "f_promised_limit", required: true, min: 1, max: MAX_LIMIT_DAYS },
  { name: "cert_type", kind: "code", label: "f_item_cert_type" },
  { name: "parallel_departments", kind: "departments", label: "f_parallel", hint: "h_departments", max: 16 },
];

/** The page's groups of tasks, in order. */
export const GROUPS = [
  { name: "cases", title: "group_cases", note: "gn_cases",
    tasks: ["file", "resubmit", "request_correction", "review", "opinion", "hand_over", "decide"] },
  { name: "materials", title: "group_materials", note: "gn_materials", tasks: ["attest", "material_revoke"] },
  { name: "certificates", title: "group_certificates", note: "gn_certificates",
    tasks: ["issue", "status", "cert_amend", "cert_renew"] },
  { name: "items", title: "group_items", note: "gn_items", tasks: ["item_publish", "item_amend", "item_retire"] },
  { name: "roster", title: "group_roster", note: "gn_roster",
    tasks: ["member_register", "member_roles", "member_rotate", "member_revoke", "encryption_key"] },
];

/** Field kinds: see staff-fields.js. `label` and `hint` are texts.js keys; `texts` prefixes a choice's texts. */
export const TASKS = {
  file: {
    contract: "cases", method: "file", title: "task_file",
    fields: [
      { name: "item_code", kind: "code", label: "f_item_code", required: true },
      { name: "holder_ref", kind: "hex64", label: "f_holder_ref", required: true },
      { name: "materials", kind: "ids", label: "f_materials", max: MAX_CITED },
      { name: "note", kind: "text", label: "f_note" },
    ],
  },
  resubmit: {
    contract: "cases", method: "resubmit", title: "task_resubmit",
    fields: [caseId, { name: "materials", kind: "ids", label: "f_materials_added", required: true, max: MAX_CITED },
      { name: "note", kind: "text", label: "f_note" }],
  },
  request_correction: {
    contract: "cases", method: "request_correction", title: "task_request_correction",
    fields: [caseId, { name: "problems", kind: "problems", label: "f_problems", hint: "h_problems", required: true, max: 32 },
      { name: "note", kind: "text", label: "f_correction_note", required: true }],
  },
  review: {
    contract: "cases", method: "review", title: "task_review",
    fields: [caseId, { name: "opinion", kind: "choice", label: "f_opinion", choices: ["agree", "disagree", "note"], texts: "opinion_" },
      { name: "comment", kind: "text", label: "f_comment", required: true }],
  },
  opinion: {
    contract: "cases", method: "opinion", title: "task_opinion",
    fields: [caseId, { name: "opinion", kind: "choice", label: "f_opinion", choices: ["agree", "disagree"], texts: "opinion_" },
      { name: "comment", kind: "text", label: "f_comment", required: true }],
  },
  hand_over: {
    contract: "cases", method: "hand_over", title: "task_hand_over",
    fields: [caseId, { name: "to", kind: "hex64", label: "f_hand_to", required: true, roster: true }, reason],
  },
  decide: {
    contract: "cases", method: "decide", title: "task_decide",
    fields: [
      caseId,
      { name: "decision", kind: "choice", label: "f_decision", choices: ["approve", "deny"], texts: "decision_" },
      reason,
      { name: "certificate_hash", kind: "hash", label: "f_cert_content_hash" },
      { name: "cert_valid_from_ms", kind: "date", label: "f_cert_valid_from", pair: "cert" },
      { name: "cert_valid_until_ms", kind: "date", label: "f_cert_valid_until", pair: "cert" },
      { name: "cert_metadata", kind: "metadata", label: "f_cert_metadata", hint: "h_metadata" },
      { name: "issuer_officer", kind: "hex64", label: "f_issuer_officer", hint: "h_issuer_officer", roster: true },
    ],
  },
  attest: {
    contract: "materials", method: "attest", title: "task_attest",
    fields: [
      { name: "material_type", kind: "code", label: "f_material_type", required: true },
      { name: "holder_ref", kind: "hex64", label: "f_holder_ref", required: true },
      { name: "content_hash", kind: "hash", label: "f_content_hash", required: true },
      { name: "form", kind: "choice", label: "f_form", choices: ["original", "copy"], texts: "form_" },
      { name: "valid_from_ms", kind: "date", label: "f_valid_from" },
      { name: "valid_until_ms", kind: "date", label: "f_valid_until" },
    ],
  },
  material_revoke: {
    contract: "materials", method: "revoke", title: "task_material_revoke",
    fields: [{ name: "material_id", kind: "id", label: "f_material_id", required: true }, reason],
  },
  issue: {
    contract: "certificates", method: "issue", title: "task_issue",
    fields: [
      { name: "cert_type", kind: "code", label: "f_cert_type", required: true },
      { name: "holder_ref", kind: "hex64", label: "f_holder_ref", required: true },
      { name: "content_hash", kind: "hash", label: "f_content_hash", required: true },
      { name: "valid_until_ms", kind: "date", label: "f_valid_until" },
      { name: "materials", kind: "ids", label: "f_cert_materials", max: MAX_CITED },
      { name: "name", kind: "text", label: "f_cert_name" },
    ],
  },
  status: {
    contract: "certificates", method: null, title: "task_status",
    fields: [
      certId,
      { name: "action", kind: "choice", label: "f_action", choices: ["suspend", "reinstate", "revoke"], texts: "action_" },
      reason,
    ],
  },
  cert_amend: {
    contract: "certificates", method: "amend", title: "task_cert_amend",
    fields: [certId, { name: "content_hash", kind: "hash", label: "f_new_content_hash", required: true },
      { name: "valid_until_ms", kind: "date", label: "f_valid_until" }, reason],
  },
  cert_renew: {
    contract: "certificates", method: "renew", title: "task_cert_renew",
    fields: [certId, { name: "valid_until_ms", kind: "date", label: "f_new_valid_until", required: true }, reason],
  },
  item_publish: { contract: "items", method: "publish", title: "task_item_publish", fields: definition },
  item_amend: {
    contract: "items", method: "amend", title: "task_item_amend",
    fields: [{ ...definition[0], loader: "item" }, ...definition.slice(1),
      { name: "reason", kind: "text", label: "f_amend_reason" }],
  },
  item_retire: {
    contract: "items", method: "retire", title: "task_item_retire",
    fields: [{ name: "code", kind: "code", label: "f_item_code", required: true }, reason],
  },
  member_register: {
    contract: "governance", method: "register_member", title: "task_member_register",
    fields: [newMemberKey, { name: "name", kind: "text", label: "f_member_name", required: true }, roles, effective],
  },
  member_roles: {
    contract: "governance", method: "set_roles", title: "task_member_roles", fields: [memberKey, roles, effective],
  },
  member_rotate: {
    contract: "governance", method: "rotate_key", title: "task_member_rotate",
    fields: [memberKey, { name: "new_public_key", kind: "hex64", label: "f_new_member_key", required: true },
      { name: "reason", kind: "text", label: "f_reason_optional" }, effective],
  },
  member_revoke: {
    contract: "governance", method: "revoke_member", title: "task_member_revoke", fields: [memberKey, reason, effective],
  },
  encryption_key: {
    contract: "governance", method: "set_encryption_key", title: "task_encryption_key",
    fields: [{ name: "public_key", kind: "hex64", label: "f_encryption_key", hint: "h_encryption_key", required: true },
      effective],
  },
};

/** The form values (field name to string) that restate an item version as the API shows it (`GET
 * /v1/items/{code}`), so an amendment starts from the definition in force. */
export function definitionValues(item) {
  const list = (value) => (Array.isArray(value) ? value.map(String) : []);
  const materials = Array.isArray(item?.materials) ? item.materials : [];
  return {
    code: String(item?.code ?? ""), name: String(item?.name ?? ""), legal_basis: String(item?.legal_basis ?? ""),
    department: String(item?.department ?? ""), kind: String(item?.kind ?? "licensing"),
    conditions: list(item?.conditions).join("\n"),
    materials: materials.map((m) => [String(m?.material_type ?? ""), m?.form === "copy" ? "copy" : "original",
      m?.optional === true ? "optional" : null, ...list(m?.issuers)].filter(Boolean).join(" ")).join("\n"),
    legal_limit_days: String(item?.legal_limit_days ?? ""), promised_limit_days: String(item?.promised_limit_days ?? ""),
    cert_type: item?.cert_type ? String(item.cert_type) : "", parallel_departments: list(item?.parallel_departments).join(" "),
  };
}

/** The group a task belongs to. */
export function groupOf(task) {
  return GROUPS.find((g) => g.tasks.includes(task))?.name ?? GROUPS[0].name;
}

function equalBytes(a, b) {
  return a instanceof Uint8Array && b instanceof Uint8Array && a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Checks that span fields (the contracts' own cross-field rules); adds to `errors`. A certificate's start
 * must not be before the block that issues it, so with `nowMs` a start date already begun is refused. */
function crossChecks(name, parsed, errors, nowMs) {
  for (const [from, until] of [["valid_from_ms", "valid_until_ms"], ["cert_valid_from_ms", "cert_valid_until_ms"]]) {
    if (parsed[from] !== undefined && parsed[until] !== undefined && parsed[until] <= parsed[from]) {
      errors[until] = ["v_window", {}];
    }
  }
  if (name === "decide") {
    const extras = ["cert_valid_from_ms", "cert_valid_until_ms", "cert_metadata", "issuer_officer"]
      .filter((f) => parsed[f] !== undefined && !(f === "cert_metadata" && Object.keys(parsed[f]).length === 0));
    if (parsed.decision !== "approve" && (parsed.certificate_hash !== undefined || extras.length)) {
      errors[parsed.certificate_hash !== undefined ? "certificate_hash" : extras[0]] = ["v_cert_only_approve", {}];
    } else if (parsed.certificate_hash === undefined && extras.length) {
      errors.certificate_hash = ["v_cert_hash_needed", {}];
    }
    if (nowMs !== undefined && parsed.cert_valid_from_ms !== undefined && parsed.cert_valid_from_ms <= nowMs) {
      errors.cert_valid_from_ms = ["v_from_past", {}];
    }
  }
  if (name.startsWith("item_") && name !== "item_retire") {
    if (parsed.promised_limit_days > parsed.legal_limit_days) errors.promised_limit_days = ["v_promised", {}];
    if (parsed.department !== undefined && (parsed.parallel_departments ?? []).includes(parsed.department)) {
      errors.parallel_departments = ["v_parallel_self", {}];
    }
  }
  if (name === "member_rotate" && equalBytes(parsed.public_key, parsed.new_public_key)) {
    errors.new_public_key = ["v_same_key", {}];
  }
}

/**
 * `{method, args}` for task `name` from the typed `values` (field name to string, or a list for a multiple
 * choice), or `{errors}` (field name to [textKey, params]) when one is not what the contract takes. `nowMs`
 * (the page's clock) refuses a certificate start that has already begun.
 */
export function buildCall(name, values, { nowMs } = {}) {
  const task = TASKS[name];
  const parsed = {};
  const errors = {};
  for (const field of task.fields) {
    const result = parseField(field, values[field.name]);
    if (result.error) errors[field.name] = result.error;
    else if (result.value !== undefined) parsed[field.name] = result.value;
  }
  crossChecks(name, parsed, errors, nowMs);
  if (Object.keys(errors).length) return { errors };
  return { method: task.method ?? parsed.action, args: argsOf(name, parsed) };
}

function present(object) {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined));
}

function certificateOf(p) {
  if (p.certificate_hash === undefined) return undefined;
  const metadata = p.cert_metadata && Object.keys(p.cert_metadata).length ? p.cert_metadata : undefined;
  return present({ content_hash: p.certificate_hash, valid_from_ms: p.cert_valid_from_ms,
    valid_until_ms: p.cert_valid_until_ms, metadata, issuer_officer: p.issuer_officer });
}

function definitionOf(p) {
  return present({ code: p.code, name: p.name, legal_basis: p.legal_basis, department: p.department, kind: p.kind,
    conditions: p.conditions, materials: p.materials, legal_limit_days: p.legal_limit_days,
    promised_limit_days: p.promised_limit_days, cert_type: p.cert_type, parallel_departments: p.parallel_departments });
}

function argsOf(name, p) {
  switch (name) {
    case "file":
      return present({ item_code: p.item_code, holder_ref: p.holder_ref, materials: p.materials ?? [], note: p.note });
    case "resubmit":
      return present({ case_id: p.case_id, materials: p.materials, note: p.note });
    case "request_correction":
      return { case_id: p.case_id, problems: p.problems, note: p.note };
    case "review":
    case "opinion":
      return { case_id: p.case_id, opinion: p.opinion, comment: p.comment };
    case "hand_over":
      return { case_id: p.case_id, to: p.to, reason: p.reason };
    case "decide":
      return present({ case_id: p.case_id, decision: p.decision, reason: p.reason, certificate: certificateOf(p) });
    case "attest":
      return present({ material_type: p.material_type, holder_ref: p.holder_ref, content_hash: p.content_hash,
        form: p.form, valid_from_ms: p.valid_from_ms, valid_until_ms: p.valid_until_ms });
    case "material_revoke":
      return { material_id: p.material_id, reason: p.reason };
    case "issue":
      return present({ cert_type: p.cert_type, holder_ref: p.holder_ref, content_hash: p.content_hash,
        valid_until_ms: p.valid_until_ms, materials: p.materials,
        metadata: p.name === undefined ? undefined : { name: p.name } });
    case "status":
      return { cert_id: p.cert_id, reason: p.reason };
    case "cert_amend":
      return present({ cert_id: p.cert_id, content_hash: p.content_hash, valid_until_ms: p.valid_until_ms, reason: p.reason });
    case "cert_renew":
      return { cert_id: p.cert_id, valid_until_ms: p.valid_until_ms, reason: p.reason };
    case "item_publish":
      return definitionOf(p);
    case "item_amend":
      return present({ ...definitionOf(p), reason: p.reason });
    case "item_retire":
      return { code: p.code, reason: p.reason };
    case "member_register":
      return present({ public_key: p.public_key, name: p.name, roles: p.roles, effective_height: p.effective_height });
    case "member_roles":
      return present({ public_key: p.public_key, roles: p.roles, effective_height: p.effective_height });
    case "member_rotate":
      return present({ public_key: p.public_key, new_public_key: p.new_public_key, reason: p.reason,
        effective_height: p.effective_height });
    case "member_revoke":
      return present({ public_key: p.public_key, reason: p.reason, effective_height: p.effective_height });
    case "encryption_key":
      return present({ public_key: p.public_key, effective_height: p.effective_height });
    default:
      throw new Error(`unknown task ${name}`);
  }
}
