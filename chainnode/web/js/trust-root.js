// A trust file (`chainnode cert verify --trust-out`) as a proof root beside genesis (docs/proofs.md, "Step 0"):
// read from the user's file, accepted only against the genesis loaded in the page (parseTrust of verifier.js),
// kept in the page's memory only. A bundle that starts at its height is checked from it; one from genesis is
// checked from genesis. The pages ask a node for proofs from its height (`trusted_height`) and say which root
// each proof was checked against.

import { clear, el, readFileBytes, shortHex } from "./dom.js";
import { t } from "./i18n.js";
import { toHex } from "./msgpack.js";
import { ProofError, computeGenesisHash, parseTrust } from "./verifier.js";

const MAX_TRUST_BYTES = 64 * 1024;

/**
 * Wire a trust card: `ids` names its elements {info, input, forget}; `getGenesis()` gives {genesis, text} of the
 * page's genesis or null; `onChange(trust)` is called with the trust root (parseTrust) or null; `onError(exc)`
 * says why a file was refused. Returns {current(), render(), start(), genesisChanged()}.
 */
export function trustCard(ids, getGenesis, onChange, onError) {
  const $ = (id) => document.getElementById(id);
  let text = null;
  let current = null;

  async function parse(candidate) {
    const g = getGenesis();
    if (g === null) throw new ProofError("trust", t("trust_needs_genesis"));
    return parseTrust(candidate, g.genesis, await computeGenesisHash(g.text));
  }

  function render() {
    const info = clear($(ids.info));
    $(ids.forget).hidden = current === null;
    if (current === null) {
      info.append(el("p", { id: `${ids.info}-none` }, t("trust_none")));
      return;
    }
    info.append(el("p", { id: `${ids.info}-loaded` }, t("trust_loaded", { height: current.height,
      hash: shortHex(toHex(current.blockHash), 16), sets: current.validators.map((v) => v[0]).join(", ") })));
  }

  async function onFile(file) {
    try {
      const candidate = new TextDecoder().decode(await readFileBytes(file, MAX_TRUST_BYTES));
      current = await parse(candidate);
      text = candidate;
    } catch (exc) {
      onError(exc);
      return;
    }
    render();
    onChange(current);
  }

  /** The genesis changed: keep the trust file only if it is of the new genesis. */
  async function genesisChanged() {
    if (text === null) return;
    try {
      current = await parse(text);
    } catch (exc) {
      text = null;
      current = null;
      onError(exc);
    }
    render();
  }

  function start() {
    render();
    $(ids.input).addEventListener("change", (e) => {
      const file = e.target.files?.[0];
      e.target.value = "";
      if (file) onFile(file);
    });
    $(ids.forget).addEventListener("click", () => {
      text = null;
      current = null;
      render();
      onChange(null);
    });
  }

  return { current: () => current, render, start, genesisChanged };
}

/** The root a proof starting at `fromHeight` was checked against: the trust file of that height, or genesis
 * (named by the first 16 hex digits of the file's SHA-256, `genesisHash`). */
export function rootText(fromHeight, genesisHash, trust) {
  if (fromHeight !== 0 && trust !== null && trust.height === fromHeight) {
    return t("root_trust", { height: trust.height, hash: shortHex(toHex(trust.blockHash), 16) });
  }
  return t("root_genesis", { hash: shortHex(genesisHash, 16) });
}
