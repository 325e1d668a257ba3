"""The overview's business view ("2-3-1": usage, efficiency, quality, evaluation) in a real browser (the `demo` and
`browser` fixtures of console_support.py), in English and in Chinese: checked against a stand-in for
GET /admin/v1/usage/overview that answers as the contract says (`OverviewBackend`, in front of the gateway), and
against the gateway's own route once it serves it. Its screenshot goes to docs/images/console-overview-231.png.
TRELLIS_E2E_BROWSER=0 skips the module.

The contract relied on: `GET /admin/v1/usage/overview?from=&to=` answers
`{"from", "to", "usage": [{"day", "model", "requests", "users"}],
  "efficiency": {"router_requests", "small_model_requests", "small_model_share", "cost", "cost_saved",
                 "routers": [{"model", "default", "requests", "small_model_requests", "cost", "cost_saved"}]},
  "quality": [{"model", "version", "requests", "rated", "positive", "negative", "corrections", "feedback_rate",
               "correction_rate"}],
  "evaluation": [{"model", "version", "score", "passed", "total", "set", "set_version", "run", "finished_at"}]}`;
the console sends no `tenant` (a tenant's key sees its own tenant; the operator sees every tenant).
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Callable, Iterator
from urllib.parse import parse_qsl

import pytest
import requests

if os.environ.get("TRELLIS_E2E_BROWSER", "1") == "0":
    pytest.skip("TRELLIS_E2E_BROWSER=0", allow_module_level=True)
# console_support's asserts are rewritten too (pytest only rewrites test modules and conftest.py by itself).
pytest.register_assert_rewrite("console_support")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402

from console_support import (  # noqa: E402
    XSS_IMG,
    Demo,
    StandIn,
    api_error,
    assert_no_alert,
    csp_violations,
    doc_shot,
    find,
    heading,
    intl_fixed,
    serving,
    shot,
    sign_in,
    utc_days,
    wait,
)

pytest_plugins = ["console_support"]

HOSTILE_MODEL = f"claims <b>bot</b> {XSS_IMG}"
HEADINGS = {"en": ["Usage", "Efficiency", "Quality", "Evaluation"], "zh-CN": ["使用情况", "降本增效", "体验质量", "评测"]}


def demo_answer(start: str, end: str, second_model: str = "claims-assistant") -> dict:
    """The contract's example, with its days moved into the period asked for, and a second model."""
    last = dt.date.fromisoformat(end)
    day = lambda back: (last - dt.timedelta(days=back)).isoformat()  # noqa: E731
    return {
        "from": start,
        "to": end,
        "usage": [
            {"day": day(3), "model": "assistant", "requests": 8, "users": 4},
            {"day": day(1), "model": "assistant", "requests": 5, "users": 2},
            {"day": day(0), "model": "assistant", "requests": 12, "users": 3},
            {"day": day(0), "model": second_model, "requests": 2, "users": 1},
        ],
        "efficiency": {
            "router_requests": 40, "small_model_requests": 31, "small_model_share": 0.775, "cost": 1.23, "cost_saved": 4.56,
            "routers": [{"model": "assistant", "default": "large", "requests": 40, "small_model_requests": 31, "cost": 1.23, "cost_saved": 4.56}],
        },
        "quality": [
            {"model": "assistant", "version": 1, "requests": 80, "rated": 8, "positive": 2, "negative": 6, "corrections": 4,
             "feedback_rate": 0.1, "correction_rate": 0.05},
            {"model": "assistant", "version": 2, "requests": 120, "rated": 30, "positive": 25, "negative": 5, "corrections": 3,
             "feedback_rate": 0.25, "correction_rate": 0.025},
        ],
        "evaluation": [
            {"model": "assistant", "version": 1, "score": 0.7, "passed": 14, "total": 20, "set": "golden", "set_version": 1,
             "run": "evr_0a1b", "finished_at": "2026-12-05T09:00:00Z"},
            {"model": "assistant", "version": 2, "score": 0.86, "passed": 17, "total": 20, "set": "golden", "set_version": 1,
             "run": "evr_2c3d", "finished_at": "2026-12-06T10:00:00Z"},
        ],
    }


