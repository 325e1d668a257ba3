// Keys and tenants: issue a key (shown once, with a copy button), list and revoke; the operator adds tenants.

import { t } from "./i18n.js";
import { el, clear, api, enc, outcome, field, table, td, when, errorBox } from "./lib.js";

const SCOPES = ["inference", "manage", "usage"];

export async function renderKeys(root, ctx) {
  const who = ctx.who;
  let tenants = [];
  if (who.operator) {
    tenants = (await api("GET", "/admin/v1/tenants")).data.map((x) => x.name);
    const name = el("input", { type: "text", id: "tenant-name", pattern: "[a-z0-9][a-z0-9-]*" });
    const created = outcome();
    const tenantForm = el(
      "form",
      { class: "card", id: "tenant-create" },
      el("h2", { text: t("keys.new_tenant") }),
      field(t("keys.name"), name),
      el("button", { type: "submit", text: t("keys.create_tenant") }),
      created.node,
    );
    tenantForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await api("POST", "/admin/v1/tenants", { body: { name: name.value.trim() } });
        ctx.rerender();
      } catch (e) {
        created.show(e);
      }
    });
    root.append(tenantForm);
  } else if (who.tenant) {
    tenants = [who.tenant];
  }
  if (!tenants.length) {
    root.append(el("p", { class: "muted", text: t("keys.no_tenants") }));
    return;
  }
  const select = el("select", { id: "keys-tenant" }, tenants.map((x) => el("option", { value: x, text: x })));
  const detail = el("div", {});
  root.append(el("div", { class: "card" }, field(t("col.tenant"), select)), detail);
  const show = () => renderTenantKeys(detail, select.value).catch((e) => detail.append(errorBox(e)));
  select.addEventListener("change", show);
  await show();
}

async function renderTenantKeys(root, tenant) {
  clear(root);
  const name = el("input", { type: "text", id: "key-name", value: "console", maxlength: "128" });
  const scopes = SCOPES.map((s) => el("input", { type: "checkbox", value: s, checked: s === "inference", id: `scope-${s}` }));
  const models = el("input", { type: "text", id: "key-models", value: "*" });
  const issued = el("div", { id: "key-issued", "aria-live": "polite" });
  const result = outcome();
  const form = el(
    "form",
    { class: "card", id: "key-issue" },
    el("h2", { text: t("keys.issue_for", { tenant }) }),
    field(t("keys.name"), name),
    el(
      "fieldset",
      {},
      el("legend", { text: t("keys.scopes") }),
      scopes.map((box) => el("label", { class: "inline", for: box.id }, box, box.value, el("span", { class: "muted", text: ` · ${t(`keys.scope_${box.value}`)}` }))),
    ),
    field(t("keys.models"), models),
    el("button", { type: "submit", text: t("keys.issue") }),
    result.node,
    issued,
  );
  const list = el("div", { id: "keys-list" });
  root.append(form, el("h2", { text: t("keys.of", { tenant }) }), list);

  const loadKeys = async () => {
    clear(list);
    const keys = await api("GET", `/admin/v1/tenants/${enc(tenant)}/keys`);
    if (!keys.data.length) {
      list.append(el("p", { class: "muted", text: t("keys.none") }));
      return;
    }
    list.append(
      table(
        [t("keys.name"), t("col.prefix"), t("keys.scopes"), t("col.models"), t("col.created"), t("col.state"), ""],
        keys.data.map((k) => {
          const cell = el("td", {});
          if (!k.revoked) {
            const revoke = el("button", { type: "button", class: "danger", text: t("keys.revoke"), "aria-label": t("keys.revoke_label", { name: k.name, prefix: k.prefix }) });
            revoke.addEventListener("click", () => {
              clear(cell);
              const yes = el("button", { type: "button", class: "danger", text: t("keys.confirm_revoke") });
              const no = el("button", { type: "button", class: "secondary", text: t("common.cancel") });
              cell.append(el("span", { text: `${t("keys.revoke_question", { prefix: k.prefix })} ` }), yes, " ", no);
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
          const state = k.revoked ? el("span", {}, `${t("keys.revoked")} `, k.revoked_at ? when(k.revoked_at) : "") : t("keys.active");
          return el(
            "tr",
            { "data-key": k.id },
            td(k.name),
            td(el("code", { text: k.prefix })),
            td(k.scopes.join(", ")),
            td(k.models.join(", ")),
            td(when(k.created_at)),
            td(state, { class: "key-state", "data-state": k.revoked ? "revoked" : "active" }),
            cell,
          );
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
      const copy = el("button", { type: "button", class: "secondary", id: "copy-key", text: t("keys.copy") });
      const copied = el("span", { role: "status" });
      copy.addEventListener("click", async () => {
        try {
          await navigator.clipboard.writeText(key.key);
          copied.textContent = t("keys.copied");
        } catch (_) {
          const range = document.createRange();
          range.selectNodeContents(code);
          const selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
          copied.textContent = t("keys.selected");
        }
      });
      issued.append(el("p", { class: "notice", text: t("keys.issued", { prefix: key.prefix }) }), el("div", { class: "secret" }, code, copy, copied));
      await loadKeys();
    } catch (e) {
      result.show(e);
    }
  });
  await loadKeys();
}
