"""What a class's answers and experiments say: item analysis, misconceptions, crashes.

Plain functions over a class's members, taking no request, so the pages, the live
dashboard (``item_summary``) and tests share them. Each fetches every kind of fact
for all learners at once and groups it in Python: the number of queries is fixed,
however many learners the class has.

Definitions (the pages say the same):

* **answer** — an answered question with choices (single, multi, predict) in any
  attempt of a learner of the class. Free-text interview answers are left out:
  the learner grades those themselves, so they measure the learner's judgement,
  not the question.
* **item analysis** uses each learner's *first* answer to a question: later ones
  come after the explanation was shown, so they measure memory of the explanation
  rather than the question. It counts every learner who ever joined the class,
  removed ones included (``Membership.removed_at`` keeps them in the statistics).
* **total score** of a learner, within a scope (the whole course, or one quiz):
  how many questions of that scope their first answer got right.
* **attempts** of a question — learners who answered it; **answers** — every
  answer to it, retries and reviews included.
* **misconception heatmap** counts *every* answer of the class's active learners:
  picking the same wrong belief again after the explanation is exactly what an
  instructor wants to see.
* **experiments** — the crash experiments (``sandbox.Experiment``) of the active
  learners.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, Sum
from django.urls import reverse

from quizzes.models import Attempt, AttemptItem, Choice, Question, Quiz, QuizItem
from quizzes.models.content import Misconception
from sandbox.models import Experiment
from teach.models import Classroom

# Share of learners in each of the upper and lower groups (Kelley's 27%).
GROUP_SHARE = 0.27
# A question needs this many learners' answers before it can be called hard: one
# learner's slip is not a finding.
HARDEST_MIN_ATTEMPTS = 3
HARDEST_LIMIT = 10
LANES = ("durable", "cache")


# --------------------------------------------------------------------------------------
# Discrimination: pure functions over (total score, correct) pairs
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    """One learner's first answer to one item, with their total score in the scope."""

    learner: int  # user id; breaks ties in the ranking so the result is reproducible
    total: float
    correct: bool


def upper_lower_index(responses: Sequence[Response]) -> float | None:
    """Kelley's discrimination index D = p_upper - p_lower.

    The n learners who answered the item are ranked by total score (highest first,
    ties by user id); the upper and lower groups are the top and bottom
    g = max(1, round(0.27 * n)) of them (round half up), and p_upper, p_lower the
    share of each group that got the item right. D runs from -1 to 1: positive
    when strong learners get the item right more often than weak ones.

    None when fewer than two learners answered, or when every total is the same
    (any split into groups would be arbitrary).
    """
    n = len(responses)
    if n < 2 or len({r.total for r in responses}) == 1:
        return None
    group = max(1, math.floor(GROUP_SHARE * n + 0.5))
    ranked = sorted(responses, key=lambda r: (-r.total, r.learner))
    upper = sum(r.correct for r in ranked[:group]) / group
    lower = sum(r.correct for r in ranked[-group:]) / group
    return upper - lower


def point_biserial(responses: Sequence[Response]) -> float | None:
    """The point-biserial correlation between getting the item right and total score.

        r_pb = (M1 - M0) / s * sqrt(p * q)

    over the n learners who answered the item, where M1 and M0 are the mean total
    scores of those who got it right and wrong, s = sqrt(sum((X - mean X)^2) / n)
    is the (population) standard deviation of all n totals, p the share who got it
    right and q = 1 - p. It is Pearson's r between the 0/1 item score and the
    total. The total includes the item itself (the uncorrected form).

    None when it is undefined: fewer than two learners, everyone right or everyone
    wrong (no variance in the item), or every total equal (no variance in scores).
    """
    n = len(responses)
    if n < 2:
        return None
    right = [r.total for r in responses if r.correct]
    wrong = [r.total for r in responses if not r.correct]
    if not right or not wrong:
        return None
    mean = sum(r.total for r in responses) / n
    variance = sum((r.total - mean) ** 2 for r in responses) / n
    if variance <= 0:
        return None
    p = len(right) / n
    m1, m0 = sum(right) / len(right), sum(wrong) / len(wrong)
    return (m1 - m0) / math.sqrt(variance) * math.sqrt(p * (1 - p))


# --------------------------------------------------------------------------------------
# Item analysis
# --------------------------------------------------------------------------------------


@dataclass
class OptionStats:
    choice_id: int
    position: int
    text: str
    correct: bool
    chosen: int  # first answers that picked it
    share: float | None  # of the item's attempts
    misconception: str  # slug, "" for a correct choice
    misconception_title: str


