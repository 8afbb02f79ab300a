"""The sandbox service in its own process (``manage.py sandboxd``): one
``SandboxManager`` on its own event loop — the only one on the host — serving the
requests of every web worker through Redis (the wire: ``sandbox.service.remote``).

* It reads ``<prefix>:requests`` (XREAD BLOCK) and runs each request as its own
  task, so a slow start or check never holds up another learner's command. The
  operation comes from ``OPERATIONS`` only, always with the request's owner; the
  answer (result, or the ``ClientError``'s code, message and detail) goes to the
  asking worker's reply list, which expires if that worker is gone.
* A request whose deadline has passed is dropped unanswered (its caller has
  already told the page the service is unavailable), so a restarted sandboxd does
  not replay old clicks; it resumes reading after the last id it had read (kept
  in ``<prefix>:sandboxd:last``), at most ``REPLAY_WINDOW_MS`` back.
* Its manager's pages are reached through ``StreamFanout``: what the in-process
  manager sends to a channel-layer group goes to the group's stream instead
  (``XADD <prefix>:events:<group> MAXLEN ~ N``), numbered events with their ``seq``.
* It owns lifecycle, queue, caps and culling exactly as the in-process manager does
  (same code), and on SIGTERM stops every sandbox keeping its data.

Invariants: one sandboxd per host and prefix; nothing a worker sends names a
sandbox; a request is answered at most once.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import signal
import time
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from sandbox.manager import SandboxManager, install_manager
from sandbox.owners import Owner
from sandbox.protocol import ClientError
from sandbox.service.remote import SOCKET_TIMEOUT_S, ServiceWire, owner_from_json

log = logging.getLogger(__name__)

REPLY_TTL_S = 60  # a reply list outlives its worker by this much
REPLAY_WINDOW_MS = 60_000  # how far back a restarted sandboxd looks for unanswered requests
STREAM_TTL_S = 24 * 3600  # an idle sandbox's stream goes away after a day


async def _console_command(manager: SandboxManager, owner: Owner, cluster: str, line: str) -> dict[str, Any]:
    # The console's rate is the service's (all of a learner's pages, whichever worker).
    if not manager.console.allow(owner):
        raise ClientError("command_rate_limited")
    return await manager.console.run(owner, cluster, line)


async def _welcome(manager: SandboxManager, fanout: "StreamFanout", owner: Owner, last_seq: Any, log_id: Any) -> Any:
    welcome = await manager.welcome(owner, last_seq, log_id)
    group = welcome.get("group")
    if group is not None:
        # Taken together with the log's replay: the tail starts exactly after it.
        welcome["after"] = await fanout.position(group)
    return welcome


async def _group_of(manager: SandboxManager, fanout: "StreamFanout", owner: Owner) -> list[str | None]:
    group, _ = await manager.group_of(owner)
    return [group, await fanout.position(group) if group is not None else None]


# op -> how to serve it: (manager, fanout, owner, *args)
OPERATIONS: dict[str, Any] = {
    "welcome": _welcome,
    "group_of": _group_of,
    "watch": lambda m, f, owner, delta: m.watch(owner, int(delta)),
    "is_running": lambda m, f, owner: m.is_running(owner),
    "lifecycle.start": lambda m, f, owner, shape, address: m.lifecycle.start(owner, shape, address),
    "lifecycle.reconfigure": lambda m, f, owner, shape, address: m.lifecycle.reconfigure(owner, shape, address),
    "lifecycle.stop": lambda m, f, owner: m.lifecycle.stop(owner),
    "console.command": lambda m, f, owner, cluster, line: _console_command(m, owner, cluster, line),
    "console.docs": lambda m, f, owner: m.console.docs(owner),
    "load.start": lambda m, f, owner, rate, mix: m.load.start(owner, rate, mix),
    "load.stop": lambda m, f, owner: m.load.stop(owner),
    "faults.fault": lambda m, f, owner, action, fields: m.faults.fault(owner, action, fields),
    "faults.verdict": lambda m, f, owner: m.faults.verdict(owner),
    # The teach app's class-wide crash.
    "faults.last_experiment_id": lambda m, f, owner: m.faults.last_experiment_id(owner),
    "faults.wait_verdict": lambda m, f, owner, before: m.faults.wait_verdict(owner, before),
    "checks.run": lambda m, f, owner, lesson: m.checks.run(owner, lesson),
    "users.create": lambda m, f, owner, name, access: m.users.create(owner, name, access),
}


class StreamFanout:
    """Stands in for the channel layer in sandboxd's ``LiveSessions``: a group's
    messages become entries of the group's stream, in the order sent."""

    def __init__(self, redis: aioredis.Redis, wire: ServiceWire, maxlen: int) -> None:
        self.redis = redis
        self.wire = wire
        self.maxlen = maxlen
        self.last_id: dict[str, str] = {}  # group -> id of the last entry this process added

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        key = self.wire.events(group)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xadd(key, {"m": json.dumps(message["message"])}, maxlen=self.maxlen, approximate=True)
            pipe.expire(key, STREAM_TTL_S)
            entry_id, _ = await pipe.execute()
        self.last_id[group] = entry_id

    async def position(self, group: str) -> str:
        """The id after which a new follower of ``group`` starts: the last entry added
        (messages still in a sandbox's outbox come after it, in order)."""
        known = self.last_id.get(group)
        if known is not None:
            return known
        last = await self.redis.xrevrange(self.wire.events(group), count=1)
        return last[0][0] if last else "0-0"


