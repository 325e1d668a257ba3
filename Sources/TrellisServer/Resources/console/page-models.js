// Models: each model's versions and what they resolve to, the traffic split behind a confirm step, and the
// versions side by side on the business metrics.

import { t } from "./i18n.js";
import { el, clear, api, enc, outcome, field, table, td, errorBox, fmtInt, fmtMs, fmtCost, fmtRatio, fmtDay, daysBack } from "./lib.js";
import { RANGES } from "./page-overview.js";

export async function renderModels(root, ctx) {
  const list = await api("GET", "/admin/v1/models");
  if (!list.data.length) {
    root.append(el("p", { class: "muted", text: t("models.none") }));
    return;
  }
  for (const model of list.data) root.append(modelCard(model, ctx));
}

function describeTarget(resolved) {
  if (resolved.adapter) {
    const a = resolved.adapter;
    return a.missing ? t("models.adapter_missing", { name: a.name }) : t("models.adapter_on", { name: a.name, base: a.base_model, method: a.method });
  }
  return (resolved.targets || []).map((x) => `${x.upstream}/${x.model}${x.weight !== undefined ? ` ×${x.weight}` : ""}`).join(", ") || "–";
}

function describePrompt(prompt) {
  if (!prompt) return t("models.prompt_none");
  if (prompt.inline) return t("models.prompt_inline");
  let text = `${prompt.name} v${prompt.version ?? "?"}`;
  if (prompt.label) text += ` ${t("models.prompt_label", { label: prompt.label })}`;
  if (prompt.follows) text += ` ${t("models.prompt_latest")}`;
  if (prompt.missing) text += ` ${t("models.prompt_missing")}`;
  return text;
}

const weightsText = (traffic) => Object.entries(traffic).map(([v, w]) => `v${v}: ${w}`).join(", ");

function modelCard(model, ctx) {
  const scope = model.tenant ? { tenant: model.tenant } : {};
  const card = el("section", { class: "card model", "data-model": model.name, "aria-label": t("models.card", { name: model.name }) });
  card.append(
    el("h2", {}, model.name, " ", el("span", { class: "tag", text: model.tenant ? t("models.tenant_tag", { tenant: model.tenant }) : t("models.shared_tag") })),
    el("p", { class: "description", text: model.description ?? "" }),
  );
  card.append(
    table(
      [t("col.version"), t("col.resolves_to"), t("col.prompt"), t("col.knowledge_bases"), t("col.parameters"), { label: t("col.traffic"), num: true }],
      model.versions.map((v) =>
        el(
          "tr",
          { "data-version": v.version },
          td(String(v.version)),
          td(describeTarget(v.resolved)),
          td(describePrompt(v.resolved.prompt)),
          td((v.spec.knowledge && v.spec.knowledge.bases ? v.spec.knowledge.bases : []).join(", ") || "–"),
          td(el("pre", { text: JSON.stringify(v.resolved.params ?? {}) })),
          td(String(model.traffic[String(v.version)] ?? 0), { class: "num" }),
        ),
      ),
    ),
  );

  // The traffic split, changed behind a confirm step.
  const form = el("form", { class: "traffic", "aria-label": t("models.traffic_of", { name: model.name }) });
  const inputs = model.versions.map((v) =>
    el("input", { type: "number", min: "0", max: "1000000", step: "1", name: `v${v.version}`, value: String(model.traffic[String(v.version)] ?? 0), "data-version": v.version }),
  );
  const result = outcome();
  const confirmBox = el("div", { class: "confirm", hidden: true, role: "group", "aria-label": t("models.confirm_group") });
  form.append(
    el("h3", { text: t("models.traffic") }),
    el("div", { class: "row" }, inputs.map((input, i) => el("div", { class: "shrink" }, field(t("models.weight", { version: model.versions[i].version }), input)))),
    el("button", { type: "submit", class: "secondary", text: t("models.change_traffic") }),
    confirmBox,
    result.node,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    result.clear();
    const weights = {};
    for (const input of inputs) weights[input.dataset.version] = Number.parseInt(input.value || "0", 10);
    const before = weightsText(model.traffic) || t("common.none");
    const after = weightsText(weights);
    clear(confirmBox);
    const yes = el("button", { type: "button", class: "danger", text: t("models.confirm_change") });
    const no = el("button", { type: "button", class: "secondary", text: t("common.cancel") });
    confirmBox.append(el("p", { text: t("models.confirm_text", { name: model.name, before, after }) }), yes, " ", no);
    confirmBox.hidden = false;
    yes.focus();
    no.addEventListener("click", () => {
      confirmBox.hidden = true;
      inputs[0].focus();
    });
    confirmBox.onkeydown = (e) => {
      if (e.key === "Escape") no.click();
    };
    yes.addEventListener("click", async () => {
      yes.disabled = true;
      try {
        const updated = await api("PUT", `/admin/v1/models/${enc(model.name)}/traffic`, { body: weights, query: scope });
        confirmBox.hidden = true;
        model.traffic = updated.traffic;
        result.ok(t("models.traffic_saved", { weights: weightsText(updated.traffic) }));
        for (const row of card.querySelectorAll("tbody tr[data-version]")) {
          row.lastElementChild.textContent = String(updated.traffic[row.dataset.version] ?? 0);
        }
      } catch (e) {
        confirmBox.hidden = true;
        result.show(e);
      }
    });
  });
  // A shared model's traffic is the operator's to change (a tenant key would get 403).
  if (ctx.who.operator || model.tenant) card.append(form);
  else card.append(el("p", { class: "muted", text: t("models.shared_only_operator") }));

  // Side-by-side comparison of versions on the business metrics.
  const compare = el("div", { class: "compare", "data-compare": model.name });
  const range = el("select", {}, RANGES.map((r) => el("option", { value: String(r.days), text: t(r.label), selected: r.days === 30 ? "" : null })));
  const show = el("button", { type: "button", class: "secondary", text: t("models.compare") });
  const compareResult = el("div", {});
  show.addEventListener("click", async () => {
    clear(compareResult);
    try {
      const days = Number(range.value);
      const { from, to } = daysBack(days === 1 ? 2 : days);
      const report = await api("GET", "/admin/v1/usage", { query: { ...scope, model: model.name, group_by: "version", from, to } });
      compareResult.append(comparisonTable(model, report));
    } catch (e) {
      compareResult.append(errorBox(e));
    }
  });
  compare.append(el("h3", { text: t("models.compare") }), el("div", { class: "row" }, el("div", { class: "shrink" }, field(t("overview.period"), range)), el("div", { class: "shrink" }, show)), compareResult);
  card.append(compare);
  return card;
}

