// The department encryption key panel of the documents page: load keys/encryption.key (plain, or encrypted with
// a passphrase), show its fingerprint and whether it is the member's department's key in force (from the public
// GET /v1/departments), unload it. The key lives in this module's memory only, as long as the page is open: it
// is never stored, sent or logged; `currentEncryptionKey()` hands it to the page's open and forward steps.

import { el, clear, readFileBytes } from "./dom.js";
import { toHex } from "./msgpack.js";
import { currentMember, onMemberChange } from "./session.js";
import { MAX_KEY_FILE_BYTES } from "./member/keyfile.js";
import { DocumentError, parseEncryptionKeyFile, openEncryptionKeyFile } from "./documents-crypto.js";
import { dt, codeSentence } from "./documents-texts.js";

let loaded = null; // {label, publicKey, secret, fingerprint}
const listeners = new Set();

/** The loaded encryption key, or null. */
export function currentEncryptionKey() {
  return loaded;
}

export function onEncryptionKeyChange(callback) {
  listeners.add(callback);
}

function changed() {
  for (const listener of [...listeners]) listener(loaded);
}

function unload() {
  if (loaded) loaded.secret.fill(0);
  loaded = null;
  changed();
}

/** A DocumentError's (or KeyError's) text: the code's sentence in the page's language, then the detail. */
export function problemText(error) {
  const code = typeof error?.code === "string" ? error.code : null;
  const sentence = code ? codeSentence(code) : null;
  const detail = String(error?.message ?? error);
  return sentence ? `${sentence} (${code}) ${detail}` : detail;
}

/**
 * Build the panel in `container`. `departmentKeys()` returns the public department list's entries by code
 * (or null before it is read), to say whether the loaded key is the department's key in force.
 */
export function mountEncryptionPanel(container, departmentKeys) {
  let pending = null;
  let busy = false;
  let error = null;

  const render = () => {
    clear(container);
    container.dataset.state = loaded ? "loaded" : pending ? "passphrase" : "empty";
    if (loaded) container.append(loadedView());
    else if (pending) container.append(passphraseView());
    else container.append(emptyView());
    const status = el("p", { id: "enc-error", class: "field-error", role: "alert", "data-code": error?.code ?? "" },
      error ? `✗ ${problemText(error)}` : "");
    status.hidden = !error;
    container.append(status);
  };

  const fail = (e) => {
    error = e;
    busy = false;
    render();
  };

  function emptyView() {
    const input = el("input", { type: "file", id: "enc-file", accept: ".key,.json,application/json" });
    input.addEventListener("change", async () => {
      const file = input.files?.[0];
      if (!file) return;
      error = null;
      try {
        const parsed = parseEncryptionKeyFile(await readFileBytes(file, MAX_KEY_FILE_BYTES).catch(() => {
          throw new DocumentError(`a key file is at most ${MAX_KEY_FILE_BYTES} bytes`, "encryption_key_file_malformed");
        }));
        if (parsed.encrypted) {
          pending = parsed;
          render();
          document.getElementById("enc-passphrase")?.focus();
        } else {
          loaded = await openEncryptionKeyFile(parsed, "");
          changed();
        }
      } catch (e) {
        fail(e);
      }
    });
    return el("div", { class: "row" }, el("span", { class: "muted" }, dt("enc_none")),
      el("label", { class: "file-button" }, el("span", {}, dt("enc_file")), input));
  }

  function passphraseView() {
    const input = el("input", { type: "password", id: "enc-passphrase", autocomplete: "off", maxlength: "1024" });
    const open = el("button", { type: "submit", id: "enc-open" }, busy ? dt("enc_opening") : dt("enc_open"));
    const cancel = el("button", { type: "button", id: "enc-cancel", class: "quiet" }, dt("enc_cancel"));
    open.disabled = busy;
    input.disabled = busy;
    const form = el("form", { id: "enc-passphrase-form", class: "row" },
      el("span", {}, `${dt("enc_encrypted")} ${pending.label}`),
      el("label", { for: "enc-passphrase" }, dt("enc_passphrase")), input, open, cancel);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const passphrase = input.value;
      input.value = "";
      busy = true;
      error = null;
      render();
      try {
        loaded = await openEncryptionKeyFile(pending, passphrase);
        pending = null;
        busy = false;
        changed();
      } catch (e) {
        fail(e);
        document.getElementById("enc-passphrase")?.focus();
      }
    });
    cancel.addEventListener("click", () => {
      pending = null;
      error = null;
      render();
    });
    return form;
  }

  function loadedView() {
    const fingerprint = toHex(loaded.fingerprint);
    const department = currentMember()?.department ?? null;
    const entry = department ? departmentKeys()?.get(department) : null;
    let verdict = null;
    if (entry) {
      const current = entry.encryption_key_fingerprint;
      const matches = current === fingerprint;
      verdict = el("p", { id: "enc-verdict", class: `badge ${matches ? "ok" : "bad"}`, "data-matches": String(matches) },
        matches ? `✓ ${dt("enc_matches", { dept: department })}`
          : `✗ ${dt("enc_not_current", { dept: department, loaded: fingerprint.slice(0, 16), current: String(current ?? "-").slice(0, 16) })}`);
    }
    const unloadButton = el("button", { type: "button", id: "enc-unload", class: "quiet" }, dt("enc_unload"));
    unloadButton.addEventListener("click", unload);
    return el("div", { id: "enc-info", "data-fingerprint": fingerprint },
      el("dl", { class: "pairs" },
        el("dt", {}, dt("enc_loaded")), el("dd", {}, loaded.label || "-"),
        el("dt", {}, dt("enc_fingerprint")), el("dd", { class: "mono hash", id: "enc-fingerprint" }, fingerprint)),
      verdict, el("div", { class: "actions" }, unloadButton));
  }

  onEncryptionKeyChange(() => {
    error = null;
    render();
  });
  onMemberChange(() => render());
  render();
  return { render };
}
