"""The live side of a class: coalesced dashboard summaries, Prepare class, Crash
everyone and Send the class to a page.

* ``ClassTicker`` — one per class (per site process) while a dashboard shows it. Any
  relevant change (presence, a lesson read, a quiz answer, a sandbox state, an
  experiment) only *marks the class dirty*; the ticker sends one summary per window
  of ``window_s`` (0.5 s) at most, and only when it differs from the last one. A
  slow refresh (``refresh_s``) also marks it dirty, for what no signal reports: a
  sandbox state written with ``QuerySet.update`` by the sandbox service, and a
  learner whose presence expired.
* ``prepare_class`` — asks the sandbox service to start (or resume) every active
  member's sandbox through its normal fair queue; progress is read from the rows.
* ``ClassCrash`` — "Crash everyone": the same write load on every present member's
  running sandbox, a prediction prompt with a deadline, then ``kill_primary`` on both
  clusters of each sandbox, staggered over ``stagger_s``; each sandbox's own crash
  experiment gives its verdict; the anonymous histogram of losses per lane goes to
  the dashboard and to every learner of the class, and the run is saved.
* ``send_nudge`` — saves a ``Nudge`` and pushes the banner to the class's open pages.

Everything that runs on the event loop lives in a ``LiveHub`` (one per loop, like the
sandbox manager), whose ``clock`` is injected: tests drive the coalescing with a
fake clock. Messages between processes go through the channel layer (groups below),
so several workers later only need a shared layer.

Invariants: a dashboard never gets a message per learner event; a learner is only
ever sent anonymous class figures and their own prompt; every class is reached
through ``teach.access`` by the caller (consumer or view) before anything here runs.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Awaitable, Callable, Protocol

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.utils import timezone

from sandbox.owners import Owner
from sandbox.protocol import ClientError
from teach.models import ClassRun, Classroom, Membership, Nudge
from teach.presence import get_presence

log = logging.getLogger(__name__)

SUMMARY_WINDOW_S = 0.5  # at most two summaries a second per class
REFRESH_S = 5.0  # the safety net for changes no signal reports
BUSY_REFRESH_S = 1.0  # while a Prepare class or a crash runs
NUDGE_FRESH_FOR = timedelta(minutes=10)
CLASS_RUN_RATE = 25  # writes/s per cluster during Crash everyone
PREDICT_S = 10.0  # how long learners have to predict
STAGGER_S = 1.0  # the kills are spread over this long


def dashboard_group(classroom_id: int) -> str:
    return f"teach.dash.{classroom_id}"


def learners_group(classroom_id: int) -> str:
    return f"teach.learn.{classroom_id}"


def learner_group(user_id: int) -> str:
    return f"teach.user.{user_id}"


# ------------------------------------------------------------------------------------------
# The clock (injected: tests move a fake one by hand)
# ------------------------------------------------------------------------------------------


class Clock(Protocol):
    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class RealClock:
    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


# ------------------------------------------------------------------------------------------
# "Something changed" from anywhere: through the channel layer
# ------------------------------------------------------------------------------------------


async def mark_classes_dirty(classroom_ids: list[int]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for classroom_id in classroom_ids:
        await layer.group_send(dashboard_group(classroom_id), {"type": "teach.dirty"})


def mark_classes_dirty_sync(classroom_ids: list[int]) -> None:
    if classroom_ids:
        async_to_sync(mark_classes_dirty)(classroom_ids)


async def push_to_learners(classroom_id: int, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is not None:
        await layer.group_send(learners_group(classroom_id), {"type": "teach.push", "message": message})


async def push_to_learner(user_id: int, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is not None:
        await layer.group_send(learner_group(user_id), {"type": "teach.push", "message": message})


# ------------------------------------------------------------------------------------------
# The summary a dashboard shows
# ------------------------------------------------------------------------------------------


def _item_summary(classroom: Classroom) -> Any:
    """Item analysis from ``teach.analysis`` (another part of this issue)."""
    try:
        from teach.analysis import item_summary
    except ImportError:  # not merged yet: the dashboard shows the rest
        return None
    return item_summary(classroom)


def _jsonable(value: Any) -> Any:
    """Dataclasses and datetimes of the roster and the analysis as JSON-ready data."""
    import dataclasses
    from datetime import datetime

    if hasattr(value, "as_dict"):
        return _jsonable(value.as_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def class_summary(classroom_id: int, run: dict[str, Any] | None) -> dict[str, Any]:
    """Everything the dashboard shows live but presence, as JSON-ready data (a fixed
    number of queries: the roster's, the analysis', and two here). Runs in a
    database thread; ``with_presence`` completes it on the event loop."""
    from teach.roster import roster

    classroom = Classroom.objects.get(pk=classroom_id)
    rows = roster(classroom)
    if run is None:
        last = ClassRun.objects.filter(classroom_id=classroom_id).first()
        run = run_public(last) if last is not None else None
    return {
        "class": {"id": classroom.pk, "name": classroom.name},
        "roster": [_jsonable(row) for row in rows],
        "sandboxes": {
            "ready": sum(1 for row in rows if row.sandbox == "running"),
            "waiting": sum(1 for row in rows if row.sandbox in ("queued", "starting")),
            "total": len(rows),
        },
        "items": _jsonable(_item_summary(classroom)),
        "run": run,
    }


def with_presence(summary: dict[str, Any], presence: dict[int, str]) -> dict[str, Any]:
    """The summary with who has a page open now, and which."""
    for row in summary["roster"]:
        row["present"] = row["user_id"] in presence
        row["page"] = presence.get(row["user_id"])
    summary["present"] = sum(1 for row in summary["roster"] if row["present"])
    return summary


def histogram(results: dict[str, Any], predictions: dict[str, Any]) -> dict[str, Any]:
    """The class's losses per lane and its predictions: numbers only, sorted, no names."""
    lanes: dict[str, list[int]] = {"durable": [], "cache": []}
    for result in results.values():
        for lane in lanes:
            lost = (result.get(lane) or {}).get("lost")
            if lost is not None:
                lanes[lane].append(int(lost))
    return {
        "durable": sorted(lanes["durable"]),
        "cache": sorted(lanes["cache"]),
        "predictions": sorted(int(p) for p in predictions.values() if p is not None),
    }


