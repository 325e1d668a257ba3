"""The operator console in a real browser: headless chromium (Debian's chromium and chromium-driver) driven by
Selenium against the real gateway binary and the real llama.cpp model server, with a demo catalog, usage and
feedback made through the API first (the `demo` and `browser` fixtures of console_support.py, shared by every
test_console*.py module).

Sign-in, the overview, models and the version comparison, the playground, knowledge, keys, audit, a tenant admin's
and a usage key's view, and the keyboard alone. Each page is opened and checked against the API, and a screenshot
of it is saved under test-output/console/ (git-ignored). The tests ask for English (the language remembered in
localStorage); test_console_i18n.py tests the languages. TRELLIS_E2E_BROWSER=0 skips the module.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests

if os.environ.get("TRELLIS_E2E_BROWSER", "1") == "0":
    pytest.skip("TRELLIS_E2E_BROWSER=0", allow_module_level=True)
# console_support's asserts are rewritten too (pytest only rewrites test modules and conftest.py by itself).
pytest.register_assert_rewrite("console_support")

from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

from console_support import (  # noqa: E402
    DESKTOP,
    LANG_STORAGE,
    XSS,
    XSS_TITLE,
    Demo,
    assert_no_alert,
    csp_violations,
    expected_tiles,
    find,
    fresh_tab,
    intl_fixed,
    open_page,
    shot,
    sign_in,
    tile,
    utc_days,
    wait,
    wait_until,
)

pytest_plugins = ["console_support"]


def test_sign_in_refuses_a_wrong_key_and_keeps_the_key_out_of_urls_and_cookies(demo: Demo, browser: WebDriver):
    fresh_tab(browser, demo.gateway.url)
    browser.get(demo.gateway.url + "/console/")
    find(browser, "#key-input").send_keys("not-a-key-not-a-key")
    browser.find_element(By.CSS_SELECTOR, "#sign-in-form button[type=submit]").click()
    error = find(browser, "#sign-in-error")
    wait(browser).until(lambda d: "401" in error.text)
    assert browser.find_element(By.ID, "nav").is_displayed() is False
    shot(browser, "00-sign-in-refused")

    sign_in(browser, demo.gateway, demo.gateway.admin_key)
    assert browser.find_element(By.ID, "who").text == "Operator"
    assert demo.gateway.admin_key not in browser.current_url
    assert browser.get_cookies() == []
    assert browser.execute_script("return sessionStorage.getItem('trellis.console.key')") == demo.gateway.admin_key
    # localStorage holds the language and nothing else.
    stored = browser.execute_script("return Object.fromEntries(Object.entries(localStorage))")
    assert stored == {LANG_STORAGE: "en"}, stored
    # A reload keeps the tab signed in; signing out forgets the key.
    browser.refresh()
    find(browser, "#overview-tiles")
    browser.find_element(By.ID, "sign-out").click()
    find(browser, "#key-input")
    assert browser.execute_script("return sessionStorage.getItem('trellis.console.key')") is None


def test_overview_numbers_equal_the_usage_report(demo: Demo, browser: WebDriver):
    sign_in(browser, demo.gateway, demo.gateway.admin_key)
    open_page(browser, "overview", "#overview-tiles")
    for label, days in (("7 d", 7), ("24 h", 2), ("30 d", 30)):
        browser.find_element(By.CSS_SELECTOR, f'button[data-range="{1 if label == "24 h" else days}"]').click()
        find(browser, "#overview-tiles")
        wait(browser).until(
            lambda d: d.find_element(By.CSS_SELECTOR, f'button[data-range="{1 if label == "24 h" else days}"]').get_attribute("aria-pressed") == "true"
        )
        start, end = utc_days(days)
        report = demo.usage(**{"from": start, "to": end})
        assert report["data"], report
        assert report["data"][0]["requests"] == 6, report
        for metric, value in expected_tiles(report["data"][0]).items():
            assert tile(browser, metric) == value, (label, metric)
        if label == "30 d":
            shot(browser, "01-overview")
    # Charts are SVG drawn by the page, and the top models and tenants are listed with the report's counts.
    assert len(browser.find_elements(By.CSS_SELECTOR, "figure.chart-box svg")) >= 8
    by_model = {r["model"]: r["requests"] for r in demo.usage(group_by="model", **dict(zip(("from", "to"), utc_days(30))))["data"]}
    for model, requests_ in by_model.items():
        row = browser.find_element(By.CSS_SELECTOR, f'tr[data-row="{model}"]')
        assert row.find_elements(By.TAG_NAME, "td")[1].text == str(requests_)
    assert browser.find_element(By.CSS_SELECTOR, 'tr[data-row="acme"]').find_elements(By.TAG_NAME, "td")[1].text == "6"
    assert csp_violations(browser) == []
    # A phone-sized window: nothing wider than the screen.
    DESKTOP[:] = [browser.get_window_size()["width"], browser.get_window_size()["height"]]
    browser.set_window_size(390, 844)
    try:
        find(browser, "#overview-tiles")
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
        shot(browser, "01-overview-phone")
    finally:
        browser.set_window_size(*DESKTOP)


def test_models_render_hostile_text_as_text_and_change_the_traffic_split(demo: Demo, browser: WebDriver):
    sign_in(browser, demo.gateway, demo.gateway.admin_key)
    card = open_page(browser, "models", 'section[data-model="claims-assistant"]')
    description = card.find_element(By.CSS_SELECTOR, "p.description")
    assert description.text == XSS
    assert browser.execute_script("return document.querySelectorAll('#page img, #page script').length") == 0
    assert_no_alert(browser)
    rows = card.find_elements(By.CSS_SELECTOR, "tbody tr[data-version]")
    assert [r.get_attribute("data-version") for r in rows] == ["1", "2"]
    assert "local/smollm2" in rows[0].text and '"temperature":0.2' in rows[0].text
    rag = browser.find_element(By.CSS_SELECTOR, 'section[data-model="handbook-assistant"]')
    assert "handbook" in rag.find_element(By.CSS_SELECTOR, 'tr[data-version="1"]').text
    assert "根据手册回答" in rag.text
    shot(browser, "02-models")

    # Cancel changes nothing.
    inputs = card.find_elements(By.CSS_SELECTOR, "form.traffic input[type=number]")
    inputs[0].clear()
    inputs[0].send_keys("50")
    inputs[1].clear()
    inputs[1].send_keys("50")
    card.find_element(By.CSS_SELECTOR, "form.traffic button[type=submit]").click()
    confirm = card.find_element(By.CSS_SELECTOR, ".confirm")
    wait(browser).until(lambda d: confirm.is_displayed())
    assert "v1: 90, v2: 10" in confirm.text and "v1: 50, v2: 50" in confirm.text
    shot(browser, "02-models-confirm")
    # Escape cancels, as the Cancel button does; neither changes anything.
    assert browser.switch_to.active_element.text == "Confirm change"
    ActionChains(browser).send_keys(Keys.ESCAPE).perform()
    wait(browser).until(lambda d: not confirm.is_displayed())
    assert demo.admin.get("/models/claims-assistant")["traffic"] == {"1": 90, "2": 10}
    card.find_element(By.CSS_SELECTOR, "form.traffic button[type=submit]").click()
    wait(browser).until(lambda d: confirm.is_displayed())
    confirm.find_element(By.XPATH, ".//button[text()='Cancel']").click()
    wait(browser).until(lambda d: not confirm.is_displayed())
    assert demo.admin.get("/models/claims-assistant")["traffic"] == {"1": 90, "2": 10}

    card.find_element(By.CSS_SELECTOR, "form.traffic button[type=submit]").click()
    wait(browser).until(lambda d: confirm.is_displayed())
    confirm.find_element(By.XPATH, ".//button[text()='Confirm change']").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, 'section[data-model="claims-assistant"] form.traffic .notice'), "Traffic saved"))
    assert demo.admin.get("/models/claims-assistant")["traffic"] == {"1": 50, "2": 50}
    assert demo.admin.get("/audit?action=model.traffic.set")["data"][0]["target"].endswith("claims-assistant")
    # A refused change is shown plainly: all weights zero is a 400 from the API.
    for box in inputs:
        box.clear()
        box.send_keys("0")
    card.find_element(By.CSS_SELECTOR, "form.traffic button[type=submit]").click()
    wait(browser).until(lambda d: confirm.is_displayed())
    confirm.find_element(By.XPATH, ".//button[text()='Confirm change']").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, 'section[data-model="claims-assistant"] form.traffic .error'), "400"))
    assert demo.admin.get("/models/claims-assistant")["traffic"] == {"1": 50, "2": 50}


def test_version_comparison_matches_the_report(demo: Demo, browser: WebDriver):
    sign_in(browser, demo.gateway, demo.gateway.admin_key)
    card = open_page(browser, "models", 'section[data-model="claims-assistant"]')
    compare = card.find_element(By.CSS_SELECTOR, ".compare")
    compare.find_element(By.XPATH, ".//button[text()='Compare versions']").click()
    table = wait(browser).until(lambda d: compare.find_element(By.CSS_SELECTOR, "table"))
    start, end = utc_days(30)
    report = {r["version"]: r for r in demo.usage(model="claims-assistant", group_by="version", **{"from": start, "to": end})["data"]}
    assert set(report) == {1, 2}
    headers = [th.text for th in table.find_elements(By.CSS_SELECTOR, "thead th")]
    assert headers[1].startswith("v1") and headers[2].startswith("v2")

    def row(metric: str) -> list[str]:
        cells = table.find_element(By.CSS_SELECTOR, f'tr[data-metric="{metric}"]').find_elements(By.TAG_NAME, "td")
        return [c.text for c in cells]

    assert row("Requests") == [str(report[1]["requests"]), str(report[2]["requests"])] == ["3", "2"]
    assert row("Users") == [str(report[1]["users"]), str(report[2]["users"])]
    rates = [f"{intl_fixed(r['positive'] / (r['positive'] + r['negative']), 1, scale=100)}%" for r in (report[1], report[2])]
    assert row("Positive feedback") == rates == ["33.3%", "100.0%"]
    assert row("p95 latency") == [f"{intl_fixed(report[v]['p95_ms'], 1)} ms" for v in (1, 2)]
    assert row("Cost") == [intl_fixed(report[v]["cost"], 4) for v in (1, 2)]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", compare)
    shot(browser, "03-version-comparison")


def test_playground_streams_an_answer_with_citations_and_takes_a_rating(demo: Demo, browser: WebDriver):
    sign_in(browser, demo.gateway, demo.gateway.admin_key)
    # The operator key cannot chat (chat runs as a tenant): the page asks for a tenant key.
    open_page(browser, "playground", "#inference-key").send_keys(demo.acme_key)
    browser.find_element(By.XPATH, "//button[text()='Use this key']").click()
    model = Select(find(browser, "#pg-model"))
    assert {"claims-assistant", "handbook-assistant"} <= {o.get_attribute("value") for o in model.options}
    model.select_by_value("handbook-assistant")
    find(browser, "#pg-message").send_keys("How long is the grace period? 宽限期多长?")
    browser.find_element(By.CSS_SELECTOR, "#pg-form button[type=submit]").click()
    answer = find(browser, "#pg-answer")
    wait(browser).until(lambda d: answer.get_attribute("data-state") in ("done", "error"))
    assert answer.get_attribute("data-state") == "done", browser.find_element(By.ID, "page").text
    assert answer.text.strip(), "no text streamed"
    citations = browser.find_elements(By.CSS_SELECTOR, "#pg-citations li")
    assert citations and XSS_TITLE in citations[0].text
    assert browser.execute_script("return document.querySelectorAll('#page img').length") == 0
    assert_no_alert(browser)
    meta = browser.find_element(By.ID, "pg-meta").text
    request_id = meta.split()[1]
    assert request_id.startswith("req_")
    shot(browser, "04-playground")

    before = demo.usage(model="handbook-assistant")["data"][0]
    find(browser, "#pg-correction").send_keys("The grace period is thirty days. 宽限期为三十天。")
    browser.find_element(By.ID, "pg-bad").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#pg-feedback .notice"), "with the correction"))
    wait_until(lambda: demo.usage(model="handbook-assistant")["data"][0]["negative"] == before["negative"] + 1, "the rating counted")
    # The correction is training data now: the SFT export carries it.
    export = demo.admin.call("GET", "/datasets/export?model=handbook-assistant&format=openai-dpo&tenant=acme", expect=(200,)).text
    assert "宽限期为三十天" in export, export[:300]


def test_knowledge_upload_with_progress_and_search(demo: Demo, browser: WebDriver, tmp_path: Path):
    # A tenant admin: sees only its tenant, and searches with its own key.
    sign_in(browser, demo.gateway, demo.acme_key)
    assert browser.find_element(By.ID, "who").text.startswith("Tenant acme")
    open_page(browser, "knowledge", "#kb-documents table")
    docs = browser.find_element(By.ID, "kb-documents")
    assert XSS_TITLE in docs.text
    assert browser.execute_script("return document.querySelectorAll('#page img, #page script').length") == 0
    assert_no_alert(browser)

    doc = tmp_path / "flood-cover.md"
    doc.write_text("# Flood cover\n\nZanzibarite flood cover pays for water damage after heavy rain.\n\n洪水保障赔付暴雨后的水损。\n", encoding="utf-8")
    find(browser, "#kb-file").send_keys(str(doc))
    browser.find_element(By.ID, "kb-title").send_keys("Flood cover 洪水保障")
    browser.find_element(By.CSS_SELECTOR, "#kb-upload button[type=submit]").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#kb-upload .notice"), "Added"))
    assert browser.find_element(By.ID, "kb-progress").get_attribute("value") == "100"
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "kb-documents"), "Flood cover 洪水保障"))
    titles = [d["title"] for d in demo.admin.get("/knowledge-bases/handbook/documents?tenant=acme")["data"]]
    assert "Flood cover 洪水保障" in titles

    find(browser, "#kb-query").send_keys("Zanzibarite")
    Select(browser.find_element(By.ID, "kb-mode")).select_by_value("keyword")
    browser.find_element(By.CSS_SELECTOR, "#kb-search form button[type=submit]").click()
    first = find(browser, "#kb-results li.hit")
    assert first.find_element(By.CSS_SELECTOR, ".hit-title").text == "Flood cover 洪水保障"
    assert "score" in first.text
    shot(browser, "05-knowledge")

    # Chinese query, hybrid search: the Chinese passage is found too.
    query = browser.find_element(By.ID, "kb-query")
    query.clear()
    query.send_keys("暴雨水损")
    Select(browser.find_element(By.ID, "kb-mode")).select_by_value("hybrid")
    browser.find_element(By.CSS_SELECTOR, "#kb-search form button[type=submit]").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "kb-results"), "洪水保障"))


def test_keys_issue_once_and_revoke(demo: Demo, browser: WebDriver):
    sign_in(browser, demo.gateway, demo.gateway.admin_key)
    open_page(browser, "keys", "#keys-list table")
    Select(browser.find_element(By.ID, "keys-tenant")).select_by_value("globex")
    wait(browser).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#key-issue h2"), "globex"))
    name = find(browser, "#key-name")
    name.clear()
    name.send_keys("from-console")
    browser.find_element(By.CSS_SELECTOR, "#key-issue button[type=submit]").click()
    secret = find(browser, "#new-key").text
    assert secret.startswith("trk-")
    find(browser, "#copy-key").click()
    wait(browser).until(lambda d: d.find_element(By.CSS_SELECTOR, "#key-issued .secret [role=status]").text in ("Copied.", "Selected: press Ctrl+C to copy."))
    r = requests.get(demo.gateway.api_url + "/models", headers={"Authorization": f"Bearer {secret}"}, timeout=30)
    assert r.status_code == 200, r.text
    shot(browser, "06-keys")
    keys = demo.admin.get("/tenants/globex/keys")["data"]
    issued = next(k for k in keys if k["name"] == "from-console")
    row = find(browser, f'tr[data-key="{issued["id"]}"]')
    assert row.find_element(By.CSS_SELECTOR, ".key-state").text == "active"
    # Shown once: a reload of the page lists the key without it.
    open_page(browser, "overview", "#overview-tiles")
    open_page(browser, "keys", "#keys-list table")
    assert secret not in browser.find_element(By.ID, "page").text

    Select(browser.find_element(By.ID, "keys-tenant")).select_by_value("globex")
    row = find(browser, f'tr[data-key="{issued["id"]}"]')
    row.find_element(By.XPATH, ".//button[starts-with(text(), 'Revoke')]").click()
    row.find_element(By.XPATH, ".//button[text()='Confirm revoke']").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, f'tr[data-key="{issued["id"]}"] .key-state'), "revoked"))
    r = requests.get(demo.gateway.api_url + "/models", headers={"Authorization": f"Bearer {secret}"}, timeout=30)
    assert r.status_code == 401, r.text
    assert next(k for k in demo.admin.get("/tenants/globex/keys")["data"] if k["id"] == issued["id"])["revoked"] is True


def test_audit_filters(demo: Demo, browser: WebDriver):
    sign_in(browser, demo.gateway, demo.gateway.admin_key)
    open_page(browser, "audit", "#audit-list table")
    everything = len(browser.find_elements(By.CSS_SELECTOR, "#audit-list tr[data-audit]"))
    api_all = demo.admin.get("/audit?limit=50")["data"]
    assert everything == len(api_all) and everything > 5
    find(browser, "#audit-action").send_keys("model.*")
    browser.find_element(By.CSS_SELECTOR, "#audit-filters button[type=submit]").click()
    expected = demo.admin.get("/audit?limit=50&action=model.*")["data"]
    wait(browser).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#audit-list tr[data-audit]")) == len(expected))
    shown = [r.get_attribute("data-audit") for r in browser.find_elements(By.CSS_SELECTOR, "#audit-list tr[data-audit]")]
    assert shown == [str(e["id"]) for e in expected]
    assert all(r.find_elements(By.TAG_NAME, "td")[3].text.startswith("model.") for r in browser.find_elements(By.CSS_SELECTOR, "#audit-list tr[data-audit]"))
    # A tenant that does not exist is the API's 404, shown plainly.
    find(browser, "#audit-tenant").send_keys("no-such-tenant")
    browser.find_element(By.CSS_SELECTOR, "#audit-filters button[type=submit]").click()
    error = wait(browser).until(lambda d: d.find_element(By.CSS_SELECTOR, "#audit-list .error"))
    assert error.text.startswith("404: ") and "no-such-tenant" in error.text and "(not_found)" in error.text, error.text
    browser.find_element(By.ID, "audit-tenant").clear()
    browser.find_element(By.ID, "audit-action").clear()
    browser.find_element(By.CSS_SELECTOR, "#audit-filters button[type=submit]").click()
    wait(browser).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#audit-list tr[data-audit]")) == everything)
    shot(browser, "07-audit")
    assert csp_violations(browser) == []


def test_tenant_admin_sees_only_its_tenant(demo: Demo, browser: WebDriver):
    sign_in(browser, demo.gateway, demo.acme_key)
    open_page(browser, "overview", "#overview-tiles")
    start, end = utc_days(7)
    report = demo.usage(tenant="acme", **{"from": start, "to": end})
    for metric, value in expected_tiles(report["data"][0] if report["data"] else None).items():
        assert tile(browser, metric) == value, metric
    assert not browser.find_elements(By.XPATH, "//h2[text()='Top tenants']")
    open_page(browser, "keys", "#keys-list")
    assert [o.get_attribute("value") for o in Select(browser.find_element(By.ID, "keys-tenant")).options] == ["acme"]
    assert not browser.find_elements(By.ID, "tenant-create")
    shot(browser, "08-tenant-keys")
    # Its own model's traffic is its to change; a shared model's is the operator's, so no form is offered.
    own = open_page(browser, "models", 'section[data-model="handbook-assistant"]')
    assert own.find_elements(By.CSS_SELECTOR, "form.traffic")
    shared = browser.find_element(By.CSS_SELECTOR, 'section[data-model="claims-assistant"]')
    assert not shared.find_elements(By.CSS_SELECTOR, "form.traffic")
    assert "only the operator" in shared.text


def test_keyboard_only(demo: Demo, browser: WebDriver):
    """Signed in and moved between pages with the keyboard alone; focus lands on each page's heading."""
    fresh_tab(browser, demo.gateway.url)
    browser.get(demo.gateway.url + "/console")
    box = find(browser, "#key-input")
    wait(browser).until(lambda d: d.switch_to.active_element == box)
    box.send_keys(demo.gateway.admin_key + Keys.ENTER)
    find(browser, "#overview-tiles")
    assert browser.switch_to.active_element.tag_name == "h1"
    # From the top of the document: the skip link first, then the section links in order.
    browser.find_element(By.TAG_NAME, "body").click()
    browser.execute_script("document.activeElement.blur(); window.scrollTo(0, 0)")
    ActionChains(browser).send_keys(Keys.TAB).perform()
    assert browser.switch_to.active_element.get_attribute("class") == "skip"
    for _ in range(10):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        if browser.switch_to.active_element.get_attribute("data-page") == "audit":
            break
    assert browser.switch_to.active_element.get_attribute("data-page") == "audit"
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    find(browser, "#audit-list table")
    assert browser.switch_to.active_element.text == "Audit"
    # The skip link jumps to the content and leaves the page as it is (the audit list is not rendered again).
    listing = browser.find_element(By.CSS_SELECTOR, "#audit-list table")
    # Listeners run in the order they were added, so once this one has counted the hash change, the console's
    # own handler (added at start-up) has run too.
    browser.execute_script("window.hashChanges = 0; window.addEventListener('hashchange', () => { window.hashChanges += 1; })")
    browser.find_element(By.CSS_SELECTOR, "a.skip").send_keys(Keys.ENTER)  # focuses the link, then Enter
    wait(browser).until(lambda d: d.execute_script("return window.hashChanges") >= 1)
    assert browser.execute_script("return window.location.hash") == "#main"
    assert browser.find_element(By.ID, "page").get_attribute("data-page") == "audit"
    assert listing.is_displayed()  # the same element: a re-render would have made it stale


