"""Generic key commands against a real redis-server: DEL, UNLINK, EXISTS, TYPE, TOUCH,
RENAME, RENAMENX, COPY, MOVE, RANDOMKEY and KEYS, in RESP2 and RESP3. (OBJECT:
test_objectcmds.py; expiry: test_expiry.py; SCAN: test_scan.py.)"""

from __future__ import annotations

import time

import hiredis
import pytest

from .conftest import Differ
from .rawclient import RawClient


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def d(request: pytest.FixtureRequest, diff: Differ) -> Differ:
    if request.param == 3:
        diff.resp3()
    return diff


def parse(frame: bytes) -> object:
    reader = hiredis.Reader()
    reader.feed(frame)
    return reader.gets()


def seed(d: Differ) -> None:
    d.many("""
        SET s hello
        RPUSH l a b c
        HSET h f v
        SADD set 1 2
        ZADD z 1 m
    """)


def test_it_deletes_and_counts_existing_keys(d: Differ) -> None:
    seed(d)
    d.many("""
        DEL s nokey s
        DEL l h set z
        DEL s
        UNLINK nokey
        SET a 1
        SET b 2
        UNLINK a b a c
        DEL
        UNLINK
        EXISTS a
    """)


def test_it_counts_existing_keys_repeats_included(d: Differ) -> None:
    seed(d)
    d.many("""
        EXISTS s
        EXISTS s s nokey l
        EXISTS nokey
        TOUCH s s nokey h
        TOUCH nokey
        EXISTS
        TOUCH
    """)


def test_it_names_every_type(d: Differ) -> None:
    seed(d)
    d.many("""
        TYPE s
        TYPE l
        TYPE h
        TYPE set
        TYPE z
        TYPE nokey
        TYPE
        TYPE a b
    """)


def test_it_hides_expired_keys_from_every_reader(d: Differ) -> None:
    d.many("""
        SET gone 1 PX 1
        RPUSH stays x
    """)
    time.sleep(0.01)
    d.many("""
        EXISTS gone stays
        TOUCH gone
        TYPE gone
        DEL gone
        OBJECT ENCODING gone
        KEYS *
        RENAME gone x
        COPY gone x
        MOVE gone 1
        DBSIZE
    """)


def test_it_renames_with_the_ttl_and_replaces_the_destination(d: Differ) -> None:
    d.many("""
        SET a 1
        EXPIRE a 100
        SET b 2
        RENAME a b
        GET b
        TTL b
        EXISTS a
        RPUSH l x
        EXPIRE l 50
        RENAME b l
        TYPE l
        TTL l
        RENAME l l
        SET plain 1
        RENAME plain l
        TTL l
        RENAME nokey x
        RENAME nokey nokey
        RENAME l
        RENAME a b c
    """)


def test_it_renames_only_to_a_free_name_with_renamenx(d: Differ) -> None:
    d.many("""
        SET a 1
        SET b 2
        RENAMENX a b
        RENAMENX a a
        RENAMENX nokey x
        RENAMENX nokey nokey
        PEXPIRE a 100000
        RENAMENX a c
        TTL c
        EXISTS a
        GET c
    """)


def test_it_copies_values_of_every_type_with_their_ttl(d: Differ) -> None:
    seed(d)
    d.many("""
        EXPIRE h 100
        COPY s s2
        COPY l l2
        COPY h h2
        COPY set set2
        COPY z z2
        GET s2
        LRANGE l2 0 -1
        HGETALL h2
        SORT set2
        TTL h2
        TTL s2
        RPUSH l2 d
        LRANGE l 0 -1
        COPY s l2
        COPY s l2 REPLACE
        TYPE l2
        TTL l2
        COPY h l2 REPLACE
        TTL l2
        COPY s l2 REPLACE
        TTL l2
        COPY nokey x
        COPY nokey x REPLACE
        COPY s s
        COPY s s DB 0
        COPY nokey nokey
    """)


def test_it_copies_to_another_database(d: Differ) -> None:
    d.many("""
        SET a 1
        EXPIRE a 100
        COPY a a DB 1
        COPY a a DB 1
        COPY a a db 1 replace
        COPY a b REPLACE REPLACE DB 2 DB 3
        SELECT 1
        GET a
        TTL a
        SELECT 3
        GET b
        SELECT 2
        EXISTS b
    """)


