"""List commands against a real redis-server, in RESP2 and RESP3.

Lists are ordered, so every reply is compared byte for byte, including the
null shapes (nil vs null array vs empty array) that differ per protocol.
"""

from __future__ import annotations

import time

import pytest

from .conftest import Differ


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def d(request: pytest.FixtureRequest, diff: Differ) -> Differ:
    if request.param == 3:
        diff.resp3()
    return diff


def test_it_pushes_at_both_ends(d: Differ) -> None:
    d.many("""
        LPUSH l a b c
        RPUSH l d e
        LPUSH l f
        RPUSH l g
        LRANGE l 0 -1
        LPUSHX l x y
        RPUSHX l z
        LPUSHX nokey a
        RPUSHX nokey a b
        EXISTS nokey
        LLEN l
        LLEN nokey
        LRANGE l 0 -1
        RPUSH e ""
        LRANGE e 0 -1
    """)


def test_it_pops_single_elements_and_counts(d: Differ) -> None:
    d.many("""
        RPUSH l a b c d e f
        LPOP l
        RPOP l
        LPOP l 2
        RPOP l 2
        LPOP l 0
        RPOP l 0
        LPOP l 5
        EXISTS l
        LPOP l
        RPOP l
        LPOP l 0
        LPOP l 3
        RPOP nokey 1
        RPUSH l a
        RPOP l 1
        RPUSH l a b
        LPOP l -1
        RPOP l -1
        LPOP l abc
        LPOP nokey abc
        LPOP l 1.5
        LPOP l 9223372036854775807
        LPOP l 1 2
        RPOP l 1 2
        LPOP
    """)


def test_it_reads_ranges_at_every_boundary(d: Differ) -> None:
    d("RPUSH", "l", "a", "b", "c", "d", "e")
    for start in range(-7, 8):
        for stop in range(-7, 8):
            d("LRANGE", "l", start, stop)
    d.many("""
        LRANGE l -9223372036854775808 9223372036854775807
        LRANGE l 0 9223372036854775808
        LRANGE l abc 1
        LRANGE l 0 abc
        LRANGE nokey 0 -1
        LRANGE nokey abc 1
    """)


def test_it_trims_at_every_boundary(d: Differ) -> None:
    for start in range(-7, 8, 2):
        for stop in range(-7, 8):
            d("DEL", "l")
            d("RPUSH", "l", "a", "b", "c", "d", "e")
            d("LTRIM", "l", start, stop)
            d("LRANGE", "l", 0, -1)
            d("EXISTS", "l")
    d.many("""
        LTRIM nokey 0 1
        LTRIM nokey abc 1
        LTRIM l abc 1
        LTRIM l 0 1.0
    """)


def test_it_indexes_and_sets_elements(d: Differ) -> None:
    d("RPUSH", "l", "a", "b", "c")
    for i in range(-5, 5):
        d("LINDEX", "l", i)
    for i in range(-5, 5):
        d("LSET", "l", i, f"x{i}")
    d.many("""
        LRANGE l 0 -1
        LINDEX l abc
        LINDEX nokey abc
        LINDEX nokey 0
        LINDEX l 9223372036854775807
        LINDEX l -9223372036854775808
        LSET l abc x
        LSET nokey abc x
        LSET nokey 0 x
        LSET l 9223372036854775807 x
        LSET l -9223372036854775808 x
    """)


def test_it_inserts_around_a_pivot(d: Differ) -> None:
    d.many("""
        RPUSH l a b a c
        LINSERT l BEFORE a x
        LINSERT l after a y
        LINSERT l After c z
        LINSERT l before nopivot w
        LINSERT l middle a w
        LINSERT nokey before a w
        LINSERT nokey bogus a w
        EXISTS nokey
        LRANGE l 0 -1
        LINSERT l before "" e
    """)


def test_it_removes_matching_elements(d: Differ) -> None:
    for count in ("0", "1", "2", "-1", "-2", "10", "-10", "9223372036854775807", "-9223372036854775808"):
        d("DEL", "l")
        d("RPUSH", "l", "a", "b", "a", "c", "a", "a")
        d("LREM", "l", count, "a")
        d("LRANGE", "l", 0, -1)
    d.many("""
        LREM l 0 nomatch
        LREM l 0 b
        LREM l 0 c
        EXISTS l
        LREM nokey 0 a
        LREM nokey abc a
        LREM l abc a
    """)


def test_it_finds_positions_with_rank_count_and_maxlen(d: Differ) -> None:
    d("RPUSH", "l", "a", "b", "a", "c", "a", "b", "a")
    for rank in ("1", "2", "4", "5", "-1", "-2", "-4", "-5", "9223372036854775807", "-9223372036854775808"):
        for count in (None, "0", "1", "2", "10"):
            for maxlen in (None, "0", "1", "3", "7"):
                args = ["LPOS", "l", "a", "RANK", rank]
                if count is not None:
                    args += ["COUNT", count]
                if maxlen is not None:
                    args += ["MAXLEN", maxlen]
                d(*args)
    d.many("""
        LPOS l a
        LPOS l b
        LPOS l z
        LPOS l z COUNT 0
        LPOS l a COUNT 0 COUNT 2
        LPOS l a MAXLEN 2 RANK 2 COUNT 1
        LPOS l a rank 0
        LPOS l a RANK abc
        LPOS l a COUNT -1
        LPOS l a COUNT abc
        LPOS l a MAXLEN -1
        LPOS l a MAXLEN abc
        LPOS l a RANK
        LPOS l a BOGUS 1
        LPOS l a RANK 1 COUNT
        LPOS nokey a
        LPOS nokey a COUNT 1
        LPOS nokey a RANK 0
        LPOS nokey a COUNT -1
    """)


