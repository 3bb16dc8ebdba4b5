// What the documents page does with the node, step by step, as chainnode/doc_client.py does it: send (read the
// parties' keys in force, encrypt, seal, upload the ciphertext to this node, sign and submit documents.send and
// wait for the commit; sealed once more to the keys then in force after a stale_key refusal), read records and
// lists (signed reads), open (record the opening on the ledger first with a signed documents.access, then fetch
// the ciphertext, check its SHA-256, open the department's sealed key with the loaded encryption key, decrypt
// and check the plaintext's SHA-256 against the chain), and receipt, return, withdraw and forward. Every
// outcome is `{ok, code, message, ...}`, so the page can show the contract's or the API's code as it stands.

import { fromHex, toHex } from "./msgpack.js";
import { currentMember, fetchSigned, readJson, submitTx } from "./session.js";
import { sha256 } from "./member/ed25519.js";
import { DocumentError, encryptDocument, decryptDocument, newContentKey, sealContentKey, openContentKey, checkSealedTo,
  oneTimePublicKey } from "./documents-crypto.js";

export const BOXES = ["inbox", "sent", "pending_receipt", "overdue"];
export const CLASSIFICATIONS = ["public", "internal", "confidential"];
const DOMAIN_DOCUMENT = new TextEncoder().encode("chainnode/v1/document");
const ID = /^[0-9a-f]{32}$/;
const CODE = /^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$/;

/** A refusal as the page shows it: the node's or the contract's code, its message, and the step it came at. */
export class Refusal extends Error {
  constructor(code, message, step = null) {
    super(message);
    this.name = "Refusal";
    this.code = code;
    this.step = step;
  }
}

async function problem(response, step) {
  const body = await readJson(response);
  const code = typeof body?.code === "string" ? body.code : `http_${response.status}`;
  const message = typeof body?.detail === "string" ? body.detail : (typeof body?.title === "string" ? body.title : response.statusText);
  return new Refusal(code, message, step);
}

/** GET a signed route's JSON; throws Refusal with the node's code (401 signature_required, 403, 404 ...). */
export async function signedJson(path, step = "read") {
  const response = await fetchSigned(path, { headers: { Accept: "application/json" } });
  if (!response.ok) throw await problem(response, step);
  const body = await readJson(response);
  if (!body || typeof body !== "object") throw new Refusal("bad_answer", "the node's answer is not JSON", step);
  return body;
}

/** The public department list: `{height, departments: [{code, name, active, encryption_key, ...}]}`. */
export async function departments() {
  const response = await fetch("/v1/departments", { headers: { Accept: "application/json" } });
  if (!response.ok) throw await problem(response, "departments");
  const body = await readJson(response);
  if (!Array.isArray(body?.departments)) throw new Refusal("bad_answer", "the department list is not JSON", "departments");
  return body;
}

/**
 * The encryption public key of each department in force at the next height (the earliest a send can commit at),
 * from the node's department list, a scheduled rotation included (doc_client.encryption_keys).
 */
export function keysInForce(answer, codes) {
  const next = Number(answer.height ?? 0) + 1;
  const listed = new Map(answer.departments.map((d) => [d.code, d]));
  const keys = {};
  for (const code of codes) {
    const department = listed.get(code);
    if (!department) throw new Refusal("unknown_department", `there is no department ${code}`, "keys");
    const periods = Array.isArray(department.encryption_key_periods) ? department.encryption_key_periods : [];
    const inForce = periods.filter((p) => Array.isArray(p) && Number(p[0]) <= next).map((p) => p[1]);
    const key = inForce.length ? inForce[inForce.length - 1] : department.encryption_key;
    if (typeof key !== "string" || !/^[0-9a-f]{64}$/.test(key)) {
      throw new Refusal("no_encryption_key", `${code} has no encryption key registered, so it cannot receive documents`, "keys");
    }
    keys[code] = fromHex(key);
  }
  return keys;
}

/** derive_record_id("chainnode/v1/document", tx_id): the ID of the document a send or forward creates. */
export async function documentId(txIdHex) {
  const txId = fromHex(txIdHex);
  const data = new Uint8Array(DOMAIN_DOCUMENT.length + 1 + txId.length);
  data.set(DOMAIN_DOCUMENT, 0);
  data.set(txId, DOMAIN_DOCUMENT.length + 1);
  return toHex((await sha256(data)).subarray(0, 16));
}

