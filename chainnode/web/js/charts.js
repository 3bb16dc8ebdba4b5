// Small SVG bar charts for the console, written here rather than vendored: two chart kinds (columns over
// periods, bars per category) need no library. Built with DOM calls only (no markup strings, no inline
// style: colours come from console.css classes), scaled by the SVG viewBox so they fit a phone's width.
// Every chart has a text title and description, and each bar its value as text, so nothing is by colour alone.

const SVG = "http://www.w3.org/2000/svg";
const MAX_BARS = 64;

function node(tag, attrs = {}, text = null) {
  const n = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
  if (text !== null) n.textContent = text;
  return n;
}

function frame(width, height, title, description) {
  const svg = node("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img",
    preserveAspectRatio: "xMidYMid meet" });
  const id = `chart-${Math.random().toString(36).slice(2, 10)}`;
  svg.setAttribute("aria-labelledby", `${id}-t ${id}-d`);
  svg.append(node("title", { id: `${id}-t` }, title), node("desc", { id: `${id}-d` }, description));
  return svg;
}

const finite = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);

/**
 * Columns over periods, drawn `width` CSS pixels wide: `items` [{label, value (number or null for "no data"), note}], values from 0 to
 * `max` (e.g. 100 for a rate). A null value is drawn as an empty slot marked "–".
 */
export function columnChart({ items, max, title, description, unit = "", width = 640 }) {
  const data = items.slice(0, MAX_BARS);
  const height = 220;
  const left = 36;
  const bottom = 40;
  const top = 16;
  const plot = height - bottom - top;
  const slot = (width - left - 8) / Math.max(data.length, 1);
  const top$ = max > 0 ? max : Math.max(1, ...data.map((d) => finite(d.value) ?? 0));
  const svg = frame(width, height, title, description);
  for (const f of [0, 0.5, 1]) {
    const y = top + plot * (1 - f);
    svg.append(node("line", { x1: left, x2: width - 4, y1: y, y2: y, class: "chart-grid" }),
      node("text", { x: left - 4, y: y + 4, class: "chart-axis", "text-anchor": "end" }, `${Math.round(top$ * f)}${unit}`));
  }
  const every = Math.ceil(data.length / Math.max(2, Math.floor(width / 56)));
  data.forEach((d, i) => {
    const x = left + i * slot;
    const v = finite(d.value);
    const w = Math.max(2, slot * 0.7);
    if (v === null) {
      svg.append(node("text", { x: x + slot / 2, y: top + plot - 4, class: "chart-axis", "text-anchor": "middle" }, "–"));
    } else {
      const h = plot * Math.min(Math.max(v, 0), top$) / top$;
      const bar = node("rect", { x: x + (slot - w) / 2, y: top + plot - h, width: w, height: Math.max(h, 1),
        class: "chart-bar" });
      bar.append(node("title", {}, `${d.label}: ${v}${unit}${d.note ? ` (${d.note})` : ""}`));
      svg.append(bar);
      if (slot >= 40) {
        svg.append(node("text", { x: x + slot / 2, y: top + plot - h - 4, class: "chart-value", "text-anchor": "middle" },
          `${v}${unit}`));
      }
    }
    if (i % every === 0) {
      svg.append(node("text", { x: x + slot / 2, y: height - bottom + 16, class: "chart-axis", "text-anchor": "middle" },
        String(d.label).slice(0, 10)));
    }
  });
  return svg;
}

/**
 * Horizontal bars per category: `items` [{label, value, text}] (value a number >= 0, text what is printed).
 * `width` is the width it is drawn at, in CSS pixels, so that its text is the page's size.
 */
export function barChart({ items, title, description, width = 640 }) {
  const data = items.slice(0, MAX_BARS);
  const rowHeight = 30;
  const label = Math.round(Math.min(150, width * 0.3));
  const room = Math.round(Math.min(230, width * 0.4));
  const height = Math.max(1, data.length) * rowHeight + 8;
  const max = Math.max(1, ...data.map((d) => finite(d.value) ?? 0));
  const svg = frame(width, height, title, description);
  data.forEach((d, i) => {
    const y = 4 + i * rowHeight;
    const v = Math.max(finite(d.value) ?? 0, 0);
    const w = (width - label - room) * v / max;
    svg.append(node("text", { x: label - 8, y: y + 19, class: "chart-label", "text-anchor": "end" },
      String(d.label).slice(0, 24)));
    const bar = node("rect", { x: label, y: y + 4, width: Math.max(w, 1), height: rowHeight - 10, class: "chart-bar" });
    bar.append(node("title", {}, `${d.label}: ${d.text}`));
    svg.append(bar, node("text", { x: label + Math.max(w, 1) + 6, y: y + 19, class: "chart-value" }, String(d.text)));
  });
  return svg;
}
