"""SORT and SORT_RO against a real redis-server: numeric and ALPHA order, BY with
``*`` patterns and ``->`` hash fields, ``nosort``, LIMIT, GET (``#``), ASC/DESC,
STORE, and every error path, in RESP2 and RESP3.

Redis 7.0 keeps a stale ``errno`` after a numeric SORT meets an out-of-range score
(ERANGE), so its next numeric SORTs fail too until some command resets errno; the
engine doesn't copy that bug. ``reset_errno`` runs a command that resets it
(SCAN parses its cursor with ``errno = 0``) and answers the same on both.
"""

from __future__ import annotations

import pytest

from .conftest import Differ
from .rawclient import RawClient


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def d(request: pytest.FixtureRequest, diff: Differ) -> Differ:
    if request.param == 3:
        diff.resp3()
    return diff


def reset_errno(d: Differ) -> None:
    d("SCAN", "1.5")


def test_it_sorts_numerically_by_default(d: Differ) -> None:
    d.many("""
        RPUSH l 3 1 2 10 -5 1.5 0 -0 +4 .5 5. 1e3 0x10 0x1p3 inf -inf -Infinity "" " 7" "\t8" 9
        SORT l
        SORT l DESC
        SORT l ASC
        SORT l desc asc
        SORT_RO l
        SORT_RO l DESC
        SADD s 5 -3 10 1 7
        SORT s
        SORT s DESC
        ZADD z 1 30 2 10 3 20
        SORT z
        SORT z DESC
        SORT nokey
        SORT nokey DESC LIMIT 0 5
    """)


def test_it_breaks_numeric_ties_by_comparing_the_elements(d: Differ) -> None:
    d.many("""
        RPUSH l 1.0 1 01 1e0 b a 0x1 2
        SORT l BY nosort
        SORT l BY w_*
        SORT l BY w_* DESC
        SADD s 1.0 1 01 1e0 0x1
        SORT s
        SORT s DESC
    """)


@pytest.mark.parametrize("value", ["nan", "-nan", "abc", "1 ", "1e", "0x", "-", " ", "1_0", "inf1", "++1", "1.5.5"])
def test_it_refuses_scores_that_are_not_doubles(d: Differ, value: str) -> None:
    d("RPUSH", "l", "1", value, "2")
    d("SORT", "l")
    d("SORT", "l", "STORE", "dst")
    d("EXISTS", "dst")
    d("SORT", "l", "ALPHA")
    d("SORT", "l", "BY", "nosort")
    d("SET", "w_1", value)
    d("SORT", "l", "BY", "w_*")
    d("SORT", "l", "BY", "w_*", "ALPHA")
    reset_errno(d)


@pytest.mark.parametrize("value", ["1e400", "-1e400", "1e-400", "4.9e-324", "2.2250738585072011e-308", "0x1p1024",
                                   "0x1p-1075"])
def test_it_refuses_scores_out_of_the_double_range(d: Differ, value: str) -> None:
    d("RPUSH", "l", "1", value)
    d("SORT", "l")
    reset_errno(d)
    d("SORT", "l", "ALPHA")


@pytest.mark.parametrize("value", ["1e308", "2.2250738585072014e-308", "0x1p-1074", "0x1.8p-1070", "0e-400",
                                   "0x0p-5000", "00012", "1.5e+3", "-0x1P3", "INF", "+Infinity"])
def test_it_accepts_every_score_strtod_accepts(d: Differ, value: str) -> None:
    d("RPUSH", "l", "1", value, "-1")
    d("SORT", "l")
    d("SORT", "l", "DESC")
    reset_errno(d)


