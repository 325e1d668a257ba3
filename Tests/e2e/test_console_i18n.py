"""The console's languages, Simplified Chinese and English, in a real browser (the `demo` and `browser` fixtures of
console_support.py): the browser's languages decide at the first visit, the switch applies at once and is
remembered, numbers and dates follow the language. Also the two dictionaries (the same keys and placeholders,
every key used) and the console's files (small, compiled in, served, never building HTML).
The Chinese overview's screenshot goes to docs/images/. TRELLIS_E2E_BROWSER=0 skips the module.
"""

from __future__ import annotations

import os
import re

import pytest

if os.environ.get("TRELLIS_E2E_BROWSER", "1") == "0":
    pytest.skip("TRELLIS_E2E_BROWSER=0", allow_module_level=True)
# console_support's asserts are rewritten too (pytest only rewrites test modules and conftest.py by itself).
pytest.register_assert_rewrite("console_support")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402

from console_support import (  # noqa: E402
    CONSOLE_DIR,
    LANG_STORAGE,
    REPO,
    XSS,
    Demo,
    csp_violations,
    doc_shot,
    expected_tiles,
    find,
    heading,
    open_page,
    sign_in,
    tile,
    utc_days,
    wait,
)

pytest_plugins = ["console_support"]


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
