// The overview's business view, in four sections after the "2-3-1" framing: usage (requests and active end users
// per day by model), efficiency (router requests answered by smaller models, and the cost saved), quality (end
// users' feedback and corrections by model version) and evaluation (the latest score of each model version).
// One call, GET /admin/v1/usage/overview; a gateway without it (404) shows none of this.

import { t, fmtShortDay } from "./i18n.js";
import { el, svg, api, ApiError, errorBox, table, td, when, dayList, fmtInt, fmtNum, fmtCost, fmtPct, fmtRatio } from "./lib.js";

/** Reads the view for the period; never rejects: the answer is `{body}` or `{error}`. */
export function loadOutcomes(from, to) {
  return api("GET", "/admin/v1/usage/overview", { query: { from, to } }).then(
    (body) => ({ body }),
    (error) => ({ error }),
  );
}

/** An empty place on the page for the view, filled by `showOutcomes` once the answer is in. */
export function outcomesPlace() {
  return el("div", { id: "overview-231", class: "outcomes", "aria-busy": "true", "data-state": "loading" });
}

/** Fills `place` with the four sections; an answer of 404 (a gateway without the view) hides it quietly, any
 * other refusal is shown as the console shows refusals. */
export function showOutcomes(place, result) {
  place.removeAttribute("aria-busy");
  if (result.error) {
    if (result.error instanceof ApiError && result.error.status === 404) {
      place.hidden = true;
      place.dataset.state = "unavailable";
      return;
    }
    place.dataset.state = "error";
    place.append(errorBox(result.error));
    return;
  }
  const body = result.body && typeof result.body === "object" ? result.body : {};
  place.append(usageSection(body), efficiencySection(body.efficiency), qualitySection(body.quality), evaluationSection(body.evaluation));
  place.dataset.state = "ready";
}

function section(name, title, lead, ...content) {
  return el(
    "section",
    { class: "outcome", "data-section": name, "aria-labelledby": `outcome-${name}` },
    el("h2", { id: `outcome-${name}`, text: title }),
    el("p", { class: "muted lead", text: lead }),
    ...content,
  );
}

function noData() {
  return el("p", { class: "muted no-data", text: t("outcome.no_data") });
}

const list = (value) => (Array.isArray(value) ? value : []);
const number = (value) => (typeof value === "number" && Number.isFinite(value) ? value : 0);
const versionLabel = (row) => (row.version === undefined || row.version === null ? String(row.model) : `${row.model}@${row.version}`);

/** The ratio the API gives, else `part / whole` (null when there is no whole). */
function ratio(given, part, whole) {
  if (typeof given === "number" && Number.isFinite(given)) return given;
  return whole ? number(part) / whole : null;
}

// --------------------------------------------------------------------------- usage

