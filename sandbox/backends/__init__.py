"""Where sandbox processes run, behind one interface (JupyterHub's Spawner is the model).

A ``SandboxBackend`` starts a sandbox's clusters (one per lane, ``SandboxSpec.lanes``), reports whether they still
run, stops them, and describes them in JSON that the ``Sandbox`` row keeps — so a
site that restarts can find what it left (``discover``) and adopt or stop it. The
manager and the consumer only ever use this interface; ``local`` (the clusters'
supervisors inside the site process) is the default, and a ``systemd`` backend
(a unit per sandbox on a classroom host) or a Kubernetes one (a pod per sandbox)
would implement the same methods, reaching their supervisors over a control port.

A parked sandbox (no process, data kept) is started again with ``start`` on the data
it left: its durable lanes recover their journals, and ``keep``/``kept`` hold what
the site saved beside them (the cache lane's snapshot taken at parking).

A running sandbox is a ``SandboxHandle``: one ``ClusterControl`` per lane
("durable", "cache", and "async" when the third lane is on), each able to report its topology and inject faults. Events
do not go through the handle: ``start`` takes an ``on_event`` callback, called
from before the first process starts, so no event of the start is missed.
"""

from __future__ import annotations

import abc
import secrets
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from sandbox.conf import SandboxLimits

EventSink = Callable[[str, dict[str, Any]], None]  # (cluster, event)


class SandboxStartError(Exception):
    """The sandbox could not be started; the message is shown to the learner."""


@dataclass(frozen=True)
class ClusterUser:
    """The ACL user the site logs in as on one cluster. Every cluster gets its own,
    random name and password; only the server knows them (the nodes get a hash)."""

    username: str
    password: str = field(repr=False)

    @classmethod
    def random(cls, cluster: str) -> "ClusterUser":
        # Hex: nothing to quote in an ACL file line or a command line.
        return cls(f"{cluster}-{secrets.token_hex(6)}", secrets.token_hex(24))


@dataclass(frozen=True)
class SandboxSpec:
    sandbox_id: str  # the row's uuid, hex: names the data directory
    shards: int  # 1..limits.max_shards
    replicas: int  # replicas per shard, 0..limits.max_replicas
    replication_delay_ms: int  # cache mode's cross-zone delay, ms
    maxmemory: str  # per data node, e.g. "64mb"
    users: dict[str, ClusterUser] = field(repr=False)  # per cluster; only the server knows them
    # The durable cluster's journal secret (journal_auth.py); only the server knows it.
    journal_secret: str = field(default="", repr=False)
    # The clusters to run (sandbox.models.lanes): "durable" and "cache", and "async"
    # (a durable cluster acknowledging before its journal has the write) when switched on.
    lanes: tuple[str, ...] = ("durable", "cache")
    async_buffer_limit_ms: int = 10_000  # the async lane's durability buffer limit, ms


class ClusterControl(Protocol):
    """One running cluster as the manager drives it (the engine's Supervisor fits)."""

    def topology(self) -> dict[str, Any]: ...

    async def kill(self, node_id: str) -> None: ...

    async def kill_zone(self, zone: str) -> list[str]: ...

    async def pause(self, node_id: str, seconds: float) -> None: ...

    async def restart(self, node_id: str) -> None: ...

    async def put_user(self, name: str, password: str, rules: list[str]) -> dict[str, list[str]]:
        """Define an ACL user on every data node (engine's supervisor_users.put_user)."""
        ...


@dataclass
class SandboxHandle:
    spec: SandboxSpec
    clusters: dict[str, ClusterControl]
    extra: dict[str, Any] = field(default_factory=dict)  # backend-private


class SandboxBackend(abc.ABC):
    name: str = ""
    # Whether processes found by discover() can be taken over by this site process.
    can_adopt: bool = False

    def __init__(self, limits: SandboxLimits) -> None:
        self.limits = limits

    @abc.abstractmethod
    async def start(self, spec: SandboxSpec, on_event: EventSink) -> SandboxHandle:
        """Start both clusters and return once every primary serves (or raise
        SandboxStartError, having stopped whatever did start)."""

    @abc.abstractmethod
    async def poll(self, handle: SandboxHandle) -> str:
        """"running" while every cluster has a process up, else "stopped"."""

    @abc.abstractmethod
    async def stop(self, handle: SandboxHandle, *, delete_data: bool) -> None:
        """Stop every process of the sandbox; with delete_data, remove its files too."""

    @abc.abstractmethod
    def describe(self, handle: SandboxHandle) -> dict[str, Any]:
        """JSON kept in Sandbox.runtime: enough to find the processes again."""

    @abc.abstractmethod
    async def discover(self) -> list[dict[str, Any]]:
        """What really runs under this backend that no live handle owns:
        [{"sandbox_id": hex, ...description}]."""

    async def adopt(self, description: dict[str, Any], on_event: EventSink) -> SandboxHandle | None:
        """Take over processes found by discover(); None when this backend cannot."""
        return None

    @abc.abstractmethod
    async def stop_leftover(self, description: dict[str, Any]) -> None:
        """Stop processes found by discover() that are not adopted."""

    @abc.abstractmethod
    async def delete_data(self, sandbox_id: str) -> None:
        """Remove a sandbox's files (idle culling, stop, reconfigure)."""

    @abc.abstractmethod
    async def keep(self, sandbox_id: str, name: str, data: bytes) -> None:
        """Store ``data`` with the sandbox's files (replaced whole, deleted with them)."""

    @abc.abstractmethod
    async def kept(self, sandbox_id: str, name: str) -> bytes | None:
        """What ``keep`` stored under ``name``, or None."""

    async def close(self) -> None:
        """Release what the backend itself holds (threads, connections); the site stops."""

    @abc.abstractmethod
    def stop_all_now(self) -> None:
        """Synchronous last resort when the site process exits: stop every process."""


def get_backend(limits: SandboxLimits) -> SandboxBackend:
    if limits.backend == "local":
        from sandbox.backends.local import LocalBackend

        return LocalBackend(limits)
    raise ValueError(f"unknown sandbox backend {limits.backend!r}")
