"""Step 3 of loading: make the database match the parsed, rendered course.

One transaction. Rows are matched on their natural keys and written only where a
field changed, so a second run with the same files writes nothing; rows whose file
entry is gone are removed at the end, dependents first (questions are retired
instead, because learners' answers point at them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import models, transaction

from quizzes.loader.capstone import sync_capstones
from quizzes.loader.parse import TOPICS, Course
from quizzes.loader.render import RenderedCourse
from quizzes.models import Choice, Diagram, Fact, Lesson, Module, Question, Quiz, QuizItem, Topic
from quizzes.models.content import Misconception

# --------------------------------------------------------------------------------------
# Step 3: sync the database
# --------------------------------------------------------------------------------------


@dataclass
class SyncCounts:
    created: int = 0
    updated: int = 0
    removed: int = 0


@dataclass
class LoadReport:
    counts: dict[str, int] = field(default_factory=dict)
    changes: SyncCounts = field(default_factory=SyncCounts)
    seconds: float = 0.0

    def summary(self) -> str:
        what = ", ".join(f"{n} {name}" for name, n in self.counts.items())
        c = self.changes
        return (
            f"Loaded {what}: {c.created} created, {c.updated} updated, {c.removed} removed"
            f" or retired, in {self.seconds:.2f} s."
        )


def _sync(
    model: type[models.Model],
    keys: tuple[str, ...],
    rows: Mapping[tuple[Any, ...], Mapping[str, Any]],
    counts: SyncCounts,
    stale: list[tuple[type[models.Model], list[int]]],
    queryset: models.QuerySet[Any] | None = None,
) -> dict[tuple[Any, ...], int]:
    """Make ``model``'s rows (within ``queryset``) hold ``rows``, keyed on ``keys``.

    Returns key -> pk. Rows whose fields all match are not written. Rows that are no
    longer in the files are appended to ``stale`` rather than removed here: removing
    a module before its lessons have moved elsewhere would cascade to them.
    """
    scope = model.objects.all() if queryset is None else queryset
    existing = {tuple(getattr(obj, k) for k in keys): obj for obj in scope}
    create, update, changed_fields = [], [], set()
    for key, values in rows.items():
        obj = existing.pop(key, None)
        if obj is None:
            create.append(model(**dict(zip(keys, key)), **values))
            continue
        changed = [name for name, value in values.items() if getattr(obj, name) != value]
        if changed:
            for name in changed:
                setattr(obj, name, values[name])
            update.append(obj)
            changed_fields.update(changed)
    model.objects.bulk_create(create)
    if update:
        model.objects.bulk_update(update, sorted(changed_fields))
    counts.created += len(create)
    counts.updated += len(update)
    stale.append((model, [obj.pk for obj in existing.values()]))
    return {tuple(row[:-1]): row[-1] for row in scope.values_list(*keys, "pk")}


def _remove_stale(stale: list[tuple[type[models.Model], list[int]]], counts: SyncCounts) -> None:
    """Drop rows gone from the files, dependents first; questions are only retired."""
    for model, pks in reversed(stale):
        if not pks:
            continue
        if model is Question:
            active = Question.objects.filter(pk__in=pks, retired=False)
            counts.removed += active.update(retired=True)
        else:
            counts.removed += len(pks)
            model.objects.filter(pk__in=pks).delete()


def _sync_pairs(
    through: type[models.Model],
    left: str,
    right: str,
    pairs: set[tuple[int, int]],
    lefts: Iterable[int],
) -> None:
    """Make a many-to-many table hold exactly ``pairs`` for the ``lefts`` loaded."""
    existing = set(
        through.objects.filter(**{f"{left}_id__in": list(lefts)}).values_list(
            f"{left}_id", f"{right}_id"
        )
    )
    stale = existing - pairs
    for left_id, right_id in stale:
        through.objects.filter(**{f"{left}_id": left_id, f"{right}_id": right_id}).delete()
    through.objects.bulk_create(
        [through(**{f"{left}_id": a, f"{right}_id": b}) for a, b in sorted(pairs - existing)]
    )


def _one(mapping: Mapping[tuple[Any, ...], int], key: Any) -> int:
    return mapping[(key,)]


@transaction.atomic
def sync_course(course: Course, rendered: RenderedCourse) -> SyncCounts:
    counts = SyncCounts()
    stale: list[tuple[type[models.Model], list[int]]] = []
    topics = _sync(
        Topic,
        ("slug",),
        {(slug,): {"title": title, "position": n} for n, (slug, title) in enumerate(TOPICS)},
        counts,
        stale,
    )
    facts = _sync(
        Fact,
        ("slug",),
        {
            (fact["slug"],): {
                "claim": fact["claim"],
                "source": fact["source"],
                "url": fact["url"],
                "published": fact["published"],
                "checked": fact["checked"],
                "topic_id": _one(topics, fact["topic"]),
                "position": n,
            }
            for n, fact in enumerate(course.facts)
        },
        counts,
        stale,
    )
    _sync(
        Diagram,
        ("name",),
        {
            (d.name,): {"svg": d.svg, "width": d.width, "height": d.height, "digest": d.digest}
            for d in course.diagrams
        },
        counts,
        stale,
    )
    modules = _sync(
        Module,
        ("slug",),
        {
            (m.slug,): {"number": m.number, "title": m.title, "summary": m.summary}
            for m in course.modules
        },
        counts,
        stale,
    )
    lesson_rows = {}
    for lesson in course.lessons:
        body_html, _cited, labs = rendered.lessons[lesson.slug]
        module_number = next(m.number for m in course.modules if m.slug == lesson.module)
        lesson_rows[(lesson.slug,)] = {
            "module_id": _one(modules, lesson.module),
            "number": lesson.number,
            "position": module_number * 1000 + lesson.number,
            "title": lesson.title,
            "summary": lesson.summary,
            "minutes": lesson.minutes,
            "body_markdown": lesson.body,
            "body_html": body_html,
            "labs": labs,
            "source_path": lesson.path,
        }
    lessons = _sync(Lesson, ("slug",), lesson_rows, counts, stale)
    _sync_pairs(
        Lesson.topics.through,
        "lesson",
        "topic",
        {(_one(lessons, l.slug), _one(topics, t)) for l in course.lessons for t in l.topics},
        lessons.values(),
    )
    _sync_pairs(
        Lesson.facts.through,
        "lesson",
        "fact",
        {
            (_one(lessons, slug), _one(facts, fact))
            for slug, (_html, cited, _labs) in rendered.lessons.items()
            for fact in cited
        },
        lessons.values(),
    )
    question_rows = {}
    for n, q in enumerate(course.questions):
        question_rows[(q.slug,)] = {
            "kind": q.kind,
            "difficulty": q.difficulty,
            "lesson_id": _one(lessons, q.lesson),
            "material_focus": q.material_focus,
            "corrects_material": q.corrects_material,
            "prompt": q.prompt,
            "model_answer": q.model_answer,
            "follow_up": q.follow_up,
            "follow_up_answer": q.follow_up_answer,
            "explanation": q.explanation,
            "position": n,
            "retired": False,
            "anchor": q.anchor,
            "variants": q.variants,
            **rendered.questions[q.slug],
        }
    misconceptions = _sync(
        Misconception,
        ("slug",),
        {
            (m.slug,): {
                "title": m.title,
                "statement": m.statement,
                "lesson_id": _one(lessons, m.lesson),
                "position": n,
            }
            for n, m in enumerate(course.misconceptions)
        },
        counts,
        stale,
    )
    questions = _sync(Question, ("slug",), question_rows, counts, stale)
    active = [_one(questions, q.slug) for q in course.questions]
    _sync_pairs(
        Question.topics.through,
        "question",
        "topic",
        {(_one(questions, q.slug), _one(topics, t)) for q in course.questions for t in q.topics},
        active,
    )
    _sync_pairs(
        Question.facts.through,
        "question",
        "fact",
        {(_one(questions, q.slug), _one(facts, f)) for q in course.questions for f in q.facts},
        active,
    )
    _sync(
        Choice,
        ("question_id", "position"),
        {
            (_one(questions, q.slug), position): {
                "text": choice["text"],
                "correct": choice["correct"],
                "why": choice["why"],
                "misconception_id": (
                    _one(misconceptions, choice["misconception"])
                    if choice["misconception"]
                    else None
                ),
                **rendered.choices[(q.slug, position)],
            }
            for q in course.questions
            for position, choice in enumerate(q.choices, start=1)
        },
        counts,
        stale,
        # Choices of retired questions stay: old attempts show them.
        queryset=Choice.objects.filter(question_id__in=active),
    )
    quizzes = _sync(
        Quiz,
        ("slug",),
        {
            (quiz.slug,): {
                "title": quiz.title,
                "module_id": _one(modules, quiz.module) if quiz.module else None,
                "mode": quiz.mode,
                "position": n,
                # The first quiz of the file is open to visitors without an account.
                "public": n == 0,
            }
            for n, quiz in enumerate(course.quizzes)
        },
        counts,
        stale,
    )
    _sync(
        QuizItem,
        ("quiz_id", "question_id"),
        {
            (_one(quizzes, quiz.slug), _one(questions, slug)): {"position": position}
            for quiz in course.quizzes
            for position, slug in enumerate(quiz.questions, start=1)
        },
        counts,
        stale,
    )
    sync_capstones(course, rendered.capstones, counts)
    _remove_stale(stale, counts)
    return counts


