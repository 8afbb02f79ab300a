"""Anchor numbers (16,384 slots, 15-minute IAM tokens, ...) as review cards: the
review page offers them, and adding them puts them in the queue, due now."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from quizzes.loader import DEFAULT_CONTENT_DIR, load_content
from quizzes.loader.questions import parse_questions
from quizzes.models import Question, ReviewCard

from .test_content_loader import LoaderTestCase


class AnchorCardTests(LoaderTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.course.replace("questions/basics.yaml", "- id: q-one\n", "- id: q-one\n  anchor: true\n")
        load_content(self.course.root)
        self.client.force_login(self.alice)

    def test_the_review_page_offers_the_anchor_cards(self) -> None:
        html = self.client.get(reverse("quizzes:review")).content.decode()
        self.assertIn("Add 1 anchor number to my review", html)

    def test_adding_them_makes_them_due_now_and_the_offer_goes_away(self) -> None:
        response = self.client.post(reverse("quizzes:review_anchors"))
        self.assertRedirects(response, reverse("quizzes:review"))
        card = ReviewCard.objects.get(learner__user=self.alice)
        self.assertEqual(card.question.slug, "q-one")
        self.assertLessEqual(card.due, timezone.now())
        html = self.client.get(reverse("quizzes:review")).content.decode()
        self.assertNotIn("anchor number", html)
        self.assertIn("When is the reply sent?", html)

    def test_adding_them_again_keeps_an_existing_schedule(self) -> None:
        self.client.post(reverse("quizzes:review_anchors"))
        later = timezone.now() + timezone.timedelta(days=9)
        ReviewCard.objects.update(due=later)
        self.client.post(reverse("quizzes:review_anchors"))
        self.assertEqual(ReviewCard.objects.get().due, later)

    def test_the_loader_refuses_an_anchor_without_a_fact(self) -> None:
        self.course.replace("questions/basics.yaml", "  facts: [fact-one]\n", "")
        self.assertRefused("q-one: an anchor question must cite the fact its number comes from")

    def test_the_course_has_anchor_cards_for_the_numbers_to_know(self) -> None:
        problems: list[str] = []
        anchors = [q for q in parse_questions(DEFAULT_CONTENT_DIR, problems) if q.anchor]
        self.assertEqual(problems, [])
        cited = {fact for q in anchors for fact in q.facts}
        for fact in ("mdb-iam-auth", "mdb-iam-12h", "cs-16384-slots-crc16",
                     "mdb-snapshot-retention", "ec-durability-async"):  # fmt: skip
            self.assertIn(fact, cited)
        self.assertTrue(Question.objects.filter(anchor=True).exists())