def test_it_refuses_bad_copy_options(d: Differ) -> None:
    d.many("""
        SET a 1
        COPY a b DB 16
        COPY a b DB -1
        COPY a b DB x
        COPY a b DB 2147483648
        COPY a b DB -2147483649
        COPY a b DB 99999999999999999999
        COPY a b DB
        COPY a b FOO
        COPY a b REPLACE FOO
        COPY a
        COPY nokey nokey DB x
    """)


def test_it_moves_keys_between_databases(d: Differ) -> None:
    d.many("""
        SET a 1
        PEXPIRE a 100000
        MOVE a 1
        EXISTS a
        MOVE a 1
        SELECT 1
        TTL a
        GET a
        SET b here
        SELECT 0
        SET b there
        MOVE b 1
        GET b
        MOVE nokey 1
        MOVE b 0
        MOVE b 16
        MOVE b -1
        MOVE b x
        MOVE b 2147483648
        MOVE b -2147483649
        MOVE b 99999999999999999999
        MOVE b
    """)


def test_it_replaces_an_expired_destination(d: Differ) -> None:
    d.many("""
        SELECT 1
        SET a old PX 1
        SELECT 0
        SET a new
        SET c old PX 1
    """)
    time.sleep(0.01)
    d.many("""
        MOVE a 1
        SELECT 1
        GET a
        SELECT 0
        SET src v
        COPY src c
        GET c
        RENAMENX c src2
        GET src2
    """)


def test_it_lists_keys_by_glob_pattern(d: Differ) -> None:
    d.many("""
        MSET one 1 two 2 three 3 four 4 t[x] 5 "a*b" 6 "a\\\\b" 7
        KEYS
        KEYS a b
    """)
    for pattern in ["*", "t*", "?o*", "*o", "t[wh]*", "t[^w]*", "[a-z]*e", "t\\[x]", "a\\*b", "nomatch*", "*[", "f[o-"]:
        expected = parse(d.ref.call("KEYS", pattern))
        got = parse(d.eng.call("KEYS", pattern))
        assert sorted(got) == sorted(expected), pattern  # KEYS' order is the hash table's
    d("KEYS", "one")


def test_it_picks_random_keys_that_exist(d: Differ) -> None:
    d("RANDOMKEY")
    d("RANDOMKEY", "x")
    d.eng.call("MSET", "a", 1, "b", 2, "c", 3)
    seen = {parse(d.eng.call("RANDOMKEY")) for _ in range(200)}
    assert seen == {b"a", b"b", b"c"}


def test_it_never_returns_an_expired_key_from_randomkey(raw: RawClient) -> None:
    for i in range(50):
        raw.call("SET", f"dead{i}", "x", "PX", "1")
    raw.call("SET", "alive", "x")
    time.sleep(0.01)
    for _ in range(20):
        assert parse(raw.call("RANDOMKEY")) == b"alive"
    assert raw.call("DBSIZE") == b":1\r\n"  # the expired keys it met were deleted
    raw.call("DEL", "alive")
    raw.call("SET", "x", "1", "PX", "1")
    time.sleep(0.01)
    assert raw.call("RANDOMKEY") == b"$-1\r\n"


def test_it_invalidates_watchers_of_renamed_moved_and_copied_keys(redis_proc, engine_proc, diff: Differ) -> None:
    other = Differ(redis_proc.port, engine_proc.port)
    try:
        for change in (["RENAME", "a", "b"], ["RENAME", "x", "a"], ["MOVE", "a", "1"], ["COPY", "x", "a", "REPLACE"],
                       ["DEL", "a"], ["EXPIRE", "a", "100"], ["PERSIST", "a"]):
            diff.many("""
                FLUSHALL
                SET a 1
                SET x 2
                PEXPIRE a 100000
                WATCH a
                MULTI
                PING
            """)
            other(*change)
            diff("EXEC")
        # A command that changes nothing leaves the transaction alone.
        for noop in (["RENAMENX", "x", "a"], ["EXPIRE", "a", "100", "NX"], ["COPY", "x", "a"], ["MOVE", "nokey", "1"]):
            diff.many("""
                FLUSHALL
                SET a 1
                SET x 2
                EXPIRE a 100
                WATCH a
                MULTI
                PING
            """)
            other(*noop)
            diff("EXEC")
    finally:
        other.close()
