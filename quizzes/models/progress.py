"""What learners did: lessons read, quiz attempts, answers, review schedule.

A ``Learner`` is the owner of all progress. It belongs either to an account or, for
a visitor without one, to a random token kept in their session (not the session
key, which Django rotates at log-in). When that visitor signs up or logs in, their
session learner is merged into the account's (``Learner.absorb``), so progress made
before signing up is kept.

Invariants:
* a learner has exactly one of ``user`` and ``session_token``;
* an ``AttemptItem`` is answered at most once (a conditional UPDATE guards it), so a
  double submission never reviews a card twice;
* a ``ReviewCard`` is updated only through ``ReviewCard.record``.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from fsrs import Card, Rating, State

from quizzes import scheduling, variants
from quizzes.models.content import Choice, Lesson, Question, Quiz


class Learner(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="learner",
    )
    session_token = models.CharField(max_length=64, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, session_token__isnull=True)
                | Q(user__isnull=True, session_token__isnull=False),
                name="learner_has_one_owner",
            )
        ]
        permissions = [
            ("teach", "Can teach: see classes, rosters, progress and item analysis"),
        ]

    def __str__(self) -> str:
        return str(self.user) if self.user_id else f"visitor {self.pk}"

    @classmethod
    def new_visitor(cls) -> Learner:
        return cls.objects.create(session_token=secrets.token_urlsafe(32))

    @transaction.atomic
    def absorb(self, other: Learner) -> None:
        """Move everything ``other`` did to this learner, then delete ``other``.

        Where both have a row for the same thing, the older read and the more
        recently reviewed card win.
        """
        if other.pk == self.pk:
            return
        mine = {read.lesson_id: read for read in self.lesson_reads.all()}
        for read in other.lesson_reads.all():
            existing = mine.get(read.lesson_id)
            if existing is None:
                read.learner = self
                read.save(update_fields=["learner"])
            elif read.read_at < existing.read_at:
                existing.read_at = read.read_at
                existing.save(update_fields=["read_at"])
        other.attempts.update(learner=self)
        my_cards = {card.question_id: card for card in self.review_cards.all()}
        for card in other.review_cards.all():
            existing = my_cards.get(card.question_id)
            if existing is None:
                card.learner = self
                card.save(update_fields=["learner"])
            elif (card.last_review or card.due) > (existing.last_review or existing.due):
                existing.delete()
                card.learner = self
                card.save(update_fields=["learner"])
        other.delete()


class LessonRead(models.Model):
    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="lesson_reads")
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["learner", "lesson"], name="lesson_read_once")
        ]

    @classmethod
    def mark(cls, learner: Learner, lesson: Lesson, now: datetime) -> LessonRead:
        read, _created = cls.objects.get_or_create(
            learner=learner, lesson=lesson, defaults={"read_at": now}
        )
        return read


class Attempt(models.Model):
    """One pass through a list of questions: a quiz, a retry of its misses, a review."""

    class Kind(models.TextChoices):
        QUIZ = "quiz", "Quiz"
        RETRY = "retry", "Retry of missed questions"
        REVIEW = "review", "Review of due questions"

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="attempts")
    # Null for a review; also when the quiz was removed from the course, because a
    # learner's history outlives the quiz it came from.
    quiz = models.ForeignKey(
        Quiz, on_delete=models.SET_NULL, null=True, blank=True, related_name="attempts"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.QUIZ)
    retry_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="retries"
    )
    # Seeds the order of questions and of their choices; kept to explain an attempt.
    seed = models.BigIntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True, db_index=True)
    correct_count = models.PositiveSmallIntegerField(default=0)
    total = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.pk} of {self.learner}"

    @property
    def title(self) -> str:
        if self.kind == self.Kind.REVIEW:
            return "Review of due questions"
        if self.quiz is None:
            return "A quiz no longer in the course"
        if self.kind == self.Kind.RETRY:
            return f"{self.quiz.title}: retry of missed questions"
        return self.quiz.title

    @property
    def score_percent(self) -> int:
        return round(100 * self.correct_count / self.total) if self.total else 0

    @classmethod
    @transaction.atomic
    def start(
        cls,
        learner: Learner,
        questions: Sequence[Question],
        *,
        now: datetime,
        kind: str = Kind.QUIZ,
        quiz: Quiz | None = None,
        retry_of: Attempt | None = None,
        seed: int | None = None,
    ) -> Attempt:
        """Create an attempt with its questions, and their choices, in random order."""
        if not questions:
            raise ValueError("an attempt needs at least one question")
        seed = secrets.randbits(48) if seed is None else seed
        rng = random.Random(seed)
        order = list(questions)
        rng.shuffle(order)
        choice_ids: dict[int, list[int]] = {}
        for question_id, choice_id in Choice.objects.filter(
            question__in=[question.pk for question in order]
        ).values_list("question_id", "id"):
            choice_ids.setdefault(question_id, []).append(choice_id)
        attempt = cls.objects.create(
            learner=learner,
            quiz=quiz,
            kind=kind,
            retry_of=retry_of,
            seed=seed,
            started_at=now,
            total=len(order),
        )
        items = []
        for position, question in enumerate(order, start=1):
            shown = sorted(choice_ids.get(question.pk, []))
            rng.shuffle(shown)
            parameters = (
                variants.draw(question.variants["parameters"], seed, question.slug)
                if question.variants
                else {}
            )
            items.append(
                AttemptItem(
                    attempt=attempt,
                    question=question,
                    position=position,
                    choice_order=shown,
                    parameters=parameters,
                )
            )
        AttemptItem.objects.bulk_create(items)
        return attempt

    @property
    def is_finished(self) -> bool:
        return self.finished_at is not None

    def first_unanswered(self) -> AttemptItem | None:
        return self.items.filter(answered_at__isnull=True).order_by("position").first()

    def answer_choices(self, item: AttemptItem, selected: Sequence[int], now: datetime) -> bool:
        """Grade a multiple-choice or predict answer; False if it was already answered."""
        choices = list(item.question.choices.all())
        correct = item.question.grade_choices(selected, choices, item.parameters)
        rating = scheduling.rating_for_choice(correct)
        return self._record(item, now, rating, correct, selected=sorted(set(selected)))

    def write_answer(self, item: AttemptItem, text: str, now: datetime) -> None:
        """Keep a free-text answer; the model answer is shown next, to grade against."""
        from quizzes.rendering import render_learner_text

        AttemptItem.objects.filter(pk=item.pk, answered_at__isnull=True).update(
            free_text=text, free_text_html=render_learner_text(text), written_at=now
        )
        item.refresh_from_db()

    def self_grade(self, item: AttemptItem, rating: Rating, now: datetime) -> bool:
        """The learner's verdict on their free-text answer; False if already graded."""
        if item.written_at is None:
            raise ValueError("write an answer before grading it")
        return self._record(item, now, rating, scheduling.counts_as_correct(rating))

    def _record(
        self,
        item: AttemptItem,
        now: datetime,
        rating: Rating,
        correct: bool,
        selected: list[int] | None = None,
    ) -> bool:
        with transaction.atomic():
            fields: dict[str, Any] = {"answered_at": now, "rating": int(rating), "correct": correct}
            if selected is not None:
                fields["selected"] = selected
            updated = AttemptItem.objects.filter(pk=item.pk, answered_at__isnull=True).update(
                **fields
            )
            if not updated:
                return False
            ReviewCard.record(self.learner, item.question, rating, now)
            self._finish_if_complete(now)
        item.refresh_from_db()
        return True

    def _finish_if_complete(self, now: datetime) -> None:
        answered = self.items.filter(answered_at__isnull=False)
        if answered.count() < self.total or self.finished_at is not None:
            return
        self.correct_count = answered.filter(correct=True).count()
        self.finished_at = now
        self.save(update_fields=["correct_count", "finished_at"])

    def missed_questions(self) -> list[Question]:
        return [
            item.question
            for item in self.items.filter(correct=False).select_related("question")
        ]

    def retry_missed(self, now: datetime) -> Attempt:
        missed = self.missed_questions()
        if not missed:
            raise ValueError("nothing was missed")
        return Attempt.start(
            self.learner, missed, now=now, kind=self.Kind.RETRY, quiz=self.quiz, retry_of=self
        )