def run_public(run: ClassRun) -> dict[str, Any]:
    """A saved run as the dashboard and the learners see it (anonymous)."""
    return {
        "id": run.pk,
        "state": run.state,
        "expected": len(run.results) or None,
        "done": len(run.results),
        "histogram": histogram(run.results, run.predictions),
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "error": run.error,
    }


# ------------------------------------------------------------------------------------------
# One ticker per class: coalesced summaries
# ------------------------------------------------------------------------------------------

Subscriber = Callable[[dict[str, Any]], Awaitable[None]]


class ClassTicker:
    def __init__(self, hub: "LiveHub", classroom_id: int) -> None:
        self.hub = hub
        self.classroom_id = classroom_id
        self.subscribers: set[Subscriber] = set()
        self.dirty = False
        self.last_sent = float("-inf")
        self.last_summary: dict[str, Any] | None = None
        self.busy_until = 0.0
        self._flush_task: asyncio.Task[None] | None = None
        self._refresh_task: asyncio.Task[None] | None = None

    async def subscribe(self, subscriber: Subscriber) -> dict[str, Any]:
        """Add a dashboard; returns the current summary at once (not coalesced:
        opening the dashboard must show the state now)."""
        self.subscribers.add(subscriber)
        if self._refresh_task is None:
            self._refresh_task = self.hub.spawn(self._refresh())
        return await self.compute()

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)
        if not self.subscribers:
            for task in (self._flush_task, self._refresh_task):
                if task is not None:
                    task.cancel()
            self.hub.tickers.pop(self.classroom_id, None)

    def mark_dirty(self) -> None:
        self.dirty = True
        if self._flush_task is None or self._flush_task.done():
            self._flush_task = self.hub.spawn(self._flush_later())

    def busy_for(self, seconds: float) -> None:
        """Refresh faster for a while (a Prepare class under way)."""
        self.busy_until = max(self.busy_until, self.hub.clock.now() + seconds)

    async def compute(self) -> dict[str, Any]:
        run = self.hub.current_run(self.classroom_id)
        summary = await database_sync_to_async(class_summary)(self.classroom_id, run)
        # Presence is read here, on the loop that writes it, never from a database thread.
        member_ids = [row["user_id"] for row in summary["roster"]]
        return with_presence(summary, self.hub.presence.present(member_ids, self.hub.clock.now()))

    async def _flush_later(self) -> None:
        clock = self.hub.clock
        wait = self.last_sent + self.hub.window_s - clock.now()
        if wait > 0:
            await clock.sleep(wait)
        while self.dirty:
            self.dirty = False
            self.last_sent = clock.now()
            summary = await self.compute()
            if summary != self.last_summary:
                self.last_summary = summary
                for subscriber in list(self.subscribers):
                    await subscriber(summary)
            if self.dirty:  # marked again while computing: the next window
                await clock.sleep(self.hub.window_s)

    async def _refresh(self) -> None:
        clock = self.hub.clock
        while True:
            busy = clock.now() < self.busy_until or self.hub.current_run(self.classroom_id) is not None
            await clock.sleep(BUSY_REFRESH_S if busy else self.hub.refresh_s)
            self.mark_dirty()


