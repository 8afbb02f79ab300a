"""SCRIPT KILL reaches a loop wherever it runs: inside a coroutine (create or wrap)
as in the script's own body, on a real engine process, each step also sent to
redis-server 7.0 (whose hook every new Lua thread inherits)."""

from __future__ import annotations

import time
from typing import Iterator

import pytest

from sandbox.engine.resp import encode_command

from .rawclient import RawClient
from .servers import Proc, engine_process, redis_process

IN_COROUTINE = "local co = coroutine.create(function() while true do end end) coroutine.resume(co)"
IN_WRAP = "local f = coroutine.wrap(function() while true do end end) f()"
NESTED = ("local co = coroutine.create(function() "
          "local inner = coroutine.create(function() while true do end end) coroutine.resume(inner) end) "
          "coroutine.resume(co) while true do end")


@pytest.fixture
def nodes() -> Iterator[list[Proc]]:
    """A fresh engine and a fresh redis-server: a runaway script must not leak into
    other tests' servers."""
    with engine_process() as eng, redis_process() as ref:
        for p in (eng, ref):
            with RawClient(p.port) as c:
                assert c.call("CONFIG", "SET", "busy-reply-threshold", "100") == b"+OK\r\n"
        yield [ref, eng]


def _kill_round(port: int, script: str) -> tuple[bytes, bytes, bytes, tuple[bytes, bytes]]:
    with RawClient(port, timeout=30) as runner, RawClient(port, timeout=30) as other:
        runner.send(encode_command(["EVAL", script, "0"]))
        time.sleep(0.4)
        busy = other.call("PING")
        kill = other.call("SCRIPT", "KILL")
        killed = runner.read_frame()  # times out (the test fails) if the loop ignores the kill
        return busy, kill, killed, (other.call("PING"), runner.call("PING"))


@pytest.mark.parametrize("script", [IN_COROUTINE, IN_WRAP, NESTED], ids=["create", "wrap", "nested"])
def test_it_kills_a_loop_running_inside_a_coroutine(nodes: list[Proc], script: str) -> None:
    ref, eng = (_kill_round(p.port, script) for p in nodes)
    assert eng[0] == b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
    assert eng[1] == b"+OK\r\n"
    assert eng[3] == (b"+PONG\r\n", b"+PONG\r\n")
    # As in Redis, the kill is an error raised in the coroutine: resume returns it
    # (create) or wrap raises it again; a script that goes on looping is killed too.
    assert eng == ref, (eng, ref)


def test_coroutines_still_work_as_lua_defines_them(diff) -> None:  # type: ignore[no-untyped-def]
    # The hooked create/wrap keep Lua's own results, errors and positions.
    diff("EVAL", "local co = coroutine.create(function(a) local b = coroutine.yield(a + 1) return b * 2 end) "
                 "local r = {coroutine.resume(co, 1)} local s = {coroutine.resume(co, 5)} "
                 "return {tostring(r[1]), r[2], tostring(s[1]), s[2], coroutine.status(co)}", "0")
    diff("EVAL", "local f = coroutine.wrap(function() coroutine.yield(7) coroutine.yield(8) end) "
                 "return {f(), f()}", "0")
    diff("EVAL", "local f = coroutine.wrap(function() error('boom') end) return f()", "0")
    diff("EVAL", "local f = coroutine.wrap(function() error({err='ERR tabled'}) end) return f()", "0")
    diff("EVAL", "local co = coroutine.create(function() error('x') end) "
                 "local ok, e = coroutine.resume(co) return {tostring(ok), e}", "0")
