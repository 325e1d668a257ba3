// Evaluations: the evaluation sets, the runs, and a form that starts a run of a set against model versions with
// the chosen scorers. One run is shown below the list (page-evaluation-run.js), refreshed while it runs.

import { t } from "./i18n.js";
import { el, clear, api, ApiError, outcome, field, table, td, when, errorBox, errorText, fmtInt } from "./lib.js";
import { runView, statusText, progressText, modelsOf } from "./page-evaluation-run.js";

// Runs started in this tab, listed when the gateway has no list of runs.
const startedHere = [];
// The run last opened, shown again when the page is drawn again (a language change, a return to the page) for
// the same sign-in.
let lastOpened = null;

const isMissingRoute = (e) => e instanceof ApiError && e.status === 404;

export async function renderEvaluations(root, ctx) {
  let sets;
  try {
    sets = (await api("GET", "/admin/v1/eval-sets")).data || [];
  } catch (e) {
    if (!isMissingRoute(e)) throw e;
    root.append(el("div", { class: "card", id: "eval-unavailable" }, el("p", { text: t("eval.unavailable") }), el("p", { class: "muted", text: errorText(e) })));
    return;
  }
  const view = runView(ctx, (id) => {
    lastOpened = { who: ctx.who, id };
  }, (run) => {
    const kept = startedHere.findIndex((r) => r.id === run.id);
    if (kept >= 0) startedHere[kept] = run;
    loadRuns();
  });
  const runs = el("div", { id: "eval-runs" });
  const runsSection = el("section", { class: "card", "aria-labelledby": "eval-runs-title" }, el("h2", { id: "eval-runs-title", text: t("eval.runs") }), runs);

  const loadRuns = async () => {
    let list = null;
    let missing = null;
    try {
      list = (await api("GET", "/admin/v1/eval-runs")).data || [];
    } catch (e) {
      if (!isMissingRoute(e)) {
        clear(runs).append(errorBox(e));
        return;
      }
      missing = e;
    }
    if (ctx.signal.aborted) return;
    clear(runs);
    if (missing) {
      runs.append(el("p", { class: "muted", id: "eval-runs-unavailable", text: t("eval.runs_unavailable") }), openById(view));
      list = startedHere;
    }
    if (!list.length) {
      runs.append(el("p", { class: "muted", text: t("eval.no_runs") }));
      return;
    }
    runs.append(runsTable(list, view, ctx));
  };

  root.append(setsSection(sets, ctx), startForm(sets, ctx, view, loadRuns), runsSection, view.node);
  await loadRuns();
  if (lastOpened && lastOpened.who === ctx.who && !ctx.signal.aborted) await view.open(lastOpened.id, { focus: false });
}

function setsSection(sets, ctx) {
  const section = el("section", { class: "card", id: "eval-sets", "aria-labelledby": "eval-sets-title" }, el("h2", { id: "eval-sets-title", text: t("eval.sets") }));
  if (!sets.length) {
    section.append(el("p", { class: "muted", text: t("eval.no_sets") }));
    return section;
  }
  const headers = [t("eval.set"), ctx.who.operator ? t("col.tenant") : null, { label: t("col.version"), num: true }, { label: t("eval.items_count"), num: true }, t("col.created")].filter(Boolean);
  section.append(
    table(
      headers,
      sets.map((s) =>
        el(
          "tr",
          { "data-set": s.name },
          td(s.name),
          ctx.who.operator ? td(s.tenant ?? t("eval.shared")) : null,
          td(s.version === undefined ? "–" : String(s.version), { class: "num" }),
          td(fmtInt(Array.isArray(s.items) ? s.items.length : s.items), { class: "num" }),
          td(when(s.created_at ?? s.updated_at)),
        ),
      ),
    ),
  );
  return section;
}

const SCORERS = ["exact", "contains", "regex", "similarity", "judge"];

