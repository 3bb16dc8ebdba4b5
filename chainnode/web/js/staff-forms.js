// The staff pages' forms: which contract method each calls, its fields, and how the typed values become the
// method's arguments, checked as the contract checks them (contracts/case_args.py, materials.py,
// certificates.py and args.py) before anything is signed. Pure functions of the values: no DOM here.

import { fromHex } from "./msgpack.js";

const CODE = /^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$/;
const ID = /^[0-9a-f]{32}$/;
const HEX64 = /^[0-9a-f]{64}$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
export const MAX_TEXT = 512;
export const MAX_CITED = 32;

/** Field kinds: code, hex64 (32 bytes), hash (hex64 with a file picker), id (32 hex), ids (one per line),
 * text, choice, date (UTC day, as ms). `label` is a texts.js key. */
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
  decide: {
    contract: "cases", method: "decide", title: "task_decide",
    fields: [
      { name: "case_id", kind: "id", label: "f_case_id", required: true },
      { name: "decision", kind: "choice", label: "f_decision", choices: ["approve", "deny"], texts: "decision_" },
      { name: "reason", kind: "text", label: "f_reason", required: true },
      { name: "certificate_hash", kind: "hash", label: "f_cert_content_hash" },
    ],
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
      { name: "cert_id", kind: "id", label: "f_cert_id", required: true },
      { name: "action", kind: "choice", label: "f_action", choices: ["suspend", "reinstate", "revoke"], texts: "action_" },
      { name: "reason", kind: "text", label: "f_reason", required: true },
    ],
  },
};

function dateMs(text) {
  const match = DATE.exec(text);
  if (!match) return null;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const ms = Date.UTC(year, month - 1, day);
  const back = new Date(ms);
  return back.getUTCFullYear() === year && back.getUTCMonth() === month - 1 && back.getUTCDate() === day && year >= 1970 ? ms : null;
}

/** One field's value, parsed: `{value}` (undefined when left empty) or `{error: [textKey, params]}`. */
export function parseField(field, raw) {
  const text = typeof raw === "string" ? raw : "";
  const trimmed = text.trim();
  if (trimmed === "") return field.required ? { error: ["v_required", {}] } : { value: undefined };
  switch (field.kind) {
    case "code":
      return CODE.test(trimmed) ? { value: trimmed } : { error: ["v_code", {}] };
    case "id":
      return ID.test(trimmed.toLowerCase()) ? { value: trimmed.toLowerCase() } : { error: ["v_hex32", {}] };
    case "hex64":
    case "hash":
      return HEX64.test(trimmed.toLowerCase()) ? { value: fromHex(trimmed.toLowerCase()) } : { error: ["v_hex64", {}] };
    case "ids": {
      const ids = trimmed.split(/[\s,]+/).filter(Boolean).map((s) => s.toLowerCase());
      if (ids.some((id) => !ID.test(id))) return { error: ["v_hex32", {}] };
      if (ids.length > field.max || new Set(ids).size !== ids.length) return { error: ["v_list", { max: field.max }] };
      return { value: ids };
    }
    case "text":
      return [...text].length <= MAX_TEXT ? { value: text } : { error: ["v_text", { max: MAX_TEXT }] };
    case "choice":
      return field.choices.includes(trimmed) ? { value: trimmed } : { error: ["v_required", {}] };
    case "date": {
      const ms = dateMs(trimmed);
      return ms === null ? { error: ["v_date", {}] } : { value: ms };
    }
    default:
      return { error: ["v_required", {}] };
  }
}

/**
 * `{method, args}` for task `name` from the typed `values` (field name to string), or `{errors}` (field name to
 * [textKey, params]) when one is not what the contract takes.
 */
export function buildCall(name, values) {
  const task = TASKS[name];
  const parsed = {};
  const errors = {};
  for (const field of task.fields) {
    const result = parseField(field, values[field.name]);
    if (result.error) errors[field.name] = result.error;
    else if (result.value !== undefined) parsed[field.name] = result.value;
  }
  const window = ["valid_from_ms", "valid_until_ms"];
  if (window.every((f) => parsed[f] !== undefined) && parsed.valid_until_ms <= parsed.valid_from_ms) {
    errors.valid_until_ms = ["v_window", {}];
  }
  if (name === "decide" && parsed.certificate_hash !== undefined && parsed.decision !== "approve") {
    errors.certificate_hash = ["v_required", {}];
  }
  if (Object.keys(errors).length) return { errors };
  return { method: task.method ?? parsed.action, args: argsOf(name, parsed) };
}

function argsOf(name, p) {
  const present = (object) => Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined));
  switch (name) {
    case "file":
      return present({ item_code: p.item_code, holder_ref: p.holder_ref, materials: p.materials ?? [], note: p.note });
    case "attest":
      return present({ material_type: p.material_type, holder_ref: p.holder_ref, content_hash: p.content_hash,
        form: p.form, valid_from_ms: p.valid_from_ms, valid_until_ms: p.valid_until_ms });
    case "decide":
      return present({ case_id: p.case_id, decision: p.decision, reason: p.reason,
        certificate: p.certificate_hash === undefined ? undefined : { content_hash: p.certificate_hash } });
    case "issue":
      return present({ cert_type: p.cert_type, holder_ref: p.holder_ref, content_hash: p.content_hash,
        valid_until_ms: p.valid_until_ms, materials: p.materials,
        metadata: p.name === undefined ? undefined : { name: p.name } });
    case "status":
      return { cert_id: p.cert_id, reason: p.reason };
    default:
      throw new Error(`unknown task ${name}`);
  }
}
