"""The sandbox story in a real Chromium against the real site (daphne, the ASGI stack,
the manager and real engine processes), as a guest:

1. open /sandbox/: the sandbox starts; SET and GET in the console;
2. start the write load, crash both primaries at the same instant (after a
   prediction), and read the verdict: durable lost 0, cache lost some; the three
   charts are drawn and the experiment is listed;
3. on a lesson, a lab step fails, Run sends the lesson's commands to the sandbox and
   prints the replies, and the lab step turns green (a key on one lesson; a stream
   consumer group on the streams lesson);
4. when the site stops, every engine process stops with it.

The site runs in its own process and data directory for the whole module (one
start-up, about a second); each test has its own browser context, hence its own
guest and its own sandbox.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from sandbox.testing import LiveSite


def run_in_console(page: Page, line: str) -> None:
    page.locator("#console-input").fill(line)
    page.locator("#console-input").press("Enter")


def test_a_guest_crashes_both_primaries_and_sees_durable_keep_every_write(
    site: LiveSite, page: Page, problems: list[str]
) -> None:
    page.goto(site.url + "/sandbox/")
    expect(page.locator("#sandbox")).to_have_attribute("data-state", "running", timeout=30_000)
    expect(page.locator("#topology table[data-cluster=durable]")).to_be_visible()
    expect(page.locator("#topology table[data-cluster=cache]")).to_be_visible()

    run_in_console(page, "SET e2e:greeting hello")
    expect(page.locator("#console-output")).to_contain_text("OK")
    run_in_console(page, "GET e2e:greeting")
    expect(page.locator("#console-output")).to_contain_text('"hello"')
    run_in_console(page, "SHUTDOWN")
    expect(page.locator("#console-output .console-error").last).to_contain_text("fault buttons")
    # A dropped connection comes back by itself, to the same sandbox.
    page.evaluate("() => window.sandboxPage.socket.ws.close()")
    expect(page.locator("#sandbox-state")).to_contain_text("reconnecting")
    expect(page.locator("#sandbox-state")).to_contain_text("Running", timeout=15_000)
    run_in_console(page, "GET e2e:greeting")
    expect(page.locator("#console-output .console-reply")).to_have_count(3)
    # Help comes from the engine's COMMAND DOCS.
    page.locator("#console-input").fill("ZADD ")
    expect(page.locator("#console-help")).to_contain_text("ZADD key")

    page.locator("#load-form input[name=rate]").fill("200")
    page.get_by_role("button", name="Start the load").click()
    durable_acked = page.locator("#load-body tr[data-cluster=durable] td").first
    expect(durable_acked).to_have_text(re.compile(r"^[1-9]\d{2,}$"), timeout=10_000)

    page.get_by_role("button", name="Kill the primary").click()
    expect(page.locator("#prediction-form")).to_be_visible()
    page.get_by_label("My prediction").fill("5")
    page.get_by_role("button", name="Crash now").click()

    durable = page.locator("#verdict-body tr[data-cluster=durable]")
    cache = page.locator("#verdict-body tr[data-cluster=cache]")
    expect(durable).to_have_attribute("data-lost", "0", timeout=40_000)
    cache_lost = int(cache.get_attribute("data-lost") or "0")
    assert cache_lost > 0, page.locator("#verdict-summary").text_content()
    expect(page.locator("#verdict-summary")).to_contain_text("You predicted 5.")
    acknowledged = int(durable.locator("td").nth(0).text_content() or "0")
    assert acknowledged > 100

    for chart in ("#chart-latency", "#chart-throughput", "#chart-timeline"):
        page.wait_for_selector(f"{chart} .main-svg")
    traces = page.evaluate("() => document.getElementById('chart-latency').data.map(t => t.name)")
    assert traces == ["durable", "cache"]
    expect(page.locator("#experiment-list tbody tr").first).to_contain_text("kill_primary")
    expect(page.locator("#events")).to_contain_text("failover finished")
    # the journal's own election is an event too, named by its zone
    expect(page.locator("#events")).to_contain_text(re.compile(r"journal leader · journal-az-[abc] \(az-[abc]\) · term \d+"))
    page.get_by_role("button", name="Stop the load").click()
    assert problems == []


def test_a_lesson_run_button_uses_the_sandbox_and_the_lab_step_turns_green(
    site: LiveSite, page: Page, problems: list[str]
) -> None:
    page.goto(site.url + "/learn/")
    page.get_by_role("link", name='Primary database or cache: what "OK" promises').click()
    lab = page.locator("#lab-first-durable-write")

    page.get_by_role("button", name="Check my sandbox").click()
    expect(lab).to_have_attribute("data-passed", "false", timeout=30_000)
    expect(lab.locator(".lab-result")).to_contain_text("There is no key lab:first-write")

    page.locator("button.run-command").first.click()
    output = page.locator(".run-block pre.run-output").first
    expect(output).to_contain_text("durable> SET lab:first-write durable", timeout=30_000)
    expect(page.locator(".run-status").first).to_contain_text("Ran 5 commands")
    expect(lab).to_have_attribute("data-passed", "true")
    expect(lab).to_have_class(re.compile(r"\blab-passed\b"))
    assert problems == []


def test_the_streams_lesson_runs_a_consumer_group_and_its_lab_step_turns_green(
    site: LiveSite, page: Page, problems: list[str]
) -> None:
    page.goto(site.url + "/learn/use-cases/sessions-limits-and-streams/")
    lab = page.locator("#lab-orders-stream-group")
    page.get_by_role("button", name="Check my sandbox").first.click()
    expect(lab).to_have_attribute("data-passed", "false", timeout=30_000)
    expect(lab.locator(".lab-result")).to_contain_text("There is no stream orders")

    block = page.locator(".run-block", has_text="XGROUP CREATE orders fulfilment")
    block.locator("button.run-command").click()
    output = block.locator("pre.run-output")
    expect(output).to_contain_text("durable> XINFO GROUPS orders", timeout=30_000)
    expect(output).to_contain_text('"fulfilment"')
    expect(output).to_contain_text('"last-delivered-id"')
    expect(lab).to_have_attribute("data-passed", "true", timeout=15_000)
    expect(lab.locator(".lab-result")).to_contain_text("fulfilment")
    assert problems == []
