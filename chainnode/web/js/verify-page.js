// The certificate check page (证照核验): gathers a genesis file (pinned or given), a proof (fetched from the
// node by ID, a proof file or a QR image) and optionally the certificate's file, runs certificate.js and
// shows the verdict with its reasons and the root it was checked against (genesis, or a trust file loaded
// beside it). The same code runs in the single-file page, where no node is asked.

import { checkCertificate, isCertId } from "./certificate.js";
import { clear, el, formatTime, readFileBytes, shortHex } from "./dom.js";
import { initLanguage, t } from "./i18n.js";
import { toHex } from "./msgpack.js";
import { QrError, readQrImage, scanCamera } from "./qr.js";
import { rootText, trustCard } from "./trust-root.js";
import { ProofError, parseGenesis, sha256 } from "./verifier.js";

const MAX_GENESIS_BYTES = 4 * 1024 * 1024;
const MAX_PROOF_BYTES = 4 * 1024 * 1024;
const MAX_CERT_FILE_BYTES = 256 * 1024 * 1024;
const FETCH_TIMEOUT_MS = 15000;
const PIN_KEY = "chainnode.console.genesis";

const state = {
  genesis: null, genesisText: "", genesisHash: "", genesisPinned: false, proof: null, proofSource: "", fileHash: null,
  result: null, ms: 0,
};
const $ = (id) => document.getElementById(id);
const trust = trustCard({ info: "trust-info", input: "trust-input", forget: "trust-forget" },
  () => (state.genesis === null ? null : { genesis: state.genesis, text: state.genesisText }),
  () => {
    state.result = null;
    clear($("result"));
  }, (exc) => showError(exc));
const standalone = document.documentElement.dataset.standalone === "1" || location.protocol === "file:";

function storage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

// --- genesis ------------------------------------------------------------------------------------------

async function useGenesis(text, pinned) {
  const genesis = parseGenesis(text);
  state.genesis = genesis;
  state.genesisHash = toHex(await sha256(new TextEncoder().encode(text)));
  state.genesisPinned = pinned;
  renderGenesis();
}

function renderGenesis() {
  const info = clear($("genesis-info"));
  const g = state.genesis;
  if (g === null) {
    info.append(el("p", {}, t("genesis_none")));
    $("genesis-forget").hidden = true;
    return;
  }
  info.append(el("dl", { class: "pairs" },
    el("dt", {}, t("genesis_chain")), el("dd", { class: "mono", id: "genesis-chain" }, g.chainId),
    el("dt", {}, t("genesis_validators")), el("dd", {}, g.validators.map((v) => v[0]).join(", ")),
    el("dt", {}, t("genesis_fingerprint")), el("dd", { class: "mono hash" }, state.genesisHash)),
  el("p", { class: "tag" }, state.genesisPinned ? t("genesis_pinned") : t("genesis_loaded")));
  $("genesis-forget").hidden = !state.genesisPinned;
  $("genesis-pin").checked = state.genesisPinned;
}

async function onGenesisFile(file) {
  try {
    const text = new TextDecoder().decode(await readFileBytes(file, MAX_GENESIS_BYTES));
    const pin = $("genesis-pin").checked;
    await useGenesis(text, pin);
    state.genesisText = text;
    if (pin) storage()?.setItem(PIN_KEY, text);
    await trust.genesisChanged();
  } catch (exc) {
    showError(exc);
  }
}

function onPinChange() {
  const store = storage();
  if (!store || state.genesis === null) return;
  if ($("genesis-pin").checked && state.genesisText) store.setItem(PIN_KEY, state.genesisText);
  if (!$("genesis-pin").checked) store.removeItem(PIN_KEY);
  state.genesisPinned = $("genesis-pin").checked;
  renderGenesis();
}

// --- proof inputs -------------------------------------------------------------------------------------

function setProof(bytes, source) {
  state.proof = bytes;
  state.proofSource = source;
  state.result = null;
  clear($("result"));
  $("proof-info").textContent = `${t("proof_loaded")}: ${source}, ${bytes.length} ${t("proof_bytes")}`;
}

