"""Roles (learner, instructor) and content editing in the admin, which renders and
sanitizes exactly as load_content does."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django.urls import reverse
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied

from quizzes.decorators import instructor_required
from quizzes.models import Fact, Lesson, Question
from quizzes.roles import INSTRUCTORS_GROUP, TEACH_PERMISSION, is_instructor

from .base import WebTestCase
from .course import load_course
from .test_rendering import ExecutableMarkupFinder


@instructor_required
def _dashboard(request: HttpRequest) -> HttpResponse:
    return HttpResponse("class roster")


class RoleTests(WebTestCase):
    def test_bob_is_an_instructor_and_alice_and_charlie_are_not(self) -> None:
        self.assertTrue(self.bob.has_perm(TEACH_PERMISSION))
        self.assertTrue(is_instructor(self.bob))
        self.assertFalse(is_instructor(self.alice))
        self.assertFalse(self.charlie.has_perm(TEACH_PERMISSION))
        group = Group.objects.get(name=INSTRUCTORS_GROUP)
        self.assertEqual([p.codename for p in group.permissions.all()], ["teach"])

    def test_instructor_required_lets_only_instructors_in(self) -> None:
        factory = RequestFactory()
        request = factory.get("/teach/")
        request.user = self.bob
        self.assertEqual(_dashboard(request).content, b"class roster")
        request.user = self.alice
        with self.assertRaises(PermissionDenied):
            _dashboard(request)
        request.user = AnonymousUser()
        response = _dashboard(request)
        self.assertEqual(response.status_code, 302)
        self.assertIn(reverse("login"), response["Location"])


class AdminEditingTests(WebTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        load_course()
        cls.bob.is_staff = True
        cls.bob.is_superuser = True
        cls.bob.save()

    def setUp(self) -> None:
        self.client.force_login(self.bob)
        self.lesson = Lesson.objects.get(slug="cluster-slots")

    def lesson_form(self, body: str) -> dict[str, object]:
        return {
            "module": self.lesson.module_id,
            "slug": self.lesson.slug,
            "number": self.lesson.number,
            "position": self.lesson.position,
            "title": self.lesson.title,
            "summary": self.lesson.summary,
            "minutes": self.lesson.minutes,
            "topics": [t.pk for t in self.lesson.topics.all()],
            "body_markdown": body,
            "labs": "[]",
            "source_path": self.lesson.source_path,
        }

    def test_a_staff_edit_is_rendered_and_sanitized_on_save(self) -> None:
        url = reverse("admin:quizzes_lesson_change", args=[self.lesson.pk])
        body = (
            "Edited {{fact:cs-16384-slots-crc16}} see [[lesson:shards-and-nodes]].\n\n"
            '<script>alert(1)</script><img src=x onerror=alert(1)> [x](javascript:alert(1))'
        )
        response = self.client.post(url, self.lesson_form(body))
        self.assertEqual(response.status_code, 302, response.content.decode()[:3000])
        self.lesson.refresh_from_db()
        self.assertEqual(self.lesson.body_markdown, body)
        self.assertEqual(ExecutableMarkupFinder.problems_in(self.lesson.body_html), [])
        self.assertIn('id="fact-cs-16384-slots-crc16"', self.lesson.body_html)
        self.assertIn('href="/learn/cluster-architecture/shards-and-nodes/"', self.lesson.body_html)
        self.assertEqual([f.slug for f in self.lesson.facts.all()], ["cs-16384-slots-crc16"])

    def test_a_staff_edit_with_a_broken_link_is_refused(self) -> None:
        before = self.lesson.body_html
        url = reverse("admin:quizzes_lesson_change", args=[self.lesson.pk])
        response = self.client.post(url, self.lesson_form("See [[lesson:nowhere]]."))
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "[[lesson:nowhere]]: no lesson has this id")
        self.lesson.refresh_from_db()
        self.assertEqual(self.lesson.body_html, before)

    def test_a_staff_edit_of_a_question_is_sanitized(self) -> None:
        question = Question.objects.get(slug="q-focus-8-acl-auth")
        url = reverse("admin:quizzes_question_change", args=[question.pk])
        page = self.client.get(url)
        self.assertEqual(page.status_code, 200)
        form = page.context["adminform"].form
        data = {name: form[name].value() for name in form.fields}
        data = {k: ("" if v is None else v) for k, v in data.items()}
        data["model_answer"] = 'Use ACLs. <iframe src="https://evil.example"></iframe>'
        data.update({"choices-TOTAL_FORMS": "0", "choices-INITIAL_FORMS": "0"})
        response = self.client.post(url, data)
        self.assertEqual(response.status_code, 302, response.content.decode()[:3000])
        question.refresh_from_db()
        self.assertNotIn("<iframe", question.model_answer_html)
        self.assertIn("&lt;iframe", question.model_answer_html)

    def test_editing_a_fact_refreshes_the_cards_of_lessons_citing_it(self) -> None:
        fact = Fact.objects.get(slug="cs-16384-slots-crc16")
        citing = list(fact.lessons.all())
        self.assertTrue(citing)
        url = reverse("admin:quizzes_fact_change", args=[fact.pk])
        response = self.client.post(
            url,
            {
                "slug": fact.slug, "claim": "An edited <claim>.", "source": fact.source,
                "url": fact.url, "published": fact.published, "checked": "2026-11-27",
                "topic": fact.topic_id, "position": fact.position,
            },
        )  # fmt: skip
        self.assertEqual(response.status_code, 302, response.content.decode()[:2000])
        for lesson in citing:
            lesson.refresh_from_db()
            self.assertIn("An edited &lt;claim&gt;.", lesson.body_html)

    def test_learners_cannot_reach_the_admin(self) -> None:
        self.client.force_login(self.alice)
        response = self.client.get(reverse("admin:quizzes_lesson_changelist"))
        self.assertEqual(response.status_code, 302)
