"""Real processes for engine tests: our engine and a reference ``redis-server``.

Both listen on loopback only; every process started here is stopped (SIGTERM,
then SIGKILL) and reaped by pid when its context exits.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Proc:
    port: int
    pid: int
    popen: subprocess.Popen[bytes]


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGKILL if the test process dies first (Linux
    PR_SET_PDEATHSIG), so a killed test run leaves no servers behind."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


def stop(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


def read_ready_line(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> dict:
    """The engine's first stdout line, a JSON ``ready`` event."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    os.set_blocking(proc.stdout.fileno(), False)
    buf = b""
    while time.monotonic() < deadline:
        chunk = proc.stdout.read()
        if chunk:
            buf += chunk
            if b"\n" in buf:
                os.set_blocking(proc.stdout.fileno(), True)
                return json.loads(buf.split(b"\n", 1)[0])
        if proc.poll() is not None:
            raise RuntimeError(f"engine exited with {proc.returncode} before it was ready")
        time.sleep(0.01)
    raise TimeoutError("engine did not print its ready line")


@contextlib.contextmanager
def engine_process(*args: str) -> Iterator[Proc]:
    cmd = [sys.executable, "-m", "sandbox.engine", "server", "--port", "0", *args]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, preexec_fn=die_with_parent)
    try:
        ready = read_ready_line(proc)
        yield Proc(port=ready["port"], pid=proc.pid, popen=proc)
    finally:
        stop(proc)


def _is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(with_cluster_bus: bool = False) -> int:
    """A free loopback port; with_cluster_bus also needs port+10000 free (Redis Cluster's bus)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not with_cluster_bus or (port + 10000 <= 65535 and _is_free(port + 10000)):
            return port
        if port > 55535:
            import random

            port = random.randint(20000, 55000)
            if _is_free(port) and _is_free(port + 10000):
                return port


def redis_server_binary() -> str:
    path = shutil.which("redis-server")
    if path is None:
        raise RuntimeError("redis-server is not installed: run ./scripts/test, which installs it")
    return path


@contextlib.contextmanager
def redis_process(*args: str) -> Iterator[Proc]:
    port = free_port(with_cluster_bus="--cluster-enabled" in args)
    # Its own directory: a redis-server loads any dump.rdb in its working directory at
    # start, even with saving off, and a stray /tmp/dump.rdb once gave a cluster-mode
    # reference node a busy slot.
    workdir = tempfile.mkdtemp(prefix="redis-ref-")
    cmd = [
        redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", workdir, "--save", "",
        "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no", "--loglevel", "warning", *args,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, cwd="/tmp", preexec_fn=die_with_parent)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(100).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)
        yield Proc(port=port, pid=proc.pid, popen=proc)
    finally:
        stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)
