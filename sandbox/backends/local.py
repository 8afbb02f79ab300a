"""The local backend: each cluster's engine ``Supervisor`` runs inside the site
process, and the cluster's processes are its children on this machine.

Layout: ``<root>/<sandbox uuid>/durable`` and ``.../cache``, each a supervisor's
data directory. Every engine process gets ``--dir`` under it, which is how
``discover`` recognises this site's processes (and only them) after a restart.

Invariants:
* children die with the site: the supervisor starts them with PR_SET_PDEATHSIG,
  and ``stop_all_now`` (run at exit) signals every known pid, SIGTERM then SIGKILL;
* processes found by ``discover`` are never adopted (a Supervisor can only drive
  processes it started), so the manager stops them and starts the sandbox again
  on the same data: the durable cluster recovers its journal, the cache cluster
  comes back empty — which is the point of the lesson.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import socket
import time
from pathlib import Path
from typing import Any

from sandbox.backends import (
    EventSink,
    SandboxBackend,
    SandboxHandle,
    SandboxSpec,
    SandboxStartError,
)
from sandbox.engine.supervisor import ClusterSpec, Supervisor

log = logging.getLogger(__name__)

CLUSTER_MODES = ("durable", "cache")
STOP_GRACE_S = 2.0


class LocalBackend(SandboxBackend):
    name = "local"
    can_adopt = False

    def __init__(self, limits: Any) -> None:
        super().__init__(limits)
        self.root = Path(limits.root_dir)
        self.host = socket.gethostname()
        self.handles: dict[str, SandboxHandle] = {}

    def data_dir(self, sandbox_id: str) -> Path:
        return self.root / sandbox_id

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self, spec: SandboxSpec, on_event: EventSink) -> SandboxHandle:
        base = self.data_dir(spec.sandbox_id)
        supervisors: dict[str, Supervisor] = {}
        for mode in CLUSTER_MODES:
            supervisors[mode] = Supervisor(
                ClusterSpec(
                    mode=mode,
                    shards=spec.shards,
                    replicas=spec.replicas,
                    data_dir=str(base / mode),
                    replication_delay_ms=spec.replication_delay_ms if mode == "cache" else 0,
                    maxmemory=spec.maxmemory,
                    requirepass=spec.passwords[mode],
                )
            )
        handle = SandboxHandle(spec=spec, clusters=dict(supervisors))
        pumps = [asyncio.ensure_future(_pump(mode, sup, on_event)) for mode, sup in supervisors.items()]
        handle.extra["pumps"] = pumps
        await asyncio.sleep(0)  # let each pump subscribe before the first process starts
        self.handles[spec.sandbox_id] = handle
        timeout = self.limits.start_timeout_seconds
        results = await asyncio.gather(
            *(sup.start(timeout=timeout) for sup in supervisors.values()), return_exceptions=True
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            await self.stop(handle, delete_data=False)
            first = failures[0]
            text = "timed out" if isinstance(first, asyncio.TimeoutError) else f"{type(first).__name__}: {first}"
            raise SandboxStartError(f"the clusters did not start: {text}")
        return handle

    async def poll(self, handle: SandboxHandle) -> str:
        for control in handle.clusters.values():
            procs = control.topology()["processes"]
            if not any(p["status"] in ("running", "starting", "paused") for p in procs):
                return "stopped"
        return "running"

    async def stop(self, handle: SandboxHandle, *, delete_data: bool) -> None:
        sandbox_id = handle.spec.sandbox_id
        await asyncio.gather(
            *(sup.stop() for sup in handle.clusters.values()),  # type: ignore[attr-defined]
            return_exceptions=True,
        )
        for pump in handle.extra.get("pumps", []):
            pump.cancel()
        self.handles.pop(sandbox_id, None)
        if delete_data:
            await self.delete_data(sandbox_id)

    def describe(self, handle: SandboxHandle) -> dict[str, Any]:
        return {
            "host": self.host,
            "site_pid": os.getpid(),
            "dir": str(self.data_dir(handle.spec.sandbox_id)),
            "pids": {
                mode: [p["pid"] for p in control.topology()["processes"] if p.get("pid")]
                for mode, control in handle.clusters.items()
            },
        }

    # -- what a restarted site finds -----------------------------------------------------
    async def discover(self) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._scan)

    def _scan(self) -> list[dict[str, Any]]:
        """Engine processes whose data lives under our root and that no handle owns."""
        owned = {
            pid
            for handle in self.handles.values()
            for control in handle.clusters.values()
            for pid in (p.get("pid") for p in control.topology()["processes"])
            if pid
        }
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

    def stop_all_now(self) -> None:
        pids = [
            pid
            for handle in list(self.handles.values())
            for control in handle.clusters.values()
            for pid in (p.get("pid") for p in control.topology()["processes"])
            if pid
        ]
        _terminate(pids)
        self.handles.clear()


async def _pump(mode: str, supervisor: Supervisor, on_event: EventSink) -> None:
    async for event in supervisor.events():
        try:
            on_event(mode, event)
        except Exception:  # one bad event must not stop the stream
            log.exception("sandbox event handler failed on %r", event)


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
