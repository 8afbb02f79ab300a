"""CSV exports of a class: the roster with progress, every answer, every experiment.

Responses stream (``StreamingHttpResponse`` over ``QuerySet.iterator``), so a big
class never builds the whole file in memory. Under ASGI (daphne, how the site runs)
Django would first read a sync iterator to its end into a list, so there the same
lines are handed over by an async iterator that pulls them in batches from a
thread (``_in_batches``). Cells are written by the csv module
and made safe for spreadsheets: a text cell starting with ``= + - @`` (or a tab or
carriage return) is prefixed with ``'`` so a spreadsheet shows it instead of
running it as a formula. Numbers are written as numbers.
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import datetime
from itertools import islice
from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse
from django.utils.text import slugify
from django.views.decorators.http import require_safe

from quizzes.decorators import instructor_required
from quizzes.models import AttemptItem, Choice
from sandbox.models import Experiment
from teach.access import classroom_for_instructor
from teach.models import Classroom
from teach.roster import module_columns, roster

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 500
LINES_PER_BATCH = 500


def safe_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Echo:
    """A file-like object whose write() returns the line, for streaming csv.writer."""

    def write(self, value: str) -> str:
        return value


async def _in_batches(lines: Iterator[str]) -> AsyncIterator[str]:
    """The lines, read in batches on the thread the ORM uses (thread_sensitive), so a
    queryset's open cursor stays on its own connection between batches."""
    next_batch = sync_to_async(lambda: "".join(islice(lines, LINES_PER_BATCH)), thread_sensitive=True)
    while batch := await next_batch():
        yield batch


def csv_response(
    request: HttpRequest, classroom: Classroom, kind: str, rows: Iterable[list[Any]]
) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        for row in rows:
            yield writer.writerow([safe_cell(v) for v in row])

    content = _in_batches(lines()) if isinstance(request, ASGIRequest) else lines()
    response = StreamingHttpResponse(content, content_type="text/csv; charset=utf-8")
    filename = f"{slugify(classroom.name) or 'class'}-{classroom.pk}-{kind}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


def _member_ids(classroom: Classroom) -> list[int]:
    return list(classroom.active_members().values_list("user_id", flat=True))


@require_safe
@instructor_required
def roster_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    classroom = classroom_for_instructor(request.user, pk)
    columns = module_columns()
    rows = roster(classroom, columns=columns)

    def table() -> Iterator[list[Any]]:
        header = ["username", "name", "joined", "last activity"]
        for c in columns:
            header += [f"module {c.number} lessons read", f"module {c.number} lessons", f"module {c.number} mastery %"]
        yield header + ["reviews due", "experiments", "sandbox"]
        for row in rows:
            cells: list[Any] = [row.username, row.name, row.joined_at, row.last_activity]
            for m in row.modules:
                cells += [m.lessons_read, m.lessons_total, m.mastery]
            yield cells + [row.reviews_due, row.experiments, row.sandbox]

    return csv_response(request, classroom, "roster", table())


@require_safe
@instructor_required
def answers_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """One row per answered question of the class's active learners, oldest first."""
    classroom = classroom_for_instructor(request.user, pk)
    members = _member_ids(classroom)

    def table() -> Iterator[list[Any]]:
        yield [
            "username", "attempt", "kind", "quiz", "module", "question", "position",
            "answered at", "chosen", "correct", "rating", "written answer",
        ]  # fmt: skip
        # Choice texts by id, read once: a course has hundreds, not millions.
        texts = dict(Choice.objects.values_list("pk", "text"))
        items = (
            AttemptItem.objects.filter(attempt__learner__user_id__in=members, answered_at__isnull=False)
            .order_by("answered_at", "pk")
            .values_list(
                "attempt__learner__user__username", "attempt_id", "attempt__kind", "attempt__quiz__slug",
                "attempt__quiz__module__number", "question__slug", "position", "answered_at",
                "selected", "correct", "rating", "free_text",
            )
        )  # fmt: skip
        for *head, selected, correct, rating, free_text in items.iterator(chunk_size=CHUNK):
            chosen = " | ".join(texts.get(c, f"(choice {c} removed)") for c in selected or [])
            yield [*head, chosen, correct, rating, free_text]

    return csv_response(request, classroom, "answers", table())


@require_safe
@instructor_required
def experiments_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    classroom = classroom_for_instructor(request.user, pk)
    members = _member_ids(classroom)

    def table() -> Iterator[list[Any]]:
        yield [
            "username", "when", "fault", "target", "shards", "replicas", "replication delay ms",
            "load writes/s", "predicted cache loss", "durable acknowledged", "durable lost",
            "cache acknowledged", "cache lost",
        ]  # fmt: skip
        experiments = (
            Experiment.objects.filter(owner_user_id__in=members)
            .order_by("created", "pk")
            .values_list(
                "owner_user__username", "created", "fault", "target", "shards", "replicas",
                "replication_delay_ms", "load_rate", "prediction", "results",
            )
        )  # fmt: skip
        for *head, results in experiments.iterator(chunk_size=CHUNK):
            durable = (results or {}).get("durable") or {}
            cache = (results or {}).get("cache") or {}
            yield [*head, durable.get("acknowledged"), durable.get("lost"), cache.get("acknowledged"), cache.get("lost")]

    return csv_response(request, classroom, "experiments", table())
