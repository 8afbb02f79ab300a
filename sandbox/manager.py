"""The sandbox service of one site process: makes its jobs (``sandbox.service``) and
wires them together, once per event loop (``get_manager()``).

``SandboxManager`` holds one object per job — ``lifecycle``, ``sessions``,
``console``, ``load``, ``faults``, ``checks`` — and the consumer calls them
directly (a console command goes consumer -> ``console.run`` -> cluster client).
Its own methods are only what a page needs from several jobs at once
(``welcome``) and thin delegations kept for the tests and tools that drive a
manager by hand (``start``, ``stop``, ``cull_idle``, ``queue_order``...).

The consumer and the teach app reach it through one interface, ``SandboxService``:
``get_manager()`` returns this in-process manager (``MEMORYDB_LAB_SANDBOX_SERVICE=local``,
the default) or a ``sandbox.service.remote.RemoteService`` that sends every call to
``manage.py sandboxd`` through Redis (``remote``). Both answer the same calls with
the same results and ``ClientError`` codes; only where the pages' messages flow
differs (``follow``: a channel-layer group here, a Redis stream there).

Invariants: one manager per event loop, made in the loop's context (its tasks
never run in a consumer's); every entry point takes an ``Owner``, never a sandbox id.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import time
from collections import deque
from typing import Any, Callable, Protocol

from channels.layers import get_channel_layer

from sandbox.backends import SandboxBackend, get_backend
from sandbox.conf import SandboxLimits
from sandbox.live import LiveSandbox
from sandbox.owners import Owner
from sandbox.service.checks import LessonChecks
from sandbox.service.console import ConsoleService
from sandbox.service.faults import FaultService
from sandbox.service.lifecycle import Lifecycle
from sandbox.service.load import LoadService
from sandbox.service.sessions import LiveSessions, public_event
from sandbox.service.users import LearnerUsers
from sandbox.store import row_summary
from sandbox.topology import PRIVATE_FIELDS

__all__ = ["PRIVATE_FIELDS", "SandboxManager", "get_manager", "install_manager", "public_event", "uninstall_manager"]


class SandboxService(Protocol):
    """What a consumer or the teach app may ask of the sandbox service, wherever it runs.

    Besides these, the jobs: ``lifecycle.start/reconfigure/stop``,
    ``console.allow/run/docs``, ``load.start/stop``, ``faults.fault/verdict``,
    ``checks.run``, ``users.create``, and ``sessions.open_socket/close_socket``."""

    limits: SandboxLimits
    sessions: LiveSessions
    lifecycle: Any
    console: Any
    load: Any
    faults: Any
    checks: Any
    users: Any

    async def welcome(self, owner: Owner | None, last_seq: int | None, log_id: str | None) -> dict[str, Any]: ...

    async def group_of(self, owner: Owner) -> tuple[str | None, str | None]:
        """The group whose messages a page of the owner follows, and where to start."""
        ...

    def events_between(self, owner: Owner, after: int, upto: int) -> list[dict[str, Any]]: ...

    async def watch(self, owner: Owner, delta: int) -> None: ...

    async def follow(self, consumer: Any, group: str, after: str | None) -> None: ...

    async def unfollow(self, consumer: Any, group: str) -> None: ...

    async def is_running(self, owner: Owner) -> bool: ...


class SandboxManager:
    def __init__(
        self,
        limits: SandboxLimits,
        backend: SandboxBackend | None = None,
        *,
        clock: Callable[[], float] = time.time,
        layer: Any = None,
    ) -> None:
        self.limits = limits
        self.clock = clock
        # sandboxd passes its stream fan-out (sandbox.sandboxd.StreamFanout) as the layer.
        self.sessions = LiveSessions(limits, clock, layer if layer is not None else get_channel_layer())
        self.lifecycle = Lifecycle(
            limits, backend or get_backend(limits), self.sessions,
            clock=clock, context=contextvars.copy_context(),
        )  # fmt: skip
        self.console = ConsoleService(limits, self.lifecycle)
        self.load = LoadService(limits, self.lifecycle, self.sessions)
        self.faults = FaultService(self.lifecycle, self.sessions, clock)
        self.checks = LessonChecks(self.lifecycle)
        self.users = LearnerUsers(self.lifecycle)

    # -- what a page needs from several jobs --------------------------------------------------
    async def welcome(self, owner: Owner | None, last_seq: int | None, log_id: str | None) -> dict[str, Any]:
        """Everything a page needs on (re)connect, and the events it missed."""
        await self.lifecycle.ready.wait()
        if owner is None:
            return {"identity": False, "sandbox": None}
        live = await self.lifecycle.find(owner)
        if live is None:
            return {"identity": True, "sandbox": await row_summary(owner), "group": None}
        return {"identity": True, "sandbox": self.lifecycle.summary(live), **self.sessions.welcome(live, last_seq, log_id)}

    async def group_of(self, owner: Owner) -> tuple[str | None, str | None]:
        live = self.lifecycle.live.get(owner.key)
        return (live.group if live else None), None

    def events_between(self, owner: Owner, after: int, upto: int) -> list[dict[str, Any]]:
        return self.sessions.events_between(self.lifecycle.live.get(owner.key), after, upto)

    async def watch(self, owner: Owner, delta: int) -> None:
        self.sessions.watch(owner, delta, self.lifecycle.live.get(owner.key))

    async def follow(self, consumer: Any, group: str, after: str | None) -> None:
        await consumer.channel_layer.group_add(group, consumer.channel_name)

    async def unfollow(self, consumer: Any, group: str) -> None:
        await consumer.channel_layer.group_discard(group, consumer.channel_name)

    async def is_running(self, owner: Owner) -> bool:
        live = self.lifecycle.live.get(owner.key)
        return live is not None and live.is_running

    # -- the lifecycle's, for tests and tools --------------------------------------------------
    @property
    def backend(self) -> SandboxBackend:
        return self.lifecycle.backend

    @property
    def live(self) -> dict[str, LiveSandbox]:
        return self.lifecycle.live

    @property
    def queue(self) -> deque[str]:
        return self.lifecycle.queue

    @property
    def ready(self) -> asyncio.Event:
        return self.lifecycle.ready

    @property
    def _in_flight(self) -> dict[str, int]:
        return self.lifecycle.in_flight

    @property
    def sockets(self) -> dict[str, int]:
        return self.sessions.sockets

    def begin(self) -> None:
        self.lifecycle.begin()

    async def startup(self) -> dict[str, Any]:
        return await self.lifecycle.startup()

    async def shutdown(self) -> None:
        await self.lifecycle.shutdown()

    def stop_all_now(self) -> None:
        self.lifecycle.stop_all_now()

    async def cull_idle(self, now: float | None = None) -> list[str]:
        return await self.lifecycle.cull_idle(now)

    async def start(self, owner: Owner, shape: dict[str, int], address: str = "") -> dict[str, Any]:
        return await self.lifecycle.start(owner, shape, address)

    async def stop(self, owner: Owner) -> None:
        await self.lifecycle.stop(owner)

    def queue_order(self) -> list[str]:
        return self.lifecycle.queue_order()

    def queue_position(self, owner: Owner) -> int | None:
        return self.lifecycle.queue_position(owner)

    # -- the other jobs', for tests and tools ------------------------------------------------
    async def command(self, owner: Owner, cluster: str, line: str) -> dict[str, Any]:
        return await self.console.run(owner, cluster, line)

    async def load_start(self, owner: Owner, rate: int, mix: dict[str, int] | None) -> dict[str, Any]:
        return await self.load.start(owner, rate, mix)

    async def load_stop(self, owner: Owner) -> dict[str, Any]:
        return await self.load.stop(owner)


# ------------------------------------------------------------------------------------------
# One manager per event loop (daphne runs one loop; each test runs its own)
# ------------------------------------------------------------------------------------------

_managers: dict[asyncio.AbstractEventLoop, Any] = {}


def get_manager() -> Any:
    """The running loop's sandbox service (a ``SandboxService``): this process's own
    manager, or with ``SANDBOX_SERVICE = "remote"`` the client of sandboxd's."""
    from django.conf import settings

    loop = asyncio.get_running_loop()
    manager = _managers.get(loop)
    if manager is None:
        if getattr(settings, "SANDBOX_SERVICE", "local") == "remote":
            from sandbox.service.remote import RemoteService, ServiceWire

            manager = _managers[loop] = RemoteService(SandboxLimits.from_settings(), ServiceWire.from_settings())
            return manager
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