# ------------------------------------------------------------------------------------------
# Crash everyone
# ------------------------------------------------------------------------------------------


@dataclass
class ClassCrash:
    """One Crash everyone under way (the saved record is ``ClassRun``)."""

    run_id: int
    classroom_id: int
    participants: list[int]  # user ids, in the order their primaries are killed
    rate: int
    predict_s: float
    state: str = ClassRun.State.PREPARING
    predictions: dict[str, int] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    deadline: float = 0.0
    kill_times: list[float] = field(default_factory=list)
    verdict_times: list[float] = field(default_factory=list)
    error: str = ""

    def public(self) -> dict[str, Any]:
        return {
            "id": self.run_id,
            "state": self.state,
            "expected": len(self.participants),
            "done": len(self.results),
            "histogram": histogram(self.results, self.predictions),
            "deadline_ms": round(self.deadline * 1000) if self.state == ClassRun.State.PREDICTING else None,
            "error": self.error,
        }

    def predict(self, user_id: int, value: int) -> None:
        if user_id not in self.participants:
            raise ClientError("not_in_run", "Your sandbox is not part of this run.")
        if self.state != ClassRun.State.PREDICTING:
            raise ClientError("too_late", "Predictions are closed: the crash has started.")
        self.predictions[str(user_id)] = value

    def timings(self) -> dict[str, float | None]:
        """Seconds from the first kill to the last kill, and to the last verdict."""
        if not self.kill_times:
            return {"kills_s": None, "verdicts_s": None}
        first = min(self.kill_times)
        return {
            "kills_s": round(max(self.kill_times) - first, 3),
            "verdicts_s": round(max(self.verdict_times) - first, 3) if self.verdict_times else None,
        }


# ------------------------------------------------------------------------------------------
# The hub: one per event loop
# ------------------------------------------------------------------------------------------


