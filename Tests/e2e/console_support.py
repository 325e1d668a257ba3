"""What the console's browser tests share (test_console*.py): a gateway of its own with a demo catalog, usage and
feedback (`demo`), one headless chromium (Debian's chromium and chromium-driver) driven by Selenium (`browser`),
the sign-in and page helpers, screenshots, and a stand-in HTTP server that answers some admin routes as their
contract says in front of the gateway and sends every other request on to it (`StandIn`).

The test modules load this module with `pytest_plugins = ["console_support"]`, so its fixtures are registered once
for the session: every console test module uses the same gateway and browser. Screenshots go under
test-output/console/ (git-ignored), the ones for the documentation to docs/images/ too.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import threading
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator
from urllib.parse import urlsplit

import pytest
import requests
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

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

SHOTS = REPO / "test-output" / "console"
DOC_IMAGES = REPO / "docs" / "images"
CONSOLE_DIR = REPO / "Sources" / "TrellisServer" / "Resources" / "console"
XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(1)>"
XSS = f"Claims helper {XSS_SCRIPT} {XSS_IMG}"
XSS_TITLE = f"Policy {XSS_IMG} {XSS_SCRIPT} 保单"
DESKTOP = [1280, 800]
WAIT = 60  # seconds; SmolLM2 on one thread answers a short chat in a few seconds
LANG_STORAGE = "trellis.console.lang"


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


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory, model_base_url: str) -> Iterator[Demo]:
    """A gateway of its own (so the numbers on the overview are the console tests'), with two tenants, a priced
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


@pytest.fixture(scope="session")
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


def intl_fixed(value: float, places: int, scale: int = 1) -> str:
    """A number as the browser's Intl.NumberFormat writes it with `places` decimals, grouped: ICU rounds the number's
    shortest decimal form (Python's repr) half away from zero, where Python's own format rounds its exact binary
    value (0.00165 is 0.0017 in the console and 0.0016 in f"{0.00165:.4f}"). `scale` is 100 for a percent."""
    exact = Decimal(repr(float(value))) * scale
    return f"{exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):,.{places}f}"


def expected_tiles(row: dict | None) -> dict[str, str]:
    row = row or {"requests": 0, "users": 0, "errors": 0, "prompt_tokens": 0, "completion_tokens": 0, "p95_ms": None, "cost": 0}
    return {
        "requests": f"{row['requests']:,}",
        "users": f"{row['users']:,}",
        "tokens": f"{row['prompt_tokens'] + row['completion_tokens']:,}",
        # Intl.NumberFormat: grouped, in English as in Chinese.
        "cost": intl_fixed(row["cost"], 4),
        "error-rate": f"{intl_fixed(row['errors'] / row['requests'], 1, scale=100)}%" if row["requests"] else "–",
        "p95": f"{intl_fixed(row['p95_ms'], 1)} ms" if row["p95_ms"] is not None else "–",
    }


def utc_days(count: int) -> tuple[str, str]:
    today = dt.datetime.now(dt.timezone.utc).date()
    return (today - dt.timedelta(days=count - 1)).isoformat(), today.isoformat()


def heading(driver: WebDriver) -> str:
    return driver.find_element(By.CSS_SELECTOR, "#page h1").text


def api_error(status: int, message: str, code: str) -> tuple[int, dict]:
    return status, {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}


# --------------------------------------------------------------------------- stand-ins


class StandIn:
    """A stand-in for some admin routes, in front of the gateway: the requests `handles` accepts are answered by
    `answer` as the HTTP contract says, every other request goes to the gateway as it is (so the console signs in
    and draws its other pages against the real gateway). Served by `serving`."""

    def __init__(self, gateway_url: str) -> None:
        self.gateway_url = gateway_url
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def handles(self, path: str) -> bool:
        raise NotImplementedError

    def answer(self, method: str, path: str, query: str, body: bytes, authorization: str | None) -> tuple[int, dict | None]:
        """(status, JSON body or None) for a request `handles` accepted."""
        raise NotImplementedError


class StandInHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    backend: StandIn

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
        target = urlsplit(self.path)
        if self.backend.handles(target.path):
            status, payload = self.backend.answer(method, target.path, target.query, body, self.headers.get("Authorization"))
            self.reply(status, [("Content-Type", "application/json")], b"" if payload is None else json.dumps(payload).encode())
            return
        skip = {"host", "connection", "content-length", "accept-encoding"}
        r = requests.request(method, self.backend.gateway_url + self.path, headers={k: v for k, v in self.headers.items() if k.lower() not in skip},
                             data=body or None, timeout=120, allow_redirects=False)
        hop = {"connection", "transfer-encoding", "content-length", "content-encoding", "keep-alive", "date", "server"}
        self.reply(r.status_code, [(k, v) for k, v in r.headers.items() if k.lower() not in hop], r.content)


@contextmanager
def serving(backend: StandIn) -> Iterator[StandIn]:
    """Serves `backend` on a free port of 127.0.0.1 (its `url`) until the block ends."""
    handler = type("Handler", (StandInHandler,), {"backend": backend})
    backend.server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    backend.server.daemon_threads = True
    thread = threading.Thread(target=backend.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield backend
    finally:
        backend.server.shutdown()
        backend.server.server_close()
