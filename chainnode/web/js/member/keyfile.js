// Reading a member's key file in the browser: the plain JSON `chainnode keygen` writes, or the same file
// encrypted with a passphrase (docs/security.md, "Keys at rest": Argon2id v1.3 from libsodium's
// crypto_pwhash_argon2id, then crypto_secretbox XSalsa20-Poly1305). Every field is checked before it is used,
// and the Argon2id cost a file asks for is held to chainnode.crypto's bounds (opslimit 1..16, memlimit 8 KiB to
// 1 GiB), so a hostile file cannot make the page run for minutes or take all memory. Argon2id is hash-wasm's
// and SecretBox tweetnacl-js's (chainnode/web/vendor, loaded as classic scripts before the modules). In a
// browser Argon2id runs in a worker (argon2-worker.js), so the page does not freeze while it works; where
// there is no worker (node, in the tests) it runs in place with the same library and the same result.

import { fromHex, toHex, equalBytes } from "../msgpack.js";
import { KeyError, importSeed } from "./ed25519.js";

export const MAX_KEY_FILE_BYTES = 64 * 1024;
export const KEY_FILE_KIND = "chainnode-ed25519-key";
export const ENCRYPTED_KEY_FILE_KIND = "chainnode-encrypted-key";
export const ENCRYPTED_KEY_FILE_VERSION = 1;
export const KDF_ALGORITHM = "argon2id13";
export const CIPHER_ALGORITHM = "xsalsa20poly1305";
export const OPSLIMIT_MIN = 1;
export const OPSLIMIT_MAX = 16;
export const MEMLIMIT_MIN = 8192;
export const MEMLIMIT_MAX = 1024 * 1024 * 1024;
export const MAX_PASSPHRASE_BYTES = 4096;
const SALT_SIZE = 16;
const NONCE_SIZE = 24;
const MAC_SIZE = 16;
const MAX_CIPHERTEXT = 4096;
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function hexField(value, size, what) {
  if (typeof value !== "string" || value.length > 2 * MAX_CIPHERTEXT || !/^(?:[0-9a-fA-F]{2})*$/.test(value)) {
    throw new KeyError(`the key file's ${what} is not hex`);
  }
  const bytes = fromHex(value);
  if (size !== null && bytes.length !== size) throw new KeyError(`the key file's ${what} is not ${size} bytes`);
  return bytes;
}

function labelOf(document) {
  const label = document.label;
  return typeof label === "string" ? label.slice(0, 256) : "";
}

/**
 * The key file's JSON, checked for its form: `{encrypted: false, label, publicKey, seed}` for a plain file,
 * `{encrypted: true, label, publicKey, envelope}` for an encrypted one (`envelope` as `openEnvelope` takes it).
 * Throws KeyError (code key_file_malformed, or key_file_kind for another kind of key).
 */
export function parseKeyFile(bytes) {
  if (!(bytes instanceof Uint8Array) || bytes.length > MAX_KEY_FILE_BYTES) {
    throw new KeyError(`a key file is at most ${MAX_KEY_FILE_BYTES} bytes; this is not one`);
  }
  let document;
  try {
    document = JSON.parse(strictUtf8.decode(bytes));
  } catch {
    throw new KeyError("the file is not a chainnode key file (not UTF-8 JSON)");
  }
  if (document === null || typeof document !== "object" || Array.isArray(document)) {
    throw new KeyError("the file is not a chainnode key file (not a JSON object)");
  }
  if (document.kind === ENCRYPTED_KEY_FILE_KIND) return parseEnvelope(document);
  return parsePlain(document);
}

function parsePlain(document) {
  if (document.kind !== KEY_FILE_KIND) {
    throw new KeyError(`the file is not a member's signing key (kind ${JSON.stringify(String(document.kind)).slice(0, 80)})`,
      "key_file_kind");
  }
  return {
    encrypted: false,
    label: labelOf(document),
    publicKey: hexField(document.public_key, 32, "public_key"),
    seed: hexField(document.seed, 32, "seed"),
  };
}

function parseEnvelope(document) {
  if (document.version !== ENCRYPTED_KEY_FILE_VERSION) {
    throw new KeyError(`the encrypted key file has format version ${JSON.stringify(document.version)}; `
      + `this page reads version ${ENCRYPTED_KEY_FILE_VERSION}`);
  }
  if (document.key_kind !== KEY_FILE_KIND) {
    throw new KeyError("the encrypted file holds another kind of key, not a member's signing key", "key_file_kind");
  }
  const { kdf, cipher } = document;
  if (!kdf || typeof kdf !== "object" || !cipher || typeof cipher !== "object") {
    throw new KeyError("a damaged encrypted key file (kdf or cipher fields)");
  }
  if (kdf.algorithm !== KDF_ALGORITHM || cipher.algorithm !== CIPHER_ALGORITHM) {
    throw new KeyError("the encrypted key file names an unknown algorithm");
  }
  const { opslimit, memlimit } = kdf;
  if (!Number.isSafeInteger(opslimit) || !Number.isSafeInteger(memlimit)) {
    throw new KeyError("a damaged encrypted key file (Argon2id limits are not integers)");
  }
  if (opslimit < OPSLIMIT_MIN || opslimit > OPSLIMIT_MAX || memlimit < MEMLIMIT_MIN || memlimit > MEMLIMIT_MAX) {
    throw new KeyError(`the key file asks for Argon2id limits out of range (opslimit ${opslimit}, memlimit ${memlimit})`);
  }
  const envelope = {
    opslimit,
    memlimit,
    salt: hexField(kdf.salt, SALT_SIZE, "salt"),
    nonce: hexField(cipher.nonce, NONCE_SIZE, "nonce"),
    ciphertext: hexField(cipher.ciphertext, null, "ciphertext"),
    keyKind: document.key_kind,
    publicKeyHex: typeof document.public_key === "string" ? document.public_key : "",
  };
  if (envelope.ciphertext.length <= MAC_SIZE || envelope.ciphertext.length > MAX_CIPHERTEXT) {
    throw new KeyError("a damaged encrypted key file (ciphertext size)");
  }
  return { encrypted: true, label: labelOf(document), publicKey: hexField(document.public_key, 32, "public_key"), envelope };
}

