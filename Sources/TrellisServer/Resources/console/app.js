// The Trellis console: a client of the admin API and the OpenAI-compatible API, with the signed-in key.
// Every value from the API is put in the page as text (textContent, text nodes), never parsed as HTML.

import {
  el, clear, session, api, ApiError, errorFrom, enc, fmtInt, fmtMs, fmtCost, fmtPct, daysBack, dayList, lineChart, barChart,
} from "./lib.js";

const state = {
  who: null, // {operator, manage, usage, inference, tenant}
  range: 7,
  attempt: 0, // the latest sign-in or sign-out; an older sign-in that finishes later is dropped
};

const PAGES = {
  overview: { title: "Overview", allowed: (w) => w.operator || w.manage || w.usage, render: renderOverview },
  models: { title: "Models", allowed: (w) => w.operator || w.manage, render: renderModels },
  playground: { title: "Playground", allowed: () => true, render: renderPlayground },
  knowledge: { title: "Knowledge", allowed: (w) => w.operator || w.manage, render: renderKnowledge },
  keys: { title: "Keys and tenants", allowed: (w) => w.operator || w.manage, render: renderKeys },
  audit: { title: "Audit", allowed: (w) => w.operator || w.manage, render: renderAudit },
};

const $ = (id) => document.getElementById(id);

// --------------------------------------------------------------------------- sign-in

/** What the key may do, learnt from the API itself: the operator alone lists upstreams, a manage key lists its
 * tenant, a usage key reads the usage report, an inference key lists models. */
async function identify(key) {
  const probe = async (path) => {
    try {
      return { ok: true, body: await api("GET", path, { key }) };
    } catch (e) {
      if (e instanceof ApiError && (e.status === 401 || e.status === 403 || e.status === 404)) return { ok: false, error: e };
      throw e;
    }
  };
  const upstreams = await probe("/admin/v1/upstreams");
  if (!upstreams.ok && upstreams.error.status === 401) throw upstreams.error;
  if (upstreams.ok) return { operator: true, manage: true, usage: true, inference: false, tenant: null };
  const tenants = await probe("/admin/v1/tenants");
  const usage = await probe("/admin/v1/usage");
  const models = await probe("/v1/models");
  const who = {
    operator: false,
    manage: tenants.ok,
    usage: usage.ok || tenants.ok,
    inference: models.ok,
    tenant: tenants.ok && tenants.body.data.length ? tenants.body.data[0].name : null,
  };
  if (!who.manage && !who.usage && !who.inference) throw new ApiError(403, "This key may not use the console (no manage, usage or inference scope).", "forbidden");
  return who;
}

async function signIn(key) {
  const attempt = ++state.attempt;
  const who = await identify(key);
  if (attempt !== state.attempt) return;
  session.key = key;
  state.who = who;
  showShell();
}

function signOut() {
  state.attempt += 1;
  session.clear();
  state.who = null;
  $("page").hidden = true;
  clear($("page"));
  $("nav").hidden = true;
  $("sign-out").hidden = true;
  $("who").textContent = "";
  $("sign-in").hidden = false;
  $("key-input").value = "";
  $("key-input").focus();
  if (window.location.hash) history.replaceState(null, "", window.location.pathname);
}

function showShell() {
  const who = state.who;
  $("sign-in").hidden = true;
  $("page").hidden = false;
  $("nav").hidden = false;
  $("sign-out").hidden = false;
  $("who").textContent = who.operator ? "Operator" : `Tenant ${who.tenant ?? "(usage key)"}${who.manage ? " · manage" : ""}`;
  for (const link of document.querySelectorAll("#nav a")) {
    link.parentElement.hidden = !PAGES[link.dataset.page].allowed(who);
  }
  route();
}

