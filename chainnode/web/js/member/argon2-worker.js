// Argon2id off the page's thread: the page posts {id, password, salt, iterations, memorySize} (keyfile.js
// deriveKey) and gets {id, hash} or {id, error} back, so the page stays responsive (and can say it is working)
// for the second or so a key file's cost takes. A classic worker, because hash-wasm is a UMD script it loads
// with importScripts; it is served with the one policy that lets it compile WebAssembly (chainnode/console.py).

/* global importScripts, hashwasm */
importScripts("../../vendor/hash-wasm-argon2.js");

self.addEventListener("message", async (event) => {
  const { id, password, salt, iterations, memorySize } = event.data ?? {};
  try {
    const hash = await hashwasm.argon2id({
      password, salt, parallelism: 1, iterations, memorySize, hashLength: 32, outputType: "binary",
    });
    password.fill(0);
    self.postMessage({ id, hash }, [hash.buffer]);
  } catch (error) {
    self.postMessage({ id, error: String(error?.message ?? error).slice(0, 300) });
  }
});
