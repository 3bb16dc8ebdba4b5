// Runs the console's certificate verifier (chainnode/web/js) on the cases given as JSON on stdin and
// prints one verdict per case, for tests/unit/test_web_verifier.py to compare with chainnode.cert_verify.
// Input: {"genesis": {"<name>": "<genesis.json text>"}, "cases": [{"genesis", "cert_id", "bundle", "file_hash"}]}
// (hex bytes; cert_id and file_hash may be null). Output: {"verdicts": [{"verdict", "stage", "reason"}]}.
import { checkCertificate } from "../../chainnode/web/js/certificate.js";
import { fromHex } from "../../chainnode/web/js/msgpack.js";
import { parseGenesis } from "../../chainnode/web/js/verifier.js";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const geneses = new Map(Object.entries(input.genesis).map(([name, text]) => [name, parseGenesis(text)]));
const verdicts = [];
const started = performance.now();
for (const c of input.cases) {
  const result = await checkCertificate(geneses.get(c.genesis), c.cert_id, fromHex(c.bundle),
    c.file_hash === null ? null : fromHex(c.file_hash));
  verdicts.push({ verdict: result.verdict, stage: result.stage ?? null, reason: result.reason ?? null,
                  status: result.status ?? null, officer_roles: result.officerRoles ?? null });
}
process.stdout.write(JSON.stringify({ verdicts, ms: performance.now() - started }));
