"""Attempts and grading: single, multi, predict and self-graded free-text questions,
scores, random order, and retrying only what was missed."""

from __future__ import annotations

from datetime import datetime, timezone

from fsrs import Rating

from quizzes.models import Attempt, AttemptItem, Learner, Question, ReviewCard

from . import factories as make
from .base import WebTestCase

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)


class GradingTests(WebTestCase):
    def setUp(self) -> None:
        self.learner = Learner.objects.create(user=self.alice)

    def _item(self, question: Question) -> tuple[Attempt, AttemptItem]:
        attempt = Attempt.start(self.learner, [question], now=NOW)
        return attempt, attempt.items.get()

    def test_a_single_answer_question_is_right_only_with_the_correct_choice(self) -> None:
        q = make.question(Question.Kind.SINGLE)
        self.assertTrue(q.grade_choices(make.correct_ids(q), q.choices.all()))
        self.assertFalse(q.grade_choices(make.wrong_ids(q), q.choices.all()))
        self.assertFalse(q.grade_choices([], q.choices.all()))
        self.assertFalse(q.grade_choices([c.pk for c in q.choices.all()], q.choices.all()))

    def test_a_multi_answer_question_needs_exactly_all_correct_choices(self) -> None:
        q = make.question(Question.Kind.MULTI, choices=(True, True, False, True))
        right = make.correct_ids(q)
        self.assertTrue(q.grade_choices(right, q.choices.all()))
        self.assertTrue(q.grade_choices(list(reversed(right)), q.choices.all()))
        self.assertFalse(q.grade_choices(right[:2], q.choices.all()), "missing one is wrong")
        self.assertFalse(
            q.grade_choices(right + make.wrong_ids(q), q.choices.all()), "an extra one is wrong"
        )

    def test_a_predict_question_is_graded_on_the_prediction(self) -> None:
        q = make.question(Question.Kind.PREDICT, choices=(False, False, True, False))
        attempt, item = self._item(q)
        self.assertTrue(attempt.answer_choices(item, make.correct_ids(q), NOW))
        item.refresh_from_db()
        self.assertTrue(item.correct)
        self.assertEqual(item.rating, Rating.Good)
        self.assertEqual(item.selected, make.correct_ids(q))

    def test_a_wrong_answer_is_recorded_as_again_and_finishes_the_attempt(self) -> None:
        q = make.question()
        attempt, item = self._item(q)
        attempt.answer_choices(item, make.wrong_ids(q), NOW)
        item.refresh_from_db()
        attempt.refresh_from_db()
        self.assertIs(item.correct, False)
        self.assertEqual(item.rating, Rating.Again)
        self.assertEqual(attempt.finished_at, NOW)
        self.assertEqual((attempt.correct_count, attempt.total, attempt.score_percent), (0, 1, 0))

    def test_an_answer_is_taken_once_even_if_sent_twice(self) -> None:
        q = make.question()
        attempt, item = self._item(q)
        self.assertTrue(attempt.answer_choices(item, make.wrong_ids(q), NOW))
        self.assertFalse(attempt.answer_choices(item, make.correct_ids(q), NOW))
        item.refresh_from_db()
        self.assertIs(item.correct, False)
        self.assertEqual(ReviewCard.objects.get(learner=self.learner, question=q).reviews, 1)

    def test_a_free_text_answer_is_written_then_self_graded(self) -> None:
        q = make.question(Question.Kind.INTERVIEW)
        attempt, item = self._item(q)
        with self.assertRaises(ValueError):
            attempt.self_grade(item, Rating.Good, NOW)  # nothing written yet
        attempt.write_answer(item, "The **log** commits <first>.", NOW)
        self.assertEqual(item.free_text, "The **log** commits <first>.")
        self.assertIn("<strong>log</strong>", item.free_text_html)
        self.assertIn("&lt;first&gt;", item.free_text_html)
        self.assertIsNone(item.answered_at, "writing is not grading")
        self.assertTrue(attempt.self_grade(item, Rating.Easy, NOW))
        self.assertTrue(item.correct)
        self.assertEqual(item.rating, Rating.Easy)

    def test_partly_right_self_grades_count_as_missed(self) -> None:
        for rating, correct in ((Rating.Again, False), (Rating.Hard, False), (Rating.Good, True)):
            q = make.question(Question.Kind.INTERVIEW)
            attempt, item = self._item(q)
            attempt.write_answer(item, "something", NOW)
            attempt.self_grade(item, rating, NOW)
            with self.subTest(rating=rating):
                self.assertIs(item.correct, correct)

    def test_the_score_counts_right_answers_when_all_are_answered(self) -> None:
        questions = [make.question() for _ in range(4)]
        attempt = Attempt.start(self.learner, questions, now=NOW)
        for n, item in enumerate(attempt.items.select_related("question")):
            chosen = make.correct_ids(item.question) if n % 2 else make.wrong_ids(item.question)
            attempt.answer_choices(item, chosen, NOW)
            attempt.refresh_from_db()
            self.assertEqual(attempt.is_finished, n == 3)
        self.assertEqual((attempt.correct_count, attempt.total, attempt.score_percent), (2, 4, 50))

    def test_a_retry_holds_only_the_missed_questions(self) -> None:
        questions = [make.question() for _ in range(5)]
        attempt = Attempt.start(self.learner, questions, now=NOW)
        missed = set()
        for item in attempt.items.select_related("question"):
            wrong = item.question.pk in (questions[1].pk, questions[3].pk)
            attempt.answer_choices(
                item, make.wrong_ids(item.question) if wrong else make.correct_ids(item.question), NOW
            )
            if wrong:
                missed.add(item.question.pk)
        retry = attempt.retry_missed(NOW)
        self.assertEqual(retry.kind, Attempt.Kind.RETRY)
        self.assertEqual(retry.retry_of, attempt)
        self.assertEqual(retry.total, 2)
        self.assertEqual({item.question_id for item in retry.items.all()}, missed)

    def test_nothing_to_retry_when_nothing_was_missed(self) -> None:
        q = make.question()
        attempt, item = self._item(q)
        attempt.answer_choices(item, make.correct_ids(q), NOW)
        with self.assertRaises(ValueError):
            attempt.retry_missed(NOW)

    def test_questions_and_choices_come_in_a_random_order_fixed_by_the_seed(self) -> None:
        questions = [make.question(choices=(True, False, False, False, False)) for _ in range(8)]
        orders = set()
        for seed in range(6):
            attempt = Attempt.start(self.learner, questions, now=NOW, seed=seed)
            items = list(attempt.items.all())
            orders.add(tuple(item.question_id for item in items))
            for item in items:
                self.assertEqual(
                    sorted(item.choice_order),
                    sorted(c.pk for c in Question.objects.get(pk=item.question_id).choices.all()),
                )
        self.assertGreater(len(orders), 1, "different seeds give different orders")
        again = Attempt.start(self.learner, questions, now=NOW, seed=3)
        first = Attempt.objects.filter(seed=3).earliest("pk")
        self.assertEqual(
            [i.question_id for i in again.items.all()], [i.question_id for i in first.items.all()]
        )
        self.assertEqual(
            [i.choice_order for i in again.items.all()], [i.choice_order for i in first.items.all()]
        )

    def test_shown_choices_follow_the_attempt_order(self) -> None:
        q = make.question(choices=(True, False, False, False))
        attempt, item = self._item(q)
        self.assertEqual([c.pk for c in item.shown_choices()], item.choice_order)

    def test_an_attempt_needs_questions(self) -> None:
        with self.assertRaises(ValueError):
            Attempt.start(self.learner, [], now=NOW)