function comparisonTable(model, report) {
  const rows = new Map(report.data.map((r) => [r.version, r]));
  const versions = model.versions.map((v) => v.version);
  // [stable id (data-metric), label key, value, format]
  const metrics = [
    ["Requests", "metric.requests", (r) => r.requests, fmtInt],
    ["Users", "col.users", (r) => r.users, fmtInt],
    ["Positive feedback", "metric.positive_feedback", (r) => (r.positive + r.negative ? r.positive / (r.positive + r.negative) : null), fmtRatio],
    ["Ratings", "metric.ratings", (r) => r.positive + r.negative, fmtInt],
    ["Errors", "col.errors", (r) => r.errors, fmtInt],
    ["p50 latency", "metric.p50", (r) => r.p50_ms, fmtMs],
    ["p95 latency", "metric.p95", (r) => r.p95_ms, fmtMs],
    ["Tokens", "metric.tokens", (r) => r.prompt_tokens + r.completion_tokens, fmtInt],
    ["Cost", "metric.cost", (r) => r.cost, fmtCost],
  ];
  const body = metrics.map(([id, label, get, format]) => {
    const values = versions.map((v) => (rows.has(v) ? get(rows.get(v)) : null));
    const max = Math.max(0, ...values.filter((x) => x !== null));
    return el(
      "tr",
      { "data-metric": id },
      el("th", { scope: "row", text: t(label) }),
      values.map((value) => {
        const cell = el("td", { class: "num" }, format(value));
        if (value !== null && max > 0) {
          const bar = el("span", { class: "compare-bar", "aria-hidden": "true" });
          bar.style.width = `${Math.round((100 * value) / max)}%`;
          cell.append(bar);
        }
        return cell;
      }),
    );
  });
  return table(
    [t("col.metric"), ...versions.map((v) => ({ label: `v${v} (${model.traffic[String(v)] ?? 0})`, num: true }))],
    body,
    t("models.compare_caption", { from: fmtDay(report.from), to: fmtDay(report.to) }),
  );
}
