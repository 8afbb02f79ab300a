"""Sorted sets against a real redis-server, in RESP2 and RESP3: ZADD and ZINCRBY with
every option and error, single-member reads, ZREM, pops, ZMPOP, ZRANDMEMBER and ZSCAN.

Ranges live in test_zsets_ranges.py, the set algebra in test_zsets_algebra.py and
the logged effects in test_zsets_effects.py. ZRANDMEMBER and the cursor of a big
ZSCAN are random/hash-ordered in Redis too: their errors and deterministic cases
are differential, the rest are properties checked on an in-process engine.
"""

from __future__ import annotations

import time

import pytest

from sandbox.engine.datatypes import ZSet

from .conftest import Differ
from .effects import EffectNode

LONG = "m" * 65  # longer than zset-max-listpack-value: makes a skiplist


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def d(request: pytest.FixtureRequest, diff: Differ) -> Differ:
    if request.param == 3:
        diff.resp3()
    return diff


def test_it_adds_and_updates_with_zadd_options(d: Differ) -> None:
    d.many("""
        ZADD z 1 a 2 b 3 c
        ZADD z 1 a 2 b 3 c
        ZADD z CH 1 a 5 b 3 c 4 d
        ZADD z GT CH 0 a 6 b 3 c
        ZADD z LT CH 0 a 7 b 3 c
        ZADD z XX CH 10 a 10 new
        ZADD z NX CH 10 a 10 new
        ZADD z nx 11 new 12 other
        ZADD z xx gt 1 a 20 b
        ZADD z xx lt ch 1 a 20 b
        ZADD z gt 5 brand
        ZADD z lt 5 brand2
        ZADD z Ch Xx 100 a
        ZRANGE z 0 -1 WITHSCORES
        ZCARD z
    """)


def test_it_rejects_zadd_option_conflicts_with_redis_texts(d: Differ) -> None:
    d.many("""
        ZADD z 1 a
        ZADD z 1 a 2
        ZADD z xx 1
        ZADD z nx xx 1 a
        ZADD z xx nx gt 1 a
        ZADD z nx gt 1 a
        ZADD z nx lt 1 a
        ZADD z gt lt 1 a
        ZADD z incr gt nx 1 a
        ZADD z incr 1 a 2 b
        ZADD z incr nx xx 1 a 2 b
        ZADD z nan a
        ZADD z 1 a nan b
        ZADD z x 1
        ZADD z 1 a x b
        ZADD z 1e400 a
        ZADD z -1e400 a
        ZADD z " 1" a
        ZADD z "1 " a
        ZADD z "" a
        ZADD z 1_0 a
        ZADD z foo 1 a
        ZADD
        ZADD z
        ZADD z 1
        ZRANGE z 0 -1 WITHSCORES
    """)


def test_it_replies_to_zadd_incr_with_the_score_or_nil(d: Differ) -> None:
    d.many("""
        ZADD k INCR 1.5 a
        ZADD k INCR 1.5 a
        ZADD k NX INCR 1 a
        ZADD k XX INCR 1 a
        ZADD k XX INCR 1 nope
        ZADD k GT INCR -1 a
        ZADD k GT INCR 1 a
        ZADD k LT INCR 1 a
        ZADD k LT INCR -10 a
        ZADD k CH INCR 0 a
        ZADD nokey XX INCR 1 a
        ZADD nokey XX 1 a
        EXISTS nokey
        ZADD inf inf a
        ZADD inf INCR -inf a
        ZADD inf INCR 0 a
        ZADD inf INCR +inf a
        ZSCORE inf a
        ZINCRBY inf -inf a
        ZADD inf INCR 1e308 b
        ZADD inf INCR 1e308 b
        ZRANGE k 0 -1 WITHSCORES
    """)


def test_it_increments_with_zincrby(d: Differ) -> None:
    d.many("""
        ZINCRBY z 1 a
        ZINCRBY z 0.1 a
        ZINCRBY z 0.2 a
        ZINCRBY z -1.3000000000000003 a
        ZINCRBY z 1e308 b
        ZINCRBY z 1e308 b
        ZINCRBY z -inf b
        ZINCRBY z x a
        ZINCRBY z nan a
        ZINCRBY z 1e400 a
        ZINCRBY z nx a
        ZINCRBY z incr a
        ZINCRBY z 1 a b
        ZINCRBY z 1
        ZINCRBY z 0x10 hex
        ZRANGE z 0 -1 WITHSCORES
    """)


