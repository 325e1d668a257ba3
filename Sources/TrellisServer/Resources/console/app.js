// The Trellis console: a client of the admin API and the OpenAI-compatible API, with the signed-in key.
// Every value from the API is put in the page as text (textContent, text nodes), never parsed as HTML.
// This module is the shell (sign-in, navigation, language); each page is a module of its own (page-*.js).

import { t, initLanguage, chooseLanguage, language, translateStatic } from "./i18n.js";
import { el, clear, session, api, ApiError, errorBox, errorText } from "./lib.js";
import { renderOverview } from "./page-overview.js";
import { renderModels } from "./page-models.js";
import { renderPlayground } from "./page-playground.js";
import { renderKnowledge } from "./page-knowledge.js";
import { renderEvaluations } from "./page-evaluations.js";
import { renderKeys } from "./page-keys.js";
import { renderAudit } from "./page-audit.js";

const state = {
  who: null, // {operator, manage, usage, inference, tenant}
  attempt: 0, // the latest sign-in or sign-out; an older sign-in that finishes later is dropped
  page: null, // the AbortController of the page on screen: aborted when it is left (stops its timers and streams)
};

// `title` is a string key. Each page's render(root, ctx) gets ctx = {who, rerender, signal}.
const PAGES = {
  overview: { title: "page.overview", allowed: (w) => w.operator || w.manage || w.usage, render: renderOverview },
  models: { title: "page.models", allowed: (w) => w.operator || w.manage, render: renderModels },
  playground: { title: "page.playground", allowed: () => true, render: renderPlayground },
  knowledge: { title: "page.knowledge", allowed: (w) => w.operator || w.manage, render: renderKnowledge },
  evaluations: { title: "page.evaluations", allowed: (w) => w.operator || w.manage, render: renderEvaluations },
  keys: { title: "page.keys", allowed: (w) => w.operator || w.manage, render: renderKeys },
  audit: { title: "page.audit", allowed: (w) => w.operator || w.manage, render: renderAudit },
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
  if (!who.manage && !who.usage && !who.inference) throw new ApiError(403, t("signin.no_scope"), "forbidden");
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

function leavePage() {
  if (state.page) state.page.abort();
  state.page = null;
}

function signOut() {
  state.attempt += 1;
  leavePage();
  session.clear();
  state.who = null;
  $("page").hidden = true;
  clear($("page"));
  delete $("page").dataset.page;
  $("nav").hidden = true;
  $("sign-out").hidden = true;
  $("who").textContent = "";
  $("sign-in").hidden = false;
  $("key-input").value = "";
  $("key-input").focus();
  document.title = t("title.console");
  if (window.location.hash) history.replaceState(null, "", window.location.pathname);
}

function whoText(who) {
  if (who.operator) return t("who.operator");
  return t("who.tenant", { tenant: who.tenant ?? t("who.usage_key") }) + (who.manage ? t("who.manage") : "");
}

function showShell() {
  const who = state.who;
  $("sign-in").hidden = true;
  $("page").hidden = false;
  $("nav").hidden = false;
  $("sign-out").hidden = false;
  $("who").textContent = whoText(who);
  for (const link of document.querySelectorAll("#nav a")) {
    link.parentElement.hidden = !PAGES[link.dataset.page].allowed(who);
  }
  route();
}

/** Renders the page the address names (or the first the key may use). `keepFocus`: leave the focus where it is
 * (a language change), instead of moving it to the page's heading. */
function route({ keepFocus = false } = {}) {
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
  leavePage();
  const leave = new AbortController();
  state.page = leave;
  const page = clear($("page"));
  page.dataset.page = name;
  const title = t(PAGES[name].title);
  document.title = t("title.page", { page: title });
  const heading = el("h1", { tabindex: "-1", text: title });
  page.append(heading);
  const body = el("div", { id: `page-${name}` });
  page.append(body);
  if (!keepFocus) heading.focus();
  const ctx = { who: state.who, rerender: () => route(), signal: leave.signal };
  PAGES[name].render(body, ctx).catch((e) => {
    if (!leave.signal.aborted) body.append(errorBox(e));
  });
}

// --------------------------------------------------------------------------- language

function showLanguage() {
  translateStatic();
  for (const button of document.querySelectorAll("#lang-switch button[data-lang]")) {
    button.setAttribute("aria-pressed", String(button.dataset.lang === language()));
  }
  if (state.who) $("who").textContent = whoText(state.who);
  else document.title = t("title.console");
}

function switchLanguage(code) {
  if (code === language()) return;
  chooseLanguage(code);
  showLanguage();
  // The page on screen is drawn again in the new language; the focus stays on the switch.
  if (state.who) route({ keepFocus: true });
  const error = $("sign-in-error");
  if (error.textContent) error.textContent = "";
}

// --------------------------------------------------------------------------- start

function start() {
  initLanguage();
  showLanguage();
  for (const button of document.querySelectorAll("#lang-switch button[data-lang]")) {
    button.addEventListener("click", () => switchLanguage(button.dataset.lang));
  }
  $("sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = $("sign-in-error");
    error.textContent = "";
    const key = $("key-input").value.trim();
    try {
      await signIn(key);
      $("key-input").value = "";
    } catch (e) {
      error.textContent = errorText(e);
    }
  });
  $("sign-out").addEventListener("click", signOut);
  window.addEventListener("hashchange", () => route());
  const saved = session.key;
  if (saved) {
    signIn(saved).catch((e) => {
      // Only a refused key signs the tab out; a gateway that is briefly unreachable or busy keeps it.
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
        signOut();
      } else {
        $("sign-in-error").textContent = t("signin.saved_key_failed", { error: errorText(e) });
      }
    });
  } else {
    $("key-input").focus();
  }
}

start();
