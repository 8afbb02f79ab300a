"""Sorted-set ranges against a real redis-server, in RESP2 and RESP3: ZRANGE with
BYSCORE/BYLEX/REV/LIMIT/WITHSCORES, the legacy range commands, ZRANGESTORE, ZCOUNT,
ZLEXCOUNT and the ZREMRANGEBY* removals, on small (listpack) and big (skiplist) sets.
"""

from __future__ import annotations

import random

import pytest

from .conftest import Differ


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def d(request: pytest.FixtureRequest, diff: Differ) -> Differ:
    if request.param == 3:
        diff.resp3()
    return diff


def test_it_parses_zrange_options_and_their_conflicts(d: Differ) -> None:
    d.many("""
        ZADD z 1 a 2 b 3 c 4 d
        ZRANGE z 0 -1 LIMIT 0 1
        ZRANGE z 0 -1 LIMIT 5 -1
        ZRANGE z 0 -1 BYLEX WITHSCORES
        ZRANGE z - + BYLEX WITHSCORES
        ZRANGE z 0 -1 BYSCORE BYLEX
        ZRANGE z 0 -1 BYSCORE BYSCORE
        ZRANGE z 0 -1 REV REV
        ZRANGE z 0 -1 LIMIT 0
        ZRANGE z 0 -1 LIMIT x 1 BYSCORE
        ZRANGE z 0 -1 BYSCORE LIMIT 1 x
        ZRANGE z a b BYSCORE LIMIT x 1
        ZRANGE z a b LIMIT 0 1
        ZRANGE z a b
        ZRANGE nokey a b
        ZRANGE nokey 0 1 BYLEX
        ZRANGE nokey 0 1 BYSCORE
        ZRANGE z 0 -1 WITHSCORES WITHSCORES
        ZRANGE z 0 -1 foo
        ZRANGE z 0
        ZRANGEBYSCORE z 1 2 REV
        ZRANGEBYSCORE z 1 2 BYSCORE
        ZRANGEBYSCORE z 1 2 BYLEX
        ZRANGEBYSCORE z 1 2 LIMIT 0
        ZREVRANGE z 0 1 LIMIT 0 1
        ZREVRANGE z 0 1 REV
        ZREVRANGE z 0 1 BYSCORE
        ZRANGEBYLEX z - + WITHSCORES
        ZRANGEBYLEX z - + BYLEX
        ZREVRANGEBYLEX z + - REV
        ZRANGESTORE dst z 0 -1 WITHSCORES
    """)


def test_it_reads_rank_ranges(d: Differ) -> None:
    d.many("""
        ZADD z 1 a 2 b 3 c 4 d
        ZRANGE z 0 -1
        ZRANGE z 0 -1 WITHSCORES
        ZRANGE z -100 100
        ZRANGE z 2 1
        ZRANGE z -1 -2
        ZRANGE z 4 10
        ZRANGE z 3 10 REV
        ZRANGE z 0 0 REV
        ZRANGE z -1 -1 REV WITHSCORES
        ZRANGE z 1 2 REV WITHSCORES
        ZRANGE z 0 9223372036854775807
        ZRANGE z -9223372036854775808 9223372036854775807
        ZRANGE z 0 9223372036854775808
        ZREVRANGE z 0 -1 WITHSCORES
        ZREVRANGE z -2 -1
        ZREVRANGE z 1 1
        ZREVRANGE z 5 6
        ZREVRANGE z 0 -1 withscores extra
        ZRANGE nokey 0 -1
        ZREVRANGE nokey 0 -1 WITHSCORES
    """)


