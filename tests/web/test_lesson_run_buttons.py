"""Every Run button of every lesson works against a real sandbox.

The lessons are rendered as the loader renders them, and each Run button's
``data-command`` is split into lines exactly as ``static/js/lesson.js`` splits it
(trimmed, empty lines dropped) and sent, in order, through the learner's own
websocket to the cluster the button names (``data-cluster``, durable without one),
on a sandbox of the shape the lesson page starts (one shard, one replica). A reply
that is an error fails the test unless the block's note says that command fails on
purpose, with that error (``quizzes.run_blocks``); a command with such a note must
fail that way. One sandbox serves the whole course; both clusters are emptied
between lessons (the blocks of one lesson run in order, on what the earlier ones
left, as a learner reading down the page runs them).

The notes themselves: the renderer leaves them out of what Run sends and the
loader refuses a malformed one.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from quizzes import run_blocks
from quizzes.loader import ContentError, load_content, parse_course
from quizzes.loader.parse import DEFAULT_CONTENT_DIR
from quizzes.loader.render import render_course
from quizzes.rendering import ContentIndex, ContentRenderer
from quizzes.run_blocks import REFUSED, RunBlock, RunLine
from sandbox.manager import SandboxManager
from sandbox.testing import Browser, running_manager, test_limits

# What the renderer adds around a block: its code, then the button (rendering._add_run_buttons).
_BLOCK = re.compile(
    r'<div class="run-block"><pre><code class="language-redis">([^<]*)</code></pre>'
    r'<p class="run-actions"><button type="button" class="run-command" data-command="([^"]*)"'
    r'(?: data-cluster="([a-z]+)")?>'
)
COURSE_BUDGET_S = 120  # the whole course's blocks on a loaded 2-core host


class Button:
    """One Run button as the page sees it, with the notes of the code it shows."""

    def __init__(self, lesson: str, number: int, code: str, command: str, cluster: str | None) -> None:
        self.where = f"{lesson}, block {number}"
        # lesson.js: commands.split("\n").map(trim).filter(Boolean), sent to data-cluster or durable.
        self.lines = [line.strip() for line in html.unescape(command).split("\n") if line.strip()]
        self.cluster = cluster or "durable"
        self.block, problems = run_blocks.parse(html.unescape(code))
        assert problems == [], (self.where, problems)


def course_buttons() -> dict[str, list[Button]]:
    """Every lesson's Run buttons, in course order, from the HTML the loader stores."""
    course = parse_course(DEFAULT_CONTENT_DIR)
    rendered = render_course(course)
    buttons: dict[str, list[Button]] = {}
    for lesson in course.lessons:
        page = rendered.lessons[lesson.slug][0]
        found = [Button(lesson.slug, n, *m.groups()) for n, m in enumerate(_BLOCK.finditer(page), start=1)]
        assert len(found) == page.count('class="run-command"'), lesson.slug
        if found:
            buttons[lesson.slug] = found
    return buttons


@pytest_asyncio.fixture
async def manager(tmp_path: Path) -> AsyncIterator[SandboxManager]:
    """The test limits, with a console budget a whole course of blocks does not exhaust."""
    limits = test_limits(tmp_path / "sb", commands_per_second=1000.0, command_burst=1000,
                         messages_per_second=1000.0, message_burst=1000)
    async with running_manager(limits) as running:
        yield running


async def empty(browser: Browser, ids: Any) -> None:
    """Both clusters empty and the console back to normal between lessons: a block
    that failed inside MULTI leaves the console's connection queueing, and READONLY
    stays set on it, as they would for a learner moving to the next page."""
    for cluster in ("durable", "cache"):
        reply = await browser.command("FLUSHALL", cluster=cluster, id=next(ids))
        if reply.get("text") == "QUEUED\n":
            await browser.command("DISCARD", cluster=cluster, id=next(ids))
            reply = await browser.command("FLUSHALL", cluster=cluster, id=next(ids))
        assert reply.get("text") == "OK\n", reply
        await browser.command("READWRITE", cluster=cluster, id=next(ids))


def shown(message: dict[str, Any]) -> str:
    if message["type"] == "error":
        return f"(refused: {message.get('code')}) {message.get('message', '')[:120]}"
    return message.get("text", "").strip()[:160]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("database_thread")
async def test_every_run_button_of_every_lesson_answers_as_its_lesson_says(
    application: Any, sessions: dict[str, str], manager: SandboxManager
) -> None:
    buttons = course_buttons()
    assert sum(len(b) for b in buttons.values()) >= 30
    loop_time = __import__("asyncio").get_running_loop().time
    began = loop_time()
    wrong: list[str] = []
    ids = iter(range(1, 1_000_000))
    async with Browser(application, sessions["alice"]) as browser:
        state = await browser.start_sandbox()  # the page sends no shape: one shard, one replica
        assert state["sandbox"]["state"] == "running", state
        for lesson, blocks in buttons.items():
            await empty(browser, ids)
            for button in blocks:
                assert button.lines == button.block.commands, button.where
                assert button.cluster == button.block.cluster, button.where
                for line in button.block.lines:
                    message = await browser.command(line.command, cluster=button.cluster, id=next(ids))
                    if not run_blocks.answers_as_told(line, message):
                        told = f"fails on purpose ({line.expect})" if line.expect else "succeeds"
                        wrong.append(f"{button.where} [{button.cluster}] {line.command!r}: the lesson says it "
                                     f"{told}; got {shown(message)}")
    elapsed = loop_time() - began
    assert wrong == [], "\n".join(wrong)
    assert elapsed < COURSE_BUDGET_S, elapsed


