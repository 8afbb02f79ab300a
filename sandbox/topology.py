"""A cluster's topology as the site reads it: typed ``Topology`` and ``Process``
records, built once from each snapshot the backend hands over (the supervisor's
``topology()`` dict), and what a browser may see of them.

Invariants:
* records are frozen: a topology is a snapshot; a new one replaces it whole (the
  backend replaces its snapshot dict after every event, ``LiveSandbox.topology``
  rebuilds the record only then);
* ``public()`` is the one place that decides what a browser sees of a topology:
  never a node's port, pid, host or a path (``PRIVATE_FIELDS``); the rest, fields
  this module does not know included, passes as the supervisor wrote it;
* a process is *up* while it runs, is paused or is starting (a fault may still hit
  it); a primary is *serving* unless it crashed or was stopped (the slot map of
  ``ClusterClient`` routes to it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

# What a browser never sees of a process or an event: where it listens, its pid,
# paths on the host. The console, the load and the probes reach nodes server-side.
PRIVATE_FIELDS = frozenset({"port", "pid", "host", "address", "dir", "path", "file", "source"})
UP = ("running", "paused", "starting")
DOWN = ("crashed", "stopped")

_PROCESS_FIELDS = ("id", "kind", "zone", "port", "shard", "role", "status", "pid", "host")
_TOPOLOGY_FIELDS = ("mode", "epoch", "shards", "replication_delay_ms", "slots", "processes")


@dataclass(frozen=True)
class Process:
    """One process of a cluster: a data node, a journal replica or the snapshotter."""

    id: str
    kind: str  # data | journal | snapshotter
    zone: str  # az-a, az-b, az-c
    shard: int | None  # data nodes' shard; None for the journal and the snapshotter
    role: str  # data: primary | replica; journal: leader | follower
    status: str  # starting | running | crashed | paused | stopped
    port: int  # loopback; server-side only
    pid: int | None  # server-side only
    host: str = "127.0.0.1"  # server-side only
    # Everything else the supervisor reports (applied, committed, lag_entries, lag_ms,
    # offset, ...), in its order: shown to the browser as it came.
    extra: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def from_snapshot(cls, data: Mapping[str, Any]) -> "Process":
        shard = data.get("shard")
        return cls(
            id=str(data["id"]),
            kind=str(data.get("kind", "")),
            zone=str(data.get("zone", "")),
            shard=None if shard is None else int(shard),
            role=str(data.get("role", "")),
            status=str(data.get("status", "")),
            port=int(data.get("port") or 0),
            pid=data.get("pid"),
            host=data.get("host") or "127.0.0.1",
            extra=tuple((k, v) for k, v in data.items() if k not in _PROCESS_FIELDS),
        )

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def is_data(self) -> bool:
        return self.kind == "data"

    @property
    def is_primary(self) -> bool:
        return self.kind == "data" and self.role == "primary"

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def up(self) -> bool:
        return self.status in UP

    @property
    def down(self) -> bool:
        return self.status in DOWN

    def stat(self, name: str, default: Any = None) -> Any:
        """One of the supervisor's other fields (``applied``, ``lag_ms``, ...)."""
        return dict(self.extra).get(name, default)

    def public(self) -> dict[str, Any]:
        """What a browser may see: the supervisor's fields, without the private ones."""
        out: dict[str, Any] = {
            "id": self.id, "kind": self.kind, "zone": self.zone, "shard": self.shard,
            "role": self.role, "status": self.status,
        }  # fmt: skip
        out.update((k, v) for k, v in self.extra if k not in PRIVATE_FIELDS)
        return out


@dataclass(frozen=True)
class Topology:
    """One cluster: its mode, its slot ranges (one per shard, by shard number) and
    its processes. Fields the snapshot lacked are None and left out of ``public()``."""

    processes: tuple[Process, ...] = ()
    slots: tuple[tuple[int, int], ...] = ()  # shard i serves slots[i][0]..slots[i][1]
    mode: str | None = None  # durable | cache
    epoch: int | None = None
    shards: int | None = None
    replication_delay_ms: int | None = None
    extra: tuple[tuple[str, Any], ...] = field(default=(), repr=False)

    @classmethod
    def from_snapshot(cls, data: Mapping[str, Any]) -> "Topology":
        return cls(
            processes=tuple(Process.from_snapshot(p) for p in data.get("processes", ())),
            slots=tuple((int(low), int(high)) for low, high in data.get("slots", ())),
            mode=data.get("mode"),
            epoch=data.get("epoch"),
            shards=data.get("shards"),
            replication_delay_ms=data.get("replication_delay_ms"),
            extra=tuple((k, v) for k, v in data.items() if k not in _TOPOLOGY_FIELDS),
        )

    def __iter__(self) -> Iterator[Process]:
        return iter(self.processes)

    def get(self, process_id: str) -> Process | None:
        return next((p for p in self.processes if p.id == process_id), None)

    def data_nodes(self, shard: int | None = None) -> list[Process]:
        return [p for p in self.processes if p.is_data and (shard is None or p.shard == shard)]

    def journals(self) -> list[Process]:
        return [p for p in self.processes if p.kind == "journal"]

    def serving_primaries(self) -> dict[int, Process]:
        """Shard -> its primary, unless that crashed or was stopped (the slot map's view)."""
        return {
            int(p.shard): p for p in self.processes
            if p.is_primary and p.shard is not None and not p.down
        }  # fmt: skip

    def roles(self) -> dict[str, str]:
        """Data node id -> primary | replica."""
        return {p.id: p.role for p in self.processes if p.is_data}

    def public(self) -> dict[str, Any]:
        """The topology as a browser gets it (JSON): no port, pid, host or path."""
        out: dict[str, Any] = {}
        for name in ("mode", "epoch", "shards", "replication_delay_ms"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        out["slots"] = [list(r) for r in self.slots]
        out["processes"] = [p.public() for p in self.processes]
        out.update((k, v) for k, v in self.extra if k not in PRIVATE_FIELDS)
        return out

    def endpoints(self) -> list[dict[str, Any]]:
        """What the ``Sandbox`` row keeps of each process (server-side only)."""
        return [
            {"id": p.id, "kind": p.kind, "zone": p.zone, "shard": p.shard, "port": p.port}
            for p in self.processes
        ]


EMPTY = Topology()
