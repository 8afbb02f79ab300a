"""Playwright fixtures: the machine's own Chromium, driven through the sync API.

Playwright's Python package ships its driver but no browser; the tests use Debian's
/usr/bin/chromium (scripts/test installs it) and never download one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from sandbox.testing import LiveSite, engine_pids_under


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    # No traffic but ours: the machine has no network beyond the test server.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="package", autouse=True)
def _allow_django_orm_beside_playwright() -> Iterator[None]:
    """While Playwright's sync API is open, an event loop is registered in the test's
    thread; Django sees it and refuses ORM calls from the test, and from the database
    set-up and flush around it, as "async unsafe". The test code is sync and reaches
    the live server over HTTP, so the guard does not apply. Set for this folder only,
    so that it never hides a real async-safety bug in the other tests.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


# Package scope, not session: Playwright's loop must be closed when the last e2e
# test ends, or every later asyncio test finds "another loop is running".
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    assert os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing; scripts/test installs it"
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context per test, so no cookie or storage leaks between tests."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    """The real site under daphne with its own data directory, for one test module."""
    data_dir = tmp_path_factory.mktemp("site")
    live = LiveSite(data_dir).start()
    try:
        yield live
    finally:
        live.stop()
    # Stopping the site stops every sandbox process it started.
    assert engine_pids_under(data_dir / "sandboxes") == [], live.log()[-3000:]


@pytest.fixture
def problems(page: Page) -> Iterator[list[str]]:
    """Console errors (CSP violations among them), page errors and failed requests."""
    found: list[str] = []
    page.on("console", lambda msg: msg.type == "error" and found.append(msg.text))
    page.on("pageerror", lambda exc: found.append(str(exc)))
    page.on("response", lambda r: r.status >= 400 and found.append(f"{r.status} {r.url}"))
    yield found

