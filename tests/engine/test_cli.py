"""``python -m sandbox.engine server``: ready line, clean stop, loopback by default."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
import redis

from .servers import ROOT, free_port, read_ready_line, stop


def start(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "sandbox.engine", "server", *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_it_prints_one_ready_line_and_stops_cleanly_on(sig):
    proc = start("--port", "0")
    try:
        ready = read_ready_line(proc)
        assert ready["event"] == "ready" and ready["host"] == "127.0.0.1" and ready["pid"] == proc.pid
        assert redis.Redis(port=ready["port"]).ping() is True
        proc.send_signal(sig)
        assert proc.wait(5) == 0
    finally:
        stop(proc)


def test_it_listens_on_the_port_it_is_given():
    port = free_port()
    proc = start("--port", str(port))
    try:
        assert read_ready_line(proc)["port"] == port
        assert redis.Redis(port=port).echo("x") == b"x"
    finally:
        stop(proc)


def listening_addresses(port: int) -> set[str]:
    """Local IPv4 addresses with a LISTEN socket on ``port`` (from /proc/net/tcp)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                addr, hexport = local.split(":")
                if state == "0A" and int(hexport, 16) == port:
                    if len(addr) == 8:
                        found.add(".".join(str(int(addr[i : i + 2], 16)) for i in (6, 4, 2, 0)))
                    else:
                        found.add("ipv6:" + addr)
    return found


def test_it_listens_on_loopback_only_by_default():
    proc = start("--port", "0")
    try:
        port = read_ready_line(proc)["port"]
        assert listening_addresses(port) == {"127.0.0.1"}
    finally:
        stop(proc)


def test_it_refuses_a_bad_memory_size_with_a_clear_message():
    proc = start("--port", "0", "--maxmemory", "lots")
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 2
    assert b"not a memory size: 'lots'" in err


def test_it_serves_redis_py_sync_and_asyncio_with_hiredis():
    import asyncio

    proc = start("--port", "0")
    try:
        port = read_ready_line(proc)["port"]
        r = redis.Redis(port=port, protocol=3)
        assert r.ping() is True and r.echo("é") == "é".encode()

        async def go() -> bytes:
            from redis.asyncio import Redis

            client = Redis(port=port)
            try:
                return await client.echo("async")
            finally:
                await client.aclose()

        assert asyncio.run(go()) == b"async"
        from redis.utils import HIREDIS_AVAILABLE

        assert HIREDIS_AVAILABLE
    finally:
        stop(proc)


def test_shutdown_stops_the_process():
    proc = start("--port", "0")
    try:
        port = read_ready_line(proc)["port"]
        try:
            redis.Redis(port=port).shutdown(nosave=True)
        except redis.ConnectionError:
            pass  # the server closes the connection as it goes
        assert proc.wait(5) == 0
    finally:
        stop(proc)