# --- the notes: what Run sends, what the page shows, what the loader refuses ------------------


def _render(text: str) -> str:
    return ContentRenderer(ContentIndex()).render(text).html


def test_a_note_is_shown_in_the_block_and_never_sent() -> None:
    page = _render(
        "```redis\n# runs on: cache\nSET a 1\n"
        "# fails on purpose (CROSSSLOT): the keys hash to different slots\nMSET x 1 y 2\nGET a\n```"
    )
    assert 'data-command="SET a 1\nMSET x 1 y 2\nGET a"' in page
    assert 'data-cluster="cache"' in page
    assert "# fails on purpose (CROSSSLOT): the keys hash to different slots" in page.split("<button")[0]
    assert "data-cluster" not in _render("```redis\nGET a\n```")


def test_the_parser_ties_each_note_to_the_command_after_it() -> None:
    block, problems = run_blocks.parse(
        "# runs on: cache\n\nSET a 1\n# fails on purpose (refused): the sandbox does not run CONFIG\n"
        "CONFIG GET maxmemory\n# fails on purpose (NOPERM): the default user may not\nACL DELUSER x\n"
    )
    assert problems == []
    assert block == RunBlock("cache", [
        RunLine("SET a 1"),
        RunLine("CONFIG GET maxmemory", REFUSED, "the sandbox does not run CONFIG"),
        RunLine("ACL DELUSER x", "NOPERM", "the default user may not"),
    ])


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("GET a\n# runs on: cache\n", "'runs on' is the block's first line"),
        ("# runs on: primary\nGET a\n", "a block runs on durable or cache"),
        ("# fails on purpose (crossslot): why\nMSET a 1 b 2\n", "(crossslot) is not an error's first word"),
        ("# fails on purpose (CROSSSLOT):\nMSET a 1 b 2\n", "say why it fails"),
        ("# fails on purpose (ERR): why\n", "has no command after it"),
        ("# fails on purpose (ERR): why\n# fails on purpose (ERR): again\nX\n", "right before its command"),
        ("# this fails, CROSSSLOT\nMSET a 1 b 2\n", "is not a note a Run block understands"),
        ("# runs on: cache\n", "the block has no command to run"),
    ],
)
def test_the_renderer_refuses_a_malformed_note(code: str, problem: str) -> None:
    with pytest.raises(ContentError) as caught:
        ContentRenderer(ContentIndex()).render(f"Text.\n\n```redis\n{code}```\n", "lessons/x.md")
    assert any(problem in p and p.startswith("lessons/x.md: ```redis block 1: ") for p in caught.value.problems), (
        caught.value.problems
    )


@pytest.mark.parametrize(
    ("message", "told", "expected"),
    [
        ({"type": "reply", "text": "OK\n", "error": False}, None, True),
        ({"type": "reply", "text": "(error) CROSSSLOT Keys in request don't hash to the same slot\n",
          "error": True}, None, False),
        ({"type": "reply", "text": "(error) CROSSSLOT Keys in request don't hash to the same slot\n",
          "error": True}, "CROSSSLOT", True),
        ({"type": "reply", "text": "-> Redirected to slot [1] located at shard 1, primary in az-b\n"
          "(error) ERR unknown command 'EVAL'\n", "error": True}, "CROSSSLOT", False),
        ({"type": "reply", "text": "OK\n", "error": False}, "ERR", False),
        ({"type": "error", "code": "forbidden_command", "message": "No."}, REFUSED, True),
        ({"type": "error", "code": "forbidden_command", "message": "No."}, None, False),
        ({"type": "error", "code": "bad_command", "message": "Unbalanced."}, REFUSED, False),
    ],
)
def test_an_answer_is_held_to_what_the_note_says(message: dict[str, Any], told: str | None, expected: bool) -> None:
    assert run_blocks.answers_as_told(RunLine("X", told, "why" if told else ""), message) is expected


@pytest.mark.django_db
def test_the_loader_refuses_a_lesson_with_a_malformed_note() -> None:
    from tests.web.test_content_loader import TinyCourse

    course = TinyCourse()
    try:
        lesson = next((course.root / "lessons/01-basics").glob("*.md"))
        lesson.write_text(lesson.read_text() + "\n```redis\n# fails on purpose: CROSSSLOT\nMSET a 1 b 2\n```\n")
        with pytest.raises(ContentError) as caught:
            load_content(course.root)
        assert any("is not a note a Run block understands" in p for p in caught.value.problems)
    finally:
        course.remove()