def test_it_sorts_binary_strings_with_alpha(d: Differ) -> None:
    d("RPUSH", "l", b"\xff", b"a", b"\xc3\xa9", b"B", b"b", b"\x7f", b"\x80", b"Z", b"", b"\xe2\x82\xac", b"ab", b"a")
    d("SORT", "l", "ALPHA")
    d("SORT", "l", "ALPHA", "DESC")
    d("SORT", "l", "ALPHA", "STORE", "dst")
    d("LRANGE", "dst", 0, -1)
    d("SORT", "l", "ALPHA", "DESC", "STORE", "dst")
    d("LRANGE", "dst", 0, -1)
    # Up to a NUL (strcoll) when replying, the whole string (binary) when storing.
    d("RPUSH", "n", b"a\x00b", b"a\x00a", b"a", b"a\x00")
    d("SORT", "n", "ALPHA", "STORE", "dst")
    d("LRANGE", "dst", 0, -1)
    d("SORT", "n", "ALPHA", "DESC", "STORE", "dst")
    d("LRANGE", "dst", 0, -1)
    d("SORT", "n", "ALPHA")
    d("SORT", "n", "ALPHA", "DESC")


def test_it_sorts_by_other_keys_and_hash_fields(d: Differ) -> None:
    d.many("""
        RPUSH l a b c d e
        MSET w_a 3 w_b 1 w_c 2 w_e 1.5
        HSET h_a f 30 g x
        HSET h_b f 10 g y
        HSET h_d f 20
        RPUSH w_d notastring
        SORT l BY w_*
        SORT l BY w_* DESC
        SORT l BY h_*->f
        SORT l BY h_*->f DESC
        SORT l BY h_*->g ALPHA
        SORT l BY h_*->g ALPHA DESC
        SORT l BY w_* ALPHA
        SORT l BY w_* ALPHA DESC
        SORT l BY w_*->f
        SORT l BY h_*
        SORT l BY *
        SORT l BY **
        SORT l BY *->
        SORT l BY "h_*->"
        SORT l BY "*_a"
        SORT l BY pre_*_post
        SORT_RO l BY w_*
    """)


def test_it_gets_values_through_patterns(d: Differ) -> None:
    d.many("""
        RPUSH l a b c
        MSET w_a 3 w_b 1 w_c 2 o_a A o_c C
        HSET h_a f 30 g x
        HSET h_b f 10
        SORT l BY w_* GET #
        SORT l BY w_* GET o_* GET # GET h_*->f GET h_*->g GET nope GET h_*-> GET w_*->f
        SORT l BY nosort GET h_*->f
        SORT l GET o_* ALPHA DESC
        SORT l ALPHA GET # GET #
        SORT l ALPHA GET constant
        SORT l ALPHA GET o_* LIMIT 1 1
        SORT_RO l ALPHA GET o_* GET #
        SORT nokey GET # GET o_*
        SORT l ALPHA GET
    """)


def test_it_keeps_the_native_order_with_a_constant_by(d: Differ) -> None:
    d.many("""
        RPUSH l 3 1 2 10 5
        SORT l BY nosort
        SORT l BY nosort DESC
        SORT l BY nosort LIMIT 1 3
        SORT l BY nosort DESC LIMIT 1 3
        SORT l BY nosort DESC LIMIT 1 30
        SORT l BY nosort LIMIT 10 3
        SORT l BY #
        SORT l BY "" ALPHA
        ZADD z 3 a 1 b 2 c 1 aa
        SORT z BY nosort
        SORT z BY nosort DESC
        SORT z BY nosort LIMIT 1 2
        SORT z BY nosort DESC LIMIT 1 2
        SORT z BY nosort DESC LIMIT 3 5
        SORT z BY nosort LIMIT 4 1
        SORT z ALPHA
        SORT z ALPHA DESC
        SORT z
        SADD s 5 -3 10 1
        SORT s BY nosort
        SORT s BY nosort DESC
        SORT s BY nosort LIMIT 1 2
    """)
    reset_errno(d)


def test_it_sorts_a_set_alpha_when_storing_without_sorting(d: Differ) -> None:
    d.many("""
        SADD s 5 -3 10 1
        SORT s BY nosort STORE dst
        LRANGE dst 0 -1
        SADD hs b a c 10 9
        SORT hs BY nosort STORE dst
        LRANGE dst 0 -1
        SORT hs BY nosort DESC STORE dst
        LRANGE dst 0 -1
        SORT hs BY nosort DESC LIMIT 1 2 STORE dst
        LRANGE dst 0 -1
        SORT hs BY nosort GET # STORE dst
        LRANGE dst 0 -1
    """)