function usageSection(body) {
  const rows = list(body.usage).filter((r) => r && r.model !== undefined && r.day);
  const title = t("outcome.usage");
  const lead = t("outcome.usage_lead");
  if (!rows.length) return section("usage", title, lead, noData());
  let days = body.from && body.to ? dayList(body.from, body.to) : [];
  if (!days.length || days.length > 400) days = [...new Set(rows.map((r) => r.day))].sort();
  // model → day → {requests, users}, summed should the answer give a model's day more than once.
  const models = new Map();
  for (const r of rows) {
    if (!models.has(r.model)) models.set(r.model, new Map());
    const byDay = models.get(r.model);
    const seen = byDay.get(r.day) ?? { requests: 0, users: 0 };
    byDay.set(r.day, { requests: seen.requests + number(r.requests), users: seen.users + number(r.users) });
  }
  const total = (byDay) => [...byDay.values()].reduce((sum, r) => sum + r.requests, 0);
  const order = [...models.entries()].sort((a, b) => total(b[1]) - total(a[1]) || String(a[0]).localeCompare(String(b[0])));
  const perDay = (byDay, field) => days.map((d) => number(byDay.get(d)?.[field]));
  const lines = order.map(([model, byDay]) => {
    const requests = perDay(byDay, "requests");
    const users = perDay(byDay, "users");
    return el(
      "tr",
      { "data-model": model },
      td(String(model)),
      td(fmtInt(total(byDay)), { class: "num", "data-field": "requests" }),
      td(sparkline(t("outcome.spark_requests", { model, ...range(requests) }), requests), { class: "spark-cell" }),
      td(fmtInt(Math.max(0, ...users)), { class: "num", "data-field": "peak_users" }),
      td(sparkline(t("outcome.spark_users", { model, ...range(users) }), users), { class: "spark-cell" }),
    );
  });
  const caption = days.length ? t("outcome.days", { from: fmtShortDay(days[0]), to: fmtShortDay(days[days.length - 1]) }) : null;
  return section(
    "usage",
    title,
    lead,
    table(
      [
        t("outcome.col_model"),
        { label: t("outcome.col_requests"), num: true },
        t("outcome.col_requests_per_day"),
        { label: t("outcome.col_peak_users"), num: true },
        t("outcome.col_users_per_day"),
      ],
      lines,
      caption,
    ),
  );
}

function range(values) {
  return { min: fmtInt(Math.min(...values)), max: fmtInt(Math.max(...values)) };
}

/** A small line over the days, drawn as SVG (createElementNS through `svg`); the values are in its label. */
function sparkline(label, values) {
  const width = 160;
  const height = 28;
  const pad = 3;
  const max = Math.max(1, ...values);
  const x = (i) => (values.length <= 1 ? width / 2 : pad + (i * (width - 2 * pad)) / (values.length - 1));
  const y = (v) => height - pad - (v / max) * (height - 2 * pad);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "spark", role: "img", "aria-label": label, "data-values": values.join(",") });
  chart.append(svg("title", { text: label }));
  const points = values.map((v, i) => [x(i).toFixed(1), y(v).toFixed(1)]);
  if (points.length > 1) chart.append(svg("polyline", { points: points.map((p) => p.join(",")).join(" "), fill: "none" }));
  const [lx, ly] = points[points.length - 1] ?? [width / 2, height - pad];
  chart.append(svg("circle", { cx: lx, cy: ly, r: 2 }));
  return chart;
}

// --------------------------------------------------------------------------- efficiency

function figure(name, label, value, note) {
  return el(
    "div",
    { class: "tile" },
    el("dt", { text: label }),
    el("dd", { "data-figure": name, text: value }),
    note ? el("dd", { class: "muted note", text: note }) : null,
  );
}

function efficiencySection(e) {
  const title = t("outcome.efficiency");
  const lead = t("outcome.efficiency_lead");
  const routers = list(e && e.routers);
  if (!e || typeof e !== "object" || (!routers.length && !number(e.router_requests))) return section("efficiency", title, lead, noData());
  const share = ratio(e.small_model_share, e.small_model_requests, number(e.router_requests));
  const figures = el(
    "dl",
    { class: "tiles", id: "overview-efficiency" },
    figure("small-model-share", t("outcome.small_share"), fmtRatio(share), t("outcome.small_share_of", { small: fmtInt(number(e.small_model_requests)), total: fmtInt(number(e.router_requests)) })),
    figure("cost-saved", t("outcome.cost_saved"), fmtCost(e.cost_saved)),
    figure("cost", t("outcome.cost"), fmtCost(e.cost)),
  );
  if (!routers.length) return section("efficiency", title, lead, figures);
  const rows = routers.map((r) =>
    el(
      "tr",
      { "data-model": r.model },
      td(String(r.model)),
      td(r.default === undefined || r.default === null ? "–" : String(r.default)),
      td(fmtInt(r.requests), { class: "num", "data-field": "requests" }),
      td(fmtInt(r.small_model_requests), { class: "num", "data-field": "small_model_requests" }),
      td(fmtPct(number(r.small_model_requests), number(r.requests)), { class: "num", "data-field": "share" }),
      td(fmtCost(r.cost), { class: "num", "data-field": "cost" }),
      td(fmtCost(r.cost_saved), { class: "num", "data-field": "cost_saved" }),
    ),
  );
  return section(
    "efficiency",
    title,
    lead,
    figures,
    table(
      [
        t("outcome.col_router"),
        t("outcome.col_default"),
        { label: t("outcome.col_requests"), num: true },
        { label: t("outcome.col_small"), num: true },
        { label: t("outcome.col_share"), num: true },
        { label: t("outcome.cost"), num: true },
        { label: t("outcome.cost_saved"), num: true },
      ],
      rows,
    ),
  );
}

