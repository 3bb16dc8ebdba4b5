// Run in Chromium on the documents page by tests/browser/test_documents.py: the page's envelope module encrypts
// and seals (the test opens the result with chainnode.envelope), and opens what Python encrypted and sealed, with
// altered copies and a truncation refused. Arguments and results are base64 and hex strings.
(async ([plainB64, secretHex, pythonCipherB64, pythonSealedHex]) => {
  const m = await import(new URL("js/documents-crypto.js", location.href).href);
  const { toHex, fromHex } = await import(new URL("js/msgpack.js", location.href).href);
  const b64 = (bytes) => {
    let s = "";
    for (let i = 0; i < bytes.length; i += 32768) s += String.fromCharCode(...bytes.subarray(i, i + 32768));
    return btoa(s);
  };
  const unb64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const sodium = await m.sodiumLib();
  const secret = fromHex(secretHex);
  const publicKey = sodium.crypto_scalarmult_base(secret);
  const key = { publicKey, secret, fingerprint: await m.computeFingerprint(publicKey) };
  // the page encrypts and seals; Python opens
  const contentKey = await m.newContentKey();
  const sent = await m.encryptDocument(unb64(plainB64), contentKey);
  const [sealed] = await m.sealContentKey(contentKey, { SAMR: publicKey });
  // Python's envelope opens in the page; one altered byte is refused
  const pythonKey = await m.openContentKey({ fingerprint: key.fingerprint, sealed: fromHex(pythonSealedHex) }, key);
  const cipher = unb64(pythonCipherB64);
  const opened = await m.decryptDocument(cipher, pythonKey);
  // each refusal's code, or "accepted"
  const verdict = async (bytes, contentKey) => {
    try {
      await m.decryptDocument(bytes, contentKey);
      return "accepted";
    } catch (e) {
      return e.code;
    }
  };
  const refusals = [];
  for (const at of [0, 7, 29, 31, 40, cipher.length - 1]) {
    const altered = cipher.slice();
    altered[at] ^= 0x01;
    refusals.push(await verdict(altered, pythonKey));
  }
  refusals.push(await verdict(cipher.subarray(0, cipher.length - 1), pythonKey));
  // a key whose fingerprint is not the sealed key's is named as such, before any box is opened
  let wrongKey = "accepted";
  try {
    const sealedKey = { fingerprint: key.fingerprint, sealed: fromHex(pythonSealedHex) };
    await m.openContentKey(sealedKey, { ...key, fingerprint: new Uint8Array(32) });
  } catch (e) {
    wrongKey = e.code;
  }
  return {
    cipher: b64(sent.ciphertext), size: sent.ciphertextSize,
    plainSha: toHex(sent.plaintextSha256), cipherSha: toHex(sent.ciphertextSha256),
    fingerprint: toHex(sealed.fingerprint), sealed: toHex(sealed.sealed),
    opened: b64(opened.plaintext), openedSha: toHex(opened.plaintextSha256),
    refusals, wrongKey,
  };
})
