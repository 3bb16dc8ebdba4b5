// Runs the console's canonical msgpack decoder (chainnode/web/js/msgpack.js) on byte strings given as JSON
// on stdin ({"inputs": ["<hex>", ...], "max_size": n}) and prints, for each, whether it was accepted and,
// if so, whether encoding the decoded value gives the same bytes: {"results": [[accepted, same], ...]}.
import { DecodeError, decode, encode, equalBytes, fromHex } from "../../chainnode/web/js/msgpack.js";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const results = input.inputs.map((hex) => {
  const data = fromHex(hex);
  try {
    return [true, equalBytes(encode(decode(data, input.max_size)), data)];
  } catch (exc) {
    if (exc instanceof DecodeError) return [false, false];
    throw exc;
  }
});
process.stdout.write(JSON.stringify({ results }));
