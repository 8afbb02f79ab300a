"""A new visitor learns in a real Chromium: reads a lesson, takes the first quiz,
reads the explanations, retries what they missed, signs up and finds it all on
/me/ with the chart drawn. A second test checks a 375 px phone and the keyboard.

The page tells which question it shows (``data-question``); the test looks the
question up in the database to answer it right or wrong on purpose, since the
order of questions and choices is random.
"""

from __future__ import annotations


import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from quizzes.models import Attempt, Learner, Lesson, Question, Quiz
from tests.web.course import load_course

FIRST_QUIZ = "memorydb-vs-elasticache-quiz"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def course(transactional_db: None) -> None:
    # live_server tests flush the database after each test, so the course is
    # synced again each time (from a rendering cached for the whole run).
    load_course()


def answer_current_question(page: Page, right: bool) -> Question:
    """Answer the question on screen, right or wrong, and check the feedback."""
    card = page.locator("section.question-card")
    question = Question.objects.get(slug=card.get_attribute("data-question"))
    if question.is_self_graded:
        page.get_by_label("Your answer").fill("The log commits in several AZs before the reply.")
        page.get_by_role("button", name="Show the model answer").click()
        expect(page.locator("#model-title")).to_have_text("Model answer")
        page.get_by_role("button", name="Got it" if right else "Missed it").click()
    else:
        choices = list(question.choices.all())
        picked = [c for c in choices if c.correct] if right else [next(c for c in choices if not c.correct)]
        for choice in picked:
            page.locator(f"#choice-{choice.pk}").check()
        page.locator("form.answer-form button[type=submit]").click()
    feedback = page.locator("#feedback")
    expect(feedback).to_be_visible()
    # The explanation is shown whether the answer was right or not.
    expect(feedback.locator(".explanation")).to_contain_text(question.explanation[:40])
    if not question.is_self_graded:
        expect(feedback.locator(".verdict")).to_contain_text("Right." if right else "Not quite.")
    return question


def test_a_visitor_learns_retries_signs_up_and_keeps_the_progress(
    course: None, live_server: LiveServer, page: Page, problems: list[str]
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.goto(live_server.url + "/learn/")
    page.get_by_role("link", name='Primary database or cache: what "OK" promises').click()
    expect(page.locator("h1")).to_have_text('Primary database or cache: what "OK" promises')
    expect(page.locator(".fact-card").first).to_be_visible()

    # Run copies the block's commands until the sandbox exists, and says so.
    run = page.locator("button.run-command").first
    run.click()
    expect(page.locator(".run-status").first).to_contain_text("Copied 5 commands")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied.splitlines()[0] == "SET lab:first-write durable"

    page.get_by_role("button", name="Mark as read and continue").click()
    expect(page.locator("h1")).to_have_text(Lesson.objects.get(slug="what-a-cache-loses").title)

    # The first quiz, without an account: the first question wrong, the rest right.
    page.goto(f"{live_server.url}/quizzes/{FIRST_QUIZ}/")
    page.get_by_role("button", name="Start the quiz").click()
    missed = answer_current_question(page, right=False)
    while page.get_by_role("link", name="Next question").count():
        page.get_by_role("link", name="Next question").click()
        answer_current_question(page, right=True)
    page.get_by_role("link", name="See your results").click()
    total = Quiz.objects.get(slug=FIRST_QUIZ).items.count()
    expect(page.locator(".score")).to_contain_text(f"You got {total - 1} of {total} right")

    # Retry holds only the missed question.
    page.get_by_role("button", name="Retry the 1 missed question").click()
    expect(page.locator(".meta").first).to_contain_text("Question 1 of 1")
    assert page.locator("section.question-card").get_attribute("data-question") == missed.slug
    answer_current_question(page, right=True)
    page.get_by_role("link", name="See your results").click()
    expect(page.locator(".score")).to_contain_text("You got 1 of 1 right (100%).")

    # Sign up: everything done so far moves to the new account.
    page.get_by_role("link", name="Sign up").first.click()
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Email").fill("dana@example.org")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(f"{live_server.url}/me/")
    expect(page.locator(".messages")).to_contain_text("Your progress so far is saved to it.")
    expect(page.locator(".account-name")).to_have_text("dana")
    expect(page.locator(".stats")).to_contain_text(f"1/{Lesson.objects.count()} lessons read")

    # The chart is drawn by plotly, from the site's own copy, with the quiz score.
    page.wait_for_function("() => document.querySelector('#score-chart .main-svg') !== null")
    traces = page.evaluate(
        "() => document.getElementById('score-chart').data.map(t => ({name: t.name, y: t.y}))"
    )
    first_score = round(100 * (total - 1) / total)  # the first attempt: one missed
    assert traces == [{"name": "MemoryDB vs ElastiCache: what does an OK promise?", "y": [first_score]}]
    assert page.locator("#score-chart .scatterlayer .point").count() == 1

    learner = Learner.objects.get(user__username="dana")
    assert Learner.objects.count() == 1
    assert Attempt.objects.filter(learner=learner).count() == 2
    assert learner.lesson_reads.count() == 1
    assert problems == []


def test_pages_fit_a_phone_and_a_quiz_works_from_the_keyboard(
    course: None, live_server: LiveServer, page: Page, problems: list[str]
) -> None:
    page.set_viewport_size({"width": 375, "height": 740})
    for path in (
        "/learn/write-acknowledgement/write-acknowledgement/",  # diagram, table, code
        "/learn/cluster-architecture/cluster-slots/",
        "/interview/",
        "/interview/q-focus-7-failover-rto/",
        "/facts/",
        f"/quizzes/{FIRST_QUIZ}/",
    ):
        page.goto(live_server.url + path)
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 375 px"
    page.goto(live_server.url + "/learn/write-acknowledgement/write-acknowledgement/")
    assert page.locator("img.diagram").evaluate("img => img.complete && img.naturalWidth > 0")

    # Start the quiz and answer a question with the keyboard only.
    page.goto(f"{live_server.url}/quizzes/{FIRST_QUIZ}/")
    page.get_by_role("button", name="Start the quiz").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("section.question-card")
    question = Question.objects.get(
        slug=page.locator("section.question-card").get_attribute("data-question")
    )
    if question.is_self_graded:
        page.get_by_label("Your answer").focus()
        page.keyboard.type("Durability comes from the log.")
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        expect(page.locator("#model-title")).to_be_visible()
    else:
        page.locator("input[name=choice]").first.focus()
        page.keyboard.press("Space")
        assert page.locator("input[name=choice]").first.is_checked()
        # Tab on to the submit button: past the radio group, or each checkbox.
        page.keyboard.press("Tab")
        while page.evaluate("() => document.activeElement.type") != "submit":
            page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        expect(page.locator("#feedback")).to_be_visible()
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    assert problems == []
