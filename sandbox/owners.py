"""Who owns a sandbox: the one place that maps a request or a websocket to an owner.

A signed-in learner is their user. A guest is a random token kept in their session
(``SESSION_KEY``), made by the sandbox page (or its small POST endpoint) the first
time they want a sandbox. The browser never names a sandbox: every lookup goes from
this owner to the owner's one row, so there is no id to guess or to swap.

At sign-in the session keeps its data, so ``sandbox.signals`` finds the guest token
there and hands the guest's sandbox and experiments to the account.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from django.http import HttpRequest

SESSION_KEY = "sandbox.owner_token"


@dataclass(frozen=True)
class Owner:
    """A user id or a guest token, never both."""

    user_id: int | None = None
    token: str | None = None

    def __post_init__(self) -> None:
        if (self.user_id is None) == (self.token is None):
            raise ValueError("an owner is a user or a guest token")

    @property
    def key(self) -> str:
        """Stable text for in-memory maps and rate limits (never sent to a browser)."""
        return f"u:{self.user_id}" if self.user_id is not None else f"g:{self.token}"

    def filter(self) -> dict[str, Any]:
        """ORM filter selecting this owner's rows."""
        if self.user_id is not None:
            return {"owner_user_id": self.user_id}
        return {"owner_token": self.token, "owner_user__isnull": True}

    def fields(self) -> dict[str, Any]:
        """Field values that make a new row this owner's."""
        if self.user_id is not None:
            return {"owner_user_id": self.user_id, "owner_token": None}
        return {"owner_user_id": None, "owner_token": self.token}


def owner_for_request(request: HttpRequest, *, create: bool) -> Owner | None:
    """The request's owner; a guest gets a token only when ``create`` is true."""
    if request.user.is_authenticated:
        return Owner(user_id=request.user.pk)
    token = request.session.get(SESSION_KEY)
    if not token and create:
        token = secrets.token_urlsafe(24)
        request.session[SESSION_KEY] = token
    return Owner(token=token) if token else None


@database_sync_to_async
def owner_for_scope(scope: dict[str, Any]) -> Owner | None:
    """The websocket's owner, from the user and session AuthMiddlewareStack put in scope.

    Never creates a token: a websocket cannot set the session cookie, so a guest
    without one is told to get one from the page first.
    """
    user = scope.get("user")
    if user is not None and user.is_authenticated:
        return Owner(user_id=user.pk)
    session = scope.get("session")
    token = session.get(SESSION_KEY) if session is not None else None
    return Owner(token=token) if token else None
