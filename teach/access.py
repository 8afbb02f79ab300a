"""The one way to reach a class: every teach view and socket message asks here.

``classroom_for_instructor`` returns the class if the user teaches it and raises
Http404 otherwise — the same answer for a class that does not exist and for one
taught by someone else, so an id reveals nothing. ``memberships_of`` lists the
classes a learner belongs to (for learner-side features such as nudges).
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.db.models import QuerySet

from teach.models import Classroom, Membership


def classroom_for_instructor(user: Any, pk: int, *, include_archived: bool = True) -> Classroom:
    classes = Classroom.taught_by(user)
    if not include_archived:
        classes = classes.filter(archived_at__isnull=True)
    classroom = classes.filter(pk=pk).first()
    if classroom is None:
        raise Http404("No such class.")
    return classroom


def memberships_of(user: Any) -> QuerySet[Membership]:
    if not getattr(user, "is_authenticated", False):
        return Membership.objects.none()
    return Membership.objects.filter(
        user=user, removed_at__isnull=True, classroom__archived_at__isnull=True
    ).select_related("classroom")
