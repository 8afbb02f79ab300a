"""What sorted-set writes hand to the log, and that replaying it rebuilds the data.

Every sorted-set write is deterministic given the same data, so it propagates as
its own argv — except ZMPOP, which Redis 7.0 rewrites as ZPOPMIN/ZPOPMAX key count.
A write that changes nothing logs nothing; reads (ZRANDMEMBER included) never log.
"""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

from sandbox.engine.datatypes import ZSet

from .effects import EffectNode


def b(*args: Any) -> list[bytes]:
    return [a if isinstance(a, bytes) else str(a).encode() for a in args]


def exact_state(node: EffectNode) -> dict:
    """Every sorted set with the sign of its scores and its encoding: a replica must
    agree on -0 and on listpack vs skiplist (they change replies)."""
    out = {}
    for db in node.server.keyspace.dbs:
        for key, value in db.data.items():
            if type(value) is ZSet:
                out[(db.id, key)] = (
                    value.listpack,
                    [(m, s, math.copysign(1.0, s)) for s, m in value.ordered],
                )
            else:
                out[(db.id, key)] = value
    return out


def assert_replays(node: EffectNode) -> None:
    replica = EffectNode()
    node.replay_into(replica, node.log.entries)
    assert replica.snapshot() == node.snapshot()
    assert exact_state(replica) == exact_state(node)


WRITES = [
    ("ZADD", "z", 1, "a", 2, "b", 3, "c", -0.0, "zero"),
    ("ZADD", "z", "NX", "CH", 5, "a", 4, "d"),
    ("ZADD", "z", "XX", "GT", "CH", 10, "a", 0, "b"),
    ("ZADD", "z", "LT", "INCR", -1, "c"),
    ("ZINCRBY", "z", 0.1, "a"),
    ("ZINCRBY", "z", "-0", "zero"),
    ("ZADD", "big", "-0", "m" * 65, "-0", "neg"),
    ("ZINCRBY", "big", "-0", "neg2"),
    ("ZADD", "wide", *[x for i in range(150) for x in (i % 7, f"w{i}")]),
    ("ZREM", "z", "d", "nope"),
    ("ZREMRANGEBYRANK", "wide", 0, 9),
    ("ZREMRANGEBYSCORE", "wide", "(5", "+inf"),
    ("ZADD", "lex", 0, "a", 0, "b", 0, "c", 0, "d"),
    ("ZREMRANGEBYLEX", "lex", "[b", "(d"),
    ("ZPOPMIN", "wide"),
    ("ZPOPMAX", "wide", 3),
    ("ZMPOP", 2, "nokey", "wide", "MIN", "COUNT", 4),
    ("ZMPOP", 1, "z", "MAX"),
    ("ZRANGESTORE", "rs", "wide", 0, -1),
    ("ZRANGESTORE", "rs2", "wide", "-inf", "+inf", "BYSCORE", "LIMIT", 1, 5),
    ("ZRANGESTORE", "rs3", "lex", "+", "-", "BYLEX", "REV"),
    ("ZUNIONSTORE", "u", 3, "z", "wide", "big", "WEIGHTS", 1, -1, 2, "AGGREGATE", "MIN"),
    ("ZINTERSTORE", "i", 2, "wide", "rs", "WEIGHTS", -1, 0),
    ("ZDIFFSTORE", "df", 2, "wide", "rs2"),
    ("ZUNIONSTORE", "z", 2, "z", "lex"),
    ("ZPOPMIN", "lex", 10),
    ("ZDIFFSTORE", "u", 2, "wide", "wide"),
    ("ZADD", "wide", "INCR", 1, "w100"),
]


def test_every_write_replays_to_the_same_sorted_sets() -> None:
    node = EffectNode()
    node.run("SADD", "plain", "a", "b", "w3")
    for cmd in WRITES:
        reply = node.run(*cmd)
        assert not isinstance(reply, Exception), (cmd, reply)
    assert node.snapshot()
    assert_replays(node)


def test_writes_propagate_as_their_own_argv() -> None:
    node = EffectNode()
    changing = [c for c in WRITES[:8] if c != ("ZINCRBY", "z", "-0", "zero")]  # 0 + -0 == 0: no change
    for cmd in changing + [("ZPOPMAX", "z", 2), ("ZRANGESTORE", "dst", "z", 0, 0), ("ZUNIONSTORE", "u", 1, "z")]:
        node.run(*cmd)
        assert node.effects() == [b(*cmd)], cmd


def test_zmpop_propagates_as_a_zpop_with_its_count() -> None:
    node = EffectNode()
    node.run("ZADD", "z", 1, "a", 2, "b", 3, "c")
    node.effects()
    assert node.run("ZMPOP", 2, "nokey", "z", "MIN") == [b"z", [[b"a", 1.0]]]
    assert node.effects() == [[b"ZPOPMIN", b"z", b"1"]]
    node.run("ZMPOP", 1, "z", "max", "COUNT", 10)
    assert node.effects() == [[b"ZPOPMAX", b"z", b"10"]]
    assert node.run("EXISTS", "z") == 0
    assert node.run("ZMPOP", 1, "z", "MIN") is not None  # the null array: nothing popped
    assert node.effects() == []


