"""An instructor's class in a real Chromium against the real site (daphne, the ASGI
stack, the sandbox manager and real engine processes), with three browser contexts:

bob (an instructor) creates a class; alice and dave join it with its code and take
the first quiz; bob's dashboard shows the roster and the item analysis change
without a reload; Prepare class starts both sandboxes; Crash everyone asks the
learners for a prediction, kills the primaries and draws the class's histogram:
the durable cluster lost nothing for anyone, the cache lost writes for some. The
CSV exports hold their rows; the dashboard fits 375 px and works from the keyboard.

Cache loss depends on timing: the site runs with a 300 ms cache replication delay
and a 50 writes/s class load, so every kill finds ~15 writes acknowledged by the
cache's primary alone, which makes a loss near-certain.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from sandbox.testing import LiveSite, engine_pids_under

FIRST_QUIZ = "memorydb-vs-elasticache-quiz"
PASSWORD = "correct horse battery staple"

MAKE_USERS = f"""
from django.contrib.auth.models import User
from quizzes.roles import make_instructor
for name in ("alice", "dave", "bob"):
    User.objects.create_user(name, name + "@example.org", "{PASSWORD}")
make_instructor(User.objects.get(username="bob"))
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    data_dir = tmp_path_factory.mktemp("teach-site")
    live = LiveSite(
        data_dir,
        env={
            "MEMORYDB_LAB_SANDBOX_REPLICATION_DELAY_MS": "300",
            "MEMORYDB_LAB_TEACH_CLASS_RUN_RATE": "50",
            "MEMORYDB_LAB_TEACH_CLASS_RUN_PREDICT_SECONDS": "4",
        },
    ).start()
    live.manage("shell", "-c", MAKE_USERS)
    try:
        yield live
    finally:
        live.stop()
    assert engine_pids_under(data_dir / "sandboxes") == [], live.log()[-3000:]


def signed_in(browser: Browser, site: LiveSite, name: str) -> tuple[BrowserContext, Page, list[str]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: msg.type == "error" and problems.append(msg.text))
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"{r.status} {r.url}"))
    page.goto(site.url + "/accounts/login/")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".account-name")).to_have_text(name)
    return context, page, problems


def take_the_first_quiz(page: Page, site: LiveSite) -> None:
    """Every question answered with its first choice (or a self-graded "Got it")."""
    page.goto(f"{site.url}/quizzes/{FIRST_QUIZ}/")
    page.get_by_role("button", name="Start the quiz").click()
    while True:
        page.wait_for_selector("section.question-card")
        if page.get_by_label("Your answer").count():
            page.get_by_label("Your answer").fill("The journal commits in several zones first.")
            page.get_by_role("button", name="Show the model answer").click()
            page.get_by_role("button", name="Got it").click()
        else:
            page.locator("input[name=choice]").first.check()
            page.locator("form.answer-form button[type=submit]").click()
        expect(page.locator("#feedback")).to_be_visible()
        if page.get_by_role("link", name="Next question").count():
            page.get_by_role("link", name="Next question").click()
            continue
        page.get_by_role("link", name="See your results").click()
        expect(page.locator(".score")).to_contain_text("You got")
        return


def csv_rows(page: Page, link: str) -> list[dict[str, str]]:
    with page.expect_download() as download:
        page.get_by_role("link", name=link).click()
    text = open(download.value.path(), encoding="utf-8-sig").read()
    return list(csv.DictReader(io.StringIO(text)))