/** A proof file is the bundle's bytes; a saved JSON answer of the node ({"proof": base64}) is taken too. */
function proofFromFile(bytes) {
  if (bytes[0] !== 0x7b) return bytes; // "{"
  const doc = JSON.parse(new TextDecoder().decode(bytes));
  if (!doc || typeof doc.proof !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(doc.proof)) {
    throw new ProofError("input", "the JSON file holds no base64 proof");
  }
  const raw = atob(doc.proof);
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

async function onProofFile(file) {
  try {
    setProof(proofFromFile(await readFileBytes(file, MAX_PROOF_BYTES)), file.name);
  } catch (exc) {
    showError(exc);
  }
}

async function onQrFile(file) {
  try {
    setProof(await readQrImage(file), `QR ${file.name}`);
  } catch (exc) {
    showError(exc, t("err_qr"));
  }
}

// --- the camera ---------------------------------------------------------------------------------------

let scanning = null; // the AbortController of the scan in progress

function stopCamera() {
  scanning?.abort();
}

/** Scan the QR proof with the camera, in the page; the proof read is verified at once when a genesis is
 * loaded. No camera, or a refused permission, is said in place; the photo upload stays. */
async function startCamera() {
  if (scanning !== null) return;
  const controller = new AbortController();
  scanning = controller;
  const video = $("camera-video");
  $("camera-info").textContent = t("camera_starting");
  $("camera-button").hidden = true;
  $("camera-stop").hidden = false;
  video.hidden = false;
  try {
    const scanned = scanCamera(video, controller.signal);
    video.addEventListener("playing", () => {
      if (scanning === controller) $("camera-info").textContent = t("camera_looking");
    }, { once: true });
    const bytes = await scanned;
    if (bytes === null) {
      $("camera-info").textContent = t("camera_stopped");
      return;
    }
    $("camera-info").textContent = t("camera_read", { n: bytes.length });
    setProof(bytes, t("camera_source"));
    if (state.genesis !== null) await verify();
  } catch (exc) {
    const key = exc instanceof QrError && exc.code ? `camera_${exc.code}` : null;
    $("camera-info").textContent = key ? t(key) : `${t("err_qr")}${exc.message}`;
  } finally {
    scanning = null;
    video.hidden = true;
    $("camera-button").hidden = false;
    $("camera-stop").hidden = true;
  }
}

async function onCertFile(file) {
  try {
    state.fileHash = await sha256(await readFileBytes(file, MAX_CERT_FILE_BYTES));
    $("file-info").textContent = `${t("file_hash")}: ${toHex(state.fileHash)}`;
  } catch (exc) {
    showError(exc);
  }
}

function enteredId() {
  const text = $("cert-id").value.trim().toLowerCase();
  if (text === "") return null;
  if (!isCertId(text)) throw new ProofError("input", t("err_cert_id"));
  return text;
}

async function fetchProof(event) {
  event.preventDefault();
  $("cert-id-error").textContent = "";
  let id;
  try {
    id = enteredId();
    if (id === null) throw new ProofError("input", t("err_cert_id"));
  } catch (exc) {
    $("cert-id-error").textContent = exc.message;
    $("cert-id").focus();
    return;
  }
  const params = new URLSearchParams({ format: "binary" });
  if (state.fileHash !== null) params.set("content_hash", toHex(state.fileHash));
  if (trust.current() !== null) params.set("trusted_height", String(trust.current().height));
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), FETCH_TIMEOUT_MS);
  try {
    const answer = await fetch(`/v1/certs/${id}/proof?${params}`, { signal: controller.signal, cache: "no-store" });
    const body = new Uint8Array(await answer.arrayBuffer());
    if (body.length > MAX_PROOF_BYTES) throw new ProofError("input", t("err_too_large"));
    if (!answer.ok) {
      let detail = `HTTP ${answer.status}`;
      try {
        detail = JSON.parse(new TextDecoder().decode(body)).detail ?? detail;
      } catch {
        // not a problem document: keep the status
      }
      throw new ProofError("input", `${t("err_fetch")}${detail}`);
    }
    setProof(body, `${location.host} /v1/certs/${id}/proof`);
  } catch (exc) {
    showError(exc, exc instanceof ProofError ? "" : t("err_fetch"));
  } finally {
    clearTimeout(timer);
  }
}

