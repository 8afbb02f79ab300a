"""The sandbox service's database side: the only code of the service that touches the
ORM, each helper a small ``database_sync_to_async`` function (the service itself
runs on the event loop and never blocks it on a query)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from channels.db import database_sync_to_async

from sandbox.models import Experiment, LabPass, Sandbox
from sandbox.owners import Owner

if TYPE_CHECKING:
    from sandbox.verdict import CrashRun


def when(seconds: float) -> datetime:
    """Wall-clock seconds (the service's injected clock) as an aware datetime."""
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


_ROW_FIELDS = (
    "id", "uuid", "owner_user_id", "owner_token", "shards", "replicas", "replication_delay_ms", "async_lane",
    "desired_state", "state", "event_seq", "last_activity",
)  # fmt: skip


def row_dict(row: Sandbox) -> dict[str, Any]:
    data = {name: getattr(row, name) for name in _ROW_FIELDS}
    data["uuid"] = row.uuid.hex
    return data


@database_sync_to_async
def rows_to_reconcile(backend: str) -> list[dict[str, Any]]:
    rows = Sandbox.objects.filter(backend=backend).exclude(
        state=Sandbox.State.STOPPED, desired_state=Sandbox.Desired.STOPPED
    )
    return [row_dict(row) for row in rows]


@database_sync_to_async
def claim_row(owner: Owner, shape: dict[str, int], now: float) -> dict[str, Any]:
    row = Sandbox.get_or_create_for(owner, when(now))
    row.shards = shape["shards"]
    row.replicas = shape["replicas"]
    row.replication_delay_ms = shape["replication_delay_ms"]
    row.async_lane = bool(shape.get("async_lane", 0))
    row.desired_state = Sandbox.Desired.RUNNING
    row.state = Sandbox.State.QUEUED
    row.last_activity = when(now)
    row.error = ""
    row.save()
    return row_dict(row)


@database_sync_to_async
def save_row(row_id: int, **fields: Any) -> None:
    Sandbox.objects.filter(pk=row_id).update(**fields)


@database_sync_to_async
def stop_row(owner: Owner, now: float) -> None:
    Sandbox.objects.filter(**owner.filter()).update(
        desired_state=Sandbox.Desired.STOPPED, state=Sandbox.State.STOPPED, stopped_at=when(now)
    )


@database_sync_to_async
def row_summary(owner: Owner) -> dict[str, Any] | None:
    row = Sandbox.for_owner(owner)
    return row.summary() | {"queue_position": None} if row is not None else None


@database_sync_to_async
def row_uuid(owner: Owner) -> str | None:
    row = Sandbox.for_owner(owner)
    return row.uuid.hex if row is not None else None


@database_sync_to_async
def lesson_labs(slug: str) -> list[dict[str, Any]] | None:
    from quizzes.models import Lesson  # the learning app owns lessons; read only

    lesson = Lesson.objects.filter(slug=slug).only("labs").first()
    return None if lesson is None else list(lesson.labs or [])


@database_sync_to_async
def record_lab_passes(owner: Owner, lesson_slug: str, lab_ids: list[str]) -> None:
    """Keep the first pass of each of these lab steps (later passes change nothing)."""
    for lab_id in lab_ids:
        LabPass.objects.get_or_create(lesson_slug=lesson_slug, lab_id=lab_id, **owner.fields())


@database_sync_to_async
def crash_experiments(owner: Owner) -> list[dict[str, Any]]:
    """The owner's finished crash experiments, newest first (for the lab checks)."""
    rows = Experiment.of(owner).only("fault", "target", "prediction", "prediction_async", "load_rate", "results")[:50]
    return [
        {"fault": r.fault, "target": r.target, "prediction": r.prediction,
         "prediction_async": r.prediction_async, "load_rate": r.load_rate,
         "lost": {name: r.lost(name) for name in r.results}}
        for r in rows
    ]


@database_sync_to_async
def save_experiment(owner: Owner, shape: dict[str, int], crash: CrashRun, verdict: dict[str, Any]) -> int:
    row = Experiment.objects.create(
        fault=crash.fault,
        target=crash.target,
        shards=shape["shards"],
        replicas=shape["replicas"],
        replication_delay_ms=shape["replication_delay_ms"],
        load_rate=crash.load_rate,
        prediction=crash.prediction,
        prediction_async=crash.prediction_async,
        async_lane="async" in verdict["clusters"],
        results=verdict["clusters"],
        charts=verdict["charts"],
        **owner.fields(),
    )
    return row.pk
