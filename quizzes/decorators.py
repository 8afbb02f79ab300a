"""Cross-cutting checks for views."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from quizzes.roles import is_instructor

View = Callable[..., HttpResponse]


def instructor_required(view: View) -> View:
    """Visitors are sent to sign in; a signed-in learner without ``quizzes.teach``
    gets 403, not 404: an instructor page's existence is no secret, and a learner
    who was sent its link should learn why it is refused."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_instructor(request.user):
            raise PermissionDenied("Only instructors may open this page.")
        return view(request, *args, **kwargs)

    return wrapper