function route() {
  if (!state.who) return;
  // An in-page anchor (the skip link's #main) is not a page: stay where the user is.
  if (window.location.hash && !window.location.hash.startsWith("#/") && $("page").dataset.page) return;
  let name = (window.location.hash.match(/^#\/([a-z]+)/) || [])[1];
  if (!PAGES[name] || !PAGES[name].allowed(state.who)) {
    name = Object.keys(PAGES).find((p) => PAGES[p].allowed(state.who));
  }
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.page === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const page = clear($("page"));
  page.dataset.page = name;
  document.title = `${PAGES[name].title} · Trellis console`;
  const heading = el("h1", { tabindex: "-1", text: PAGES[name].title });
  page.append(heading);
  const body = el("div", { id: `page-${name}` });
  page.append(body);
  heading.focus();
  PAGES[name].render(body).catch((e) => body.append(errorBox(e)));
}

function errorBox(error) {
  const text = error instanceof ApiError ? error.plain : String(error && error.message ? error.message : error);
  return el("p", { class: "error", role: "alert", text });
}

/** A region for a form's outcome: `show(error)` or `ok(text)`. */
function outcome() {
  const node = el("p", { role: "status", "aria-live": "polite" });
  return {
    node,
    show(error) {
      node.className = "error";
      node.textContent = error instanceof ApiError ? error.plain : String(error.message ?? error);
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

function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return el("div", {}, el("label", { for: id, text: label }), input, hint ? el("small", { class: "muted", text: hint }) : null);
}

function table(headers, rows, caption) {
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

function td(value, props = {}) {
  return el("td", props, value);
}

// --------------------------------------------------------------------------- overview

const RANGES = [
  { days: 1, label: "24 h" },
  { days: 7, label: "7 d" },
  { days: 30, label: "30 d" },
];

async function renderOverview(root) {
  const who = state.who;
  const controls = el("div", { class: "segmented", role: "group", "aria-label": "Period" });
  for (const r of RANGES) {
    controls.append(
      el("button", {
        type: "button",
        "data-range": r.days,
        "aria-pressed": String(state.range === r.days),
        text: r.label,
        onclick: () => {
          state.range = r.days;
          route();
        },
      }),
    );
  }
  const { from, to } = daysBack(state.range === 1 ? 2 : state.range);
  root.append(el("div", { class: "row" }, el("div", { class: "shrink" }, controls), el("p", { class: "muted", text: `Whole UTC days ${from} to ${to}.` })));
  const q = { from, to };
  const [total, byDay, byModelDay, byModel, byTenant] = await Promise.all([
    api("GET", "/admin/v1/usage", { query: q }),
    api("GET", "/admin/v1/usage", { query: { ...q, group_by: "day" } }),
    api("GET", "/admin/v1/usage", { query: { ...q, group_by: "model,day" } }),
    api("GET", "/admin/v1/usage", { query: { ...q, group_by: "model" } }),
    who.operator ? api("GET", "/admin/v1/usage", { query: { ...q, group_by: "tenant" } }) : Promise.resolve(null),
  ]);
  const t = total.data[0] || { requests: 0, users: 0, errors: 0, prompt_tokens: 0, completion_tokens: 0, p95_ms: null, cost: 0 };
  const tiles = [
    ["requests", "Requests", fmtInt(t.requests)],
    ["users", "Active end users", fmtInt(t.users)],
    ["tokens", "Tokens", fmtInt(t.prompt_tokens + t.completion_tokens)],
    ["cost", "Cost", fmtCost(t.cost)],
    ["error-rate", "Error rate", fmtPct(t.errors, t.requests)],
    ["p95", "p95 latency", fmtMs(t.p95_ms)],
  ];
  root.append(el("dl", { class: "tiles", id: "overview-tiles" }, tiles.map(([id, label, value]) => el("div", { class: "tile" }, el("dt", { text: label }), el("dd", { "data-metric": id, text: value })))));

  const days = dayList(total.from, total.to);
  const dayRows = new Map(byDay.data.map((r) => [r.day, r]));
  const perDay = (f) => days.map((d) => (dayRows.has(d) ? f(dayRows.get(d)) : null));
  const charts = el("div", { class: "charts" });
  charts.append(
    lineChart("Requests per day", days, [{ name: "requests", values: perDay((r) => r.requests) }]),
    lineChart("Active end users per day", days, [{ name: "users", values: perDay((r) => r.users) }]),
    lineChart("Tokens per day", days, [{ name: "tokens", values: perDay((r) => r.prompt_tokens + r.completion_tokens) }]),
    lineChart("Cost per day", days, [{ name: "cost", values: perDay((r) => r.cost) }], fmtCost),
    lineChart("Error rate per day (%)", days, [{ name: "errors", values: perDay((r) => (r.requests ? (100 * r.errors) / r.requests : null)) }], (v) => v.toFixed(1)),
    lineChart("p95 latency per day (ms)", days, [{ name: "p95", values: perDay((r) => r.p95_ms) }], (v) => v.toFixed(0)),
  );
  const models = [...new Set(byModelDay.data.map((r) => r.model))].slice(0, 8);
  if (models.length) {
    const cell = new Map(byModelDay.data.map((r) => [`${r.model}\u0000${r.day}`, r]));
    charts.append(lineChart("Requests per day by model", days, models.map((m) => ({ name: m, values: days.map((d) => cell.get(`${m}\u0000${d}`)?.requests ?? null) }))));
    charts.append(lineChart("p95 latency by model (ms)", days, models.map((m) => ({ name: m, values: days.map((d) => cell.get(`${m}\u0000${d}`)?.p95_ms ?? null) })), (v) => v.toFixed(0)));
  }
  root.append(charts);

  const top = (rows, n) => [...rows].sort((a, b) => b.requests - a.requests).slice(0, n);
  root.append(el("h2", { text: "Top models" }));
  root.append(modelTable(top(byModel.data, 10), "model"));
  if (byModel.data.length) root.append(barChart("Requests by model", top(byModel.data, 10).map((r) => ({ label: r.model, value: r.requests }))));
  if (byTenant) {
    root.append(el("h2", { text: "Top tenants" }));
    root.append(modelTable(top(byTenant.data, 10), "tenant"));
  }
}

function modelTable(rows, key) {
  if (!rows.length) return el("p", { class: "muted", text: "No requests in this period." });
  return table(
    [key === "model" ? "Model" : "Tenant", { label: "Requests", num: true }, { label: "Users", num: true }, { label: "Tokens", num: true }, { label: "Errors", num: true }, { label: "p95", num: true }, { label: "Cost", num: true }, { label: "Positive", num: true }],
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

// --------------------------------------------------------------------------- models

async function renderModels(root) {
  const list = await api("GET", "/admin/v1/models");
  if (!list.data.length) {
    root.append(el("p", { class: "muted", text: "No models yet." }));
    return;
  }
  for (const model of list.data) root.append(modelCard(model));
}

function describeTarget(resolved) {
  if (resolved.adapter) {
    const a = resolved.adapter;
    return a.missing ? `adapter ${a.name} (missing)` : `adapter ${a.name} on ${a.base_model} (${a.method})`;
  }
  return (resolved.targets || []).map((t) => `${t.upstream}/${t.model}${t.weight !== undefined ? ` ×${t.weight}` : ""}`).join(", ") || "–";
}

function describePrompt(prompt) {
  if (!prompt) return "none";
  if (prompt.inline) return "inline";
  let text = `${prompt.name} v${prompt.version ?? "?"}`;
  if (prompt.label) text += ` (label ${prompt.label})`;
  if (prompt.follows) text += " (latest)";
  if (prompt.missing) text += " (missing)";
  return text;
}

function modelCard(model) {
  const scope = model.tenant ? { tenant: model.tenant } : {};
  const card = el("section", { class: "card model", "data-model": model.name, "aria-label": `Model ${model.name}` });
  card.append(
    el("h2", {}, model.name, " ", el("span", { class: "tag", text: model.tenant ? `tenant ${model.tenant}` : "shared" })),
    el("p", { class: "description", text: model.description ?? "" }),
  );
  card.append(
    table(
      ["Version", "Resolves to", "Prompt", "Knowledge bases", "Parameters", { label: "Traffic", num: true }],
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
  const form = el("form", { class: "traffic", "aria-label": `Traffic split of ${model.name}` });
  const inputs = model.versions.map((v) =>
    el("input", { type: "number", min: "0", max: "1000000", step: "1", name: `v${v.version}`, value: String(model.traffic[String(v.version)] ?? 0), "data-version": v.version }),
  );
  const result = outcome();
  const confirmBox = el("div", { class: "confirm", hidden: true, role: "group", "aria-label": "Confirm the traffic change" });
  form.append(
    el("h3", { text: "Traffic split" }),
    el("div", { class: "row" }, inputs.map((input, i) => el("div", { class: "shrink" }, field(`Version ${model.versions[i].version} weight`, input)))),
    el("button", { type: "submit", class: "secondary", text: "Change traffic…" }),
    confirmBox,
    result.node,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    result.clear();
    const weights = {};
    for (const input of inputs) weights[input.dataset.version] = Number.parseInt(input.value || "0", 10);
    const before = Object.entries(model.traffic).map(([v, w]) => `v${v}: ${w}`).join(", ") || "none";
    const after = Object.entries(weights).map(([v, w]) => `v${v}: ${w}`).join(", ");
    clear(confirmBox);
    const yes = el("button", { type: "button", class: "danger", text: "Confirm change" });
    const no = el("button", { type: "button", class: "secondary", text: "Cancel" });
    confirmBox.append(el("p", { text: `Change the traffic of ${model.name} from ${before} to ${after}?` }), yes, " ", no);
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
        result.ok(`Traffic saved: ${Object.entries(updated.traffic).map(([v, w]) => `v${v}: ${w}`).join(", ")}`);
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
  if (state.who.operator || model.tenant) card.append(form);
  else card.append(el("p", { class: "muted", text: "A shared model: only the operator changes its traffic split." }));

  // Side-by-side comparison of versions on the business metrics.
  const compare = el("div", { class: "compare", "data-compare": model.name });
  const range = el("select", {}, RANGES.map((r) => el("option", { value: String(r.days), text: r.label, selected: r.days === 30 ? "" : null })));
  const show = el("button", { type: "button", class: "secondary", text: "Compare versions" });
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
  compare.append(el("h3", { text: "Compare versions" }), el("div", { class: "row" }, el("div", { class: "shrink" }, field("Period", range)), el("div", { class: "shrink" }, show)), compareResult);
  card.append(compare);
  return card;
}

function comparisonTable(model, report) {
  const rows = new Map(report.data.map((r) => [r.version, r]));
  const versions = model.versions.map((v) => v.version);
  const metrics = [
    ["Requests", (r) => r.requests, fmtInt],
    ["Users", (r) => r.users, fmtInt],
    ["Positive feedback", (r) => (r.positive + r.negative ? r.positive / (r.positive + r.negative) : null), (v) => (v === null ? "–" : `${(100 * v).toFixed(1)}%`)],
    ["Ratings", (r) => r.positive + r.negative, fmtInt],
    ["Errors", (r) => r.errors, fmtInt],
    ["p50 latency", (r) => r.p50_ms, fmtMs],
    ["p95 latency", (r) => r.p95_ms, fmtMs],
    ["Tokens", (r) => r.prompt_tokens + r.completion_tokens, fmtInt],
    ["Cost", (r) => r.cost, fmtCost],
  ];
  const body = metrics.map(([label, get, format]) => {
    const values = versions.map((v) => (rows.has(v) ? get(rows.get(v)) : null));
    const max = Math.max(0, ...values.filter((x) => x !== null));
    return el(
      "tr",
      { "data-metric": label },
      el("th", { scope: "row", text: label }),
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
    ["Metric", ...versions.map((v) => ({ label: `v${v} (${model.traffic[String(v)] ?? 0})`, num: true }))],
    body,
    `${report.from} to ${report.to}; traffic weight in brackets`,
  );
}

// --------------------------------------------------------------------------- playground

function inferenceKey() {
  if (!state.who.operator && state.who.inference) return session.key;
  return session.inferenceKey;
}

function inferenceKeyField(onChange) {
  if (!state.who.operator && state.who.inference) return null;
  const input = el("input", { type: "password", autocomplete: "off", spellcheck: "false", id: "inference-key", value: session.inferenceKey ?? "" });
  const save = el("button", { type: "button", class: "secondary", text: "Use this key" });
  save.addEventListener("click", () => {
    session.inferenceKey = input.value.trim();
    onChange();
  });
  return el(
    "div",
    { class: "card" },
    field("Tenant key for calling models", input, "Chat and search run as a tenant: paste a key with the inference scope (kept in this tab only)."),
    save,
  );
}

async function renderPlayground(root) {
  const keyBox = inferenceKeyField(() => route());
  if (keyBox) root.append(keyBox);
  const key = inferenceKey();
  if (!key) {
    root.append(el("p", { class: "muted", text: "Enter a tenant key to call models." }));
    return;
  }
  const models = await api("GET", "/v1/models", { key });
  const modelSelect = el("select", { id: "pg-model" }, models.data.map((m) => el("option", { value: m.id, text: m.id })));
  const version = el("input", { type: "number", min: "1", id: "pg-version", placeholder: "traffic split" });
  const variables = el("textarea", { id: "pg-variables", rows: "2", placeholder: "name=value, one a line" });
  const system = el("textarea", { id: "pg-system", rows: "2" });
  const message = el("textarea", { id: "pg-message", rows: "3", required: true });
  const maxTokens = el("input", { type: "number", min: "1", id: "pg-max-tokens", value: "64" });
  const send = el("button", { type: "submit", text: "Send" });
  const stop = el("button", { type: "button", class: "secondary", text: "Stop", disabled: true });
  const form = el(
    "form",
    { class: "card", id: "pg-form" },
    el("div", { class: "row" }, field("Model", modelSelect), el("div", { class: "shrink" }, field("Version", version)), el("div", { class: "shrink" }, field("Max tokens", maxTokens))),
    field("Variables", variables),
    field("System message (optional)", system),
    field("Message", message),
    send,
    " ",
    stop,
  );
  const status = outcome();
  const answer = el("div", { class: "answer", id: "pg-answer", "aria-live": "polite" });
  const meta = el("p", { class: "muted", id: "pg-meta" });
  const citations = el("ol", { id: "pg-citations" });
  const feedback = el("div", { id: "pg-feedback", hidden: true });
  root.append(form, status.node, el("section", { class: "card", "aria-label": "Answer" }, el("h2", { text: "Answer" }), answer, meta, el("h3", { text: "Citations" }), citations, feedback));

  let controller = null;
  stop.addEventListener("click", () => controller && controller.abort());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.clear();
    clear(answer);
    clear(citations);
    clear(feedback);
    feedback.hidden = true;
    meta.textContent = "";
    const vars = {};
    for (const line of variables.value.split("\n")) {
      const eq = line.indexOf("=");
      if (eq > 0) vars[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
    }
    const messages = [];
    if (system.value.trim()) messages.push({ role: "system", content: system.value });
    messages.push({ role: "user", content: message.value });
    const body = {
      model: version.value ? `${modelSelect.value}@${version.value}` : modelSelect.value,
      messages,
      stream: true,
      max_tokens: Number.parseInt(maxTokens.value || "64", 10),
    };
    if (Object.keys(vars).length) body.variables = vars;
    controller = new AbortController();
    send.disabled = true;
    stop.disabled = false;
    let requestId = null;
    try {
      const response = await fetch("/v1/chat/completions", {
        method: "POST",
        headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify(body),
        signal: controller.signal,
        credentials: "omit",
        cache: "no-store",
      });
      if (!response.ok) throw await errorFrom(response);
      requestId = response.headers.get("x-request-id");
      const servedVersion = response.headers.get("x-trellis-model-version");
      meta.textContent = `request ${requestId ?? "?"} · version ${servedVersion ?? "?"}`;
      answer.dataset.state = "streaming";
      await readStream(response, (event) => {
        if (event.error) throw new ApiError(response.status, String(event.error.message ?? "stream failed"), event.error.code ?? null, requestId);
        if (Array.isArray(event.citations)) {
          for (const c of event.citations) {
            citations.append(el("li", { value: String(c.index) }, el("strong", { text: c.title }), ` (score ${c.score}) `, el("span", { class: "muted", text: c.snippet })));
          }
        }
        for (const choice of event.choices || []) {
          const piece = choice.delta && choice.delta.content;
          if (piece) answer.append(document.createTextNode(piece));
        }
      });
      answer.dataset.state = "done";
      if (requestId) feedback.append(...feedbackForm(key, requestId));
      feedback.hidden = !requestId;
    } catch (e) {
      answer.dataset.state = "error";
      if (e.name === "AbortError") status.ok("Stopped.");
      else status.show(e);
    } finally {
      send.disabled = false;
      stop.disabled = true;
      controller = null;
    }
  });
}

/** Reads an OpenAI event stream with fetch's ReadableStream, calling `onEvent` with each parsed `data:` JSON. */
async function readStream(response, onEvent) {
  const reader = response.body.getReader();
  try {
    await readEvents(reader, onEvent);
  } catch (e) {
    // An error event (or a bad frame) ends the answer: stop downloading the rest.
    reader.cancel().catch(() => {});
    throw e;
  }
}

async function readEvents(reader, onEvent) {
  const decoder = new TextDecoder("utf-8");
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let boundary;
    while ((boundary = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary).replace(/^\r?\n\r?\n/, "");
      const data = block
        .split(/\r?\n/)
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).replace(/^ /, ""))
        .join("\n");
      if (!data || data === "[DONE]") continue;
      onEvent(JSON.parse(data));
    }
  }
}

function feedbackForm(key, requestId) {
  const result = outcome();
  const correction = el("textarea", { id: "pg-correction", rows: "3" });
  const comment = el("input", { type: "text", id: "pg-comment" });
  const send = async (rating) => {
    result.clear();
    const body = { request_id: requestId, rating };
    if (correction.value.trim()) body.correction = correction.value;
    if (comment.value.trim()) body.comment = comment.value;
    try {
      await api("POST", "/v1/feedback", { body, key });
      result.ok(rating > 0 ? "Thanks: rated good." : "Thanks: rated bad" + (body.correction ? ", with the correction." : "."));
    } catch (e) {
      result.show(e);
    }
  };
  return [
    el("h3", { text: "Rate this answer" }),
    el("button", { type: "button", id: "pg-good", text: "Good answer", onclick: () => send(1) }),
    " ",
    el("button", { type: "button", class: "secondary", id: "pg-bad", text: "Bad answer", onclick: () => send(-1) }),
    field("Correction (the answer it should have given, sent with a rating)", correction),
    field("Comment", comment),
    result.node,
  ];
}

// --------------------------------------------------------------------------- knowledge

async function renderKnowledge(root) {
  const bases = await api("GET", "/admin/v1/knowledge-bases");
  if (!bases.data.length) {
    root.append(el("p", { class: "muted", text: "No knowledge bases yet." }));
    return;
  }
  const select = el("select", { id: "kb-select" }, bases.data.map((kb, i) => el("option", { value: String(i), text: kb.tenant ? `${kb.name} (${kb.tenant})` : kb.name })));
  const detail = el("div", {});
  root.append(el("div", { class: "card" }, field("Knowledge base", select)), detail);
  const show = () => renderKnowledgeBase(detail, bases.data[Number(select.value)]).catch((e) => detail.append(errorBox(e)));
  select.addEventListener("change", show);
  await show();
}

async function renderKnowledgeBase(root, kb) {
  clear(root);
  const scope = kb.tenant ? { tenant: kb.tenant } : {};
  const base = `/admin/v1/knowledge-bases/${enc(kb.name)}`;
  root.append(
    el("p", { class: "muted" }, kb.description ?? "", kb.embedding ? ` · embeddings ${kb.embedding.upstream}/${kb.embedding.model}` : " · keyword search only", ` · chunks of ${kb.chunk_size}`),
  );

  // Documents.
  const docs = el("div", { id: "kb-documents" });
  const loadDocs = async () => {
    clear(docs);
    try {
      const list = await api("GET", `${base}/documents`, { query: scope });
      if (!list.data.length) {
        docs.append(el("p", { class: "muted", text: "No documents." }));
        return;
      }
      docs.append(
        table(
          ["Title", "Type", { label: "Bytes", num: true }, { label: "Chunks", num: true }, "Added"],
          list.data.map((d) => el("tr", { "data-document": d.id }, td(d.title), td(d.content_type), td(fmtInt(d.bytes), { class: "num" }), td(fmtInt(d.chunks), { class: "num" }), td(d.created_at))),
        ),
      );
    } catch (e) {
      docs.append(errorBox(e));
    }
  };

  // Upload, with progress (XMLHttpRequest reports upload progress; fetch does not).
  const file = el("input", { type: "file", id: "kb-file", accept: ".md,.txt,.html,.htm,.pdf,text/plain,text/markdown,text/html,application/pdf" });
  const title = el("input", { type: "text", id: "kb-title" });
  const progress = el("progress", { id: "kb-progress", max: "100", value: "0", hidden: true });
  const uploaded = outcome();
  const uploadForm = el("form", { class: "card", id: "kb-upload" }, el("h2", { text: "Upload a document" }), field("File (.md, .txt, .html, .pdf)", file), field("Title (optional)", title), el("button", { type: "submit", text: "Upload" }), progress, uploaded.node);
  uploadForm.addEventListener("submit", (event) => {
    event.preventDefault();
    uploaded.clear();
    if (!file.files.length) {
      uploaded.show(new Error("Choose a file first."));
      return;
    }
    const form = new FormData();
    form.append("file", file.files[0]);
    if (title.value.trim()) form.append("title", title.value.trim());
    const url = new URL(`${base}/documents`, window.location.origin);
    if (kb.tenant) url.searchParams.set("tenant", kb.tenant);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("Authorization", `Bearer ${session.key}`);
    xhr.responseType = "text";
    progress.hidden = false;
    progress.value = 0;
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) progress.value = Math.round((100 * e.loaded) / e.total);
    });
    xhr.addEventListener("load", () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch (_) {
        body = null;
      }
      if (xhr.status >= 200 && xhr.status < 300 && body) {
        progress.value = 100;
        uploaded.ok(`Added "${body.title}" (${body.chunks} chunks).`);
        uploadForm.reset();
        loadDocs();
      } else {
        uploaded.show(new ApiError(xhr.status, body && body.error ? String(body.error.message) : xhr.statusText || "upload failed", body && body.error ? body.error.code : null));
      }
    });
    xhr.addEventListener("error", () => uploaded.show(new ApiError(0, "The upload did not reach the gateway.", null)));
    xhr.send(form);
  });

  // Search (runs as a tenant: the search route takes a tenant key).
  const searchRoot = el("section", { class: "card", id: "kb-search" }, el("h2", { text: "Search" }));
  // A tenant's own key searches its bases; the operator pastes a key of the base's tenant.
  const keyBox = state.who.operator ? inferenceKeyField(() => route()) : null;
  const searchKey = !state.who.operator ? session.key : session.inferenceKey;
  if (keyBox) {
    searchRoot.append(keyBox);
    searchRoot.append(el("p", { class: "muted", text: `Searching ${kb.name} needs a key of tenant ${kb.tenant ?? "(shared)"}.` }));
  }
  const query = el("input", { type: "search", id: "kb-query" });
  const mode = el("select", { id: "kb-mode" }, ["default", "hybrid", "keyword", "vector"].map((m) => el("option", { value: m, text: m })));
  const results = el("ol", { id: "kb-results" });
  const searched = outcome();
  const searchForm = el("form", {}, el("div", { class: "row" }, field("Query", query), el("div", { class: "shrink" }, field("Mode", mode))), el("button", { type: "submit", text: "Search", disabled: !searchKey }), searched.node, results);
  searchForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    searched.clear();
    clear(results);
    const body = { query: query.value, top_k: 8 };
    if (mode.value !== "default") body.mode = mode.value;
    try {
      const answer = await api("POST", `/v1/knowledge-bases/${enc(kb.name)}/search`, { body, key: searchKey });
      searched.ok(`${answer.data.length} chunks (${answer.mode}).`);
      for (const hit of answer.data) {
        results.append(
          el(
            "li",
            { class: "hit", "data-document": hit.document_id },
            el("strong", { class: "hit-title", text: hit.title }),
            " ",
            el("span", { class: "tag", text: `score ${hit.score}` }),
            hit.heading ? el("div", { class: "muted", text: hit.heading }) : null,
            el("p", { class: "hit-text", text: hit.text }),
          ),
        );
      }
    } catch (e) {
      searched.show(e);
    }
  });
  searchRoot.append(searchForm);
  root.append(el("h2", { text: "Documents" }), docs, uploadForm, searchRoot);
  await loadDocs();
}

// --------------------------------------------------------------------------- keys and tenants

async function renderKeys(root) {
  const who = state.who;
  let tenants = [];
  if (who.operator) {
    tenants = (await api("GET", "/admin/v1/tenants")).data.map((t) => t.name);
    const name = el("input", { type: "text", id: "tenant-name", pattern: "[a-z0-9][a-z0-9-]*" });
    const created = outcome();
    const tenantForm = el("form", { class: "card", id: "tenant-create" }, el("h2", { text: "New tenant" }), field("Name", name), el("button", { type: "submit", text: "Create tenant" }), created.node);
    tenantForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await api("POST", "/admin/v1/tenants", { body: { name: name.value.trim() } });
        route();
      } catch (e) {
        created.show(e);
      }
    });
    root.append(tenantForm);
  } else if (who.tenant) {
    tenants = [who.tenant];
  }
  if (!tenants.length) {
    root.append(el("p", { class: "muted", text: "No tenants yet." }));
    return;
  }
  const select = el("select", { id: "keys-tenant" }, tenants.map((t) => el("option", { value: t, text: t })));
  const detail = el("div", {});
  root.append(el("div", { class: "card" }, field("Tenant", select)), detail);
  const show = () => renderTenantKeys(detail, select.value).catch((e) => detail.append(errorBox(e)));
  select.addEventListener("change", show);
  await show();
}

