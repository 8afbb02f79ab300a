"""Every question of the course material's "Interview Focus Points" is in the bank,
answered, and linked from /interview/."""

from __future__ import annotations

from django.urls import reverse

from quizzes.models import Question

from .base import WebTestCase
from .course import load_course

# The eight focus points of shared/material/memorydb-overview.txt, and words any
# faithful rewording of each must keep.
FOCUS_POINTS = {
    1: ("What is the difference between MemoryDB for Redis and ElastiCache Redis?", ["MemoryDB", "ElastiCache"]),
    2: ("When would you choose MemoryDB over ElastiCache as a data store?", ["choose", "MemoryDB"]),
    3: ("How does MemoryDB achieve durability while maintaining microsecond read latency?", ["durability", "read latency"]),
    4: ("What is the write latency trade-off in MemoryDB compared to ElastiCache?", ["write latency"]),
    5: ("Describe a use case where MemoryDB replaces both ElastiCache and RDS in an architecture.", ["ElastiCache", "RDS"]),
    6: ("What Redis features are not available in MemoryDB?", ["features", "not available"]),
    7: ("How does MemoryDB handle failover? What is the RTO?", ["failover", "RTO"]),
    8: ("How does ACL-based authentication work in MemoryDB?", ["ACL"]),
}  # fmt: skip


class InterviewFocusTests(WebTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        load_course()

    def test_each_focus_point_has_its_question_with_a_full_answer(self) -> None:
        for number, (text, words) in FOCUS_POINTS.items():
            with self.subTest(focus=number, text=text):
                question = Question.objects.get(material_focus=number, retired=False)
                for word in words:
                    self.assertIn(word.lower(), question.prompt.lower())
                self.assertGreater(len(question.model_answer), 300)
                self.assertTrue(question.follow_up and question.follow_up_answer)
                self.assertIsNotNone(question.lesson)
        self.assertEqual(Question.objects.filter(material_focus__isnull=False).count(), 8)

    def test_bank_lists_the_focus_points_in_order_with_links(self) -> None:
        response = self.client.get(reverse("quizzes:interview"))
        html = response.content.decode()
        section = html[html.index('id="focus-title"') : html.index("</section>", html.index('id="focus-title"'))]
        positions = []
        for number in FOCUS_POINTS:
            question = Question.objects.get(material_focus=number)
            link = f'href="{question.get_absolute_url()}"'
            self.assertIn(link, section)
            self.assertIn(f'<li value="{number}">', section)
            positions.append(section.index(link))
        self.assertEqual(positions, sorted(positions))

    def test_each_focus_question_page_opens(self) -> None:
        for question in Question.objects.filter(material_focus__isnull=False):
            with self.subTest(question=question.slug):
                response = self.client.get(question.get_absolute_url())
                self.assertEqual(response.status_code, 200)
                self.assertContains(response, f"Interview focus point {question.material_focus}")

    def test_the_bank_has_forty_more_questions_and_corrects_the_material(self) -> None:
        active = Question.objects.filter(retired=False)
        self.assertGreaterEqual(active.filter(material_focus__isnull=True).count(), 40)
        self.assertGreaterEqual(active.filter(corrects_material=True).count(), 3)
        self.assertEqual(
            set(active.values_list("kind", flat=True)), {"single", "multi", "predict", "interview"}
        )
