"""A sandbox as it runs in this site process: its backend handle, its clients,
its event log, its write load and the experiment under way.

The manager owns every ``LiveSandbox`` and is the only code that changes one; the
consumer never holds a reference across messages (it asks the manager by owner).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from dataclasses import dataclass, field
from typing import Any

from sandbox.backends import ClusterUser, SandboxHandle
from sandbox.cluster_client import ClusterClient
from sandbox.events import EventLog
from sandbox.load import WriteLoad
from sandbox.owners import Owner
from sandbox.resp import NodeLink

log = logging.getLogger(__name__)


def log_failure(task: "asyncio.Task[Any]") -> None:
    """A background task that died of an error says so in the log, instead of silently."""
    if not task.cancelled() and task.exception() is not None:
        log.error("sandbox task %s failed", task.get_coro(), exc_info=task.exception())


@dataclass
class Experiment:
    """A crash under way: what was done, to what, and what is still awaited."""

    fault: str
    target: str
    clusters: tuple[str, ...]
    crash_ms: float
    prediction: int | None
    load_rate: int
    # cluster -> shards whose primary died and whose failover is awaited
    awaiting: dict[str, set[int]]
    failovers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    roles_before: dict[str, dict[str, str]] = field(default_factory=dict)
    done: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class LiveSandbox:
    row_id: int
    uuid: str  # hex; names the data directory and the channel-layer group
    owner: Owner
    shape: dict[str, int]
    log: EventLog
    last_activity: float  # wall-clock seconds of the learner's last real action
    address: str = ""  # the client address that asked for it (guests are counted per address)
    unwatched_since: float | None = None  # when its last page closed (None: a page shows it)
    state: str = "queued"
    error: str = ""
    handle: SandboxHandle | None = None
    users: dict[str, ClusterUser] = field(default_factory=dict, repr=False)  # per cluster
    journal_secret: str = field(default="", repr=False)  # the durable cluster's journal's
    console: dict[str, ClusterClient] = field(default_factory=dict)
    writers: dict[str, ClusterClient] = field(default_factory=dict)  # the write load's
    probe: dict[str, ClusterClient] = field(default_factory=dict)  # stats, checks, verdict
    journal_links: dict[int, NodeLink] = field(default_factory=dict)
    load: WriteLoad | None = None
    experiment: Experiment | None = None
    last_verdict: dict[str, Any] | None = None
    prediction: int | None = None
    outbox: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    topology_dirty: bool = False
    saved_seq: int = 0
    saved_activity: float = 0.0
    context: contextvars.Context = field(default_factory=contextvars.copy_context, repr=False)

    @property
    def is_guest(self) -> bool:
        return self.owner.user_id is None

    @property
    def visitor(self) -> str:
        """Who the queue is fair between: an account, or a guest's client address
        (one person with many cookie jars is many guests but one address)."""
        return self.owner.key if not self.is_guest else f"a:{self.address}"

    @property
    def group(self) -> str:
        return f"sandbox.{self.uuid}"

    def topologies(self) -> dict[str, Any]:
        if self.handle is None:
            return {}
        return {name: control.topology() for name, control in self.handle.clusters.items()}

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, context=self.context.copy())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        task.add_done_callback(log_failure)
        return task