async function renderTenantKeys(root, tenant) {
  clear(root);
  const name = el("input", { type: "text", id: "key-name", value: "console", maxlength: "128" });
  const scopes = ["inference", "manage", "usage"].map((s) => el("input", { type: "checkbox", value: s, checked: s === "inference", id: `scope-${s}` }));
  const models = el("input", { type: "text", id: "key-models", value: "*" });
  const issued = el("div", { id: "key-issued", "aria-live": "polite" });
  const result = outcome();
  const form = el(
    "form",
    { class: "card", id: "key-issue" },
    el("h2", { text: `Issue a key for ${tenant}` }),
    field("Name", name),
    el("fieldset", {}, el("legend", { text: "Scopes" }), scopes.map((box) => el("label", { class: "inline", for: box.id }, box, box.value))),
    field("Models (patterns, comma-separated)", models),
    el("button", { type: "submit", text: "Issue key" }),
    result.node,
    issued,
  );
  const list = el("div", { id: "keys-list" });
  root.append(form, el("h2", { text: `Keys of ${tenant}` }), list);

  const loadKeys = async () => {
    clear(list);
    const keys = await api("GET", `/admin/v1/tenants/${enc(tenant)}/keys`);
    if (!keys.data.length) {
      list.append(el("p", { class: "muted", text: "No keys." }));
      return;
    }
    list.append(
      table(
        ["Name", "Prefix", "Scopes", "Models", "Created", "State", ""],
        keys.data.map((k) => {
          const cell = el("td", {});
          if (!k.revoked) {
            const revoke = el("button", { type: "button", class: "danger", text: "Revoke…", "aria-label": `Revoke key ${k.name} (${k.prefix})` });
            revoke.addEventListener("click", () => {
              clear(cell);
              const yes = el("button", { type: "button", class: "danger", text: "Confirm revoke" });
              const no = el("button", { type: "button", class: "secondary", text: "Cancel" });
              cell.append(el("span", { text: `Revoke ${k.prefix}? It stops working at once. ` }), yes, " ", no);
              cell.onkeydown = (e) => {
                if (e.key === "Escape") no.click();
              };
              yes.focus();
              no.addEventListener("click", () => loadKeys());
              yes.addEventListener("click", async () => {
                try {
                  await api("DELETE", `/admin/v1/keys/${enc(k.id)}`);
                  await loadKeys();
                } catch (e) {
                  cell.append(errorBox(e));
                }
              });
            });
            cell.append(revoke);
          }
          return el("tr", { "data-key": k.id }, td(k.name), td(el("code", { text: k.prefix })), td(k.scopes.join(", ")), td(k.models.join(", ")), td(k.created_at), td(k.revoked ? `revoked ${k.revoked_at ?? ""}` : "active", { class: "key-state" }), cell);
        }),
      ),
    );
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    result.clear();
    clear(issued);
    const body = {
      name: name.value.trim(),
      scopes: scopes.filter((b) => b.checked).map((b) => b.value),
      models: models.value.split(",").map((m) => m.trim()).filter(Boolean),
    };
    try {
      const key = await api("POST", `/admin/v1/tenants/${enc(tenant)}/keys`, { body });
      const code = el("code", { id: "new-key", text: key.key });
      const copy = el("button", { type: "button", class: "secondary", id: "copy-key", text: "Copy" });
      const copied = el("span", { role: "status" });
      copy.addEventListener("click", async () => {
        try {
          await navigator.clipboard.writeText(key.key);
          copied.textContent = "Copied.";
        } catch (_) {
          const range = document.createRange();
          range.selectNodeContents(code);
          const selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
          copied.textContent = "Selected: press Ctrl+C to copy.";
        }
      });
      issued.append(el("p", { class: "notice", text: `Key ${key.prefix} issued. It is shown only this once: copy it now.` }), el("div", { class: "secret" }, code, copy, copied));
      await loadKeys();
    } catch (e) {
      result.show(e);
    }
  });
  await loadKeys();
}

