"""The sandbox service as a web worker sees it when it runs apart, in ``manage.py
sandboxd`` (``MEMORYDB_LAB_SANDBOX_SERVICE=remote``): the same interface as the
in-process ``SandboxManager`` (``lifecycle.start``, ``console.run``, ``welcome``...),
each call a request to sandboxd through Redis.

The wire (all keys under ``SANDBOX_SERVICE_PREFIX``, ``sandbox.sandboxd`` serves it):

* a call is one entry of the stream ``<prefix>:requests`` holding JSON
  ``{id, op, owner, args, deadline_ms, reply_to}``: a correlation id, the operation
  (``job.method``, from a fixed list on the service's side), the *owner* read by
  this worker from the connection's session — never a sandbox id — and the time
  after which nobody waits for the answer any more;
* the answer, ``{id, ok}`` or ``{id, error: {code, message, detail}}``, is pushed on
  this worker's own list ``<prefix>:reply:<worker>``, which one task per worker
  reads and hands to the waiting call. A call with no answer by its deadline is
  ``ClientError("sandbox_service_unavailable")``: a page never hangs on a dead
  service;
* a sandbox's messages to its pages (numbered events, state, topology, statistics)
  are entries of the stream ``<prefix>:events:<group>``; a consumer tails its
  learner's stream from the position the service gave with the welcome (XREAD
  BLOCK), so nothing is lost between the welcome's replay and the live tail, and
  no class-sized channel-layer group is ever sent to.

What stays in the worker: socket counting and message budgets (per worker; a
learner's pages on two workers get two budgets), the console's rate limit is the
service's (checked with the command).

Invariants: every request names an owner; a reply reaches only the call that
asked (correlation id on a per-worker list); a lost service or Redis is a clear
error within the deadline, never a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from sandbox.conf import SandboxLimits
from sandbox.owners import Owner
from sandbox.protocol import ClientError
from sandbox.service.sessions import LiveSessions

log = logging.getLogger(__name__)

UNAVAILABLE = "The sandbox service is not answering right now; try again in a moment."
# Calls that legitimately take longer than the default deadline.
LONG_CALLS_S = {"checks.run": 60.0, "faults.wait_verdict": 180.0, "faults.fault": 30.0}
REQUESTS_MAXLEN = 10_000  # requests kept; sandboxd reads them within seconds
TAIL_BLOCK_MS = 5_000  # one XREAD BLOCK of a tail; a stopped tail notices within this
# Above every block above: redis-py 8's default read timeout (5 s) would race a 5 s block.
SOCKET_TIMEOUT_S = 30


@dataclass(frozen=True)
class ServiceWire:
    """Where the remote service's keys live; both sides build it from settings."""

    redis_url: str
    prefix: str = "mdblab"
    timeout_s: float = 10.0  # default deadline of one call

    @classmethod
    def from_settings(cls) -> "ServiceWire":
        from django.conf import settings

        return cls(settings.SANDBOX_SERVICE_REDIS_URL, settings.SANDBOX_SERVICE_PREFIX, settings.SANDBOX_SERVICE_TIMEOUT_S)

    @property
    def requests(self) -> str:
        return f"{self.prefix}:requests"

    def events(self, group: str) -> str:
        return f"{self.prefix}:events:{group}"

    def reply(self, worker: str) -> str:
        return f"{self.prefix}:reply:{worker}"


def owner_json(owner: Owner) -> dict[str, Any]:
    return {"user_id": owner.user_id, "token": owner.token}


def owner_from_json(data: dict[str, Any]) -> Owner:
    return Owner(user_id=data.get("user_id"), token=data.get("token"))