def test_usage_key_sees_only_the_overview(demo: Demo, browser: WebDriver):
    """A key with only the `usage` scope: the overview of its tenant, and no page it could not use."""
    key = demo.admin.create_key("acme", "console-usage-only", ["usage"])["key"]
    sign_in(browser, demo.gateway, key)
    find(browser, "#overview-tiles")
    visible = [a.get_attribute("data-page") for a in browser.find_elements(By.CSS_SELECTOR, "#nav a") if a.is_displayed()]
    assert visible == ["overview", "playground"], visible
    start, end = utc_days(7)
    report = demo.usage(tenant="acme", **{"from": start, "to": end})
    assert tile(browser, "requests") == f"{report['data'][0]['requests']:,}"
    # Typed into the address bar, a page the key cannot use falls back to the overview. Go to another page
    # first, so that the overview seen afterwards is a new rendering and not the one already on screen.
    page = browser.find_element(By.ID, "page")
    browser.find_element(By.CSS_SELECTOR, '#nav a[data-page="playground"]').click()
    WebDriverWait(browser, 20).until(lambda _: page.get_attribute("data-page") == "playground")
    browser.get(demo.gateway.url + "/console#/keys")
    WebDriverWait(browser, 20).until(lambda b: b.find_element(By.ID, "page").get_attribute("data-page") == "overview")
    find(browser, "#overview-tiles")
    assert "keys" not in [a.get_attribute("data-page") for a in browser.find_elements(By.CSS_SELECTOR, "#nav a") if a.is_displayed()]
