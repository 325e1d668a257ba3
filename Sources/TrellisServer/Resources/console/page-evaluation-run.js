// One evaluation run: its status and progress (refreshed every 2 s while it runs, until the page is left), the
// results per model version, the paired comparison of two versions, the items with their scores, and cancel.

import { t } from "./i18n.js";
import { el, clear, api, enc, outcome, table, td, when, errorBox, fmtInt, fmtNum, fmtSigned, fmtMs, fmtCost, fmtPct, fmtLevel } from "./lib.js";

const POLL_MS = 2000;
const ITEMS_PAGE = 100;
const STATUSES = ["running", "done", "failed", "cancelled"];

export function statusText(status) {
  return STATUSES.includes(status) ? t(`eval.status_${status}`) : String(status ?? "–");
}

export function progressText(progress) {
  if (!progress || progress.total === undefined) return "–";
  return `${fmtInt(progress.done ?? 0)} / ${fmtInt(progress.total)}`;
}

/** A model version as `name@version`, from a string or an object with `model` and `version`. */
export function versionLabel(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value !== "object") return String(value);
  return value.version === undefined || value.version === null ? String(value.model ?? "–") : `${value.model}@${value.version}`;
}

/** The model versions a run covers: its `models`, else those of its results. */
export function modelsOf(run) {
  if (Array.isArray(run.models)) return run.models.map(versionLabel);
  return Array.isArray(run.results) ? run.results.map(versionLabel) : [];
}

/** The run shown on the page: `open(id)` shows one (and stops refreshing the one before); `onOpen(id)` is called
 * then, and `onEnded(run)` when a run seen running has ended. */
export function runView(ctx, onOpen, onEnded) {
  const node = el("section", { class: "card", id: "eval-run", hidden: true, "aria-labelledby": "eval-run-title" });
  let shown = 0; // which opening is current; an older one's answers and timers are dropped
  let timer = null;
  ctx.signal.addEventListener("abort", () => clearTimeout(timer));

  async function open(id, { focus = true } = {}) {
    const opening = ++shown;
    onOpen(id);
    clearTimeout(timer);
    const live = () => opening === shown && !ctx.signal.aborted;
    clear(node);
    node.hidden = false;
    node.dataset.run = id;
    delete node.dataset.status;
    const title = el("h2", { id: "eval-run-title", tabindex: "-1", text: t("eval.run_title", { id }) });
    const meta = el("p", { class: "muted", id: "eval-run-meta" });
    const status = el("span", { class: "tag", id: "eval-status", role: "status" });
    const bar = el("progress", { id: "eval-progress", max: "1", value: "0" });
    const counts = el("span", { id: "eval-progress-text" });
    const failure = el("p", { class: "error", id: "eval-run-error" });
    const pollError = el("div", { "aria-live": "polite" });
    const results = el("div", { id: "eval-results" });
    const comparison = el("div", { id: "eval-comparison" });
    const items = itemsSection(id, live);
    const cancel = cancelControl(id, () => refresh(false));
    node.append(
      title,
      meta,
      el("div", { class: "run-status" }, el("span", { text: t("eval.status_label") }), status, " ", counts),
      el("label", { for: "eval-progress", class: "visually-hidden", text: t("eval.progress") }),
      bar,
      failure,
      cancel.node,
      pollError,
      el("h3", { text: t("eval.results") }),
      results,
      comparison,
      items.node,
    );
    if (focus) title.focus();

    let wasRunning = false;
    const show = (run) => {
      node.dataset.status = run.status;
      status.textContent = statusText(run.status);
      status.dataset.status = run.status;
      const parts = [];
      if (run.set) parts.push(run.set_version === undefined ? t("eval.meta_set", { set: run.set }) : t("eval.meta_set_version", { set: run.set, version: run.set_version }));
      if (run.tenant) parts.push(t("eval.meta_tenant", { tenant: run.tenant }));
      const models = modelsOf(run);
      if (models.length) parts.push(models.join(", "));
      if (Array.isArray(run.scorers)) parts.push(t("eval.meta_scorers", { scorers: run.scorers.map((s) => (s && typeof s === "object" ? s.type : s)).join(", ") }));
      meta.textContent = parts.join(" · ");
      const started = run.created_at ?? run.started_at;
      if (started) meta.append(parts.length ? " · " : "", t("eval.meta_started"), " ", when(started));
      if (run.finished_at) meta.append(" · ", t("eval.meta_finished"), " ", when(run.finished_at));
      const progress = run.progress || {};
      bar.max = Math.max(1, Number(progress.total) || 0);
      bar.value = Math.min(bar.max, Number(progress.done) || 0);
      counts.textContent = progress.total === undefined ? "" : `${progressText(progress)} (${fmtPct(progress.done ?? 0, progress.total)})`;
      const message = run.error && typeof run.error === "object" ? run.error.message : run.error;
      failure.textContent = message ? String(message) : "";
      cancel.running(run.status === "running");
      clear(results).append(resultsTable(run.results || []));
      clear(comparison);
      if (run.comparison) comparison.append(comparisonBox(run.comparison));
    };

    async function refresh(schedule) {
      let run;
      try {
        run = await api("GET", `/admin/v1/eval-runs/${enc(id)}`);
      } catch (e) {
        if (!live()) return;
        clear(pollError).append(errorBox(e));
        // A refusal or a run that is gone ends the refreshing; a gateway briefly away does not.
        if (schedule && !(e.status >= 400 && e.status < 500)) timer = setTimeout(() => refresh(true), POLL_MS);
        return;
      }
      if (!live()) return;
      clear(pollError);
      show(run);
      if (run.status === "running") {
        wasRunning = true;
        if (schedule) timer = setTimeout(() => refresh(true), POLL_MS);
      } else {
        clearTimeout(timer);
        // The items once the run has ended (again, if some were shown while it ran).
        if (!items.loaded || wasRunning) items.load();
        if (wasRunning) {
          wasRunning = false;
          onEnded(run);
        }
      }
    }
    await refresh(true);
  }

  return { node, open };
}