function memberDepartment() {
  const member = currentMember();
  if (!member) throw new Refusal("no_member_key", "load a member key first", "key");
  if (!member.department) throw new Refusal("not_a_member", "the loaded key holds no role now; ask your department admin", "key");
  return member.department;
}

async function call(method, args, onSubmitted) {
  const outcome = await submitTx("documents", method, args, { onSubmitted, waitS: 60 });
  return { ...outcome, ok: outcome.status === "committed" && outcome.code === "ok" };
}

/**
 * Send `plaintext` (Uint8Array): `fields` = {number, title, classification, recipients, replyDays, caseId,
 * certId}, `maxBytes` the chain's max_document_bytes. `onStep(name, detail)` reports encrypt, upload, submit,
 * submitted (with the transaction ID). Resolves to the submit outcome plus {docId, digest}; throws Refusal
 * for a refusal before the transaction (the upload's, the keys').
 */
export async function sendDocument(plaintext, fields, onStep = () => {}) {
  const sender = memberDepartment();
  if (fields.recipients.includes(sender)) {
    throw new Refusal("self_recipient", `${sender} is your own department; a document goes to other departments`, "fields");
  }
  const parties = [...fields.recipients, sender];
  onStep("encrypt");
  const keys = keysInForce(await departments(), parties);
  const contentKey = await newContentKey();
  const digest = await encryptDocument(plaintext, contentKey);
  const args = {
    number: fields.number, title: fields.title, classification: fields.classification, recipients: [...fields.recipients],
    plaintext_sha256: digest.plaintextSha256, ciphertext_sha256: digest.ciphertextSha256, ciphertext_size: digest.ciphertextSize,
    sealed_keys: await sealContentKey(contentKey, keys),
  };
  if (fields.replyDays !== null) args.reply_days = fields.replyDays;
  if (fields.caseId) args.case_id = fields.caseId;
  if (fields.certId) args.cert_id = fields.certId;
  onStep("upload", digest);
  const hash = toHex(digest.ciphertextSha256);
  const upload = await fetchSigned(`/v1/blobs/${hash}`, { method: "PUT", body: digest.ciphertext,
    headers: { "Content-Type": "application/octet-stream", Accept: "application/json" } });
  if (!upload.ok) throw await problem(upload, "upload");
  onStep("submit");
  let outcome = await call("send", args, (txId) => onStep("submitted", txId));
  if (outcome.status === "committed" && outcome.code === "stale_key") {
    // a party's key changed between reading it and the commit: seal to the key in force now, once
    args.sealed_keys = await sealContentKey(contentKey, keysInForce(await departments(), parties));
    outcome = await call("send", args, (txId) => onStep("submitted", txId));
  }
  contentKey.fill(0);
  return { ...outcome, docId: outcome.ok ? await documentId(outcome.txId) : null, digest };
}

/** The record, its access records and proof: GET /v1/documents/{id} (signed). */
export async function documentRecord(docId) {
  if (!ID.test(docId)) throw new Refusal("invalid_field", "a document ID is 32 lowercase hex digits", "fields");
  return signedJson(`/v1/documents/${docId}`);
}

/** A department's box: GET /v1/documents?department=D&box=B (signed). */
export async function listDocuments(department, box) {
  if (!CODE.test(department) || !BOXES.includes(box)) throw new Refusal("invalid_field", "a department code and a box", "fields");
  return signedJson(`/v1/documents?department=${encodeURIComponent(department)}&box=${box}&limit=200`);
}

/** The sealed key of `department` in the record, or a Refusal no_access. */
function sealedFor(document, department) {
  const entry = (document.sealed_keys ?? []).find((k) => k.department === department);
  if (!entry) throw new Refusal("no_access", `document ${document.doc_id} holds no key sealed to ${department}`, "key");
  return entry;
}

/** The department's sealed key of a record, checked by fingerprint against the loaded encryption key; nothing
 * is decrypted (that waits until the opening is on the ledger). */
function sealedKeyFor(document, department, encryptionKey) {
  if (!encryptionKey) throw new Refusal("no_encryption_key_loaded", "load the department's encryption key file first", "key");
  const sealed = sealedFor(document, department);
  checkSealedTo(sealed, encryptionKey);
  return sealed;
}