class Sandboxd:
    def __init__(self, manager: SandboxManager, redis: aioredis.Redis, wire: ServiceWire, fanout: StreamFanout) -> None:
        self.manager = manager
        self.redis = redis
        self.wire = wire
        self.fanout = fanout
        self._tasks: set[asyncio.Task[Any]] = set()

    async def serve(self, stopping: asyncio.Event) -> None:
        last_key = f"{self.wire.prefix}:sandboxd:last"
        floor = f"{round(time.time() * 1000) - REPLAY_WINDOW_MS}-0"
        stored = await self.redis.get(last_key)
        last = max((stored, floor), key=_id_key) if stored else floor
        while not stopping.is_set():
            try:
                found = await self.redis.xread({self.wire.requests: last}, count=100, block=1000)
            except (RedisError, OSError):
                log.warning("sandboxd: Redis unreachable; retrying")
                await asyncio.sleep(0.5)
                continue
            for _key, entries in found or []:
                for entry_id, fields in entries:
                    last = entry_id
                    self._spawn(self._answer(fields.get("r", "{}")))
                with contextlib.suppress(RedisError, OSError):
                    await self.redis.set(last_key, last)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro, context=self.manager.lifecycle.context.copy())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, raw: str) -> None:
        try:
            request = json.loads(raw)
            request_id, reply_to = request["id"], request["reply_to"]
        except (ValueError, KeyError, TypeError):
            log.warning("sandboxd: a malformed request was dropped")
            return
        if request.get("deadline_ms", 0) < time.time() * 1000:
            return  # nobody waits for it any more
        reply: dict[str, Any] = {"id": request_id}
        try:
            reply["ok"] = await self._run(request)
        except ClientError as exc:
            reply["error"] = {"code": exc.code, "message": exc.message, "detail": exc.detail}
        except Exception:
            log.exception("sandboxd: %s failed", request.get("op"))
            reply["error"] = {"code": "server_error", "message": "The sandbox service failed.", "detail": {}}
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.rpush(reply_to, json.dumps(reply))
                pipe.expire(reply_to, REPLY_TTL_S)
                await pipe.execute()
        except (RedisError, OSError):
            log.warning("sandboxd: could not answer %s", request.get("op"))

    async def _run(self, request: dict[str, Any]) -> Any:
        serve = OPERATIONS.get(request.get("op", ""))
        owner_data = request.get("owner")
        if serve is None or not isinstance(owner_data, dict):
            raise ClientError("unknown_type")
        try:
            owner = owner_from_json(owner_data)
        except (ValueError, TypeError):
            raise ClientError("no_identity") from None
        try:
            result = serve(self.manager, self.fanout, owner, *request.get("args", []))
        except TypeError:
            raise ClientError("unknown_type") from None
        if inspect.isawaitable(result):
            result = await result
        return result


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


async def run(wire: ServiceWire) -> None:
    """Serve until SIGTERM or SIGINT, then stop every sandbox keeping its data."""
    from sandbox.conf import SandboxLimits

    limits = SandboxLimits.from_settings()
    redis = aioredis.Redis.from_url(wire.redis_url, decode_responses=True, socket_timeout=SOCKET_TIMEOUT_S)
    fanout = StreamFanout(redis, wire, maxlen=2 * limits.event_log_size)
    manager = SandboxManager(limits, layer=fanout)
    install_manager(manager)
    manager.begin()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    daemon = Sandboxd(manager, redis, wire, fanout)
    log.info("sandboxd: serving %s", wire.requests)
    server = loop.create_task(daemon.serve(stopping))
    await stopping.wait()
    server.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await server
    await manager.shutdown()
    await redis.aclose()
