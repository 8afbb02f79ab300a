"""Roles: a learner is anyone; an instructor holds the ``quizzes.teach`` permission.

The permission is granted through the "Instructors" group, which is (re)created
after every migrate and every test-database flush, so it always exists.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, Group, Permission
from django.contrib.contenttypes.models import ContentType

INSTRUCTORS_GROUP = "Instructors"
TEACH_PERMISSION = "quizzes.teach"


def instructors_group() -> Group:
    """The "Instructors" group with the teach permission, created if missing."""
    from quizzes.models import Learner

    content_type = ContentType.objects.get_for_model(Learner)
    permission, _ = Permission.objects.get_or_create(
        codename="teach",
        content_type=content_type,
        defaults={"name": "Can teach: see classes, rosters, progress and item analysis"},
    )
    group, _ = Group.objects.get_or_create(name=INSTRUCTORS_GROUP)
    group.permissions.add(permission)
    return group


def make_instructor(user: AbstractBaseUser) -> None:
    user.groups.add(instructors_group())  # type: ignore[attr-defined]


def is_instructor(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and user.has_perm(TEACH_PERMISSION)


def ensure_roles(**kwargs: Any) -> None:
    """post_migrate receiver."""
    instructors_group()