/**
 * Open a document: `options` = {purpose, caseId}. Checks the loaded key against the sealed key's fingerprint
 * (nothing is recorded for a wrong key), records the opening (documents.access, committed), downloads the
 * ciphertext (signed), checks its size and SHA-256 against the record, decrypts, and checks the plaintext's
 * SHA-256. Resolves to {plaintext, plaintextSha256, access (the access outcome), document}; throws Refusal or
 * DocumentError at the step that failed (the access outcome rides on a Refusal as `outcome`).
 */
export async function openDocument(docId, encryptionKey, options = {}, onStep = () => {}) {
  const department = memberDepartment();
  onStep("record");
  const document = (await documentRecord(docId)).document;
  const sealed = sealedKeyFor(document, department, encryptionKey);
  const status = document.recipient_status?.[department];
  if (status && status.delivered_height === null && department !== document.sender) {
    throw new Refusal("not_delivered", `${department}'s node has not reported the ciphertext of ${docId} yet; nothing was opened `
      + "or recorded: try again shortly", "record");
  }
  onStep("access");
  const args = { doc_id: docId, reply_key: await oneTimePublicKey() };
  if (options.caseId) args.case_id = options.caseId;
  if (options.purpose) args.purpose = options.purpose;
  const access = await call("access", args, (txId) => onStep("access_submitted", txId));
  if (!access.ok) {
    const refusal = new Refusal(access.code, access.message, "access");
    refusal.outcome = access;
    throw refusal;
  }
  const contentKey = await openContentKey(sealed, encryptionKey);
  onStep("download");
  const response = await fetchSigned(`/v1/documents/${docId}/ciphertext`);
  if (!response.ok) throw await problem(response, "download");
  const declared = Number(response.headers.get("Content-Length") ?? "0");
  if (declared > Number(document.ciphertext_size)) throw new Refusal("ciphertext_mismatch", "the ciphertext is larger than the record says", "download");
  const ciphertext = new Uint8Array(await response.arrayBuffer());
  if (ciphertext.length !== Number(document.ciphertext_size) || toHex(await sha256(ciphertext)) !== document.ciphertext_sha256) {
    throw new DocumentError("the ciphertext the node sent does not match the hash on chain; nothing was opened", "ciphertext_mismatch");
  }
  onStep("decrypt");
  const opened = await decryptDocument(ciphertext, contentKey);
  contentKey.fill(0);
  if (toHex(opened.plaintextSha256) !== document.plaintext_sha256) {
    opened.plaintext.fill(0);
    throw new DocumentError("the decrypted content does not match the plaintext hash on chain", "plaintext_mismatch");
  }
  return { plaintext: opened.plaintext, plaintextSha256: opened.plaintextSha256, access, document };
}

/** 签收: documents.receipt naming the SHA-256 of the content received. */
export function receipt(docId, plaintextSha256, onSubmitted) {
  return call("receipt", { doc_id: docId, plaintext_sha256: plaintextSha256 }, onSubmitted);
}

/** 退回 (return) or 撤回 (withdraw) with a reason. */
export function withReason(method, docId, reason, onSubmitted) {
  return call(method, { doc_id: docId, reason }, onSubmitted);
}

/**
 * 转发: open the content key with the loaded encryption key (recorded as an access with the purpose "forward",
 * as the CLI does), seal it to the new recipients and this department, and submit documents.forward.
 */
export async function forwardDocument(docId, recipients, note, encryptionKey, onStep = () => {}) {
  const forwarder = memberDepartment();
  const document = (await documentRecord(docId)).document;
  const sealed = sealedKeyFor(document, forwarder, encryptionKey);
  const keys = keysInForce(await departments(), [...recipients, forwarder]);
  onStep("access");
  const access = await call("access", { doc_id: docId, reply_key: await oneTimePublicKey(), purpose: "forward" },
    (txId) => onStep("access_submitted", txId));
  if (!access.ok) {
    const refusal = new Refusal(access.code, access.message, "access");
    refusal.outcome = access;
    throw refusal;
  }
  const contentKey = await openContentKey(sealed, encryptionKey);
  const args = { doc_id: docId, recipients: [...recipients], sealed_keys: await sealContentKey(contentKey, keys) };
  contentKey.fill(0);
  if (note) args.note = note;
  onStep("submit");
  const outcome = await call("forward", args, (txId) => onStep("submitted", txId));
  return { ...outcome, docId: outcome.ok ? await documentId(outcome.txId) : null };
}
