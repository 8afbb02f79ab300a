"""The glob matcher (``sandbox/engine/glob.py``) against a real redis-server.

Random patterns over the bytes that mean something to the matcher (``*?[]^-\\``)
and a few plain ones must select exactly the keys Redis selects; ``COMMAND LIST
FILTERBY PATTERN`` (which Redis matches case-insensitively) checks ``nocase``. A
pattern that is exponential for a naive backtracking matcher must cost the node
well under a second of CPU through every command that matches globs.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Iterator

import hiredis
import pytest
import redis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sandbox.engine.glob import match
from sandbox.engine.resp import encode_command

from .rawclient import RawClient
from .servers import Proc, engine_process

# 0xC8 is negative as a C char: it tells whether ranges compare like Redis's.
ALPHABET = b"ab*?[]^-\\A\xc8"
PATTERN = st.binary(max_size=10).map(lambda b: bytes(ALPHABET[x % len(ALPHABET)] for x in b))
STRINGS = st.lists(
    st.binary(max_size=7).map(lambda b: bytes(b"abA*?[]^-\\\xc8"[x % 11] for x in b)),
    min_size=1, max_size=8, unique=True,
)
PATHOLOGICAL = b"a*" * 20 + b"b"
LONG_A = b"a" * 40


@pytest.fixture(scope="module")
def ref(redis_proc: Proc) -> Iterator[redis.Redis]:
    client = redis.Redis(port=redis_proc.port)
    yield client
    client.close()


@pytest.fixture(scope="module")
def eng(engine_proc: Proc) -> Iterator[redis.Redis]:
    client = redis.Redis(port=engine_proc.port)
    yield client
    client.close()


def redis_keys(client: redis.Redis, pattern: bytes, strings: list[bytes]) -> set[bytes]:
    client.flushall()
    client.mset({s: b"1" for s in strings})
    return set(client.keys(pattern))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pattern=PATTERN, strings=STRINGS)
@example(pattern=b"[^a]", strings=[b"a", b"b", b""])
@example(pattern=b"[b-a]", strings=[b"a", b"b", b"c"])
@example(pattern=b"[a", strings=[b"a", b"[", b"[a"])
@example(pattern=b"[\\]]", strings=[b"]", b"\\", b"]]"])
@example(pattern=b"a\\", strings=[b"a\\", b"a"])
@example(pattern=b"\\*", strings=[b"*", b"a"])
@example(pattern=b"[a-\xc8]", strings=[b"a", b"b", b"A", b"-", b"\xc8"])
@example(pattern=b"**", strings=[b"", b"a"])
@example(pattern=b"", strings=[b"", b"a"])
def test_it_selects_the_same_keys_as_redis(ref: redis.Redis, eng: redis.Redis, pattern: bytes,
                                           strings: list[bytes]) -> None:
    expected = redis_keys(ref, pattern, strings)
    # KEYS special-cases a bare '*' (every key, even ""); the matcher itself does not.
    local = {s for s in strings if pattern == b"*" or match(pattern, s)}
    assert local == expected, f"pattern {pattern!r}"
    assert redis_keys(eng, pattern, strings) == expected, f"engine KEYS {pattern!r}"


NOCASE_PATTERN = st.binary(min_size=1, max_size=8).map(
    lambda b: bytes(b"gGeEtT|*?[]^-\\c"[x % 15] for x in b)
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pattern=NOCASE_PATTERN)
@example(pattern=b"[E-g]*")
@example(pattern=b"[\\G]et")
@example(pattern=b"*[^T]")
def test_it_folds_case_like_redis(redis_proc: Proc, pattern: bytes) -> None:
    with RawClient(redis_proc.port) as c:
        names = parse(c.call("COMMAND", "LIST"))
        expected = set(parse(c.call("COMMAND", "LIST", "FILTERBY", "PATTERN", pattern)))
    assert {n for n in names if match(pattern, n, nocase=True)} == expected, f"pattern {pattern!r}"


def parse(frame: bytes) -> list[bytes]:
    reader = hiredis.Reader()
    reader.feed(frame)
    return reader.gets()


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (fields 14 and 15)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture(scope="module")
def node() -> Iterator[Proc]:
    with engine_process() as proc:
        yield proc


def test_a_pathological_keys_pattern_costs_the_node_under_a_second(node: Proc) -> None:
    with RawClient(node.port, timeout=120) as c:
        c.call("SET", LONG_A, "1")
        before = cpu_seconds(node.pid)
        assert c.call("KEYS", PATHOLOGICAL) == b"*0\r\n"
        assert c.call("SCAN", "0", "MATCH", PATHOLOGICAL) == b"*2\r\n$1\r\n0\r\n*0\r\n"
        c.call("SADD", "s", LONG_A)
        c.call("HSET", "h", LONG_A, "v")
        c.call("ZADD", "z", "1", LONG_A)
        assert c.call("SSCAN", "s", "0", "MATCH", PATHOLOGICAL) == b"*2\r\n$1\r\n0\r\n*0\r\n"
        assert c.call("HSCAN", "h", "0", "MATCH", PATHOLOGICAL) == b"*2\r\n$1\r\n0\r\n*0\r\n"
        assert c.call("ZSCAN", "z", "0", "MATCH", PATHOLOGICAL) == b"*2\r\n$1\r\n0\r\n*0\r\n"
        assert c.call("KEYS", b"a*" * 20 + b"a") == b"*1\r\n$40\r\n" + LONG_A + b"\r\n"
        assert cpu_seconds(node.pid) - before < 1.0


def test_a_pathological_psubscribe_pattern_costs_a_publish_under_a_second(node: Proc) -> None:
    sub = socket.create_connection(("127.0.0.1", node.port), timeout=10)
    try:
        sub.sendall(encode_command([b"PSUBSCRIBE", PATHOLOGICAL]))
        time.sleep(0.2)
        with RawClient(node.port, timeout=120) as c:
            before = cpu_seconds(node.pid)
            for _ in range(5):
                assert c.call("PUBLISH", LONG_A, "hi") == b":0\r\n"
            assert cpu_seconds(node.pid) - before < 1.0
    finally:
        sub.close()


def test_a_pathological_acl_key_pattern_costs_a_command_under_a_second(node: Proc) -> None:
    with RawClient(node.port, timeout=120) as c:
        assert c.call("ACL", "SETUSER", "slow", "on", "nopass", b"~" + PATHOLOGICAL, "+get") == b"+OK\r\n"
        assert c.call("AUTH", "slow", "x") == b"+OK\r\n"
        before = cpu_seconds(node.pid)
        assert c.call("GET", LONG_A).startswith(b"-NOPERM")
        assert cpu_seconds(node.pid) - before < 1.0
