"""A class's roster: one row of progress per active learner, as plain data.

``roster(classroom)`` is used by the class page, the roster CSV and the live
dashboard's coalesced summaries, so it takes no request and returns dataclasses
(``RosterRow.as_dict()`` is their JSON form). It runs a fixed number of queries
whatever the class size: each kind of fact (lessons read, answers, reviews due,
experiments, sandboxes) is fetched for all learners at once and grouped in Python.

Definitions (the page and the CSV say the same):

* **last activity** — the latest of: a lesson marked read, an attempt started or a
  question answered, the sandbox's last real action (``Sandbox.last_activity``) and
  an experiment run; ``None`` if the learner has done none of these.
* **lessons read per module** — n of m lessons of that module.
* **quiz mastery per module** — the share of right answers in *finished* attempts of
  that module's quizzes, counting full quiz passes only (``Attempt.Kind.QUIZ``): a
  retry holds only the questions missed before, so counting it would make mastery
  jump around with how many retries someone took. ``None`` when nothing is finished.
  This is what the learner actually answered in the class's sight; FSRS
  retrievability (used on the learner's own page) is a forecast that changes with
  the clock, which makes a roster harder to read and to export.
* **reviews due** — review cards due now.
* **experiments** — crash experiments run (``sandbox.Experiment`` rows).
* **sandbox** — the state of the learner's ``Sandbox`` row, or ``"none"``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, Max, Q
from django.utils import timezone

from quizzes.models import Attempt, AttemptItem, Learner, Lesson, LessonRead, Module, ReviewCard
from sandbox.models import Experiment, Sandbox
from teach.models import Classroom

NO_SANDBOX = "none"


@dataclass(frozen=True)
class ModuleColumn:
    id: int
    number: int
    title: str
    lessons_total: int


@dataclass
class ModuleProgress:
    module_id: int
    lessons_read: int
    lessons_total: int
    answered: int  # answers in finished quiz passes of this module's quizzes
    correct: int

    @property
    def mastery(self) -> int | None:
        """Percent right, or None when no quiz of the module was finished."""
        return round(100 * self.correct / self.answered) if self.answered else None


@dataclass
class RosterRow:
    user_id: int
    username: str
    name: str
    joined_at: datetime
    last_activity: datetime | None
    modules: list[ModuleProgress] = field(default_factory=list)
    reviews_due: int = 0
    experiments: int = 0
    sandbox: str = NO_SANDBOX

    @property
    def lessons_read(self) -> int:
        return sum(m.lessons_read for m in self.modules)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: datetimes as ISO text, mastery included."""
        data = asdict(self)
        data["joined_at"] = self.joined_at.isoformat()
        data["last_activity"] = self.last_activity.isoformat() if self.last_activity else None
        for out, module in zip(data["modules"], self.modules):
            out["mastery"] = module.mastery
        return data


def module_columns() -> list[ModuleColumn]:
    """The course's modules in path order, with their lesson counts (one query)."""
    modules = Module.objects.annotate(lessons_total=Count("lessons")).order_by("number")
    return [ModuleColumn(m.pk, m.number, m.title, m.lessons_total) for m in modules]


def roster(
    classroom: Classroom, now: datetime | None = None, columns: list[ModuleColumn] | None = None
) -> list[RosterRow]:
    """Every active learner of the class, ordered by username. Nine queries (eight
    when ``columns`` are passed in), however many learners there are."""
    now = now or timezone.now()
    columns = module_columns() if columns is None else columns
    members = list(
        classroom.active_members().select_related("user").order_by("user__username")
    )
    if not members:
        return []
    user_ids = [m.user_id for m in members]
    learner_of_user = dict(
        Learner.objects.filter(user_id__in=user_ids).values_list("user_id", "pk")
    )
    learner_ids = list(learner_of_user.values())

    reads: dict[tuple[int, int], int] = {}
    last_read: dict[int, datetime] = {}
    answers: dict[tuple[int, int], tuple[int, int]] = {}
    last_attempt: dict[int, datetime] = {}
    due: dict[int, int] = {}
    if learner_ids:
        for row in (
            LessonRead.objects.filter(learner_id__in=learner_ids)
            .values("learner_id", "lesson__module_id")
            .annotate(n=Count("pk"), last=Max("read_at"))
        ):
            reads[row["learner_id"], row["lesson__module_id"]] = row["n"]
            _latest(last_read, row["learner_id"], row["last"])
        for row in (
            AttemptItem.objects.filter(
                attempt__learner_id__in=learner_ids,
                attempt__kind=Attempt.Kind.QUIZ,
                attempt__finished_at__isnull=False,
                attempt__quiz__module__isnull=False,
                answered_at__isnull=False,
            )
            .values("attempt__learner_id", "attempt__quiz__module_id")
            .annotate(n=Count("pk"), right=Count("pk", filter=Q(correct=True)))
        ):
            answers[row["attempt__learner_id"], row["attempt__quiz__module_id"]] = (row["n"], row["right"])
        for row in (
            Attempt.objects.filter(learner_id__in=learner_ids)
            .values("learner_id")
            .annotate(started=Max("started_at"), answered=Max("items__answered_at"))
        ):
            _latest(last_attempt, row["learner_id"], row["started"])
            _latest(last_attempt, row["learner_id"], row["answered"])
        due = dict(
            ReviewCard.objects.filter(learner_id__in=learner_ids, due__lte=now)
            .values("learner_id")
            .annotate(n=Count("pk"))
            .values_list("learner_id", "n")
        )
    experiments: dict[int, tuple[int, datetime]] = {
        row["owner_user_id"]: (row["n"], row["last"])
        for row in Experiment.objects.filter(owner_user_id__in=user_ids)
        .values("owner_user_id")
        .annotate(n=Count("pk"), last=Max("created"))
    }
    sandboxes: dict[int, tuple[str, datetime]] = {
        user_id: (state, active)
        for user_id, state, active in Sandbox.objects.filter(owner_user_id__in=user_ids).values_list(
            "owner_user_id", "state", "last_activity"
        )
    }

    rows = []
    for member in members:
        user = member.user
        learner_id = learner_of_user.get(user.pk)
        progress = []
        for column in columns:
            answered, right = answers.get((learner_id, column.id), (0, 0))  # type: ignore[arg-type]
            progress.append(
                ModuleProgress(
                    module_id=column.id,
                    lessons_read=reads.get((learner_id, column.id), 0),  # type: ignore[arg-type]
                    lessons_total=column.lessons_total,
                    answered=answered,
                    correct=right,
                )
            )
        n_experiments, last_experiment = experiments.get(user.pk, (0, None))
        state, sandbox_active = sandboxes.get(user.pk, (NO_SANDBOX, None))
        moments = [
            last_read.get(learner_id),  # type: ignore[arg-type]
            last_attempt.get(learner_id),  # type: ignore[arg-type]
            last_experiment,
            sandbox_active,
        ]
        rows.append(
            RosterRow(
                user_id=user.pk,
                username=user.get_username(),
                name=user.get_full_name() or user.get_username(),
                joined_at=member.joined_at,
                last_activity=max((m for m in moments if m is not None), default=None),
                modules=progress,
                reviews_due=due.get(learner_id, 0),  # type: ignore[arg-type]
                experiments=n_experiments,
                sandbox=state,
            )
        )
    return rows


def _latest(into: dict[int, datetime], key: int, moment: datetime | None) -> None:
    if moment is not None and (key not in into or moment > into[key]):
        into[key] = moment
