"""One command from a learner must not stall or bloat a node.

* Counts and offsets at their edges get Redis 7.0's exact replies (differential).
* A reply whose size the learner controls with a count (a negative *RANDMEMBER
  count) is weighed before it is built: past the client's hard output limit the
  client is closed, as redis-server with the same ``client-output-buffer-limit``
  closes it, and the node's memory stays flat. Without a limit the reply is sent.
* With maxmemory, a write that would itself take the node past it (SETRANGE's
  offset, SETBIT's, BITFIELD's) is refused with the OOM error before allocating.
"""

from __future__ import annotations

import time
from typing import Iterator

import pytest

from sandbox.engine.resp import encode_command

from .conftest import Differ
from .rawclient import RawClient
from .servers import Proc, engine_process, redis_process

LIMIT = 32 * 1024 * 1024


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * 4096


def test_edge_counts_and_offsets_get_redis_replies(diff: Differ) -> None:
    diff.many("""
        SADD s a
        SRANDMEMBER s -9223372036854775808
        SRANDMEMBER s 9223372036854775807
        SRANDMEMBER s -3
        HSET h f v
        HRANDFIELD h -9223372036854775808
        HRANDFIELD h -9223372036854775808 WITHVALUES
        HRANDFIELD h -4611686018427387904 WITHVALUES
        HRANDFIELD h 4611686018427387904 WITHVALUES
        HRANDFIELD h 4611686018427387903 WITHVALUES
        ZADD z 1 m
        ZRANDMEMBER z -9223372036854775808
        ZRANDMEMBER z -4611686018427387904 WITHSCORES
        ZRANDMEMBER z 4611686018427387903 WITHSCORES
        SETRANGE k 536870912 x
        SETRANGE k 9223372036854775807 x
        SETRANGE k -1 x
        SETRANGE k 536870912 ""
        SETRANGE k 99999999999999999999 x
        SETBIT b 4294967296 1
        SETBIT b -1 1
        SETBIT b 9223372036854775807 1
        GETBIT b 4294967296
        BITFIELD bf SET u8 4294967296 1
        BITFIELD bf SET u8 #536870912 1
        BITFIELD bf SET u8 #-1 1
        BITFIELD bf SET u8 #9223372036854775807 1
        SET str hello
        APPEND str x
        GETRANGE str 0 9223372036854775807
        GETRANGE str -9223372036854775808 9223372036854775807
        GETRANGE str 9223372036854775807 -9223372036854775808
        RPUSH l a b c a
        LPOS l a RANK -9223372036854775808
        LPOS l a RANK 9223372036854775807
        LPOS l a COUNT 9223372036854775807
        LPOS l a MAXLEN 9223372036854775807
        LPOS l a COUNT -1
        LRANGE l 0 9223372036854775807
        SPOP s -1
        LPOP l 9223372036854775807
    """)


# -- replies over the output limit ---------------------------------------------------------


@pytest.fixture(scope="module")
def limited() -> Iterator[tuple[Proc, Proc]]:
    """redis-server and the engine, both with a 32 MB hard limit for normal clients."""
    with redis_process("--client-output-buffer-limit", f"normal {LIMIT} 0 0") as ref, \
            engine_process("--client-output-buffer-limit", "32mb") as eng:
        yield ref, eng


def run_until_closed(port: int, setup: list[list[bytes | str]], commands: list[list[bytes | str]],
                     timeout: float = 60.0) -> tuple[bytes, bool]:
    """Run ``setup`` (replies read), then send ``commands`` in one write and read
    until the server closes the connection or ``timeout``: (bytes read, closed)."""
    with RawClient(port, timeout=timeout) as client:
        client.call("FLUSHALL")
        for argv in setup:
            client.call(*argv)
        sock = client.sock
        sock.sendall(b"".join(encode_command(argv) for argv in commands))
        received = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(1 << 20)
            except ConnectionResetError:
                return received, True
            if not chunk:
                return received, True
            received += chunk
            if len(received) > 4 * LIMIT:
                break
        return received, False


OVERSIZED = [
    pytest.param([["SADD", "s", "a"]], ["SRANDMEMBER", "s", "-10000000"], id="srandmember"),
    pytest.param([["HSET", "h", "f", "v"]], ["HRANDFIELD", "h", "-10000000", "WITHVALUES"], id="hrandfield"),
    pytest.param([["ZADD", "z", "1", "m"]], ["ZRANDMEMBER", "z", "-10000000", "WITHSCORES"], id="zrandmember"),
    # Few picks, each big: refused once the drawn reply passes the limit.
    pytest.param([["SADD", "big", "x" * 1_000_000]], ["SRANDMEMBER", "big", "-100"], id="big-members"),
]


