"""Classes and what an instructor runs in them.

* ``Classroom`` — a class: its instructors (the one who made it and any
  co-instructors), a join code learners type or follow as a link, and whether it is
  archived. A code can be rotated; the old one stops working at once.
* ``Membership`` — a signed-in learner in a class (a learner may be in several).
  Removing a learner keeps the row (``removed_at``) so their past answers still
  count in the class's statistics but they no longer appear on the roster.
* ``ClassRun`` — one class-wide crash demo ("Crash everyone"): who was in it, each
  learner's prediction and each sandbox's verdict per lane, kept so the instructor
  can reopen it.
* ``Nudge`` — "send the class to a page": the newest one is shown as a banner to
  learners of the class who have a page open.

Invariants: an instructor sees only classes they teach (``Classroom.taught_by``);
every view and socket message goes through ``teach.access`` to reach a class, so a
forged id is a 404, never someone else's class.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q, QuerySet
from django.utils import timezone

# No 0/O/1/I/L: a code is read aloud in a classroom and typed from a projector.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


def new_join_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(text: str) -> str:
    """What a learner typed, as stored: upper case, no spaces or dashes."""
    return "".join(ch for ch in text.upper() if ch.isalnum())


class Classroom(models.Model):
    name = models.CharField(max_length=120)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="classrooms_created"
    )
    instructors = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="classrooms_taught")
    join_code = models.CharField(max_length=16, unique=True, default=new_join_code)
    created_at = models.DateTimeField(default=timezone.now)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def taught_by(cls, user: Any) -> QuerySet["Classroom"]:
        """The classes this user may see as an instructor (the only way to list them)."""
        if not getattr(user, "is_authenticated", False):
            return cls.objects.none()
        return cls.objects.filter(instructors=user)

    @property
    def archived(self) -> bool:
        return self.archived_at is not None

    def rotate_code(self) -> str:
        self.join_code = new_join_code()
        self.save(update_fields=["join_code"])
        return self.join_code

    def active_members(self) -> QuerySet["Membership"]:
        return self.memberships.filter(removed_at__isnull=True)

    @classmethod
    def for_code(cls, code: str) -> "Classroom | None":
        """The class a join code names, archived or not (the caller says which)."""
        normalised = normalise_code(code)
        return cls.objects.filter(join_code=normalised).first() if normalised else None

    def enroll(self, user: Any) -> "Membership":
        """Join (idempotent); a learner removed earlier is re-added."""
        membership, created = Membership.objects.get_or_create(classroom=self, user=user)
        if not created and membership.removed_at is not None:
            membership.removed_at = None
            membership.joined_at = timezone.now()
            membership.save(update_fields=["removed_at", "joined_at"])
        return membership

    def remove_member(self, user_id: int) -> bool:
        """Take a learner off the roster; their row stays for the class's statistics."""
        return bool(
            self.memberships.filter(user_id=user_id, removed_at__isnull=True).update(
                removed_at=timezone.now()
            )
        )

    def set_archived(self, archived: bool) -> None:
        self.archived_at = (self.archived_at or timezone.now()) if archived else None
        self.save(update_fields=["archived_at"])


class Membership(models.Model):
    classroom = models.ForeignKey(Classroom, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    joined_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["joined_at"]
        constraints = [models.UniqueConstraint(fields=["classroom", "user"], name="one_membership_per_class")]

    def __str__(self) -> str:
        return f"{self.user} in {self.classroom}"


class ClassRun(models.Model):
    """One "Crash everyone": predictions and per-lane losses of every sandbox in it."""

    class State(models.TextChoices):
        PREPARING = "preparing", "Starting the write load"
        PREDICTING = "predicting", "Learners are predicting"
        CRASHING = "crashing", "Killing primaries"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    classroom = models.ForeignKey(Classroom, on_delete=models.CASCADE, related_name="runs")
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.PREPARING)
    load_rate = models.PositiveIntegerField(default=25)  # writes/s per cluster while it ran
    # user id (as text) -> the learner's predicted cache loss (writes)
    predictions = models.JSONField(default=dict, blank=True)
    # user id (as text) -> {"durable": {"acked": n, "lost": n}, "cache": {...}, "experiment_id": n}
    results = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]


class Nudge(models.Model):
    """"Go to this page": shown to the class's learners until a newer one replaces it."""

    classroom = models.ForeignKey(Classroom, on_delete=models.CASCADE, related_name="nudges")
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    sent_at = models.DateTimeField(default=timezone.now)
    path = models.CharField(max_length=300)  # a path on this site, never another host
    title = models.CharField(max_length=200)

    class Meta:
        ordering = ["-sent_at"]
        constraints = [models.CheckConstraint(condition=Q(path__startswith="/"), name="nudge_path_is_local")]
