// The envelope of an official document in the browser, byte for byte as chainnode/envelope.py writes and reads
// it (docs/documents.md): the file encrypted under a random 32-byte content key as a libsodium secretstream
// (XChaCha20-Poly1305) in chunks of exactly 1 MiB of plaintext, behind the magic "CNDOC" 0x01 and the stream's
// 24-byte header, each chunk prefixed with its length (4 bytes, big-endian); the content key sealed to each
// party's X25519 encryption key with crypto_box_seal and named by that key's fingerprint; and the department's
// encryption key file (plain, or encrypted with a passphrase as member key files are). libsodium is the vendored
// libsodium.js with its wrappers (classic scripts loaded before the page's modules); SHA-256 is WebCrypto's.

import { fromHex, toHex, equalBytes } from "./msgpack.js";
import { sha256 } from "./member/ed25519.js";
import { deriveKey, passphraseBytes, MAX_KEY_FILE_BYTES, ENCRYPTED_KEY_FILE_KIND, ENCRYPTED_KEY_FILE_VERSION,
  KDF_ALGORITHM, CIPHER_ALGORITHM, OPSLIMIT_MIN, OPSLIMIT_MAX, MEMLIMIT_MIN, MEMLIMIT_MAX } from "./member/keyfile.js";

export const MAGIC = Uint8Array.of(0x43, 0x4e, 0x44, 0x4f, 0x43, 0x01); // "CNDOC" 0x01
export const CHUNK_SIZE = 1024 * 1024;
export const STREAM_HEADER_SIZE = 24;
export const STREAM_OVERHEAD = 17;
export const MAX_CHUNK_BYTES = CHUNK_SIZE + STREAM_OVERHEAD;
export const KEY_SIZE = 32;
export const SEALED_SIZE = KEY_SIZE + 48;
export const ENCRYPTION_KEY_FILE_KIND = "chainnode-encryption-key";
const PREFIX = MAGIC.length + STREAM_HEADER_SIZE;
const DOMAIN_ENCRYPTION_KEY = new TextEncoder().encode("chainnode/v1/encryption-key");
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** A document that cannot be encrypted, opened or trusted; `code` names the step for the page's texts. */
export class DocumentError extends Error {
  constructor(message, code = "document_error") {
    super(message);
    this.name = "DocumentError";
    this.code = code;
  }
}

/** The libsodium wrappers, once their WebAssembly (or asm.js) module is ready. Throws DocumentError. */
export async function sodiumLib() {
  const sodium = globalThis.sodium;
  if (!sodium || typeof sodium.ready?.then !== "function") {
    throw new DecryptionUnavailable();
  }
  await sodium.ready;
  if (typeof sodium.crypto_box_seal !== "function" || typeof sodium.crypto_secretstream_xchacha20poly1305_push !== "function") {
    throw new DecryptionUnavailable();
  }
  return sodium;
}

class DecryptionUnavailable extends DocumentError {
  constructor() {
    super("the page's libsodium library did not load", "no_sodium");
  }
}

/** The exact ciphertext size for a plaintext of `n` bytes: 30 + chunks x 21 + n. */
export function ciphertextSize(n) {
  const chunks = Math.max(1, Math.ceil(n / CHUNK_SIZE));
  return PREFIX + chunks * (4 + STREAM_OVERHEAD) + n;
}

/** SHA-256("chainnode/v1/encryption-key" || 0x00 || public key): how the chain names an encryption key. */
export async function computeFingerprint(publicKey) {
  const data = new Uint8Array(DOMAIN_ENCRYPTION_KEY.length + 1 + publicKey.length);
  data.set(DOMAIN_ENCRYPTION_KEY, 0);
  data.set(publicKey, DOMAIN_ENCRYPTION_KEY.length + 1);
  return sha256(data);
}

/** A fresh random content key (32 bytes). */
export async function newContentKey() {
  return (await sodiumLib()).crypto_secretstream_xchacha20poly1305_keygen();
}

/**
 * Encrypt `plaintext` (Uint8Array) under `contentKey`: `{ciphertext, plaintextSha256, ciphertextSha256,
 * ciphertextSize}`. Every chunk but the last holds exactly 1 MiB and carries the tag MESSAGE; the last (possibly
 * empty) carries FINAL; no additional data.
 */
