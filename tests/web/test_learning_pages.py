"""The learning path, lessons, facts, diagrams and the interview pages, on the real
course: each answers 200, shows what it should and has no inline script."""

from __future__ import annotations

from django.urls import reverse

from quizzes.models import Diagram, Fact, Learner, Lesson, LessonRead, Module, Question, Quiz, Topic

from .base import WebTestCase
from .course import load_course


class CourseTestCase(WebTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        load_course()

    def get_ok(self, url: str) -> str:
        response = self.client.get(url)
        self.assertEqual(response.status_code, 200, url)
        html = response.content.decode()
        self.assertNoInlineScript(html)
        self.assertEqual(html.count("<h1"), 1, f"{url} has one h1")
        return html


class LearningPathTests(CourseTestCase):
    def test_the_path_lists_every_module_lesson_and_quiz(self) -> None:
        html = self.get_ok(reverse("quizzes:path"))
        for lesson in Lesson.objects.select_related("module"):
            self.assertIn(f'href="{lesson.get_absolute_url()}"', html)
        for quiz in Quiz.objects.exclude(module=None):
            self.assertIn(f'href="{quiz.get_absolute_url()}"', html)
        self.assertIn('aria-current="page">Learn</a>', html)

    def test_a_module_page_lists_its_lessons_and_quiz(self) -> None:
        module = Module.objects.get(slug="failover")
        html = self.get_ok(module.get_absolute_url())
        self.assertIn(module.title, html)
        for lesson in module.lessons.all():
            self.assertIn(lesson.title, html)
        self.assertIn(reverse("quizzes:quiz", args=["failover-quiz"]), html)

    def test_an_unknown_module_or_a_lesson_under_the_wrong_module_is_404(self) -> None:
        self.assertEqual(self.client.get("/learn/no-such-module/").status_code, 404)
        self.assertEqual(self.client.get("/learn/failover/cluster-slots/").status_code, 404)


class LessonPageTests(CourseTestCase):
    def test_a_lesson_shows_text_fact_cards_diagram_run_buttons_and_labs(self) -> None:
        lesson = Lesson.objects.get(slug="write-acknowledgement")
        html = self.get_ok(lesson.get_absolute_url())
        self.assertIn(lesson.title, html)
        self.assertIn('class="fact-card"', html)
        self.assertIn("Checked <time", html)
        self.assertIn('<img alt="Diagram of one MemoryDB write.', html)
        self.assertIn('class="run-command" data-command="SET order:1001:status pending', html)
        self.assertIn('src="/static/js/lesson.js"', html)
        self.assertIn("Lab steps", html)
        self.assertIn(f'action="{reverse("quizzes:mark_read", args=[lesson.module.slug, lesson.slug])}"', html)
        # Linked interview questions and the next lesson.
        for question in lesson.questions.all():
            self.assertIn(question.get_absolute_url(), html)
        self.assertIn('rel="next"', html)

    def test_a_course_material_source_is_plain_text_and_a_web_source_a_link(self) -> None:
        lesson = Lesson.objects.filter(facts__url__startswith="shared/").first()
        assert lesson is not None
        html = self.get_ok(lesson.get_absolute_url())
        self.assertIn("(shared/material/memorydb-overview.txt)", html)
        self.assertNotIn('href="shared/material', html)
        self.assertIn('<a href="https://', html)

    def test_the_cluster_spec_braces_are_shown_literally(self) -> None:
        html = self.get_ok(Lesson.objects.get(slug="cluster-slots").get_absolute_url())
        self.assertIn("foo{{bar}}zap", html)

    def test_marking_a_lesson_read_records_it_and_moves_on(self) -> None:
        first, second = Lesson.objects.filter(module__number=1)[:2]
        response = self.client.post(reverse("quizzes:mark_read", args=[first.module.slug, first.slug]))
        self.assertRedirects(response, second.get_absolute_url())
        learner = Learner.objects.get()
        self.assertIsNone(learner.user)
        self.assertTrue(LessonRead.objects.filter(learner=learner, lesson=first).exists())
        html = self.get_ok(first.get_absolute_url())
        self.assertIn('badge-done">Read', html)

    def test_the_last_lesson_of_a_module_leads_to_its_quiz(self) -> None:
        last = Lesson.objects.filter(module__number=1).last()
        assert last is not None
        response = self.client.post(reverse("quizzes:mark_read", args=[last.module.slug, last.slug]))
        self.assertRedirects(response, reverse("quizzes:quiz", args=["memorydb-vs-elasticache-quiz"]))

    def test_reading_a_lesson_creates_no_learner(self) -> None:
        self.get_ok(Lesson.objects.first().get_absolute_url())
        self.assertEqual(Learner.objects.count(), 0)

    def test_marking_read_is_post_only(self) -> None:
        lesson = Lesson.objects.first()
        url = reverse("quizzes:mark_read", args=[lesson.module.slug, lesson.slug])
        self.assertEqual(self.client.get(url).status_code, 405)


class FactsAndDiagramsTests(CourseTestCase):
    def test_the_facts_page_lists_every_fact_by_topic_with_its_source(self) -> None:
        html = self.get_ok(reverse("quizzes:facts"))
        for fact in Fact.objects.all():
            self.assertIn(f'id="fact-{fact.slug}"', html)
            if fact.link:
                self.assertIn(f'href="{fact.link}"', html)
        for topic in Topic.objects.filter(facts__isnull=False).distinct():
            self.assertIn(f'id="topic-{topic.slug}"', html)
        self.assertIn("Publication date unknown", html)
        self.assertNotIn('href="shared/', html)
        self.assertIn("Cited in:", html)

    def test_a_diagram_is_served_as_svg_with_a_locked_down_policy(self) -> None:
        diagram = Diagram.objects.get(name="write-path")
        response = self.client.get(diagram.get_absolute_url())
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "image/svg+xml; charset=utf-8")
        self.assertIn("default-src 'none'", response["Content-Security-Policy"])
        self.assertIn("immutable", response["Cache-Control"])
        self.assertTrue(response.content.startswith(b"<svg"))
        self.assertEqual(self.client.get("/diagrams/nope.svg").status_code, 404)