// --------------------------------------------------------------------------- quality

function qualitySection(rows_) {
  const title = t("outcome.quality");
  const lead = t("outcome.quality_lead");
  const rows = list(rows_).filter((r) => r && r.model !== undefined);
  if (!rows.length) return section("quality", title, lead, noData());
  return section(
    "quality",
    title,
    lead,
    table(
      [
        t("outcome.col_version"),
        { label: t("outcome.col_requests"), num: true },
        { label: t("outcome.col_rated"), num: true },
        { label: t("outcome.col_feedback_rate"), num: true },
        { label: t("outcome.col_positive"), num: true },
        { label: t("outcome.col_negative"), num: true },
        { label: t("outcome.col_corrections"), num: true },
        { label: t("outcome.col_correction_rate"), num: true },
      ],
      rows.map((r) =>
        el(
          "tr",
          { "data-model-version": versionLabel(r) },
          td(versionLabel(r)),
          td(fmtInt(r.requests), { class: "num", "data-field": "requests" }),
          td(fmtInt(r.rated), { class: "num", "data-field": "rated" }),
          td(fmtRatio(ratio(r.feedback_rate, r.rated, number(r.requests))), { class: "num", "data-field": "feedback_rate" }),
          td(fmtInt(r.positive), { class: "num", "data-field": "positive" }),
          td(fmtInt(r.negative), { class: "num", "data-field": "negative" }),
          td(fmtInt(r.corrections), { class: "num", "data-field": "corrections" }),
          td(fmtRatio(ratio(r.correction_rate, r.corrections, number(r.requests))), { class: "num", "data-field": "correction_rate" }),
        ),
      ),
    ),
  );
}

// --------------------------------------------------------------------------- evaluation

function evaluationSection(rows_) {
  const title = t("outcome.evaluation");
  const lead = t("outcome.evaluation_lead");
  const rows = list(rows_).filter((r) => r && r.model !== undefined);
  if (!rows.length) return section("evaluation", title, lead, noData());
  const setOf = (r) => (r.set === undefined || r.set === null ? "–" : r.set_version === undefined || r.set_version === null ? String(r.set) : t("outcome.set_version", { set: r.set, version: r.set_version }));
  return section(
    "evaluation",
    title,
    lead,
    table(
      [
        t("outcome.col_version"),
        { label: t("outcome.col_score"), num: true },
        { label: t("outcome.col_passed"), num: true },
        t("outcome.col_set"),
        t("outcome.col_finished"),
        t("outcome.col_run"),
      ],
      rows.map((r) =>
        el(
          "tr",
          { "data-model-version": versionLabel(r) },
          td(versionLabel(r)),
          td(fmtNum(r.score), { class: "num", "data-field": "score" }),
          td(t("outcome.passed_of", { passed: fmtInt(r.passed), total: fmtInt(r.total) }), { class: "num", "data-field": "passed" }),
          td(setOf(r), { "data-field": "set" }),
          td(when(r.finished_at), { "data-field": "finished_at" }),
          td(r.run ? el("code", { text: String(r.run) }) : "–", { "data-field": "run" }),
        ),
      ),
    ),
  );
}
