"""Start and drive a host journal: its zone processes, their groups, their faults.

``HostJournal`` is the library API the site and the tests use: it spawns one
``python -m sandbox.engine journal-host`` process per zone (each in its own
directory, all sharing a discovery directory and the host secret, written 0600),
reads their ``ready`` events, and speaks their control ports (journal_host_control
.py). A zone restarted after a crash gets back the ports it had, so the data nodes'
addresses stay good.

Invariants: every process is stopped by its own pid (SIGTERM, then SIGKILL after
a grace period), never by name; the host secret lives in a 0600 file only and
never on a command line.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .journal_auth import new_secret
from .journal_host import ZONES
from .respclient import RespConnection, RespError, connect

READY_TIMEOUT_S = 20.0  # a zone process that has not said "ready" by then failed to start


@dataclass
class ZoneProcess:
    zone: str
    proc: asyncio.subprocess.Process | None = None
    host: str = "127.0.0.1"
    port: int = 0  # client port (data nodes, snapshotters)
    raft_port: int = 0
    control_port: int = 0
    pid: int = 0


class HostJournal:
    """The host's journal service: one process per zone, started and driven from here."""

    def __init__(self, directory: str | Path, zones: tuple[str, ...] = ZONES, bind: str = "127.0.0.1",
                 python: str = sys.executable) -> None:
        self.dir = Path(directory)
        self.zones, self.bind, self.python = zones, bind, python
        self.zone_procs = {z: ZoneProcess(z) for z in zones}
        self.events: list[dict[str, Any]] = []  # what the zone processes reported, in order
        self._readers: dict[str, asyncio.Task[None]] = {}
        self._control: dict[str, RespConnection] = {}
        self.dir.mkdir(parents=True, exist_ok=True)
        secret_file = self.dir / "host.secret"
        if not secret_file.exists():
            fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(new_secret())
        self.secret_file = secret_file
        self.secret = secret_file.read_text().strip()

    @property
    def client_addrs(self) -> tuple[tuple[str, int], ...]:
        """The zones' client addresses, in zone order (what a data node's --journal names)."""
        return tuple((p.host, p.port) for p in self.zone_procs.values())

    def journal_arg(self) -> str:
        return ",".join(f"{h}:{p}" for h, p in self.client_addrs)

    async def start(self) -> None:
        await asyncio.gather(*(self.start_zone(z) for z in self.zones))

    async def start_zone(self, zone: str) -> None:
        """Start (or restart, on the same ports) one zone process and wait until it listens."""
        zp = self.zone_procs[zone]
        argv = [self.python, "-m", "sandbox.engine", "journal-host", "--zone", zone, "--peers", ",".join(self.zones),
                "--dir", str(self.dir / zone), "--discovery-dir", str(self.dir / "discovery"),
                "--auth-file", str(self.secret_file), "--bind", self.bind, "--port", str(zp.port),
                "--raft-port", str(zp.raft_port), "--control-port", str(zp.control_port)]
        root = Path(__file__).resolve().parents[2]  # the project root: sandbox.engine importable from it
        zp.proc = await asyncio.create_subprocess_exec(*argv, cwd=root, stdout=asyncio.subprocess.PIPE)
        assert zp.proc.stdout is not None
        while True:
            line = await asyncio.wait_for(zp.proc.stdout.readline(), READY_TIMEOUT_S)
            if not line:
                raise RuntimeError(f"the {zone} journal host exited before it was ready")
            event = json.loads(line)
            if event.get("event") == "ready":
                break
        zp.host, zp.port, zp.raft_port = event["host"], event["port"], event["raft_port"]
        zp.control_port, zp.pid = event["control_port"], event["pid"]
        self._readers[zone] = asyncio.create_task(self._read_events(zp.proc))

    async def _read_events(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while line := await proc.stdout.readline():
            try:
                self.events.append(json.loads(line))
            except ValueError:
                pass

    def kill_zone(self, zone: str) -> None:
        """SIGKILL a whole zone process (every group's replica in it)."""
        zp = self.zone_procs[zone]
        self._drop_control(zone)
        if zp.pid:
            try:
                os.kill(zp.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    async def wait_zone_exit(self, zone: str, timeout: float = 10.0) -> None:
        proc = self.zone_procs[zone].proc
        if proc is not None:
            await asyncio.wait_for(proc.wait(), timeout)

    async def stop(self) -> None:
        for zone, zp in self.zone_procs.items():
            self._drop_control(zone)
            if zp.proc is not None and zp.proc.returncode is None:
                zp.proc.send_signal(signal.SIGTERM)
        for zp in self.zone_procs.values():
            if zp.proc is None:
                continue
            try:
                await asyncio.wait_for(zp.proc.wait(), 5.0)
            except asyncio.TimeoutError:
                zp.proc.kill()
                await zp.proc.wait()
        for task in self._readers.values():
            task.cancel()

    # -- the control ports -------------------------------------------------------------------

    def _drop_control(self, zone: str) -> None:
        conn = self._control.pop(zone, None)
        if conn is not None:
            conn.close()

    async def control(self, zone: str, *args: str | bytes) -> Any:
        """One control command on one zone (RespError if it refuses)."""
        conn = self._control.get(zone)
        if conn is None or not conn.is_open:
            zp = self.zone_procs[zone]
            conn = await connect(zp.host, zp.control_port, timeout=2.0, auth=(self.secret,))
            self._control[zone] = conn
        return await asyncio.wait_for(conn.send(*args), 5.0)

    async def create_group(self, group: str, secret: str) -> None:
        """Register a cluster's group in every zone (idempotent with the same secret)."""
        for zone in self.zones:
            await self.control(zone, "GCREATE", group, secret)

    async def drop_group(self, group: str) -> None:
        for zone in self.zones:
            await self.control(zone, "GDROP", group)

    async def kill_group(self, zone: str, group: str) -> None:
        """One group's replica in one zone dies as a SIGKILLed journal would; nobody else's."""
        await self.control(zone, "GKILL", group)

    async def start_group(self, zone: str, group: str) -> None:
        await self.control(zone, "GSTART", group)

    async def pause_group(self, zone: str, group: str, paused: bool = True) -> None:
        await self.control(zone, "GPAUSE" if paused else "GRESUME", group)

    async def role(self, zone: str, group: str) -> list[Any]:
        return await self.control(zone, "GROLE", group)  # type: ignore[no-any-return]

    async def leader_zone(self, group: str) -> str | None:
        """The zone whose replica leads the group now (None during an election)."""
        for zone in self.zones:
            try:
                role = await self.role(zone, group)
            except (OSError, RespError, asyncio.TimeoutError):
                continue  # down, or this group's replica is down there
            if role[1] == b"leader":
                return zone
        return None
