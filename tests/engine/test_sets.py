"""Set commands against a real redis-server, in RESP2 and RESP3.

Redis 7.0 keeps small all-integer sets as intsets (sorted numerically) and the
rest as hashtables (arbitrary order). Replies of intsets are compared byte for
byte; hashtable replies as multisets (same frame type and length, same members).
SPOP and SRANDMEMBER are random: their errors and deterministic cases (the whole
set) are differential, the rest are properties of the engine.
"""

from __future__ import annotations

import time

import hiredis
import pytest

from .conftest import Differ


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def d(request: pytest.FixtureRequest, diff: Differ) -> Differ:
    if request.param == 3:
        diff.resp3()
    return diff


def parse(frame: bytes) -> object:
    reader = hiredis.Reader()
    reader.feed(frame)
    return reader.gets()


def same_members(d: Differ, *args: str) -> None:
    """Same reply up to order (hashtable-encoded results)."""
    ref, eng = d.ref.call(*args), d.eng.call(*args)
    assert ref.split(b"\r\n", 1)[0] == eng.split(b"\r\n", 1)[0], (args, ref[:40], eng[:40])
    assert sorted(parse(ref)) == sorted(parse(eng)), args


def both(d: Differ, *args: str) -> None:
    d.ref.call(*args)
    d.eng.call(*args)


def test_it_adds_removes_and_counts_members(d: Differ) -> None:
    d.many("""
        SADD s a b c
        SADD s a d
        SADD s a
        SREM s a nomember a
        SREM s nomember
        SREM nokey a
        SCARD s
        SCARD nokey
        SISMEMBER s b
        SISMEMBER s a
        SISMEMBER nokey a
        SMISMEMBER s a b c d
        SMISMEMBER nokey a b
        SREM s b c d
        EXISTS s
        SADD s ""
        SISMEMBER s ""
        SMEMBERS nokey
    """)
    d("SADD", "x", "b", "a", "c")
    same_members(d, "SMEMBERS", "x")


def test_small_integer_sets_come_back_sorted_like_an_intset(d: Differ) -> None:
    d.many("""
        SADD s 5 3 -1 10 2 0 -9223372036854775808 9223372036854775807
        SMEMBERS s
        SSCAN s 0
        SSCAN s 99 COUNT 1
        SSCAN s 0 MATCH 1*
        SRANDMEMBER s 100
        SREM s 5 0
        SADD s 4
        SMEMBERS s
        SADD t 3 4 99
        SINTER s t
        SUNION s t
        SDIFF s t
        SDIFF t s
        SINTERSTORE u s t
        SMEMBERS u
        SUNIONSTORE u s t
        SMEMBERS u
        SPOP u 100
        EXISTS u
    """)
    # 512 integers are still an intset; 513 are not (compare as multisets then).
    both(d, "SADD", "big", *[str(i * 7 % 1000) for i in range(512)])
    d("SMEMBERS", "big")
    d("SSCAN", "big", "0")
    both(d, "SADD", "big", "100000")
    same_members(d, "SMEMBERS", "big")


def test_non_canonical_numbers_make_a_hashtable(d: Differ) -> None:
    for members in (["1", "007"], ["1", "+2"], ["1", "-0"], ["1", "9223372036854775808"], ["1", " 2"], ["1", "a"]):
        d("DEL", "s")
        both(d, "SADD", "s", *members)
        same_members(d, "SMEMBERS", "s")


def test_set_algebra_on_mixed_sets(d: Differ) -> None:
    both(d, "SADD", "a", "x", "y", "z", "1", "2")
    both(d, "SADD", "b", "y", "z", "w", "2")
    both(d, "SADD", "c", "z", "2", "q")
    for cmd in ("SINTER", "SUNION", "SDIFF"):
        for keys in (["a"], ["a", "b"], ["b", "a"], ["a", "b", "c"], ["c", "nokey"], ["nokey", "a"], ["a", "a"], ["a", "nokey", "b"]):
            same_members(d, cmd, *keys)
    d.many("""
        SINTERCARD 1 a
        SINTERCARD 2 a b
        SINTERCARD 3 a b c
        SINTERCARD 2 a nokey
        SINTERCARD 2 a b LIMIT 1
        SINTERCARD 2 a b LIMIT 0
        SINTERCARD 2 a b LIMIT 100
        SINTERCARD 1 a LIMIT 1 LIMIT 3
        SINTERCARD 1 a limit 2
        SINTERSTORE d a b
        SCARD d
        SUNIONSTORE d a b c
        SCARD d
        SDIFFSTORE d a b
        SCARD d
        SDIFFSTORE d a a
        EXISTS d
        SDIFFSTORE d a b
        SINTERSTORE d a nokey
        EXISTS d
        SDIFFSTORE d nokey a
        SUNIONSTORE d nokey
        SINTERSTORE a a b
        SCARD a
        SUNIONSTORE b b c
        SCARD b
    """)
    same_members(d, "SMEMBERS", "a")
    same_members(d, "SMEMBERS", "b")


