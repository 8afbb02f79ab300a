"""What string and bitmap writes hand to the log: deterministic effects (absolute
expiry times, INCRBYFLOAT's printed result, DEL for GETDEL) and nothing for a write
that changed nothing; replaying the effects on a fresh node rebuilds the same data
and the same expiry times."""

from __future__ import annotations

from typing import Any

import pytest

from .effects import EffectNode

NOW = 1_700_000_000.0  # the node's clock, seconds
NOW_MS = int(NOW * 1000)


@pytest.fixture
def node() -> EffectNode:
    n = EffectNode()
    n.server.clock = lambda: NOW
    return n


def b(*args: Any) -> list[bytes]:
    return [a if isinstance(a, bytes) else str(a).encode() for a in args]


def expires(n: EffectNode) -> dict[int, dict[bytes, int]]:
    return {db.id: dict(db.expires) for db in n.server.keyspace.dbs if db.expires}


def assert_replays(n: EffectNode) -> None:
    """Replaying everything logged so far on a fresh node gives the same keyspace."""
    replica = EffectNode()
    replica.server.clock = lambda: NOW
    n.replay_into(replica, list(n.log.entries))
    assert replica.snapshot() == n.snapshot()
    assert expires(replica) == expires(n)


def test_it_logs_set_with_a_relative_expiry_as_an_absolute_one(node):
    node.run("SET", "k", "v", "EX", 100)
    node.run("SET", "k", "v", "PX", 1500, "NX")
    node.run("SET", "k", "v2", "PX", 1500, "XX", "GET")
    node.run("SET", "k", "v3", "EXAT", 1_800_000_000)
    node.run("SET", "k", "v4", "PXAT", 1_800_000_000_123, "GET")
    assert node.effects() == [
        b("SET", "k", "v", "PXAT", NOW_MS + 100_000),
        b("SET", "k", "v2", "PXAT", NOW_MS + 1500),
        b("SET", "k", "v3", "PXAT", 1_800_000_000_000),
        b("SET", "k", "v4", "PXAT", 1_800_000_000_123),
    ]


def test_it_logs_setex_and_psetex_as_set_pxat(node):
    node.run("SETEX", "s", 10, "v")
    node.run("PSETEX", "p", 250, "v")
    assert node.effects() == [
        b("SET", "s", "v", "PXAT", NOW_MS + 10_000),
        b("SET", "p", "v", "PXAT", NOW_MS + 250),
    ]


def test_it_logs_set_get_without_its_get_option(node):
    node.run("SET", "k", "v", "GET")
    node.run("SET", "k", "v2", "get", "KEEPTTL", "GET")
    node.run("SET", "k", "v3", b"GET\x00junk", "XX")
    assert node.effects() == [b("SET", "k", "v"), b("SET", "k", "v2", "KEEPTTL"), b("SET", "k", "v3", "XX")]


def test_it_logs_plain_writes_as_their_own_argv(node):
    cmds = [
        ("SET", "k", "v"), ("SET", "k", "v", "KEEPTTL"), ("SETNX", "n", "1"), ("MSET", "a", "1", "b", "2"),
        ("MSETNX", "c", "3", "d", "4"), ("INCR", "n"), ("DECR", "n"), ("INCRBY", "n", 5), ("DECRBY", "n", 2),
        ("APPEND", "k", "x"), ("APPEND", "new", ""), ("SETRANGE", "k", 5, "yz"), ("SETBIT", "bits", 9, 1),
        ("BITFIELD", "bits", "SET", "u8", "#2", 7), ("BITOP", "OR", "dest", "bits", "k"),
    ]
    for cmd in cmds:
        node.run(*cmd)
    assert node.effects() == [b(*cmd) for cmd in cmds]


def test_it_logs_nothing_for_writes_that_changed_nothing(node):
    node.run("SET", "k", "v")
    node.run("SETBIT", "bits", 3, 1)
    node.run("BITFIELD", "f", "SET", "u8", 0, 200)
    node.effects()
    node.run("SET", "k", "v2", "NX")
    node.run("SET", "k", "v2", "NX", "GET")
    node.run("SET", "missing", "v", "XX")
    node.run("SETNX", "k", "v")
    node.run("MSETNX", "fresh", "1", "k", "2")
    node.run("SETRANGE", "k", 0, "")
    node.run("SETRANGE", "missing", 3, "")
    node.run("SETBIT", "bits", 3, 1)
    node.run("SETBIT", "bits", 4, 0)
    node.run("BITFIELD", "f", "SET", "u8", 0, 200, "INCRBY", "u8", 0, 0, "GET", "u8", 0)
    node.run("BITFIELD", "f", "OVERFLOW", "FAIL", "INCRBY", "u8", 0, 100)
    node.run("BITFIELD", "nokey", "GET", "u8", 0)
    node.run("BITOP", "AND", "dest", "missing", "missing2")
    node.run("GETEX", "k")
    node.run("GETEX", "k", "PERSIST")
    node.run("GETEX", "missing", "EX", 10)
    node.run("GETDEL", "missing")
    node.run("INCR", "k")
    node.run("SET", "k", "v", "EX", 0)
    assert node.effects() == []
    assert node.run("GET", "nokey") is None