@pytest.mark.parametrize("setup, command", OVERSIZED)
def test_it_closes_a_client_whose_counted_reply_passes_its_output_limit(
    limited: tuple[Proc, Proc], setup: list[list[str]], command: list[str]
) -> None:
    ref, eng = limited
    expected = run_until_closed(ref.port, setup, [command])
    assert expected[1], "redis-server should have closed the client"
    rss_before = rss_bytes(eng.pid)
    got = run_until_closed(eng.port, setup, [command])
    assert got == expected
    # Nothing was built: not 10M picks (~1 GB of Python objects), not even 32 MB.
    assert rss_bytes(eng.pid) - rss_before < 24 * 1024 * 1024
    with RawClient(eng.port) as other:
        assert other.call("PING") == b"+PONG\r\n"


def test_a_counted_reply_under_the_limit_is_sent_whole(limited: tuple[Proc, Proc]) -> None:
    ref, eng = limited
    setup = [["SADD", "big", "x" * 1_000_000]]
    for proc in (ref, eng):
        with RawClient(proc.port, timeout=30) as c:
            c.call("FLUSHALL")
            c.call(*setup[0])
            reply = c.call("SRANDMEMBER", "big", "-20")
            assert reply.startswith(b"*20\r\n") and len(reply) > 20_000_000


def test_the_rest_of_an_exec_runs_when_its_reply_closes_the_client(limited: tuple[Proc, Proc]) -> None:
    ref, eng = limited
    setup = [["SADD", "s", "a"]]
    commands: list[list[bytes | str]] = [
        ["MULTI"], ["SRANDMEMBER", "s", "-10000000"], ["SET", "after", "1"], ["EXEC"],
    ]
    expected = run_until_closed(ref.port, setup, commands)
    assert expected[1]
    assert run_until_closed(eng.port, setup, commands) == expected
    for proc in (ref, eng):
        with RawClient(proc.port) as c:
            assert c.call("GET", "after") == b"$1\r\n1\r\n"


def test_without_an_output_limit_a_huge_counted_reply_is_sent() -> None:
    with engine_process("--client-output-buffer-limit", "0") as eng, RawClient(eng.port, timeout=60) as c:
        c.call("SADD", "s", "a")
        reply = c.call("SRANDMEMBER", "s", "-300000")
        assert reply.startswith(b"*300000\r\n") and reply.count(b"$1\r\na\r\n") == 300000


# -- writes that would pass maxmemory --------------------------------------------------------


@pytest.fixture
def small_node() -> Iterator[Proc]:
    """A fresh node per test: one accepted oversized write would fail the next test."""
    with engine_process("--maxmemory", "64mb") as proc:
        yield proc


@pytest.mark.parametrize("command", [
    ["SETRANGE", "k", "100000000", "x"],
    ["SETBIT", "b", "800000000", "1"],
    ["BITFIELD", "bf", "SET", "u8", "#100000000", "1"],
    ["BITFIELD", "bf", "GET", "u8", "0", "INCRBY", "u8", "800000000", "1"],
], ids=["setrange", "setbit", "bitfield-set", "bitfield-incrby"])
def test_a_write_that_would_pass_maxmemory_is_refused_before_it_allocates(
    small_node: Proc, command: list[str]
) -> None:
    with RawClient(small_node.port, timeout=60) as c:
        assert c.call(*command) == b"-OOM command not allowed when used memory > 'maxmemory'.\r\n"
        assert c.call("EXISTS", command[1]) == b":0\r\n"
    assert rss_bytes(small_node.pid) < 200 * 1024 * 1024


def test_writes_under_maxmemory_still_succeed(small_node: Proc) -> None:
    with RawClient(small_node.port) as c:
        assert c.call("SET", "small", "v") == b"+OK\r\n"
        assert c.call("SETRANGE", "padded", "1000000", "x") == b":1000001\r\n"
        assert c.call("SETBIT", "bits", "8000000", "1") == b":0\r\n"
        assert c.call("APPEND", "small", "w") == b":2\r\n"
        # Past proto-max-bulk-len the command's own error wins, as in Redis.
        assert c.call("SETRANGE", "k", "600000000", "x") == (
            b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"
        )
        c.call("DEL", "padded", "bits")


SORT_GETS = ["GET", "#"] * 1000  # 6 KB of arguments, times the list


def test_sort_gets_that_multiply_past_the_output_limit_close_the_client(limited: tuple[Proc, Proc]) -> None:
    ref, eng = limited
    setup: list[list[bytes | str]] = [["RPUSH", "l", *range(10_000)]]
    command: list[bytes | str] = ["SORT", "l", "BY", "nosort", *SORT_GETS]
    expected = run_until_closed(ref.port, setup, [command])
    assert expected[1]
    assert run_until_closed(eng.port, setup, [command]) == expected


def test_a_sort_store_that_multiplies_past_maxmemory_is_refused(small_node: Proc) -> None:
    with RawClient(small_node.port, timeout=60) as c:
        c.call("RPUSH", "l", *range(10_000))
        assert c.call("SORT", "l", "BY", "nosort", *SORT_GETS, "STORE", "dst") == (
            b"-OOM command not allowed when used memory > 'maxmemory'.\r\n"
        )
        assert c.call("SORT", "l", "BY", "nosort", "GET", "#", "GET", "#", "STORE", "dst") == b":20000\r\n"
    assert rss_bytes(small_node.pid) < 200 * 1024 * 1024
