// Shared helpers for the console: DOM building (text only, never HTML), the API client, the small pieces every
// page uses (fields, tables, error boxes) and SVG charts. Formatting is in i18n.js, for the chosen language.

import { t, fmtInt, fmtShortDay, fmtTime } from "./i18n.js";

export { fmtInt, fmtNum, fmtSigned, fmtOne, fmtMs, fmtCost, fmtPct, fmtRatio, fmtLevel, fmtDay, fmtTime } from "./i18n.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const KEY_STORAGE = "trellis.console.key";
const INFERENCE_KEY_STORAGE = "trellis.console.inference-key";

/** Builds an element. `props`: attributes (strings), `on*` listeners, `text` for its text content. Children may be
 * nodes or strings (added as text nodes). Nothing here ever parses HTML. */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  applyProps(node, props);
  append(node, children);
  return node;
}

export function svg(tag, props = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  applyProps(node, props);
  append(node, children);
  return node;
}

function applyProps(node, props) {
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = String(value);
    else if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else if (name === "value") node.value = value;
    else if (name === "checked") node.checked = Boolean(value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

// --------------------------------------------------------------------------- keys

export const session = {
  get key() { return sessionStorage.getItem(KEY_STORAGE); },
  set key(value) {
    if (value) sessionStorage.setItem(KEY_STORAGE, value);
    else sessionStorage.removeItem(KEY_STORAGE);
  },
  get inferenceKey() { return sessionStorage.getItem(INFERENCE_KEY_STORAGE); },
  set inferenceKey(value) {
    if (value) sessionStorage.setItem(INFERENCE_KEY_STORAGE, value);
    else sessionStorage.removeItem(INFERENCE_KEY_STORAGE);
  },
  clear() {
    sessionStorage.removeItem(KEY_STORAGE);
    sessionStorage.removeItem(INFERENCE_KEY_STORAGE);
  },
};

// --------------------------------------------------------------------------- API

/** An error answer from the gateway, with the OpenAI-shaped body's message and code. */
export class ApiError extends Error {
  constructor(status, message, code, requestId) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
  get plain() {
    const parts = [`${this.status || t("error.network")}: ${this.message}`];
    if (this.code) parts.push(`(${this.code})`);
    return parts.join(" ");
  }
}

export async function errorFrom(response) {
  let message = response.statusText || t("error.failed");
  let code = null;
  try {
    const body = await response.json();
    if (body && body.error) {
      message = String(body.error.message ?? message);
      code = body.error.code ?? null;
    }
  } catch (_) {
    // Not JSON: keep the status text.
  }
  return new ApiError(response.status, message, code, response.headers.get("x-request-id"));
}

/** Calls the gateway with the signed-in key (or `key`). `query` values that are empty are left out. */
export async function api(method, path, { body, query, key } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Accept: "application/json" };
  const token = key ?? session.key;
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch (e) {
    throw new ApiError(0, t("error.unreachable", { reason: e.message }), null, null);
  }
  if (!response.ok) throw await errorFrom(response);
  if (response.status === 204) return null;
  return response.json();
}

export const enc = encodeURIComponent;

// --------------------------------------------------------------------------- page pieces

/** An error as the console shows every refusal: `status: message (code)`. */
export function errorText(error) {
  return error instanceof ApiError ? error.plain : String(error && error.message ? error.message : error);
}

export function errorBox(error) {
  return el("p", { class: "error", role: "alert", text: errorText(error) });
}

/** A region for a form's outcome: `show(error)` or `ok(text)`. */
export function outcome() {
  const node = el("p", { role: "status", "aria-live": "polite" });
  return {
    node,
    show(error) {
      node.className = "error";
      node.textContent = errorText(error);
    },
    ok(text) {
      node.className = "notice";
      node.textContent = text;
    },
    clear() {
      node.className = "";
      node.textContent = "";
    },
  };
}

export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return el("div", {}, el("label", { for: id, text: label }), input, hint ? el("small", { class: "muted", text: hint }) : null);
}

export function table(headers, rows, caption) {
  return el(
    "div",
    { class: "table-wrap" },
    el(
      "table",
      {},
      caption ? el("caption", { class: "muted", text: caption }) : null,
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col", class: h.num ? "num" : null, text: h.label ?? h })))),
      el("tbody", {}, rows),
    ),
  );
}

export function td(value, props = {}) {
  return el("td", props, value);
}

