// Reading a proof from a QR code image in the browser, with the vendored jsQR (chainnode/web/vendor,
// fetched by scripts/build-web). The image is bounded in bytes and pixels before it is decoded.

export const MAX_IMAGE_BYTES = 20 * 1024 * 1024;
const MAX_SIDE = 2400;

export class QrError extends Error {}

/** The bytes of the one QR code in an image file. Throws QrError naming what is wrong. */
export async function readQrImage(file) {
  const jsQR = globalThis.jsQR;
  if (typeof jsQR !== "function") throw new QrError("the QR decoder is not loaded");
  if (file.size > MAX_IMAGE_BYTES) throw new QrError(`the image is ${file.size} bytes; at most ${MAX_IMAGE_BYTES}`);
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new QrError("the file is not an image this browser can read");
  }
  try {
    const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
    const width = Math.max(1, Math.round(bitmap.width * scale));
    const height = Math.max(1, Math.round(bitmap.height * scale));
    const canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    const context = canvas.getContext("2d", { willReadFrequently: true });
    context.imageSmoothingEnabled = false;
    context.drawImage(bitmap, 0, 0, width, height);
    const pixels = context.getImageData(0, 0, width, height);
    const found = jsQR(pixels.data, width, height, { inversionAttempts: "attemptBoth" });
    if (!found || !found.binaryData || found.binaryData.length === 0) {
      throw new QrError("no QR code was found; use a sharper picture of the whole code");
    }
    return Uint8Array.from(found.binaryData);
  } finally {
    bitmap.close();
  }
}
