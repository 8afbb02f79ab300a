"""The learner's side of a class: joining with a code or a join link.

A join is a POST from a signed-in learner (a GET only shows what they are about
to join): joining lets the class's instructors see the learner's progress, so it
must not happen because some page embedded a link. A guest is asked to sign up or
sign in with ``next`` pointing back at the link; at sign-in the existing receivers
(quizzes.signals, sandbox.signals) move the guest's progress to the account, and
the join page is where they land. Joining is idempotent, and a learner removed
earlier who joins again is back on the roster.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from teach.forms import JoinCodeForm
from teach.models import Classroom


@require_http_methods(["GET", "HEAD", "POST"])
def join_form(request: HttpRequest) -> HttpResponse:
    form = JoinCodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        return redirect("teach:join_code", form.cleaned_data["code"])
    return render(request, "teach/join_form.html", {"form": form})


@require_http_methods(["GET", "HEAD", "POST"])
def join_code(request: HttpRequest, code: str) -> HttpResponse:
    classroom = Classroom.for_code(code)
    if classroom is None:
        context = {"form": JoinCodeForm(initial={"code": code}), "problem": "unknown"}
        return render(request, "teach/join_form.html", context, status=404)
    if classroom.archived:
        context = {"form": JoinCodeForm(), "problem": "archived", "classroom": classroom}
        return render(request, "teach/join_form.html", context, status=410)
    context = {"classroom": classroom, "next": request.path}
    if not request.user.is_authenticated:
        return render(request, "teach/join.html", context)
    if classroom.instructors.filter(pk=request.user.pk).exists():
        messages.info(request, "You teach this class; learners join it with this link.")
        return redirect("teach:class", classroom.pk)
    membership = classroom.memberships.filter(user=request.user, removed_at__isnull=True).first()
    if request.method == "POST":
        classroom.enroll(request.user)
        if membership is None:
            messages.success(request, f"You joined “{classroom.name}”. Its instructors can now see your progress.")
        return redirect("quizzes:me")
    context["member"] = membership is not None
    return render(request, "teach/join.html", context)