export async function encryptDocument(plaintext, contentKey) {
  const sodium = await sodiumLib();
  const size = ciphertextSize(plaintext.length);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  const { state, header } = sodium.crypto_secretstream_xchacha20poly1305_init_push(contentKey);
  out.set(MAGIC, 0);
  out.set(header, MAGIC.length);
  let at = PREFIX;
  let offset = 0;
  for (;;) {
    const end = Math.min(offset + CHUNK_SIZE, plaintext.length);
    const final = end === plaintext.length;
    const tag = final ? sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL : sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
    const sealed = sodium.crypto_secretstream_xchacha20poly1305_push(state, plaintext.subarray(offset, end), null, tag);
    view.setUint32(at, sealed.length, false);
    out.set(sealed, at + 4);
    at += 4 + sealed.length;
    offset = end;
    if (final) break;
  }
  if (at !== size) throw new DocumentError(`the envelope came out ${at} bytes, not ${size}`, "envelope_size");
  return { ciphertext: out, plaintextSha256: await sha256(plaintext), ciphertextSha256: await sha256(out), ciphertextSize: size };
}

/**
 * The plaintext of an envelope, and its SHA-256, under `contentKey`: `{plaintext, plaintextSha256}`. Refuses
 * (DocumentError document_not_envelope, document_decrypt_failed) a bad magic or short header, a chunk length
 * outside [17, 1 MiB + 17], a chunk that does not authenticate, a tag other than MESSAGE or FINAL, a chunk
 * before the last that does not hold exactly 1 MiB, a missing FINAL chunk, or any byte after it.
 */
export async function decryptDocument(ciphertext, contentKey) {
  const sodium = await sodiumLib();
  if (ciphertext.length < PREFIX || !equalBytes(ciphertext.subarray(0, MAGIC.length), MAGIC)) {
    throw new DocumentError("not a chainnode document envelope (bad magic or short header)", "document_not_envelope");
  }
  const fail = (message) => new DocumentError(message, "document_decrypt_failed");
  let state;
  try {
    state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(ciphertext.subarray(MAGIC.length, PREFIX), contentKey);
  } catch {
    throw fail("the content header does not fit this content key");
  }
  const view = new DataView(ciphertext.buffer, ciphertext.byteOffset, ciphertext.byteLength);
  const parts = [];
  let total = 0;
  let at = PREFIX;
  for (;;) {
    if (at + 4 > ciphertext.length) throw fail("the content ends before its final chunk (truncated)");
    const length = view.getUint32(at, false);
    if (length < STREAM_OVERHEAD || length > MAX_CHUNK_BYTES) throw fail(`a content chunk claims ${length} bytes; at most ${MAX_CHUNK_BYTES}`);
    if (at + 4 + length > ciphertext.length) throw fail("the content ends inside a chunk (truncated)");
    let opened;
    try {
      opened = sodium.crypto_secretstream_xchacha20poly1305_pull(state, ciphertext.subarray(at + 4, at + 4 + length), null);
    } catch {
      opened = false;
    }
    if (!opened || !(opened.message instanceof Uint8Array)) throw fail("a content chunk does not authenticate (altered, reordered or truncated)");
    const final = opened.tag === sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL;
    if (!final && opened.tag !== sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) {
      throw fail("a content chunk carries a tag this format does not use");
    }
    if (!final && opened.message.length !== CHUNK_SIZE) {
      throw fail(`a content chunk before the last holds ${opened.message.length} bytes, not ${CHUNK_SIZE}`);
    }
    parts.push(opened.message);
    total += opened.message.length;
    at += 4 + length;
    if (final) break;
  }
  if (at !== ciphertext.length) throw fail("bytes follow the final chunk");
  const plaintext = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    plaintext.set(part, offset);
    offset += part.length;
  }
  return { plaintext, plaintextSha256: await sha256(plaintext) };
}

/**
 * The content key sealed to each party's encryption public key (`{code: Uint8Array}`), as the contract takes
 * them: `[{department, fingerprint, sealed}]` sorted by department code.
 */