function cancelControl(id, after) {
  const result = outcome();
  const button = el("button", { type: "button", class: "danger", id: "eval-cancel", text: t("eval.cancel") });
  const confirmBox = el("div", { class: "confirm", hidden: true, role: "group", "aria-label": t("eval.cancel_group") });
  const node = el("div", { hidden: true }, button, confirmBox, result.node);
  button.addEventListener("click", () => {
    result.clear();
    clear(confirmBox);
    const yes = el("button", { type: "button", class: "danger", id: "eval-cancel-confirm", text: t("eval.cancel_confirm") });
    const no = el("button", { type: "button", class: "secondary", text: t("eval.keep_running") });
    confirmBox.append(el("p", { text: t("eval.cancel_question", { id }) }), yes, " ", no);
    confirmBox.hidden = false;
    yes.focus();
    no.addEventListener("click", () => {
      confirmBox.hidden = true;
      button.focus();
    });
    confirmBox.onkeydown = (e) => {
      if (e.key === "Escape") no.click();
    };
    yes.addEventListener("click", async () => {
      yes.disabled = true;
      try {
        await api("DELETE", `/admin/v1/eval-runs/${enc(id)}`);
        confirmBox.hidden = true;
        result.ok(t("eval.cancelled"));
        after();
      } catch (e) {
        confirmBox.hidden = true;
        result.show(e);
      }
    });
  });
  return {
    node,
    running(yes) {
      // Kept while an outcome is on screen, so the user reads it.
      node.hidden = !yes && !result.node.textContent;
      button.hidden = !yes;
      if (!yes) confirmBox.hidden = true;
    },
  };
}

function resultsTable(results) {
  if (!results.length) return el("p", { class: "muted", text: t("eval.no_results") });
  return table(
    [
      t("eval.model_version"),
      { label: t("eval.score"), num: true },
      { label: t("eval.passed"), num: true },
      { label: t("eval.failed"), num: true },
      { label: t("col.errors"), num: true },
      { label: t("eval.pass_rate"), num: true },
      { label: t("eval.p50"), num: true },
      { label: t("col.tokens"), num: true },
      { label: t("col.cost"), num: true },
    ],
    results.map((r) => {
      const score = el("td", { class: "num", "data-score": r.score ?? "" }, fmtNum(r.score));
      if (typeof r.score === "number") {
        const bar = el("span", { class: "compare-bar", "aria-hidden": "true" });
        bar.style.width = `${Math.round(100 * Math.max(0, Math.min(1, r.score)))}%`;
        score.append(bar);
      }
      const counted = (r.passed ?? 0) + (r.failed ?? 0);
      return el(
        "tr",
        { "data-result": versionLabel(r) },
        td(versionLabel(r)),
        score,
        td(fmtInt(r.passed), { class: "num" }),
        td(fmtInt(r.failed), { class: "num" }),
        td(fmtInt(r.errors), { class: "num" }),
        td(fmtPct(r.passed ?? 0, counted), { class: "num" }),
        td(fmtMs(r.p50_ms), { class: "num" }),
        td(fmtInt(r.tokens), { class: "num" }),
        td(fmtCost(r.cost), { class: "num" }),
      );
    }),
  );
}

/** The paired comparison of two versions on the same items: `better`/`worse`/`same` count the items where `b`
 * scored above, below or level with `a`; `mean_difference` is b − a, `ci_low`…`ci_high` its interval at
 * `confidence` (0.95 when the run does not say); the interval is null with fewer than two pairs. */
