// The field kinds of the staff desk's forms and how a typed value becomes a contract argument, checked as
// contracts/args.py (and the list parsers of cases, items and governance) check it, before anything is signed.
// Pure functions of the values: no DOM here. Each parser answers {value} (undefined when left empty) or
// {error: [textKey, params]}.

import { fromHex } from "./msgpack.js";

export const CODE = /^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$/;
export const DEPARTMENT = /^[A-Z][A-Z0-9_]{1,31}$/;
const ID = /^[0-9a-f]{32}$/;
const HEX64 = /^[0-9a-f]{64}$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const INTEGER = /^\d{1,16}$/;
export const MAX_TEXT = 512;
export const MAX_LONG_TEXT = 4096;
export const MAX_REASON = 256;
export const MAX_METADATA = 16;
export const MAX_METADATA_KEY = 64;
const FORMS = ["original", "copy"];

/** Field kinds (`kind` of a TASKS field), and whether the page shows them as a multi-line box. */
export const MULTILINE = new Set(["ids", "lines", "problems", "metadata", "requirements", "longtext"]);

function length(text) {
  return [...text].length;
}

function lines(text) {
  return text.split(/\r?\n/).map((line) => line.trim()).filter(Boolean);
}

export function dateMs(text) {
  const match = DATE.exec(text);
  if (!match) return null;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const ms = Date.UTC(year, month - 1, day);
  const back = new Date(ms);
  return back.getUTCFullYear() === year && back.getUTCMonth() === month - 1 && back.getUTCDate() === day && year >= 1970 ? ms : null;
}

function hex64(trimmed) {
  return HEX64.test(trimmed.toLowerCase()) ? { value: fromHex(trimmed.toLowerCase()) } : { error: ["v_hex64", {}] };
}

function integer(trimmed, field) {
  const low = field.min ?? 0;
  const high = field.max ?? Number.MAX_SAFE_INTEGER;
  const n = INTEGER.test(trimmed) ? Number(trimmed) : NaN;
  return Number.isSafeInteger(n) && n >= low && n <= high ? { value: n } : { error: ["v_integer", { min: low, max: high }] };
}

function idList(trimmed, field) {
  const ids = trimmed.split(/[\s,，]+/).filter(Boolean).map((s) => s.toLowerCase());
  if (ids.some((id) => !ID.test(id))) return { error: ["v_hex32", {}] };
  if (ids.length > field.max || new Set(ids).size !== ids.length) return { error: ["v_list", { max: field.max }] };
  return { value: ids };
}

function departmentList(trimmed, field) {
  const codes = trimmed.split(/[\s,，]+/).filter(Boolean);
  if (codes.some((code) => !DEPARTMENT.test(code))) return { error: ["v_department", {}] };
  if (codes.length > field.max || new Set(codes).size !== codes.length) return { error: ["v_list", { max: field.max }] };
  return { value: codes };
}

function textLines(text, field) {
  const found = lines(text);
  if (found.length > field.max || new Set(found).size !== found.length) return { error: ["v_list", { max: field.max }] };
  const long = found.findIndex((line) => length(line) > MAX_TEXT);
  return long >= 0 ? { error: ["v_line_text", { line: long + 1, max: MAX_TEXT }] } : { value: found };
}

/** "material_type: reason" per line (a full-width colon too): a correction notice's problems. */
function problems(text, field) {
  const found = [];
  for (const [i, line] of lines(text).entries()) {
    const match = /^([^:：]+)[:：](.*)$/.exec(line);
    const type = match?.[1].trim() ?? "";
    const reason = match?.[2].trim() ?? "";
    if (!CODE.test(type) || reason === "" || length(reason) > MAX_REASON) {
      return { error: ["v_line_problem", { line: i + 1, max: MAX_REASON }] };
    }
    found.push({ material_type: type, reason });
  }
  if (found.length > field.max || new Set(found.map((p) => `${p.material_type}\n${p.reason}`)).size !== found.length) {
    return { error: ["v_list", { max: field.max }] };
  }
  return { value: found };
}

/** "key = value" per line: a certificate's metadata, at most 16 entries with distinct keys. */
function metadata(text) {
  const found = {};
  const entries = lines(text);
  for (const [i, line] of entries.entries()) {
    const at = line.indexOf("=");
    const key = at > 0 ? line.slice(0, at).trim() : "";
    const value = at > 0 ? line.slice(at + 1).trim() : "";
    if (key === "" || length(key) > MAX_METADATA_KEY || length(value) > MAX_TEXT || Object.hasOwn(found, key)) {
      return { error: ["v_line_metadata", { line: i + 1, key: MAX_METADATA_KEY, max: MAX_TEXT }] };
    }
    found[key] = value;
  }
  return entries.length > MAX_METADATA ? { error: ["v_list", { max: MAX_METADATA }] } : { value: found };
}

/** "material_type [original|copy] [optional] [ISSUER ...]" per line: an item's required materials. */
function requirements(text, field) {
  const found = [];
  for (const [i, line] of lines(text).entries()) {
    const [type, ...rest] = line.split(/[\s,，]+/).filter(Boolean);
    const entry = { material_type: type, issuers: [], form: "original", optional: false };
    let ok = CODE.test(type ?? "");
    for (const token of rest) {
      if (FORMS.includes(token)) entry.form = token;
      else if (token === "optional") entry.optional = true;
      else if (DEPARTMENT.test(token) && !entry.issuers.includes(token)) entry.issuers.push(token);
      else ok = false;
    }
    if (!ok || entry.issuers.length > 32) return { error: ["v_line_requirement", { line: i + 1 }] };
    found.push(entry);
  }
  const types = found.map((m) => m.material_type);
  if (found.length > field.max || new Set(types).size !== types.length) return { error: ["v_list", { max: field.max }] };
  return { value: found };
}

function multi(raw, field) {
  const picked = Array.isArray(raw) ? raw : String(raw ?? "").split(/[\s,]+/).filter(Boolean);
  if (picked.length === 0) return field.required ? { error: ["v_pick", {}] } : { value: undefined };
  if (picked.some((v) => !field.choices.includes(v)) || new Set(picked).size !== picked.length) return { error: ["v_pick", {}] };
  return { value: [...picked].sort() };
}

/** One field's value, parsed: `{value}` (undefined when left empty) or `{error: [textKey, params]}`. */
export function parseField(field, raw) {
  if (field.kind === "multi") return multi(raw, field);
  const text = typeof raw === "string" ? raw : "";
  const trimmed = text.trim();
  if (trimmed === "") {
    if (field.required) return { error: ["v_required", {}] };
    return { value: field.kind === "requirements" || field.emptyList ? [] : undefined };
  }
  switch (field.kind) {
    case "code":
      return CODE.test(trimmed) ? { value: trimmed } : { error: ["v_code", {}] };
    case "department":
      return DEPARTMENT.test(trimmed) ? { value: trimmed } : { error: ["v_department", {}] };
    case "id":
      return ID.test(trimmed.toLowerCase()) ? { value: trimmed.toLowerCase() } : { error: ["v_hex32", {}] };
    case "hex64":
    case "hash":
      return hex64(trimmed);
    case "int":
      return integer(trimmed, field);
    case "ids":
      return idList(trimmed, field);
    case "departments":
      return departmentList(trimmed, field);
    case "lines":
      return textLines(text, field);
    case "problems":
      return problems(text, field);
    case "metadata":
      return metadata(text);
    case "requirements":
      return requirements(text, field);
    case "text":
    case "longtext": {
      const max = field.max ?? MAX_TEXT;
      return length(text) <= max ? { value: text } : { error: ["v_text", { max }] };
    }
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
