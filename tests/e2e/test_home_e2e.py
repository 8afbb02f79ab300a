"""A real Chromium opens the home page served by a live server."""

from __future__ import annotations

import time

from playwright.sync_api import ConsoleMessage, Page
from pytest_django.live_server_helper import LiveServer

from memorydb_lab.staticfinders import PLOTLY_STATIC_PATH


def test_the_home_page_loads_fast_in_a_real_browser(live_server: LiveServer, page: Page) -> None:
    problems: list[str] = []
    # A CSP violation or a missing file shows up in the console as an error.
    page.on("console", lambda msg: msg.type == "error" and problems.append(msg.text))
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"{r.status} {r.url}"))

    started = time.monotonic()
    response = page.goto(live_server.url + "/", wait_until="load")
    elapsed = time.monotonic() - started

    assert response is not None and response.status == 200
    assert page.locator("h1").inner_text() == "Learn Amazon MemoryDB by crashing it"
    assert page.title().startswith("MemoryDB Lab")
    # The stylesheet was allowed by the CSP and applied: the nav is a flex row.
    assert page.locator(".site-nav").evaluate("el => getComputedStyle(el).display") == "flex"
    assert problems == []
    assert elapsed < 5, f"the home page took {elapsed:.1f} s to load"


def test_plotly_is_served_from_the_site_itself(live_server: LiveServer, page: Page) -> None:
    response = page.request.get(f"{live_server.url}/static/{PLOTLY_STATIC_PATH}")
    assert response.status == 200
    body = response.body()
    assert len(body) > 1_000_000
    assert b"plotly.js" in body[:2000]


def test_a_narrow_phone_screen_needs_no_sideways_scrolling(
    live_server: LiveServer, page: Page
) -> None:
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(live_server.url + "/")
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    assert page.get_by_role("link", name="Sign in").first.is_visible()


def test_the_console_filter_sees_errors(page: Page) -> None:
    """The console check above is only useful if errors really reach it."""
    seen: list[ConsoleMessage] = []
    page.on("console", lambda message: seen.append(message))
    page.set_content("<p>x</p>")
    page.evaluate("() => console.error('boom')")
    assert [m.text for m in seen if m.type == "error"] == ["boom"]
