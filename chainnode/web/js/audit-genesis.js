// The genesis file the audit and supervision pages verify against, pinned as on the certificate page: the
// same storage key, so a genesis pinned there is used here and the other way round. The page shows its chain
// ID, validators and SHA-256, to compare with the fingerprint the network's operators publish.

import { clear, el, readFileBytes } from "./dom.js";
import { t } from "./i18n.js";
import { toHex } from "./msgpack.js";
import { parseGenesis, sha256 } from "./verifier.js";

const MAX_GENESIS_BYTES = 4 * 1024 * 1024;
const PIN_KEY = "chainnode.console.genesis";

function storage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

/** The network's time zone from genesis (`params.utc_offset_minutes`; 480, UTC+8, when it is not set). */
function utcOffset(text) {
  try {
    const v = JSON.parse(text)?.params?.utc_offset_minutes;
    return Number.isInteger(v) && v >= -720 && v <= 840 ? v : 480;
  } catch {
    return 480;
  }
}

/** The genesis pinned in this browser, as a card holds it ({genesis, text, hash, pinned, utcOffsetMinutes}),
 * or null when none is pinned or the pinned text no longer parses. */
export async function pinnedGenesis() {
  const text = storage()?.getItem(PIN_KEY) ?? null;
  if (text === null) return null;
  try {
    return { genesis: parseGenesis(text), text, hash: toHex(await sha256(new TextEncoder().encode(text))), pinned: true,
      utcOffsetMinutes: utcOffset(text) };
  } catch {
    return null;
  }
}

/**
 * Wire a genesis card: `ids` names its elements {info, input, pin, forget}; `onChange(g)` is called with
 * {genesis, text, hash, pinned, utcOffsetMinutes} or null. Returns {current(), render()}.
 */
export function genesisCard(ids, onChange) {
  const $ = (id) => document.getElementById(id);
  let current = null;

  async function use(text, pinned) {
    const genesis = parseGenesis(text);
    current = { genesis, text, hash: toHex(await sha256(new TextEncoder().encode(text))), pinned,
      utcOffsetMinutes: utcOffset(text) };
    render();
    onChange(current);
  }

  function render() {
    const info = clear($(ids.info));
    if (current === null) {
      info.append(el("p", {}, t("genesis_none")));
      $(ids.forget).hidden = true;
      return;
    }
    const g = current.genesis;
    info.append(el("dl", { class: "pairs" },
      el("dt", {}, t("genesis_chain")), el("dd", { class: "mono", id: `${ids.info}-chain` }, g.chainId),
      el("dt", {}, t("genesis_validators")), el("dd", {}, g.validators.map((v) => v[0]).join(", ")),
      el("dt", {}, t("genesis_fingerprint")), el("dd", { class: "mono hash" }, current.hash)),
    el("p", { class: "tag" }, current.pinned ? t("genesis_pinned") : t("genesis_loaded")));
    $(ids.forget).hidden = !current.pinned;
    $(ids.pin).checked = current.pinned;
  }

  async function onFile(file, onError) {
    try {
      const text = new TextDecoder().decode(await readFileBytes(file, MAX_GENESIS_BYTES));
      const pin = $(ids.pin).checked;
      await use(text, pin);
      if (pin) storage()?.setItem(PIN_KEY, text);
    } catch (exc) {
      onError(exc);
    }
  }

  async function start(onError) {
    const pinned = storage()?.getItem(PIN_KEY) ?? null;
    if (pinned !== null) {
      try {
        await use(pinned, true);
      } catch {
        storage()?.removeItem(PIN_KEY);
      }
    }
    render();
    $(ids.input).addEventListener("change", (e) => {
      const file = e.target.files?.[0];
      e.target.value = "";
      if (file) onFile(file, onError);
    });
    $(ids.pin).addEventListener("change", () => {
      if (current === null) return;
      if ($(ids.pin).checked) storage()?.setItem(PIN_KEY, current.text);
      else storage()?.removeItem(PIN_KEY);
      current.pinned = $(ids.pin).checked;
      render();
    });
    $(ids.forget).addEventListener("click", () => {
      storage()?.removeItem(PIN_KEY);
      if (current !== null) current.pinned = false;
      $(ids.pin).checked = false;
      render();
    });
  }

  return { current: () => current, render, start };
}
