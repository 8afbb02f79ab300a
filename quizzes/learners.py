"""Who is learning: the one place that maps a request to its ``Learner``.

A signed-in user's learner is tied to the account. A visitor without one gets a
learner the first time they do something worth keeping (mark a lesson read, start
a quiz), identified by a random token in their session. Reading pages never creates
one, so crawlers leave no rows behind.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from quizzes.models import Learner

SESSION_KEY = "quizzes.learner_token"


def current_learner(request: HttpRequest) -> Learner | None:
    """The request's learner if it has one already; never creates."""
    cached = getattr(request, "_quizzes_learner", None)
    if cached is not None:
        return cached
    if request.user.is_authenticated:
        learner = Learner.objects.filter(user=request.user).first()
    else:
        token = request.session.get(SESSION_KEY)
        learner = (
            Learner.objects.filter(session_token=token, user=None).first() if token else None
        )
    if learner is not None:
        request._quizzes_learner = learner  # type: ignore[attr-defined]
    return learner


def learner_for_writing(request: HttpRequest) -> Learner:
    """The request's learner, created on first use."""
    learner = current_learner(request)
    if learner is not None:
        return learner
    if request.user.is_authenticated:
        learner, _ = Learner.objects.get_or_create(user=request.user)
    else:
        learner = Learner.new_visitor()
        request.session[SESSION_KEY] = learner.session_token
    request._quizzes_learner = learner  # type: ignore[attr-defined]
    return learner


def adopt_visitor_progress(request: HttpRequest, user: Any) -> None:
    """At sign-in or sign-up: merge the session's visitor learner into the account's.

    ``django.contrib.auth.login`` keeps the session's data when an anonymous
    session becomes a signed-in one, so the token is still there to find it.
    """
    token = request.session.pop(SESSION_KEY, None)
    if not token:
        return
    visitor = Learner.objects.filter(session_token=token, user=None).first()
    if visitor is None:
        return
    account = Learner.objects.filter(user=user).first()
    if account is None:
        visitor.user = user
        visitor.session_token = None
        visitor.save(update_fields=["user", "session_token"])
    else:
        account.absorb(visitor)
    if hasattr(request, "_quizzes_learner"):
        del request._quizzes_learner  # type: ignore[attr-defined]
