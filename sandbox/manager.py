"""The sandbox manager: makes reality match the ``Sandbox`` rows, and is the one
place that starts, drives and stops sandboxes.

One manager per site process (per event loop: ``get_manager()``). It

* reconciles at start-up: lists what the backend really runs, adopts it or stops it
  (no leaked processes), and re-queues the sandboxes that should be running;
* starts sandboxes through a queue under two caps (running, starting at once),
  telling each waiting learner their position. The queue is fair between
  *visitors* (an account, or for guests a client address): the next to start is
  the one whose visitor has the fewest sandboxes starting or running, then the
  longest-waiting. Guests, whom anyone with a fresh cookie jar can become, are
  limited per client address (sandboxes held at once, new ones per window, shapes)
  and are stopped sooner when idle, or to make room for a queue;
* numbers every event (supervisor events and its own) into the sandbox's
  ``EventLog`` and sends them, in order, to the sandbox's channel-layer group;
* runs the write load, injects faults, concludes each crash experiment with a
  verdict that reads every acknowledged write back, and saves it;
* culls sandboxes whose learner has been idle (keepalives and repeated ``start``s
  do not count; the time source is injected) and stops everything when the site stops;
* counts each visitor's open websockets and shares one message budget between an
  owner's sockets, so opening more pages buys no more messages.

What reaches a browser never names a node's port, a pid, a host or a path
(``public_topology``, ``public_event``).

Everything a consumer asks goes through a method that takes an ``Owner`` — never a
sandbox id — so a learner can only ever reach their own sandbox.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import contextvars
import logging
import time
from collections import deque
from typing import Any, Callable

from channels.layers import get_channel_layer

from sandbox import observe, store
from sandbox.backends import ClusterUser, SandboxBackend, SandboxSpec, SandboxStartError, get_backend
from sandbox.checks import run_check
from sandbox.cluster_client import ClusterClient
from sandbox.conf import SandboxLimits
from sandbox.console import BadCommandLine, docs_from_reply, fit_text, format_for, memorydb_view, refusal, split_args
from sandbox.engine.journal_auth import new_secret
from sandbox.events import EventLog
from sandbox.live import Experiment, LiveSandbox, log_failure
from sandbox.load import WriteLoad
from sandbox.models import CLUSTERS, Sandbox
from sandbox.owners import Owner
from sandbox.protocol import ClientError, TokenBucket
from sandbox.resp import DisplayBudget, ErrorReply, LinkDown
from sandbox.store import when
from sandbox.verdict import build_verdict

log = logging.getLogger(__name__)

MAX_QUEUE = 500
VERDICT_TIMEOUT_S = 25.0
SETTLE_S = 0.3  # after the last failover, let in-flight writes finish before reading back
FLUSH_INTERVAL_S = 2.0
TOPOLOGY_COALESCE_S = 0.03
# What a browser never sees of a process or an event: where it listens, its pid,
# paths on the host. The console, the load and the probes reach nodes server-side.
PRIVATE_FIELDS = frozenset({"port", "pid", "host", "address", "dir", "path", "file", "source"})
# Supervisor events worth a learner's attention; the rest (lease renewals...) are dropped.
QUIET_EVENTS = frozenset({"lease_renewed", "entries_committed", "leader_seen", "sync_done"})
# Events after which the page redraws the topology...
TOPOLOGY_EVENTS = frozenset(
    {"failover_finished", "topology_changed", "node_restarted", "node_crashed", "ready",
     "node_paused", "node_resumed", "zone_killed", "kill", "role_changed"}
)  # fmt: skip
# ... and those after which the clients re-read which primary serves which slots.
ROUTING_EVENTS = frozenset({"failover_finished", "topology_changed", "node_crashed", "ready"})


class SandboxManager:
    def __init__(
        self,
        limits: SandboxLimits,
        backend: SandboxBackend | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limits = limits
        self.backend = backend or get_backend(limits)
        self.clock = clock
        self.live: dict[str, LiveSandbox] = {}  # by owner key
        self.queue: deque[str] = deque()
        self.starting = 0
        self.ready = asyncio.Event()
        self.closed = False
        self.docs: dict[str, Any] | None = None
        self._buckets: dict[str, TokenBucket] = {}  # console commands, per owner
        self._message_buckets: dict[str, TokenBucket] = {}  # any message, per owner or address
        self.sockets: dict[str, int] = {}  # owner key or "a:<address>" -> websockets open
        self._guest_starts: dict[str, deque[float]] = {}  # address -> times of new guest sandboxes
        # uuid -> starts and stops of it under way: a new start of the same row (same
        # directory) waits until none is, so two never work on one directory.
        self._in_flight: dict[str, int] = {}
        self.watchers: dict[str, int] = {}  # owner key -> pages connected
        self._tasks: set[asyncio.Task[Any]] = set()
        self.layer = get_channel_layer()
        # The manager's own tasks run in the context it was made in, not in that of
        # whichever consumer asked for them: a consumer's context ends with it.
        self.context = contextvars.copy_context()

    # ======================================================================================
    # Start-up, culling, shut-down
    # ======================================================================================

    def begin(self) -> None:
        """Reconcile, then cull periodically; called once when the manager is made."""
        self._spawn(self._begin())

    async def _begin(self) -> None:
        try:
            await self.startup()
        finally:
            self.ready.set()
        while not self.closed:
            await asyncio.sleep(self.limits.cull_interval_seconds)
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
        for key, live in list(self.live.items()):
            if now - live.last_activity <= self.idle_limit(live.is_guest):
                continue
            culled.append(live.uuid)
            await self._record(live, {"event": "idle_stop", "idle_s": round(now - live.last_activity)})
            await self._stop_live(live, reason="Stopped after being idle; your data was removed.")
        waiting = sum(1 for key in self.queue if key in self.live)
        if waiting and self._active() >= self.limits.max_running:
            unwatched = sorted(
                (live for live in self.live.values()
                 if live.is_guest and live.state == "running" and live.unwatched_since is not None
                 and now - live.unwatched_since > self.limits.pressure_idle_seconds),
                key=lambda live: live.unwatched_since or 0.0,
            )
            for live in unwatched[:waiting]:
                culled.append(live.uuid)
                await self._record(live, {"event": "idle_stop", "reason": "room_for_queue"})
                await self._stop_live(
                    live, reason="Stopped to make room for learners waiting, since no page of yours "
                    "had shown it for a while; your data was removed. Sign in to keep a sandbox longer."
                )
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
            await self._teardown(live, delete_data=False)
            await store.save_row(
                live.row_id, state=Sandbox.State.STOPPED, stopped_at=when(self.clock()),
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
    # What a learner can do (every method takes the owner; none takes an id)
    # ======================================================================================

    async def welcome(self, owner: Owner | None, last_seq: int | None, log_id: str | None) -> dict[str, Any]:
        """Everything a page needs on (re)connect, and the events it missed."""
        await self.ready.wait()
        if owner is None:
            return {"identity": False, "sandbox": None}
        live = self.live.get(owner.key) or await self._adopt_signed_in(owner)
        if live is None:
            row = await store.row_summary(owner)
            return {"identity": True, "sandbox": row, "group": None}
        missed = live.log.since(last_seq, log_id) if last_seq is not None else None
        return {
            "identity": True,
            "group": live.group,
            "sandbox": self._summary(live),
            "log": live.log.log_id,
            "seq": live.log.last_seq,
            "replay": missed,
            "reset": last_seq is not None and missed is None,
            "recent": live.log.recent(100) if missed is None else None,
        }

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

    def group_of(self, owner: Owner) -> str | None:
        live = self.live.get(owner.key)
        return live.group if live else None

    def events_between(self, owner: Owner, after: int, upto: int) -> list[dict[str, Any]]:
        live = self.live.get(owner.key)
        if live is None:
            return []
        return [r for r in live.log.records if after < r["seq"] <= upto]

    async def start(self, owner: Owner, shape: dict[str, int], address: str = "") -> dict[str, Any]:
        await self.ready.wait()
        live = self.live.get(owner.key) or await self._adopt_signed_in(owner)
        if live is not None:
            # Not activity: a page asks again on every (re)connect, and a script
            # could otherwise keep an abandoned sandbox alive with it.
            return self._summary(live)
        wanted = self._shape(shape, guest=owner.user_id is None)
        if owner.user_id is None:
            self._check_guest_start(address)
        if len(self.queue) >= MAX_QUEUE:
            raise ClientError("queue_full")
        row = await store.claim_row(owner, wanted, self.clock())
        if self.live.get(owner.key) is not None:  # another tab's start won meanwhile
            return self._summary(self.live[owner.key])
        if owner.user_id is None:
            self._guest_starts.setdefault(address, deque()).append(self.clock())
        live = self._new_live(row, owner)
        live.address = address
        self._enqueue(live)
        return self._summary(live)

    def _check_guest_start(self, address: str) -> None:
        """Guests are one cookie jar each: count them by address."""
        limits = self.limits
        if limits.guest_sandboxes_per_address:
            held = sum(
                1 for live in self.live.values()
                if live.is_guest and live.address == address and live.state in ("queued", "starting", "running")
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
            if live.state not in ("running", "failed", "queued"):
                raise ClientError("busy")
            self.touch(owner)
            await self._stop_live(live, reason="Restarting with the new settings.")
        return await self.start(owner, shape, address)

    async def stop(self, owner: Owner) -> None:
        live = self.live.get(owner.key)
        if live is None:
            await store.stop_row(owner, self.clock())
            return
        await self._stop_live(live, reason="Stopped by you; your data was removed.")

    def touch(self, owner: Owner) -> None:
        """A real learner action: resets the idle clock (pings do not call this)."""
        live = self.live.get(owner.key)
        if live is not None:
            live.last_activity = self.clock()

    def watch(self, owner: Owner, delta: int) -> None:
        """Count the pages showing this owner's sandbox (statistics only flow to pages)."""
        count = self.watchers.get(owner.key, 0) + delta
        if count > 0:
            self.watchers[owner.key] = count
        else:
            self.watchers.pop(owner.key, None)
        live = self.live.get(owner.key)
        if live is not None:
            live.unwatched_since = None if count > 0 else self.clock()

    def open_socket(self, owner: Owner | None, address: str) -> TokenBucket:
        """Count a new websocket; its message budget, shared by every socket of the
        same owner (or, without one, of the same address). ClientError past the caps."""
        by_address = f"a:{address}"
        if self.sockets.get(by_address, 0) >= self.limits.sockets_per_address:
            raise ClientError("too_many_sockets", "Too many sandbox pages are open from your network.")
        if owner is not None and self.sockets.get(owner.key, 0) >= self.limits.sockets_per_owner:
            raise ClientError(
                "too_many_sockets",
                f"You have {self.limits.sockets_per_owner} sandbox pages open; close one to open another.",
            )
        keys = [by_address] + ([owner.key] if owner is not None else [])
        for key in keys:
            self.sockets[key] = self.sockets.get(key, 0) + 1
        budget_key = owner.key if owner is not None else by_address
        bucket = self._message_buckets.get(budget_key)
        if bucket is None:
            bucket = self._message_buckets[budget_key] = TokenBucket(
                self.limits.messages_per_second, self.limits.message_burst
            )
        return bucket

    def close_socket(self, owner: Owner | None, address: str) -> None:
        keys = [f"a:{address}"] + ([owner.key] if owner is not None else [])
        for key in keys:
            count = self.sockets.get(key, 0) - 1
            if count > 0:
                self.sockets[key] = count
            else:
                self.sockets.pop(key, None)
                if not key.startswith("a:") or owner is None:
                    self._message_buckets.pop(key, None)

    def allow_command(self, owner: Owner) -> bool:
        bucket = self._buckets.get(owner.key)
        if bucket is None:
            bucket = self._buckets[owner.key] = TokenBucket(
                self.limits.commands_per_second, self.limits.command_burst
            )
        return bucket.take()

    async def command(self, owner: Owner, cluster: str, line: str) -> dict[str, Any]:
        live = self._running(owner)
        self.touch(owner)
        try:
            args = split_args(line)
        except BadCommandLine as exc:
            raise ClientError("bad_command", f"Invalid argument(s): {exc}.") from None
        if not args:
            return {"text": "", "error": False, "ms": 0.0}
        why = refusal(args)
        if why is not None:
            raise ClientError("forbidden_command", why, command=args[0].decode("utf-8", "replace").upper())
        client = live.console[cluster]
        # Read only what a person can look at: a cut reply never reaches the formatter whole.
        budget = DisplayBudget(self.limits.console_reply_values, self.limits.console_reply_bytes)
        started = time.perf_counter()
        try:
            reply, notes = await asyncio.wait_for(
                client.console(args, budget), self.limits.console_timeout_seconds
            )
        except asyncio.TimeoutError:
            if client.current is not None:
                client.drop(client.current)
            return {
                "text": f"(error) No reply within {self.limits.console_timeout_seconds:g} s; "
                "the console reconnected.\n",
                "error": True,
                "ms": round((time.perf_counter() - started) * 1000, 2),
            }
        except LinkDown as exc:
            # Its text names the node's address, which the browser is never shown.
            if exc.closed_by_node:
                text = (
                    "(error) The node closed the connection instead of replying. A node does that, as "
                    f"Redis does, when a reply would pass a client's output buffer limit "
                    f"({self.limits.client_output_buffer_limit}), and when it crashes. The console "
                    "reconnects with the next command.\n"
                )
            else:
                text = "(error) The node could not be reached; the console reconnects with the next command.\n"
            return {"text": text, "error": True, "ms": 0.0}
        elapsed = round((time.perf_counter() - started) * 1000, 2)
        text = "".join(note + "\n" for note in notes) + format_for(args, memorydb_view(args, reply))
        text = fit_text(text, self.limits.console_reply_text_bytes)
        return {"text": text, "error": isinstance(reply, ErrorReply), "ms": elapsed}

    async def command_docs(self, owner: Owner) -> dict[str, Any]:
        """Help for every command, from the engine's own COMMAND DOCS (cached)."""
        if self.docs is None:
            live = self._running(owner)
            reply, _ = await live.probe["durable"].console([b"COMMAND", b"DOCS"])
            if isinstance(reply, ErrorReply):
                raise ClientError("not_ready", f"COMMAND DOCS failed: {reply}")
            self.docs = docs_from_reply(reply)
        return self.docs

    async def load_start(self, owner: Owner, rate: int, mix: dict[str, int] | None) -> dict[str, Any]:
        live = self._running(owner)
        self.touch(owner)
        if live.load is not None and live.load.running:
            raise ClientError("load_running")
        live.load = WriteLoad(
            live.writers, rate, mix or {"set": 60, "incr": 20, "zadd": 20, "xadd": 20},
            max_seconds=self.limits.load_max_seconds,
        )
        live.load.start()
        live.spawn(observe.mark_primaries(live, live.load, lambda: bool(self.watchers.get(owner.key))))
        await self._record(live, {"event": "load_started", "rate": rate, "mix": live.load.mix})
        return live.load.progress()

    async def load_stop(self, owner: Owner) -> dict[str, Any]:
        live = self._running(owner)
        self.touch(owner)
        if live.load is None or not live.load.running:
            raise ClientError("no_load")
        await live.load.stop()
        await self._record(live, {"event": "load_stopped", "issued": live.load.issued})
        return live.load.progress()

    async def fault(self, owner: Owner, action: str, fields: dict[str, Any]) -> dict[str, Any]:
        live = self._running(owner)
        self.touch(owner)
        assert live.handle is not None
        target = fields.get("target", "both")
        clusters = ("durable",) if action == "kill_journal" else (
            CLUSTERS if target == "both" else (target,)
        )
        shard = fields.get("shard", 0)
        if shard >= live.shape["shards"]:
            raise ClientError("bad_field", f"Your sandbox has {live.shape['shards']} shard(s).", field="shard")
        if "prediction" in fields:
            live.prediction = fields["prediction"]
        topologies = live.topologies()
        if fields.get("node"):
            clusters = tuple(
                name for name in clusters
                if any(p["id"] == fields["node"] for p in topologies[name]["processes"])
            )
            if not clusters:
                raise ClientError("no_such_node")
        plan: dict[str, list[str]] = {}
        for name in clusters:
            plan[name] = _victims(action, topologies[name], shard, fields)
            if not plan[name] and action != "kill_zone":
                raise ClientError(
                    "fault_refused", f"The {name} cluster has no process to {action.replace('_', ' ')} now."
                )
        if action in ("kill_primary", "kill_zone") and live.experiment is not None and not live.experiment.done.is_set():
            raise ClientError("fault_refused", "Wait for the current failover to finish.")
        crash_ms = self.clock() * 1000
        experiment = None
        if action in ("kill_primary", "kill_zone"):
            awaiting = {
                name: {
                    int(p["shard"]) for p in topologies[name]["processes"]
                    if p["id"] in plan[name] and p["kind"] == "data" and p["role"] == "primary"
                }
                for name in clusters
            }
            experiment = Experiment(
                fault=action, target=target, clusters=tuple(clusters), crash_ms=crash_ms,
                prediction=live.prediction, load_rate=live.load.rate if live.load and live.load.running else 0,
                awaiting={k: v for k, v in awaiting.items() if v},
                roles_before={
                    name: {p["id"]: p["role"] for p in topologies[name]["processes"] if p["kind"] == "data"}
                    for name in CLUSTERS
                },
            )
            live.experiment = experiment
            live.prediction = None
        await self._record(live, {"event": "fault", "action": action, "target": target, "nodes": plan})
        results = await asyncio.gather(
            *(self._inject(live, name, action, plan[name], fields) for name in clusters),
            return_exceptions=True,
        )
        problems = [str(r) for r in results if isinstance(r, BaseException)]
        if experiment is not None:
            live.spawn(self._conclude(live, experiment))
        return {"action": action, "nodes": plan, "problems": problems}

    async def verdict(self, owner: Owner) -> dict[str, Any]:
        """The verdict of the last experiment, or a check of every write right now."""
        live = self._running(owner)
        self.touch(owner)
        if live.last_verdict is not None and (live.load is None or not live.load.running):
            return live.last_verdict
        return await build_verdict(live, None, self.clock() * 1000)

    async def check_lesson(self, owner: Owner, lesson_slug: str) -> list[dict[str, Any]]:
        labs = await store.lesson_labs(lesson_slug)
        if labs is None:
            raise ClientError("unknown_lesson")
        live = self._running(owner)
        self.touch(owner)
        results = []
        for lab in labs:
            check = lab.get("check") or {}
            cluster = check.get("cluster", "durable")
            if cluster not in CLUSTERS:
                cluster = "durable"
            try:
                outcome = await asyncio.wait_for(run_check(live.probe[cluster], check), 5)
            except (LinkDown, asyncio.TimeoutError) as exc:
                outcome = {"passed": False, "detail": f"The sandbox did not answer: {exc or 'timed out'}."}
            results.append({"id": lab.get("id"), "passed": bool(outcome["passed"]), "detail": outcome["detail"]})
        return results

    # ======================================================================================
    # Queue and lifecycle
    # ======================================================================================

    def _shape(self, shape: dict[str, int], *, guest: bool) -> dict[str, int]:
        wanted = {
            "shards": shape.get("shards", 1),
            "replicas": shape.get("replicas", 1),
            "replication_delay_ms": shape.get("delay_ms", self.limits.replication_delay_ms),
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

    def _new_live(self, row: dict[str, Any], owner: Owner) -> LiveSandbox:
        live = LiveSandbox(
            row_id=row["id"],
            uuid=row["uuid"],
            owner=owner,
            shape={
                "shards": row["shards"],
                "replicas": row["replicas"],
                "replication_delay_ms": row["replication_delay_ms"],
            },
            log=EventLog(self.limits.event_log_size, first_seq=row["event_seq"], clock=self.clock),
            last_activity=self.clock(),
            context=self.context,
        )
        live.saved_seq = row["event_seq"]
        live.unwatched_since = None if self.watchers.get(owner.key) else self.clock()
        self.live[owner.key] = live
        live.spawn(self._send_outbox(live))
        return live

    def _enqueue(self, live: LiveSandbox) -> None:
        live.state = "queued"
        self.queue.append(live.owner.key)
        self._spawn(store.save_row(live.row_id, state=Sandbox.State.QUEUED, queued_at=when(self.clock())))
        self._admit()

    def _active(self) -> int:
        return sum(1 for live in self.live.values() if live.state in ("starting", "running"))

    def queue_order(self) -> list[str]:
        """Owner keys of the queue in the order they will start: fewest sandboxes of
        the same visitor starting or running (counting that visitor's earlier queued
        ones), then arrival. So one visitor's tenth sandbox waits behind another's first."""
        active: dict[str, int] = {}
        for live in self.live.values():
            if live.state in ("starting", "running"):
                active[live.visitor] = active.get(live.visitor, 0) + 1
        ranked = []
        for arrival, key in enumerate(self.queue):
            live = self.live.get(key)
            if live is None or live.state != "queued":
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
            ready = [k for k in self.queue_order() if self.live[k].uuid not in self._in_flight]
            if not ready:
                break
            self.queue.remove(ready[0])
            live = self.live[ready[0]]
            live.state = "starting"
            self.starting += 1
            # Not in live.tasks: a stop never cancels a start half-way (that would
            # leave the processes already started without a handle); _start stops
            # them itself when it finds the sandbox was stopped meanwhile.
            self._busy(live.uuid, +1)
            self._spawn(self._start(live))
        positions = {key: place for place, key in enumerate(self.queue_order(), 1)}
        for live in self.live.values():
            if live.state == "queued":
                self._send(live, {"type": "state", "sandbox": self._summary(live, positions.get(live.owner.key))})

    async def _start(self, live: LiveSandbox) -> None:
        try:
            await store.save_row(live.row_id, state=Sandbox.State.STARTING, host=self.backend.name, error="")
            self._send(live, {"type": "state", "sandbox": self._summary(live)})
            await self._record(live, {"event": "sandbox_starting", "shape": live.shape})
            # Each cluster its own user: its name and password work on no other cluster.
            live.users = {name: ClusterUser.random(name) for name in CLUSTERS}
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
            )
            began = time.perf_counter()
            try:
                handle = await self.backend.start(spec, lambda c, e: self._on_event(live, c, e))
            except SandboxStartError as exc:
                if self.live.get(live.owner.key) is not live:  # stopped while starting
                    await self.backend.delete_data(live.uuid)
                    return
                live.state = "failed"
                live.error = str(exc)
                await store.save_row(live.row_id, state=Sandbox.State.FAILED, error=live.error)
                await self._record(live, {"event": "sandbox_failed", "error": live.error})
                self._send(live, {"type": "state", "sandbox": self._summary(live)})
                return
            if self.live.get(live.owner.key) is not live:  # stopped while starting
                await self.backend.stop(handle, delete_data=True)
                return
            live.handle = handle
            for name, control in handle.clusters.items():
                topology = control.topology()
                user = live.users[name]
                live.console[name] = ClusterClient(topology, user)
                live.writers[name] = ClusterClient(topology, user)
                live.probe[name] = ClusterClient(topology, user, max_reply_bytes=64 * 1024 * 1024)
            live.state = "running"
            await store.save_row(
                live.row_id,
                state=Sandbox.State.RUNNING,
                started_at=when(self.clock()),
                endpoints={name: _endpoints(t) for name, t in live.topologies().items()},
                credentials={
                    name: {"username": u.username, "password": u.password} for name, u in live.users.items()
                },
                runtime=self.backend.describe(handle),
            )
            await self._record(
                live, {"event": "sandbox_ready", "start_ms": round((time.perf_counter() - began) * 1000)}
            )
            self._send(live, {"type": "state", "sandbox": self._summary(live)})
            live.spawn(self._watch(live))
        finally:
            self.starting -= 1
            self._busy(live.uuid, -1)
            self._admit()

    def _busy(self, uuid: str, delta: int) -> None:
        count = self._in_flight.get(uuid, 0) + delta
        if count > 0:
            self._in_flight[uuid] = count
        else:
            self._in_flight.pop(uuid, None)

    async def _stop_live(self, live: LiveSandbox, *, reason: str) -> None:
        self._busy(live.uuid, +1)
        try:
            await self._stop_live_now(live, reason=reason)
        finally:
            self._busy(live.uuid, -1)
        self._admit()

    async def _stop_live_now(self, live: LiveSandbox, *, reason: str) -> None:
        async with live.lock:
            if self.live.get(live.owner.key) is not live:
                return
            del self.live[live.owner.key]
            with contextlib.suppress(ValueError):
                self.queue.remove(live.owner.key)
            live.state = "stopping"
            self._send(live, {"type": "state", "sandbox": self._summary(live)})
            await self._teardown(live, delete_data=True)
            await store.save_row(
                live.row_id, state=Sandbox.State.STOPPED, desired_state=Sandbox.Desired.STOPPED,
                stopped_at=when(self.clock()), event_seq=live.log.last_seq, error=reason,
                endpoints={}, credentials={}, runtime={},
            )
            record = live.log.append({"event": "sandbox_stopped", "reason": reason})
            stopped = {"state": "stopped", "desired_state": "stopped", "shape": live.shape,
                       "error": reason, "queue_position": None}
            # The outbox task is gone with the live sandbox: send these two directly.
            await self._group_send(live.group, {"type": "event", **record})
            await self._group_send(live.group, {"type": "state", "sandbox": stopped})

    async def _teardown(self, live: LiveSandbox, *, delete_data: bool) -> None:
        if live.load is not None and live.load.running:
            live.load.stopping = True
        if live.handle is not None:
            await self.backend.stop(live.handle, delete_data=delete_data)
            live.handle = None
        elif delete_data:
            await self.backend.delete_data(live.uuid)
        for clients in (live.console, live.writers, live.probe):
            for client in clients.values():
                await client.close()
        for link in live.journal_links.values():
            link.close()
        current = asyncio.current_task()
        for task in list(live.tasks):
            if task is not current:
                task.cancel()

    # ======================================================================================
    # Events
    # ======================================================================================

    def _on_event(self, live: LiveSandbox, cluster: str, event: dict[str, Any]) -> None:
        """A supervisor event (called synchronously by the backend)."""
        name = event.get("event", "")
        if name in QUIET_EVENTS:
            return
        record = public_event(event)
        record["cluster"] = cluster
        if name == "failover_finished" and event.get("shard") is not None:
            self._failover_done(live, cluster, record)
        if name in ROUTING_EVENTS and live.handle is not None:
            for clients in (live.console, live.writers, live.probe):
                if cluster in clients:
                    clients[cluster].refresh(live.handle.clusters[cluster].topology())
        if name in TOPOLOGY_EVENTS and not live.topology_dirty:
            # Coalesce the bursts (a crash brings several events) into one redraw.
            live.topology_dirty = True
            asyncio.get_running_loop().call_later(TOPOLOGY_COALESCE_S, self._push_topology, live)
        self._log(live, record)

    def _failover_done(self, live: LiveSandbox, cluster: str, event: dict[str, Any]) -> None:
        experiment = live.experiment
        if experiment is None or experiment.done.is_set():
            return
        shards = experiment.awaiting.get(cluster)
        if not shards or int(event["shard"]) not in shards:
            return
        experiment.failovers.setdefault(cluster, []).append(event)
        shards.discard(int(event["shard"]))
        if not any(experiment.awaiting.values()):
            experiment.done.set()

    def _log(self, live: LiveSandbox, event: dict[str, Any]) -> dict[str, Any]:
        record = live.log.append(event)
        self._send(live, {"type": "event", **record})
        return record

    async def _record(self, live: LiveSandbox, event: dict[str, Any]) -> dict[str, Any]:
        return self._log(live, event)

    def _send(self, live: LiveSandbox, message: dict[str, Any]) -> None:
        live.outbox.put_nowait(message)

    async def _send_outbox(self, live: LiveSandbox) -> None:
        """One sender per sandbox, so its messages reach browsers in order."""
        while True:
            message = await live.outbox.get()
            await self._group_send(live.group, message)

    async def _group_send(self, group: str, message: dict[str, Any]) -> None:
        if self.layer is None:
            return
        try:
            await self.layer.group_send(group, {"type": "sandbox.message", "message": message})
        except Exception:  # a full or broken layer must not stop the sandbox
            log.exception("could not send to %s", group)

    # ======================================================================================
    # Watching: topology, node statistics, the journal lane, saving
    # ======================================================================================

    def _push_topology(self, live: LiveSandbox) -> None:
        live.topology_dirty = False
        if live.handle is not None:
            self._send(live, {"type": "topology", "clusters": public_topologies(live)})

    async def _watch(self, live: LiveSandbox) -> None:
        last_flush = 0.0
        while True:
            await asyncio.sleep(self.limits.stats_interval_seconds)
            if live.handle is None:
                return
            if self.watchers.get(live.owner.key) or (live.load is not None and live.load.running):
                try:
                    self._send(live, await observe.node_stats(live, round(self.clock() * 1000)))
                except (LinkDown, OSError, asyncio.TimeoutError):
                    pass  # a node went away meanwhile; the next round will see the new topology
            now = time.monotonic()
            if now - last_flush >= FLUSH_INTERVAL_S and (
                live.saved_seq != live.log.last_seq or live.saved_activity != live.last_activity
            ):
                last_flush = now
                live.saved_seq, live.saved_activity = live.log.last_seq, live.last_activity
                await store.save_row(
                    live.row_id, event_seq=live.log.last_seq, last_activity=when(live.last_activity)
                )

    # ======================================================================================
    # Faults and the verdict
    # ======================================================================================

    async def _inject(self, live: LiveSandbox, cluster: str, action: str, victims: list[str], fields: dict[str, Any]) -> None:
        assert live.handle is not None
        control = live.handle.clusters[cluster]
        if action == "kill_zone":
            await control.kill_zone(fields.get("zone", "az-a"))
        elif action == "pause":
            await asyncio.gather(*(control.pause(v, fields.get("seconds", 5)) for v in victims))
        elif action == "restart":
            await asyncio.gather(*(control.restart(v) for v in victims))
        else:
            await asyncio.gather(*(control.kill(v) for v in victims))

    async def _conclude(self, live: LiveSandbox, experiment: Experiment) -> None:
        """After a crash: wait for the failovers, then read every write back."""
        if experiment.awaiting:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(experiment.done.wait(), VERDICT_TIMEOUT_S)
        experiment.done.set()
        await asyncio.sleep(SETTLE_S)
        try:
            verdict = await build_verdict(live, experiment, self.clock() * 1000)
        except (LinkDown, OSError) as exc:
            await self._record(live, {"event": "verdict_failed", "error": str(exc)})
            return
        verdict["experiment_id"] = await store.save_experiment(live.owner, live.shape, experiment, verdict)
        live.last_verdict = verdict
        await self._record(
            live,
            {"event": "verdict", **{f"{c}_lost": verdict["clusters"][c]["lost"] for c in verdict["clusters"]}},
        )
        self._send(live, {"type": "verdict", "verdict": verdict})

    # ======================================================================================
    # Helpers
    # ======================================================================================

    def _running(self, owner: Owner) -> LiveSandbox:
        live = self.live.get(owner.key)
        if live is None:
            raise ClientError("no_sandbox")
        if live.state != "running" or live.handle is None:
            raise ClientError("not_ready")
        return live

    def _summary(self, live: LiveSandbox, position: int | None = None) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "state": live.state,
            "desired_state": "running",
            "shape": live.shape,
            "error": live.error,
            "queue_position": position if position is not None else self.queue_position(live.owner),
            "log": live.log.log_id,
        }
        if live.handle is not None:
            summary["topology"] = public_topologies(live)
        if live.load is not None:
            summary["load"] = live.load.progress()
        if live.last_verdict is not None:
            summary["verdict"] = live.last_verdict
        return summary

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro, context=self.context.copy())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(log_failure)


