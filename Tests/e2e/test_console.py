"""The operator console in a real browser: headless chromium (Debian's chromium and chromium-driver) driven by
Selenium against the real gateway binary and the real llama.cpp model server, with a demo catalog, usage and
feedback made through the API first.

Each page is opened and checked against the API, and a screenshot of it is saved under
test-output/console/ (git-ignored); the Chinese overview and the evaluation page also go to docs/images/.
The console is in English and Simplified Chinese: the tests ask for English (the language remembered in
localStorage) unless they test the language itself. The evaluation page is checked against a stand-in for
the evaluation routes that answers as the HTTP contract says (`EvalBackend`), and against the gateway's own
routes once it serves them. TRELLIS_E2E_BROWSER=0 skips the module.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from conftest import (
    MAX_TOKENS,
    REPO,
    UPSTREAM_CHAT_MODEL,
    UPSTREAM_EMBED_MODEL,
    Admin,
    Gateway,
    assert_clean_exit,
    free_port,
    start_gateway,
    stop_gateway,
)

if os.environ.get("TRELLIS_E2E_BROWSER", "1") == "0":
    pytest.skip("TRELLIS_E2E_BROWSER=0", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

SHOTS = REPO / "test-output" / "console"
DOC_IMAGES = REPO / "docs" / "images"
CONSOLE_DIR = REPO / "Sources" / "TrellisServer" / "Resources" / "console"
XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(1)>"
XSS = f"Claims helper {XSS_SCRIPT} {XSS_IMG}"
XSS_TITLE = f"Policy {XSS_IMG} {XSS_SCRIPT} 保单"
DESKTOP = [1280, 800]
WAIT = 60  # seconds; SmolLM2 on one thread answers a short chat in a few seconds


# --------------------------------------------------------------------------- the world


class Demo:
    def __init__(self, gateway: Gateway, admin: Admin) -> None:
        self.gateway = gateway
        self.admin = admin
        self.acme_key = ""

    def usage(self, **query: str) -> dict:
        return self.admin.get("/usage?" + "&".join(f"{k}={v}" for k, v in query.items()))


def chat(gateway: Gateway, key: str, model: str, user: str, text: str) -> str:
    r = requests.post(
        gateway.api_url + "/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": model, "user": user, "max_tokens": 8, "messages": [{"role": "user", "content": text}]},
        timeout=120,
    )
    assert r.status_code == 200, r.text
    return r.headers["x-request-id"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, model_base_url: str) -> Iterator[Demo]:
    """A gateway of its own (so the numbers on the overview are this module's), with two tenants, a priced
    upstream, a shared model with two versions and a hostile description, a knowledge base with a hostile
    document title, a RAG model, and usage with feedback on both versions."""
    gw = start_gateway(tmp_path_factory.mktemp("console-gateway"))
    admin = Admin(gw.url, gw.admin_key)
    d = Demo(gw, admin)
    try:
        for name in ("acme", "globex"):
            admin.post("/tenants", {"name": name})
        # acme's interactions are captured, so a correction given in the playground becomes training data.
        admin.call("PATCH", "/tenants/acme", json={"capture": {"enabled": True, "retention_days": 30}}, expect=(200,))
        admin.post(
            "/upstreams",
            {
                "name": "local",
                "base_url": model_base_url,
                "kind": "llamacpp",
                "labels": ["private"],
                "pricing": {"models": {"*": {"input_per_1k": 0.002, "output_per_1k": 0.004}}},
            },
        )
        admin.post(
            "/models",
            {
                "name": "claims-assistant",
                "description": XSS,
                "spec": {"upstream": "local", "model": UPSTREAM_CHAT_MODEL, "params": {"temperature": 0.2, "max_tokens": MAX_TOKENS}},
            },
        )
        admin.post(
            "/models/claims-assistant/versions",
            {"spec": {"upstream": "local", "model": UPSTREAM_CHAT_MODEL, "params": {"temperature": 0, "max_tokens": MAX_TOKENS}}},
        )
        admin.call("PUT", "/models/claims-assistant/traffic", json={"1": 90, "2": 10}, expect=(200,))
        admin.post(
            "/knowledge-bases",
            {
                "name": "handbook",
                "tenant": "acme",
                "description": "Claims handbook 理赔手册",
                "embedding": {"upstream": "local", "model": UPSTREAM_EMBED_MODEL},
            },
        )
        admin.post(
            "/knowledge-bases/handbook/documents?tenant=acme",
            {"title": XSS_TITLE, "text": "# Grace period\n\nThe grace period for premiums is thirty days. 宽限期为三十天。"},
        )
        admin.post(
            "/models",
            {
                "name": "handbook-assistant",
                "tenant": "acme",
                "description": "Answers from the handbook 根据手册回答",
                "spec": {
                    "upstream": "local",
                    "model": UPSTREAM_CHAT_MODEL,
                    "params": {"temperature": 0, "max_tokens": MAX_TOKENS},
                    "knowledge": {"bases": ["handbook"], "top_k": 2},
                },
            },
        )
        d.acme_key = admin.create_key("acme", "console-e2e", ["inference", "manage", "usage"])["key"]
        # Usage on both versions, from three end users, with feedback.
        for i, (version, user) in enumerate([(1, "u1"), (1, "u2"), (2, "u3"), (2, "u1"), (1, "u3")]):
            rid = chat(gw, d.acme_key, f"claims-assistant@{version}", user, f"Say hello number {i}.")
            rating = 1 if version == 2 or i == 0 else -1
            r = requests.post(
                gw.api_url + "/feedback",
                headers={"Authorization": f"Bearer {d.acme_key}"},
                json={"request_id": rid, "rating": rating},
                timeout=30,
            )
            assert r.status_code in (200, 201), r.text
        chat(gw, d.acme_key, "handbook-assistant", "u2", "How long is the grace period?")
        # The usage rows are written in batches (at most a second apart): wait until the report counts them.
        wait_until(lambda: (d.usage().get("data") or [{}])[0].get("requests") == 6, "usage rows written")
        yield d
    finally:
        assert_clean_exit(gw, stop_gateway(gw))


def wait_until(condition, what: str, timeout: float = 30) -> None:
    WebDriverWait(None, timeout, poll_frequency=0.2).until(lambda _: condition(), f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.fail("chromium and chromedriver are needed (apt-get install chromium chromium-driver; scripts/e2e.sh does)", pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,800", "--lang=en-US", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=driver_path)
    driver = webdriver.Chrome(options=options, service=service)
    # The page itself 1280x800 (the window's frame takes some of --window-size).
    chrome = driver.execute_script("return [window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight]")
    driver.set_window_size(1280 + chrome[0], 800 + chrome[1])
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


# --------------------------------------------------------------------------- helpers


def wait(driver: WebDriver, timeout: float = WAIT) -> WebDriverWait:
    return WebDriverWait(driver, timeout, poll_frequency=0.1)


def find(driver: WebDriver, css: str, timeout: float = WAIT) -> WebElement:
    return wait(driver, timeout).until(EC.visibility_of_element_located((By.CSS_SELECTOR, css)), f"no visible {css}")


LANG_STORAGE = "trellis.console.lang"


def fresh_tab(driver: WebDriver, url: str, lang: str | None = "en") -> None:
    """Forgets the tab's key on a page that runs no script (the console page would sign in again with it) and
    sets the remembered language (None: none, so the console follows the browser's languages). The tests find
    elements by their English text, so they ask for English."""
    driver.get(url + "/console/console.css")
    driver.execute_script(
        "sessionStorage.clear(); localStorage.clear(); if (arguments[1]) localStorage.setItem(arguments[0], arguments[1]);", LANG_STORAGE, lang
    )


def sign_in(driver: WebDriver, gw: Gateway | str, key: str, lang: str | None = "en") -> None:
    url = gw if isinstance(gw, str) else gw.url
    fresh_tab(driver, url, lang)
    driver.get(url + "/console")
    box = find(driver, "#key-input")
    box.clear()
    box.send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "#sign-in-form button[type=submit]").click()
    find(driver, "#nav")
    wait(driver).until(lambda d: d.find_element(By.ID, "who").text.strip() != "")


def open_page(driver: WebDriver, name: str, ready_css: str) -> WebElement:
    driver.find_element(By.CSS_SELECTOR, f'#nav a[data-page="{name}"]').click()
    wait(driver).until(EC.text_to_be_present_in_element_attribute((By.ID, "page"), "data-page", name))
    return find(driver, ready_css)


def shot(driver: WebDriver, name: str) -> None:
    path = SHOTS / f"{name}.png"
    assert driver.save_screenshot(str(path)), path
    assert path.stat().st_size > 5_000, f"{path} looks empty"


def doc_shot(driver: WebDriver, name: str) -> None:
    """A screenshot for the documentation (docs/images/), kept in test-output/console/ too."""
    shot(driver, name)
    DOC_IMAGES.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SHOTS / f"{name}.png", DOC_IMAGES / f"{name}.png")


def assert_no_alert(driver: WebDriver) -> None:
    try:
        alert = driver.switch_to.alert
        text = alert.text
        alert.dismiss()
        pytest.fail(f"an alert fired: {text!r}")
    except NoAlertPresentException:
        pass


def csp_violations(driver: WebDriver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]


def tile(driver: WebDriver, metric: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, f'#overview-tiles dd[data-metric="{metric}"]').text


def expected_tiles(row: dict | None) -> dict[str, str]:
    row = row or {"requests": 0, "users": 0, "errors": 0, "prompt_tokens": 0, "completion_tokens": 0, "p95_ms": None, "cost": 0}
    return {
        "requests": f"{row['requests']:,}",
        "users": f"{row['users']:,}",
        "tokens": f"{row['prompt_tokens'] + row['completion_tokens']:,}",
        # Intl.NumberFormat: grouped, in English as in Chinese.
        "cost": f"{row['cost']:,.4f}",
        "error-rate": f"{100 * row['errors'] / row['requests']:.1f}%" if row["requests"] else "–",
        "p95": f"{row['p95_ms']:,.1f} ms" if row["p95_ms"] is not None else "–",
    }


def utc_days(count: int) -> tuple[str, str]:
    today = dt.datetime.now(dt.timezone.utc).date()
    return (today - dt.timedelta(days=count - 1)).isoformat(), today.isoformat()


# --------------------------------------------------------------------------- the tests


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
    rates = [f"{100 * r['positive'] / (r['positive'] + r['negative']):.1f}%" for r in (report[1], report[2])]
    assert row("Positive feedback") == rates == ["33.3%", "100.0%"]
    assert row("p95 latency") == [f"{report[v]['p95_ms']:,.1f} ms" for v in (1, 2)]
    assert row("Cost") == [f"{report[v]['cost']:,.4f}" for v in (1, 2)]
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


# --------------------------------------------------------------------------- languages


def dictionary(name: str) -> dict[str, str]:
    """The strings of strings-en.js or strings-zh.js: one `"key": "value",` a line."""
    text = (CONSOLE_DIR / name).read_text(encoding="utf-8")
    entries = re.findall(r'^\s*"([^"]+)":\s*"((?:[^"\\]|\\.)*)",\s*$', text, re.M)
    lines = [line for line in text.splitlines() if line.strip().startswith('"')]
    assert len(entries) == len(lines), f"{name}: a line the check cannot read"
    keys = [k for k, _ in entries]
    assert len(keys) == len(set(keys)), f"{name}: a key twice"
    return dict(entries)


def test_both_dictionaries_have_the_same_keys_and_placeholders():
    en, zh = dictionary("strings-en.js"), dictionary("strings-zh.js")
    assert sorted(set(en) - set(zh)) == [], "keys missing in Chinese"
    assert sorted(set(zh) - set(en)) == [], "keys missing in English"
    for key in en:
        assert set(re.findall(r"\{(\w+)\}", en[key])) == set(re.findall(r"\{(\w+)\}", zh[key])), key
        assert zh[key].strip(), key
    # Every key the scripts and the page name is in the dictionaries (keys built at run time from a status,
    # scorer, scope or verdict are listed here).
    scripts = {p.name: p.read_text(encoding="utf-8") for p in CONSOLE_DIR.glob("*.js") if not p.name.startswith("strings-")}
    prefixes = sorted({k.split(".")[0] for k in en if "." in k})
    used = set()
    for text in scripts.values():
        used |= set(re.findall(r'"((?:%s)\.[a-z0-9_]+)"' % "|".join(prefixes), text))
    used |= set(re.findall(r'data-i18n(?:-aria-label)?="([^"]+)"', (CONSOLE_DIR / "index.html").read_text(encoding="utf-8")))
    used |= {f"eval.status_{s}" for s in ("running", "done", "failed", "cancelled")}
    used |= {f"eval.scorer_{s}{h}" for s in ("exact", "contains", "regex", "similarity", "judge") for h in ("", "_hint")}
    used |= {f"keys.scope_{s}" for s in ("inference", "manage", "usage")}
    used |= {f"eval.verdict_{s}" for s in ("better", "worse", "unclear", "none")}
    assert sorted(used - set(en)) == [], "keys used but not defined"
    assert sorted(set(en) - used) == [], "keys defined but never used"


def test_console_files_are_small_served_and_never_build_html():
    """Every file of the console is under 500 lines, compiled in (Package.swift) and served (ConsoleController's
    allowlist); no script builds HTML from strings; only i18n.js touches localStorage (for the language)."""
    package = (REPO / "Package.swift").read_text(encoding="utf-8")
    controller = (REPO / "Sources" / "TrellisServer" / "Controllers" / "ConsoleController.swift").read_text(encoding="utf-8")
    names = sorted(p.name for p in CONSOLE_DIR.iterdir() if p.is_file())
    assert {"index.html", "console.css", "app.js", "lib.js", "i18n.js", "strings-en.js", "strings-zh.js"} <= set(names)
    for name in names:
        text = (CONSOLE_DIR / name).read_text(encoding="utf-8")
        assert len(text.splitlines()) <= 500, f"{name} has {len(text.splitlines())} lines"
        assert f'.embedInCode("Resources/console/{name}")' in package, f"{name} is not in Package.swift"
        symbol = re.sub(r"[^A-Za-z0-9]", "_", name)
        assert re.search(rf'"{re.escape(name)}": \w+\(PackageResources\.{symbol}\b', controller), f"{name} is not served"
        if name.endswith(".js"):
            for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
                assert forbidden not in text, f"{name} uses {forbidden}"
            assert ("localStorage" in text) == (name == "i18n.js"), f"{name}: localStorage"
            for imported in re.findall(r'from "\./([^"]+)"', text):
                assert imported in names, f"{name} imports {imported}, which is not served"


def lang_of(driver: WebDriver) -> str:
    return driver.execute_script("return document.documentElement.lang")


def nav_text(driver: WebDriver, page: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, f'#nav a[data-page="{page}"]').text


def heading(driver: WebDriver) -> str:
    return driver.find_element(By.CSS_SELECTOR, "#page h1").text


def accept_language(driver: WebDriver, languages: str) -> None:
    """What the browser says it prefers (navigator.languages), for the pages loaded after this."""
    agent = driver.execute_script("return navigator.userAgent")
    driver.execute_cdp_cmd("Emulation.setUserAgentOverride", {"userAgent": agent, "acceptLanguage": languages})


def test_chinese_follows_the_browser_and_the_remembered_switch(demo: Demo, browser: WebDriver):
    gw = demo.gateway
    # No choice remembered: the browser's languages decide (this browser prefers en-US).
    sign_in(browser, gw, gw.admin_key, lang=None)
    find(browser, "#overview-tiles")
    assert lang_of(browser) == "en" and nav_text(browser, "overview") == "Overview"
    try:
        accept_language(browser, "zh-TW,en;q=0.8")
        browser.refresh()
        find(browser, "#overview-tiles")
        assert browser.execute_script("return navigator.languages[0]") == "zh-TW"
        assert lang_of(browser) == "zh-CN" and nav_text(browser, "overview") == "概览"
        assert browser.execute_script(f"return localStorage.getItem('{LANG_STORAGE}')") is None
    finally:
        accept_language(browser, "en-US,en")
    browser.refresh()
    find(browser, "#overview-tiles")
    assert nav_text(browser, "overview") == "Overview"

    # The switch: applied at once, to the page on screen, and remembered; the focus stays on it.
    browser.find_element(By.CSS_SELECTOR, '#lang-switch button[data-lang="zh-CN"]').click()
    wait(browser).until(lambda d: heading(d) == "概览")
    find(browser, "#overview-tiles")
    assert lang_of(browser) == "zh-CN"
    assert [nav_text(browser, p) for p in ("overview", "models", "playground", "knowledge", "evaluations", "keys", "audit")] == [
        "概览", "模型", "试用", "知识库", "评测", "密钥", "审计",
    ]
    assert browser.find_element(By.ID, "who").text == "运维管理员"
    assert browser.switch_to.active_element.get_attribute("data-lang") == "zh-CN"
    assert browser.find_element(By.CSS_SELECTOR, '#lang-switch button[data-lang="zh-CN"]').get_attribute("aria-pressed") == "true"
    assert browser.execute_script(f"return localStorage.getItem('{LANG_STORAGE}')") == "zh-CN"
    assert "控制台" in browser.title
    start, end = utc_days(7)
    report = demo.usage(**{"from": start, "to": end})
    for metric, value in expected_tiles(report["data"][0]).items():
        assert tile(browser, metric) == value, metric
    labels = [dt_.text for dt_ in browser.find_elements(By.CSS_SELECTOR, "#overview-tiles dt")]
    assert labels == ["请求数", "活跃终端用户", "Token 数", "费用", "错误率", "p95 延迟"]
    # Dates as Chinese writes them; numbers grouped as Intl.NumberFormat does for zh-CN.
    period = browser.find_element(By.CSS_SELECTOR, "#page-overview .row p.muted").text
    assert re.fullmatch(r"按 UTC 整天统计：\d{4}年\d{1,2}月\d{1,2}日 至 \d{4}年\d{1,2}月\d{1,2}日。", period), period
    formatted = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "import('/console/i18n.js').then((m) => done([m.language(), m.fmtInt(12345), m.fmtCost(1234.5), m.fmtDay('2025-06-05'), m.fmtPct(1, 3)]));"
    )
    assert formatted == ["zh-CN", "12,345", "1,234.5000", "2025年6月5日", "33.3%"]
    assert browser.find_element(By.XPATH, "//h2[text()='热门租户']")
    assert csp_violations(browser) == []
    doc_shot(browser, "console-overview-zh")

    # A reload keeps the choice.
    browser.refresh()
    find(browser, "#overview-tiles")
    assert lang_of(browser) == "zh-CN" and heading(browser) == "概览" and nav_text(browser, "overview") == "概览"
    # Other pages in Chinese, the API's values untouched.
    card = open_page(browser, "models", 'section[data-model="claims-assistant"]')
    assert heading(browser) == "模型" and card.find_element(By.CSS_SELECTOR, "p.description").text == XSS
    assert card.find_element(By.CSS_SELECTOR, ".compare button").text == "版本对比"
    open_page(browser, "audit", "#audit-list table")
    assert [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#audit-list th")][:2] == ["时间", "操作者"]
    assert "年" in browser.find_element(By.CSS_SELECTOR, "#audit-list tr[data-audit] time").text
    # Signed out, the sign-in page is in Chinese too, with the scopes still as code.
    browser.find_element(By.ID, "sign-out").click()
    find(browser, "#key-input")
    assert browser.find_element(By.ID, "sign-in-title").text == "登录"
    assert [c.text for c in browser.find_elements(By.CSS_SELECTOR, "#sign-in p code")] == ["manage", "usage"]
    browser.find_element(By.CSS_SELECTOR, '#lang-switch button[data-lang="en"]').click()
    wait(browser).until(lambda d: d.find_element(By.ID, "sign-in-title").text == "Sign in")
    assert lang_of(browser) == "en" and browser.execute_script(f"return localStorage.getItem('{LANG_STORAGE}')") == "en"


# --------------------------------------------------------------------------- evaluations


def api_error(status: int, message: str, code: str) -> tuple[int, dict]:
    return status, {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}


class EvalBackend:
    """A stand-in for the evaluation routes (/admin/v1/eval-*), answering as the HTTP contract says, in front
    of the gateway: every other request goes to the gateway as it is. A run moves on one item each time it is
    read, so the page's refreshing is what finishes it. `missing`: "all" answers every evaluation route 404
    (a gateway without them), "list" only GET /admin/v1/eval-runs."""

    MODELS_ANSWER = "Hello <img src=x onerror=alert(1)> 你好"

    def __init__(self, gateway_url: str) -> None:
        self.gateway_url = gateway_url
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.reset()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def reset(self) -> None:
        with self.lock:
            self.missing: str | None = None
            self.sets = [{"name": "claims-smoke", "tenant": "acme", "version": 2, "items": 3, "created_at": "2025-06-05T08:00:00Z"}]
            self.runs: dict[str, dict] = {}
            self.started: list[dict] = []
            self.reads: dict[str, list[float]] = {}

    def view(self, run: dict) -> dict:
        out = {k: run[k] for k in ("id", "status", "tenant", "set", "set_version", "models", "scorers", "created_at")}
        out["progress"] = {"done": run["done"], "total": run["total"]}
        out["results"] = []
        for i, label in enumerate(run["models"]):
            name, version = label.split("@")
            passed = min(run["done"] // len(run["models"]), 1 + i)
            out["results"].append(
                {"model": name, "version": int(version), "score": [0.5, 0.8333][i % 2], "passed": passed, "failed": 3 - passed if run["status"] == "done" else 0,
                 "errors": 0, "p50_ms": 1234.5, "tokens": 12345, "cost": 0.0123}
            )
        if run["status"] == "done" and len(run["models"]) == 2:
            out["comparison"] = {"a": run["models"][0], "b": run["models"][1], "better": 2, "worse": 0, "same": 1,
                                 "mean_difference": 0.333, "ci_low": 0.05, "ci_high": 0.61, "confidence": 0.9}
        return out

    def items(self, run: dict) -> list[dict]:
        out = []
        for item in range(1, 4):
            for i, label in enumerate(run["models"]):
                name, version = label.split("@")
                passed = item <= 1 + i
                out.append({"item": item, "model": name, "version": int(version), "answer": f"{self.MODELS_ANSWER} #{item}", "passed": passed,
                            "scores": [{"scorer": "contains", "score": 1.0 if passed else 0.0, "passed": passed, "reason": "expected text found" if passed else "expected text <b>absent</b>"}]})
        return out

    def answer(self, method: str, path: str, body: bytes, authorization: str | None) -> tuple[int, dict | None]:
        if not (authorization or "").startswith("Bearer "):
            return api_error(401, "Missing API key.", "invalid_api_key")
        with self.lock:
            if self.missing == "all" or (self.missing == "list" and method == "GET" and path == "/admin/v1/eval-runs"):
                return api_error(404, f"No route for {method} {path}.", "not_found")
            if method == "GET" and path == "/admin/v1/eval-sets":
                return 200, {"data": self.sets}
            if method == "GET" and path == "/admin/v1/eval-runs":
                return 200, {"data": [self.view(r) for r in reversed(self.runs.values())]}
            if method == "POST" and path == "/admin/v1/eval-runs":
                request = json.loads(body)
                self.started.append(request)
                run_id = f"evr_{len(self.runs) + 1}"
                self.runs[run_id] = {"id": run_id, "status": "running", "tenant": request.get("tenant", "acme"), "set": request["set"], "set_version": 2,
                                     "models": request["models"], "scorers": request["scorers"],
                                     "created_at": "2025-06-05T09:30:00Z", "done": 0, "total": 3 * len(request["models"])}
                return 202, {"id": run_id, "status": "running"}
            match = re.fullmatch(r"/admin/v1/eval-runs/([^/]+)(/items)?", path)
            run = self.runs.get(match.group(1)) if match else None
            if run is None:
                return api_error(404, "The evaluation run does not exist.", "not_found")
            if method == "DELETE" and not match.group(2):
                if run["status"] == "running":
                    run["status"] = "cancelled"
                return 200, {"id": run["id"], "status": run["status"]}
            if method == "GET" and match.group(2):
                return 200, {"data": self.items(run)}
            if method == "GET":
                self.reads.setdefault(run["id"], []).append(time.monotonic())
                if run["status"] == "running":
                    run["done"] += 1
                    if run["done"] >= run["total"]:
                        run["status"] = "done"
                return 200, self.view(run)
            return api_error(405, "Method not allowed.", "method_not_allowed")


class EvalHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    backend: EvalBackend

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.forward("GET")

    def do_POST(self) -> None:
        self.forward("POST")

    def do_PUT(self) -> None:
        self.forward("PUT")

    def do_PATCH(self) -> None:
        self.forward("PATCH")

    def do_DELETE(self) -> None:
        self.forward("DELETE")

    def reply(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def forward(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = urlsplit(self.path).path
        if path.startswith("/admin/v1/eval-"):
            status, payload = self.backend.answer(method, path, body, self.headers.get("Authorization"))
            self.reply(status, [("Content-Type", "application/json")], b"" if payload is None else json.dumps(payload).encode())
            return
        skip = {"host", "connection", "content-length", "accept-encoding"}
        r = requests.request(method, self.backend.gateway_url + self.path, headers={k: v for k, v in self.headers.items() if k.lower() not in skip},
                             data=body or None, timeout=120, allow_redirects=False)
        hop = {"connection", "transfer-encoding", "content-length", "content-encoding", "keep-alive", "date", "server"}
        self.reply(r.status_code, [(k, v) for k, v in r.headers.items() if k.lower() not in hop], r.content)


@pytest.fixture(scope="module")
def eval_backend(demo: Demo) -> Iterator[EvalBackend]:
    backend = EvalBackend(demo.gateway.url)
    handler = type("Handler", (EvalHandler,), {"backend": backend})
    backend.server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    backend.server.daemon_threads = True
    thread = threading.Thread(target=backend.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield backend
    finally:
        backend.server.shutdown()
        backend.server.server_close()


def run_status(driver: WebDriver) -> str | None:
    return driver.find_element(By.ID, "eval-run").get_attribute("data-status")


def test_evaluation_page_follows_the_contract(demo: Demo, browser: WebDriver, eval_backend: EvalBackend):
    mock = eval_backend
    mock.reset()
    sign_in(browser, mock.url, demo.gateway.admin_key)
    open_page(browser, "evaluations", "#eval-sets table")
    row = browser.find_element(By.CSS_SELECTOR, '#eval-sets tr[data-set="claims-smoke"]')
    assert [c.text for c in row.find_elements(By.TAG_NAME, "td")][:4] == ["claims-smoke", "acme", "2", "3"]
    assert "No runs yet." in browser.find_element(By.ID, "eval-runs").text
    # A scorer's own fields show with its box; the page refuses a similarity scorer without its model.
    assert not browser.find_element(By.ID, "eval-pattern").is_displayed()
    browser.find_element(By.ID, "eval-scorer-regex").click()
    find(browser, "#eval-pattern").send_keys("hello|hi")
    browser.find_element(By.ID, "eval-models").send_keys("claims-assistant@1, claims-assistant@2")
    browser.find_element(By.ID, "eval-scorer-similarity").click()
    browser.find_element(By.CSS_SELECTOR, "#eval-start button[type=submit]").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#eval-start .error"), "needs a model"))
    assert browser.switch_to.active_element.get_attribute("id") == "eval-similarity-model" and mock.started == []
    browser.find_element(By.ID, "eval-similarity-model").send_keys("embedder")
    browser.find_element(By.ID, "eval-scorer-judge").click()
    find(browser, "#eval-judge-model").send_keys("claims-assistant@1")
    browser.find_element(By.ID, "eval-rubric").send_keys("Polite and short. 礼貌简短。")
    browser.find_element(By.CSS_SELECTOR, "#eval-start button[type=submit]").click()
    find(browser, "#eval-run")
    assert mock.started == [{
        "set": "claims-smoke", "tenant": "acme", "models": ["claims-assistant@1", "claims-assistant@2"],
        "scorers": [{"type": "exact"}, {"type": "regex", "pattern": "hello|hi"}, {"type": "similarity", "model": "embedder", "threshold": 0.8},
                    {"type": "judge", "model": "claims-assistant@1", "rubric": "Polite and short. 礼貌简短。"}],
    }]
    # The run's progress is read again every 2 s until it ends: six reads move it through its six answers.
    wait(browser, 60).until(lambda d: run_status(d) == "done")
    reads = mock.reads["evr_1"]
    assert len(reads) == 6, reads
    gaps = [b - a for a, b in zip(reads, reads[1:])]
    assert all(1.8 <= g <= 6 for g in gaps), gaps
    progress = browser.find_element(By.ID, "eval-progress")
    assert progress.get_attribute("value") == progress.get_attribute("max") == "6"
    assert browser.find_element(By.ID, "eval-progress-text").text == "6 / 6 (100.0%)"
    assert browser.find_element(By.ID, "eval-status").text == "done"
    meta = browser.find_element(By.ID, "eval-run-meta").text
    assert meta.startswith("set claims-smoke v2 · tenant acme · claims-assistant@1, claims-assistant@2 · scorers: exact, regex, similarity, judge · started "), meta
    cells = [c.text for c in find(browser, '#eval-results tr[data-result="claims-assistant@2"]').find_elements(By.TAG_NAME, "td")]
    assert cells == ["claims-assistant@2", "0.833", "2", "1", "0", "66.7%", "1,234.5 ms", "12,345", "0.0123"]
    comparison = find(browser, "#eval-comparison section")
    assert comparison.get_attribute("data-verdict") == "better"
    values = {e.get_attribute("data-comparison"): e.text for e in comparison.find_elements(By.CSS_SELECTOR, "dd")}
    assert values == {"better": "2", "worse": "0", "same": "1", "mean_difference": "+0.333", "ci": "+0.05 … +0.61"}
    assert "90% confidence interval" in comparison.text and "the 90% interval of the difference is above zero" in comparison.text
    # The items, with the answers and the scorers' reasons as text.
    wait(browser).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#eval-items tr[data-item]")) == 6)
    assert EvalBackend.MODELS_ANSWER in browser.find_element(By.ID, "eval-items").text
    assert "expected text <b>absent</b>" in browser.find_element(By.ID, "eval-items").text
    assert browser.execute_script("return document.querySelectorAll('#page img, #page script, #page b').length") == 0
    assert_no_alert(browser)
    browser.find_element(By.ID, "eval-only-failed").click()
    assert [r.get_attribute("data-passed") for r in browser.find_elements(By.CSS_SELECTOR, "#eval-items tr[data-item]")] == ["false"] * 3
    # The list of runs is read again when a run ends.
    wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, '#eval-runs tr[data-run="evr_1"] td[data-status="done"]'))
    assert csp_violations(browser) == []
    shot(browser, "09-evaluations-contract")
    browser.execute_script("window.scrollTo(0, 0)")
    shot(browser, "09-evaluations-contract-form")

    # Cancelled behind a confirm step.
    browser.find_element(By.CSS_SELECTOR, "#eval-start button[type=submit]").click()
    wait(browser).until(lambda d: d.find_element(By.ID, "eval-run").get_attribute("data-run") == "evr_2")
    find(browser, "#eval-cancel").click()
    find(browser, "#eval-cancel-confirm").click()
    wait(browser).until(lambda d: run_status(d) == "cancelled")
    assert mock.runs["evr_2"]["status"] == "cancelled"
    assert not browser.find_element(By.ID, "eval-cancel").is_displayed()

    # Leaving the page stops the refreshing.
    browser.find_element(By.CSS_SELECTOR, "#eval-start button[type=submit]").click()
    wait(browser).until(lambda d: d.find_element(By.ID, "eval-run").get_attribute("data-run") == "evr_3")
    wait(browser).until(lambda d: len(mock.reads.get("evr_3", [])) >= 2)
    open_page(browser, "overview", "#overview-tiles")
    count = len(mock.reads["evr_3"])
    time.sleep(5)
    assert len(mock.reads["evr_3"]) == count and mock.runs["evr_3"]["status"] == "running"

    # In Chinese.
    open_page(browser, "evaluations", "#eval-runs table")
    browser.find_element(By.CSS_SELECTOR, '#lang-switch button[data-lang="zh-CN"]').click()
    wait(browser).until(lambda d: heading(d) == "评测")
    # The run last opened is shown again when the page is drawn again.
    wait(browser).until(lambda d: d.find_element(By.ID, "eval-run").get_attribute("data-run") == "evr_3")
    find(browser, '#eval-runs tr[data-run="evr_1"] button[data-open-run]').click()
    wait(browser).until(lambda d: run_status(d) == "done")
    assert browser.find_element(By.ID, "eval-status").text == "已完成"
    assert "配对比较" in browser.find_element(By.ID, "eval-comparison").text
    shot(browser, "09-evaluations-contract-zh")
    browser.find_element(By.CSS_SELECTOR, '#lang-switch button[data-lang="en"]').click()
    wait(browser).until(lambda d: heading(d) == "Evaluations")


def test_evaluation_page_without_the_evaluation_api(demo: Demo, browser: WebDriver, eval_backend: EvalBackend):
    """A gateway without the evaluation routes: the page says so. Without the list of runs only: the runs
    started in the tab are listed, and a run opens by its id."""
    mock = eval_backend
    mock.reset()
    mock.missing = "all"
    sign_in(browser, mock.url, demo.gateway.admin_key)
    box = open_page(browser, "evaluations", "#eval-unavailable")
    assert "does not offer evaluations yet" in box.text and "404: " in box.text and "(not_found)" in box.text
    assert not browser.find_elements(By.ID, "eval-start")

    mock.missing = "list"
    browser.refresh()
    find(browser, "#eval-runs-unavailable")
    browser.find_element(By.ID, "eval-models").send_keys("claims-assistant@2")
    browser.find_element(By.CSS_SELECTOR, "#eval-start button[type=submit]").click()
    wait(browser, 60).until(lambda d: d.find_elements(By.ID, "eval-run") and run_status(d) == "done")
    assert find(browser, '#eval-runs tr[data-run="evr_1"]')
    assert not browser.find_elements(By.CSS_SELECTOR, "#eval-comparison section")  # one version: no comparison
    # A run that does not exist is the API's 404, shown as the console shows refusals.
    field_ = browser.find_element(By.ID, "eval-run-id")
    field_.send_keys("evr_404")
    browser.find_element(By.CSS_SELECTOR, "#eval-open-form button[type=submit]").click()
    error = wait(browser).until(lambda d: d.find_element(By.CSS_SELECTOR, "#eval-run .error[role=alert]"))
    assert error.text.startswith("404: ") and "(not_found)" in error.text, error.text


def test_evaluation_page_runs_an_evaluation_on_the_gateway(demo: Demo, browser: WebDriver):
    """The evaluation page against the gateway's own evaluation routes."""
    probe = requests.get(demo.gateway.url + "/admin/v1/eval-sets", headers={"Authorization": f"Bearer {demo.gateway.admin_key}"}, timeout=30)
    if probe.status_code == 404:
        pytest.skip("the gateway does not serve the evaluation API yet (GET /admin/v1/eval-sets answered 404)")
    assert probe.status_code == 200, probe.text
    demo.admin.post("/eval-sets", {"name": "console-smoke", "tenant": "acme", "items": [
        {"input": "Say hello.", "expected": "hello"},
        {"input": "Say the word yes.", "expected": "yes"},
    ]})
    sign_in(browser, demo.gateway, demo.gateway.admin_key)
    open_page(browser, "evaluations", '#eval-sets tr[data-set="console-smoke"]')
    Select(browser.find_element(By.ID, "eval-set")).select_by_visible_text("console-smoke (acme)")
    browser.find_element(By.ID, "eval-models").send_keys("claims-assistant@1, claims-assistant@2")
    browser.find_element(By.ID, "eval-scorer-exact").click()
    browser.find_element(By.ID, "eval-scorer-contains").click()
    browser.find_element(By.CSS_SELECTOR, "#eval-start button[type=submit]").click()
    run = find(browser, "#eval-run")
    run_id = run.get_attribute("data-run")
    wait(browser, 300).until(lambda d: run_status(d) in ("done", "failed", "cancelled"))
    answer = demo.admin.get(f"/eval-runs/{run_id}")
    assert run_status(browser) == answer["status"] == "done", answer
    for result in answer["results"]:
        cells = [c.text for c in find(browser, f'#eval-results tr[data-result="{result["model"]}@{result["version"]}"]').find_elements(By.TAG_NAME, "td")]
        assert cells[2:5] == [f"{result['passed']:,}", f"{result['failed']:,}", f"{result['errors']:,}"], cells
    items = demo.admin.get(f"/eval-runs/{run_id}/items")["data"]
    wait(browser).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#eval-items tr[data-item]")) == len(items))
    assert bool(browser.find_elements(By.CSS_SELECTOR, "#eval-comparison section")) == bool(answer.get("comparison"))
    wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, f'#eval-runs tr[data-run="{run_id}"]'))
    assert csp_violations(browser) == []
    browser.execute_script("window.scrollTo(0, 0)")
    doc_shot(browser, "console-evaluations")
