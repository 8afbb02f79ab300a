"""One classroom for the whole directory: ``scripts/classroom up`` in a fresh state
folder on free loopback ports, and ``down`` at the end, then every pid it started is
checked gone and, should one remain, stopped by pid (even when a test failed).

Needs root (``up`` runs PostgreSQL as ``postgres`` with runuser, as on a real host)
and Debian's postgresql, redis-server, nginx and supervisor, which scripts/test
installs.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
SCRIPT = PROJECT / "scripts" / "classroom"

if os.geteuid() != 0:
    pytest.skip("the classroom host needs root (it runs PostgreSQL as its own user)",
                allow_module_level=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@dataclass
class Classroom:
    state: Path
    ports: dict[str, int]
    seen_pids: set[int] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports['port']}"

    def run(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "MEMORYDB_LAB_"))}
        return subprocess.run([str(SCRIPT), "--state-dir", str(self.state), *args],
                              capture_output=True, text=True, timeout=timeout, env=env)

    def up(self) -> subprocess.CompletedProcess[str]:
        return self.run(
            "up", "--port", str(self.ports["port"]), "--daphne-port", str(self.ports["daphne_port"]),
            "--postgres-port", str(self.ports["postgres_port"]), "--redis-port", str(self.ports["redis_port"]),
        )

    def status(self) -> dict:
        done = self.run("status", timeout=60)
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        # Remember every pid ever reported, so the teardown can check them all.
        self.seen_pids.update(s["pid"] for s in report["services"] if s["pid"])
        if report["supervisord"]["pid"]:
            self.seen_pids.add(report["supervisord"]["pid"])
        return report

    def service(self, name: str) -> dict:
        return next(s for s in self.status()["services"] if s["name"] == name)

    def site_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("DJANGO_SETTINGS_MODULE", None)
        for line in (self.state / "site.env").read_text().splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.partition("=")
                env[name] = value
        return env

    def manage(self, *args: str) -> str:
        done = subprocess.run([str(PROJECT / ".venv" / "bin" / "python"), "manage.py", *args],
                              cwd=PROJECT, env=self.site_env(), capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout


def engine_pids_under(root: Path) -> list[int]:
    prefix, pids = str(root) + os.sep, []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            words = [w.decode() for w in (entry / "cmdline").read_bytes().split(b"\0") if w]
        except (OSError, UnicodeDecodeError):
            continue
        if "sandbox.engine" in words and any(
            a == "--dir" and b.startswith(prefix) for a, b in zip(words, words[1:])
        ) and alive(int(entry.name)):
            pids.append(int(entry.name))
    return pids


@pytest.fixture(scope="package")
def classroom() -> Iterator[Classroom]:
    # Under /tmp directly (sticky, world-searchable): the service users must reach it.
    state = Path(tempfile.mkdtemp(prefix="classroom-"))
    room = Classroom(state, {k: free_port() for k in ("port", "daphne_port", "postgres_port", "redis_port")})
    try:
        done = room.up()
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        room.status()
        yield room
    finally:
        room.seen_pids.update(engine_pids_under(state))
        room.run("down", timeout=120)
        left = sorted(p for p in room.seen_pids | set(engine_pids_under(state)) if alive(p))
        for pid in left:  # a failed down must not leave services running
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(state, ignore_errors=True)
        assert left == [], f"down left these pids running: {left}"
