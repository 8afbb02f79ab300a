"""Lifecycle: makes the processes match the ``Sandbox`` rows, and owns every
``LiveSandbox`` of this site process (``live``, by owner key).

* At start-up it reconciles: lists what the backend really runs, adopts it or stops
  it (no leaked processes), and re-queues the sandboxes that should be running.
* It starts sandboxes through a queue under two caps (running, starting at once),
  telling each waiting learner their position. The queue is fair between
  *visitors* (an account, or for guests a client address): the next to start is
  the one whose visitor has the fewest sandboxes starting or running, then the
  longest-waiting. Guests, whom anyone with a fresh cookie jar can become, are
  limited per client address (sandboxes held at once, new ones per window, shapes)
  and are stopped sooner when idle, or to make room for a queue.
* It culls sandboxes whose learner has been idle (keepalives and repeated
  ``start``s do not count; the clock is injected) and stops everything, keeping the
  data, when the site stops.
* It parks running sandboxes that no page has shown for a while and resumes them,
  through the queue, when their learner is back (``sandbox.service.parking``): a
  page opening (``find``), a start, or any command (``running``).

Invariants:
* only this module calls the backend, and only through ``SandboxBackend``;
* two starts or stops never work on one directory at once: a start of a row whose
  previous start or stop is still under way (``in_flight``) waits in the queue;
* a start is never cancelled half-way (it would leave processes without a handle):
  a sandbox stopped while starting is stopped by its start when that returns;
* a state change goes through ``LiveSandbox``'s transition methods.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections import deque
from typing import Any, Callable

from sandbox import store
from sandbox.backends import ClusterUser, SandboxBackend, SandboxSpec, SandboxStartError
from sandbox.conf import SandboxLimits
from sandbox.engine.journal_auth import new_secret
from sandbox.events import EventLog
from sandbox.live import LiveSandbox, log_failure
from sandbox.models import Sandbox
from sandbox.owners import Owner
from sandbox.protocol import ClientError
from sandbox.service.parking import Parking
from sandbox.service.sessions import LiveSessions
from sandbox.store import when

log = logging.getLogger(__name__)

MAX_QUEUE = 500


class Lifecycle:
    def __init__(
        self,
        limits: SandboxLimits,
        backend: SandboxBackend,
        sessions: LiveSessions,
        *,
        clock: Callable[[], float],
        context: contextvars.Context,
    ) -> None:
        self.limits = limits
        self.backend = backend
        self.sessions = sessions
        self.clock = clock
        # Tasks run in the context the service was made in, not in that of whichever
        # consumer asked for them: a consumer's context ends with it.
        self.context = context
        self.live: dict[str, LiveSandbox] = {}  # by owner key
        self.queue: deque[str] = deque()  # owner keys, in arrival order
        self.starting = 0
        self.ready = asyncio.Event()
        self.closed = False
        self._guest_starts: dict[str, deque[float]] = {}  # address -> times of new guest sandboxes
        # uuid -> starts and stops of it under way: a new start of the same row (same
        # directory) waits until none is, so two never work on one directory.
        self.in_flight: dict[str, int] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.parking = Parking(self)

    # ======================================================================================
    # Start-up, culling, shut-down
    # ======================================================================================

    def begin(self) -> None:
        """Reconcile, then cull periodically; called once when the service is made."""
        self.spawn(self._begin())

    async def _begin(self) -> None:
        try:
            await self.startup()
        finally:
            self.ready.set()
        interval = self.limits.cull_interval_seconds
        if self.limits.park_after_seconds > 0:  # look often enough to park close to on time
            interval = min(interval, max(1.0, self.limits.park_after_seconds / 3))
        while not self.closed:
            await asyncio.sleep(interval)
            try:
                await self.cull_idle()
            except Exception:  # the culler must outlive one bad round
                log.exception("idle culling failed")

    async def startup(self) -> dict[str, Any]:
        """Make the rows and the processes agree after the site (re)started."""
        report: dict[str, Any] = {"adopted": [], "stopped_leftovers": [], "requeued": [], "culled": []}
        rows = {row["uuid"]: row for row in await store.rows_to_reconcile(self.backend.name)}
        for found in await self.backend.discover():
            sandbox_id = found["sandbox_id"]
            row = rows.get(sandbox_id)
            handle = None
            if row is not None and row["desired_state"] == Sandbox.Desired.RUNNING and self.backend.can_adopt:
                handle = await self.backend.adopt(found, lambda c, e: None)
            if handle is None:
                await self.backend.stop_leftover(found)
                report["stopped_leftovers"].append(sandbox_id)
            else:  # pragma: no cover - no backend can adopt yet
                report["adopted"].append(sandbox_id)
        now = self.clock()
        for sandbox_id, row in rows.items():
            if row["desired_state"] != Sandbox.Desired.RUNNING:
                await store.save_row(row["id"], state=Sandbox.State.STOPPED)
                continue
            idle = now - row["last_activity"].timestamp()
            if idle > self.idle_limit(row["owner_user_id"] is None):
                await self.backend.delete_data(sandbox_id)
                await store.save_row(
                    row["id"], state=Sandbox.State.STOPPED, desired_state=Sandbox.Desired.STOPPED,
                    stopped_at=when(now), error="Stopped after being idle.",
                )
                report["culled"].append(sandbox_id)
                continue
            owner = Owner(user_id=row["owner_user_id"]) if row["owner_user_id"] else Owner(token=row["owner_token"])
            live = self._new_live(row, owner)
            live.last_activity = row["last_activity"].timestamp()
            if row["state"] == Sandbox.State.PARKED:  # resumed when its learner is back
                live.parked(now)
                continue
            self._enqueue(live)
            report["requeued"].append(sandbox_id)
        log.info("sandbox start-up: %s", report)
        return report

    def idle_limit(self, is_guest: bool) -> float:
        return self.limits.guest_idle_seconds if is_guest else self.limits.idle_seconds

    async def cull_idle(self, now: float | None = None) -> list[str]:
        """Stop (and delete the data of) every sandbox idle for longer than allowed
        (guests' sooner); then, if learners wait for a slot, guests' sandboxes that
        no page has shown for a while, longest-unwatched first."""
        now = self.clock() if now is None else now
        culled = []
        for live in list(self.live.values()):
            if now - live.last_activity <= self.idle_limit(live.is_guest):
                continue
            culled.append(live.uuid)
            self.sessions.record(live, {"event": "idle_stop", "idle_s": round(now - live.last_activity)})
            await self.stop_live(live, reason="Stopped after being idle; your data was removed.")
        waiting = sum(1 for key in self.queue if key in self.live)
        if waiting and self._active() >= self.limits.max_running:
            unwatched = sorted(
                (live for live in self.live.values()
                 if live.is_guest and live.is_running and live.unwatched_since is not None
                 and now - live.unwatched_since > self.limits.pressure_idle_seconds),
                key=lambda live: live.unwatched_since or 0.0,
            )  # fmt: skip
            for live in unwatched[:waiting]:
                culled.append(live.uuid)
                self.sessions.record(live, {"event": "idle_stop", "reason": "room_for_queue"})
                await self.stop_live(
                    live, reason="Stopped to make room for learners waiting, since no page of yours "
                    "had shown it for a while; your data was removed. Sign in to keep a sandbox longer."
                )
        for live in self.parking.due(now):
            await self.parking.park(live)
        return culled

    async def shutdown(self) -> None:
        """The site is stopping: stop every process, keep the data, leave rows wanting
        to run so that the next start-up brings them back."""
        self.closed = True  # _admit starts nothing more
        # A start cancelled half-way would leave the processes it had started without
        # a handle to stop them by: let the ones under way finish, then stop them too.
        deadline = time.monotonic() + self.limits.start_timeout_seconds + 5
        while self.starting and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for live in list(self.live.values()):
            await self.teardown(live, delete_data=False)
            await store.save_row(
                live.row_id, state=Sandbox.State.PARKED if live.is_parked else Sandbox.State.STOPPED,
                stopped_at=when(self.clock()),
                event_seq=live.log.last_seq, last_activity=when(live.last_activity),
            )
        self.live.clear()
        self.queue.clear()
        for task in list(self._tasks):
            task.cancel()
        await self.backend.close()

    def stop_all_now(self) -> None:
        """At interpreter exit, when no event loop runs any more."""
        self.backend.stop_all_now()

    # ======================================================================================
    # Finding an owner's sandbox
    # ======================================================================================

    async def find(self, owner: Owner) -> LiveSandbox | None:
        """The owner's live sandbox, following a guest who has just signed in; a parked
        one is resumed (a page opened, or the learner asked for it)."""
        live = self.live.get(owner.key) or await self._adopt_signed_in(owner)
        if live is not None and live.is_parked:
            self.parking.resume(live)
        return live

    async def _adopt_signed_in(self, owner: Owner) -> LiveSandbox | None:
        """A guest who signed in keeps their running sandbox (sandbox.signals moved
        the row to the account; here the live sandbox follows it)."""
        if owner.user_id is None:
            return None
        uuid = await store.row_uuid(owner)
        for key, live in list(self.live.items()):
            if live.uuid == uuid and key != owner.key:
                del self.live[key]
                live.owner = owner
                self.live[owner.key] = live
                if key in self.queue:
                    self.queue[self.queue.index(key)] = owner.key
                return live
        return None

    def running(self, owner: Owner) -> LiveSandbox:
        """The owner's running sandbox, or the ClientError that says why there is none."""
        live = self.live.get(owner.key)
        if live is None:
            raise ClientError("no_sandbox")
        if live.is_parked:
            self.parking.resume(live)
        if not live.is_running:
            raise ClientError("not_ready")
        return live

    def touch(self, owner: Owner) -> None:
        """A real learner action: resets the idle clock (pings do not call this)."""
        live = self.live.get(owner.key)
        if live is not None:
            live.last_activity = self.clock()

    def summary(self, live: LiveSandbox, position: int | None = None) -> dict[str, Any]:
        """What the learner's page shows of their live sandbox."""
        summary: dict[str, Any] = {
            "state": live.state.value,
            "desired_state": Sandbox.Desired.RUNNING.value,
            "shape": live.shape,
            "error": live.error,
            "queue_position": position if position is not None else self.queue_position(live.owner),
            "log": live.log.log_id,
        }
        if live.handle is not None:
            summary["topology"] = live.public_topologies()
        if live.lab.load is not None:
            summary["load"] = live.lab.load.progress()
        if live.lab.last_verdict is not None:
            summary["verdict"] = live.lab.last_verdict
        return summary

    # ======================================================================================
    # What a learner asks: start, reconfigure, stop
    # ======================================================================================

    async def start(self, owner: Owner, shape: dict[str, int], address: str = "") -> dict[str, Any]:
        await self.ready.wait()
        live = await self.find(owner)
        if live is not None:
            # Not activity: a page asks again on every (re)connect, and a script
            # could otherwise keep an abandoned sandbox alive with it.
            return self.summary(live)
        wanted = self._shape(shape, guest=owner.user_id is None)
        if owner.user_id is None:
            self._check_guest_start(address)
        if len(self.queue) >= MAX_QUEUE:
            raise ClientError("queue_full")
        row = await store.claim_row(owner, wanted, self.clock())
        if self.live.get(owner.key) is not None:  # another tab's start won meanwhile
            return self.summary(self.live[owner.key])
        if owner.user_id is None:
            self._guest_starts.setdefault(address, deque()).append(self.clock())
        live = self._new_live(row, owner)
        live.address = address
        self._enqueue(live)
        return self.summary(live)

    def _check_guest_start(self, address: str) -> None:
        """Guests are one cookie jar each: count them by address."""
        limits = self.limits
        if limits.guest_sandboxes_per_address:
            held = sum(
                1 for live in self.live.values() if live.is_guest and live.address == address and live.holds_place
            )
            if held >= limits.guest_sandboxes_per_address:
                raise ClientError(
                    "guest_limit",
                    f"Guests from your network already have {held} sandboxes running or waiting, the most "
                    "this site allows. Sign in (or create an account) to start your own.",
                    limit=limits.guest_sandboxes_per_address,
                )
        if limits.guest_starts_per_address:
            now = self.clock()
            recent = self._guest_starts.setdefault(address, deque())
            while recent and now - recent[0] > limits.guest_start_window_seconds:
                recent.popleft()
            if len(recent) >= limits.guest_starts_per_address:
                wait_s = limits.guest_start_window_seconds - (now - recent[0])
                raise ClientError(
                    "guest_rate_limited",
                    f"Too many new guest sandboxes from your network; try again in {max(1, round(wait_s / 60))} "
                    "minute(s), or sign in.",
                    retry_after_s=max(1, round(wait_s)),
                )

    async def reconfigure(self, owner: Owner, shape: dict[str, int], address: str = "") -> dict[str, Any]:
        """Start again with another shape or delay: a fresh pair of clusters."""
        self._shape(shape, guest=owner.user_id is None)  # refuse before stopping anything
        live = self.live.get(owner.key)
        if live is not None:
            if not live.may_reconfigure:
                raise ClientError("busy")
            self.touch(owner)
            await self.stop_live(live, reason="Restarting with the new settings.")
        return await self.start(owner, shape, address)

    async def stop(self, owner: Owner) -> None:
        live = self.live.get(owner.key)
        if live is None:
            await store.stop_row(owner, self.clock())
            return
        await self.stop_live(live, reason="Stopped by you; your data was removed.")

    def _shape(self, shape: dict[str, int], *, guest: bool) -> dict[str, int]:
        wanted = {
            "shards": shape.get("shards", 1),
            "replicas": shape.get("replicas", 1),
            "replication_delay_ms": shape.get("delay_ms", self.limits.replication_delay_ms),
            # The third lane is ~4 more processes per learner: off unless asked for
            # (or the site turns it on by default).
            "async_lane": int(shape.get("async_lane", self.limits.async_lane_default)),
        }
        if guest:
            for name, most in (("shards", self.limits.guest_max_shards), ("replicas", self.limits.guest_max_replicas)):
                if wanted[name] > most:
                    raise ClientError(
                        "account_needed",
                        f"As a guest you can have up to {self.limits.guest_max_shards} shard(s) with "
                        f"{self.limits.guest_max_replicas} replica(s) each; sign in for bigger sandboxes.",
                        field=name,
                    )
        return wanted

    # ======================================================================================
    # The queue
    # ======================================================================================

    def _new_live(self, row: dict[str, Any], owner: Owner) -> LiveSandbox:
        live = LiveSandbox(
            row_id=row["id"],
            uuid=row["uuid"],
            owner=owner,
            shape={
                "shards": row["shards"],
                "replicas": row["replicas"],
                "replication_delay_ms": row["replication_delay_ms"],
                "async_lane": int(row["async_lane"]),
            },
            log=EventLog(self.limits.event_log_size, first_seq=row["event_seq"], clock=self.clock),
            last_activity=self.clock(),
        )
        live.books.context = self.context
        live.books.saved_seq = row["event_seq"]
        self.live[owner.key] = live
        self.sessions.attach(live)
        return live

    def _enqueue(self, live: LiveSandbox) -> None:
        self.queue.append(live.owner.key)
        self.spawn(store.save_row(live.row_id, state=Sandbox.State.QUEUED, queued_at=when(self.clock())))
        self._admit()

    def _active(self) -> int:
        return sum(1 for live in self.live.values() if live.holds_slot)

    def queue_order(self) -> list[str]:
        """Owner keys of the queue in the order they will start: fewest sandboxes of
        the same visitor starting or running (counting that visitor's earlier queued
        ones), then arrival. So one visitor's tenth sandbox waits behind another's first."""
        active: dict[str, int] = {}
        for live in self.live.values():
            if live.holds_slot:
                active[live.visitor] = active.get(live.visitor, 0) + 1
        ranked = []
        for arrival, key in enumerate(self.queue):
            live = self.live.get(key)
            if live is None or not live.is_queued:
                continue
            share = active.get(live.visitor, 0)
            active[live.visitor] = share + 1
            ranked.append((share, arrival, key))
        return [key for _, _, key in sorted(ranked)]

    def queue_position(self, owner: Owner) -> int | None:
        try:
            return self.queue_order().index(owner.key) + 1
        except ValueError:
            return None

    def _admit(self) -> None:
        while not self.closed and self._active() < self.limits.max_running and self.starting < self.limits.max_starting:
            ready = [k for k in self.queue_order() if self.live[k].uuid not in self.in_flight]
            if not ready:
                break
            self.queue.remove(ready[0])
            live = self.live[ready[0]]
            live.begin_start()
            self.starting += 1
            # Not in the sandbox's tasks: a stop never cancels a start half-way (that
            # would leave the processes already started without a handle); _start
            # stops them itself when it finds the sandbox was stopped meanwhile.
            self._busy(live.uuid, +1)
            self.spawn(self._start(live))
        positions = {key: place for place, key in enumerate(self.queue_order(), 1)}
        for live in self.live.values():
            if live.is_queued:
                self.sessions.send(live, {"type": "state", "sandbox": self.summary(live, positions.get(live.owner.key))})

    def _busy(self, uuid: str, delta: int) -> None:
        count = self.in_flight.get(uuid, 0) + delta
        if count > 0:
            self.in_flight[uuid] = count
        else:
            self.in_flight.pop(uuid, None)

    # ======================================================================================
    # Starting and stopping one sandbox
    # ======================================================================================

    async def _start(self, live: LiveSandbox) -> None:
        sessions = self.sessions
        try:
            await store.save_row(live.row_id, state=Sandbox.State.STARTING, host=self.backend.name, error="")
            sessions.send(live, {"type": "state", "sandbox": self.summary(live)})
            sessions.record(live, {"event": "sandbox_starting", "shape": live.shape})
            # Each cluster its own user: its name and password work on no other cluster.
            live.users = {name: ClusterUser.random(name) for name in live.lanes}
            # And a secret for the durable cluster's journal: the stats probe logs in with it.
            live.journal_secret = new_secret()
            spec = SandboxSpec(
                sandbox_id=live.uuid,
                shards=live.shape["shards"],
                replicas=live.shape["replicas"],
                replication_delay_ms=live.shape["replication_delay_ms"],
                maxmemory=self.limits.maxmemory,
                users=live.users,
                journal_secret=live.journal_secret,
                lanes=live.lanes,
                async_buffer_limit_ms=self.limits.async_buffer_limit_ms,
            )
            began = time.perf_counter()
            try:
                handle = await self.backend.start(spec, lambda c, e: sessions.on_supervisor_event(live, c, e))
            except SandboxStartError as exc:
                if self.live.get(live.owner.key) is not live:  # stopped while starting
                    await self.backend.delete_data(live.uuid)
                    return
                live.failed(str(exc))
                await store.save_row(live.row_id, state=Sandbox.State.FAILED, error=live.error)
                sessions.record(live, {"event": "sandbox_failed", "error": live.error})
                sessions.send(live, {"type": "state", "sandbox": self.summary(live)})
                return
            if self.live.get(live.owner.key) is not live:  # stopped while starting
                await self.backend.stop(handle, delete_data=True)
                return
            live.started(handle)
            await self.parking.resumed(live)
            await store.save_row(
                live.row_id,
                state=Sandbox.State.RUNNING,
                started_at=when(self.clock()),
                endpoints={name: t.endpoints() for name, t in live.topologies().items()},
                credentials={
                    name: {"username": u.username, "password": u.password} for name, u in live.users.items()
                },
                runtime=self.backend.describe(handle),
            )
            sessions.record(live, {"event": "sandbox_ready", "start_ms": round((time.perf_counter() - began) * 1000)})
            sessions.send(live, {"type": "state", "sandbox": self.summary(live)})
            live.spawn(sessions.follow(live))
        finally:
            self.starting -= 1
            self._busy(live.uuid, -1)
            self._admit()

    async def stop_live(self, live: LiveSandbox, *, reason: str) -> None:
        self._busy(live.uuid, +1)
        try:
            await self._stop_live_now(live, reason=reason)
        finally:
            self._busy(live.uuid, -1)
        self._admit()

    async def _stop_live_now(self, live: LiveSandbox, *, reason: str) -> None:
        async with live.books.lock:
            if self.live.get(live.owner.key) is not live:
                return
            del self.live[live.owner.key]
            with contextlib.suppress(ValueError):
                self.queue.remove(live.owner.key)
            live.stopping()
            self.sessions.send(live, {"type": "state", "sandbox": self.summary(live)})
            await self.teardown(live, delete_data=True)
            await store.save_row(
                live.row_id, state=Sandbox.State.STOPPED, desired_state=Sandbox.Desired.STOPPED,
                stopped_at=when(self.clock()), event_seq=live.log.last_seq, error=reason,
                endpoints={}, credentials={}, runtime={},
            )
            record = live.log.append({"event": "sandbox_stopped", "reason": reason})
            stopped = {
                "state": Sandbox.State.STOPPED.value, "desired_state": Sandbox.Desired.STOPPED.value,
                "shape": live.shape, "error": reason, "queue_position": None,
            }  # fmt: skip
            # The outbox's sender is gone with the live sandbox: send these two directly.
            await self.sessions.send_now(live, {"type": "event", **record})
            await self.sessions.send_now(live, {"type": "state", "sandbox": stopped})

    async def teardown(self, live: LiveSandbox, *, delete_data: bool) -> None:
        if live.lab.load_running:
            live.lab.load.stopping = True  # type: ignore[union-attr]
        if live.handle is not None:
            await self.backend.stop(live.handle, delete_data=delete_data)
            live.handle = None
        elif delete_data:
            await self.backend.delete_data(live.uuid)
        await live.clients.close()
        current = asyncio.current_task()
        for task in list(live.books.tasks):
            if task is not current:
                task.cancel()

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro, context=self.context.copy())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(log_failure)