def hostile_answer(start: str, end: str) -> dict:
    """The demo answer with a model named in HTML, to be shown as text."""
    return demo_answer(start, end, second_model=HOSTILE_MODEL)


def empty_answer(start: str, end: str) -> dict:
    return {"from": start, "to": end, "usage": [], "quality": [], "evaluation": [],
            "efficiency": {"router_requests": 0, "small_model_requests": 0, "small_model_share": 0, "cost": 0, "cost_saved": 0, "routers": []}}


class OverviewBackend(StandIn):
    """A stand-in for GET /admin/v1/usage/overview, answering `make(from, to)` (or 404, a gateway without the
    route, when `missing`), in front of the gateway. `queries` are the query strings it was asked with."""

    def __init__(self, gateway_url: str) -> None:
        super().__init__(gateway_url)
        self.reset()

    def reset(self, make: Callable[[str, str], dict] = demo_answer, missing: bool = False) -> None:
        with self.lock:
            self.make = make
            self.missing = missing
            self.queries: list[dict[str, str]] = []

    def handles(self, path: str) -> bool:
        return path == "/admin/v1/usage/overview"

    def answer(self, method: str, path: str, query: str, body: bytes, authorization: str | None) -> tuple[int, dict | None]:
        if not (authorization or "").startswith("Bearer "):
            return api_error(401, "Missing API key.", "invalid_api_key")
        with self.lock:
            if self.missing:
                return api_error(404, f"No route for {method} {path}.", "not_found")
            if method != "GET":
                return api_error(405, "Method not allowed.", "method_not_allowed")
            asked = dict(parse_qsl(query))
            self.queries.append(asked)
            return 200, self.make(asked["from"], asked["to"])


@pytest.fixture(scope="module")
def overview_backend(demo: Demo) -> Iterator[OverviewBackend]:
    with serving(OverviewBackend(demo.gateway.url)) as backend:
        yield backend


# --------------------------------------------------------------------------- helpers


def view_state(driver: WebDriver) -> str | None:
    places = driver.find_elements(By.ID, "overview-231")
    return places[0].get_attribute("data-state") if places else None


def wait_for_view(driver: WebDriver) -> str:
    """Waits until the view has its answer; its state: ready, error or unavailable."""
    wait(driver).until(lambda d: view_state(d) in ("ready", "error", "unavailable"), "the overview's business view never settled")
    return view_state(driver)


def section(driver: WebDriver, name: str) -> WebElement:
    return driver.find_element(By.CSS_SELECTOR, f'#overview-231 section[data-section="{name}"]')


def headings(driver: WebDriver) -> list[str]:
    return [h.text for h in driver.find_elements(By.CSS_SELECTOR, "#overview-231 section > h2")]


def fields(row: WebElement) -> dict[str, str]:
    return {c.get_attribute("data-field"): c.text for c in row.find_elements(By.CSS_SELECTOR, "td[data-field]")}


def row_of(driver: WebDriver, name: str, attribute: str, value: str) -> WebElement:
    return section(driver, name).find_element(By.CSS_SELECTOR, f'tr[{attribute}="{value}"]')


def figure(driver: WebDriver, name: str) -> str:
    return section(driver, "efficiency").find_element(By.CSS_SELECTOR, f'dd[data-figure="{name}"]').text


def pct(value: float | None) -> str:
    return "–" if value is None else f"{intl_fixed(value, 1, scale=100)}%"


def cost(value: float) -> str:
    return intl_fixed(value, 4)


def score(value: float | None) -> str:
    """As Intl.NumberFormat with at most three decimals writes it."""
    return "–" if value is None else intl_fixed(value, 3).rstrip("0").rstrip(".")


def label(row: dict) -> str:
    """A model version as the view names it: name@version, or the name alone without a version."""
    return row["model"] if row.get("version") is None else f"{row['model']}@{row['version']}"


