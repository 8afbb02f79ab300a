"""Database models of the sandbox app: a learner's sandbox and their experiments.

``Sandbox`` is the wanted and the actual state of one learner's clusters of the same
shape, one per *lane*: a durable one (MemoryDB), a cache-mode one (ElastiCache
without durability) and, when the learner turns it on, a third between them
(ElastiCache with durability and asynchronous writes). The manager makes reality
match it and writes back what really happened; the row outlives any websocket and
any site process, which is how a restarted site finds what it left behind.

Invariants:
* a row has exactly one owner: a user, or a guest token (a check constraint);
* one row per owner (unique user, unique token): the browser never names a sandbox;
* the lanes a sandbox runs are ``lanes(async_lane)``, always in ``CLUSTERS`` order;
  with the switch off, nothing of the third lane runs;
* ``credentials`` (each cluster's ACL user and password) never leave the server:
  ``summary()`` is what a browser sees, and it is built field by field; in the
  database they are sealed with a key derived from SECRET_KEY (sandbox.encryption).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from sandbox.encryption import EncryptedJSONField
from sandbox.owners import Owner

# Every lane a sandbox can have, in the order the page shows them: the log before the
# reply, the reply before the log, no log at all.
CLUSTERS = ("durable", "async", "cache")
LANE_LABELS = {
    "durable": "MemoryDB (durable)",
    "async": "ElastiCache durable (async writes)",
    "cache": "ElastiCache (cache mode)",
}


def lanes(async_lane: bool) -> tuple[str, ...]:
    """The clusters a sandbox runs: the third lane only when switched on."""
    return tuple(name for name in CLUSTERS if async_lane or name != "async")


class Sandbox(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", "Waiting for a free slot"
        STARTING = "starting", "Starting"
        RUNNING = "running", "Running"
        STOPPING = "stopping", "Stopping"
        STOPPED = "stopped", "Stopped"
        FAILED = "failed", "Failed to start"
        # Idle with no page open: no process runs, the data is kept (durable lanes'
        # journals and snapshots, the cache lane's snapshot taken at parking); a site
        # that restarts leaves it parked and resumes it when its learner comes back.
        PARKED = "parked", "Parked (resumes when you come back)"

    class Desired(models.TextChoices):
        RUNNING = "running", "Running"
        STOPPED = "stopped", "Stopped"

    # Names the data directory and the event group; never accepted from a browser.
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner_user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="sandbox",
    )
    owner_token = models.CharField(max_length=64, null=True, blank=True, unique=True)
    backend = models.CharField(max_length=32, default="local")
    # The machine (and for the local backend, the site process) that runs it.
    host = models.CharField(max_length=200, blank=True)
    shards = models.PositiveSmallIntegerField(default=1)
    replicas = models.PositiveSmallIntegerField(default=1)
    replication_delay_ms = models.PositiveIntegerField(default=50)
    # The third lane (ElastiCache durable, async writes): off unless the learner turns it on.
    async_lane = models.BooleanField(default=False)
    state = models.CharField(max_length=16, choices=State.choices, default=State.STOPPED)
    desired_state = models.CharField(
        max_length=16, choices=Desired.choices, default=Desired.STOPPED
    )
    # Per cluster: [{"id", "kind", "zone", "shard", "port"}]; loopback ports only.
    endpoints = models.JSONField(default=dict, blank=True)
    # Per cluster: {"username": ..., "password": ...}, its own ACL user. Server-side
    # only, and encrypted at rest: a copy of the database must not open the clusters.
    credentials = EncryptedJSONField(default=dict, blank=True)
    # What the backend needs to find, adopt or stop the processes (backend.describe()).
    runtime = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    # The last sequence number given to one of its events; numbers never go back.
    event_seq = models.PositiveBigIntegerField(default=0)
    # The learner's last real action (a command, a load, a fault); keepalives do not count.
    last_activity = models.DateTimeField()
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(owner_user__isnull=False, owner_token__isnull=True)
                    | Q(owner_user__isnull=True, owner_token__isnull=False)
                ),
                name="sandbox_has_one_owner",
            )
        ]

    def __str__(self) -> str:
        return f"sandbox {self.uuid} ({self.state})"

    @property
    def owner(self) -> Owner:
        if self.owner_user_id is not None:
            return Owner(user_id=self.owner_user_id)
        return Owner(token=self.owner_token)

    @property
    def group(self) -> str:
        """The channel-layer group its events are sent to."""
        return f"sandbox.{self.uuid.hex}"

    @classmethod
    def for_owner(cls, owner: Owner) -> "Sandbox | None":
        return cls.objects.filter(**owner.filter()).first()

    @classmethod
    def get_or_create_for(cls, owner: Owner, now: datetime) -> "Sandbox":
        row = cls.for_owner(owner)
        if row is None:
            row = cls.objects.create(last_activity=now, **owner.fields())
        return row

    def shape(self) -> dict[str, int]:
        return {
            "shards": self.shards,
            "replicas": self.replicas,
            "replication_delay_ms": self.replication_delay_ms,
            "async_lane": int(self.async_lane),
        }

    def summary(self) -> dict[str, Any]:
        """What the learner's browser may see of this row (no credentials, no paths)."""
        return {
            "state": self.state,
            "desired_state": self.desired_state,
            "shape": self.shape(),
            "error": self.error,
            "started_at": self.started_at.isoformat() if self.started_at else None,
        }