def test_it_reads_score_ranges_with_redis_bound_parsing(d: Differ) -> None:
    d.many("""
        ZADD z 1 a 2 b 3 c 4 d -0 zero -inf ninf +inf pinf 2.5 bc
        ZRANGEBYSCORE z -inf +inf WITHSCORES
        ZRANGEBYSCORE z "" 2
        ZRANGEBYSCORE z " 1" 2
        ZRANGEBYSCORE z "\t1" 2
        ZRANGEBYSCORE z "(" 2
        ZRANGEBYSCORE z 1e400 inf
        ZRANGEBYSCORE z -1e400 (1e-400
        ZRANGEBYSCORE z -1e400 "1 "
        ZRANGEBYSCORE z 0x1 0x2.8p0
        ZRANGEBYSCORE z -0x1p1 0x1.8p1 WITHSCORES
        ZRANGEBYSCORE z -INFINITY +Infinity
        ZRANGEBYSCORE z (-inf (+inf
        ZRANGEBYSCORE z (+inf +inf
        ZRANGEBYSCORE z -inf (-inf
        ZRANGEBYSCORE z +inf +inf
        ZRANGEBYSCORE z -inf -inf
        ZRANGEBYSCORE z (0 (0
        ZRANGEBYSCORE z -0 0
        ZRANGEBYSCORE z (-0 1
        ZRANGEBYSCORE z 4 1
        ZRANGEBYSCORE z (1 (4
        ZRANGEBYSCORE z 1 (1
        ZRANGEBYSCORE z nan 1
        ZRANGEBYSCORE z 1 (nan
        ZRANGEBYSCORE z 1e 2
        ZRANGEBYSCORE z . 2
        ZRANGEBYSCORE z .5 2
        ZRANGEBYSCORE z 5. 6
        ZRANGEBYSCORE z 0x 2
        ZRANGEBYSCORE z infinit 2
        ZRANGEBYSCORE z ((1 2
        ZRANGEBYSCORE z [1 2
        ZRANGEBYSCORE z 1_0 20
        ZRANGEBYSCORE nokey x 1
        ZRANGEBYSCORE nokey 1 2
        ZRANGE z (1 3 BYSCORE LIMIT 1 1 WITHSCORES
        ZRANGE z 3 (1 BYSCORE REV WITHSCORES
        ZRANGE z 0 -1 BYSCORE LIMIT 1 -1
        ZRANGE z 5 0 BYSCORE REV LIMIT 1 -1
        ZRANGE z +inf -inf BYSCORE REV LIMIT 0 2 WITHSCORES
        ZRANGE z -inf +inf BYSCORE REV
        ZREVRANGEBYSCORE z 3 1 WITHSCORES LIMIT 0 2
        ZREVRANGEBYSCORE z +inf -inf WITHSCORES LIMIT 1 2
        ZREVRANGEBYSCORE z +inf -inf LIMIT 7 5
        ZREVRANGEBYSCORE z +inf -inf LIMIT 8 5
        ZREVRANGEBYSCORE z (3 (1
        ZREVRANGEBYSCORE z 1 3
    """)


def test_it_applies_limit_like_redis(d: Differ) -> None:
    d.many("""
        ZADD z 1 a 2 b 3 c 4 d 5 e
        ZRANGEBYSCORE z -inf +inf LIMIT 0 0
        ZRANGEBYSCORE z -inf +inf LIMIT 0 -1
        ZRANGEBYSCORE z -inf +inf LIMIT 0 -5
        ZRANGEBYSCORE z -inf +inf LIMIT -1 2
        ZRANGEBYSCORE z -inf +inf LIMIT 4 1
        ZRANGEBYSCORE z -inf +inf LIMIT 5 1
        ZRANGEBYSCORE z -inf +inf LIMIT 9223372036854775807 9223372036854775807
        ZRANGEBYSCORE z 2 4 LIMIT 1 10 WITHSCORES
        ZRANGEBYSCORE z 2 4 LIMIT 3 10
        ZRANGEBYSCORE z 2 4 WITHSCORES LIMIT 1 1 LIMIT 0 2
        ZREVRANGEBYSCORE z 4 2 LIMIT 1 10
        ZREVRANGEBYSCORE z 4 2 LIMIT -1 10
        ZREVRANGEBYSCORE z 4 2 LIMIT 2 -1
        ZRANGEBYLEX z - + LIMIT 1 2
        ZRANGEBYLEX z - + LIMIT 2 -1
        ZRANGEBYLEX z - + LIMIT -1 1
        ZREVRANGEBYLEX z + - LIMIT 1 2
        ZREVRANGEBYLEX z + - LIMIT 9 2
        ZRANGEBYSCORE z -inf +inf LIMIT 0 9223372036854775808
    """)