@dataclass
class ItemStats:
    question_id: int
    slug: str
    prompt: str
    kind: str
    url: str
    attempts: int
    answers: int
    correct: int
    share_correct: float | None
    upper_lower: float | None
    point_biserial: float | None
    options: list[OptionStats] = field(default_factory=list)


@dataclass
class QuizStats:
    quiz_id: int
    slug: str
    title: str
    started: int  # full passes (not retries) started by learners of the class
    finished: int
    mean_score: float | None  # share right over finished passes
    items: list[ItemStats] = field(default_factory=list)


@dataclass
class ItemAnalysis:
    learners: int  # learners with at least one answer
    items: list[ItemStats]
    quizzes: list[QuizStats]
    hardest: list[ItemStats]


@dataclass(frozen=True)
class _Answer:
    user_id: int
    question_id: int
    correct: bool
    selected: tuple[int, ...]


def _class_answers(classroom: Classroom, *, active_only: bool) -> list[_Answer]:
    """Every answer to a question with choices by the class's learners, oldest first."""
    members = Q(attempt__learner__user__memberships__classroom=classroom)
    if active_only:
        members &= Q(attempt__learner__user__memberships__removed_at__isnull=True)
    rows = (
        AttemptItem.objects.filter(members, answered_at__isnull=False)
        .exclude(question__kind=Question.Kind.INTERVIEW)
        .order_by("answered_at", "pk")
        .values_list("attempt__learner__user_id", "question_id", "correct", "selected")
    )
    return [
        _Answer(user_id, question_id, bool(correct), tuple(selected or ()))
        for user_id, question_id, correct, selected in rows
    ]


def _first_answers(answers: Iterable[_Answer]) -> dict[tuple[int, int], _Answer]:
    first: dict[tuple[int, int], _Answer] = {}
    for answer in answers:
        first.setdefault((answer.user_id, answer.question_id), answer)
    return first


def _analyse(
    questions: Sequence[Question],
    choices: Mapping[int, list[Choice]],
    first: Mapping[tuple[int, int], _Answer],
    answer_counts: Mapping[int, int],
) -> list[ItemStats]:
    """Statistics of ``questions``, with total scores counted over these questions."""
    in_scope = {q.pk for q in questions}
    totals: Counter[int] = Counter()
    by_question: dict[int, list[_Answer]] = defaultdict(list)
    for (user_id, question_id), answer in first.items():
        if question_id in in_scope:
            by_question[question_id].append(answer)
            totals[user_id] += answer.correct
    items = []
    for question in questions:
        answered = by_question.get(question.pk, [])
        responses = [Response(a.user_id, totals[a.user_id], a.correct) for a in answered]
        picked = Counter(choice for a in answered for choice in set(a.selected))
        right = sum(a.correct for a in answered)
        n = len(answered)
        items.append(
            ItemStats(
                question_id=question.pk,
                slug=question.slug,
                prompt=question.prompt,
                kind=question.kind,
                url=reverse("quizzes:question", args=[question.slug]),
                attempts=n,
                answers=answer_counts.get(question.pk, 0),
                correct=right,
                share_correct=right / n if n else None,
                upper_lower=upper_lower_index(responses),
                point_biserial=point_biserial(responses),
                options=[
                    OptionStats(
                        choice_id=choice.pk,
                        position=choice.position,
                        text=choice.text,
                        correct=choice.correct,
                        chosen=picked[choice.pk],
                        share=picked[choice.pk] / n if n else None,
                        misconception=choice.misconception.slug if choice.misconception else "",
                        misconception_title=(
                            choice.misconception.title if choice.misconception else ""
                        ),
                    )
                    for choice in choices.get(question.pk, [])
                ],
            )
        )
    return items


def hardest_questions(
    items: Iterable[ItemStats],
    min_attempts: int = HARDEST_MIN_ATTEMPTS,
    limit: int = HARDEST_LIMIT,
) -> list[ItemStats]:
    """Lowest share correct first, among questions at least ``min_attempts`` learners
    answered; a question nobody (or too few) attempted is not hard, only unseen."""
    seen = [i for i in items if i.attempts >= max(1, min_attempts) and i.share_correct is not None]
    return sorted(seen, key=lambda i: (i.share_correct, -i.attempts, i.slug))[:limit]