def test_it_prints_scores_like_redis(d: Differ) -> None:
    d.many("""
        ZADD z 0.1 a 1e20 b 123456789.125 c 1e-310 d 0x10 e -0.0 f 1e16 g 1e17 h 2.5e-5 i
        ZADD z 9007199254740993 j -4503599627370497 k 3.0000000000000004 l 1.7976931348623157e308 m
        ZADD z +inf pinf -inf ninf 0X1P-3 hexp .5 half 5. five +7 plus 1E2 upper
        ZRANGE z 0 -1 WITHSCORES
        ZSCORE z a
        ZMSCORE z a b nope pinf
        ZSCAN z 0
        ZINCRBY z 0.2 a
        ZADD z INCR 0 b
    """)


def test_it_keeps_the_sign_of_minus_zero_only_in_a_skiplist(d: Differ) -> None:
    # A listpack stores -0 as the integer 0; a skiplist keeps the double's sign.
    d.many(f"""
        ZADD lp -0 a
        ZSCORE lp a
        ZINCRBY lp -0 b
        ZSCORE lp b
        ZADD lp INCR -0 c
        ZADD lp 5 a
        ZADD lp -0 a
        ZRANGE lp 0 -1 WITHSCORES
        ZADD sk -0 {LONG} -0 a
        ZSCORE sk a
        ZINCRBY sk -0 b
        ZSCORE sk b
        ZADD sk 0 c
        ZINCRBY sk -0 c
        ZADD sk 0 a
        ZSCORE sk a
        ZRANGE sk 0 -1 WITHSCORES
        ZADD conv -0 a 1 {LONG}
        ZSCORE conv a
        ZADD conv -0 late
        ZSCORE conv late
        ZPOPMIN sk
        ZPOPMAX conv 2
    """)


def test_it_converts_to_a_skiplist_after_128_members(d: Differ) -> None:
    members = " ".join(f"{i + 1} m{i:03d}" for i in range(130))
    d("ZADD", "wide", *f"-0 a {members}".split())
    d("ZADD", "wide", "-0", "b")
    d("ZSCORE", "wide", "a")
    d("ZSCORE", "wide", "b")
    d("ZADD", "grow", *" ".join(f"{i} g{i:03d}" for i in range(128)).split())
    d("ZADD", "grow", "-0", "g128")
    d("ZSCORE", "grow", "g128")
    d("ZRANGE", "grow", "0", "2", "WITHSCORES")


def test_it_reads_single_members(d: Differ) -> None:
    d.many("""
        ZADD z 1 a 2 b 2 c 3 d
        ZSCORE z a
        ZSCORE z nope
        ZSCORE nokey a
        ZMSCORE z a nope d
        ZMSCORE nokey a b
        ZMSCORE z
        ZCARD z
        ZCARD nokey
        ZRANK z a
        ZRANK z c
        ZRANK z d
        ZRANK z nope
        ZRANK nokey a
        ZREVRANK z a
        ZREVRANK z b
        ZREVRANK z d
        ZREVRANK z nope
        ZREVRANK nokey a
        ZRANK z a WITHSCORE
        ZREVRANK z a WITHSCORE
        ZSCORE z
        ZCARD z extra
    """)


def test_it_removes_members_and_deletes_the_emptied_key(d: Differ) -> None:
    d.many("""
        ZADD z 1 a 2 b 3 c
        ZREM z nope
        ZREM z a nope a
        ZREM nokey a
        ZREM z
        ZRANGE z 0 -1
        ZREM z b c d
        EXISTS z
        ZCARD z
    """)


def test_it_pops_with_the_reply_shape_of_each_protocol(d: Differ) -> None:
    d.many("""
        ZADD z 1 a 2 b 3 c 4 d 5 e 0.5 f
        ZPOPMIN z
        ZPOPMAX z
        ZPOPMIN z 1
        ZPOPMAX z 2
        ZPOPMIN z 0
        ZPOPMIN z -1
        ZPOPMIN z x
        ZPOPMIN z 1 2
        ZPOPMAX nokey
        ZPOPMAX nokey 0
        ZPOPMAX nokey 3
        ZPOPMIN z 100
        EXISTS z
        ZPOPMIN z
        ZADD one 1 x
        ZPOPMAX one 9223372036854775807
        ZPOPMAX one 9223372036854775808
    """)