def test_it_applies_limit_with_redis_clamping(d: Differ) -> None:
    d("RPUSH", "l", 3, 1, 2, 10, 5)
    for start, count in [(0, 0), (0, -1), (0, 2), (1, 2), (-5, 2), (2, -5), (100, 2), (4, 1), (5, 1),
                         (1, 9223372036854775807), (2, 9223372036854775807), (9223372036854775807, 1),
                         (-9223372036854775808, -9223372036854775808), (9223372036854775807, 9223372036854775807)]:
        d("SORT", "l", "LIMIT", start, count)
        d("SORT", "l", "LIMIT", start, count, "DESC")
        d("SORT", "l", "BY", "nosort", "LIMIT", start, count)
        d("SORT", "l", "BY", "nosort", "LIMIT", start, count, "DESC")
        d("SORT", "l", "BY", "w_*", "LIMIT", start, count, "GET", "#", "GET", "x")
    d.many("""
        SORT l LIMIT 1 2 LIMIT 0 1
        SORT l LIMIT x 0
        SORT l LIMIT 0 x
        SORT l LIMIT 0 1.5
        SORT l LIMIT 0 99999999999999999999
        SORT l LIMIT 0
        SORT l LIMIT
        SORT_RO l LIMIT 1
    """)


def test_it_stores_the_result_as_a_list(d: Differ) -> None:
    d.many("""
        RPUSH l 3 1 2
        MSET o_1 one o_3 three
        SORT l STORE dst
        LRANGE dst 0 -1
        TYPE dst
        SORT l DESC LIMIT 0 2 STORE dst
        LRANGE dst 0 -1
        SORT l GET o_* GET # STORE dst
        LRANGE dst 0 -1
        SET str x
        EXPIRE str 100
        SORT l STORE str
        TYPE str
        TTL str
        SORT l STORE l
        LRANGE l 0 -1
        SORT l STORE a STORE b
        EXISTS a b
        SORT l LIMIT 5 5 STORE dst
        EXISTS dst
        SORT nokey STORE b
        EXISTS b
        SORT nokey STORE b
        SORT l STORE
        SORT_RO l STORE dst
    """)


def test_it_checks_syntax_before_the_type_of_the_key(d: Differ) -> None:
    d.many("""
        SET str x
        HSET h f v
        SORT str
        SORT h
        SORT_RO str
        SORT str FOO
        SORT str LIMIT 0 x
        SORT str BY
        SORT str GET
        SORT str STORE
        SORT str ALPHA DESC BY w_* GET # LIMIT 0 1 STORE dst
        SORT
        SORT_RO
    """)


def test_it_finds_the_store_key_for_cluster_routing() -> None:
    from sandbox.engine.commands.sort import sort_getkeys

    assert sort_getkeys([b"SORT", b"k"]) == [1]
    assert sort_getkeys([b"SORT", b"k", b"STORE", b"d"]) == [1, 3]
    assert sort_getkeys([b"SORT", b"k", b"BY", b"store", b"GET", b"store"]) == [1]
    assert sort_getkeys([b"SORT", b"k", b"LIMIT", b"store", b"x", b"store", b"d2"]) == [1, 6]
    assert sort_getkeys([b"SORT", b"k", b"STORE", b"d1", b"STORE", b"d2"]) == [1, 5]
    assert sort_getkeys([b"SORT", b"k", b"STORE"]) == [1]


def test_it_routes_by_the_same_keys_as_redis(diff: Differ) -> None:
    for args in (["SORT", "k"], ["SORT", "k", "STORE", "d"], ["SORT", "k", "LIMIT", "0", "1", "STORE", "d2", "GET", "#"],
                 ["SORT_RO", "k", "BY", "w_*"]):
        diff("COMMAND", "GETKEYS", *args)


def test_it_sorts_a_large_list(raw: RawClient) -> None:
    import random

    values = [random.randint(-10**6, 10**6) for _ in range(20_000)]
    raw.call("RPUSH", "big", *values)
    reply = raw.call("SORT", "big", "LIMIT", "0", "5")
    expected = sorted(values)[:5]
    assert reply == b"*5\r\n" + b"".join(b"$%d\r\n%d\r\n" % (len(str(v)), v) for v in expected)