class LiveHub:
    def __init__(
        self,
        clock: Clock | None = None,
        *,
        window_s: float = SUMMARY_WINDOW_S,
        refresh_s: float = REFRESH_S,
        predict_s: float = PREDICT_S,
        stagger_s: float = STAGGER_S,
        rate: int = CLASS_RUN_RATE,
    ) -> None:
        self.clock: Clock = clock or RealClock()
        self.window_s = window_s
        self.refresh_s = refresh_s
        self.predict_s = predict_s
        self.stagger_s = stagger_s
        self.rate = rate
        self.tickers: dict[int, ClassTicker] = {}
        self.runs: dict[int, ClassCrash] = {}  # by class id: the one under way
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def presence(self) -> Any:
        return get_presence()

    def ticker(self, classroom_id: int) -> ClassTicker:
        ticker = self.tickers.get(classroom_id)
        if ticker is None:
            ticker = self.tickers[classroom_id] = ClassTicker(self, classroom_id)
        return ticker

    def mark_dirty(self, classroom_id: int) -> None:
        ticker = self.tickers.get(classroom_id)
        if ticker is not None:
            ticker.mark_dirty()

    def current_run(self, classroom_id: int) -> dict[str, Any] | None:
        crash = self.runs.get(classroom_id)
        return crash.public() if crash is not None else None

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_failure)
        return task

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            try:
                await task
            except BaseException:
                pass

    # -- Prepare class ---------------------------------------------------------------------
    async def prepare_class(self, manager: Any, classroom_id: int) -> dict[str, Any]:
        """Start or resume every active member's sandbox through the normal queue."""
        member_ids = await database_sync_to_async(_active_member_ids)(classroom_id)
        queued, refused = 0, []
        for user_id in member_ids:
            try:
                # Members are counted as accounts, not per address (a class shares one).
                await manager.lifecycle.start(Owner(user_id=user_id), {}, "")
                queued += 1
            except ClientError as exc:
                refused.append(exc.code)
        self.ticker(classroom_id).busy_for(120)
        self.mark_dirty(classroom_id)
        return {"queued": queued, "refused": refused, "total": len(member_ids)}

    # -- Crash everyone ----------------------------------------------------------------------
    async def crash_everyone(self, manager: Any, classroom_id: int, instructor_id: int) -> ClassCrash:
        """Open the run now (the caller gets its id), and play it in the background."""
        if classroom_id in self.runs:
            raise ClientError("run_in_progress", "A crash of this class is already running.")
        member_ids = await database_sync_to_async(_active_member_ids)(classroom_id)
        present = self.presence.present(member_ids, self.clock.now())
        # Asked of the sandbox service (in process, or sandboxd through Redis).
        participants = [uid for uid in member_ids if uid in present and await manager.is_running(Owner(user_id=uid))]
        if not participants:
            raise ClientError(
                "nobody_ready", "No learner of the class has a page open and a running sandbox; press Prepare class."
            )
        run_id = await database_sync_to_async(_open_run)(classroom_id, instructor_id, self.rate)
        crash = ClassCrash(run_id, classroom_id, participants, self.rate, self.predict_s)
        self.runs[classroom_id] = crash
        self.spawn(self._play(manager, crash))
        return crash

    async def _play(self, manager: Any, crash: ClassCrash) -> None:
        started: list[Owner] = []
        try:
            for user_id in crash.participants:
                owner = Owner(user_id=user_id)
                try:
                    await manager.load.start(owner, crash.rate, None)
                    started.append(owner)
                except ClientError as exc:
                    if exc.code != "load_running":  # a running load is used as it is
                        raise
            crash.state = ClassRun.State.PREDICTING
            crash.deadline = self.clock.now() + crash.predict_s
            await self._publish(crash)
            for user_id in crash.participants:
                await push_to_learner(
                    user_id, {"type": "class_run_prompt", "run": crash.run_id, "seconds": crash.predict_s}
                )
            await self.clock.sleep(crash.predict_s)
            crash.state = ClassRun.State.CRASHING
            await self._publish(crash)
            await database_sync_to_async(_save_run)(crash, finished=False)
            waits = []
            step = self.stagger_s / max(1, len(crash.participants) - 1)
            for index, user_id in enumerate(crash.participants):
                if index:
                    await asyncio.sleep(step)
                waits.append(self.spawn(self._crash_one(manager, crash, user_id)))
            await asyncio.gather(*waits, return_exceptions=True)
            crash.state = ClassRun.State.DONE
        except Exception as exc:  # the run is saved as failed, with why
            log.exception("class run %s failed", crash.run_id)
            crash.state = ClassRun.State.FAILED
            crash.error = str(exc) or exc.__class__.__name__
        finally:
            for owner in started:
                try:
                    await manager.load.stop(owner)
                except ClientError:
                    pass  # stopped meanwhile (by the learner, or the sandbox went away)
            self.runs.pop(crash.classroom_id, None)
            await database_sync_to_async(_save_run)(crash, finished=True)
            await self._publish(crash)
            log.info("class run %s: %s", crash.run_id, crash.timings())

    async def _crash_one(self, manager: Any, crash: ClassCrash, user_id: int) -> None:
        owner = Owner(user_id=user_id)
        before = manager.faults.last_experiment_id(owner)
        if inspect.isawaitable(before):  # the remote service answers through Redis
            before = await before
        fields: dict[str, Any] = {"target": "both"}
        if str(user_id) in crash.predictions:
            fields["prediction"] = crash.predictions[str(user_id)]
        try:
            await manager.faults.fault(owner, "kill_primary", fields)
        except ClientError as exc:
            crash.results[str(user_id)] = {"error": exc.code}
            return
        crash.kill_times.append(time.monotonic())
        verdict = await manager.faults.wait_verdict(owner, before)
        crash.verdict_times.append(time.monotonic())
        if verdict is None:
            crash.results[str(user_id)] = {"error": "no_verdict"}
        else:
            crash.results[str(user_id)] = {
                lane: {"acked": verdict["clusters"][lane]["acknowledged"], "lost": verdict["clusters"][lane]["lost"]}
                for lane in verdict["clusters"]
            } | {"experiment_id": verdict.get("experiment_id")}
        await self._publish(crash)

    async def _publish(self, crash: ClassCrash) -> None:
        """The run's figures to the class's learners (anonymous) and its dashboards."""
        await push_to_learners(crash.classroom_id, {"type": "class_run", "run": crash.public()})
        await mark_classes_dirty([crash.classroom_id])