def test_it_pops_from_the_first_non_empty_key_with_zmpop(d: Differ) -> None:
    d.many("""
        ZADD z2 1 a 2 b 3 c
        ZADD z3 10 x
        ZMPOP 1 nokey MIN
        ZMPOP 2 nokey z2 MIN
        ZMPOP 2 nokey z2 max COUNT 1
        ZMPOP 3 nokey z3 z2 MIN COUNT 5
        ZMPOP 2 z3 z2 MAX COUNT 5
        EXISTS z2 z3
        ZMPOP 2 z3 z2 MAX COUNT 5
        ZMPOP 0 z MIN
        ZMPOP -1 z MIN
        ZMPOP x z MIN
        ZMPOP 2 z MIN
        ZMPOP 1 z foo
        ZMPOP 1 z MIN COUNT
        ZMPOP 1 z MIN COUNT 0
        ZMPOP 1 z MIN COUNT -1
        ZMPOP 1 z MIN COUNT x
        ZMPOP 1 z MIN COUNT 1 COUNT 1
        ZMPOP 1 z MIN extra
        ZMPOP 1 z
        ZMPOP 9223372036854775807 z MIN
    """)


def test_it_refuses_other_types_with_wrongtype(d: Differ) -> None:
    d.many("""
        SET s v
        SADD set a
        ZADD s 1 a
        ZADD s xx 1 a
        ZINCRBY s 1 a
        ZSCORE s a
        ZMSCORE s a
        ZCARD s
        ZRANK s a
        ZREVRANK s a
        ZREM s a
        ZPOPMIN s
        ZPOPMAX s 0
        ZMPOP 2 nokey s MIN
        ZMPOP 2 set s MIN
        ZRANDMEMBER s
        ZRANDMEMBER s 1
        ZSCAN s 0
        ZADD set 1 a
        GET s
    """)


def test_it_treats_expired_keys_as_missing(d: Differ) -> None:
    d.many("""
        ZADD z 1 a 2 b
        ZADD y 1 a
        PEXPIRE z 1
        PEXPIRE y 1
    """)
    time.sleep(0.01)
    d.many("""
        ZSCORE z a
        ZCARD z
        ZRANK z a
        ZADD y XX 1 a
        ZADD y 3 c
        ZRANGE y 0 -1 WITHSCORES
        TTL y
        EXISTS z
    """)


def test_it_matches_zrandmember_errors_and_deterministic_cases(d: Differ) -> None:
    # Error paths use a missing key or a one-member set: a huge valid count would
    # make both servers emit billions of members.
    d.many("""
        ZADD one 2.5 x
        ZRANDMEMBER nokey
        ZRANDMEMBER nokey 5
        ZRANDMEMBER nokey 0
        ZRANDMEMBER nokey -5 WITHSCORES
        ZRANDMEMBER one
        ZRANDMEMBER one 1
        ZRANDMEMBER one 5
        ZRANDMEMBER one -3
        ZRANDMEMBER one 1 WITHSCORES
        ZRANDMEMBER one -2 WITHSCORES
        ZRANDMEMBER one 0 WITHSCORES
        ZRANDMEMBER one 1 withscorez
        ZRANDMEMBER one 1 WITHSCORES extra
        ZRANDMEMBER one x
        ZRANDMEMBER one -9223372036854775808
        ZRANDMEMBER nokey 9223372036854775807 WITHSCORES
        ZRANDMEMBER nokey 4611686018427387904 WITHSCORES
        ZRANDMEMBER nokey -4611686018427387904 WITHSCORES
        ZRANDMEMBER nokey 4611686018427387903 WITHSCORES
        ZRANDMEMBER nokey -4611686018427387903 WITHSCORES
    """)
    d("ZADD", "small", "1", "a", "2", "b", "3", "c")
    d("ZRANDMEMBER", "small", "3", "WITHSCORES")  # count >= size: the whole set, in order
    d("ZRANDMEMBER", "small", "10")