export async function sealContentKey(contentKey, publicKeys) {
  const sodium = await sodiumLib();
  const codes = Object.keys(publicKeys).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const out = [];
  for (const code of codes) {
    const publicKey = publicKeys[code];
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== KEY_SIZE) {
      throw new DocumentError(`${code} has no usable encryption key`, "no_encryption_key");
    }
    out.push({ department: code, fingerprint: await computeFingerprint(publicKey), sealed: sodium.crypto_box_seal(contentKey, publicKey) });
  }
  return out;
}

/**
 * Whether a sealed key of the record (`{fingerprint, sealed}` as bytes or hex) was sealed to the loaded
 * encryption key (`{publicKey, secret, fingerprint}`), by fingerprint alone, nothing decrypted: a wrong key is
 * named as such (DocumentError wrong_encryption_key, naming both fingerprints).
 */
export function checkSealedTo(sealedKey, encryptionKey) {
  const fingerprint = typeof sealedKey.fingerprint === "string" ? fromHex(sealedKey.fingerprint) : sealedKey.fingerprint;
  if (!equalBytes(fingerprint, encryptionKey.fingerprint)) {
    const error = new DocumentError(`the content key was sealed to the encryption key ${toHex(fingerprint).slice(0, 16)}…, `
      + `not to the loaded key ${toHex(encryptionKey.fingerprint).slice(0, 16)}… (another department's key, or an older key of `
      + "this department?)", "wrong_encryption_key");
    error.expected = toHex(fingerprint);
    error.loaded = toHex(encryptionKey.fingerprint);
    throw error;
  }
}

/** The content key from a sealed key and the loaded encryption key: `checkSealedTo`, then the sealed box opened
 * (one that does not open is sealed_key_broken). */
export async function openContentKey(sealedKey, encryptionKey) {
  const sodium = await sodiumLib();
  checkSealedTo(sealedKey, encryptionKey);
  const sealed = typeof sealedKey.sealed === "string" ? fromHex(sealedKey.sealed) : sealedKey.sealed;
  let key = null;
  try {
    key = sodium.crypto_box_seal_open(sealed, encryptionKey.publicKey, encryptionKey.secret);
  } catch {
    key = null;
  }
  if (!(key instanceof Uint8Array) || key.length !== KEY_SIZE) {
    throw new DocumentError("the sealed content key does not open with the loaded encryption key", "sealed_key_broken");
  }
  return key;
}

/** A one-time X25519 public key for a `documents.access` record (its secret is dropped at once). */
export async function oneTimePublicKey() {
  const sodium = await sodiumLib();
  const pair = sodium.crypto_box_keypair();
  pair.privateKey.fill(0);
  return pair.publicKey;
}

// --- the department's encryption key file ---------------------------------------------------------------

function keyError(message, code = "encryption_key_file_malformed") {
  return new DocumentError(message, code);
}

function hexOf(value, size, what) {
  if (typeof value !== "string" || value.length > 8192 || !/^(?:[0-9a-fA-F]{2})*$/.test(value)) throw keyError(`the key file's ${what} is not hex`);
  const bytes = fromHex(value);
  if (size !== null && bytes.length !== size) throw keyError(`the key file's ${what} is not ${size} bytes`);
  return bytes;
}

function parsePlainDocument(document) {
  if (document.kind !== ENCRYPTION_KEY_FILE_KIND) {
    throw keyError(document.kind === "chainnode-ed25519-key"
      ? "this is a member's signing key, not the department's encryption key (keys/encryption.key in the node home)"
      : `the file is not a department encryption key (kind ${JSON.stringify(String(document.kind)).slice(0, 80)})`,
    "encryption_key_file_kind");
  }
  return { encrypted: false, label: typeof document.label === "string" ? document.label.slice(0, 256) : "",
    publicKey: hexOf(document.public_key, KEY_SIZE, "public_key"), secret: hexOf(document.secret, KEY_SIZE, "secret") };
}

