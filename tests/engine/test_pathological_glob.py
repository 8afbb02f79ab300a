"""The longest patterns a learner's console line can hold never stall a node.

A console line is at most 16 KiB (``SandboxLimits.max_message_bytes``), so a pattern
and a key, member or channel name are each about 10 KB at worst. Each of the four
paths that match patterns — KEYS, SCAN MATCH (and the collection SCANs), PSUBSCRIBE
(at PUBLISH), ACL key and channel patterns (at every command) — is driven with the
shapes that hurt matchers: many stars before a byte that never comes
(``a*a*...*b``), and a long run of one-byte classes between stars, which a
position-by-position search tries at every offset (O(pattern * string): minutes for
50 such keys). What is bounded is the node's CPU time (utime + stime from /proc),
which holds on a loaded host where wall time does not.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import pytest

from sandbox.engine.resp import encode_command

from .rawclient import RawClient
from .servers import Proc, engine_process

LONG = b"a" * 10_000
STARS = b"a*" * 40 + b"b"  # 81 bytes, 40 stars: exponential for a backtracking matcher
CLASSES = b"*" + b"[a]" * 3000 + b"b*"  # 9 KB: one part of 3000 classes, almost fitting everywhere
PATTERNS = (STARS, CLASSES, CLASSES.replace(b"[a]", b"?", 1500))
KEYS = 50
CPU_BUDGET_S = 3.0  # ~0.3 s here; the search position by position took minutes


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (fields 14 and 15)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture(scope="module")
def node() -> Iterator[Proc]:
    with engine_process() as proc:
        yield proc


def spent(node: Proc, before: float) -> float:
    return cpu_seconds(node.pid) - before


def test_keys_and_scan_match_with_the_worst_patterns_cost_the_node_little(node: Proc) -> None:
    with RawClient(node.port, timeout=300) as c:
        c.call("FLUSHALL")
        for i in range(KEYS):
            assert c.call("SET", LONG + b"%d" % i, "v") == b"+OK\r\n"
        c.call("SADD", "s", *(LONG + b"%d" % i for i in range(KEYS)))
        c.call("HSET", "h", *(x for i in range(KEYS) for x in (LONG + b"%d" % i, b"v")))
        c.call("ZADD", "z", *(x for i in range(KEYS) for x in (b"1", LONG + b"%d" % i)))
        before = cpu_seconds(node.pid)
        for pattern in PATTERNS:
            assert c.call("KEYS", pattern) == b"*0\r\n"
            assert c.call("SCAN", "0", "MATCH", pattern, "COUNT", "1000") == b"*2\r\n$1\r\n0\r\n*0\r\n"
            for kind, key in (("SSCAN", "s"), ("HSCAN", "h"), ("ZSCAN", "z")):
                assert c.call(kind, key, "0", "MATCH", pattern, "COUNT", "1000") == b"*2\r\n$1\r\n0\r\n*0\r\n"
        # The same long part does fit when the string allows it: the answer is not just "no".
        assert c.call("KEYS", CLASSES.replace(b"b*", b"*")).startswith(b"*%d\r\n" % KEYS)
        assert spent(node, before) < CPU_BUDGET_S


def test_a_publish_to_a_long_channel_against_the_worst_psubscribe_patterns_costs_little(node: Proc) -> None:
    subscriber = socket.create_connection(("127.0.0.1", node.port), timeout=10)
    try:
        subscriber.sendall(encode_command([b"PSUBSCRIBE", *PATTERNS]))
        with RawClient(node.port, timeout=300) as c:
            deadline = time.monotonic() + 10
            while c.call("PUBSUB", "NUMPAT") != b":%d\r\n" % len(PATTERNS):
                assert time.monotonic() < deadline, "the subscriber never subscribed"
                time.sleep(0.05)
            before = cpu_seconds(node.pid)
            for i in range(KEYS):
                assert c.call("PUBLISH", LONG + b"%d" % i, "hi") == b":0\r\n"
            assert spent(node, before) < CPU_BUDGET_S
    finally:
        subscriber.close()


@pytest.mark.parametrize("pattern", PATTERNS, ids=["stars", "classes", "classes-and-any"])
def test_acl_key_and_channel_patterns_cost_every_command_little(node: Proc, pattern: bytes) -> None:
    with RawClient(node.port, timeout=300) as c:
        assert c.call("ACL", "SETUSER", "slow", "reset", "on", "nopass", b"~" + pattern, b"&" + pattern,
                      "+get", "+publish") == b"+OK\r\n"
        assert c.call("AUTH", "slow", "x") == b"+OK\r\n"
        before = cpu_seconds(node.pid)
        for i in range(KEYS // 2):
            assert c.call("GET", LONG + b"%d" % i).startswith(b"-NOPERM")
            assert c.call("PUBLISH", LONG + b"%d" % i, "hi").startswith(b"-NOPERM")
        assert spent(node, before) < CPU_BUDGET_S