def test_zrandmember_count_sign_semantics() -> None:
    node = EffectNode()
    node.run("ZADD", "z", *" ".join(f"{i} m{i}" for i in range(50)).split())
    node.effects()
    everyone = {f"m{i}".encode() for i in range(50)}
    assert node.run("ZRANDMEMBER", "z") in everyone
    distinct = node.run("ZRANDMEMBER", "z", 20)
    assert len(distinct) == 20 and len(set(distinct)) == 20 and set(distinct) <= everyone
    assert sorted(node.run("ZRANDMEMBER", "z", 50)) == sorted(everyone)
    assert len(node.run("ZRANDMEMBER", "z", 500)) == 50
    repeated = node.run("ZRANDMEMBER", "z", -500)
    assert len(repeated) == 500 and set(repeated) <= everyone and len(set(repeated)) < 500
    flat = node.run("ZRANDMEMBER", "z", -7, "WITHSCORES")
    assert len(flat) == 14
    for member, score in zip(flat[::2], flat[1::2]):
        assert float(member[1:]) == score
    node.run("HELLO", "3")
    pairs = node.run("ZRANDMEMBER", "z", 5, "WITHSCORES")
    assert len(pairs) == 5 and all(len(p) == 2 and float(p[0][1:]) == p[1] for p in pairs)
    assert node.effects() == []  # read-only: nothing to log


def test_it_scans_a_small_sorted_set_in_one_call(d: Differ) -> None:
    d.many("""
        ZADD z 3 c 1 a 2 b 1.5 ab -0 zero
        ZSCAN z 0
        ZSCAN z 12345
        ZSCAN z ""
        ZSCAN z -1
        ZSCAN z +3
        ZSCAN z 18446744073709551615
        ZSCAN z 18446744073709551616
        ZSCAN z " 1"
        ZSCAN z 1x
        ZSCAN z 0 MATCH a*
        ZSCAN z 0 MATCH * COUNT 1
        ZSCAN z 0 match b* count 1 match c
        ZSCAN z 0 COUNT 0
        ZSCAN z 0 COUNT -1
        ZSCAN z 0 COUNT x
        ZSCAN z 0 COUNT
        ZSCAN z 0 TYPE string
        ZSCAN z 0 NOVALUES
        ZSCAN nokey 0
        ZSCAN nokey 0 bad options
        ZSCAN nokey x
    """)


def test_zscan_of_a_big_set_returns_every_member_present_throughout() -> None:
    node = EffectNode()
    node.run("ZADD", "big", *" ".join(f"{i} m{i}" for i in range(1000)).split())
    seen: list[bytes] = []
    cursor, calls = b"0", 0
    while True:
        cursor, flat = node.run("ZSCAN", "big", cursor, "COUNT", 10)
        assert len(flat) % 2 == 0
        for member, score in zip(flat[::2], flat[1::2]):
            assert score == b"%d" % int(member[1:])
        seen += flat[::2]
        calls += 1
        if calls == 10:  # shrink and grow in the middle of the scan
            node.run("ZREM", "big", *[f"m{i}" for i in range(500, 900)])
            node.run("ZADD", "big", *" ".join(f"{i} n{i}" for i in range(3000)).split())
        if cursor == b"0":
            break
        assert calls < 2000
    got = set(seen)
    assert all(f"m{i}".encode() in got for i in (*range(500), *range(900, 1000)))
    assert 1 < calls
    cursor, flat = node.run("ZSCAN", "big", 0, "MATCH", "m1*", "COUNT", 100000)
    assert cursor == b"0" and {m for m in flat[::2]} == {m for m in got if m.startswith(b"m1")} - {
        f"m{i}".encode() for i in range(500, 900)
    }


def test_a_zset_keeps_its_scan_index_in_step() -> None:
    zs = ZSet()
    for i in range(200):
        zs.add(b"m%d" % i, float(i))
    node = EffectNode()
    node.server.keyspace.dbs[0].data[b"z"] = zs
    node.run("ZSCAN", "z", 0)
    assert zs.scan_index is not None and zs.scan_index.count == 200
    node.run("ZREM", "z", "m1", "m2")
    node.run("ZPOPMIN", "z", 5)
    node.run("ZREMRANGEBYRANK", "z", 0, 9)
    node.run("ZADD", "z", 5, "new")
    assert zs.scan_index.count == len(zs) == 200 - 2 - 5 - 10 + 1


def test_the_benchmark_zadd_shape(d: Differ) -> None:
    for i in range(20):
        d("ZADD", "myzset", "0", f"element:{i % 7:012d}")
    d.many("""
        ZADD myzset 0 element:000000000001
        ZADD myzset 1 element:000000000001
        ZADD myzset 007 element:000000000002
        ZADD myzset 99999999999999999999 big
        ZRANGE myzset 0 -1 WITHSCORES
    """)