function parseEnvelope(document) {
  if (document.version !== ENCRYPTED_KEY_FILE_VERSION) throw keyError(`the encrypted key file has format version ${JSON.stringify(document.version)}`);
  if (document.key_kind !== ENCRYPTION_KEY_FILE_KIND) {
    throw keyError("the encrypted file holds another kind of key, not the department's encryption key", "encryption_key_file_kind");
  }
  const { kdf, cipher } = document;
  if (!kdf || typeof kdf !== "object" || !cipher || typeof cipher !== "object"
    || kdf.algorithm !== KDF_ALGORITHM || cipher.algorithm !== CIPHER_ALGORITHM) {
    throw keyError("a damaged encrypted key file (kdf or cipher fields)");
  }
  const { opslimit, memlimit } = kdf;
  if (!Number.isSafeInteger(opslimit) || !Number.isSafeInteger(memlimit) || opslimit < OPSLIMIT_MIN || opslimit > OPSLIMIT_MAX
    || memlimit < MEMLIMIT_MIN || memlimit > MEMLIMIT_MAX) {
    throw keyError(`the key file asks for Argon2id limits out of range (opslimit ${opslimit}, memlimit ${memlimit})`);
  }
  const envelope = { opslimit, memlimit, salt: hexOf(kdf.salt, 16, "salt"), nonce: hexOf(cipher.nonce, 24, "nonce"),
    ciphertext: hexOf(cipher.ciphertext, null, "ciphertext"), publicKeyHex: String(document.public_key) };
  if (envelope.ciphertext.length <= 16 || envelope.ciphertext.length > 4096) throw keyError("a damaged encrypted key file (ciphertext size)");
  return { encrypted: true, label: typeof document.label === "string" ? document.label.slice(0, 256) : "",
    publicKey: hexOf(document.public_key, KEY_SIZE, "public_key"), envelope };
}

/**
 * A department encryption key file's JSON, checked for its form: `{encrypted: false, label, publicKey, secret}`
 * or `{encrypted: true, label, publicKey, envelope}`. Throws DocumentError (encryption_key_file_malformed,
 * encryption_key_file_kind for another kind of key, such as a member's signing key).
 */
export function parseEncryptionKeyFile(bytes) {
  if (!(bytes instanceof Uint8Array) || bytes.length > MAX_KEY_FILE_BYTES) throw keyError(`a key file is at most ${MAX_KEY_FILE_BYTES} bytes`);
  let document;
  try {
    document = JSON.parse(strictUtf8.decode(bytes));
  } catch {
    throw keyError("the file is not a chainnode key file (not UTF-8 JSON)");
  }
  if (document === null || typeof document !== "object" || Array.isArray(document)) throw keyError("the file is not a JSON object");
  return document.kind === ENCRYPTED_KEY_FILE_KIND ? parseEnvelope(document) : parsePlainDocument(document);
}

/**
 * The usable key of a parsed file (opened with `passphrase` if encrypted, as chainnode.crypto does: Argon2id
 * then XSalsa20-Poly1305): `{label, publicKey, secret, fingerprint}`; the public key must be the secret's.
 * Throws DocumentError (key_passphrase_wrong, encryption_key_file_malformed) or KeyError (passphrase form).
 */
export async function openEncryptionKeyFile(parsed, passphrase) {
  const sodium = await sodiumLib();
  let plain = parsed;
  if (parsed.encrypted) {
    const secret = passphraseBytes(passphrase);
    const key = await deriveKey(secret, parsed.envelope);
    secret.fill(0);
    let opened = null;
    try {
      opened = sodium.crypto_secretbox_open_easy(parsed.envelope.ciphertext, parsed.envelope.nonce, key);
    } catch {
      opened = null;
    } finally {
      key.fill(0);
    }
    if (!(opened instanceof Uint8Array)) {
      throw new DocumentError("the passphrase does not open this key file (wrong passphrase, or the file was altered)", "key_passphrase_wrong");
    }
    let document = null;
    try {
      document = JSON.parse(strictUtf8.decode(opened));
    } catch {
      document = null;
    } finally {
      opened.fill(0);
    }
    if (document === null || typeof document !== "object" || document.kind !== ENCRYPTION_KEY_FILE_KIND
      || document.public_key !== parsed.envelope.publicKeyHex) {
      throw keyError("the key file's readable kind or public_key differs from the encrypted key");
    }
    plain = { ...parsePlainDocument(document), label: parsed.label };
  }
  const publicKey = sodium.crypto_scalarmult_base(plain.secret);
  if (!equalBytes(publicKey, plain.publicKey)) throw keyError("the key file's public_key does not belong to its secret");
  return { label: plain.label, publicKey, secret: plain.secret, fingerprint: await computeFingerprint(publicKey) };
}