function startForm(sets, ctx, view, loadRuns) {
  const form = el("form", { class: "card", id: "eval-start", "aria-labelledby": "eval-start-title" }, el("h2", { id: "eval-start-title", text: t("eval.start") }));
  if (!sets.length) {
    form.append(el("p", { class: "muted", text: t("eval.start_needs_set") }));
    return form;
  }
  const set = el("select", { id: "eval-set" }, sets.map((s, i) => el("option", { value: String(i), text: s.tenant && ctx.who.operator ? `${s.name} (${s.tenant})` : s.name })));
  const models = el("input", { type: "text", id: "eval-models", placeholder: "claims-assistant@1, claims-assistant@2", spellcheck: "false" });
  const boxes = Object.fromEntries(SCORERS.map((s) => [s, el("input", { type: "checkbox", id: `eval-scorer-${s}`, value: s, checked: s === "exact" })]));
  const pattern = el("input", { type: "text", id: "eval-pattern", spellcheck: "false" });
  const simModel = el("input", { type: "text", id: "eval-similarity-model", placeholder: "embedder" });
  const threshold = el("input", { type: "number", id: "eval-threshold", min: "0", max: "1", step: "0.01", value: "0.8" });
  const judgeModel = el("input", { type: "text", id: "eval-judge-model" });
  const rubric = el("textarea", { id: "eval-rubric", rows: "3", placeholder: t("eval.rubric_placeholder") });
  const extra = {
    regex: el("div", { class: "scorer-extra" }, field(t("eval.pattern"), pattern, t("eval.pattern_hint"))),
    similarity: el("div", { class: "scorer-extra row" }, field(t("eval.similarity_model"), simModel), el("div", { class: "shrink" }, field(t("eval.threshold"), threshold))),
    judge: el("div", { class: "scorer-extra" }, field(t("eval.judge_model"), judgeModel), field(t("eval.rubric"), rubric)),
  };
  const scorerList = el("ul", { class: "scorers" });
  for (const s of SCORERS) {
    const item = el("li", {}, el("label", { class: "inline", for: boxes[s].id }, boxes[s], t(`eval.scorer_${s}`)), el("small", { class: "muted", text: ` ${t(`eval.scorer_${s}_hint`)}` }));
    if (extra[s]) {
      extra[s].hidden = !boxes[s].checked;
      boxes[s].addEventListener("change", () => {
        extra[s].hidden = !boxes[s].checked;
      });
      item.append(extra[s]);
    }
    scorerList.append(item);
  }
  const result = outcome();
  const start = el("button", { type: "submit", text: t("eval.start_button") });
  form.append(
    el("div", { class: "row" }, el("div", { class: "shrink" }, field(t("eval.set"), set)), field(t("eval.models"), models, t("eval.models_hint"))),
    el("fieldset", {}, el("legend", { text: t("eval.scorers") }), scorerList),
    start,
    result.node,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    result.clear();
    const chosen = sets[Number(set.value)];
    const names = models.value.split(/[\s,]+/).map((m) => m.trim()).filter(Boolean);
    const scorers = [];
    for (const s of SCORERS) {
      if (!boxes[s].checked) continue;
      const scorer = { type: s };
      // Without a pattern, the regex scorer reads each item's expected answer as one.
      if (s === "regex" && pattern.value) scorer.pattern = pattern.value;
      if (s === "similarity") {
        scorer.model = simModel.value.trim();
        if (threshold.value !== "") scorer.threshold = Number(threshold.value);
      }
      if (s === "judge") {
        scorer.model = judgeModel.value.trim();
        if (rubric.value.trim()) scorer.rubric = rubric.value;
      }
      scorers.push(scorer);
    }
    const problem = !names.length
      ? [t("eval.need_models"), models]
      : !scorers.length
        ? [t("eval.need_scorer"), boxes.exact]
        : boxes.similarity.checked && !simModel.value.trim()
          ? [t("eval.need_model"), simModel]
          : boxes.judge.checked && !judgeModel.value.trim()
            ? [t("eval.need_model"), judgeModel]
            : null;
    if (problem) {
      result.show(new Error(problem[0]));
      problem[1].focus();
      return;
    }
    const body = { set: chosen.name, models: names, scorers };
    if (ctx.who.operator && chosen.tenant) body.tenant = chosen.tenant;
    start.disabled = true;
    try {
      const run = await api("POST", "/admin/v1/eval-runs", { body });
      result.ok(t("eval.started", { id: run.id }));
      startedHere.unshift({ id: run.id, status: run.status ?? "running", set: chosen.name, models: names, progress: run.progress });
      await loadRuns();
      view.open(run.id);
    } catch (e) {
      result.show(e);
    } finally {
      start.disabled = false;
    }
  });
  return form;
}

function runsTable(list, view, ctx) {
  return table(
    [t("eval.run"), t("eval.set"), t("col.models"), t("eval.status"), { label: t("eval.progress"), num: true }, t("eval.started_at"), ""],
    list.map((run) =>
      el(
        "tr",
        { "data-run": run.id },
        td(el("code", { text: String(run.id) })),
        td(run.set ?? "–"),
        td(modelsOf(run).join(", ") || "–"),
        td(statusText(run.status), { "data-status": run.status }),
        td(progressText(run.progress), { class: "num" }),
        td(when(run.created_at ?? run.started_at)),
        td(
          el("button", {
            type: "button",
            class: "secondary",
            "data-open-run": run.id,
            "aria-label": t("eval.open_label", { id: run.id }),
            text: t("eval.open"),
            onclick: () => view.open(run.id),
          }),
        ),
      ),
    ),
    ctx.who.operator ? null : t("eval.runs_caption_tenant"),
  );
}

/** Opens a run by its id: the way to a run when the gateway lists none. */
function openById(view) {
  const id = el("input", { type: "text", id: "eval-run-id", spellcheck: "false" });
  const form = el("form", { class: "row", id: "eval-open-form" }, field(t("eval.run_id"), id), el("div", { class: "shrink" }, el("button", { type: "submit", class: "secondary", text: t("eval.open") })));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (id.value.trim()) view.open(id.value.trim());
  });
  return form;
}
