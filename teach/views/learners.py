"""One learner of a class, in detail: what they read, answered and crashed.

Reached only through ``classroom_for_instructor`` and only for an active member of
that class, so neither a forged class id nor a forged user id shows anyone's data
(both are 404). Lab steps are those the learner's sandbox passed (``LabPass``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from quizzes.decorators import instructor_required
from quizzes.models import Attempt, Choice, Learner, Lesson, LessonRead
from sandbox.models import Experiment, LabPass
from teach.access import classroom_for_instructor
from teach.models import Classroom, Membership


@dataclass
class AnsweredChoice:
    text: str
    correct: bool  # whether this choice is one of the right ones


def member_or_404(classroom: Classroom, user_id: int) -> Membership:
    membership = (
        Membership.objects.filter(classroom=classroom, user_id=user_id, removed_at__isnull=True)
        .select_related("user")
        .first()
    )
    if membership is None:
        raise Http404("No such learner in this class.")
    return membership


@require_safe
@instructor_required
def learner_detail(request: HttpRequest, pk: int, user_id: int) -> HttpResponse:
    classroom = classroom_for_instructor(request.user, pk)
    membership = member_or_404(classroom, user_id)
    learner = Learner.objects.filter(user_id=user_id).first()
    reads: list[LessonRead] = []
    attempts: list[Attempt] = []
    if learner is not None:
        reads = list(
            learner.lesson_reads.select_related("lesson__module").order_by("-read_at")
        )
        attempts = list(
            learner.attempts.select_related("quiz").prefetch_related("items__question").order_by("-started_at")
        )
    choice_ids = {pk for a in attempts for item in a.items.all() for pk in item.selected}
    choices = {c.pk: c for c in Choice.objects.filter(pk__in=choice_ids).only("text", "correct")}
    for attempt in attempts:
        for item in attempt.items.all():
            item.chosen = [  # type: ignore[attr-defined]
                AnsweredChoice(choices[c].text, choices[c].correct) for c in item.selected if c in choices
            ]
    experiments = Experiment.objects.filter(owner_user_id=user_id).order_by("-created")
    lab_passes = list(LabPass.objects.filter(owner_user_id=user_id).order_by("passed_at"))
    titles = dict(Lesson.objects.filter(slug__in={p.lesson_slug for p in lab_passes}).values_list("slug", "title"))
    for lab_pass in lab_passes:
        lab_pass.lesson_title = titles.get(lab_pass.lesson_slug, lab_pass.lesson_slug)  # type: ignore[attr-defined]
    context = {
        "classroom": classroom,
        "membership": membership,
        "student": membership.user,
        "reads": reads,
        "attempts": attempts,
        "experiments": experiments,
        "lab_passes": lab_passes,
    }
    return render(request, "teach/learner_detail.html", context)

