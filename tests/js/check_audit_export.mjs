// Reads export files (chainnode history --verify --export) with the audit page's model
// (chainnode/web/js/audit-model.js) and verifies their pages, for tests/unit/test_web_trace.py.
// Input: {"genesis": "<genesis.json text>", "files": ["<file text>", ...]}.
// Output: {"results": [{"error": null | {"stage", "reason"}, "marks": [bool per event], "reasons": [...]}]}.
import { parseExport, verifyPages } from "../../chainnode/web/js/audit-model.js";
import { ProofError, parseGenesis } from "../../chainnode/web/js/verifier.js";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const genesis = parseGenesis(input.genesis);
const results = [];
for (const text of input.files) {
  try {
    const doc = parseExport(new TextEncoder().encode(text));
    const rows = await verifyPages(genesis, doc.pages);
    results.push({ error: null, marks: rows.map((r) => r.verified), reasons: rows.map((r) => r.reason) });
  } catch (exc) {
    if (!(exc instanceof ProofError)) throw exc;
    results.push({ error: { stage: exc.stage, reason: exc.message }, marks: [], reasons: [] });
  }
}
process.stdout.write(JSON.stringify({ results }));