def test_store_commands_overwrite_any_destination(d: Differ) -> None:
    d.many("""
        SADD s 1 2 3
        SET dst x
        EXPIRE dst 100
        SUNIONSTORE dst s
        TYPE dst
        TTL dst
        SMEMBERS dst
        HSET dst f v
        SINTERSTORE dst s
        TYPE dst
        RPUSH dst a
        SDIFFSTORE dst s
        TYPE dst
        SET dst x
        SINTERSTORE dst s nokey
        EXISTS dst
        SET dst x
        SDIFFSTORE dst s s
        EXISTS dst
        SET dst x
        SUNIONSTORE dst nokey
        EXISTS dst
    """)


def test_it_refuses_bad_sintercard_arguments(d: Differ) -> None:
    d.many("""
        SET str x
        SADD s 1
        SINTERCARD 0 s
        SINTERCARD -1 s
        SINTERCARD abc s
        SINTERCARD 2 s
        SINTERCARD 9223372036854775807 s
        SINTERCARD 1 s LIMIT -1
        SINTERCARD 1 s LIMIT abc
        SINTERCARD 1 s LIMIT
        SINTERCARD 1 s BOGUS 1
        SINTERCARD 1 str
        SINTERCARD 2 nokey str
        SINTERCARD 2 s str
        SINTERCARD 1 str LIMIT -1
        COMMAND GETKEYS SINTERCARD 2 a b LIMIT 1
    """)


def test_it_moves_members(d: Differ) -> None:
    d.many("""
        SET str x
        SADD src a b
        SADD dst b
        SMOVE src dst a
        SMOVE src dst a
        SMOVE src dst b
        EXISTS src
        SMOVE dst src b
        SMOVE src src b
        SMOVE src src nomember
        SMOVE nokey dst a
        SMOVE nokey str a
        SMOVE src str b
        SMOVE str src b
        SMOVE src newdst b
        TYPE newdst
        EXISTS src
    """)
    same_members(d, "SMEMBERS", "dst")


def test_it_refuses_wrong_types(d: Differ) -> None:
    d.many("""
        SET str x
        RPUSH l a
        SADD s 1
        SADD str a
        SREM str a
        SCARD str
        SISMEMBER str a
        SMISMEMBER str a
        SMEMBERS l
        SPOP str
        SPOP str 0
        SPOP str 2
        SRANDMEMBER str
        SRANDMEMBER str 0
        SRANDMEMBER str -1
        SSCAN str 0
        SINTER s str
        SINTER nokey str
        SUNION s l
        SDIFF nokey str
        SDIFF s str
        SINTERSTORE d nokey str
        SUNIONSTORE d s str
        SDIFFSTORE d s str
        EXISTS d
    """)


def test_spop_and_srandmember_errors_and_whole_set_replies(d: Differ) -> None:
    d.many("""
        SADD s 3 1 2
        SPOP s 1 2
        SPOP s -1
        SPOP s abc
        SPOP nokey -1
        SPOP s 0
        SPOP nokey
        SPOP nokey 0
        SPOP nokey 3
        SRANDMEMBER s 1 2
        SRANDMEMBER s abc
        SRANDMEMBER s -9223372036854775808
        SRANDMEMBER nokey
        SRANDMEMBER nokey 5
        SRANDMEMBER nokey -5
        SRANDMEMBER s 0
        SRANDMEMBER s 3
        SRANDMEMBER s 100
        SPOP s 3
        EXISTS s
        SADD s 7
        SPOP s
        EXISTS s
        SADD s 8 9
        SPOP s 9223372036854775807
    """)
    both(d, "SADD", "h", "a", "b", "c")
    same_members(d, "SRANDMEMBER", "h", "3")
    same_members(d, "SPOP", "h", "5")


