"""The local backend: each cluster's engine ``Supervisor`` runs inside the site
process, and the cluster's processes are its children on this machine.

The supervisors live on their own event loop, in one thread of the site process
(``SupervisorThread``). Starting a process forks the site process, which takes tens
of milliseconds for a process of its size, and the supervisor starts about eight per
sandbox: on the site's loop every start would stall every websocket. The site talks
to a supervisor through a ``LocalCluster`` proxy: faults and stops are coroutines
run on the supervisor thread, and ``topology()`` answers from the snapshot that
arrives with every event, so the site never reads a supervisor while it changes.

Layout: ``<root>/<sandbox uuid>/<lane>`` (``durable``, ``cache``, and ``async``
when the third lane runs), each a supervisor's data directory, and ``kept/`` for
what the site keeps beside them (``keep``). A start over a directory a stopped (or
parked) sandbox left takes new free ports for every process (``_new_ports``): its
old ones were free while it was stopped and anyone may hold them now. Every engine process gets ``--dir`` under it, which is how
``discover`` recognises this site's processes (and only them) after a restart.

Sandbox processes run at a lower scheduling priority than the site (``limits.nice``):
twenty sandboxes are over a hundred processes, and when they saturate the CPUs the
site must still relay their events and console replies within milliseconds. Each
process is reniced when it first shows up in a topology snapshot.

Invariants:
* children die with the site: the supervisor starts them with PR_SET_PDEATHSIG from
  the supervisor thread, which lives as long as the process, and ``stop_all_now``
  (run at exit) signals every known pid, SIGTERM then SIGKILL;
* processes found by ``discover`` are never adopted (a Supervisor can only drive
  processes it started), so the manager stops them and starts the sandbox again
  on the same data: the durable cluster recovers its journal, the cache cluster
  comes back empty — which is the point of the lesson.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import shutil
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any, Coroutine, TypeVar

from sandbox.backends import (
    EventSink,
    SandboxBackend,
    SandboxHandle,
    SandboxSpec,
    SandboxStartError,
)
from sandbox.engine.supervisor import ClusterSpec, Supervisor, _free_ports
from sandbox.engine.supervisor_users import put_user

log = logging.getLogger(__name__)

# The engine mode each lane runs: the third lane is a durable cluster whose primary
# acknowledges before its journal has the write (the engine's "async" durability).
LANE_MODES = {"durable": "durable", "async": "durable", "cache": "cache"}
STOP_GRACE_S = 2.0
ASYNC_LEASE_MARGIN_MS = 1000  # the async lane's lease is its buffer limit plus this
T = TypeVar("T")


class SupervisorThread:
    """An event loop in a daemon thread, where every supervisor of the site runs."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="sandbox-supervisors", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the supervisor thread; await its result from the site's loop."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


class LocalCluster:
    """The site's handle on one supervisor (a ``ClusterControl``)."""

    def __init__(self, mode: str, supervisor: Supervisor, host: SupervisorThread, nice: int) -> None:
        self.mode = mode
        self.supervisor = supervisor
        self.host = host
        self.nice = nice
        self.reniced: set[int] = set()
        self.snapshot: dict[str, Any] = {"processes": [], "slots": []}

    def take(self, snapshot: dict[str, Any]) -> dict[str, Any]:
        """Called on the supervisor thread with each new topology: lower the priority
        of processes not seen before (new, or restarted after a crash)."""
        if self.nice:
            for proc in snapshot.get("processes", []):
                pid = proc.get("pid")
                if pid and pid not in self.reniced:
                    self.reniced.add(pid)
                    try:
                        os.setpriority(os.PRIO_PROCESS, pid, self.nice)
                    except (ProcessLookupError, PermissionError):
                        pass
        return snapshot

    def topology(self) -> dict[str, Any]:
        return self.snapshot

    async def kill(self, node_id: str) -> None:
        await self.host.call(self.supervisor.kill(node_id))

    async def kill_zone(self, zone: str) -> list[str]:
        return await self.host.call(self.supervisor.kill_zone(zone))

    async def pause(self, node_id: str, seconds: float) -> None:
        await self.host.call(self.supervisor.pause(node_id, seconds))

    async def restart(self, node_id: str) -> None:
        await self.host.call(self.supervisor.restart(node_id))

    async def put_user(self, name: str, password: str, rules: list[str]) -> dict[str, list[str]]:
        return await self.host.call(put_user(self.supervisor, name, password, rules))

    def pids(self) -> list[int]:
        return [p["pid"] for p in self.snapshot.get("processes", []) if p.get("pid")]


