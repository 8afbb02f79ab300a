"""The interview capstone: design prompts with a rubric, and learners' graded answers.

A ``CapstonePrompt`` is loaded from ``quizzes/content/capstone.yaml`` like the rest of
the course. A ``CapstoneAnswer`` is one learner's written answer to it, then their
own verdict: which rubric points they covered. The score is the covered weight over
the total weight.

Invariants:
* an answer is graded once (a conditional UPDATE guards it, as for quiz items);
* a score below ``REVIEW_BELOW`` percent makes the prompt's linked questions due
  for review at once, creating their cards if the learner has none: the capstone
  found a gap, and the review queue is where gaps are worked on.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import models, transaction
from django.urls import reverse

from quizzes.models.content import Question
from quizzes.models.progress import Learner, ReviewCard

# Below this share of the rubric's weight, the prompt's questions come back for review.
REVIEW_BELOW = 70


class CapstonePrompt(models.Model):
    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    position = models.PositiveSmallIntegerField(default=0)
    scenario = models.TextField()
    scenario_html = models.TextField(blank=True)
    # [{"text", "text_html"}], the numbers the design must meet.
    requirements = models.JSONField(default=list)
    model_answer = models.TextField()
    model_answer_html = models.TextField(blank=True)
    # [{"point", "point_html", "weight"}]; weights are positive whole numbers.
    rubric = models.JSONField(default=list)
    # [{"question", "question_html", "answer", "answer_html"}], asked in order.
    follow_ups = models.JSONField(default=list)
    questions = models.ManyToManyField(Question, related_name="capstones", blank=True)

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("quizzes:capstone", args=[self.slug])

    @property
    def total_weight(self) -> int:
        return sum(int(point["weight"]) for point in self.rubric)

    def score_for(self, covered: Iterable[int]) -> int:
        """Percent of the rubric's weight in the covered points (0-based indexes)."""
        chosen = {i for i in covered if 0 <= i < len(self.rubric)}
        got = sum(int(self.rubric[i]["weight"]) for i in chosen)
        return round(100 * got / self.total_weight) if self.total_weight else 0


class CapstoneAnswer(models.Model):
    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="capstone_answers")
    prompt = models.ForeignKey(CapstonePrompt, on_delete=models.CASCADE, related_name="answers")
    text = models.TextField()
    text_html = models.TextField(blank=True)
    written_at = models.DateTimeField()
    # Indexes into the prompt's rubric that the learner says they covered.
    covered = models.JSONField(default=list)
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    graded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-written_at"]

    @property
    def is_graded(self) -> bool:
        return self.graded_at is not None

    @classmethod
    def write(cls, learner: Learner, prompt: CapstonePrompt, text: str, now: datetime) -> Any:
        from quizzes.rendering import render_learner_text

        return cls.objects.create(
            learner=learner,
            prompt=prompt,
            text=text,
            text_html=render_learner_text(text),
            written_at=now,
        )

    def grade(self, covered: Iterable[int], now: datetime) -> bool:
        """Keep the learner's verdict; False if this answer was graded already."""
        points = sorted({i for i in covered if 0 <= i < len(self.prompt.rubric)})
        score = self.prompt.score_for(points)
        with transaction.atomic():
            updated = CapstoneAnswer.objects.filter(pk=self.pk, graded_at__isnull=True).update(
                covered=points, score=score, graded_at=now
            )
            if not updated:
                return False
            if score < REVIEW_BELOW:
                self._schedule_review(now)
        self.refresh_from_db()
        return True

    def _schedule_review(self, now: datetime) -> None:
        """The linked questions become due now; their FSRS memory state is untouched,
        since no question was answered."""
        for question in self.prompt.questions.filter(retired=False):
            card, created = ReviewCard.objects.get_or_create(
                learner=self.learner, question=question, defaults={"due": now}
            )
            if not created and card.due > now:
                card.due = now
                card.save(update_fields=["due"])