def test_bob_runs_a_class_live_prepares_it_and_crashes_everyone(
    site: LiveSite, browser: Browser, tmp_path: Path
) -> None:
    bob_context, bob, bob_problems = signed_in(browser, site, "bob")
    alice_context, alice, alice_problems = signed_in(browser, site, "alice")
    dave_context, dave, dave_problems = signed_in(browser, site, "dave")
    try:
        # bob creates the class and keeps its page open from here on.
        bob.goto(site.url + "/teach/new/")
        bob.get_by_label("Class name").fill("Databases, group B")
        bob.get_by_role("button", name="Create the class").click()
        expect(bob.locator("#live")).to_have_attribute("data-live", "yes")
        code = bob.locator("#join-code").text_content() or ""
        assert re.fullmatch(r"[A-Z2-9]{8}", code), code
        bob.evaluate("() => { window.notReloaded = true; }")
        expect(bob.locator("#member-count")).to_have_text("0")

        for learner in (alice, dave):
            learner.goto(site.url + "/join/")
            learner.get_by_label("Join code").fill(code)
            learner.get_by_role("button", name="Continue").click()
            learner.get_by_role("button", name="Join the class").click()
            expect(learner.locator(".messages")).to_contain_text("You joined")
        # Both appear live, with the page each has open.
        expect(bob.locator("#live-roster tbody tr[data-user]")).to_have_count(2)
        expect(bob.locator("#present-count")).to_have_text("2")

        take_the_first_quiz(alice, site)
        take_the_first_quiz(dave, site)
        alice_row = bob.locator("#live-roster tr[data-user]", has_text="alice")
        expect(alice_row.locator("td[data-col=answers]")).to_have_text(re.compile(r"^\d+ of [1-9]\d*$"))
        expect(bob.locator("#live-items tbody tr[data-question]").first).to_be_visible()
        expect(bob.locator("#live-items tbody tr[data-question] td[data-col=attempts]").first).to_have_text("2")

        # The learners wait on an ordinary page: Prepare class starts their sandboxes.
        alice.goto(site.url + "/learn/")
        dave.goto(site.url + "/learn/")
        bob.get_by_role("button", name="Prepare class").click()
        expect(bob.locator("#prepare-progress")).to_have_attribute("data-ready", "2", timeout=60_000)
        expect(bob.locator("#prepare-progress")).to_have_text(re.compile(r"^2 of 2 ready"))

        bob.get_by_role("button", name="Crash everyone").click()
        expect(alice.locator("#class-run-prompt")).to_be_visible()
        alice.get_by_label("How many acknowledged writes will the cache cluster lose?").fill("3")
        alice.get_by_role("button", name="Predict").click()
        expect(alice.locator("#class-run .class-run-status")).to_contain_text("Your prediction: 3")

        histogram = bob.locator("#dashboard-run .class-histogram")
        expect(histogram).to_have_attribute("data-state", "done", timeout=90_000)
        expect(histogram.locator("figure[data-lane=durable]")).to_have_attribute("data-values", "0,0")
        cache_lost = [int(v) for v in (histogram.locator("figure[data-lane=cache]").get_attribute("data-values") or "").split(",")]
        assert len(cache_lost) == 2 and max(cache_lost) > 0, cache_lost
        expect(histogram.locator("figure[data-lane=predictions]")).to_have_attribute("data-values", "3")
        # dave's page shows the same anonymous figures (no names).
        dave_histogram = dave.locator("#class-run .class-histogram")
        expect(dave_histogram).to_have_attribute("data-state", "done")
        expect(dave_histogram.locator("figure[data-lane=durable]")).to_have_attribute("data-values", "0,0")
        assert "alice" not in (dave.locator("#class-run").text_content() or "")
        assert bob.evaluate("() => window.notReloaded") is True

        # The run is saved and reopens.
        bob.get_by_role("link", name=re.compile("Class crash just now")).click()
        expect(bob.locator("#run-rows tbody tr")).to_have_count(2)
        expect(bob.locator(".class-histogram figure[data-lane=durable]")).to_have_attribute("data-values", "0,0")
        bob.go_back()

        # The CSV exports hold their rows.
        roster = csv_rows(bob, "roster (CSV)")
        assert sorted(r.get("username", "") for r in roster) == ["alice", "dave"], roster[:1]
        answers = csv_rows(bob, "every quiz answer (CSV)")
        assert {r.get("username") for r in answers} == {"alice", "dave"} and len(answers) >= 2 * 6
        experiments = csv_rows(bob, "experiments (CSV)")
        assert len(experiments) == 2 and {r["durable lost"] for r in experiments} == {"0"}, experiments

        # The dashboard at 375 px: nothing scrolls sideways.
        bob.set_viewport_size({"width": 375, "height": 740})
        bob.reload()
        expect(bob.locator("#live")).to_have_attribute("data-live", "yes")
        # The live section fits; its wide tables scroll inside their own boxes.
        fits = bob.locator("#live").evaluate(
            "el => ({right: el.getBoundingClientRect().right, overflow: el.scrollWidth - el.clientWidth})"
        )
        assert fits["right"] <= 375 and fits["overflow"] <= 0, fits
        # ... and so does the whole class page (roster, join link, settings).
        page_width = bob.evaluate("() => document.documentElement.scrollWidth")
        if page_width > 375:
            shot = tmp_path / "class-375.png"
            bob.screenshot(path=str(shot), full_page=True)
            raise AssertionError(f"the class page is {page_width} px wide at 375 px (see {shot})")
        for scroller in bob.locator("#live .table-scroll").all():
            assert scroller.evaluate("el => el.getBoundingClientRect().right") <= 375

        # Keyboard only: send the class to the sandbox page.
        bob.locator("#nudge-form select").focus()
        bob.keyboard.press("Home")  # the sandbox is the first choice
        bob.keyboard.press("Tab")
        assert bob.evaluate("() => document.activeElement.textContent") == "Send"
        bob.keyboard.press("Enter")
        expect(bob.locator("#nudge-status")).to_contain_text("Sent: The sandbox.")
        expect(alice.locator("#class-banner .nudge a")).to_have_attribute("href", "/sandbox/")
        # Prepare class is reachable by Tab from the top of the live section.
        bob.locator("#live-title").evaluate("el => { el.tabIndex = -1; el.focus(); }")
        for _ in range(10):
            bob.keyboard.press("Tab")
            if bob.evaluate("() => document.activeElement.id") == "prepare-class":
                break
        assert bob.evaluate("() => document.activeElement.id") == "prepare-class"

        assert bob_problems == [] and alice_problems == [] and dave_problems == []
    finally:
        for context in (bob_context, alice_context, dave_context):
            context.close()