/** An instant from the API as a `<time>`: the language's date and time in UTC, the raw value kept in `datetime`. */
export function when(value) {
  if (value === null || value === undefined || value === "") return "–";
  return el("time", { datetime: typeof value === "string" ? value : null, text: fmtTime(value) });
}

// --------------------------------------------------------------------------- days

export function utcDay(date) {
  return date.toISOString().slice(0, 10);
}

export function daysBack(count) {
  const to = new Date();
  const from = new Date(to.getTime() - (count - 1) * 86_400_000);
  return { from: utcDay(from), to: utcDay(to) };
}

export function dayList(from, to) {
  const out = [];
  for (let time = Date.parse(`${from}T00:00:00Z`); time <= Date.parse(`${to}T00:00:00Z`); time += 86_400_000) {
    out.push(utcDay(new Date(time)));
  }
  return out;
}

// --------------------------------------------------------------------------- charts

const PALETTE = ["#1f6feb", "#d2691e", "#2e8b57", "#8a2be2", "#c0392b", "#008b8b", "#b8860b", "#555"];

export function colour(index) {
  return PALETTE[index % PALETTE.length];
}

/** A line chart over days: `series` is [{name, values}] with one value (or null) per day. */
export function lineChart(title, days, series, format = fmtInt) {
  const width = 560;
  const height = 200;
  const pad = { left: 56, right: 24, top: 12, bottom: 28 };
  const values = series.flatMap((s) => s.values.filter((v) => v !== null && v !== undefined));
  const max = Math.max(1e-9, ...values);
  const x = (i) => pad.left + (days.length <= 1 ? (width - pad.left - pad.right) / 2 : (i * (width - pad.left - pad.right)) / (days.length - 1));
  const y = (v) => height - pad.bottom - (v / max) * (height - pad.top - pad.bottom);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title, class: "chart" });
  chart.append(svg("title", { text: title }));
  for (const fraction of [0, 0.5, 1]) {
    const yy = y(max * fraction);
    chart.append(svg("line", { x1: pad.left, x2: width - pad.right, y1: yy, y2: yy, class: "grid" }));
    chart.append(svg("text", { x: pad.left - 6, y: yy + 4, "text-anchor": "end", class: "axis", text: format(max * fraction) }));
  }
  const labelEvery = Math.max(1, Math.ceil(days.length / 6));
  days.forEach((day, i) => {
    if (i % labelEvery === 0 || i === days.length - 1) {
      chart.append(svg("text", { x: x(i), y: height - 8, "text-anchor": "middle", class: "axis", text: fmtShortDay(day) }));
    }
  });
  series.forEach((s, index) => {
    const points = s.values.map((v, i) => (v === null || v === undefined ? null : [x(i), y(v)])).filter(Boolean);
    if (points.length > 1) {
      chart.append(svg("polyline", { points: points.map((p) => p.join(",")).join(" "), fill: "none", stroke: colour(index), "stroke-width": 2 }));
    }
    for (const [px, py] of points) chart.append(svg("circle", { cx: px, cy: py, r: 3, fill: colour(index) }));
  });
  const figure = el("figure", { class: "chart-box" }, el("figcaption", { text: title }), chart);
  if (series.length > 1) {
    figure.append(
      el("ul", { class: "legend" }, series.map((s, i) => el("li", {}, el("span", { class: `swatch swatch-${i % PALETTE.length}` }), s.name))),
    );
  }
  return figure;
}

/** Horizontal bars: rows of {label, value}. */
export function barChart(title, rows, format = fmtInt) {
  const width = 560;
  const rowHeight = 26;
  const labelWidth = 170;
  const height = Math.max(rowHeight, rows.length * rowHeight) + 8;
  const max = Math.max(1e-9, ...rows.map((r) => r.value || 0));
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title, class: "chart" });
  chart.append(svg("title", { text: title }));
  rows.forEach((row, i) => {
    const top = 4 + i * rowHeight;
    const barWidth = ((row.value || 0) / max) * (width - labelWidth - 90);
    chart.append(svg("text", { x: labelWidth - 8, y: top + 16, "text-anchor": "end", class: "axis", text: row.label }));
    chart.append(svg("rect", { x: labelWidth, y: top + 4, width: Math.max(1, barWidth), height: rowHeight - 10, fill: colour(i) }));
    chart.append(svg("text", { x: labelWidth + barWidth + 6, y: top + 16, class: "axis", text: format(row.value) }));
  });
  return el("figure", { class: "chart-box" }, el("figcaption", { text: title }), chart);
}