def _active_member_ids(classroom_id: int) -> list[int]:
    return list(
        Membership.objects.filter(classroom_id=classroom_id, removed_at__isnull=True)
        .order_by("joined_at")
        .values_list("user_id", flat=True)
    )


def _open_run(classroom_id: int, instructor_id: int, rate: int) -> int:
    return ClassRun.objects.create(classroom_id=classroom_id, started_by_id=instructor_id, load_rate=rate).pk


def _save_run(crash: ClassCrash, *, finished: bool) -> None:
    fields: dict[str, Any] = {
        "state": crash.state,
        "predictions": crash.predictions,
        "results": crash.results,
        "error": crash.error,
    }
    if finished:
        fields["finished_at"] = timezone.now()
    ClassRun.objects.filter(pk=crash.run_id).update(**fields)


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("teach live task failed", exc_info=task.exception())


# ------------------------------------------------------------------------------------------
# One hub per event loop (daphne runs one loop; each test its own)
# ------------------------------------------------------------------------------------------

_hubs: dict[asyncio.AbstractEventLoop, LiveHub] = {}


def get_hub() -> LiveHub:
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        from django.conf import settings

        hub = _hubs[loop] = LiveHub(
            rate=settings.TEACH_CLASS_RUN_RATE, predict_s=float(settings.TEACH_CLASS_RUN_PREDICT_SECONDS)
        )
    return hub


def install_hub(hub: LiveHub) -> None:
    _hubs[asyncio.get_running_loop()] = hub


def uninstall_hub(hub: LiveHub) -> None:
    for loop, installed in list(_hubs.items()):
        if installed is hub:
            del _hubs[loop]


# ------------------------------------------------------------------------------------------
# Send the class to a page
# ------------------------------------------------------------------------------------------


def nudge_public(nudge: Nudge) -> dict[str, Any]:
    return {"type": "nudge", "path": nudge.path, "title": nudge.title, "sent_at": nudge.sent_at.isoformat()}


def send_nudge(classroom: Classroom, user: Any, path: str, title: str) -> Nudge:
    """Save the nudge, then show it on the class's open pages."""
    nudge = Nudge.objects.create(classroom=classroom, sent_by=user, path=path, title=title)
    async_to_sync(push_to_learners)(classroom.pk, nudge_public(nudge))
    return nudge
