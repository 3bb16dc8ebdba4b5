// Runs the console's history-page verifier (chainnode/web/js/trace-verifier.js) on the cases given as JSON
// on stdin and prints one verdict per case, for tests/unit/test_web_trace.py to compare with
// chainnode.trace_verify. Input: {"genesis": "<genesis.json text>", "cases": [{"events": [...], "proof": hex}]}.
// Output: {"verdicts": [{"ok", "stage", "reason"}], "ms"}.
import { fromHex } from "../../chainnode/web/js/msgpack.js";
import { verifyHistoryPage } from "../../chainnode/web/js/trace-verifier.js";
import { ProofError, parseGenesis } from "../../chainnode/web/js/verifier.js";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const genesis = parseGenesis(input.genesis);
const verdicts = [];
const started = performance.now();
for (const c of input.cases) {
  try {
    const checked = await verifyHistoryPage(genesis, c.events, fromHex(c.proof));
    verdicts.push({ ok: true, stage: null, reason: null, events: checked.events });
  } catch (exc) {
    if (!(exc instanceof ProofError)) throw exc;
    verdicts.push({ ok: false, stage: exc.stage, reason: exc.message, events: null });
  }
}
process.stdout.write(JSON.stringify({ verdicts, ms: performance.now() - started }));
