// The console's languages: Simplified Chinese and English. The strings live in strings-en.js and strings-zh.js
// (the same keys in both); numbers and dates are formatted for the language with Intl.

import en from "./strings-en.js";
import zh from "./strings-zh.js";

const DICTIONARIES = { en, "zh-CN": zh };
export const LANGUAGES = [
  { code: "zh-CN", label: "中文" },
  { code: "en", label: "English" },
];
// Only the language is remembered across tabs; the key never leaves sessionStorage.
const LANG_STORAGE = "trellis.console.lang";

let current = "en";
let formats = null;

/** The language the browser prefers, among the two: the first zh* or en* in `navigator.languages`. */
export function browserLanguage() {
  const preferred = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || "en"];
  for (const tag of preferred) {
    const lower = String(tag).toLowerCase();
    if (lower === "zh" || lower.startsWith("zh-")) return "zh-CN";
    if (lower === "en" || lower.startsWith("en-")) return "en";
  }
  return "en";
}

function remembered() {
  try {
    const value = window.localStorage.getItem(LANG_STORAGE);
    return DICTIONARIES[value] ? value : null;
  } catch (_) {
    return null; // storage refused (private mode, policy): follow the browser
  }
}

/** Picks the language at start: the remembered choice, else the browser's. */
export function initLanguage() {
  use(remembered() ?? browserLanguage());
  return current;
}

/** The user's choice: remembered, and applied by the caller (which renders the page again). */
export function chooseLanguage(code) {
  if (!DICTIONARIES[code]) return current;
  try {
    window.localStorage.setItem(LANG_STORAGE, code);
  } catch (_) {
    // Not remembered, still applied.
  }
  use(code);
  return current;
}

function use(code) {
  current = code;
  formats = null;
  document.documentElement.lang = code;
}

export function language() {
  return current;
}

/** The string `key` in the current language, `{name}` replaced by `params.name`. */
export function t(key, params = {}) {
  const template = DICTIONARIES[current][key] ?? en[key] ?? key;
  return template.replace(/\{([a-zA-Z0-9_]+)\}/g, (whole, name) => (params[name] === undefined || params[name] === null ? whole : String(params[name])));
}

/** Like `t`, as a list of strings and nodes: a parameter that is a DOM node is put in as that node. */
export function tNodes(key, params = {}) {
  const template = DICTIONARIES[current][key] ?? en[key] ?? key;
  const out = [];
  let last = 0;
  for (const match of template.matchAll(/\{([a-zA-Z0-9_]+)\}/g)) {
    out.push(template.slice(last, match.index));
    const value = params[match[1]];
    out.push(value === undefined || value === null ? match[0] : value instanceof Node ? value : String(value));
    last = match.index + match[0].length;
  }
  out.push(template.slice(last));
  return out.filter((part) => part !== "");
}

/** Translates the page's static text: `data-i18n` (text content; words listed in `data-i18n-code` are put in as
 * `<code>`), `data-i18n-aria-label`, `data-i18n-title` (the document title). */
export function translateStatic(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) {
    const codes = {};
    for (const word of (node.dataset.i18nCode || "").split(/\s+/).filter(Boolean)) {
      const code = document.createElement("code");
      code.textContent = word;
      codes[word] = code;
    }
    node.replaceChildren(...tNodes(node.dataset.i18n, codes));
  }
  for (const node of root.querySelectorAll("[data-i18n-aria-label]")) node.setAttribute("aria-label", t(node.dataset.i18nAriaLabel));
}

// --------------------------------------------------------------------------- formatting

function fmt() {
  if (formats) return formats;
  const locale = current;
  formats = {
    integer: new Intl.NumberFormat(locale, { maximumFractionDigits: 0 }),
    one: new Intl.NumberFormat(locale, { minimumFractionDigits: 1, maximumFractionDigits: 1 }),
    three: new Intl.NumberFormat(locale, { maximumFractionDigits: 3 }),
    cost: new Intl.NumberFormat(locale, { minimumFractionDigits: 4, maximumFractionDigits: 4 }),
    percent: new Intl.NumberFormat(locale, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 }),
    level: new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 1 }),
    signed: new Intl.NumberFormat(locale, { maximumFractionDigits: 3, signDisplay: "exceptZero" }),
    day: new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeZone: "UTC" }),
    shortDay: new Intl.DateTimeFormat(locale, { month: "numeric", day: "numeric", timeZone: "UTC" }),
    time: new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "long", timeZone: "UTC" }),
  };
  return formats;
}

const missing = (value) => value === null || value === undefined || Number.isNaN(Number(value));

export function fmtInt(value) {
  return missing(value) ? "–" : fmt().integer.format(value);
}

/** Up to three decimals: scores, thresholds. */
export function fmtNum(value) {
  return missing(value) ? "–" : fmt().three.format(value);
}

export function fmtSigned(value) {
  return missing(value) ? "–" : fmt().signed.format(value);
}

export function fmtOne(value) {
  return missing(value) ? "–" : fmt().one.format(value);
}

export function fmtMs(value) {
  return missing(value) ? "–" : `${fmt().one.format(value)} ms`;
}

/** Cost in the upstreams' price unit (the gateway names no currency): four decimals, grouped. */
export function fmtCost(value) {
  return missing(value) ? "–" : fmt().cost.format(value);
}

export function fmtPct(numerator, denominator) {
  if (!denominator) return "–";
  return fmt().percent.format(numerator / denominator);
}

/** A confidence level (0.95 → "95%"). */
export function fmtLevel(value) {
  return missing(value) ? "–" : fmt().level.format(value);
}

export function fmtRatio(value) {
  return missing(value) ? "–" : fmt().percent.format(value);
}

/** A UTC day ("2025-06-05"), as a date of the language. */
export function fmtDay(day) {
  const time = Date.parse(`${day}T00:00:00Z`);
  return Number.isNaN(time) ? String(day ?? "–") : fmt().day.format(time);
}

export function fmtShortDay(day) {
  const time = Date.parse(`${day}T00:00:00Z`);
  return Number.isNaN(time) ? String(day) : fmt().shortDay.format(time);
}

/** An instant from the API (ISO 8601), in UTC, as the language writes it; unreadable text is shown as it is. */
export function fmtTime(value) {
  if (value === null || value === undefined || value === "") return "–";
  const time = typeof value === "number" ? value * 1000 : Date.parse(value);
  return Number.isNaN(time) ? String(value) : fmt().time.format(time);
}