class AttemptItem(models.Model):
    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="items")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField()
    # Choice ids in the order this learner saw them, and the ones they picked.
    choice_order = models.JSONField(default=list)
    selected = models.JSONField(default=list)
    # The numbers drawn for a parameterized question ({name: value}), so the page,
    # its feedback and the results all show the ones this learner answered.
    parameters = models.JSONField(default=dict, blank=True)
    free_text = models.TextField(blank=True)
    free_text_html = models.TextField(blank=True)
    written_at = models.DateTimeField(null=True, blank=True)
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    correct = models.BooleanField(null=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["attempt", "position"], name="item_position")
        ]

    @property
    def is_answered(self) -> bool:
        return self.answered_at is not None

    def shown_choices(self) -> list[Choice]:
        """The question's choices in this attempt's order, with a parameterized
        question's numbers filled in (on the instances only, never saved)."""
        by_id = {choice.pk: choice for choice in self.question.choices.all()}
        shown = [by_id[pk] for pk in self.choice_order if pk in by_id]
        if self.parameters and self.question.variants:
            spec = self.question.variants
            for choice in shown:
                names = variants.scope(spec, self.parameters, choice.position)
                choice.text_html = variants.fill(choice.text_html, names)
                choice.why_html = variants.fill(choice.why_html, names)
        return shown

    def numbers(self) -> dict[str, Any]:
        """What the question's own texts may name: the drawn parameters and answer."""
        if not (self.parameters and self.question.variants):
            return {}
        return variants.scope(self.question.variants, self.parameters)