def check_figures(driver: WebDriver, second_model: str = "claims-assistant") -> None:
    """The demo answer's figures, the same in both languages."""
    rows = section(driver, "usage").find_elements(By.CSS_SELECTOR, "tbody tr")
    assert [r.get_attribute("data-model") for r in rows] == ["assistant", second_model]
    assert rows[1].find_element(By.TAG_NAME, "td").text == second_model
    assert fields(rows[0]) == {"requests": "25", "peak_users": "4"}
    assert fields(rows[1]) == {"requests": "2", "peak_users": "1"}
    sparks = rows[0].find_elements(By.CSS_SELECTOR, "svg.spark")
    assert [s.get_attribute("data-values") for s in sparks] == ["0,0,0,8,0,5,12", "0,0,0,4,0,2,3"]
    namespaces = driver.execute_script("return [...arguments[0].querySelectorAll('svg, polyline')].map((e) => e.namespaceURI)", rows[0])
    assert namespaces == ["http://www.w3.org/2000/svg"] * 4
    assert [len(p.get_attribute("points").split()) for p in rows[0].find_elements(By.CSS_SELECTOR, "polyline")] == [7, 7]

    assert figure(driver, "small-model-share") == "77.5%"
    assert figure(driver, "cost-saved") == "4.5600"
    assert figure(driver, "cost") == "1.2300"
    assert fields(row_of(driver, "efficiency", "data-model", "assistant")) == {
        "requests": "40", "small_model_requests": "31", "share": "77.5%", "cost": "1.2300", "cost_saved": "4.5600",
    }
    assert fields(row_of(driver, "quality", "data-model-version", "assistant@2")) == {
        "requests": "120", "rated": "30", "feedback_rate": "25.0%", "positive": "25", "negative": "5", "corrections": "3", "correction_rate": "2.5%",
    }
    assert fields(row_of(driver, "quality", "data-model-version", "assistant@1"))["correction_rate"] == "5.0%"
    latest = fields(row_of(driver, "evaluation", "data-model-version", "assistant@2"))
    assert {k: latest[k] for k in ("score", "passed", "set", "run")} == {"score": "0.86", "passed": "17 / 20", "set": "golden v1", "run": "evr_2c3d"}
    assert "2026" in latest["finished_at"]
    assert fields(row_of(driver, "evaluation", "data-model-version", "assistant@1"))["score"] == "0.7"
    # The model's name is text: nothing it names became an element.
    assert driver.execute_script("return document.querySelectorAll('#overview-231 img, #overview-231 b, #overview-231 script').length") == 0
    assert not driver.find_elements(By.CSS_SELECTOR, "#overview-231 .no-data, #overview-231 .error")


# --------------------------------------------------------------------------- the tests


