"""What a signed-in user is to the teach app: may they teach, and which classes
are they in. Every page asks (the nav's Teach link, the class banner), so the answer
is cached per user and forgotten when it changes — a membership saved or deleted, a
class archived or restored, the user's groups or permissions changed — instead of
costing every page two permission queries and a membership query.

Invariant: the cache only saves work. Pages that act on a class still check with
``teach.access`` and ``@instructor_required``; a stale answer can at worst show or
hide a link until the entry is forgotten or expires (``TTL_S``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from quizzes.roles import is_instructor
from teach.models import Classroom, Membership

TTL_S = 300


@dataclass(frozen=True)
class Standing:
    instructor: bool = False
    class_ids: tuple[int, ...] = ()  # active memberships in classes that are not archived


NOBODY = Standing()


def _key(user_id: int) -> str:
    return f"teach:standing:{user_id}"


def standing(user: Any) -> Standing:
    if user is None or not getattr(user, "is_authenticated", False):
        return NOBODY
    cached = cache.get(_key(user.pk))
    if isinstance(cached, Standing):
        return cached
    found = Standing(
        instructor=is_instructor(user),
        class_ids=tuple(
            Membership.objects.filter(
                user=user, removed_at__isnull=True, classroom__archived_at__isnull=True
            ).values_list("classroom_id", flat=True)
        ),
    )
    cache.set(_key(user.pk), found, TTL_S)
    return found


def forget(*user_ids: int) -> None:
    cache.delete_many([_key(pk) for pk in user_ids])


@receiver([post_save, post_delete], sender=Membership, dispatch_uid="teach.standing.membership")
def _membership_changed(sender: Any, instance: Membership, **kwargs: Any) -> None:
    forget(instance.user_id)


@receiver(post_save, sender=Classroom, dispatch_uid="teach.standing.classroom")
def _classroom_changed(sender: Any, instance: Classroom, **kwargs: Any) -> None:
    # Archiving or restoring changes every member's classes (and instructors' view).
    forget(*instance.memberships.values_list("user_id", flat=True))


def _roles_changed(sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any, **kwargs: Any) -> None:
    if not action.startswith("post_"):
        return
    if reverse:  # group.user_set.add(...): instance is the group, pk_set the users
        forget(*(pk_set or ()))
        if action == "post_clear":
            cache.clear()  # rare (an admin emptied a group): forget everyone
    else:
        forget(instance.pk)


User = get_user_model()
m2m_changed.connect(_roles_changed, sender=User.groups.through, dispatch_uid="teach.standing.groups")
m2m_changed.connect(
    _roles_changed, sender=User.user_permissions.through, dispatch_uid="teach.standing.perms"
)
