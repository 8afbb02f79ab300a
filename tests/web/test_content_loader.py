"""load_content: publishes the course files, idempotently, and refuses broken content."""

from __future__ import annotations

import shutil
import tempfile
from io import StringIO
from pathlib import Path
from textwrap import dedent

from django.core.management import call_command
from django.core.management.base import CommandError

from quizzes.loader import ContentError, load_content
from quizzes.models import Choice, Fact, Lesson, Module, Question, Quiz, QuizItem
from quizzes.models.content import Misconception

from .base import WebTestCase
from .course import load_course

SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 100" role="img">'
    "<title>A box</title><rect x='1' y='1' width='198' height='98' fill='none' stroke='black'/>"
    "</svg>"
)


class TinyCourse:
    """A minimal valid course in a temporary folder, which tests then break."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="course-"))
        self.write("facts.yaml", """
            - id: fact-one
              claim: "The log acknowledges after a multi-AZ commit."
              source: "A paper"
              url: "https://example.org/paper"
              published: "2024"
              checked: "2026-11-26"
              topic: durability
            - id: fact-material
              claim: "The material says so."
              source: "Course material"
              url: "shared/material/memorydb-overview.txt"
              published: "unknown"
              checked: "2026-11-26"
              topic: durability
        """)
        self.write("lessons/01-basics/module.yaml", """
            title: "Basics"
            summary: "The basics."
            order: 1
        """)
        self.write("lessons/01-basics/01-first.md", """
            ---
            slug: first
            title: "First lesson"
            summary: "The first one."
            minutes: 3
            topics: [durability]
            labs:
              - id: lab-one
                instruction: Set `k` to `v`.
                check: {type: string_equals, key: k, value: v}
                hint: SET k v
            ---
            Writes wait for the log {{fact:fact-one}}, says the material {{fact:fact-material}}.
            The key `foo{{bar}}zap` hashes `{bar`, and so does foo{{bar}}zap outside code.
            Next: [[lesson:second]]. Drill: [[question:q-one]].

            ![A box with a label](diagram:box)

            ```redis
            SET k v
            ```
        """)
        self.write("lessons/01-basics/02-second.md", """
            ---
            slug: second
            title: "Second lesson"
            summary: "The second one."
            minutes: 4
            topics: [failover]
            ---
            Back to [[lesson:first]].
        """)
        self.write("questions/basics.yaml", """
            - id: q-one
              kind: single
              topics: [durability]
              difficulty: 1
              prompt: "When is the reply sent?"
              model_answer: "After the commit."
              follow_up: "And replicas?"
              follow_up_answer: "They tail the log."
              lesson: first
              facts: [fact-one]
              explanation: "Execute, log, commit, reply."
              choices:
                - {text: "Before the commit", correct: false, why: "That is a cache."}
                - {text: "After the commit", correct: true, why: "The tracker holds it."}
            - id: q-two
              kind: interview
              topics: [failover]
              difficulty: 2
              material_focus: 1
              prompt: "How does failover work?"
              model_answer: "Through the log."
              follow_up: "RTO?"
              follow_up_answer: "Seconds."
              lesson: second
              explanation: "The log decides."
        """)
        self.write("quizzes.yaml", """
            - slug: basics-quiz
              title: "Basics quiz"
              module: basics
              mode: module
              questions: [q-one, q-two]
        """)
        self.write("diagrams/box.svg", SVG)

    def write(self, name: str, text: str) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text).lstrip("\n"), encoding="utf-8")

    def replace(self, name: str, old: str, new: str) -> None:
        path = self.root / name
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} is not in {name}"
        path.write_text(text.replace(old, new), encoding="utf-8")

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class LoaderTestCase(WebTestCase):
    def setUp(self) -> None:
        self.course = TinyCourse()
        self.addCleanup(self.course.remove)

    def assertRefused(self, *fragments: str) -> list[str]:
        """Loading fails, names each fragment in a problem, and writes nothing."""
        before = (Lesson.objects.count(), Question.objects.count(), Fact.objects.count())
        with self.assertRaises(ContentError) as caught:
            load_content(self.course.root)
        text = "\n".join(caught.exception.problems)
        for fragment in fragments:
            self.assertIn(fragment, text)
        after = (Lesson.objects.count(), Question.objects.count(), Fact.objects.count())
        self.assertEqual(after, before)
        return caught.exception.problems


class LoadingTests(LoaderTestCase):
    def test_it_loads_a_valid_course(self) -> None:
        report = load_content(self.course.root)
        self.assertEqual(report.counts["lessons"], 2)
        self.assertEqual(Module.objects.get().slug, "basics")
        first = Lesson.objects.get(slug="first")
        self.assertEqual(first.module.number, 1)
        self.assertEqual(first.get_absolute_url(), "/learn/basics/first/")
        self.assertEqual([t.slug for t in first.topics.all()], ["durability"])
        self.assertEqual(sorted(f.slug for f in first.facts.all()), ["fact-material", "fact-one"])
        self.assertEqual(first.labs[0]["id"], "lab-one")
        self.assertEqual(first.labs[0]["check"]["type"], "string_equals")
        self.assertIn("<code>k</code>", first.labs[0]["instruction_html"])
        q_one = Question.objects.get(slug="q-one")
        self.assertEqual(q_one.lesson, first)
        self.assertEqual([c.correct for c in q_one.choices.all()], [False, True])
        self.assertEqual(Question.objects.get(slug="q-two").material_focus, 1)
        quiz = Quiz.objects.get()
        self.assertTrue(quiz.public)
        self.assertEqual([q.slug for q in quiz.active_questions()], ["q-one", "q-two"])

    def test_the_markdown_is_rendered_with_cards_links_diagrams_and_run_buttons(self) -> None:
        load_content(self.course.root)
        html = Lesson.objects.get(slug="first").body_html
        self.assertIn('href="/learn/basics/second/">Second lesson</a>', html)
        self.assertIn('href="/interview/q-one/"', html)
        self.assertIn('class="fact-card" id="fact-fact-one"', html)
        self.assertIn('<a href="https://example.org/paper">A paper</a>', html)
        # A source without a web address is text, never a link.
        self.assertIn("Course material (shared/material/memorydb-overview.txt)", html)
        self.assertNotIn('href="shared/material', html)
        self.assertIn('<img alt="A box with a label" class="diagram" height="100"', html)
        self.assertRegex(html, r'src="/diagrams/box\.svg\?v=[0-9a-f]{12}"')
        self.assertIn('data-command="SET k v"', html)
        # The cluster spec's literal braces are left alone, in code and in text.
        self.assertIn("<code>foo{{bar}}zap</code>", html)
        self.assertIn("so does foo{{bar}}zap outside code", html)

    def test_running_it_twice_changes_nothing_and_duplicates_nothing(self) -> None:
        load_content(self.course.root)
        counts = [m.objects.count() for m in (Lesson, Question, Choice, Quiz, QuizItem, Fact)]
        ids = list(Choice.objects.order_by("pk").values_list("pk", flat=True))
        report = load_content(self.course.root)
        self.assertEqual((report.changes.created, report.changes.updated, report.changes.removed), (0, 0, 0))
        self.assertEqual([m.objects.count() for m in (Lesson, Question, Choice, Quiz, QuizItem, Fact)], counts)
        self.assertEqual(list(Choice.objects.order_by("pk").values_list("pk", flat=True)), ids)

    def test_a_second_run_updates_what_changed(self) -> None:
        load_content(self.course.root)
        self.course.replace("lessons/01-basics/02-second.md", "Back to", "Go back to")
        self.course.replace("facts.yaml", "A paper", "The paper")
        report = load_content(self.course.root)
        self.assertGreaterEqual(report.changes.updated, 2)
        self.assertIn("Go back to", Lesson.objects.get(slug="second").body_html)
        self.assertEqual(Fact.objects.get(slug="fact-one").source, "The paper")

    def test_a_question_removed_from_the_files_is_retired_not_deleted(self) -> None:
        load_content(self.course.root)
        self.course.replace("quizzes.yaml", "[q-one, q-two]", "[q-one]")
        self.course.replace("questions/basics.yaml", "- id: q-two", "- id: q-three")
        load_content(self.course.root)
        self.assertTrue(Question.objects.get(slug="q-two").retired)
        self.assertFalse(Question.objects.get(slug="q-three").retired)

    def test_the_command_reports_what_it_loaded(self) -> None:
        out = StringIO()
        call_command("load_content", content_dir=self.course.root, stdout=out)
        self.assertIn("2 lessons", out.getvalue())
        self.assertEqual(Lesson.objects.count(), 2)


class BrokenContentTests(LoaderTestCase):
    def test_it_rejects_a_link_to_a_missing_lesson(self) -> None:
        self.course.replace("lessons/01-basics/02-second.md", "[[lesson:first]]", "[[lesson:frist]]")
        self.assertRefused("02-second.md", "[[lesson:frist]]: no lesson has this id")

    def test_it_rejects_a_link_to_a_missing_question(self) -> None:
        self.course.replace("lessons/01-basics/01-first.md", "[[question:q-one]]", "[[question:q-nine]]")
        self.assertRefused("01-first.md", "[[question:q-nine]]: no question has this id")

    def test_it_rejects_a_missing_fact_a_missing_diagram_and_an_unknown_link_kind(self) -> None:
        self.course.replace("lessons/01-basics/01-first.md", "{{fact:fact-one}}", "{{fact:fact-two}}")
        self.course.replace("lessons/01-basics/01-first.md", "(diagram:box)", "(diagram:boxes)")
        self.course.replace("lessons/01-basics/02-second.md", "[[lesson:first]]", "[[lab:first]]")
        problems = self.assertRefused(
            "{{fact:fact-two}}: no fact has this id",
            "diagram:boxes",
            "unknown link kind 'lab'",
        )
        self.assertEqual(len(problems), 3, "every problem is reported in one run")

    def test_it_rejects_an_unknown_topic(self) -> None:
        self.course.replace("questions/basics.yaml", "topics: [failover]", "topics: [failovr]")
        self.assertRefused("question q-two", "unknown topic 'failovr'")

    def test_it_rejects_duplicate_ids(self) -> None:
        self.course.replace("questions/basics.yaml", "- id: q-two", "- id: q-one")
        self.course.replace("facts.yaml", "- id: fact-material", "- id: fact-one")
        self.course.replace("lessons/01-basics/02-second.md", "slug: second", "slug: first")
        self.assertRefused(
            "duplicate question id 'q-one'", "duplicate fact id 'fact-one'", "duplicate lesson slug 'first'"
        )

    def test_it_rejects_broken_references_outside_the_markdown(self) -> None:
        self.course.replace("questions/basics.yaml", "lesson: second", "lesson: third")
        self.course.replace("questions/basics.yaml", "facts: [fact-one]", "facts: [fact-nine]")
        self.course.replace("quizzes.yaml", "[q-one, q-two]", "[q-one, q-ten]")
        self.course.replace("quizzes.yaml", "module: basics", "module: 01-basics")
        self.assertRefused(
            "'lesson' 'third' is not a lesson",
            "fact 'fact-nine' is not in facts.yaml",
            "question 'q-ten' does not exist",
            "'module' '01-basics' is not a module folder",
        )

    def test_it_rejects_a_wrong_number_of_correct_choices_and_unknown_fields(self) -> None:
        self.course.replace("questions/basics.yaml", "correct: false, why: \"That", "correct: true, why: \"That")
        self.course.replace("questions/basics.yaml", "difficulty: 2", "dificulty: 2")
        self.assertRefused("exactly one correct choice, found 2", "unknown field(s) dificulty")

    def test_it_rejects_a_source_url_that_is_neither_web_nor_repository_path(self) -> None:
        self.course.replace("facts.yaml", "https://example.org/paper", "javascript:alert(1)")
        self.assertRefused("'url' 'javascript:alert(1)'")

    def test_it_rejects_a_diagram_that_could_run_script(self) -> None:
        self.course.write(
            "diagrams/box.svg",
            SVG.replace("<title>", "<script>alert(1)</script><title>").replace(
                "<rect", "<rect onclick='alert(2)'"
            ),
        )
        self.assertRefused("<script> is not allowed", "onclick")

    def test_the_command_fails_loudly_and_lists_the_problems(self) -> None:
        self.course.replace("lessons/01-basics/02-second.md", "[[lesson:first]]", "[[lesson:nowhere]]")
        with self.assertRaises(CommandError) as caught:
            call_command("load_content", content_dir=self.course.root, stdout=StringIO())
        self.assertIn("nothing was loaded", str(caught.exception))
        self.assertIn("[[lesson:nowhere]]", str(caught.exception))
        self.assertEqual(Lesson.objects.count(), 0)


class RealCourseTests(WebTestCase):
    """The course in the repository loads: this is what scripts/run publishes."""

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        load_course()

    def test_the_whole_course_is_there(self) -> None:
        self.assertEqual(Module.objects.count(), 10)
        self.assertGreaterEqual(Lesson.objects.count(), 28)
        self.assertGreaterEqual(Question.objects.filter(retired=False).count(), 48)
        self.assertEqual(Quiz.objects.filter(public=True).count(), 1)
        self.assertEqual(Quiz.objects.filter(mode=Quiz.Mode.INTERVIEW).count(), 1)
        # Every module has its quiz, and every lesson has a rendered body.
        self.assertFalse(Module.objects.filter(quizzes__isnull=True).exists())
        self.assertFalse(Lesson.objects.filter(body_html="").exists())

    def test_the_command_loads_the_repository_content_without_duplicating_it(self) -> None:
        out = StringIO()
        call_command("load_content", stdout=out)
        self.assertIn("0 created", out.getvalue())
        self.assertEqual(Module.objects.count(), 10)


class MisconceptionTagTests(LoaderTestCase):
    """Wrong choices name the belief they stand for; the loader keeps the tags honest."""

    def setUp(self) -> None:
        super().setUp()
        self.course.write("misconceptions.yaml", """
            - id: ack-from-memory
              title: "OK means in memory"
              statement: "The reply is sent once the primary applied the write in memory."
              lesson: first
        """)
        self.course.replace(
            "questions/basics.yaml",
            'correct: false, why: "That is a cache."}',
            'correct: false, misconception: ack-from-memory, why: "That is a cache."}',
        )

    def test_it_stores_the_misconceptions_and_the_tag_of_each_wrong_choice(self) -> None:
        report = load_content(self.course.root)
        self.assertEqual(report.counts["misconceptions"], 1)
        belief = Misconception.objects.get()
        self.assertEqual((belief.slug, belief.lesson.slug), ("ack-from-memory", "first"))
        wrong, right = Choice.objects.filter(question__slug="q-one").order_by("position")
        self.assertEqual(wrong.misconception, belief)
        self.assertIsNone(right.misconception)
        again = load_content(self.course.root)
        self.assertEqual((again.changes.created, again.changes.updated), (0, 0))

    def test_it_rejects_an_unknown_misconception_naming_the_file_and_question(self) -> None:
        self.course.replace("questions/basics.yaml", "misconception: ack-from-memory", "misconception: ack-form-memory")
        self.assertRefused(
            "questions/basics.yaml, question q-one, choice 1: misconception 'ack-form-memory'"
            " is not in misconceptions.yaml"
        )

    def test_it_rejects_a_misconception_on_a_correct_choice(self) -> None:
        self.course.replace(
            "questions/basics.yaml",
            'correct: true, why: "The tracker holds it."}',
            'correct: true, misconception: ack-from-memory, why: "The tracker holds it."}',
        )
        self.assertRefused(
            "questions/basics.yaml, question q-one, choice 2: a correct choice cannot carry"
            " misconception 'ack-from-memory'"
        )

    def test_it_rejects_a_misconception_no_choice_uses_and_one_with_a_missing_lesson(self) -> None:
        self.course.write("misconceptions.yaml", """
            - id: ack-from-memory
              title: "OK means in memory"
              statement: "The reply is sent once the primary applied the write in memory."
              lesson: first
            - id: never-shown
              title: "Unused"
              statement: "No question offers this."
              lesson: thrid
        """)
        self.assertRefused(
            "misconceptions.yaml, misconception never-shown: no wrong choice is tagged with it",
            "misconceptions.yaml, misconception never-shown: 'lesson' 'thrid' is not a lesson",
        )

    def test_it_rejects_a_duplicate_misconception_id(self) -> None:
        text = (self.course.root / "misconceptions.yaml").read_text(encoding="utf-8")
        self.course.write("misconceptions.yaml", text + text)
        self.assertRefused("duplicate misconception id 'ack-from-memory'")


class RealCourseMisconceptionTests(WebTestCase):
    """Every distractor of the real course says which wrong belief it stands for."""

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        load_course()

    def test_every_wrong_choice_of_the_real_course_has_a_misconception(self) -> None:
        wrong = Choice.objects.filter(correct=False, question__retired=False)
        self.assertGreaterEqual(wrong.count(), 150)
        untagged = [f"{c.question.slug} choice {c.position}" for c in wrong.filter(misconception=None)]
        self.assertEqual(untagged, [])
        self.assertFalse(Choice.objects.filter(correct=True, misconception__isnull=False).exists())

    def test_the_real_misconceptions_are_many_and_each_names_its_lesson(self) -> None:
        self.assertTrue(20 <= Misconception.objects.count() <= 55)
        self.assertFalse(Misconception.objects.filter(lesson=None).exists())
        self.assertFalse(Misconception.objects.filter(choices=None).exists())