def test_it_moves_elements_between_lists(d: Differ) -> None:
    d.many("""
        RPUSH src a b c d
        LMOVE src dst LEFT LEFT
        LMOVE src dst left right
        LMOVE src dst RIGHT left
        LMOVE src dst Right Right
        LMOVE src dst LEFT LEFT
        EXISTS src
        LRANGE dst 0 -1
        LMOVE dst dst LEFT RIGHT
        LMOVE dst dst RIGHT LEFT
        LMOVE dst dst LEFT LEFT
        LRANGE dst 0 -1
        RPOPLPUSH dst other
        RPOPLPUSH dst dst
        RPOPLPUSH nokey dst
        LMOVE nokey dst LEFT LEFT
        LRANGE other 0 -1
        LRANGE dst 0 -1
        LMOVE dst other UP LEFT
        LMOVE dst other LEFT DOWN
        LMOVE nokey other UP LEFT
        RPUSH one x
        RPOPLPUSH one one
        LMOVE one one LEFT RIGHT
        LRANGE one 0 -1
    """)


def test_it_pops_from_the_first_non_empty_list(d: Differ) -> None:
    d.many("""
        RPUSH l1 a b c
        RPUSH l2 d e
        LMPOP 2 nokey l1 LEFT
        LMPOP 2 nokey l1 RIGHT COUNT 1
        LMPOP 3 nokey l1 l2 left count 10
        LMPOP 2 l1 l2 RIGHT COUNT 10
        LMPOP 2 l1 l2 RIGHT
        LMPOP 1 nokey LEFT
        LMPOP 1 nokey LEFT COUNT 5
        EXISTS l1 l2
    """)


def test_it_refuses_bad_lmpop_arguments(d: Differ) -> None:
    d.many("""
        SET str x
        RPUSH l a
        LMPOP 0 l LEFT
        LMPOP -1 l LEFT
        LMPOP abc l LEFT
        LMPOP 2 l LEFT
        LMPOP 5 l LEFT
        LMPOP 9223372036854775807 l LEFT
        LMPOP 1 l MIDDLE
        LMPOP 1 l LEFT COUNT 0
        LMPOP 1 l LEFT COUNT -1
        LMPOP 1 l LEFT COUNT abc
        LMPOP 1 l LEFT COUNT
        LMPOP 1 l LEFT COUNT 1 COUNT 1
        LMPOP 1 l LEFT BOGUS
        LMPOP 1 str LEFT
        LMPOP 2 nokey str LEFT
        LMPOP 2 l str LEFT
        LMPOP 1 l
        COMMAND GETKEYS LMPOP 2 a b LEFT
        COMMAND GETKEYS LMPOP 1 a RIGHT COUNT 3
    """)


def test_it_refuses_wrong_types(d: Differ) -> None:
    d.many("""
        SET str x
        HSET h f v
        RPUSH l a
        LPUSH str a
        RPUSH h a
        LPUSHX str a
        RPUSHX str a
        LPOP str
        RPOP str 1
        LPOP str 0
        LLEN str
        LRANGE str 0 -1
        LINDEX str 0
        LSET str 0 x
        LINSERT str BEFORE a b
        LREM str 0 a
        LTRIM str 0 1
        LPOS str a
        LMOVE str l LEFT LEFT
        LMOVE l str LEFT LEFT
        LMOVE nokey str LEFT LEFT
        RPOPLPUSH str l
        RPOPLPUSH l h
        LRANGE l 0 -1
    """)


def test_expired_lists_are_gone(d: Differ) -> None:
    d.many("""
        RPUSH l a b c
        PEXPIRE l 1
        RPUSH m a
        PEXPIRE m 1
        RPUSH src x
    """)
    time.sleep(0.01)
    d.many("""
        LLEN l
        LRANGE l 0 -1
        LINDEX l 0
        LPOS l a
        LPOP l
        RPOP l 2
        LPUSHX l a
        LSET l 0 x
        LINSERT l BEFORE a b
        LMPOP 2 l src LEFT
        RPUSH m b
        LRANGE m 0 -1
        PTTL m
    """)


def test_writes_keep_the_ttl_and_a_noop_trim_still_touches_watchers(d: Differ) -> None:
    d.many("""
        RPUSH l a b c d
        EXPIRE l 100
        RPUSH l e
        LPOP l
        LSET l 0 x
        LREM l 1 x
        LTRIM l 0 1
        TTL l
        WATCH l
        LTRIM l 0 -1
        MULTI
        PING
        EXEC
        WATCH l
        LREM l 0 nomatch
        MULTI
        PING
        EXEC
        WATCH l
        LPUSHX nokey a
        LINSERT l BEFORE nopivot x
        MULTI
        PING
        EXEC
    """)