def test_it_logs_getex_as_pexpireat_persist_or_del(node):
    node.run("SET", "k", "v")
    node.effects()
    node.run("GETEX", "k", "EX", 100)
    node.run("GETEX", "k", "PX", 100)
    node.run("GETEX", "k", "EXAT", 1_800_000_000)
    node.run("GETEX", "k", "PXAT", 1_800_000_000_001)
    node.run("GETEX", "k", "PERSIST")
    node.run("GETEX", "k", "PXAT", NOW_MS - 1)
    assert node.effects() == [
        b("PEXPIREAT", "k", NOW_MS + 100_000),
        b("PEXPIREAT", "k", NOW_MS + 100),
        b("PEXPIREAT", "k", 1_800_000_000_000),
        b("PEXPIREAT", "k", 1_800_000_000_001),
        b("PERSIST", "k"),
        b("DEL", "k"),
    ]
    assert node.snapshot() == {}


def test_it_logs_getdel_as_del_and_getset_as_set(node):
    node.run("SET", "k", "v", "EX", 100)
    node.effects()
    assert node.run("GETSET", "k", "w") == b"v"
    assert node.run("GETDEL", "k") == b"w"
    assert node.effects() == [b("SET", "k", "w"), b("DEL", "k")]


def test_it_logs_incrbyfloat_as_set_keepttl_of_the_printed_value(node):
    node.run("SET", "f", "10", "EX", 100)
    node.effects()
    assert node.run("INCRBYFLOAT", "f", "0.1") == b"10.1"
    assert node.run("INCRBYFLOAT", "f", "3.0000000000000001") == b"13.1000000000000001"  # as redis-server
    assert node.effects() == [b("SET", "f", "10.1", "KEEPTTL"), b("SET", "f", "13.1000000000000001", "KEEPTTL")]
    assert node.server.keyspace.dbs[0].expires[b"f"] == NOW_MS + 100_000


def test_it_logs_the_deletion_of_a_bitop_destination(node):
    node.run("SET", "dest", "old")
    node.effects()
    assert node.run("BITOP", "OR", "dest", "missing") == 0
    assert node.effects() == [b("BITOP", "OR", "dest", "missing")]
    assert node.snapshot() == {}


def test_it_logs_a_bitfield_that_only_grew_the_string(node):
    # Redis 7.0 creates the key here but logs nothing (its replicas miss it); we log.
    assert node.run("BITFIELD", "f", "OVERFLOW", "FAIL", "INCRBY", "u2", 0, 100) == [None]
    assert node.effects() == [b("BITFIELD", "f", "OVERFLOW", "FAIL", "INCRBY", "u2", 0, 100)]
    assert node.snapshot() == {0: {b"f": b"\x00"}}


def test_it_logs_lazy_expiry_before_the_command(node):
    node.run("SET", "k", "v", "PX", 10)
    node.effects()
    node.server.clock = lambda: NOW + 1
    assert node.run("GET", "k") is None
    node.run("SET", "t", "v", "PX", 10)
    node.server.clock = lambda: NOW + 2
    node.run("SET", "t", "w")
    assert node.effects() == [b("DEL", "k"), b("SET", "t", "v", "PXAT", NOW_MS + 1010), b("DEL", "t"), b("SET", "t", "w")]


def test_it_logs_a_transaction_with_rewritten_effects(node):
    node.run("MULTI")
    node.run("SET", "k", "1", "EX", 5)
    node.run("INCRBYFLOAT", "k", "0.5")
    node.run("GETDEL", "k")
    node.run("SET", "k", "v", "NX", "GET")
    assert node.run("EXEC") == [b"OK", b"1.5", b"1.5", None]
    assert node.log.entries == [(0, [
        b("MULTI"), b("SET", "k", "1", "PXAT", NOW_MS + 5000), b("SET", "k", "1.5", "KEEPTTL"),
        b("DEL", "k"), b("SET", "k", "v", "NX"), b("EXEC"),
    ])]


def test_replaying_the_effects_rebuilds_the_same_keyspace(node):
    script = [
        ("SET", "a", "1", "EX", 100), ("SET", "a", "2", "KEEPTTL", "GET"), ("SETEX", "b", 50, "x"),
        ("PSETEX", "c", 5000, "y"), ("SET", "d", "z", "PXAT", NOW_MS + 9999), ("GETEX", "d", "PERSIST"),
        ("GETEX", "b", "EX", 7), ("GETEX", "c", "EXAT", 1_800_000_000), ("SETNX", "e", "1"),
        ("INCRBYFLOAT", "e", "0.1"), ("INCRBYFLOAT", "e", "0.2"), ("INCRBYFLOAT", "a", "1e-20"),
        ("MSET", "f", "1", "g", "2"), ("MSETNX", "h", "3", "i", "4"), ("INCR", "f"), ("DECRBY", "g", 10),
        ("APPEND", "h", "tail"), ("SETRANGE", "i", 6, "mid"), ("GETSET", "j", "new"), ("GETDEL", "f"),
        ("SETBIT", "bits", 100, 1), ("SETBIT", "bits", 3, 1),
        ("BITFIELD", "bf", "SET", "i8", 0, -5, "INCRBY", "u4", "#3", 9, "OVERFLOW", "SAT", "INCRBY", "u4", 12, 99),
        ("BITFIELD", "bf", "OVERFLOW", "FAIL", "INCRBY", "u2", 200, 9),
        ("BITOP", "XOR", "x", "bits", "bf", "i"), ("BITOP", "NOT", "y", "x"), ("SET", "z", "v", "EX", 3),
        ("GETEX", "z", "PXAT", NOW_MS - 5), ("SELECT", 3), ("SET", "other", "db", "PX", 77),
        ("INCRBYFLOAT", "other2", "2.5"), ("SELECT", 0),
    ]
    for cmd in script:
        node.run(*cmd)
    assert_replays(node)
    assert expires(node)[0][b"a"] == NOW_MS + 100_000
    assert expires(node)[3] == {b"other": NOW_MS + 77}
