// The playground: chat with a model or a pinned version, the answer streamed in with a RAG model's citations,
// then a rating or the correct answer (the flywheel's feedback). Chat runs as a tenant.

import { t } from "./i18n.js";
import { el, clear, session, api, ApiError, errorFrom, outcome, field, fmtNum } from "./lib.js";

/** The key that calls models: a tenant's own inference key, else the one pasted for this tab. */
export function inferenceKey(who) {
  if (!who.operator && who.inference) return session.key;
  return session.inferenceKey;
}

/** A field for a tenant key with the inference scope (kept in this tab only), or null when the signed-in key is one. */
export function inferenceKeyField(who, onChange) {
  if (!who.operator && who.inference) return null;
  const input = el("input", { type: "password", autocomplete: "off", spellcheck: "false", id: "inference-key", value: session.inferenceKey ?? "" });
  const save = el("button", { type: "button", class: "secondary", text: t("pg.use_key") });
  save.addEventListener("click", () => {
    session.inferenceKey = input.value.trim();
    onChange();
  });
  return el("div", { class: "card" }, field(t("pg.key_label"), input, t("pg.key_hint")), save);
}

export async function renderPlayground(root, ctx) {
  const keyBox = inferenceKeyField(ctx.who, () => ctx.rerender());
  if (keyBox) root.append(keyBox);
  const key = inferenceKey(ctx.who);
  if (!key) {
    root.append(el("p", { class: "muted", text: t("pg.need_key") }));
    return;
  }
  const models = await api("GET", "/v1/models", { key });
  const modelSelect = el("select", { id: "pg-model" }, models.data.map((m) => el("option", { value: m.id, text: m.id })));
  const version = el("input", { type: "number", min: "1", id: "pg-version", placeholder: t("pg.version_placeholder") });
  const variables = el("textarea", { id: "pg-variables", rows: "2", placeholder: t("pg.variables_placeholder") });
  const system = el("textarea", { id: "pg-system", rows: "2" });
  const message = el("textarea", { id: "pg-message", rows: "3", required: true });
  const maxTokens = el("input", { type: "number", min: "1", id: "pg-max-tokens", value: "64" });
  const send = el("button", { type: "submit", text: t("pg.send") });
  const stop = el("button", { type: "button", class: "secondary", text: t("pg.stop"), disabled: true });
  const form = el(
    "form",
    { class: "card", id: "pg-form" },
    el("div", { class: "row" }, field(t("col.model"), modelSelect), el("div", { class: "shrink" }, field(t("col.version"), version)), el("div", { class: "shrink" }, field(t("pg.max_tokens"), maxTokens))),
    field(t("pg.variables"), variables),
    field(t("pg.system"), system),
    field(t("pg.message"), message),
    send,
    " ",
    stop,
  );
  const status = outcome();
  const answer = el("div", { class: "answer", id: "pg-answer", "aria-live": "polite" });
  const meta = el("p", { class: "muted", id: "pg-meta" });
  const citations = el("ol", { id: "pg-citations" });
  const feedback = el("div", { id: "pg-feedback", hidden: true });
  root.append(form, status.node, el("section", { class: "card", "aria-label": t("pg.answer") }, el("h2", { text: t("pg.answer") }), answer, meta, el("h3", { text: t("pg.citations") }), citations, feedback));

  let controller = null;
  stop.addEventListener("click", () => controller && controller.abort());
  // Leaving the page stops the answer.
  ctx.signal.addEventListener("abort", () => controller && controller.abort());
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
      // The request id comes second: the browser suite reads it from there.
      meta.textContent = `${t("pg.request")} ${requestId ?? "?"} · ${t("pg.served_version", { version: servedVersion ?? "?" })}`;
      answer.dataset.state = "streaming";
      await readStream(response, (event) => {
        if (event.error) throw new ApiError(response.status, String(event.error.message ?? t("pg.stream_failed")), event.error.code ?? null, requestId);
        if (Array.isArray(event.citations)) {
          for (const c of event.citations) {
            citations.append(el("li", { value: String(c.index) }, el("strong", { text: c.title }), ` (${t("common.score", { score: fmtNum(c.score) })}) `, el("span", { class: "muted", text: c.snippet })));
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
      if (e.name === "AbortError") status.ok(t("pg.stopped"));
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
      result.ok(rating > 0 ? t("pg.rated_good") : body.correction ? t("pg.rated_bad_correction") : t("pg.rated_bad"));
    } catch (e) {
      result.show(e);
    }
  };
  return [
    el("h3", { text: t("pg.rate") }),
    el("button", { type: "button", id: "pg-good", text: t("pg.good"), onclick: () => send(1) }),
    " ",
    el("button", { type: "button", class: "secondary", id: "pg-bad", text: t("pg.bad"), onclick: () => send(-1) }),
    field(t("pg.correction"), correction),
    field(t("pg.comment"), comment),
    result.node,
  ];
}