class LocalBackend(SandboxBackend):
    name = "local"
    can_adopt = False

    def __init__(self, limits: Any) -> None:
        super().__init__(limits)
        self.root = Path(limits.root_dir)
        self.host = socket.gethostname()
        self.handles: dict[str, SandboxHandle] = {}
        self._thread: SupervisorThread | None = None

    @property
    def supervisors(self) -> SupervisorThread:
        if self._thread is None:
            self._thread = SupervisorThread()
        return self._thread

    def data_dir(self, sandbox_id: str) -> Path:
        return self.root / sandbox_id

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self, spec: SandboxSpec, on_event: EventSink) -> SandboxHandle:
        base = self.data_dir(spec.sandbox_id)
        site_loop = asyncio.get_running_loop()
        clusters: dict[str, LocalCluster] = {}
        for lane in spec.lanes:
            await asyncio.to_thread(_new_ports, base / lane / "cluster.json")
            mode = LANE_MODES[lane]
            supervisor = Supervisor(
                ClusterSpec(
                    mode=mode,
                    shards=spec.shards,
                    replicas=spec.replicas,
                    data_dir=str(base / lane),
                    replication_delay_ms=spec.replication_delay_ms if mode == "cache" else 0,
                    maxmemory=spec.maxmemory,
                    # A reply a learner can make huge with a count (SRANDMEMBER s -10000000)
                    # closes their connection instead of growing the node past its memory.
                    client_output_buffer_limit=self.limits.client_output_buffer_limit,
                    # Journal log plus snapshots: past it writes are refused until a snapshot trims.
                    max_disk_bytes=self.limits.disk_mb * 1024 * 1024 if mode == "durable" else 0,
                    # The nodes serve this user only; the default user is off.
                    username=spec.users[lane].username,
                    password=spec.users[lane].password,
                    journal_secret=spec.journal_secret if mode == "durable" else "",
                    **self._durability(lane, spec),
                )
            )
            clusters[lane] = LocalCluster(lane, supervisor, self.supervisors, self.limits.nice)
        handle = SandboxHandle(spec=spec, clusters=dict(clusters))
        self.handles[spec.sandbox_id] = handle
        timeout = self.limits.start_timeout_seconds
        try:
            await self.supervisors.call(_start_all(clusters, site_loop, on_event, handle, timeout))
        except Exception as exc:
            await self.stop(handle, delete_data=False)
            text = "timed out" if isinstance(exc, asyncio.TimeoutError) else f"{type(exc).__name__}: {exc}"
            raise SandboxStartError(f"the clusters did not start: {text}") from None
        return handle

    def _durability(self, lane: str, spec: SandboxSpec) -> dict[str, Any]:
        """The lease, and for the third lane its durability setting. Its lease outlasts
        its buffer limit: a primary cut off from its journal stops at its lease's end,
        and with the usual lease the learner would see the lease's error, never the
        buffer's (the engine's durability_buffer docstring)."""
        if lane != "async":
            return {"lease_ms": self.limits.lease_ms}
        if "durability" not in {f.name for f in dataclasses.fields(ClusterSpec)}:
            raise SandboxStartError("this engine has no asynchronous durability yet; turn the third lane off")
        return {
            "lease_ms": max(self.limits.lease_ms, spec.async_buffer_limit_ms + ASYNC_LEASE_MARGIN_MS),
            "durability": "async",
            "durability_buffer_limit_ms": spec.async_buffer_limit_ms,
        }

    async def poll(self, handle: SandboxHandle) -> str:
        for control in handle.clusters.values():
            procs = control.topology()["processes"]
            if not any(p["status"] in ("running", "starting", "paused") for p in procs):
                return "stopped"
        return "running"

    async def stop(self, handle: SandboxHandle, *, delete_data: bool) -> None:
        sandbox_id = handle.spec.sandbox_id
        clusters: list[LocalCluster] = list(handle.clusters.values())  # type: ignore[arg-type]
        await self.supervisors.call(_stop_all(clusters, handle))
        self.handles.pop(sandbox_id, None)
        if delete_data:
            await self.delete_data(sandbox_id)

    def describe(self, handle: SandboxHandle) -> dict[str, Any]:
        return {
            "host": self.host,
            "site_pid": os.getpid(),
            "dir": str(self.data_dir(handle.spec.sandbox_id)),
            "pids": {mode: control.pids() for mode, control in handle.clusters.items()},  # type: ignore[attr-defined]
        }

    async def close(self) -> None:
        if self._thread is not None:
            self._thread.close()
            self._thread = None

    # -- what a restarted site finds -----------------------------------------------------
    async def discover(self) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._scan)

    def _known_pids(self) -> set[int]:
        return {
            pid
            for handle in list(self.handles.values())
            for control in handle.clusters.values()
            for pid in control.pids()  # type: ignore[attr-defined]
        }

    def _scan(self) -> list[dict[str, Any]]:
        """Engine processes whose data lives under our root and that no handle owns."""
        owned = self._known_pids()
        found: dict[str, list[int]] = {}
        root = str(self.root) + os.sep
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) in owned:
                continue
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue  # gone meanwhile, or not ours to read
            words = [a.decode("utf-8", "replace") for a in argv if a]
            if "sandbox.engine" not in words:
                continue
            for flag, value in zip(words, words[1:]):
                if flag == "--dir" and value.startswith(root):
                    sandbox_id = value[len(root):].split(os.sep, 1)[0]
                    found.setdefault(sandbox_id, []).append(int(entry.name))
                    break
        return [{"sandbox_id": sid, "pids": sorted(pids)} for sid, pids in found.items()]

    async def stop_leftover(self, description: dict[str, Any]) -> None:
        await asyncio.to_thread(_terminate, list(description.get("pids", [])))

    async def delete_data(self, sandbox_id: str) -> None:
        path = self.data_dir(sandbox_id)
        if path.parent != self.root:
            raise ValueError(f"refusing to delete {path}: not a sandbox directory")
        await asyncio.to_thread(shutil.rmtree, path, True)

    async def keep(self, sandbox_id: str, name: str, data: bytes) -> None:
        await asyncio.to_thread(_write_whole, self._kept_path(sandbox_id, name), data)

    async def kept(self, sandbox_id: str, name: str) -> bytes | None:
        path = self._kept_path(sandbox_id, name)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None

    def _kept_path(self, sandbox_id: str, name: str) -> Path:
        if not name.isidentifier():
            raise ValueError(f"not a name for a kept file: {name!r}")
        return self.data_dir(sandbox_id) / "kept" / name

    def stop_all_now(self) -> None:
        _terminate(sorted(self._known_pids()))
        self.handles.clear()


