"""Helpers for the sandbox's tests and benchmark (like ``channels.testing``).

* ``test_limits`` — small, fast limits rooted in a temporary directory;
* ``running_manager`` — a real ``SandboxManager`` with the local backend installed
  on the running loop, shut down afterwards with a check that no engine process
  under its root outlived it;
* ``own_database_thread`` — run a test's ORM calls in a thread of its own (see there);
* ``Browser`` — a ``WebsocketCommunicator`` through the project's real ASGI stack
  (origin check, session and auth middleware) with a learner's session cookie,
  plus ``expect()`` to wait for a message of a given type;
* ``LiveSite`` — the site served by a real daphne process on a free port with its
  own data directory (e2e tests and bench/sandbox_ws), stopped with SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable

from channels.testing import WebsocketCommunicator

from sandbox.conf import SandboxLimits

if TYPE_CHECKING:
    from sandbox.manager import SandboxManager

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def test_limits(root: Path, **overrides: Any) -> SandboxLimits:
    base = SandboxLimits(
        root_dir=root,
        max_running=4,
        max_starting=2,
        idle_seconds=600,
        stats_interval_seconds=0.2,
        cull_interval_seconds=3600,  # tests cull by calling cull_idle(now=...)
        start_timeout_seconds=30,
    )
    return replace(base, **overrides)


test_limits.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def engine_pids_under(root: Path) -> list[int]:
    """Engine processes (not zombies) whose --dir lies under ``root``."""
    pids = []
    prefix = str(root) + os.sep
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            words = [w.decode() for w in (entry / "cmdline").read_bytes().split(b"\0") if w]
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError, UnicodeDecodeError):
            continue
        if state == "Z" or "sandbox.engine" not in words:
            continue
        if any(a == "--dir" and b.startswith(prefix) for a, b in zip(words, words[1:])):
            pids.append(int(entry.name))
    return pids


@contextlib.asynccontextmanager
async def running_manager(
    limits: SandboxLimits, clock: Callable[[], float] = time.time
) -> AsyncIterator["SandboxManager"]:
    # Imported here: this module also starts the LiveSite's daphne, before Django is set up.
    from sandbox.manager import SandboxManager, install_manager, uninstall_manager

    manager = SandboxManager(limits, clock=clock)
    install_manager(manager)
    await manager.startup()
    manager.ready.set()
    try:
        yield manager
    finally:
        await manager.shutdown()
        uninstall_manager(manager)
    left = engine_pids_under(limits.root_dir)
    assert not left, f"engine processes outlived the manager: {left}"


@contextlib.asynccontextmanager
async def own_database_thread() -> AsyncIterator[None]:
    """Run the thread-sensitive ORM calls made inside in a thread of their own.

    Outside such a context asgiref runs them in one process-wide thread, whose
    connection to the in-memory test database can never be closed; a later test
    that must not touch the database (a websocket refused at the origin check) then
    finds it open and fails on channels' close_old_connections().
    """
    from asgiref.sync import ThreadSensitiveContext

    async with ThreadSensitiveContext():
        yield


class Browser:
    """One page's websocket, signed in with ``session_key`` (or anonymous)."""

    def __init__(self, application: Any, session_key: str | None = None, address: str = "127.0.0.1") -> None:
        from asgiref.sync import ThreadSensitiveContext

        async def connection(scope: Any, receive: Any, send: Any) -> None:
            # As Django's ASGIHandler does per request: this connection's ORM calls
            # get a thread of their own (see own_database_thread).
            async with ThreadSensitiveContext():
                await application(scope, receive, send)

        headers = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
        if session_key:
            headers.append((b"cookie", f"sessionid={session_key}".encode()))
        self.communicator = WebsocketCommunicator(connection, "/ws/sandbox/", headers=headers)
        self.communicator.scope["client"] = (address, 40000)  # as daphne fills it in
        self.seen: list[dict[str, Any]] = []

    async def __aenter__(self) -> "Browser":
        connected, _ = await self.communicator.connect(timeout=10)
        assert connected
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.communicator.disconnect()

    async def send(self, message: dict[str, Any]) -> None:
        await self.communicator.send_json_to(message)

    async def send_text(self, text: str) -> None:
        await self.communicator.send_to(text_data=text)

    async def receive(self, timeout: float = 10) -> dict[str, Any]:
        message = await self.communicator.receive_json_from(timeout=timeout)
        self.seen.append(message)
        return message

    async def expect(
        self, kind: str, timeout: float = 20, where: Callable[[dict[str, Any]], bool] = lambda m: True
    ) -> dict[str, Any]:
        """The next message of this type (and matching ``where``), skipping others."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {kind!r} message within {timeout} s; saw {[m.get('type') for m in self.seen[-20:]]}")
            try:
                message = await self.receive(timeout=remaining)
            except asyncio.TimeoutError:
                continue
            if message.get("type") == kind and where(message):
                return message

    async def command(self, line: str, cluster: str = "durable", id: int = 1) -> dict[str, Any]:
        await self.send({"type": "command", "cluster": cluster, "line": line, "id": id})
        return await self.expect_any(("reply", "error"), where=lambda m: m.get("id") == id)

    async def expect_any(
        self, kinds: tuple[str, ...], timeout: float = 20, where: Callable[[dict[str, Any]], bool] = lambda m: True
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"none of {kinds} within {timeout} s")
            message = await self.receive(timeout=remaining)
            if message.get("type") in kinds and where(message):
                return message

    async def start_sandbox(self, **shape: int) -> dict[str, Any]:
        """hello + start, then wait until the sandbox runs; returns its state."""
        await self.send({"type": "hello"})
        await self.expect("welcome")
        await self.send({"type": "start", **shape})
        return await self.expect(
            "state", timeout=40, where=lambda m: m["sandbox"]["state"] in ("running", "failed")
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveSite:
    """``daphne memorydb_lab.asgi:application`` in its own process and data directory.

    Static files are served from the finders (no collectstatic), which is the one
    difference from production; everything else — settings from the environment,
    the ASGI stack, the manager and its local backend — is what ``scripts/run`` runs.
    """

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, load_content: bool = True) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "MEMORYDB_LAB_DATA_DIR": str(data_dir),
            "MEMORYDB_LAB_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p
            ),
            **(env or {}),
        }
        self.env.pop("DJANGO_SETTINGS_MODULE", None)
        self.env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        self.load_content = load_content
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "daphne.log"

    def manage(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "manage.py", *args], cwd=PROJECT_ROOT, env=self.env, check=True,
            stdout=subprocess.DEVNULL,
        )

    def start(self) -> "LiveSite":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.manage("migrate", "--noinput", "-v", "0")
        if self.load_content:
            self.manage("load_content")
        log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sandbox.testing", "serve", str(self.port)],
            cwd=PROJECT_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited: {self.log_path.read_text()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return self
            time.sleep(0.1)
        raise RuntimeError("daphne did not listen within 30 s")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _serve(port: int) -> None:
    """Entry point of LiveSite's process: daphne with static files from the finders.

    It gets SIGTERM when the test process dies (PR_SET_PDEATHSIG), so a killed test
    run never leaves a site — and its sandboxes — running.
    """
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "memorydb_lab.settings")
    from django.conf import settings

    settings.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    from daphne.cli import CommandLineInterface

    CommandLineInterface().run(
        ["--bind", "127.0.0.1", "--port", str(port), "memorydb_lab.asgi:application"]
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        _serve(int(sys.argv[2]))