def test_spop_and_srandmember_count_semantics(diff: Differ) -> None:
    eng = diff.eng
    members = {f"m{i}".encode() for i in range(20)}
    eng.call("SADD", "s", *members)
    assert parse(eng.call("SRANDMEMBER", "s")) in members
    distinct = parse(eng.call("SRANDMEMBER", "s", "7"))
    assert len(distinct) == 7 and len(set(distinct)) == 7 and set(distinct) <= members
    repeated = parse(eng.call("SRANDMEMBER", "s", "-50"))
    assert len(repeated) == 50 and set(repeated) <= members and len(set(repeated)) < 50
    assert len(parse(eng.call("SRANDMEMBER", "s", "1"))) == 1
    assert parse(eng.call("SCARD", "s")) == 20  # SRANDMEMBER never removes
    one = parse(eng.call("SPOP", "s"))
    assert one in members and parse(eng.call("SISMEMBER", "s", one)) == 0
    popped = parse(eng.call("SPOP", "s", "5"))
    assert len(set(popped)) == 5 and set(popped) <= members - {one}
    assert parse(eng.call("SCARD", "s")) == 14
    rest = parse(eng.call("SMEMBERS", "s"))
    assert set(rest) | set(popped) | {one} == members
    eng.call("HELLO", "3")
    assert eng.call("SPOP", "s", "2").startswith(b"~2\r\n")
    assert eng.call("SRANDMEMBER", "s", "2").startswith(b"*2\r\n")


def test_it_scans_big_sets_completely(diff: Differ) -> None:
    both(diff, "SADD", "s", *[f"member:{i}" for i in range(600)])
    for opts in ((), ("COUNT", "13"), ("MATCH", "member:2*")):
        seen = {}
        for name, client in (("ref", diff.ref), ("eng", diff.eng)):
            cursor, out, calls = b"0", set(), 0
            while True:
                cursor, items = parse(client.call("SSCAN", "s", cursor, *opts))
                out.update(items)
                calls += 1
                if cursor == b"0":
                    break
            seen[name] = out
            assert calls > 1
        assert seen["ref"] == seen["eng"]
    # a small hashtable set (non-integers) fits in one call of COUNT 10
    both(diff, "SADD", "small", "a", "b", "c")
    cursor, items = parse(diff.eng.call("SSCAN", "small", "0"))
    assert cursor == b"0" and sorted(items) == [b"a", b"b", b"c"]


def test_a_set_scan_returns_every_member_present_throughout(diff: Differ) -> None:
    eng = diff.eng
    eng.call("SADD", "s", *[f"keep:{i}" for i in range(400)])
    seen: set[bytes] = set()
    cursor, step = b"0", 0
    while True:
        cursor, items = parse(eng.call("SSCAN", "s", cursor, "COUNT", "25"))
        seen.update(items)
        eng.call("SADD", "s", *[f"new:{step}:{j}" for j in range(30)])
        eng.call("SREM", "s", *[f"new:{step - 1}:{j}" for j in range(30)])
        step += 1
        if cursor == b"0":
            break
    assert {f"keep:{i}".encode() for i in range(400)} <= seen


def test_it_refuses_bad_scan_arguments(d: Differ) -> None:
    d.many("""
        SADD s 1 2
        SSCAN s abc
        SSCAN s -1
        SSCAN s 18446744073709551616
        SSCAN s 0 COUNT 0
        SSCAN s 0 COUNT abc
        SSCAN s 0 MATCH
        SSCAN s 0 TYPE set
        SSCAN nokey 0 BOGUS
        SSCAN nokey abc
    """)


def test_expired_sets_are_gone(d: Differ) -> None:
    d.many("""
        SADD s 1 2 3
        PEXPIRE s 1
        SADD t 2 3
        PEXPIRE t 1
        SADD live 3
    """)
    time.sleep(0.01)
    d.many("""
        SCARD s
        SMEMBERS s
        SISMEMBER s 1
        SMISMEMBER s 1 2
        SPOP s
        SRANDMEMBER s 2
        SSCAN s 0
        SINTER live t
        SUNION live t
        SINTERCARD 2 live t
        SMOVE s live 1
        SMOVE live t 3
        SMEMBERS t
        PTTL t
        SADD s 9
        SMEMBERS s
    """)


def test_writes_keep_the_ttl_and_noops_do_not_touch_watchers(d: Differ) -> None:
    d.many("""
        SADD s 1 2 3
        EXPIRE s 100
        SADD s 4
        SREM s 1
        SPOP s 0
        TTL s
        WATCH s
        SADD s 2
        SREM s nomember
        SMOVE s s 2
        MULTI
        PING
        EXEC
        WATCH s
        SMOVE s other 2
        MULTI
        PING
        EXEC
    """)
