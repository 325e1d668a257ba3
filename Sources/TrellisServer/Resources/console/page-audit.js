// Audit: the log of who changed what, filtered by tenant, action, actor, target and time, newest first.

import { t } from "./i18n.js";
import { el, clear, api, field, td, when, errorBox } from "./lib.js";

export async function renderAudit(root, ctx) {
  const filters = {
    tenant: el("input", { type: "text", id: "audit-tenant" }),
    action: el("input", { type: "text", id: "audit-action", placeholder: t("audit.action_placeholder") }),
    actor: el("input", { type: "text", id: "audit-actor", placeholder: t("audit.actor_placeholder") }),
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
      ctx.who.operator ? field(t("col.tenant"), filters.tenant) : null,
      field(t("audit.action"), filters.action),
      field(t("audit.actor"), filters.actor),
      field(t("audit.target"), filters.target),
      field(t("audit.from"), filters.from),
      field(t("audit.to"), filters.to),
    ),
    el("button", { type: "submit", text: t("audit.filter") }),
  );
  const list = el("div", { id: "audit-list" });
  const more = el("button", { type: "button", class: "secondary", text: t("audit.older"), hidden: true });
  root.append(form, list, more);
  let before = null;
  let body = null;
  const headers = [t("audit.when"), t("audit.actor"), t("col.tenant"), t("audit.action"), t("audit.target"), t("audit.detail")];
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
        list.append(el("div", { class: "table-wrap" }, el("table", {}, el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col", text: h })))), body)));
      }
      for (const entry of page.data) {
        body.append(
          el(
            "tr",
            { "data-audit": entry.id },
            td(when(entry.at)),
            td(entry.actor),
            td(entry.tenant ?? "–"),
            td(entry.action),
            td(entry.target),
            td(el("pre", { text: entry.detail === null ? "" : JSON.stringify(entry.detail) })),
          ),
        );
      }
      if (!page.data.length && !append) list.append(el("p", { class: "muted", text: t("audit.none") }));
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
