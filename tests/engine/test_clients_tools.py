"""Real tools against the engine: redis-cli (one-shot, piped, --no-raw, -3 and its
interactive mode, which reads COMMAND DOCS at start), redis-benchmark (which reads
CONFIG GET save/appendonly first) and redis-py asyncio with hiredis over RESP3.
Where the output is deterministic it is compared with the same tool against
redis-server."""

from __future__ import annotations

import asyncio
import os
import pty
import select
import shutil
import subprocess
import time

import pytest
import redis
import redis.asyncio
from redis.utils import HIREDIS_AVAILABLE

from sandbox.engine.commands import REGISTRY, load_all

from .conftest import Differ
from .servers import Proc

CLI = shutil.which("redis-cli")
BENCHMARK = shutil.which("redis-benchmark")
pytestmark = pytest.mark.skipif(CLI is None or BENCHMARK is None, reason="redis-tools not installed")
load_all()


def cli(port: int, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "-p", str(port), *args], input=stdin, capture_output=True, text=True, timeout=30,
    )


SCRIPT = [
    ["PING"],
    ["SET", "greeting", "hello world"],
    ["GET", "greeting"],
    ["GET", "missing"],
    ["INCR", "counter"],
    ["RPUSH", "list", "a", "b", ""],
    ["LRANGE", "list", "0", "-1"],
    ["HSET", "hash", "field", "value"],
    ["HGETALL", "hash"],
    ["CONFIG", "GET", "maxmemory"],
    ["CLIENT", "SETNAME", "cli"],
    ["DBSIZE"],
    ["NOSUCHCOMMAND", "x"],
    ["SELECT", "99"],
    ["PUBSUB", "NUMSUB", "a"],
    ["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"],
    # The families added for issue 14, as redis-cli prints them.
    ["EVAL", "return {1, 'two', {3}, redis.call('INCR', KEYS[1])}", "1", "counter"],
    ["EVAL", "return redis.error_reply('custom')", "0"],
    ["SCRIPT", "EXISTS", "0000000000000000000000000000000000000000"],
    ["PFADD", "visitors", "a", "b", "c"],
    ["PFCOUNT", "visitors"],
    ["GEOADD", "places", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"],
    ["GEODIST", "places", "Palermo", "Catania", "km"],
    ["GEOPOS", "places", "Palermo", "nowhere"],
    ["GEOSEARCH", "places", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC", "WITHDIST"],
    ["BLPOP", "no-such-list", "0.01"],
    ["BZPOPMIN", "places", "0.01"],
    ["OBJECT", "ENCODING", "hash"],
]


@pytest.mark.parametrize("mode", [[], ["--no-raw"], ["--raw"], ["-3"], ["-3", "--no-raw"]],
                         ids=["default", "no-raw", "raw", "resp3", "resp3-no-raw"])
def test_redis_cli_prints_the_same_as_against_redis(mode: list[str], diff: Differ,
                                                    redis_proc: Proc, engine_proc: Proc) -> None:
    for argv in SCRIPT:
        want = cli(redis_proc.port, *mode, *argv)
        got = cli(engine_proc.port, *mode, *argv)
        assert (got.stdout, got.stderr, got.returncode) == (want.stdout, want.stderr, want.returncode), argv


def test_redis_cli_reads_commands_from_a_pipe(diff: Differ, redis_proc: Proc, engine_proc: Proc) -> None:
    script = "\n".join(" ".join(f'"{a}"' if " " in a or not a else a for a in argv) for argv in SCRIPT) + "\n"
    want = cli(redis_proc.port, stdin=script)
    got = cli(engine_proc.port, stdin=script)
    assert got.stdout == want.stdout and got.returncode == want.returncode


def test_redis_cli_key_scans_run(engine_proc: Proc, diff: Differ) -> None:
    r = redis.Redis(port=engine_proc.port)
    r.set("s", "x" * 100)
    r.rpush("l", *range(10))
    r.close()
    for option in ("--bigkeys", "--memkeys"):
        out = cli(engine_proc.port, option)
        assert out.returncode == 0 and "Sampled 2 keys" in out.stdout, out.stdout + out.stderr


class Terminal:
    """redis-cli on a pseudo-terminal, answering linenoise's cursor-position queries."""

    def __init__(self, port: int) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child becomes redis-cli
            os.execv(CLI, [CLI, "-p", str(port)])
        self.out = b""
        self.answered = 0
        self.mark = 0

    def pump(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([self.fd], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:
                return
            self.out += chunk
            while self.answered < self.out.count(b"\x1b[6n"):
                os.write(self.fd, b"\x1b[1;1R")
                self.answered += 1

    def wait_for(self, token: bytes, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while token not in self.out[self.mark:]:
            assert time.monotonic() < deadline, self.out[-2000:]
            self.pump(0.05)
        self.mark = self.out.index(token, self.mark) + len(token)

    def type(self, line: bytes) -> None:
        self.pump(0.3)  # let the prompt's cursor queries finish before typing
        self.mark = len(self.out)
        os.write(self.fd, line + b"\r")

    def close(self) -> int:
        try:
            _, status = os.waitpid(self.pid, 0)
            return os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
        finally:
            os.close(self.fd)

    def kill(self) -> None:
        try:
            os.kill(self.pid, 9)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def test_redis_cli_interactive_session(engine_proc: Proc) -> None:
    """Interactive mode fetches COMMAND DOCS for its hints; it must start and work."""
    term = Terminal(engine_proc.port)
    try:
        term.wait_for(b"> ")
        term.type(b"set tty-key hello")
        term.wait_for(b"OK")
        term.wait_for(b"> ")
        term.type(b"get tty-key")
        term.wait_for(b'"hello"')
        term.wait_for(b"> ")
        # HELP is built from our COMMAND DOCS: the summary and the syntax rendered from the arguments.
        term.type(b"help config get")
        term.wait_for(b"parameter [parameter ...]")
        term.wait_for(REGISTRY[b"config"].subcommands[b"get"].summary.encode())
        term.wait_for(b"> ")
        term.type(b"quit")
        assert term.close() == 0
    except BaseException:
        term.kill()
        raise


@pytest.mark.parametrize("tests,requests", [("set,get", 10000), ("ping,set,get", 2000)])
def test_redis_benchmark_runs_cleanly(tests: str, requests: int, engine_proc: Proc) -> None:
    run = subprocess.run(
        [BENCHMARK, "-p", str(engine_proc.port), "-q", "-t", tests, "-n", str(requests)],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    output = run.stdout + run.stderr
    assert "WARN" not in output and "ERR" not in output, output
    lines = [line.rsplit("\r", 1)[-1] for line in run.stdout.splitlines() if "requests per second" in line]
    names = [line.split(":")[0] for line in lines]
    expected = {"set,get": ["SET", "GET"], "ping,set,get": ["PING_INLINE", "PING_MBULK", "SET", "GET"]}[tests]
    assert names == expected, run.stdout


def test_redis_py_asyncio_with_hiredis_over_resp3(engine_proc: Proc) -> None:
    assert HIREDIS_AVAILABLE

    async def main() -> None:
        r = redis.asyncio.Redis(port=engine_proc.port, protocol=3, decode_responses=True)
        try:
            assert await r.ping() is True
            assert await r.set("k", "v") is True and await r.get("k") == "v"
            info = await r.info()
            assert info["redis_version"] == "7.0.15" and info["role"] == "master"
            assert (await r.info("keyspace"))["db0"]["keys"] >= 1
            assert await r.config_get("maxmemory") == {"maxmemory": "0"}
            assert await r.config_set("hz", 10) is True
            assert len(await r.time()) == 2
            await r.client_setname("async")
            assert any(c["name"] == "async" for c in await r.client_list())
            async with r.pipeline(transaction=True) as pipe:
                pipe.incr("n").incr("n").dbsize()
                assert (await pipe.execute())[:2] == [1, 2]
            assert await r.memory_usage("k") > 0
        finally:
            await r.flushall()
            await r.aclose()

    asyncio.run(main())
