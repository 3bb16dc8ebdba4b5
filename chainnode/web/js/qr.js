// Reading a proof from a QR code in the browser, with the vendored jsQR (chainnode/web/vendor, fetched by
// scripts/build-web): from an image file, bounded in bytes and pixels before it is decoded, or from the
// camera's frames (getUserMedia), in the page, until a code is read or the scan is stopped.

export const MAX_IMAGE_BYTES = 20 * 1024 * 1024;
const MAX_SIDE = 2400;
const FRAME_INTERVAL_MS = 120;

/** A QR reading failure; `code` says which for the camera: "unavailable" (no camera API here), "no_camera"
 * (none found, or it cannot be opened), "refused" (permission refused), or null. */
export class QrError extends Error {
  constructor(message, code = null) {
    super(message);
    this.code = code;
  }
}

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

function cameraError(exc) {
  const name = exc?.name ?? "";
  if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") {
    return new QrError("permission to use the camera was refused", "refused");
  }
  return new QrError(`no camera could be opened (${name || "unknown error"})`, "no_camera");
}

/**
 * Show the camera in `video` and read its frames with jsQR until one holds a QR code: resolves with the code's
 * bytes, or null when `signal` (an AbortSignal) stops the scan first. The camera is released either way.
 * Throws QrError with a `code` when there is no camera or permission is refused.
 */
export async function scanCamera(video, signal) {
  const jsQR = globalThis.jsQR;
  if (typeof jsQR !== "function") throw new QrError("the QR decoder is not loaded");
  const devices = globalThis.navigator?.mediaDevices;
  if (!devices || typeof devices.getUserMedia !== "function") {
    throw new QrError("this page has no access to a camera", "unavailable");
  }
  let stream;
  try {
    stream = await devices.getUserMedia({ video: { facingMode: { ideal: "environment" } }, audio: false });
  } catch (exc) {
    throw cameraError(exc);
  }
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  try {
    video.srcObject = stream;
    video.muted = true;
    video.playsInline = true;
    await video.play();
    while (!signal.aborted) {
      await new Promise((resolve) => { setTimeout(resolve, FRAME_INTERVAL_MS); });
      if (signal.aborted || video.readyState < 2 || video.videoWidth === 0) continue;
      const scale = Math.min(1, MAX_SIDE / Math.max(video.videoWidth, video.videoHeight));
      const width = Math.max(1, Math.round(video.videoWidth * scale));
      const height = Math.max(1, Math.round(video.videoHeight * scale));
      if (canvas.width !== width || canvas.height !== height) {
        canvas.width = width;
        canvas.height = height;
      }
      context.drawImage(video, 0, 0, width, height);
      const pixels = context.getImageData(0, 0, width, height);
      const found = jsQR(pixels.data, width, height, { inversionAttempts: "dontInvert" });
      if (found && found.binaryData && found.binaryData.length > 0) return Uint8Array.from(found.binaryData);
    }
    return null;
  } finally {
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
  }
}
