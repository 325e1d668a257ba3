"""The console's evaluation page in a real browser (the `demo` and `browser` fixtures of console_support.py): checked
against a stand-in for the evaluation routes that answers as the HTTP contract says (`EvalBackend`, in front of the
gateway), and against the gateway's own routes once it serves them. Its screenshot goes to docs/images/.
TRELLIS_E2E_BROWSER=0 skips the module.
"""

from __future__ import annotations

import json
import os
import re
import time
from typing import Iterator

import pytest
import requests

if os.environ.get("TRELLIS_E2E_BROWSER", "1") == "0":
    pytest.skip("TRELLIS_E2E_BROWSER=0", allow_module_level=True)
# console_support's asserts are rewritten too (pytest only rewrites test modules and conftest.py by itself).
pytest.register_assert_rewrite("console_support")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

from console_support import (  # noqa: E402
    Demo,
    StandIn,
    api_error,
    assert_no_alert,
    csp_violations,
    doc_shot,
    find,
    heading,
    open_page,
    serving,
    shot,
    sign_in,
    wait,
)

pytest_plugins = ["console_support"]


class EvalBackend(StandIn):
    """A stand-in for the evaluation routes (/admin/v1/eval-*), answering as the HTTP contract says, in front
    of the gateway: every other request goes to the gateway as it is. A run moves on one item each time it is
    read, so the page's refreshing is what finishes it. `missing`: "all" answers every evaluation route 404
    (a gateway without them), "list" only GET /admin/v1/eval-runs."""

    MODELS_ANSWER = "Hello <img src=x onerror=alert(1)> 你好"

    def __init__(self, gateway_url: str) -> None:
        super().__init__(gateway_url)
        self.reset()

    def handles(self, path: str) -> bool:
        return path.startswith("/admin/v1/eval-")

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

    def answer(self, method: str, path: str, query: str, body: bytes, authorization: str | None) -> tuple[int, dict | None]:
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


@pytest.fixture(scope="module")
def eval_backend(demo: Demo) -> Iterator[EvalBackend]:
    with serving(EvalBackend(demo.gateway.url)) as backend:
        yield backend


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