def test_it_reads_lex_ranges(d: Differ) -> None:
    d.many(r"""
        ZADD lex 0 a 0 aa 0 ab 0 b 0 ba 0 c 0 "" 0 A 0 "\x7f" 0 "a\x00"
        ZRANGEBYLEX lex - +
        ZRANGEBYLEX lex + -
        ZRANGEBYLEX lex - -
        ZRANGEBYLEX lex + +
        ZRANGEBYLEX lex [a [b
        ZRANGEBYLEX lex (a (b
        ZRANGEBYLEX lex [a (a
        ZRANGEBYLEX lex [a [a
        ZRANGEBYLEX lex (a [a
        ZRANGEBYLEX lex [b [a
        ZRANGEBYLEX lex [ +
        ZRANGEBYLEX lex ( +
        ZRANGEBYLEX lex - [
        ZRANGEBYLEX lex - (
        ZRANGEBYLEX lex a +
        ZRANGEBYLEX lex "" +
        ZRANGEBYLEX lex +x +
        ZRANGEBYLEX lex - -x
        ZRANGEBYLEX lex [a +
        ZRANGEBYLEX nokey [a +
        ZRANGEBYLEX nokey a +
        ZREVRANGEBYLEX lex + -
        ZREVRANGEBYLEX lex [b [a
        ZREVRANGEBYLEX lex (b (a LIMIT 1 1
        ZREVRANGEBYLEX lex - +
        ZREVRANGEBYLEX lex + - LIMIT 2 3
        ZREVRANGEBYLEX lex + - LIMIT 20 3
        ZRANGE lex [a [b BYLEX
        ZRANGE lex [b [a BYLEX REV LIMIT 0 2
        ZRANGE lex - + BYLEX LIMIT 0 -1
        ZLEXCOUNT lex - +
        ZLEXCOUNT lex [a [b
        ZLEXCOUNT lex (a (b
        ZLEXCOUNT lex [b [a
        ZLEXCOUNT lex + -
        ZLEXCOUNT lex - -
        ZLEXCOUNT lex x y
        ZLEXCOUNT lex [a
        ZLEXCOUNT nokey x y
        ZLEXCOUNT nokey - +
    """)
    d("ZRANGEBYLEX", "lex", "-\x00x", "+\x00")  # C stops reading "+\0..." at the NUL
    d("ZRANGEBYLEX", "lex", "[a\x00", "+")


def test_it_walks_lex_ranges_of_mixed_scores_like_a_listpack(d: Differ) -> None:
    # Undefined by the docs, but deterministic for a listpack: a linear walk.
    d.many("""
        ZADD mixed 1 d 2 c 3 b 4 a 5 e
        ZRANGEBYLEX mixed - +
        ZRANGEBYLEX mixed [b [d
        ZRANGEBYLEX mixed [a [c
        ZRANGEBYLEX mixed (a [z
        ZRANGEBYLEX mixed [c + LIMIT 2 5
        ZREVRANGEBYLEX mixed [d [b
        ZREVRANGEBYLEX mixed [z [c LIMIT 1 5
        ZLEXCOUNT mixed [b [d
        ZLEXCOUNT mixed [a [e
        ZREMRANGEBYLEX mixed [b [c
        ZRANGE mixed 0 -1
    """)


def test_it_counts_score_ranges(d: Differ) -> None:
    d.many("""
        ZADD z 1 a 2 b 3 c 4 d -inf n +inf p
        ZCOUNT z -inf +inf
        ZCOUNT z (1 (4
        ZCOUNT z (1 (1
        ZCOUNT z 1 1
        ZCOUNT z 4 1
        ZCOUNT z -inf -inf
        ZCOUNT z +inf +inf
        ZCOUNT z (-inf (+inf
        ZCOUNT z (+inf +inf
        ZCOUNT z nan 1
        ZCOUNT z 1 x
        ZCOUNT z "" ""
        ZCOUNT nokey 1 2
        ZCOUNT nokey x 2
        ZCOUNT z 1
    """)