function comparisonBox(c) {
  const a = versionLabel(c.a);
  const b = versionLabel(c.b);
  const level = fmtLevel(typeof c.confidence === "number" ? c.confidence : 0.95);
  const interval = typeof c.ci_low === "number" && typeof c.ci_high === "number";
  let kind = interval ? "unclear" : "none";
  if (interval && c.ci_low > 0) kind = "better";
  else if (interval && c.ci_high < 0) kind = "worse";
  const verdict = t(`eval.verdict_${kind}`, { a, b, level });
  const row = (label, value, id) => el("div", { class: "tile" }, el("dt", { text: label }), el("dd", { "data-comparison": id, text: value }));
  return el(
    "section",
    { "aria-labelledby": "eval-comparison-title", "data-verdict": kind },
    el("h3", { id: "eval-comparison-title", text: t("eval.comparison", { a, b }) }),
    el("p", { class: `verdict verdict-${kind}`, text: verdict }),
    el(
      "dl",
      { class: "tiles" },
      row(t("eval.cmp_better", { a, b }), fmtInt(c.better), "better"),
      row(t("eval.cmp_worse", { a, b }), fmtInt(c.worse), "worse"),
      row(t("eval.cmp_same"), fmtInt(c.same), "same"),
      row(t("eval.cmp_mean", { a, b }), fmtSigned(c.mean_difference), "mean_difference"),
      row(t("eval.cmp_ci", { level }), interval ? `${fmtSigned(c.ci_low)} … ${fmtSigned(c.ci_high)}` : "–", "ci"),
    ),
  );
}

function itemsSection(id, live) {
  const list = el("div", { id: "eval-items" });
  const onlyFailed = el("input", { type: "checkbox", id: "eval-only-failed" });
  const load = el("button", { type: "button", class: "secondary", id: "eval-load-items", text: t("eval.load_items") });
  const section = {
    loaded: false,
    node: el(
      "section",
      { "aria-labelledby": "eval-items-title" },
      el("h3", { id: "eval-items-title", text: t("eval.items") }),
      el("div", { class: "row" }, el("div", { class: "shrink" }, load), el("label", { class: "inline shrink", for: onlyFailed.id }, onlyFailed, t("eval.only_failed"))),
      list,
    ),
    load: () => fetchItems(),
  };
  let entries = [];
  const render = () => {
    clear(list);
    const shown = onlyFailed.checked ? entries.filter((e) => e.passed !== true) : entries;
    if (!shown.length) {
      list.append(el("p", { class: "muted", text: entries.length ? t("eval.no_failed_items") : t("eval.no_items") }));
      return;
    }
    const body = el("tbody", {});
    let count = 0;
    const more = el("button", { type: "button", class: "secondary", text: t("eval.more_items") });
    const next = () => {
      for (const entry of shown.slice(count, count + ITEMS_PAGE)) body.append(itemRow(entry));
      count = Math.min(shown.length, count + ITEMS_PAGE);
      more.hidden = count >= shown.length;
    };
    more.addEventListener("click", next);
    const headers = [t("eval.item"), t("eval.model_version"), t("eval.answer"), t("eval.result"), t("eval.scores")];
    list.append(
      el("p", { class: "muted", text: t("eval.items_shown", { count: fmtInt(shown.length), total: fmtInt(entries.length) }) }),
      el("div", { class: "table-wrap" }, el("table", {}, el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col", text: h })))), body)),
      more,
    );
    next();
  };
  async function fetchItems() {
    section.loaded = true;
    load.disabled = true;
    try {
      const answer = await api("GET", `/admin/v1/eval-runs/${enc(id)}/items?limit=1000`);
      if (!live()) return;
      entries = answer.data || [];
      load.textContent = t("eval.reload_items");
      render();
    } catch (e) {
      if (!live()) return;
      clear(list).append(errorBox(e));
    } finally {
      load.disabled = false;
    }
  }
  load.addEventListener("click", fetchItems);
  onlyFailed.addEventListener("change", render);
  return section;
}

function itemText(item) {
  if (item === null || item === undefined) return "–";
  if (typeof item !== "object") return String(item);
  return String(item.input ?? item.id ?? JSON.stringify(item));
}

function itemRow(entry) {
  const passed = entry.passed === true;
  const scores = el(
    "ul",
    { class: "scores" },
    (entry.scores || []).map((s) =>
      el(
        "li",
        { "data-scorer": s.scorer },
        el("strong", { text: String(s.scorer ?? "?") }),
        ` ${fmtNum(s.score)} `,
        el("span", { class: s.passed ? "pass" : "fail", text: s.passed ? t("eval.pass") : t("eval.fail") }),
        s.reason ? el("div", { class: "muted reason", text: String(s.reason) }) : null,
      ),
    ),
  );
  const itemCell = td(el("span", { text: itemText(entry.item) }));
  if (entry.input !== undefined) itemCell.append(el("div", { class: "muted", text: typeof entry.input === "string" ? entry.input : JSON.stringify(entry.input) }));
  if (entry.expected !== undefined && entry.expected !== null) itemCell.append(el("div", { class: "muted", text: t("eval.expected", { expected: String(entry.expected) }) }));
  return el(
    "tr",
    { "data-item": typeof entry.item === "object" ? itemText(entry.item) : String(entry.item), "data-passed": String(passed) },
    itemCell,
    td(versionLabel(entry)),
    td(el("pre", { text: entry.answer === null || entry.answer === undefined ? "" : String(entry.answer) })),
    td(el("span", { class: passed ? "pass" : "fail", text: passed ? t("eval.pass") : t("eval.fail") })),
    td(scores),
  );
}
