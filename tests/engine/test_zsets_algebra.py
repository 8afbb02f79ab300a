"""Sorted-set algebra against a real redis-server, in RESP2 and RESP3: ZUNION, ZINTER,
ZDIFF (WEIGHTS, AGGREGATE, WITHSCORES; plain sets as inputs), their *STORE forms and
ZINTERCARD, down to the last bit of float sums and the sign of a -0 result."""

from __future__ import annotations

import random

import pytest

from .conftest import Differ


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def d(request: pytest.FixtureRequest, diff: Differ) -> Differ:
    if request.param == 3:
        diff.resp3()
    return diff


SETUP = """
    ZADD z1 0.1 x 1 a
    ZADD z2 0.2 x 1 y 2 yy
    ZADD z3 0.3 x 5 q 6 r 7 s
    SADD s1 x a zz
    SET str v
"""


def test_it_unions_intersects_and_diffs(d: Differ) -> None:
    d.many(SETUP + """
        ZUNION 3 z1 z2 z3 WITHSCORES
        ZUNION 3 z3 z2 z1
        ZINTER 3 z1 z2 z3 WITHSCORES
        ZINTER 3 z3 z2 z1
        ZDIFF 2 z3 z1
        ZDIFF 2 z1 z3 WITHSCORES
        ZDIFF 3 z3 z1 z2 WITHSCORES
        ZDIFF 1 z3
        ZUNION 1 nokey
        ZUNION 1 nokey WITHSCORES
        ZINTER 2 nokey z1
        ZINTER 2 z1 nokey
        ZDIFF 2 nokey z1
        ZDIFF 2 z1 nokey WITHSCORES
        ZUNION 2 z1 z1 WITHSCORES
        ZINTER 2 z1 z1 WITHSCORES
        ZDIFF 2 z1 z1
    """)


def test_it_accepts_plain_sets_with_score_one(d: Differ) -> None:
    d.many(SETUP + """
        ZUNION 2 z1 s1 WITHSCORES
        ZINTER 2 z1 s1 WITHSCORES
        ZDIFF 2 z1 s1 WITHSCORES
        ZDIFF 2 s1 z1 WITHSCORES
        ZDIFF 1 s1 WITHSCORES
        ZUNION 2 s1 s1 WEIGHTS 2 3 WITHSCORES
        ZINTERCARD 2 z1 s1
        ZUNIONSTORE dst 1 s1
        ZRANGE dst 0 -1 WITHSCORES
    """)


def test_it_applies_weights_and_aggregates(d: Differ) -> None:
    d.many(SETUP + """
        ZUNION 2 z1 s1 WEIGHTS 2 3 WITHSCORES
        ZUNION 2 z1 s1 WEIGHTS 2 3 AGGREGATE MIN WITHSCORES
        ZUNION 2 z1 s1 WEIGHTS 2 3 AGGREGATE max WITHSCORES
        ZUNION 2 z1 s1 WEIGHTS 2 3 AGGREGATE MAX WITHSCORES AGGREGATE sum
        ZUNION 2 z1 s1 WEIGHTS 1 1 WEIGHTS -1 0.5 WITHSCORES
        ZINTER 2 z1 s1 WEIGHTS 2 inf AGGREGATE max WITHSCORES
        ZINTER 3 z1 z2 z3 WEIGHTS 1 2 3 AGGREGATE min WITHSCORES
        ZUNION 2 z1 z2 WEIGHTS 0x10 -1e-3 WITHSCORES
    """)


def test_it_sums_in_redis_order(d: Differ) -> None:
    # Inputs are summed smallest first (stable for equal sizes): float sums differ by order.
    d.many("""
        ZADD a 0.1 x
        ZADD b 0.2 x
        ZADD c 0.3 x
        ZADD dd 0.7 x
        ZUNION 4 a b c dd WITHSCORES
        ZUNION 4 dd c b a WITHSCORES
        ZUNION 4 b dd a c WITHSCORES
        ZINTER 4 b dd a c WITHSCORES
        ZADD e 1e16 x 1 p
        ZADD f 1 x
        ZADD g 1 x
        ZUNION 3 e f g WITHSCORES
        ZUNION 3 f g e WITHSCORES
        ZUNION 3 f e g WITHSCORES
        ZINTER 3 e f g WITHSCORES
        ZINTER 3 g f e WITHSCORES
    """)


