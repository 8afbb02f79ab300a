"""Three of the lessons' understanding labs in a real Chromium against the real site,
as a guest: the lab step fails on the lesson page, the learner does the work in the
sandbox page's console, and back on the lesson page the step turns green.

* cluster-aware clients: MSET of two untagged keys fails with CROSSSLOT; the same
  MSET with a {cart:7} hash tag works, and the check finds both keys in one slot;
* consistency levels: in the cache cluster, WAIT 1 1000 after a write answers the
  replica count, and the check compares the stored answer with the real primary's
  replicas.
* least privilege: a user made in the sandbox page's Users form with the course
  material's data-only access string cannot connect redis-py's RedisCluster (the
  page shows the node's NOPERM on CLUSTER SLOTS); with the lesson's string it can.

Every lab of every lesson is performed against real sandboxes in
tests/web/test_lesson_labs.py; this file shows the page side works for a sample.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from sandbox.testing import LiveSite


def run_in_console(page: Page, line: str, replies_before: int) -> None:
    """Type one line and wait for its reply or error (the console prints one per line)."""
    page.locator("#console-input").fill(line)
    page.locator("#console-input").press("Enter")
    answers = page.locator("#console-output .console-reply, #console-output .console-error")
    expect(answers).to_have_count(replies_before + 1, timeout=15_000)


def check_lab(page: Page, url: str, lab_id: str, passed: bool) -> None:
    page.goto(url)
    lab = page.locator(f"#lab-{lab_id}")
    page.get_by_role("button", name="Check my sandbox").click()
    expect(lab).to_have_attribute("data-passed", "true" if passed else "false", timeout=30_000)


def open_sandbox(page: Page, site: LiveSite) -> None:
    page.goto(site.url + "/sandbox/")
    expect(page.locator("#sandbox")).to_have_attribute("data-state", "running", timeout=30_000)


def test_the_crossslot_lab_turns_green_once_the_keys_share_a_hash_tag(
    site: LiveSite, page: Page, problems: list[str]
) -> None:
    lesson = site.url + "/learn/cluster-architecture/cluster-aware-clients/"
    check_lab(page, lesson, "fix-crossslot", passed=False)
    expect(page.locator("#lab-fix-crossslot .lab-result")).to_contain_text("There is no key {cart:7}:a")

    open_sandbox(page, site)
    run_in_console(page, "MSET cart:7:a 1 cart:7:b 2", 0)
    expect(page.locator("#console-output .console-error").last).to_contain_text("CROSSSLOT")
    run_in_console(page, "MSET {cart:7}:a 1 {cart:7}:b 2", 1)
    expect(page.locator("#console-output .console-reply").last).to_contain_text("OK")

    check_lab(page, lesson, "fix-crossslot", passed=True)
    expect(page.locator("#lab-fix-crossslot .lab-result")).to_contain_text(re.compile(r"All 2 keys exist, in slot \d+"))
    assert problems == []


def test_the_wait_lab_turns_green_with_the_answer_wait_gave_in_the_cache_cluster(
    site: LiveSite, page: Page, problems: list[str]
) -> None:
    lesson = site.url + "/learn/consistency/consistency-levels/"
    check_lab(page, lesson, "wait-answer-in-cache-mode", passed=False)

    open_sandbox(page, site)
    page.locator("input[name=console-cluster][value=cache]").check()
    expect(page.locator("#console-prompt")).to_have_text("cache>")
    run_in_console(page, "SET lab:w 1", 0)
    run_in_console(page, "WAIT 1 1000", 1)
    answer = page.locator("#console-output .console-reply").last
    expect(answer).to_contain_text(re.compile(r"\(integer\) \d"))
    replicas = re.search(r"\(integer\) (\d+)", answer.text_content() or "").group(1)  # type: ignore[union-attr]
    run_in_console(page, "SET lab:wait-answer 0" if replicas != "0" else "SET lab:wait-answer 9", 2)
    check_lab(page, lesson, "wait-answer-in-cache-mode", passed=False)
    expect(page.locator("#lab-wait-answer-in-cache-mode .lab-result")).to_contain_text("they differ")

    open_sandbox(page, site)
    page.locator("input[name=console-cluster][value=cache]").check()
    run_in_console(page, f"SET lab:wait-answer {replicas}", 0)
    check_lab(page, lesson, "wait-answer-in-cache-mode", passed=True)
    expect(page.locator("#lab-wait-answer-in-cache-mode .lab-result")).to_contain_text("every replica acknowledged")
    assert problems == []


def create_user(page: Page, name: str, access: str) -> None:
    page.locator("#user-form input[name=name]").fill(name)
    page.locator("#user-form input[name=access]").fill(access)
    page.get_by_role("button", name="Create user").click()
    expect(page.locator("#user-status")).to_contain_text(f"Created {name} on", timeout=15_000)


def test_the_least_privilege_lab_turns_green_once_the_user_can_connect_a_cluster_client(
    site: LiveSite, page: Page, problems: list[str]
) -> None:
    lesson = site.url + "/learn/security/least-privilege/"
    data_only = "on ~leaderboard* -@all +zadd +zincrby +zrevrange +zrevrank +zscore +zcard"
    open_sandbox(page, site)
    create_user(page, "leaderboard-api", data_only)
    expect(page.locator("#user-list li")).to_have_text(["leaderboard-api"])
    check_lab(page, lesson, "connect-cluster-client-as-user", passed=False)
    expect(page.locator("#lab-connect-cluster-client-as-user .lab-result")).to_contain_text(
        "no permissions to run the 'cluster|slots' command")

    open_sandbox(page, site)
    page.locator("#user-form input[name=access]").fill("on ~* +@all")
    page.locator("#user-form input[name=name]").fill("greedy")
    page.get_by_role("button", name="Create user").click()
    expect(page.locator("#user-status")).to_contain_text("+@all grants every command")
    create_user(page, "leaderboard-api", data_only + " +cluster|slots +cluster|shards +command +readonly +ping")
    check_lab(page, lesson, "connect-cluster-client-as-user", passed=True)
    expect(page.locator("#lab-connect-cluster-client-as-user .lab-result")).to_contain_text("KEYS got NOPERM")
    assert problems == []
