"""The third lane in a real Chromium against the real site, as a guest: turn on
"ElastiCache durable (async writes)", start the load, Kill the primary (every lane
at the same instant, after predicting both the cache and the async lane), and read
three verdict rows: durable lost 0, cache lost some (the site's 50 ms cache
replication delay under 200 writes/s), async lost no more than its durability
buffer held at the crash (the row carries that bound). Bounded well under 90 s.
"""

from __future__ import annotations

import re
import time

from playwright.sync_api import Page, expect

from sandbox.testing import LiveSite


def test_a_guest_turns_on_the_third_lane_and_sees_three_rows_after_the_crash(
    site: LiveSite, page: Page, problems: list[str]
) -> None:
    began = time.monotonic()
    page.goto(site.url + "/sandbox/")
    expect(page.locator("#sandbox")).to_have_attribute("data-state", "running", timeout=30_000)
    expect(page.locator("#sandbox")).to_have_attribute("data-async-lane", "off")
    expect(page.locator("#topology table[data-cluster=async]")).to_have_count(0)
    expect(page.locator("#slow-log")).to_be_hidden()

    page.get_by_label("Third lane: ElastiCache durable (async writes)").check()
    page.get_by_role("button", name="Start again with these settings").click()
    expect(page.locator("#sandbox")).to_have_attribute("data-async-lane", "on", timeout=30_000)
    expect(page.locator("#sandbox")).to_have_attribute("data-state", "running", timeout=30_000)
    expect(page.locator("#topology table[data-cluster=async]")).to_be_visible()
    expect(page.locator("#slow-log")).to_be_visible()

    page.locator("#load-form input[name=rate]").fill("200")
    page.get_by_role("button", name="Start the load").click()
    async_acked = page.locator("#load-body tr[data-cluster=async] td").first
    expect(async_acked).to_have_text(re.compile(r"^[1-9]\d{2,}$"), timeout=10_000)
    # The journal lane shows the async primary's durability buffer, polled like the rest.
    expect(page.locator(".lane-cluster[data-cluster=async] .buffer-rows li").first).to_be_visible(timeout=10_000)

    page.get_by_role("button", name="Kill the primary").click()
    expect(page.locator("#prediction-form")).to_be_visible()
    page.get_by_label("My prediction").fill("5")
    page.locator("#prediction-async").fill("2")
    page.get_by_role("button", name="Crash now").click()

    durable = page.locator("#verdict-body tr[data-cluster=durable]")
    asynchronous = page.locator("#verdict-body tr[data-cluster=async]")
    cache = page.locator("#verdict-body tr[data-cluster=cache]")
    expect(durable).to_have_attribute("data-lost", "0", timeout=45_000)
    expect(asynchronous).to_have_attribute("data-buffer-bound", re.compile(r"^\d+$"))
    expect(page.locator("#verdict-body tr:visible")).to_have_count(3)
    cache_lost = int(cache.get_attribute("data-lost") or "0")
    assert cache_lost > 0, page.locator("#verdict-summary").text_content()
    async_lost = int(asynchronous.get_attribute("data-lost") or "-1")
    bound = int(asynchronous.get_attribute("data-buffer-bound") or "-1")
    assert 0 <= async_lost <= bound, (async_lost, bound)
    assert int(asynchronous.get_attribute("data-acknowledged") or "0") > 100
    expect(page.locator("#verdict-summary")).to_contain_text("For async you predicted 2.")
    traces = page.evaluate("() => document.getElementById('chart-latency').data.map(t => t.name)")
    assert traces == ["durable", "async", "cache"]
    page.get_by_role("button", name="Stop the load").click()
    assert problems == []
    assert time.monotonic() - began < 90
