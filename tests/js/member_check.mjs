// Runs the console's member-key code (chainnode/web/js/member) on the cases given as JSON on stdin and prints
// what it makes of each, for tests/unit/test_web_member.py to compare with the Python it mirrors.
// Values are typed JSON: {"i": "<decimal>"}, {"b": "<hex>"}, {"s": "..."} (a string, lone surrogates kept as
// \u escapes), {"z": null}, {"t": true|false}, {"a": [values]}, {"m": [[key, value], ...]}, {"o": {key: value}}
// (a plain object as a map), {"f": 1.5} (a float, to be refused).
// Input: {"cases": [{"op": "encode", "value"} | {"op": "tx", ...} | {"op": "read", ...} | {"op": "keyfile", ...}
// | {"op": "call", "task", "values"} (a staff form's typed values)]}.
// Output: {"results": [{"ok": true, ...} | {"ok": false, "code", "error"}]}.
import { createRequire } from "node:module";
import { fromHex, toHex } from "../../chainnode/web/js/msgpack.js";
import { encodeCanonical } from "../../chainnode/web/js/member/codec.js";
import { importSeed } from "../../chainnode/web/js/member/ed25519.js";
import { parseKeyFile, openEnvelope, importKeyFile } from "../../chainnode/web/js/member/keyfile.js";
import { signReadHeader } from "../../chainnode/web/js/member/read-auth.js";
import { newTxBody, signTx } from "../../chainnode/web/js/member/tx.js";
import { buildCall } from "../../chainnode/web/js/staff-forms.js";

const require = createRequire(import.meta.url);
globalThis.hashwasm = require("../../chainnode/web/vendor/hash-wasm-argon2.js");
globalThis.nacl = require("../../chainnode/web/vendor/tweetnacl.js");

function build(typed) {
  const [kind] = Object.keys(typed);
  const v = typed[kind];
  switch (kind) {
    case "i": { const big = BigInt(v); return Number.isSafeInteger(Number(big)) && BigInt(Number(big)) === big ? Number(big) : big; }
    case "b": return fromHex(v);
    case "s": return v;
    case "z": return null;
    case "t": return v;
    case "f": return v;
    case "a": return v.map(build);
    case "m": return new Map(v.map(([k, x]) => [k, build(x)]));
    case "o": return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, build(x)]));
    default: throw new Error(`unknown typed value ${kind}`);
  }
}

async function run(c) {
  switch (c.op) {
    case "encode":
      return { hex: toHex(encodeCanonical(build(c.value))) };
    case "tx": {
      const { privateKey, publicKey } = await importSeed(fromHex(c.seed));
      const body = newTxBody({ chainId: c.chain_id, height: c.height, contract: c.contract, method: c.method,
        args: build(c.args), signer: publicKey, nonce: fromHex(c.nonce) });
      const signed = await signTx(privateKey, body);
      return { raw: toHex(signed.raw), tx_id: signed.txIdHex, body: toHex(signed.bodyBytes) };
    }
    case "read": {
      const { privateKey, publicKey } = await importSeed(fromHex(c.seed));
      const header = await signReadHeader(privateKey, toHex(publicKey), { chainId: c.chain_id, method: c.method,
        target: c.target, nodeKey: fromHex(c.node_key), body: fromHex(c.body), timeMs: c.time_ms, nonce: fromHex(c.nonce) });
      return { header };
    }
    case "keyfile": {
      const started = performance.now();
      let parsed = parseKeyFile(new TextEncoder().encode(c.text));
      if (parsed.encrypted) parsed = await openEnvelope(parsed, c.passphrase);
      const key = await importKeyFile(parsed);
      return { public_key: key.publicKeyHex, label: key.label, encrypted: key.encrypted, ms: performance.now() - started };
    }
    case "call": {
      const call = buildCall(c.task, c.values);
      if (call.errors) return { errors: Object.fromEntries(Object.entries(call.errors).map(([k, [key]]) => [k, key])) };
      return { method: call.method, args: toHex(encodeCanonical(call.args)) };
    }
    default:
      throw new Error(`unknown op ${c.op}`);
  }
}

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const results = [];
for (const c of input.cases) {
  try {
    results.push({ ok: true, ...(await run(c)) });
  } catch (error) {
    results.push({ ok: false, code: error.code ?? error.name, error: String(error.message) });
  }
}
process.stdout.write(JSON.stringify({ results }));