def test_writes_that_change_nothing_log_nothing() -> None:
    node = EffectNode()
    node.run("ZADD", "z", 1, "a", 2, "b")
    node.run("SET", "s", "v")
    node.effects()
    for cmd in [
        ("ZADD", "z", 1, "a"),
        ("ZADD", "z", "NX", 5, "a"),
        ("ZADD", "z", "XX", 5, "nope"),
        ("ZADD", "z", "GT", 0, "b"),
        ("ZADD", "z", "LT", "INCR", 1, "a"),
        ("ZADD", "nokey", "XX", 1, "a"),
        ("ZADD", "z", "INCR", 1, "a", 2, "b"),  # an error
        ("ZADD", "s", 1, "a"),  # WRONGTYPE
        ("ZINCRBY", "z", 0, "a"),
        ("ZINCRBY", "z", "-0", "a"),
        ("ZREM", "z", "nope"),
        ("ZREM", "nokey", "a"),
        ("ZREMRANGEBYRANK", "z", 5, 10),
        ("ZREMRANGEBYSCORE", "z", 10, 20),
        ("ZREMRANGEBYLEX", "z", "[x", "[y"),
        ("ZPOPMIN", "z", 0),
        ("ZPOPMAX", "nokey"),
        ("ZMPOP", 1, "nokey", "MIN"),
        ("ZUNIONSTORE", "dst", 1, "nokey"),
        ("ZINTERSTORE", "dst", 2, "z", "nokey"),
        ("ZDIFFSTORE", "dst", 2, "z", "z"),
        ("ZRANGESTORE", "dst", "z", 5, 10),
    ]:
        node.run(*cmd)
        assert node.effects() == [], cmd


def test_an_empty_store_result_deletes_the_destination() -> None:
    node = EffectNode()
    node.run("ZADD", "z", 1, "a")
    node.run("SET", "dst", "v")
    node.effects()
    assert node.run("ZDIFFSTORE", "dst", 2, "z", "z") == 0
    assert node.effects() == [[b"ZDIFFSTORE", b"dst", b"2", b"z", b"z"]]
    assert node.run("EXISTS", "dst") == 0


def test_reads_log_nothing() -> None:
    node = EffectNode()
    node.run("ZADD", "z", 1, "a", 2, "b", 3, "c")
    node.effects()
    for cmd in [
        ("ZSCORE", "z", "a"), ("ZMSCORE", "z", "a", "x"), ("ZCARD", "z"), ("ZRANK", "z", "a"),
        ("ZREVRANK", "z", "a"), ("ZRANGE", "z", 0, -1, "WITHSCORES"), ("ZREVRANGE", "z", 0, -1),
        ("ZRANGEBYSCORE", "z", "-inf", "+inf"), ("ZREVRANGEBYSCORE", "z", "+inf", "-inf"),
        ("ZRANGEBYLEX", "z", "-", "+"), ("ZREVRANGEBYLEX", "z", "+", "-"), ("ZCOUNT", "z", 1, 2),
        ("ZLEXCOUNT", "z", "-", "+"), ("ZRANDMEMBER", "z"), ("ZRANDMEMBER", "z", -5, "WITHSCORES"),
        ("ZSCAN", "z", 0), ("ZUNION", 1, "z"), ("ZINTER", 1, "z"), ("ZDIFF", 1, "z"),
        ("ZINTERCARD", 1, "z"),
    ]:
        node.run(*cmd)
        assert node.effects() == [], cmd


@pytest.mark.parametrize("cmd", [("ZSCORE", "z", "a"), ("ZADD", "z", 5, "b"), ("ZPOPMIN", "z")])
def test_a_lazily_expired_key_is_deleted_in_the_log_first(cmd: tuple) -> None:
    node = EffectNode()
    node.run("ZADD", "z", 1, "a")
    node.run("PEXPIRE", "z", 1)
    node.effects()
    time.sleep(0.01)
    node.run(*cmd)
    effects = node.effects()
    assert effects[0] == [b"DEL", b"z"]
    assert effects[1:] == ([b(*cmd)] if cmd[0] == "ZADD" else [])


def test_a_transaction_logs_the_concrete_pops() -> None:
    node = EffectNode()
    node.run("ZADD", "z", 1, "a", 2, "b", 3, "c")
    node.log.entries.clear()
    node.run("MULTI")
    node.run("ZMPOP", 1, "z", "MAX", "COUNT", 2)
    node.run("ZINCRBY", "z", 1, "a")
    node.run("ZPOPMIN", "z")
    assert node.run("EXEC") == [[b"z", [[b"c", 3.0], [b"b", 2.0]]], 2.0, [b"a", 2.0]]
    assert node.log.entries == [(0, [
        [b"MULTI"], [b"ZPOPMAX", b"z", b"2"], [b"ZINCRBY", b"z", b"1", b"a"], [b"ZPOPMIN", b"z"], [b"EXEC"],
    ])]


def test_writes_in_another_database_replay_there() -> None:
    node = EffectNode()
    node.run("SELECT", 3)
    node.run("ZADD", "z", 1, "a", 2, "b")
    node.run("ZMPOP", 1, "z", "MIN")
    node.run("ZUNIONSTORE", "u", 1, "z", "WEIGHTS", 2)
    assert [db for db, _ in node.log.entries] == [3, 3, 3]
    assert_replays(node)