// --------------------------------------------------------------------------- audit

async function renderAudit(root) {
  const filters = {
    tenant: el("input", { type: "text", id: "audit-tenant" }),
    action: el("input", { type: "text", id: "audit-action", placeholder: "model.* or key.revoke" }),
    actor: el("input", { type: "text", id: "audit-actor", placeholder: "operator or key:trk-…" }),
    target: el("input", { type: "text", id: "audit-target", placeholder: "model:claims-bot" }),
    from: el("input", { type: "datetime-local", id: "audit-from" }),
    to: el("input", { type: "datetime-local", id: "audit-to" }),
  };
  const form = el(
    "form",
    { class: "card", id: "audit-filters" },
    el(
      "div",
      { class: "row" },
      state.who.operator ? field("Tenant", filters.tenant) : null,
      field("Action", filters.action),
      field("Actor", filters.actor),
      field("Target", filters.target),
      field("From (UTC)", filters.from),
      field("To (UTC)", filters.to),
    ),
    el("button", { type: "submit", text: "Filter" }),
  );
  const list = el("div", { id: "audit-list" });
  const more = el("button", { type: "button", class: "secondary", text: "Older entries", hidden: true });
  root.append(form, list, more);
  let before = null;
  let body = null;
  const load = async (append) => {
    const query = { limit: 50 };
    for (const [name, input] of Object.entries(filters)) {
      const value = input.value.trim();
      if (!value) continue;
      query[name] = name === "from" || name === "to" ? `${value.length === 16 ? `${value}:00` : value}Z` : value;
    }
    if (append && before) query.before = before;
    try {
      const page = await api("GET", "/admin/v1/audit", { query });
      if (!append || !body) {
        clear(list);
        body = el("tbody", {});
        list.append(el("div", { class: "table-wrap" }, el("table", {}, el("thead", {}, el("tr", {}, ["When", "Actor", "Tenant", "Action", "Target", "Detail"].map((h) => el("th", { scope: "col", text: h })))), body)));
      }
      for (const entry of page.data) {
        body.append(el("tr", { "data-audit": entry.id }, td(entry.at), td(entry.actor), td(entry.tenant ?? "–"), td(entry.action), td(entry.target), td(el("pre", { text: entry.detail === null ? "" : JSON.stringify(entry.detail) }))));
      }
      if (!page.data.length && !append) list.append(el("p", { class: "muted", text: "No entries match." }));
      before = page.data.length ? page.data[page.data.length - 1].id : before;
      more.hidden = !page.has_more;
    } catch (e) {
      clear(list);
      body = null;
      list.append(errorBox(e));
    }
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    before = null;
    body = null;
    load(false);
  });
  more.addEventListener("click", () => load(true));
  await load(false);
}

// --------------------------------------------------------------------------- start

function start() {
  $("sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = $("sign-in-error");
    error.textContent = "";
    const key = $("key-input").value.trim();
    try {
      await signIn(key);
      $("key-input").value = "";
    } catch (e) {
      error.textContent = e instanceof ApiError ? e.plain : String(e.message ?? e);
    }
  });
  $("sign-out").addEventListener("click", signOut);
  window.addEventListener("hashchange", route);
  const saved = session.key;
  if (saved) {
    signIn(saved).catch((e) => {
      // Only a refused key signs the tab out; a gateway that is briefly unreachable or busy keeps it.
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
        signOut();
      } else {
        $("sign-in-error").textContent = `Could not check the saved key: ${e instanceof ApiError ? e.plain : String(e.message ?? e)}. Reload to try again.`;
      }
    });
  } else {
    $("key-input").focus();
  }
}

start();
