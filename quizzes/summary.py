"""A learner's progress at a glance: per module, per topic, and quiz scores over time.

Mastery of a topic is the mean, over the topic's questions, of FSRS's
retrievability (the predicted probability of answering right now) for questions
whose last answer was right. A question never answered, or last answered wrong,
counts 0: right after a miss FSRS puts retrievability at 100% (the answer was just
shown), which says nothing about mastery. So mastery grows by covering a topic and
getting it right, and fades when reviews are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fsrs import Rating

from quizzes.models import Attempt, Learner, Module, Question, Quiz, ReviewCard, Topic
from quizzes.scheduling import counts_as_correct


@dataclass
class ModuleProgress:
    module: Module
    lessons_read: int
    lessons_total: int
    quiz: Quiz | None
    best_score: int | None
    last_score: int | None

    @property
    def percent_read(self) -> int:
        return round(100 * self.lessons_read / self.lessons_total) if self.lessons_total else 0


@dataclass
class TopicMastery:
    topic: Topic
    seen: int
    total: int
    mastery: int  # percent


@dataclass
class Summary:
    modules: list[ModuleProgress] = field(default_factory=list)
    topics: list[TopicMastery] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    lessons_read: int = 0
    lessons_total: int = 0
    questions_seen: int = 0
    due_now: int = 0

    def chart(self) -> dict[str, Any]:
        """Quiz scores over time, one line per quiz, for plotly (see static/js/me.js)."""
        series: dict[str, dict[str, list[Any]]] = {}
        for attempt in sorted(self.attempts, key=lambda a: a.finished_at or a.started_at):
            if attempt.kind != Attempt.Kind.QUIZ or attempt.finished_at is None:
                continue
            line = series.setdefault(attempt.title, {"x": [], "y": []})
            line["x"].append(attempt.finished_at.isoformat())
            line["y"].append(attempt.score_percent)
        return {"series": [{"name": name, **points} for name, points in series.items()]}


def summarize(learner: Learner | None, now: datetime) -> Summary:
    modules = list(Module.objects.prefetch_related("lessons", "quizzes"))
    summary = Summary(lessons_total=sum(len(m.lessons.all()) for m in modules))
    topics = list(Topic.objects.all())
    pairs = list(
        Question.topics.through.objects.filter(question__retired=False).values_list(
            "topic_id", "question_id"
        )
    )
    cards: dict[int, ReviewCard] = {}
    read: set[int] = set()
    if learner is not None:
        read = set(learner.lesson_reads.values_list("lesson_id", flat=True))
        cards = {card.question_id: card for card in learner.review_cards.all()}
        summary.attempts = list(
            learner.attempts.filter(finished_at__isnull=False).select_related("quiz")
        )
    best: dict[int, int] = {}
    last: dict[int, int] = {}
    for attempt in sorted(summary.attempts, key=lambda a: a.finished_at or a.started_at):
        if attempt.kind == Attempt.Kind.QUIZ and attempt.quiz_id is not None:
            best[attempt.quiz_id] = max(best.get(attempt.quiz_id, 0), attempt.score_percent)
            last[attempt.quiz_id] = attempt.score_percent
    for module in modules:
        lesson_ids = {lesson.pk for lesson in module.lessons.all()}
        quiz = next(iter(module.quizzes.all()), None)
        summary.modules.append(
            ModuleProgress(
                module=module,
                lessons_read=len(lesson_ids & read),
                lessons_total=len(lesson_ids),
                quiz=quiz,
                best_score=best.get(quiz.pk) if quiz else None,
                last_score=last.get(quiz.pk) if quiz else None,
            )
        )
    summary.lessons_read = len(read)
    retrievability = {
        qid: card.retrievability(now) if counts_as_correct(Rating(card.last_rating or 1)) else 0.0
        for qid, card in cards.items()
    }
    by_topic: dict[int, list[int]] = {}
    for topic_id, question_id in pairs:
        by_topic.setdefault(topic_id, []).append(question_id)
    for topic in topics:
        question_ids = by_topic.get(topic.pk, [])
        if not question_ids:
            continue
        seen = [qid for qid in question_ids if qid in cards]
        mastery = sum(retrievability[qid] for qid in seen) / len(question_ids)
        summary.topics.append(
            TopicMastery(topic, len(seen), len(question_ids), round(100 * mastery))
        )
    summary.questions_seen = len(cards)
    summary.due_now = sum(1 for card in cards.values() if card.due <= now)
    return summary