def test_it_stores_ranges_with_zrangestore(d: Differ) -> None:
    d.many("""
        ZADD z 1 a 2 b 3 c 4 d
        ZADD lex 0 a 0 b 0 c
        SET str v
        ZRANGESTORE dst z 0 -1
        ZRANGE dst 0 -1 WITHSCORES
        ZRANGESTORE dst z 1 2 REV
        ZRANGE dst 0 -1 WITHSCORES
        ZRANGESTORE dst z (1 +inf BYSCORE LIMIT 1 5
        ZRANGE dst 0 -1 WITHSCORES
        ZRANGESTORE dst z +inf (1 BYSCORE REV LIMIT 0 2
        ZRANGE dst 0 -1 WITHSCORES
        ZRANGESTORE dst lex [b + BYLEX
        ZRANGE dst 0 -1 WITHSCORES
        ZRANGESTORE dst lex + [b BYLEX REV LIMIT 0 1
        ZRANGE dst 0 -1 WITHSCORES
        ZRANGESTORE dst nokey 0 -1
        EXISTS dst
        ZRANGESTORE dst z 0 -1
        ZRANGESTORE dst z 5 10
        EXISTS dst
        ZRANGESTORE dst str 0 -1
        ZRANGESTORE str z 0 1
        TYPE str
        ZRANGESTORE z z 1 2
        ZRANGE z 0 -1 WITHSCORES
        ZRANGESTORE dst z 0 -1 LIMIT 0 1
        ZRANGESTORE dst z a b BYSCORE
        ZRANGESTORE dst z 0
        SET ttl v EX 100
        ZRANGESTORE ttl z 0 -1
        TTL ttl
    """)


def test_it_removes_rank_score_and_lex_ranges(d: Differ) -> None:
    d.many("""
        SET str v
        ZADD z3 1 a 2 b 3 c 4 d 5 e
        ZREMRANGEBYRANK z3 0 0
        ZREMRANGEBYRANK z3 -1 -1
        ZRANGE z3 0 -1
        ZREMRANGEBYRANK z3 5 10
        ZREMRANGEBYRANK z3 1 0
        ZREMRANGEBYRANK z3 x 0
        ZREMRANGEBYRANK z3 0 x
        ZREMRANGEBYRANK nokey 0 1
        ZREMRANGEBYRANK nokey x 1
        ZREMRANGEBYRANK str 0 1
        ZREMRANGEBYRANK str x 1
        ZREMRANGEBYRANK z3 -100 100
        EXISTS z3
        ZADD zr 1 a 2 b 3 c 4 d 5 e
        ZREMRANGEBYSCORE zr (1 (2
        ZREMRANGEBYSCORE zr (1 2
        ZREMRANGEBYSCORE zr 4 +inf
        ZREMRANGEBYSCORE zr x 1
        ZREMRANGEBYSCORE nokey x 1
        ZREMRANGEBYSCORE nokey 1 1
        ZREMRANGEBYSCORE str 1 1
        ZREMRANGEBYSCORE str x 1
        ZRANGE zr 0 -1 WITHSCORES
        ZREMRANGEBYSCORE zr -inf +inf
        EXISTS zr
        ZADD zl 0 a 0 b 0 c 0 d
        ZREMRANGEBYLEX zl [b (d
        ZREMRANGEBYLEX zl x y
        ZREMRANGEBYLEX nokey x y
        ZREMRANGEBYLEX nokey - +
        ZREMRANGEBYLEX str - +
        ZREMRANGEBYLEX zl + -
        ZREMRANGEBYLEX zl (d +
        ZRANGE zl 0 -1
        ZREMRANGEBYLEX zl - +
        EXISTS zl
        ZREMRANGEBYRANK zl 0
    """)


def test_it_refuses_other_types_in_range_commands(d: Differ) -> None:
    d.many("""
        SADD s a
        ZRANGE s 0 -1
        ZRANGE s 0 -1 BYSCORE
        ZRANGEBYLEX s - +
        ZREVRANGE s 0 -1
        ZREVRANGEBYSCORE s +inf -inf
        ZREVRANGEBYLEX s + -
        ZCOUNT s -inf +inf
        ZLEXCOUNT s - +
        ZRANGESTORE dst s 0 -1
        ZRANGE s x y
    """)