# -- on the supervisor thread ---------------------------------------------------------------


async def _start_all(
    clusters: dict[str, LocalCluster],
    site_loop: asyncio.AbstractEventLoop,
    on_event: EventSink,
    handle: SandboxHandle,
    timeout: float,
) -> None:
    pumps = [asyncio.ensure_future(_pump(c, site_loop, on_event)) for c in clusters.values()]
    handle.extra["pumps"] = pumps
    await asyncio.sleep(0)  # let each pump subscribe before the first process starts
    results = await asyncio.gather(
        *(c.supervisor.start(timeout=timeout) for c in clusters.values()), return_exceptions=True
    )
    for cluster in clusters.values():
        snapshot = cluster.take(cluster.supervisor.topology())
        site_loop.call_soon_threadsafe(setattr, cluster, "snapshot", snapshot)
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        raise failures[0]


async def _stop_all(clusters: list[LocalCluster], handle: SandboxHandle) -> None:
    await asyncio.gather(*(c.supervisor.stop() for c in clusters), return_exceptions=True)
    for pump in handle.extra.get("pumps", []):
        pump.cancel()


async def _pump(cluster: LocalCluster, site_loop: asyncio.AbstractEventLoop, on_event: EventSink) -> None:
    """Hand each event, with the topology as it is after it, to the site's loop."""

    def deliver(event: dict[str, Any], snapshot: dict[str, Any]) -> None:
        cluster.snapshot = snapshot
        try:
            on_event(cluster.mode, event)
        except Exception:  # one bad event must not stop the stream
            log.exception("sandbox event handler failed on %r", event)

    async for event in cluster.supervisor.events():
        site_loop.call_soon_threadsafe(deliver, event, cluster.take(cluster.supervisor.topology()))


def _new_ports(layout_file: Path) -> None:
    """Give every process of a saved layout a port free now (journals keep finding each
    other through their discovery directory, and data nodes get the journal's
    addresses on their command line, so nothing else remembers a port)."""
    if not layout_file.exists():
        return
    layout = json.loads(layout_file.read_text())
    wanted = sum((1 if p["port"] else 0) + (1 if p.get("aux_port") else 0) for p in layout["procs"])
    fresh = iter(_free_ports(wanted, "127.0.0.1"))
    for proc in layout["procs"]:
        for name in ("port", "aux_port"):
            if proc.get(name):
                proc[name] = next(fresh)
    _write_whole(layout_file, json.dumps(layout, indent=1).encode())


def _write_whole(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _terminate(pids: list[int]) -> None:
    """SIGTERM these processes (a paused one is resumed first), SIGKILL what remains."""
    alive = []
    for pid in pids:
        try:
            os.kill(pid, signal.SIGCONT)
            os.kill(pid, signal.SIGTERM)
            alive.append(pid)
        except (ProcessLookupError, PermissionError):
            continue
    deadline = time.monotonic() + STOP_GRACE_S
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if _running(pid)]
        if alive:
            time.sleep(0.05)
    for pid in alive:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _running(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