def _victims(action: str, topology: dict[str, Any], shard: int, fields: dict[str, Any]) -> list[str]:
    procs = topology["processes"]
    up = ("running", "paused", "starting")
    data = [p for p in procs if p["kind"] == "data" and p["shard"] == shard]
    if fields.get("node"):
        chosen = [p["id"] for p in procs if p["id"] == fields["node"]]
        if not chosen:
            raise ClientError("no_such_node")
        return chosen
    if action == "kill_primary":
        return [p["id"] for p in data if p["role"] == "primary" and p["status"] in up][:1]
    if action == "kill_replica":
        return [p["id"] for p in data if p["role"] == "replica" and p["status"] == "running"][:1]
    if action == "kill_zone":
        zone = fields.get("zone", "az-a")
        return [p["id"] for p in procs if p["zone"] == zone and p["status"] in up]
    if action == "kill_journal":
        zone = fields.get("zone", "az-a")
        return [p["id"] for p in procs if p["kind"] == "journal" and p["zone"] == zone and p["status"] == "running"]
    if action == "pause":
        return [p["id"] for p in data if p["role"] == "primary" and p["status"] == "running"][:1]
    if action == "restart":
        return [p["id"] for p in procs if p["status"] in ("crashed", "stopped")]
    return []


def public_event(event: dict[str, Any]) -> dict[str, Any]:
    """An event as a browser may see it: no topology dump, no port, pid or path."""
    return {k: v for k, v in event.items() if k != "topology" and k not in PRIVATE_FIELDS}