class InterviewPagesTests(CourseTestCase):
    def test_the_bank_links_every_question(self) -> None:
        html = self.get_ok(reverse("quizzes:interview"))
        questions = Question.objects.filter(retired=False)
        self.assertGreaterEqual(questions.count(), 48)
        for question in questions:
            self.assertIn(f'href="{question.get_absolute_url()}"', html)
        self.assertIn("Corrects the course material", html)

    def test_the_bank_filters_by_topic(self) -> None:
        response = self.client.get(reverse("quizzes:interview"), {"topic": "security"})
        html = response.content.decode()
        security = Question.objects.filter(topics__slug="security")
        self.assertGreater(security.count(), 0)
        for question in security:
            self.assertIn(question.get_absolute_url(), html)
        for question in Question.objects.exclude(topics__slug="security"):
            self.assertNotIn(f'href="{question.get_absolute_url()}"', html)

    def test_a_question_page_has_answer_follow_up_lesson_and_sources(self) -> None:
        question = Question.objects.get(slug="q-focus-7-failover-rto")
        html = self.get_ok(question.get_absolute_url())
        self.assertIn("Show the model answer", html)
        self.assertIn(question.model_answer_html, html)
        self.assertIn(question.follow_up_html, html)
        self.assertIn(question.follow_up_answer_html, html)
        self.assertIn(question.lesson.get_absolute_url(), html)
        self.assertIn('class="fact-card"', html)
        self.assertIn("Interview focus point 7", html)

    def test_a_multiple_choice_question_page_explains_each_choice(self) -> None:
        question = Question.objects.get(slug="q-when-is-reply-sent")
        html = self.get_ok(question.get_absolute_url())
        for choice in question.choices.all():
            self.assertIn(choice.why_html, html)
        self.assertEqual(html.count("<strong>Right:</strong>"), 1)

    def test_a_question_correcting_the_material_says_so(self) -> None:
        question = Question.objects.filter(corrects_material=True).first()
        html = self.get_ok(question.get_absolute_url())
        self.assertIn("The course material is out of date or wrong on this point", html)

    def test_an_unknown_question_is_404(self) -> None:
        self.assertEqual(self.client.get("/interview/q-nope/").status_code, 404)
