"""Browser tests: Debian's Chromium driven by Playwright against a live server of the app.

The browser is Debian's /usr/bin/chromium when it is there, else the Chromium that Playwright's
own installer put in place; `make test` obtains one of them first (its `browser` target). The
front-end assets must be built first (npm ci && npm run build).
"""

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.e2e.asgi_live_server import AsgiLiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1440, "height": 900}
TABLET = {"width": 1024, "height": 768}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(settings.BASE_DIR) / "docs" / "screenshots"
BUILT_STYLESHEET = Path(settings.BASE_DIR) / "tradingweb" / "static" / "build" / "app.css"
TRADER_PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="package")
def browser():
    if not BUILT_STYLESHEET.exists():
        pytest.fail(f"{BUILT_STYLESHEET} is missing: run `npm ci && npm run build` first")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread, which Django would take for async
    # code and refuse ORM calls from; the tests' ORM calls are plain synchronous setup.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            executable = {"executable_path": str(CHROMIUM)} if CHROMIUM.exists() else {}
            if not executable and not Path(playwright.chromium.executable_path).exists():
                pytest.fail("no Chromium for the browser tests: `make test` installs one (or apt-get install chromium)")
            chromium = playwright.chromium.launch(headless=True, args=CHROMIUM_ARGS, **executable)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="session")
def live_server():
    """Replaces pytest-django's WSGI live_server: the app under ASGI, so pages' websockets connect."""
    server = AsgiLiveServer()
    yield server
    server.stop()


class BrowserProblems:
    """Console errors, uncaught exceptions and failed responses seen by one page."""

    def __init__(self, page):
        self.messages: list[str] = []
        page.on("console", lambda message: message.type == "error" and self.messages.append(message.text))
        page.on("pageerror", lambda error: self.messages.append(f"uncaught: {error}"))
        page.on(
            "response",
            lambda response: response.status >= 400 and self.messages.append(f"{response.status} {response.url}"),
        )

    def clear(self):
        self.messages.clear()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport=DESKTOP, base_url=live_server.url)
    context.set_default_timeout(10_000)
    browser_page = context.new_page()
    browser_page.problems = BrowserProblems(browser_page)
    yield browser_page
    context.close()


@pytest.fixture
def trader(transactional_db, django_user_model):
    return django_user_model.objects.create_user("trader", "trader@example.com", TRADER_PASSWORD)


@pytest.fixture
def logged_in_page(page, trader, live_server):
    """A page whose browser holds the trader's session cookie (the login form has its own test)."""
    client = Client()
    client.force_login(trader)
    session = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": session.key, "value": session.value, "url": live_server.url}])
    return page


def save_screenshots(page, name: str) -> list[Path]:
    """docs/screenshots/<name>-desktop.png (1440x900) and <name>-phone.png (390x844) of the current page."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    original = page.viewport_size
    saved = []
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.wait_for_load_state("networkidle")
        path = SCREENSHOTS / f"{name}-{label}.png"
        page.screenshot(path=str(path), full_page=True, animations="disabled")
        saved.append(path)
    page.set_viewport_size(original)
    return saved