def test_it_turns_nan_into_zero_like_redis(d: Differ) -> None:
    d.many("""
        ZADD inf1 inf x -inf y 0 z
        ZADD inf2 -inf x inf y
        ZUNION 2 inf1 inf2 WITHSCORES
        ZINTER 2 inf1 inf2 WITHSCORES
        ZINTER 2 inf1 inf2 AGGREGATE min WITHSCORES
        ZUNION 2 inf1 inf2 WEIGHTS 0 1 WITHSCORES
        ZUNION 2 inf1 inf2 WEIGHTS 0 0 WITHSCORES
        ZINTER 2 inf1 inf2 WEIGHTS 0 0 AGGREGATE max WITHSCORES
        ZINTER 2 inf1 inf2 WEIGHTS 1 0 AGGREGATE max WITHSCORES
        ZINTER 2 inf1 inf2 WEIGHTS 1 0 AGGREGATE min WITHSCORES
        ZINTER 2 inf1 inf2 WEIGHTS 1 0 WITHSCORES
        ZUNION 2 inf1 inf2 WEIGHTS -1 -1 WITHSCORES
    """)


def test_it_rejects_bad_arguments_with_redis_texts(d: Differ) -> None:
    d.many(SETUP + """
        ZUNION 2 z1 s1 WEIGHTS 2
        ZUNION 2 z1 s1 WEIGHTS 2 x
        ZUNION 2 z1 s1 WEIGHTS 2 nan
        ZUNION 2 z1 s1 WEIGHTS 2 " 1"
        ZUNION 2 z1 s1 AGGREGATE
        ZUNION 2 z1 s1 AGGREGATE avg
        ZUNION 2 z1 s1 WITHSCORES WITHSCORES
        ZUNION 2 z1 s1 LIMIT 1
        ZUNION 2 z1 str
        ZUNION 2 str z1 WEIGHTS x
        ZUNION 2 str z1 bogus
        ZUNION 3 z1 z2
        ZUNION 0 z1
        ZUNION -1 z1
        ZUNION x z1
        ZUNION 9223372036854775808 z1
        ZINTER 0 z1
        ZDIFF 0 z1
        ZDIFF 2 z1 z1 WEIGHTS 1 1
        ZDIFF 2 z1 z1 AGGREGATE sum
        ZDIFF 3 z1 z2
        ZINTER 1 z1 LIMIT 1
        ZUNION
        ZUNION 1
    """)


def test_it_counts_intersections_with_zintercard(d: Differ) -> None:
    d.many(SETUP + """
        ZINTERCARD 2 z1 z2
        ZINTERCARD 3 z1 z2 z3
        ZINTERCARD 3 z1 z2 z3 LIMIT 0
        ZINTERCARD 2 z1 s1
        ZINTERCARD 2 z1 s1 LIMIT 1
        ZINTERCARD 2 z1 s1 LIMIT 5
        ZINTERCARD 2 z1 s1 LIMIT 1 LIMIT 0
        ZINTERCARD 2 z1 s1 LIMIT -1
        ZINTERCARD 2 z1 s1 LIMIT x
        ZINTERCARD 2 z1 s1 LIMIT
        ZINTERCARD 2 z1 s1 WITHSCORES
        ZINTERCARD 2 z1 s1 WEIGHTS 1 1
        ZINTERCARD 2 z1 s1 AGGREGATE sum
        ZINTERCARD 0 z1
        ZINTERCARD 3 z1 z2
        ZINTERCARD 1 nokey
        ZINTERCARD 2 str z1
        ZINTERCARD 2 nokey str
    """)


