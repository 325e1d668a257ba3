// The overview: usage over whole UTC days, as tiles, the business view (page-overview-231.js), charts and the top
// models and tenants.

import { t } from "./i18n.js";
import { el, api, table, td, fmtInt, fmtOne, fmtMs, fmtCost, fmtPct, fmtDay, daysBack, dayList, lineChart, barChart } from "./lib.js";
import { loadOutcomes, outcomesPlace, showOutcomes } from "./page-overview-231.js";

/** The periods offered here and in the version comparison; `label` is a string key. */
export const RANGES = [
  { days: 1, label: "range.24h" },
  { days: 7, label: "range.7d" },
  { days: 30, label: "range.30d" },
];

let range = 7; // kept while the tab lives, across pages and languages

export async function renderOverview(root, ctx) {
  const who = ctx.who;
  const controls = el("div", { class: "segmented", role: "group", "aria-label": t("overview.period") });
  for (const r of RANGES) {
    controls.append(
      el("button", {
        type: "button",
        "data-range": r.days,
        "aria-pressed": String(range === r.days),
        text: t(r.label),
        onclick: () => {
          range = r.days;
          ctx.rerender();
        },
      }),
    );
  }
  const { from, to } = daysBack(range === 1 ? 2 : range);
  root.append(el("div", { class: "row" }, el("div", { class: "shrink" }, controls), el("p", { class: "muted", text: t("overview.days", { from: fmtDay(from), to: fmtDay(to) }) })));
  const q = { from, to };
  // Asked at once with the figures below, and shown when it answers, without holding up the rest of the page.
  const outcomes = loadOutcomes(from, to);
  const [total, byDay, byModelDay, byModel, byTenant] = await Promise.all([
    api("GET", "/admin/v1/usage", { query: q }),
    api("GET", "/admin/v1/usage", { query: { ...q, group_by: "day" } }),
    api("GET", "/admin/v1/usage", { query: { ...q, group_by: "model,day" } }),
    api("GET", "/admin/v1/usage", { query: { ...q, group_by: "model" } }),
    who.operator ? api("GET", "/admin/v1/usage", { query: { ...q, group_by: "tenant" } }) : Promise.resolve(null),
  ]);
  const s = total.data[0] || { requests: 0, users: 0, errors: 0, prompt_tokens: 0, completion_tokens: 0, p95_ms: null, cost: 0 };
  const tiles = [
    ["requests", t("metric.requests"), fmtInt(s.requests)],
    ["users", t("metric.active_users"), fmtInt(s.users)],
    ["tokens", t("metric.tokens"), fmtInt(s.prompt_tokens + s.completion_tokens)],
    ["cost", t("metric.cost"), fmtCost(s.cost)],
    ["error-rate", t("metric.error_rate"), fmtPct(s.errors, s.requests)],
    ["p95", t("metric.p95"), fmtMs(s.p95_ms)],
  ];
  root.append(el("dl", { class: "tiles", id: "overview-tiles" }, tiles.map(([id, label, value]) => el("div", { class: "tile" }, el("dt", { text: label }), el("dd", { "data-metric": id, text: value })))));
  const place = outcomesPlace();
  root.append(place);
  outcomes.then((result) => {
    if (!ctx.signal.aborted) showOutcomes(place, result);
  });

  const days = dayList(total.from, total.to);
  const dayRows = new Map(byDay.data.map((r) => [r.day, r]));
  const perDay = (f) => days.map((d) => (dayRows.has(d) ? f(dayRows.get(d)) : null));
  const whole = (v) => fmtInt(v);
  const charts = el("div", { class: "charts" });
  charts.append(
    lineChart(t("chart.requests"), days, [{ name: "requests", values: perDay((r) => r.requests) }]),
    lineChart(t("chart.users"), days, [{ name: "users", values: perDay((r) => r.users) }]),
    lineChart(t("chart.tokens"), days, [{ name: "tokens", values: perDay((r) => r.prompt_tokens + r.completion_tokens) }]),
    lineChart(t("chart.cost"), days, [{ name: "cost", values: perDay((r) => r.cost) }], fmtCost),
    lineChart(t("chart.error_rate"), days, [{ name: "errors", values: perDay((r) => (r.requests ? (100 * r.errors) / r.requests : null)) }], fmtOne),
    lineChart(t("chart.p95"), days, [{ name: "p95", values: perDay((r) => r.p95_ms) }], whole),
  );
  const models = [...new Set(byModelDay.data.map((r) => r.model))].slice(0, 8);
  if (models.length) {
    const cell = new Map(byModelDay.data.map((r) => [`${r.model}\u0000${r.day}`, r]));
    charts.append(lineChart(t("chart.requests_by_model"), days, models.map((m) => ({ name: m, values: days.map((d) => cell.get(`${m}\u0000${d}`)?.requests ?? null) }))));
    charts.append(lineChart(t("chart.p95_by_model"), days, models.map((m) => ({ name: m, values: days.map((d) => cell.get(`${m}\u0000${d}`)?.p95_ms ?? null) })), whole));
  }
  root.append(charts);

  const top = (rows, n) => [...rows].sort((a, b) => b.requests - a.requests).slice(0, n);
  root.append(el("h2", { text: t("overview.top_models") }));
  root.append(usageTable(top(byModel.data, 10), "model"));
  if (byModel.data.length) root.append(barChart(t("chart.requests_by_model_bars"), top(byModel.data, 10).map((r) => ({ label: r.model, value: r.requests }))));
  if (byTenant) {
    root.append(el("h2", { text: t("overview.top_tenants") }));
    root.append(usageTable(top(byTenant.data, 10), "tenant"));
  }
}

function usageTable(rows, key) {
  if (!rows.length) return el("p", { class: "muted", text: t("overview.no_requests") });
  return table(
    [
      key === "model" ? t("col.model") : t("col.tenant"),
      { label: t("col.requests"), num: true },
      { label: t("col.users"), num: true },
      { label: t("col.tokens"), num: true },
      { label: t("col.errors"), num: true },
      { label: t("col.p95"), num: true },
      { label: t("col.cost"), num: true },
      { label: t("col.positive"), num: true },
    ],
    rows.map((r) =>
      el(
        "tr",
        { "data-row": r[key] },
        td(r[key]),
        td(fmtInt(r.requests), { class: "num" }),
        td(fmtInt(r.users), { class: "num" }),
        td(fmtInt(r.prompt_tokens + r.completion_tokens), { class: "num" }),
        td(fmtInt(r.errors), { class: "num" }),
        td(fmtMs(r.p95_ms), { class: "num" }),
        td(fmtCost(r.cost), { class: "num" }),
        td(fmtPct(r.positive, r.positive + r.negative), { class: "num" }),
      ),
    ),
  );
}
