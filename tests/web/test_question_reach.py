"""Every question of the course is reachable: linked from a lesson body
([[question:slug]]) and listed in a quiz. A question may be exempt only with a
stated reason in ``quizzes/content/practice-exceptions.yaml`` ({slug: reason})."""

from __future__ import annotations

import re

import yaml
from django.test import SimpleTestCase

from quizzes.loader import DEFAULT_CONTENT_DIR
from quizzes.loader.lessons import parse_modules
from quizzes.loader.questions import parse_questions, parse_quizzes

LINK = re.compile(r"\[\[question:([a-z0-9-]+)\]\]")


def exceptions() -> dict[str, str]:
    path = DEFAULT_CONTENT_DIR / "practice-exceptions.yaml"
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.exists() else {}


class QuestionReachTests(SimpleTestCase):
    def setUp(self) -> None:
        problems: list[str] = []
        self.questions = [q.slug for q in parse_questions(DEFAULT_CONTENT_DIR, problems)]
        modules = parse_modules(DEFAULT_CONTENT_DIR, problems)
        self.bodies = [lesson.body for module in modules for lesson in module.lessons]
        self.quizzes = parse_quizzes(DEFAULT_CONTENT_DIR, problems)
        self.exempt = exceptions()

    def test_every_exception_states_a_reason(self) -> None:
        for slug, reason in self.exempt.items():
            self.assertIsInstance(reason, str, slug)
            self.assertTrue(reason.strip(), f"{slug}: an exception needs a reason")

    def test_every_question_is_linked_from_some_lesson(self) -> None:
        linked = {slug for body in self.bodies for slug in LINK.findall(body)}
        unlinked = [s for s in self.questions if s not in linked and s not in self.exempt]
        self.assertEqual(unlinked, [], "link each from the lesson that teaches it")

    def test_every_question_is_in_some_quiz(self) -> None:
        listed = {slug for quiz in self.quizzes for slug in quiz.questions}
        orphans = [s for s in self.questions if s not in listed and s not in self.exempt]
        self.assertEqual(orphans, [], "add each to a quiz in quizzes.yaml")