def test_it_stores_results_and_deletes_empty_ones(d: Differ) -> None:
    d.many(SETUP + """
        ZUNIONSTORE dst 3 z1 z2 z3
        ZRANGE dst 0 -1 WITHSCORES
        ZINTERSTORE dst 3 z1 z2 z3 WEIGHTS 1 2 3
        ZRANGE dst 0 -1 WITHSCORES
        ZINTERSTORE dst 2 z1 s1 AGGREGATE max
        ZRANGE dst 0 -1 WITHSCORES
        ZDIFFSTORE dst 2 z3 z1
        ZRANGE dst 0 -1 WITHSCORES
        ZDIFFSTORE dst 2 z1 z1
        EXISTS dst
        ZDIFFSTORE dst 2 z1 z1
        ZINTERSTORE dst 2 z1 nokey
        ZDIFFSTORE dst 1 s1
        ZRANGE dst 0 -1 WITHSCORES
        ZUNIONSTORE dst 2 z1 z2 WITHSCORES
        ZUNIONSTORE dst 0 z1
        ZINTERSTORE dst 0 z1
        ZDIFFSTORE dst 0 z1
        ZUNIONSTORE dst 2 z1
        ZUNIONSTORE dst 2 z1 str
        ZDIFFSTORE dst 2 z1 z2 WEIGHTS 1 1
        ZUNIONSTORE str 1 z1
        TYPE str
        ZUNIONSTORE z1 2 z1 z2
        ZRANGE z1 0 -1 WITHSCORES
        ZINTERSTORE z1 2 z1 z1 WEIGHTS 2 3 AGGREGATE sum
        ZRANGE z1 0 -1 WITHSCORES
        SET ttl v EX 100
        ZUNIONSTORE ttl 1 z2
        TTL ttl
        ZUNIONSTORE dst
    """)


def test_a_stored_result_loses_minus_zero_only_when_small(d: Differ) -> None:
    long = "m" * 65
    d.many(f"""
        ZADD lp 0 a 0 b -1 c
        ZUNION 1 lp WEIGHTS -1 WITHSCORES
        ZUNIONSTORE out 1 lp WEIGHTS -1
        ZRANGE out 0 -1 WITHSCORES
        ZADD sk 0 a {len(long)} {long}
        ZUNIONSTORE out2 1 sk WEIGHTS -1
        ZRANGE out2 0 -1 WITHSCORES
        ZINTERSTORE out3 2 sk sk WEIGHTS -1 -1 AGGREGATE max
        ZSCORE out3 a
    """)
    d("ZADD", "wide", *[x for i in range(200) for x in ("0" if i % 2 else "1", f"w{i}")])
    d("ZUNIONSTORE", "out4", "1", "wide", "WEIGHTS", "-1")
    d("ZSCORE", "out4", "w1")
    d("ZSCORE", "out4", "w0")
    d("ZDIFFSTORE", "out5", "2", "out4", "lp")
    d("ZSCORE", "out5", "w1")


def test_it_combines_big_sets(d: Differ) -> None:
    r = random.Random(3)
    for key in ("b1", "b2", "b3"):
        pairs = [(repr(round(r.uniform(-100, 100), r.randint(0, 3))), f"m{r.randint(0, 400)}") for _ in range(250)]
        d("ZADD", key, *[x for p in pairs for x in p])
    d("SADD", "bs", *[f"m{i}" for i in range(0, 400, 3)])
    d.many("""
        ZUNION 4 b1 b2 b3 bs WITHSCORES
        ZUNION 3 b1 b2 b3 WEIGHTS 0.3 -1.7 2.25 AGGREGATE MIN WITHSCORES
        ZINTER 3 b1 b2 bs WITHSCORES
        ZINTER 2 b1 b3 WEIGHTS 0.1 0.2 AGGREGATE MAX WITHSCORES
        ZDIFF 3 b1 b2 bs WITHSCORES
        ZINTERCARD 2 b1 b2
        ZINTERCARD 2 b1 b2 LIMIT 10
        ZUNIONSTORE u 4 b1 b2 b3 bs
        ZRANGE u 0 -1 WITHSCORES
        ZINTERSTORE i 2 b1 b2
        ZRANGE i 0 -1 WITHSCORES
        ZDIFFSTORE df 2 b1 b3
        ZRANGE df 0 -1 WITHSCORES
    """)