def _zadd(d: Differ, key: str, pairs: list[tuple[str, str]]) -> None:
    d("ZADD", key, *[x for pair in pairs for x in pair])


def test_it_ranges_over_big_skiplist_sets(d: Differ) -> None:
    r = random.Random(7)
    pairs = [(repr(r.choice([r.randint(-50, 50), r.random() * 100 - 50, 0.0, -0.0])), f"e{i}") for i in range(300)]
    _zadd(d, "sc", pairs)
    for q in ["-inf +inf", "(0 10", "0 0", "-0 (0", "(-10.5 (20", "10 -10", "(50 +inf", "-inf (-50"]:
        lo, hi = q.split()
        d("ZRANGEBYSCORE", "sc", lo, hi, "WITHSCORES")
        d("ZCOUNT", "sc", lo, hi)
        d("ZRANGEBYSCORE", "sc", lo, hi, "LIMIT", "5", "10")
        d("ZREVRANGEBYSCORE", "sc", hi, lo, "WITHSCORES", "LIMIT", "3", "4")
    for q in ["0 10", "-10 -1", "100 200", "250 -1", "-5 -1", "0 0", "299 299"]:
        d("ZRANGE", "sc", *q.split(), "WITHSCORES")
        d("ZRANGE", "sc", *q.split(), "REV")
    for m in ["e0", "e1", "e150", "e299", "nope"]:
        d("ZRANK", "sc", m)
        d("ZREVRANK", "sc", m)
        d("ZSCORE", "sc", m)
    d.many("""
        ZREMRANGEBYSCORE sc (0 10
        ZREMRANGEBYRANK sc 10 20
        ZREMRANGEBYRANK sc -5 -1
        ZCARD sc
        ZRANGE sc 0 -1 WITHSCORES
    """)


def test_it_ranges_over_big_lex_sets(d: Differ) -> None:
    r = random.Random(11)
    members = sorted({"".join(r.choice("abcdefg") for _ in range(r.randint(0, 4))) for _ in range(400)})
    _zadd(d, "lexbig", [("0", m) for m in members])
    for q in ["- +", "[a [b", "(a (b", "[abc +", "- (c", "[b [a", "[ (", "(a (a", "[ddd [ddd", "[g +", "- [a", "+ -"]:
        lo, hi = q.split()
        d("ZRANGEBYLEX", "lexbig", lo, hi)
        d("ZLEXCOUNT", "lexbig", lo, hi)
        d("ZRANGEBYLEX", "lexbig", lo, hi, "LIMIT", "3", "7")
        d("ZREVRANGEBYLEX", "lexbig", hi, lo)
        d("ZREVRANGEBYLEX", "lexbig", hi, lo, "LIMIT", "2", "5")
    d.many("""
        ZREMRANGEBYLEX lexbig [b (c
        ZRANGEBYLEX lexbig - +
        ZREMRANGEBYLEX lexbig (f +
        ZREMRANGEBYLEX lexbig + -
        ZCARD lexbig
    """)


def test_zrangestore_keeps_minus_zero_where_redis_does(d: Differ) -> None:
    # The destination's encoding (and so whether -0 keeps its sign) depends on
    # whether Redis knew the result size upfront (rank ranges) or converted on the way.
    _zadd(d, "big", [("-0", "a0")] + [(str(i + 1), f"m{i:03d}") for i in range(190)])
    d("ZADD", "big", "-0", "a1")
    d("ZSCORE", "big", "a1")
    for cmd in [
        "ZRANGESTORE d1 big 0 -1", "ZRANGESTORE d2 big -inf +inf BYSCORE",
        "ZRANGESTORE d3 big +inf -inf BYSCORE REV", "ZRANGESTORE d4 big 0 -1 REV",
        "ZRANGESTORE d5 big - + BYLEX", "ZRANGESTORE d6 big 0 5",
        "ZRANGESTORE d7 big -inf +inf BYSCORE LIMIT 0 5", "ZRANGESTORE d8 big + - BYLEX REV",
    ]:
        d(*cmd.split())
        dst = cmd.split()[1]
        d("ZSCORE", dst, "a1")
        d("ZRANGE", dst, "0", "2", "WITHSCORES")
