// A member's Ed25519 key in the browser: imported from its 32-byte seed through WebCrypto (as PKCS#8), held as
// a non-extractable CryptoKey, so after loading neither this page's code nor anything it runs can read the
// seed back; it signs only through `sign`.

const PKCS8_ED25519_PREFIX = Uint8Array.of(0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
  0x04, 0x22, 0x04, 0x20);
export const SEED_SIZE = 32;
export const PUBLIC_KEY_SIZE = 32;
export const SIGNATURE_SIZE = 64;

export class KeyError extends Error {
  constructor(message, code = "key_file_malformed") {
    super(message);
    this.name = "KeyError";
    this.code = code;
  }
}

function subtle() {
  const api = globalThis.crypto?.subtle;
  if (!api) throw new KeyError("this browser has no WebCrypto (open the console over https or from localhost)", "no_webcrypto");
  return api;
}

function base64UrlToBytes(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const raw = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

/**
 * `{privateKey, publicKey}` from a 32-byte seed: the private key non-extractable, the public key's 32 bytes.
 * The seed array is overwritten with zeros once imported. Throws KeyError.
 */
export async function importSeed(seed) {
  if (!(seed instanceof Uint8Array) || seed.length !== SEED_SIZE) throw new KeyError(`a seed is ${SEED_SIZE} bytes`);
  const pkcs8 = new Uint8Array(PKCS8_ED25519_PREFIX.length + SEED_SIZE);
  pkcs8.set(PKCS8_ED25519_PREFIX);
  pkcs8.set(seed, PKCS8_ED25519_PREFIX.length);
  try {
    // Imported once extractable only to learn the public key (the JWK's x), then again for keeps.
    const probe = await subtle().importKey("pkcs8", pkcs8, { name: "Ed25519" }, true, ["sign"]);
    const jwk = await subtle().exportKey("jwk", probe);
    const publicKey = base64UrlToBytes(jwk.x);
    const privateKey = await subtle().importKey("pkcs8", pkcs8, { name: "Ed25519" }, false, ["sign"]);
    if (publicKey.length !== PUBLIC_KEY_SIZE) throw new KeyError("the browser derived a malformed public key");
    return { privateKey, publicKey };
  } catch (error) {
    if (error instanceof KeyError) throw error;
    throw new KeyError(`this browser cannot use an Ed25519 key (${error?.name ?? "error"})`, "no_webcrypto");
  } finally {
    pkcs8.fill(0);
    seed.fill(0);
  }
}

/** The 64-byte Ed25519 signature of `message` by the imported private key. */
export async function sign(privateKey, message) {
  return new Uint8Array(await subtle().sign({ name: "Ed25519" }, privateKey, message));
}

export async function sha256(data) {
  return new Uint8Array(await subtle().digest("SHA-256", data));
}

/** Fresh random bytes from the browser's CSPRNG. */
export function randomBytes(n) {
  const out = new Uint8Array(n);
  globalThis.crypto.getRandomValues(out);
  return out;
}