class Experiment(models.Model):
    """One crash experiment: the settings, the learner's prediction and the verdict."""

    owner_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="sandbox_experiments",
    )
    owner_token = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    created = models.DateTimeField(auto_now_add=True)
    fault = models.CharField(max_length=32)  # kill_primary, kill_zone, ...
    target = models.CharField(max_length=16)  # both (every running lane), durable, async, cache
    shards = models.PositiveSmallIntegerField()
    replicas = models.PositiveSmallIntegerField()
    replication_delay_ms = models.PositiveIntegerField()
    load_rate = models.PositiveIntegerField(default=0)  # writes per second, 0 = no load
    # "How many acknowledged writes will the cache cluster lose?" (None: skipped).
    prediction = models.IntegerField(null=True, blank=True)
    # "... and the async-writes cluster?" (None: skipped, or the third lane was off).
    prediction_async = models.IntegerField(null=True, blank=True)
    # Whether the third lane ran (then ``results`` has its row under "async").
    async_lane = models.BooleanField(default=False)
    # Per cluster: acknowledged, kept, lost, lost_keys, failover_ms, loss_window_ms, ...
    results = models.JSONField(default=dict)
    # Downsampled series the charts are drawn from, so a past experiment can be redrawn.
    charts = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(owner_user__isnull=False, owner_token__isnull=True)
                    | Q(owner_user__isnull=True, owner_token__isnull=False)
                ),
                name="experiment_has_one_owner",
            )
        ]

    def __str__(self) -> str:
        return f"{self.fault} on {self.target} at {self.created:%Y-%m-%d %H:%M}"

    @classmethod
    def of(cls, owner: Owner) -> models.QuerySet["Experiment"]:
        return cls.objects.filter(**owner.filter())

    def lost(self, cluster: str) -> int | None:
        return (self.results.get(cluster) or {}).get("lost")


class LabPass(models.Model):
    """A lab step the learner's own sandbox passed: kept so that a learner's progress
    (and their instructor's view of it) outlives the sandbox. The first pass counts."""

    owner_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="lab_passes"
    )
    owner_token = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    lesson_slug = models.SlugField(max_length=100)
    lab_id = models.CharField(max_length=100)
    passed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["passed_at"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(owner_user__isnull=False, owner_token__isnull=True)
                    | Q(owner_user__isnull=True, owner_token__isnull=False)
                ),
                name="lab_pass_has_one_owner",
            ),
            models.UniqueConstraint(fields=["owner_user", "lesson_slug", "lab_id"], name="one_pass_per_user_lab"),
            models.UniqueConstraint(fields=["owner_token", "lesson_slug", "lab_id"], name="one_pass_per_guest_lab"),
        ]

    def __str__(self) -> str:
        return f"{self.lesson_slug}/{self.lab_id}"

    @classmethod
    def of(cls, owner: Owner) -> models.QuerySet["LabPass"]:
        return cls.objects.filter(**owner.filter())
