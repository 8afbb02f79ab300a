"""What hash, list and set writes hand to the log, and that replaying it rebuilds
the same data: random and float commands log their concrete results (SPOP as
SREM/DEL, HINCRBYFLOAT as HSET, LMPOP as LPOP/RPOP key n), writes that change
nothing log nothing."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import pytest

from .effects import EffectNode


def exact(node: EffectNode) -> dict[int, dict[bytes, Any]]:
    """Every value with its order where the engine promises one (lists, hash fields)."""
    out: dict[int, dict[bytes, Any]] = {}
    for db in node.server.keyspace.dbs:
        for key, value in db.data.items():
            if isinstance(value, dict):
                value = list(value.items())
            elif isinstance(value, deque):
                value = list(value)
            out.setdefault(db.id, {})[key] = value
    return out


def assert_replays(node: EffectNode) -> None:
    replica = EffectNode()
    node.replay_into(replica, node.log.entries)
    assert exact(replica) == exact(node)


WORKLOAD = """
    HSET h a 1 b 2 c 3
    HMSET h d 4 a 10
    HSETNX h e 5
    HSETNX h e 6
    HDEL h b nofield
    HINCRBY h a 5
    HINCRBY h new -3
    HINCRBYFLOAT h c 0.1
    HINCRBYFLOAT h f 1e20
    HINCRBYFLOAT h f -1.5
    LPUSH l a b c
    RPUSH l d e f
    LPUSHX l x
    RPUSHX l y
    LPUSHX nolist x
    LPOP l
    RPOP l
    LPOP l 2
    RPOP l 0
    LSET l 0 z
    LSET l -1 w
    LINSERT l BEFORE z before
    LINSERT l AFTER w after
    LREM l 1 z
    LTRIM l 0 2
    RPUSH l2 1 2 3 4 5 6
    LMOVE l2 l LEFT RIGHT
    LMOVE l2 l2 RIGHT LEFT
    RPOPLPUSH l2 l3
    LMPOP 3 nolist l2 l LEFT COUNT 2
    LMPOP 1 l3 RIGHT COUNT 10
    SADD s 1 2 3 4 5 6 7 8 9 10
    SADD s x y z
    SREM s 1 nomember
    SPOP s
    SPOP s 3
    SADD t 4 5 6 x
    SMOVE s t 7
    SMOVE t u x
    SINTERSTORE inter s t
    SUNIONSTORE union s t u
    SDIFFSTORE diff s t
    SADD small a b
    SPOP small 5
    SPOP s 100
    SADD s z
