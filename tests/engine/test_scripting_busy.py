"""Busy scripts on a real engine process, each step also sent to redis-server 7.0:
past busy-reply-threshold other clients get BUSY, SCRIPT KILL stops a script that
has not written (UNKILLABLE once it wrote), and the node answers afterwards."""

from __future__ import annotations

import time
from typing import Iterator

import pytest

from sandbox.engine.resp import encode_command

from .rawclient import RawClient
from .servers import Proc, engine_process, redis_process

LOOP = "while true do end"
WRITE_THEN_LOOP = "redis.call('set', 'w', 1) local i = 0 while i < 60000000 do i = i + 1 end return i"


@pytest.fixture
def nodes() -> Iterator[list[Proc]]:
    """A fresh engine and a fresh redis-server (a busy script must not leak into
    other tests' shared servers)."""
    with engine_process() as eng, redis_process() as ref:
        for p in (eng, ref):
            with RawClient(p.port) as c:
                assert c.call("CONFIG", "SET", "lua-time-limit", "200") == b"+OK\r\n"
        yield [ref, eng]


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    import os

    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_looping_script_makes_others_busy_until_script_kill(nodes: list[Proc]) -> None:
    answers = []
    for proc in nodes:
        runner, other = RawClient(proc.port, timeout=30), RawClient(proc.port, timeout=30)
        try:
            runner.send(encode_command(["EVAL", LOOP, "0"]))
            time.sleep(0.4)
            started = time.monotonic()
            busy = other.call("GET", "x")
            waited = time.monotonic() - started
            assert waited < 5.0, waited  # answered while the script still runs
            stats = other.call("FUNCTION", "STATS")
            killed_by_function_kill = other.call("FUNCTION", "KILL")
            kill = other.call("SCRIPT", "KILL")
            killed = runner.read_frame()
            after = other.call("PING"), runner.call("PING")
            answers.append((busy, stats, killed_by_function_kill, kill, killed, after))
        finally:
            runner.close()
            other.close()
    ref, eng = answers
    assert eng == ref
    assert eng[0] == b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
    assert eng[4].startswith(b"-ERR Script killed by user with SCRIPT KILL... script: ")
    assert eng[5] == (b"+PONG\r\n", b"+PONG\r\n")


def test_a_script_that_wrote_is_unkillable_and_its_write_survives(nodes: list[Proc]) -> None:
    answers = []
    for proc in nodes:
        with RawClient(proc.port, timeout=60) as runner, RawClient(proc.port, timeout=60) as other:
            runner.send(encode_command(["EVAL", WRITE_THEN_LOOP, "0"]))
            time.sleep(0.3)
            busy = other.call("PING")
            kill = other.call("SCRIPT", "KILL")
            reply = runner.read_frame()
            answers.append((busy.startswith(b"-BUSY"), kill, reply, other.call("GET", "w")))
    ref, eng = answers
    assert eng == ref, (eng, ref)
    assert eng[1].startswith(b"-UNKILLABLE Sorry the script already executed write commands")


def test_a_script_whose_write_changed_nothing_is_still_unkillable(nodes: list[Proc]) -> None:
    """Calling a write command is what counts (Redis's SCRIPT_WRITE_DIRTY), not whether
    it changed a key: a DEL of a missing key already makes the script unkillable."""
    script = WRITE_THEN_LOOP.replace("redis.call('set', 'w', 1)", "redis.call('del', 'missing')")
    answers = []
    for proc in nodes:
        with RawClient(proc.port, timeout=60) as runner, RawClient(proc.port, timeout=60) as other:
            runner.send(encode_command(["EVAL", script, "0"]))
            time.sleep(0.3)
            busy = other.call("PING")
            kill = other.call("SCRIPT", "KILL")
            reply = runner.read_frame()
            answers.append((busy.startswith(b"-BUSY"), kill, reply))
    ref, eng = answers
    assert eng == ref, (eng, ref)
    assert eng[1].startswith(b"-UNKILLABLE Sorry the script already executed write commands")
    assert eng[2] == b":60000000\r\n"


def test_other_clients_wait_is_bounded_by_the_threshold_not_the_script(nodes: list[Proc]) -> None:
    """The node's own CPU keeps the script running while another client is answered:
    the answer comes after about the threshold, however long the script runs."""
    eng = nodes[1]
    with RawClient(eng.port, timeout=30) as runner, RawClient(eng.port, timeout=30) as other:
        cpu_before = _cpu_seconds(eng.pid)
        runner.send(encode_command(["EVAL", LOOP, "0"]))
        time.sleep(0.05)
        started = time.monotonic()
        assert other.call("PING").startswith(b"-BUSY")
        waited = time.monotonic() - started
        time.sleep(1.0)
        assert other.call("PING").startswith(b"-BUSY")  # still running, still answering
        burnt = _cpu_seconds(eng.pid) - cpu_before
        assert other.call("SCRIPT", "KILL") == b"+OK\r\n"
        assert runner.read_frame().startswith(b"-ERR Script killed by user")
        assert other.call("PING") == b"+PONG\r\n"
    # Generous for a loaded host: the threshold is 0.2 s, the script ran well past 1 s
    # (CPU time, measured from /proc), yet the other client's first answer came in a few seconds at most.
    assert burnt > 0.25, burnt
    assert waited < 4.0, waited
