// Knowledge: the bases, their documents, uploads with progress, and search with the ranked chunks and scores.

import { t } from "./i18n.js";
import { el, clear, session, api, ApiError, enc, outcome, field, table, td, when, errorBox, fmtInt, fmtNum } from "./lib.js";
import { inferenceKeyField } from "./page-playground.js";

export async function renderKnowledge(root, ctx) {
  const bases = await api("GET", "/admin/v1/knowledge-bases");
  if (!bases.data.length) {
    root.append(el("p", { class: "muted", text: t("kb.none") }));
    return;
  }
  const select = el("select", { id: "kb-select" }, bases.data.map((kb, i) => el("option", { value: String(i), text: kb.tenant ? `${kb.name} (${kb.tenant})` : kb.name })));
  const detail = el("div", {});
  root.append(el("div", { class: "card" }, field(t("kb.base"), select)), detail);
  const show = () => renderKnowledgeBase(detail, bases.data[Number(select.value)], ctx).catch((e) => detail.append(errorBox(e)));
  select.addEventListener("change", show);
  await show();
}

async function renderKnowledgeBase(root, kb, ctx) {
  clear(root);
  const scope = kb.tenant ? { tenant: kb.tenant } : {};
  const base = `/admin/v1/knowledge-bases/${enc(kb.name)}`;
  root.append(
    el(
      "p",
      { class: "muted" },
      kb.description ?? "",
      kb.embedding ? ` · ${t("kb.embeddings", { upstream: kb.embedding.upstream, model: kb.embedding.model })}` : ` · ${t("kb.keyword_only")}`,
      ` · ${t("kb.chunks_of", { size: fmtInt(kb.chunk_size) })}`,
    ),
  );

  // Documents.
  const docs = el("div", { id: "kb-documents" });
  const loadDocs = async () => {
    clear(docs);
    try {
      const list = await api("GET", `${base}/documents`, { query: scope });
      if (!list.data.length) {
        docs.append(el("p", { class: "muted", text: t("kb.no_documents") }));
        return;
      }
      docs.append(
        table(
          [t("col.title"), t("col.type"), { label: t("col.bytes"), num: true }, { label: t("col.chunks"), num: true }, t("col.added")],
          list.data.map((d) => el("tr", { "data-document": d.id }, td(d.title), td(d.content_type), td(fmtInt(d.bytes), { class: "num" }), td(fmtInt(d.chunks), { class: "num" }), td(when(d.created_at)))),
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
  const uploadForm = el(
    "form",
    { class: "card", id: "kb-upload" },
    el("h2", { text: t("kb.upload") }),
    field(t("kb.file"), file),
    field(t("kb.title_optional"), title),
    el("button", { type: "submit", text: t("kb.upload_button") }),
    progress,
    uploaded.node,
  );
  uploadForm.addEventListener("submit", (event) => {
    event.preventDefault();
    uploaded.clear();
    if (!file.files.length) {
      uploaded.show(new Error(t("kb.choose_file")));
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
        uploaded.ok(t("kb.added", { title: body.title, chunks: fmtInt(body.chunks) }));
        uploadForm.reset();
        loadDocs();
      } else {
        uploaded.show(new ApiError(xhr.status, body && body.error ? String(body.error.message) : xhr.statusText || t("kb.upload_failed"), body && body.error ? body.error.code : null));
      }
    });
    xhr.addEventListener("error", () => uploaded.show(new ApiError(0, t("kb.upload_unreachable"), null)));
    xhr.send(form);
  });

  // Search (runs as a tenant: the search route takes a tenant key).
  const searchRoot = el("section", { class: "card", id: "kb-search" }, el("h2", { text: t("kb.search") }));
  // A tenant's own key searches its bases; the operator pastes a key of the base's tenant.
  const keyBox = ctx.who.operator ? inferenceKeyField(ctx.who, () => ctx.rerender()) : null;
  const searchKey = !ctx.who.operator ? session.key : session.inferenceKey;
  if (keyBox) {
    searchRoot.append(keyBox);
    searchRoot.append(el("p", { class: "muted", text: t("kb.search_needs_key", { name: kb.name, tenant: kb.tenant ?? t("kb.shared") }) }));
  }
  const query = el("input", { type: "search", id: "kb-query" });
  const modes = [
    ["default", "kb.mode_default"],
    ["hybrid", "kb.mode_hybrid"],
    ["keyword", "kb.mode_keyword"],
    ["vector", "kb.mode_vector"],
  ];
  const mode = el("select", { id: "kb-mode" }, modes.map(([value, label]) => el("option", { value, text: t(label) })));
  const results = el("ol", { id: "kb-results" });
  const searched = outcome();
  const searchForm = el(
    "form",
    {},
    el("div", { class: "row" }, field(t("kb.query"), query), el("div", { class: "shrink" }, field(t("kb.mode"), mode))),
    el("button", { type: "submit", text: t("kb.search_button"), disabled: !searchKey }),
    searched.node,
    results,
  );
  searchForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    searched.clear();
    clear(results);
    const body = { query: query.value, top_k: 8 };
    if (mode.value !== "default") body.mode = mode.value;
    try {
      const answer = await api("POST", `/v1/knowledge-bases/${enc(kb.name)}/search`, { body, key: searchKey });
      searched.ok(t("kb.found", { count: fmtInt(answer.data.length), mode: answer.mode }));
      for (const hit of answer.data) {
        results.append(
          el(
            "li",
            { class: "hit", "data-document": hit.document_id },
            el("strong", { class: "hit-title", text: hit.title }),
            " ",
            el("span", { class: "tag", text: t("common.score", { score: fmtNum(hit.score) }) }),
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
  root.append(el("h2", { text: t("kb.documents") }), docs, uploadForm, searchRoot);
  await loadDocs();
}
