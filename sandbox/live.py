"""A sandbox as it runs in this site process, in three small parts: its clients
(``Clients``), what the learner runs on it (``Lab``: the write load, the crash
under way, the last verdict) and the service's bookkeeping (``Bookkeeping``: the
outbox, the tasks, the lock, what was last saved).

Invariants:
* the sandbox service (``sandbox.service``) owns every ``LiveSandbox``; the consumer
  never holds one across messages (it asks by owner);
* ``state`` is a ``Sandbox.State`` and changes only through the transition methods
  (``begin_start``, ``started``, ``failed``, ``parked``, ``resuming``, ``stopping``),
  each of which refuses a change the life of a sandbox does not have
  (``IllegalTransition``): queued -> starting -> running | failed, running -> parked
  -> queued (a resume goes through the same queue as a start), and any of them ->
  stopping. A parked sandbox has no handle, no clients and no slot; its event log
  goes on (``parked_at`` is set until it runs again);
* a ``Topology`` record is built once per backend snapshot (``topology()``), and
  what a browser sees of it is ``public_topologies()``.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from sandbox.backends import ClusterUser, SandboxHandle
from sandbox.cluster_client import ClusterClient
from sandbox.events import EventLog
from sandbox.models import Sandbox, lanes
from sandbox.owners import Owner
from sandbox.resp import NodeLink
from sandbox.topology import EMPTY, Topology

if TYPE_CHECKING:
    from sandbox.load import WriteLoad
    from sandbox.verdict import CrashRun

log = logging.getLogger(__name__)
State = Sandbox.State
PROBE_MAX_REPLY_BYTES = 64 * 1024 * 1024  # stats, checks and the verdict read big replies whole


class IllegalTransition(RuntimeError):
    """A state change a sandbox's life does not have (a bug in the service, not the learner's)."""


def log_failure(task: "asyncio.Task[Any]") -> None:
    """A background task that died of an error says so in the log, instead of silently."""
    if not task.cancelled() and task.exception() is not None:
        log.error("sandbox task %s failed", task.get_coro(), exc_info=task.exception())


@dataclass
class Clients:
    """The site's connections to one sandbox, each logged in as the cluster's own user:
    per cluster, the console's, the write load's and the probe's (stats, checks,
    verdict), kept apart so that none waits behind another; and the stats probe's
    links to the journal replicas, by port."""

    console: dict[str, ClusterClient] = field(default_factory=dict)
    writers: dict[str, ClusterClient] = field(default_factory=dict)
    probe: dict[str, ClusterClient] = field(default_factory=dict)
    journal_links: dict[int, NodeLink] = field(default_factory=dict)

    def connect(self, topologies: Mapping[str, Topology], users: Mapping[str, ClusterUser]) -> None:
        for name, topology in topologies.items():
            self.console[name] = ClusterClient(topology, users[name])
            self.writers[name] = ClusterClient(topology, users[name])
            self.probe[name] = ClusterClient(topology, users[name], max_reply_bytes=PROBE_MAX_REPLY_BYTES)

    def refresh(self, cluster: str, topology: Topology) -> None:
        """Re-read which primary serves which slots (after a failover or a crash)."""
        for clients in (self.console, self.writers, self.probe):
            if cluster in clients:
                clients[cluster].refresh(topology)

    async def close(self) -> None:
        for clients in (self.console, self.writers, self.probe):
            for client in clients.values():
                await client.close()
        for link in self.journal_links.values():
            link.close()


@dataclass
class Lab:
    """What the learner runs on the sandbox: the write load, the crash under way
    (and the prediction that will go with the next one), the last verdict."""

    load: "WriteLoad | None" = None
    crash: "CrashRun | None" = None
    last_verdict: dict[str, Any] | None = None
    verdicts_failed: int = 0  # crashes whose verdict could not be read (a class run stops waiting)
    prediction: int | None = None  # of the cache cluster's loss
    prediction_async: int | None = None  # of the async-writes cluster's loss

    @property
    def load_running(self) -> bool:
        return self.load is not None and self.load.running

    @property
    def crash_pending(self) -> bool:
        """A crash whose failovers and verdict are still awaited."""
        return self.crash is not None and not self.crash.done.is_set()


@dataclass
class Bookkeeping:
    """The service's own state for one sandbox."""

    outbox: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)  # to its group, in order
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)  # cancelled when it stops
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one stop at a time
    topology_dirty: bool = False  # a redraw is already scheduled
    saved_seq: int = 0  # event_seq and last_activity as last written to the row
    saved_activity: float = 0.0
    # The service's context, not that of whichever consumer asked: a consumer's ends with it.
    context: contextvars.Context = field(default_factory=contextvars.copy_context, repr=False)


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
    error: str = ""
    parked_at: float | None = None  # wall-clock seconds it was parked; None once it runs again
    handle: SandboxHandle | None = None
    users: dict[str, ClusterUser] = field(default_factory=dict, repr=False)  # per cluster
    journal_secret: str = field(default="", repr=False)  # the durable cluster's journal's
    clients: Clients = field(default_factory=Clients)
    lab: Lab = field(default_factory=Lab)
    books: Bookkeeping = field(default_factory=Bookkeeping)
    _state: Sandbox.State = field(default=State.QUEUED, init=False, repr=False)
    # cluster -> (the backend's snapshot dict, the record built from it)
    _topologies: dict[str, tuple[Mapping[str, Any], Topology]] = field(
        default_factory=dict, init=False, repr=False
    )

    # -- state and its transitions -------------------------------------------------------
    @property
    def state(self) -> Sandbox.State:
        return self._state

    def _move(self, to: Sandbox.State, *allowed_from: Sandbox.State) -> None:
        if self._state not in allowed_from:
            raise IllegalTransition(f"sandbox {self.uuid}: {self._state} -> {to}")
        self._state = to

    def begin_start(self) -> None:
        """Admitted from the queue: its processes are being started."""
        self._move(State.STARTING, State.QUEUED)

    def started(self, handle: SandboxHandle) -> None:
        """Every primary serves: keep the handle and log in to each cluster as its user."""
        self._move(State.RUNNING, State.STARTING)
        self.handle = handle
        self.clients.connect(self.topologies(), self.users)

    def failed(self, error: str) -> None:
        self._move(State.FAILED, State.STARTING)
        self.error = error

    def parked(self, at: float) -> None:
        """Its processes were stopped, its data kept; or, from QUEUED, a row a
        restarted site found parked."""
        self._move(State.PARKED, State.RUNNING, State.QUEUED)
        self.handle = None
        self.parked_at = at

    def resuming(self) -> None:
        """Its learner came back: it waits for a slot like any start."""
        self._move(State.QUEUED, State.PARKED)

    def stopping(self) -> None:
        self._move(State.STOPPING, State.QUEUED, State.STARTING, State.RUNNING, State.FAILED, State.PARKED)

    @property
    def is_parked(self) -> bool:
        return self._state == State.PARKED

    @property
    def is_queued(self) -> bool:
        return self._state == State.QUEUED

    @property
    def is_running(self) -> bool:
        return self._state == State.RUNNING and self.handle is not None

    @property
    def holds_slot(self) -> bool:
        """Counts against the host's running cap: starting or running."""
        return self._state in (State.STARTING, State.RUNNING)

    @property
    def holds_place(self) -> bool:
        """Counts against a guest address's cap: waiting, starting or running."""
        return self._state in (State.QUEUED, State.STARTING, State.RUNNING)

    @property
    def may_reconfigure(self) -> bool:
        return self._state in (State.RUNNING, State.FAILED, State.QUEUED)

    @property
    def lanes(self) -> tuple[str, ...]:
        """The clusters it runs, in the page's order (the third lane only when on)."""
        return lanes(bool(self.shape.get("async_lane")))

    # -- who it is -----------------------------------------------------------------------
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

    # -- topology ------------------------------------------------------------------------
    def topology(self, cluster: str) -> Topology:
        """The cluster's topology now, built once per snapshot of the backend."""
        if self.handle is None or cluster not in self.handle.clusters:
            return EMPTY
        snapshot = self.handle.clusters[cluster].topology()
        cached = self._topologies.get(cluster)
        if cached is None or cached[0] is not snapshot:
            cached = self._topologies[cluster] = (snapshot, Topology.from_snapshot(snapshot))
        return cached[1]

    def topologies(self) -> dict[str, Topology]:
        if self.handle is None:
            return {}
        return {name: self.topology(name) for name in self.handle.clusters}

    def public_topologies(self) -> dict[str, Any]:
        """Each cluster's topology as a browser may see it."""
        return {name: topology.public() for name, topology in self.topologies().items()}

    # -- tasks ---------------------------------------------------------------------------
    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, context=self.books.context.copy())
        self.books.tasks.add(task)
        task.add_done_callback(self.books.tasks.discard)
        task.add_done_callback(log_failure)
        return task
