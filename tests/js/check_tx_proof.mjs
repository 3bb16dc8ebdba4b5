// Runs the explorer's single-transaction proof check (verifyTxProof of chainnode/web/js/trace-verifier.js), with
// an optional trust file as the root (parseTrust of verifier.js), on the cases given as JSON on stdin and prints
// one verdict per case, for tests/unit/test_web_tx_proof.py to compare with chainnode.light.load_trust and
// verify_tx_bundle. Input: {"genesis": "<genesis.json text>", "cases": [{"proof": hex, "tx_id": hex,
// "trust": "<trust file text>" or null}]}. Output: {"verdicts": [{"ok", "stage", "reason", "height", "index",
// "code", "from"}], "genesis_hash", "ms"}.
import { fromHex, toHex } from "../../chainnode/web/js/msgpack.js";
import { verifyTxProof } from "../../chainnode/web/js/trace-verifier.js";
import { ProofError, computeGenesisHash, parseGenesis, parseTrust } from "../../chainnode/web/js/verifier.js";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const genesis = parseGenesis(input.genesis);
const genesisHash = await computeGenesisHash(input.genesis);
const verdicts = [];
const started = performance.now();
for (const c of input.cases) {
  try {
    const trust = c.trust === null || c.trust === undefined ? null : await parseTrust(c.trust, genesis, genesisHash);
    const tx = await verifyTxProof(genesis, fromHex(c.proof), c.tx_id, trust);
    verdicts.push({ ok: true, stage: null, reason: null, height: tx.height, index: tx.index, code: tx.code,
      from: trust === null ? 0 : trust.height });
  } catch (exc) {
    if (!(exc instanceof ProofError)) throw exc;
    verdicts.push({ ok: false, stage: exc.stage, reason: exc.message, height: null, index: null, code: null });
  }
}
process.stdout.write(JSON.stringify({ verdicts, genesis_hash: toHex(genesisHash), ms: performance.now() - started }));