def test_overview_shows_the_2_3_1_view_in_both_languages(demo: Demo, browser: WebDriver, overview_backend: OverviewBackend):
    backend = overview_backend
    backend.reset()
    sign_in(browser, backend.url, demo.gateway.admin_key)
    find(browser, "#overview-tiles")
    assert wait_for_view(browser) == "ready"
    start, end = utc_days(7)
    assert backend.queries == [{"from": start, "to": end}]  # the page's period, and no tenant
    assert headings(browser) == HEADINGS["en"]
    check_figures(browser)
    note = section(browser, "efficiency").find_element(By.CSS_SELECTOR, "dd.note").text
    assert note == "31 of 40 router requests"
    assert "Dec 6, 2026" in fields(row_of(browser, "evaluation", "data-model-version", "assistant@2"))["finished_at"]
    # The technical figures are still there, after the view.
    assert len(browser.find_elements(By.CSS_SELECTOR, "figure.chart-box svg")) >= 6
    assert_no_alert(browser)
    assert csp_violations(browser) == []
    browser.execute_script("document.getElementById('overview-231').scrollIntoView()")
    shot(browser, "10-overview-231")

    # Another period asks again, for that period.
    browser.find_element(By.CSS_SELECTOR, 'button[data-range="30"]').click()
    wait(browser).until(lambda d: len(backend.queries) == 2 and view_state(d) == "ready")
    start, end = utc_days(30)
    assert backend.queries[1] == {"from": start, "to": end}
    spark = section(browser, "usage").find_element(By.CSS_SELECTOR, 'tr[data-model="assistant"] svg.spark')
    assert spark.get_attribute("data-values").split(",")[-4:] == ["8", "0", "5", "12"]
    assert len(spark.get_attribute("data-values").split(",")) == 30

    # A phone-sized window: nothing wider than the screen.
    desktop = browser.get_window_size()
    browser.set_window_size(390, 844)
    try:
        find(browser, "#overview-231 section")
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
        shot(browser, "10-overview-231-phone")
    finally:
        browser.set_window_size(desktop["width"], desktop["height"])

    # In Chinese: the same figures, the headings and dates of the language.
    browser.find_element(By.CSS_SELECTOR, 'button[data-range="7"]').click()
    wait(browser).until(lambda d: len(backend.queries) == 3 and view_state(d) == "ready")
    browser.find_element(By.CSS_SELECTOR, '#lang-switch button[data-lang="zh-CN"]').click()
    wait(browser).until(lambda d: heading(d) == "概览")
    wait(browser).until(lambda d: len(backend.queries) == 4 and view_state(d) == "ready")
    assert headings(browser) == HEADINGS["zh-CN"]
    check_figures(browser)
    assert section(browser, "efficiency").find_element(By.CSS_SELECTOR, "dd.note").text == "路由请求共 40 个，其中 31 个"
    labels = [e.text for e in section(browser, "efficiency").find_elements(By.CSS_SELECTOR, "dt")]
    assert labels == ["由小模型回答", "节省费用", "费用"]
    assert [th.text for th in section(browser, "quality").find_elements(By.CSS_SELECTOR, "th")] == [
        "模型版本", "请求数", "已评价", "反馈率", "好评", "差评", "纠正数", "纠正率",
    ]
    assert "2026年12月6日" in fields(row_of(browser, "evaluation", "data-model-version", "assistant@2"))["finished_at"]
    assert csp_violations(browser) == []
    # For the documentation: the four sections in one picture, in a taller window.
    browser.set_window_size(desktop["width"], desktop["height"] + 560)
    try:
        browser.execute_script("document.getElementById('overview-231').scrollIntoView()")
        doc_shot(browser, "console-overview-231")
    finally:
        browser.set_window_size(desktop["width"], desktop["height"])
    browser.find_element(By.CSS_SELECTOR, '#lang-switch button[data-lang="en"]').click()
    wait(browser).until(lambda d: heading(d) == "Overview")