class ReviewCard(models.Model):
    """A learner's FSRS schedule for one question (the fields of ``fsrs.Card``)."""

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="review_cards")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="+")
    state = models.PositiveSmallIntegerField(default=State.Learning)
    step = models.PositiveSmallIntegerField(null=True, blank=True)
    stability = models.FloatField(null=True, blank=True)
    difficulty = models.FloatField(null=True, blank=True)
    due = models.DateTimeField(db_index=True)
    last_review = models.DateTimeField(null=True, blank=True)
    last_rating = models.PositiveSmallIntegerField(null=True, blank=True)
    reviews = models.PositiveIntegerField(default=0)
    lapses = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["due"]
        constraints = [
            models.UniqueConstraint(fields=["learner", "question"], name="one_card_per_question")
        ]

    def to_fsrs(self) -> Card:
        return Card(
            card_id=self.pk or 0,
            state=State(self.state),
            step=self.step,
            stability=self.stability,
            difficulty=self.difficulty,
            due=scheduling.utc(self.due),
            last_review=scheduling.utc(self.last_review) if self.last_review else None,
        )

    def apply(self, card: Card) -> None:
        self.state = int(card.state)
        self.step = card.step
        self.stability = card.stability
        self.difficulty = card.difficulty
        self.due = card.due
        self.last_review = card.last_review

    @classmethod
    def record(
        cls, learner: Learner, question: Question, rating: Rating, now: datetime
    ) -> ReviewCard:
        """Schedule the next review of ``question`` after an answer rated ``rating``."""
        card, _created = cls.objects.get_or_create(
            learner=learner, question=question, defaults={"due": now}
        )
        card.apply(scheduling.review(card.to_fsrs(), rating, now))
        card.last_rating = int(rating)
        card.reviews += 1
        if rating == Rating.Again:
            card.lapses += 1
        card.save()
        return card

    def retrievability(self, now: datetime) -> float:
        return scheduling.retrievability(self.to_fsrs(), now)
