"""Engine health check used by /healthz: start a real engine node, PING it, stop it.

A node is started exactly as the sandbox manager will start one
(``python -m sandbox.engine server --port 0`` in the project root), so a green check
means this machine can really run sandboxes: the interpreter, the engine package and
its native dependencies (hiredis, lupa, ...) import, a port can be bound on loopback
and the node answers RESP.

Contract with the engine: its first line on stdout is a JSON object
``{"event": "ready", "host": "127.0.0.1", "port": 41234, "pid": 123}``.

Invariants:
* the node is always stopped and reaped, whatever happened (SIGTERM to its process
  group, SIGKILL after ``STOP_GRACE_SECONDS``), so a health probe never leaks one;
* a check never raises: every failure becomes ``{"ok": False, "error": "..."}``;
* at most one check runs at a time per process, and its result (good or bad) is
  reused for the cache lifetime, so a monitor polling every second starts at most
  one node per lifetime instead of one per request.

This module imports nothing from Django so that it can be used and tested alone.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Callable, Sequence

import redis

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENGINE_COMMAND: tuple[str, ...] = (
    sys.executable, "-m", "sandbox.engine", "server", "--port", "0",
)
READY_TIMEOUT_SECONDS = 10.0  # importing the engine's libraries can take a few seconds
PING_TIMEOUT_SECONDS = 2.0
STOP_GRACE_SECONDS = 2.0  # SIGTERM first, so the node can close its files cleanly
_STDERR_TAIL_CHARS = 400
_MAX_READY_LINE_BYTES = 64 * 1024  # a node that floods stdout is not ready

EngineReport = dict[str, Any]


class EngineCheckFailed(Exception):
    """A step of the check failed; the message is what /healthz shows."""


def check_engine(
    command: Sequence[str] = ENGINE_COMMAND,
    *,
    cwd: Path = PROJECT_ROOT,
    ready_timeout: float = READY_TIMEOUT_SECONDS,
) -> EngineReport:
    """Start one engine node, PING it, stop it; report what happened."""
    started = time.monotonic()
    report: EngineReport = {"ok": False, "error": None}
    # stderr goes to a file, not a pipe: nobody drains a pipe while we wait, and a
    # chatty node would block on a full one. Its tail explains a crash at start.
    with tempfile.TemporaryFile(mode="w+b") as stderr_file:
        try:
            process = subprocess.Popen(
                list(command),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                bufsize=0,  # a raw pipe: _first_line reads its descriptor directly
                stderr=stderr_file,
                # Unbuffered so the ready line arrives even if the node forgets to flush.
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                # Its own process group: stopping the group also stops anything the
                # node started, and a Ctrl-C meant for the site does not reach it.
                start_new_session=True,
            )
        except OSError as exc:
            report["error"] = f"cannot start the engine: {exc}"
            return _finish(report, started)
        try:
            assert process.stdout is not None
            ready = _read_ready_line(process, process.stdout, ready_timeout, stderr_file)
            report["pid"] = process.pid
            report["port"] = ready["port"]
            _ping(ready["host"], ready["port"])
            report["ok"] = True
        except EngineCheckFailed as exc:
            report["error"] = str(exc)
        except Exception as exc:  # a health check reports; it must not raise
            report["error"] = f"unexpected {type(exc).__name__}: {exc}"
        finally:
            _stop(process)
    return _finish(report, started)


def _read_ready_line(
    process: subprocess.Popen[bytes],
    stdout: IO[bytes],
    timeout: float,
    stderr_file: IO[bytes],
) -> dict[str, Any]:
    """Wait for the first stdout line and check it is the ready announcement."""
    try:
        line = _first_line(stdout, timeout)
    except TimeoutError:
        raise EngineCheckFailed(
            f"the engine did not announce it was ready within {timeout:g} s"
            + _stderr_tail(stderr_file)
        ) from None
    if not line:
        try:
            code = process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            raise EngineCheckFailed(
                "the engine closed its stdout without announcing it was ready"
            ) from None
        raise EngineCheckFailed(
            f"the engine exited with status {code} before it was ready"
            + _stderr_tail(stderr_file)
        )
    try:
        ready = json.loads(line)
    except ValueError:
        raise EngineCheckFailed(
            f"the engine's first line is not JSON: {line[:200]!r}"
        ) from None
    if not isinstance(ready, dict) or ready.get("event") != "ready":
        raise EngineCheckFailed(f"the engine's first line is not a ready event: {ready!r}")
    if not isinstance(ready.get("port"), int) or not isinstance(ready.get("host"), str):
        raise EngineCheckFailed(f"the ready event lacks a host and a port: {ready!r}")
    return ready


def _first_line(stdout: IO[bytes], timeout: float) -> bytes:
    """Read up to the first newline; b"" if the node closed stdout first.

    A selector gives the read a deadline without a helper thread; os.read on the
    raw descriptor never blocks once select has said it is readable.
    """
    deadline = time.monotonic() + timeout
    received = b""
    fd = stdout.fileno()
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while b"\n" not in received:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            if len(received) > _MAX_READY_LINE_BYTES:
                raise EngineCheckFailed("the engine wrote a first line longer than 64 KiB")
            if not selector.select(remaining):
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                return received
            received += chunk
    return received.split(b"\n", 1)[0]


def _ping(host: str, port: int) -> None:
    """PING the node with redis-py, the client the site itself uses."""
    client = redis.Redis(
        host=host,
        port=port,
        socket_timeout=PING_TIMEOUT_SECONDS,
        socket_connect_timeout=PING_TIMEOUT_SECONDS,
    )
    try:
        if client.ping() is not True:
            raise EngineCheckFailed("the engine did not answer PING with PONG")
    except redis.RedisError as exc:
        raise EngineCheckFailed(f"PING failed: {type(exc).__name__}: {exc}") from None
    finally:
        client.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the node's process group, SIGKILL it after the grace period, reap it."""
    for sig, wait in ((signal.SIGTERM, STOP_GRACE_SECONDS), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass  # the group is already gone
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    if process.stdout is not None:
        process.stdout.close()


def _stderr_tail(stderr_file: IO[bytes]) -> str:
    """The last lines the node wrote on stderr, to say why it failed."""
    stderr_file.flush()
    stderr_file.seek(0)
    text = stderr_file.read().decode("utf-8", "replace").strip()
    if not text:
        return ""
    return ": " + text[-_STDERR_TAIL_CHARS:].splitlines()[-1]


def _finish(report: EngineReport, started: float) -> EngineReport:
    report["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
    report["checked_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return report


class CachedCheck:
    """Runs ``check`` at most once per ``ttl`` seconds and shares the result.

    Failures are cached as well: a broken engine should not be restarted on every
    poll, and it is reported the same way to everyone for the lifetime.
    """

    def __init__(
        self,
        check: Callable[[], EngineReport],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._check = check
        self._clock = clock
        # Held during the check itself so that concurrent requests wait for the one
        # running check instead of each starting a node.
        self._lock = threading.Lock()
        self._result: EngineReport | None = None
        self._taken_at = 0.0

    def get(self, ttl: float) -> EngineReport:
        with self._lock:
            now = self._clock()
            if self._result is None or now - self._taken_at >= ttl:
                self._result = self._check()
                self._taken_at = self._clock()
                return {**self._result, "cached": False}
            return {**self._result, "cached": True}

    def clear(self) -> None:
        with self._lock:
            self._result = None


engine_check = CachedCheck(check_engine)
