"""The supervisor's child processes: their record (``Proc``), what runs in a child
before exec (dies with its parent, capped memory), restart backoff constants, and
the choice of free ports for a new cluster.

Invariants: every child gets PR_SET_PDEATHSIG (it dies with the supervisor); no
port is handed out twice by this process within ``_RECENT_S``.
"""

from __future__ import annotations

import asyncio
import ctypes
import random
import resource
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from .supervisor_spec import ClusterSpec


@dataclass
class Proc:
    id: str
    kind: str  # data | journal | snapshotter
    zone: str
    port: int
    shard: int | None = None
    role: str = "replica"  # data nodes: primary | replica; journals: leader | follower
    status: str = "starting"  # starting | running | crashed | paused | stopped
    pid: int | None = None
    applied: int = 0
    committed: int = 0
    lag_entries: int = 0
    lag_ms: int = 0
    offset: int = 0
    aux_port: int = 0  # journals: the Raft peer port
    started_at: float = 0.0  # monotonic time of the latest launch
    restart_delay_s: float = 0.0  # the wait before the latest restart (grows while it keeps crashing)
    quick_crashes: int = 0  # crashes in a row, each within RESTART_STABLE_S of its launch
    process: asyncio.subprocess.Process | None = field(default=None, repr=False)
    expected_exit: bool = field(default=False, repr=False)
    ready: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def public(self) -> dict[str, Any]:
        d = {name: getattr(self, name) for name in _PUBLIC_FIELDS}
        d["host"] = "127.0.0.1"
        return d


_PUBLIC_FIELDS = ("id", "kind", "zone", "port", "shard", "role", "status", "pid", "applied", "committed",
                  "lag_entries", "lag_ms", "offset")


def _die_with_parent() -> None:
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


# A process that keeps crashing soon after it starts (a node whose data no longer
# fits its memory limit, a journal on a full disk) is restarted after a wait that
# doubles each time, up to RESTART_BACKOFF_MAX_S; one that stayed up
# RESTART_STABLE_S counts as healthy again.
RESTART_BACKOFF_MAX_S = 30.0
RESTART_STABLE_S = 30.0

# Memory limits (RLIMIT_DATA: heap and private writable mappings -- what Python's
# allocations grow -- and not the shared libraries and reserved address space that
# make VmSize several times larger). Measured on a durable cluster with maxmemory
# "64mb", 1 shard, 1 replica, filled with 1 KB strings until OOM (used_memory 66 MB):
#   data node    idle VmData 51 MB (RSS 31, VmSize 133); at maxmemory VmData 83 MB (RSS 63),
#                and 140 MB right after a SETRANGE building a 60 MB value (two copies);
#   snapshotter  idle 16 MB; 261 MB (RSS 273) while snapshotting that shard: it holds the
#                replayed keyspace, the file it wrote and a fresh copy it verifies (~4x);
#   journal      idle 49 MB (RSS 28, VmSize 194); 108 MB holding the 64 MB it logged.
# So each gets a base for the interpreter plus a multiple of the data it may hold, with
# headroom: a node loading a snapshot holds the file, its records and the new
# keyspace at once. A 64mb node is held to 384 MB (the NO-EVICT hole let one reach
# ~430 MB). A process at its limit gets MemoryError (a command answers an error) or
# dies, and the restart backoff above keeps a crash loop cheap.
_MEMORY_BASE = 128 * 1024 * 1024


def memory_limit(kind: str, spec: ClusterSpec) -> int:
    """RLIMIT_DATA bytes for a process of ``kind`` (0 = no limit: maxmemory "0")."""
    from .config import _parse_memory

    maxmemory = _parse_memory(spec.maxmemory)
    if maxmemory <= 0:
        return 0
    if kind == "data":
        return _MEMORY_BASE + 4 * maxmemory
    if kind == "snapshotter":  # one shard at a time, held about four times over
        return _MEMORY_BASE + 6 * maxmemory
    # A journal holds every shard's entries since the older kept snapshot: about two
    # datasets per shard, or the disk cap's worth; held twice while compacting.
    logged = max(spec.max_disk_bytes, 2 * spec.shards * maxmemory)
    return _MEMORY_BASE + 4 * logged


def _child_setup(memory_bytes: int) -> Callable[[], None]:
    """What runs in a child between fork and exec: die with this process and, with a
    limit, cap its data segment."""
    def setup() -> None:
        _die_with_parent()
        if memory_bytes > 0:
            resource.setrlimit(resource.RLIMIT_DATA, (memory_bytes, memory_bytes))

    return setup


# Ports for a new cluster. Bound to port 0, the kernel would hand out ports from its
# ephemeral range, where any outgoing connection (the site opens many) may take one
# before the child process binds it, and where supervisors starting side by side get
# each other's just-closed ports: a start then fails with "address in use". So ports
# come from below that range, each checked free by binding it, and none is handed out
# twice by this process within _RECENT_S.
_RECENT_S = 120.0
_recent_ports: dict[int, float] = {}  # port -> monotonic time it was handed out
_ports_lock = threading.Lock()


def _below_ephemeral_range() -> tuple[int, int]:
    """The block of ports to pick from: [10000, start of the ephemeral range)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            ephemeral_low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    return 10000, max(10000, ephemeral_low - 1)


def _free_ports(n: int, bind: str) -> list[int]:
    low, high = _below_ephemeral_range()
    rng = random.Random()
    with _ports_lock:
        now = time.monotonic()
        for port in [p for p, t in _recent_ports.items() if now - t > _RECENT_S]:
            del _recent_ports[port]
        socks: list[socket.socket] = []
        ports: list[int] = []
        attempts = 0
        while len(ports) < n and attempts < 50 * n and high - low > 100:
            attempts += 1
            port = rng.randint(low, high)
            if port in _recent_ports or port in ports:
                continue
            s = socket.socket()
            try:
                s.bind((bind, port))
            except OSError:
                s.close()
                continue
            socks.append(s)
            ports.append(port)
        while len(ports) < n:  # no room below the ephemeral range: let the kernel choose
            s = socket.socket()
            s.bind((bind, 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
        for s in socks:
            s.close()
        for port in ports:
            _recent_ports[port] = now
        return ports
