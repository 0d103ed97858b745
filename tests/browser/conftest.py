"""Browser fixtures: Playwright driving Debian's Chromium against the live server.

No browser is ever downloaded: Playwright launches /usr/bin/chromium. Pages are checked
with axe-core from node_modules (installed by scripts/ensure-node.sh, which `make test`
runs). Screenshots land in artifacts/screenshots/<name>.png.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_PASSWORD

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("MINQING_TEST_CHROMIUM", "/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
A11Y_RULES = [
    "label",
    "color-contrast",
    "button-name",
    "link-name",
    "document-title",
    "html-has-lang",
    "html-lang-valid",
    "image-alt",
    "input-button-name",
    "select-name",
    "aria-allowed-attr",
    "aria-required-attr",
    "aria-valid-attr-value",
    "duplicate-id-aria",
    "frame-title",
    "list",
    "listitem",
    "landmark-one-main",
    "region",
    "nested-interactive",
    "form-field-multiple-labels",
]
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 360, "height": 740}


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    """One Playwright for the session (a second sync_playwright in the same thread fails)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)")
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: Any) -> Iterator[Any]:
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
    )
    yield browser
    browser.close()


def _new_page(browser: Any, base_url: str, viewport: dict[str, int]) -> Any:
    context = browser.new_context(
        base_url=base_url, viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    # Pages confirm before acting (window.confirm); a person would click OK.
    page.on("dialog", lambda dialog: dialog.accept())
    # Every page runs under the strict Content-Security-Policy (server/headers.py): anything
    # it blocks is reported on the console, and the test fails at teardown.
    page.csp_violations = []
    page.on(
        "console",
        lambda msg: (
            page.csp_violations.append(msg.text) if "Content Security Policy" in msg.text else None
        ),
    )
    return page


def _no_csp_violations(page: Any) -> None:
    assert not page.csp_violations, f"blocked by the CSP: {page.csp_violations[:3]}"


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    """A desktop-sized page whose relative URLs go to the live server."""
    page = _new_page(browser, live_server.url, DESKTOP)
    yield page
    page.context.close()
    _no_csp_violations(page)


@pytest.fixture
def phone_page(browser: Any, live_server: Any) -> Iterator[Any]:
    """A 360-px-wide page (a small phone)."""
    page = _new_page(browser, live_server.url, PHONE)
    yield page
    page.context.close()
    _no_csp_violations(page)


@pytest.fixture
def new_page(browser: Any, live_server: Any) -> Iterator[Any]:
    """A factory of further pages, each its own browser context (another person)."""
    pages: list[Any] = []

    def make(viewport: dict[str, int] | None = None) -> Any:
        p = _new_page(browser, live_server.url, viewport or DESKTOP)
        pages.append(p)
        return p

    yield make
    for p in pages:
        p.context.close()
    for p in pages:
        _no_csp_violations(p)


def login_as(page: Any, username: str, password: str = TEST_PASSWORD) -> None:
    """Sign in through the login form (accessible names in the current language: zh)."""
    page.goto("/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()
    assert "/login" not in page.url, f"sign-in as {username} failed: {page.url}"


def screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """Save artifacts/screenshots/<name>.png and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def check_a11y(page: Any, *, rules: list[str] | None = None) -> list[dict[str, Any]]:
    """Run axe-core on the page; fail on serious or critical violations of `rules`.

    Returns the lesser (minor/moderate) findings, for whoever wants to look.
    """
    if not AXE.is_file():
        pytest.fail(f"{AXE} missing: run scripts/ensure-node.sh (npm ci)")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # evaluated through the driver: a <script> tag would be an inline script the page's
        # CSP (rightly) blocks
        page.evaluate(AXE.read_text())
    result = page.evaluate(
        """async (rules) => {
            const r = await axe.run(document, {runOnly: {type: 'rule', values: rules},
                                               resultTypes: ['violations']});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(
                    n => n.target.join(' ') + ' — ' + n.failureSummary)}));
        }""",
        rules or A11Y_RULES,
    )
    serious = [v for v in result if v["impact"] in ("serious", "critical")]
    assert not serious, f"accessibility violations on {page.url}:\n" + json.dumps(
        serious, ensure_ascii=False, indent=1
    )
    return [v for v in result if v not in serious]


# The helpers as fixtures too, so tests need not import this conftest (tests/conftest.py
# owns the module name `conftest`): def test_x(page, login_as): login_as(page, "staff").


@pytest.fixture(name="login_as")
def _login_as_fixture() -> Any:
    return login_as


@pytest.fixture(name="screenshot")
def _screenshot_fixture() -> Any:
    return screenshot


@pytest.fixture(name="check_a11y")
def _check_a11y_fixture() -> Any:
    return check_a11y
