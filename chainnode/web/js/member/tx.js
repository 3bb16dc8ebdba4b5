// Building and signing a transaction exactly as chainnode/tx.py does: the body is the canonical array
// [9, 1, chain_id, contract, method, args, signer, nonce, expiry_height]; its ID is
// SHA-256("chainnode/v1/tx" || 0x00 || body); the signature is Ed25519 over
// encode(["chainnode/v1/sign/tx" as bytes, chain_id, body]); the signed transaction is
// [1, 1, ...body fields, signature]. The body's fields are checked as validate_tx_body checks them.

import { toHex, concatBytes } from "../msgpack.js";
import { encodeCanonical, EncodeError } from "./codec.js";
import { sign, sha256, randomBytes, PUBLIC_KEY_SIZE } from "./ed25519.js";

export const TAG_TX = 1;
export const TAG_TX_BODY = 9;
export const TX_VERSION = 1;
export const NONCE_SIZE = 16;
export const NONCE_MIN = 8;
export const NONCE_MAX = 32;
export const EXPIRY_MARGIN = 1000;
export const MAX_TX_BYTES = 64 * 1024;
const NAME = /^[a-z][a-z0-9_]*$/;
const utf8 = new TextEncoder();
export const DOMAIN_TX = utf8.encode("chainnode/v1/tx");
export const SIGN_TX = utf8.encode("chainnode/v1/sign/tx");

/** encode([domain, chain_id, payload]): the bytes every signature covers (chainnode.crypto.compute_signing_bytes). */
export function computeSigningBytes(domain, chainId, payload) {
  return encodeCanonical([domain, chainId, payload]);
}

/** SHA-256(domain || 0x00 || data) (chainnode.crypto.compute_hash). */
export async function computeHash(domain, data) {
  return sha256(concatBytes(domain, Uint8Array.of(0), data));
}

/** Throws EncodeError naming the field if `body` is not a well-formed transaction body. */
export function validateTxBody(body) {
  if (typeof body.chainId !== "string" || body.chainId.length < 1 || body.chainId.length > 64) {
    throw new EncodeError("chain_id must be a string of 1..64 characters");
  }
  for (const [name, value] of [["contract", body.contract], ["method", body.method]]) {
    if (typeof value !== "string" || value.length < 1 || value.length > 64 || !NAME.test(value)) {
      throw new EncodeError(`${name} must be lowercase letters, digits and '_'`);
    }
  }
  if (!(body.signer instanceof Uint8Array) || body.signer.length !== PUBLIC_KEY_SIZE) {
    throw new EncodeError("signer must be 32 bytes");
  }
  if (!(body.nonce instanceof Uint8Array) || body.nonce.length < NONCE_MIN || body.nonce.length > NONCE_MAX) {
    throw new EncodeError(`nonce must be ${NONCE_MIN} to ${NONCE_MAX} bytes`);
  }
  if (!Number.isSafeInteger(body.expiryHeight) || body.expiryHeight < 1) {
    throw new EncodeError("expiry_height must be a positive integer");
  }
}

export function bodyFields(body) {
  return [body.chainId, body.contract, body.method, body.args, body.signer, body.nonce, body.expiryHeight];
}

/** The canonical body bytes (what is hashed into the ID and signed). */
export function encodeTxBody(body) {
  validateTxBody(body);
  return encodeCanonical([TAG_TX_BODY, TX_VERSION, ...bodyFields(body)]);
}

/**
 * A body for `contract.method(args)` by `signer`, for the chain and head height the node reports, with a fresh
 * 16-byte nonce and an expiry EXPIRY_MARGIN blocks after the head (as the Python client builds one).
 */
export function newTxBody({ chainId, height, contract, method, args, signer, nonce = randomBytes(NONCE_SIZE),
  margin = EXPIRY_MARGIN }) {
  if (!Number.isSafeInteger(height) || height < 0) throw new EncodeError("the node's head height is not an integer");
  return { chainId, contract, method, args, signer, nonce, expiryHeight: height + margin };
}

/** `{raw, txId, txIdHex, bodyBytes, signature}`: the signed transaction's bytes, ready for POST /v1/txs. */
export async function signTx(privateKey, body) {
  const bodyBytes = encodeTxBody(body);
  const signature = await sign(privateKey, computeSigningBytes(SIGN_TX, body.chainId, bodyBytes));
  const raw = encodeCanonical([TAG_TX, TX_VERSION, ...bodyFields(body), signature]);
  if (raw.length > MAX_TX_BYTES) throw new EncodeError(`the transaction is ${raw.length} bytes; a node takes ${MAX_TX_BYTES}`);
  const txId = await computeHash(DOMAIN_TX, bodyBytes);
  return { raw, txId, txIdHex: toHex(txId), bodyBytes, signature };
}