"""


def run(node: EffectNode, script: str) -> list[Any]:
    import shlex

    return [node.run(*shlex.split(line)) for line in script.strip().splitlines() if line.strip()]


def test_replaying_the_logged_effects_rebuilds_every_collection() -> None:
    node = EffectNode()
    run(node, WORKLOAD)
    assert exact(node)  # the workload left data behind
    assert_replays(node)


def test_random_pops_replay_to_the_same_sets_every_time() -> None:
    for _ in range(20):
        node = EffectNode()
        node.run("SADD", "s", *[str(i) for i in range(30)], "a", "b")
        for count in ("1", "4", "7"):
            node.run("SPOP", "s")
            node.run("SPOP", "s", count)
        assert_replays(node)


def test_spop_logs_the_members_it_removed() -> None:
    node = EffectNode()
    node.run("SADD", "s", "a", "b", "c", "d")
    node.effects()
    one = node.run("SPOP", "s")
    assert node.effects() == [[b"SREM", b"s", one]]
    two = node.run("SPOP", "s", "2")
    assert node.effects() == [[b"SREM", b"s", m] for m in two]
    last = node.run("SPOP", "s", "5")
    assert len(last) == 1
    assert node.effects() == [[b"DEL", b"s"]]
    node.run("SADD", "s", "only")
    node.effects()
    assert node.run("SPOP", "s") == b"only"
    assert node.effects() == [[b"SREM", b"s", b"only"]]  # a single pop stays an SREM


def test_hincrbyfloat_logs_the_value_it_stored() -> None:
    node = EffectNode()
    node.run("HSET", "h", "f", "10.5")
    node.effects()
    assert node.run("HINCRBYFLOAT", "h", "f", "0.1") == b"10.6"
    assert node.effects() == [[b"HSET", b"h", b"f", b"10.6"]]
    node.run("HINCRBYFLOAT", "h", "g", "1.5e3")
    assert node.effects() == [[b"HSET", b"h", b"g", b"1500"]]


def test_lmpop_logs_the_concrete_pop() -> None:
    node = EffectNode()
    node.run("RPUSH", "l", "a", "b", "c")
    node.effects()
    assert node.run("LMPOP", "2", "nolist", "l", "RIGHT", "COUNT", "10") == [b"l", [b"c", b"b", b"a"]]
    assert node.effects() == [[b"RPOP", b"l", b"3"]]
    node.run("RPUSH", "l", "a", "b")
    node.effects()
    node.run("LMPOP", "1", "l", "LEFT")
    assert node.effects() == [[b"LPOP", b"l", b"1"]]


@pytest.mark.parametrize("command", [
    "SADD s a",
    "SREM s nomember",
    "SREM nokey a",
    "SMOVE s s a",
    "SMOVE s t nomember",
    "SMOVE nokey t a",
    "SPOP nokey",
    "SPOP nokey 3",
    "SPOP s 0",
    "SINTERSTORE nokey2 s nokey",
    "SDIFFSTORE nokey2 s s",
    "HSETNX h f v2",
    "HDEL h nofield",
    "HDEL nokey f",
    "LPUSHX nokey a",
    "RPUSHX nokey a",
    "LPOP nokey",
    "RPOP nokey 2",
    "LPOP l 0",
    "LINSERT l BEFORE nopivot x",
    "LINSERT nokey BEFORE a x",
    "LREM l 0 nomatch",
    "LTRIM l 0 -1",
    "LTRIM nokey 0 1",
    "LMOVE nokey l LEFT LEFT",
    "RPOPLPUSH nokey l",
    "LMPOP 1 nokey LEFT",
    "SRANDMEMBER s -5",
    "HRANDFIELD h -5 WITHVALUES",
    "SSCAN s 0",
    "HSCAN h 0",
])
def test_a_write_that_changes_nothing_logs_nothing(command: str) -> None:
    node = EffectNode()
    node.run("SADD", "s", "a", "b")
    node.run("HSET", "h", "f", "v")
    node.run("RPUSH", "l", "a", "b")
    node.effects()
    node.run(*command.split())
    assert node.effects() == []


def test_writes_that_always_count_log_themselves() -> None:
    node = EffectNode()
    node.run("HSET", "h", "f", "v")
    node.effects()
    node.run("HSET", "h", "f", "v")  # same value: Redis still propagates it
    node.run("LMOVE", "l", "l", "LEFT", "RIGHT")  # missing: nothing
    node.run("RPUSH", "l", "a")
    node.run("LMOVE", "l", "l", "LEFT", "RIGHT")  # rotation of one element: still a write
    assert node.effects() == [
        [b"HSET", b"h", b"f", b"v"],
        [b"RPUSH", b"l", b"a"],
        [b"LMOVE", b"l", b"l", b"LEFT", b"RIGHT"],
    ]


def test_a_write_on_an_expired_collection_logs_its_deletion_first() -> None:
    node = EffectNode()
    node.run("RPUSH", "l", "a")
    node.run("PEXPIRE", "l", "1")
    node.run("SADD", "s", "a", "b")
    node.run("PEXPIRE", "s", "1")
    time.sleep(0.01)
    node.effects()
    node.run("LPUSH", "l", "b")
    assert node.effects() == [[b"DEL", b"l"], [b"LPUSH", b"l", b"b"]]
    assert node.run("SPOP", "s") is None
    assert node.effects() == [[b"DEL", b"s"]]


def test_spop_inside_a_transaction_logs_its_srems_in_the_unit() -> None:
    node = EffectNode()
    node.run("SADD", "s", "a", "b", "c")
    before = len(node.log.entries)
    node.run("MULTI")
    node.run("SPOP", "s", "2")
    node.run("HINCRBYFLOAT", "h", "f", "2.5")
    popped, _value = node.run("EXEC")
    (db, batch), = node.log.entries[before:]
    assert batch == [[b"MULTI"], *[[b"SREM", b"s", m] for m in popped], [b"HSET", b"h", b"f", b"2.5"], [b"EXEC"]]
    assert_replays(node)