def test_overview_view_when_empty_when_missing_and_for_a_usage_key(demo: Demo, browser: WebDriver, overview_backend: OverviewBackend):
    backend = overview_backend
    # Nothing yet: each section says so, in either language.
    backend.reset(make=empty_answer)
    sign_in(browser, backend.url, demo.gateway.admin_key)
    assert wait_for_view(browser) == "ready"
    assert headings(browser) == HEADINGS["en"]
    for name in ("usage", "efficiency", "quality", "evaluation"):
        assert section(browser, name).find_element(By.CSS_SELECTOR, ".no-data").text == "No data yet.", name
        assert not section(browser, name).find_elements(By.CSS_SELECTOR, "table, dd"), name
    browser.find_element(By.CSS_SELECTOR, '#lang-switch button[data-lang="zh-CN"]').click()
    wait(browser).until(lambda d: heading(d) == "概览")
    wait(browser).until(lambda d: len(backend.queries) == 2 and view_state(d) == "ready")
    assert [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#overview-231 .no-data")] == ["暂无数据。"] * 4
    browser.find_element(By.CSS_SELECTOR, '#lang-switch button[data-lang="en"]').click()
    wait(browser).until(lambda d: heading(d) == "Overview")

    # An older gateway (404): the view is hidden quietly, the rest of the overview is as before.
    backend.reset(missing=True)
    browser.refresh()
    find(browser, "#overview-tiles")
    assert wait_for_view(browser) == "unavailable"
    assert not browser.find_element(By.ID, "overview-231").is_displayed()
    assert not browser.find_elements(By.CSS_SELECTOR, "#page .error")
    assert browser.find_elements(By.CSS_SELECTOR, "figure.chart-box svg")

    # A tenant's usage key: the view of its tenant, asked for without a tenant. A model named in HTML is text.
    backend.reset(make=hostile_answer)
    key = demo.admin.create_key("acme", "console-overview-231", ["usage"])["key"]
    sign_in(browser, backend.url, key)
    assert wait_for_view(browser) == "ready"
    check_figures(browser, second_model=HOSTILE_MODEL)
    assert_no_alert(browser)
    assert backend.queries and all("tenant" not in q for q in backend.queries)
    assert csp_violations(browser) == []


def test_overview_view_on_the_gateway(demo: Demo, browser: WebDriver):
    """The view against the gateway's own GET /admin/v1/usage/overview: what the page shows is what it answers."""
    start, end = utc_days(30)
    probe = requests.get(demo.gateway.url + "/admin/v1/usage/overview", params={"from": start, "to": end},
                         headers={"Authorization": f"Bearer {demo.gateway.admin_key}"}, timeout=30)
    if probe.status_code == 404:
        pytest.skip("the gateway does not serve GET /admin/v1/usage/overview yet (404)")
    assert probe.status_code == 200, probe.text
    sign_in(browser, demo.gateway, demo.gateway.admin_key)
    find(browser, "#overview-tiles")
    browser.find_element(By.CSS_SELECTOR, 'button[data-range="30"]').click()
    wait(browser).until(lambda d: d.find_element(By.CSS_SELECTOR, 'button[data-range="30"]').get_attribute("aria-pressed") == "true")
    assert wait_for_view(browser) == "ready"
    answer = requests.get(demo.gateway.url + "/admin/v1/usage/overview", params={"from": start, "to": end},
                          headers={"Authorization": f"Bearer {demo.gateway.admin_key}"}, timeout=30).json()
    assert headings(browser) == HEADINGS["en"]

    totals: dict[str, int] = {}
    for r in answer["usage"]:
        totals[r["model"]] = totals.get(r["model"], 0) + r["requests"]
    shown = {r.get_attribute("data-model"): fields(r)["requests"] for r in section(browser, "usage").find_elements(By.CSS_SELECTOR, "tbody tr")}
    assert shown == {m: f"{n:,}" for m, n in totals.items()}
    assert bool(section(browser, "usage").find_elements(By.CSS_SELECTOR, ".no-data")) == (not answer["usage"])

    e = answer["efficiency"]
    if e["routers"] or e["router_requests"]:
        assert figure(browser, "small-model-share") == pct(e["small_model_share"])
        assert figure(browser, "cost-saved") == cost(e["cost_saved"])
    else:
        assert section(browser, "efficiency").find_element(By.CSS_SELECTOR, ".no-data").text == "No data yet."

    for r in answer["quality"]:
        cells = fields(row_of(browser, "quality", "data-model-version", label(r)))
        assert cells["requests"] == f"{r['requests']:,}" and cells["positive"] == f"{r['positive']:,}" and cells["negative"] == f"{r['negative']:,}"
        assert cells["feedback_rate"] == pct(r["feedback_rate"]) and cells["correction_rate"] == pct(r["correction_rate"])
    assert len(section(browser, "quality").find_elements(By.CSS_SELECTOR, "tbody tr")) == len(answer["quality"])
    for r in answer["evaluation"]:
        cells = fields(row_of(browser, "evaluation", "data-model-version", label(r)))
        assert cells["score"] == score(r["score"]) and cells["passed"] == f"{r['passed']:,} / {r['total']:,}"
    assert len(section(browser, "evaluation").find_elements(By.CSS_SELECTOR, "tbody tr")) == len(answer["evaluation"])
    assert csp_violations(browser) == []
    browser.execute_script("document.getElementById('overview-231').scrollIntoView()")
    shot(browser, "10-overview-231-gateway")