class ServiceClient:
    """Requests to sandboxd and their replies, for one worker process (one loop)."""

    def __init__(self, wire: ServiceWire) -> None:
        self.wire = wire
        self.redis = aioredis.Redis.from_url(wire.redis_url, decode_responses=True, socket_timeout=SOCKET_TIMEOUT_S)
        self.worker = secrets.token_hex(8)
        self.reply_to = wire.reply(self.worker)
        self.pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def call(self, op: str, owner: Owner | None, *args: Any) -> Any:
        if self._reader is None or self._reader.done():
            self._reader = asyncio.get_running_loop().create_task(self._read_replies())
        timeout = LONG_CALLS_S.get(op, self.wire.timeout_s)
        request_id = secrets.token_hex(8)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[request_id] = future
        request = {
            "id": request_id, "op": op, "owner": owner_json(owner) if owner is not None else None,
            "args": list(args), "deadline_ms": round((time.time() + timeout) * 1000), "reply_to": self.reply_to,
        }  # fmt: skip
        try:
            async with asyncio.timeout(timeout):
                await self.redis.xadd(self.wire.requests, {"r": json.dumps(request)}, maxlen=REQUESTS_MAXLEN)
                reply = await future
        except (TimeoutError, RedisError, OSError):
            raise ClientError("sandbox_service_unavailable", UNAVAILABLE) from None
        finally:
            self.pending.pop(request_id, None)
        error = reply.get("error")
        if error is not None:
            raise ClientError(error["code"], error.get("message"), **error.get("detail", {}))
        return reply.get("ok")

    async def _read_replies(self) -> None:
        """This worker's reply list, handed to the calls waiting for them."""
        reader = aioredis.Redis.from_url(self.wire.redis_url, decode_responses=True, socket_timeout=SOCKET_TIMEOUT_S)
        try:
            while True:
                try:
                    item = await reader.blpop([self.reply_to], timeout=1)
                except (RedisError, OSError):
                    await asyncio.sleep(0.2)  # Redis restarting: the calls time out meanwhile
                    continue
                if item is None:
                    continue
                reply = json.loads(item[1])
                future = self.pending.get(reply.get("id", ""))
                if future is not None and not future.done():
                    future.set_result(reply)
        finally:
            await reader.aclose()


class _Job:
    """One job of the service (``lifecycle``, ``load``...): ``job.method(owner, *args)``
    becomes the request ``"job.method"``."""

    def __init__(self, client: ServiceClient, name: str) -> None:
        self._client = client
        self._name = name

    def __getattr__(self, method: str) -> Any:
        if method.startswith("_"):
            raise AttributeError(method)

        async def call(owner: Owner, *args: Any) -> Any:
            return await self._client.call(f"{self._name}.{method}", owner, *args)

        return call


class _Console(_Job):
    def allow(self, owner: Owner) -> bool:
        return True  # the service checks the rate with the command itself (console.command)

    async def run(self, owner: Owner, cluster: str, line: str) -> dict[str, Any]:
        return await self._client.call("console.command", owner, cluster, line)


class RemoteService:
    """The ``SandboxService`` interface over ``ServiceClient`` (see the module docstring)."""

    def __init__(self, limits: SandboxLimits, wire: ServiceWire) -> None:
        self.limits = limits
        self.wire = wire
        self.client = ServiceClient(wire)
        # Only the socket counting and budgets of this worker's sockets.
        self.sessions = LiveSessions(limits, time.time, None)
        self.lifecycle = _Job(self.client, "lifecycle")
        self.console = _Console(self.client, "console")
        self.load = _Job(self.client, "load")
        self.faults = _Job(self.client, "faults")
        self.checks = _Job(self.client, "checks")
        self.users = _Job(self.client, "users")
        self._tails: dict[int, asyncio.Task[None]] = {}

    async def welcome(self, owner: Owner | None, last_seq: int | None, log_id: str | None) -> dict[str, Any]:
        if owner is None:
            return {"identity": False, "sandbox": None}
        return await self.client.call("welcome", owner, last_seq, log_id)

    async def group_of(self, owner: Owner) -> tuple[str | None, str | None]:
        group, after = await self.client.call("group_of", owner)
        return group, after

    def events_between(self, owner: Owner, after: int, upto: int) -> list[dict[str, Any]]:
        # A stream tail has no gaps; one the stream trimmed away is reset at the next hello.
        return []

    async def watch(self, owner: Owner, delta: int) -> None:
        with contextlib.suppress(ClientError):  # statistics only: not worth failing a page for
            await self.client.call("watch", owner, delta)

    async def follow(self, consumer: Any, group: str, after: str | None) -> None:
        """Tail the group's stream for ``consumer`` from ``after`` (exclusive)."""
        await self.unfollow(consumer, group)
        task = asyncio.get_running_loop().create_task(self._tail(consumer, self.wire.events(group), after or "0-0"))
        self._tails[id(consumer)] = task

    async def unfollow(self, consumer: Any, group: str) -> None:
        task = self._tails.pop(id(consumer), None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _tail(self, consumer: Any, key: str, last: str) -> None:
        while True:
            try:
                found = await self.client.redis.xread({key: last}, count=500, block=TAIL_BLOCK_MS)
            except (RedisError, OSError):
                await asyncio.sleep(0.5)  # Redis restarting; the page refetches on reconnect
                continue
            for _key, entries in found or []:
                for entry_id, fields in entries:
                    last = entry_id
                    await consumer.sandbox_message({"message": json.loads(fields["m"])})

    async def is_running(self, owner: Owner) -> bool:
        return bool(await self.client.call("is_running", owner))
