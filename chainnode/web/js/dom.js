// Building the page's elements from data, always as text: nothing the network or a file says is ever
// parsed as HTML.

/** `el("td", {class: "mono", title: hash}, "text", child, ...)`: attributes as strings, children as text or nodes. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined && value !== false) node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

/** "2026-12-06 08:30:00 UTC" from block time in ms. */
export function formatTime(ms) {
  const n = Number(ms);
  if (!Number.isFinite(n)) return String(ms);
  return new Date(n).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

/** "12-06 08:30:00" (UTC) for tables; the full time goes in the cell's title. */
export function formatShortTime(ms) {
  return formatTime(ms).slice(5, 19);
}

export function shortHex(hex, n = 12) {
  return typeof hex === "string" && hex.length > n ? `${hex.slice(0, n)}…` : String(hex);
}

/** Read a user's file as bytes, refusing one above `maxBytes` before reading it. */
export async function readFileBytes(file, maxBytes) {
  if (file.size > maxBytes) throw new RangeError(`the file is ${file.size} bytes; at most ${maxBytes}`);
  return new Uint8Array(await file.arrayBuffer());
}
