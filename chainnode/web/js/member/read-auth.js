// The Authorization header of a signed read (chainnode/read_auth.py, docs/api.md "Signed requests"):
//   Chainnode-Signed key=<64 hex>, time=<ms>, nonce=<32 hex>, signature=<128 hex>
// where the signature is Ed25519 over compute_signing_bytes("chainnode/v1/sign/read", chain_id,
// encode([METHOD, target, time_ms, nonce, sha256(body), node_key])). A header serves one method, target, body,
// chain and node, within 60 s of the node's clock, once.

import { toHex } from "../msgpack.js";
import { encodeCanonical, EncodeError } from "./codec.js";
import { sign, sha256, randomBytes } from "./ed25519.js";
import { computeSigningBytes } from "./tx.js";

export const SCHEME = "Chainnode-Signed";
export const READ_NONCE_SIZE = 16;
export const SIGN_READ = new TextEncoder().encode("chainnode/v1/sign/read");
const TARGET = /^\/[\x21-\x7e]{0,2047}$/;

export function computeReadSigningBytes({ chainId, method, target, timeMs, nonce, bodySha256, nodeKey }) {
  const payload = encodeCanonical([method.toUpperCase(), target, timeMs, nonce, bodySha256, nodeKey]);
  return computeSigningBytes(SIGN_READ, chainId, payload);
}

/**
 * The header value for one request to the node whose key is `nodeKey`. `target` is the path with its query
 * exactly as sent; `body` the request's bytes (empty for a GET).
 */
export async function signReadHeader(privateKey, publicKeyHex, { chainId, method, target, nodeKey, body = new Uint8Array(0),
  timeMs = Date.now(), nonce = randomBytes(READ_NONCE_SIZE) }) {
  if (typeof target !== "string" || !TARGET.test(target)) throw new EncodeError("a signed read's target is a path of printable ASCII");
  if (!(nodeKey instanceof Uint8Array) || nodeKey.length !== 32) throw new EncodeError("the node's key is not 32 bytes");
  if (!(nonce instanceof Uint8Array) || nonce.length !== READ_NONCE_SIZE) throw new EncodeError("a read nonce is 16 bytes");
  if (!Number.isSafeInteger(timeMs) || timeMs < 0) throw new EncodeError("the time is not a whole number of ms");
  const bodySha256 = await sha256(body);
  const message = computeReadSigningBytes({ chainId, method, target, timeMs, nonce, bodySha256, nodeKey });
  const signature = await sign(privateKey, message);
  return `${SCHEME} key=${publicKeyHex}, time=${timeMs}, nonce=${toHex(nonce)}, signature=${toHex(signature)}`;
}
