"""The learner's own progress page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from quizzes.learners import current_learner
from quizzes.summary import summarize
from teach.access import memberships_of


@require_safe
def me(request: HttpRequest) -> HttpResponse:
    """Progress of whoever is asking: an account's, or a visitor's session's.

    There is no way to name another learner here, so nobody sees anyone else's.
    """
    learner = current_learner(request)
    summary = summarize(learner, timezone.now())
    return render(
        request,
        "quizzes/me.html",
        {
            "summary": summary,
            "chart": summary.chart(),
            "learner": learner,
            "memberships": list(memberships_of(request.user)),
        },
    )
