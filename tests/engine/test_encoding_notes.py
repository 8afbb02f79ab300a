"""The conversions the hot write paths note themselves (encodings.NOTED_IN_PLACE),
against redis-server 7.0: a single-member SADD/ZADD/HSET that crosses a threshold
stays converted after the value shrinks back, and a write that doesn't grow a value
(EXPIRE, SREM) converts nothing, as in Redis. Also LATENCY HISTOGRAM still counts
every call now that sub-µs calls are only a ``calls`` increment."""

from __future__ import annotations

from typing import Iterator

import pytest

from .conftest import Differ

_LIMITS = {
    "hash-max-listpack-entries": "512", "hash-max-listpack-value": "64", "zset-max-listpack-entries": "128",
    "zset-max-listpack-value": "64", "set-max-intset-entries": "512",
}


@pytest.fixture
def d(diff: Differ) -> Iterator[Differ]:
    yield diff
    for name, value in _LIMITS.items():
        diff.ref.call("CONFIG", "SET", name, value)
        diff.eng.call("CONFIG", "SET", name, value)


@pytest.mark.parametrize("member", ["x", "05", "-3", "0", "12345678901234567890", "9223372036854775807"])
def test_an_intset_that_took_a_non_integer_member_stays_a_hashtable(d: Differ, member: str) -> None:
    d.many(f"""
        SADD s 1 2
        SADD s {member}
        OBJECT ENCODING s
        SREM s {member}
        OBJECT ENCODING s
    """)


def test_a_set_created_past_its_limit_stays_a_hashtable(d: Differ) -> None:
    d("CONFIG", "SET", "set-max-intset-entries", "2")
    d.many("""
        SADD s 1 2 3
        SREM s 3
        OBJECT ENCODING s
        SADD t 1
        SADD t 2 3 4
        SREM t 3 4
        OBJECT ENCODING t
    """)


def test_a_single_hset_with_a_long_value_converts_for_good(d: Differ) -> None:
    long = "v" * 65
    d.many(f"""
        HSET h a 1
        HSET h b {long}
        OBJECT ENCODING h
        HSET h b short
        OBJECT ENCODING h
        HSET k {long} 1
        HDEL k {long}
        HSET k a 1
        OBJECT ENCODING k
        HMSET m a 1 b {long}
        HDEL m b
        OBJECT ENCODING m
    """)


def test_zadd_with_options_converts_past_a_configured_limit(d: Differ) -> None:
    d("CONFIG", "SET", "zset-max-listpack-entries", "2")
    d.many("""
        ZADD z CH 1 a 2 b 3 c
        ZREM z c
        OBJECT ENCODING z
        ZADD y 1 a
        ZADD y 2 b
        ZADD y 3 c
        ZREM y c b
        OBJECT ENCODING y
    """)


def test_a_lowered_limit_converts_nothing_until_the_value_grows(d: Differ) -> None:
    d.many("""
        HSET h a 1 b 2 c 3
        SADD s 1 2 3
        """)
    d("CONFIG", "SET", "hash-max-listpack-entries", "2")
    d("CONFIG", "SET", "set-max-intset-entries", "2")
    d.many("""
        EXPIRE h 100
        EXPIRE s 100
        HDEL h a b
        SREM s 1 2
        OBJECT ENCODING h
        OBJECT ENCODING s
    """)


def test_latency_histogram_counts_every_call(d: Differ) -> None:
    d.eng.call("CONFIG", "RESETSTAT")
    for _ in range(50):
        d.eng.call("SET", "k", "v")
        d.eng.call("GET", "k")
    raw = d.eng.call("LATENCY", "HISTOGRAM", "get", "set")
    get_part, set_part = raw.split(b"$3\r\nset\r\n")
    for part in (get_part, set_part):
        assert b"$5\r\ncalls\r\n:50\r\n" in part
        assert part.endswith(b":50\r\n")  # the last bucket's cumulative count is every call
def test_one_byte_strings_a_raw_writer_made_report_raw_like_redis(diff):
    diff.many("""
        SET k 0
        SETBIT k 0 0
        OBJECT ENCODING k
        SET k 0
        OBJECT ENCODING k
        SETBIT fresh 1 1
        OBJECT ENCODING fresh
        SET other @
        OBJECT ENCODING other
        APPEND app x
        OBJECT ENCODING app
        APPEND app2 ""
        SETRANGE app2 0 y
        OBJECT ENCODING app2
        MULTI
        SETBIT m 0 1
        OBJECT ENCODING m
        EXEC
        RENAME fresh moved
        OBJECT ENCODING moved
        DEL k
        SET k 0
        OBJECT ENCODING k
    """)
