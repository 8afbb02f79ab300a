"""The live dashboard's HTTP side: a saved Crash everyone reopened, and Send the
class to a page without JavaScript (the dashboard socket does the same with
``nudge``). Prepare class and Crash everyone run on the site's event loop, so they
are socket messages only (``teach.consumers.DashboardConsumer``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from quizzes.decorators import instructor_required
from quizzes.models import Lesson
from teach import live
from teach.access import classroom_for_instructor
from teach.models import ClassRun, Classroom, Nudge

SANDBOX = "sandbox"


def nudge_targets() -> list[tuple[str, str]]:
    """Where a class can be sent: the sandbox, or any lesson of the course in path order."""
    lessons = Lesson.objects.select_related("module").order_by("module__number", "number")
    return [(SANDBOX, "The sandbox")] + [
        (f"lesson:{lesson.pk}", f"{lesson.module.number}.{lesson.number} {lesson.title}") for lesson in lessons
    ]


class NudgeForm(forms.Form):
    target = forms.ChoiceField(label="Send the class to")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["target"].choices = nudge_targets()

    def destination(self) -> tuple[str, str]:
        """(path, title) of the chosen page: always a path of this site."""
        target = self.cleaned_data["target"]
        if target == SANDBOX:
            return reverse("sandbox:page"), "The sandbox"
        lesson = Lesson.objects.select_related("module").get(pk=int(target.split(":", 1)[1]))
        return lesson.get_absolute_url(), lesson.title

    def send(self, classroom: Classroom, user: Any) -> Nudge:
        path, title = self.destination()
        return live.send_nudge(classroom, user, path, title)


@require_POST
@instructor_required
def nudge(request: HttpRequest, pk: int) -> HttpResponse:
    classroom = classroom_for_instructor(request.user, pk)
    form = NudgeForm(request.POST)
    if form.is_valid():
        sent = form.send(classroom, request.user)
        messages.success(request, f"The class was sent to “{sent.title}”.")
    else:
        messages.error(request, "Pick a lesson or the sandbox.")
    return redirect("teach:class", pk=classroom.pk)


@instructor_required
def run_detail(request: HttpRequest, pk: int, run_id: int) -> HttpResponse:
    classroom = classroom_for_instructor(request.user, pk)
    run = get_object_or_404(ClassRun, pk=run_id, classroom=classroom)
    public = live.run_public(run)
    return render(
        request,
        "teach/live_run.html",
        {"classroom": classroom, "run": run, "public": public, "rows": run_rows(run)},
    )


def run_rows(run: ClassRun) -> list[dict[str, Any]]:
    """The run per learner, for the instructor only (learners see the histogram)."""
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.in_bulk([int(uid) for uid in run.results if uid.isdigit()])
    rows = []
    for uid, result in sorted(run.results.items()):
        user = users.get(int(uid)) if uid.isdigit() else None
        rows.append(
            {
                "name": user.get_username() if user else "(removed)",
                "prediction": run.predictions.get(uid),
                "durable": (result.get("durable") or {}).get("lost"),
                "cache": (result.get("cache") or {}).get("lost"),
                "acked": (result.get("durable") or {}).get("acked"),
                "error": result.get("error", ""),
            }
        )
    return rows