def public_topologies(live: LiveSandbox) -> dict[str, Any]:
    """Each cluster's topology without the fields a browser must not see."""
    out = {}
    for name, topology in live.topologies().items():
        out[name] = {
            **topology,
            "processes": [
                {k: v for k, v in proc.items() if k not in PRIVATE_FIELDS} for proc in topology.get("processes", [])
            ],
        }
    return out


def _endpoints(topology: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {k: p.get(k) for k in ("id", "kind", "zone", "shard", "port")}
        for p in topology.get("processes", [])
    ]





# ------------------------------------------------------------------------------------------
# One manager per event loop (daphne runs one loop; each test runs its own)
# ------------------------------------------------------------------------------------------

_managers: dict[asyncio.AbstractEventLoop, SandboxManager] = {}


def get_manager() -> SandboxManager:
    loop = asyncio.get_running_loop()
    manager = _managers.get(loop)
    if manager is None:
        manager = SandboxManager(SandboxLimits.from_settings())
        install_manager(manager)
        manager.begin()
    return manager


def install_manager(manager: SandboxManager) -> None:
    """Make ``manager`` the one of the running loop (tests install their own)."""
    _managers[asyncio.get_running_loop()] = manager
    atexit.register(manager.stop_all_now)


def uninstall_manager(manager: SandboxManager) -> None:
    for loop, installed in list(_managers.items()):
        if installed is manager:
            del _managers[loop]
    atexit.unregister(manager.stop_all_now)
