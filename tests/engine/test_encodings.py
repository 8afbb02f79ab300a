"""OBJECT ENCODING and the encoding parameters, against redis-server 7.0: values
crossing each threshold, the one-way conversions, the *-ziplist-* aliases and
CONFIG SET's validation errors."""

from __future__ import annotations

from typing import Iterator

import pytest

from .conftest import Differ

_DEFAULTS = {
    "hash-max-listpack-entries": "512", "hash-max-listpack-value": "64", "zset-max-listpack-entries": "128",
    "zset-max-listpack-value": "64", "list-max-listpack-size": "-2", "list-compress-depth": "0",
    "set-max-intset-entries": "512", "stream-node-max-bytes": "4096", "stream-node-max-entries": "100",
    "hll-sparse-max-bytes": "3000",
}


@pytest.fixture
def d(diff: Differ) -> Iterator[Differ]:
    yield diff
    for name, value in _DEFAULTS.items():
        diff.ref.call("CONFIG", "SET", name, value)
        diff.eng.call("CONFIG", "SET", name, value)


def test_it_encodes_strings_as_redis_does(d: Differ) -> None:
    d.many(f"""
        SET n 12345
        OBJECT ENCODING n
        SET n 012
        OBJECT ENCODING n
        SET big 99999999999999999999
        OBJECT ENCODING big
        SET s {'x' * 44}
        OBJECT ENCODING s
        SET s {'x' * 45}
        OBJECT ENCODING s
        SET a 12
        APPEND a 3
        OBJECT ENCODING a
        APPEND fresh 77
        OBJECT ENCODING fresh
        SETRANGE r 0 ab
        OBJECT ENCODING r
        SET f 1.5
        INCRBYFLOAT f 1.5
        OBJECT ENCODING f
        SETBIT b 17 1
        OBJECT ENCODING b
        SET b 5
        OBJECT ENCODING b
        INCR n
        OBJECT ENCODING n
    """)


def test_a_hash_that_outgrew_its_listpack_stays_a_hashtable(d: Differ) -> None:
    d("CONFIG", "SET", "hash-max-listpack-entries", "3")
    d.many("""
        HSET h a 1 b 2 c 3
        OBJECT ENCODING h
        HSET h d 4
        OBJECT ENCODING h
        HDEL h a b c
        OBJECT ENCODING h
        HSET long f short
        OBJECT ENCODING long
    """)
    d("CONFIG", "SET", "hash-max-ziplist-value", "4")
    d("HSET", "long", "g", "longer")
    d("OBJECT", "ENCODING", "long")
    d("HDEL", "long", "g")
    d("OBJECT", "ENCODING", "long")


def test_a_copy_of_a_hashtable_stays_a_hashtable_after_it_shrinks(d: Differ) -> None:
    # COPY is not a hash command: the dispatcher notes the new value's encoding, so
    # deleting the long field later does not make the copy a listpack again
    d("HSET", "h", "f", "x" * 65, "g", "1")
    d.many("""
        COPY h h2
        OBJECT ENCODING h2
        HDEL h2 f
        OBJECT ENCODING h2
    """)


def test_sets_move_from_intset_to_hashtable_for_good(d: Differ) -> None:
    d("CONFIG", "SET", "set-max-intset-entries", "2")
    d.many("""
        SADD s 1 2
        OBJECT ENCODING s
        SADD s 3
        OBJECT ENCODING s
        SREM s 3
        OBJECT ENCODING s
        SADD t 1 x
        OBJECT ENCODING t
        SREM t x
        OBJECT ENCODING t
        SADD u 5 6
        SUNIONSTORE v u
        OBJECT ENCODING v
    """)


def test_sorted_sets_follow_the_configured_listpack_limits(d: Differ) -> None:
    d("CONFIG", "SET", "zset-max-ziplist-entries", "2")
    d.many("""
        ZADD z 1 a 2 b
        OBJECT ENCODING z
        ZADD z 3 c
        OBJECT ENCODING z
        ZREM z c b
        OBJECT ENCODING z
        RPUSH l a b c
        OBJECT ENCODING l
        XADD st 1-1 f v
        OBJECT ENCODING st
    """)
    d("CONFIG", "SET", "zset-max-listpack-value", "3")
    d("ZADD", "w", "1", "abcd")
    d("OBJECT", "ENCODING", "w")


@pytest.mark.parametrize("name", sorted(_DEFAULTS) + [
    "hash-max-ziplist-entries", "hash-max-ziplist-value", "zset-max-ziplist-entries", "zset-max-ziplist-value",
    "list-max-ziplist-size", "HASH-MAX-ZIPLIST-ENTRIES",
])
def test_config_get_answers_each_parameter_and_alias_as_redis(d: Differ, name: str) -> None:
    d("CONFIG", "GET", name)


def test_config_set_validates_encoding_parameters_like_redis(d: Differ) -> None:
    for name, value in [
        ("hash-max-ziplist-entries", "abc"), ("hash-max-listpack-entries", "-1"), ("hash-max-listpack-entries", "1k"),
        ("hash-max-listpack-value", "1kb"), ("hash-max-listpack-value", "-1"), ("list-max-listpack-size", "-6"),
        ("list-max-listpack-size", "2147483648"), ("list-compress-depth", "-1"), ("set-max-intset-entries", "-1"),
        ("stream-node-max-bytes", "9223372036854775808"), ("stream-node-max-bytes", "2kb"),
        ("stream-node-max-entries", "-1"), ("hll-sparse-max-bytes", "-1"), ("HASH-MAX-LISTPACK-ENTRIES", "x"),
        ("zset-max-ziplist-value", "12"),
    ]:
        d("CONFIG", "SET", name, value)
        d("CONFIG", "GET", name)
    d("CONFIG", "SET", "hash-max-listpack-entries", "7", "hash-max-ziplist-entries", "9")
    d("CONFIG", "GET", "hash-max-listpack-entries")
    d("CONFIG", "SET", "hash-max-listpack-entries", "7", "hash-max-listpack-entries", "9")


def test_a_glob_lists_a_parameter_under_both_names(d: Differ) -> None:
    def pairs(reply: bytes) -> set[bytes]:
        return set(reply.split(b"\r\n"))

    assert pairs(d.ref.call("CONFIG", "GET", "*max-*list*")) == pairs(d.eng.call("CONFIG", "GET", "*max-*list*"))
