"""Spaced repetition with FSRS, on a frozen clock: every call is given ``now``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from django.urls import reverse
from fsrs import Rating, State

from quizzes import scheduling
from quizzes.models import Attempt, Learner, ReviewCard
from quizzes.summary import summarize

from . import factories as make
from .base import WebTestCase

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)


class SchedulerTests(WebTestCase):
    def test_a_first_right_answer_comes_back_in_days_and_a_miss_tomorrow(self) -> None:
        good = scheduling.review(scheduling.new_card(1, T0), Rating.Good, T0)
        again = scheduling.review(scheduling.new_card(2, T0), Rating.Again, T0)
        easy = scheduling.review(scheduling.new_card(3, T0), Rating.Easy, T0)
        self.assertEqual(good.state, State.Review)
        self.assertEqual(again.due, T0 + timedelta(days=1))
        self.assertGreaterEqual(good.due, T0 + timedelta(days=2))
        self.assertGreater(easy.due, good.due)
        self.assertEqual(good.last_review, T0)

    def test_intervals_grow_while_answers_stay_right(self) -> None:
        card = scheduling.new_card(1, T0)
        now, gaps = T0, []
        for _ in range(5):
            card = scheduling.review(card, Rating.Good, now)
            gaps.append(card.due - now)
            now = card.due  # answered exactly when due
        self.assertEqual(gaps, sorted(gaps))
        self.assertGreater(gaps[-1], gaps[0] * 4)

    def test_a_lapse_shortens_the_next_interval(self) -> None:
        card = scheduling.new_card(1, T0)
        for _ in range(3):
            card = scheduling.review(card, Rating.Good, card.due)
        long_gap = card.due - card.last_review
        lapsed = scheduling.review(card, Rating.Again, card.due)
        self.assertLess(lapsed.due - lapsed.last_review, long_gap / 3)

    def test_the_schedule_is_deterministic(self) -> None:
        runs = []
        for _ in range(2):
            card = scheduling.new_card(1, T0)
            for rating in (Rating.Good, Rating.Hard, Rating.Good, Rating.Easy):
                card = scheduling.review(card, rating, card.due)
            runs.append((card.due, card.stability))
        self.assertEqual(runs[0], runs[1])

    def test_retrievability_fades_with_time(self) -> None:
        card = scheduling.review(scheduling.new_card(1, T0), Rating.Good, T0)
        soon = scheduling.retrievability(card, T0 + timedelta(days=1))
        later = scheduling.retrievability(card, T0 + timedelta(days=30))
        self.assertGreater(soon, 0.9)
        self.assertLess(later, soon)
        self.assertEqual(scheduling.retrievability(scheduling.new_card(2, T0), T0), 0)

    def test_any_utc_timezone_object_is_accepted(self) -> None:
        berlin = T0.astimezone(ZoneInfo("Europe/Berlin"))
        card = scheduling.review(scheduling.new_card(1, T0), Rating.Good, berlin)
        self.assertEqual(card.last_review, T0)


class ReviewCardTests(WebTestCase):
    def setUp(self) -> None:
        self.learner = Learner.objects.create(user=self.alice)
        self.question = make.question()

    def test_answers_schedule_the_question_card(self) -> None:
        card = ReviewCard.record(self.learner, self.question, Rating.Again, T0)
        card.refresh_from_db()
        self.assertEqual(card.due, T0 + timedelta(days=1))
        self.assertEqual((card.reviews, card.lapses, card.last_rating), (1, 1, Rating.Again))
        card = ReviewCard.record(self.learner, self.question, Rating.Good, T0 + timedelta(days=1))
        card.refresh_from_db()
        self.assertEqual((card.reviews, card.lapses), (2, 1))
        self.assertGreater(card.due, T0 + timedelta(days=2))
        self.assertEqual(ReviewCard.objects.filter(learner=self.learner).count(), 1)

    def test_answering_in_a_quiz_reviews_the_card_at_the_answer_time(self) -> None:
        attempt = Attempt.start(self.learner, [self.question], now=T0)
        attempt.answer_choices(attempt.items.get(), make.correct_ids(self.question), T0)
        card = ReviewCard.objects.get(learner=self.learner, question=self.question)
        self.assertEqual(card.last_review, T0)
        self.assertEqual(card.state, State.Review)

    def test_mastery_is_the_mean_retrievability_over_the_topic(self) -> None:
        make.question()  # same topic, never answered: counts 0
        ReviewCard.record(self.learner, self.question, Rating.Good, T0)
        fresh = summarize(self.learner, T0 + timedelta(hours=1))
        stale = summarize(self.learner, T0 + timedelta(days=60))
        topic = next(t for t in fresh.topics if t.topic.slug == "durability")
        self.assertEqual((topic.seen, topic.total), (1, 2))
        self.assertEqual(topic.mastery, 50)
        self.assertLess(next(t for t in stale.topics if t.topic.slug == "durability").mastery, 50)

    def test_a_question_last_answered_wrong_adds_no_mastery(self) -> None:
        ReviewCard.record(self.learner, self.question, Rating.Again, T0)
        topic = next(t for t in summarize(self.learner, T0).topics if t.topic.slug == "durability")
        self.assertEqual((topic.seen, topic.mastery), (1, 0))


class DueTodayViewTests(WebTestCase):
    """The view reads the real clock, so cards are placed relative to it."""

    def setUp(self) -> None:
        self.learner = Learner.objects.create(user=self.alice)
        self.client.force_login(self.alice)

    def _card(self, due_in: timedelta) -> ReviewCard:
        from django.utils import timezone as dj_timezone

        question = make.question()
        return ReviewCard.objects.create(
            learner=self.learner, question=question, due=dj_timezone.now() + due_in
        )

    def test_it_lists_due_cards_and_not_later_ones(self) -> None:
        due = self._card(timedelta(hours=-2))
        later = self._card(timedelta(days=3))
        response = self.client.get(reverse("quizzes:review"))
        self.assertEqual(response.status_code, 200)
        self.assertEqual([card.pk for card in response.context["due"]], [due.pk])
        self.assertEqual([card.pk for card in response.context["later"]], [later.pk])
        self.assertContains(response, "Review 1 question now")

    def test_starting_a_review_makes_an_attempt_of_the_due_questions(self) -> None:
        due = self._card(timedelta(minutes=-5))
        self._card(timedelta(days=3))
        response = self.client.post(reverse("quizzes:review"))
        attempt = Attempt.objects.get(learner=self.learner)
        self.assertRedirects(response, reverse("quizzes:attempt_item", args=[attempt.pk, 1]))
        self.assertEqual(attempt.kind, Attempt.Kind.REVIEW)
        self.assertEqual([item.question_id for item in attempt.items.all()], [due.question_id])

    def test_someone_else_s_cards_are_not_listed(self) -> None:
        self._card(timedelta(hours=-1))
        self.client.force_login(self.charlie)
        response = self.client.get(reverse("quizzes:review"))
        self.assertEqual(response.context["due"], [])
        self.assertContains(response, "Nothing to review yet")
