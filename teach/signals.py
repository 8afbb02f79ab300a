""""Something changed" for the live dashboard: a learner's lesson read, quiz answer,
sandbox row or experiment marks each of their classes dirty.

Only a mark goes out (``teach.dirty`` to the class's dashboard group, through the
channel layer, so a dashboard served by another worker hears it too): the class's
ticker decides when to send a summary, at most twice a second. A class nobody
watches has no group members, and the message goes nowhere.

Sandbox states written with ``QuerySet.update`` by the sandbox service send no
signal; the ticker's slow refresh catches those (``teach.live``).
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from quizzes.models import AttemptItem, LessonRead
from sandbox.models import Experiment, Sandbox
from teach.live import mark_classes_dirty_sync
from teach.models import Membership


def _mark(**who: Any) -> None:
    """Mark the classes of the learner ``who`` names (one query; none for a guest)."""
    classes = list(
        Membership.objects.filter(removed_at__isnull=True, classroom__archived_at__isnull=True, **who)
        .values_list("classroom_id", flat=True)
    )
    mark_classes_dirty_sync(classes)


@receiver(post_save, sender=LessonRead, dispatch_uid="teach.lesson_read")
def lesson_read(sender: Any, instance: LessonRead, **kwargs: Any) -> None:
    _mark(user__learner__id=instance.learner_id)


@receiver(post_save, sender=AttemptItem, dispatch_uid="teach.answer")
def answered(sender: Any, instance: AttemptItem, **kwargs: Any) -> None:
    if instance.answered_at is not None:
        _mark(user__learner__attempts__id=instance.attempt_id)


@receiver(post_save, sender=Sandbox, dispatch_uid="teach.sandbox")
def sandbox_saved(sender: Any, instance: Sandbox, **kwargs: Any) -> None:
    if instance.owner_user_id is not None:
        _mark(user_id=instance.owner_user_id)


@receiver(post_save, sender=Experiment, dispatch_uid="teach.experiment")
def experiment_saved(sender: Any, instance: Experiment, **kwargs: Any) -> None:
    if instance.owner_user_id is not None:
        _mark(user_id=instance.owner_user_id)