/** The passphrase's bytes as chainnode.keyfile reads them: Unicode NFC, UTF-8, not empty, at most 4,096 bytes. */
export function passphraseBytes(text) {
  if (typeof text !== "string" || text.length === 0) throw new KeyError("the passphrase is empty", "key_passphrase_unusable");
  const bytes = utf8.encode(text.normalize("NFC"));
  if (bytes.length > MAX_PASSPHRASE_BYTES) {
    throw new KeyError(`the passphrase is longer than ${MAX_PASSPHRASE_BYTES} bytes`, "key_passphrase_unusable");
  }
  return bytes;
}

function libraries() {
  const argon2id = globalThis.hashwasm?.argon2id;
  const secretbox = globalThis.nacl?.secretbox;
  if (typeof argon2id !== "function" || typeof secretbox?.open !== "function") {
    throw new KeyError("the page's Argon2id or SecretBox library did not load", "no_webcrypto");
  }
  return { argon2id, secretbox };
}

const WORKER_URL = new URL("./argon2-worker.js", import.meta.url);

/** Run one Argon2id in a fresh worker (ended as soon as it answers: it holds the passphrase's bytes). */
function argon2idInWorker(request) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_URL);
    const done = () => worker.terminate();
    worker.addEventListener("message", (event) => {
      done();
      if (event.data?.hash instanceof Uint8Array) resolve(event.data.hash);
      else reject(new Error(event.data?.error ?? "no answer"));
    });
    worker.addEventListener("error", (event) => {
      done();
      event.preventDefault();
      reject(new Error(event.message || "the Argon2id worker did not start"));
    });
    const password = request.password.slice();
    worker.postMessage({ id: 1, ...request, password }, [password.buffer]);
  });
}

/** Argon2id(passphrase, salt, opslimit, memlimit) as libsodium's crypto_pwhash_argon2id: 32 bytes. */
export async function deriveKey(passphrase, envelope) {
  const request = { password: passphrase, salt: envelope.salt, iterations: envelope.opslimit,
    memorySize: Math.floor(envelope.memlimit / 1024) };
  try {
    if (typeof globalThis.Worker === "function" && typeof globalThis.document === "object") {
      return await argon2idInWorker(request);
    }
    const { argon2id } = libraries();
    return await argon2id({ ...request, parallelism: 1, hashLength: 32, outputType: "binary" });
  } catch (error) {
    if (error instanceof KeyError) throw error;
    throw new KeyError(`Argon2id failed in this browser (${error?.message ?? "error"}); the file may ask for more memory `
      + "than the browser gives a page", "key_kdf_failed");
  }
}

/**
 * The plain key document inside an encrypted one: `{encrypted: true, label, publicKey, seed}`. Throws KeyError
 * key_passphrase_wrong when the passphrase does not open it (or a sealed byte was altered: the two cannot be
 * told apart), key_file_malformed when what it opens to is not the key the readable part names.
 */
export async function openEnvelope(parsed, passphrase) {
  const { secretbox } = libraries();
  const secret = passphraseBytes(passphrase);
  const key = await deriveKey(secret, parsed.envelope);
  secret.fill(0);
  const plaintext = secretbox.open(parsed.envelope.ciphertext, parsed.envelope.nonce, key);
  key.fill(0);
  if (!plaintext) {
    throw new KeyError("the passphrase does not open this key file (wrong passphrase, or the file was altered)",
      "key_passphrase_wrong");
  }
  let document = null;
  try {
    document = JSON.parse(strictUtf8.decode(plaintext));
  } catch {
    document = null;
  } finally {
    plaintext.fill(0);
  }
  if (document === null || typeof document !== "object" || Array.isArray(document)) {
    throw new KeyError("the key file decrypts to something that is not a key document");
  }
  if (document.kind !== parsed.envelope.keyKind || document.public_key !== parsed.envelope.publicKeyHex) {
    throw new KeyError("the key file's readable kind or public_key differs from the encrypted key");
  }
  const inner = parsePlain(document);
  return { ...inner, label: parsed.label || inner.label, encrypted: true };
}

/**
 * A usable key from a parsed (and, if encrypted, opened) key file: `{privateKey, publicKey, publicKeyHex, label,
 * encrypted}`, the seed imported into WebCrypto and then wiped. Throws KeyError if the public key is not the
 * seed's.
 */
export async function importKeyFile(plain) {
  const { privateKey, publicKey } = await importSeed(plain.seed);
  if (!equalBytes(publicKey, plain.publicKey)) throw new KeyError("the key file's public_key does not belong to its seed");
  return { privateKey, publicKey, publicKeyHex: toHex(publicKey), label: plain.label, encrypted: plain.encrypted };
}