// --- verifying and the verdict -------------------------------------------------------------------------

async function verify() {
  const button = $("verify-button");
  try {
    if (state.genesis === null) throw new ProofError("input", t("err_no_genesis"));
    if (state.proof === null) throw new ProofError("input", t("err_no_proof"));
    const id = enteredId();
    button.disabled = true;
    button.textContent = t("verifying");
    const started = performance.now();
    const result = await checkCertificate(state.genesis, id, state.proof, state.fileHash, trust.current());
    result.root = result.fromHeight === undefined ? null : rootText(result.fromHeight, state.genesisHash, trust.current());
    state.ms = performance.now() - started;
    state.result = result;
    renderResult();
    $("result").focus();
  } catch (exc) {
    showError(exc);
  } finally {
    button.disabled = false;
    button.textContent = t("verify_button");
  }
}

function row(label, ...value) {
  return [el("dt", {}, label), el("dd", {}, ...value)];
}

function contentText(r) {
  if (r.contentMatches === null) return t("content_no_file");
  if (r.contentMatches) return t("content_match");
  return r.fileVersion !== null ? t("content_superseded", { n: r.fileVersion }) : t("content_differs");
}

function renderResult() {
  const r = state.result;
  const box = clear($("result"));
  if (r === null) return;
  box.dataset.verifyMs = state.ms.toFixed(1);
  const kind = r.ok ? "ok" : r.verdict === "INVALID PROOF" ? "invalid" : "bad";
  const note = r.ok ? t("verdict_ok_note") : kind === "invalid" ? t("verdict_invalid_note") : t("verdict_bad_note");
  box.append(el("div", { class: `verdict ${kind}`, id: "verdict", "data-verdict": r.verdict, role: "status" },
    el("span", { class: "mark", "aria-hidden": "true" }, r.ok ? "✓" : "✗"),
    el("div", {}, el("strong", { class: "verdict-text" }, t(`verdict_${r.verdict}`)),
      el("span", { class: "code" }, r.verdict), el("p", {}, note))));
  const details = el("dl", { class: "details" });
  if (kind === "invalid") {
    details.append(...row(t(`stage_${r.stage}`), el("span", { id: "invalid-reason" }, r.reason)),
      ...row(t("root_heading"), el("span", { id: "proof-root" }, t("root_held", { genesis: shortHex(state.genesisHash, 16),
        trust: trust.current() === null ? t("root_no_trust") : rootText(trust.current().height, "", trust.current()) }))));
    box.append(details, el("p", { class: "timing" }, t("timing", { ms: state.ms.toFixed(1) })));
    return;
  }
  details.append(...row(t("d_cert_id"), el("span", { class: "mono" }, r.certId)));
  if (r.verdict !== "NOT FOUND") {
    const reasons = r.reasons.map((x) => el("li", {}, `${t(x.key)}: ${x.text}`));
    details.append(
      ...row(t("d_cert_type"), r.certType),
      ...row(t("d_issuer"), `${r.issuer}${r.issuerName ? ` (${r.issuerName})` : ""}`),
      ...row(t("d_officer"), `${r.officerName} · ${r.officerDepartment} · `, el("span", { class: "mono", title: r.officer },
        shortHex(r.officer, 16))),
      ...row(t("d_officer_roles"), `${r.officerRoles.join(", ") || "—"} (${t("at_height")} ${r.issuedHeight})`),
      ...row(t("d_issued"), `${formatTime(r.issuedMs)} · ${t("at_height")} ${r.issuedHeight}`),
      ...row(t("d_version"), String(r.version)),
      ...row(t("d_validity"), `${formatTime(r.validFromMs)} — ${r.validUntilMs === null ? t("no_end")
        : formatTime(r.validUntilMs)}`),
      ...row(t("d_status"), el("strong", { id: "status" }, t(`status_${r.status}`)),
        ` · ${t("at_height")} ${r.provenHeight}, ${formatTime(r.provenTimeMs)}`),
      ...row(t("d_content"), el("span", { class: "mono hash" }, r.contentHash), el("br"), contentText(r)),
    );
    if (reasons.length) details.append(...row(t("d_reasons"), el("ul", { class: "reasons" }, reasons)));
  } else {
    details.append(...row(t("d_status"), `${t("at_height")} ${r.provenHeight}, ${formatTime(r.provenTimeMs)}`));
  }
  details.append(...row(t("d_proof"), t("proof_summary", { bytes: r.proofBytes, links: r.links,
    signers: r.signedBy.join(", "), hash: shortHex(r.blockHash, 16) })),
  ...row(t("root_heading"), el("span", { id: "proof-root" }, r.root ?? "—")));
  box.append(details, el("p", { class: "timing" }, t("timing", { ms: state.ms.toFixed(1) })));
}

