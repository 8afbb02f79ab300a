"""Signal receivers, connected in ``QuizzesConfig.ready``."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from quizzes.learners import adopt_visitor_progress


def on_user_logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """Progress made before signing in (or up) joins the account's."""
    if request is not None and hasattr(request, "session"):
        adopt_visitor_progress(request, user)