def item_analysis(
    classroom: Classroom, min_attempts: int = HARDEST_MIN_ATTEMPTS
) -> ItemAnalysis:
    """Per question and per quiz statistics of the class. Seven queries."""
    answers = _class_answers(classroom, active_only=False)
    first = _first_answers(answers)
    answer_counts = Counter(a.question_id for a in answers)
    answered_ids = set(answer_counts)
    questions = list(
        Question.objects.exclude(kind=Question.Kind.INTERVIEW)
        .filter(Q(retired=False) | Q(pk__in=answered_ids))
        .order_by("position")
    )
    choices: dict[int, list[Choice]] = defaultdict(list)
    for choice in (
        Choice.objects.filter(question__in=[q.pk for q in questions])
        .select_related("misconception")
        .order_by("question_id", "position")
    ):
        choices[choice.question_id].append(choice)
    items = _analyse(questions, choices, first, answer_counts)

    question_of = {q.pk: q for q in questions}
    quiz_questions: dict[int, list[Question]] = defaultdict(list)
    for item in QuizItem.objects.order_by("quiz_id", "position").only("quiz_id", "question_id"):
        if item.question_id in question_of:
            quiz_questions[item.quiz_id].append(question_of[item.question_id])
    passes = {
        row["quiz_id"]: row
        for row in Attempt.objects.filter(
            learner__user__memberships__classroom=classroom,
            kind=Attempt.Kind.QUIZ,
            quiz__isnull=False,
        )
        .values("quiz_id")
        .annotate(
            started=Count("pk"),
            finished=Count("pk", filter=Q(finished_at__isnull=False)),
            right=Sum("correct_count", filter=Q(finished_at__isnull=False)),
            total=Sum("total", filter=Q(finished_at__isnull=False)),
        )
    }
    quizzes = []
    for quiz in Quiz.objects.order_by("position"):
        row = passes.get(quiz.pk, {})
        total = row.get("total") or 0
        quizzes.append(
            QuizStats(
                quiz_id=quiz.pk,
                slug=quiz.slug,
                title=quiz.title,
                started=row.get("started", 0),
                finished=row.get("finished", 0),
                mean_score=(row.get("right") or 0) / total if total else None,
                items=_analyse(quiz_questions.get(quiz.pk, []), choices, first, answer_counts),
            )
        )
    return ItemAnalysis(
        learners=len({user_id for user_id, _q in first}),
        items=items,
        quizzes=quizzes,
        hardest=hardest_questions(items, min_attempts),
    )


def item_summary(classroom: Classroom, min_attempts: int = HARDEST_MIN_ATTEMPTS) -> dict[str, Any]:
    """A compact, JSON-ready summary for the live dashboard's pushes: the hardest
    questions and every attempted question's share correct (keyed by slug)."""
    analysis = item_analysis(classroom, min_attempts)

    def brief(item: ItemStats) -> dict[str, Any]:
        return {
            "slug": item.slug,
            "prompt": item.prompt,
            "url": item.url,
            "attempts": item.attempts,
            "share_correct": item.share_correct,
        }

    return {
        "learners": analysis.learners,
        "hardest": [brief(item) for item in analysis.hardest],
        "questions": {
            item.slug: {"attempts": item.attempts, "share_correct": item.share_correct}
            for item in analysis.items
            if item.attempts
        },
    }


# --------------------------------------------------------------------------------------
# Misconception heatmap
# --------------------------------------------------------------------------------------

# (upper bound of the share, CSS class suffix): a cell's colour says how often the
# learner picked the belief when a question offered it.
BUCKETS: tuple[tuple[float, str], ...] = (
    (0.0, "0"), (0.25, "1"), (0.5, "2"), (0.75, "3"), (1.0, "4"),
)  # fmt: skip


def bucket(share: float | None) -> str:
    """The colour bucket of a cell: "none" when no question offered the belief."""
    if share is None:
        return "none"
    for upper, name in BUCKETS:
        if share <= upper:
            return name
    return BUCKETS[-1][1]


@dataclass
class HeatCell:
    user_id: int
    count: int  # answers that picked a choice tagged with the misconception
    offered: int  # answers to questions with such a choice
    share: float | None
    bucket: str
    question_url: str  # where the learner picked it most, "" if never


@dataclass
class HeatRow:
    slug: str
    title: str
    statement: str
    lesson_title: str
    lesson_url: str
    count: int  # over the class
    offered: int
    cells: list[HeatCell]


@dataclass
class Heatmap:
    learners: list[tuple[int, str]]  # (user id, username), in column order
    rows: list[HeatRow]  # beliefs some question offered, most picked first
    unseen: list[str]  # titles of beliefs no learner was offered yet