function showError(exc, prefix = "") {
  const box = clear($("result"));
  state.result = null;
  const stage = exc instanceof ProofError ? exc.stage : "input";
  box.append(el("div", { class: "verdict invalid", role: "alert", id: "input-error" },
    el("span", { class: "mark", "aria-hidden": "true" }, "!"),
    el("div", {}, el("strong", {}, t(`stage_${stage}`)), el("p", {}, `${prefix}${exc.message}`))));
}

function resetAll() {
  state.proof = null;
  state.fileHash = null;
  state.result = null;
  for (const id of ["proof-input", "qr-input", "cert-file-input", "cert-id"]) $(id).value = "";
  for (const id of ["proof-info", "file-info", "cert-id-error"]) $(id).textContent = "";
  clear($("result"));
}

// --- wiring -------------------------------------------------------------------------------------------

/** A file input's handler; the input is emptied once read, so choosing the same file again reads it again. */
function once(handler) {
  return async (event) => {
    const file = event.target.files?.[0];
    if (!file) return;
    await handler(file);
    event.target.value = "";
  };
}

function onDrop(event) {
  event.preventDefault();
  $("drop-zone").classList.remove("over");
  const file = event.dataTransfer?.files?.[0];
  if (!file) return;
  if (file.type.startsWith("image/")) onQrFile(file);
  else onProofFile(file);
}

async function start() {
  initLanguage(() => {
    renderGenesis();
    trust.render();
    if (state.result !== null && state.result.fromHeight !== undefined) {
      state.result.root = rootText(state.result.fromHeight, state.genesisHash, trust.current());
    }
    renderResult();
  });
  if (standalone) {
    for (const node of document.querySelectorAll("[data-node-only]")) node.hidden = true;
    $("standalone-note").hidden = false;
  }
  const pinned = storage()?.getItem(PIN_KEY) ?? null;
  if (pinned !== null) {
    try {
      state.genesisText = pinned;
      await useGenesis(pinned, true);
    } catch {
      storage()?.removeItem(PIN_KEY);
    }
  }
  renderGenesis();
  trust.start();
  $("genesis-input").addEventListener("change", once(onGenesisFile));
  $("genesis-pin").addEventListener("change", onPinChange);
  $("genesis-forget").addEventListener("click", () => {
    storage()?.removeItem(PIN_KEY);
    state.genesisPinned = false;
    $("genesis-pin").checked = false;
    renderGenesis();
  });
  $("fetch-form").addEventListener("submit", fetchProof);
  $("proof-input").addEventListener("change", once(onProofFile));
  $("qr-input").addEventListener("change", once(onQrFile));
  $("camera-button").addEventListener("click", startCamera);
  $("camera-stop").addEventListener("click", stopCamera);
  $("cert-file-input").addEventListener("change", (e) => e.target.files?.[0] && onCertFile(e.target.files[0]));
  $("verify-button").addEventListener("click", verify);
  $("clear-button").addEventListener("click", resetAll);
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", onDrop);
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("cert");
  if (fromHash && isCertId(fromHash)) $("cert-id").value = fromHash;
  document.documentElement.dataset.ready = "1";
}

start();