def misconception_heatmap(classroom: Classroom) -> Heatmap:
    """Misconceptions x active learners. Four queries."""
    learners = list(
        classroom.active_members()
        .order_by("user__username")
        .values_list("user_id", "user__username")
    )
    answers = _class_answers(classroom, active_only=True)
    tags: dict[int, int] = {}  # choice id -> misconception id
    offered_by: dict[int, set[int]] = defaultdict(set)  # question id -> misconception ids
    slug_of: dict[int, str] = {}
    for choice_id, question_id, misconception_id, slug in Choice.objects.filter(
        misconception__isnull=False
    ).values_list("pk", "question_id", "misconception_id", "question__slug"):
        tags[choice_id] = misconception_id
        offered_by[question_id].add(misconception_id)
        slug_of[question_id] = slug
    offered: Counter[tuple[int, int]] = Counter()  # (misconception, user) -> answers
    picked: Counter[tuple[int, int]] = Counter()
    picked_on: dict[tuple[int, int], Counter[int]] = defaultdict(Counter)
    for answer in answers:
        for misconception_id in offered_by.get(answer.question_id, ()):
            offered[misconception_id, answer.user_id] += 1
        # A multi answer with two choices of one belief still shows it once.
        for misconception_id in {tags[c] for c in answer.selected if c in tags}:
            picked[misconception_id, answer.user_id] += 1
            picked_on[misconception_id, answer.user_id][answer.question_id] += 1

    rows, unseen = [], []
    beliefs = Misconception.objects.select_related("lesson__module").order_by("position")
    for misconception in beliefs:
        cells = []
        for user_id, _name in learners:
            key = (misconception.pk, user_id)
            n_offered, n_picked = offered[key], picked[key]
            share = n_picked / n_offered if n_offered else None
            where = picked_on.get(key)
            cells.append(
                HeatCell(
                    user_id=user_id,
                    count=n_picked,
                    offered=n_offered,
                    share=share,
                    bucket=bucket(share),
                    question_url=(
                        reverse("quizzes:question", args=[slug_of[where.most_common(1)[0][0]]])
                        if where
                        else ""
                    ),
                )
            )
        lesson = misconception.lesson
        row = HeatRow(
            slug=misconception.slug,
            title=misconception.title,
            statement=misconception.statement,
            lesson_title=lesson.title if lesson else "",
            lesson_url=lesson.get_absolute_url() if lesson else "",
            count=sum(c.count for c in cells),
            offered=sum(c.offered for c in cells),
            cells=cells,
        )
        (rows if row.offered else unseen).append(row)
    rows.sort(key=lambda r: (-r.count, -(r.count / r.offered)))  # stable: file order on ties
    return Heatmap(learners=learners, rows=rows, unseen=[r.title for r in unseen])


# --------------------------------------------------------------------------------------
# The class's crash experiments
# --------------------------------------------------------------------------------------


@dataclass
class ClassExperiment:
    id: int
    user_id: int
    username: str
    created: datetime
    fault: str
    target: str
    load_rate: int
    prediction: int | None  # the learner's predicted cache loss
    lost: dict[str, int | None]  # lane -> acknowledged writes lost (None: lane not run)
    acknowledged: dict[str, int | None]


def class_experiments(classroom: Classroom) -> list[ClassExperiment]:
    """Every crash experiment of the class's active learners, newest first. One query."""
    rows = (
        Experiment.objects.filter(
            owner_user__memberships__classroom=classroom,
            owner_user__memberships__removed_at__isnull=True,
        )
        .order_by("-created", "-pk")
        .values_list(
            "pk", "owner_user_id", "owner_user__username", "created", "fault", "target",
            "load_rate", "prediction", "results",
        )
    )  # fmt: skip
    experiments = []
    for pk, user_id, username, created, fault, target, rate, prediction, results in rows:
        results = results if isinstance(results, dict) else {}
        lanes = {
            lane: results[lane] if isinstance(results.get(lane), dict) else {} for lane in LANES
        }
        experiments.append(
            ClassExperiment(
                id=pk,
                user_id=user_id,
                username=username,
                created=created,
                fault=fault,
                target=target,
                load_rate=rate,
                prediction=prediction,
                lost={lane: _count(lanes[lane].get("lost")) for lane in LANES},
                acknowledged={lane: _count(lanes[lane].get("acknowledged")) for lane in LANES},
            )
        )
    return experiments


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def experiment_charts(experiments: Sequence[ClassExperiment]) -> dict[str, Any]:
    """The data of the experiments page's two charts, JSON-ready:

    * ``scatter`` — one point per experiment with a prediction and a cache result:
      predicted vs actual acknowledged writes lost by the cache cluster;
    * ``losses`` — per lane, the acknowledged writes each experiment lost there.
    """
    scatter = [
        {"predicted": e.prediction, "actual": e.lost["cache"], "learner": e.username}
        for e in experiments
        if e.prediction is not None and e.lost["cache"] is not None
    ]
    losses = {
        lane: [e.lost[lane] for e in experiments if e.lost[lane] is not None] for lane in LANES
    }
    return {"scatter": scatter, "losses": losses}
